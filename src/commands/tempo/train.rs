//! `amalgam tempo train`: train with a worker that is already listening.

use std::time::Duration;

use amalgam_core::files::check_new_dir;
use amalgam_core::tempo::NoiseTcp;
use amalgam_owner::model_dir::write_model_dir;
use amalgam_owner::tempo::train_with_worker;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};

use super::args::TempoTrainArgs;
use super::offload_options;
use crate::commands::image_setup as setup;
use crate::commands::key_file;
use crate::commands::load_images;
use crate::progress;

pub fn run(args: TempoTrainArgs) -> Result<()> {
    check_new_dir(&args.out)?;
    let mut checkpoint = args.out.clone().into_os_string();
    checkpoint.push(".checkpoint");
    let checkpoint = PathBuf::from(checkpoint);
    if !args.resume && checkpoint.exists() {
        bail!(
            "{}: a checkpoint of an earlier run is there; pass --resume to continue it, or remove it",
            checkpoint.display()
        );
    }
    let psk = key_file::read(&args.psk)?;
    let data = load_images(&args.data)?;
    let setup = setup(&data, &args.training)?;
    let transport =
        NoiseTcp::connect(&args.worker, psk, Duration::from_secs(args.offload.timeout))?;
    let bar = progress::batches("training with the worker");
    let outcome = train_with_worker(
        &setup,
        &data.train,
        transport,
        &offload_options(&args.offload, Some(checkpoint.clone()), args.resume),
        &bar,
    );
    bar.finish_and_clear();
    let outcome = outcome?;
    write_model_dir(&args.out, &setup.spec, &outcome.weights)?;
    std::fs::remove_dir_all(&checkpoint)
        .with_context(|| format!("cannot remove {}", checkpoint.display()))?;
    for epoch in &outcome.epochs {
        println!(
            "epoch {:>3}  {:>7.1} s  loss {:.4}",
            epoch.epoch, epoch.seconds, epoch.branch_loss[0]
        );
    }
    let t = outcome.traffic;
    println!(
        "{} steps, {} requests, {:.1} MB sent, {:.1} MB received, {} products checked",
        t.steps,
        t.requests,
        t.bytes_sent as f64 / 1e6,
        t.bytes_received as f64 / 1e6,
        t.checked
    );
    println!("model written to {}", args.out.display());
    Ok(())
}
