//! The augmented network the cloud trains: branches, each an input filter and a network.

use amalgam_core::bundle::AugmentedSpec;
use amalgam_core::model::{Network, Weights, set_weights};
use amalgam_core::training::BranchedClassifier;
use burn::prelude::*;

use crate::InputFilter;

/// The augmented network of a bundle. Parameters are named `branches.{i}.{param}`; the
/// filters hold no parameters and are not saved.
#[derive(Module, Debug)]
pub struct AugmentedNetwork {
    branches: Vec<Network>,
    #[module(skip)]
    filters: Vec<InputFilter>,
}

impl AugmentedNetwork {
    /// Builds the network of `spec` on `device` with the weights `weights`
    /// (`branches.{i}.{param}`, PyTorch layout).
    ///
    /// # Errors
    /// A description of missing or mis-shaped tensors.
    pub fn new(spec: &AugmentedSpec, weights: &Weights, device: &Device) -> Result<Self, String> {
        let mut network = Self {
            branches: spec
                .branches
                .iter()
                .map(|b| Network::new(&b.network, device))
                .collect(),
            filters: spec
                .branches
                .iter()
                .map(|b| InputFilter::new(&b.keep_indices, spec.input, b.network.input, device))
                .collect(),
        };
        set_weights(&mut network, weights)?;
        Ok(network)
    }
}

impl BranchedClassifier for AugmentedNetwork {
    fn branch_count(&self) -> usize {
        self.branches.len()
    }

    fn forward_branches(&self, images: Tensor<4>) -> Vec<Tensor<2>> {
        self.filters
            .iter()
            .zip(&self.branches)
            .map(|(filter, network)| network.forward(filter.apply(images.clone())))
            .collect()
    }
}
