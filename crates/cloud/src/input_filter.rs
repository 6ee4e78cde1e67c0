//! The input filter: the first layer of every branch, which gathers the positions it keeps
//! from the augmented sample (Amalgam, Taki & Mastorakis 2024, §4: the augmented model's
//! input layer "filters out" the noise). Here it is one `select` (a gather) on the backend
//! tensor, with its indices prepared once, not a host loop or a membership test.

use amalgam_core::model::ImageShape;
use burn::prelude::*;

/// Gathers `output` (`[C, H, W]`) from augmented samples of shape `augmented` (`[C, H', W']`).
#[derive(Clone, Debug)]
pub struct InputFilter {
    /// Flat positions in a `C * H' * W'` sample: `c * H'W' + keep_indices[c][j]`.
    indices: Tensor<1, Int>,
    output: ImageShape,
}

impl InputFilter {
    /// A filter keeping `keep_indices[c]` (sorted positions in the flattened `H' * W'` grid,
    /// `H * W` of them) of each channel `c`. The spec has been validated by the bundle reader.
    pub fn new(
        keep_indices: &[Vec<u32>],
        augmented: ImageShape,
        output: ImageShape,
        device: &Device,
    ) -> Self {
        let grid = augmented.pixels() as i64;
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

    /// Filters a batch: `[B, C, H', W']` → `[B, C, H, W]`.
    pub fn apply(&self, augmented: Tensor<4>) -> Tensor<4> {
        let [batch, c, h, w] = augmented.dims();
        let [oc, oh, ow] = self.output.dims();
        augmented
            .reshape([batch, c * h * w])
            .select(1, self.indices.clone())
            .reshape([batch, oc, oh, ow])
    }
}
