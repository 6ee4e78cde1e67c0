//! `amalgam tempo`: the Tempo scheme's commands.

pub mod args;
mod psk;
mod run;
mod train;
mod worker;
mod worker_process;

use amalgam_owner::data::Dataset;
use amalgam_owner::setup::OwnerSetup;
use anyhow::Result;
use args::{OffloadArgs, TempoCommand};

use crate::args::{Task, TrainingArgs};

pub fn run(command: TempoCommand) -> Result<()> {
    match command {
        TempoCommand::Psk(a) => psk::run(a),
        TempoCommand::Worker(a) => worker::run(a),
        TempoCommand::Train(a) => train::run(a),
        TempoCommand::Run(a) => run::run(a),
    }
}

/// The model, its initial weights and its training as `training` says.
fn setup(data: &Dataset, training: &TrainingArgs) -> Result<OwnerSetup> {
    Ok(OwnerSetup::new(
        data,
        training.model(Task::Image).architecture(),
        &training.settings(),
        training.seed,
    )?)
}

/// `--key-seed`, or a random one.
fn key_seed(offload: &OffloadArgs) -> u64 {
    offload.key_seed.unwrap_or_else(rand::random)
}
