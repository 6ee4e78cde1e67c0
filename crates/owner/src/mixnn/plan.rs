//! The model cut into one layer per host: each linear or convolution layer with its activation
//! and pooling, as the issue and the paper (one layer per host) ask.

use amalgam_core::mixnn::LayerSpec;
use amalgam_core::model::{Architecture, ModelSpec, Weights};
use amalgam_core::{Error, Result};

/// One host's layer and the names of its tensors in the whole model.
#[derive(Clone, Debug, PartialEq)]
pub struct HostPlan {
    /// The layer.
    pub layer: LayerSpec,
    /// Prefix of its tensors in the whole model (`conv1`, `layers.0`, ...).
    pub prefix: String,
}

/// The layers of `spec`, first to last.
///
/// # Errors
/// [`Error::Invalid`] for architectures other than the MLP and LeNet, a split spec, or text.
pub fn host_plans(spec: &ModelSpec) -> Result<Vec<HostPlan>> {
    let image = spec
        .input
        .image()
        .filter(|_| spec.split.is_none())
        .ok_or_else(|| Error::invalid("MixNN trains whole image models (MLP, LeNet)"))?;
    let dense = |i: usize, inputs, outputs, relu, prefix: String| HostPlan {
        layer: LayerSpec::Dense {
            inputs,
            outputs,
            relu,
        },
        prefix: if prefix.is_empty() {
            format!("layers.{i}")
        } else {
            prefix
        },
    };
    match &spec.architecture {
        Architecture::Mlp { hidden } => {
            let widths: Vec<usize> = [image.values()]
                .into_iter()
                .chain(hidden.iter().copied())
                .chain([spec.classes])
                .collect();
            let last = widths.len() - 2;
            Ok(widths
                .windows(2)
                .enumerate()
                .map(|(i, w)| dense(i, w[0], w[1], i < last, String::new()))
                .collect())
        }
        Architecture::Lenet { channels, hidden } => {
            let conv = |input, output, name: &str| HostPlan {
                layer: LayerSpec::Conv {
                    in_channels: input,
                    out_channels: output,
                    kernel: 5,
                    pool: 2,
                },
                prefix: name.into(),
            };
            let convs = [
                conv(image.channels, channels[0], "conv1"),
                conv(channels[0], channels[1], "conv2"),
            ];
            let mut shape = vec![1, image.channels, image.height, image.width];
            for c in &convs {
                shape = c.layer.output_shape(&shape)?;
            }
            let flat = shape[1..].iter().product();
            Ok(convs
                .into_iter()
                .chain([
                    dense(0, flat, hidden[0], true, "fc1".into()),
                    dense(0, hidden[0], hidden[1], true, "fc2".into()),
                    dense(0, hidden[1], spec.classes, false, "fc3".into()),
                ])
                .collect())
        }
        other => Err(Error::invalid(format!(
            "MixNN trains the MLP and LeNet, not the {}",
            other.name()
        ))),
    }
}

/// Each host's weights (`weight`, `bias`) from the whole model's.
///
/// # Errors
/// [`Error::Invalid`] if a tensor is missing.
pub fn split_weights(plans: &[HostPlan], whole: &Weights) -> Result<Vec<Weights>> {
    plans
        .iter()
        .map(|p| {
            ["weight", "bias"]
                .into_iter()
                .map(|n| {
                    let name = format!("{}.{n}", p.prefix);
                    whole
                        .get(&name)
                        .map(|t| (n.to_string(), t.clone()))
                        .ok_or_else(|| Error::invalid(format!("the model has no `{name}`")))
                })
                .collect()
        })
        .collect()
}

/// The whole model's weights from each host's.
pub fn join_weights(plans: &[HostPlan], parts: &[Weights]) -> Weights {
    plans
        .iter()
        .zip(parts)
        .flat_map(|(p, w)| {
            w.iter()
                .map(move |(n, t)| (format!("{}.{n}", p.prefix), t.clone()))
        })
        .collect()
}
