//! `amalgam run`: the main job, end to end, with a report.

use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use amalgam_cloud::{TrainOptions, train_bundle};
use amalgam_core::data::LabelledSet;
use amalgam_core::files::{StagingDir, write_json};
use amalgam_core::model::{WeightComparison, compare_weights};
use amalgam_core::training::Evaluation;
use amalgam_owner::augment::{AugmentOptions, Augmentable, augment};
use amalgam_owner::baseline::train_baseline;
use amalgam_owner::data::{Dataset, SampleSource};
use amalgam_owner::extract::extract;
use amalgam_owner::key::SecretKey;
use amalgam_owner::model_dir::{read_model_dir, write_model_dir};
use amalgam_owner::setup::OwnerSetup;
use anyhow::Result;
use serde::Serialize;

use crate::args::RunArgs;
use crate::commands::augment::{decoy_images, no_decoy_texts, options, with_decoy_inputs};
use crate::commands::eval::evaluate_dir;
use crate::commands::original_data::{OriginalData, load};
use crate::progress;

/// Wall time of each stage, seconds.
#[derive(Serialize, Debug, Default)]
pub struct StageSeconds {
    pub load_data: f64,
    pub augment: f64,
    pub train_augmented: f64,
    pub train_augmented_loop: f64,
    pub extract: f64,
    pub train_plain: f64,
    pub train_plain_loop: f64,
    pub evaluate: f64,
}

/// `report.json`.
#[derive(Serialize, Debug)]
struct RunReport {
    dataset: String,
    train_samples: usize,
    test_samples: usize,
    model: String,
    original_shape: String,
    augmented_shape: String,
    amount: f64,
    noise: String,
    decoys: usize,
    seed: u64,
    key_seed: u64,
    epochs: usize,
    batch_size: usize,
    learning_rate: f64,
    optimizer: String,
    threads: usize,
    plain: Evaluation,
    extracted: Evaluation,
    weights: WeightComparison,
    seconds: StageSeconds,
    /// Training loop time, augmented over plain.
    training_overhead_ratio: f64,
}

/// Runs `f`, storing its wall time in `seconds`.
pub fn timed<T>(seconds: &mut f64, f: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let out = f();
    *seconds = start.elapsed().as_secs_f64();
    out
}

/// `amalgam-runs/{kind}-<unix time>`: where a run goes without `--out`.
pub fn default_out(kind: &str) -> PathBuf {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    PathBuf::from(format!("amalgam-runs/{kind}-{now}"))
}

/// What the owner learns from one job.
pub struct JobOutcome {
    pub key: SecretKey,
    pub plain: Evaluation,
    pub extracted: Evaluation,
    pub weights: WeightComparison,
}

/// Augments, trains in the cloud's role, extracts, trains the baseline and evaluates both,
/// inside the run directory `dir`: `bundle/`, `key.json`, `trained.safetensors`,
/// `train-log.jsonl`, `extracted/`, `plain/`.
pub fn run_job<S: Augmentable + SampleSource<Chunk: Augmentable>>(
    dataset: &Dataset<S>,
    opts: &AugmentOptions,
    dir: &Path,
    t: &mut StageSeconds,
) -> Result<JobOutcome> {
    let spinner = progress::step("augmenting data and model");
    let key = timed(&mut t.augment, || {
        augment(dataset, opts, &dir.join("bundle"), &dir.join("key.json"))
    });
    spinner.finish_and_clear();
    let key = key?;

    let bar = progress::batches("augmented");
    let summary = timed(&mut t.train_augmented, || {
        train_bundle(
            &dir.join("bundle"),
            &dir.join("trained.safetensors"),
            &dir.join("train-log.jsonl"),
            &bar,
            TrainOptions::default(),
        )
    });
    bar.finish_and_clear();
    t.train_augmented_loop = summary?.train_seconds;

    timed(&mut t.extract, || -> Result<()> {
        let key_path = dir.join("key.json");
        let key = SecretKey::read(&key_path)?;
        let (spec, weights) = extract(&key, &key_path, &dir.join("trained.safetensors"))?;
        Ok(write_model_dir(&dir.join("extracted"), &spec, &weights)?)
    })?;

    let setup = OwnerSetup::new(dataset, opts.architecture.clone(), &opts.train, opts.seed)?;
    let bar = progress::batches("plain");
    let plain = timed(&mut t.train_plain, || train_baseline(dataset, &setup, &bar));
    bar.finish_and_clear();
    t.train_plain_loop = plain.train_seconds;
    write_model_dir(&dir.join("plain"), &setup.spec, &plain.weights)?;

    let (plain, extracted) = timed(&mut t.evaluate, || -> Result<_> {
        Ok((
            evaluate_dir(&dir.join("plain"), &dataset.test, None)?,
            evaluate_dir(&dir.join("extracted"), &dataset.test, None)?,
        ))
    })?;
    let weights = compare_weights(
        &read_model_dir(&dir.join("plain"))?.1,
        &read_model_dir(&dir.join("extracted"))?.1,
    );
    Ok(JobOutcome {
        key,
        plain,
        extracted,
        weights,
    })
}

pub fn run(args: RunArgs) -> Result<()> {
    let out = args.out.clone().unwrap_or_else(|| default_out("run"));
    let staging = StagingDir::new(&out)?;
    let dir = staging.path().to_path_buf();
    let mut t = StageSeconds::default();

    let data = timed(&mut t.load_data, || load(&args.job.data))?;
    let opts = options(&args.job);
    eprintln!("data: {}", data.describe());
    let (outcome, name, train_samples) = match &data {
        OriginalData::Images(d) => {
            let opts = with_decoy_inputs(opts.clone(), &args.job, d, |dir| {
                decoy_images(dir, &args.job)
            })?;
            (run_job(d, &opts, &dir, &mut t)?, &d.name, d.train.len())
        }
        OriginalData::Text(text) => {
            text.vocabulary.save(&dir.join("tokenizer.json"))?;
            let d = &text.dataset;
            let opts = with_decoy_inputs(opts.clone(), &args.job, d, no_decoy_texts)?;
            (run_job(d, &opts, &dir, &mut t)?, &d.name, d.train.len())
        }
    };
    let JobOutcome {
        key,
        plain,
        extracted,
        weights,
    } = outcome;

    let report = RunReport {
        dataset: name.clone(),
        train_samples,
        test_samples: data.test().len(),
        model: format!("{:?}", args.job.training.model(args.job.data.task)).to_lowercase(),
        original_shape: key.original.input.to_string(),
        augmented_shape: key.augmented.to_string(),
        amount: key.amount,
        noise: format!("{:?}", key.noise).to_lowercase(),
        decoys: opts.decoys,
        seed: opts.seed,
        key_seed: opts.key_seed,
        epochs: opts.train.epochs,
        batch_size: opts.train.batch_size,
        learning_rate: opts.train.learning_rate,
        optimizer: format!("{:?}", opts.train.optimizer).to_lowercase(),
        threads: rayon_threads(),
        plain,
        extracted,
        weights,
        training_overhead_ratio: t.train_augmented_loop / t.train_plain_loop,
        seconds: t,
    };
    write_json(&dir.join("report.json"), &report)?;
    let out = staging.commit()?;
    print_table(&report, &out);
    Ok(())
}

/// Threads of the global rayon pool that burn's CPU kernels and the augmenter use.
pub fn rayon_threads() -> usize {
    std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

fn print_table(r: &RunReport, out: &Path) {
    let s = &r.seconds;
    println!(
        "amalgam run: {} on {} ({} train / {} test), {} -> {}, amount {}, {} noise, {} decoy(s), {} epochs, batch {}, {} lr {}, {} threads",
        r.model,
        r.dataset,
        r.train_samples,
        r.test_samples,
        r.original_shape,
        r.augmented_shape,
        r.amount,
        r.noise,
        r.decoys,
        r.epochs,
        r.batch_size,
        r.optimizer,
        r.learning_rate,
        r.threads
    );
    println!();
    println!("| model     | test accuracy | test loss |");
    println!("|-----------|---------------|-----------|");
    println!(
        "| plain     | {:>13.4} | {:>9.4} |",
        r.plain.accuracy, r.plain.loss
    );
    println!(
        "| extracted | {:>13.4} | {:>9.4} |",
        r.extracted.accuracy, r.extracted.loss
    );
    println!();
    println!(
        "extracted weights bitwise equal to plain: {} ({} tensors, max |diff| {:e})",
        if r.weights.bitwise_equal { "yes" } else { "NO" },
        r.weights.tensors,
        r.weights.max_abs_diff
    );
    println!();
    println!("| stage                        | wall time (s) |");
    println!("|------------------------------|---------------|");
    for (name, v) in [
        ("load data", s.load_data),
        ("augment (owner)", s.augment),
        ("train augmented (cloud)", s.train_augmented),
        ("  of which training loop", s.train_augmented_loop),
        ("extract (owner)", s.extract),
        ("train plain (baseline)", s.train_plain),
        ("  of which training loop", s.train_plain_loop),
        ("evaluate both", s.evaluate),
    ] {
        println!("| {name:<28} | {v:>13.2} |");
    }
    println!();
    println!(
        "training overhead (augmented / plain training loop): {:.2}x with {} branches",
        r.training_overhead_ratio,
        r.decoys + 1
    );
    println!("report: {}", out.join("report.json").display());
}
