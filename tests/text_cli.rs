//! Text through the command line: `amalgam run --task text` on a small CSV reports exact
//! extraction and writes the tokenizer; bad text input fails with an error naming the file
//! and the problem, a non-zero exit, and no output left behind.

mod common;

use std::path::Path;
use std::process::Output;

use common::{amalgam, entries, path_arg, stderr, write_reviews};

/// Runs `amalgam augment --task text` on `csv` with outputs in a fresh directory.
fn augment_text(csv: &Path, extra: &[&str]) -> (Output, tempfile::TempDir) {
    let out = tempfile::tempdir().unwrap();
    let (bundle, key) = (out.path().join("bundle"), out.path().join("key.json"));
    let mut args = vec![
        "augment".to_string(),
        "--task".into(),
        "text".into(),
        "--data".into(),
        path_arg(csv),
        "--bundle".into(),
        path_arg(&bundle),
        "--key".into(),
        path_arg(&key),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    (amalgam(&refs), out)
}

fn assert_fails_cleanly(output: &Output, out: &Path, needles: &[&str]) {
    assert!(!output.status.success(), "expected failure");
    let err = stderr(output);
    for needle in needles {
        assert!(err.contains(needle), "stderr lacks `{needle}`: {err}");
    }
    assert!(entries(out).is_empty(), "outputs left: {:?}", entries(out));
}

#[test]
fn text_run_extracts_bitwise_equal_weights() {
    let data = tempfile::tempdir().unwrap();
    let csv = data.path().join("reviews.csv");
    write_reviews(&csv, 60);
    let run_dir = data.path().join("run");
    let output = amalgam(&[
        "run",
        "--task",
        "text",
        "--data",
        &path_arg(&csv),
        "--model",
        "bag",
        "--sequence-length",
        "12",
        "--epochs",
        "1",
        "--out",
        &path_arg(&run_dir),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run_dir.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["weights"]["bitwise_equal"], true);
    assert_eq!(
        report["test_samples"], 12,
        "every fifth row is a test sample"
    );
    // The default construction interleaves one decoy text: 12 tokens need a grid of 24.
    assert_eq!(report["noise"], "interleave");
    assert_eq!(report["amount"], 1.0);
    assert!(entries(&run_dir).contains(&"tokenizer.json".to_string()));
    let model: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run_dir.join("extracted/model.json")).unwrap())
            .unwrap();
    assert_eq!(model["input"]["kind"], "tokens");
    assert_eq!(model["input"]["length"], 12);
}

#[test]
fn missing_text_column_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("reviews.csv");
    std::fs::write(&csv, "label,review\npos,good\nneg,bad\n").unwrap();
    let (output, out) = augment_text(&csv, &[]);
    assert_fails_cleanly(&output, out.path(), &["reviews.csv", "`text`", "review"]);
}

#[test]
fn unknown_label_column_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("reviews.csv");
    write_reviews(&csv, 10);
    let (output, out) = augment_text(&csv, &["--label-column", "sentiment"]);
    assert_fails_cleanly(&output, out.path(), &["reviews.csv", "`sentiment`"]);
}

#[test]
fn empty_text_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("reviews.csv");
    std::fs::write(&csv, "label,text\npos,good film\nneg,\"  \"\n").unwrap();
    let (output, out) = augment_text(&csv, &[]);
    assert_fails_cleanly(&output, out.path(), &["reviews.csv", "line 3", "empty"]);
}

#[test]
fn sequence_length_zero_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("reviews.csv");
    write_reviews(&csv, 10);
    let (output, out) = augment_text(&csv, &["--sequence-length", "0"]);
    assert_fails_cleanly(&output, out.path(), &["sequence length"]);
}

#[test]
fn image_models_and_noise_are_refused_for_text() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("reviews.csv");
    write_reviews(&csv, 10);
    let (output, out) = augment_text(&csv, &["--model", "lenet"]);
    assert_fails_cleanly(&output, out.path(), &["LeNet", "takes images", "tokens"]);
    let (output, out) = augment_text(&csv, &["--noise", "gaussian"]);
    assert_fails_cleanly(&output, out.path(), &["Gaussian", "text"]);
}
