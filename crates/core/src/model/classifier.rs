//! A network with its input stage: what every branch runs after its input filter, and what the
//! owner keeps as its model.

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::{InputBatch, InputShape, ModelSpec, Network, Weights, set_weights};

/// Per-channel normalisation `(x - mean[c]) / std[c]`, a layer after the input filter, so that
/// noise and pixels share the [0, 1] range in the bundle.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Normalization {
    /// Per-channel mean.
    pub mean: Vec<f32>,
    /// Per-channel standard deviation (positive).
    pub std: Vec<f32>,
}

/// What a spec does to its inputs before its network: per-channel normalisation of images,
/// if any; tokens pass unchanged.
#[derive(Clone, Debug)]
pub struct InputStage {
    /// Mean and standard deviation `[1, C, 1, 1]`.
    normalization: Option<(Tensor<4>, Tensor<4>)>,
    input: InputShape,
}

impl InputStage {
    /// The input stage of `spec` on `device`.
    pub fn new(spec: &ModelSpec, device: &Device) -> Self {
        let normalization = spec.normalization.as_ref().map(|n| {
            let column =
                |v: &[f32]| {
                    Tensor::<1>::from_data(TensorData::new(v.to_vec(), [v.len()]), device)
                        .reshape([1, v.len(), 1, 1])
                };
            (column(&n.mean), column(&n.std))
        });
        Self {
            normalization,
            input: spec.input,
        }
    }

    /// Applies the stage to a batch (images `[B, C, H, W]` are normalised).
    pub fn apply(&self, input: InputBatch) -> InputBatch {
        match (&self.normalization, input) {
            (Some((mean, std)), InputBatch::Images(images)) => {
                InputBatch::Images((images - mean.clone()) / std.clone())
            }
            (_, input) => input,
        }
    }

    /// What it takes.
    pub fn input(&self) -> InputShape {
        self.input
    }
}

/// A [`Network`] behind its spec's [`InputStage`]: the model as the owner keeps it.
#[derive(Module, Debug)]
pub struct Classifier {
    /// The network; its tensors are the model's weights.
    pub network: Network,
    #[module(skip)]
    stage: InputStage,
}

impl Classifier {
    /// Builds the classifier of `spec` on `device` with `weights` (PyTorch names).
    ///
    /// # Errors
    /// A description of missing or mis-shaped tensors.
    pub fn new(spec: &ModelSpec, weights: &Weights, device: &Device) -> Result<Self, String> {
        let mut network = Network::new(spec, device);
        set_weights(&mut network, weights)?;
        Ok(Self {
            network,
            stage: InputStage::new(spec, device),
        })
    }

    /// Logits `[B, classes]` for a batch of images `[B, C, H, W]` in [0, 1] or tokens
    /// `[B, L]`.
    pub fn forward(&self, input: InputBatch) -> Tensor<2> {
        self.network.forward(self.stage.apply(input))
    }

    /// What it takes.
    pub fn input(&self) -> InputShape {
        self.stage.input()
    }
}
