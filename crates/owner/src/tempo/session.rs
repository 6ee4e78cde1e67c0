//! A whole Tempo training run from the owner's side: set up the products, train epoch by
//! epoch (checkpointing after each), take the layers back, end the session.

use std::path::PathBuf;
use std::time::Instant;

use amalgam_core::Result;
use amalgam_core::backend::inference_device;
use amalgam_core::data::LabelledSet;
use amalgam_core::model::Weights;
use amalgam_core::tempo::Transport;
use amalgam_core::training::EpochLog;
use indicatif::ProgressBar;

use super::checkpoint;
use super::key::TempoKey;
use super::products::{LocalProducts, RemoteProducts, Traffic, reveal};
use super::train::{TempoState, train};
use crate::setup::OwnerSetup;

/// How the trusted process runs its side.
#[derive(Clone, Debug)]
pub struct OffloadOptions {
    /// Seed of the permutations (a resumed run takes its checkpoint's instead).
    pub key_seed: u64,
    /// Freivalds rounds per returned product (0: no check, no mirror).
    pub rounds: usize,
    /// Where to checkpoint after every epoch (none: no checkpoints).
    pub checkpoint: Option<PathBuf>,
    /// Continue from the checkpoint instead of starting afresh.
    pub resume: bool,
}

/// What a Tempo run gives the owner.
#[derive(Clone, Debug)]
pub struct TempoOutcome {
    /// The trained model's weights (PyTorch names).
    pub weights: Weights,
    /// Per-epoch loss.
    pub epochs: Vec<EpochLog>,
    /// What was exchanged with the worker in this session (zero for the trusted process alone).
    pub traffic: Traffic,
    /// Wall time of set-up, training and collection, seconds.
    pub seconds: f64,
}

/// The name a checkpoint records to recognise its run.
fn run_name(setup: &OwnerSetup) -> String {
    format!(
        "{} seed {} {} epochs",
        setup.spec.architecture.name(),
        setup.train.batch_order_seed,
        setup.train.epochs
    )
}

/// Trains `setup`'s model on `data` with a worker at the other end of `transport` as
/// `options` say.
///
/// # Errors
/// A connection failure (the worker died or went silent: resume from the checkpoint with a
/// new one), a refused request, a product that fails its check, an unreadable checkpoint.
pub fn train_with_worker<T: Transport>(
    setup: &OwnerSetup,
    data: &dyn LabelledSet,
    transport: T,
    options: &OffloadOptions,
    progress: &ProgressBar,
) -> Result<TempoOutcome> {
    let start = Instant::now();
    let (state, plain_layers) = TempoState::new(setup)?;
    let shapes = state.network.graph.product_shapes();
    let device = inference_device();
    let run = run_name(setup);
    let (mut state, key_seed, layers, optimizer_state) = match (&options.checkpoint, options.resume)
    {
        (Some(dir), true) => {
            let (state, worker) = checkpoint::load(dir, &run, state)?;
            let key = TempoKey::new(worker.key_seed, &shapes);
            let layers = reveal(&worker.layers, &key, &device).map_err(|e| {
                amalgam_core::Error::file(
                    dir,
                    format!("the worker's layers do not fit the key: {e}"),
                )
            })?;
            (state, worker.key_seed, layers, Some(worker.optimizer_state))
        }
        _ => (state, options.key_seed, plain_layers, None),
    };
    let batches = data.len().div_ceil(setup.train.batch_size);
    let done = state.log.len();
    let mut products = RemoteProducts::new(
        transport,
        TempoKey::new(key_seed, &shapes),
        &layers,
        &setup.train.optimizer_settings(),
        optimizer_state,
        options.rounds,
        &device,
    )?
    .starting_at((done * batches) as u64);
    progress.set_length((setup.train.epochs.saturating_sub(done) * batches) as u64);
    for epoch in done..setup.train.epochs {
        state = train(
            state,
            &mut products,
            data,
            &setup.train,
            progress,
            epoch + 1,
        )?;
        if let Some(dir) = &options.checkpoint {
            let (layers, optimizer_state) = products.fetch()?;
            checkpoint::save(dir, &run, key_seed, &state, layers, optimizer_state)?;
        }
    }
    let weights = state.weights(&mut products)?;
    let traffic = products.finish()?;
    Ok(TempoOutcome {
        weights,
        epochs: state.log,
        traffic,
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// Trains `setup`'s model on `data` with the trusted process computing every product itself
/// (the paper's TEE-only baseline).
///
/// # Errors
/// [`amalgam_core::Error::Invalid`] for an architecture Tempo does not offload.
pub fn train_alone(
    setup: &OwnerSetup,
    data: &dyn LabelledSet,
    progress: &ProgressBar,
) -> Result<TempoOutcome> {
    let start = Instant::now();
    let (state, layers) = TempoState::new(setup)?;
    let mut products = LocalProducts::new(
        &setup.train.optimizer_settings(),
        &layers,
        &inference_device(),
    )?;
    progress.set_length((setup.train.epochs * data.len().div_ceil(setup.train.batch_size)) as u64);
    let state = train(
        state,
        &mut products,
        data,
        &setup.train,
        progress,
        usize::MAX,
    )?;
    Ok(TempoOutcome {
        weights: state.weights(&mut products)?,
        epochs: state.log,
        traffic: Traffic::default(),
        seconds: start.elapsed().as_secs_f64(),
    })
}
