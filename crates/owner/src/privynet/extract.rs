//! The owner's last step: the composed model from the trained cloud part and the key.

use std::path::Path;

use amalgam_core::Result;
use amalgam_core::model::{ModelSpec, ParamSpec, Weights};

use super::key::PrivynetKey;
use crate::extract::read_trained_branch;

/// The composed model (spec and weights, PyTorch names): the key's local part, its kept
/// channels, and the cloud part's trained weights (every tensor of the composed model that
/// the local part does not hold) from `trained` (the bundle's only branch;
/// a safetensors or `torch.save` file as [`crate::extract::extract`] reads).
///
/// # Errors
/// As [`read_trained_branch`]: a trained file from another bundle (the key in `key_dir` is
/// named), or one that is malformed, mis-shaped or not finite.
pub fn extract(
    key: &PrivynetKey,
    local_weights: &Weights,
    key_dir: &Path,
    trained: &Path,
) -> Result<(ModelSpec, Weights)> {
    let cloud_params: Vec<ParamSpec> = key
        .model
        .parameters()
        .into_iter()
        .filter(|p| !local_weights.contains_key(&p.name))
        .collect();
    let mut weights = read_trained_branch(
        trained,
        &key_dir.join(super::key::KEY_FILE),
        &key.bundle_fingerprint,
        0,
        &cloud_params,
    )?;
    weights.extend(local_weights.clone());
    Ok((key.model.clone(), weights))
}
