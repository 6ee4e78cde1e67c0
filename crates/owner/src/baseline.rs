//! The plain baseline: the original model trained on the original data, with the same initial
//! weights, batch order and training loop as the real branch in the cloud.

use std::convert::Infallible;
use std::time::Instant;

use amalgam_core::backend::training_device;
use amalgam_core::data::LabelledSet;
use amalgam_core::model::{Classifier, Weights, weights_of};
use amalgam_core::training::{EpochLog, TrainState, train};
use indicatif::ProgressBar;

use crate::data::Dataset;
use crate::setup::OwnerSetup;

/// The trained plain model.
#[derive(Clone, Debug)]
pub struct BaselineOutcome {
    /// Trained weights (PyTorch names).
    pub weights: Weights,
    /// Per-epoch loss.
    pub epochs: Vec<EpochLog>,
    /// Wall time of the training loop in seconds.
    pub train_seconds: f64,
}

/// Trains `setup`'s model on `dataset`'s training set.
pub fn train_baseline<S: LabelledSet>(
    dataset: &Dataset<S>,
    setup: &OwnerSetup,
    progress: &ProgressBar,
) -> BaselineOutcome {
    let device = training_device();
    let classifier = Classifier::new(&setup.spec, &setup.init, &device)
        .expect("initial weights are made from the spec");
    let start = Instant::now();
    let done = train(
        TrainState::new(classifier, &setup.train),
        &dataset.train,
        &setup.train,
        &device,
        progress,
        usize::MAX,
        |_| Ok::<(), Infallible>(()),
    )
    .unwrap_or_else(|never| match never {});
    BaselineOutcome {
        weights: weights_of(&done.model.network),
        epochs: done.log,
        train_seconds: start.elapsed().as_secs_f64(),
    }
}
