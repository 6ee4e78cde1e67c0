//! Checkpoints of a cloud training run, one per finished epoch, so that a stopped run
//! continues exactly where it stopped (`amalgam train --resume`).
//!
//! In the directory `<trained output>.checkpoint/`: `epoch-N.model.bpk` (the augmented
//! network in burn's burnpack format, which keeps parameter ids), `epoch-N.optimizer.bpk` (the
//! optimizer's per-parameter state, keyed by those ids) and `state.json`, written last, which
//! names the epoch N that is complete. Files of earlier epochs are then removed.

use std::path::{Path, PathBuf};

use amalgam_core::files::{read, read_json, write_json};
use amalgam_core::training::{EpochLog, TrainState, restore_optimizer};
use amalgam_core::{Error, Result};
use burn::optim::ModuleOptimizer;
use burn::store::{BurnpackStore, ModuleSnapshot};
use serde::{Deserialize, Serialize};

use crate::AugmentedNetwork;

/// Version of `state.json`.
const CHECKPOINT_FORMAT_VERSION: u32 = 1;

/// `state.json`: which epoch the checkpoint holds, for which bundle.
#[derive(Serialize, Deserialize)]
struct CheckpointState {
    format_version: u32,
    bundle_fingerprint: String,
    /// Epochs finished; the files are `epoch-{epochs_done}.*`.
    epochs_done: usize,
    /// Their log.
    log: Vec<EpochLog>,
}

/// The checkpoint directory of the trained output `out`.
pub fn checkpoint_dir(out: &Path) -> PathBuf {
    let mut name = out.file_name().unwrap_or_default().to_os_string();
    name.push(".checkpoint");
    out.with_file_name(name)
}

/// Whether `dir` holds a complete checkpoint: its `state.json`, written last, exists.
pub fn is_complete(dir: &Path) -> bool {
    dir.join("state.json").is_file()
}

fn epoch_file(dir: &Path, epoch: usize, part: &str) -> PathBuf {
    dir.join(format!("epoch-{epoch}.{part}.bpk"))
}

/// Saves `state` (after `state.log.len()` epochs) of the run of bundle `fingerprint` into
/// `dir`, then removes the previous epoch's files.
///
/// # Errors
/// [`Error::File`] naming the file that cannot be written.
pub fn save(dir: &Path, fingerprint: &str, state: &TrainState<AugmentedNetwork>) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::file(dir, format!("cannot create: {e}")))?;
    let epoch = state.log.len();
    let model = epoch_file(dir, epoch, "model");
    let fail =
        |path: &Path, e: &dyn std::fmt::Display| Error::file(path, format!("cannot write: {e}"));
    state
        .model
        .save_into(&mut BurnpackStore::from_file(&model).overwrite(true))
        .map_err(|e| fail(&model, &e))?;
    let optimizer = epoch_file(dir, epoch, "optimizer");
    state
        .optimizer
        .save(&optimizer)
        .map_err(|e| fail(&optimizer, &e))?;
    write_json(
        &dir.join("state.json"),
        &CheckpointState {
            format_version: CHECKPOINT_FORMAT_VERSION,
            bundle_fingerprint: fingerprint.to_string(),
            epochs_done: epoch,
            log: state.log.clone(),
        },
    )?;
    if epoch > 0 {
        for part in ["model", "optimizer"] {
            let _ = std::fs::remove_file(epoch_file(dir, epoch - 1, part));
        }
    }
    Ok(())
}

/// Loads the checkpoint in `dir` into `model` and `optimizer` (freshly built from the bundle).
///
/// # Errors
/// [`Error::File`] naming the checkpoint if it is missing, malformed, or belongs to another
/// bundle than `fingerprint`.
pub fn load(
    dir: &Path,
    fingerprint: &str,
    mut model: AugmentedNetwork,
    optimizer: ModuleOptimizer,
) -> Result<TrainState<AugmentedNetwork>> {
    let state_path = dir.join("state.json");
    if !is_complete(dir) {
        return Err(Error::file(
            dir,
            "holds no complete checkpoint to resume from (run without --resume to start afresh)",
        ));
    }
    let state: CheckpointState = read_json(&state_path)?;
    if state.format_version != CHECKPOINT_FORMAT_VERSION || state.epochs_done != state.log.len() {
        return Err(Error::file(&state_path, "is not a valid checkpoint state"));
    }
    if state.bundle_fingerprint != fingerprint {
        return Err(Error::file(
            &state_path,
            "belongs to a run of another bundle (fingerprints differ)",
        ));
    }
    let model_path = epoch_file(dir, state.epochs_done, "model");
    let result = model
        .load_from(&mut BurnpackStore::from_file(&model_path))
        .map_err(|e| Error::file(&model_path, format!("cannot read: {e}")))?;
    if !result.errors.is_empty() || !result.missing.is_empty() {
        return Err(Error::file(
            &model_path,
            "does not match the bundle's network",
        ));
    }
    let optimizer_path = epoch_file(dir, state.epochs_done, "optimizer");
    let optimizer = restore_optimizer(optimizer, read(&optimizer_path)?)
        .map_err(|e| Error::file(&optimizer_path, e))?;
    Ok(TrainState {
        model,
        optimizer,
        log: state.log,
    })
}
