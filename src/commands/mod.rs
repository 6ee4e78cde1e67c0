//! One module per subcommand.

pub mod audit;
pub mod audit_sweep;
pub mod augment;
pub mod baseline;
pub mod child_server;
pub mod compare;
pub mod eval;
pub mod extract;
pub mod key_file;
pub mod mixnn;
pub mod original_data;
pub mod privynet;
pub mod run;
pub mod scheme_report;
pub mod shadow;
pub mod tempo;
pub mod train;

use amalgam_owner::data::{Dataset, load_dataset};
use amalgam_owner::setup::OwnerSetup;
use std::path::{Path, PathBuf};

use amalgam_core::files::check_new_dir;
use amalgam_core::model::{ModelSpec, Weights};
use amalgam_core::training::EpochLog;
use amalgam_owner::model_dir::write_model_dir;
use anyhow::{Context, Result, bail};

use crate::args::{DataArgs, Task, TrainingArgs};
use crate::progress;

/// Loads the image data set of `data` (PrivyNet and Tempo train image networks only).
pub fn load_images(data: &DataArgs) -> Result<Dataset> {
    if data.task != Task::Image {
        bail!(
            "this scheme trains image networks (MLP, LeNet, ResNet, VGG); --task text is not supported"
        );
    }
    let spinner = progress::step("reading the data");
    let dataset = load_dataset(data.data.as_deref(), data.image_size);
    spinner.finish_and_clear();
    Ok(dataset?)
}

/// The image model of `training` (LeNet by default), its initial weights and its training
/// config, for `data` (PrivyNet's cloud part aside, the schemes that train image networks in
/// the owner's process: Tempo, MixNN).
pub fn image_setup(data: &Dataset, training: &TrainingArgs) -> Result<OwnerSetup> {
    Ok(OwnerSetup::new(
        data,
        training.model(Task::Image).architecture(),
        &training.settings(),
        training.seed,
    )?)
}

/// `OUT.checkpoint`: where a run that writes the model directory `out` keeps its checkpoints
/// (Tempo, MixNN); refuses an earlier run's unless `resume`, and an existing `out`.
pub fn owner_checkpoint(out: &Path, resume: bool) -> Result<PathBuf> {
    check_new_dir(out)?;
    let mut checkpoint = out.to_path_buf().into_os_string();
    checkpoint.push(".checkpoint");
    let checkpoint = PathBuf::from(checkpoint);
    if !resume && checkpoint.exists() {
        bail!(
            "{}: a checkpoint of an earlier run is there; pass --resume to continue it, or remove it",
            checkpoint.display()
        );
    }
    Ok(checkpoint)
}

/// Writes the trained model directory `out`, removes the run's `checkpoint` and prints the
/// epochs' time and loss.
pub fn finish_owner_run(
    out: &Path,
    spec: &ModelSpec,
    weights: &Weights,
    checkpoint: &Path,
    epochs: &[EpochLog],
) -> Result<()> {
    write_model_dir(out, spec, weights)?;
    std::fs::remove_dir_all(checkpoint)
        .with_context(|| format!("cannot remove {}", checkpoint.display()))?;
    for epoch in epochs {
        println!(
            "epoch {:>3}  {:>7.1} s  loss {:.4}",
            epoch.epoch, epoch.seconds, epoch.branch_loss[0]
        );
    }
    Ok(())
}
