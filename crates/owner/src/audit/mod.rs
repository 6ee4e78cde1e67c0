//! The privacy audit's scoring: the owner, holding the key, measures what the cloud's attacks
//! (`amalgam-attack`, run before the key is read) recovered.

mod grid;
mod metrics;

use amalgam_attack::{
    AttackResults, CloudView, Identification, NoiseScores, TextAttackResults, gather_tokens,
};
use amalgam_core::bundle::Bundle;
use amalgam_core::data::{LabelledSet, TokenSet};
use amalgam_core::model::PAD_TOKEN;
use amalgam_core::{Error, Result};
use serde::Serialize;

pub use grid::write_grid;
pub use metrics::{PSNR_CAP_DB, best_balanced_accuracy, psnr, roc_auc, ssim};

use crate::key::SecretKey;

/// How well one statistic finds the noise positions.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DetectionScore {
    /// The statistic (see `amalgam_attack::noise_scores`).
    pub statistic: String,
    /// ROC AUC against the true noise mask, all channels pooled (0.5: no better than chance).
    pub auc: f64,
    /// Best balanced accuracy over thresholds.
    pub best_balanced_accuracy: f64,
    /// Taking the `H * W` least noise-like positions per channel as real (the attacker knows
    /// the count): the fraction of the real pixel positions found.
    pub real_recovered_at_count: f64,
}

/// How close one reconstruction is to the originals.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReconstructionScore {
    /// `from_branch`, `drop_noise`, `ordered_subset` or `flat_shrink` (images only).
    pub method: String,
    /// Images: mean PSNR in dB (capped at [`PSNR_CAP_DB`] for exact recovery); text: none.
    pub psnr_db: Option<f64>,
    /// Images: mean SSIM; text: token accuracy, the fraction of the originals' non-padding
    /// tokens found at their place. 1.0 = exact.
    pub similarity: f64,
}

/// The audit's result for one bundle.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AuditReport {
    /// Augmented training samples the attacks used.
    pub samples: usize,
    /// Number of branches `K + 1`.
    pub branches: usize,
    /// Noise-position detection, one entry per statistic.
    pub detection: Vec<DetectionScore>,
    /// What the attacker concluded about the branches.
    pub identification: Identification,
    /// The real branch (from the key).
    pub real_branch: usize,
    /// Whether the attacker's pick is the real branch.
    pub identified: bool,
    /// Reconstructions of the training samples.
    pub reconstruction: Vec<ReconstructionScore>,
}

/// [`Error::Invalid`] unless `key` belongs to `bundle`.
fn check_key(bundle: &Bundle, key: &SecretKey) -> Result<()> {
    if key.bundle_fingerprint != bundle.fingerprint {
        return Err(Error::invalid(format!(
            "the key does not belong to the bundle {} (bundle fingerprint {}, key's {})",
            bundle.dir.display(),
            bundle.fingerprint,
            key.bundle_fingerprint
        )));
    }
    if key.real_branch >= bundle.spec.branches.len() || key.augmented != bundle.spec.input {
        return Err(Error::invalid(format!(
            "the key names branch {} of {} and augmented samples of {}; the bundle has {} branches of {}",
            key.real_branch,
            bundle.spec.branches.len(),
            key.augmented,
            bundle.spec.branches.len(),
            bundle.spec.input
        )));
    }
    Ok(())
}

/// How well each of `scores` finds the key's noise positions.
fn score_detection(scores: &[NoiseScores], key: &SecretKey) -> Vec<DetectionScore> {
    let is_noise: Vec<bool> = key.noise_mask().concat();
    scores
        .iter()
        .map(|s| {
            let flat: Vec<f32> = s.scores.concat();
            let found: usize = s
                .scores
                .iter()
                .zip(&key.keep_indices)
                .map(|(channel, keep)| {
                    let mut order: Vec<usize> = (0..channel.len()).collect();
                    order.sort_by(|&a, &b| channel[a].total_cmp(&channel[b]));
                    let judged: std::collections::HashSet<usize> =
                        order[..keep.len()].iter().copied().collect();
                    keep.iter()
                        .filter(|&&k| judged.contains(&(k as usize)))
                        .count()
                })
                .sum();
            DetectionScore {
                statistic: s.statistic.to_string(),
                auc: roc_auc(&flat, &is_noise),
                best_balanced_accuracy: best_balanced_accuracy(&flat, &is_noise),
                real_recovered_at_count: found as f64 / (key.original.input.values()) as f64,
            }
        })
        .collect()
}

/// The report on `view` from the attacks' `scores` and `identification`, the key, and the
/// scored reconstructions.
fn report<S: LabelledSet>(
    view: &CloudView<S>,
    scores: &[NoiseScores],
    identification: &Identification,
    key: &SecretKey,
    reconstruction: Vec<ReconstructionScore>,
) -> AuditReport {
    AuditReport {
        samples: view.train.len(),
        branches: view.bundle.spec.branches.len(),
        detection: score_detection(scores, key),
        identification: identification.clone(),
        real_branch: key.real_branch,
        identified: identification.pick == key.real_branch,
        reconstruction,
    }
}

/// Scores `attacks`, made on the image bundle `view`, with the `key`.
///
/// # Errors
/// [`Error::Invalid`] if the key does not belong to the bundle.
pub fn score(view: &CloudView, attacks: &AttackResults, key: &SecretKey) -> Result<AuditReport> {
    check_key(&view.bundle, key)?;
    let originals = view.train.gather(&key.keep_indices, view.filtered_shape());
    let r = &attacks.reconstructions;
    let reconstruction = [
        ("from_branch", &r.from_branch),
        ("drop_noise", &r.drop_noise),
        ("ordered_subset", &r.ordered_subset),
        ("flat_shrink", &r.flat_shrink),
    ]
    .into_iter()
    .map(|(method, images)| ReconstructionScore {
        method: method.to_string(),
        psnr_db: Some(psnr(&originals, images)),
        similarity: ssim(&originals, images),
    })
    .collect();
    Ok(report(
        view,
        &attacks.scores,
        &attacks.identification,
        key,
        reconstruction,
    ))
}

/// Scores `attacks`, made on the text bundle `view`, with the `key`.
///
/// # Errors
/// [`Error::Invalid`] if the key does not belong to the bundle.
pub fn score_text(
    view: &CloudView<TokenSet>,
    attacks: &TextAttackResults,
    key: &SecretKey,
) -> Result<AuditReport> {
    check_key(&view.bundle, key)?;
    let originals = gather_tokens(&view.train, &key.keep_indices[0]);
    let r = &attacks.reconstructions;
    let reconstruction = [
        ("from_branch", &r.from_branch),
        ("drop_noise", &r.drop_noise),
    ]
    .into_iter()
    .map(|(method, texts)| ReconstructionScore {
        method: method.to_string(),
        psnr_db: None,
        similarity: token_accuracy(&originals, texts),
    })
    .collect();
    Ok(report(
        view,
        &attacks.scores,
        &attacks.identification,
        key,
        reconstruction,
    ))
}

/// The fraction of `originals`' non-padding tokens that `guesses` has at the same place.
pub fn token_accuracy(originals: &TokenSet, guesses: &TokenSet) -> f64 {
    let (mut right, mut total) = (0usize, 0usize);
    for (o, g) in originals.tokens.iter().zip(&guesses.tokens) {
        if *o != PAD_TOKEN {
            total += 1;
            right += usize::from(o == g);
        }
    }
    right as f64 / total.max(1) as f64
}
