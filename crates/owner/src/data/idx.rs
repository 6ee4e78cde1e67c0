//! The IDX format of MNIST and Fashion-MNIST (LeCun et al.): a big-endian header
//! `0x00 0x00 0x08 ndim`, `ndim` u32 dimensions, then u8 values. Files may be gzip-compressed.

use std::io::Read;
use std::path::Path;

use amalgam_core::data::ImageSet;
use amalgam_core::files::read;
use amalgam_core::model::ImageShape;
use amalgam_core::{Error, Result};
use flate2::read::GzDecoder;

/// Unsigned-byte data type code of the IDX header.
const IDX_U8: u8 = 0x08;

/// Largest ratio of decompressed to compressed size that deflate reaches (about 1032:1): a
/// gzip file cannot honestly hold more.
const GZIP_MAX_RATIO: usize = 1032;

/// Parses an IDX file of `ndim` dimensions (gzip-compressed, recognised by its magic bytes,
/// or raw); returns the dimensions and the values.
///
/// The header is read first and its claim checked against what the file can hold (its
/// length, times [`GZIP_MAX_RATIO`] if compressed); then at most the claimed bytes and one
/// more are decompressed. A lying header, or a gzip bomb that decompresses to more than its
/// header says, is refused without holding more than the claim.
fn parse_idx(bytes: &[u8], ndim: u8, path: &Path) -> Result<(Vec<usize>, Vec<u8>)> {
    let compressed = bytes.starts_with(&[0x1f, 0x8b]);
    let mut reader: Box<dyn Read + '_> = if compressed {
        Box::new(GzDecoder::new(bytes))
    } else {
        Box::new(bytes)
    };
    let gzip_error =
        |e: std::io::Error| Error::file(path, format!("corrupt or truncated gzip data: {e}"));
    let mut header = vec![0u8; 4 + 4 * ndim as usize];
    reader.read_exact(&mut header).map_err(|e| match e.kind() {
        std::io::ErrorKind::UnexpectedEof => Error::file(path, "truncated IDX header"),
        _ => gzip_error(e),
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
    let most = if compressed {
        bytes.len().saturating_mul(GZIP_MAX_RATIO)
    } else {
        bytes.len()
    };
    let Some(count) = count.filter(|&c| c <= most) else {
        return Err(Error::file(
            path,
            format!(
                "truncated IDX file: dimensions {dims:?} need {} bytes of data, more than its {} bytes can hold",
                count.map_or("more than 2^64".to_string(), |c| c.to_string()),
                bytes.len()
            ),
        ));
    };
    let mut body = Vec::new();
    reader
        .take(count as u64 + 1)
        .read_to_end(&mut body)
        .map_err(gzip_error)?;
    if body.len() > count {
        return Err(Error::file(
            path,
            format!(
                "holds more than the {count} bytes of data its dimensions {dims:?} say (a wrong header, or a gzip bomb)"
            ),
        ));
    }
    if body.len() < count {
        return Err(Error::file(
            path,
            format!(
                "truncated IDX file: dimensions {dims:?} need {count} bytes of data, found {}",
                body.len()
            ),
        ));
    }
    Ok((dims, body))
}

/// Images of an IDX file: shape `[1, H, W]` and u8 pixels scaled by 1/255 to [0, 1].
pub(super) fn parse_idx_images(bytes: &[u8], path: &Path) -> Result<(ImageShape, Vec<f32>)> {
    let (dims, values) = parse_idx(bytes, 3, path)?;
    let shape = ImageShape {
        channels: 1,
        height: dims[1],
        width: dims[2],
    };
    if shape.values() == 0 {
        return Err(Error::file(path, "images have zero size"));
    }
    Ok((
        shape,
        values.iter().map(|&v| f32::from(v) / 255.0).collect(),
    ))
}

/// Labels of an IDX file.
pub(super) fn parse_idx_labels(bytes: &[u8], path: &Path) -> Result<Vec<u8>> {
    Ok(parse_idx(bytes, 1, path)?.1)
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

/// Reads an IDX image file (gzip or raw): shape `[1, H, W]` and pixels in [0, 1].
///
/// # Errors
/// [`Error::File`] naming `path` if it is missing, truncated or has the wrong magic number.
pub fn read_idx_images(path: &Path) -> Result<(ImageShape, Vec<f32>)> {
    parse_idx_images(&read(path)?, path)
}

/// Reads an IDX label file (gzip or raw).
///
/// # Errors
/// [`Error::File`] naming `path` if it is missing, truncated or has the wrong magic number.
pub fn read_idx_labels(path: &Path) -> Result<Vec<u8>> {
    parse_idx_labels(&read(path)?, path)
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
    fn embedded_subset_is_fashion_mnist_sized() {
        let data = crate::data::load_dataset(None, 32).unwrap();
        assert_eq!((data.train.len(), data.test.len()), (10_000, 2_000));
        assert_eq!(data.train.shape.dims(), [1, 28, 28]);
        assert_eq!(data.classes(), 10);
        assert!(data.train.images.iter().all(|v| (0.0..=1.0).contains(v)));
    }
}
