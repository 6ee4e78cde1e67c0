//! `amalgam mixnn`: the MixNN scheme's commands.

pub mod args;
pub mod attack;
mod node;
pub mod nodes;
mod run;
mod train;

use std::path::PathBuf;
use std::time::Duration;

use amalgam_owner::mixnn::MixnnOptions;
use anyhow::Result;

use crate::commands::key_file;
use args::{MixnnCommand, RouteArgs};

pub fn run(command: MixnnCommand) -> Result<()> {
    match command {
        MixnnCommand::MixNode(a) => node::mix_node(a),
        MixnnCommand::LayerHost(a) => node::layer_host(a),
        MixnnCommand::OwnerKey(a) => {
            key_file::create(&a.out)?;
            println!(
                "owner key written to {} (mode 0600); give each layer host a copy",
                a.out.display()
            );
            Ok(())
        }
        MixnnCommand::Train(a) => train::run(a),
        MixnnCommand::Run(a) => run::run(a),
        MixnnCommand::Attack(a) => attack::run(a),
    }
}

/// The owner's options from the command line; `owner_key` authenticates the set-ups.
fn options(
    route: &RouteArgs,
    owner_key: Option<[u8; 32]>,
    checkpoint: Option<PathBuf>,
    resume: bool,
) -> MixnnOptions {
    MixnnOptions {
        owner_key,
        listen: route.owner_listen.clone(),
        route_mixes: route.route_mixes,
        step_timeout: Duration::from_secs(route.step_timeout),
        retries: route.retries,
        checkpoint,
        resume,
    }
}
