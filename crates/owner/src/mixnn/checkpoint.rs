//! Checkpoints of a MixNN run, one per finished epoch: every host's layer and optimizer state
//! as it sent them back, so that a run whose host or mix died goes on from the last epoch with
//! the nodes restarted and ends as if nothing had happened.
//!
//! In the directory (mode 0700; the owner's, never sent anywhere): `layer-I.safetensors`
//! (`weight`, `bias`, and `optimizer_state` as U8 bytes) for each host, then `state.json`
//! (the run's fingerprint, the epochs done and their log), written last.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use amalgam_core::files::{MAX_READ_BYTES, read_json, write_json};
use amalgam_core::model::Weights;
use amalgam_core::tensors::{HostTensor, TensorFile, Values, read_tensors, write_tensor_file};
use amalgam_core::training::EpochLog;
use amalgam_core::{Error, Result};
use serde::{Deserialize, Serialize};

const CHECKPOINT_FORMAT_VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
struct CheckpointState {
    format_version: u32,
    /// The model spec and training config (JSON), to refuse another run's checkpoint.
    run: String,
    epochs_done: usize,
    log: Vec<EpochLog>,
}

/// A host's layer as checkpointed.
pub struct LayerCheckpoint {
    pub weights: Weights,
    pub optimizer_state: Vec<u8>,
}

/// What a checkpoint holds.
pub struct Checkpoint {
    pub log: Vec<EpochLog>,
    pub layers: Vec<LayerCheckpoint>,
}

fn layer_file(dir: &Path, i: usize) -> PathBuf {
    dir.join(format!("layer-{i}.safetensors"))
}

/// Saves the `layers` after the epochs of `log` of the run `run` into `dir`.
///
/// # Errors
/// [`Error::File`] naming the file that cannot be written.
pub fn save(dir: &Path, run: &str, log: &[EpochLog], layers: &[LayerCheckpoint]) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::file(dir, format!("cannot create: {e}")))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .map_err(|e| Error::file(dir, format!("cannot restrict: {e}")))?;
    // The old state.json goes first: a crash in between leaves no checkpoint claiming layers
    // of another epoch.
    let state_path = dir.join("state.json");
    if state_path.exists() {
        std::fs::remove_file(&state_path)
            .map_err(|e| Error::file(&state_path, format!("cannot remove: {e}")))?;
    }
    for (i, layer) in layers.iter().enumerate() {
        let mut file = TensorFile {
            tensors: layer.weights.clone(),
            metadata: Default::default(),
        };
        file.tensors.insert(
            "optimizer_state".into(),
            HostTensor::u8(
                vec![layer.optimizer_state.len()],
                layer.optimizer_state.clone(),
            ),
        );
        write_tensor_file(&layer_file(dir, i), &file)?;
    }
    write_json(
        &state_path,
        &CheckpointState {
            format_version: CHECKPOINT_FORMAT_VERSION,
            run: run.to_string(),
            epochs_done: log.len(),
            log: log.to_vec(),
        },
    )
}

/// Loads the checkpoint of the run `run` with `hosts` layers from `dir`.
///
/// # Errors
/// [`Error::File`] naming a missing, damaged or foreign file.
pub fn load(dir: &Path, run: &str, hosts: usize) -> Result<Checkpoint> {
    let state_path = dir.join("state.json");
    let state: CheckpointState = read_json(&state_path)?;
    if state.format_version != CHECKPOINT_FORMAT_VERSION
        || state.run != run
        || state.epochs_done != state.log.len()
    {
        return Err(Error::file(
            &state_path,
            "the checkpoint of another run (model, training or format differ)",
        ));
    }
    let layers = (0..hosts)
        .map(|i| {
            let path = layer_file(dir, i);
            let mut file = read_tensors(&path, MAX_READ_BYTES, |_| true)?;
            let optimizer_state = match file.take("optimizer_state", &path)?.values {
                Values::U8(bytes) => bytes,
                _ => return Err(Error::file(&path, "`optimizer_state` is not U8")),
            };
            Ok(LayerCheckpoint {
                weights: file.tensors,
                optimizer_state,
            })
        })
        .collect::<Result<_>>()?;
    Ok(Checkpoint {
        log: state.log,
        layers,
    })
}
