//! `amalgam privynet pretrain` (owner, once).

use amalgam_core::files::check_new_dir;
use amalgam_core::model::{ModelSpec, Weights};
use amalgam_owner::baseline::train_baseline;
use amalgam_owner::data::Dataset;
use amalgam_owner::data::TrainingPart;
use amalgam_owner::model_dir::{read_model_dir, write_model_dir};
use amalgam_owner::setup::OwnerSetup;
use anyhow::Result;
use std::path::Path;

use super::architecture;
use super::args::PretrainArgs;
use crate::args::TrainingArgs;
use crate::commands::load_images;
use crate::progress;

/// Trains the whole network of `training` on `public` into the model directory `out`;
/// returns the training loop's seconds.
pub fn pretrain(public: &Dataset, training: &TrainingArgs, out: &Path) -> Result<f64> {
    check_new_dir(out)?;
    let setup = OwnerSetup::new(
        public,
        architecture(training),
        &training.settings(),
        training.seed,
    )?;
    let bar = progress::batches("pre-train");
    let outcome = train_baseline(public, &setup, &bar);
    bar.finish_and_clear();
    write_model_dir(out, &setup.spec, &outcome.weights)?;
    Ok(outcome.train_seconds)
}

/// The pre-trained network: read from `given`, or pre-trained on the `public_part` of `data`
/// into `dir/pretrained` (with a warning if it may overlap the `private_part`); and the
/// seconds pre-training took.
pub fn pretrained_or_train(
    given: Option<&Path>,
    data: &Dataset,
    public_part: TrainingPart,
    private_part: TrainingPart,
    training: &TrainingArgs,
    dir: &Path,
) -> Result<((ModelSpec, Weights), f64)> {
    let (source, seconds) = match given {
        Some(source) => (source.to_path_buf(), 0.0),
        None => {
            if public_part != TrainingPart::FirstHalf || private_part != TrainingPart::SecondHalf {
                eprintln!(
                    "warning: pre-training on the {} and training privately on the {} of the same data set: the parts may overlap",
                    public_part.describe(),
                    private_part.describe()
                );
            }
            let target = dir.join("pretrained");
            let seconds = pretrain(&public_part.of(data)?, training, &target)?;
            (target, seconds)
        }
    };
    Ok((read_model_dir(&source)?, seconds))
}

pub fn run(args: PretrainArgs) -> Result<()> {
    let part: TrainingPart = args.public.into();
    let public = part.of(&load_images(&args.data)?)?;
    let seconds = pretrain(&public, &args.training, &args.out)?;
    println!(
        "pre-trained {} on {} ({} samples) in {seconds:.1} s into {}",
        architecture(&args.training).name(),
        public.name,
        public.train.labels.len(),
        args.out.display()
    );
    Ok(())
}
