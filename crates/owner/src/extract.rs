//! The model extractor: with the key, pulls the trained original model out of the trained
//! augmented weights. It only renames tensors: the real branch's trained weights *are* the
//! trained original model.

use std::path::Path;

use amalgam_core::bundle::{FINGERPRINT_KEY, branch_prefix, branch_weights};
use amalgam_core::model::{ModelSpec, ParamSpec, Weights, check_shapes};
use amalgam_core::tensors::{Values, read_tensors};
use amalgam_core::{Error, Result};

use crate::key::SecretKey;
use crate::trained_torch::{is_torch_file, torch_fingerprint, torch_tensors};

/// The original model (spec and weights in PyTorch names) from the trained augmented weights
/// file `trained`, using `key` (read from `key_path`, named in errors). `trained` is a
/// safetensors file with the bundle fingerprint in its metadata (`amalgam train`, the PyTorch
/// runtime), or a `torch.save` file (`.pt`, `.pth`) holding `state_dict` and the fingerprint
/// (see [`crate::trained_torch`]).
///
/// # Errors
/// As [`read_trained_branch`].
pub fn extract(key: &SecretKey, key_path: &Path, trained: &Path) -> Result<(ModelSpec, Weights)> {
    let params = key.original.parameters();
    let weights = read_trained_branch(
        trained,
        key_path,
        &key.bundle_fingerprint,
        key.real_branch,
        &params,
    )?;
    Ok((key.original.clone(), weights))
}

/// The trained tensors `params` of branch `branch` (prefix removed) from the trained weights
/// file `trained` (safetensors or `torch.save`, as [`extract`] reads), checked against the
/// key's bundle `fingerprint` (the key read from `key_path`). Only that branch's tensors are
/// read; each is checked for shape and finite values.
///
/// # Errors
/// [`Error::File`] naming the key if the trained file comes from another bundle (the
/// fingerprints differ), or naming the trained file if it carries no fingerprint, is
/// malformed, or the branch's tensors are missing, mis-shaped or not finite.
pub fn read_trained_branch(
    trained: &Path,
    key_path: &Path,
    fingerprint: &str,
    branch: usize,
    params: &[ParamSpec],
) -> Result<Weights> {
    let prefix = branch_prefix(branch);
    let safetensors = if is_torch_file(trained) {
        None
    } else {
        // Mapped, and only the branch's tensors are read: the file's size (it comes
        // from the cloud) costs nothing beyond them.
        Some(read_tensors(trained, u64::MAX, |name| {
            name.starts_with(&prefix)
        })?)
    };
    let found = match &safetensors {
        Some(file) => file.metadata.get(FINGERPRINT_KEY).cloned(),
        None => torch_fingerprint(trained)?,
    };
    match found {
        Some(f) if f == fingerprint => {}
        Some(f) => {
            return Err(Error::file(
                key_path,
                format!(
                    "this key does not belong to the bundle {} was trained from (bundle fingerprint {f}, key's {})",
                    trained.display(),
                    fingerprint
                ),
            ));
        }
        None => {
            return Err(Error::file(
                trained,
                format!(
                    "carries no `{FINGERPRINT_KEY}` (safetensors metadata, or an entry beside `state_dict` in a torch.save file), so it cannot be tied to the key's bundle"
                ),
            ));
        }
    }
    let weights = match safetensors {
        Some(file) => branch_weights(&file.tensors, branch),
        None => {
            let wanted = params
                .iter()
                .map(|p| (format!("{prefix}{}", p.name), p.shape.as_slice()));
            let tensors = torch_tensors(trained, wanted)?;
            tensors
                .into_iter()
                .map(|(name, t)| (name[prefix.len()..].to_string(), t))
                .collect()
        }
    };
    check_shapes(
        &weights,
        params.iter().map(|p| (p.name.clone(), p.shape.as_slice())),
    )
    .map_err(|e| Error::file(trained, format!("branch {branch}: {e}")))?;
    if let Some((name, _)) = weights.iter().find(|(_, t)| match &t.values {
        Values::F32(v) => v.iter().any(|x| !x.is_finite()),
        _ => false,
    }) {
        return Err(Error::file(
            trained,
            format!(
                "branch {branch}: `{name}` holds NaN or infinite values (training diverged, or the weights were tampered with)"
            ),
        ));
    }
    Ok(weights)
}
