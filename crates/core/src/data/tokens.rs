//! Token-sequence data sets held in memory.

use std::ops::Range;

use burn::prelude::*;

use super::{LabelledSet, StoredSet};
use crate::model::{InputBatch, InputShape, TokenShape};
use crate::tensors::{TensorView, ValuesView};
use crate::{Error, Result};

/// A labelled text set: `len()` sequences of `shape.length` token ids (row-major `[N, L]`,
/// each below `shape.vocab_size`, [`crate::model::PAD_TOKEN`] for padding) and u8 class
/// labels `[N]`.
#[derive(Clone, Debug, PartialEq)]
pub struct TokenSet {
    /// Shape of one sample.
    pub shape: TokenShape,
    /// `N * L` token ids, sample after sample.
    pub tokens: Vec<u32>,
    /// `N` class labels.
    pub labels: Vec<u8>,
}

impl TokenSet {
    /// A set from its parts.
    ///
    /// # Errors
    /// [`Error::Invalid`] if the number of ids is not `labels.len() * shape.length`, or an
    /// id is not below `shape.vocab_size`.
    pub fn new(shape: TokenShape, tokens: Vec<u32>, labels: Vec<u8>) -> Result<Self> {
        if tokens.len() != labels.len() * shape.length {
            return Err(Error::invalid(format!(
                "{} token ids do not make {} samples of {} tokens",
                tokens.len(),
                labels.len(),
                shape.length
            )));
        }
        if let Some(bad) = tokens.iter().find(|&&t| t as usize >= shape.vocab_size) {
            return Err(Error::invalid(format!(
                "token id {bad} is outside the vocabulary of {}",
                shape.vocab_size
            )));
        }
        Ok(Self {
            shape,
            tokens,
            labels,
        })
    }

    /// Token ids of sample `i`, `[L]`.
    pub fn sample(&self, i: usize) -> &[u32] {
        let n = self.shape.length;
        &self.tokens[i * n..(i + 1) * n]
    }

    /// The samples `indices`, in that order (a copy).
    ///
    /// # Panics
    /// If an index is out of range.
    pub fn select(&self, indices: &[usize]) -> TokenSet {
        let mut tokens = Vec::with_capacity(indices.len() * self.shape.length);
        for &i in indices {
            tokens.extend_from_slice(self.sample(i));
        }
        TokenSet {
            shape: self.shape,
            tokens,
            labels: indices.iter().map(|&i| self.labels[i]).collect(),
        }
    }

    /// The first `n` samples (all of them if there are fewer).
    pub fn head(&self, n: usize) -> TokenSet {
        self.range(0..n.min(self.len()))
    }

    /// The samples `range` (a copy).
    pub fn range(&self, range: Range<usize>) -> TokenSet {
        let n = self.shape.length;
        TokenSet {
            shape: self.shape,
            tokens: self.tokens[range.start * n..range.end * n].to_vec(),
            labels: self.labels[range].to_vec(),
        }
    }
}

impl LabelledSet for TokenSet {
    fn input(&self) -> InputShape {
        InputShape::Tokens(self.shape)
    }

    fn labels(&self) -> &[u8] {
        &self.labels
    }

    /// Token ids `[B, L]` and labels `[B]`.
    fn batch(&self, indices: &[usize], device: &Device) -> (InputBatch, Tensor<1, Int>) {
        let mut ids = Vec::with_capacity(indices.len() * self.shape.length);
        for &i in indices {
            ids.extend(self.sample(i).iter().map(|&t| i64::from(t)));
        }
        let tokens = Tensor::from_data(
            TensorData::new(ids, [indices.len(), self.shape.length]),
            device,
        );
        (
            InputBatch::Tokens(tokens),
            super::label_tensor(&self.labels, indices, device),
        )
    }
}

impl StoredSet for TokenSet {
    /// `[N, L]` u32.
    fn samples_view(&self) -> TensorView<'_> {
        TensorView {
            shape: vec![self.len(), self.shape.length],
            values: ValuesView::U32(&self.tokens),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(length: usize) -> TokenShape {
        TokenShape {
            length,
            vocab_size: 10,
        }
    }

    #[test]
    fn batches_hold_the_chosen_tokens() {
        let set = TokenSet::new(shape(3), vec![1, 2, 3, 4, 5, 6], vec![0, 1]).unwrap();
        let (tokens, labels) = set.batch(&[1, 0], &crate::backend::inference_device());
        let ids: Vec<i64> = tokens.tokens().into_data().iter::<i64>().collect();
        assert_eq!(ids, vec![4, 5, 6, 1, 2, 3]);
        assert_eq!(
            labels.into_data().iter::<i64>().collect::<Vec<_>>(),
            vec![1, 0]
        );
    }

    #[test]
    fn ids_outside_the_vocabulary_are_rejected() {
        assert!(TokenSet::new(shape(2), vec![1, 10], vec![0]).is_err());
        assert!(TokenSet::new(shape(2), vec![1, 2, 3], vec![0]).is_err());
    }
}
