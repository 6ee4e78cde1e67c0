//! The plain baseline as a bundle: the original model and data as a one-branch "augmented"
//! network whose input filter keeps every position. Any cloud runtime (burn's `amalgam
//! train`, the PyTorch runtime) then trains the baseline exactly as it trains a real bundle,
//! so their outputs compare bitwise. It hides nothing: it is for the owner's comparisons only.

use std::path::Path;

use amalgam_core::Result;
use amalgam_core::bundle::{AugmentedSpec, BranchSpec, Bundle, Precision, branch_prefix};
use amalgam_core::data::StoredSet;
use amalgam_core::files::StagingDir;
use amalgam_core::model::SPEC_FORMAT_VERSION;
use amalgam_core::tensors::ValuesView;

use crate::data::{Dataset, SampleSource};
use crate::setup::OwnerSetup;

/// Writes the plain job of `setup` on `dataset` as a bundle into `dir` (which must not exist
/// or be empty) and returns its fingerprint. Nothing is left behind on error.
///
/// # Errors
/// [`amalgam_core::Error::File`] if `dir` is not empty or cannot be written; the source's
/// read errors.
pub fn write_plain_bundle<S: SampleSource>(
    dataset: &Dataset<S>,
    setup: &OwnerSetup,
    dir: &Path,
) -> Result<String> {
    let input = setup.spec.input;
    let every_position: Vec<u32> = (0..input.positions() as u32).collect();
    let spec = AugmentedSpec {
        format_version: SPEC_FORMAT_VERSION,
        input,
        classes: setup.spec.classes,
        bundle_id: None,
        precision: Precision::F32,
        branches: vec![BranchSpec {
            keep_indices: vec![every_position; input.channels()],
            network: setup.spec.clone(),
        }],
    };
    let init = setup
        .init
        .iter()
        .map(|(name, t)| (format!("{}{name}", branch_prefix(0)), t.clone()))
        .collect();
    let staging = StagingDir::new(dir)?;
    let counts = [
        dataset.train.all_labels().len(),
        dataset.test.all_labels().len(),
    ];
    let fingerprint = Bundle::write(staging.path(), &spec, &setup.train, &init, counts, |sink| {
        for set in [&dataset.train, &dataset.test] {
            set.for_each_chunk(&mut |_, chunk| sink.write(chunk.samples_view().values))?;
            sink.write(ValuesView::U8(set.all_labels()))?;
        }
        Ok(())
    })?;
    staging.commit()?;
    Ok(fingerprint)
}
