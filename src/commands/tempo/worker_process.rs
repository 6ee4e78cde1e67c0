//! A worker started as a child process on loopback, stopped when dropped.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use anyhow::{Context, Result, bail};

/// `amalgam tempo worker` running as a child of this process.
pub struct WorkerProcess {
    child: Child,
    /// The address it listens on.
    pub addr: String,
}

impl WorkerProcess {
    /// Starts a worker on a free loopback port with the key at `psk`, for one session.
    pub fn start(psk: &Path, timeout_seconds: u64) -> Result<Self> {
        let exe = std::env::current_exe().context("cannot find the amalgam executable")?;
        let mut child = Command::new(exe)
            .args([
                "tempo",
                "worker",
                "--listen",
                "127.0.0.1:0",
                "--sessions",
                "1",
            ])
            .arg("--psk")
            .arg(psk)
            .args(["--timeout", &timeout_seconds.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .context("cannot start the worker process")?;
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        let Some(addr) = line.trim().strip_prefix("listening on ") else {
            let _ = child.kill();
            let _ = child.wait();
            bail!("the worker did not start (it said {line:?})");
        };
        Ok(Self {
            addr: addr.to_string(),
            child,
        })
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}
