//! `amalgam privynet augment` (owner).

use amalgam_owner::data::TrainingPart;
use amalgam_owner::model_dir::read_model_dir;
use amalgam_owner::privynet::make_bundle;
use anyhow::Result;

use super::args::PrivynetAugmentArgs;
use super::options;
use crate::commands::load_images;
use crate::progress;

pub fn run(args: PrivynetAugmentArgs) -> Result<()> {
    let (pretrained, weights) = read_model_dir(&args.pretrained)?;
    let options = options(&pretrained, &args.split, &args.training, false)?;
    let part: TrainingPart = args.split.private.into();
    let private = part.of(&load_images(&args.data)?)?;
    let spinner = progress::step("running the local part on the private images");
    let key = make_bundle(
        &private,
        &pretrained,
        &weights,
        &options,
        &args.bundle,
        &args.key,
    );
    spinner.finish_and_clear();
    let key = key?;
    let (point, kept) = key.split();
    println!(
        "bundle {}: {} ({} train, {} test), the {} split at point {point}, {} of its channels kept",
        args.bundle.display(),
        private.name,
        private.train.labels.len(),
        private.test.labels.len(),
        pretrained.architecture.name(),
        kept.len()
    );
    println!("key    {} (keep it secret)", args.key.display());
    Ok(())
}
