//! `amalgam train` (cloud side). Uses `amalgam-cloud` only: no owner code runs here.

use amalgam_cloud::{TrainOptions, checkpoint_dir, train_bundle};
use anyhow::Result;

use crate::args::TrainArgs;
use crate::progress;

pub fn run(args: TrainArgs) -> Result<()> {
    let log = args
        .log
        .clone()
        .unwrap_or_else(|| args.out.with_extension("log.jsonl"));
    let bar = progress::batches("training");
    let options = TrainOptions {
        resume: args.resume,
        stop_after: args.stop_after,
    };
    let summary = train_bundle(&args.bundle, &args.out, &log, &bar, options);
    bar.finish_and_clear();
    let summary = summary?;
    for epoch in &summary.epochs {
        let losses: Vec<String> = epoch
            .branch_loss
            .iter()
            .map(|l| format!("{l:.4}"))
            .collect();
        println!(
            "epoch {:>3}  {:>7.1} s  branch losses {}",
            epoch.epoch,
            epoch.seconds,
            losses.join(" ")
        );
    }
    if !summary.finished {
        println!(
            "stopped after epoch {}; checkpoint in {} (continue with --resume)",
            summary.epochs.len(),
            checkpoint_dir(&args.out).display()
        );
        return Ok(());
    }
    println!(
        "trained weights {} ({:.1} s), log {}",
        args.out.display(),
        summary.train_seconds,
        log.display()
    );
    Ok(())
}
