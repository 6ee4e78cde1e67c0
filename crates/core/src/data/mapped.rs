//! A labelled set whose samples stay in a memory-mapped file: batches copy only their own
//! samples, so the cloud trains on a data file larger than its memory.

use std::ops::Range;
use std::sync::Arc;

use burn::prelude::*;
use memmap2::Mmap;

use super::{ImageSet, LabelledSet, SampleSet, TokenSet};
use crate::Result;
use crate::model::{InputBatch, InputShape};

/// Samples of `input` stored little-endian (f32 pixels or u32 token ids) in `map[samples]`,
/// with their labels in memory.
#[derive(Clone, Debug)]
pub struct MappedSet {
    map: Arc<Mmap>,
    input: InputShape,
    samples: Range<usize>,
    labels: Vec<u8>,
}

impl MappedSet {
    /// The set of `labels.len()` samples of `input` at the byte range `samples` of `map`.
    ///
    /// # Panics
    /// If the range does not hold exactly that many samples (the caller checked the file's
    /// header).
    pub fn new(map: Arc<Mmap>, input: InputShape, samples: Range<usize>, labels: Vec<u8>) -> Self {
        assert_eq!(
            samples.len(),
            labels.len() * input.values() * 4,
            "sample bytes"
        );
        assert!(samples.end <= map.len(), "samples inside the map");
        Self {
            map,
            input,
            samples,
            labels,
        }
    }

    /// The little-endian bytes of sample `i`.
    fn sample_bytes(&self, i: usize) -> &[u8] {
        let size = self.input.values() * 4;
        let start = self.samples.start + i * size;
        &self.map[start..start + size]
    }

    /// The bytes of the samples `indices`, one after the other.
    fn gather_bytes(&self, indices: &[usize]) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(indices.len() * self.input.values() * 4);
        for &i in indices {
            bytes.extend_from_slice(self.sample_bytes(i));
        }
        bytes
    }

    /// The whole set, copied into memory.
    ///
    /// # Errors
    /// As [`ImageSet::new`] and [`TokenSet::new`] (a token id outside the vocabulary).
    pub fn to_memory(&self) -> Result<SampleSet> {
        let all: Vec<usize> = (0..self.len()).collect();
        let bytes = self.gather_bytes(&all);
        let labels = self.labels.clone();
        match self.input {
            InputShape::Image(s) => ImageSet::new(s, bytemuck::pod_collect_to_vec(&bytes), labels)
                .map(SampleSet::Images),
            InputShape::Tokens(s) => TokenSet::new(s, bytemuck::pod_collect_to_vec(&bytes), labels)
                .map(SampleSet::Tokens),
        }
    }
}

impl LabelledSet for MappedSet {
    fn input(&self) -> InputShape {
        self.input
    }

    fn labels(&self) -> &[u8] {
        &self.labels
    }

    fn batch(&self, indices: &[usize], device: &Device) -> (InputBatch, Tensor<1, Int>) {
        let bytes = self.gather_bytes(indices);
        let labels = super::label_tensor(&self.labels, indices, device);
        let input = match self.input {
            InputShape::Image(s) => {
                let [c, h, w] = s.dims();
                let values: Vec<f32> = bytemuck::pod_collect_to_vec(&bytes);
                InputBatch::Images(Tensor::from_data(
                    TensorData::new(values, [indices.len(), c, h, w]),
                    device,
                ))
            }
            InputShape::Tokens(s) => {
                let ids: Vec<i64> = bytes
                    .chunks_exact(4)
                    .map(|b| i64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]])))
                    .collect();
                InputBatch::Tokens(Tensor::from_data(
                    TensorData::new(ids, [indices.len(), s.length]),
                    device,
                ))
            }
        };
        (input, labels)
    }
}
