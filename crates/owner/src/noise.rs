//! Noise positions and noise values (Amalgam, Taki & Mastorakis 2024, §4.1; the authors'
//! prototype for the side formula).

use amalgam_core::model::ImageShape;
use amalgam_core::{Error, Result};
use rand::Rng;
use rand::seq::index::sample;
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};

/// Largest augmentation amount accepted.
pub const MAX_AMOUNT: f64 = 4.0;

/// The distribution of the noise values. Fresh values are drawn for every sample.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NoiseKind {
    /// `U[0, 1)`.
    Uniform,
    /// `|N(0, 1)|` clamped to `[0, 1]`.
    Gaussian,
}

impl NoiseKind {
    /// One noise value in [0, 1].
    #[inline]
    pub fn sample(self, rng: &mut impl Rng) -> f32 {
        match self {
            NoiseKind::Uniform => rng.random::<f32>(),
            NoiseKind::Gaussian => rng.sample::<f32, _>(StandardNormal).abs().min(1.0),
        }
    }
}

/// The augmented shape for `amount` `a`: `H' = H + floor(H * a)`, `W' = W + floor(W * a)`,
/// channels unchanged (the authors' prototype: `a` scales the side, not the pixel count).
///
/// # Errors
/// [`Error::Invalid`] unless `0 < a <= 4`.
pub fn augmented_shape(shape: ImageShape, amount: f64) -> Result<ImageShape> {
    if !(amount > 0.0 && amount <= MAX_AMOUNT) {
        return Err(Error::invalid(format!(
            "augmentation amount must be in (0, {MAX_AMOUNT}], got {amount}"
        )));
    }
    let grow = |side: usize| side + (side as f64 * amount).floor() as usize;
    Ok(ImageShape {
        channels: shape.channels,
        height: grow(shape.height),
        width: grow(shape.width),
    })
}

/// Where the real pixels and the noise go in augmented samples: per channel, the sorted keep
/// indices (`H * W` positions of the flattened `H' * W'` grid) and the sorted noise positions
/// (the other `H'W' - HW`). The same for every sample.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoiseLayout {
    /// Shape of the original samples.
    pub original: ImageShape,
    /// Shape of the augmented samples.
    pub augmented: ImageShape,
    /// Per channel, sorted positions of the real pixels, in row-major order of the original.
    pub keep_indices: Vec<Vec<u32>>,
    /// Per channel, sorted positions of the noise.
    pub noise_positions: Vec<Vec<u32>>,
}

impl NoiseLayout {
    /// Draws the noise positions of every channel uniformly at random from `rng`.
    pub fn draw(original: ImageShape, augmented: ImageShape, rng: &mut impl Rng) -> Self {
        let grid = augmented.pixels();
        let noise_count = grid - original.pixels();
        let noise_positions: Vec<Vec<u32>> = (0..original.channels)
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
