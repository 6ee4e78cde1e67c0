//! What the cloud gets: the bundle names no real branch, the real branch moves with the key
//! seed, and the key is reproducible from its seed and private to its owner.

mod common;

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;

use amalgam_core::bundle::{Bundle, DATA_FILE, INIT_FILE, MODEL_FILE, TRAIN_FILE};
use amalgam_core::tensors::read_tensor_file;
use amalgam_owner::augment::augment;

#[test]
fn real_branch_position_varies_with_the_key_seed() {
    let dataset = common::tiny_dataset(8, 16);
    let dir = tempfile::tempdir().unwrap();
    let positions: BTreeSet<usize> = (0..12)
        .map(|key_seed| {
            let bundle = dir.path().join(format!("bundle{key_seed}"));
            let key = dir.path().join(format!("key{key_seed}.json"));
            augment(
                &dataset,
                &common::quick_options(2, 0, key_seed),
                &bundle,
                &key,
            )
            .unwrap()
            .real_branch
        })
        .collect();
    assert_eq!(positions, BTreeSet::from([0, 1, 2]));
}

#[test]
fn nothing_in_the_bundle_names_the_real_branch() {
    let dataset = common::tiny_dataset(8, 16);
    let dir = tempfile::tempdir().unwrap();
    let (bundle_dir, key_path) = (dir.path().join("bundle"), dir.path().join("key.json"));
    let key = augment(
        &dataset,
        &common::quick_options(3, 5, 6),
        &bundle_dir,
        &key_path,
    )
    .unwrap();

    assert_eq!(
        common::entries(&bundle_dir),
        [DATA_FILE, INIT_FILE, MODEL_FILE, TRAIN_FILE]
    );
    for text_file in [MODEL_FILE, TRAIN_FILE] {
        let text = std::fs::read_to_string(bundle_dir.join(text_file)).unwrap();
        assert!(!text.contains("real"), "{text_file} mentions `real`");
        assert!(
            !text.contains("seed\": 5"),
            "{text_file} holds the training seed"
        );
    }
    for tensor_file in [INIT_FILE, DATA_FILE] {
        let file = read_tensor_file(&bundle_dir.join(tensor_file)).unwrap();
        assert!(file.metadata.is_empty(), "{tensor_file} carries metadata");
    }
    let bundle = Bundle::open(&bundle_dir).unwrap();
    let networks: BTreeSet<String> = bundle
        .spec
        .branches
        .iter()
        .map(|b| serde_json::to_string(&b.network).unwrap())
        .collect();
    assert_eq!(networks.len(), 1, "every branch has the same architecture");
    // Only the key knows which branch holds the real keep indices.
    assert_eq!(
        bundle.spec.branches[key.real_branch].keep_indices,
        key.keep_indices
    );
    let mode = std::fs::metadata(&key_path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
}

#[test]
fn same_seed_gives_the_same_key_and_another_seed_another_key() {
    let dataset = common::tiny_dataset(8, 16);
    let dir = tempfile::tempdir().unwrap();
    let key = |name: &str, key_seed: u64| {
        augment(
            &dataset,
            &common::quick_options(2, 0, key_seed),
            &dir.path().join(format!("bundle-{name}")),
            &dir.path().join(format!("key-{name}.json")),
        )
        .unwrap()
    };
    let (a, b, c) = (key("a", 42), key("b", 42), key("c", 43));
    assert_eq!(a, b, "same key seed, same key (fingerprint included)");
    assert_ne!(a.keep_indices, c.keep_indices);
    assert_ne!(a.bundle_fingerprint, c.bundle_fingerprint);
}

#[test]
fn family_decoys_are_varied_members_of_the_real_family() {
    let dataset = common::tiny_dataset(8, 16);
    let dir = tempfile::tempdir().unwrap();
    let mut options = common::quick_options(3, 0, 21);
    options.decoy_architecture = amalgam_owner::augment::DecoyArchitecture::Family;
    let key = augment(
        &dataset,
        &options,
        &dir.path().join("bundle"),
        &dir.path().join("key.json"),
    )
    .unwrap();
    let bundle = Bundle::open(&dir.path().join("bundle")).unwrap();
    assert_eq!(bundle.spec.branches[key.real_branch].network, key.original);
    let architectures: BTreeSet<String> = bundle
        .spec
        .branches
        .iter()
        .map(|b| {
            assert!(matches!(
                b.network.architecture,
                amalgam_core::model::Architecture::Mlp { .. }
            ));
            serde_json::to_string(&b.network.architecture).unwrap()
        })
        .collect();
    assert!(architectures.len() >= 3, "{architectures:?}");
}

/// The training seed is no secret: the bundle's `batch_order_seed` is its first draw, so an
/// attacker recovers a small seed by trying them. The key seed therefore defaults to fresh
/// randomness, never to the training seed: the same command twice gives the same training
/// config and different keys.
#[test]
fn the_default_key_seed_is_fresh_not_the_training_seed() {
    use amalgam_core::rng::{Stream, stream};
    use rand::RngCore;
    let dir = tempfile::tempdir().unwrap();
    let d = |name: &str| common::arg(dir.path(), name);
    for run in ["a", "b"] {
        let out = common::amalgam(&[
            "augment",
            "--noise",
            "uniform",
            "--seed",
            "5",
            "--bundle",
            &d(run),
            "--key",
            &d(&format!("{run}.json")),
        ]);
        assert!(out.status.success(), "{}", common::stderr(&out));
    }
    let train =
        |run: &str| std::fs::read_to_string(dir.path().join(run).join("train.json")).unwrap();
    assert_eq!(train("a"), train("b"));
    let config: serde_json::Value = serde_json::from_str(&train("a")).unwrap();
    let recovered = (0..1000u64).find(|&s| {
        stream(s, Stream::BatchOrderSeed).next_u64() == config["batch_order_seed"].as_u64().unwrap()
    });
    assert_eq!(
        recovered,
        Some(5),
        "the training seed is recoverable from the bundle"
    );
    let key = |run: &str| {
        amalgam_owner::key::SecretKey::read(&dir.path().join(format!("{run}.json"))).unwrap()
    };
    assert_ne!(key("a").keep_indices, key("b").keep_indices);
}
