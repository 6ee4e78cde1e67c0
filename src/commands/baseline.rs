//! `amalgam baseline` (owner side).

use amalgam_core::files::check_new_dir;
use amalgam_owner::baseline::train_baseline;
use amalgam_owner::model_dir::write_model_dir;
use amalgam_owner::setup::OwnerSetup;
use anyhow::Result;

use crate::args::BaselineArgs;
use crate::commands::augment::load;
use crate::progress;

pub fn run(args: BaselineArgs) -> Result<()> {
    let dataset = load(&args.data)?;
    let setup = OwnerSetup::new(
        &dataset,
        args.training.model.architecture(),
        &args.training.settings(),
        args.training.seed,
    )?;
    check_new_dir(&args.out)?;
    let bar = progress::batches("plain");
    let outcome = train_baseline(&dataset, &setup, &bar);
    bar.finish_and_clear();
    write_model_dir(&args.out, &setup.spec, &outcome.weights)?;
    println!(
        "trained the plain model in {:.1} s into {}",
        outcome.train_seconds,
        args.out.display()
    );
    Ok(())
}
