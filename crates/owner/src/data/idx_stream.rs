//! IDX image files read chunk by chunk, for augmenting sets larger than memory.

use std::path::{Path, PathBuf};

use amalgam_core::data::ImageSet;
use amalgam_core::model::{ImageShape, InputShape};
use amalgam_core::{Error, Result};

use super::idx::{IdxValues, read_idx_labels};
use super::source::{CHUNK_SAMPLES, SampleSource};

/// An IDX image file (raw or gzip) and its labels: the labels are in memory, the images are
/// read from the file chunk by chunk each time the set is visited.
#[derive(Clone, Debug)]
pub struct IdxImages {
    path: PathBuf,
    shape: ImageShape,
    labels: Vec<u8>,
}

impl IdxImages {
    /// Opens the image file `images` (reading its header) and reads the label file `labels`.
    ///
    /// # Errors
    /// [`Error::File`] naming the file that is missing, has the wrong magic number or
    /// dimensions, or whose count disagrees with the other.
    pub fn open(images: &Path, labels: &Path) -> Result<Self> {
        let dims = IdxValues::open(images, 3)?.dims;
        let (count, shape) = (
            dims[0],
            ImageShape {
                channels: 1,
                height: dims[1],
                width: dims[2],
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
        let mut idx = IdxValues::open(&self.path, 3)?;
        let size = self.shape.values();
        let mut bytes = Vec::new();
        for start in (0..self.labels.len()).step_by(CHUNK_SAMPLES) {
            let end = (start + CHUNK_SAMPLES).min(self.labels.len());
            let want = (end - start) * size;
            bytes.clear();
            if idx.read_into(&mut bytes, want)? != want {
                return Err(Error::file(
                    &self.path,
                    format!(
                        "truncated IDX images{}: the header claims {} images of {}, the file ends after {} of them",
                        idx.format(),
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
        if idx.has_more()? {
            return Err(Error::file(
                &self.path,
                "holds more image bytes than its header says",
            ));
        }
        Ok(())
    }
}
