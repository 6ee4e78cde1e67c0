//! `amalgam tempo psk`: a fresh pre-shared key file (see `commands::key_file`).

use anyhow::Result;

use super::args::PskArgs;
use crate::commands::key_file;

pub fn run(args: PskArgs) -> Result<()> {
    key_file::create(&args.out)?;
    println!(
        "key written to {} (mode 0600); copy it to the worker's machine",
        args.out.display()
    );
    Ok(())
}
