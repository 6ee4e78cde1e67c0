//! Mutation fuzzing of everything amalgam reads from outside (issue 16): valid bundles,
//! trained weights, keys, training checkpoints, IDX, CIFAR, image folders and CSV inputs are
//! mutated at the byte level (flips, "interesting" bytes, cut and repeated ranges, truncation)
//! and in their JSON numbers (0, -1, 2^32, 2^63, 2^64 - 1, 1e308, ...), then read, and where
//! the reader accepts them, used (trained for one epoch, resumed, extracted, augmented). Every case must end in a result or a clean
//! error: no panic (proptest catches and shrinks it) and no allocation above
//! `fuzz_harness::ALLOCATION_CAP` (its counting allocator aborts the test binary).
//!
//! CI runs a few cases per target. A long run sets `AMALGAM_FUZZ_CASES`:
//! `AMALGAM_FUZZ_CASES=20000 cargo test --release --test fuzz -- --nocapture --test-threads 1`
//! prints the executions per target (docs/RELIABILITY.md gives the counts of the last one).

mod common;
mod fuzz_harness;

use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use amalgam_cloud::{TrainOptions, train_bundle};
use amalgam_owner::augment::augment;
use amalgam_owner::data::{TextOptions, VocabularyOptions, load_dataset, load_text_dataset};
use amalgam_owner::extract::extract;
use amalgam_owner::key::SecretKey;
use fuzz_harness::fuzz;
use indicatif::ProgressBar;

/// A tiny valid bundle (MLP on 8 samples of 16x16, one decoy) in `dir/bundle`, its key in
/// `dir/key.json`, and its trained weights in `dir/trained.safetensors`.
fn valid_job(dir: &Path) {
    let dataset = common::tiny_dataset(8, 16);
    augment(
        &dataset,
        &common::quick_options(1, 0, 3),
        &dir.join("bundle"),
        &dir.join("key.json"),
    )
    .unwrap();
    train(&dir.join("bundle"), &dir.join("trained.safetensors")).unwrap();
}

/// Trains at most two epochs: a mutated `epochs` within the limits is legitimate work, not a
/// fault, and would only slow the fuzzing down.
fn train(bundle: &Path, out: &Path) -> amalgam_core::Result<()> {
    let log = out.with_extension("log.jsonl");
    let options = TrainOptions {
        resume: false,
        stop_after: Some(2),
    };
    train_bundle(bundle, out, &log, &ProgressBar::hidden(), options).map(|_| ())
}

#[test]
fn mutated_bundles_train_or_fail_cleanly() {
    let job = tempfile::tempdir().unwrap();
    valid_job(job.path());
    let bundle = job.path().join("bundle");
    fuzz(
        "bundle",
        &bundle,
        &[
            "model.json",
            "train.json",
            "init.safetensors",
            "data.safetensors",
        ],
        |dir| {
            let _ = train(dir, &dir.join("trained.safetensors"));
        },
    );
}

#[test]
fn mutated_trained_weights_and_keys_extract_or_fail_cleanly() {
    let job = tempfile::tempdir().unwrap();
    valid_job(job.path());
    fuzz(
        "trained weights and key",
        job.path(),
        &["trained.safetensors", "key.json"],
        |dir| {
            if let Ok(key) = SecretKey::read(&dir.join("key.json")) {
                let _ = extract(
                    &key,
                    &dir.join("key.json"),
                    &dir.join("trained.safetensors"),
                );
            }
        },
    );
}

/// `torch.save` trained weights of [`valid_job`]'s bundle, written by the PyTorch runtime
/// (the Rust tests have no PyTorch to write one). [`valid_job`] is deterministic, so its key
/// matches them. To regenerate after the bundle changes: run this file's `.pt` test with
/// `AMALGAM_WRITE_JOB=<dir>`, then
/// `python -m amalgam_cloud train <dir>/bundle --out tests/fixtures/trained-tiny-mlp.pt`.
const TRAINED_PT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/trained-tiny-mlp.pt"
);

/// [`valid_job`] with [`TRAINED_PT`] as `trained.pt`, checked to extract, and its key.
fn valid_pt_job() -> (tempfile::TempDir, SecretKey) {
    let job = tempfile::tempdir().unwrap();
    valid_job(job.path());
    if let Ok(dir) = std::env::var("AMALGAM_WRITE_JOB") {
        fuzz_harness::copy_dir(job.path(), Path::new(&dir));
    }
    std::fs::copy(TRAINED_PT, job.path().join("trained.pt")).unwrap();
    let key_path = job.path().join("key.json");
    let key = SecretKey::read(&key_path).unwrap();
    extract(&key, &key_path, &job.path().join("trained.pt")).expect(
        "the .pt fixture no longer matches valid_job's bundle: regenerate it (see TRAINED_PT)",
    );
    (job, key)
}

/// Runs [`fuzz`] on `targets` of `dir` with `extract_case`, then prints how many cases
/// extracted.
fn fuzz_extraction(
    name: &str,
    dir: &Path,
    targets: &[&str],
    extract_case: impl Fn(&Path) -> amalgam_core::Result<()>,
) {
    let extracted = AtomicUsize::new(0);
    fuzz(name, dir, targets, |dir| {
        if extract_case(dir).is_ok() {
            extracted.fetch_add(1, Ordering::Relaxed);
        }
    });
    println!("{name}: {} cases extracted", extracted.into_inner());
}

/// The `.pt` format as the owner reads it at `extract` (ZIP entries and their CRC-32s, the
/// pickle, the storages), its raw bytes mutated in process;
/// `python/tests/test_fuzz_trained_pt.py` runs the same mutations through the binary on a
/// `.pt` the runtime has just written.
#[test]
fn mutated_pt_trained_weights_extract_or_fail_cleanly() {
    let (job, key) = valid_pt_job();
    fuzz_extraction(
        "trained weights (.pt)",
        job.path(),
        &["trained.pt"],
        |dir| extract(&key, &dir.join("key.json"), &dir.join("trained.pt")).map(|_| ()),
    );
}

/// The `.pt` entries mutated one at a time and packed again with every CRC-32 valid, as a
/// malicious cloud would write them: reaches the pickle and storage readers past the checksum
/// check.
#[test]
fn mutated_pt_entries_with_valid_checksums_extract_or_fail_cleanly() {
    let (job, key) = valid_pt_job();
    let names = unpack_pt(&job.path().join("trained.pt"), &job.path().join("entries"));
    std::fs::remove_file(job.path().join("trained.pt")).unwrap();
    let repack = |dir: &Path| {
        pack_pt(&dir.join("entries"), &names, &dir.join("trained.pt"));
        extract(&key, &dir.join("key.json"), &dir.join("trained.pt")).map(|_| ())
    };
    repack(job.path()).expect("the repacked .pt extracts");
    let targets: Vec<String> = names.iter().map(|n| format!("entries/{n}")).collect();
    let targets: Vec<&str> = targets.iter().map(String::as_str).collect();
    fuzz_extraction(
        "trained weights (.pt entries)",
        job.path(),
        &targets,
        repack,
    );
}

/// Unpacks the ZIP archive `pt` into `dir` (one file per entry); its entry names, in order.
fn unpack_pt(pt: &Path, dir: &Path) -> Vec<String> {
    let mut archive = zip::ZipArchive::new(std::fs::File::open(pt).unwrap()).unwrap();
    (0..archive.len())
        .map(|i| {
            let mut entry = archive.by_index(i).unwrap();
            let name = entry.name().unwrap().to_string();
            let path = dir.join(&name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::io::copy(&mut entry, &mut std::fs::File::create(path).unwrap()).unwrap();
            name
        })
        .collect()
}

/// Packs the files `names` of `dir` into the ZIP archive `pt`, stored, with their CRC-32s.
fn pack_pt(dir: &Path, names: &[String], pt: &Path) {
    let mut zip = zip::ZipWriter::new(std::fs::File::create(pt).unwrap());
    let options =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for name in names {
        zip.start_file(name, options).unwrap();
        zip.write_all(&std::fs::read(dir.join(name)).unwrap())
            .unwrap();
    }
    zip.finish().unwrap();
}

/// A tiny valid PrivyNet job in `dir`: `bundle/` (LeNet's cloud part after split point 1,
/// 3 of 6 channels), `key/`, `trained.safetensors`.
fn valid_privynet_job(dir: &Path) {
    use amalgam_owner::baseline::train_baseline;
    use amalgam_owner::privynet::{PrivynetOptions, make_bundle};
    use amalgam_owner::setup::OwnerSetup;
    let dataset = common::tiny_dataset(8, 16);
    let settings = common::quick_options(0, 0, 0).train;
    let setup = OwnerSetup::new(
        &dataset,
        amalgam_core::model::Architecture::lenet(),
        &settings,
        1,
    )
    .unwrap();
    let pretrained = train_baseline(&dataset, &setup, &ProgressBar::hidden()).weights;
    let options = PrivynetOptions {
        point: 1,
        channels: 3,
        seed: 0,
        key_seed: 2,
        train: settings,
        precision: amalgam_core::bundle::Precision::F16,
    };
    make_bundle(
        &dataset,
        &setup.spec,
        &pretrained,
        &options,
        &dir.join("bundle"),
        &dir.join("key"),
    )
    .unwrap();
    train(&dir.join("bundle"), &dir.join("trained.safetensors")).unwrap();
}

#[test]
fn mutated_privynet_bundles_keys_and_weights_train_or_extract_or_fail_cleanly() {
    use amalgam_owner::privynet::{PrivynetKey, extract as compose};
    let job = tempfile::tempdir().unwrap();
    valid_privynet_job(job.path());
    fuzz(
        "PrivyNet bundle, key and trained weights",
        job.path(),
        &[
            "bundle/model.json",
            "bundle/data.safetensors",
            "key/key.json",
            "key/local.safetensors",
            "trained.safetensors",
        ],
        |dir| {
            let _ = train(&dir.join("bundle"), &dir.join("retrained.safetensors"));
            if let Ok((key, local)) = PrivynetKey::read(&dir.join("key")) {
                let _ = compose(
                    &key,
                    &local,
                    &dir.join("key"),
                    &dir.join("trained.safetensors"),
                );
            }
        },
    );
}

#[test]
fn mutated_idx_and_cifar_sets_load_or_fail_cleanly() {
    let idx = tempfile::tempdir().unwrap();
    common::write_idx_dataset(idx.path(), 16, 8, 16);
    let files = [
        "train-images-idx3-ubyte",
        "train-labels-idx1-ubyte",
        "t10k-images-idx3-ubyte",
        "t10k-labels-idx1-ubyte",
    ];
    let load = |dir: &Path| {
        let _ = load_dataset(Some(dir), 32);
        if let Ok(Some(set)) = amalgam_owner::data::open_idx_dataset(dir) {
            use amalgam_owner::data::SampleSource;
            let _ = set.train.for_each_chunk(&mut |_, _| Ok(()));
        }
    };
    fuzz("IDX", idx.path(), &files, load);
    let cifar = tempfile::tempdir().unwrap();
    common::write_cifar(cifar.path(), 1, 6, 3);
    fuzz(
        "CIFAR-10",
        cifar.path(),
        &["data_batch_1.bin", "data_batch_2.bin", "test_batch.bin"],
        load,
    );
}

#[test]
fn mutated_text_tables_load_or_fail_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    common::write_reviews(&dir.path().join("reviews.csv"), 30);
    let options = TextOptions {
        columns: None,
        vocabulary: VocabularyOptions {
            length: 12,
            max_size: 100,
            min_frequency: 1,
        },
    };
    fuzz("CSV", dir.path(), &["reviews.csv"], |d| {
        let _ = load_text_dataset(Some(&d.join("reviews.csv")), &options);
    });
}

#[test]
fn mutated_image_folders_load_or_fail_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    common::write_image_folder(dir.path(), 2, 20, 12);
    image::RgbImage::from_fn(9, 14, |x, y| image::Rgb([x as u8 * 20, y as u8 * 15, 90]))
        .save(dir.path().join("train/dog/2.jpg"))
        .unwrap();
    fuzz(
        "image folder",
        dir.path(),
        &[
            "train/dog/0.png",
            "train/cat/1.png",
            "test/dog/0.png",
            "train/dog/2.jpg",
        ],
        |d| {
            let _ = load_dataset(Some(d), 16);
        },
    );
}

#[test]
fn mutated_training_checkpoints_resume_or_fail_cleanly() {
    let dataset = common::tiny_dataset(8, 16);
    let job = tempfile::tempdir().unwrap();
    let mut options = common::quick_options(1, 0, 3);
    options.train.epochs = 2;
    let bundle = job.path().join("bundle");
    augment(&dataset, &options, &bundle, &job.path().join("key.json")).unwrap();
    let out = job.path().join("trained.safetensors");
    let stop = TrainOptions {
        resume: false,
        stop_after: Some(1),
    };
    train_bundle(
        &bundle,
        &out,
        &out.with_extension("log.jsonl"),
        &ProgressBar::hidden(),
        stop,
    )
    .unwrap();
    fuzz(
        "training checkpoint",
        job.path(),
        &[
            "trained.safetensors.checkpoint/state.json",
            "trained.safetensors.checkpoint/epoch-1.model.bpk",
            "trained.safetensors.checkpoint/epoch-1.optimizer.bpk",
        ],
        |d| {
            let out = d.join("trained.safetensors");
            let resume = TrainOptions {
                resume: true,
                stop_after: None,
            };
            let log = out.with_extension("log.jsonl");
            let _ = train_bundle(
                &d.join("bundle"),
                &out,
                &log,
                &ProgressBar::hidden(),
                resume,
            );
        },
    );
}
