//! `amalgam augment` (owner side).

use amalgam_owner::augment::{AugmentOptions, augment};
use amalgam_owner::data::{Dataset, load_dataset};
use anyhow::Result;

use crate::args::{AugmentArgs, DataArgs, JobArgs};
use crate::progress;

/// The augmenter's options from the command line.
pub fn options(job: &JobArgs) -> AugmentOptions {
    let (training, obfuscation) = (&job.training, &job.obfuscation);
    AugmentOptions {
        architecture: training.model.architecture(),
        amount: obfuscation.amount,
        noise: obfuscation.noise.into(),
        decoys: obfuscation.decoys,
        decoy_architecture: obfuscation.decoy_arch.into(),
        seed: training.seed,
        key_seed: obfuscation.key_seed.unwrap_or(training.seed),
        train: training.settings(),
    }
}

/// Loads the original data with a spinner.
pub fn load(data: &DataArgs) -> Result<Dataset> {
    let spinner = progress::step("reading the original data");
    let dataset = load_dataset(data.data.as_deref(), data.image_size);
    spinner.finish_and_clear();
    Ok(dataset?)
}

pub fn run(args: AugmentArgs) -> Result<()> {
    let dataset = load(&args.job.data)?;
    let options = options(&args.job);
    let spinner = progress::step("augmenting data and model");
    let key = augment(&dataset, &options, &args.bundle, &args.key);
    spinner.finish_and_clear();
    let key = key?;
    println!(
        "bundle {}: {} train + {} test samples of {} (original {}), {} branches",
        args.bundle.display(),
        dataset.train.len(),
        dataset.test.len(),
        key.augmented,
        key.original.input,
        options.decoys + 1
    );
    println!("key    {} (keep it secret)", args.key.display());
    Ok(())
}
