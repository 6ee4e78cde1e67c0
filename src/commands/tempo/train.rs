//! `amalgam tempo train`: train with a worker that is already listening.

use std::time::Duration;

use amalgam_core::tempo::NoiseTcp;
use amalgam_owner::tempo::train_with_worker;
use anyhow::Result;

use super::args::TempoTrainArgs;
use super::offload_options;
use crate::commands::image_setup as setup;
use crate::commands::{finish_owner_run, key_file, load_images, owner_checkpoint};
use crate::progress;

pub fn run(args: TempoTrainArgs) -> Result<()> {
    let checkpoint = owner_checkpoint(&args.out, args.resume)?;
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
    finish_owner_run(
        &args.out,
        &setup.spec,
        &outcome.weights,
        &checkpoint,
        &outcome.epochs,
    )?;
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
