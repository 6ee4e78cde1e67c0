//! The privacy audit: its attacks find trivially separable noise, stay at chance on a control
//! with no real signal, and the command writes its report (or fails cleanly).

mod common;

use std::path::Path;

use amalgam_attack::{CloudView, Knowledge, SHADOW_TRAINED, Shadow, run_attacks};
use amalgam_core::bundle::{Bundle, DATA_FILE, whole_sets};
use amalgam_core::data::{ImageSet, LabelledSet};
use amalgam_core::model::{Architecture, ModelSpec, SPEC_FORMAT_VERSION};
use amalgam_core::rng::{Stream, stream};
use amalgam_core::tensors::{Values, read_tensor_file, write_tensor_file};
use amalgam_owner::audit::{AuditReport, score};
use amalgam_owner::augment::{DecoyArchitecture, DecoyInputs, augment, augment_model};
use amalgam_owner::key::SecretKey;
use amalgam_owner::noise::interleave::draw_views;
use amalgam_owner::noise::{NoiseKind, augmented_shape};
use amalgam_owner::setup::{OwnerSetup, TrainSettings};
use common::{amalgam, arg, entries, stderr};

/// Attacks the bundle in `dir/bundle`, then scores with `dir/key.json`.
fn audit(dir: &Path) -> AuditReport {
    audit_with(dir, &Knowledge::default())
}

/// [`audit`] by an attacker with `knowledge`.
fn audit_with(dir: &Path, knowledge: &Knowledge) -> AuditReport {
    let view = CloudView::open(&dir.join("bundle"), None, None, 0).unwrap();
    let attacks = run_attacks(&view, knowledge);
    let key = SecretKey::read(&dir.join("key.json")).unwrap();
    score(&view, &attacks, &key).unwrap()
}

fn auc(report: &AuditReport, statistic: &str) -> f64 {
    report
        .detection
        .iter()
        .find(|d| d.statistic == statistic)
        .unwrap()
        .auc
}

fn augment_subset(dir: &Path, noise: NoiseKind, amount: f64) -> SecretKey {
    let dataset = common::fashion_subset(600, 100);
    let mut options = common::quick_options(1, 0, 3);
    options.noise = noise;
    options.amount = amount;
    augment(
        &dataset,
        &options,
        &dir.join("bundle"),
        &dir.join("key.json"),
    )
    .unwrap()
}

#[test]
fn constant_noise_is_found_perfectly() {
    let dir = tempfile::tempdir().unwrap();
    let key = augment_subset(dir.path(), NoiseKind::Uniform, 0.5);
    // Replace every noise value of the training set by a constant.
    let data = dir.path().join("bundle").join(DATA_FILE);
    let mut file = read_tensor_file(&data).unwrap();
    let grid = key.augmented.positions();
    let Values::F32(images) = &mut file.tensors.get_mut("train.images").unwrap().values else {
        panic!("images are f32")
    };
    for sample in images.chunks_exact_mut(grid) {
        let mut noise = vec![true; grid];
        key.keep_indices[0]
            .iter()
            .for_each(|&k| noise[k as usize] = false);
        sample
            .iter_mut()
            .zip(noise)
            .filter(|(_, n)| *n)
            .for_each(|(v, _)| *v = 0.3);
    }
    write_tensor_file(&data, &file).unwrap();
    let report = audit(dir.path());
    assert!(
        auc(&report, "attacker_choice") > 0.99,
        "{:?}",
        report.detection
    );
    assert!(report.detection.last().unwrap().real_recovered_at_count > 0.99);
}

/// Writes a control bundle and its key into `dir`: "augmented" samples are real images
/// resized to H' x W' (amount 1.0), and four branches read a random partition of the grid
/// (drawn from `seed`), so that neither the values nor which filters read a position tell
/// the real branch's positions from the others.
fn control_bundle(dir: &Path, seed: u64) {
    let dataset = common::fashion_subset(1000, 100);
    let original = dataset.train.shape;
    let augmented = augmented_shape(original, 1.0).unwrap().image().unwrap();
    let resize = |set: &ImageSet| {
        let mut images = Vec::with_capacity(set.len() * augmented.values());
        for i in 0..set.len() {
            let sample = set.sample(i);
            for r in 0..augmented.height {
                for c in 0..augmented.width {
                    let (sr, sc) = (
                        r * original.height / augmented.height,
                        c * original.width / augmented.width,
                    );
                    images.push(sample[sr * original.width + sc]);
                }
            }
        }
        ImageSet::new(augmented, images, set.labels.clone()).unwrap()
    };
    let settings = TrainSettings {
        epochs: 1,
        batch_size: 32,
        learning_rate: 1e-3,
        optimizer: amalgam_core::training::OptimizerKind::Adam,
        ..Default::default()
    };
    let setup = OwnerSetup::new(&dataset, Architecture::default_mlp(), &settings, 0).unwrap();
    let mut views = draw_views(
        original.into(),
        augmented.into(),
        4,
        &mut stream(seed, Stream::NoisePositions),
    )
    .unwrap();
    let keep_indices = views.remove(0);
    let model = augment_model(
        augmented.into(),
        &setup.spec,
        &setup.init,
        &keep_indices,
        views,
        DecoyArchitecture::Clone,
        seed,
    );
    let bundle = dir.join("bundle");
    std::fs::create_dir(&bundle).unwrap();
    let (train, test) = (resize(&dataset.train), resize(&dataset.test));
    let fingerprint = Bundle::write(
        &bundle,
        &model.spec,
        &setup.train,
        &model.init,
        [train.len(), test.len()],
        whole_sets(&train, &test),
    )
    .unwrap();
    SecretKey {
        format_version: SPEC_FORMAT_VERSION,
        bundle_fingerprint: fingerprint,
        real_branch: model.real_branch,
        original: ModelSpec::new(Architecture::default_mlp(), original, 10).unwrap(),
        augmented: augmented.into(),
        amount: 1.0,
        noise: NoiseKind::Uniform,
        keep_indices,
    }
    .write(&dir.join("key.json"))
    .unwrap();
}

#[test]
fn control_without_noise_is_near_chance() {
    let dir = tempfile::tempdir().unwrap();
    control_bundle(dir.path(), 9);
    let report = audit(dir.path());
    for d in &report.detection {
        assert!((d.auc - 0.5).abs() < 0.06, "{}: AUC {}", d.statistic, d.auc);
    }
}

#[test]
fn shadow_trained_detectors_find_separable_noise_and_stay_at_chance_on_the_control() {
    // Separable: uniform noise. The attacker's two shadow bundles use other keys.
    let shadows: Vec<Shadow> = [5, 6]
        .iter()
        .map(|&key_seed| {
            let dir = tempfile::tempdir().unwrap();
            let mut options = common::quick_options(1, 0, key_seed);
            options.amount = 0.5;
            augment(
                &common::fashion_subset(600, 100),
                &options,
                &dir.path().join("bundle"),
                &dir.path().join("key.json"),
            )
            .unwrap();
            common::shadow_of(dir.path())
        })
        .collect();
    let knowledge = Knowledge::with_shadows(None, &shadows);
    let dir = tempfile::tempdir().unwrap();
    let key = augment_subset(dir.path(), NoiseKind::Uniform, 0.5);
    let report = audit_with(dir.path(), &knowledge);
    assert!(
        auc(&report, SHADOW_TRAINED) > 0.99,
        "{:?}",
        report.detection
    );
    assert_eq!(report.identification.by_shadow, Some(key.real_branch));

    // Control: shadows and target without any signal.
    let shadows: Vec<Shadow> = [20, 30]
        .iter()
        .map(|&seed| {
            let dir = tempfile::tempdir().unwrap();
            control_bundle(dir.path(), seed);
            common::shadow_of(dir.path())
        })
        .collect();
    let knowledge = Knowledge::with_shadows(None, &shadows);
    let dir = tempfile::tempdir().unwrap();
    control_bundle(dir.path(), 9);
    let report = audit_with(dir.path(), &knowledge);
    let shadow_auc = auc(&report, SHADOW_TRAINED);
    assert!(
        (shadow_auc - 0.5).abs() < 0.06,
        "shadow-trained AUC {shadow_auc}"
    );
}

#[test]
fn published_noise_leaks_through_quantisation_and_resampled_noise_does_not() {
    let (uniform, resample) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    augment_subset(uniform.path(), NoiseKind::Uniform, 0.25);
    augment_subset(resample.path(), NoiseKind::Resample, 0.25);
    let (uniform, resample) = (audit(uniform.path()), audit(resample.path()));
    assert_eq!(
        auc(&uniform, "off_grid"),
        1.0,
        "uniform noise is never a multiple of 1/255"
    );
    assert!(
        (auc(&resample, "off_grid") - 0.5).abs() < 0.05,
        "resampled noise is quantised"
    );
    assert!(auc(&resample, "attacker_choice") < auc(&uniform, "attacker_choice"));
    let ssim = |r: &AuditReport| {
        r.reconstruction
            .iter()
            .find(|m| m.method == "drop_noise")
            .unwrap()
            .similarity
    };
    assert!(
        ssim(&uniform) > 0.99,
        "uniform noise: exact reconstruction by dropping detected noise"
    );
    assert!(
        ssim(&resample) < 0.8,
        "resampled noise: detection errors scramble the reconstruction"
    );
}

#[test]
fn audit_command_writes_report_and_grid_and_refuses_a_foreign_key() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    augment_subset(a.path(), NoiseKind::Gaussian, 1.0);
    let dataset = common::fashion_subset(100, 20);
    augment(
        &dataset,
        &common::quick_options(1, 0, 4),
        &b.path().join("bundle"),
        &b.path().join("key.json"),
    )
    .unwrap();

    let bundle = arg(a.path(), "bundle");
    let ok = amalgam(&[
        "audit",
        "--bundle",
        &bundle,
        "--key",
        &arg(a.path(), "key.json"),
        "--out",
        &arg(a.path(), "report"),
    ]);
    assert!(ok.status.success(), "{}", stderr(&ok));
    assert_eq!(
        entries(&a.path().join("report")),
        ["grid.png", "report.json"]
    );
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(a.path().join("report/report.json")).unwrap())
            .unwrap();
    assert_eq!(report["detection"].as_array().unwrap().len(), 6);
    assert!(String::from_utf8_lossy(&ok.stdout).contains("Real-branch identification"));

    let foreign = arg(b.path(), "key.json");
    let bad = amalgam(&[
        "audit",
        "--bundle",
        &bundle,
        "--key",
        &foreign,
        "--out",
        &arg(a.path(), "report2"),
    ]);
    assert!(!bad.status.success());
    assert!(
        stderr(&bad).contains(&foreign) && stderr(&bad).contains("does not belong"),
        "{}",
        stderr(&bad)
    );
    assert!(!a.path().join("report2").exists());
}

#[test]
fn family_decoys_leave_the_real_branch_the_only_default_architecture() {
    let dir = tempfile::tempdir().unwrap();
    let mut options = common::quick_options(3, 0, 2);
    options.architecture = Architecture::lenet();
    options.decoy_architecture = DecoyArchitecture::Family;
    let key = augment(
        &common::fashion_subset(200, 50),
        &options,
        &dir.path().join("bundle"),
        &dir.path().join("key.json"),
    )
    .unwrap();
    let report = audit(dir.path());
    let spec = Bundle::open(&dir.path().join("bundle")).unwrap().spec;
    for e in &report.identification.evidence {
        let default = spec.branches[e.branch].network.architecture == Architecture::lenet();
        assert_eq!(e.canonical_architecture, default, "branch {}", e.branch);
    }
    assert!(report.identification.evidence[key.real_branch].canonical_architecture);
    assert!(report.identification.by_architecture.is_some());
}

#[test]
fn interleaved_views_from_a_public_set_are_matched_and_repeat_nothing() {
    let data = common::fashion_subset(900, 300);
    let (owner, public) = (
        amalgam_owner::data::Dataset {
            name: "owner".into(),
            train: data.train.range(0..300),
            test: data.test.range(0..100),
        },
        amalgam_owner::data::Dataset {
            name: "public".into(),
            train: data.train.range(300..900),
            test: data.test.range(100..300),
        },
    );
    let dir = tempfile::tempdir().unwrap();
    let mut options = common::quick_options(1, 0, 8);
    options.noise = NoiseKind::Interleave;
    options.amount = 0.43;
    options.decoy_inputs = Some(DecoyInputs::other(public.clone()));
    let key = augment(
        &owner,
        &options,
        &dir.path().join("bundle"),
        &dir.path().join("key.json"),
    )
    .unwrap();
    let knowledge = Knowledge {
        public: Some(public.train.clone()),
        ..Knowledge::default()
    };
    let report = audit_with(dir.path(), &knowledge);
    let id = &report.identification;
    assert_eq!(id.by_public_set, Some(key.real_branch), "{id:?}");
    for e in &id.evidence {
        assert_eq!(e.repeated_images, 0.0, "no view repeats an image");
        let distance = e.public_distance.unwrap();
        if e.branch == key.real_branch {
            assert!(distance > 0.01, "the owner's images are not public");
        } else {
            assert_eq!(distance, 0.0, "decoy views are public images");
        }
    }
}

#[test]
fn audit_command_with_attacker_data_runs_the_shadow_trained_attacks() {
    let (owner, attacker, out) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    common::write_idx_dataset(owner.path(), 60, 20, 12);
    common::write_idx_dataset(attacker.path(), 80, 20, 12);
    let made = amalgam(&[
        "augment",
        "--data",
        &owner.path().to_string_lossy(),
        "--model",
        "mlp",
        "--epochs",
        "1",
        "--noise",
        "uniform",
        "--bundle",
        &arg(out.path(), "bundle"),
        "--key",
        &arg(out.path(), "key.json"),
    ]);
    assert!(made.status.success(), "{}", stderr(&made));
    let audited = amalgam(&[
        "audit",
        "--bundle",
        &arg(out.path(), "bundle"),
        "--key",
        &arg(out.path(), "key.json"),
        "--out",
        &arg(out.path(), "report"),
        "--attacker-data",
        &attacker.path().to_string_lossy(),
        "--shadows",
        "2",
    ]);
    assert!(audited.status.success(), "{}", stderr(&audited));
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join("report/report.json")).unwrap())
            .unwrap();
    let detection = report["detection"].as_array().unwrap();
    assert_eq!(detection.last().unwrap()["statistic"], SHADOW_TRAINED);
    assert!(detection.last().unwrap()["auc"].as_f64().unwrap() > 0.99);
    assert!(report["identification"]["by_shadow"].is_u64());
    assert!(report["identification"]["by_public_set"].is_u64());
}
