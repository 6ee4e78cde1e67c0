//! Round trip: the owner's dataset augmenter followed by the cloud's input filter returns
//! the original samples bit for bit, for random shapes and amounts, images and token
//! sequences alike.

mod common;

use amalgam_cloud::InputFilter;
use amalgam_core::backend::inference_device;
use amalgam_core::data::{ImageSet, LabelledSet, TokenSet};
use amalgam_core::model::{ImageShape, InputShape, PAD_TOKEN, TokenShape};
use amalgam_core::rng::{Stream, stream};
use amalgam_owner::augment::{ImageNoise, TextNoise, TokenNoise, augment_images, augment_tokens};
use amalgam_owner::noise::{NoiseKind, NoiseLayout, augmented_shape};
use proptest::prelude::*;
use rand::Rng;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn augment_then_filter_returns_the_original_images(
        channels in 1usize..=4,
        height in 1usize..=64,
        width in 1usize..=64,
        amount in (0.0f64..=4.0).prop_filter("amount > 0", |a| *a > 0.0),
        samples in 1usize..=3,
        gaussian: bool,
        seed: u64,
    ) {
        let shape = ImageShape { channels, height, width };
        let mut rng = stream(seed, Stream::ModelInit);
        // Real values outside the noise range [0, 1], so any mix-up shows.
        let values = (0..samples * shape.values()).map(|_| rng.random_range(2.0f32..3.0)).collect();
        let set = ImageSet::new(shape, values, vec![0; samples]).unwrap();
        let augmented = augmented_shape(shape, amount);
        let grows = |side: usize| (side as f64 * amount).floor() >= 1.0;
        prop_assert_eq!(augmented.is_ok(), grows(height) || grows(width));
        let Ok(augmented) = augmented else { return Ok(()) };
        let layout = NoiseLayout::draw(shape.into(), augmented, &mut stream(seed, Stream::NoisePositions));
        let noise = if gaussian { NoiseKind::Gaussian } else { NoiseKind::Uniform };
        let out = augment_images(&set, &layout, &ImageNoise::Values(noise), seed, 0);
        prop_assert_eq!(out.images.len(), samples * augmented.values());
        let noise_values = out.images.iter().filter(|v| (0.0..=1.0).contains(*v)).count();
        prop_assert_eq!(noise_values, samples * channels * (augmented.positions() - shape.pixels()));

        let device = inference_device();
        let filter = InputFilter::new(&layout.keep_indices, augmented, shape.into(), &device);
        let indices: Vec<usize> = (0..samples).collect();
        let back = filter.apply(out.batch(&indices, &device).0).images();
        let back = ImageSet::new(shape, back.into_data().try_to_vec::<f32>().unwrap(), vec![0; samples]).unwrap();
        common::assert_bitwise_equal(&back, &set);
    }

    #[test]
    fn augment_then_filter_returns_the_original_tokens(
        length in 1usize..=64,
        amount in (0.0f64..=4.0).prop_filter("amount > 0", |a| *a > 0.0),
        lengths in prop::collection::vec(0usize..=64, 1..=4),
        unigram: bool,
        seed: u64,
    ) {
        let shape = TokenShape { length, vocab_size: 50 };
        let mut rng = stream(seed, Stream::ModelInit);
        // Real tokens 40..50, noise from a training split of tokens 1..40 only; texts of
        // random length, padded at the end.
        let tokens: Vec<u32> = lengths
            .iter()
            .flat_map(|&n| (0..length).map(|j| if j < n { 40 + (j as u32 % 10) } else { PAD_TOKEN }).collect::<Vec<_>>())
            .collect();
        let set = TokenSet::new(shape, tokens, vec![0; lengths.len()]).unwrap();
        let corpus: Vec<u32> = (0..200).map(|_| rng.random_range(1..40)).collect();
        let corpus = TokenSet::new(TokenShape { length: 200, vocab_size: 50 }, corpus, vec![0]).unwrap();
        let kind = if unigram { NoiseKind::Unigram } else { NoiseKind::Uniform };
        let noise = TokenNoise::new(kind, &corpus).unwrap();
        let augmented = augmented_shape(shape, amount);
        // An amount that adds no position is refused; every other one round-trips.
        prop_assert_eq!(augmented.is_ok(), (length as f64 * amount).floor() >= 1.0);
        let Ok(augmented) = augmented else { return Ok(()) };
        let layout = NoiseLayout::draw(shape.into(), augmented, &mut stream(seed, Stream::NoisePositions));
        let out = augment_tokens(&set, &layout, &TextNoise::Tokens(noise), seed, 0);
        let long = augmented.positions();
        for (i, &n) in lengths.iter().enumerate() {
            let sample = out.sample(i);
            // One run of tokens, then padding only.
            let run = sample.iter().position(|&t| t == PAD_TOKEN).unwrap_or(long);
            prop_assert!(sample[run..].iter().all(|&t| t == PAD_TOKEN), "{sample:?}");
            // The run holds every real token; unigram noise comes from the corpus.
            prop_assert!(run >= n.min(length));
            if unigram {
                let noise_tokens = sample.iter().filter(|&&t| (1..40).contains(&t)).count();
                prop_assert_eq!(noise_tokens + n.min(length), run);
            }
        }

        let device = inference_device();
        let filter = InputFilter::new(&layout.keep_indices, augmented, shape.into(), &device);
        let indices: Vec<usize> = (0..lengths.len()).collect();
        let back = filter.apply(out.batch(&indices, &device).0).tokens();
        let back: Vec<u32> = back.into_data().iter::<i64>().map(|t| t as u32).collect();
        prop_assert_eq!(back, set.tokens);
    }
}

#[test]
fn text_noise_kinds_are_checked() {
    let corpus = TokenSet::new(
        TokenShape {
            length: 2,
            vocab_size: 5,
        },
        vec![3, 0],
        vec![0],
    )
    .unwrap();
    assert!(TokenNoise::new(NoiseKind::Gaussian, &corpus).is_err());
    let padding_only = TokenSet::new(
        TokenShape {
            length: 2,
            vocab_size: 5,
        },
        vec![0, 0],
        vec![0],
    )
    .unwrap();
    assert!(TokenNoise::new(NoiseKind::Unigram, &padding_only).is_err());
    assert_eq!(
        InputShape::from(TokenShape {
            length: 2,
            vocab_size: 5
        })
        .channels(),
        1
    );
}
