//! `amalgam augment` (owner side).

use amalgam_owner::augment::{AugmentOptions, augment};
use amalgam_owner::data::{Dataset, open_idx_dataset};
use amalgam_owner::key::SecretKey;
use amalgam_owner::source::SampleSource;
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
fn augment_into<S: SampleSource>(
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
    let options = options(&args.job);
    // IDX images are streamed from their files: memory does not grow with the data set.
    let streamed = match (args.job.data.task, args.job.data.data.as_deref()) {
        (Task::Image, Some(dir)) => open_idx_dataset(dir)?,
        _ => None,
    };
    let (key, described) = match streamed {
        Some(dataset) => (
            augment_into(&dataset, &options, &args)?,
            format!(
                "{} ({} train, {} test, streamed)",
                dataset.name,
                dataset.train.all_labels().len(),
                dataset.test.all_labels().len()
            ),
        ),
        None => {
            let data = load(&args.job.data)?;
            let key = match &data {
                OriginalData::Images(dataset) => augment_into(dataset, &options, &args)?,
                OriginalData::Text(text) => augment_into(&text.dataset, &options, &args)?,
            };
            (key, data.describe())
        }
    };
    println!(
        "bundle {}: {described}, {} augmented to {}, {} branches",
        args.bundle.display(),
        key.original.input,
        key.augmented,
        options.decoys + 1
    );
    println!("key    {} (keep it secret)", args.key.display());
    Ok(())
}
