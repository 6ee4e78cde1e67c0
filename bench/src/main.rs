//! `amalgam-bench`: measures what BENCHMARKS.md reports. `bench/run.sh` runs it end to end.

mod augmentation;
mod report;
mod synthetic;
mod timing;
mod training;

use std::path::PathBuf;

use amalgam_core::files::{read_json, write_atomic, write_json};
use anyhow::Result;
use clap::{Parser, Subcommand};
use serde::{Deserialize, Serialize};

use crate::augmentation::AugmentationRow;
use crate::training::{Model, Setting, StepTime};

#[derive(Parser)]
#[command(name = "amalgam-bench", about)]
/// amalgam's benchmarks.
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs the measurements and writes them as JSON.
    Measure {
        /// Output JSON file.
        #[arg(long)]
        out: PathBuf,
        /// Fewer samples, steps and repetitions (a smoke test of the harness).
        #[arg(long)]
        quick: bool,
        /// Only the augmentation table (for quick iterations on the augmenter).
        #[arg(long)]
        augmentation_only: bool,
    },
    /// Writes a generated IDX data set (raw files, 28x28 random pixels, labels `i % 10`): the
    /// input of the memory measurement.
    WriteIdx {
        /// Output directory (created).
        #[arg(long)]
        dir: PathBuf,
        /// Training samples; the test set has a tenth as many.
        #[arg(long)]
        samples: usize,
    },
    /// Writes BENCHMARKS.md from the measurements.
    Report {
        /// JSON written by `measure`.
        #[arg(long)]
        amalgam: PathBuf,
        /// JSON written by bench/pytorch_baseline.py, if it ran.
        #[arg(long)]
        pytorch: Option<PathBuf>,
        /// JSON written by bench/memory.sh, if it ran.
        #[arg(long)]
        memory: Option<PathBuf>,
        /// Machine description (CPU, cores, memory, OS, toolchain) for the header.
        #[arg(long)]
        machine: String,
        /// The command that produced the file.
        #[arg(long, default_value = "bench/run.sh")]
        command: String,
        /// Output markdown file.
        #[arg(long)]
        out: PathBuf,
    },
}

/// Everything `measure` records.
#[derive(Serialize, Deserialize)]
pub struct Measurements {
    /// Threads of the rayon pool (burn's kernels and the augmenter).
    pub threads: usize,
    /// Table 1.
    pub augmentation: Vec<AugmentationRow>,
    /// Tables 2 and 3.
    pub steps: Vec<StepTime>,
}

fn measure(quick: bool, augmentation_only: bool) -> Measurements {
    let reps = if quick { 1 } else { 5 };
    let mut augmentation = Vec::new();
    for (shape, samples) in [
        (synthetic::FASHION_MNIST, 60_000),
        (synthetic::CIFAR, 50_000),
    ] {
        let samples = if quick { samples / 20 } else { samples };
        for amount in [0.25, 1.0] {
            eprintln!("augmentation: {shape} x {samples}, amount {amount}");
            augmentation.push(augmentation::measure(shape, samples, amount, reps));
        }
    }
    let mut settings = Vec::new();
    if !augmentation_only {
        let setting = |model, batch, amount, decoys| Setting {
            model,
            batch,
            amount,
            decoys,
        };
        for model in [Model::Lenet, Model::Resnet20] {
            for batch in [64, 128] {
                settings.push(setting(model, batch, None, 0));
                for amount in [0.25, 1.0] {
                    settings.push(setting(model, batch, Some(amount), 0));
                }
            }
            for decoys in [1, 3] {
                settings.push(setting(model, 64, Some(0.25), decoys));
            }
        }
        settings.push(setting(Model::Mlp, 64, None, 0));
    }
    eprintln!("training steps: {} settings, interleaved", settings.len());
    let steps = training::measure(&settings, if quick { 1 } else { 5 }, quick);
    Measurements {
        threads: rayon::current_num_threads(),
        augmentation,
        steps,
    }
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Command::Measure {
            out,
            quick,
            augmentation_only,
        } => write_json(&out, &measure(quick, augmentation_only))?,
        Command::WriteIdx { dir, samples } => synthetic::write_idx(&dir, samples)?,
        Command::Report {
            amalgam,
            pytorch,
            memory,
            machine,
            command,
            out,
        } => {
            let measurements: Measurements = read_json(&amalgam)?;
            let pytorch = pytorch.map(|p| read_json(&p)).transpose()?;
            let memory = memory.map(|p| read_json(&p)).transpose()?;
            let text = report::markdown(
                &measurements,
                pytorch.as_ref(),
                memory.as_ref(),
                &machine,
                &command,
            );
            write_atomic(&out, text.as_bytes())?;
        }
    }
    Ok(())
}
