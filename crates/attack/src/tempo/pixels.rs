//! The training images' pixel order, from statistics.
//!
//! A fully connected first layer receives whole images whose pixels the trusted process
//! permutes with one fixed secret permutation (rows are shuffled afresh each step, which does
//! not matter here). Each pixel keeps its statistics over the data set (how bright, how
//! variable, how often exactly zero), so matching the permuted columns' statistics to those of
//! public images of the same kind, as an assignment problem, puts most pixels back
//! ([`pixel_order`]). Pixels also keep their correlations with each other (neighbours move
//! together), so swapping pairs of placements while that makes the observed correlations
//! agree better with the public ones ([`refine_order`], a local search on the quadratic
//! assignment) fixes most of the rest.

use burn::prelude::*;
use pathfinding::kuhn_munkres::kuhn_munkres_min;
use pathfinding::matrix::Matrix as CostMatrix;

/// Per-pixel statistics of a set of samples.
#[derive(Clone, Debug, PartialEq)]
pub struct PixelStatistics {
    /// Per pixel: mean, standard deviation, share of exact zeros.
    pub features: Vec<[f64; 3]>,
}

impl PixelStatistics {
    /// The statistics of `samples`, each `width` values (row-major, one sample per row).
    pub fn of<'a>(samples: impl IntoIterator<Item = &'a [f32]>, width: usize) -> Self {
        let mut sum = vec![0.0f64; width];
        let mut squares = vec![0.0f64; width];
        let mut zeros = vec![0.0f64; width];
        let mut n = 0.0f64;
        for sample in samples {
            for chunk in sample.chunks_exact(width) {
                n += 1.0;
                for (j, &v) in chunk.iter().enumerate() {
                    let v = f64::from(v);
                    sum[j] += v;
                    squares[j] += v * v;
                    zeros[j] += f64::from(u8::from(v == 0.0));
                }
            }
        }
        let n = n.max(1.0);
        let features = (0..width)
            .map(|j| {
                let mean = sum[j] / n;
                let var = (squares[j] / n - mean * mean).max(0.0);
                [mean, var.sqrt(), zeros[j] / n]
            })
            .collect();
        Self { features }
    }
}

/// For each observed (permuted) pixel, the public pixel whose statistics match: the
/// assignment minimising the total squared distance between the statistics (the Hungarian
/// algorithm, from the `pathfinding` crate). Both sides must have as many pixels.
pub fn pixel_order(observed: &PixelStatistics, public: &PixelStatistics) -> Vec<usize> {
    let d = observed.features.len();
    assert_eq!(
        d,
        public.features.len(),
        "the same number of pixels on both sides"
    );
    let mut costs = CostMatrix::new(d, d, 0i64);
    for (i, a) in observed.features.iter().enumerate() {
        for (j, b) in public.features.iter().enumerate() {
            let distance: f64 = a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum();
            costs[(i, j)] = (distance * 1e9).round() as i64;
        }
    }
    kuhn_munkres_min(&costs).1
}

/// The correlation matrix `[d, d]` (row-major) of the columns of `samples` `[n, d]`.
pub fn correlations(samples: &[f32], d: usize, device: &Device) -> Vec<f32> {
    let n = samples.len() / d;
    let x = Tensor::<2>::from_data(TensorData::new(samples[..n * d].to_vec(), [n, d]), device);
    let centred = x.clone() - x.mean_dim(0);
    let std = centred
        .clone()
        .powi_scalar(2)
        .mean_dim(0)
        .sqrt()
        .add_scalar(1e-6);
    let z = centred / std;
    let c = z.clone().transpose().matmul(z).div_scalar(n.max(1) as f32);
    c.into_data().try_into_vec::<f32>().expect("f32")
}

/// Improves `order` (observed column → public pixel) by swapping pairs of placements while a
/// swap raises `Σᵢⱼ observed[i][j] · public[order[i]][order[j]]`, the agreement of the two
/// correlation matrices (`[d, d]`, row-major), for at most `sweeps` passes over all pairs.
pub fn refine_order(observed: &[f32], public: &[f32], order: &mut [usize], sweeps: usize) {
    let d = order.len();
    let o = |i: usize, j: usize| observed[i * d + j];
    let p = |i: usize, j: usize| public[i * d + j];
    for _ in 0..sweeps {
        let mut improved = false;
        for a in 0..d {
            for b in a + 1..d {
                let (pa, pb) = (order[a], order[b]);
                let mut delta = 0.0f32;
                for j in 0..d {
                    if j == a || j == b {
                        continue;
                    }
                    let pj = order[j];
                    delta += (o(a, j) - o(b, j)) * (p(pb, pj) - p(pa, pj));
                }
                if delta > 1e-6 {
                    order.swap(a, b);
                    improved = true;
                }
            }
        }
        if !improved {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distinct_pixels_are_put_back() {
        // Three pixels with distinct means over four samples, observed in the order 2, 0, 1.
        let public: Vec<f32> = vec![0.0, 0.5, 1.0, 0.1, 0.4, 0.9, 0.0, 0.6, 1.0, 0.1, 0.5, 0.8];
        let observed: Vec<f32> = public.chunks(3).flat_map(|s| [s[2], s[0], s[1]]).collect();
        let order = pixel_order(
            &PixelStatistics::of([observed.as_slice()], 3),
            &PixelStatistics::of([public.as_slice()], 3),
        );
        assert_eq!(order, vec![2, 0, 1]);
    }
}
