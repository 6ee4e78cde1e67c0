//! The CIFAR binary and image-folder readers, on generated files, and their bad-input errors
//! through the command line (error naming the file, non-zero exit, no output).

mod common;

use std::path::Path;

use amalgam_core::data::LabelledSet;
use amalgam_owner::data::load_dataset;
use common::{amalgam, arg, entries, stderr, write_cifar, write_image_folder};

#[test]
fn cifar10_batches_are_read_in_order_with_rgb_planes() {
    let dir = tempfile::tempdir().unwrap();
    write_cifar(dir.path(), 1, 30, 12);
    let data = load_dataset(Some(dir.path()), 32).unwrap();
    assert_eq!((data.train.len(), data.test.len()), (30, 12));
    assert_eq!(data.train.shape.dims(), [3, 32, 32]);
    assert_eq!(
        &data.train.labels[..12],
        &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]
    );
    // Record 0 of data_batch_1: pixel p has value (p * 31 + 7) % 256; green plane starts at 1024.
    let first = data.train.sample(0);
    assert_eq!(first[1024], ((1024 * 31 + 7) % 256) as f32 / 255.0);
    // data_batch_2 follows data_batch_1.
    assert_eq!(data.train.sample(15)[0], 14.0 / 255.0);
}

#[test]
fn cifar100_uses_the_fine_labels() {
    let dir = tempfile::tempdir().unwrap();
    write_cifar(dir.path(), 2, 120, 10);
    let data = load_dataset(Some(dir.path()), 32).unwrap();
    assert_eq!(data.train.labels[99], 99);
    assert_eq!(data.classes(), 100);
}

#[test]
fn image_folders_are_resized_centre_cropped_and_labelled_by_sorted_class() {
    let dir = tempfile::tempdir().unwrap();
    write_image_folder(dir.path(), 3, 48, 20);
    let data = load_dataset(Some(dir.path()), 16).unwrap();
    assert_eq!(data.train.shape.dims(), [3, 16, 16]);
    assert_eq!(data.train.labels, vec![0, 0, 0, 1, 1, 1], "cat < dog");
    let cat = data.train.sample(0);
    assert!(
        cat[..256].iter().all(|&v| (v - 200.0 / 255.0).abs() < 1e-6),
        "red plane"
    );
    assert!(cat[512..].iter().all(|&v| v == 0.0), "blue plane");
}

/// Runs `amalgam augment` on `data` and asserts it fails naming `file` and `problem`, with no
/// output left.
fn assert_augment_fails(data: &Path, file: &str, problem: &str) {
    let out = tempfile::tempdir().unwrap();
    let output = amalgam(&[
        "augment",
        "--data",
        &data.to_string_lossy(),
        "--model",
        "mlp",
        "--bundle",
        &arg(out.path(), "bundle"),
        "--key",
        &arg(out.path(), "key.json"),
    ]);
    assert!(!output.status.success());
    let err = stderr(&output);
    assert!(err.contains(file) && err.contains(problem), "{err}");
    assert!(entries(out.path()).is_empty());
}

#[test]
fn truncated_cifar_record_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    write_cifar(dir.path(), 1, 10, 4);
    let file = dir.path().join("test_batch.bin");
    let bytes = std::fs::read(&file).unwrap();
    std::fs::write(&file, &bytes[..bytes.len() - 1]).unwrap();
    assert_augment_fails(dir.path(), "test_batch.bin", "truncated CIFAR file");
}

#[test]
fn cifar_label_out_of_range_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    write_cifar(dir.path(), 1, 10, 4);
    let file = dir.path().join("data_batch_2.bin");
    let mut bytes = std::fs::read(&file).unwrap();
    bytes[3073] = 10;
    std::fs::write(&file, bytes).unwrap();
    assert_augment_fails(
        dir.path(),
        "data_batch_2.bin",
        "record 1: label 10 is out of range",
    );
}

#[test]
fn empty_class_folder_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    write_image_folder(dir.path(), 2, 16, 16);
    std::fs::create_dir(dir.path().join("train").join("emu")).unwrap();
    assert_augment_fails(dir.path(), "train/emu", "empty class folder");
}

#[test]
fn unreadable_image_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    write_image_folder(dir.path(), 2, 16, 16);
    std::fs::write(
        dir.path().join("test").join("dog").join("1.png"),
        b"not a png",
    )
    .unwrap();
    assert_augment_fails(dir.path(), "test/dog/1.png", "unreadable image");
}
