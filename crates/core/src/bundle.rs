//! The bundle: everything that crosses the trust boundary from the owner to the cloud, and
//! nothing else. A directory of four files:
//!
//! | file | content |
//! | --- | --- |
//! | `model.json` | [`AugmentedSpec`]: the augmented input shape and the branches (input filter + network spec), in the key's secret order |
//! | `init.safetensors` | initial weights of every branch, `branches.{i}.{param}`, PyTorch layout |
//! | `train.json` | [`TrainConfig`] |
//! | `data.safetensors` | augmented sets: `train.images` `[N, C, H', W']` f32 (or, for text, `train.tokens` `[N, L']` u32), `train.labels` `[N]` u8, and the same for `test` |
//!
//! Nothing in it says which branch is real. Its fingerprint (SHA-256 of `model.json`,
//! `init.safetensors` and `train.json`) ties a key and a trained weights file to it.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use std::sync::Arc;

use safetensors::tensor::{Dtype, SafeTensors};

use crate::data::{MappedSet, SampleSet, StoredSet};
use crate::files::{MAX_READ_BYTES, open_regular, read_json, write_json};
use crate::model::split::SplitPart;
use crate::model::{InputShape, ModelSpec, SPEC_FORMAT_VERSION, Weights, check_shapes};
use crate::tensor_stream::{StreamDtype, StreamTensor, TensorSink, write_tensor_stream};
use crate::tensors::{TensorFile, ValuesView, read_tensors, write_tensor_file};
use crate::training::TrainConfig;
use crate::{Error, Result};

/// Most branches of an augmented network (the real one and its decoys).
pub const MAX_BRANCHES: usize = 256;
/// File name of the augmented model spec.
pub const MODEL_FILE: &str = "model.json";
/// File name of the initial weights.
pub const INIT_FILE: &str = "init.safetensors";
/// File name of the training config.
pub const TRAIN_FILE: &str = "train.json";
/// File name of the augmented data sets.
pub const DATA_FILE: &str = "data.safetensors";
/// Metadata key, in trained weight files, of the fingerprint of the bundle they came from.
pub const FINGERPRINT_KEY: &str = "amalgam.bundle_fingerprint";

/// One branch of the augmented network: an input filter and a network.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BranchSpec {
    /// Per channel, the sorted positions (in the flattened `H' * W'` augmented grid, or the
    /// `L'` augmented sequence) that the input filter gathers, `H * W` (or `L`) of them,
    /// reshaped to `[H, W]` (or `[L]`) in order.
    pub keep_indices: Vec<Vec<u32>>,
    /// The network the filtered images go through.
    pub network: ModelSpec,
}

/// The augmented model: what the cloud builds and trains.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AugmentedSpec {
    /// Format version ([`SPEC_FORMAT_VERSION`]).
    pub format_version: u32,
    /// Shape of the augmented samples: images `[C, H', W']` or tokens `[L']`.
    pub input: InputShape,
    /// Number of classes.
    pub classes: usize,
    /// The branches, in the key's secret order.
    pub branches: Vec<BranchSpec>,
    /// A random identifier (hex), so that the bundle's fingerprint differs from every other
    /// bundle's even where model, weights and config coincide (PrivyNet bundles made with
    /// different keys); it says nothing about the key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bundle_id: Option<String>,
    /// How image samples are stored in `data.safetensors`: f32 (the default, and always for
    /// Amalgam's augmented images) or f16 (PrivyNet's features, to halve what is sent).
    #[serde(default, skip_serializing_if = "Precision::is_f32")]
    pub precision: Precision,
}

/// Element type of the image samples in `data.safetensors`. Training always computes in f32:
/// f16 samples are widened (exactly) when a batch is read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// 32-bit floats.
    #[default]
    F32,
    /// 16-bit floats (IEEE 754 half precision).
    F16,
}

impl Precision {
    fn is_f32(&self) -> bool {
        *self == Precision::F32
    }

    /// The element type of image samples stored at this precision.
    pub fn image_dtype(self) -> StreamDtype {
        match self {
            Precision::F32 => StreamDtype::F32,
            Precision::F16 => StreamDtype::F16,
        }
    }
}

/// Name prefix of branch `index`'s tensors, e.g. `branches.2.`.
pub fn branch_prefix(index: usize) -> String {
    format!("branches.{index}.")
}

/// The tensors of branch `index` in augmented weights, with the branch prefix removed (so
/// named as the branch's network names them).
pub fn branch_weights(weights: &Weights, index: usize) -> Weights {
    let prefix = branch_prefix(index);
    weights
        .iter()
        .filter_map(|(name, t)| {
            name.strip_prefix(&prefix)
                .map(|n| (n.to_string(), t.clone()))
        })
        .collect()
}

impl AugmentedSpec {
    /// Checks that every branch's filter fits the augmented input and its network.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming the branch and the problem.
    pub fn validate(&self) -> Result<()> {
        if self.format_version != SPEC_FORMAT_VERSION {
            return Err(Error::invalid(format!(
                "format_version {} is not supported (expected {SPEC_FORMAT_VERSION})",
                self.format_version
            )));
        }
        if self.branches.is_empty() || self.branches.len() > MAX_BRANCHES {
            return Err(Error::invalid(format!(
                "the augmented model needs 1 to {MAX_BRANCHES} branches, has {}",
                self.branches.len()
            )));
        }
        self.input.check_size()?;
        if self.precision == Precision::F16 && self.input.image().is_none() {
            return Err(Error::invalid("only image samples can be stored as f16"));
        }
        let grid = self.input.positions();
        for (i, branch) in self.branches.iter().enumerate() {
            let net = &branch.network;
            net.validate()
                .map_err(|e| Error::invalid(format!("branch {i}: {e}")))?;
            if net
                .split
                .as_ref()
                .is_some_and(|s| s.part != SplitPart::Cloud)
            {
                return Err(Error::invalid(format!(
                    "branch {i}: a bundle trains whole networks or the cloud parts of split ones, not a local part or a composed model"
                )));
            }
            let same_kind = match (net.input, self.input) {
                (InputShape::Image(n), InputShape::Image(a)) => n.channels == a.channels,
                (InputShape::Tokens(n), InputShape::Tokens(a)) => n.vocab_size == a.vocab_size,
                _ => false,
            };
            let fits = same_kind
                && net.classes == self.classes
                && branch.keep_indices.len() == self.input.channels()
                && branch.keep_indices.iter().all(|k| {
                    k.len() == net.input.positions()
                        && k.windows(2).all(|w| w[0] < w[1])
                        && k.last().is_none_or(|&last| (last as usize) < grid)
                });
            if !fits {
                return Err(Error::invalid(format!(
                    "branch {i}: its input filter does not map {} onto {} sorted distinct positions per channel",
                    self.input, net.input
                )));
            }
        }
        Ok(())
    }

    /// Names and PyTorch shapes of every initial/trained tensor of the augmented network.
    pub fn parameter_shapes(&self) -> Vec<(String, Vec<usize>)> {
        self.branches
            .iter()
            .enumerate()
            .flat_map(|(i, b)| {
                b.network
                    .parameters()
                    .into_iter()
                    .map(move |p| (format!("{}{}", branch_prefix(i), p.name), p.shape))
            })
            .collect()
    }
}

/// A bundle directory, opened: its spec, training config and initial weights. The data
/// sets are read separately with [`Bundle::read_data`].
#[derive(Clone, Debug)]
pub struct Bundle {
    /// The directory.
    pub dir: PathBuf,
    /// `model.json`.
    pub spec: AugmentedSpec,
    /// `train.json`.
    pub train: TrainConfig,
    /// `init.safetensors`.
    pub init: Weights,
    /// [`fingerprint`] of the bundle.
    pub fingerprint: String,
}

/// SHA-256 (hex) over `model.json`, `init.safetensors` and `train.json` of the bundle `dir`.
///
/// # Errors
/// [`Error::File`] naming a missing file.
pub fn fingerprint(dir: &Path) -> Result<String> {
    let mut hasher = Sha256::new();
    for name in [MODEL_FILE, INIT_FILE, TRAIN_FILE] {
        let path = dir.join(name);
        let (mut file, _) = open_regular(&path, MAX_READ_BYTES)?;
        std::io::copy(&mut file, &mut hasher)
            .map_err(|e| Error::file(&path, format!("cannot read: {e}")))?;
    }
    Ok(format!("{:x}", hasher.finalize()))
}

impl Bundle {
    /// Writes a bundle into the (empty, staging) directory `dir` and returns its fingerprint.
    /// The data file is streamed: `fill` writes, in order, the `counts[0]` training samples,
    /// their labels, the `counts[1]` test samples and their labels (see [`data_tensors`];
    /// [`whole_sets`] does it for sets in memory), in as many pieces as it likes.
    ///
    /// # Errors
    /// [`Error::File`] if a file cannot be written or `fill` writes the wrong amount; `fill`'s
    /// own errors.
    pub fn write(
        dir: &Path,
        spec: &AugmentedSpec,
        train: &TrainConfig,
        init: &Weights,
        counts: [usize; 2],
        fill: impl FnOnce(&mut TensorSink<'_>) -> Result<()>,
    ) -> Result<String> {
        write_json(&dir.join(MODEL_FILE), spec)?;
        write_json(&dir.join(TRAIN_FILE), train)?;
        write_tensor_file(
            &dir.join(INIT_FILE),
            &TensorFile {
                tensors: init.clone(),
                metadata: Default::default(),
            },
        )?;
        let tensors = data_tensors(spec.input, spec.precision, counts);
        write_tensor_stream(&dir.join(DATA_FILE), &tensors, &Default::default(), fill)?;
        fingerprint(dir)
    }

    /// Opens and checks the bundle in `dir` (all files but the data, which is checked by
    /// [`read_data`](Self::read_data)).
    ///
    /// # Errors
    /// [`Error::File`] naming the missing or malformed file.
    pub fn open(dir: &Path) -> Result<Self> {
        if !dir.is_dir() {
            return Err(Error::file(dir, "is not a bundle directory"));
        }
        let model_path = dir.join(MODEL_FILE);
        let spec: AugmentedSpec = read_json(&model_path)?;
        spec.validate().map_err(|e| Error::file(&model_path, e))?;
        let train_path = dir.join(TRAIN_FILE);
        let train: TrainConfig = read_json(&train_path)?;
        train.validate().map_err(|e| Error::file(&train_path, e))?;
        let init_path = dir.join(INIT_FILE);
        let shapes = spec.parameter_shapes();
        // The initial weights can be no larger than their tensors and a generous header.
        let limit = shapes
            .iter()
            .try_fold(1u64 << 24, |sum, (_, shape)| {
                shape
                    .iter()
                    .try_fold(4u64, |b, &d| b.checked_mul(d as u64))
                    .and_then(|bytes| sum.checked_add(bytes))
            })
            .unwrap_or(u64::MAX);
        let init = read_tensors(&init_path, limit, |_| true)?.tensors;
        check_shapes(&init, shapes.iter().map(|(n, s)| (n.clone(), s.as_slice())))
            .map_err(|e| Error::file(&init_path, e))?;
        let data_path = dir.join(DATA_FILE);
        if !data_path.is_file() {
            return Err(Error::file(&data_path, "is missing from the bundle"));
        }
        Ok(Self {
            dir: dir.to_path_buf(),
            fingerprint: fingerprint(dir)?,
            spec,
            train,
            init,
        })
    }

    /// Reads the augmented train and test sets into memory.
    ///
    /// # Errors
    /// As [`map_data`](Self::map_data).
    pub fn read_data(&self) -> Result<(SampleSet, SampleSet)> {
        let (train, test) = self.map_data()?;
        let path = self.dir.join(DATA_FILE);
        let copy = |set: MappedSet| set.to_memory().map_err(|e| Error::file(&path, e));
        Ok((copy(train)?, copy(test)?))
    }

    /// Maps the data file into memory and checks it against the spec; the samples are read
    /// from the file as batches need them (labels are read at once).
    ///
    /// # Errors
    /// [`Error::File`] naming `data.safetensors` if it is not a safetensors file, a tensor is
    /// missing, or a shape, type or label disagrees with the spec.
    pub fn map_data(&self) -> Result<(MappedSet, MappedSet)> {
        let path = self.dir.join(DATA_FILE);
        let file = std::fs::File::open(&path)
            .map_err(|e| Error::file(&path, format!("cannot open: {e}")))?;
        // SAFETY: the bundle is opened read-only and not modified while training; amalgam
        // writes bundles by renaming complete files into place, never in place.
        let map = unsafe { memmap2::Mmap::map(&file) }
            .map(Arc::new)
            .map_err(|e| Error::file(&path, format!("cannot map: {e}")))?;
        let parsed = SafeTensors::deserialize(&map)
            .map_err(|e| Error::file(&path, format!("not a valid safetensors file: {e}")))?;
        let expected = data_tensors(self.spec.input, self.spec.precision, [0, 0]);
        let mut sets = Vec::new();
        for pair in expected.chunks(2) {
            let (samples_spec, labels_spec) = (&pair[0], &pair[1]);
            let tensor = |name: &str| {
                parsed
                    .tensor(name)
                    .map_err(|_| Error::file(&path, format!("tensor `{name}` is missing")))
            };
            let (samples, labels) = (tensor(&samples_spec.name)?, tensor(&labels_spec.name)?);
            let count = labels.shape().first().copied().unwrap_or(0);
            let wanted: Vec<usize> = [count]
                .into_iter()
                .chain(samples_spec.shape[1..].iter().copied())
                .collect();
            if samples.shape() != wanted
                || labels.shape() != [count]
                || samples.dtype() != samples_spec.dtype.safetensors()
                || labels.dtype() != Dtype::U8
            {
                return Err(Error::file(
                    &path,
                    format!(
                        "`{}` is {:?} {:?} and `{}` {:?} {:?}; expected {} {wanted:?} and U8 [{count}] for {}",
                        samples_spec.name,
                        samples.dtype(),
                        samples.shape(),
                        labels_spec.name,
                        labels.dtype(),
                        labels.shape(),
                        samples_spec.dtype.safetensors(),
                        self.spec.input
                    ),
                ));
            }
            if let Some(&bad) = labels
                .data()
                .iter()
                .find(|&&l| l as usize >= self.spec.classes)
            {
                return Err(Error::file(
                    &path,
                    format!(
                        "`{}` holds label {bad}, out of range for {} classes",
                        labels_spec.name, self.spec.classes
                    ),
                ));
            }
            if let InputShape::Tokens(t) = self.spec.input
                && let Some(bad) = samples
                    .data()
                    .chunks_exact(4)
                    .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .find(|&id| id as usize >= t.vocab_size)
            {
                return Err(Error::file(
                    &path,
                    format!(
                        "`{}` holds token id {bad}, out of range for a vocabulary of {}",
                        samples_spec.name, t.vocab_size
                    ),
                ));
            }
            let start = samples.data().as_ptr() as usize - map.as_ptr() as usize;
            let range = start..start + samples.data().len();
            sets.push((range, labels.data().to_vec()));
        }
        drop(parsed);
        let mut sets = sets.into_iter().map(|(range, labels)| {
            MappedSet::new(
                Arc::clone(&map),
                self.spec.input,
                self.spec.precision,
                range,
                labels,
            )
        });
        let (train, test) = (
            sets.next().expect("two splits"),
            sets.next().expect("two splits"),
        );
        Ok((train, test))
    }
}

/// The tensors of `data.safetensors` for `counts` training and test samples of `input`
/// (images stored at `precision`), in file order: `train.images` (or `train.tokens`),
/// `train.labels`, `test.images`, `test.labels`.
pub fn data_tensors(
    input: InputShape,
    precision: Precision,
    counts: [usize; 2],
) -> Vec<StreamTensor> {
    let (dtype, sample) = match input {
        InputShape::Image(s) => (precision.image_dtype(), s.dims().to_vec()),
        InputShape::Tokens(s) => (StreamDtype::U32, vec![s.length]),
    };
    ["train", "test"]
        .into_iter()
        .zip(counts)
        .flat_map(|(split, n)| {
            [
                StreamTensor {
                    name: format!("{split}.{}", samples_name(input)),
                    dtype,
                    shape: [n].into_iter().chain(sample.iter().copied()).collect(),
                },
                StreamTensor {
                    name: format!("{split}.labels"),
                    dtype: StreamDtype::U8,
                    shape: vec![n],
                },
            ]
        })
        .collect()
}

/// The `fill` of [`Bundle::write`] for a training and a test set held in memory.
pub fn whole_sets<'a>(
    train: &'a dyn StoredSet,
    test: &'a dyn StoredSet,
) -> impl FnOnce(&mut TensorSink<'_>) -> Result<()> + 'a {
    move |sink| {
        for set in [train, test] {
            sink.write(set.samples_view().values)?;
            sink.write(ValuesView::U8(set.labels()))?;
        }
        Ok(())
    }
}

/// Name of the samples tensor of a split in `data.safetensors`: `images` or `tokens`.
fn samples_name(input: InputShape) -> &'static str {
    match input {
        InputShape::Image(_) => "images",
        InputShape::Tokens(_) => "tokens",
    }
}
