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

/// Decompresses gzip data (recognised by its magic bytes); returns other data as it is.
fn decompress(bytes: &[u8], path: &Path) -> Result<Vec<u8>> {
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        GzDecoder::new(bytes)
            .read_to_end(&mut out)
            .map_err(|e| Error::file(path, format!("corrupt or truncated gzip data: {e}")))?;
        Ok(out)
    } else {
        Ok(bytes.to_vec())
    }
}

/// Parses an IDX file of `ndim` dimensions; returns the dimensions and the values.
fn parse_idx(bytes: &[u8], ndim: u8, path: &Path) -> Result<(Vec<usize>, Vec<u8>)> {
    let data = decompress(bytes, path)?;
    let header = data
        .get(..4)
        .ok_or_else(|| Error::file(path, "truncated IDX header"))?;
    if header != [0, 0, IDX_U8, ndim] {
        return Err(Error::file(
            path,
            format!(
                "wrong IDX magic number {:02x}{:02x}{:02x}{:02x}; expected 000008{ndim:02x} (unsigned bytes, {ndim} dimensions)",
                header[0], header[1], header[2], header[3]
            ),
        ));
    }
    let body_start = 4 + 4 * ndim as usize;
    let dims: Vec<usize> = data
        .get(4..body_start)
        .ok_or_else(|| Error::file(path, "truncated IDX header"))?
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize)
        .collect();
    let count = dims.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
    let body = &data[body_start..];
    if count != Some(body.len()) {
        return Err(Error::file(
            path,
            format!(
                "truncated or oversized IDX file: dimensions {dims:?} need {} bytes of data, found {}",
                count.map_or("more than 2^64".to_string(), |c| c.to_string()),
                body.len()
            ),
        ));
    }
    Ok((dims, body.to_vec()))
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
            (idx(&[3], &[1, 2]), "truncated or oversized"),
            (idx(&[3], &[1, 2, 3, 4]), "truncated or oversized"),
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
