//! Labelled data sets held in memory (images and token sequences), and the seeded batch order
//! shared by every training run.

mod images;
mod mapped;
mod tokens;

use burn::prelude::*;
use rand::seq::SliceRandom;

pub use images::ImageSet;
pub use mapped::MappedSet;
pub use tokens::TokenSet;

use crate::model::{InputBatch, InputShape};
use crate::rng::{Stream, substream};
use crate::tensors::TensorView;

/// A labelled set of samples that the training loop, the evaluator and the bundle handle alike.
pub trait LabelledSet: Sync {
    /// Shape of one sample.
    fn input(&self) -> InputShape;

    /// The `N` class labels.
    fn labels(&self) -> &[u8];

    /// The samples `indices` as tensors on `device`: inputs `[B, ...]` and labels `[B]`.
    fn batch(&self, indices: &[usize], device: &Device) -> (InputBatch, Tensor<1, Int>);

    /// Number of samples `N`.
    fn len(&self) -> usize {
        self.labels().len()
    }

    /// True when there are no samples.
    fn is_empty(&self) -> bool {
        self.labels().is_empty()
    }

    /// Number of classes: the largest label plus one.
    fn classes(&self) -> usize {
        self.labels().iter().max().map_or(0, |&m| m as usize + 1)
    }
}

/// A labelled set held in memory as one array of samples.
pub trait StoredSet: LabelledSet {
    /// All samples as one borrowed tensor `[N, ...]`, for writing.
    fn samples_view(&self) -> TensorView<'_>;
}

/// A labelled set of either kind, as read from a bundle.
#[derive(Clone, Debug, PartialEq)]
pub enum SampleSet {
    /// Images.
    Images(ImageSet),
    /// Token sequences.
    Tokens(TokenSet),
}

/// The labels of `indices` as a tensor `[B]` on `device`.
fn label_tensor(labels: &[u8], indices: &[usize], device: &Device) -> Tensor<1, Int> {
    let values: Vec<i64> = indices.iter().map(|&i| i64::from(labels[i])).collect();
    Tensor::from_data(TensorData::new(values, [indices.len()]), device)
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
}
