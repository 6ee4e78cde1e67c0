//! The CIFAR-10 and CIFAR-100 binary formats (Krizhevsky 2009): fixed-size records of label
//! byte(s) followed by a 32x32 RGB image stored as three 1024-byte planes (R, G, B).

use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use amalgam_core::data::ImageSet;
use amalgam_core::files::{MAX_READ_BYTES, open_regular};
use amalgam_core::memory::check_fits;
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

/// Records read at a time.
const CHUNK_RECORDS: usize = 1024;

/// Reads and concatenates the records of `files`, streaming. Every file's length is checked
/// first, and the memory the decoded images take against what is available.
///
/// # Errors
/// [`Error::File`] naming a file that is missing, not a whole number of records (truncated),
/// holds a label out of range, or whose images would not fit in memory.
pub(super) fn read_cifar(files: &[PathBuf], layout: CifarLayout) -> Result<ImageSet> {
    let record = layout.label_bytes + SHAPE.values();
    let mut opened = Vec::with_capacity(files.len());
    let mut values = 0u64;
    for path in files {
        let (file, len) = open_regular(path, MAX_READ_BYTES)?;
        if len == 0 || len % record as u64 != 0 {
            return Err(Error::file(
                path,
                format!(
                    "truncated CIFAR file: {len} bytes is not a whole number of {record}-byte records"
                ),
            ));
        }
        values += len / record as u64 * SHAPE.values() as u64;
        opened.push((path, file, len / record as u64));
    }
    if let Some(first) = files.first() {
        check_fits(first, "decoding the CIFAR images", values * 4)?;
    }
    // The lengths are the files' real ones (not a header's claim), and they fit.
    let mut images = Vec::with_capacity(values as usize);
    let mut labels = Vec::with_capacity((values / SHAPE.values() as u64) as usize);
    let mut chunk = vec![0u8; CHUNK_RECORDS * record];
    for (path, file, records) in opened {
        let mut reader = BufReader::new(file);
        let mut i = 0u64;
        while i < records {
            let n = CHUNK_RECORDS.min((records - i) as usize);
            let bytes = &mut chunk[..n * record];
            reader
                .read_exact(bytes)
                .map_err(|e| Error::file(path, format!("cannot read: {e}")))?;
            for rec in bytes.chunks_exact(record) {
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
                i += 1;
            }
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
