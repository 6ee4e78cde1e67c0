//! Synthetic image sets of the benchmark shapes: 8-bit pixel values, 10 classes.

use amalgam_core::data::ImageSet;
use amalgam_core::model::ImageShape;
use amalgam_core::rng::{Stream, stream};
use rand::Rng;

/// Fashion-MNIST's sample shape.
pub const FASHION_MNIST: ImageShape = ImageShape {
    channels: 1,
    height: 28,
    width: 28,
};

/// CIFAR-10's sample shape.
pub const CIFAR: ImageShape = ImageShape {
    channels: 3,
    height: 32,
    width: 32,
};

/// `n` random samples of `shape` (values `k / 255`) with labels `i % 10`.
pub fn image_set(shape: ImageShape, n: usize) -> ImageSet {
    let mut rng = stream(1, Stream::ModelInit);
    let values = (0..n * shape.values())
        .map(|_| f32::from(rng.random::<u8>()) / 255.0)
        .collect();
    ImageSet::new(shape, values, (0..n).map(|i| (i % 10) as u8).collect())
        .expect("sizes match by construction")
}
