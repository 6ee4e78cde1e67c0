//! What the owner fixes before any training, shared by the augmenter and the plain baseline
//! so that the real branch and the baseline start from the same weights and see the same
//! batches.

use amalgam_core::model::{Architecture, ModelSpec, Weights, initial_weights};
use amalgam_core::rng::{Stream, stream};
use amalgam_core::training::{
    CropFlip, OptimizerKind, Schedule, TRAIN_FORMAT_VERSION, TrainConfig,
};
use amalgam_core::{Error, Result};
use rand::RngCore;

use crate::data::{Dataset, SampleSource};

/// Training hyper-parameters chosen by the owner.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainSettings {
    /// Passes over the training set.
    pub epochs: usize,
    /// Samples per batch.
    pub batch_size: usize,
    /// Learning rate.
    pub learning_rate: f64,
    /// Optimizer.
    pub optimizer: OptimizerKind,
    /// SGD momentum (0: none).
    pub momentum: f64,
    /// Weight decay.
    pub weight_decay: f64,
    /// Learning-rate schedule.
    pub schedule: Schedule,
    /// Random crop (zero padding by this many pixels) and flip each epoch, after the filter;
    /// 0 for none.
    pub crop_padding: usize,
    /// Normalise each channel by the training set's mean and standard deviation, as a layer
    /// after the filter.
    pub normalize: bool,
}

impl Default for TrainSettings {
    /// The command line's defaults: 2 epochs, batch 32, Adam at 0.002, constant rate.
    fn default() -> Self {
        Self {
            epochs: 2,
            batch_size: 32,
            learning_rate: 2e-3,
            optimizer: OptimizerKind::Adam,
            momentum: 0.0,
            weight_decay: 0.0,
            schedule: Schedule::Constant,
            crop_padding: 0,
            normalize: false,
        }
    }
}

/// The original model, its initial weights and the training config, from the training seed.
#[derive(Clone, Debug)]
pub struct OwnerSetup {
    /// The original model.
    pub spec: ModelSpec,
    /// Its initial weights, from stream [`Stream::ModelInit`] of the seed.
    pub init: Weights,
    /// The training config; its batch-order seed comes from stream [`Stream::BatchOrderSeed`].
    pub train: TrainConfig,
}

impl OwnerSetup {
    /// Fixes model, weights and config for `dataset`.
    ///
    /// # Errors
    /// [`amalgam_core::Error::Invalid`] if the model does not fit the data or a setting is
    /// out of range; the source's read errors.
    pub fn new<S: SampleSource>(
        dataset: &Dataset<S>,
        architecture: Architecture,
        settings: &TrainSettings,
        seed: u64,
    ) -> Result<Self> {
        let classes = [&dataset.train, &dataset.test]
            .iter()
            .flat_map(|s| s.all_labels().iter().max())
            .max()
            .map_or(0, |&m| m as usize + 1);
        let mut spec = ModelSpec::new(architecture, dataset.train.sample_shape(), classes)?;
        if settings.normalize {
            spec.normalization = Some(dataset.train.normalization()?.ok_or_else(|| {
                Error::invalid("normalisation applies to images only, not to text")
            })?);
            spec.validate()?;
        }
        Self::for_spec(spec, settings, seed)
    }

    /// Fixes weights and config for the model `spec` (normalisation, if any, already set).
    ///
    /// # Errors
    /// [`amalgam_core::Error::Invalid`] if a setting is out of range or does not apply.
    pub fn for_spec(spec: ModelSpec, settings: &TrainSettings, seed: u64) -> Result<Self> {
        if settings.crop_padding > 0 && spec.input.image().is_none() {
            return Err(Error::invalid(
                "random crops and flips apply to images only, not to text",
            ));
        }
        let init = initial_weights(&spec, &mut stream(seed, Stream::ModelInit));
        let train = TrainConfig {
            format_version: TRAIN_FORMAT_VERSION,
            epochs: settings.epochs,
            batch_size: settings.batch_size,
            learning_rate: settings.learning_rate,
            optimizer: settings.optimizer,
            momentum: settings.momentum,
            weight_decay: settings.weight_decay,
            schedule: settings.schedule,
            crop_flip: (settings.crop_padding > 0).then(|| CropFlip {
                padding: settings.crop_padding,
                seed: stream(seed, Stream::CropFlipSeed).next_u64(),
            }),
            batch_order_seed: stream(seed, Stream::BatchOrderSeed).next_u64(),
        };
        train.validate()?;
        Ok(Self { spec, init, train })
    }
}
