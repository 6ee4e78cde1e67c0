//! `amalgam augment` (owner side).

use std::path::Path;

use amalgam_core::data::LabelledSet;
use amalgam_owner::augment::{AugmentOptions, Augmentable, DecoyInputs, DecoySet, augment};
use amalgam_owner::data::{Dataset, SampleSource, load_dataset, open_idx_dataset};
use amalgam_owner::key::SecretKey;
use amalgam_owner::noise::NoiseKind;
use amalgam_owner::noise::interleave::fitting_amount;
use anyhow::{Result, bail};

use crate::args::{AugmentArgs, JobArgs, NoiseChoice, Task};
use crate::commands::original_data::{OriginalData, load};
use crate::progress;

/// Augmentation amount without `--amount`, for every noise kind but interleave.
const DEFAULT_AMOUNT: f64 = 0.25;

/// The augmenter's options from the command line.
pub fn options(job: &JobArgs) -> AugmentOptions {
    let (training, obfuscation, task) = (&job.training, &job.obfuscation, job.data.task);
    let default_noise = NoiseChoice::Interleave;
    AugmentOptions {
        architecture: training.model(task).architecture(),
        amount: obfuscation.amount.unwrap_or(DEFAULT_AMOUNT),
        noise: obfuscation.noise.unwrap_or(default_noise).into(),
        decoys: obfuscation.decoys,
        decoy_architecture: obfuscation.decoy_arch.into(),
        seed: training.seed,
        key_seed: obfuscation.key_seed.unwrap_or_else(rand::random),
        train: training.settings(),
        decoy_inputs: None,
    }
}

/// `options` completed for interleave noise: the decoy inputs (the set `decoy_data` loads
/// from `--decoy-data`, or the owner's own `dataset`) and, without `--amount`, the smallest
/// amount the views fit.
pub fn with_decoy_inputs<S>(
    mut options: AugmentOptions,
    job: &JobArgs,
    dataset: &Dataset<S>,
    decoy_data: impl FnOnce(&Path) -> Result<DecoySet>,
) -> Result<AugmentOptions>
where
    S: LabelledSet + Clone,
    Dataset<S>: Into<DecoySet>,
{
    if options.noise == NoiseKind::Interleave {
        if job.obfuscation.amount.is_none() {
            let views = options.decoys + 1;
            options.amount = fitting_amount(dataset.train.input(), views).ok_or_else(|| {
                anyhow::anyhow!(
                    "interleave noise: {views} views of {} do not fit any amount up to 4; use fewer --decoys",
                    dataset.train.input()
                )
            })?;
        }
        options.decoy_inputs = Some(match &job.obfuscation.decoy_data {
            Some(dir) => DecoyInputs::other(decoy_data(dir)?),
            None => DecoyInputs::own(dataset.clone()),
        });
    }
    Ok(options)
}

/// Decoy images from the directory `dir` (any format `--data` takes).
pub fn decoy_images(dir: &Path, job: &JobArgs) -> Result<DecoySet> {
    Ok(load_dataset(Some(dir), job.data.image_size)?.into())
}

/// Decoy texts from another table are refused. They would have to be tokenised with the
/// owner's vocabulary, which is learned from the owner's training split only, so their rare
/// words become `[UNK]` far more often than the owner's: measured on Rotten Tomatoes (2,049
/// owner reviews, 8,198 others as decoys), 17% of the decoy view's tokens were `[UNK]`
/// against 9% of the real view's, which names the real branch at a glance. A vocabulary
/// learned from both sets would close that, but `eval` re-learns the vocabulary from
/// `--data` alone.
pub fn no_decoy_texts(dir: &Path) -> Result<DecoySet> {
    bail!(
        "--decoy-data {}: not available for text. Decoy texts tokenised with the owner's \
         vocabulary (learned from the owner's training split) hold about twice the owner's \
         share of unknown words, which gives the real branch away; for text, interleave takes \
         its decoys from the owner's own set",
        dir.display()
    )
}

/// Augments `dataset` into the bundle and key of `args`, with a spinner.
fn augment_into<S: SampleSource<Chunk: Augmentable>>(
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
    // (Interleave noise draws decoy images at random, so it holds its decoy inputs in memory.)
    let streamed = match (args.job.data.task, args.job.data.data.as_deref()) {
        (Task::Image, Some(dir)) if options.noise != NoiseKind::Interleave => {
            open_idx_dataset(dir)?
        }
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
                OriginalData::Images(dataset) => {
                    let options = with_decoy_inputs(options.clone(), &args.job, dataset, |dir| {
                        decoy_images(dir, &args.job)
                    })?;
                    augment_into(dataset, &options, &args)?
                }
                OriginalData::Text(text) => {
                    let options = with_decoy_inputs(
                        options.clone(),
                        &args.job,
                        &text.dataset,
                        no_decoy_texts,
                    )?;
                    augment_into(&text.dataset, &options, &args)?
                }
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
