//! One PrivyNet job in a directory: bundle and key, the cloud's training, extraction, and the
//! composed model's test accuracy.

use std::path::Path;
use std::time::Instant;

use amalgam_cloud::{TrainOptions, train_bundle};
use amalgam_core::model::{ModelSpec, Weights};
use amalgam_core::training::Evaluation;
use amalgam_owner::data::Dataset;
use amalgam_owner::model_dir::write_model_dir;
use amalgam_owner::privynet::{PrivynetKey, PrivynetOptions, extract, make_bundle};
use anyhow::Result;
use serde::Serialize;

use crate::commands::eval::evaluate_dir;
use crate::progress;

/// What one job gave and cost.
pub struct JobOutcome {
    /// The key (in `DIR/key`).
    pub key: PrivynetKey,
    /// The composed model's test accuracy and loss.
    pub privynet: Evaluation,
    /// What it cost.
    pub cost: JobCost,
}

/// Sizes and wall times of a job.
#[derive(Serialize, Debug, Default, Clone, Copy)]
pub struct JobCost {
    /// Bytes of the bundle: everything sent to the cloud.
    pub bundle_bytes: u64,
    /// Running the local part and writing bundle and key, seconds.
    pub augment_seconds: f64,
    /// The cloud's training loop, seconds.
    pub cloud_seconds: f64,
    /// Extraction, seconds.
    pub extract_seconds: f64,
}

/// Total size in bytes of the files in `dir`.
pub fn dir_bytes(dir: &Path) -> Result<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir(dir)? {
        total += entry?.metadata()?.len();
    }
    Ok(total)
}

/// Makes the bundle and key of `private` split from `pretrained` as `options` says, trains
/// the bundle as the cloud would, extracts the composed model and evaluates it on the test
/// split: `dir/bundle`, `dir/key`, `dir/trained.safetensors`, `dir/train-log.jsonl`,
/// `dir/extracted`.
pub fn run_job(
    private: &Dataset,
    pretrained: &(ModelSpec, Weights),
    options: &PrivynetOptions,
    dir: &Path,
) -> Result<JobOutcome> {
    let mut cost = JobCost::default();
    let spinner = progress::step("running the local part on the private images");
    let start = Instant::now();
    let key = make_bundle(
        private,
        &pretrained.0,
        &pretrained.1,
        options,
        &dir.join("bundle"),
        &dir.join("key"),
    );
    spinner.finish_and_clear();
    let key = key?;
    cost.augment_seconds = start.elapsed().as_secs_f64();
    cost.bundle_bytes = dir_bytes(&dir.join("bundle"))?;

    let bar = progress::batches("cloud");
    let summary = train_bundle(
        &dir.join("bundle"),
        &dir.join("trained.safetensors"),
        &dir.join("train-log.jsonl"),
        &bar,
        TrainOptions::default(),
    );
    bar.finish_and_clear();
    cost.cloud_seconds = summary?.train_seconds;

    let start = Instant::now();
    let (read_key, local) = PrivynetKey::read(&dir.join("key"))?;
    let (spec, weights) = extract(
        &read_key,
        &local,
        &dir.join("key"),
        &dir.join("trained.safetensors"),
    )?;
    write_model_dir(&dir.join("extracted"), &spec, &weights)?;
    cost.extract_seconds = start.elapsed().as_secs_f64();
    let privynet = evaluate_dir(&dir.join("extracted"), &private.test, None)?;
    Ok(JobOutcome {
        key,
        privynet,
        cost,
    })
}
