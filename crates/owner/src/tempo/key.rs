//! Tempo's secrets: the permutations that blind every offloaded product.
//!
//! Reconstructed (the paper's details were not available; see `docs/TEMPO.md`): an offloaded
//! product `Y = X W + b` travels as `X' = P X Q` while the worker holds `W' = Qᵀ W R` and
//! `b' = b R`, so `X' W' + b' = P Y R`.
//! - `Q` (over the `k` summed inputs) and `R` (over the `m` outputs) belong to the layer and
//!   stay fixed for the whole run: the worker updates `W'` in place, and element-wise
//!   optimizers commute with permutations, so `W'` stays `Qᵀ W R` at every step.
//! - `P` (over the `n` rows: samples, or samples × positions for a convolution) is fresh for
//!   every product (every layer of every step); it cancels in `dW' = X'ᵀ dY'`, so freshness
//!   costs nothing.
//! - The backward pass reuses the forward's keys with their roles shifted ("key shift" in
//!   this reconstruction): `dY' = P dY R`, then `dW' = X'ᵀ dY' = Qᵀ dW R` and
//!   `dX' = dY' W'ᵀ = P dX Q`; the cached `X'` and the held `W'` need no re-encryption.

use amalgam_core::rng::{Stream, substream};
use burn::prelude::*;
use rand::seq::SliceRandom;

/// A permutation of `0..n`: position `i` of the permuted axis holds original index `self[i]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Permutation(Vec<u32>);

impl Permutation {
    /// A uniformly random permutation of `0..n` from `rng`.
    pub fn random(n: usize, rng: &mut impl rand::Rng) -> Self {
        let mut order: Vec<u32> = (0..n as u32).collect();
        order.shuffle(rng);
        Self(order)
    }

    /// The identity of `0..n` (exactness tests: Tempo's arithmetic without the hiding).
    pub fn identity(n: usize) -> Self {
        Self((0..n as u32).collect())
    }

    /// The inverse permutation.
    pub fn inverse(&self) -> Self {
        let mut inverse = vec![0u32; self.0.len()];
        for (position, &index) in self.0.iter().enumerate() {
            inverse[index as usize] = position as u32;
        }
        Self(inverse)
    }

    /// Length.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether it permutes nothing (length 0).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The original indices, position by position.
    pub fn indices(&self) -> &[u32] {
        &self.0
    }

    /// `tensor` with axis `dim` permuted: entry `i` along `dim` is the old entry `self[i]`.
    pub fn apply<const D: usize>(&self, tensor: Tensor<D>, dim: usize) -> Tensor<D> {
        let device = tensor.device();
        let index = Tensor::<1, Int>::from_data(
            TensorData::new(
                self.0.iter().map(|&i| i64::from(i)).collect(),
                [self.0.len()],
            ),
            &device,
        );
        tensor.select(dim, index)
    }
}

/// One offloaded layer's fixed permutations.
#[derive(Clone, Debug)]
pub struct LayerKey {
    /// `Q`, over the `k` inputs.
    pub input: Permutation,
    /// `R`, over the `m` outputs.
    pub output: Permutation,
}

/// The key of a Tempo run: fixed permutations per layer, and the seed of the fresh row
/// permutations.
#[derive(Clone, Debug)]
pub struct TempoKey {
    /// Per layer, in offload order.
    pub layers: Vec<LayerKey>,
    seed: Option<u64>,
}

impl TempoKey {
    /// A key from `seed` for layers of `[k, m]` shapes.
    pub fn new(seed: u64, shapes: &[[usize; 2]]) -> Self {
        let layers = shapes
            .iter()
            .enumerate()
            .map(|(i, &[k, m])| {
                let mut rng = substream(seed, Stream::TempoLayerPermutations, i as u64);
                LayerKey {
                    input: Permutation::random(k, &mut rng),
                    output: Permutation::random(m, &mut rng),
                }
            })
            .collect();
        Self {
            layers,
            seed: Some(seed),
        }
    }

    /// The identity key: nothing is permuted. Only to measure what the permutations cost in
    /// exactness (see `docs/TEMPO.md`); it hides nothing.
    pub fn identity(shapes: &[[usize; 2]]) -> Self {
        Self {
            layers: shapes
                .iter()
                .map(|&[k, m]| LayerKey {
                    input: Permutation::identity(k),
                    output: Permutation::identity(m),
                })
                .collect(),
            seed: None,
        }
    }

    /// The row permutation `P` of the product of `layer` at global step `step`, over `n` rows.
    pub fn rows(&self, step: u64, layer: usize, n: usize) -> Permutation {
        match self.seed {
            None => Permutation::identity(n),
            Some(seed) => {
                let index = step
                    .wrapping_mul(self.layers.len() as u64)
                    .wrapping_add(layer as u64)
                    % (1 << 40);
                let mut rng = substream(seed, Stream::TempoRowPermutations, index);
                Permutation::random(n, &mut rng)
            }
        }
    }

    /// The random stream of Freivalds' vectors for `layer` at `step`.
    pub fn freivalds_rng(&self, step: u64, layer: usize) -> rand_chacha::ChaCha20Rng {
        let seed = self.seed.unwrap_or(0);
        let index = step
            .wrapping_mul(self.layers.len() as u64)
            .wrapping_add(layer as u64)
            % (1 << 40);
        substream(seed, Stream::FreivaldsVectors, index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use amalgam_core::backend::inference_device;
    use amalgam_core::rng::stream;

    #[test]
    fn a_permutation_and_its_inverse_cancel() {
        let mut rng = stream(3, Stream::TempoLayerPermutations);
        let p = Permutation::random(7, &mut rng);
        let x = Tensor::<2>::from_data(
            TensorData::new((0..21).map(|v| v as f32).collect::<Vec<_>>(), [7, 3]),
            &inference_device(),
        );
        let back = p.inverse().apply(p.apply(x.clone(), 0), 0);
        assert_eq!(back.into_data(), x.into_data());
        assert_ne!(p, Permutation::identity(7));
    }
}
