//! `amalgam privynet run`: the PrivyNet job end to end, with a report.

use std::path::Path;

use amalgam_core::files::{StagingDir, write_json};
use amalgam_core::model::split::{feature_channels, local_macs};
use amalgam_core::model::{WeightComparison, compare_weights};
use amalgam_core::training::Evaluation;
use amalgam_owner::baseline::train_baseline;
use amalgam_owner::data::TrainingPart;
use amalgam_owner::model_dir::{read_model_dir, write_model_dir};
use amalgam_owner::privynet::train_in_one_process;
use amalgam_owner::setup::OwnerSetup;
use anyhow::Result;
use serde::Serialize;

use super::args::PrivynetRunArgs;
use super::job::{JobCost, JobOutcome, run_job};
use super::pretrain::pretrained_or_train;
use super::{architecture, local_parameters, options};
use crate::commands::eval::evaluate_dir;
use crate::commands::load_images;
use crate::commands::run::{default_out, timed};
use crate::progress;

/// Wall time of the stages besides the job's own, seconds.
#[derive(Serialize, Debug, Default)]
struct StageSeconds {
    pretrain: f64,
    train_one_process: f64,
    train_plain: f64,
}

/// `report.json`.
#[derive(Serialize, Debug)]
struct PrivynetReport {
    dataset: String,
    public_part: String,
    private_part: String,
    train_samples: usize,
    test_samples: usize,
    model: String,
    split_point: usize,
    feature_channels: usize,
    kept_channels: usize,
    feature_shape: String,
    local_parameters: usize,
    local_macs: u64,
    seed: u64,
    key_seed: u64,
    epochs: usize,
    /// The whole network trained on the private images in the clear.
    plain: Evaluation,
    /// The composed model the owner gets back.
    privynet: Evaluation,
    /// The same split model trained in one process (features in memory, no bundle).
    one_process: Evaluation,
    /// PrivyNet's composed weights against the one-process split model's.
    weights: WeightComparison,
    job: JobCost,
    seconds: StageSeconds,
}

pub fn run(args: PrivynetRunArgs) -> Result<()> {
    let out = args.out.clone().unwrap_or_else(|| default_out("privynet"));
    let staging = StagingDir::new(&out)?;
    let dir = staging.path().to_path_buf();
    let mut t = StageSeconds::default();
    let data = load_images(&args.data)?;
    let public_part: TrainingPart = args.public.into();
    let private_part: TrainingPart = args.split.private.into();
    let private = private_part.of(&data)?;

    let (pretrained, pretrain_seconds) = pretrained_or_train(
        args.pretrained.as_deref(),
        &data,
        public_part,
        private_part,
        &args.training,
        &dir,
    )?;
    t.pretrain = pretrain_seconds;
    let opts = options(&pretrained.0, &args.split, &args.training, true)?;

    let JobOutcome {
        key,
        privynet,
        cost,
    } = run_job(&private, &pretrained, &opts, &dir)?;
    let bar = progress::batches("one process");
    let one_process = timed(&mut t.train_one_process, || {
        train_in_one_process(&private, &pretrained, &opts, &bar)
    });
    bar.finish_and_clear();
    let (composed, weights) = one_process?;
    write_model_dir(&dir.join("one-process"), &composed, &weights)?;

    let setup = OwnerSetup::new(
        &private,
        architecture(&args.training),
        &args.training.settings(),
        args.training.seed,
    )?;
    let bar = progress::batches("plain");
    let plain = timed(&mut t.train_plain, || {
        train_baseline(&private, &setup, &bar)
    });
    bar.finish_and_clear();
    t.train_plain = plain.train_seconds;
    write_model_dir(&dir.join("plain"), &setup.spec, &plain.weights)?;

    let evaluate = |name: &str| evaluate_dir(&dir.join(name), &private.test, None);
    let (point, kept) = key.split();
    let whole = &pretrained.0;
    let report = PrivynetReport {
        dataset: data.name.clone(),
        public_part: match &args.pretrained {
            Some(dir) => format!("pre-trained model {}", dir.display()),
            None => public_part.describe().into(),
        },
        private_part: private_part.describe().into(),
        train_samples: private.train.labels.len(),
        test_samples: private.test.labels.len(),
        model: whole.architecture.name().into(),
        split_point: point,
        feature_channels: feature_channels(&whole.architecture, point)?,
        kept_channels: kept.len(),
        feature_shape: amalgam_core::bundle::Bundle::open(&dir.join("bundle"))?
            .spec
            .input
            .to_string(),
        local_parameters: local_parameters(&key),
        local_macs: local_macs(whole, point)?,
        seed: opts.seed,
        key_seed: opts.key_seed,
        epochs: opts.train.epochs,
        plain: evaluate("plain")?,
        privynet,
        one_process: evaluate("one-process")?,
        weights: compare_weights(
            &read_model_dir(&dir.join("extracted"))?.1,
            &read_model_dir(&dir.join("one-process"))?.1,
        ),
        job: cost,
        seconds: t,
    };
    write_json(&dir.join("report.json"), &report)?;
    let out = staging.commit()?;
    print_table(&report, &out);
    Ok(())
}

fn print_table(r: &PrivynetReport, out: &Path) {
    println!(
        "amalgam privynet run: {} on {} ({}: {} train / {} test), split point {}, {} of {} channels kept ({}), {} epochs",
        r.model,
        r.dataset,
        r.private_part,
        r.train_samples,
        r.test_samples,
        r.split_point,
        r.kept_channels,
        r.feature_channels,
        r.feature_shape,
        r.epochs
    );
    println!("pre-trained on: {}", r.public_part);
    println!();
    println!("| model                                  | test accuracy | test loss |");
    println!("|----------------------------------------|---------------|-----------|");
    for (name, e) in [
        ("plain (whole network, in the clear)", &r.plain),
        ("PrivyNet (composed, cloud-trained)", &r.privynet),
        ("same split model, one process", &r.one_process),
    ] {
        println!("| {name:<38} | {:>13.4} | {:>9.4} |", e.accuracy, e.loss);
    }
    println!();
    println!(
        "PrivyNet weights bitwise equal to the one-process split model: {} ({} tensors, max |diff| {:e})",
        if r.weights.bitwise_equal { "yes" } else { "NO" },
        r.weights.tensors,
        r.weights.max_abs_diff
    );
    println!(
        "sent to the cloud: {:.1} MB; local part: {} parameters, {:.2} M multiply-accumulates per image",
        r.job.bundle_bytes as f64 / 1e6,
        r.local_parameters,
        r.local_macs as f64 / 1e6
    );
    let (s, j) = (&r.seconds, &r.job);
    println!(
        "seconds: pre-train {:.1}, augment {:.1}, cloud training loop {:.1}, extract {:.1}, one process {:.1}, plain loop {:.1}",
        s.pretrain,
        j.augment_seconds,
        j.cloud_seconds,
        j.extract_seconds,
        s.train_one_process,
        s.train_plain
    );
    println!("report: {}", out.join("report.json").display());
}
