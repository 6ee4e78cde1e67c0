//! `amalgam tempo worker`: the untrusted worker's server.

use std::io::Write;
use std::time::Duration;

use amalgam_cloud::tempo::{Worker, serve};
use amalgam_core::backend::inference_device;
use amalgam_core::tempo::NoiseListener;
use anyhow::Result;

use super::args::WorkerArgs;
use crate::commands::key_file;

pub fn run(args: WorkerArgs) -> Result<()> {
    let psk = key_file::read(&args.psk)?;
    let listener = NoiseListener::bind(&args.listen, psk, Duration::from_secs(args.timeout))?;
    println!("listening on {}", listener.local_addr()?);
    std::io::stdout().flush()?;
    let mut served = 0;
    while args.sessions.is_none_or(|n| served < n) {
        served += 1;
        match listener.accept() {
            Ok(mut session) => {
                eprintln!("session {served}: started");
                let mut worker = Worker::new(&inference_device());
                match serve(&mut worker, &mut session) {
                    Ok(()) => eprintln!("session {served}: ended"),
                    Err(e) => eprintln!("session {served}: {e}"),
                }
            }
            Err(e) => eprintln!("session {served}: refused: {e}"),
        }
    }
    Ok(())
}
