//! A labelled set whose samples stay in a memory-mapped file: batches copy only their own
//! samples, so the cloud trains on a data file larger than its memory.

use std::ops::Range;
use std::sync::Arc;

use burn::prelude::*;
use memmap2::Mmap;

use super::{ImageSet, LabelledSet, SampleSet, TokenSet};
use crate::Result;
use crate::bundle::Precision;
use crate::model::{InputBatch, InputShape};

/// Samples of `input` stored little-endian (f32 or f16 pixels, or u32 token ids) in
/// `map[samples]`, with their labels in memory.
#[derive(Clone, Debug)]
pub struct MappedSet {
    map: Arc<Mmap>,
    input: InputShape,
    precision: Precision,
    samples: Range<usize>,
    labels: Vec<u8>,
}

impl MappedSet {
    /// The set of `labels.len()` samples of `input` (images stored at `precision`) at the
    /// byte range `samples` of `map`.
    ///
    /// # Panics
    /// If the range does not hold exactly that many samples (the caller checked the file's
    /// header).
    pub fn new(
        map: Arc<Mmap>,
        input: InputShape,
        precision: Precision,
        samples: Range<usize>,
        labels: Vec<u8>,
    ) -> Self {
        let element = match input {
            InputShape::Image(_) => precision.image_dtype().size(),
            InputShape::Tokens(_) => 4,
        };
        assert_eq!(
            samples.len(),
            labels.len() * input.values() * element,
            "sample bytes"
        );
        assert!(samples.end <= map.len(), "samples inside the map");
        Self {
            map,
            input,
            precision,
            samples,
            labels,
        }
    }

    /// The values of the samples `indices`, one after the other: one copy from the map into
    /// an aligned vector (the map's offsets need not be aligned for `T`).
    fn gather<T: bytemuck::Pod>(&self, indices: &[usize]) -> Vec<T> {
        let mut values = vec![T::zeroed(); indices.len() * self.input.values()];
        let bytes: &mut [u8] = bytemuck::cast_slice_mut(&mut values);
        let size = self.input.values() * std::mem::size_of::<T>();
        for (out, &i) in bytes.chunks_exact_mut(size).zip(indices) {
            let start = self.samples.start + i * size;
            out.copy_from_slice(&self.map[start..start + size]);
        }
        values
    }

    /// The pixels of the samples `indices` as f32 (f16 samples widened, exactly).
    fn pixels(&self, indices: &[usize]) -> Vec<f32> {
        match self.precision {
            Precision::F32 => self.gather(indices),
            Precision::F16 => self
                .gather::<half::f16>(indices)
                .into_iter()
                .map(f32::from)
                .collect(),
        }
    }

    /// The whole set, copied into memory.
    ///
    /// # Errors
    /// As [`ImageSet::new`] and [`TokenSet::new`] (a token id outside the vocabulary).
    pub fn to_memory(&self) -> Result<SampleSet> {
        let all: Vec<usize> = (0..self.len()).collect();
        let labels = self.labels.clone();
        match self.input {
            InputShape::Image(s) => {
                ImageSet::new(s, self.pixels(&all), labels).map(SampleSet::Images)
            }
            InputShape::Tokens(s) => {
                TokenSet::new(s, self.gather(&all), labels).map(SampleSet::Tokens)
            }
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
        let labels = super::label_tensor(&self.labels, indices, device);
        let input = match self.input {
            InputShape::Image(s) => {
                let [c, h, w] = s.dims();
                let values = self.pixels(indices);
                InputBatch::Images(Tensor::from_data(
                    TensorData::new(values, [indices.len(), c, h, w]),
                    device,
                ))
            }
            InputShape::Tokens(s) => {
                let ids: Vec<i64> = self
                    .gather::<u32>(indices)
                    .into_iter()
                    .map(i64::from)
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
