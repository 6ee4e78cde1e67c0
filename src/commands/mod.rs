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
pub mod shadow;
pub mod tempo;
pub mod train;

use amalgam_owner::data::{Dataset, load_dataset};
use amalgam_owner::setup::OwnerSetup;
use anyhow::{Result, bail};

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
