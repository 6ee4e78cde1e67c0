//! `amalgam tempo train`: train with a worker that is already listening.

use std::time::Duration;

use amalgam_core::files::check_new_dir;
use amalgam_core::tempo::NoiseTcp;
use amalgam_owner::model_dir::write_model_dir;
use amalgam_owner::tempo::train_with_worker;
use anyhow::Result;

use super::args::TempoTrainArgs;
use super::{key_seed, psk, setup};
use crate::commands::load_images;
use crate::progress;

pub fn run(args: TempoTrainArgs) -> Result<()> {
    check_new_dir(&args.out)?;
    let psk = psk::read(&args.psk)?;
    let data = load_images(&args.data)?;
    let setup = setup(&data, &args.training)?;
    let transport = NoiseTcp::connect(&args.worker, psk, Duration::from_secs(args.offload.timeout))?;
    let bar = progress::batches("training with the worker");
    let outcome = train_with_worker(
        &setup,
        &data.train,
        transport,
        key_seed(&args.offload),
        args.offload.freivalds_rounds,
        &bar,
    );
    bar.finish_and_clear();
    let outcome = outcome?;
    write_model_dir(&args.out, &setup.spec, &outcome.weights)?;
    for epoch in &outcome.epochs {
        println!("epoch {:>3}  {:>7.1} s  loss {:.4}", epoch.epoch, epoch.seconds, epoch.branch_loss[0]);
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
