//! A server (`amalgam tempo worker`, `amalgam mixnn mix-node`, ...) started as a child of this
//! process on loopback, stopped when dropped.

use std::ffi::OsString;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use anyhow::{Context, Result, bail};

/// A child `amalgam` process that printed `listening on ADDR` first.
pub struct ChildServer {
    child: Child,
    /// The address it listens on.
    pub addr: String,
}

impl ChildServer {
    /// Runs `amalgam ARGS` with `stderr` and waits for its `listening on` line; `what` names
    /// it in errors.
    pub fn start(args: &[OsString], stderr: Stdio, what: &str) -> Result<Self> {
        let exe = std::env::current_exe().context("cannot find the amalgam executable")?;
        let mut child = Command::new(exe)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .with_context(|| format!("cannot start the {what} process"))?;
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        let Some(addr) = line.trim().strip_prefix("listening on ") else {
            let _ = child.kill();
            let _ = child.wait();
            bail!("the {what} did not start (it said {line:?})");
        };
        Ok(Self {
            addr: addr.to_string(),
            child,
        })
    }
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}
