//! Fixtures shared by the integration tests.
#![allow(dead_code)] // each test crate uses a different part

pub mod exactness;

use std::path::Path;
use std::process::{Command, Output};

use amalgam_core::data::{ImageSet, TokenSet};
use amalgam_owner::data::{
    Dataset, TextOptions, VocabularyOptions, load_dataset, load_text_dataset,
};

/// Writes a raw (uncompressed) IDX file: header `00 00 08 ndim`, big-endian dims, bytes.
pub fn write_idx(path: &Path, dims: &[u32], values: &[u8]) {
    let mut bytes = vec![0, 0, 8, dims.len() as u8];
    for d in dims {
        bytes.extend_from_slice(&d.to_be_bytes());
    }
    bytes.extend_from_slice(values);
    std::fs::write(path, bytes).unwrap();
}

/// Writes the four IDX files of a small data set into `dir`: `train` and `test` samples of
/// `side x side` pixels, 10 classes, values from a simple deterministic pattern.
pub fn write_idx_dataset(dir: &Path, train: u32, test: u32, side: u32) {
    for (prefix, n) in [("train", train), ("t10k", test)] {
        let pixels: Vec<u8> = (0..n * side * side).map(|i| (i * 37 % 251) as u8).collect();
        let labels: Vec<u8> = (0..n).map(|i| (i % 10) as u8).collect();
        write_idx(
            &dir.join(format!("{prefix}-images-idx3-ubyte")),
            &[n, side, side],
            &pixels,
        );
        write_idx(
            &dir.join(format!("{prefix}-labels-idx1-ubyte")),
            &[n],
            &labels,
        );
    }
}

/// The first `train` / `test` samples of the embedded Fashion-MNIST subset.
pub fn fashion_subset(train: usize, test: usize) -> Dataset {
    let full = load_dataset(None, 32).expect("the embedded subset decodes");
    Dataset {
        name: format!("first {train} Fashion-MNIST samples"),
        train: full.train.head(train),
        test: full.test.head(test),
    }
}

/// The first `train` / `test` reviews of the embedded Rotten Tomatoes corpus, as sequences of
/// `length` tokens (vocabulary learned from the whole training split).
pub fn rotten_tomatoes_subset(train: usize, test: usize, length: usize) -> Dataset<TokenSet> {
    let options = TextOptions {
        columns: None,
        vocabulary: VocabularyOptions {
            length,
            max_size: 20_000,
            min_frequency: 2,
        },
    };
    let full = load_text_dataset(None, &options)
        .expect("the embedded corpus decodes")
        .dataset;
    Dataset {
        name: format!("first {train} Rotten Tomatoes reviews"),
        train: full.train.head(train),
        test: full.test.head(test),
    }
}

/// The attacker's shadow of the bundle in `dir/bundle`, made with the key `dir/key.json` that
/// the attacker knows.
pub fn shadow_of<S: amalgam_attack::ViewSamples>(dir: &Path) -> amalgam_attack::Shadow<S> {
    let key = amalgam_owner::key::SecretKey::read(&dir.join("key.json")).unwrap();
    amalgam_attack::Shadow {
        view: amalgam_attack::CloudView::open(&dir.join("bundle"), None, None, 0).unwrap(),
        is_noise: key.noise_mask(),
        real_branch: key.real_branch,
    }
}

/// Runs the `amalgam` binary with `args`.
pub fn amalgam(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_amalgam"))
        .args(args)
        .output()
        .expect("the amalgam binary runs")
}

/// Runs `amalgam` with `args`, asserts it succeeds, and returns its standard output.
pub fn amalgam_ok(args: &[&str]) -> String {
    let out = amalgam(args);
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs `amalgam` with `args` and asserts it fails, without a panic, with a message
/// containing `needle`.
pub fn fails_with(args: &[&str], needle: &str) {
    let output = amalgam(args);
    assert!(!output.status.success(), "expected failure of {args:?}");
    let err = stderr(&output);
    assert!(err.contains(needle), "stderr lacks `{needle}`: {err}");
    assert!(!err.contains("panicked"), "{err}");
}

/// Standard error of a run, as text.
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Entries of `dir`, by name, sorted.
pub fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// `dir.join(name)` as a string argument.
pub fn arg(dir: &Path, name: &str) -> String {
    path_arg(&dir.join(name))
}

/// A path as a string argument.
pub fn path_arg(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

/// Asserts that all values of two image sets are bitwise equal.
pub fn assert_bitwise_equal(a: &ImageSet, b: &ImageSet) {
    assert_eq!(a.shape, b.shape);
    assert_eq!(a.labels, b.labels);
    assert!(
        a.images
            .iter()
            .zip(&b.images)
            .all(|(x, y)| x.to_bits() == y.to_bits())
    );
}

/// A small in-memory data set: `n` train and `n / 2` test samples of `1 x side x side`,
/// 10 classes.
pub fn tiny_dataset(n: usize, side: usize) -> Dataset {
    let shape = amalgam_core::model::ImageShape {
        channels: 1,
        height: side,
        width: side,
    };
    let set = |n: usize| {
        let values = (0..n * shape.values())
            .map(|i| (i % 97) as f32 / 97.0)
            .collect();
        ImageSet::new(shape, values, (0..n).map(|i| (i % 10) as u8).collect()).unwrap()
    };
    Dataset {
        name: "tiny".into(),
        train: set(n),
        test: set(n / 2),
    }
}

/// Augmentation options for fast tests: MLP, amount 0.5, `decoys` decoys, 1 epoch.
pub fn quick_options(
    decoys: usize,
    seed: u64,
    key_seed: u64,
) -> amalgam_owner::augment::AugmentOptions {
    amalgam_owner::augment::AugmentOptions {
        architecture: amalgam_core::model::Architecture::Mlp { hidden: vec![16] },
        amount: 0.5,
        noise: amalgam_owner::noise::NoiseKind::Uniform,
        decoys,
        decoy_architecture: amalgam_owner::augment::DecoyArchitecture::Clone,
        seed,
        key_seed,
        train: amalgam_owner::setup::TrainSettings {
            epochs: 1,
            batch_size: 8,
            learning_rate: 1e-2,
            optimizer: amalgam_core::training::OptimizerKind::Adam,
            ..Default::default()
        },
        decoy_inputs: None,
    }
}

/// Writes CIFAR-format binary files into `dir`: CIFAR-10 (`data_batch_1.bin`,
/// `data_batch_2.bin`, `test_batch.bin`) when `label_bytes` is 1, CIFAR-100 (`train.bin`,
/// `test.bin`, coarse label then fine label) when it is 2. Record `i` of a file has fine label
/// `i % classes` and pixels from a seeded pattern.
pub fn write_cifar(dir: &Path, label_bytes: usize, train: usize, test: usize) {
    let classes = if label_bytes == 1 { 10 } else { 100 };
    let records = |n: usize, salt: usize| -> Vec<u8> {
        (0..n)
            .flat_map(|i| {
                let mut record = vec![(i % 20) as u8; label_bytes - 1];
                record.push((i % classes) as u8);
                record.extend((0..3072).map(|p| ((p * 31 + i * 17 + salt * 7) % 256) as u8));
                record
            })
            .collect()
    };
    if label_bytes == 1 {
        std::fs::write(dir.join("data_batch_1.bin"), records(train / 2, 1)).unwrap();
        std::fs::write(dir.join("data_batch_2.bin"), records(train - train / 2, 2)).unwrap();
        std::fs::write(dir.join("test_batch.bin"), records(test, 3)).unwrap();
    } else {
        std::fs::write(dir.join("train.bin"), records(train, 1)).unwrap();
        std::fs::write(dir.join("test.bin"), records(test, 3)).unwrap();
    }
}

/// Writes an image folder into `dir`: `train/` and `test/` with classes `cat` and `dog`, each
/// image a solid colour (class `cat` red, `dog` blue) of `width x height` pixels.
pub fn write_image_folder(dir: &Path, per_class: usize, width: u32, height: u32) {
    for split in ["train", "test"] {
        for (class, colour) in [("dog", [0u8, 0, 200]), ("cat", [200u8, 0, 0])] {
            let folder = dir.join(split).join(class);
            std::fs::create_dir_all(&folder).unwrap();
            for i in 0..per_class {
                image::RgbImage::from_pixel(width, height, image::Rgb(colour))
                    .save(folder.join(format!("{i}.png")))
                    .unwrap();
            }
        }
    }
}

/// A CSV of `rows` short reviews: `pos` ones use good words, `neg` ones bad words.
pub fn write_reviews(path: &Path, rows: usize) {
    let mut csv = String::from("label,text\n");
    for i in 0..rows {
        let (label, words) = if i % 2 == 0 {
            ("pos", "a fine, warm and funny film")
        } else {
            ("neg", "a dull, cold and tedious film")
        };
        csv.push_str(&format!("{label},\"{words} number {}\"\n", i % 7));
    }
    std::fs::write(path, csv).unwrap();
}

/// MixNN owner options on loopback: routes through `route_mixes` mixes, no retries, no
/// checkpoint, the set-ups made with `owner_key`.
pub fn loopback_mixnn_options(
    owner_key: [u8; 32],
    route_mixes: usize,
    step_timeout: std::time::Duration,
) -> amalgam_owner::mixnn::MixnnOptions {
    amalgam_owner::mixnn::MixnnOptions {
        listen: "127.0.0.1:0".into(),
        route_mixes,
        step_timeout,
        retries: 0,
        checkpoint: None,
        resume: false,
        owner_key: Some(owner_key),
    }
}
