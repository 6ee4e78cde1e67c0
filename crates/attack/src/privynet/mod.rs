//! Attacks on PrivyNet bundles (Li et al., arXiv 1709.06161), from the cloud's view: the
//! bundle's features, the published pre-trained network (Kerckhoffs: the attacker knows it
//! and the method, not which channels the owner kept) and the attacker's own public images.
//!
//! - [`identify_channels`]: which channels of the feature map the bundle holds, by matching
//!   per-channel statistics of the bundle's features against the attacker's own features.
//! - [`train_decoder`]: PrivyNet's privacy measure, a convolutional decoder trained on the
//!   attacker's public images and their features (through the channels it believes kept),
//!   then applied to the bundle's features to reconstruct the owner's images.
//!
//! The owner scores the reconstructions (PSNR, SSIM) and the identified channels with the key
//! afterwards; the upper bound is the same decoder trained on the truly kept channels, which
//! the owner hands in (this crate never sees the key).

mod channels;
mod decoder;

pub use channels::{channel_signatures, identify_channels};
pub use decoder::{Decoder, DecoderSettings, train_decoder};

use amalgam_core::data::ImageSet;

/// The channels `channels` of every feature map in `features` (`[N, C, h, w]`), in that
/// order: `[N, channels.len(), h, w]`, labels copied.
///
/// # Panics
/// If a channel is out of range.
pub fn keep_channels(features: &ImageSet, channels: &[u32]) -> ImageSet {
    let grid = features.shape.pixels();
    let shape = amalgam_core::model::ImageShape {
        channels: channels.len(),
        ..features.shape
    };
    let mut values = Vec::with_capacity(features.labels.len() * shape.values());
    for i in 0..features.labels.len() {
        let sample = features.sample(i);
        for &c in channels {
            values.extend_from_slice(&sample[c as usize * grid..(c as usize + 1) * grid]);
        }
    }
    ImageSet::new(shape, values, features.labels.clone()).expect("sizes follow the shape")
}
