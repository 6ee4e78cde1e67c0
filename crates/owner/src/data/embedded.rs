//! The embedded default data set: the first 10,000 training and 2,000 test samples of
//! Fashion-MNIST (MIT licence, see `data/fashion-mnist-subset/LICENSE` in this crate).

use std::path::Path;

use amalgam_core::Result;

use super::Dataset;
use super::idx::{parse_idx_images, parse_idx_labels};

macro_rules! subset_file {
    ($name:literal) => {
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/data/fashion-mnist-subset/",
            $name
        ))
    };
}

/// Decodes the embedded subset.
pub(super) fn fashion_mnist_subset() -> Result<Dataset> {
    let set = |images: &[u8], labels: &[u8], name: &str| {
        let origin = Path::new("<embedded>").join(name);
        let (images_path, labels_path) = (origin.join("images"), origin.join("labels"));
        let images = parse_idx_images(images, &images_path)?;
        let labels = parse_idx_labels(labels, &labels_path)?;
        super::idx::pair(images, labels, &images_path, &labels_path)
    };
    Ok(Dataset {
        name: "embedded Fashion-MNIST subset".into(),
        train: set(
            subset_file!("train-images-idx3-ubyte.gz"),
            subset_file!("train-labels-idx1-ubyte.gz"),
            "train",
        )?,
        test: set(
            subset_file!("t10k-images-idx3-ubyte.gz"),
            subset_file!("t10k-labels-idx1-ubyte.gz"),
            "test",
        )?,
    })
}
