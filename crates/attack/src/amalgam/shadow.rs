//! The shadow-trained attacker (Kerckhoffs: the method is public, so the cloud can run
//! amalgam itself). It makes bundles of its own from public data with keys it knows (the
//! *shadow bundles*), learns from them what noise positions and real branches look like, and
//! applies what it learned to the target bundle.
//!
//! Two detectors, both logistic regressions ([`Logistic`]):
//! - per position, over many per-position statistics ([`position_rows`]): moments,
//!   quantisation, correlations with every neighbour in a 5 x 5 window, row and column
//!   profiles, and how many branches' filters read the position;
//! - per branch, over the branch's evidence ([`BranchEvidence`]), each taken relative to the
//!   other branches of its bundle: filtered-view statistics, how noise-like its positions look
//!   to the first detector, architecture, loss curve, test accuracy, weight change, distance
//!   of its inputs to the attacker's public images.
//!
//! This crate cannot make bundles (that needs the owner's augmenter); the caller makes them
//! and hands over each with its ground truth ([`Shadow`]).

use amalgam_core::data::ImageSet;

use super::identification::BranchEvidence;
use super::logistic::Logistic;
use super::position_stats::{PositionStats, normalised_ranks};
use crate::{CloudView, NoiseScores};

/// Name of the shadow-trained detector's statistic.
pub const SHADOW_TRAINED: &str = "shadow_trained";

/// One of the attacker's own bundles and what its (the attacker's) key says about it.
#[derive(Clone, Debug)]
pub struct Shadow<S = ImageSet> {
    /// The shadow bundle as the cloud would see it (with trained weights and log if the
    /// attacker trained it).
    pub view: CloudView<S>,
    /// Per channel, whether each position of the grid holds noise.
    pub is_noise: Vec<Vec<bool>>,
    /// The real branch.
    pub real_branch: usize,
}

/// The detectors learned from shadow bundles.
#[derive(Clone, Debug)]
pub struct ShadowModels {
    noise: Logistic,
    branch: Logistic,
}

/// Per channel and position, the features of the image position detector: the rank (within the
/// channel, scaled to [0, 1]) of each statistic, their squares, and three raw levels
/// (off-grid and zero fractions, filter coverage) that ranks would hide.
pub fn position_rows(view: &CloudView, stats: &[PositionStats]) -> Vec<Vec<Vec<f64>>> {
    let branches = &view.bundle.spec.branches;
    stats
        .iter()
        .enumerate()
        .map(|(channel, s)| {
            let mut coverage = vec![0.0f64; s.len()];
            for branch in branches {
                for &k in &branch.keep_indices[channel] {
                    coverage[k as usize] += 1.0 / branches.len() as f64;
                }
            }
            let row_means: Vec<f64> = s
                .mean
                .chunks(s.width)
                .map(|r| r.iter().sum::<f64>() / r.len() as f64)
                .collect();
            let column_means: Vec<f64> = (0..s.width)
                .map(|c| {
                    (0..s.height).map(|r| s.mean[r * s.width + c]).sum::<f64>() / s.height as f64
                })
                .collect();
            let window = |p: usize| {
                let mut c: Vec<f64> = s.correlations[p].iter().map(|(_, c)| *c).collect();
                c.sort_by(|a, b| b.total_cmp(a));
                let mean = c.iter().sum::<f64>() / c.len().max(1) as f64;
                (
                    c.first().copied().unwrap_or(0.0),
                    c.get(1).copied().unwrap_or(0.0),
                    mean,
                )
            };
            let columns: Vec<Vec<f64>> = vec![
                s.mean.clone(),
                s.variance.iter().map(|v| v.sqrt()).collect(),
                s.off_grid.clone(),
                s.zeros.clone(),
                (0..s.len()).map(|p| s.correlation(p, (0, 1))).collect(),
                (0..s.len()).map(|p| s.correlation(p, (0, -1))).collect(),
                (0..s.len()).map(|p| s.correlation(p, (1, 0))).collect(),
                (0..s.len()).map(|p| s.correlation(p, (-1, 0))).collect(),
                (0..s.len())
                    .map(|p| s.max_correlation(p, &super::position_stats::FOUR_NEIGHBOURS))
                    .collect(),
                (0..s.len()).map(|p| window(p).0).collect(),
                (0..s.len()).map(|p| window(p).1).collect(),
                (0..s.len()).map(|p| window(p).2).collect(),
                (0..s.len())
                    .map(|p| s.max_correlation(p, &[(0, 2), (0, -2)]))
                    .collect(),
                s.neighbour_difference.clone(),
                (0..s.len())
                    .map(|p| (s.mean[p] - row_means[p / s.width]).abs())
                    .collect(),
                (0..s.len())
                    .map(|p| (s.mean[p] - column_means[p % s.width]).abs())
                    .collect(),
                coverage.clone(),
            ];
            let ranks: Vec<Vec<f64>> = columns.iter().map(|c| normalised_ranks(c)).collect();
            (0..s.len())
                .map(|p| {
                    let mut row: Vec<f64> = ranks.iter().map(|r| r[p]).collect();
                    row.extend(ranks.iter().map(|r| r[p] * r[p]));
                    row.extend([s.off_grid[p], s.zeros[p], coverage[p]]);
                    row
                })
                .collect()
        })
        .collect()
}

/// Per branch, the features of the branch detector: each piece of evidence minus its mean
/// over the bundle's branches (missing evidence counts 0).
fn branch_rows(evidence: &[BranchEvidence]) -> Vec<Vec<f64>> {
    let raw: Vec<Vec<f64>> = evidence
        .iter()
        .map(|e| {
            vec![
                e.smoothness,
                e.total_variation,
                e.off_grid,
                e.noise_likeness,
                e.repeated_images,
                f64::from(u8::from(e.canonical_architecture)),
                (e.parameters as f64).ln(),
                e.first_loss.unwrap_or(0.0),
                e.final_loss.unwrap_or(0.0),
                e.test_accuracy.unwrap_or(0.0),
                e.weight_change.unwrap_or(0.0),
                e.public_distance.unwrap_or(0.0),
            ]
        })
        .collect();
    let dim = raw.first().map_or(0, Vec::len);
    let means: Vec<f64> = (0..dim)
        .map(|i| raw.iter().map(|r| r[i]).sum::<f64>() / raw.len() as f64)
        .collect();
    raw.iter()
        .map(|r| r.iter().zip(&means).map(|(v, m)| v - m).collect())
        .collect()
}

impl ShadowModels {
    /// Learns both detectors from `shadows` (at least one). Per shadow bundle, `prepare`
    /// computes what the other two share (e.g. the position statistics), `rows` the position
    /// detector's features per channel and position, and `evidence` the branch evidence given
    /// the position scores: the caller's own attack, so that the branch detector sees exactly
    /// what it will see on the target.
    ///
    /// # Panics
    /// If `shadows` is empty.
    pub fn train<S, P>(
        shadows: &[Shadow<S>],
        prepare: impl Fn(&CloudView<S>) -> P,
        rows: impl Fn(&CloudView<S>, &P) -> Vec<Vec<Vec<f64>>>,
        evidence: impl Fn(&CloudView<S>, &P, &NoiseScores) -> Vec<BranchEvidence>,
    ) -> Self {
        assert!(!shadows.is_empty(), "at least one shadow bundle");
        let prepared: Vec<P> = shadows.iter().map(|s| prepare(&s.view)).collect();
        let shadow_rows: Vec<Vec<Vec<Vec<f64>>>> = shadows
            .iter()
            .zip(&prepared)
            .map(|(s, p)| rows(&s.view, p))
            .collect();
        let (mut examples, mut labels) = (Vec::new(), Vec::new());
        for (shadow, channels) in shadows.iter().zip(&shadow_rows) {
            for (channel, channel_rows) in channels.iter().enumerate() {
                labels.extend(shadow.is_noise[channel].iter().copied());
                examples.extend(channel_rows.iter().cloned());
            }
        }
        let noise = Logistic::fit(&examples, &labels);
        let (mut examples, mut labels) = (Vec::new(), Vec::new());
        for ((shadow, p), channels) in shadows.iter().zip(&prepared).zip(&shadow_rows) {
            let scores = noise_scores_with(&noise, channels);
            let evidence = evidence(&shadow.view, p, &scores);
            labels.extend((0..evidence.len()).map(|b| b == shadow.real_branch));
            examples.extend(branch_rows(&evidence));
        }
        let branch = Logistic::fit(&examples, &labels);
        Self { noise, branch }
    }

    /// The position detector's noise-likeness of every position, from the position features
    /// `rows` (per channel and position).
    pub fn noise_scores(&self, rows: &[Vec<Vec<f64>>]) -> NoiseScores {
        noise_scores_with(&self.noise, rows)
    }

    /// The branch detector's verdict: the branch most likely real.
    pub fn pick_branch(&self, evidence: &[BranchEvidence]) -> usize {
        branch_rows(evidence)
            .iter()
            .map(|r| self.branch.logit(r))
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .map_or(0, |(b, _)| b)
    }
}

fn noise_scores_with(model: &Logistic, rows: &[Vec<Vec<f64>>]) -> NoiseScores {
    NoiseScores {
        statistic: SHADOW_TRAINED,
        scores: rows
            .iter()
            .map(|channel| channel.iter().map(|r| model.logit(r) as f32).collect())
            .collect(),
    }
}
