//! The pre-shared key file: 32 bytes as 64 hex digits, mode 0600.

use std::path::Path;

use amalgam_core::files::{SECRET_MODE, read_at_most, write_atomic_with_mode};
use amalgam_core::tempo::PSK_BYTES;
use anyhow::{Context, Result, bail};
use rand::RngCore;

use super::args::PskArgs;

/// Writes a fresh key to `path` (which must not exist).
pub fn create(path: &Path) -> Result<[u8; PSK_BYTES]> {
    if path.exists() {
        bail!(
            "{}: already exists; a new key would lock out its worker",
            path.display()
        );
    }
    let mut psk = [0u8; PSK_BYTES];
    rand::rng().fill_bytes(&mut psk);
    let hex: String = psk.iter().map(|b| format!("{b:02x}")).collect();
    write_atomic_with_mode(path, format!("{hex}\n").as_bytes(), SECRET_MODE)?;
    Ok(psk)
}

/// Reads the key at `path`.
pub fn read(path: &Path) -> Result<[u8; PSK_BYTES]> {
    let bytes = read_at_most(path, 1024)?;
    let text = std::str::from_utf8(&bytes).unwrap_or("").trim();
    let digits = |i: usize| {
        text.get(2 * i..2 * i + 2)
            .and_then(|d| u8::from_str_radix(d, 16).ok())
    };
    let mut psk = [0u8; PSK_BYTES];
    for (i, byte) in psk.iter_mut().enumerate() {
        *byte = digits(i)
            .filter(|_| text.len() == 2 * PSK_BYTES)
            .with_context(|| {
                format!(
                    "{}: a key file holds {} hex digits",
                    path.display(),
                    2 * PSK_BYTES
                )
            })?;
    }
    Ok(psk)
}

pub fn run(args: PskArgs) -> Result<()> {
    create(&args.out)?;
    println!(
        "key written to {} (mode 0600); copy it to the worker's machine",
        args.out.display()
    );
    Ok(())
}
