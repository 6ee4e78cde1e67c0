//! Noise-position detection: per channel, a noise-likeness score for every position of the
//! augmented grid, from statistics over the augmented training set.
//!
//! The published design (one set of noise positions for all samples, i.i.d. noise) makes each
//! position's statistics across samples an estimate of whether it holds noise.

use amalgam_core::data::{ImageSet, LabelledSet};
use rayon::prelude::*;

/// Name of the attacker's chosen statistic (see [`noise_scores`]).
pub const COMBINED: &str = "attacker_choice";

/// Mean and variance of the published noise kinds: `uniform` U[0,1) and `gaussian`
/// min(|N(0,1)|, 1).
const NOISE_MOMENTS: [(f64, f64); 2] = [(0.5, 1.0 / 12.0), (0.631_253, 0.117_579)];

/// Pixel values of 8-bit images are multiples of 1/255; a value further than this from the
/// nearest multiple (in units of 1/255) is "off the grid".
const GRID_TOLERANCE: f64 = 1e-3;

/// Samples per accumulation chunk (fixed, so the sums do not depend on the thread count).
const CHUNK: usize = 256;

/// Noise-likeness of every position under one statistic: higher means "more likely noise".
#[derive(Clone, Debug, PartialEq)]
pub struct NoiseScores {
    /// The statistic: `mean`, `variance`, `neighbour_difference`, `neighbour_correlation`,
    /// `off_grid` or [`COMBINED`].
    pub statistic: &'static str,
    /// Per channel, one score per position of the flattened `H' * W'` grid.
    pub scores: Vec<Vec<f32>>,
}

/// Sums over samples for one channel.
#[derive(Clone)]
struct Sums {
    sum: Vec<f64>,
    sum_sq: Vec<f64>,
    off_grid: Vec<f64>,
    right_product: Vec<f64>,
    down_product: Vec<f64>,
    right_abs: Vec<f64>,
    down_abs: Vec<f64>,
}

impl Sums {
    fn zeros(grid: usize) -> Self {
        let z = vec![0.0; grid];
        Self {
            sum: z.clone(),
            sum_sq: z.clone(),
            off_grid: z.clone(),
            right_product: z.clone(),
            down_product: z.clone(),
            right_abs: z.clone(),
            down_abs: z,
        }
    }

    fn add_sample(&mut self, x: &[f32], width: usize) {
        let grid = x.len();
        for p in 0..grid {
            let v = f64::from(x[p]);
            self.sum[p] += v;
            self.sum_sq[p] += v * v;
            let level = v * 255.0;
            if (level - level.round()).abs() > GRID_TOLERANCE {
                self.off_grid[p] += 1.0;
            }
            if (p + 1) % width != 0 {
                let r = f64::from(x[p + 1]);
                self.right_product[p] += v * r;
                self.right_abs[p] += (v - r).abs();
            }
            if p + width < grid {
                let d = f64::from(x[p + width]);
                self.down_product[p] += v * d;
                self.down_abs[p] += (v - d).abs();
            }
        }
    }

    fn merge(mut self, other: &Sums) -> Self {
        for (a, b) in [
            (&mut self.sum, &other.sum),
            (&mut self.sum_sq, &other.sum_sq),
            (&mut self.off_grid, &other.off_grid),
            (&mut self.right_product, &other.right_product),
            (&mut self.down_product, &other.down_product),
            (&mut self.right_abs, &other.right_abs),
            (&mut self.down_abs, &other.down_abs),
        ] {
            a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
        }
        self
    }
}

/// Per-channel sums over all samples of `set`, accumulated in fixed chunks in parallel.
fn channel_sums(set: &ImageSet, channel: usize) -> Sums {
    let (grid, width) = (set.shape.pixels(), set.shape.width);
    let indices: Vec<usize> = (0..set.len()).collect();
    let partial: Vec<Sums> = indices
        .par_chunks(CHUNK)
        .map(|chunk| {
            let mut sums = Sums::zeros(grid);
            for &i in chunk {
                sums.add_sample(&set.sample(i)[channel * grid..(channel + 1) * grid], width);
            }
            sums
        })
        .collect();
    partial
        .iter()
        .fold(Sums::zeros(grid), |acc, s| acc.merge(s))
}

/// Ranks of `values` scaled to [0, 1], ties sharing their mean rank.
fn normalised_ranks(values: &[f32]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut ranks = vec![0.0; values.len()];
    let mut start = 0;
    while start < order.len() {
        let mut end = start;
        while end + 1 < order.len() && values[order[end + 1]] == values[order[start]] {
            end += 1;
        }
        let rank = (start + end) as f64 / 2.0;
        for &i in &order[start..=end] {
            ranks[i] = rank / (values.len().max(2) - 1) as f64;
        }
        start = end + 1;
    }
    ranks
}

/// How cleanly `scores` split into the top `noise_count` and the rest: the difference of the
/// two groups' means over the overall standard deviation (Fisher's criterion), computed on
/// ranks so that every statistic is on the same scale.
fn separation(scores: &[f32], noise_count: usize) -> f64 {
    let ranks = normalised_ranks(scores);
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

/// Scores every position of every channel of the augmented `set` under five statistics over
/// the samples, each oriented so that higher means "more likely noise":
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
pub fn noise_scores(set: &ImageSet, noise_count: usize) -> Vec<NoiseScores> {
    let names = [
        "mean",
        "variance",
        "neighbour_difference",
        "neighbour_correlation",
        "off_grid",
    ];
    let (grid, width) = (set.shape.pixels(), set.shape.width);
    let n = set.len().max(1) as f64;
    let mut per_statistic: Vec<Vec<Vec<f32>>> = vec![Vec::new(); names.len() + 1];
    for channel in 0..set.shape.channels {
        let s = channel_sums(set, channel);
        let mean: Vec<f64> = s.sum.iter().map(|v| v / n).collect();
        let var: Vec<f64> = s
            .sum_sq
            .iter()
            .zip(&mean)
            .map(|(q, m)| (q / n - m * m).max(0.0))
            .collect();
        let corr = |p: usize, q: usize, product: f64| {
            let denom = (var[p] * var[q]).sqrt();
            if denom < 1e-12 {
                0.0
            } else {
                (product / n - mean[p] * mean[q]) / denom
            }
        };
        let mut max_corr = vec![f64::NEG_INFINITY; grid];
        let mut abs_sum = vec![0.0f64; grid];
        let mut neighbours = vec![0.0f64; grid];
        for p in 0..grid {
            if (p + 1) % width != 0 {
                let c = corr(p, p + 1, s.right_product[p]);
                for q in [p, p + 1] {
                    max_corr[q] = max_corr[q].max(c);
                    abs_sum[q] += s.right_abs[p] / n;
                    neighbours[q] += 1.0;
                }
            }
            if p + width < grid {
                let c = corr(p, p + width, s.down_product[p]);
                for q in [p, p + width] {
                    max_corr[q] = max_corr[q].max(c);
                    abs_sum[q] += s.down_abs[p] / n;
                    neighbours[q] += 1.0;
                }
            }
        }
        let closeness = |v: f64, moment: fn(&(f64, f64)) -> f64| {
            -NOISE_MOMENTS
                .iter()
                .map(|m| (v - moment(m)).abs())
                .fold(f64::INFINITY, f64::min)
        };
        let columns: [Vec<f32>; 5] = [
            mean.iter().map(|&m| closeness(m, |k| k.0) as f32).collect(),
            var.iter().map(|&v| closeness(v, |k| k.1) as f32).collect(),
            abs_sum
                .iter()
                .zip(&neighbours)
                .map(|(a, k)| (a / k.max(1.0)) as f32)
                .collect(),
            max_corr
                .iter()
                .map(|&c| if c.is_finite() { -c as f32 } else { 0.0 })
                .collect(),
            s.off_grid.iter().map(|&o| (o / n) as f32).collect(),
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
