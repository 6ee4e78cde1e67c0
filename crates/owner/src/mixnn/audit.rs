//! MixNN's audit, scored by the owner: what the curious layer hosts recovered from what they
//! were given (their attacks are `amalgam_attack::mixnn`), against the training batches they
//! were given in order (the owner knows the batch order).

use amalgam_core::data::ImageSet;
use amalgam_core::data::batch_order;
use amalgam_core::model::ImageShape;
use amalgam_core::training::TrainConfig;
use serde::Serialize;

use super::plan::HostPlan;
use crate::audit::{psnr, ssim};

/// A reconstruction's scores.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct ImageScores {
    /// PSNR against the true images, dB (capped at 100 for identical images).
    pub psnr: f64,
    /// Mean SSIM against the true images.
    pub ssim: f64,
    /// Images scored.
    pub images: usize,
}

/// What one party is given and knows, in words.
#[derive(Clone, Debug, Serialize)]
pub struct PartyView {
    /// The party.
    pub party: String,
    /// What it is given and holds.
    pub sees: String,
}

/// The audit's report.
#[derive(Clone, Debug, Serialize)]
pub struct MixnnAuditReport {
    /// The first host's images (the inputs it was given, rescaled).
    pub first_host_images: Option<ImageScores>,
    /// The second host's images (mean feature map, upsampled), for a convolutional first
    /// layer.
    pub second_host_images: Option<ImageScores>,
    /// Fraction of the labels the last host recovered from the logits' gradients.
    pub last_host_labels: f64,
    /// Labels scored.
    pub labels_scored: usize,
    /// Every party's view.
    pub parties: Vec<PartyView>,
}

/// The training images and labels of the first `samples` samples of epoch 0, in the order
/// the batches gave them.
pub fn first_batches(
    train: &ImageSet,
    config: &TrainConfig,
    samples: usize,
) -> (ImageSet, Vec<u8>) {
    let order = batch_order(train.labels.len(), config.batch_order_seed, 0);
    let mut images = Vec::new();
    let mut labels = Vec::new();
    for &i in order.iter().take(samples) {
        images.extend_from_slice(train.sample(i));
        labels.push(train.labels[i]);
    }
    let set = ImageSet::new(train.shape, images, labels.clone()).expect("whole samples");
    (set, labels)
}

/// The grey version (mean over channels) of `set`.
pub fn grey(set: &ImageSet) -> ImageSet {
    let shape = ImageShape {
        channels: 1,
        ..set.shape
    };
    let pixels = shape.height * shape.width;
    let images = set
        .images
        .chunks_exact(set.shape.values())
        .flat_map(|sample| {
            (0..pixels).map(move |p| {
                (0..set.shape.channels)
                    .map(|c| sample[c * pixels + p])
                    .sum::<f32>()
                    / set.shape.channels as f32
            })
        })
        .collect();
    ImageSet::new(shape, images, set.labels.clone()).expect("same sample count")
}

/// Scores `estimate` against the first of `truth`'s samples.
pub fn score_images(truth: &ImageSet, estimate: &ImageSet) -> ImageScores {
    let n = estimate.labels.len().min(truth.labels.len());
    let (truth, estimate) = (truth.head(n), estimate.head(n));
    ImageScores {
        psnr: psnr(&truth, &estimate),
        ssim: ssim(&truth, &estimate),
        images: n,
    }
}

/// Fraction of `guesses` equal to `labels` (position by position).
pub fn label_accuracy(labels: &[u8], guesses: &[usize]) -> f64 {
    let n = guesses.len().min(labels.len());
    let right = labels
        .iter()
        .zip(guesses)
        .filter(|(l, g)| usize::from(**l) == **g)
        .count();
    right as f64 / n.max(1) as f64
}

/// Each party's view of a run over `plans` with routes of `route_mixes` mixes.
pub fn parties(plans: &[HostPlan], route_mixes: usize) -> Vec<PartyView> {
    let last = plans.len() - 1;
    let mut views = vec![PartyView {
        party: "mix node".into(),
        sees: format!(
            "fixed-size Sphinx packets from and to its adjacent hops only (one of {route_mixes} mixes on each route); no plaintext (tested)"
        ),
    }];
    for (i, p) in plans.iter().enumerate() {
        let given = match i {
            0 => "the training images (normalised) and nothing back but reply blocks",
            _ if i == last => {
                "the previous layer's activations, and the gradient of the loss with respect to the logits it computes"
            }
            _ => "the previous layer's activations and the gradient of its own output",
        };
        views.push(PartyView {
            party: format!("layer host {i} ({})", p.prefix),
            sees: format!("its layer {:?} and its weights; {given}", p.layer),
        });
    }
    views.push(PartyView {
        party: "adjacent hosts colluding".into(),
        sees: "their layers and the shapes on both sides of each: the architecture of their part of the model; a coalition with the first host holds the training images, one with the last host their labels".into(),
    });
    views
}
