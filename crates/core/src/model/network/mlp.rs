//! Multi-layer perceptron.

use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::relu;

use crate::model::ModelSpec;

/// Flatten, `[Linear, ReLU]*`, `Linear` (see [`crate::model::Architecture::Mlp`]).
#[derive(Module, Debug)]
pub struct Mlp {
    layers: Vec<Linear>,
}

impl Mlp {
    pub(super) fn new(spec: &ModelSpec, hidden: &[usize], device: &Device) -> Self {
        let mut width = spec.input.values();
        let layers = hidden
            .iter()
            .chain([spec.classes].iter())
            .map(|&h| {
                let layer = LinearConfig::new(width, h).init(device);
                width = h;
                layer
            })
            .collect();
        Self { layers }
    }

    pub(super) fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        let mut x: Tensor<2> = images.flatten(1, 3);
        let last = self.layers.len() - 1;
        for (i, layer) in self.layers.iter().enumerate() {
            x = layer.forward(x);
            if i < last {
                x = relu(x);
            }
        }
        x
    }
}
