//! The cloud's attacks on a PrivyNet bundle, through the CLI: the kept channels are
//! identified from the features alone, and the decoder's reconstructions of the owner's test
//! images beat the best image that ignores the features (the public images' mean).

mod common;

use amalgam_core::data::ImageSet;
use amalgam_owner::audit::psnr;
use amalgam_owner::data::load_dataset;

#[test]
fn attacker_identifies_the_kept_channels_and_reconstructs_better_than_the_mean_image() {
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
    ok(&[
        "privynet",
        "augment",
        "--pretrained",
        &d("pretrained"),
        "--channels",
        "3",
        "--key-seed",
        "4",
        "--bundle",
        &d("bundle"),
        "--key",
        &d("key"),
    ]);
    ok(&[
        "privynet",
        "attack",
        "--bundle",
        &d("bundle"),
        "--pretrained",
        &d("pretrained"),
        "--key",
        &d("key"),
        "--public-samples",
        "768",
        "--samples",
        "64",
        "--decoder-epochs",
        "6",
        "--out",
        &d("attack"),
    ]);
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("attack/report.json")).unwrap())
            .unwrap();
    assert_eq!(
        report["identified_channels"], report["kept_channels"],
        "{report}"
    );
    assert_eq!(report["channels_identified"], 1.0);
    assert!(dir.path().join("attack/grid.png").exists());

    // The best feature-blind guess: the mean of the attacker's public images.
    let data = load_dataset(None, 32).unwrap();
    let public = data.train.head(768);
    let truth = data.test.head(64);
    let values = public.shape.values();
    let mean: Vec<f32> = (0..values)
        .map(|v| (0..768).map(|i| public.sample(i)[v]).sum::<f32>() / 768.0)
        .collect();
    let guess = ImageSet::new(truth.shape, mean.repeat(64), truth.labels.clone()).unwrap();
    let floor = psnr(&truth, &guess);
    let blind = report["blind"]["psnr"].as_f64().unwrap();
    assert!(
        blind > floor + 1.5,
        "decoder {blind:.2} dB, mean image {floor:.2} dB"
    );
}

#[test]
fn topology_selection_picks_the_most_accurate_topology_within_the_limits() {
    let dir = tempfile::tempdir().unwrap();
    let d = |name: &str| common::arg(dir.path(), name);
    let out = common::amalgam(&[
        "privynet",
        "select",
        "--epochs",
        "1",
        "--splits",
        "1,2",
        "--channels",
        "2",
        "--public-samples",
        "256",
        "--samples",
        "32",
        "--decoder-epochs",
        "1",
        "--max-local-params",
        "1000",
        "--out",
        &d("select"),
    ]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("select/frontier.json")).unwrap())
            .unwrap();
    let topologies = report["topologies"].as_array().unwrap();
    // LeNet: split 1 (6 channels: D = 2, 6), split 2 (16 channels: D = 2, 16).
    let tried: Vec<(u64, u64)> = topologies
        .iter()
        .map(|t| {
            (
                t["split_point"].as_u64().unwrap(),
                t["kept_channels"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(tried, [(1, 2), (1, 6), (2, 2), (2, 16)]);
    // Only split point 1 keeps the local part under 1000 parameters (conv1: 156).
    let within: Vec<bool> = topologies
        .iter()
        .map(|t| t["within_limits"].as_bool().unwrap())
        .collect();
    assert_eq!(within, [true, true, false, false]);
    let chosen = report["chosen"].as_u64().unwrap() as usize;
    let accuracy = |i: usize| topologies[i]["privynet"]["accuracy"].as_f64().unwrap();
    assert!(chosen < 2 && accuracy(chosen) >= accuracy(1 - chosen));
    assert!(topologies.iter().any(|t| t["on_frontier"] == true));
    for file in ["frontier.png", "grid.png"] {
        assert!(dir.path().join("select").join(file).exists(), "{file}");
    }
}
