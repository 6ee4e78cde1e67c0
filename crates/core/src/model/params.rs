//! The weight tensors of every architecture, named and shaped as PyTorch names them.

use super::spec::{Architecture, LENET_KERNEL, ModelSpec, ParamInit, ParamSpec};
use super::split::StagePlan;

/// Collects the tensors of one spec, each tagged with the stage it belongs to (see
/// [`super::split`]; 0 for networks that cannot be split).
struct Params {
    tensors: Vec<(usize, ParamSpec)>,
    /// The stage of the tensors pushed next.
    stage: usize,
}

impl Params {
    fn push(&mut self, name: String, shape: Vec<usize>, init: ParamInit) {
        self.tensors
            .push((self.stage, ParamSpec { name, shape, init }));
    }

    /// A linear or convolution layer followed by a ReLU: `weight` (PyTorch layout, He
    /// uniform) and, optionally, `bias` (zeros).
    fn layer(&mut self, name: &str, weight: Vec<usize>, bias: bool) {
        let fan_in = weight[1..].iter().product();
        self.layer_with(name, weight, bias, ParamInit::HeUniform { fan_in });
    }

    /// A linear layer `[out, in]` not followed by a ReLU: Glorot uniform weight, zero bias.
    fn linear(&mut self, name: &str, out: usize, input: usize) {
        let bound = (6.0 / (out + input) as f32).sqrt();
        self.layer_with(name, vec![out, input], true, ParamInit::Uniform { bound });
    }

    fn layer_with(&mut self, name: &str, weight: Vec<usize>, bias: bool, init: ParamInit) {
        let out = weight[0];
        self.push(format!("{name}.weight"), weight, init);
        if bias {
            self.push(format!("{name}.bias"), vec![out], ParamInit::Zeros);
        }
    }

    /// An embedding table `[rows, width]`, `U(-0.25, 0.25)` as Kim (2014) initialises the
    /// vectors of unknown words.
    fn embedding(&mut self, name: &str, rows: usize, width: usize) {
        self.push(
            format!("{name}.weight"),
            vec![rows, width],
            ParamInit::Uniform { bound: 0.25 },
        );
    }

    /// A LayerNorm over `width`: scale ones, shift zeros.
    fn layer_norm(&mut self, name: &str, width: usize) {
        self.push(format!("{name}.weight"), vec![width], ParamInit::Ones);
        self.push(format!("{name}.bias"), vec![width], ParamInit::Zeros);
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
    let mut p = Params {
        tensors: Vec::new(),
        stage: 0,
    };
    let plan = StagePlan::new(spec.split.as_ref());
    let channels = spec.input.channels();
    let vocab = spec.input.tokens().map_or(0, |t| t.vocab_size);
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
            p.stage = 1;
            let c1 = plan.input_width(1, *c1, channels);
            p.layer("conv2", vec![*c2, c1, k, k], true);
            p.stage = 2;
            let c2 = plan.input_width(2, *c2, channels);
            p.layer("fc1", vec![*f1, c2 * h * w], true);
            p.layer("fc2", vec![*f2, *f1], true);
            p.layer("fc3", vec![spec.classes, *f2], true);
        }
        Architecture::Resnet { blocks, widths } => {
            p.layer("conv1", vec![widths[0], channels, 3, 3], false);
            p.batch_norm("bn1", widths[0]);
            let mut width_in = widths[0];
            for (stage, (&n, &width)) in blocks.iter().zip(widths).enumerate() {
                p.stage = stage + 1;
                width_in = plan.input_width(p.stage, width_in, channels);
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
            p.stage = 1 + blocks.len();
            let width_in = plan.input_width(p.stage, width_in, channels);
            p.layer("linear", vec![spec.classes, width_in], true);
        }
        Architecture::Vgg { stages } => {
            // Indices of PyTorch's `features` Sequential: conv, bn, relu per conv, a pool per stage.
            let (mut index, mut width_in) = (0, channels);
            for (number, stage) in stages.iter().enumerate() {
                p.stage = number;
                width_in = plan.input_width(number, width_in, channels);
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
            p.stage = stages.len();
            let width_in = plan.input_width(p.stage, width_in, channels);
            p.layer("classifier", vec![spec.classes, width_in], true);
        }
        Architecture::Bag { embedding } => {
            p.embedding("embedding", vocab, *embedding);
            p.linear("classifier", spec.classes, *embedding);
        }
        Architecture::TextCnn {
            embedding,
            widths,
            filters,
        } => {
            p.embedding("embedding", vocab, *embedding);
            for (i, &w) in widths.iter().enumerate() {
                p.layer(&format!("convs.{i}"), vec![*filters, *embedding, w], true);
            }
            p.linear("classifier", spec.classes, filters * widths.len());
        }
        Architecture::Gru { embedding, hidden } => {
            // PyTorch's GRU default, U(±1/sqrt(hidden)), for the gate weights.
            let init = ParamInit::Uniform {
                bound: 1.0 / (*hidden as f32).sqrt(),
            };
            p.embedding("embedding", vocab, *embedding);
            for gate in ["update_gate", "reset_gate", "new_gate"] {
                for (transform, width) in [
                    ("input_transform", *embedding),
                    ("hidden_transform", *hidden),
                ] {
                    p.layer_with(
                        &format!("gru.{gate}.{transform}"),
                        vec![*hidden, width],
                        true,
                        init,
                    );
                }
            }
            p.linear("classifier", spec.classes, *hidden);
        }
        Architecture::Transformer {
            embedding: width,
            layers,
            feed_forward,
            ..
        } => {
            p.embedding("embedding", vocab, *width);
            p.embedding("positions", spec.token_input().length, *width);
            for layer in 0..*layers {
                let name = format!("encoder.layers.{layer}");
                for projection in ["query", "key", "value", "output"] {
                    p.linear(&format!("{name}.mha.{projection}"), *width, *width);
                }
                p.layer(
                    &format!("{name}.pwff.linear_inner"),
                    vec![*feed_forward, *width],
                    true,
                );
                p.linear(&format!("{name}.pwff.linear_outer"), *width, *feed_forward);
                p.layer_norm(&format!("{name}.norm_1"), *width);
                p.layer_norm(&format!("{name}.norm_2"), *width);
            }
            p.linear("classifier", spec.classes, *width);
        }
    }
    p.tensors
        .into_iter()
        .filter(|(stage, _)| plan.builds(*stage))
        .map(|(_, tensor)| tensor)
        .collect()
}
