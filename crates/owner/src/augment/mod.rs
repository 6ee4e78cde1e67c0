//! `amalgam augment`: turns the owner's data and model into a bundle and a key.

mod dataset;
mod family;
mod model;

use std::path::Path;

use amalgam_core::bundle::Bundle;
use amalgam_core::files::StagingDir;
use amalgam_core::model::{Architecture, SPEC_FORMAT_VERSION};
use amalgam_core::rng::{Stream, stream};
use amalgam_core::{Error, Result};

pub use dataset::augment_images;
pub use family::{DecoyArchitecture, family_member};
pub use model::{AugmentedModel, augment_model};

use crate::data::Dataset;
use crate::key::SecretKey;
use crate::noise::{NoiseKind, NoiseLayout, augmented_shape};
use crate::setup::{OwnerSetup, TrainSettings};

/// Everything `amalgam augment` is asked to do.
#[derive(Clone, Debug)]
pub struct AugmentOptions {
    /// The original model's architecture.
    pub architecture: Architecture,
    /// Augmentation amount `a` in (0, 4].
    pub amount: f64,
    /// Noise distribution.
    pub noise: NoiseKind,
    /// Number of decoy sub-networks `K`.
    pub decoys: usize,
    /// How decoys get their architecture.
    pub decoy_architecture: DecoyArchitecture,
    /// Training seed: initial weights of the original model and batch order.
    pub seed: u64,
    /// Key seed: noise positions and values, branch order, decoys.
    pub key_seed: u64,
    /// Training hyper-parameters written into the bundle.
    pub train: TrainSettings,
}

/// Augments `dataset` and the model of `options`, writes the bundle directory `bundle_dir`
/// and the key `key_path` (mode 0600), and returns the key. Nothing is left behind on error.
///
/// # Errors
/// [`Error::Invalid`] for out-of-range options; [`Error::File`] if `bundle_dir` exists and
/// is not empty, `key_path` exists, or an output cannot be written.
pub fn augment(
    dataset: &Dataset,
    options: &AugmentOptions,
    bundle_dir: &Path,
    key_path: &Path,
) -> Result<SecretKey> {
    if key_path.exists() {
        return Err(Error::file(
            key_path,
            "already exists; refusing to overwrite a key (its bundle could no longer be extracted)",
        ));
    }
    let augmented = augmented_shape(dataset.train.shape, options.amount)?;
    let setup = OwnerSetup::new(
        dataset,
        options.architecture.clone(),
        &options.train,
        options.seed,
    )?;
    let staging = StagingDir::new(bundle_dir)?;

    let layout = NoiseLayout::draw(
        dataset.train.shape,
        augmented,
        &mut stream(options.key_seed, Stream::NoisePositions),
    );
    let model = augment_model(
        &setup.spec,
        &setup.init,
        &layout,
        options.decoys,
        options.decoy_architecture,
        options.key_seed,
    );
    let train_set = augment_images(&dataset.train, &layout, options.noise, options.key_seed, 0);
    let test_set = augment_images(
        &dataset.test,
        &layout,
        options.noise,
        options.key_seed,
        dataset.train.len() as u64,
    );
    let fingerprint = Bundle::write(
        staging.path(),
        &model.spec,
        &setup.train,
        &model.init,
        &train_set,
        &test_set,
    )?;
    let key = SecretKey {
        format_version: SPEC_FORMAT_VERSION,
        bundle_fingerprint: fingerprint,
        real_branch: model.real_branch,
        original: setup.spec,
        augmented,
        amount: options.amount,
        noise: options.noise,
        keep_indices: layout.keep_indices,
    };
    let bundle_dir = staging.commit()?;
    if let Err(e) = key.write(key_path) {
        let _ = std::fs::remove_dir_all(&bundle_dir);
        return Err(e);
    }
    Ok(key)
}
