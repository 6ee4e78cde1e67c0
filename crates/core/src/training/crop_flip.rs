//! Per-epoch data augmentation under obfuscation: random crop with zero padding and random
//! horizontal flip, applied inside each branch *after* its input filter, in training only.
//!
//! The authors' prototype freezes one crop/flip per sample at export time, because cropping an
//! augmented image would move its noise positions. Applied after the filter, fresh transforms
//! every epoch are possible, and the plain baseline applies the very same ones.

use burn::prelude::*;
use burn::tensor::ops::PadMode;
use rand::Rng;
use serde::{Deserialize, Serialize};

use super::TrainConfig;
use crate::data::LabelledSet;
use crate::model::{ImageShape, InputBatch};
use crate::rng::{Stream, substream};

/// Random crop (after zero padding by `padding` pixels on every side) and horizontal flip
/// (probability 1/2), drawn per sample and epoch from sub-stream `epoch * 2^24 + sample` of
/// [`Stream::CropFlip`] of `seed`, so every branch, and the plain baseline, transforms a sample
/// the same way.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CropFlip {
    /// Zero padding on each side before cropping back to the original size (4 for CIFAR).
    pub padding: usize,
    /// Seed of the transforms.
    pub seed: u64,
}

/// One batch's crops and flips, as gather indices into the padded images.
#[derive(Clone, Debug)]
pub struct BatchTransform {
    padding: usize,
    /// `[B, C * H * W]`: for each output value, its flat position in the padded sample.
    indices: Tensor<2, Int>,
}

impl CropFlip {
    /// The transforms of the `samples` (training-set indices) of a batch in `epoch`, for
    /// images of `shape`.
    pub fn batch(
        &self,
        epoch: usize,
        samples: &[usize],
        shape: ImageShape,
        device: &Device,
    ) -> BatchTransform {
        let [c, h, w] = shape.dims();
        let (ph, pw) = (h + 2 * self.padding, w + 2 * self.padding);
        let mut indices = Vec::with_capacity(samples.len() * shape.values());
        for &sample in samples {
            let mut rng = substream(
                self.seed,
                Stream::CropFlip,
                ((epoch as u64) << 24) | sample as u64,
            );
            let dy = rng.random_range(0..=2 * self.padding);
            let dx = rng.random_range(0..=2 * self.padding);
            let flip = rng.random_bool(0.5);
            for channel in 0..c {
                for y in 0..h {
                    for x in 0..w {
                        let sx = if flip { w - 1 - x } else { x };
                        indices.push(((channel * ph + y + dy) * pw + sx + dx) as i64);
                    }
                }
            }
        }
        BatchTransform {
            padding: self.padding,
            indices: Tensor::from_data(
                TensorData::new(indices, [samples.len(), shape.values()]),
                device,
            ),
        }
    }
}

impl BatchTransform {
    /// Applies the batch's transforms to images `[B, C, H, W]`: pad, then one gather.
    pub fn apply(&self, images: Tensor<4>) -> Tensor<4> {
        let [b, c, h, w] = images.dims();
        let p = self.padding;
        let padded = images.pad((p, p, p, p), PadMode::Constant(0.0));
        let [_, _, ph, pw] = padded.dims();
        padded
            .reshape([b, c * ph * pw])
            .gather(1, self.indices.clone())
            .reshape([b, c, h, w])
    }

    /// Applies `transform`, if any, to a batch of images; tokens pass unchanged.
    pub fn apply_if_any(transform: Option<&BatchTransform>, input: InputBatch) -> InputBatch {
        match (transform, input) {
            (Some(t), InputBatch::Images(images)) => InputBatch::Images(t.apply(images)),
            (_, input) => input,
        }
    }
}

/// The samples `batch` of `data` as images `[B, C, H, W]` with the crops and flips of `config`
/// for `epoch` applied (images of `shape`), and their labels `[B]`, on `device`; `None` for a
/// batch of tokens. For the schemes whose owner feeds a network batch by batch itself (Tempo's
/// trusted process, MixNN's owner): the same batches as the training loop's.
pub fn image_batch(
    data: &dyn LabelledSet,
    config: &TrainConfig,
    epoch: usize,
    batch: &[usize],
    shape: ImageShape,
    device: &Device,
) -> Option<(Tensor<4>, Tensor<1, Int>)> {
    let (input, labels) = data.batch(batch, device);
    let transform = config
        .crop_flip
        .map(|t| t.batch(epoch, batch, shape, device));
    match BatchTransform::apply_if_any(transform.as_ref(), input) {
        InputBatch::Images(images) => Some((images, labels)),
        InputBatch::Tokens(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::inference_device;

    fn transformed(
        crop: CropFlip,
        epoch: usize,
        samples: &[usize],
        image: &[f32],
        shape: ImageShape,
    ) -> Vec<Vec<f32>> {
        let device = inference_device();
        let batch: Vec<f32> = samples.iter().flat_map(|_| image.iter().copied()).collect();
        let [c, h, w] = shape.dims();
        let x = Tensor::<4>::from_data(TensorData::new(batch, [samples.len(), c, h, w]), &device);
        let out = crop.batch(epoch, samples, shape, &device).apply(x);
        let values = out.into_data().try_to_vec::<f32>().unwrap();
        values.chunks(shape.values()).map(<[f32]>::to_vec).collect()
    }

    #[test]
    fn crops_and_flips_are_fresh_per_epoch_and_reproducible() {
        let shape = ImageShape {
            channels: 2,
            height: 6,
            width: 5,
        };
        let image: Vec<f32> = (1..=shape.values()).map(|v| v as f32).collect();
        let crop = CropFlip {
            padding: 2,
            seed: 5,
        };
        let samples: Vec<usize> = (0..16).collect();
        let epoch0 = transformed(crop, 0, &samples, &image, shape);
        assert_eq!(
            epoch0,
            transformed(crop, 0, &samples, &image, shape),
            "reproducible"
        );
        assert_ne!(
            epoch0,
            transformed(crop, 1, &samples, &image, shape),
            "fresh per epoch"
        );
        assert!(
            epoch0.iter().any(|o| *o != image),
            "some samples are transformed"
        );
        for out in &epoch0 {
            // Every value is a pixel of the same channel or padding.
            for (i, v) in out.iter().enumerate() {
                let channel = i / shape.pixels();
                let own =
                    (channel * shape.pixels() + 1) as f32..=((channel + 1) * shape.pixels()) as f32;
                assert!(*v == 0.0 || own.contains(v), "value {v} at {i}");
            }
        }
        // Without padding only flips remain: each output is the image or its mirror, and
        // both occur.
        let mirror: Vec<f32> = image
            .chunks(shape.width)
            .flat_map(|row| row.iter().rev().copied())
            .collect();
        let flips = transformed(
            CropFlip {
                padding: 0,
                seed: 5,
            },
            0,
            &samples,
            &image,
            shape,
        );
        assert!(flips.iter().all(|o| *o == image || *o == mirror));
        assert!(flips.contains(&image) && flips.contains(&mirror));
    }
}
