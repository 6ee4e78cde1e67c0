//! The dataset augmenter for images: scatters every sample's pixels to the keep indices of a
//! larger grid and fills the noise positions with fresh noise.

use amalgam_core::data::ImageSet;
use amalgam_core::data::LabelledSet;
use amalgam_core::model::{ImageShape, InputShape};
use amalgam_core::rng::{Stream, substream};
use rand::Rng;
use rayon::prelude::*;

use crate::noise::{NoiseKind, NoiseLayout, unit_interval};

/// Augments every sample of `set` with `layout`, in parallel over samples.
///
/// Per sample and channel `c`: `x'_c[keep_c] = flatten(x_c)` (a scatter) and
/// `x'_c[noise_c] = noise`, O(H'W') work. The noise of sample `i` comes from sub-stream
/// `first_index + i` of [`Stream::NoiseValues`] of `key_seed`, so the result does not depend
/// on the thread count, and train and test sets (different `first_index`) get different noise.
/// [`NoiseKind::Resample`] draws from `set` itself. The labels are copied.
pub fn augment_images(
    set: &ImageSet,
    layout: &NoiseLayout,
    noise: NoiseKind,
    key_seed: u64,
    first_index: u64,
) -> ImageSet {
    let mut images = vec![0.0f32; set.len() * layout.augmented.values()];
    augment_images_into(set, layout, noise, key_seed, first_index, &mut images);
    ImageSet {
        shape: image_shape(layout.augmented),
        images,
        labels: set.labels.clone(),
    }
}

/// [`augment_images`] into a caller's buffer of `set.len() * layout.augmented.values()`
/// values (every value is overwritten), e.g. one reused across chunks.
///
/// # Panics
/// If `out` has another length.
pub fn augment_images_into(
    set: &ImageSet,
    layout: &NoiseLayout,
    noise: NoiseKind,
    key_seed: u64,
    first_index: u64,
    out: &mut [f32],
) {
    assert_eq!(
        out.len(),
        set.len() * layout.augmented.values(),
        "output buffer length"
    );
    let (original, augmented) = (layout.original.positions(), layout.augmented.positions());
    let sources = resample_sources(layout);
    out.par_chunks_mut(layout.augmented.values())
        .zip(set.images.par_chunks(layout.original.values()))
        .enumerate()
        .for_each_init(Vec::new, |bits: &mut Vec<u32>, (i, (out, sample))| {
            let mut rng = substream(key_seed, Stream::NoiseValues, first_index + i as u64);
            let channels = out
                .chunks_exact_mut(augmented)
                .zip(sample.chunks_exact(original));
            for (c, (out, pixels)) in channels.enumerate() {
                for (&k, &v) in layout.keep_indices[c].iter().zip(pixels) {
                    out[k as usize] = v;
                }
                let positions = &layout.noise_positions[c];
                if noise == NoiseKind::Uniform {
                    // The random bits of the whole channel in one call: the hot path.
                    bits.resize(positions.len(), 0);
                    rng.fill(bits.as_mut_slice());
                    for (&p, &b) in positions.iter().zip(bits.iter()) {
                        out[p as usize] = unit_interval(b);
                    }
                    continue;
                }
                for (&p, &source) in positions.iter().zip(&sources[c]) {
                    out[p as usize] = noise.sample(&mut rng, |rng| {
                        set.sample(rng.random_range(0..set.len()))[c * original + source]
                    });
                }
            }
        });
}

/// Per channel and noise position, the original pixel (flat index in `H * W`) at the
/// corresponding location: row `r' * H / H'`, column `c' * W / W'`.
fn resample_sources(layout: &NoiseLayout) -> Vec<Vec<usize>> {
    let (o, a) = (image_shape(layout.original), image_shape(layout.augmented));
    layout
        .noise_positions
        .iter()
        .map(|positions| {
            positions
                .iter()
                .map(|&p| {
                    let (row, col) = (p as usize / a.width, p as usize % a.width);
                    (row * o.height / a.height) * o.width + col * o.width / a.width
                })
                .collect()
        })
        .collect()
}

/// The image shape of an image layout.
fn image_shape(shape: InputShape) -> ImageShape {
    shape
        .image()
        .expect("image sets are augmented with image layouts")
}
