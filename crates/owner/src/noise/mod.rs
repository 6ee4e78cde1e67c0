//! What fills the augmented grid besides the real values: the noise constructions, one module
//! each where they need more than a distribution, and where the noise goes ([`NoiseLayout`]).
//! (Amalgam, Taki & Mastorakis 2024, §4.1; the authors' prototype for the side formula.)
//!
//! | kind | module | what fills the noise positions |
//! | --- | --- | --- |
//! | `uniform`, `gaussian` | here | i.i.d. values (the published kinds) |
//! | `resample` | [`resample`] | data pixels of random samples at the corresponding location |
//! | `interleave` | [`interleave`] | the decoy branches' own natural inputs: no position is noise to the cloud |
//! | `unigram` (text) | `augment::tokens` | tokens from the training split's unigram distribution |

pub mod interleave;
mod layout;
pub mod resample;

use amalgam_core::model::{ImageShape, InputShape, TokenShape};
use amalgam_core::{Error, Result};
use rand::Rng;
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};

pub use layout::NoiseLayout;

/// Largest augmentation amount accepted.
pub const MAX_AMOUNT: f64 = 4.0;

/// The distribution of the noise values. Fresh values are drawn for every sample.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NoiseKind {
    /// `U[0, 1)` (the authors' prototype).
    Uniform,
    /// `|N(0, 1)|` clamped to `[0, 1]` (the authors' prototype).
    Gaussian,
    /// Resampled from the data (amalgam's addition, from the privacy audit): the pixel at the
    /// corresponding original location of a random sample of the same chunk of
    /// [`crate::data::CHUNK_SAMPLES`] samples of the set. Noise then has the
    /// data's 8-bit quantisation and per-position distribution, which the published kinds
    /// betray (see docs/PRIVACY.md).
    Resample,
    /// The augmented sample interleaves `K + 1` natural images, one per branch (amalgam's
    /// addition, from the privacy audit; see [`interleave`]): the real branch's filter reads
    /// the real sample, each decoy's filter reads a different image of the same class from
    /// the decoy inputs, and the few positions no filter reads get resampled pixels. Needs
    /// `H'W' >= (K + 1) HW`.
    Interleave,
    /// Text only: tokens drawn from the training split's unigram distribution (padding
    /// excluded), so that noise looks like words. For text, `Uniform` draws ids uniformly from
    /// the vocabulary (padding excluded).
    Unigram,
}

impl NoiseKind {
    /// One image noise value in [0, 1]. `resampled` draws a data pixel for
    /// [`NoiseKind::Resample`]. (Images never get [`NoiseKind::Unigram`]: the augmenter refuses
    /// it; text noise comes from [`crate::augment::TokenNoise`].)
    #[inline]
    pub fn sample<R: Rng>(self, rng: &mut R, resampled: impl FnOnce(&mut R) -> f32) -> f32 {
        match self {
            NoiseKind::Uniform => unit_interval(rng.next_u32()),
            NoiseKind::Gaussian => rng.sample::<f32, _>(StandardNormal).abs().min(1.0),
            NoiseKind::Resample | NoiseKind::Interleave | NoiseKind::Unigram => resampled(rng),
        }
    }
}

/// A value of `U[0, 1)` from 32 random bits: the top 24 bits times `2^-24` (every value is a
/// multiple of `2^-24`, the f32 resolution near 1).
#[inline]
pub fn unit_interval(bits: u32) -> f32 {
    (bits >> 8) as f32 * (1.0 / (1u32 << 24) as f32)
}

/// The augmented shape for `amount` `a`: for images `H' = H + floor(H * a)`,
/// `W' = W + floor(W * a)`, channels unchanged (the authors' prototype: `a` scales the side,
/// not the pixel count); for tokens `L' = L + floor(L * a)`, vocabulary unchanged.
///
/// # Errors
/// [`Error::Invalid`] unless `0 < a <= 4`.
pub fn augmented_shape(shape: impl Into<InputShape>, amount: f64) -> Result<InputShape> {
    if !(amount > 0.0 && amount <= MAX_AMOUNT) {
        return Err(Error::invalid(format!(
            "augmentation amount must be in (0, {MAX_AMOUNT}], got {amount}"
        )));
    }
    let grow = |side: usize| side + (side as f64 * amount).floor() as usize;
    let shape = shape.into();
    let added = match shape {
        InputShape::Image(s) => grow(s.height) > s.height || grow(s.width) > s.width,
        InputShape::Tokens(s) => grow(s.length) > s.length,
    };
    if !added {
        return Err(Error::invalid(format!(
            "augmentation amount {amount} adds no noise position to {shape}: the bundle would hold the plain samples; use a larger --amount"
        )));
    }
    Ok(match shape {
        InputShape::Image(s) => InputShape::Image(ImageShape {
            channels: s.channels,
            height: grow(s.height),
            width: grow(s.width),
        }),
        InputShape::Tokens(s) => InputShape::Tokens(TokenShape {
            length: grow(s.length),
            vocab_size: s.vocab_size,
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use amalgam_core::rng::{Stream, stream};
    use proptest::prelude::*;

    fn shape(channels: usize, height: usize, width: usize) -> ImageShape {
        ImageShape {
            channels,
            height,
            width,
        }
    }

    fn tokens(length: usize) -> InputShape {
        InputShape::Tokens(TokenShape {
            length,
            vocab_size: 100,
        })
    }

    #[test]
    fn side_grows_by_floor_of_side_times_amount() {
        assert_eq!(
            augmented_shape(shape(1, 28, 28), 0.25).unwrap(),
            shape(1, 35, 35).into()
        );
        assert_eq!(
            augmented_shape(shape(3, 32, 30), 1.0).unwrap(),
            shape(3, 64, 60).into()
        );
        let none_added = augmented_shape(shape(1, 3, 3), 0.3).unwrap_err();
        assert!(
            none_added.to_string().contains("adds no noise"),
            "{none_added}"
        );
        assert_eq!(augmented_shape(tokens(48), 0.25).unwrap(), tokens(60));
        assert_eq!(augmented_shape(tokens(5), 1.5).unwrap(), tokens(12));
        for bad in [0.0, -0.5, 4.01, f64::NAN] {
            assert!(augmented_shape(shape(1, 28, 28), bad).is_err());
        }
    }

    proptest! {
        #[test]
        fn noise_positions_and_keep_indices_partition_the_grid(
            channels in 1usize..=4, height in 1usize..=40, width in 1usize..=40,
            amount in 0.01f64..=4.0, seed: u64,
        ) {
            let original = InputShape::from(shape(channels, height, width));
            let grows = |side: usize| (side as f64 * amount).floor() >= 1.0;
            let augmented = augmented_shape(original, amount);
            // An amount that adds no position is refused; every other one partitions.
            prop_assert_eq!(augmented.is_ok(), grows(height) || grows(width));
            let Ok(augmented) = augmented else { return Ok(()) };
            let layout = NoiseLayout::draw(original, augmented, &mut stream(seed, Stream::NoisePositions));
            prop_assert_eq!(layout.noise_positions.len(), channels);
            for (keep, noise) in layout.keep_indices.iter().zip(&layout.noise_positions) {
                prop_assert_eq!(noise.len(), augmented.positions() - original.positions());
                prop_assert_eq!(keep.len(), original.positions());
                prop_assert!(keep.windows(2).all(|w| w[0] < w[1]), "keep indices sorted");
                prop_assert!(noise.windows(2).all(|w| w[0] < w[1]), "noise positions sorted");
                let mut all: Vec<u32> = keep.iter().chain(noise).copied().collect();
                all.sort_unstable();
                let grid: Vec<u32> = (0..augmented.positions() as u32).collect();
                prop_assert_eq!(all, grid, "disjoint and covering the grid");
            }
        }
    }

    #[test]
    fn layouts_follow_the_seed() {
        let (o, a) = (shape(2, 28, 28).into(), shape(2, 35, 35).into());
        let draw = |seed| NoiseLayout::draw(o, a, &mut stream(seed, Stream::NoisePositions));
        assert_eq!(draw(1), draw(1));
        assert_ne!(draw(1).noise_positions, draw(2).noise_positions);
        let two_channels = draw(1);
        assert_ne!(
            two_channels.noise_positions[0],
            two_channels.noise_positions[1]
        );
    }

    #[test]
    fn noise_values_lie_in_the_unit_interval() {
        let mut rng = stream(0, Stream::NoiseValues);
        // E[U[0,1)] = 0.5; E[min(|Z|, 1)] = 2(phi(0) - phi(1)) + P(|Z| > 1) = 0.631.
        for (kind, expected_mean) in [(NoiseKind::Uniform, 0.5), (NoiseKind::Gaussian, 0.631)] {
            let values: Vec<f32> = (0..10_000)
                .map(|_| kind.sample(&mut rng, |_| 0.0))
                .collect();
            assert!(values.iter().all(|v| (0.0..=1.0).contains(v)));
            let mean = values.iter().sum::<f32>() / values.len() as f32;
            assert!((mean - expected_mean).abs() < 0.02, "{kind:?} mean {mean}");
        }
        let clamped = (0..10_000)
            .filter(|_| NoiseKind::Gaussian.sample(&mut rng, |_| 0.0) == 1.0)
            .count();
        assert!(
            (2800..3600).contains(&clamped),
            "P(|N(0,1)| > 1) is about 0.32: {clamped}"
        );
    }
}
