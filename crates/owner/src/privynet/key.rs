//! The PrivyNet key: what only the owner holds. A directory (mode 0700) of two files, each
//! mode 0600:
//!
//! | file | content |
//! | --- | --- |
//! | `key.json` | [`PrivynetKey`]: the bundle's fingerprint and the composed model's spec (pre-trained architecture and normalisation, split point, kept channels, classes) |
//! | `local.safetensors` | the local part's weights (the pre-trained network's first stages, PyTorch names) |

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use amalgam_core::files::{SECRET_MODE, read_json, write_atomic_with_mode};
use amalgam_core::model::split::{Split, SplitPart};
use amalgam_core::model::{ModelSpec, SPEC_FORMAT_VERSION, Weights, check_shapes};
use amalgam_core::tensors::{TensorFile, read_tensor_file, write_tensor_file};
use amalgam_core::{Error, Result};
use serde::{Deserialize, Serialize};

/// File name of the key's JSON part.
pub const KEY_FILE: &str = "key.json";
/// File name of the local part's weights.
pub const LOCAL_WEIGHTS_FILE: &str = "local.safetensors";

/// The owner's secret for one PrivyNet bundle (`key.json`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PrivynetKey {
    /// Format version ([`SPEC_FORMAT_VERSION`]).
    pub format_version: u32,
    /// Always `privynet`: tells this key from an Amalgam key.
    pub scheme: String,
    /// Fingerprint of the bundle this key belongs to ([`amalgam_core::bundle::fingerprint`]).
    pub bundle_fingerprint: String,
    /// The composed model ([`SplitPart::Composed`]): it names the split point and the kept
    /// channels.
    pub model: ModelSpec,
}

/// The `scheme` of every PrivyNet key.
pub const SCHEME: &str = "privynet";

impl PrivynetKey {
    /// The split point and the kept channels.
    pub fn split(&self) -> (usize, &[u32]) {
        match &self.model.split {
            Some(Split {
                point,
                part: SplitPart::Composed { kept_channels },
            }) => (*point, kept_channels),
            _ => unreachable!("read and made keys hold a composed model"),
        }
    }

    /// The local part's spec.
    pub fn local_spec(&self) -> ModelSpec {
        let (point, _) = self.split();
        ModelSpec {
            split: Some(Split {
                point,
                part: SplitPart::Local,
            }),
            ..self.model.clone()
        }
    }

    /// Writes the key and the local part's `local_weights` into the staging directory `dir`,
    /// each file mode 0600.
    ///
    /// # Errors
    /// [`Error::File`] naming a file that cannot be written.
    pub fn write_into(&self, dir: &Path, local_weights: &Weights) -> Result<()> {
        let mut text = serde_json::to_vec_pretty(self).expect("a key always encodes");
        text.push(b'\n');
        write_atomic_with_mode(&dir.join(KEY_FILE), &text, SECRET_MODE)?;
        let weights = dir.join(LOCAL_WEIGHTS_FILE);
        write_tensor_file(
            &weights,
            &TensorFile {
                tensors: local_weights.clone(),
                metadata: Default::default(),
            },
        )?;
        fs::set_permissions(&weights, fs::Permissions::from_mode(SECRET_MODE))
            .map_err(|e| Error::file(&weights, format!("cannot make it private: {e}")))
    }

    /// Reads and checks the key directory `dir`: the key and the local part's weights.
    ///
    /// # Errors
    /// [`Error::File`] naming the missing, malformed or inconsistent file.
    pub fn read(dir: &Path) -> Result<(Self, Weights)> {
        let path = dir.join(KEY_FILE);
        let key: PrivynetKey = read_json(&path)?;
        if key.format_version != SPEC_FORMAT_VERSION || key.scheme != SCHEME {
            return Err(Error::file(
                &path,
                format!(
                    "not a PrivyNet key of format {SPEC_FORMAT_VERSION} (scheme `{}`, format_version {})",
                    key.scheme, key.format_version
                ),
            ));
        }
        key.model.validate().map_err(|e| Error::file(&path, e))?;
        if !matches!(
            key.model.split,
            Some(Split {
                part: SplitPart::Composed { .. },
                ..
            })
        ) {
            return Err(Error::file(
                &path,
                "its model is not a composed split model (split point and kept channels)",
            ));
        }
        let weights_path = dir.join(LOCAL_WEIGHTS_FILE);
        let weights = read_tensor_file(&weights_path)?.tensors;
        let params = key.local_spec().parameters();
        check_shapes(
            &weights,
            params.iter().map(|p| (p.name.clone(), p.shape.as_slice())),
        )
        .map_err(|e| Error::file(&weights_path, format!("local part: {e}")))?;
        Ok((key, weights))
    }
}
