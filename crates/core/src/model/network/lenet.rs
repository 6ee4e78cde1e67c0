//! LeNet-5.

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::relu;

use crate::model::ModelSpec;

/// LeNet-5 without padding (see [`crate::model::Architecture::Lenet`]).
#[derive(Module, Debug)]
pub struct Lenet {
    conv1: Conv2d,
    conv2: Conv2d,
    pool: MaxPool2d,
    fc1: Linear,
    fc2: Linear,
    fc3: Linear,
}

impl Lenet {
    pub(super) fn new(
        spec: &ModelSpec,
        [c1, c2]: [usize; 2],
        [f1, f2]: [usize; 2],
        device: &Device,
    ) -> Self {
        let (h, w) = spec.lenet_feature_side();
        Self {
            conv1: Conv2dConfig::new([spec.input.channels(), c1], [5, 5]).init(device),
            conv2: Conv2dConfig::new([c1, c2], [5, 5]).init(device),
            pool: MaxPool2dConfig::new([2, 2]).init(),
            fc1: LinearConfig::new(c2 * h * w, f1).init(device),
            fc2: LinearConfig::new(f1, f2).init(device),
            fc3: LinearConfig::new(f2, spec.classes).init(device),
        }
    }

    pub(super) fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        let x = self.pool.forward(relu(self.conv1.forward(images)));
        let x = self.pool.forward(relu(self.conv2.forward(x)));
        let x: Tensor<2> = x.flatten(1, 3);
        let x = relu(self.fc1.forward(x));
        let x = relu(self.fc2.forward(x));
        self.fc3.forward(x)
    }
}
