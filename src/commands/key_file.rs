//! Secret key files: 32 random bytes as 64 hex digits, mode 0600 (Tempo's pre-shared key,
//! MixNN's owner key).

use std::path::Path;

use amalgam_core::files::{SECRET_MODE, read_at_most, write_atomic_with_mode};
use anyhow::{Context, Result, bail};
use rand::RngCore;

/// Bytes of a key.
pub const KEY_BYTES: usize = 32;

/// Writes a fresh key to `path` (which must not exist).
pub fn create(path: &Path) -> Result<[u8; KEY_BYTES]> {
    if path.exists() {
        bail!(
            "{}: already exists; a new key would lock out whoever holds this one",
            path.display()
        );
    }
    let mut key = [0u8; KEY_BYTES];
    rand::rng().fill_bytes(&mut key);
    let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
    write_atomic_with_mode(path, format!("{hex}\n").as_bytes(), SECRET_MODE)?;
    Ok(key)
}

/// Reads the key at `path`.
pub fn read(path: &Path) -> Result<[u8; KEY_BYTES]> {
    let bytes = read_at_most(path, 1024)?;
    let text = std::str::from_utf8(&bytes).unwrap_or("").trim();
    let digits = |i: usize| {
        text.get(2 * i..2 * i + 2)
            .and_then(|d| u8::from_str_radix(d, 16).ok())
    };
    let mut key = [0u8; KEY_BYTES];
    for (i, byte) in key.iter_mut().enumerate() {
        *byte = digits(i)
            .filter(|_| text.len() == 2 * KEY_BYTES)
            .with_context(|| {
                format!(
                    "{}: a key file holds {} hex digits",
                    path.display(),
                    2 * KEY_BYTES
                )
            })?;
    }
    Ok(key)
}
