//! Checkpoints: a cloud run stopped after any epoch and resumed ends with exactly the weights
//! of an uninterrupted run (optimizer state, batch order, crops and schedule included).

mod common;

use std::path::Path;

use amalgam_core::model::Architecture;
use amalgam_core::tensors::read_tensor_file;
use amalgam_core::training::{OptimizerKind, Schedule};
use amalgam_owner::augment::augment;
use common::{amalgam, arg, stderr};

fn train(bundle: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "train".to_string(),
        bundle.to_string_lossy().into(),
        "--out".into(),
        out.to_string_lossy().into(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    amalgam(&args.iter().map(String::as_str).collect::<Vec<_>>())
}

#[test]
fn stopped_and_resumed_training_equals_uninterrupted_training() {
    let dir = tempfile::tempdir().unwrap();
    let dataset = common::fashion_subset(96, 16);
    let mut options = common::quick_options(1, 0, 5);
    options.architecture = Architecture::resnet20();
    options.train.epochs = 3;
    options.train.optimizer = OptimizerKind::Sgd;
    options.train.learning_rate = 0.05;
    options.train.momentum = 0.9;
    options.train.schedule = Schedule::Cosine;
    options.train.crop_padding = 4;
    let bundle = dir.path().join("bundle");
    augment(&dataset, &options, &bundle, &dir.path().join("key.json")).unwrap();

    let straight = dir.path().join("straight.safetensors");
    assert!(train(&bundle, &straight, &[]).status.success());

    let resumed = dir.path().join("resumed.safetensors");
    let checkpoint = dir.path().join("resumed.safetensors.checkpoint");
    let first = train(&bundle, &resumed, &["--stop-after", "1"]);
    assert!(first.status.success(), "{}", stderr(&first));
    assert!(!resumed.exists() && checkpoint.join("state.json").exists());

    let again = train(&bundle, &resumed, &[]);
    assert!(
        !again.status.success(),
        "a fresh run refuses to overwrite a checkpoint"
    );
    assert!(
        stderr(&again).contains("resumed.safetensors.checkpoint"),
        "{}",
        stderr(&again)
    );

    assert!(
        train(&bundle, &resumed, &["--resume", "--stop-after", "2"])
            .status
            .success()
    );
    assert!(!resumed.exists());
    let last = train(&bundle, &resumed, &["--resume"]);
    assert!(last.status.success(), "{}", stderr(&last));
    assert!(
        !checkpoint.exists(),
        "the checkpoint is removed once training is done"
    );

    let (a, b) = (
        read_tensor_file(&straight).unwrap(),
        read_tensor_file(&resumed).unwrap(),
    );
    assert_eq!(a.metadata, b.metadata);
    let differing: Vec<&String> = a
        .tensors
        .keys()
        .filter(|n| a.tensors[*n] != b.tensors[*n])
        .collect();
    assert!(
        differing.is_empty(),
        "resumed run differs in {} of {} tensors, e.g. {:?}",
        differing.len(),
        a.tensors.len(),
        &differing[..differing.len().min(4)]
    );
    let losses = |p: &Path| -> Vec<serde_json::Value> {
        std::fs::read_to_string(p.with_extension("log.jsonl"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["branch_loss"].clone())
            .collect()
    };
    assert_eq!(losses(&straight), losses(&resumed));
}

#[test]
fn resume_without_a_checkpoint_and_stopping_after_epoch_zero_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let dataset = common::tiny_dataset(8, 16);
    let bundle = dir.path().join("bundle");
    augment(
        &dataset,
        &common::quick_options(1, 0, 5),
        &bundle,
        &dir.path().join("key.json"),
    )
    .unwrap();
    let output = train(&bundle, &dir.path().join("t.safetensors"), &["--resume"]);
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("holds no complete checkpoint"),
        "{}",
        stderr(&output)
    );
    assert!(!Path::new(&arg(dir.path(), "t.safetensors")).exists());
}
