//! What one layer host runs: a linear or convolution layer with its activation and pooling.

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Largest width (inputs, outputs, channels) of a layer.
pub const MAX_WIDTH: usize = 1 << 20;
/// Largest convolution kernel side.
pub const MAX_KERNEL: usize = 64;

/// One layer of the model as its host runs it. Inputs are `[B, ...]` batches.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LayerSpec {
    /// `relu?(x W + b)` on the input flattened to `[B, inputs]`; output `[B, outputs]`.
    /// Weights: `weight` `[outputs, inputs]`, `bias` `[outputs]` (PyTorch layout).
    Dense {
        /// Input features (product of the input's non-batch dimensions).
        inputs: usize,
        /// Output features.
        outputs: usize,
        /// Whether a ReLU follows.
        relu: bool,
    },
    /// `max_pool(relu(conv(x)))` on `[B, in_channels, H, W]`: a square `kernel` without
    /// padding, stride 1, then `pool`×`pool` max-pooling; output
    /// `[B, out_channels, (H-kernel+1)/pool, (W-kernel+1)/pool]`. Weights: `weight`
    /// `[out_channels, in_channels, kernel, kernel]`, `bias` `[out_channels]`.
    Conv {
        /// Input channels.
        in_channels: usize,
        /// Output channels.
        out_channels: usize,
        /// Kernel side, pixels.
        kernel: usize,
        /// Pooling window and stride, pixels.
        pool: usize,
    },
}

impl LayerSpec {
    /// Checks the sizes.
    ///
    /// # Errors
    /// [`Error::Invalid`] for a zero or too large width, kernel or pool.
    pub fn validate(&self) -> Result<()> {
        let widths_ok = |ws: &[usize]| ws.iter().all(|&w| (1..=MAX_WIDTH).contains(&w));
        let ok = match *self {
            LayerSpec::Dense {
                inputs, outputs, ..
            } => widths_ok(&[inputs, outputs]),
            LayerSpec::Conv {
                in_channels,
                out_channels,
                kernel,
                pool,
            } => {
                widths_ok(&[in_channels, out_channels])
                    && (1..=MAX_KERNEL).contains(&kernel)
                    && (1..=MAX_KERNEL).contains(&pool)
            }
        };
        if !ok {
            return Err(Error::invalid(format!("layer out of range: {self:?}")));
        }
        Ok(())
    }

    /// Shapes of `weight` and `bias`, PyTorch layout.
    pub fn parameter_shapes(&self) -> [(&'static str, Vec<usize>); 2] {
        match *self {
            LayerSpec::Dense {
                inputs, outputs, ..
            } => [("weight", vec![outputs, inputs]), ("bias", vec![outputs])],
            LayerSpec::Conv {
                in_channels,
                out_channels,
                kernel,
                ..
            } => [
                ("weight", vec![out_channels, in_channels, kernel, kernel]),
                ("bias", vec![out_channels]),
            ],
        }
    }

    /// The output shape for an input of shape `input` (`[B, ...]`).
    ///
    /// # Errors
    /// [`Error::Invalid`] if the layer cannot take that input.
    pub fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        let bad = || Error::invalid(format!("{self:?} cannot take an input of shape {input:?}"));
        let (&batch, rest) = input.split_first().ok_or_else(bad)?;
        if batch == 0 {
            return Err(bad());
        }
        match *self {
            LayerSpec::Dense {
                inputs, outputs, ..
            } => {
                if rest.iter().product::<usize>() != inputs || rest.is_empty() {
                    return Err(bad());
                }
                Ok(vec![batch, outputs])
            }
            LayerSpec::Conv {
                in_channels,
                out_channels,
                kernel,
                pool,
            } => {
                let [c, h, w] = rest else {
                    return Err(bad());
                };
                let side = |s: usize| s.checked_sub(kernel - 1).map(|s| s / pool);
                match (side(*h), side(*w)) {
                    (Some(oh), Some(ow)) if *c == in_channels && oh > 0 && ow > 0 => {
                        Ok(vec![batch, out_channels, oh, ow])
                    }
                    _ => Err(bad()),
                }
            }
        }
    }
}
