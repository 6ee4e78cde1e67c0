//! `amalgam augment`: turns the owner's data and model into a bundle and a key.

mod family;
mod images;
mod model;
mod tokens;

use std::ops::Range;
use std::path::Path;

use amalgam_core::bundle::Bundle;
use amalgam_core::data::{ImageSet, StoredSet, TokenSet};
use amalgam_core::files::StagingDir;
use amalgam_core::model::{Architecture, SPEC_FORMAT_VERSION};
use amalgam_core::rng::{Stream, stream};
use amalgam_core::tensors::ValuesView;
use amalgam_core::{Error, Result};

pub use family::{DecoyArchitecture, family_member};
pub use images::{augment_images, augment_images_into};
pub use model::{AugmentedModel, augment_model};
pub use tokens::{TokenNoise, augment_tokens};

use crate::data::Dataset;
use crate::key::SecretKey;
use crate::noise::{NoiseKind, NoiseLayout, augmented_shape};
use crate::setup::{OwnerSetup, TrainSettings};
use crate::source::SampleSource;

/// A kind of original data set in memory (images or token sequences) the augmenter handles.
pub trait Augmentable: StoredSet + Sized {
    /// The noise source, prepared once from the training split
    /// ([`SampleSource::noise_source`]).
    type Noise: Sync;

    /// The set augmented with `layout` ([`augment_images`] or [`augment_tokens`]).
    fn augmented(
        &self,
        layout: &NoiseLayout,
        noise: &Self::Noise,
        key_seed: u64,
        first_index: u64,
    ) -> Self;

    /// Per channel, the sum and the sum of squares of the values, and the number of values
    /// per channel, for the optional normalisation layer; `None` where the data has no
    /// channels to normalise (text).
    fn channel_totals(&self) -> Option<(Vec<(f64, f64)>, usize)>;

    /// The samples `range` (a copy).
    fn chunk(&self, range: Range<usize>) -> Self;
}

/// Samples augmented and written at a time: the augmenter holds one chunk of augmented
/// samples, not the whole augmented set. [`NoiseKind::Resample`] draws from the chunk.
pub const CHUNK_SAMPLES: usize = 4096;

/// `kind`, if it applies to images.
///
/// # Errors
/// [`Error::Invalid`] for [`NoiseKind::Unigram`].
pub fn image_noise(kind: NoiseKind) -> Result<NoiseKind> {
    match kind {
        NoiseKind::Unigram => Err(Error::invalid(
            "unigram noise is for text; images take uniform, gaussian or resample noise",
        )),
        kind => Ok(kind),
    }
}

impl Augmentable for ImageSet {
    type Noise = NoiseKind;

    fn augmented(
        &self,
        layout: &NoiseLayout,
        noise: &NoiseKind,
        key_seed: u64,
        first: u64,
    ) -> Self {
        augment_images(self, layout, *noise, key_seed, first)
    }

    fn channel_totals(&self) -> Option<(Vec<(f64, f64)>, usize)> {
        Some((self.channel_sums(), self.labels.len() * self.shape.pixels()))
    }

    fn chunk(&self, range: Range<usize>) -> Self {
        self.range(range)
    }
}

impl Augmentable for TokenSet {
    type Noise = TokenNoise;

    fn augmented(
        &self,
        layout: &NoiseLayout,
        noise: &TokenNoise,
        key_seed: u64,
        first: u64,
    ) -> Self {
        augment_tokens(self, layout, noise, key_seed, first)
    }

    fn channel_totals(&self) -> Option<(Vec<(f64, f64)>, usize)> {
        None
    }

    fn chunk(&self, range: Range<usize>) -> Self {
        self.range(range)
    }
}

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
pub fn augment<S: SampleSource>(
    dataset: &Dataset<S>,
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
    let augmented = augmented_shape(dataset.train.sample_shape(), options.amount)?;
    let noise = dataset.train.noise_source(options.noise)?;
    let setup = OwnerSetup::new(
        dataset,
        options.architecture.clone(),
        &options.train,
        options.seed,
    )?;
    let staging = StagingDir::new(bundle_dir)?;

    let layout = NoiseLayout::draw(
        dataset.train.sample_shape(),
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
    let fingerprint = Bundle::write(
        staging.path(),
        &model.spec,
        &setup.train,
        &model.init,
        [
            dataset.train.all_labels().len(),
            dataset.test.all_labels().len(),
        ],
        |sink| {
            // Sample `i` of the test set has noise sub-stream `train.len() + i`.
            let mut first = 0;
            for set in [&dataset.train, &dataset.test] {
                set.for_each_chunk(&mut |start, chunk| {
                    let augmented =
                        chunk.augmented(&layout, &noise, options.key_seed, (first + start) as u64);
                    sink.write(augmented.samples_view().values)
                })?;
                sink.write(ValuesView::U8(set.all_labels()))?;
                first += set.all_labels().len();
            }
            Ok(())
        },
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
