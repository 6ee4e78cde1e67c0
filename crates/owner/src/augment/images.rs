//! The dataset augmenter for images: scatters every sample's pixels to the keep indices of a
//! larger grid and fills the other positions: with fresh noise (the published kinds and
//! `resample`), or with the decoy branches' own images (`interleave`).

use std::borrow::Cow;

use amalgam_core::data::ImageSet;
use amalgam_core::data::LabelledSet;
use amalgam_core::model::{ImageShape, InputShape};
use amalgam_core::rng::{Stream, substream};
use rand::Rng;
use rayon::prelude::*;

use crate::noise::interleave::{DecoyViews, unread_positions};
use crate::noise::resample::corresponding_sources;
use crate::noise::{NoiseKind, NoiseLayout, unit_interval};

/// What fills an image set's non-real positions.
#[derive(Clone, Debug)]
pub enum ImageNoise {
    /// Values of a noise kind (`uniform`, `gaussian`, `resample`), fresh per sample.
    Values(NoiseKind),
    /// The decoys' views ([`NoiseKind::Interleave`]).
    Views(DecoyViews<ImageSet>),
}

/// Augments every sample of `set` with `layout` and `noise`, in parallel over samples.
///
/// Per sample and channel `c`: `x'_c[keep_c] = flatten(x_c)` (a scatter), then the other
/// positions, O(H'W') work in all. The random choices of sample `i` come from sub-stream
/// `first_index + i` of [`Stream::NoiseValues`] of `key_seed`, so the result does not depend
/// on the thread count, and train and test sets (different `first_index`) get different noise.
/// [`NoiseKind::Resample`] draws from `set` itself. The labels are copied.
pub fn augment_images(
    set: &ImageSet,
    layout: &NoiseLayout,
    noise: &ImageNoise,
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
    noise: &ImageNoise,
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
    let (o, a) = (image_shape(layout.original), image_shape(layout.augmented));
    let noise_positions: Cow<[Vec<u32>]> = match noise {
        ImageNoise::Values(_) => Cow::Borrowed(&layout.noise_positions),
        ImageNoise::Views(views) => Cow::Owned(unread_positions(layout, &views.keep_indices)),
    };
    let sources = corresponding_sources(o, a, &noise_positions);
    out.par_chunks_mut(layout.augmented.values())
        .zip(set.images.par_chunks(layout.original.values()))
        .enumerate()
        .for_each_init(Vec::new, |bits: &mut Vec<u32>, (i, (out, sample))| {
            let mut rng = substream(key_seed, Stream::NoiseValues, first_index + i as u64);
            let donors: Vec<&[f32]> = match noise {
                ImageNoise::Values(_) => Vec::new(),
                ImageNoise::Views(views) => views.donors_of(first_index + i as u64),
            };
            let channels = out
                .chunks_exact_mut(augmented)
                .zip(sample.chunks_exact(original));
            for (c, (out, pixels)) in channels.enumerate() {
                for (&k, &v) in layout.keep_indices[c].iter().zip(pixels) {
                    out[k as usize] = v;
                }
                let positions = &noise_positions[c];
                match noise {
                    ImageNoise::Values(NoiseKind::Uniform) => {
                        // The random bits of the whole channel in one call: the hot path.
                        bits.resize(positions.len(), 0);
                        rng.fill(bits.as_mut_slice());
                        for (&p, &b) in positions.iter().zip(bits.iter()) {
                            out[p as usize] = unit_interval(b);
                        }
                    }
                    ImageNoise::Values(kind) => {
                        for (&p, &source) in positions.iter().zip(&sources[c]) {
                            out[p as usize] = kind.sample(&mut rng, |rng| {
                                set.sample(rng.random_range(0..set.len()))[c * original + source]
                            });
                        }
                    }
                    ImageNoise::Views(views) => {
                        for (keep, donor) in views.keep_indices.iter().zip(&donors) {
                            let donor = &donor[c * original..(c + 1) * original];
                            for (&k, &v) in keep[c].iter().zip(donor) {
                                out[k as usize] = v;
                            }
                        }
                        // Unread positions take a pixel of any of the K + 1 images, the
                        // real one included: filled from the decoys' images only, they would
                        // correlate with the decoy views and never with the real one.
                        for (&p, &source) in positions.iter().zip(&sources[c]) {
                            let image = rng.random_range(0..=donors.len());
                            out[p as usize] = match donors.get(image) {
                                Some(donor) => donor[c * original + source],
                                None => pixels[source],
                            };
                        }
                    }
                }
            }
        });
}

/// The image shape of an image layout.
fn image_shape(shape: InputShape) -> ImageShape {
    shape
        .image()
        .expect("image sets are augmented with image layouts")
}
