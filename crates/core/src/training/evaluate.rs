//! Test accuracy and loss of a network.

use burn::nn::loss::CrossEntropyLossConfig;
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::data::LabelledSet;
use crate::model::Classifier;

/// Samples per evaluation batch.
const EVAL_BATCH: usize = 1000;

/// How well a network classifies a labelled set.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// Fraction of samples whose arg-max logit is the label, in [0, 1].
    pub accuracy: f64,
    /// Mean cross-entropy in nats per sample.
    pub loss: f64,
    /// Number of samples.
    pub samples: usize,
}

/// Evaluates `classifier` (on a device without autodiff, so BatchNorm uses its running
/// statistics) on every sample of `data`.
pub fn evaluate(classifier: &Classifier, data: &dyn LabelledSet, device: &Device) -> Evaluation {
    let loss_fn = CrossEntropyLossConfig::new().init(device);
    let indices: Vec<usize> = (0..data.len()).collect();
    let (mut correct, mut loss_sum) = (0usize, 0.0f64);
    for batch in indices.chunks(EVAL_BATCH) {
        let (input, labels) = data.batch(batch, device);
        let logits = classifier.forward(input);
        let loss: f32 = loss_fn
            .forward(logits.clone(), labels.clone())
            .into_scalar();
        loss_sum += f64::from(loss) * batch.len() as f64;
        let hits: i64 = logits
            .argmax(1)
            .squeeze_dim::<1>(1)
            .equal(labels)
            .int()
            .sum()
            .into_scalar();
        correct += hits as usize;
    }
    let samples = data.len().max(1);
    Evaluation {
        accuracy: correct as f64 / samples as f64,
        loss: loss_sum / samples as f64,
        samples: data.len(),
    }
}

/// The logits `[N, classes]` (row-major) of `classifier` for every sample of `data`, in
/// order, on a device without autodiff.
pub fn logits(classifier: &Classifier, data: &dyn LabelledSet, device: &Device) -> Vec<f32> {
    let indices: Vec<usize> = (0..data.len()).collect();
    let mut out = Vec::new();
    for batch in indices.chunks(EVAL_BATCH) {
        let (input, _) = data.batch(batch, device);
        out.extend(classifier.forward(input).into_data().iter::<f32>());
    }
    out
}
