//! The IDX format of MNIST and Fashion-MNIST (LeCun et al.): a big-endian header
//! `0x00 0x00 0x08 ndim`, `ndim` u32 dimensions, then u8 values. Files may be gzip-compressed.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use amalgam_core::data::ImageSet;
use amalgam_core::files::{MAX_READ_BYTES, open_regular};
use amalgam_core::memory::check_fits;
use amalgam_core::model::ImageShape;
use amalgam_core::{Error, Result};
use flate2::read::GzDecoder;

/// Unsigned-byte data type code of the IDX header.
const IDX_U8: u8 = 0x08;

/// Largest ratio of decompressed to compressed size that deflate reaches (about 1032:1): a
/// gzip file cannot honestly hold more.
const GZIP_MAX_RATIO: u64 = 1032;

/// Bytes read (and decompressed) at a time.
const READ_CHUNK: usize = 1 << 20;

/// An IDX file opened at its values: its dimensions, and a reader of the values after the
/// header (gzip, recognised by its magic bytes, decompressed on the fly).
pub(super) struct IdxValues<'a> {
    /// The header's dimensions.
    pub dims: Vec<usize>,
    /// The number of values they make.
    count: usize,
    reader: Box<dyn Read + 'a>,
    gzip: bool,
    path: PathBuf,
}

impl<'a> IdxValues<'a> {
    /// Reads the header of the IDX file `source` of `len` bytes and `ndim` dimensions
    /// (`path` names it in errors). The header's claim is checked against what `len` bytes
    /// can hold (times [`GZIP_MAX_RATIO`] if compressed) before anything else is read.
    ///
    /// # Errors
    /// [`Error::File`] naming `path` for a truncated header, a wrong magic number, or a claim
    /// the file cannot hold.
    pub(super) fn new(
        mut source: impl BufRead + 'a,
        len: u64,
        ndim: u8,
        path: &Path,
    ) -> Result<Self> {
        let gzip = source
            .fill_buf()
            .map_err(|e| Error::file(path, format!("cannot read: {e}")))?
            .starts_with(&[0x1f, 0x8b]);
        let mut reader: Box<dyn Read + 'a> = if gzip {
            Box::new(GzDecoder::new(source))
        } else {
            Box::new(source)
        };
        let mut header = vec![0u8; 4 + 4 * ndim as usize];
        reader.read_exact(&mut header).map_err(|e| match e.kind() {
            std::io::ErrorKind::UnexpectedEof => Error::file(path, "truncated IDX header"),
            _ => gzip_error(path, &e),
        })?;
        if header[..4] != [0, 0, IDX_U8, ndim] {
            return Err(Error::file(
                path,
                format!(
                    "wrong IDX magic number {:02x}{:02x}{:02x}{:02x}; expected 000008{ndim:02x} (unsigned bytes, {ndim} dimensions)",
                    header[0], header[1], header[2], header[3]
                ),
            ));
        }
        let dims: Vec<usize> = header[4..]
            .chunks_exact(4)
            .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize)
            .collect();
        let count = dims.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
        let most = if gzip {
            len.saturating_mul(GZIP_MAX_RATIO)
        } else {
            len
        };
        let Some(count) = count.filter(|&c| c as u64 <= most) else {
            return Err(Error::file(
                path,
                format!(
                    "truncated IDX file: dimensions {dims:?} need {} bytes of data, more than its {len} bytes can hold",
                    count.map_or("more than 2^64".to_string(), |c| c.to_string()),
                ),
            ));
        };
        Ok(Self {
            dims,
            count,
            reader,
            gzip,
            path: path.to_path_buf(),
        })
    }

    /// Opens the IDX file `path` of `ndim` dimensions, as [`new`](Self::new).
    ///
    /// # Errors
    /// As [`new`](Self::new), or [`Error::File`] if `path` is missing, not a regular file or
    /// larger than [`MAX_READ_BYTES`].
    pub(super) fn open(path: &Path, ndim: u8) -> Result<IdxValues<'static>> {
        let (file, len) = open_regular(path, MAX_READ_BYTES)?;
        IdxValues::new(BufReader::with_capacity(READ_CHUNK, file), len, ndim, path)
    }

    /// " in gzip data" if the file is compressed, for messages.
    pub(super) fn format(&self) -> &'static str {
        if self.gzip { " in gzip data" } else { "" }
    }

    /// Appends the next `n` values (at most) to `bytes`; returns how many there were (fewer
    /// only at the end of the file). `bytes` grows only as the values arrive.
    ///
    /// # Errors
    /// [`Error::File`] naming the file if reading or decompressing fails.
    pub(super) fn read_into(&mut self, bytes: &mut Vec<u8>, n: usize) -> Result<usize> {
        (&mut self.reader)
            .take(n as u64)
            .read_to_end(bytes)
            .map_err(|e| gzip_error(&self.path, &e))
    }

    /// Whether values follow the `count` the header claims (checked once they are read).
    ///
    /// # Errors
    /// As [`read_into`](Self::read_into).
    pub(super) fn has_more(&mut self) -> Result<bool> {
        Ok(self.read_into(&mut Vec::new(), 1)? != 0)
    }

    /// All the values, each converted by `convert`. The memory they take (`count` times the
    /// size of `T`) is checked against what is available first, and the result grows only
    /// as the values arrive: a header that lies, or a gzip bomb that decompresses to more
    /// than its header says, is refused without holding more than the file really has.
    ///
    /// # Errors
    /// [`Error::File`] naming the file if they do not fit in memory, if the file is
    /// truncated, corrupt, or holds more values than its header says.
    pub(super) fn read_all<T>(mut self, convert: impl Fn(u8) -> T) -> Result<Vec<T>> {
        let (count, dims) = (self.count, self.dims.clone());
        let needed = (count as u64).saturating_mul(std::mem::size_of::<T>() as u64);
        check_fits(&self.path, &format!("decoding dimensions {dims:?}"), needed)?;
        let (mut values, mut chunk) = (Vec::new(), Vec::new());
        while values.len() < count {
            chunk.clear();
            let want = READ_CHUNK.min(count - values.len());
            if self.read_into(&mut chunk, want)? < want {
                return Err(Error::file(
                    &self.path,
                    format!(
                        "truncated IDX file: dimensions {dims:?} need {count} bytes of data, found {}",
                        values.len() + chunk.len()
                    ),
                ));
            }
            values.extend(chunk.iter().map(|&v| convert(v)));
        }
        if self.has_more()? {
            return Err(Error::file(
                &self.path,
                format!(
                    "holds more than the {count} bytes of data its dimensions {dims:?} say (a wrong header, or a gzip bomb)"
                ),
            ));
        }
        Ok(values)
    }
}

/// The error for a failed read or decompression of `path`.
fn gzip_error(path: &Path, e: &std::io::Error) -> Error {
    Error::file(path, format!("corrupt or truncated gzip data: {e}"))
}

/// Images of an IDX file: shape `[1, H, W]` and u8 pixels scaled by 1/255 to [0, 1].
fn idx_images(idx: IdxValues<'_>) -> Result<(ImageShape, Vec<f32>)> {
    let shape = ImageShape {
        channels: 1,
        height: idx.dims[1],
        width: idx.dims[2],
    };
    if shape.values() == 0 {
        return Err(Error::file(&idx.path, "images have zero size"));
    }
    Ok((shape, idx.read_all(|v| f32::from(v) / 255.0)?))
}

/// Images of the IDX file held in `bytes` (for the embedded set); as [`read_idx_images`].
pub(super) fn parse_idx_images(bytes: &[u8], path: &Path) -> Result<(ImageShape, Vec<f32>)> {
    idx_images(IdxValues::new(bytes, bytes.len() as u64, 3, path)?)
}

/// Labels of the IDX file held in `bytes` (for the embedded set); as [`read_idx_labels`].
pub(super) fn parse_idx_labels(bytes: &[u8], path: &Path) -> Result<Vec<u8>> {
    IdxValues::new(bytes, bytes.len() as u64, 1, path)?.read_all(|v| v)
}

/// Pairs images and labels into a set; errors name the label file and the image file.
pub(super) fn pair(
    (shape, images): (ImageShape, Vec<f32>),
    labels: Vec<u8>,
    images_path: &Path,
    labels_path: &Path,
) -> Result<ImageSet> {
    let count = images.len() / shape.values();
    if count != labels.len() {
        return Err(Error::file(
            labels_path,
            format!(
                "image/label count mismatch: {} labels but {count} images in {}",
                labels.len(),
                images_path.display()
            ),
        ));
    }
    ImageSet::new(shape, images, labels).map_err(|e| Error::file(labels_path, e))
}

/// Reads an IDX image file (gzip or raw), streaming: shape `[1, H, W]` and pixels in [0, 1].
///
/// # Errors
/// [`Error::File`] naming `path` if it is missing, truncated, has the wrong magic number,
/// or its images would not fit in the memory available.
pub fn read_idx_images(path: &Path) -> Result<(ImageShape, Vec<f32>)> {
    idx_images(IdxValues::open(path, 3)?)
}

/// Reads an IDX label file (gzip or raw), streaming.
///
/// # Errors
/// [`Error::File`] naming `path` if it is missing, truncated or has the wrong magic number.
pub fn read_idx_labels(path: &Path) -> Result<Vec<u8>> {
    IdxValues::open(path, 1)?.read_all(|v| v)
}

/// Reads an image file and its label file into a set.
pub(super) fn read_idx_set(images: &Path, labels: &Path) -> Result<ImageSet> {
    pair(
        read_idx_images(images)?,
        read_idx_labels(labels)?,
        images,
        labels,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use amalgam_core::data::LabelledSet;
    use std::io::Write;

    fn idx(dims: &[u32], values: &[u8]) -> Vec<u8> {
        let mut bytes = vec![0, 0, IDX_U8, dims.len() as u8];
        for d in dims {
            bytes.extend_from_slice(&d.to_be_bytes());
        }
        bytes.extend_from_slice(values);
        bytes
    }

    #[test]
    fn raw_and_gzip_files_give_the_same_scaled_images() {
        let raw = idx(&[2, 2, 3], &[0, 51, 102, 153, 204, 255, 1, 2, 3, 4, 5, 6]);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&raw).unwrap();
        let gz = gz.finish().unwrap();
        let path = Path::new("x");
        let (shape, values) = parse_idx_images(&raw, path).unwrap();
        assert_eq!(shape.dims(), [1, 2, 3]);
        assert_eq!(&values[..6], &[0.0, 0.2, 0.4, 0.6, 0.8, 1.0]);
        assert_eq!(parse_idx_images(&gz, path).unwrap(), (shape, values));
    }

    #[test]
    fn malformed_files_are_rejected_with_their_name() {
        let path = Path::new("dir/labels-file");
        let cases = [
            (idx(&[3], &[1, 2]), "truncated IDX file"),
            (idx(&[3], &[1, 2, 3, 4]), "holds more than the 3 bytes"),
            (vec![0, 0, 8], "truncated IDX header"),
            (idx(&[3, 1, 1], &[1, 2, 3]), "wrong IDX magic"),
        ];
        for (bytes, problem) in cases {
            let err = parse_idx_labels(&bytes, path).unwrap_err().to_string();
            assert!(
                err.starts_with("dir/labels-file: ") && err.contains(problem),
                "{err}"
            );
        }
    }

    #[test]
    fn a_sparse_file_larger_than_memory_is_refused_before_it_is_read() {
        let Some(available) = amalgam_core::memory::available_bytes() else {
            return;
        };
        // Enough 28 x 28 images that their f32 pixels need 1 GiB more than is available.
        let images = (available + (1 << 30)) / 4 / 784 + 1;
        let len = 16 + images * 784;
        if len > MAX_READ_BYTES {
            println!("skipped: {available} bytes available, more than a 16 GiB file decodes to");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("images");
        let file = std::fs::File::create(&path).unwrap();
        let header = idx(&[u32::try_from(images).unwrap(), 28, 28], &[]);
        (&file).write_all(&header).unwrap();
        file.set_len(len).unwrap(); // sparse: zeros that take no disk
        let err = read_idx_images(&path).unwrap_err().to_string();
        assert!(
            err.contains("needs") && err.contains("of memory, more than the"),
            "{err}"
        );
    }

    #[test]
    fn embedded_subset_is_fashion_mnist_sized() {
        let data = crate::data::load_dataset(None, 32).unwrap();
        assert_eq!((data.train.len(), data.test.len()), (10_000, 2_000));
        assert_eq!(data.train.shape.dims(), [1, 28, 28]);
        assert_eq!(data.classes(), 10);
        assert!(data.train.images.iter().all(|v| (0.0..=1.0).contains(v)));
    }
}
