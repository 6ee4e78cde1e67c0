//! The CIFAR-10 and CIFAR-100 binary formats (Krizhevsky 2009): fixed-size records of label
//! byte(s) followed by a 32x32 RGB image stored as three 1024-byte planes (R, G, B).

use std::path::{Path, PathBuf};

use amalgam_core::data::ImageSet;
use amalgam_core::files::read;
use amalgam_core::model::ImageShape;
use amalgam_core::{Error, Result};

/// Shape of a CIFAR image.
const SHAPE: ImageShape = ImageShape {
    channels: 3,
    height: 32,
    width: 32,
};

/// One of the two CIFAR layouts.
#[derive(Clone, Copy, Debug)]
pub(super) struct CifarLayout {
    /// Label bytes before each image (1 for CIFAR-10; 2, coarse then fine, for CIFAR-100).
    label_bytes: usize,
    /// Which label byte is the class (0 for CIFAR-10; 1, the fine label, for CIFAR-100).
    label_index: usize,
    /// Number of classes.
    classes: usize,
}

/// CIFAR-10: `data_batch_{1..5}.bin` and `test_batch.bin`, 10 classes.
pub(super) const CIFAR10: CifarLayout = CifarLayout {
    label_bytes: 1,
    label_index: 0,
    classes: 10,
};

/// CIFAR-100: `train.bin` and `test.bin`, 100 fine classes.
pub(super) const CIFAR100: CifarLayout = CifarLayout {
    label_bytes: 2,
    label_index: 1,
    classes: 100,
};

/// Reads and concatenates the records of `files`.
///
/// # Errors
/// [`Error::File`] naming a file that is missing, not a whole number of records (truncated),
/// or holds a label out of range.
pub(super) fn read_cifar(files: &[PathBuf], layout: CifarLayout) -> Result<ImageSet> {
    let record = layout.label_bytes + SHAPE.values();
    let (mut images, mut labels) = (Vec::new(), Vec::new());
    for path in files {
        let bytes = read(path)?;
        if bytes.is_empty() || bytes.len() % record != 0 {
            return Err(Error::file(
                path,
                format!(
                    "truncated CIFAR file: {} bytes is not a whole number of {record}-byte records",
                    bytes.len()
                ),
            ));
        }
        for (i, rec) in bytes.chunks_exact(record).enumerate() {
            let label = rec[layout.label_index];
            if label as usize >= layout.classes {
                return Err(Error::file(
                    path,
                    format!(
                        "record {i}: label {label} is out of range for {} classes",
                        layout.classes
                    ),
                ));
            }
            labels.push(label);
            images.extend(
                rec[layout.label_bytes..]
                    .iter()
                    .map(|&v| f32::from(v) / 255.0),
            );
        }
    }
    ImageSet::new(SHAPE, images, labels).map_err(|e| Error::file(&files[0], e))
}

/// The CIFAR-10 training batches present in `dir` (`data_batch_1.bin` to `data_batch_5.bin`).
pub(super) fn cifar10_train_files(dir: &Path) -> Vec<PathBuf> {
    (1..=5)
        .map(|i| dir.join(format!("data_batch_{i}.bin")))
        .filter(|p| p.exists())
        .collect()
}
