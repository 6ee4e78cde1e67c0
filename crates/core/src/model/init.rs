//! Seeded initial weights, independent of burn's global random state.

use rand::Rng;

use super::{ModelSpec, Weights};
use crate::tensors::HostTensor;

/// Initial weights for `spec`, drawn from `rng` in the order of [`ModelSpec::parameters`].
///
/// Every weight and bias is drawn from `U(-1/sqrt(fan_in), 1/sqrt(fan_in))`, the
/// distribution of PyTorch's default `Linear`/`Conv2d` initialisation (Kaiming uniform with
/// `a = sqrt(5)`). Names and layouts are PyTorch's; see [`ModelSpec::parameters`].
pub fn initial_weights(spec: &ModelSpec, rng: &mut impl Rng) -> Weights {
    spec.parameters()
        .into_iter()
        .map(|p| {
            let bound = 1.0 / (p.fan_in as f32).sqrt();
            let count = p.shape.iter().product();
            let values = (0..count)
                .map(|_| rng.random_range(-bound..bound))
                .collect();
            (p.name, HostTensor::f32(p.shape, values))
        })
        .collect()
}
