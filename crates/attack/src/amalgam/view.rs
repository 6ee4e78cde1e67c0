//! What the cloud has.

use std::path::Path;

use amalgam_core::bundle::Bundle;
use amalgam_core::data::{ImageSet, SampleSet, TokenSet};
use amalgam_core::files::read;
use amalgam_core::model::ImageShape;
use amalgam_core::model::{Weights, check_shapes};
use amalgam_core::tensors::read_tensor_file;
use amalgam_core::training::EpochLog;
use amalgam_core::{Error, Result};

/// The cloud's view of one job: the bundle and what training produced. `S` is the kind of
/// samples: [`ImageSet`] (the default) or [`TokenSet`].
#[derive(Clone, Debug)]
pub struct CloudView<S = ImageSet> {
    /// The bundle (spec, config, initial weights).
    pub bundle: Bundle,
    /// Augmented training samples (the first `samples` of the bundle's training set).
    pub train: S,
    /// Augmented test samples (with labels, as in the bundle).
    pub test: S,
    /// Trained augmented weights, if the attacker kept them.
    pub trained: Option<Weights>,
    /// The training log, if the attacker kept it.
    pub log: Option<Vec<EpochLog>>,
}

/// A kind of samples a [`CloudView`] holds.
pub trait ViewSamples: Sized {
    /// The bundle's sets, if they are of this kind.
    fn from_sets(train: SampleSet, test: SampleSet) -> Option<(Self, Self)>;
    /// The first `n` samples.
    fn head(&self, n: usize) -> Self;
}

impl ViewSamples for ImageSet {
    fn from_sets(train: SampleSet, test: SampleSet) -> Option<(Self, Self)> {
        match (train, test) {
            (SampleSet::Images(train), SampleSet::Images(test)) => Some((train, test)),
            _ => None,
        }
    }

    fn head(&self, n: usize) -> Self {
        ImageSet::head(self, n)
    }
}

impl ViewSamples for TokenSet {
    fn from_sets(train: SampleSet, test: SampleSet) -> Option<(Self, Self)> {
        match (train, test) {
            (SampleSet::Tokens(train), SampleSet::Tokens(test)) => Some((train, test)),
            _ => None,
        }
    }

    fn head(&self, n: usize) -> Self {
        TokenSet::head(self, n)
    }
}

impl<S: ViewSamples> CloudView<S> {
    /// Opens the bundle `bundle_dir`, keeping at most `samples` training and test samples
    /// (0: all), and the optional trained weights and JSONL training log.
    ///
    /// # Errors
    /// [`Error::File`] naming a missing or malformed file, or a bundle of the other kind of
    /// data.
    pub fn open(
        bundle_dir: &Path,
        trained: Option<&Path>,
        log: Option<&Path>,
        samples: usize,
    ) -> Result<Self> {
        let bundle = Bundle::open(bundle_dir)?;
        let (train, test) = bundle.read_data()?;
        let Some((train, test)) = S::from_sets(train, test) else {
            return Err(Error::file(
                bundle_dir,
                "holds the other kind of data (images or text) than this view",
            ));
        };
        let limit = if samples == 0 { usize::MAX } else { samples };
        let trained = trained
            .map(|path| {
                let weights = read_tensor_file(path)?.tensors;
                let shapes = bundle.spec.parameter_shapes();
                check_shapes(
                    &weights,
                    shapes.iter().map(|(n, s)| (n.clone(), s.as_slice())),
                )
                .map_err(|e| Error::file(path, e))?;
                Ok(weights)
            })
            .transpose()?;
        let log = log.map(read_log).transpose()?;
        Ok(Self {
            train: train.head(limit),
            test: test.head(limit),
            bundle,
            trained,
            log,
        })
    }
}

impl CloudView<ImageSet> {
    /// Shape of the samples each branch's filter produces (the original shape, public).
    pub fn filtered_shape(&self) -> ImageShape {
        self.bundle.spec.branches[0]
            .network
            .input
            .image()
            .expect("the view opens image bundles only")
    }

    /// Noise positions per channel, `H'W' - HW`: public, from the shapes.
    pub fn noise_count(&self) -> usize {
        self.bundle.spec.input.positions() - self.filtered_shape().pixels()
    }
}

fn read_log(path: &Path) -> Result<Vec<EpochLog>> {
    let text =
        String::from_utf8(read(path)?).map_err(|_| Error::file(path, "is not UTF-8 text"))?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, line)| {
            serde_json::from_str(line)
                .map_err(|e| Error::file(path, format!("line {}: not an epoch record: {e}", i + 1)))
        })
        .collect()
}
