//! Per-position statistics of an augmented image set: for every position of every channel's
//! `H' x W'` grid, moments over the samples, quantisation, and Pearson correlations with every
//! position within [`RADIUS`] rows and columns. Noise positions are shared by all samples, so
//! these statistics estimate, position by position, whether a position holds noise.

use amalgam_core::data::{ImageSet, LabelledSet};
use rayon::prelude::*;

/// Neighbours within this many rows and columns are correlated with each position (a 5 x 5
/// window for 2).
pub const RADIUS: isize = 2;

/// Pixel values of 8-bit images are multiples of 1/255; a value further than this from the
/// nearest multiple (in units of 1/255) is "off the grid".
const GRID_TOLERANCE: f64 = 1e-3;

/// Samples per accumulation chunk (fixed, so the sums do not depend on the thread count).
const CHUNK: usize = 256;

/// The forward half of the window: offsets `(dr, dc)` after `(0, 0)` in row-major order. The
/// backward half is their negation, so each pair of positions is summed once.
fn forward_offsets() -> Vec<(isize, isize)> {
    let mut offsets = Vec::new();
    for dr in 0..=RADIUS {
        for dc in -RADIUS..=RADIUS {
            if dr > 0 || dc > 0 {
                offsets.push((dr, dc));
            }
        }
    }
    offsets
}

/// Statistics of one channel's positions over the samples of a set.
#[derive(Clone, Debug)]
pub struct PositionStats {
    /// Grid height `H'`.
    pub height: usize,
    /// Grid width `W'`.
    pub width: usize,
    /// Per position, the mean value.
    pub mean: Vec<f64>,
    /// Per position, the variance.
    pub variance: Vec<f64>,
    /// Per position, the fraction of samples whose value is not a multiple of 1/255.
    pub off_grid: Vec<f64>,
    /// Per position, the fraction of samples whose value is exactly 0.
    pub zeros: Vec<f64>,
    /// Per position, its correlations with the positions of the window around it, as
    /// `((dr, dc), correlation)`; positions off the grid are left out.
    pub correlations: Vec<Vec<((isize, isize), f64)>>,
    /// Per position, the mean absolute difference to its 4 neighbours.
    pub neighbour_difference: Vec<f64>,
}

/// Sums over samples for one channel.
#[derive(Clone)]
struct Sums {
    sum: Vec<f64>,
    sum_sq: Vec<f64>,
    off_grid: Vec<f64>,
    zeros: Vec<f64>,
    /// Per forward offset, per position `p`: the sum of `x[p] * x[p + offset]`.
    products: Vec<Vec<f64>>,
    /// Per forward offset, per position: the sum of `|x[p] - x[p + offset]|`.
    abs_differences: Vec<Vec<f64>>,
}

impl Sums {
    fn zeros(grid: usize, offsets: usize) -> Self {
        let z = vec![0.0; grid];
        Self {
            sum: z.clone(),
            sum_sq: z.clone(),
            off_grid: z.clone(),
            zeros: z,
            products: vec![vec![0.0; grid]; offsets],
            abs_differences: vec![vec![0.0; grid]; offsets],
        }
    }

    fn add_sample(&mut self, x: &[f32], height: usize, width: usize, offsets: &[(isize, isize)]) {
        for (p, &v) in x.iter().enumerate() {
            let v = f64::from(v);
            self.sum[p] += v;
            self.sum_sq[p] += v * v;
            let level = v * 255.0;
            if (level - level.round()).abs() > GRID_TOLERANCE {
                self.off_grid[p] += 1.0;
            }
            if v == 0.0 {
                self.zeros[p] += 1.0;
            }
        }
        for (o, &(dr, dc)) in offsets.iter().enumerate() {
            let (products, abs) = (&mut self.products[o], &mut self.abs_differences[o]);
            for r in 0..height.saturating_sub(dr as usize) {
                let c_range = (-dc).max(0) as usize..(width as isize - dc.max(0)) as usize;
                let row = r * width;
                let other = (r + dr as usize) * width;
                for c in c_range {
                    let (a, b) = (
                        f64::from(x[row + c]),
                        f64::from(x[(other as isize + c as isize + dc) as usize]),
                    );
                    products[row + c] += a * b;
                    abs[row + c] += (a - b).abs();
                }
            }
        }
    }

    fn merge(mut self, other: &Sums) -> Self {
        let add = |a: &mut Vec<f64>, b: &Vec<f64>| a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
        add(&mut self.sum, &other.sum);
        add(&mut self.sum_sq, &other.sum_sq);
        add(&mut self.off_grid, &other.off_grid);
        add(&mut self.zeros, &other.zeros);
        for (a, b) in self.products.iter_mut().zip(&other.products) {
            add(a, b);
        }
        for (a, b) in self.abs_differences.iter_mut().zip(&other.abs_differences) {
            add(a, b);
        }
        self
    }
}

impl PositionStats {
    /// The statistics of every channel of `set` (an augmented set, `[C, H', W']` samples),
    /// accumulated over fixed chunks of samples in parallel.
    pub fn of_set(set: &ImageSet) -> Vec<PositionStats> {
        (0..set.shape.channels)
            .map(|channel| Self::of_channel(set, channel))
            .collect()
    }

    fn of_channel(set: &ImageSet, channel: usize) -> PositionStats {
        let (height, width) = (set.shape.height, set.shape.width);
        let grid = height * width;
        let offsets = forward_offsets();
        let indices: Vec<usize> = (0..set.len()).collect();
        let sums = indices
            .par_chunks(CHUNK)
            .map(|chunk| {
                let mut sums = Sums::zeros(grid, offsets.len());
                for &i in chunk {
                    let x = &set.sample(i)[channel * grid..(channel + 1) * grid];
                    sums.add_sample(x, height, width, &offsets);
                }
                sums
            })
            .collect::<Vec<_>>()
            .iter()
            .fold(Sums::zeros(grid, offsets.len()), |acc, s| acc.merge(s));
        let n = set.len().max(1) as f64;
        let mean: Vec<f64> = sums.sum.iter().map(|s| s / n).collect();
        let variance: Vec<f64> = sums
            .sum_sq
            .iter()
            .zip(&mean)
            .map(|(q, m)| (q / n - m * m).max(0.0))
            .collect();
        let mut correlations = vec![Vec::new(); grid];
        let mut difference = vec![(0.0f64, 0usize); grid];
        for (o, &(dr, dc)) in offsets.iter().enumerate() {
            for p in 0..grid {
                let (r, c) = ((p / width) as isize, (p % width) as isize);
                let (r2, c2) = (r + dr, c + dc);
                if r2 >= height as isize || c2 < 0 || c2 >= width as isize {
                    continue;
                }
                let q = (r2 * width as isize + c2) as usize;
                let denom = (variance[p] * variance[q]).sqrt();
                let corr = if denom < 1e-12 {
                    0.0
                } else {
                    (sums.products[o][p] / n - mean[p] * mean[q]) / denom
                };
                correlations[p].push(((dr, dc), corr));
                correlations[q].push(((-dr, -dc), corr));
                if dr.abs() + dc.abs() == 1 {
                    for s in [p, q] {
                        difference[s].0 += sums.abs_differences[o][p] / n;
                        difference[s].1 += 1;
                    }
                }
            }
        }
        PositionStats {
            height,
            width,
            mean,
            variance,
            off_grid: sums.off_grid.iter().map(|v| v / n).collect(),
            zeros: sums.zeros.iter().map(|v| v / n).collect(),
            correlations,
            neighbour_difference: difference
                .iter()
                .map(|&(sum, k)| sum / k.max(1) as f64)
                .collect(),
        }
    }

    /// Number of positions.
    pub fn len(&self) -> usize {
        self.mean.len()
    }

    /// Whether the grid is empty.
    pub fn is_empty(&self) -> bool {
        self.mean.is_empty()
    }

    /// Correlation of position `p` with its neighbour at `offset` (0 off the grid).
    pub fn correlation(&self, p: usize, offset: (isize, isize)) -> f64 {
        self.correlations[p]
            .iter()
            .find(|(o, _)| *o == offset)
            .map_or(0.0, |(_, c)| *c)
    }

    /// The largest correlation of `p` with a neighbour at one of `offsets` (−1 if none is on
    /// the grid).
    pub fn max_correlation(&self, p: usize, offsets: &[(isize, isize)]) -> f64 {
        self.correlations[p]
            .iter()
            .filter(|(o, _)| offsets.contains(o))
            .map(|(_, c)| *c)
            .fold(-1.0, f64::max)
    }
}

/// The 4-neighbourhood.
pub const FOUR_NEIGHBOURS: [(isize, isize); 4] = [(0, 1), (0, -1), (1, 0), (-1, 0)];

/// Ranks of `values` scaled to [0, 1], ties sharing their mean rank.
pub fn normalised_ranks(values: &[f64]) -> Vec<f64> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use amalgam_core::model::ImageShape;

    #[test]
    fn correlations_are_symmetric_and_match_a_direct_computation() {
        let shape = ImageShape {
            channels: 1,
            height: 4,
            width: 5,
        };
        // A base signal per sample plus position-dependent pseudo-random parts, so that
        // positions correlate variously.
        let samples = 30;
        let images: Vec<f32> = (0..samples)
            .flat_map(|i| {
                (0..20).map(move |p| {
                    let base = (i % 5) as f32;
                    let own = (((i + 1) * (p + 3) * 7919) % 101) as f32 / 101.0;
                    base + own * (p % 4) as f32
                })
            })
            .collect();
        let set = ImageSet::new(shape, images, vec![0; samples]).unwrap();
        let stats = &PositionStats::of_set(&set)[0];
        let column =
            |p: usize| -> Vec<f64> { (0..samples).map(|i| f64::from(set.sample(i)[p])).collect() };
        let pearson = |a: &[f64], b: &[f64]| {
            let n = a.len() as f64;
            let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
            let cov: f64 = a.iter().zip(b).map(|(x, y)| (x - ma) * (y - mb)).sum();
            let va: f64 = a.iter().map(|x| (x - ma).powi(2)).sum();
            let vb: f64 = b.iter().map(|y| (y - mb).powi(2)).sum();
            cov / (va * vb).sqrt()
        };
        for (p, offset, q) in [
            (6, (0, 1), 7),
            (7, (0, -1), 6),
            (6, (2, -1), 15),
            (12, (-1, 2), 9),
        ] {
            let direct = pearson(&column(p), &column(q));
            assert!(
                (stats.correlation(p, offset) - direct).abs() < 1e-9,
                "{p} {offset:?}: {} vs {direct}",
                stats.correlation(p, offset)
            );
        }
        // A corner has 8 neighbours in the 5 x 5 window of a 4 x 5 grid; an inner one 5x5-1.
        assert_eq!(stats.correlations[0].len(), 8);
        assert_eq!(stats.correlations[7].len(), 19);
    }
}
