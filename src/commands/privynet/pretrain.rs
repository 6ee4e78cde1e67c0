//! `amalgam privynet pretrain` (owner, once).

use amalgam_core::files::check_new_dir;
use amalgam_owner::baseline::train_baseline;
use amalgam_owner::data::Dataset;
use amalgam_owner::model_dir::write_model_dir;
use amalgam_owner::privynet::TrainingPart;
use amalgam_owner::setup::OwnerSetup;
use anyhow::Result;
use std::path::Path;

use super::args::PretrainArgs;
use super::{architecture, load_images};
use crate::args::TrainingArgs;
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
