//! Reconstruction: the attacker's best images of the original samples.

use amalgam_core::data::{ImageSet, LabelledSet};
use amalgam_core::model::ImageShape;

use super::ordered_subset::least_noise_like;
use crate::{CloudView, Identification, NoiseScores, ordered_subset};

/// The attacker's images of the (first `view.train.len()`) training samples, each of the
/// original shape `[C, H, W]`.
#[derive(Clone, Debug)]
pub struct Reconstructions {
    /// The identified branch's input filter applied to the augmented samples (exact when the
    /// identification is right).
    pub from_branch: ImageSet,
    /// The `H * W` positions per channel judged least noise-like (by the attacker's chosen
    /// statistic), in grid order, reshaped to `[H, W]` (exact when the detection is perfect).
    pub drop_noise: ImageSet,
    /// The increasing subsequence of `H * W` positions per channel that best combines the
    /// detector's scores with the correlation of horizontal neighbours (see
    /// [`ordered_subset`]), reshaped to `[H, W]`: the structure of the layout used without
    /// the key.
    pub ordered_subset: ImageSet,
    /// Each channel of the augmented sample read as one flat sequence of `H'W'` values and
    /// shrunk to `H * W` by box averaging, then reshaped to `[H, W]`. No secret is needed:
    /// the real pixels keep their row-major order in the flat grid, spread evenly among the
    /// noise.
    pub flat_shrink: ImageSet,
}

/// Builds the four reconstructions.
pub fn reconstruct(
    view: &CloudView,
    identification: &Identification,
    scores: &NoiseScores,
) -> Reconstructions {
    let shape = view.filtered_shape();
    let branch = &view.bundle.spec.branches[identification.pick];
    let judged_real: Vec<Vec<u32>> = scores
        .scores
        .iter()
        .map(|channel| least_noise_like(channel, shape.pixels()))
        .collect();
    Reconstructions {
        from_branch: view.train.gather(&branch.keep_indices, shape),
        drop_noise: view.train.gather(&judged_real, shape),
        ordered_subset: view
            .train
            .gather(&ordered_subset(&view.train, &scores.scores, shape), shape),
        flat_shrink: flat_shrink(&view.train, shape),
    }
}

/// Box-averages every channel of every sample of `set`, as a flat sequence, down to
/// `shape.pixels()` values.
fn flat_shrink(set: &ImageSet, shape: ImageShape) -> ImageSet {
    let (grid, out) = (set.shape.pixels(), shape.pixels());
    let mut images = Vec::with_capacity(set.len() * shape.values());
    for i in 0..set.len() {
        for channel in set.sample(i).chunks_exact(grid) {
            for j in 0..out {
                let (start, end) = (j * grid / out, ((j + 1) * grid).div_ceil(out));
                images.push(channel[start..end].iter().sum::<f32>() / (end - start) as f32);
            }
        }
    }
    ImageSet {
        shape,
        images,
        labels: set.labels.clone(),
    }
}
