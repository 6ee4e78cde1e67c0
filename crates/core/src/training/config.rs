//! The training configuration (`train.json` in the bundle).

use burn::lr_scheduler::cosine::CosineAnnealingLrSchedulerConfig;
use burn::lr_scheduler::step::StepLrSchedulerConfig;
use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdamConfig, AdamWConfig, ModuleOptimizer, SgdConfig};
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Version of the `train.json` format.
pub const TRAIN_FORMAT_VERSION: u32 = 1;
/// Most epochs a training config may ask for.
pub const MAX_EPOCHS: usize = 1_000_000;
/// Largest batch size.
pub const MAX_BATCH_SIZE: usize = 1 << 20;
/// Largest crop padding, in pixels.
pub const MAX_CROP_PADDING: usize = 1024;

/// The optimizer. Each updates every parameter from its own gradient and state only, so the
/// branches of an augmented network never influence each other.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OptimizerKind {
    /// Stochastic gradient descent, with optional momentum (PyTorch's: no dampening) and
    /// L2 weight decay.
    Sgd,
    /// Adam (Kingma & Ba 2015), betas (0.9, 0.999), epsilon 1e-8 as in PyTorch; weight decay
    /// as an L2 penalty.
    Adam,
    /// AdamW (Loshchilov & Hutter 2019): Adam with decoupled weight decay.
    Adamw,
}

/// How the learning rate changes: from epoch to epoch (one step per epoch, as the authors'
/// prototype steps PyTorch's schedulers), or from batch to batch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Schedule {
    /// The same rate every epoch.
    #[default]
    Constant,
    /// Cosine annealing from the rate to 0 over the epochs (Loshchilov & Hutter 2017).
    Cosine,
    /// Multiply the rate by `gamma` every `every` epochs.
    Step {
        /// Epochs between decays.
        every: usize,
        /// Decay factor in (0, 1].
        gamma: f64,
    },
    /// Cosine annealing from the rate to 0 over every batch of every epoch (one step per
    /// batch): also anneals within a single epoch.
    #[serde(rename = "cosine-batches")]
    CosineBatches,
}

/// What an optimizer needs to be rebuilt elsewhere (Tempo's worker gets this, not the whole
/// [`TrainConfig`]).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct OptimizerSettings {
    /// The optimizer.
    pub optimizer: OptimizerKind,
    /// SGD momentum in [0, 1).
    pub momentum: f64,
    /// Weight decay, >= 0.
    pub weight_decay: f64,
}

impl OptimizerSettings {
    /// Checks the ranges [`TrainConfig::validate`] checks.
    ///
    /// # Errors
    /// [`Error::Invalid`] for a momentum outside [0, 1) or a negative or non-finite decay.
    pub fn validate(&self) -> Result<()> {
        if !(0.0..1.0).contains(&self.momentum)
            || !(self.weight_decay >= 0.0 && self.weight_decay.is_finite())
        {
            return Err(Error::invalid(format!(
                "momentum must be in [0, 1) and weight decay >= 0, got {} and {}",
                self.momentum, self.weight_decay
            )));
        }
        Ok(())
    }

    /// A fresh optimizer (burn's, with PyTorch's conventions: no dampening, epsilon 1e-8).
    pub fn build(&self) -> ModuleOptimizer {
        let decay =
            (self.weight_decay > 0.0).then(|| WeightDecayConfig::new(self.weight_decay as f32));
        match self.optimizer {
            OptimizerKind::Sgd => SgdConfig::new()
                .with_momentum((self.momentum > 0.0).then(|| {
                    MomentumConfig::new()
                        .with_momentum(self.momentum)
                        .with_dampening(0.0)
                }))
                .with_weight_decay(decay)
                .init(),
            OptimizerKind::Adam => AdamConfig::new()
                .with_epsilon(1e-8)
                .with_weight_decay(decay)
                .init(),
            OptimizerKind::Adamw => AdamWConfig::new()
                .with_epsilon(1e-8)
                .with_weight_decay(self.weight_decay as f32)
                .init(),
        }
    }
}

/// Highest tensor rank burn's optimizers keep a state for.
const MAX_STATE_RANK: usize = 8;

/// `optimizer` with the state in `bytes` (burnpack, as `ModuleOptimizer::into_bytes` writes
/// it). The record is checked first: burn panics on a state tensor without a parameter id, and
/// the bytes may come from a damaged checkpoint or from across the trust boundary.
///
/// # Errors
/// A description if the bytes are not a burnpack optimizer record.
pub fn restore_optimizer(
    optimizer: ModuleOptimizer,
    bytes: Vec<u8>,
) -> std::result::Result<ModuleOptimizer, String> {
    use burn::store::burn_pack::Reader;
    use burn::tensor::Bytes;
    let bad = |e: burn::store::burn_pack::Error| format!("not an optimizer state: {e}");
    let reader = Reader::from_bytes(Bytes::from_bytes_vec(bytes.clone())).map_err(bad)?;
    // burn panics on a state rank it has no type for, and on a tensor without a parameter id.
    let mut ranks = std::collections::BTreeMap::new();
    for (name, value) in reader.scalars() {
        if let Some(id) = name.strip_suffix(".__rank") {
            let rank = usize::try_from(*value)
                .ok()
                .filter(|r| *r <= MAX_STATE_RANK)
                .ok_or_else(|| {
                    format!("optimizer state `{name}` is not a rank up to {MAX_STATE_RANK}")
                })?;
            ranks.insert(id.to_string(), rank);
        }
    }
    for t in reader.into_tensors().map_err(bad)? {
        let rank = t.shape.num_dims();
        let id = t.name.split('.').next().unwrap_or_default();
        if t.param_id.is_none() {
            return Err(format!(
                "optimizer state tensor `{}` has no parameter id",
                t.name
            ));
        }
        if rank > MAX_STATE_RANK || ranks.get(id).is_some_and(|&r| r != rank) {
            return Err(format!(
                "optimizer state tensor `{}` has rank {rank}, not its parameter's",
                t.name
            ));
        }
    }
    optimizer
        .from_bytes(Bytes::from_bytes_vec(bytes))
        .map_err(|e| format!("not an optimizer state: {e}"))
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
    /// SGD momentum in [0, 1) (0: none).
    #[serde(default)]
    pub momentum: f64,
    /// Weight decay (L2 penalty for SGD and Adam, decoupled for AdamW), >= 0.
    #[serde(default)]
    pub weight_decay: f64,
    /// Learning-rate schedule over epochs.
    #[serde(default)]
    pub schedule: Schedule,
    /// Per-epoch random crop and flip after the input filter, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crop_flip: Option<super::CropFlip>,
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
        if !(1..=MAX_EPOCHS).contains(&self.epochs)
            || !(1..=MAX_BATCH_SIZE).contains(&self.batch_size)
        {
            return Err(Error::invalid(format!(
                "epochs must be in [1, {MAX_EPOCHS}] and the batch size in [1, {MAX_BATCH_SIZE}], got {} and {}",
                self.epochs, self.batch_size
            )));
        }
        if let Some(crop) = self.crop_flip
            && crop.padding > MAX_CROP_PADDING
        {
            return Err(Error::invalid(format!(
                "crop padding must be at most {MAX_CROP_PADDING} pixels, got {}",
                crop.padding
            )));
        }
        if !(self.learning_rate.is_finite()
            && self.learning_rate > 0.0
            && self.learning_rate <= 1.0)
        {
            return Err(Error::invalid(format!(
                "learning rate must be in (0, 1], got {}",
                self.learning_rate
            )));
        }
        self.optimizer_settings().validate()?;
        if let Schedule::Step { every, gamma } = self.schedule
            && (every == 0 || !(gamma > 0.0 && gamma <= 1.0))
        {
            return Err(Error::invalid(
                "a step schedule needs at least 1 epoch between decays and a factor in (0, 1]",
            ));
        }
        Ok(())
    }

    /// The optimizer's settings alone, without the data's batch order.
    pub fn optimizer_settings(&self) -> OptimizerSettings {
        OptimizerSettings {
            optimizer: self.optimizer,
            momentum: self.momentum,
            weight_decay: self.weight_decay,
        }
    }

    /// A fresh optimizer as configured.
    pub fn build_optimizer(&self) -> ModuleOptimizer {
        self.optimizer_settings().build()
    }

    /// The learning rate of every batch of every epoch (`epochs * batches` of them, epoch
    /// after epoch), from burn's schedulers, computed as the iterator advances (nothing is
    /// allocated per epoch or batch).
    pub fn learning_rates(&self, batches: usize) -> impl Iterator<Item = f64> + use<> {
        let lr = self.learning_rate;
        let (scheduler, per_epoch) = match self.schedule {
            Schedule::Constant => (None, true),
            Schedule::Cosine => (
                Some(CosineAnnealingLrSchedulerConfig::new(lr, self.epochs).init()),
                true,
            ),
            Schedule::Step { every, gamma } => (
                Some(
                    StepLrSchedulerConfig::new(lr, every)
                        .with_gamma(gamma)
                        .init(),
                ),
                true,
            ),
            Schedule::CosineBatches => (
                Some(
                    CosineAnnealingLrSchedulerConfig::new(
                        lr,
                        self.epochs.saturating_mul(batches).max(1),
                    )
                    .init(),
                ),
                false,
            ),
        };
        let mut scheduler = scheduler.map(|s| s.expect("the config was validated"));
        let total = self.epochs.saturating_mul(batches);
        let (mut index, mut current) = (0usize, lr);
        std::iter::from_fn(move || {
            if index >= total {
                return None;
            }
            if let Some(s) = scheduler.as_mut()
                && (!per_epoch || index % batches == 0)
            {
                current = s.step().base();
            }
            index += 1;
            Some(current)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(schedule: Schedule, epochs: usize) -> TrainConfig {
        TrainConfig {
            format_version: TRAIN_FORMAT_VERSION,
            epochs,
            batch_size: 8,
            learning_rate: 0.1,
            optimizer: OptimizerKind::Sgd,
            momentum: 0.9,
            weight_decay: 5e-4,
            schedule,
            crop_flip: None,
            batch_order_seed: 0,
        }
    }

    #[test]
    fn optimizer_states_burn_would_panic_on_are_refused() {
        use burn::store::burn_pack::{Bytes, DType, Scalar, Tensor, Writer};
        let settings = OptimizerSettings {
            optimizer: OptimizerKind::Adam,
            momentum: 0.0,
            weight_decay: 0.0,
        };
        // What the fuzzer found: a record tensor whose parameter id is gone.
        let values = Bytes::from_bytes_vec(vec![0u8; 16]);
        let record = Writer::new(vec![Tensor::new(
            "0.moment_1".into(),
            DType::F32,
            [4],
            None,
            values,
        )])
        .into_bytes()
        .unwrap();
        let e = restore_optimizer(settings.build(), record.to_vec())
            .err()
            .unwrap();
        assert!(e.contains("no parameter id"), "{e}");
        // And a rank burn keeps no state type for.
        let rank_9 = Writer::new(Vec::new())
            .with_scalar("7.__rank", Scalar::UInt(9))
            .into_bytes()
            .unwrap();
        let e = restore_optimizer(settings.build(), rank_9.to_vec())
            .err()
            .unwrap();
        assert!(e.contains("rank"), "{e}");
        assert!(restore_optimizer(settings.build(), b"junk".to_vec()).is_err());
        let empty = settings.build().into_bytes().unwrap().to_vec();
        assert!(restore_optimizer(settings.build(), empty).is_ok());
    }

    #[test]
    fn cosine_batches_anneals_within_an_epoch() {
        let rates: Vec<f64> = config(Schedule::CosineBatches, 1)
            .learning_rates(5)
            .collect();
        assert_eq!(rates.len(), 5);
        assert_eq!(rates[0], 0.1);
        assert!(rates.windows(2).all(|w| w[1] < w[0]), "{rates:?}");
        let three: Vec<f64> = config(Schedule::CosineBatches, 3)
            .learning_rates(5)
            .collect();
        assert!(three.windows(2).all(|w| w[1] < w[0]), "{three:?}");
    }

    #[test]
    fn schedules_give_one_rate_per_epoch() {
        assert_eq!(
            config(Schedule::Constant, 3)
                .learning_rates(1)
                .collect::<Vec<_>>(),
            vec![0.1; 3]
        );
        let two_batches: Vec<f64> = config(Schedule::Cosine, 3).learning_rates(2).collect();
        assert_eq!(two_batches.len(), 6);
        assert!(
            two_batches.chunks(2).all(|e| e[0] == e[1]),
            "{two_batches:?}"
        );
        let cosine: Vec<f64> = config(Schedule::Cosine, 4).learning_rates(1).collect();
        assert_eq!(cosine[0], 0.1);
        assert!(cosine.windows(2).all(|w| w[1] < w[0]), "{cosine:?}");
        let step = config(
            Schedule::Step {
                every: 2,
                gamma: 0.5,
            },
            5,
        )
        .learning_rates(1)
        .collect::<Vec<_>>();
        let expected = [0.1, 0.1, 0.05, 0.05, 0.025];
        assert!(
            step.iter()
                .zip(expected)
                .all(|(a, b)| (a - b).abs() < 1e-12),
            "{step:?}"
        );
    }

    #[test]
    fn out_of_range_settings_are_rejected() {
        assert!(config(Schedule::Cosine, 3).validate().is_ok());
        assert!(
            config(
                Schedule::Step {
                    every: 0,
                    gamma: 0.5
                },
                3
            )
            .validate()
            .is_err()
        );
        let mut c = config(Schedule::Constant, 3);
        c.momentum = 1.0;
        assert!(c.validate().is_err());
        let old = r#"{"format_version":1,"epochs":2,"batch_size":32,"learning_rate":0.002,"optimizer":"adam","batch_order_seed":7}"#;
        let parsed: TrainConfig = serde_json::from_str(old).unwrap();
        assert_eq!(
            (parsed.momentum, parsed.schedule),
            (0.0, Schedule::Constant)
        );
    }
}
