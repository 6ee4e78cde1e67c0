//! The augmented network the cloud trains: branches, each an input filter and a network.

use amalgam_core::bundle::AugmentedSpec;
use amalgam_core::model::{InputBatch, InputShape, InputStage, Network, Weights, set_weights};
use amalgam_core::training::{BatchTransform, BranchedClassifier};
use burn::prelude::*;

use crate::InputFilter;

/// The augmented network of a bundle: per branch, an input filter, the spec's input stage and
/// a network. Tensors are named `branches.{i}.{param}`; filters and stages hold none.
#[derive(Module, Debug)]
pub struct AugmentedNetwork {
    branches: Vec<Network>,
    #[module(skip)]
    filters: Vec<InputFilter>,
    #[module(skip)]
    stages: Vec<InputStage>,
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
            stages: spec
                .branches
                .iter()
                .map(|b| InputStage::new(&b.network, device))
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

    fn branch_input(&self) -> InputShape {
        self.stages[0].input()
    }

    fn flush_running_statistics(&self) {
        self.branches
            .iter()
            .for_each(Network::flush_running_statistics);
    }

    fn forward_branches(
        &self,
        input: InputBatch,
        transform: Option<&BatchTransform>,
    ) -> Vec<Tensor<2>> {
        (0..self.branches.len())
            .map(|i| {
                let x = self.filters[i].apply(input.clone());
                let x = BatchTransform::apply_if_any(transform, x);
                self.branches[i].forward(self.stages[i].apply(x))
            })
            .collect()
    }
}
