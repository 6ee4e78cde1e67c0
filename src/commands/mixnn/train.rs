//! `amalgam mixnn train`: train through nodes that are already running.

use amalgam_owner::mixnn::{Directory, train_mixnn};
use anyhow::Result;

use super::args::MixnnTrainArgs;
use super::options;
use crate::commands::image_setup as setup;
use crate::commands::{finish_owner_run, key_file, load_images, owner_checkpoint};
use crate::progress;

pub fn run(args: MixnnTrainArgs) -> Result<()> {
    let checkpoint = owner_checkpoint(&args.out, args.resume)?;
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
    finish_owner_run(
        &args.out,
        &setup.spec,
        &outcome.weights,
        &checkpoint,
        &outcome.epochs,
    )?;
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
