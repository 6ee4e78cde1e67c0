//! Where the real values and the noise go: the keep indices and the noise positions.

use amalgam_core::model::InputShape;
use rand::Rng;
use rand::seq::index::sample;

/// Where the real values and the noise go in augmented samples: per channel, the sorted keep
/// indices (`H * W` positions of the flattened `H' * W'` grid, or `L` of the `L'` sequence)
/// and the sorted noise positions (the others). The same for every sample.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoiseLayout {
    /// Shape of the original samples.
    pub original: InputShape,
    /// Shape of the augmented samples.
    pub augmented: InputShape,
    /// Per channel, sorted positions of the real pixels, in row-major order of the original.
    pub keep_indices: Vec<Vec<u32>>,
    /// Per channel, sorted positions of the noise.
    pub noise_positions: Vec<Vec<u32>>,
}

impl NoiseLayout {
    /// Draws the noise positions of every channel uniformly at random from `rng`.
    pub fn draw(original: InputShape, augmented: InputShape, rng: &mut impl Rng) -> Self {
        let grid = augmented.positions();
        let noise_count = grid - original.positions();
        let noise_positions: Vec<Vec<u32>> = (0..original.channels())
            .map(|_| {
                let mut noise: Vec<u32> = sample(rng, grid, noise_count)
                    .into_iter()
                    .map(|p| p as u32)
                    .collect();
                noise.sort_unstable();
                noise
            })
            .collect();
        let keep_indices = noise_positions
            .iter()
            .map(|noise| complement(noise, grid))
            .collect();
        Self {
            original,
            augmented,
            keep_indices,
            noise_positions,
        }
    }

    /// The layout whose keep indices are `keep_indices` (per channel, sorted, `HW` each);
    /// every other position is noise.
    pub fn from_keep_indices(
        original: InputShape,
        augmented: InputShape,
        keep_indices: Vec<Vec<u32>>,
    ) -> Self {
        let grid = augmented.positions();
        let noise_positions = keep_indices
            .iter()
            .map(|keep| complement(keep, grid))
            .collect();
        Self {
            original,
            augmented,
            keep_indices,
            noise_positions,
        }
    }
}

/// The sorted positions of `0..grid` not in the sorted list `taken`, in one merge pass.
fn complement(taken: &[u32], grid: usize) -> Vec<u32> {
    let mut rest = Vec::with_capacity(grid - taken.len());
    let mut next = taken.iter().peekable();
    for p in 0..grid as u32 {
        if next.peek() == Some(&&p) {
            next.next();
        } else {
            rest.push(p);
        }
    }
    rest
}
