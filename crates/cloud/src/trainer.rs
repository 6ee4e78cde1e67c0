//! `amalgam train`: the cloud's whole job.

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use amalgam_core::backend::training_device;
use amalgam_core::bundle::{Bundle, FINGERPRINT_KEY};
use amalgam_core::files::write_atomic;
use amalgam_core::model::weights_of;
use amalgam_core::tensors::{TensorFile, write_tensor_file};
use amalgam_core::training::{EpochLog, train};
use amalgam_core::{Error, Result};
use indicatif::ProgressBar;

use crate::AugmentedNetwork;

/// What a cloud training run did.
#[derive(Clone, Debug)]
pub struct TrainSummary {
    /// Per-epoch mean loss of every branch.
    pub epochs: Vec<EpochLog>,
    /// Wall time of the training loop in seconds (data loading excluded).
    pub train_seconds: f64,
}

fn check_output_dir(path: &Path) -> Result<()> {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() && !p.is_dir() => {
            Err(Error::file(path, "its directory does not exist"))
        }
        _ => Ok(()),
    }
}

/// Trains the bundle in `bundle_dir` and writes the trained augmented weights to `out`
/// (safetensors, `branches.{i}.{param}`, with the bundle fingerprint in its metadata under
/// [`FINGERPRINT_KEY`]) and one JSON line per epoch to `log` (`EpochLog`). Both are written
/// only when training has finished.
///
/// # Errors
/// [`Error::File`] naming a missing or malformed bundle file or an unwritable output.
pub fn train_bundle(
    bundle_dir: &Path,
    out: &Path,
    log: &Path,
    progress: &ProgressBar,
) -> Result<TrainSummary> {
    check_output_dir(out)?;
    check_output_dir(log)?;
    let bundle = Bundle::open(bundle_dir)?;
    let (train_set, _test_set) = bundle.read_data()?;
    let device = training_device();
    let network = AugmentedNetwork::new(&bundle.spec, &bundle.init, &device)
        .map_err(|e| Error::file(bundle_dir.join(amalgam_core::bundle::INIT_FILE), e))?;
    let start = Instant::now();
    let (network, epochs) = train(
        network,
        &train_set,
        &bundle.train,
        &device,
        progress,
        |_| {},
    );
    let train_seconds = start.elapsed().as_secs_f64();

    let mut lines = Vec::new();
    for epoch in &epochs {
        serde_json::to_writer(&mut lines, epoch).expect("an epoch log always encodes");
        writeln!(lines).expect("writing to memory cannot fail");
    }
    let trained = TensorFile {
        tensors: weights_of(&network),
        metadata: [(FINGERPRINT_KEY.to_string(), bundle.fingerprint.clone())].into(),
    };
    write_tensor_file(out, &trained)?;
    write_atomic(log, &lines)?;
    Ok(TrainSummary {
        epochs,
        train_seconds,
    })
}
