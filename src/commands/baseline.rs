//! `amalgam baseline` (owner side).

use amalgam_core::files::check_new_dir;
use amalgam_owner::augment::Augmentable;
use amalgam_owner::baseline::train_baseline;
use amalgam_owner::data::{Dataset, SampleSource};
use amalgam_owner::model_dir::write_model_dir;
use amalgam_owner::plain_bundle::write_plain_bundle;
use amalgam_owner::setup::OwnerSetup;
use anyhow::Result;

use crate::args::BaselineArgs;
use crate::commands::original_data::{OriginalData, load};
use crate::progress;

fn train_into<S: Augmentable + SampleSource<Chunk: Augmentable>>(
    dataset: &Dataset<S>,
    args: &BaselineArgs,
) -> Result<Option<f64>> {
    let training = &args.training;
    let setup = OwnerSetup::new(
        dataset,
        training.model(args.data.task).architecture(),
        &training.settings(),
        training.seed,
    )?;
    if args.as_bundle {
        write_plain_bundle(dataset, &setup, &args.out)?;
        return Ok(None);
    }
    check_new_dir(&args.out)?;
    let bar = progress::batches("plain");
    let outcome = train_baseline(dataset, &setup, &bar);
    bar.finish_and_clear();
    write_model_dir(&args.out, &setup.spec, &outcome.weights)?;
    Ok(Some(outcome.train_seconds))
}

pub fn run(args: BaselineArgs) -> Result<()> {
    let seconds = match load(&args.data)? {
        OriginalData::Images(dataset) => train_into(&dataset, &args)?,
        OriginalData::Text(text) => train_into(&text.dataset, &args)?,
    };
    match seconds {
        Some(seconds) => println!(
            "trained the plain model in {seconds:.1} s into {}",
            args.out.display()
        ),
        None => println!(
            "wrote the plain job as a bundle into {}",
            args.out.display()
        ),
    }
    Ok(())
}
