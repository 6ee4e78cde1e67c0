//! Round trip: the owner's dataset augmenter followed by the cloud's input filter returns
//! the original samples bit for bit, for random shapes and amounts.

mod common;

use amalgam_cloud::InputFilter;
use amalgam_core::backend::inference_device;
use amalgam_core::data::ImageSet;
use amalgam_core::model::ImageShape;
use amalgam_core::rng::{Stream, stream};
use amalgam_owner::augment::augment_images;
use amalgam_owner::noise::{NoiseKind, NoiseLayout, augmented_shape};
use burn::prelude::*;
use proptest::prelude::*;
use rand::Rng;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn augment_then_filter_returns_the_original(
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
        let augmented = augmented_shape(shape, amount).unwrap();
        let layout = NoiseLayout::draw(shape, augmented, &mut stream(seed, Stream::NoisePositions));
        let noise = if gaussian { NoiseKind::Gaussian } else { NoiseKind::Uniform };
        let out = augment_images(&set, &layout, noise, seed, 0);
        prop_assert_eq!(out.images.len(), samples * augmented.values());
        let noise_values = out.images.iter().filter(|v| (0.0..=1.0).contains(*v)).count();
        prop_assert_eq!(noise_values, samples * channels * (augmented.pixels() - shape.pixels()));

        let device = inference_device();
        let filter = InputFilter::new(&layout.keep_indices, augmented, shape, &device);
        let [c, h, w] = augmented.dims();
        let batch = Tensor::<4>::from_data(TensorData::new(out.images, [samples, c, h, w]), &device);
        let back = filter.apply(batch).into_data().try_to_vec::<f32>().unwrap();
        let back = ImageSet::new(shape, back, vec![0; samples]).unwrap();
        common::assert_bitwise_equal(&back, &set);
    }
}
