//! `amalgam tempo` arguments.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use crate::args::{DataArgs, TrainingArgs};

/// Tempo (Xu & Fang 2024): a trusted process offloads the linear algebra to an untrusted
/// worker under secret permutations.
#[derive(Subcommand, Debug)]
pub enum TempoCommand {
    /// Owner: write a fresh pre-shared key (32 random bytes, hex, mode 0600) that
    /// authenticates the trusted process and its worker to each other; give the worker a copy.
    Psk(PskArgs),
    /// Untrusted machine: serve the trusted process's products (forward, backward, updates)
    /// on obfuscated weights, one session after another.
    Worker(WorkerArgs),
    /// Owner: train with a worker that is already listening (`amalgam tempo worker`), write
    /// the trained model directory.
    Train(TempoTrainArgs),
    /// The privacy audit: train on the private half of the training split with a curious
    /// worker (in this process), run its attacks (layer links by exact values, the
    /// reassembled model, the images' pixel order from the public half), then score them
    /// with the key: report.json and grid.png.
    Attack(TempoAttackArgs),
    /// The whole comparison on this machine: start a worker on loopback, train through it,
    /// train the same model plainly and with the trusted process alone, evaluate all three,
    /// print a table and write report.json.
    Run(TempoRunArgs),
}

#[derive(Args, Debug)]
pub struct PskArgs {
    /// Output file (must not exist).
    #[arg(value_name = "PSK_FILE")]
    pub out: PathBuf,
}

#[derive(Args, Debug)]
pub struct WorkerArgs {
    /// Address to listen on (port 0: any free port; the chosen address is printed as
    /// `listening on ADDR`).
    #[arg(long, default_value = "127.0.0.1:7878")]
    pub listen: String,
    /// The pre-shared key file (`amalgam tempo psk`).
    #[arg(long, value_name = "PSK_FILE")]
    pub psk: PathBuf,
    /// Seconds to wait for the trusted process's next message before ending the session.
    #[arg(long, default_value_t = 600)]
    pub timeout: u64,
    /// Stop after this many sessions (default: serve until killed).
    #[arg(long)]
    pub sessions: Option<usize>,
}

/// How the trusted process uses its worker.
#[derive(Args, Debug, Clone)]
pub struct OffloadArgs {
    /// Freivalds rounds per returned product (0: no integrity check, and no mirror of the
    /// obfuscated weights on the trusted side).
    #[arg(long, default_value_t = 2)]
    pub freivalds_rounds: usize,
    /// Seed of the secret permutations (default: random).
    #[arg(long)]
    pub key_seed: Option<u64>,
    /// Seconds to wait for each reply of the worker before giving up.
    #[arg(long, default_value_t = 120)]
    pub timeout: u64,
}

#[derive(Args, Debug)]
pub struct TempoTrainArgs {
    #[command(flatten)]
    pub data: DataArgs,
    #[command(flatten)]
    pub training: TrainingArgs,
    #[command(flatten)]
    pub offload: OffloadArgs,
    /// The worker's address.
    #[arg(long)]
    pub worker: String,
    /// The pre-shared key file the worker was started with.
    #[arg(long, value_name = "PSK_FILE")]
    pub psk: PathBuf,
    /// Output model directory (model.json + model.safetensors; must not exist).
    #[arg(long, value_name = "MODEL_DIR")]
    pub out: PathBuf,
    /// Continue a run whose worker died from its checkpoint (OUT.checkpoint/, written after
    /// every epoch), with a worker started afresh.
    #[arg(long)]
    pub resume: bool,
}

#[derive(Args, Debug)]
pub struct TempoRunArgs {
    #[command(flatten)]
    pub data: DataArgs,
    #[command(flatten)]
    pub training: TrainingArgs,
    #[command(flatten)]
    pub offload: OffloadArgs,
    /// Output directory (default: runs/tempo-<time>).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct TempoAttackArgs {
    #[command(flatten)]
    pub data: DataArgs,
    #[command(flatten)]
    pub training: TrainingArgs,
    /// Seed of the secret permutations.
    #[arg(long, default_value_t = 1)]
    pub key_seed: u64,
    /// Output directory (default: runs/tempo-attack-<time>).
    #[arg(long)]
    pub out: Option<PathBuf>,
}
