//! Image data sets held in memory, and the seeded batch order shared by every training run.

use burn::prelude::*;
use rand::seq::SliceRandom;

use crate::model::ImageShape;
use crate::rng::{Stream, substream};
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

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True when there are no samples.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Number of classes: the largest label plus one.
    pub fn classes(&self) -> usize {
        self.labels.iter().max().map_or(0, |&m| m as usize + 1)
    }

    /// Values of sample `i`, `[C, H, W]` row-major.
    pub fn sample(&self, i: usize) -> &[f32] {
        let n = self.shape.values();
        &self.images[i * n..(i + 1) * n]
    }

    /// The first `n` samples (all of them if there are fewer).
    pub fn head(&self, n: usize) -> ImageSet {
        let n = n.min(self.len());
        ImageSet {
            shape: self.shape,
            images: self.images[..n * self.shape.values()].to_vec(),
            labels: self.labels[..n].to_vec(),
        }
    }

    /// Per-channel mean and standard deviation over all samples and pixels.
    pub fn channel_statistics(&self) -> (Vec<f32>, Vec<f32>) {
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
        let n = (self.len() * pixels).max(1) as f64;
        sums.iter()
            .map(|(s, q)| {
                let mean = s / n;
                (mean as f32, (q / n - mean * mean).max(1e-12).sqrt() as f32)
            })
            .unzip()
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

    /// The samples `indices` as tensors on `device`: images `[B, C, H, W]` and labels `[B]`.
    pub fn batch(&self, indices: &[usize], device: &Device) -> (Tensor<4>, Tensor<1, Int>) {
        let mut values = Vec::with_capacity(indices.len() * self.shape.values());
        for &i in indices {
            values.extend_from_slice(self.sample(i));
        }
        let [c, h, w] = self.shape.dims();
        let images = Tensor::from_data(TensorData::new(values, [indices.len(), c, h, w]), device);
        let labels: Vec<i64> = indices.iter().map(|&i| self.labels[i] as i64).collect();
        let labels = Tensor::from_data(TensorData::new(labels, [indices.len()]), device);
        (images, labels)
    }
}

/// The order in which epoch `epoch` visits `len` samples: a permutation drawn from the
/// [`Stream::BatchOrder`] sub-stream `epoch` of `seed`. Batches are consecutive chunks of it.
pub fn batch_order(len: usize, seed: u64, epoch: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..len).collect();
    order.shuffle(&mut substream(seed, Stream::BatchOrder, epoch as u64));
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_order_is_a_seeded_permutation_per_epoch() {
        let a = batch_order(100, 9, 0);
        let mut sorted = a.clone();
        sorted.sort();
        assert_eq!(sorted, (0..100).collect::<Vec<_>>());
        assert_eq!(a, batch_order(100, 9, 0));
        assert_ne!(a, batch_order(100, 9, 1));
        assert_ne!(a, batch_order(100, 10, 0));
    }

    #[test]
    fn batches_hold_the_chosen_samples() {
        let shape = ImageShape {
            channels: 1,
            height: 2,
            width: 2,
        };
        let set = ImageSet::new(shape, (0..12).map(|v| v as f32).collect(), vec![4, 5, 6]).unwrap();
        let (images, labels) = set.batch(&[2, 0], &crate::backend::inference_device());
        assert_eq!(images.dims(), [2, 1, 2, 2]);
        let values = images.into_data().try_to_vec::<f32>().unwrap();
        assert_eq!(values, vec![8.0, 9.0, 10.0, 11.0, 0.0, 1.0, 2.0, 3.0]);
        assert_eq!(
            labels.into_data().iter::<i64>().collect::<Vec<_>>(),
            vec![6, 4]
        );
    }
}
