//! A model directory: an original model as the owner keeps it, `model.json` ([`ModelSpec`])
//! and `model.safetensors` (PyTorch names and layout, e.g. `conv1.weight` `[6, 1, 5, 5]`,
//! `fc1.weight` `[120, 256]`).

use std::path::Path;

use amalgam_core::files::{StagingDir, read_json, write_json};
use amalgam_core::model::{Classifier, ModelSpec, Weights, check_shapes};
use amalgam_core::tensors::{TensorFile, read_tensor_file, write_tensor_file};
use amalgam_core::{Error, Result};
use burn::tensor::Device;

/// File name of the spec in a model directory.
pub const SPEC_FILE: &str = "model.json";
/// File name of the weights in a model directory.
pub const WEIGHTS_FILE: &str = "model.safetensors";

/// Writes a new model directory `dir` (it must not exist, or be empty).
///
/// # Errors
/// [`Error::File`] if `dir` is not empty or cannot be written.
pub fn write_model_dir(dir: &Path, spec: &ModelSpec, weights: &Weights) -> Result<()> {
    let staging = StagingDir::new(dir)?;
    write_json(&staging.path().join(SPEC_FILE), spec)?;
    write_tensor_file(
        &staging.path().join(WEIGHTS_FILE),
        &TensorFile {
            tensors: weights.clone(),
            metadata: Default::default(),
        },
    )?;
    staging.commit()?;
    Ok(())
}

/// Reads a model directory and checks that the weights fit the spec.
///
/// # Errors
/// [`Error::File`] naming the missing or malformed file.
pub fn read_model_dir(dir: &Path) -> Result<(ModelSpec, Weights)> {
    let spec_path = dir.join(SPEC_FILE);
    let spec: ModelSpec = read_json(&spec_path)?;
    spec.validate().map_err(|e| Error::file(&spec_path, e))?;
    let weights_path = dir.join(WEIGHTS_FILE);
    let weights = read_tensor_file(&weights_path)?.tensors;
    let params = spec.parameters();
    check_shapes(
        &weights,
        params.iter().map(|p| (p.name.clone(), p.shape.as_slice())),
    )
    .map_err(|e| Error::file(&weights_path, e))?;
    Ok((spec, weights))
}

/// Reads a model directory and builds its classifier on `device`.
///
/// # Errors
/// As [`read_model_dir`].
pub fn load_classifier(dir: &Path, device: &Device) -> Result<(ModelSpec, Classifier)> {
    let (spec, weights) = read_model_dir(dir)?;
    let classifier = Classifier::new(&spec, &weights, device)
        .map_err(|e| Error::file(dir.join(WEIGHTS_FILE), e))?;
    Ok((spec, classifier))
}
