//! ResNet for small images (He et al. 2016), PyTorch names as in the Amalgam prototype's
//! `models/resnet.py`: `conv1`, `bn1`, `layer{1..4}.{block}.{conv1,bn1,conv2,bn2,shortcut.0,shortcut.1}`,
//! `linear`.

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::relu;
use burn::tensor::module::adaptive_avg_pool2d;

use crate::model::ModelSpec;
use crate::model::split::StagePlan;

/// A 3x3 convolution without bias, padding 1.
fn conv3x3(input: usize, output: usize, stride: usize, device: &Device) -> Conv2d {
    Conv2dConfig::new([input, output], [3, 3])
        .with_stride([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
        .with_bias(false)
        .init(device)
}

/// One layer of a projection shortcut (`shortcut.0` the conv, `shortcut.1` the norm).
#[derive(Module, Debug)]
pub enum ShortcutLayer {
    /// 1x1 convolution, no bias.
    Conv(Conv2d),
    /// BatchNorm.
    Norm(BatchNorm),
}

/// Two 3x3 convolutions with BatchNorm and a residual connection.
#[derive(Module, Debug)]
pub struct BasicBlock {
    conv1: Conv2d,
    bn1: BatchNorm,
    conv2: Conv2d,
    bn2: BatchNorm,
    /// Empty for the identity; conv + norm where the shape changes.
    shortcut: Vec<ShortcutLayer>,
}

impl BasicBlock {
    fn new(input: usize, output: usize, stride: usize, device: &Device) -> Self {
        let shortcut = if stride != 1 || input != output {
            vec![
                ShortcutLayer::Conv(
                    Conv2dConfig::new([input, output], [1, 1])
                        .with_stride([stride, stride])
                        .with_bias(false)
                        .init(device),
                ),
                ShortcutLayer::Norm(BatchNormConfig::new(output).init(device)),
            ]
        } else {
            Vec::new()
        };
        Self {
            conv1: conv3x3(input, output, stride, device),
            bn1: BatchNormConfig::new(output).init(device),
            conv2: conv3x3(output, output, 1, device),
            bn2: BatchNormConfig::new(output).init(device),
            shortcut,
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let out = relu(self.bn1.forward(self.conv1.forward(x.clone())));
        let out = self.bn2.forward(self.conv2.forward(out));
        let residual = self.shortcut.iter().fold(x, |x, layer| match layer {
            ShortcutLayer::Conv(conv) => conv.forward(x),
            ShortcutLayer::Norm(norm) => norm.forward(x),
        });
        relu(out + residual)
    }
}

/// ResNet (see [`crate::model::Architecture::Resnet`]). Its stages are the stem (`conv1`,
/// `bn1`, ReLU) and each `layer{k}`; a split network builds only its part's layers.
#[derive(Module, Debug)]
pub struct Resnet {
    conv1: Option<Conv2d>,
    bn1: Option<BatchNorm>,
    layer1: Vec<BasicBlock>,
    layer2: Vec<BasicBlock>,
    layer3: Vec<BasicBlock>,
    layer4: Vec<BasicBlock>,
    linear: Option<Linear>,
    #[module(skip)]
    plan: StagePlan,
    #[module(skip)]
    stages: usize,
}

impl Resnet {
    pub(super) fn new(
        spec: &ModelSpec,
        blocks: &[usize],
        widths: &[usize],
        device: &Device,
    ) -> Self {
        let plan = StagePlan::new(spec.split.as_ref());
        let channels = spec.input.channels();
        let mut stages: Vec<Vec<BasicBlock>> = Vec::new();
        let mut input = widths[0];
        for (stage, (&n, &width)) in blocks.iter().zip(widths).enumerate() {
            input = plan.input_width(stage + 1, input, channels);
            let built = plan.builds(stage + 1);
            stages.push(
                (0..n)
                    .filter(|_| built)
                    .map(|b| {
                        let stride = if stage > 0 && b == 0 { 2 } else { 1 };
                        let block = BasicBlock::new(input, width, stride, device);
                        input = width;
                        block
                    })
                    .collect(),
            );
            input = width;
        }
        stages.resize_with(4, Vec::new);
        let mut stage_blocks = stages.into_iter();
        let mut next = || stage_blocks.next().expect("four stages");
        let stem = plan.builds(0);
        let head = plan.builds(1 + blocks.len());
        let input = plan.input_width(1 + blocks.len(), input, channels);
        Self {
            conv1: stem.then(|| conv3x3(channels, widths[0], 1, device)),
            bn1: stem.then(|| BatchNormConfig::new(widths[0]).init(device)),
            layer1: next(),
            layer2: next(),
            layer3: next(),
            layer4: next(),
            linear: head.then(|| LinearConfig::new(input, spec.classes).init(device)),
            plan,
            stages: 1 + blocks.len(),
        }
    }

    /// Every BatchNorm layer.
    pub(super) fn batch_norms(&self) -> impl Iterator<Item = &BatchNorm> {
        let blocks = self
            .layer1
            .iter()
            .chain(&self.layer2)
            .chain(&self.layer3)
            .chain(&self.layer4);
        self.bn1.iter().chain(blocks.flat_map(|b| {
            let shortcut = b.shortcut.iter().filter_map(|layer| match layer {
                ShortcutLayer::Norm(norm) => Some(norm),
                ShortcutLayer::Conv(_) => None,
            });
            [&b.bn1, &b.bn2].into_iter().chain(shortcut)
        }))
    }

    /// Stage `stage`: the stem (0) or `layer{stage}`.
    fn stage(&self, stage: usize, x: Tensor<4>) -> Tensor<4> {
        let built = "the plan runs built stages only";
        match stage {
            0 => {
                let conv = self.conv1.as_ref().expect(built);
                relu(self.bn1.as_ref().expect(built).forward(conv.forward(x)))
            }
            _ => [&self.layer1, &self.layer2, &self.layer3, &self.layer4][stage - 1]
                .iter()
                .fold(x, |x, block| block.forward(x)),
        }
    }

    fn classify(&self, x: Tensor<4>) -> Tensor<2> {
        let x: Tensor<2> = adaptive_avg_pool2d(x, [1, 1]).flatten(1, 3);
        self.linear
            .as_ref()
            .expect("the plan runs the classifier only where it is built")
            .forward(x)
    }

    pub(super) fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        self.plan.forward(
            images,
            self.stages,
            |s, x| self.stage(s, x),
            |x| self.classify(x),
        )
    }

    pub(super) fn features(&self, images: Tensor<4>) -> Tensor<4> {
        self.plan.features(images, |s, x| self.stage(s, x))
    }
}
