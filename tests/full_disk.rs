//! A full disk, simulated with a file-size limit (`ulimit -f`, `SIGXFSZ` ignored, so that a
//! write past the limit fails with `EFBIG` as on a full disk): `train` stops with an error
//! naming the file when a checkpoint cannot be written, leaves the last complete checkpoint,
//! and `--resume` with room again ends bitwise equal to an uninterrupted run; `augment`
//! publishes neither the bundle nor the key and leaves no staging folder behind.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use amalgam_core::tensors::read_tensor_file;
use amalgam_owner::augment::augment;
use common::{amalgam, entries, stderr};

/// Runs `amalgam ARGS` with files limited to `kib` KiB (written as 2 × kib blocks of 512
/// bytes for POSIX `sh`), `SIGXFSZ` ignored.
fn amalgam_on_full_disk(kib: u64, args: &[&str]) -> Output {
    let script = format!("trap '' XFSZ; ulimit -f {}; exec \"$0\" \"$@\"", 2 * kib);
    Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg(env!("CARGO_BIN_EXE_amalgam"))
        .args(args)
        .output()
        .unwrap()
}

fn train_args<'a>(bundle: &'a str, out: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["train", bundle, "--out", out];
    args.extend_from_slice(extra);
    args
}

#[test]
fn a_full_disk_at_a_checkpoint_stops_cleanly_and_resume_ends_bitwise_equal() {
    let dir = tempfile::tempdir().unwrap();
    let dataset = common::fashion_subset(96, 16);
    let mut options = common::quick_options(1, 0, 5);
    options.train.epochs = 3;
    let bundle = dir.path().join("bundle");
    augment(&dataset, &options, &bundle, &dir.path().join("key.json")).unwrap();
    let bundle = bundle.to_string_lossy().into_owned();

    let straight = dir.path().join("straight.safetensors");
    let out = amalgam(&train_args(&bundle, &straight.to_string_lossy(), &[]));
    assert!(out.status.success(), "{}", stderr(&out));

    let resumed = dir.path().join("resumed.safetensors");
    let resumed_arg = resumed.to_string_lossy().into_owned();
    let out = amalgam(&train_args(&bundle, &resumed_arg, &["--stop-after", "1"]));
    assert!(out.status.success(), "{}", stderr(&out));
    let checkpoint = dir.path().join("resumed.safetensors.checkpoint");
    let before = entries(&checkpoint);

    // The disk fills up: the second epoch's checkpoint cannot be written.
    let full = amalgam_on_full_disk(4, &train_args(&bundle, &resumed_arg, &["--resume"]));
    let err = stderr(&full);
    assert!(
        !full.status.success(),
        "training cannot finish on a full disk"
    );
    assert!(
        err.contains("cannot write") || err.contains("too large"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    assert!(!resumed.exists(), "no trained weights from a failed run");
    assert_eq!(
        entries(&checkpoint),
        before,
        "the last complete checkpoint stays as it was"
    );

    // Room again: the run goes on from the last complete checkpoint.
    let out = amalgam(&train_args(&bundle, &resumed_arg, &["--resume"]));
    assert!(out.status.success(), "{}", stderr(&out));
    let (a, b) = (
        read_tensor_file(&straight).unwrap(),
        read_tensor_file(&resumed).unwrap(),
    );
    assert_eq!(
        a.tensors, b.tensors,
        "resumed after a full disk vs uninterrupted"
    );
}

#[test]
fn augment_on_a_full_disk_publishes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("bundle");
    let key = dir.path().join("key.json");
    let out = amalgam_on_full_disk(
        64,
        &[
            "augment",
            "--model",
            "mlp",
            "--bundle",
            &bundle.to_string_lossy(),
            "--key",
            &key.to_string_lossy(),
        ],
    );
    let err = stderr(&out);
    assert!(
        !out.status.success(),
        "the embedded set's bundle is over 64 KiB"
    );
    assert!(
        err.contains("cannot write") || err.contains("too large"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    assert!(!bundle.exists() && !key.exists());
    assert!(
        entries(dir.path()).is_empty(),
        "nothing left behind: {:?}",
        entries(dir.path())
    );
    let _: &Path = dir.path();
}
