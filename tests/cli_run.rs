//! The main job through the command line: `amalgam run` on a small IDX data set writes the
//! documented layout and reports bitwise-equal weights.

mod common;

use common::{amalgam, entries, stderr};

#[test]
fn run_writes_the_layout_and_reports_exactness() {
    let data = tempfile::tempdir().unwrap();
    common::write_idx_dataset(data.path(), 64, 32, 16);
    let out = tempfile::tempdir().unwrap();
    let run_dir = out.path().join("run");
    let output = amalgam(&[
        "run",
        "--data",
        &data.path().to_string_lossy(),
        "--model",
        "mlp",
        "--epochs",
        "1",
        "--decoys",
        "2",
        "--out",
        &run_dir.to_string_lossy(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        entries(&run_dir),
        [
            "bundle",
            "extracted",
            "key.json",
            "plain",
            "report.json",
            "train-log.jsonl",
            "trained.safetensors"
        ]
    );
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run_dir.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["weights"]["bitwise_equal"], true);
    assert_eq!(report["plain"]["accuracy"], report["extracted"]["accuracy"]);
    assert_eq!(report["decoys"], 2);
    let log = std::fs::read_to_string(run_dir.join("train-log.jsonl")).unwrap();
    let epoch: serde_json::Value = serde_json::from_str(log.lines().next().unwrap()).unwrap();
    assert_eq!(epoch["branch_loss"].as_array().unwrap().len(), 3);
    let table = String::from_utf8_lossy(&output.stdout);
    assert!(table.contains("bitwise equal to plain: yes"), "{table}");
    assert_eq!(entries(out.path()), ["run"], "no staging directory left");
}
