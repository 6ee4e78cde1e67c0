//! Seeded initial weights, independent of burn's global random state.

use rand::Rng;

use super::{ModelSpec, ParamInit, Weights};
use crate::tensors::HostTensor;

/// Initial weights for `spec`, drawn from `rng` in the order of [`ModelSpec::parameters`].
///
/// Weights are drawn from He (Kaiming) uniform initialisation for ReLU networks
/// (He et al. 2015): `U(-sqrt(6/fan_in), sqrt(6/fan_in))`; biases are zero; BatchNorm
/// starts as the identity (scale 1, shift 0, running mean 0, running variance 1); layers
/// not followed by a ReLU and embeddings draw from [`ParamInit::Uniform`]. (PyTorch's
/// default, `U(±1/sqrt(fan_in))`, trained LeNet on the embedded Fashion-MNIST subset about
/// 3 points worse after 2 epochs.) Names and layouts are PyTorch's; see
/// [`ModelSpec::parameters`].
pub fn initial_weights(spec: &ModelSpec, rng: &mut impl Rng) -> Weights {
    spec.parameters()
        .into_iter()
        .map(|p| {
            let count = p.shape.iter().product();
            let values = match p.init {
                ParamInit::HeUniform { fan_in } => {
                    let bound = (6.0 / fan_in as f32).sqrt();
                    (0..count)
                        .map(|_| rng.random_range(-bound..bound))
                        .collect()
                }
                ParamInit::Uniform { bound } => (0..count)
                    .map(|_| rng.random_range(-bound..bound))
                    .collect(),
                ParamInit::Zeros => vec![0.0; count],
                ParamInit::Ones => vec![1.0; count],
            };
            (p.name, HostTensor::f32(p.shape, values))
        })
        .collect()
}
