//! Key-free reconstruction from the layout's structure: the real pixels keep their row-major
//! order in the augmented grid, so the attacker looks for the increasing subsequence of
//! positions that reads as the most natural image.
//!
//! Our construction (the paper publishes no such attack): per channel, a dynamic programme
//! over increasing sequences `p_0 < p_1 < ... < p_{HW-1}` of grid positions maximises
//!
//! ```text
//! sum_j u(p_j)  +  sum_{j mod W != 0} corr(p_{j-1}, p_j)
//! ```
//!
//! where `u` rewards positions the detector judges real and `corr` is the Pearson correlation
//! of two positions over the training samples, within classes (real horizontal neighbours
//! correlate strongly, noise with nothing, and two images of one class no more than their
//! class's shape makes them). Noise positions are shared by every sample, so one
//! sequence serves the whole set. Gaps between consecutive chosen positions are at most
//! [`MAX_GAP`], which a uniformly random layout exceeds with negligible probability at the
//! amounts amalgam allows.

use amalgam_core::data::{ImageSet, LabelledSet};
use amalgam_core::model::ImageShape;

use crate::normalised_ranks;

/// The largest gap, in grid positions, between two consecutive chosen positions.
pub const MAX_GAP: usize = 64;

/// Samples used for the correlations (the first ones of the set).
const CORRELATION_SAMPLES: usize = 2_000;

/// Weight of the detector's term against the correlation term.
const DETECTOR_WEIGHT: f64 = 0.5;

/// Most dynamic-programme states (`HW x (H'W' - HW + 1)`) per channel: 64 Mi states take
/// 64 MiB of back-pointers and a few seconds. Larger images (CIFAR-size at any amount is far
/// below) fall back to the detector's ranking.
pub const MAX_STATES: usize = 1 << 26;

/// Per channel, the `shape.pixels()` sorted grid positions of the best increasing
/// subsequence of `set` (augmented samples `[C, H', W']`) given the detector's `scores`
/// (per channel, one per grid position, higher = more noise-like). `shape` is the original
/// `[C, H, W]`; `set` must have at least as many positions per channel. Beyond
/// [`MAX_STATES`] the channel's positions are the `HW` the detector judges least noise-like,
/// in grid order.
pub fn ordered_subset(set: &ImageSet, scores: &[Vec<f32>], shape: ImageShape) -> Vec<Vec<u32>> {
    let samples = set.len().min(CORRELATION_SAMPLES);
    (0..shape.channels)
        .map(|c| {
            let slack = set.shape.pixels().saturating_sub(shape.pixels());
            if shape.pixels().saturating_mul(slack + 1) > MAX_STATES {
                return least_noise_like(&scores[c], shape.pixels());
            }
            let correlation = gap_correlations(set, c, samples);
            let values: Vec<f64> = scores[c].iter().map(|&s| f64::from(s)).collect();
            let unary: Vec<f64> = normalised_ranks(&values)
                .into_iter()
                .map(|rank| DETECTOR_WEIGHT * (1.0 - 2.0 * rank))
                .collect();
            best_sequence(&unary, &correlation, shape.pixels(), shape.width)
        })
        .collect()
}

/// The `count` positions with the lowest `scores` (the least noise-like), sorted.
pub(crate) fn least_noise_like(scores: &[f32], count: usize) -> Vec<u32> {
    let mut order: Vec<u32> = (0..scores.len() as u32).collect();
    order.sort_by(|&a, &b| scores[a as usize].total_cmp(&scores[b as usize]));
    let mut keep = order[..count].to_vec();
    keep.sort_unstable();
    keep
}

/// `corr[p * MAX_GAP + g - 1]`: the correlation of positions `p` and `p + g` of channel `c`
/// over the first `samples` of `set`, for `g` in `1..=MAX_GAP` (0 past the grid's end or
/// where a position is constant). The correlation is within classes: each value is taken
/// relative to its class's mean at that position (the labels are in the bundle), so that
/// two views of different samples of one class, which share the class's shape, do not
/// correlate, while neighbours in one image still do.
fn gap_correlations(set: &ImageSet, c: usize, samples: usize) -> Vec<f64> {
    let grid = set.shape.pixels();
    let channel = |i: usize| &set.sample(i)[c * grid..(c + 1) * grid];
    let classes = usize::from(set.labels[..samples].iter().copied().max().unwrap_or(0)) + 1;
    let mut mean = vec![0.0f64; classes * grid];
    let mut count = vec![0usize; classes];
    for i in 0..samples {
        let label = usize::from(set.labels[i]);
        count[label] += 1;
        for (m, &v) in mean[label * grid..].iter_mut().zip(channel(i)) {
            *m += f64::from(v);
        }
    }
    for (label, &n) in count.iter().enumerate() {
        let n = n.max(1) as f64;
        mean[label * grid..(label + 1) * grid]
            .iter_mut()
            .for_each(|m| *m /= n);
    }
    let centred = |i: usize, z: &mut [f64]| {
        let label = usize::from(set.labels[i]);
        let means = &mean[label * grid..(label + 1) * grid];
        for ((z, &v), m) in z.iter_mut().zip(channel(i)).zip(means) {
            *z = f64::from(v) - m;
        }
    };
    let mut z = vec![0.0f64; grid];
    let mut spread = vec![0.0f64; grid];
    for i in 0..samples {
        centred(i, &mut z);
        for (s, v) in spread.iter_mut().zip(&z) {
            *s += v * v;
        }
    }
    let scale: Vec<f64> = spread
        .iter()
        .map(|&s| if s > 1e-12 { 1.0 / s.sqrt() } else { 0.0 })
        .collect();
    let mut corr = vec![0.0f64; grid * MAX_GAP];
    for i in 0..samples {
        centred(i, &mut z);
        z.iter_mut().zip(&scale).for_each(|(v, s)| *v *= s);
        for p in 0..grid {
            let last = (grid - 1 - p).min(MAX_GAP);
            let out = &mut corr[p * MAX_GAP..p * MAX_GAP + last];
            for (g, c) in out.iter_mut().enumerate() {
                *c += z[p] * z[p + g + 1];
            }
        }
    }
    corr
}

/// The increasing sequence of `len` positions maximising the unary terms plus the
/// correlations of consecutive positions within a row of `width`.
fn best_sequence(unary: &[f64], corr: &[f64], len: usize, width: usize) -> Vec<u32> {
    let grid = unary.len();
    let slack = grid - len;
    let states = slack + 1;
    // score[t]: best total for the sequence so far ending at position j + t.
    let mut score: Vec<f64> = unary[..states].to_vec();
    let mut gaps = vec![0u8; len * states];
    let mut next = vec![f64::NEG_INFINITY; states];
    for j in 1..len {
        let linked = j % width != 0;
        for t in 0..states {
            let p = j + t;
            let mut best = (f64::NEG_INFINITY, 0u8);
            // The previous position is p - g, at offset t + 1 - g.
            for g in 1..=MAX_GAP.min(t + 1) {
                let previous = score[t + 1 - g];
                if previous == f64::NEG_INFINITY {
                    continue;
                }
                let link = if linked {
                    corr[(p - g) * MAX_GAP + g - 1]
                } else {
                    0.0
                };
                if previous + link > best.0 {
                    best = (previous + link, g as u8);
                }
            }
            next[t] = best.0 + unary[p];
            gaps[j * states + t] = best.1;
        }
        std::mem::swap(&mut score, &mut next);
    }
    let mut t = (0..states)
        .max_by(|&a, &b| score[a].total_cmp(&score[b]))
        .unwrap_or(0);
    let mut positions = vec![0u32; len];
    for j in (0..len).rev() {
        positions[j] = (j + t) as u32;
        if j > 0 {
            t = t + 1 - gaps[j * states + t] as usize;
        }
    }
    positions
}

#[cfg(test)]
mod tests {
    use super::*;
    use amalgam_core::data::ImageSet;
    use rand::seq::index::sample;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// Smooth random images (a random gradient per sample, 8 x 8) hidden among independent
    /// uniform noise at `noise` random positions; returns the set and the keep indices.
    fn hidden_gradients(seed: u64, noise: usize) -> (ImageSet, Vec<u32>) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let (h, w) = (8usize, 8usize);
        let grid = h * w + noise;
        let mut keep: Vec<u32> = sample(&mut rng, grid, h * w)
            .into_iter()
            .map(|p| p as u32)
            .collect();
        keep.sort_unstable();
        let mut images = Vec::new();
        for _ in 0..300 {
            let mut values: Vec<f32> = (0..grid).map(|_| rng.random::<f32>()).collect();
            let (a, b, c) = (
                rng.random::<f32>(),
                rng.random::<f32>(),
                rng.random::<f32>(),
            );
            for (j, &k) in keep.iter().enumerate() {
                let (y, x) = ((j / w) as f32, (j % w) as f32);
                values[k as usize] = (a + b * x / w as f32 + c * y / h as f32) / 3.0;
            }
            images.extend(values);
        }
        let shape = ImageShape {
            channels: 1,
            height: 1,
            width: grid,
        };
        let labels = vec![0; 300];
        (
            ImageSet {
                shape,
                images,
                labels,
            },
            keep,
        )
    }

    fn original() -> ImageShape {
        ImageShape {
            channels: 1,
            height: 8,
            width: 8,
        }
    }

    #[test]
    fn finds_a_smooth_image_hidden_in_noise_without_any_detector() {
        let (set, keep) = hidden_gradients(7, 12);
        let blind = vec![vec![0.0f32; set.shape.pixels()]];
        let found = ordered_subset(&set, &blind, original());
        let right = found[0].iter().zip(&keep).filter(|(a, b)| a == b).count();
        assert!(right >= 60, "{right} of 64 positions right");
    }

    #[test]
    fn stays_at_chance_when_every_position_is_independent_noise() {
        let (mut set, keep) = hidden_gradients(8, 12);
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        set.images.iter_mut().for_each(|v| *v = rng.random());
        let blind = vec![vec![0.0f32; set.shape.pixels()]];
        let found = ordered_subset(&set, &blind, original());
        let hits = found[0].iter().filter(|p| keep.contains(p)).count();
        // 64 of 76 positions are "real": a blind choice hits about 54 of them.
        assert!(hits < 62, "{hits} of 64");
    }

    #[test]
    fn sequences_are_increasing_and_fill_the_image() {
        let unary = vec![0.0; 20];
        let corr = vec![0.0; 20 * MAX_GAP];
        let found = best_sequence(&unary, &corr, 12, 4);
        assert_eq!(found.len(), 12);
        assert!(found.windows(2).all(|w| w[0] < w[1]));
        assert!(*found.last().unwrap() < 20);
    }
}
