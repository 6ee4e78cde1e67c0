//! Tempo's training loop on the trusted side: the batch order, learning rates, crops and
//! loss of `amalgam_core::training::train`, with the products offloaded.

use std::time::Instant;

use amalgam_core::backend::training_device;
use amalgam_core::data::{LabelledSet, batch_order};
use amalgam_core::model::Weights;
use amalgam_core::tempo::LayerState;
use amalgam_core::training::{EpochLog, TrainConfig, image_batch};
use amalgam_core::{Error, Result};
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::ModuleOptimizer;
use indicatif::ProgressBar;

use super::network::TrustedNetwork;
use super::products::Products;
use crate::setup::OwnerSetup;

/// The trusted process's state between epochs.
pub struct TempoState {
    /// The network (graph and BatchNorm layers).
    pub network: TrustedNetwork,
    /// The BatchNorm layers' optimizer.
    pub optimizer: ModuleOptimizer,
    /// One entry per finished epoch.
    pub log: Vec<EpochLog>,
}

impl TempoState {
    /// A run that has not started, for `setup`'s model and initial weights; also returns the
    /// plain offloaded layers to hand to [`Products`].
    ///
    /// # Errors
    /// [`Error::Invalid`] for an architecture Tempo does not offload.
    pub fn new(setup: &OwnerSetup) -> Result<(Self, Vec<LayerState>)> {
        let (network, layers) = TrustedNetwork::new(&setup.spec, &setup.init, &training_device())?;
        Ok((
            Self {
                network,
                optimizer: setup.train.build_optimizer(),
                log: Vec::new(),
            },
            layers,
        ))
    }

    /// The trained model's weights (PyTorch names), with the layers from `products`.
    ///
    /// # Errors
    /// The failure of `products`.
    pub fn weights(&self, products: &mut dyn Products) -> Result<Weights> {
        let layers = products.layers()?;
        Ok(self.network.weights(&layers, &training_device()))
    }
}

/// Trains on `data` as `config` says, from the epoch after the last one in `state.log` up to
/// `stop_after` (at most `config.epochs`), offloading products to `products`; `progress`
/// advances by one per batch.
///
/// # Errors
/// The first failure of `products`; a batch whose loss is not finite.
pub fn train(
    mut state: TempoState,
    products: &mut dyn Products,
    data: &dyn LabelledSet,
    config: &TrainConfig,
    progress: &ProgressBar,
    stop_after: usize,
) -> Result<TempoState> {
    let device = training_device();
    let loss = CrossEntropyLossConfig::new().init(&device);
    let batches = data.len().div_ceil(config.batch_size);
    let (first, last) = (state.log.len(), stop_after.min(config.epochs));
    let mut rates = config.learning_rates(batches).skip(first * batches);
    let image = state.network.image_shape();
    for epoch in first..last {
        let start = Instant::now();
        let mut loss_sum = 0.0f64;
        for batch in
            batch_order(data.len(), config.batch_order_seed, epoch).chunks(config.batch_size)
        {
            let Some((images, labels)) = image_batch(data, config, epoch, batch, image, &device)
            else {
                return Err(Error::invalid("Tempo trains image models only"));
            };
            let (value, norm_grads) = state.network.train_step(products, images, labels, &loss)?;
            if !value.is_finite() {
                return Err(Error::invalid(format!(
                    "the loss of epoch {} is {value}: lower the learning rate",
                    epoch + 1
                )));
            }
            loss_sum += f64::from(value) * batch.len() as f64;
            let rate = rates
                .next()
                .expect("one learning rate per batch of every epoch");
            products.step(rate)?;
            if !norm_grads.is_empty() {
                state
                    .network
                    .step_norms(&mut state.optimizer, rate, norm_grads);
            }
            progress.inc(1);
        }
        state.network.flush_running_statistics();
        let log = EpochLog {
            epoch: epoch + 1,
            branch_loss: vec![loss_sum / data.len() as f64],
            seconds: start.elapsed().as_secs_f64(),
        };
        progress.set_message(format!(
            "epoch {}/{} loss {:.4}",
            log.epoch, config.epochs, log.branch_loss[0]
        ));
        state.log.push(log);
    }
    Ok(state)
}
