//! `amalgam augment` (owner side).

use amalgam_owner::augment::{AugmentOptions, Augmentable, augment};
use amalgam_owner::data::Dataset;
use amalgam_owner::key::SecretKey;
use anyhow::Result;

use crate::args::{AugmentArgs, JobArgs, NoiseChoice, Task};
use crate::commands::original_data::{OriginalData, load};
use crate::progress;

/// The augmenter's options from the command line.
pub fn options(job: &JobArgs) -> AugmentOptions {
    let (training, obfuscation, task) = (&job.training, &job.obfuscation, job.data.task);
    let default_noise = match task {
        Task::Image => NoiseChoice::Uniform,
        Task::Text => NoiseChoice::Unigram,
    };
    AugmentOptions {
        architecture: training.model(task).architecture(),
        amount: obfuscation.amount,
        noise: obfuscation.noise.unwrap_or(default_noise).into(),
        decoys: obfuscation.decoys,
        decoy_architecture: obfuscation.decoy_arch.into(),
        seed: training.seed,
        key_seed: obfuscation.key_seed.unwrap_or(training.seed),
        train: training.settings(),
    }
}

/// Augments `dataset` into the bundle and key of `args`, with a spinner.
fn augment_into<S: Augmentable>(
    dataset: &Dataset<S>,
    options: &AugmentOptions,
    args: &AugmentArgs,
) -> Result<SecretKey> {
    let spinner = progress::step("augmenting data and model");
    let key = augment(dataset, options, &args.bundle, &args.key);
    spinner.finish_and_clear();
    Ok(key?)
}

pub fn run(args: AugmentArgs) -> Result<()> {
    let data = load(&args.job.data)?;
    let options = options(&args.job);
    let key = match &data {
        OriginalData::Images(dataset) => augment_into(dataset, &options, &args)?,
        OriginalData::Text(text) => augment_into(&text.dataset, &options, &args)?,
    };
    println!(
        "bundle {}: {} augmented to {}, {} branches",
        args.bundle.display(),
        data.describe(),
        key.augmented,
        options.decoys + 1
    );
    println!("key    {} (keep it secret)", args.key.display());
    Ok(())
}
