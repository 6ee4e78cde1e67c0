//! The training loop.

use std::time::Instant;

use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use indicatif::ProgressBar;

use super::BatchTransform;
use super::TrainConfig;
use crate::data::{LabelledSet, batch_order};
use crate::model::{Classifier, InputBatch, InputShape};

/// A classifier with one or more branches, each producing its own logits from the same batch.
/// The loss is the sum of the branches' cross-entropies; with disjoint parameters, each
/// branch's gradients are exactly those it would get trained alone.
pub trait BranchedClassifier: Module {
    /// Number of branches (length of [`forward_branches`](Self::forward_branches)' output).
    fn branch_count(&self) -> usize;
    /// What each branch's classifier takes (after its input filter).
    fn branch_input(&self) -> InputShape;
    /// Folds pending BatchNorm running-statistics updates into the weights (see
    /// [`crate::model::Network::flush_running_statistics`]).
    fn flush_running_statistics(&self);
    /// One logits tensor `[B, classes]` per branch for the batch (images `[B, C, H, W]` or
    /// tokens `[B, L]`); each branch applies `transform` (if any, images only) to its input
    /// right before its classifier.
    fn forward_branches(
        &self,
        input: InputBatch,
        transform: Option<&BatchTransform>,
    ) -> Vec<Tensor<2>>;
}

impl BranchedClassifier for Classifier {
    fn branch_count(&self) -> usize {
        1
    }
    fn forward_branches(
        &self,
        input: InputBatch,
        transform: Option<&BatchTransform>,
    ) -> Vec<Tensor<2>> {
        vec![self.forward(BatchTransform::apply_if_any(transform, input))]
    }
    fn branch_input(&self) -> InputShape {
        self.input()
    }
    fn flush_running_statistics(&self) {
        self.network.flush_running_statistics();
    }
}

/// What one epoch did.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EpochLog {
    /// Epoch number, from 1.
    pub epoch: usize,
    /// Mean cross-entropy (nats per sample) of each branch over the epoch.
    pub branch_loss: Vec<f64>,
    /// Wall time of the epoch in seconds.
    pub seconds: f64,
}

/// A training run in progress: the model, its optimizer and the epochs done so far.
pub struct TrainState<M> {
    /// The model.
    pub model: M,
    /// The optimizer and its per-parameter state.
    pub optimizer: ModuleOptimizer,
    /// One entry per finished epoch.
    pub log: Vec<EpochLog>,
}

impl<M> TrainState<M> {
    /// A run that has not started: `model` and a fresh optimizer from `config`.
    pub fn new(model: M, config: &TrainConfig) -> Self {
        Self {
            model,
            optimizer: config.build_optimizer(),
            log: Vec::new(),
        }
    }
}

/// Trains on `data` as `config` says, on the autodiff `device`, from the epoch after the
/// last one in `state.log` up to epoch `stop_after` (at most `config.epochs`).
///
/// Each epoch visits the samples in [`batch_order`] and takes one optimizer step per batch
/// on the sum of the branches' mean cross-entropies. Crops and flips apply to image inputs
/// only. The batch order, the crops and flips and
/// the learning rate depend on the epoch number only, so a run resumed from a saved state
/// continues exactly as if it had not stopped. `progress` advances by one per batch;
/// `on_epoch` sees the state after each epoch (to checkpoint it) and can stop the run with
/// an error.
///
/// # Errors
/// The first error of `on_epoch`.
pub fn train<M: BranchedClassifier, E>(
    state: TrainState<M>,
    data: &dyn LabelledSet,
    config: &TrainConfig,
    device: &Device,
    progress: &ProgressBar,
    stop_after: usize,
    mut on_epoch: impl FnMut(&TrainState<M>) -> Result<(), E>,
) -> Result<TrainState<M>, E> {
    let TrainState {
        mut model,
        mut optimizer,
        log: mut logs,
    } = state;
    let (first, last) = (logs.len(), stop_after.min(config.epochs));
    let loss_fn = CrossEntropyLossConfig::new().init(device);
    let branches = model.branch_count();
    let batches = data.len().div_ceil(config.batch_size);
    let mut learning_rates = config.learning_rates(batches).skip(first * batches);
    progress.set_length((last.saturating_sub(first) * batches) as u64);
    for epoch in first..last {
        let start = Instant::now();
        let mut loss_sums = vec![0.0f64; branches];
        let order = batch_order(data.len(), config.batch_order_seed, epoch);
        for batch in order.chunks(config.batch_size) {
            let (input, labels) = data.batch(batch, device);
            let transform = config
                .crop_flip
                .zip(model.branch_input().image())
                .map(|(t, shape)| t.batch(epoch, batch, shape, device));
            let losses: Vec<Tensor<1>> = model
                .forward_branches(input, transform.as_ref())
                .into_iter()
                .map(|logits| loss_fn.forward(logits, labels.clone()))
                .collect();
            let values = Tensor::cat(losses.clone(), 0).into_data();
            for (sum, v) in loss_sums.iter_mut().zip(values.iter::<f32>()) {
                *sum += f64::from(v) * batch.len() as f64;
            }
            let total = losses
                .into_iter()
                .reduce(|a, b| a + b)
                .expect("a classifier has at least one branch");
            let grads = GradientsParams::from_grads(total.backward(), &model);
            let rate = learning_rates
                .next()
                .expect("one learning rate per batch of every epoch");
            model = optimizer.step(rate, model, grads);
            progress.inc(1);
        }
        let log = EpochLog {
            epoch: epoch + 1,
            branch_loss: loss_sums.iter().map(|s| s / data.len() as f64).collect(),
            seconds: start.elapsed().as_secs_f64(),
        };
        progress.set_message(format!(
            "epoch {}/{} loss {}",
            log.epoch,
            config.epochs,
            log.branch_loss
                .iter()
                .map(|l| format!("{l:.4}"))
                .collect::<Vec<_>>()
                .join(" ")
        ));
        logs.push(log);
        model.flush_running_statistics();
        let state = TrainState {
            model,
            optimizer,
            log: logs,
        };
        on_epoch(&state)?;
        (model, optimizer, logs) = (state.model, state.optimizer, state.log);
    }
    Ok(TrainState {
        model,
        optimizer,
        log: logs,
    })
}
