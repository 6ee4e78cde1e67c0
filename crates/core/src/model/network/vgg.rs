//! VGG with BatchNorm (Simonyan & Zisserman 2015), PyTorch names: `features.{i}` indexed as
//! PyTorch's `Sequential` of conv, norm, ReLU per conv and a max-pool per stage; `classifier`.

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig, PaddingConfig2d, Relu};
use burn::prelude::*;
use burn::tensor::module::adaptive_avg_pool2d;

use crate::model::ModelSpec;
use crate::model::split::StagePlan;

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

/// VGG (see [`crate::model::Architecture::Vgg`]). Each VGG stage is a stage of a split
/// network; the layers a part does not build stay as empty slots, so that `features.{i}`
/// keeps the whole network's indices.
#[derive(Module, Debug)]
pub struct Vgg {
    features: Vec<Option<VggLayer>>,
    classifier: Option<Linear>,
    #[module(skip)]
    plan: StagePlan,
    /// The `features` indices of each stage.
    #[module(skip)]
    stage_layers: Vec<std::ops::Range<usize>>,
}

impl Vgg {
    pub(super) fn new(spec: &ModelSpec, stages: &[Vec<usize>], device: &Device) -> Self {
        let plan = StagePlan::new(spec.split.as_ref());
        let channels = spec.input.channels();
        let mut features = Vec::new();
        let mut stage_layers = Vec::new();
        let mut input = channels;
        for (number, stage) in stages.iter().enumerate() {
            let built = plan.builds(number);
            let first = features.len();
            input = plan.input_width(number, input, channels);
            for &width in stage {
                features.push(built.then(|| {
                    VggLayer::Conv(
                        Conv2dConfig::new([input, width], [3, 3])
                            .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                            .init(device),
                    )
                }));
                features
                    .push(built.then(|| VggLayer::Norm(BatchNormConfig::new(width).init(device))));
                features.push(built.then(|| VggLayer::Relu(Relu::new())));
                input = width;
            }
            features.push(
                built.then(|| {
                    VggLayer::Pool(MaxPool2dConfig::new([2, 2]).with_ceil_mode(true).init())
                }),
            );
            stage_layers.push(first..features.len());
        }
        let input = plan.input_width(stages.len(), input, channels);
        Self {
            features,
            classifier: plan
                .builds(stages.len())
                .then(|| LinearConfig::new(input, spec.classes).init(device)),
            plan,
            stage_layers,
        }
    }

    /// Every BatchNorm layer.
    pub(super) fn batch_norms(&self) -> impl Iterator<Item = &BatchNorm> {
        self.features
            .iter()
            .flatten()
            .filter_map(|layer| match layer {
                VggLayer::Norm(norm) => Some(norm),
                _ => None,
            })
    }

    /// Stage `stage`: its convs with BatchNorm and ReLU, then its max-pool.
    fn stage(&self, stage: usize, x: Tensor<4>) -> Tensor<4> {
        self.features[self.stage_layers[stage].clone()]
            .iter()
            .map(|layer| layer.as_ref().expect("the plan runs built stages only"))
            .fold(x, |x, layer| match layer {
                VggLayer::Conv(conv) => conv.forward(x),
                VggLayer::Norm(norm) => norm.forward(x),
                VggLayer::Relu(relu) => relu.forward(x),
                VggLayer::Pool(pool) => pool.forward(x),
            })
    }

    fn classify(&self, x: Tensor<4>) -> Tensor<2> {
        let x: Tensor<2> = adaptive_avg_pool2d(x, [1, 1]).flatten(1, 3);
        self.classifier
            .as_ref()
            .expect("the plan runs the classifier only where it is built")
            .forward(x)
    }

    pub(super) fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        self.plan.forward(
            images,
            self.stage_layers.len(),
            |s, x| self.stage(s, x),
            |x| self.classify(x),
        )
    }

    pub(super) fn features(&self, images: Tensor<4>) -> Tensor<4> {
        self.plan.features(images, |s, x| self.stage(s, x))
    }
}
