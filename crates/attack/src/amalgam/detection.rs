//! Noise-position detection: per channel, a noise-likeness score for every position of the
//! augmented grid, from statistics over the augmented training set.
//!
//! The published design (one set of noise positions for all samples, i.i.d. noise) makes each
//! position's statistics across samples an estimate of whether it holds noise.

use super::position_stats::{FOUR_NEIGHBOURS, PositionStats, normalised_ranks};

/// Name of the attacker's chosen statistic (see [`noise_scores`]).
pub const COMBINED: &str = "attacker_choice";

/// Mean and variance of the published noise kinds: `uniform` U[0,1) and `gaussian`
/// min(|N(0,1)|, 1).
const NOISE_MOMENTS: [(f64, f64); 2] = [(0.5, 1.0 / 12.0), (0.631_253, 0.117_579)];

/// Noise-likeness of every position under one statistic: higher means "more likely noise".
#[derive(Clone, Debug, PartialEq)]
pub struct NoiseScores {
    /// The statistic: `mean`, `variance`, `neighbour_difference`, `neighbour_correlation`,
    /// `off_grid`, [`COMBINED`] or [`crate::SHADOW_TRAINED`].
    pub statistic: &'static str,
    /// Per channel, one score per position of the flattened `H' * W'` grid.
    pub scores: Vec<Vec<f32>>,
}

/// How cleanly `scores` split into the top `noise_count` and the rest: the difference of the
/// two groups' means over the overall standard deviation (Fisher's criterion), computed on
/// ranks so that every statistic is on the same scale.
fn separation(scores: &[f32], noise_count: usize) -> f64 {
    let values: Vec<f64> = scores.iter().map(|&v| f64::from(v)).collect();
    let ranks = normalised_ranks(&values);
    let mut sorted = ranks.clone();
    sorted.sort_by(|a, b| b.total_cmp(a));
    let (top, rest) = sorted.split_at(noise_count.min(sorted.len()));
    if top.is_empty() || rest.is_empty() {
        return 0.0;
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let all = mean(&sorted);
    let sd = (sorted.iter().map(|r| (r - all).powi(2)).sum::<f64>() / sorted.len() as f64).sqrt();
    (mean(top) - mean(rest)) / sd.max(1e-12)
}

/// Scores every position of every channel of an augmented set, from its position statistics
/// `stats` (one per channel), under five statistics over the samples, each oriented so that higher means "more likely noise":
///
/// - `mean`, `variance`: closeness of the position's mean (variance) to that of a published
///   noise kind;
/// - `neighbour_difference`: mean absolute difference to its 4 neighbours;
/// - `neighbour_correlation`: minus its largest Pearson correlation with a 4-neighbour
///   (natural images are smooth, i.i.d. noise is not);
/// - `off_grid`: fraction of samples whose value is not a multiple of 1/255 (real pixels of
///   8-bit images always are; continuous noise almost never).
///
/// and [`COMBINED`]: per channel, the one of the five that the attacker would pick without
/// the key, the one that splits most cleanly at `noise_count` (`H'W' - HW` per channel,
/// public: it follows from the bundle's shapes).
pub fn noise_scores(stats: &[PositionStats], noise_count: usize) -> Vec<NoiseScores> {
    let names = [
        "mean",
        "variance",
        "neighbour_difference",
        "neighbour_correlation",
        "off_grid",
    ];
    let mut per_statistic: Vec<Vec<Vec<f32>>> = vec![Vec::new(); names.len() + 1];
    for s in stats {
        let closeness = |v: f64, moment: fn(&(f64, f64)) -> f64| {
            -NOISE_MOMENTS
                .iter()
                .map(|m| (v - moment(m)).abs())
                .fold(f64::INFINITY, f64::min)
        };
        let columns: [Vec<f32>; 5] = [
            s.mean
                .iter()
                .map(|&m| closeness(m, |k| k.0) as f32)
                .collect(),
            s.variance
                .iter()
                .map(|&v| closeness(v, |k| k.1) as f32)
                .collect(),
            s.neighbour_difference.iter().map(|&d| d as f32).collect(),
            (0..s.len())
                .map(|p| -s.max_correlation(p, &FOUR_NEIGHBOURS) as f32)
                .collect(),
            s.off_grid.iter().map(|&o| o as f32).collect(),
        ];
        let best = columns
            .iter()
            .max_by(|a, b| separation(a, noise_count).total_cmp(&separation(b, noise_count)))
            .expect("five statistics")
            .clone();
        for (k, column) in columns.into_iter().enumerate() {
            per_statistic[k].push(column);
        }
        per_statistic[names.len()].push(best);
    }
    names
        .into_iter()
        .chain([COMBINED])
        .zip(per_statistic)
        .map(|(statistic, scores)| NoiseScores { statistic, scores })
        .collect()
}
