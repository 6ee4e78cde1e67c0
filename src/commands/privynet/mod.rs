//! `amalgam privynet`: the PrivyNet scheme's commands (the cloud trains its bundle with the
//! ordinary `amalgam train`).

pub mod args;
pub mod attack;
mod augment;
mod extract;
pub mod job;
pub mod pretrain;
mod run;
mod select;

use amalgam_core::bundle::Precision;
use amalgam_core::model::split::feature_channels;
use amalgam_core::model::{Architecture, ModelSpec};
use amalgam_owner::privynet::PrivynetOptions;
use anyhow::{Result, bail};

use crate::args::{Task, TrainingArgs};
use args::{PrivynetCommand, SplitArgs};

pub fn run(command: PrivynetCommand) -> Result<()> {
    match command {
        PrivynetCommand::Pretrain(a) => pretrain::run(a),
        PrivynetCommand::Augment(a) => augment::run(a),
        PrivynetCommand::Extract(a) => extract::run(a),
        PrivynetCommand::Attack(a) => attack::run(a),
        PrivynetCommand::Run(a) => run::run(a),
        PrivynetCommand::Select(a) => select::run(a),
    }
}

/// Parameters (BatchNorm statistics included) of the key's local part: what the owner stores
/// and runs.
fn local_parameters(key: &amalgam_owner::privynet::PrivynetKey) -> usize {
    key.local_spec()
        .parameters()
        .iter()
        .map(|p| p.shape.iter().product::<usize>())
        .sum()
}

/// The architecture to pre-train: `--model`, LeNet by default.
fn architecture(training: &TrainingArgs) -> Architecture {
    training.model(Task::Image).architecture()
}

/// The cloud part's options: the split of `split`, the hyper-parameters of `training`
/// (without crops and normalisation, which belong to pre-training when `for_run`; refused
/// otherwise), and `D` (half the feature map's channels by default).
pub fn options(
    pretrained: &ModelSpec,
    split: &SplitArgs,
    training: &TrainingArgs,
    for_run: bool,
) -> Result<PrivynetOptions> {
    if let Some(model) = training.model
        && model.architecture() != pretrained.architecture
    {
        bail!(
            "--model {model:?}: the network comes from the pre-trained model (a {}); drop --model",
            pretrained.architecture.name()
        );
    }
    let width = feature_channels(&pretrained.architecture, split.split)?;
    let mut train = training.settings();
    if for_run {
        train.crop_padding = 0;
        train.normalize = false;
    }
    Ok(PrivynetOptions {
        point: split.split,
        channels: split.channels.unwrap_or(width.div_ceil(2)),
        seed: training.seed,
        key_seed: split.key_seed.unwrap_or_else(rand::random),
        train,
        precision: if split.f16 {
            Precision::F16
        } else {
            Precision::F32
        },
    })
}
