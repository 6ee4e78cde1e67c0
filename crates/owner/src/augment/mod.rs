//! `amalgam augment`: turns the owner's data and model into a bundle and a key.

mod family;
mod images;
mod model;
mod tokens;

use std::path::Path;
use std::sync::Arc;

use amalgam_core::bundle::{Bundle, MAX_BRANCHES};
use amalgam_core::data::{ImageSet, StoredSet, TokenSet};
use amalgam_core::files::StagingDir;
use amalgam_core::model::{Architecture, InputShape, SPEC_FORMAT_VERSION};
use amalgam_core::rng::{Stream, stream, substream};
use amalgam_core::tensors::ValuesView;
use amalgam_core::{Error, Result};

pub use family::{DecoyArchitecture, family_member};
pub use images::{ImageNoise, augment_images, augment_images_into};
pub use model::{AugmentedModel, augment_model};
pub use tokens::{TextNoise, TokenNoise, augment_tokens};

use crate::data::{Chunked, Dataset, SampleSource};
use crate::key::SecretKey;
use crate::noise::interleave::{DecoyViews, PoolSamples, draw_views};
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
                let (decoys, own) = match &options.decoy_inputs {
                    Some(DecoyInputs {
                        set: DecoySet::Images(decoys),
                        own,
                    }) => (decoys, *own),
                    _ => {
                        return Err(Error::invalid(
                            "interleave noise on images needs decoy images (a data set of the same shape and classes)",
                        ));
                    }
                };
                let [train, test] =
                    decoy_views(dataset, decoys, own, decoy_keep_indices, options.key_seed)?;
                Ok([ImageNoise::Views(train), ImageNoise::Views(test)])
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
    type Noise = TextNoise;

    fn noises<S: SampleSource<Chunk = Self>>(
        dataset: &Dataset<S>,
        options: &AugmentOptions,
        decoy_keep_indices: &[Vec<Vec<u32>>],
    ) -> Result<[TextNoise; 2]> {
        if options.noise == NoiseKind::Interleave {
            let Some(DecoyInputs {
                set: DecoySet::Texts(decoys),
                own,
            }) = &options.decoy_inputs
            else {
                return Err(Error::invalid(
                    "interleave noise on text needs decoy texts (a set tokenised with the same vocabulary)",
                ));
            };
            let [train, test] =
                decoy_views(dataset, decoys, *own, decoy_keep_indices, options.key_seed)?;
            return Ok([TextNoise::Views(train), TextNoise::Views(test)]);
        }
        let noise = TokenNoise::new(options.noise, &dataset.train)?;
        Ok([TextNoise::Tokens(noise.clone()), TextNoise::Tokens(noise)])
    }

    fn augmented(
        &self,
        layout: &NoiseLayout,
        noise: &TextNoise,
        key_seed: u64,
        first: u64,
    ) -> Self {
        augment_tokens(self, layout, noise, key_seed, first)
    }
}

/// The decoy inputs of interleave noise: a data set of the same kind, shape and classes as the
/// owner's, and whether it is the owner's own set.
#[derive(Clone, Debug)]
pub struct DecoyInputs {
    /// The samples.
    pub set: DecoySet,
    /// Whether they are the data being augmented (each decoy view is then a permutation of
    /// it); otherwise every decoy view needs samples of its own.
    pub own: bool,
}

/// A data set of decoy inputs.
#[derive(Clone, Debug)]
pub enum DecoySet {
    /// Images.
    Images(Arc<Dataset<ImageSet>>),
    /// Token sequences (tokenised with the owner's vocabulary).
    Texts(Arc<Dataset<TokenSet>>),
}

impl From<Dataset<ImageSet>> for DecoySet {
    fn from(d: Dataset<ImageSet>) -> Self {
        DecoySet::Images(Arc::new(d))
    }
}

impl From<Dataset<TokenSet>> for DecoySet {
    fn from(d: Dataset<TokenSet>) -> Self {
        DecoySet::Texts(Arc::new(d))
    }
}

impl DecoyInputs {
    /// The owner's own set (`data`, the set being augmented) as decoy inputs.
    pub fn own(data: impl Into<DecoySet>) -> Self {
        Self {
            set: data.into(),
            own: true,
        }
    }

    /// Another set as decoy inputs.
    pub fn other(set: impl Into<DecoySet>) -> Self {
        Self {
            set: set.into(),
            own: false,
        }
    }
}

/// The decoy views of the training and test splits of `dataset`, filled from the matching
/// splits of `decoys`.
///
/// # Errors
/// As [`DecoyViews::new`].
fn decoy_views<S, P>(
    dataset: &Dataset<S>,
    decoys: &Dataset<P>,
    own: bool,
    decoy_keep_indices: &[Vec<Vec<u32>>],
    key_seed: u64,
) -> Result<[DecoyViews<P>; 2]>
where
    S: SampleSource,
    P: PoolSamples + Clone,
{
    let train_len = dataset.train.all_labels().len() as u64;
    let views = |split: u64, pool: &P, source: &S, first_index: u64| {
        DecoyViews::new(
            pool.clone(),
            own,
            source.all_labels(),
            source.sample_shape(),
            &format!("{} ({})", decoys.name, ["train", "test"][split as usize]),
            decoy_keep_indices,
            key_seed,
            split,
            first_index,
        )
    };
    Ok([
        views(0, &decoys.train, &dataset.train, 0)?,
        views(1, &decoys.test, &dataset.test, train_len)?,
    ])
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
    /// Where the decoys' views come from with [`NoiseKind::Interleave`].
    pub decoy_inputs: Option<DecoyInputs>,
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
    if options.decoys >= MAX_BRANCHES {
        return Err(Error::invalid(format!(
            "at most {} decoys (the augmented network has at most {MAX_BRANCHES} branches), got {}",
            MAX_BRANCHES - 1,
            options.decoys
        )));
    }
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
