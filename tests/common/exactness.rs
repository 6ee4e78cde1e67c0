//! The exactness check shared by the image and text exactness tests.

use amalgam_cloud::{TrainOptions, train_bundle};
use amalgam_core::backend::inference_device;
use amalgam_core::bundle::branch_weights;
use amalgam_core::model::{Architecture, Classifier, Weights};
use amalgam_core::tensors::read_tensor_file;
use amalgam_owner::augment::{
    AugmentOptions, Augmentable, DecoyArchitecture, DecoyInputs, augment,
};
use amalgam_owner::baseline::train_baseline;
use amalgam_owner::data::Dataset;
use amalgam_owner::data::SampleSource;
use amalgam_owner::extract::extract;
use amalgam_owner::noise::NoiseKind;
use amalgam_owner::noise::interleave::fitting_amount;
use amalgam_owner::setup::{OwnerSetup, TrainSettings};
use indicatif::ProgressBar;

/// Asserts that two sets of weights have the same names, shapes and bits.
pub fn assert_bitwise(name: &str, a: &Weights, b: &Weights) {
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

/// Augments `dataset` with two family decoys, trains the bundle, extracts, trains the plain
/// baseline, and asserts that the extracted weights (and eval-mode logits on the test set)
/// equal the plain ones bit for bit, that training changed every tensor, and that a decoy's
/// weights differ (so the comparison can fail).
///
/// `decoy_inputs` go with [`NoiseKind::Interleave`], which gets the smallest amount its three
/// views fit; the other kinds get amount 0.5.
pub fn check_exactness_on<S: Augmentable + SampleSource<Chunk: Augmentable>>(
    dataset: &Dataset<S>,
    architecture: Architecture,
    train: TrainSettings,
    noise: NoiseKind,
    decoy_inputs: Option<DecoyInputs>,
) {
    let amount = match noise {
        NoiseKind::Interleave => fitting_amount(dataset.train.sample_shape(), 3).unwrap(),
        _ => 0.5,
    };
    let options = AugmentOptions {
        architecture,
        amount,
        noise,
        decoys: 2,
        decoy_architecture: DecoyArchitecture::Family,
        seed: 7,
        key_seed: 11,
        train,
        decoy_inputs,
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
        let (input, _) = dataset
            .test
            .batch(&(0..dataset.test.len()).collect::<Vec<_>>(), &device);
        classifier
            .forward(input)
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
