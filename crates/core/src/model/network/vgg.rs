//! VGG with BatchNorm (Simonyan & Zisserman 2015), PyTorch names: `features.{i}` indexed as
//! PyTorch's `Sequential` of conv, norm, ReLU per conv and a max-pool per stage; `classifier`.

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig, PaddingConfig2d, Relu};
use burn::prelude::*;
use burn::tensor::module::adaptive_avg_pool2d;

use crate::model::ModelSpec;

/// One entry of the feature extractor.
#[derive(Module, Debug)]
pub enum VggLayer {
    /// 3x3 convolution, padding 1, with bias.
    Conv(Conv2d),
    /// BatchNorm.
    Norm(BatchNorm),
    /// ReLU.
    Relu(Relu),
    /// 2x2 max-pool, stride 2, ceil mode.
    Pool(MaxPool2d),
}

/// VGG (see [`crate::model::Architecture::Vgg`]).
#[derive(Module, Debug)]
pub struct Vgg {
    features: Vec<VggLayer>,
    classifier: Linear,
}

impl Vgg {
    pub(super) fn new(spec: &ModelSpec, stages: &[Vec<usize>], device: &Device) -> Self {
        let mut features = Vec::new();
        let mut input = spec.input.channels();
        for stage in stages {
            for &width in stage {
                features.push(VggLayer::Conv(
                    Conv2dConfig::new([input, width], [3, 3])
                        .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                        .init(device),
                ));
                features.push(VggLayer::Norm(BatchNormConfig::new(width).init(device)));
                features.push(VggLayer::Relu(Relu::new()));
                input = width;
            }
            features.push(VggLayer::Pool(
                MaxPool2dConfig::new([2, 2]).with_ceil_mode(true).init(),
            ));
        }
        Self {
            features,
            classifier: LinearConfig::new(input, spec.classes).init(device),
        }
    }

    /// Every BatchNorm layer.
    pub(super) fn batch_norms(&self) -> impl Iterator<Item = &BatchNorm> {
        self.features.iter().filter_map(|layer| match layer {
            VggLayer::Norm(norm) => Some(norm),
            _ => None,
        })
    }

    pub(super) fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        let x = self.features.iter().fold(images, |x, layer| match layer {
            VggLayer::Conv(conv) => conv.forward(x),
            VggLayer::Norm(norm) => norm.forward(x),
            VggLayer::Relu(relu) => relu.forward(x),
            VggLayer::Pool(pool) => pool.forward(x),
        });
        let x: Tensor<2> = adaptive_avg_pool2d(x, [1, 1]).flatten(1, 3);
        self.classifier.forward(x)
    }
}
