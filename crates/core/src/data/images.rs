//! Image data sets held in memory.

use std::ops::Range;

use burn::prelude::*;

use super::{LabelledSet, StoredSet};
use crate::model::{ImageShape, InputBatch, InputShape};
use crate::tensors::{TensorView, ValuesView};
use crate::{Error, Result};

/// A labelled image set: `len()` samples of shape `shape`, f32 values (row-major
/// `[N, C, H, W]`) and u8 class labels `[N]`.
#[derive(Clone, Debug, PartialEq)]
pub struct ImageSet {
    /// Shape of one sample.
    pub shape: ImageShape,
    /// `N * C * H * W` values, sample after sample.
    pub images: Vec<f32>,
    /// `N` class labels.
    pub labels: Vec<u8>,
}

impl ImageSet {
    /// A set from its parts.
    ///
    /// # Errors
    /// [`Error::Invalid`] if the number of values is not `labels.len() * shape.values()`.
    pub fn new(shape: ImageShape, images: Vec<f32>, labels: Vec<u8>) -> Result<Self> {
        if images.len() != labels.len() * shape.values() {
            return Err(Error::invalid(format!(
                "{} image values do not make {} samples of {}",
                images.len(),
                labels.len(),
                shape
            )));
        }
        Ok(Self {
            shape,
            images,
            labels,
        })
    }

    /// Values of sample `i`, `[C, H, W]` row-major.
    pub fn sample(&self, i: usize) -> &[f32] {
        let n = self.shape.values();
        &self.images[i * n..(i + 1) * n]
    }

    /// The first `n` samples (all of them if there are fewer).
    pub fn head(&self, n: usize) -> ImageSet {
        self.range(0..n.min(self.len()))
    }

    /// The samples `range` (a copy).
    pub fn range(&self, range: Range<usize>) -> ImageSet {
        let n = self.shape.values();
        ImageSet {
            shape: self.shape,
            images: self.images[range.start * n..range.end * n].to_vec(),
            labels: self.labels[range].to_vec(),
        }
    }

    /// The samples `indices`, in that order (a copy).
    ///
    /// # Panics
    /// If an index is out of range.
    pub fn select(&self, indices: &[usize]) -> ImageSet {
        let mut images = Vec::with_capacity(indices.len() * self.shape.values());
        for &i in indices {
            images.extend_from_slice(self.sample(i));
        }
        ImageSet {
            shape: self.shape,
            images,
            labels: indices.iter().map(|&i| self.labels[i]).collect(),
        }
    }

    /// Per channel, the sum of all values and the sum of their squares (f64), over all samples
    /// and pixels.
    pub fn channel_sums(&self) -> Vec<(f64, f64)> {
        let pixels = self.shape.pixels();
        let mut sums = vec![(0.0f64, 0.0f64); self.shape.channels];
        for i in 0..self.len() {
            for (channel, sum) in self.sample(i).chunks_exact(pixels).zip(&mut sums) {
                for &v in channel {
                    sum.0 += f64::from(v);
                    sum.1 += f64::from(v) * f64::from(v);
                }
            }
        }
        sums
    }

    /// Gathers, per channel `c`, the positions `keep_indices[c]` of every sample's flattened
    /// grid into samples of shape `shape` (`keep_indices[c].len() == shape.pixels()`): the
    /// input filter on the host. Labels are copied.
    pub fn gather(&self, keep_indices: &[Vec<u32>], shape: ImageShape) -> ImageSet {
        let grid = self.shape.pixels();
        let mut images = Vec::with_capacity(self.len() * shape.values());
        for i in 0..self.len() {
            let sample = self.sample(i);
            for (c, keep) in keep_indices.iter().enumerate() {
                let channel = &sample[c * grid..(c + 1) * grid];
                images.extend(keep.iter().map(|&k| channel[k as usize]));
            }
        }
        ImageSet {
            shape,
            images,
            labels: self.labels.clone(),
        }
    }
}

impl LabelledSet for ImageSet {
    fn input(&self) -> InputShape {
        InputShape::Image(self.shape)
    }

    fn labels(&self) -> &[u8] {
        &self.labels
    }

    /// Images `[B, C, H, W]` and labels `[B]`.
    fn batch(&self, indices: &[usize], device: &Device) -> (InputBatch, Tensor<1, Int>) {
        let mut values = Vec::with_capacity(indices.len() * self.shape.values());
        for &i in indices {
            values.extend_from_slice(self.sample(i));
        }
        let [c, h, w] = self.shape.dims();
        let images = Tensor::from_data(TensorData::new(values, [indices.len(), c, h, w]), device);
        (
            InputBatch::Images(images),
            super::label_tensor(&self.labels, indices, device),
        )
    }
}

impl StoredSet for ImageSet {
    /// `[N, C, H, W]` f32.
    fn samples_view(&self) -> TensorView<'_> {
        let [c, h, w] = self.shape.dims();
        TensorView {
            shape: vec![self.len(), c, h, w],
            values: ValuesView::F32(&self.images),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_hold_the_chosen_samples() {
        let shape = ImageShape {
            channels: 1,
            height: 2,
            width: 2,
        };
        let set = ImageSet::new(shape, (0..12).map(|v| v as f32).collect(), vec![4, 5, 6]).unwrap();
        let (images, labels) = set.batch(&[2, 0], &crate::backend::inference_device());
        let images = images.images();
        assert_eq!(images.dims(), [2, 1, 2, 2]);
        let values = images.into_data().try_to_vec::<f32>().unwrap();
        assert_eq!(values, vec![8.0, 9.0, 10.0, 11.0, 0.0, 1.0, 2.0, 3.0]);
        assert_eq!(
            labels.into_data().iter::<i64>().collect::<Vec<_>>(),
            vec![6, 4]
        );
    }
}
