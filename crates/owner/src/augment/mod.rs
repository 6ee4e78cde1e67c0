//! `amalgam augment`: turns the owner's data and model into a bundle and a key.

mod family;
mod images;
mod model;
mod tokens;

use std::path::Path;
use std::sync::Arc;

use amalgam_core::bundle::Bundle;
use amalgam_core::data::{ImageSet, StoredSet, TokenSet};
use amalgam_core::files::StagingDir;
use amalgam_core::model::{Architecture, InputShape, SPEC_FORMAT_VERSION};
use amalgam_core::rng::{Stream, stream, substream};
use amalgam_core::tensors::ValuesView;
use amalgam_core::{Error, Result};

pub use family::{DecoyArchitecture, family_member};
pub use images::{DecoyViews, ImageNoise, augment_images, augment_images_into};
pub use model::{AugmentedModel, augment_model};
pub use tokens::{TokenNoise, augment_tokens};

use crate::data::{Chunked, Dataset, SampleSource};
use crate::key::SecretKey;
use crate::noise::interleave::{DecoyPool, draw_views};
use crate::noise::{NoiseKind, NoiseLayout, augmented_shape};
use crate::setup::{OwnerSetup, TrainSettings};

/// A kind of original data set in memory (images or token sequences) the augmenter handles.
pub trait Augmentable: Chunked {
    /// What fills the non-real positions of one split, prepared once.
    type Noise: Sync;

    /// The noise of the training split and of the test split of `dataset` for `options`,
    /// given the decoys' keep indices.
    ///
    /// # Errors
    /// [`Error::Invalid`] if the noise kind does not apply to this kind of data, or
    /// `interleave` lacks fitting decoy inputs.
    fn noises<S: SampleSource<Chunk = Self>>(
        dataset: &Dataset<S>,
        options: &AugmentOptions,
        decoy_keep_indices: &[Vec<Vec<u32>>],
    ) -> Result<[Self::Noise; 2]>;

    /// The set augmented with `layout` ([`augment_images`] or [`augment_tokens`]).
    fn augmented(
        &self,
        layout: &NoiseLayout,
        noise: &Self::Noise,
        key_seed: u64,
        first_index: u64,
    ) -> Self;
}

impl Augmentable for ImageSet {
    type Noise = ImageNoise;

    fn noises<S: SampleSource<Chunk = Self>>(
        dataset: &Dataset<S>,
        options: &AugmentOptions,
        decoy_keep_indices: &[Vec<Vec<u32>>],
    ) -> Result<[ImageNoise; 2]> {
        match options.noise {
            NoiseKind::Unigram => Err(Error::invalid(
                "unigram noise is for text; images take uniform, gaussian, resample or interleave noise",
            )),
            NoiseKind::Interleave => {
                let decoys = options.decoy_inputs.as_ref().ok_or_else(|| {
                    Error::invalid("interleave noise needs decoy inputs (a data set of the same shape and classes)")
                })?;
                let views = |split: u64, set: &ImageSet, source: &S, first_index: u64| {
                    let labels = source.all_labels();
                    let name = format!("{} ({})", decoys.name, ["train", "test"][split as usize]);
                    let pool = DecoyPool::new(set.clone(), labels, source.sample_shape(), &name)?;
                    let donors = (0..decoy_keep_indices.len() as u64)
                        .map(|d| {
                            let index = d * 2 + split;
                            pool.assign(
                                labels,
                                &mut substream(options.key_seed, Stream::DecoyInputs, index),
                            )
                        })
                        .collect();
                    Ok::<_, Error>(ImageNoise::Views(DecoyViews {
                        keep_indices: decoy_keep_indices.to_vec(),
                        pool: Arc::new(pool),
                        donors,
                        first_index,
                    }))
                };
                let train_len = dataset.train.all_labels().len() as u64;
                Ok([
                    views(0, &decoys.train, &dataset.train, 0)?,
                    views(1, &decoys.test, &dataset.test, train_len)?,
                ])
            }
            kind => Ok([ImageNoise::Values(kind), ImageNoise::Values(kind)]),
        }
    }

    fn augmented(
        &self,
        layout: &NoiseLayout,
        noise: &ImageNoise,
        key_seed: u64,
        first: u64,
    ) -> Self {
        augment_images(self, layout, noise, key_seed, first)
    }
}

impl Augmentable for TokenSet {
    type Noise = TokenNoise;

    fn noises<S: SampleSource<Chunk = Self>>(
        dataset: &Dataset<S>,
        options: &AugmentOptions,
        _: &[Vec<Vec<u32>>],
    ) -> Result<[TokenNoise; 2]> {
        let noise = TokenNoise::new(options.noise, &dataset.train)?;
        Ok([noise.clone(), noise])
    }

    fn augmented(
        &self,
        layout: &NoiseLayout,
        noise: &TokenNoise,
        key_seed: u64,
        first: u64,
    ) -> Self {
        augment_tokens(self, layout, noise, key_seed, first)
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
    /// Where the decoys' views come from with [`NoiseKind::Interleave`]: a data set of the
    /// same shape and classes (the owner's own set, or another one).
    pub decoy_inputs: Option<Arc<Dataset<ImageSet>>>,
}

/// The real branch's layout and the decoys' keep indices: for [`NoiseKind::Interleave`] a
/// partition of the grid into views ([`draw_views`]); otherwise independent draws, as the
/// authors' prototype (sub-stream `d` of [`Stream::DecoyKeepIndices`] for decoy `d`).
///
/// # Errors
/// [`Error::Invalid`] if interleave's views do not fit the grid, or it has no decoy.
fn draw_layouts(
    original: InputShape,
    augmented: InputShape,
    options: &AugmentOptions,
) -> Result<(NoiseLayout, Vec<Vec<Vec<u32>>>)> {
    let mut positions = stream(options.key_seed, Stream::NoisePositions);
    if options.noise != NoiseKind::Interleave {
        let decoys = (0..options.decoys as u64)
            .map(|d| {
                NoiseLayout::draw(
                    original,
                    augmented,
                    &mut substream(options.key_seed, Stream::DecoyKeepIndices, d),
                )
                .keep_indices
            })
            .collect();
        return Ok((
            NoiseLayout::draw(original, augmented, &mut positions),
            decoys,
        ));
    }
    if options.decoys == 0 {
        return Err(Error::invalid(
            "interleave noise hides the real view among the decoys' views: it needs at least one decoy",
        ));
    }
    let mut views = draw_views(original, augmented, options.decoys + 1, &mut positions)?;
    let real = views.remove(0);
    Ok((
        NoiseLayout::from_keep_indices(original, augmented, real),
        views,
    ))
}

/// Augments `dataset` and the model of `options`, writes the bundle directory `bundle_dir`
/// and the key `key_path` (mode 0600), and returns the key. Nothing is left behind on error.
///
/// # Errors
/// [`Error::Invalid`] for out-of-range options; [`Error::File`] if `bundle_dir` exists and
/// is not empty, `key_path` exists, or an output cannot be written.
pub fn augment<S: SampleSource<Chunk: Augmentable>>(
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
    let original = dataset.train.sample_shape();
    let augmented = augmented_shape(original, options.amount)?;
    let (layout, decoy_keep_indices) = draw_layouts(original, augmented, options)?;
    let noises = S::Chunk::noises(dataset, options, &decoy_keep_indices)?;
    let setup = OwnerSetup::new(
        dataset,
        options.architecture.clone(),
        &options.train,
        options.seed,
    )?;
    let staging = StagingDir::new(bundle_dir)?;

    let model = augment_model(
        augmented,
        &setup.spec,
        &setup.init,
        &layout.keep_indices,
        decoy_keep_indices,
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
            for (set, noise) in [&dataset.train, &dataset.test].into_iter().zip(&noises) {
                set.for_each_chunk(&mut |start, chunk| {
                    let augmented =
                        chunk.augmented(&layout, noise, options.key_seed, (first + start) as u64);
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
