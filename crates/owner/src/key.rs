//! The secret key: what only the owner holds. It says which branch of the bundle is real,
//! where the real pixels are, and which bundle it belongs to.

use std::path::Path;

use amalgam_core::files::{SECRET_MODE, read_json, write_atomic_with_mode};
use amalgam_core::model::{InputShape, ModelSpec, SPEC_FORMAT_VERSION};
use amalgam_core::{Error, Result};
use serde::{Deserialize, Serialize};

use crate::noise::NoiseKind;

/// The owner's secret for one bundle (`key.json`, file mode 0600).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SecretKey {
    /// Format version ([`SPEC_FORMAT_VERSION`]).
    pub format_version: u32,
    /// Fingerprint of the bundle this key belongs to ([`amalgam_core::bundle::fingerprint`]).
    pub bundle_fingerprint: String,
    /// Index of the real branch among the bundle's branches.
    pub real_branch: usize,
    /// The original model.
    pub original: ModelSpec,
    /// Shape of the augmented samples.
    pub augmented: InputShape,
    /// Augmentation amount `a`.
    pub amount: f64,
    /// Noise distribution.
    pub noise: NoiseKind,
    /// Per channel, the sorted positions of the real pixels in the flattened `H' * W'` grid
    /// (text: one list, the real tokens' positions in the `L'` sequence).
    pub keep_indices: Vec<Vec<u32>>,
}

impl SecretKey {
    /// Writes the key to `path` atomically, readable by its owner only.
    ///
    /// # Errors
    /// [`Error::File`] naming `path` if it cannot be written.
    pub fn write(&self, path: &Path) -> Result<()> {
        let mut text = serde_json::to_vec_pretty(self).expect("a key always encodes");
        text.push(b'\n');
        write_atomic_with_mode(path, &text, SECRET_MODE)
    }

    /// Per channel, whether each position of the augmented grid is noise (not a keep index).
    pub fn noise_mask(&self) -> Vec<Vec<bool>> {
        let grid = self.augmented.positions();
        self.keep_indices
            .iter()
            .map(|keep| {
                let mut noise = vec![true; grid];
                for &k in keep {
                    if let Some(slot) = noise.get_mut(k as usize) {
                        *slot = false;
                    }
                }
                noise
            })
            .collect()
    }

    /// Reads and checks a key.
    ///
    /// # Errors
    /// [`Error::File`] naming `path` if it is missing, not a key, or inconsistent.
    pub fn read(path: &Path) -> Result<Self> {
        let key: SecretKey = read_json(path)?;
        if key.format_version != SPEC_FORMAT_VERSION {
            return Err(Error::file(
                path,
                format!("key format_version {} is not supported", key.format_version),
            ));
        }
        key.original.validate().map_err(|e| Error::file(path, e))?;
        key.augmented
            .check_size()
            .map_err(|e| Error::file(path, e))?;
        let (original, grid) = (key.original.input, key.augmented.positions());
        let fits = key.keep_indices.len() == original.channels()
            && key.keep_indices.iter().all(|k| {
                k.len() == original.positions()
                    && k.windows(2).all(|w| w[0] < w[1])
                    && k.last().is_none_or(|&last| (last as usize) < grid)
            });
        if !fits {
            return Err(Error::file(
                path,
                format!(
                    "its keep indices do not map {} onto {original} sorted distinct positions per channel",
                    key.augmented
                ),
            ));
        }
        Ok(key)
    }
}
