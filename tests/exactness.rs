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

use amalgam_core::model::Architecture;
use amalgam_core::training::{OptimizerKind, Schedule};
use amalgam_owner::augment::DecoyInputs;
use amalgam_owner::data::{Dataset, load_dataset};
use amalgam_owner::noise::NoiseKind;
use amalgam_owner::setup::TrainSettings;
use common::exactness::check_exactness_on;

fn check_exactness(architecture: Architecture, train: TrainSettings, samples: usize) {
    check_exactness_on(
        &common::fashion_subset(samples, 64),
        architecture,
        train,
        NoiseKind::Uniform,
        None,
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
    check_exactness_on(
        &cifar_format_set(48),
        Architecture::vgg11(),
        train,
        NoiseKind::Uniform,
        None,
    );
}

#[test]
fn resnet20_on_a_cifar_format_set_with_crop_flip_extracts_bitwise_equal_weights() {
    let dataset = cifar_format_set(64);
    check_exactness_on(
        &dataset,
        Architecture::resnet20(),
        prototype_recipe(0.05),
        NoiseKind::Uniform,
        None,
    );
}

#[test]
fn lenet_with_interleaved_decoy_views_extracts_bitwise_equal_weights() {
    // The decoys' views come from other images of the same class of the owner's set.
    let dataset = common::fashion_subset(512, 64);
    check_exactness_on(
        &dataset,
        Architecture::lenet(),
        one_epoch(OptimizerKind::Adam),
        NoiseKind::Interleave,
        Some(DecoyInputs::own(dataset.clone())),
    );
}
