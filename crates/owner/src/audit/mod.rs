//! The privacy audit's scoring: the owner, holding the key, measures what the cloud's attacks
//! (`amalgam-attack`, run before the key is read) recovered.

mod grid;
mod metrics;

use amalgam_attack::{AttackResults, CloudView, Identification};
use amalgam_core::data::LabelledSet;
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
    /// `from_branch`, `drop_noise` or `flat_shrink`.
    pub method: String,
    /// Mean PSNR in dB (capped at [`PSNR_CAP_DB`] for exact recovery).
    pub psnr_db: f64,
    /// Mean SSIM.
    pub ssim: f64,
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

/// Scores `attacks`, made on `view`, with the `key`.
///
/// # Errors
/// [`Error::Invalid`] if the key does not belong to the bundle.
pub fn score(view: &CloudView, attacks: &AttackResults, key: &SecretKey) -> Result<AuditReport> {
    if key.bundle_fingerprint != view.bundle.fingerprint {
        return Err(Error::invalid(format!(
            "the key does not belong to the bundle {} (bundle fingerprint {}, key's {})",
            view.bundle.dir.display(),
            view.bundle.fingerprint,
            key.bundle_fingerprint
        )));
    }
    let is_noise: Vec<bool> = key.noise_mask().concat();
    let detection = attacks
        .scores
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
        .collect();
    let originals = view.train.gather(&key.keep_indices, view.filtered_shape());
    let r = &attacks.reconstructions;
    let reconstruction = [
        ("from_branch", &r.from_branch),
        ("drop_noise", &r.drop_noise),
        ("flat_shrink", &r.flat_shrink),
    ]
    .into_iter()
    .map(|(method, images)| ReconstructionScore {
        method: method.to_string(),
        psnr_db: psnr(&originals, images),
        ssim: ssim(&originals, images),
    })
    .collect();
    Ok(AuditReport {
        samples: view.train.len(),
        branches: view.bundle.spec.branches.len(),
        detection,
        identification: attacks.identification.clone(),
        real_branch: key.real_branch,
        identified: attacks.identification.pick == key.real_branch,
        reconstruction,
    })
}
