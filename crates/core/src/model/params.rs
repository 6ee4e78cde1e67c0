//! The weight tensors of every architecture, named and shaped as PyTorch names them.

use super::spec::{Architecture, LENET_KERNEL, ModelSpec, ParamInit, ParamSpec};

/// Collects the tensors of one spec.
struct Params(Vec<ParamSpec>);

impl Params {
    fn push(&mut self, name: String, shape: Vec<usize>, init: ParamInit) {
        self.0.push(ParamSpec { name, shape, init });
    }

    /// A linear or convolution layer: `weight` (PyTorch layout) and, optionally, `bias`.
    fn layer(&mut self, name: &str, weight: Vec<usize>, bias: bool) {
        let out = weight[0];
        let fan_in = weight[1..].iter().product();
        self.push(
            format!("{name}.weight"),
            weight,
            ParamInit::HeUniform { fan_in },
        );
        if bias {
            self.push(format!("{name}.bias"), vec![out], ParamInit::Zeros);
        }
    }

    /// A BatchNorm layer over `channels`: scale, shift and running statistics.
    fn batch_norm(&mut self, name: &str, channels: usize) {
        for (tensor, init) in [
            ("weight", ParamInit::Ones),
            ("bias", ParamInit::Zeros),
            ("running_mean", ParamInit::Zeros),
            ("running_var", ParamInit::Ones),
        ] {
            self.push(format!("{name}.{tensor}"), vec![channels], init);
        }
    }
}

/// See [`ModelSpec::parameters`].
pub(super) fn parameters(spec: &ModelSpec) -> Vec<ParamSpec> {
    let mut p = Params(Vec::new());
    let channels = spec.input.channels;
    match &spec.architecture {
        Architecture::Mlp { hidden } => {
            let mut width = spec.input.values();
            for (i, &h) in hidden.iter().chain([spec.classes].iter()).enumerate() {
                p.layer(&format!("layers.{i}"), vec![h, width], true);
                width = h;
            }
        }
        Architecture::Lenet {
            channels: [c1, c2],
            hidden: [f1, f2],
        } => {
            let (h, w) = spec.lenet_feature_side();
            let k = LENET_KERNEL;
            p.layer("conv1", vec![*c1, channels, k, k], true);
            p.layer("conv2", vec![*c2, *c1, k, k], true);
            p.layer("fc1", vec![*f1, c2 * h * w], true);
            p.layer("fc2", vec![*f2, *f1], true);
            p.layer("fc3", vec![spec.classes, *f2], true);
        }
        Architecture::Resnet { blocks, widths } => {
            p.layer("conv1", vec![widths[0], channels, 3, 3], false);
            p.batch_norm("bn1", widths[0]);
            let mut width_in = widths[0];
            for (stage, (&n, &width)) in blocks.iter().zip(widths).enumerate() {
                for block in 0..n {
                    let name = format!("layer{}.{block}", stage + 1);
                    let stride = if stage > 0 && block == 0 { 2 } else { 1 };
                    p.layer(&format!("{name}.conv1"), vec![width, width_in, 3, 3], false);
                    p.batch_norm(&format!("{name}.bn1"), width);
                    p.layer(&format!("{name}.conv2"), vec![width, width, 3, 3], false);
                    p.batch_norm(&format!("{name}.bn2"), width);
                    if stride != 1 || width_in != width {
                        p.layer(
                            &format!("{name}.shortcut.0"),
                            vec![width, width_in, 1, 1],
                            false,
                        );
                        p.batch_norm(&format!("{name}.shortcut.1"), width);
                    }
                    width_in = width;
                }
            }
            p.layer("linear", vec![spec.classes, width_in], true);
        }
        Architecture::Vgg { stages } => {
            // Indices of PyTorch's `features` Sequential: conv, bn, relu per conv, a pool per stage.
            let (mut index, mut width_in) = (0, channels);
            for stage in stages {
                for &width in stage {
                    p.layer(
                        &format!("features.{index}"),
                        vec![width, width_in, 3, 3],
                        true,
                    );
                    p.batch_norm(&format!("features.{}", index + 1), width);
                    index += 3;
                    width_in = width;
                }
                index += 1;
            }
            p.layer("classifier", vec![spec.classes, width_in], true);
        }
    }
    p.0
}
