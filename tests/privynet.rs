//! PrivyNet: the cloud part trained from the bundle, composed with the local part, equals the
//! same split model trained in one process bit for bit; the bundle holds neither the kept
//! channels nor the local weights; bad keys, bundles and split points give clear errors.

mod common;

use std::path::Path;

use amalgam_cloud::{TrainOptions, train_bundle};
use amalgam_core::bundle::Precision;
use amalgam_core::model::{Architecture, Weights};
use amalgam_core::tensors::Values;
use amalgam_owner::baseline::train_baseline;
use amalgam_owner::data::{Dataset, TrainingPart};
use amalgam_owner::privynet::{
    PrivynetKey, PrivynetOptions, extract, make_bundle, split_setup, train_in_one_process,
};
use amalgam_owner::setup::{OwnerSetup, TrainSettings};
use common::exactness::assert_bitwise;
use common::fails_with;
use indicatif::ProgressBar;

fn settings() -> TrainSettings {
    TrainSettings {
        epochs: 1,
        batch_size: 16,
        ..TrainSettings::default()
    }
}

/// A pre-trained network: `architecture` trained one epoch on the public half of `data`.
fn pretrained(
    data: &Dataset,
    architecture: Architecture,
) -> (amalgam_core::model::ModelSpec, Weights) {
    let public = TrainingPart::FirstHalf.of(data).unwrap();
    let setup = OwnerSetup::new(&public, architecture, &settings(), 7).unwrap();
    let trained = train_baseline(&public, &setup, &ProgressBar::hidden());
    (setup.spec, trained.weights)
}

fn options(point: usize, channels: usize) -> PrivynetOptions {
    PrivynetOptions {
        point,
        channels,
        seed: 3,
        key_seed: 11,
        train: settings(),
        precision: Precision::F32,
    }
}

/// Bundle and key for the private half of `data`, the bundle trained as the cloud trains it,
/// and the composed model extracted.
fn through_the_cloud(
    data: &Dataset,
    pretrained: &(amalgam_core::model::ModelSpec, Weights),
    options: &PrivynetOptions,
    dir: &Path,
) -> Weights {
    let private = TrainingPart::SecondHalf.of(data).unwrap();
    make_bundle(
        &private,
        &pretrained.0,
        &pretrained.1,
        options,
        &dir.join("bundle"),
        &dir.join("key"),
    )
    .unwrap();
    train_bundle(
        &dir.join("bundle"),
        &dir.join("trained.safetensors"),
        &dir.join("log.jsonl"),
        &ProgressBar::hidden(),
        TrainOptions::default(),
    )
    .unwrap();
    let (key, local) = PrivynetKey::read(&dir.join("key")).unwrap();
    extract(
        &key,
        &local,
        &dir.join("key"),
        &dir.join("trained.safetensors"),
    )
    .unwrap()
    .1
}

/// The same split model trained in one process, and the cloud part's initial weights.
fn in_one_process(
    data: &Dataset,
    pretrained: &(amalgam_core::model::ModelSpec, Weights),
    options: &PrivynetOptions,
) -> (Weights, Weights) {
    let private = TrainingPart::SecondHalf.of(data).unwrap();
    let (_, weights) =
        train_in_one_process(&private, pretrained, options, &ProgressBar::hidden()).unwrap();
    let (_, _, setup, _) =
        split_setup(&pretrained.0, &pretrained.1, private.classes(), options).unwrap();
    (weights, setup.init)
}

fn check_split(architecture: Architecture, point: usize, channels: usize) {
    check_split_at(architecture, point, channels, Precision::F32);
}

fn check_split_at(architecture: Architecture, point: usize, channels: usize, precision: Precision) {
    let data = common::fashion_subset(192, 48);
    let pretrained = pretrained(&data, architecture.clone());
    let options = PrivynetOptions {
        precision,
        ..options(point, channels)
    };
    let dir = tempfile::tempdir().unwrap();
    let cloud = through_the_cloud(&data, &pretrained, &options, dir.path());
    let (reference, init) = in_one_process(&data, &pretrained, &options);
    let context = format!(
        "{} split at {point}, {channels} channels",
        architecture.name()
    );
    assert_bitwise(&context, &cloud, &reference);
    // Training moved every trainable cloud tensor, so the comparison can fail.
    for (name, start) in &init {
        let moved = cloud[name] != *start;
        assert!(
            moved || name.ends_with("running_var"),
            "{context}: {name} did not train"
        );
    }
}

#[test]
fn lenet_cloud_part_composes_to_the_one_process_split_model_bitwise() {
    check_split(Architecture::lenet(), 1, 3);
    check_split(Architecture::lenet(), 2, 16);
}

#[test]
fn f16_features_halve_the_data_and_compose_to_the_one_process_model_on_rounded_features() {
    check_split_at(Architecture::lenet(), 1, 3, Precision::F16);
    let data = common::fashion_subset(96, 32);
    let pretrained = pretrained(&data, Architecture::lenet());
    let private = TrainingPart::SecondHalf.of(&data).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let size = |precision: Precision, name: &str| {
        let options = PrivynetOptions {
            precision,
            ..options(1, 3)
        };
        let bundle = dir.path().join(name);
        make_bundle(
            &private,
            &pretrained.0,
            &pretrained.1,
            &options,
            &bundle,
            &dir.path().join(format!("{name}-key")),
        )
        .unwrap();
        std::fs::metadata(bundle.join("data.safetensors"))
            .unwrap()
            .len()
    };
    let (full, half) = (size(Precision::F32, "f32"), size(Precision::F16, "f16"));
    // Features take 4 or 2 bytes; labels and the header are the same in both.
    let features = 4 * (48 + 32) * 3 * 12 * 12;
    assert_eq!(full - half, features as u64 / 2, "{full} {half}");
}

#[test]
fn resnet_cloud_part_composes_to_the_one_process_split_model_bitwise() {
    let small = Architecture::Resnet {
        blocks: vec![1, 1, 1],
        widths: vec![4, 8, 8],
    };
    check_split(small.clone(), 2, 3);
    check_split(small, 4, 5);
}

#[test]
fn vgg_cloud_part_composes_to_the_one_process_split_model_bitwise() {
    let small = Architecture::Vgg {
        stages: vec![vec![4], vec![8, 8], vec![8]],
    };
    check_split(small.clone(), 1, 2);
    check_split(small, 3, 8);
}

/// Every occurrence of `needle` in `haystack`.
fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn bundle_holds_neither_the_kept_channels_nor_the_local_weights() {
    let data = common::fashion_subset(96, 32);
    let pretrained = pretrained(&data, Architecture::lenet());
    let dir = tempfile::tempdir().unwrap();
    let private = TrainingPart::SecondHalf.of(&data).unwrap();
    let key = make_bundle(
        &private,
        &pretrained.0,
        &pretrained.1,
        &options(1, 3),
        &dir.path().join("bundle"),
        &dir.path().join("key"),
    )
    .unwrap();
    let (_, kept) = key.split();
    let (_, local) = PrivynetKey::read(&dir.path().join("key")).unwrap();
    let files: Vec<Vec<u8>> = common::entries(&dir.path().join("bundle"))
        .iter()
        .map(|name| std::fs::read(dir.path().join("bundle").join(name)).unwrap())
        .collect();
    assert_eq!(files.len(), 4);
    let kept_json = serde_json::to_string(kept).unwrap();
    for (name, tensor) in &local {
        let Values::F32(values) = &tensor.values else {
            panic!("{name} is not f32")
        };
        // The first 8 values (32 bytes) of every local tensor: a tell if copied anywhere.
        let bytes: Vec<u8> = values[..values.len().min(8)]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        for file in &files {
            assert!(
                !contains(file, &bytes),
                "a bundle file holds local tensor {name}"
            );
        }
    }
    for file in &files {
        for tell in [
            kept_json.as_bytes(),
            b"kept_channels",
            b"composed",
            b"local",
        ] {
            assert!(
                !contains(file, tell),
                "a bundle file holds {}",
                String::from_utf8_lossy(tell)
            );
        }
    }
    // The cloud part's spec says only how many channels it takes.
    let spec = std::fs::read_to_string(dir.path().join("bundle/model.json")).unwrap();
    assert!(spec.contains("\"cloud\""));
}

#[test]
fn cli_round_trip_and_bad_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let d = |name: &str| common::arg(dir.path(), name);
    let ok = common::amalgam_ok;
    ok(&[
        "privynet",
        "pretrain",
        "--epochs",
        "1",
        "--out",
        &d("pretrained"),
    ]);
    // A split point LeNet does not have: a clear error and nothing written.
    fails_with(
        &[
            "privynet",
            "augment",
            "--pretrained",
            &d("pretrained"),
            "--split",
            "3",
            "--bundle",
            &d("b"),
            "--key",
            &d("k"),
        ],
        "split points 1 to 2",
    );
    fails_with(
        &[
            "privynet",
            "augment",
            "--pretrained",
            &d("pretrained"),
            "--channels",
            "7",
            "--bundle",
            &d("b"),
            "--key",
            &d("k"),
        ],
        "keep 1 to 6",
    );
    assert!(!dir.path().join("b").exists() && !dir.path().join("k").exists());
    for (bundle, key, seed) in [("bundle", "key", "1"), ("other", "other-key", "2")] {
        ok(&[
            "privynet",
            "augment",
            "--pretrained",
            &d("pretrained"),
            "--epochs",
            "1",
            "--key-seed",
            seed,
            "--bundle",
            &d(bundle),
            "--key",
            &d(key),
        ]);
        ok(&[
            "train",
            &d(bundle),
            "--out",
            &d(&format!("{bundle}.safetensors")),
        ]);
    }
    ok(&[
        "privynet",
        "extract",
        "--key",
        &d("key"),
        "--trained",
        &d("bundle.safetensors"),
        "--out",
        &d("model"),
    ]);
    let eval = ok(&["eval", "--model", &d("model")]);
    let accuracy: f64 = eval
        .split("test accuracy ")
        .nth(1)
        .and_then(|s| s.split(',').next())
        .and_then(|s| s.parse().ok())
        .unwrap();
    assert!(accuracy > 0.5, "{eval}");

    // Trained weights of another bundle: the key names the mismatch.
    fails_with(
        &[
            "privynet",
            "extract",
            "--key",
            &d("key"),
            "--trained",
            &d("other.safetensors"),
            "--out",
            &d("m2"),
        ],
        "does not belong to the bundle",
    );
    assert!(!dir.path().join("m2").exists());

    // A key whose kept channel is out of range.
    let key_json = dir.path().join("key/key.json");
    let mut key: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&key_json).unwrap()).unwrap();
    key["model"]["split"]["part"]["kept_channels"][0] = 99.into();
    std::fs::write(&key_json, serde_json::to_vec(&key).unwrap()).unwrap();
    fails_with(
        &[
            "privynet",
            "extract",
            "--key",
            &d("key"),
            "--trained",
            &d("bundle.safetensors"),
            "--out",
            &d("m3"),
        ],
        "key.json",
    );
    assert!(!dir.path().join("m3").exists());

    // Features whose shape does not match the cloud part: the cloud refuses the bundle.
    ok(&[
        "privynet",
        "augment",
        "--pretrained",
        &d("pretrained"),
        "--channels",
        "4",
        "--bundle",
        &d("wide"),
        "--key",
        &d("wide-key"),
    ]);
    std::fs::copy(
        dir.path().join("wide/data.safetensors"),
        dir.path().join("other/data.safetensors"),
    )
    .unwrap();
    fails_with(
        &["train", &d("other"), "--out", &d("t2.safetensors")],
        "data.safetensors",
    );
    assert!(!dir.path().join("t2.safetensors").exists());

    // A bundle may hold a cloud part only: a local part or a composed model is refused.
    for part in [
        serde_json::json!({"kind": "local"}),
        serde_json::json!({"kind": "composed", "kept_channels": [0, 1, 2]}),
    ] {
        let model_json = dir.path().join("wide/model.json");
        let mut spec: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&model_json).unwrap()).unwrap();
        spec["branches"][0]["network"]["split"]["part"] = part;
        std::fs::write(&model_json, serde_json::to_vec(&spec).unwrap()).unwrap();
        fails_with(
            &["train", &d("wide"), "--out", &d("t3.safetensors")],
            "model.json",
        );
        assert!(!dir.path().join("t3.safetensors").exists());
    }
}
