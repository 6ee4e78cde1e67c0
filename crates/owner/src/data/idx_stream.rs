//! IDX image files read chunk by chunk, for augmenting sets larger than memory.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use amalgam_core::data::ImageSet;
use amalgam_core::model::{ImageShape, InputShape};
use amalgam_core::{Error, Result};
use flate2::read::GzDecoder;

use super::idx::read_idx_labels;
use super::source::{CHUNK_SAMPLES, SampleSource};

/// An IDX image file (raw or gzip) and its labels: the labels are in memory, the images are
/// read from the file chunk by chunk each time the set is visited.
#[derive(Clone, Debug)]
pub struct IdxImages {
    path: PathBuf,
    shape: ImageShape,
    labels: Vec<u8>,
}

/// Opens `path`, decompressing gzip (recognised by its magic bytes) on the fly; says whether
/// it is gzip.
fn open(path: &Path) -> Result<(Box<dyn Read>, bool)> {
    let mut file = BufReader::with_capacity(
        1 << 20,
        File::open(path).map_err(|e| Error::file(path, format!("cannot open: {e}")))?,
    );
    let gzip = file
        .fill_buf()
        .map_err(|e| Error::file(path, format!("cannot read: {e}")))?
        .starts_with(&[0x1f, 0x8b]);
    let reader: Box<dyn Read> = if gzip {
        Box::new(GzDecoder::new(file))
    } else {
        Box::new(file)
    };
    Ok((reader, gzip))
}

/// Reads exactly `buf.len()` bytes of `what` from the (`gzip`) file `path`, or explains what
/// is missing.
fn read_exact(
    (reader, gzip): &mut (Box<dyn Read>, bool),
    buf: &mut [u8],
    path: &Path,
    what: &str,
) -> Result<()> {
    let format = if *gzip { " in gzip data" } else { "" };
    reader
        .read_exact(buf)
        .map_err(|e| Error::file(path, format!("truncated or corrupt {what}{format}: {e}")))
}

impl IdxImages {
    /// Opens the image file `images` (reading its header) and reads the label file `labels`.
    ///
    /// # Errors
    /// [`Error::File`] naming the file that is missing, has the wrong magic number or
    /// dimensions, or whose count disagrees with the other.
    pub fn open(images: &Path, labels: &Path) -> Result<Self> {
        let mut reader = open(images)?;
        let mut header = [0u8; 16];
        read_exact(&mut reader, &mut header, images, "IDX header")?;
        if header[..4] != [0, 0, 0x08, 3] {
            return Err(Error::file(
                images,
                "wrong IDX magic number; expected 00000803 (unsigned bytes, 3 dimensions)",
            ));
        }
        let dim = |i: usize| {
            u32::from_be_bytes([header[i], header[i + 1], header[i + 2], header[i + 3]]) as usize
        };
        let (count, shape) = (
            dim(4),
            ImageShape {
                channels: 1,
                height: dim(8),
                width: dim(12),
            },
        );
        if shape.values() == 0 {
            return Err(Error::file(images, "images have zero size"));
        }
        InputShape::Image(shape)
            .check_size()
            .map_err(|e| Error::file(images, e))?;
        let labels_values = read_idx_labels(labels)?;
        if labels_values.len() != count {
            return Err(Error::file(
                labels,
                format!(
                    "image/label count mismatch: {} labels but {count} images in {}",
                    labels_values.len(),
                    images.display()
                ),
            ));
        }
        Ok(Self {
            path: images.to_path_buf(),
            shape,
            labels: labels_values,
        })
    }
}

impl SampleSource for IdxImages {
    type Chunk = ImageSet;

    fn sample_shape(&self) -> InputShape {
        InputShape::Image(self.shape)
    }

    fn all_labels(&self) -> &[u8] {
        &self.labels
    }

    fn for_each_chunk(&self, f: &mut dyn FnMut(usize, ImageSet) -> Result<()>) -> Result<()> {
        let mut reader = open(&self.path)?;
        read_exact(&mut reader, &mut [0u8; 16], &self.path, "IDX header")?;
        let size = self.shape.values();
        let mut bytes = Vec::new();
        for start in (0..self.labels.len()).step_by(CHUNK_SAMPLES) {
            let end = (start + CHUNK_SAMPLES).min(self.labels.len());
            // Grown as the bytes arrive, so a header that claims more than the file holds
            // fails at the file's end instead of allocating what it claims.
            let want = (end - start) * size;
            bytes.clear();
            let format = if reader.1 { " in gzip data" } else { "" };
            (&mut reader.0)
                .take(want as u64)
                .read_to_end(&mut bytes)
                .map_err(|e| Error::file(&self.path, format!("corrupt IDX images{format}: {e}")))?;
            if bytes.len() != want {
                return Err(Error::file(
                    &self.path,
                    format!(
                        "truncated IDX images{format}: the header claims {} images of {}, the file ends after {} of them",
                        self.labels.len(),
                        self.shape,
                        start + bytes.len() / size
                    ),
                ));
            }
            let images = bytes.iter().map(|&v| f32::from(v) / 255.0).collect();
            f(
                start,
                ImageSet::new(self.shape, images, self.labels[start..end].to_vec())
                    .map_err(|e| Error::file(&self.path, e))?,
            )?;
        }
        let more = reader
            .0
            .read(&mut [0u8; 1])
            .map_err(|e| Error::file(&self.path, format!("cannot read: {e}")))?;
        if more != 0 {
            return Err(Error::file(
                &self.path,
                "holds more image bytes than its header says",
            ));
        }
        Ok(())
    }
}
