//! Real-branch identification: which branch's input filter yields natural images, and, with
//! the trained weights or the log, which branch learned best.

use amalgam_core::backend::inference_device;
use amalgam_core::bundle::branch_weights;
use amalgam_core::data::{ImageSet, LabelledSet};
use amalgam_core::model::Classifier;
use amalgam_core::training::evaluate;
use serde::Serialize;

use crate::CloudView;

/// What the attacker measured about one branch.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BranchEvidence {
    /// Branch index in the bundle.
    pub branch: usize,
    /// Pearson correlation of horizontally and vertically adjacent pixels of the filtered
    /// training images (natural images: close to 1; noise: close to 0).
    pub smoothness: f64,
    /// Mean absolute difference of adjacent pixels of the filtered images (total variation
    /// per pixel pair).
    pub total_variation: f64,
    /// Mean training loss of the branch in the last logged epoch.
    pub final_loss: Option<f64>,
    /// Accuracy of the trained branch on the bundle's (augmented, labelled) test set.
    pub test_accuracy: Option<f64>,
}

/// The attacker's verdict.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Identification {
    /// Evidence per branch.
    pub evidence: Vec<BranchEvidence>,
    /// The smoothest branch.
    pub by_smoothness: usize,
    /// The branch with the lowest final loss, with a log.
    pub by_loss: Option<usize>,
    /// The most accurate trained branch, with trained weights.
    pub by_accuracy: Option<usize>,
    /// The attacker's pick: the majority of the available verdicts, ties going to the one
    /// with the strongest evidence (accuracy, then loss, then smoothness).
    pub pick: usize,
}

/// Smoothness and total variation of `set` (see [`BranchEvidence`]).
pub fn smoothness(set: &ImageSet) -> (f64, f64) {
    let (h, w) = (set.shape.height, set.shape.width);
    let (mut n, mut sa, mut sb, mut saa, mut sbb, mut sab, mut tv) =
        (0.0f64, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    for i in 0..set.len() {
        for channel in set.sample(i).chunks_exact(h * w) {
            for r in 0..h {
                for c in 0..w {
                    let a = f64::from(channel[r * w + c]);
                    let mut pair = |b: f32| {
                        let b = f64::from(b);
                        n += 1.0;
                        sa += a;
                        sb += b;
                        saa += a * a;
                        sbb += b * b;
                        sab += a * b;
                        tv += (a - b).abs();
                    };
                    if c + 1 < w {
                        pair(channel[r * w + c + 1]);
                    }
                    if r + 1 < h {
                        pair(channel[(r + 1) * w + c]);
                    }
                }
            }
        }
    }
    if n == 0.0 {
        return (0.0, 0.0);
    }
    let cov = sab / n - (sa / n) * (sb / n);
    let var = ((saa / n - (sa / n).powi(2)) * (sbb / n - (sb / n).powi(2))).sqrt();
    (if var < 1e-12 { 0.0 } else { cov / var }, tv / n)
}

fn argmax(values: impl Iterator<Item = f64>) -> usize {
    values
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map_or(0, |(i, _)| i)
}

/// Identifies the real branch from `view`.
pub fn identify(view: &CloudView) -> Identification {
    let spec = &view.bundle.spec;
    let device = inference_device();
    let evidence: Vec<BranchEvidence> = spec
        .branches
        .iter()
        .enumerate()
        .map(|(b, branch)| {
            let filtered = view
                .train
                .gather(&branch.keep_indices, view.filtered_shape());
            let (smoothness, total_variation) = smoothness(&filtered);
            let final_loss = view
                .log
                .as_ref()
                .and_then(|log| log.last())
                .and_then(|epoch| epoch.branch_loss.get(b).copied());
            let test_accuracy = view.trained.as_ref().map(|trained| {
                let classifier =
                    Classifier::new(&branch.network, &branch_weights(trained, b), &device)
                        .expect("trained weights were checked against the spec");
                let test = view
                    .test
                    .gather(&branch.keep_indices, view.filtered_shape());
                evaluate(&classifier, &test, &device).accuracy
            });
            BranchEvidence {
                branch: b,
                smoothness,
                total_variation,
                final_loss,
                test_accuracy,
            }
        })
        .collect();
    let by_smoothness = argmax(evidence.iter().map(|e| e.smoothness));
    let by_loss = evidence
        .iter()
        .map(|e| e.final_loss.map(|l| -l))
        .collect::<Option<Vec<f64>>>()
        .map(|v| argmax(v.into_iter()));
    let by_accuracy = evidence
        .iter()
        .map(|e| e.test_accuracy)
        .collect::<Option<Vec<f64>>>()
        .map(|v| argmax(v.into_iter()));
    let verdicts: Vec<usize> = [by_accuracy, by_loss, Some(by_smoothness)]
        .into_iter()
        .flatten()
        .collect();
    let votes = |b: usize| verdicts.iter().filter(|&&v| v == b).count();
    let pick = verdicts
        .iter()
        .copied()
        .max_by_key(|&b| {
            (
                votes(b),
                std::cmp::Reverse(verdicts.iter().position(|&v| v == b)),
            )
        })
        .expect("smoothness always votes");
    Identification {
        evidence,
        by_smoothness,
        by_loss,
        by_accuracy,
        pick,
    }
}
