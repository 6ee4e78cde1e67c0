//! LeNet-5.

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::relu;

use crate::model::ModelSpec;
use crate::model::split::StagePlan;

/// LeNet-5 without padding (see [`crate::model::Architecture::Lenet`]). Its stages are the two
/// conv → ReLU → pool blocks; a split network builds only its part's layers.
#[derive(Module, Debug)]
pub struct Lenet {
    conv1: Option<Conv2d>,
    conv2: Option<Conv2d>,
    pool: MaxPool2d,
    fc1: Option<Linear>,
    fc2: Option<Linear>,
    fc3: Option<Linear>,
    #[module(skip)]
    plan: StagePlan,
}

impl Lenet {
    pub(super) fn new(
        spec: &ModelSpec,
        [c1, c2]: [usize; 2],
        [f1, f2]: [usize; 2],
        device: &Device,
    ) -> Self {
        let plan = StagePlan::new(spec.split.as_ref());
        let channels = spec.input.channels();
        let (h, w) = spec.lenet_feature_side();
        let conv = |stage, [input, output]: [usize; 2]| {
            plan.builds(stage).then(|| {
                let input = plan.input_width(stage, input, channels);
                Conv2dConfig::new([input, output], [5, 5]).init(device)
            })
        };
        let fc = |[input, output]: [usize; 2]| {
            plan.builds(2)
                .then(|| LinearConfig::new(input, output).init(device))
        };
        Self {
            conv1: conv(0, [channels, c1]),
            conv2: conv(1, [c1, c2]),
            pool: MaxPool2dConfig::new([2, 2]).init(),
            fc1: fc([plan.input_width(2, c2, channels) * h * w, f1]),
            fc2: fc([f1, f2]),
            fc3: fc([f2, spec.classes]),
            plan,
        }
    }

    /// Stage `stage`: conv → ReLU → max-pool.
    fn stage(&self, stage: usize, x: Tensor<4>) -> Tensor<4> {
        let conv = [&self.conv1, &self.conv2][stage]
            .as_ref()
            .expect("the plan runs built stages only");
        self.pool.forward(relu(conv.forward(x)))
    }

    fn classify(&self, x: Tensor<4>) -> Tensor<2> {
        let built = "the plan runs the classifier only where it is built";
        let x: Tensor<2> = x.flatten(1, 3);
        let x = relu(self.fc1.as_ref().expect(built).forward(x));
        let x = relu(self.fc2.as_ref().expect(built).forward(x));
        self.fc3.as_ref().expect(built).forward(x)
    }

    pub(super) fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        self.plan
            .forward(images, 2, |s, x| self.stage(s, x), |x| self.classify(x))
    }

    pub(super) fn features(&self, images: Tensor<4>) -> Tensor<4> {
        self.plan.features(images, |s, x| self.stage(s, x))
    }
}
