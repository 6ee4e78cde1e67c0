//! The model extractor: with the key, pulls the trained original model out of the trained
//! augmented weights. It only renames tensors: the real branch's trained weights *are* the
//! trained original model.

use std::path::Path;

use amalgam_core::bundle::{FINGERPRINT_KEY, branch_weights};
use amalgam_core::model::{ModelSpec, Weights, check_shapes};
use amalgam_core::tensors::read_tensor_file;
use amalgam_core::{Error, Result};

use crate::key::SecretKey;

/// The original model (spec and weights in PyTorch names) from the trained augmented weights
/// file `trained`, using `key` (read from `key_path`, named in errors).
///
/// # Errors
/// [`Error::File`] naming the key if the trained file comes from another bundle (the
/// fingerprints differ), or naming the trained file if it is malformed or the real branch's
/// tensors are missing or mis-shaped.
pub fn extract(key: &SecretKey, key_path: &Path, trained: &Path) -> Result<(ModelSpec, Weights)> {
    let file = read_tensor_file(trained)?;
    match file.metadata.get(FINGERPRINT_KEY) {
        Some(f) if *f == key.bundle_fingerprint => {}
        Some(f) => {
            return Err(Error::file(
                key_path,
                format!(
                    "this key does not belong to the bundle {} was trained from (bundle fingerprint {f}, key's {})",
                    trained.display(),
                    key.bundle_fingerprint
                ),
            ));
        }
        None => {
            return Err(Error::file(
                trained,
                format!("has no `{FINGERPRINT_KEY}` metadata; not written by `amalgam train`"),
            ));
        }
    }
    let weights = branch_weights(&file.tensors, key.real_branch);
    let params = key.original.parameters();
    check_shapes(
        &weights,
        params.iter().map(|p| (p.name.clone(), p.shape.as_slice())),
    )
    .map_err(|e| Error::file(trained, format!("real branch: {e}")))?;
    Ok((key.original.clone(), weights))
}
