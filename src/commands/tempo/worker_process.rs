//! A worker started as a child process on loopback, stopped when dropped.

use std::path::Path;
use std::process::Stdio;

use anyhow::Result;

use crate::commands::child_server::ChildServer;

/// Starts `amalgam tempo worker` on a free loopback port with the key at `psk`, for one
/// session.
pub fn start_worker(psk: &Path, timeout_seconds: u64) -> Result<ChildServer> {
    let args = [
        "tempo",
        "worker",
        "--listen",
        "127.0.0.1:0",
        "--sessions",
        "1",
        "--psk",
    ]
    .map(Into::into)
    .into_iter()
    .chain([
        psk.as_os_str().to_owned(),
        "--timeout".into(),
        timeout_seconds.to_string().into(),
    ])
    .collect::<Vec<_>>();
    ChildServer::start(&args, Stdio::inherit(), "worker")
}
