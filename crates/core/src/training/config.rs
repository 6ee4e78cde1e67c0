//! The training configuration (`train.json` in the bundle).

use burn::optim::{AdamConfig, ModuleOptimizer, SgdConfig};
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Version of the `train.json` format.
pub const TRAIN_FORMAT_VERSION: u32 = 1;

/// The optimizer. Each updates every parameter from its own gradient and state only, so the
/// branches of an augmented network never influence each other.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OptimizerKind {
    /// Plain stochastic gradient descent.
    Sgd,
    /// Adam (Kingma & Ba 2015), betas (0.9, 0.999), epsilon 1e-8 as in PyTorch.
    Adam,
}

impl OptimizerKind {
    /// A fresh optimizer of this kind.
    pub fn build(self) -> ModuleOptimizer {
        match self {
            OptimizerKind::Sgd => SgdConfig::new().init(),
            OptimizerKind::Adam => AdamConfig::new().with_epsilon(1e-8).init(),
        }
    }
}

/// How to train: everything the cloud needs besides the model and the data.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// Format version ([`TRAIN_FORMAT_VERSION`]).
    pub format_version: u32,
    /// Passes over the training set.
    pub epochs: usize,
    /// Samples per batch (the last batch of an epoch may be smaller).
    pub batch_size: usize,
    /// Learning rate.
    pub learning_rate: f64,
    /// The optimizer.
    pub optimizer: OptimizerKind,
    /// Seed of the batch order ([`crate::data::batch_order`]). Derived from the owner's seed
    /// through its own stream, so it reveals nothing about the initial weights.
    pub batch_order_seed: u64,
}

impl TrainConfig {
    /// Checks the values.
    ///
    /// # Errors
    /// [`Error::Invalid`] for zero epochs or batch size, a learning rate that is not a
    /// positive finite number, or an unknown format version.
    pub fn validate(&self) -> Result<()> {
        if self.format_version != TRAIN_FORMAT_VERSION {
            return Err(Error::invalid(format!(
                "training config format_version {} is not supported (expected {TRAIN_FORMAT_VERSION})",
                self.format_version
            )));
        }
        if self.epochs == 0 || self.batch_size == 0 {
            return Err(Error::invalid("epochs and batch size must be at least 1"));
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return Err(Error::invalid(format!(
                "learning rate must be a positive number, got {}",
                self.learning_rate
            )));
        }
        Ok(())
    }
}
