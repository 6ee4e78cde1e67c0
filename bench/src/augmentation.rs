//! Table 1: dataset augmentation throughput against a plain memory copy.

use amalgam_core::data::LabelledSet;
use amalgam_core::model::ImageShape;
use amalgam_core::rng::{Stream, stream};
use amalgam_owner::augment::{ImageNoise, augment_images_into};
use amalgam_owner::noise::{NoiseKind, NoiseLayout, augmented_shape};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::synthetic::image_set;
use crate::timing::median_seconds;

/// One row of table 1.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AugmentationRow {
    /// Original sample shape, e.g. `1x28x28`.
    pub shape: String,
    /// Augmented sample shape.
    pub augmented: String,
    /// Augmentation amount.
    pub amount: f64,
    /// Samples augmented.
    pub samples: usize,
    /// Median seconds to augment them (uniform noise, all threads, output buffer reused).
    pub augment_seconds: f64,
    /// Bytes read (original samples) plus bytes written (augmented samples).
    pub augment_bytes: usize,
    /// Median seconds of a parallel copy of a buffer the size of the augmented samples.
    pub memcpy_seconds: f64,
    /// Bytes the copy reads plus writes.
    pub memcpy_bytes: usize,
}

impl AugmentationRow {
    /// Augmentation bandwidth over copy bandwidth.
    pub fn bandwidth_ratio(&self) -> f64 {
        (self.augment_bytes as f64 / self.augment_seconds)
            / (self.memcpy_bytes as f64 / self.memcpy_seconds)
    }
}

/// Measures one shape and amount on `samples` samples, `reps` repetitions.
pub fn measure(shape: ImageShape, samples: usize, amount: f64, reps: usize) -> AugmentationRow {
    let set = image_set(shape, samples);
    let augmented = augmented_shape(shape, amount).expect("benchmark amounts are valid");
    let layout = NoiseLayout::draw(
        set.input(),
        augmented,
        &mut stream(2, Stream::NoisePositions),
    );
    let out_len = samples * augmented.values();
    let mut out = vec![0.0f32; out_len];
    let noise = ImageNoise::Values(NoiseKind::Uniform);
    let augment_seconds = median_seconds(reps, || {
        augment_images_into(&set, &layout, &noise, 3, 0, &mut out);
    });
    let source = vec![0.5f32; out_len];
    let memcpy_seconds = median_seconds(reps, || {
        out.par_chunks_mut(1 << 16)
            .zip(source.par_chunks(1 << 16))
            .for_each(|(d, s)| d.copy_from_slice(s));
    });
    let float = std::mem::size_of::<f32>();
    AugmentationRow {
        shape: shape.to_string(),
        augmented: augmented.to_string(),
        amount,
        samples,
        augment_seconds,
        augment_bytes: (set.images.len() + out_len) * float,
        memcpy_seconds,
        memcpy_bytes: 2 * out_len * float,
    }
}
