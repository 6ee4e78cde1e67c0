//! The dataset augmenter: scatters every sample's pixels to the keep indices of a larger grid
//! and fills the noise positions with fresh noise.

use amalgam_core::data::ImageSet;
use amalgam_core::rng::{Stream, substream};
use rayon::prelude::*;

use crate::noise::{NoiseKind, NoiseLayout};

/// Augments every sample of `set` with `layout`, in parallel over samples.
///
/// Per sample and channel `c`: `x'_c[keep_c] = flatten(x_c)` (a scatter) and
/// `x'_c[noise_c] = noise`, O(H'W') work. The noise of sample `i` comes from sub-stream
/// `first_index + i` of [`Stream::NoiseValues`] of `key_seed`, so the result does not depend
/// on the thread count, and train and test sets (different `first_index`) get different noise.
/// The labels are copied.
pub fn augment_images(
    set: &ImageSet,
    layout: &NoiseLayout,
    noise: NoiseKind,
    key_seed: u64,
    first_index: u64,
) -> ImageSet {
    let (original, augmented) = (layout.original.pixels(), layout.augmented.pixels());
    let mut images = vec![0.0f32; set.len() * layout.augmented.values()];
    images
        .par_chunks_mut(layout.augmented.values())
        .zip(set.images.par_chunks(layout.original.values()))
        .enumerate()
        .for_each(|(i, (out, sample))| {
            let mut rng = substream(key_seed, Stream::NoiseValues, first_index + i as u64);
            let channels = out
                .chunks_exact_mut(augmented)
                .zip(sample.chunks_exact(original));
            for ((out, pixels), (keep, positions)) in
                channels.zip(layout.keep_indices.iter().zip(&layout.noise_positions))
            {
                for (&k, &v) in keep.iter().zip(pixels) {
                    out[k as usize] = v;
                }
                for &p in positions {
                    out[p as usize] = noise.sample(&mut rng);
                }
            }
        });
    ImageSet {
        shape: layout.augmented,
        images,
        labels: set.labels.clone(),
    }
}
