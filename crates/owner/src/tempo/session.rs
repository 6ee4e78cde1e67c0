//! A whole Tempo training run from the owner's side: set up the products, train, take the
//! layers back, end the session.

use std::time::Instant;

use amalgam_core::Result;
use amalgam_core::backend::inference_device;
use amalgam_core::data::LabelledSet;
use amalgam_core::model::Weights;
use amalgam_core::tempo::Transport;
use amalgam_core::training::EpochLog;
use indicatif::ProgressBar;

use super::key::TempoKey;
use super::products::{LocalProducts, Products, RemoteProducts, Traffic};
use super::train::{TempoState, train};
use crate::setup::OwnerSetup;

/// What a Tempo run gives the owner.
#[derive(Clone, Debug)]
pub struct TempoOutcome {
    /// The trained model's weights (PyTorch names).
    pub weights: Weights,
    /// Per-epoch loss.
    pub epochs: Vec<EpochLog>,
    /// What was exchanged with the worker (zero for the trusted process alone).
    pub traffic: Traffic,
    /// Wall time of set-up, training and collection, seconds.
    pub seconds: f64,
}

/// Trains `setup`'s model on `data` with a worker at the other end of `transport`, the
/// products permuted with a key from `key_seed` and checked with `rounds` Freivalds rounds.
///
/// # Errors
/// A connection failure, a refused request, a product that fails its check.
pub fn train_with_worker<T: Transport>(
    setup: &OwnerSetup,
    data: &dyn LabelledSet,
    transport: T,
    key_seed: u64,
    rounds: usize,
    progress: &ProgressBar,
) -> Result<TempoOutcome> {
    let start = Instant::now();
    let (state, layers) = TempoState::new(setup)?;
    let shapes = state.network.graph.product_shapes();
    let mut products = RemoteProducts::new(
        transport,
        TempoKey::new(key_seed, &shapes),
        &layers,
        &setup.train.optimizer_settings(),
        None,
        rounds,
        &inference_device(),
    )?;
    let (weights, epochs) = run(state, &mut products, setup, data, progress)?;
    let traffic = products.finish()?;
    Ok(TempoOutcome {
        weights,
        epochs,
        traffic,
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// Trains `setup`'s model on `data` with the trusted process computing every product itself
/// (the paper's TEE-only baseline).
///
/// # Errors
/// [`amalgam_core::Error::Invalid`] for an architecture Tempo does not offload.
pub fn train_alone(setup: &OwnerSetup, data: &dyn LabelledSet, progress: &ProgressBar) -> Result<TempoOutcome> {
    let start = Instant::now();
    let (state, layers) = TempoState::new(setup)?;
    let mut products = LocalProducts::new(&setup.train.optimizer_settings(), &layers, &inference_device())?;
    let (weights, epochs) = run(state, &mut products, setup, data, progress)?;
    Ok(TempoOutcome {
        weights,
        epochs,
        traffic: Traffic::default(),
        seconds: start.elapsed().as_secs_f64(),
    })
}

fn run(
    state: TempoState,
    products: &mut dyn Products,
    setup: &OwnerSetup,
    data: &dyn LabelledSet,
    progress: &ProgressBar,
) -> Result<(Weights, Vec<EpochLog>)> {
    let state = train(state, products, data, &setup.train, progress, usize::MAX, |_, _| Ok(()))?;
    Ok((state.weights(products)?, state.log))
}
