//! Real-branch identification: which branch's input filter yields natural images, reads the
//! least noise-like positions, has a published default architecture, or (with the trained
//! weights or the log) learned best; with a public set, whose inputs are not public images;
//! with shadow bundles, what a detector trained on them says.

use amalgam_core::backend::inference_device;
use amalgam_core::bundle::branch_weights;
use amalgam_core::data::{ImageSet, LabelledSet};
use amalgam_core::model::{Architecture, Classifier, Weights};
use amalgam_core::tensors::Values;
use amalgam_core::training::{EpochLog, evaluate};
use std::collections::HashMap;

use rayon::prelude::*;
use serde::Serialize;

use super::position_stats::{PositionStats, normalised_ranks};
use crate::{CloudView, NoiseScores, ShadowModels};

/// What the attacker measured about one branch.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BranchEvidence {
    /// Branch index in the bundle.
    pub branch: usize,
    /// How natural the filtered training inputs look. Images: the Pearson correlation of
    /// horizontally and vertically adjacent pixels (natural images: close to 1; noise: close
    /// to 0). Text: the mean pointwise mutual information of adjacent tokens, under the
    /// bigram counts of the bundle's own training sequences.
    pub smoothness: f64,
    /// Images: the mean absolute difference of adjacent pixels of the filtered images (total
    /// variation per pixel pair). Text: the fraction of non-padding tokens.
    pub total_variation: f64,
    /// Mean, over the positions the branch's filter reads, of the fraction of samples whose
    /// value is not a multiple of 1/255 (images; 0 for text).
    pub off_grid: f64,
    /// Mean rank (0 to 1) of the noise-likeness of the positions the filter reads, under the
    /// attacker's best noise scores: the real branch reads the least noise-like positions.
    pub noise_likeness: f64,
    /// Fraction of the filtered training inputs that equal another input of the same view
    /// exactly: real data rarely repeats, decoy inputs drawn with replacement do.
    pub repeated_images: f64,
    /// Whether the branch's architecture is one of amalgam's published defaults (LeNet 6/16
    /// and 120/84, ResNet-20, GRU 64/64, ...): with `family` decoys, only the real branch is.
    pub canonical_architecture: bool,
    /// Number of weights of the branch's network.
    pub parameters: usize,
    /// Mean training loss of the branch in the first logged epoch.
    pub first_loss: Option<f64>,
    /// Mean training loss of the branch in the last logged epoch.
    pub final_loss: Option<f64>,
    /// Accuracy of the trained branch on the bundle's (augmented, labelled) test set.
    pub test_accuracy: Option<f64>,
    /// Relative change of the branch's weights in training, `|trained - init| / |init|`.
    pub weight_change: Option<f64>,
    /// Mean distance (root mean square per value) of the branch's filtered training images to
    /// their nearest image in the attacker's public set: decoy inputs taken from a public set
    /// the attacker also holds are at distance 0.
    pub public_distance: Option<f64>,
}

/// The attacker's verdict.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Identification {
    /// Evidence per branch.
    pub evidence: Vec<BranchEvidence>,
    /// The smoothest branch.
    pub by_smoothness: usize,
    /// The branch whose positions look least like noise.
    pub by_positions: usize,
    /// The branch whose inputs repeat least.
    pub by_repeats: usize,
    /// A branch with a published default architecture, if any has one (a guess among them if
    /// several have).
    pub by_architecture: Option<usize>,
    /// The branch with the lowest final loss, with a log.
    pub by_loss: Option<usize>,
    /// The most accurate trained branch, with trained weights.
    pub by_accuracy: Option<usize>,
    /// The branch whose inputs are furthest from the attacker's public images, with a public
    /// set.
    pub by_public_set: Option<usize>,
    /// The shadow-trained branch detector's verdict, with shadow bundles.
    pub by_shadow: Option<usize>,
    /// The attacker's pick: the shadow-trained verdict where there is one (it learned how far
    /// to trust each piece of evidence); otherwise the majority of the other verdicts, ties
    /// going to the strongest evidence (accuracy, loss, architecture, smoothness).
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

/// The index of the largest of `values`; among equal largest ones, the one `tie_break`
/// chooses (a guess, as an attacker without evidence would make).
fn argmax(values: impl Iterator<Item = f64>, tie_break: u64) -> usize {
    let values: Vec<f64> = values.collect();
    let best = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let tied: Vec<usize> = (0..values.len()).filter(|&i| values[i] == best).collect();
    pick_among(&tied, tie_break).unwrap_or(0)
}

/// One of `candidates`, chosen by `tie_break`; `None` if there is none.
fn pick_among(candidates: &[usize], tie_break: u64) -> Option<usize> {
    (!candidates.is_empty()).then(|| candidates[(tie_break % candidates.len() as u64) as usize])
}

/// A tie-breaking value the attacker derives from the bundle itself (its fingerprint, a
/// SHA-256 in hex): fixed for a bundle, unrelated across bundles.
pub fn tie_break(fingerprint: &str) -> u64 {
    fingerprint
        .get(..16)
        .and_then(|hex| u64::from_str_radix(hex, 16).ok())
        .unwrap_or(0)
}

/// Root mean square distance of each of `images`' samples to its nearest sample of `public`
/// (same shape), averaged.
fn nearest_distance(images: &ImageSet, public: &ImageSet) -> f64 {
    let total: f64 = (0..images.len())
        .into_par_iter()
        .map(|i| {
            let x = images.sample(i);
            (0..public.len())
                .map(|j| {
                    x.iter()
                        .zip(public.sample(j))
                        .map(|(a, b)| (a - b) * (a - b))
                        .sum::<f32>()
                })
                .fold(f32::INFINITY, f32::min)
        })
        .map(|d| (f64::from(d) / images.shape.values() as f64).sqrt())
        .sum();
    total / images.len().max(1) as f64
}

/// Fraction of `samples` (each as its values' bits or token ids) that equal another of them.
pub fn repeated_fraction(samples: impl Iterator<Item = Vec<u32>>) -> f64 {
    let mut seen: HashMap<Vec<u32>, usize> = HashMap::new();
    let mut total = 0usize;
    for sample in samples {
        *seen.entry(sample).or_default() += 1;
        total += 1;
    }
    let repeated: usize = seen.values().filter(|&&n| n > 1).sum();
    repeated as f64 / total.max(1) as f64
}

/// Training samples compared with the public set per branch (the nearest-neighbour search
/// costs samples x public images x pixels).
const MATCHED_SAMPLES: usize = 512;

/// The attacker's evidence about every branch of `view`: from the bundle, the position
/// statistics `stats` and noise scores `scores` (higher: more noise-like), the training log
/// and trained weights if the view has them, and the attacker's own `public` images (of the
/// filtered shape), if any.
pub fn branch_evidence(
    view: &CloudView,
    stats: &[PositionStats],
    scores: &NoiseScores,
    public: Option<&ImageSet>,
) -> Vec<BranchEvidence> {
    let spec = &view.bundle.spec;
    let score_ranks = ranks_per_channel(scores);
    let sample_count = view.train.len();
    spec.branches
        .iter()
        .enumerate()
        .map(|(b, branch)| {
            let filtered = view
                .train
                .gather(&branch.keep_indices, view.filtered_shape());
            let (smoothness, total_variation) = smoothness(&filtered);
            let common = common_evidence(view, b, &score_ranks, || {
                view.test
                    .gather(&branch.keep_indices, view.filtered_shape())
            });
            let public_distance = public.map(|public| {
                nearest_distance(&filtered.head(MATCHED_SAMPLES.min(sample_count)), public)
            });
            BranchEvidence {
                smoothness,
                total_variation,
                off_grid: mean_over(&branch.keep_indices, |c, k| stats[c].off_grid[k]),
                repeated_images: repeated_fraction(
                    (0..filtered.len())
                        .map(|i| filtered.sample(i).iter().map(|v| v.to_bits()).collect()),
                ),
                public_distance,
                ..common
            }
        })
        .collect()
}

/// Per channel, the ranks (0 to 1) of `scores`.
pub(crate) fn ranks_per_channel(scores: &NoiseScores) -> Vec<Vec<f64>> {
    scores
        .scores
        .iter()
        .map(|c| normalised_ranks(&c.iter().map(|&v| f64::from(v)).collect::<Vec<_>>()))
        .collect()
}

/// The mean of `value(channel, position)` over the positions `keep_indices` (per channel).
pub(crate) fn mean_over(keep_indices: &[Vec<u32>], value: impl Fn(usize, usize) -> f64) -> f64 {
    let (mut sum, mut n) = (0.0, 0usize);
    for (c, keep) in keep_indices.iter().enumerate() {
        for &k in keep {
            sum += value(c, k as usize);
            n += 1;
        }
    }
    sum / n.max(1) as f64
}

/// The evidence about branch `b` that does not depend on the kind of data: how noise-like its
/// positions look (`score_ranks`, per channel), its architecture and, with the log and the
/// trained weights, its losses, its accuracy on its filtered test set (`test`, made only if
/// needed) and its weight change. The data-specific fields are left at zero.
pub(crate) fn common_evidence<S, T: LabelledSet>(
    view: &CloudView<S>,
    b: usize,
    score_ranks: &[Vec<f64>],
    test: impl FnOnce() -> T,
) -> BranchEvidence {
    let branch = &view.bundle.spec.branches[b];
    let losses = view.log.as_ref().map(|log| {
        let loss = |e: Option<&EpochLog>| e.and_then(|e| e.branch_loss.get(b).copied());
        (loss(log.first()), loss(log.last()))
    });
    let trained = view.trained.as_ref().map(|trained| {
        let device = inference_device();
        let weights = branch_weights(trained, b);
        let classifier = Classifier::new(&branch.network, &weights, &device)
            .expect("trained weights were checked against the spec");
        let accuracy = evaluate(&classifier, &test(), &device).accuracy;
        let init = branch_weights(&view.bundle.init, b);
        (accuracy, relative_change(&init, &weights))
    });
    BranchEvidence {
        branch: b,
        smoothness: 0.0,
        total_variation: 0.0,
        off_grid: 0.0,
        repeated_images: 0.0,
        noise_likeness: mean_over(&branch.keep_indices, |c, k| score_ranks[c][k]),
        canonical_architecture: Architecture::defaults().contains(&branch.network.architecture),
        parameters: branch
            .network
            .parameters()
            .iter()
            .map(|p| p.shape.iter().product::<usize>())
            .sum(),
        first_loss: losses.and_then(|l| l.0),
        final_loss: losses.and_then(|l| l.1),
        test_accuracy: trained.map(|t| t.0),
        weight_change: trained.map(|t| t.1),
        public_distance: None,
    }
}

/// `|trained - init| / |init|` over all f32 tensors the two share.
fn relative_change(init: &Weights, trained: &Weights) -> f64 {
    let (mut change, mut norm) = (0.0f64, 0.0f64);
    for (name, t) in trained {
        if let (Values::F32(after), Some(Values::F32(before))) =
            (&t.values, init.get(name).map(|i| &i.values))
        {
            for (a, b) in after.iter().zip(before) {
                change += f64::from(a - b).powi(2);
                norm += f64::from(*b).powi(2);
            }
        }
    }
    (change / norm.max(1e-12)).sqrt()
}

/// Identifies the real branch from the `evidence` about each branch, with the shadow-trained
/// detector if the attacker has one. Ties are broken by `tie_break` ([`tie_break`]).
pub fn identify(
    evidence: Vec<BranchEvidence>,
    shadow: Option<&ShadowModels>,
    tie_break: u64,
) -> Identification {
    let by_smoothness = argmax(evidence.iter().map(|e| e.smoothness), tie_break);
    let by_positions = argmax(evidence.iter().map(|e| -e.noise_likeness), tie_break);
    let by_repeats = argmax(evidence.iter().map(|e| -e.repeated_images), tie_break);
    let canonical: Vec<usize> = (0..evidence.len())
        .filter(|&b| evidence[b].canonical_architecture)
        .collect();
    let by_architecture = pick_among(&canonical, tie_break);
    let verdict = |value: &dyn Fn(&BranchEvidence) -> Option<f64>| {
        evidence
            .iter()
            .map(value)
            .collect::<Option<Vec<f64>>>()
            .map(|v| argmax(v.into_iter(), tie_break))
    };
    let by_loss = verdict(&|e| e.final_loss.map(|l| -l));
    let by_accuracy = verdict(&|e| e.test_accuracy);
    let by_public_set = verdict(&|e| e.public_distance);
    let by_shadow = shadow.map(|s| s.pick_branch(&evidence));
    let verdicts: Vec<usize> = [by_accuracy, by_loss, by_architecture, Some(by_smoothness)]
        .into_iter()
        .flatten()
        .collect();
    let votes = |b: usize| verdicts.iter().filter(|&&v| v == b).count();
    let majority = verdicts
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
        by_positions,
        by_repeats,
        by_architecture,
        by_loss,
        by_accuracy,
        by_public_set,
        by_shadow,
        pick: by_shadow.unwrap_or(majority),
    }
}
