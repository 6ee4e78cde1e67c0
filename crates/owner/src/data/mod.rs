//! The owner's original data sets: IDX files (MNIST / Fashion-MNIST layout) from a directory,
//! or the embedded Fashion-MNIST subset.

mod embedded;
mod idx;

use std::path::Path;

use amalgam_core::Result;
use amalgam_core::data::ImageSet;

pub use idx::{read_idx_images, read_idx_labels};

/// A labelled train/test pair of image sets.
#[derive(Clone, Debug)]
pub struct Dataset {
    /// Where it came from, for reports.
    pub name: String,
    /// The training set.
    pub train: ImageSet,
    /// The test set.
    pub test: ImageSet,
}

impl Dataset {
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

/// Loads the IDX data set in `dir`, or the embedded Fashion-MNIST subset when `dir` is `None`.
/// Pixels are scaled from u8 to f32 in [0, 1] by 1/255.
///
/// # Errors
/// [`amalgam_core::Error::File`] naming a missing, truncated or malformed file, or images
/// and labels whose counts differ.
pub fn load_dataset(dir: Option<&Path>) -> Result<Dataset> {
    let Some(dir) = dir else {
        return embedded::fashion_mnist_subset();
    };
    let path = |name: &str| {
        let gz = dir.join(format!("{name}.gz"));
        if gz.exists() { gz } else { dir.join(name) }
    };
    let [train_images, train_labels, test_images, test_labels] = IDX_FILES.map(path);
    Ok(Dataset {
        name: dir.display().to_string(),
        train: idx::read_idx_set(&train_images, &train_labels)?,
        test: idx::read_idx_set(&test_images, &test_labels)?,
    })
}
