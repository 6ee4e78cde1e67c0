//! Resampled noise: a noise position takes the pixel at its *corresponding original location*
//! of another sample, so noise has the data's quantisation and per-location distribution.

use amalgam_core::model::ImageShape;

/// Per channel and position of `positions` (flat indices in the augmented `H' x W'` grid),
/// the flat index in the original `H x W` image of the corresponding location: row
/// `r' * H / H'`, column `c' * W / W'`.
pub fn corresponding_sources(
    original: ImageShape,
    augmented: ImageShape,
    positions: &[Vec<u32>],
) -> Vec<Vec<usize>> {
    positions
        .iter()
        .map(|positions| {
            positions
                .iter()
                .map(|&p| {
                    let (row, col) = (p as usize / augmented.width, p as usize % augmented.width);
                    (row * original.height / augmented.height) * original.width
                        + col * original.width / augmented.width
                })
                .collect()
        })
        .collect()
}
