//! The bundle: everything that crosses the trust boundary from the owner to the cloud, and
//! nothing else. A directory of four files:
//!
//! | file | content |
//! | --- | --- |
//! | `model.json` | [`AugmentedSpec`]: the augmented input shape and the branches (input filter + network spec), in the key's secret order |
//! | `init.safetensors` | initial weights of every branch, `branches.{i}.{param}`, PyTorch layout |
//! | `train.json` | [`TrainConfig`] |
//! | `data.safetensors` | augmented sets: `train.images` `[N, C, H', W']` f32, `train.labels` `[N]` u8, `test.images`, `test.labels` |
//!
//! Nothing in it says which branch is real. Its fingerprint (SHA-256 of `model.json`,
//! `init.safetensors` and `train.json`) ties a key and a trained weights file to it.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::data::ImageSet;
use crate::files::{read, read_json, write_json};
use crate::model::{ImageShape, ModelSpec, SPEC_FORMAT_VERSION, Weights, check_shapes};
use crate::tensors::{
    TensorFile, TensorView, Values, ValuesView, read_tensor_file, write_tensor_file, write_tensors,
};
use crate::training::TrainConfig;
use crate::{Error, Result};

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
    /// Per channel, the sorted positions (in the flattened `H' * W'` augmented grid) that the
    /// input filter gathers, `H * W` of them, reshaped to `[H, W]` in order.
    pub keep_indices: Vec<Vec<u32>>,
    /// The network the filtered images go through.
    pub network: ModelSpec,
}

/// The augmented model: what the cloud builds and trains.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AugmentedSpec {
    /// Format version ([`SPEC_FORMAT_VERSION`]).
    pub format_version: u32,
    /// Shape of the augmented samples `[C, H', W']`.
    pub input: ImageShape,
    /// Number of classes.
    pub classes: usize,
    /// The branches, in the key's secret order.
    pub branches: Vec<BranchSpec>,
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
        if self.branches.is_empty() {
            return Err(Error::invalid("the augmented model has no branches"));
        }
        let grid = self.input.pixels();
        for (i, branch) in self.branches.iter().enumerate() {
            let net = &branch.network;
            net.validate()
                .map_err(|e| Error::invalid(format!("branch {i}: {e}")))?;
            let fits = net.input.channels == self.input.channels
                && net.classes == self.classes
                && branch.keep_indices.len() == self.input.channels
                && branch.keep_indices.iter().all(|k| {
                    k.len() == net.input.pixels()
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
        hasher.update(read(&dir.join(name))?);
    }
    Ok(format!("{:x}", hasher.finalize()))
}

impl Bundle {
    /// Writes a bundle into the (empty, staging) directory `dir` and returns its fingerprint.
    ///
    /// # Errors
    /// [`Error::File`] if a file cannot be written.
    pub fn write(
        dir: &Path,
        spec: &AugmentedSpec,
        train: &TrainConfig,
        init: &Weights,
        train_set: &ImageSet,
        test_set: &ImageSet,
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
        let mut data = Vec::new();
        for (split, set) in [("train", train_set), ("test", test_set)] {
            let [c, h, w] = set.shape.dims();
            let images = TensorView {
                shape: vec![set.len(), c, h, w],
                values: ValuesView::F32(&set.images),
            };
            let labels = TensorView {
                shape: vec![set.len()],
                values: ValuesView::U8(&set.labels),
            };
            data.push((format!("{split}.images"), images));
            data.push((format!("{split}.labels"), labels));
        }
        write_tensors(&dir.join(DATA_FILE), data, &Default::default())?;
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
        let init = read_tensor_file(&init_path)?.tensors;
        let shapes = spec.parameter_shapes();
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

    /// Reads the augmented train and test sets.
    ///
    /// # Errors
    /// [`Error::File`] naming `data.safetensors` if a tensor is missing or its shape or
    /// labels disagree with the spec.
    pub fn read_data(&self) -> Result<(ImageSet, ImageSet)> {
        let path = self.dir.join(DATA_FILE);
        let mut file = read_tensor_file(&path)?;
        let mut split = |name: &str| -> Result<ImageSet> {
            let images = file.take(&format!("{name}.images"), &path)?;
            let labels = file.take(&format!("{name}.labels"), &path)?;
            let (shape, label_shape) = (images.shape, labels.shape);
            let (Values::F32(images), Values::U8(labels)) = (images.values, labels.values) else {
                return Err(Error::file(
                    &path,
                    format!("{name} set must hold F32 images and U8 labels"),
                ));
            };
            let expected = self.spec.input.dims();
            if shape.len() != 4 || shape[1..] != expected || label_shape != [shape[0]] {
                return Err(Error::file(
                    &path,
                    format!(
                        "{name} set has images {shape:?} and labels {label_shape:?}; expected [N, {}, {}, {}] and [N]",
                        expected[0], expected[1], expected[2]
                    ),
                ));
            }
            if let Some(&bad) = labels.iter().find(|&&l| l as usize >= self.spec.classes) {
                return Err(Error::file(
                    &path,
                    format!(
                        "{name} label {bad} is out of range for {} classes",
                        self.spec.classes
                    ),
                ));
            }
            ImageSet::new(self.spec.input, images, labels).map_err(|e| Error::file(&path, e))
        };
        Ok((split("train")?, split("test")?))
    }
}
