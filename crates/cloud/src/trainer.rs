//! `amalgam train`: the cloud's whole job.

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use amalgam_core::backend::training_device;
use amalgam_core::bundle::{Bundle, FINGERPRINT_KEY};
use amalgam_core::data::LabelledSet;
use amalgam_core::files::write_atomic;
use amalgam_core::model::weights_of;
use amalgam_core::tensors::{TensorFile, write_tensor_file};
use amalgam_core::training::{EpochLog, TrainState, train};
use amalgam_core::{Error, Result};
use indicatif::ProgressBar;

use crate::AugmentedNetwork;
use crate::checkpoint::{self, checkpoint_dir};

/// How to run the training.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TrainOptions {
    /// Continue from the checkpoint of an earlier, stopped run.
    pub resume: bool,
    /// Stop after this epoch, keeping the checkpoint (for machines that are taken away).
    pub stop_after: Option<usize>,
}

/// What a cloud training run did.
#[derive(Clone, Debug)]
pub struct TrainSummary {
    /// Per-epoch mean loss of every branch, from the first epoch (resumed runs included).
    pub epochs: Vec<EpochLog>,
    /// Wall time of this run's training loop in seconds (data loading excluded).
    pub train_seconds: f64,
    /// Whether every configured epoch is done (and the outputs are written).
    pub finished: bool,
}

/// Whether two output paths name the same file (compared as written, and after resolving
/// their directories).
fn same_file(a: &Path, b: &Path) -> bool {
    let resolve = |p: &Path| {
        let dir = p
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        dir.canonicalize()
            .ok()
            .zip(p.file_name())
            .map(|(d, name)| d.join(name))
    };
    a == b || resolve(a).is_some_and(|r| Some(r) == resolve(b))
}

fn check_output_dir(path: &Path) -> Result<()> {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() && !p.is_dir() => {
            Err(Error::file(path, "its directory does not exist"))
        }
        _ => Ok(()),
    }
}

/// Trains the bundle in `bundle_dir`. After every epoch it checkpoints into
/// [`checkpoint_dir`]`(out)`; when every epoch is done it writes the trained augmented weights
/// to `out` (safetensors, `branches.{i}.{param}`, with the bundle fingerprint in its metadata
/// under [`FINGERPRINT_KEY`]) and one JSON line per epoch to `log` (`EpochLog`), and removes
/// the checkpoint.
///
/// # Errors
/// [`Error::File`] naming a missing or malformed bundle file, an unwritable output, a
/// checkpoint that is missing (with `resume`), foreign, or left by an earlier run (without
/// `resume`); [`Error::Invalid`] for `stop_after` 0.
pub fn train_bundle(
    bundle_dir: &Path,
    out: &Path,
    log: &Path,
    progress: &ProgressBar,
    options: TrainOptions,
) -> Result<TrainSummary> {
    if options.stop_after == Some(0) {
        return Err(Error::invalid("--stop-after needs an epoch of at least 1"));
    }
    check_output_dir(out)?;
    check_output_dir(log)?;
    if same_file(out, log) {
        return Err(Error::file(
            log,
            "is also the trained weights' output: the log and the weights need different files",
        ));
    }
    let bundle = Bundle::open(bundle_dir)?;
    // Mapped, not read: a data file larger than memory trains too.
    let (train_set, _test_set) = bundle.map_data()?;
    if train_set.is_empty() {
        return Err(Error::file(
            bundle_dir.join(amalgam_core::bundle::DATA_FILE),
            "has no training samples",
        ));
    }
    let device = training_device();
    let network = AugmentedNetwork::new(&bundle.spec, &bundle.init, &device)
        .map_err(|e| Error::file(bundle_dir.join(amalgam_core::bundle::INIT_FILE), e))?;
    let checkpoints = checkpoint_dir(out);
    let state = if options.resume {
        checkpoint::load(
            &checkpoints,
            &bundle.fingerprint,
            network,
            bundle.train.build_optimizer(),
        )?
    } else if checkpoint::is_complete(&checkpoints) {
        return Err(Error::file(
            &checkpoints,
            "holds the checkpoint of an earlier run: pass --resume to continue it, or remove it",
        ));
    } else {
        // A run killed while writing its first checkpoint leaves an incomplete folder.
        if checkpoints.exists() {
            std::fs::remove_dir_all(&checkpoints).map_err(|e| {
                Error::file(
                    &checkpoints,
                    format!("cannot remove an incomplete checkpoint: {e}"),
                )
            })?;
        }
        TrainState::new(network, &bundle.train)
    };
    let start = Instant::now();
    let state = train(
        state,
        &train_set,
        &bundle.train,
        &device,
        progress,
        options.stop_after.unwrap_or(usize::MAX),
        |state| checkpoint::save(&checkpoints, &bundle.fingerprint, state),
    )?;
    let train_seconds = start.elapsed().as_secs_f64();
    let finished = state.log.len() == bundle.train.epochs;
    if finished {
        let mut lines = Vec::new();
        for epoch in &state.log {
            serde_json::to_writer(&mut lines, epoch).expect("an epoch log always encodes");
            writeln!(lines).expect("writing to memory cannot fail");
        }
        let trained = TensorFile {
            tensors: weights_of(&state.model),
            metadata: [(FINGERPRINT_KEY.to_string(), bundle.fingerprint.clone())].into(),
        };
        write_tensor_file(out, &trained)?;
        write_atomic(log, &lines)?;
        std::fs::remove_dir_all(&checkpoints)
            .map_err(|e| Error::file(&checkpoints, format!("cannot remove: {e}")))?;
    }
    Ok(TrainSummary {
        epochs: state.log,
        train_seconds,
        finished,
    })
}
