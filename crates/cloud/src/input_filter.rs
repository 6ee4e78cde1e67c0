//! The input filter: the first layer of every branch, which gathers the positions it keeps
//! from the augmented sample (Amalgam, Taki & Mastorakis 2024, §4: the augmented model's
//! input layer "filters out" the noise). Here it is one `select` (a gather) on the backend
//! tensor, with its indices prepared once, not a host loop or a membership test. For text it
//! runs on the token ids, before the embedding lookup.

use amalgam_core::model::{InputBatch, InputShape};
use burn::prelude::*;

/// Gathers samples of shape `output` (`[C, H, W]` or `[L]`) from augmented samples
/// (`[C, H', W']` or `[L']`).
#[derive(Clone, Debug)]
pub struct InputFilter {
    /// Flat positions in a `C * H' * W'` (or `L'`) sample: `c * H'W' + keep_indices[c][j]`.
    indices: Tensor<1, Int>,
    output: InputShape,
}

impl InputFilter {
    /// A filter keeping `keep_indices[c]` (sorted positions in the flattened `H' * W'` grid
    /// or the `L'` sequence, `H * W` or `L` of them) of each channel `c`. The spec has been
    /// validated by the bundle reader.
    pub fn new(
        keep_indices: &[Vec<u32>],
        augmented: InputShape,
        output: InputShape,
        device: &Device,
    ) -> Self {
        let grid = augmented.positions() as i64;
        let flat: Vec<i64> = keep_indices
            .iter()
            .enumerate()
            .flat_map(|(c, keep)| keep.iter().map(move |&k| c as i64 * grid + i64::from(k)))
            .collect();
        let len = flat.len();
        Self {
            indices: Tensor::from_data(TensorData::new(flat, [len]), device),
            output,
        }
    }

    /// Filters a batch: images `[B, C, H', W']` → `[B, C, H, W]`, tokens `[B, L']` → `[B, L]`.
    pub fn apply(&self, augmented: InputBatch) -> InputBatch {
        match (augmented, self.output) {
            (InputBatch::Images(images), InputShape::Image(output)) => {
                let [batch, c, h, w] = images.dims();
                let [oc, oh, ow] = output.dims();
                InputBatch::Images(
                    images
                        .reshape([batch, c * h * w])
                        .select(1, self.indices.clone())
                        .reshape([batch, oc, oh, ow]),
                )
            }
            (InputBatch::Tokens(tokens), InputShape::Tokens(_)) => {
                InputBatch::Tokens(tokens.select(1, self.indices.clone()))
            }
            _ => panic!("an input filter was given the other kind of input than its spec's"),
        }
    }
}
