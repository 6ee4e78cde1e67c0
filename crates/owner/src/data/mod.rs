//! The owner's original data sets: IDX files (MNIST / Fashion-MNIST layout), CIFAR-10/100
//! binary batches or image folders from a directory, or the embedded Fashion-MNIST subset.

mod cifar;
mod embedded;
mod folder;
mod idx;
mod idx_stream;
mod parts;
mod source;
mod text;
mod text_table;
mod vocabulary;

use std::path::{Path, PathBuf};

use amalgam_core::data::{ImageSet, LabelledSet};
use amalgam_core::{Error, Result};

pub use idx::{read_idx_images, read_idx_labels};
pub use idx_stream::IdxImages;
pub use parts::TrainingPart;
pub use source::{CHUNK_SAMPLES, Chunked, SampleSource};
pub use text::{TEST_EVERY, TextDataset, TextOptions, load_text_dataset};
pub use text_table::{TextColumns, TextRow, read_text_table};
pub use vocabulary::{Vocabulary, VocabularyOptions};

/// A labelled train/test pair of image sets ([`ImageSet`]) or text sets
/// ([`amalgam_core::data::TokenSet`]).
#[derive(Clone, Debug)]
pub struct Dataset<S = ImageSet> {
    /// Where it came from, for reports.
    pub name: String,
    /// The training set.
    pub train: S,
    /// The test set.
    pub test: S,
}

impl<S: LabelledSet> Dataset<S> {
    /// Number of classes over both sets.
    pub fn classes(&self) -> usize {
        self.train.classes().max(self.test.classes())
    }
}

/// File names of the four IDX files, gzip-compressed or raw (`.gz` is tried first).
const IDX_FILES: [&str; 4] = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
];

/// Loads the data set in `dir`, or the embedded Fashion-MNIST subset when `dir` is `None`.
/// The format is recognised from the directory's contents:
///
/// - CIFAR-10 binary (`data_batch_{1..5}.bin`, `test_batch.bin`);
/// - CIFAR-100 binary (`train.bin`, `test.bin`; fine labels);
/// - IDX, MNIST layout (`train-images-idx3-ubyte[.gz]` and the three others);
/// - image folders (`train/<class>/*` and `test/<class>/*` or `val/<class>/*`), resized and
///   centre-cropped to `image_side x image_side`.
///
/// Pixels are scaled from u8 to f32 in [0, 1] by 1/255.
///
/// # Errors
/// [`amalgam_core::Error::File`] naming a missing, truncated or malformed file (wrong magic,
/// truncated record, label out of range, empty class folder, unreadable image), or images and
/// labels whose counts differ.
pub fn load_dataset(dir: Option<&Path>, image_side: usize) -> Result<Dataset> {
    let Some(dir) = dir else {
        return embedded::fashion_mnist_subset();
    };
    let name = dir.display().to_string();
    let (train, test) = if dir.join("data_batch_1.bin").exists() {
        (
            cifar::read_cifar(&cifar::cifar10_train_files(dir), cifar::CIFAR10)?,
            cifar::read_cifar(&[dir.join("test_batch.bin")], cifar::CIFAR10)?,
        )
    } else if dir.join("train.bin").exists() {
        (
            cifar::read_cifar(&[dir.join("train.bin")], cifar::CIFAR100)?,
            cifar::read_cifar(&[dir.join("test.bin")], cifar::CIFAR100)?,
        )
    } else if dir.join("train").is_dir() {
        if image_side == 0 {
            return Err(Error::invalid("the image size must be at least 1 pixel"));
        }
        let classes = folder::class_names(&dir.join("train"))?;
        if classes.len() > 256 {
            return Err(Error::file(dir.join("train"), "has more than 256 classes"));
        }
        let test_dir = ["test", "val"]
            .map(|n| dir.join(n))
            .into_iter()
            .find(|d| d.is_dir())
            .ok_or_else(|| Error::file(dir, "has train/ but no test/ or val/ image folder"))?;
        (
            folder::read_image_folder(&dir.join("train"), &classes, image_side)?,
            folder::read_image_folder(&test_dir, &classes, image_side)?,
        )
    } else {
        let Some([train_images, train_labels, test_images, test_labels]) = idx_files(dir) else {
            return Err(Error::file(
                dir,
                "holds no data set: expected CIFAR binary batches, IDX files, or train/ and test/ image folders",
            ));
        };
        (
            idx::read_idx_set(&train_images, &train_labels)?,
            idx::read_idx_set(&test_images, &test_labels)?,
        )
    };
    if train.input() != test.input() || train.is_empty() {
        return Err(Error::file(
            dir,
            format!(
                "needs a non-empty training set and test images of the training images' size; found {} training and {} test images, of {} and {}",
                train.len(),
                test.len(),
                train.input(),
                test.input()
            ),
        ));
    }
    Ok(Dataset { name, train, test })
}

/// The four IDX files in `dir` (each `.gz` if that exists), if it holds a training image
/// file and none of the formats [`load_dataset`] tries first.
fn idx_files(dir: &Path) -> Option<[PathBuf; 4]> {
    if ["data_batch_1.bin", "train.bin", "train"]
        .iter()
        .any(|name| dir.join(name).exists())
    {
        return None;
    }
    let path = |name: &str| {
        let gz = dir.join(format!("{name}.gz"));
        if gz.exists() { gz } else { dir.join(name) }
    };
    let files = IDX_FILES.map(path);
    files[0].exists().then_some(files)
}

/// The IDX data set in `dir` opened for streaming ([`IdxImages`]: labels read, images read
/// chunk by chunk when visited), or `None` if [`load_dataset`] would not read `dir` as IDX
/// files.
///
/// # Errors
/// As [`IdxImages::open`].
pub fn open_idx_dataset(dir: &Path) -> Result<Option<Dataset<IdxImages>>> {
    let Some([train_images, train_labels, test_images, test_labels]) = idx_files(dir) else {
        return Ok(None);
    };
    let (train, test) = (
        IdxImages::open(&train_images, &train_labels)?,
        IdxImages::open(&test_images, &test_labels)?,
    );
    if train.sample_shape() != test.sample_shape() {
        return Err(Error::file(
            &test_images,
            format!(
                "holds images of {}, but the training images ({}) are {}",
                test.sample_shape(),
                train_images.display(),
                train.sample_shape()
            ),
        ));
    }
    Ok(Some(Dataset {
        name: dir.display().to_string(),
        train,
        test,
    }))
}
