//! Mix nodes and layer hosts started as child processes on loopback (for `amalgam mixnn run`
//! and the tests), each with its key, card and log in one directory.

use std::ffi::OsString;
use std::fs::File;
use std::path::{Path, PathBuf};

use amalgam_owner::mixnn::Directory;
use anyhow::{Context, Result};

use crate::commands::child_server::ChildServer;

/// The running nodes; dropping this stops them.
pub struct LocalNodes {
    _children: Vec<ChildServer>,
    /// Their cards.
    pub directory: Directory,
}

/// Starts `amalgam mixnn ROLE` as `dir/NAME.{key,json,log}` with `extra` arguments.
pub fn start_node(
    dir: &Path,
    role: &str,
    name: &str,
    extra: &[String],
) -> Result<(ChildServer, PathBuf)> {
    let card = dir.join(format!("{name}.json"));
    let log = File::create(dir.join(format!("{name}.log")))
        .with_context(|| format!("cannot create the log of {name}"))?;
    let mut args: Vec<OsString> = vec!["mixnn".into(), role.into(), "--key".into()];
    args.push(dir.join(format!("{name}.key")).into());
    args.push("--card".into());
    args.push(card.clone().into());
    args.extend(extra.iter().map(Into::into));
    Ok((ChildServer::start(&args, log.into(), name)?, card))
}

/// Starts `mixes` mix nodes (each with `mix_args`) and `hosts` layer hosts (each with
/// `host_args`) in `dir`.
pub fn start_local(
    dir: &Path,
    mixes: usize,
    hosts: usize,
    mix_args: &[String],
    host_args: &[String],
) -> Result<LocalNodes> {
    let mut children = Vec::new();
    let (mut mix_cards, mut host_cards) = (Vec::new(), Vec::new());
    for i in 0..mixes {
        let (child, card) = start_node(dir, "mix-node", &format!("mix-{i}"), mix_args)?;
        children.push(child);
        mix_cards.push(card);
    }
    for i in 0..hosts {
        let (child, card) = start_node(dir, "layer-host", &format!("host-{i}"), host_args)?;
        children.push(child);
        host_cards.push(card);
    }
    Ok(LocalNodes {
        _children: children,
        directory: Directory::read(&mix_cards, &host_cards)?,
    })
}
