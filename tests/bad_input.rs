//! Bad input: each case fails with an error naming the file and the problem, a non-zero exit
//! status, and no output left behind (not even a temporary file).

mod common;

use std::path::Path;
use std::process::Output;

use amalgam_core::bundle::{BranchSpec, DATA_FILE, TRAIN_FILE};
use amalgam_core::tensors::{HostTensor, read_tensor_file, write_tensor_file};
use common::{amalgam, arg, entries, stderr, write_idx_dataset};

/// Asserts failure with every `needle` in standard error.
fn assert_fails(output: &Output, needles: &[&str]) {
    assert!(!output.status.success(), "expected failure");
    let err = stderr(output);
    for needle in needles {
        assert!(err.contains(needle), "stderr lacks `{needle}`: {err}");
    }
}

/// Asserts that `dir` holds exactly `expected` (no outputs, no temporary files).
fn assert_entries(dir: &Path, expected: &[&str]) {
    assert_eq!(
        entries(dir),
        expected,
        "unexpected files in {}",
        dir.display()
    );
}

fn augment_args(data: &Path, out: &Path) -> Vec<String> {
    vec![
        "augment".into(),
        "--data".into(),
        data.to_string_lossy().into(),
        "--model".into(),
        "mlp".into(),
        "--epochs".into(),
        "1".into(),
        "--bundle".into(),
        arg(out, "bundle"),
        "--key".into(),
        arg(out, "key.json"),
    ]
}

/// Runs `amalgam augment` on the data in `data` with outputs in a fresh `out`.
fn augment_with(data: &Path, extra: &[&str]) -> (Output, tempfile::TempDir) {
    let out = tempfile::tempdir().unwrap();
    let mut args = augment_args(data, out.path());
    args.extend(extra.iter().map(|s| s.to_string()));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    (amalgam(&refs), out)
}

fn data_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write_idx_dataset(dir.path(), 32, 16, 16);
    dir
}

#[test]
fn truncated_idx_file_is_rejected() {
    let data = data_dir();
    let images = data.path().join("train-images-idx3-ubyte");
    let bytes = std::fs::read(&images).unwrap();
    std::fs::write(&images, &bytes[..bytes.len() - 100]).unwrap();
    let (output, out) = augment_with(data.path(), &[]);
    assert_fails(&output, &["train-images-idx3-ubyte", "truncated"]);
    assert_entries(out.path(), &[]);
}

#[test]
fn truncated_gzip_idx_file_is_rejected() {
    use std::io::Write;
    let data = data_dir();
    let raw = data.path().join("t10k-images-idx3-ubyte");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&std::fs::read(&raw).unwrap()).unwrap();
    let gz = gz.finish().unwrap();
    std::fs::write(
        data.path().join("t10k-images-idx3-ubyte.gz"),
        &gz[..gz.len() / 2],
    )
    .unwrap();
    let (output, out) = augment_with(data.path(), &[]);
    assert_fails(&output, &["t10k-images-idx3-ubyte.gz", "gzip"]);
    assert_entries(out.path(), &[]);
}

#[test]
fn wrong_idx_magic_is_rejected() {
    let data = data_dir();
    let labels = data.path().join("train-labels-idx1-ubyte");
    let mut bytes = std::fs::read(&labels).unwrap();
    bytes[2] = 0x0d; // float data instead of unsigned bytes
    std::fs::write(&labels, bytes).unwrap();
    let (output, out) = augment_with(data.path(), &[]);
    assert_fails(&output, &["train-labels-idx1-ubyte", "wrong IDX magic"]);
    assert_entries(out.path(), &[]);
}

#[test]
fn image_label_count_mismatch_is_rejected() {
    let data = data_dir();
    common::write_idx(&data.path().join("t10k-labels-idx1-ubyte"), &[15], &[1; 15]);
    let (output, out) = augment_with(data.path(), &[]);
    assert_fails(
        &output,
        &[
            "t10k-labels-idx1-ubyte",
            "count mismatch",
            "15 labels but 16 images",
        ],
    );
    assert_entries(out.path(), &[]);
}

#[test]
fn amount_out_of_range_is_rejected() {
    let data = data_dir();
    for amount in ["--amount=0", "--amount=-1", "--amount=4.5"] {
        let (output, out) = augment_with(data.path(), &[amount]);
        assert_fails(&output, &["amount must be in (0, 4]"]);
        assert_entries(out.path(), &[]);
    }
}

#[test]
fn unknown_model_is_rejected() {
    let data = data_dir();
    let out = tempfile::tempdir().unwrap();
    let mut args = augment_args(data.path(), out.path());
    let model = args.iter().position(|a| a == "--model").unwrap() + 1;
    args[model] = "alexnet".into();
    let output = amalgam(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_fails(&output, &["invalid value 'alexnet'", "lenet", "mlp"]);
    assert_eq!(output.status.code(), Some(2));
    assert_entries(out.path(), &[]);
}

/// Augments the generated data set into `out/bundle` + `out/key.json` with `key_seed`.
fn make_bundle(data: &Path, out: &Path, key_seed: &str) {
    let mut args = augment_args(data, out);
    args.extend(["--key-seed".to_string(), key_seed.to_string()]);
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let output = amalgam(&refs);
    assert!(output.status.success(), "{}", stderr(&output));
}

fn train(bundle: &Path, trained: &Path) -> Output {
    amalgam(&[
        "train",
        &bundle.to_string_lossy(),
        "--out",
        &trained.to_string_lossy(),
    ])
}

#[test]
fn bundle_with_a_missing_file_is_rejected() {
    let data = data_dir();
    for missing in [TRAIN_FILE, DATA_FILE] {
        let out = tempfile::tempdir().unwrap();
        make_bundle(data.path(), out.path(), "1");
        std::fs::remove_file(out.path().join("bundle").join(missing)).unwrap();
        let output = train(
            &out.path().join("bundle"),
            &out.path().join("trained.safetensors"),
        );
        assert_fails(&output, &[missing]);
        assert_entries(out.path(), &["bundle", "key.json"]);
    }
}

#[test]
fn key_of_another_bundle_is_rejected() {
    let data = data_dir();
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    make_bundle(data.path(), a.path(), "1");
    make_bundle(data.path(), b.path(), "2");
    let trained = a.path().join("trained.safetensors");
    assert!(train(&a.path().join("bundle"), &trained).status.success());
    let output = amalgam(&[
        "extract",
        "--key",
        &arg(b.path(), "key.json"),
        "--trained",
        &trained.to_string_lossy(),
        "--out",
        &arg(b.path(), "model"),
    ]);
    assert_fails(
        &output,
        &[&arg(b.path(), "key.json"), "does not belong to the bundle"],
    );
    assert_entries(b.path(), &["bundle", "key.json"]);
}

#[test]
fn trained_weights_with_wrong_shapes_are_rejected() {
    let data = data_dir();
    let out = tempfile::tempdir().unwrap();
    make_bundle(data.path(), out.path(), "1");
    let trained = out.path().join("trained.safetensors");
    assert!(train(&out.path().join("bundle"), &trained).status.success());
    let mut file = read_tensor_file(&trained).unwrap();
    for tensor in file.tensors.values_mut() {
        let len = tensor.shape.iter().product::<usize>();
        *tensor = HostTensor::f32(vec![len, 1], vec![0.0; len]);
    }
    write_tensor_file(&trained, &file).unwrap();
    let output = amalgam(&[
        "extract",
        "--key",
        &arg(out.path(), "key.json"),
        "--trained",
        &trained.to_string_lossy(),
        "--out",
        &arg(out.path(), "model"),
    ]);
    assert_fails(&output, &["trained.safetensors", "has shape"]);
    assert_entries(
        out.path(),
        &[
            "bundle",
            "key.json",
            "trained.log.jsonl",
            "trained.safetensors",
        ],
    );
}

#[test]
fn bundle_spec_whose_filter_does_not_fit_is_rejected() {
    let data = data_dir();
    let out = tempfile::tempdir().unwrap();
    make_bundle(data.path(), out.path(), "1");
    let model = out.path().join("bundle").join("model.json");
    let mut spec: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&model).unwrap()).unwrap();
    let branch: &mut BranchSpec = &mut serde_json::from_value(spec["branches"][0].clone()).unwrap();
    branch.keep_indices[0].pop();
    spec["branches"][0] = serde_json::to_value(&*branch).unwrap();
    std::fs::write(&model, serde_json::to_vec(&spec).unwrap()).unwrap();
    let output = train(
        &out.path().join("bundle"),
        &out.path().join("trained.safetensors"),
    );
    assert_fails(&output, &["model.json", "branch 0"]);
    assert_entries(out.path(), &["bundle", "key.json"]);
}

#[test]
fn interleave_refuses_views_that_do_not_fit_no_decoy_and_a_decoy_set_too_small() {
    let data = data_dir();
    let (out, dir) = augment_with(data.path(), &["--noise", "interleave", "--amount", "0.25"]);
    assert_fails(&out, &["interleave", "--amount 0.44"]);
    assert_entries(dir.path(), &[]);

    let (out, dir) = augment_with(data.path(), &["--noise", "interleave", "--decoys", "0"]);
    assert_fails(&out, &["at least one decoy"]);
    assert_entries(dir.path(), &[]);

    // A decoy set with fewer images of a class than the owner's data would repeat images.
    let small = tempfile::tempdir().unwrap();
    write_idx_dataset(small.path(), 8, 16, 16);
    let small_arg = small.path().to_string_lossy().to_string();
    let (out, dir) = augment_with(
        data.path(),
        &["--noise", "interleave", "--decoy-data", &small_arg],
    );
    assert_fails(&out, &["decoy inputs", "fewer than 1 x the data's"]);
    assert_entries(dir.path(), &[]);
}
