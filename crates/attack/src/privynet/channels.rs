//! Which channels of the feature map the bundle holds.

use amalgam_core::data::ImageSet;

/// Quantiles of a channel's values in its signature.
const QUANTILES: [f64; 9] = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];

/// Per channel of `features` (`[N, C, h, w]`), a signature: its mean map (`h * w` values,
/// the average over samples of where the channel fires), its fraction of zeros and the
/// quantiles of its values. Channels of the same filter on data of the same kind have nearly
/// the same signature; different filters differ.
pub fn channel_signatures(features: &ImageSet) -> Vec<Vec<f64>> {
    let shape = features.shape;
    let (grid, n) = (shape.pixels(), features.labels.len());
    (0..shape.channels)
        .map(|c| {
            let mut mean_map = vec![0.0f64; grid];
            let mut values = Vec::with_capacity(n * grid);
            for i in 0..n {
                let sample = &features.sample(i)[c * grid..(c + 1) * grid];
                for (m, &v) in mean_map.iter_mut().zip(sample) {
                    *m += f64::from(v) / n as f64;
                }
                values.extend(sample.iter().map(|&v| f64::from(v)));
            }
            values.sort_by(f64::total_cmp);
            let zeros = values.iter().filter(|&&v| v == 0.0).count() as f64;
            let quantile = |q: f64| values[((values.len() - 1) as f64 * q) as usize];
            let mut signature = mean_map;
            signature.push(zeros / values.len().max(1) as f64);
            signature.extend(QUANTILES.iter().map(|&q| quantile(q)));
            signature
        })
        .collect()
}

/// The channels of `reference` (the attacker's features, all `C` channels, `[M, C, h, w]`)
/// that the bundle's `observed` features (`[N, D, h, w]`) are, in order.
///
/// Each observed channel is compared with each reference channel by the squared distance
/// between their [`channel_signatures`], each signature entry scaled by its spread over the
/// reference channels. The owner keeps its channels in ascending order (the method is
/// public), so the answer is the increasing assignment of least total distance, found by
/// dynamic programming in `O(D * C)`.
///
/// # Panics
/// If `observed` has more channels than `reference`, or their maps differ in size.
pub fn identify_channels(observed: &ImageSet, reference: &ImageSet) -> Vec<u32> {
    let (d, c) = (observed.shape.channels, reference.shape.channels);
    assert!(
        d <= c,
        "the bundle cannot hold more channels than the feature map has"
    );
    assert_eq!(
        observed.shape.pixels(),
        reference.shape.pixels(),
        "feature maps differ in size"
    );
    let theirs = channel_signatures(observed);
    let ours = channel_signatures(reference);
    let width = ours[0].len();
    let spread: Vec<f64> = (0..width)
        .map(|k| {
            let mean = ours.iter().map(|s| s[k]).sum::<f64>() / c as f64;
            let var = ours.iter().map(|s| (s[k] - mean).powi(2)).sum::<f64>() / c as f64;
            var.sqrt().max(1e-6)
        })
        .collect();
    let cost = |i: usize, j: usize| -> f64 {
        (0..width)
            .map(|k| ((theirs[i][k] - ours[j][k]) / spread[k]).powi(2))
            .sum()
    };
    // best[i][j]: least cost of assigning observed 0..=i with observed i at reference j.
    let mut best = vec![vec![f64::INFINITY; c]; d];
    let mut from = vec![vec![0usize; c]; d];
    for j in 0..c {
        best[0][j] = cost(0, j);
    }
    for i in 1..d {
        let (mut run_min, mut run_arg) = (f64::INFINITY, 0);
        for j in i..c {
            if best[i - 1][j - 1] < run_min {
                (run_min, run_arg) = (best[i - 1][j - 1], j - 1);
            }
            best[i][j] = run_min + cost(i, j);
            from[i][j] = run_arg;
        }
    }
    let mut j = (d - 1..c)
        .min_by(|&a, &b| best[d - 1][a].total_cmp(&best[d - 1][b]))
        .expect("d <= c");
    let mut channels = vec![0u32; d];
    for i in (0..d).rev() {
        channels[i] = j as u32;
        j = from[i][j];
    }
    channels
}

#[cfg(test)]
mod tests {
    use super::*;
    use amalgam_core::model::ImageShape;

    /// `n` samples of `channels` channels, channel `c` a bump centred at a place of its own.
    fn bumps(n: usize, channels: &[usize], seed: u32) -> ImageSet {
        let shape = ImageShape {
            channels: channels.len(),
            height: 6,
            width: 6,
        };
        let mut values = Vec::new();
        for i in 0..n {
            for &c in channels {
                for p in 0..36 {
                    let (y, x) = ((p / 6) as f32, (p % 6) as f32);
                    let (cy, cx) = ((c % 6) as f32, (c / 6 % 6) as f32);
                    let jitter = ((i as u32 * 7919 + p as u32 * 31 + seed) % 97) as f32 / 970.0;
                    values.push(
                        (2.0 - ((y - cy).powi(2) + (x - cx).powi(2)) / 4.0).max(0.0) + jitter,
                    );
                }
            }
        }
        ImageSet::new(shape, values, vec![0; n]).unwrap()
    }

    #[test]
    fn kept_channels_are_found_from_their_statistics() {
        let all: Vec<usize> = (0..12).collect();
        let kept = [1usize, 4, 5, 9, 11];
        let found = identify_channels(&bumps(40, &kept, 1), &bumps(60, &all, 2));
        assert_eq!(found, kept.map(|c| c as u32));
    }
}
