//! Tables 2 and 3: time per training step, plain against augmented (filter overhead, decoys),
//! and plain training throughput for the comparison with PyTorch.

use std::convert::Infallible;

use amalgam_cloud::AugmentedNetwork;
use amalgam_core::backend::training_device;
use amalgam_core::data::{ImageSet, LabelledSet};
use amalgam_core::model::{Architecture, Classifier};
use amalgam_core::rng::{Stream, stream, substream};
use amalgam_core::training::{BranchedClassifier, TrainState, train};
use amalgam_owner::augment::{DecoyArchitecture, ImageNoise, augment_images, augment_model};
use amalgam_owner::data::Dataset;
use amalgam_owner::noise::{NoiseKind, NoiseLayout, augmented_shape};
use amalgam_owner::setup::{OwnerSetup, TrainSettings};
use indicatif::ProgressBar;
use serde::{Deserialize, Serialize};

use crate::synthetic::{FASHION_MNIST, image_set};
use crate::timing::median;

/// The benchmark models.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Model {
    /// LeNet-5.
    Lenet,
    /// MLP 256-128.
    Mlp,
    /// ResNet-20.
    Resnet20,
}

impl Model {
    fn architecture(self) -> Architecture {
        match self {
            Model::Lenet => Architecture::lenet(),
            Model::Mlp => Architecture::default_mlp(),
            Model::Resnet20 => Architecture::resnet20(),
        }
    }

    /// Measured steps per epoch: enough for a stable time, few for the slow network.
    fn steps(self, quick: bool) -> usize {
        match (self, quick) {
            (Model::Resnet20, true) => 2,
            (Model::Resnet20, false) => 6,
            (_, true) => 10,
            (_, false) => 40,
        }
    }
}

/// Median seconds per training step of one setting.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StepTime {
    /// The model.
    pub model: Model,
    /// Samples per batch.
    pub batch: usize,
    /// Augmentation amount; `None` for the plain model on the original data.
    pub amount: Option<f64>,
    /// Decoy sub-networks (clones of the real one); 0 with `amount` is the filter alone.
    pub decoys: usize,
    /// Median seconds per step (forward, backward, Adam update, batch assembly).
    pub seconds_per_step: f64,
}

/// One epoch's worth of steps, timed after an unmeasured epoch: seconds per step.
fn seconds_per_step<M: BranchedClassifier>(
    model: M,
    data: &dyn LabelledSet,
    setup: &OwnerSetup,
    steps: usize,
) -> f64 {
    let device = training_device();
    let done = train(
        TrainState::new(model, &setup.train),
        data,
        &setup.train,
        &device,
        &ProgressBar::hidden(),
        usize::MAX,
        |_| Ok::<(), Infallible>(()),
    )
    .unwrap_or_else(|never| match never {});
    done.log[1].seconds / steps as f64
}

/// A setting of table 2 or 3: `model` at `batch`, plain (`amount` `None`) or augmented by
/// `amount` with `decoys` clone decoys.
#[derive(Clone, Copy, Debug)]
pub struct Setting {
    /// The model.
    pub model: Model,
    /// Samples per batch.
    pub batch: usize,
    /// Augmentation amount, or `None` for the plain model.
    pub amount: Option<f64>,
    /// Decoy sub-networks.
    pub decoys: usize,
}

/// Measures `settings` `reps` times each, interleaved (setting 1, 2, ..., 1, 2, ...) so that
/// slow drifts of the machine hit all of them alike; the median of each.
pub fn measure(settings: &[Setting], reps: usize, quick: bool) -> Vec<StepTime> {
    let mut times = vec![Vec::new(); settings.len()];
    for _ in 0..reps.max(1) {
        for (setting, times) in settings.iter().zip(&mut times) {
            times.push(measure_once(*setting, quick));
        }
    }
    settings
        .iter()
        .zip(&mut times)
        .map(|(s, times)| StepTime {
            model: s.model,
            batch: s.batch,
            amount: s.amount,
            decoys: s.decoys,
            seconds_per_step: median(times),
        })
        .collect()
}

/// Seconds per step of one run of `setting`.
fn measure_once(setting: Setting, quick: bool) -> f64 {
    let Setting {
        model,
        batch,
        amount,
        decoys,
    } = setting;
    let steps = model.steps(quick);
    let original = image_set(FASHION_MNIST, steps * batch);
    let dataset = Dataset {
        name: "synthetic".into(),
        train: original.head(steps * batch),
        test: original.head(1),
    };
    let settings = TrainSettings {
        epochs: 2,
        batch_size: batch,
        ..TrainSettings::default()
    };
    let setup = OwnerSetup::new(&dataset, model.architecture(), &settings, 0)
        .expect("benchmark settings are valid");
    match amount {
        None => {
            let classifier = Classifier::new(&setup.spec, &setup.init, &training_device())
                .expect("initial weights fit the spec");
            seconds_per_step(classifier, &dataset.train, &setup, steps)
        }
        Some(a) => {
            let (network, data) = augmented(&dataset.train, &setup, a, decoys);
            seconds_per_step(network, &data, &setup, steps)
        }
    }
}

/// The augmented network and data for `setup`'s model.
fn augmented(
    train: &ImageSet,
    setup: &OwnerSetup,
    amount: f64,
    decoys: usize,
) -> (AugmentedNetwork, ImageSet) {
    let shape = augmented_shape(train.shape, amount).expect("benchmark amounts are valid");
    let layout = NoiseLayout::draw(train.input(), shape, &mut stream(4, Stream::NoisePositions));
    let decoy_keep_indices = (0..decoys as u64)
        .map(|d| {
            NoiseLayout::draw(
                train.input(),
                shape,
                &mut substream(4, Stream::DecoyKeepIndices, d),
            )
            .keep_indices
        })
        .collect();
    let model = augment_model(
        shape,
        &setup.spec,
        &setup.init,
        &layout.keep_indices,
        decoy_keep_indices,
        DecoyArchitecture::Clone,
        4,
    );
    let network = AugmentedNetwork::new(&model.spec, &model.init, &training_device())
        .expect("the augmenter's weights fit its spec");
    (
        network,
        augment_images(
            train,
            &layout,
            &ImageNoise::Values(NoiseKind::Uniform),
            4,
            0,
        ),
    )
}
