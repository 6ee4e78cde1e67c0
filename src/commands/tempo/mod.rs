//! `amalgam tempo`: the Tempo scheme's commands.

pub mod args;
pub mod attack;
mod psk;
mod run;
mod train;
mod worker;
mod worker_process;

use std::path::PathBuf;

use amalgam_owner::tempo::OffloadOptions;
use anyhow::Result;
use args::{OffloadArgs, TempoCommand};

pub fn run(command: TempoCommand) -> Result<()> {
    match command {
        TempoCommand::Psk(a) => psk::run(a),
        TempoCommand::Worker(a) => worker::run(a),
        TempoCommand::Train(a) => train::run(a),
        TempoCommand::Run(a) => run::run(a),
        TempoCommand::Attack(a) => attack::run(a),
    }
}

/// The trusted process's options: `--key-seed` (or a random one), the Freivalds rounds, and
/// the checkpoint directory.
fn offload_options(
    offload: &OffloadArgs,
    checkpoint: Option<PathBuf>,
    resume: bool,
) -> OffloadOptions {
    OffloadOptions {
        key_seed: offload.key_seed.unwrap_or_else(rand::random),
        rounds: offload.freivalds_rounds,
        checkpoint,
        resume,
    }
}
