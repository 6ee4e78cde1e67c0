//! Exactness: the model extracted from the trained augmented network equals, bit for bit,
//! the original model trained plainly on the original data (same seed, same batch order),
//! BatchNorm running statistics included, and so do their eval-mode logits.
//!
//! Determinism: both runs use the same flex CPU kernels in the same process (one rayon pool,
//! fixed thread count). flex partitions work by data shape, never by scheduling, so each
//! kernel gives the same bits whichever thread runs a chunk; the real branch sees exactly the
//! plain model's inputs (the filter is a gather) and its gradients (the loss is a sum, the
//! parameters are disjoint, the optimizers are per parameter).

mod common;

use amalgam_cloud::{TrainOptions, train_bundle};
use amalgam_core::backend::inference_device;
use amalgam_core::bundle::branch_weights;
use amalgam_core::model::{Architecture, Classifier, Weights};
use amalgam_core::tensors::read_tensor_file;
use amalgam_core::training::{OptimizerKind, Schedule};
use amalgam_owner::augment::{AugmentOptions, augment};
use amalgam_owner::baseline::train_baseline;
use amalgam_owner::data::{Dataset, load_dataset};
use amalgam_owner::extract::extract;
use amalgam_owner::noise::NoiseKind;
use amalgam_owner::setup::{OwnerSetup, TrainSettings};
use indicatif::ProgressBar;

fn assert_bitwise(name: &str, a: &Weights, b: &Weights) {
    assert_eq!(
        a.keys().collect::<Vec<_>>(),
        b.keys().collect::<Vec<_>>(),
        "{name}: tensor names"
    );
    for (tensor, ta) in a {
        let tb = &b[tensor];
        assert_eq!(ta.shape, tb.shape, "{name}: shape of {tensor}");
        let (amalgam_core::tensors::Values::F32(x), amalgam_core::tensors::Values::F32(y)) =
            (&ta.values, &tb.values)
        else {
            panic!("{name}: {tensor} is not f32");
        };
        let differing = x
            .iter()
            .zip(y)
            .filter(|(u, v)| u.to_bits() != v.to_bits())
            .count();
        assert_eq!(
            differing, 0,
            "{name}: {differing} values of {tensor} differ"
        );
    }
}

fn check_exactness(architecture: Architecture, train: TrainSettings, samples: usize) {
    check_exactness_on(&common::fashion_subset(samples, 64), architecture, train);
}

fn check_exactness_on(dataset: &Dataset, architecture: Architecture, train: TrainSettings) {
    let options = AugmentOptions {
        architecture,
        amount: 0.5,
        noise: NoiseKind::Uniform,
        decoys: 2,
        decoy_architecture: amalgam_owner::augment::DecoyArchitecture::Family,
        seed: 7,
        key_seed: 11,
        train,
    };
    let dir = tempfile::tempdir().unwrap();
    let (bundle, key_path) = (dir.path().join("bundle"), dir.path().join("key.json"));
    let (trained, log) = (
        dir.path().join("trained.safetensors"),
        dir.path().join("log.jsonl"),
    );
    let key = augment(dataset, &options, &bundle, &key_path).unwrap();
    train_bundle(
        &bundle,
        &trained,
        &log,
        &ProgressBar::hidden(),
        TrainOptions::default(),
    )
    .unwrap();
    let (_, extracted) = extract(&key, &key_path, &trained).unwrap();

    let setup = OwnerSetup::new(dataset, options.architecture.clone(), &options.train, 7).unwrap();
    let plain = train_baseline(dataset, &setup, &ProgressBar::hidden());

    for (name, tensor) in &plain.weights {
        assert_ne!(
            tensor, &setup.init[name],
            "{name} (running statistics too) changed in training"
        );
    }
    assert_bitwise("extracted vs plain", &extracted, &plain.weights);

    // The comparison can fail: a decoy's trained weights are not the plain model's.
    let decoy = (key.real_branch + 1) % 3;
    let decoy_weights = branch_weights(&read_tensor_file(&trained).unwrap().tensors, decoy);
    assert!(!decoy_weights.is_empty());
    assert_ne!(decoy_weights, plain.weights);

    // Eval mode (BatchNorm on its running statistics): the same logits, bit for bit.
    let device = inference_device();
    let logits = |weights: &Weights| {
        let classifier = Classifier::new(&setup.spec, weights, &device).unwrap();
        let (images, _) = dataset
            .test
            .batch(&(0..dataset.test.len()).collect::<Vec<_>>(), &device);
        classifier
            .forward(images)
            .into_data()
            .try_to_vec::<f32>()
            .unwrap()
    };
    let (a, b) = (logits(&extracted), logits(&plain.weights));
    assert!(
        a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits()),
        "eval-mode logits differ"
    );
}

/// The authors' prototype recipe for two epochs: SGD at `learning_rate`, momentum 0.9, weight
/// decay 5e-4, cosine schedule, crop (padding 4) and flip, normalisation.
fn prototype_recipe(learning_rate: f64) -> TrainSettings {
    TrainSettings {
        epochs: 2,
        learning_rate,
        optimizer: OptimizerKind::Sgd,
        momentum: 0.9,
        weight_decay: 5e-4,
        schedule: Schedule::Cosine,
        crop_padding: 4,
        normalize: true,
        ..TrainSettings::default()
    }
}

fn one_epoch(optimizer: OptimizerKind) -> TrainSettings {
    TrainSettings {
        epochs: 1,
        optimizer,
        ..TrainSettings::default()
    }
}

#[test]
fn mlp_with_two_decoys_extracts_bitwise_equal_weights() {
    check_exactness(
        Architecture::default_mlp(),
        one_epoch(OptimizerKind::Adam),
        512,
    );
}

#[test]
fn lenet_with_two_decoys_extracts_bitwise_equal_weights() {
    check_exactness(Architecture::lenet(), one_epoch(OptimizerKind::Adam), 512);
}

#[test]
fn lenet_with_sgd_extracts_bitwise_equal_weights() {
    check_exactness(Architecture::lenet(), one_epoch(OptimizerKind::Sgd), 512);
}

/// BatchNorm: running statistics are part of the weights, and must match too.
#[test]
fn resnet20_with_two_decoys_extracts_bitwise_equal_weights_and_running_stats() {
    check_exactness(Architecture::resnet20(), prototype_recipe(0.1), 96);
}

#[test]
fn vgg11_bn_with_two_decoys_extracts_bitwise_equal_weights_and_running_stats() {
    let adamw = TrainSettings {
        weight_decay: 1e-2,
        crop_padding: 4,
        normalize: true,
        ..one_epoch(OptimizerKind::Adamw)
    };
    check_exactness(Architecture::vgg11(), adamw, 96);
}

/// Three channels, in the CIFAR binary layout, through the CIFAR reader.
fn cifar_format_set(train: usize) -> Dataset {
    let dir = tempfile::tempdir().unwrap();
    common::write_cifar(dir.path(), 1, train, 16);
    load_dataset(Some(dir.path()), 32).unwrap()
}

#[test]
fn vgg11_bn_on_a_cifar_format_set_with_crop_flip_extracts_bitwise_equal_weights() {
    let train = TrainSettings {
        crop_padding: 4,
        normalize: true,
        ..one_epoch(OptimizerKind::Adam)
    };
    check_exactness_on(&cifar_format_set(48), Architecture::vgg11(), train);
}

#[test]
fn resnet20_on_a_cifar_format_set_with_crop_flip_extracts_bitwise_equal_weights() {
    let dataset = cifar_format_set(64);
    check_exactness_on(&dataset, Architecture::resnet20(), prototype_recipe(0.05));
}
