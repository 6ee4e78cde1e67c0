//! The burn networks built from a [`ModelSpec`].

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::relu;

use super::spec::{Architecture, ModelSpec};

/// A multi-layer perceptron: flatten, `[Linear, ReLU]*`, `Linear`.
#[derive(Module, Debug)]
pub struct Mlp {
    layers: Vec<Linear>,
}

/// LeNet-5 without padding (see [`Architecture::Lenet`]).
#[derive(Module, Debug)]
pub struct Lenet {
    conv1: Conv2d,
    conv2: Conv2d,
    pool: MaxPool2d,
    fc1: Linear,
    fc2: Linear,
    fc3: Linear,
}

/// A network of any supported architecture. Parameter names (PyTorch style, enum variant
/// skipped) are those of [`ModelSpec::parameters`].
#[derive(Module, Debug)]
pub enum Network {
    /// See [`Mlp`].
    Mlp(Mlp),
    /// See [`Lenet`].
    Lenet(Lenet),
}

impl Network {
    /// Builds the network for `spec` on `device`. Its weights are burn's defaults; load the
    /// seeded ones with [`set_weights`](super::set_weights).
    pub fn new(spec: &ModelSpec, device: &Device) -> Self {
        match &spec.architecture {
            Architecture::Mlp { hidden } => {
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
                Network::Mlp(Mlp { layers })
            }
            Architecture::Lenet => {
                let (h, w) = spec.lenet_feature_side();
                Network::Lenet(Lenet {
                    conv1: Conv2dConfig::new([spec.input.channels, 6], [5, 5]).init(device),
                    conv2: Conv2dConfig::new([6, 16], [5, 5]).init(device),
                    pool: MaxPool2dConfig::new([2, 2]).init(),
                    fc1: LinearConfig::new(16 * h * w, 120).init(device),
                    fc2: LinearConfig::new(120, 84).init(device),
                    fc3: LinearConfig::new(84, spec.classes).init(device),
                })
            }
        }
    }

    /// Logits `[B, classes]` for images `[B, C, H, W]`.
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        match self {
            Network::Mlp(mlp) => {
                let mut x: Tensor<2> = images.flatten(1, 3);
                let last = mlp.layers.len() - 1;
                for (i, layer) in mlp.layers.iter().enumerate() {
                    x = layer.forward(x);
                    if i < last {
                        x = relu(x);
                    }
                }
                x
            }
            Network::Lenet(net) => {
                let x = net.pool.forward(relu(net.conv1.forward(images)));
                let x = net.pool.forward(relu(net.conv2.forward(x)));
                let x: Tensor<2> = x.flatten(1, 3);
                let x = relu(net.fc1.forward(x));
                let x = relu(net.fc2.forward(x));
                net.fc3.forward(x)
            }
        }
    }
}
