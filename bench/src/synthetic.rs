//! Synthetic image sets of the benchmark shapes: 8-bit pixel values, 10 classes.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use amalgam_core::data::ImageSet;
use amalgam_core::model::ImageShape;
use amalgam_core::rng::{Stream, stream};
use rand::Rng;

/// Fashion-MNIST's sample shape.
pub const FASHION_MNIST: ImageShape = ImageShape {
    channels: 1,
    height: 28,
    width: 28,
};

/// CIFAR-10's sample shape.
pub const CIFAR: ImageShape = ImageShape {
    channels: 3,
    height: 32,
    width: 32,
};

/// `n` random samples of `shape` (values `k / 255`) with labels `i % 10`.
pub fn image_set(shape: ImageShape, n: usize) -> ImageSet {
    let mut rng = stream(1, Stream::ModelInit);
    let values = (0..n * shape.values())
        .map(|_| f32::from(rng.random::<u8>()) / 255.0)
        .collect();
    ImageSet::new(shape, values, (0..n).map(|i| (i % 10) as u8).collect())
        .expect("sizes match by construction")
}

/// Writes the four raw IDX files of a Fashion-MNIST-shaped set into `dir` (created):
/// `samples` training and `samples / 10` test samples, written in blocks so that memory stays
/// small for any size.
///
/// # Errors
/// If `dir` or a file cannot be written.
pub fn write_idx(dir: &Path, samples: usize) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut rng = stream(5, Stream::ModelInit);
    for (prefix, n) in [("train", samples), ("t10k", samples / 10)] {
        let count = u32::try_from(n).map_err(std::io::Error::other)?;
        let mut images = BufWriter::new(File::create(
            dir.join(format!("{prefix}-images-idx3-ubyte")),
        )?);
        images.write_all(&[0, 0, 8, 3])?;
        for d in [count, 28, 28] {
            images.write_all(&d.to_be_bytes())?;
        }
        let mut block = vec![0u8; 784 * 1024];
        for start in (0..n).step_by(1024) {
            let block = &mut block[..784 * (n - start).min(1024)];
            rng.fill(block);
            images.write_all(block)?;
        }
        images.flush()?;
        let mut labels = BufWriter::new(File::create(
            dir.join(format!("{prefix}-labels-idx1-ubyte")),
        )?);
        labels.write_all(&[0, 0, 8, 1])?;
        labels.write_all(&count.to_be_bytes())?;
        labels.write_all(&(0..n).map(|i| (i % 10) as u8).collect::<Vec<_>>())?;
        labels.flush()?;
    }
    Ok(())
}
