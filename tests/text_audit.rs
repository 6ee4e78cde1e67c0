//! The text audit: its attacks find noise tokens that do not fit their neighbours, and stay at
//! chance on a control whose "noise" is natural text.

mod common;

use std::path::Path;

use amalgam_attack::{CloudView, Knowledge, SHADOW_TRAINED, Shadow, run_text_attacks};
use amalgam_core::bundle::{Bundle, whole_sets};
use amalgam_core::data::{LabelledSet, TokenSet};
use amalgam_core::model::{Architecture, ModelSpec, SPEC_FORMAT_VERSION, TokenShape};
use amalgam_core::rng::{Stream, stream};
use amalgam_owner::audit::{AuditReport, score_text};
use amalgam_owner::augment::{DecoyArchitecture, augment, augment_model};
use amalgam_owner::data::Dataset;
use amalgam_owner::key::SecretKey;
use amalgam_owner::noise::NoiseKind;
use amalgam_owner::noise::interleave::draw_views;
use amalgam_owner::setup::{OwnerSetup, TrainSettings};

/// Sequence length of the original texts.
const LENGTH: usize = 24;
/// Sequence length of the control's original texts (its grid has twice as many positions).
const CONTROL_LENGTH: usize = 64;

fn audit_with(dir: &Path, knowledge: &Knowledge) -> AuditReport {
    let view = CloudView::<TokenSet>::open(&dir.join("bundle"), None, None, 0).unwrap();
    let attacks = run_text_attacks(&view, knowledge);
    let key = SecretKey::read(&dir.join("key.json")).unwrap();
    score_text(&view, &attacks, &key).unwrap()
}

fn auc(report: &AuditReport, statistic: &str) -> f64 {
    report
        .detection
        .iter()
        .find(|d| d.statistic == statistic)
        .unwrap()
        .auc
}

/// A text bundle of `dataset` with uniform noise (token ids uniform over the vocabulary).
fn noisy_bundle(dir: &Path, dataset: &Dataset<TokenSet>, key_seed: u64) -> SecretKey {
    let mut options = common::quick_options(1, 0, key_seed);
    options.architecture = Architecture::bag();
    options.noise = NoiseKind::Uniform;
    options.amount = 0.5;
    augment(
        dataset,
        &options,
        &dir.join("bundle"),
        &dir.join("key.json"),
    )
    .unwrap()
}

/// A control bundle: the "augmented" sequences are natural texts of length
/// `2 * CONTROL_LENGTH`,
/// and two branches read a random partition of their positions (from `seed`), so that
/// nothing tells the real branch's positions from the other's.
fn control_bundle(dir: &Path, seed: u64) {
    let long = common::rotten_tomatoes_subset(800, 100, 2 * CONTROL_LENGTH);
    let short = common::rotten_tomatoes_subset(800, 100, CONTROL_LENGTH);
    let settings = TrainSettings {
        epochs: 1,
        ..Default::default()
    };
    let setup = OwnerSetup::new(&short, Architecture::bag(), &settings, 0).unwrap();
    let augmented = long.train.input();
    let mut views = draw_views(
        short.train.input(),
        augmented,
        2,
        &mut stream(seed, Stream::NoisePositions),
    )
    .unwrap();
    let keep_indices = views.remove(0);
    let model = augment_model(
        augmented,
        &setup.spec,
        &setup.init,
        &keep_indices,
        views,
        DecoyArchitecture::Clone,
        seed,
    );
    let bundle = dir.join("bundle");
    std::fs::create_dir(&bundle).unwrap();
    let fingerprint = Bundle::write(
        &bundle,
        &model.spec,
        &setup.train,
        &model.init,
        [long.train.len(), long.test.len()],
        whole_sets(&long.train, &long.test),
    )
    .unwrap();
    let vocab_size = short.train.shape.vocab_size;
    SecretKey {
        format_version: SPEC_FORMAT_VERSION,
        bundle_fingerprint: fingerprint,
        real_branch: model.real_branch,
        original: ModelSpec::new(
            Architecture::bag(),
            TokenShape {
                length: CONTROL_LENGTH,
                vocab_size,
            },
            short.classes(),
        )
        .unwrap(),
        augmented,
        amount: 1.0,
        noise: NoiseKind::Unigram,
        keep_indices,
    }
    .write(&dir.join("key.json"))
    .unwrap();
}

#[test]
fn text_attacks_find_tokens_that_do_not_fit_and_stay_at_chance_on_natural_text() {
    let data = common::rotten_tomatoes_subset(1600, 200, LENGTH);
    let part = |range: std::ops::Range<usize>| Dataset {
        name: "part".into(),
        train: data.train.range(range),
        test: data.test.range(0..100),
    };
    let (owner, public) = (part(0..800), part(800..1600));
    let shadows: Vec<Shadow<TokenSet>> = [5, 6]
        .iter()
        .map(|&seed| {
            let dir = tempfile::tempdir().unwrap();
            noisy_bundle(dir.path(), &public, seed);
            common::shadow_of(dir.path())
        })
        .collect();
    let knowledge = Knowledge::with_text_shadows(None, &shadows);
    let dir = tempfile::tempdir().unwrap();
    let key = noisy_bundle(dir.path(), &owner, 1);
    let report = audit_with(dir.path(), &knowledge);
    assert!(
        auc(&report, SHADOW_TRAINED) > 0.95,
        "{:?}",
        report.detection
    );
    assert_eq!(report.identification.by_positions, key.real_branch);
    let drop_noise = &report.reconstruction[1];
    assert!(drop_noise.similarity > 0.5, "{drop_noise:?}");

    let shadows: Vec<Shadow<TokenSet>> = [20, 30]
        .iter()
        .map(|&seed| {
            let dir = tempfile::tempdir().unwrap();
            control_bundle(dir.path(), seed);
            common::shadow_of(dir.path())
        })
        .collect();
    let knowledge = Knowledge::with_text_shadows(None, &shadows);
    let dir = tempfile::tempdir().unwrap();
    control_bundle(dir.path(), 9);
    let report = audit_with(dir.path(), &knowledge);
    // 64 real and 64 other positions: under the null an AUC has a standard deviation of
    // about 0.05.
    for d in &report.detection {
        assert!((d.auc - 0.5).abs() < 0.15, "{}: AUC {}", d.statistic, d.auc);
    }
}
