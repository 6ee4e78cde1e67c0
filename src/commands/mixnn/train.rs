//! `amalgam mixnn train`: train through nodes that are already running.

use std::path::PathBuf;

use amalgam_core::files::check_new_dir;
use amalgam_owner::mixnn::{Directory, train_mixnn};
use amalgam_owner::model_dir::write_model_dir;
use anyhow::{Context, Result, bail};

use super::args::MixnnTrainArgs;
use super::options;
use crate::commands::image_setup as setup;
use crate::commands::{key_file, load_images};
use crate::progress;

pub fn run(args: MixnnTrainArgs) -> Result<()> {
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
    let directory = Directory::read(&args.mixes, &args.hosts)?;
    let owner_key = args
        .owner_key
        .owner_key
        .as_deref()
        .map(key_file::read)
        .transpose()?;
    let data = load_images(&args.data)?;
    let setup = setup(&data, &args.training)?;
    let bar = progress::batches("training through the mix network");
    let outcome = train_mixnn(
        &setup,
        &data.train,
        &directory,
        &options(
            &args.route,
            owner_key,
            Some(checkpoint.clone()),
            args.resume,
        ),
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
    let t = &outcome.traffic;
    println!(
        "{} steps, {} retried, {} packets of {} bytes ({} per message), {:.1} MB over all links",
        t.steps,
        t.retries,
        t.packets,
        t.packet_bytes,
        t.packets_per_message,
        t.link_bytes as f64 / 1e6
    );
    println!("model written to {}", args.out.display());
    Ok(())
}
