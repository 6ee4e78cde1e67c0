//! Checkpoints of a Tempo run, one per finished epoch, so that a run whose worker died goes on
//! from the last epoch with a new worker and ends as if nothing had happened.
//!
//! In the directory (mode 0700; the owner's, never sent anywhere): `epoch-N.worker.frame`
//! (the worker's obfuscated layers and optimizer state, as the [`Message::State`] frame it
//! sent), `epoch-N.norms.bpk` and `epoch-N.norms-optimizer.bpk` (the trusted process's
//! BatchNorm layers and their optimizer, in burn's burnpack format, which keeps parameter ids),
//! and `state.json` (mode 0600: the key seed, the epochs done and their log), written last.
//! Files of earlier epochs are then removed.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use amalgam_core::files::{SECRET_MODE, read, read_at_most, read_json, write_atomic_with_mode};
use amalgam_core::tempo::wire::MAX_FRAME_BYTES;
use amalgam_core::tempo::{LayerState, Message};
use amalgam_core::training::{EpochLog, restore_optimizer};
use amalgam_core::{Error, Result};
use burn::store::{BurnpackStore, ModuleSnapshot};
use serde::{Deserialize, Serialize};

use super::train::TempoState;

const CHECKPOINT_FORMAT_VERSION: u32 = 1;

/// `state.json`.
#[derive(Serialize, Deserialize)]
struct CheckpointState {
    format_version: u32,
    /// The model's architecture name and training seed, to refuse another run's checkpoint.
    run: String,
    key_seed: u64,
    epochs_done: usize,
    log: Vec<EpochLog>,
}

/// What a checkpoint gives back besides the trusted state.
pub struct WorkerCheckpoint {
    /// The seed of the key the layers are permuted with.
    pub key_seed: u64,
    /// The worker's obfuscated layers.
    pub layers: Vec<LayerState>,
    /// The worker's optimizer state.
    pub optimizer_state: Vec<u8>,
}

fn file(dir: &Path, epoch: usize, part: &str) -> PathBuf {
    dir.join(format!("epoch-{epoch}.{part}"))
}

/// Whether `dir` holds a complete checkpoint (its `state.json`, written last, exists).
pub fn is_complete(dir: &Path) -> bool {
    dir.join("state.json").is_file()
}

/// Saves the trusted `state` and the worker's `layers` and `optimizer_state` (after
/// `state.log.len()` epochs of the run `run`, keyed by `key_seed`) into `dir`.
///
/// # Errors
/// [`Error::File`] naming the file that cannot be written.
pub fn save(
    dir: &Path,
    run: &str,
    key_seed: u64,
    state: &TempoState,
    layers: Vec<LayerState>,
    optimizer_state: Vec<u8>,
) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::file(dir, format!("cannot create: {e}")))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .map_err(|e| Error::file(dir, format!("cannot restrict: {e}")))?;
    let epoch = state.log.len();
    let fail =
        |path: &Path, e: &dyn std::fmt::Display| Error::file(path, format!("cannot write: {e}"));
    let worker = Message::State {
        layers,
        optimizer_state,
    };
    write_atomic_with_mode(
        &file(dir, epoch, "worker.frame"),
        &worker.encode(),
        SECRET_MODE,
    )?;
    let norms = file(dir, epoch, "norms.bpk");
    state
        .network
        .norms
        .save_into(&mut BurnpackStore::from_file(&norms).overwrite(true))
        .map_err(|e| fail(&norms, &e))?;
    let optimizer = file(dir, epoch, "norms-optimizer.bpk");
    state
        .optimizer
        .save(&optimizer)
        .map_err(|e| fail(&optimizer, &e))?;
    let json = serde_json::to_vec_pretty(&CheckpointState {
        format_version: CHECKPOINT_FORMAT_VERSION,
        run: run.to_string(),
        key_seed,
        epochs_done: epoch,
        log: state.log.clone(),
    })
    .expect("the state serialises");
    write_atomic_with_mode(&dir.join("state.json"), &json, SECRET_MODE)?;
    if epoch > 0 {
        for part in ["worker.frame", "norms.bpk", "norms-optimizer.bpk"] {
            let _ = std::fs::remove_file(file(dir, epoch - 1, part));
        }
    }
    Ok(())
}

/// Loads the checkpoint in `dir` of the run `run` into `state` (freshly built).
///
/// # Errors
/// [`Error::File`] naming the file when the checkpoint is missing, malformed, or belongs to
/// another run.
pub fn load(
    dir: &Path,
    run: &str,
    mut state: TempoState,
) -> Result<(TempoState, WorkerCheckpoint)> {
    let state_path = dir.join("state.json");
    if !is_complete(dir) {
        return Err(Error::file(
            dir,
            "holds no complete checkpoint to resume from (run without --resume to start afresh)",
        ));
    }
    let saved: CheckpointState = read_json(&state_path)?;
    if saved.format_version != CHECKPOINT_FORMAT_VERSION || saved.epochs_done != saved.log.len() {
        return Err(Error::file(&state_path, "is not a valid checkpoint state"));
    }
    if saved.run != run {
        return Err(Error::file(
            &state_path,
            format!("belongs to another run ({}, this one is {run})", saved.run),
        ));
    }
    let epoch = saved.epochs_done;
    let worker_path = file(dir, epoch, "worker.frame");
    let frame = read_at_most(&worker_path, MAX_FRAME_BYTES)?;
    let Message::State {
        layers,
        optimizer_state,
    } = Message::decode(&frame).map_err(|e| Error::file(&worker_path, e))?
    else {
        return Err(Error::file(
            &worker_path,
            "does not hold the worker's state",
        ));
    };
    let norms = file(dir, epoch, "norms.bpk");
    let result = state
        .network
        .norms
        .load_from(&mut BurnpackStore::from_file(&norms))
        .map_err(|e| Error::file(&norms, format!("cannot read: {e}")))?;
    if !result.errors.is_empty() || !result.missing.is_empty() {
        return Err(Error::file(
            &norms,
            "does not match the network's BatchNorm layers",
        ));
    }
    let optimizer = file(dir, epoch, "norms-optimizer.bpk");
    let restored = restore_optimizer(state.optimizer, read(&optimizer)?);
    state.optimizer = restored.map_err(|e| Error::file(&optimizer, e))?;
    state.log = saved.log;
    Ok((
        state,
        WorkerCheckpoint {
            key_seed: saved.key_seed,
            layers,
            optimizer_state,
        },
    ))
}
