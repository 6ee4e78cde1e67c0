//! Hostile and faulty input (issue 16's classes): values past the documented limits, sizes a
//! file claims but does not hold, settings that would silently defeat the obfuscation, colliding
//! outputs, interrupted checkpoints and non-finite trained weights. Each ends in a clear error
//! naming the file or setting, a non-zero exit and no output; or, for the interrupted
//! checkpoint, in a run that recovers.

mod common;

use std::path::Path;

use amalgam_core::bundle::{DATA_FILE, TRAIN_FILE};
use amalgam_core::tensors::{Values, read_tensor_file, write_tensor_file};
use common::{
    amalgam, arg, entries, fails_with, stderr, write_idx, write_idx_dataset, write_reviews,
};

/// A small bundle (`lenet` on 16x16 images, or `bag` on text) in `out/bundle`, key in
/// `out/key.json`.
fn bundle(out: &Path, text: bool) {
    let data = out.join("data");
    std::fs::create_dir(&data).unwrap();
    let (bundle, key) = (arg(out, "bundle"), arg(out, "key.json"));
    let mut args = vec![
        "augment", "--epochs", "1", "--bundle", &bundle, "--key", &key,
    ];
    let csv = data.join("reviews.csv").to_string_lossy().into_owned();
    let dir = data.to_string_lossy().into_owned();
    if text {
        write_reviews(&data.join("reviews.csv"), 40);
        args.extend(["--task", "text", "--model", "bag", "--data", &csv]);
    } else {
        write_idx_dataset(&data, 32, 16, 16);
        args.extend(["--model", "lenet", "--data", &dir]);
    }
    let output = amalgam(&args);
    assert!(output.status.success(), "{}", stderr(&output));
}

fn edit_train_json(bundle: &Path, from: &str, to: &str) {
    let path = bundle.join(TRAIN_FILE);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(from), "{text}");
    std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
}

#[test]
fn training_settings_past_their_limits_are_refused_before_anything_is_allocated() {
    let out = tempfile::tempdir().unwrap();
    bundle(out.path(), false);
    let b = out.path().join("bundle");
    let trained = arg(out.path(), "trained.safetensors");
    let bundle_arg = b.to_string_lossy().into_owned();
    for epochs in ["9223372036854775808", "18446744073709551615", "1000000000"] {
        edit_train_json(&b, "\"epochs\": 1", &format!("\"epochs\": {epochs}"));
        fails_with(&["train", &bundle_arg, "--out", &trained], TRAIN_FILE);
        edit_train_json(&b, &format!("\"epochs\": {epochs}"), "\"epochs\": 1");
    }
    edit_train_json(
        &b,
        "\"batch_order_seed\"",
        "\"crop_flip\": {\"padding\": 1000000, \"seed\": 1},\n  \"batch_order_seed\"",
    );
    fails_with(&["train", &bundle_arg, "--out", &trained], "crop padding");
    assert_eq!(entries(out.path()), ["bundle", "data", "key.json"]);
}

#[test]
fn token_ids_outside_the_vocabulary_are_refused() {
    let out = tempfile::tempdir().unwrap();
    bundle(out.path(), true);
    let b = out.path().join("bundle");
    let path = b.join(DATA_FILE);
    let mut file = read_tensor_file(&path).unwrap();
    let tokens = file.tensors.get_mut("train.tokens").unwrap();
    let Values::U32(ids) = &mut tokens.values else {
        panic!("tokens are u32")
    };
    ids[0] = 1_000_000;
    write_tensor_file(&path, &file).unwrap();
    let trained = arg(out.path(), "trained.safetensors");
    fails_with(
        &["train", &b.to_string_lossy(), "--out", &trained],
        "token id 1000000",
    );
    assert!(!out.path().join("trained.safetensors").exists());
}

#[test]
fn settings_that_would_silently_defeat_the_obfuscation_are_refused() {
    let out = tempfile::tempdir().unwrap();
    let data = out.path().join("data");
    std::fs::create_dir(&data).unwrap();
    write_idx_dataset(&data, 32, 16, 16);
    let dir = data.to_string_lossy().into_owned();
    let (bundle, key) = (arg(out.path(), "bundle"), arg(out.path(), "key.json"));
    let base = [
        "augment", "--data", &dir, "--bundle", &bundle, "--key", &key,
    ];
    let with = |extra: &[&'static str]| {
        base.iter()
            .copied()
            .chain(extra.iter().copied())
            .collect::<Vec<_>>()
    };
    fails_with(
        &with(&["--noise", "uniform", "--amount", "0.01"]),
        "adds no noise",
    );
    fails_with(
        &with(&["--noise", "uniform", "--decoys", "100000"]),
        "at most 255 decoys",
    );
    let small = out.path().join("small");
    std::fs::create_dir(&small).unwrap();
    write_idx_dataset(&small, 32, 16, 15);
    let small = small.to_string_lossy().into_owned();
    fails_with(
        &[
            "augment", "--data", &small, "--model", "lenet", "--bundle", &bundle, "--key", &key,
        ],
        "at least 16x16",
    );
    assert_eq!(entries(out.path()), ["data", "small"]);
}

#[test]
fn idx_files_that_claim_more_than_they_hold_or_disagree_are_refused() {
    let out = tempfile::tempdir().unwrap();
    let data = out.path().join("data");
    std::fs::create_dir(&data).unwrap();
    write_idx_dataset(&data, 32, 16, 16);
    let (bundle, key) = (arg(out.path(), "bundle"), arg(out.path(), "key.json"));
    let dir = data.to_string_lossy().into_owned();
    // Test images of another size than the training images.
    write_idx(
        &data.join("t10k-images-idx3-ubyte"),
        &[16, 17, 17],
        &vec![7; 16 * 17 * 17],
    );
    fails_with(
        &[
            "augment", "--data", &dir, "--bundle", &bundle, "--key", &key,
        ],
        "1x17x17",
    );
    fails_with(&["baseline", "--data", &dir, "--out", &bundle], "1x17x17");
    // A header that claims 64 images of 65535 x 65535 pixels over a few bytes.
    write_idx(
        &data.join("train-images-idx3-ubyte"),
        &[32, 65535, 65535],
        &[1; 100],
    );
    fails_with(
        &[
            "augment", "--data", &dir, "--bundle", &bundle, "--key", &key,
        ],
        "train-images",
    );
    fails_with(
        &["baseline", "--data", &dir, "--out", &bundle],
        "train-images",
    );
    // A gzip bomb: a header saying 32 images of 16 x 16, then 64 MiB of zeros (64 KiB
    // compressed). Reading stops one byte past the claim.
    let bomb = {
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(&[0, 0, 8, 3, 0, 0, 0, 32, 0, 0, 0, 16, 0, 0, 0, 16])
            .unwrap();
        gz.write_all(&vec![0u8; 64 << 20]).unwrap();
        gz.finish().unwrap()
    };
    std::fs::remove_file(data.join("train-images-idx3-ubyte")).unwrap();
    std::fs::write(data.join("train-images-idx3-ubyte.gz"), &bomb).unwrap();
    fails_with(&["baseline", "--data", &dir, "--out", &bundle], "gzip bomb");
    // A compressed header claiming more than any gzip file of its size can hold.
    let mut liar = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    std::io::Write::write_all(
        &mut liar,
        &[
            0, 0, 8, 3, 0, 0, 0, 64, 0, 0, 255, 255, 0, 0, 255, 255, 1, 2, 3,
        ],
    )
    .unwrap();
    std::fs::write(
        data.join("train-images-idx3-ubyte.gz"),
        liar.finish().unwrap(),
    )
    .unwrap();
    fails_with(&["baseline", "--data", &dir, "--out", &bundle], "can hold");
    let text = out.path().join("reviews.csv");
    write_reviews(&text, 20);
    fails_with(
        &[
            "augment",
            "--task",
            "text",
            "--data",
            &text.to_string_lossy(),
            "--sequence-length",
            "1000000000",
            "--bundle",
            &bundle,
            "--key",
            &key,
        ],
        "sequence length",
    );
    // A cell of 2 MiB (an unclosed quote swallows the rest of a table like this).
    let long = out.path().join("long.csv");
    std::fs::write(
        &long,
        format!("label,text\npos,\"{}\n", "word ".repeat(400_000)),
    )
    .unwrap();
    fails_with(
        &[
            "augment",
            "--task",
            "text",
            "--data",
            &long.to_string_lossy(),
            "--bundle",
            &bundle,
            "--key",
            &key,
        ],
        "more than 1048576 bytes",
    );
    std::fs::remove_file(&long).unwrap();
    assert_eq!(entries(out.path()), ["data", "reviews.csv"]);
}

#[test]
fn colliding_outputs_and_interrupted_checkpoints_are_handled() {
    let out = tempfile::tempdir().unwrap();
    bundle(out.path(), false);
    let b = out.path().join("bundle").to_string_lossy().into_owned();
    let trained = arg(out.path(), "trained.safetensors");
    fails_with(
        &["train", &b, "--out", &trained, "--log", &trained],
        "different files",
    );
    // What a kill during the first checkpoint leaves: parts without the state file.
    let checkpoint = out.path().join("trained.safetensors.checkpoint");
    std::fs::create_dir(&checkpoint).unwrap();
    std::fs::write(checkpoint.join("epoch-1.model.bpk"), b"half").unwrap();
    fails_with(
        &["train", &b, "--out", &trained, "--resume"],
        "no complete checkpoint",
    );
    let output = amalgam(&["train", &b, "--out", &trained]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(!checkpoint.exists());
}

#[test]
fn non_finite_trained_weights_and_inconsistent_keys_are_refused_at_extract() {
    let out = tempfile::tempdir().unwrap();
    bundle(out.path(), false);
    let b = out.path().join("bundle").to_string_lossy().into_owned();
    let trained_path = out.path().join("trained.safetensors");
    let trained = trained_path.to_string_lossy().into_owned();
    assert!(amalgam(&["train", &b, "--out", &trained]).status.success());
    let key = arg(out.path(), "key.json");
    let model = arg(out.path(), "model");

    let mut file = read_tensor_file(&trained_path).unwrap();
    for tensor in file.tensors.values_mut() {
        if let Values::F32(v) = &mut tensor.values {
            v[0] = f32::NAN;
        }
    }
    let poisoned = arg(out.path(), "poisoned.safetensors");
    write_tensor_file(Path::new(&poisoned), &file).unwrap();
    fails_with(
        &[
            "extract",
            "--key",
            &key,
            "--trained",
            &poisoned,
            "--out",
            &model,
        ],
        "NaN or infinite",
    );

    let text = std::fs::read_to_string(&key).unwrap();
    let mut value: serde_json::Value = serde_json::from_str(&text).unwrap();
    value["keep_indices"][0][0] = serde_json::json!(4_000_000_000u32);
    let bad_key = arg(out.path(), "bad-key.json");
    std::fs::write(&bad_key, value.to_string()).unwrap();
    fails_with(
        &[
            "extract",
            "--key",
            &bad_key,
            "--trained",
            &trained,
            "--out",
            &model,
        ],
        "keep indices",
    );
    assert!(!out.path().join("model").exists());
}

#[test]
fn a_key_naming_a_branch_the_bundle_lacks_is_refused_by_the_audit() {
    let out = tempfile::tempdir().unwrap();
    bundle(out.path(), false);
    let key = out.path().join("key.json");
    let mut value: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&key).unwrap()).unwrap();
    value["real_branch"] = serde_json::json!(7);
    std::fs::write(&key, value.to_string()).unwrap();
    let (b, k, report) = (
        arg(out.path(), "bundle"),
        arg(out.path(), "key.json"),
        arg(out.path(), "report"),
    );
    fails_with(
        &[
            "audit",
            "--bundle",
            &b,
            "--key",
            &k,
            "--out",
            &report,
            "--samples",
            "16",
        ],
        "names branch 7 of 2",
    );
    assert!(!out.path().join("report").exists());
}

#[test]
fn staging_folders_of_killed_runs_are_removed_by_the_next_run() {
    let out = tempfile::tempdir().unwrap();
    // What `kill -9` during `augment` leaves: a staging folder (here of a process id that
    // cannot exist) holding a half-written bundle; and one of a live process (pid 1).
    let stale = out.path().join(".amalgam-staging-4000000000-x1");
    let live = out.path().join(".amalgam-staging-1-x2");
    for dir in [&stale, &live] {
        std::fs::create_dir(dir).unwrap();
        std::fs::write(dir.join("model.json"), b"{").unwrap();
    }
    bundle(out.path(), false);
    assert!(!stale.exists(), "the killed run's staging folder is left");
    assert!(live.exists(), "a live process's staging folder was removed");
}
