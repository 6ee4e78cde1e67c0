//! What MixNN's layer hosts can recover from what they are given (Liu et al., arXiv
//! 2203.14803, protect the model's structure and parameters; the data is another matter):
//!
//! - the first host is given the training images themselves (normalised): it only has to
//!   rescale them ([`images_from_inputs`]);
//! - the second host of a convolutional model is given the first layer's feature maps, which
//!   keep the image's layout: their mean over channels, upsampled, is a blurred image
//!   ([`images_from_feature_maps`]);
//! - the last host is given the gradient of the loss with respect to the logits,
//!   `(softmax − one-hot) / B`, negative only at the true class ([`labels_from_gradients`]).

use amalgam_core::data::ImageSet;
use amalgam_core::model::ImageShape;
use amalgam_core::tensors::{HostTensor, Values};

fn values(t: &HostTensor) -> &[f32] {
    match &t.values {
        Values::F32(v) => v,
        _ => &[],
    }
}

/// Rescales `sample` to [0, 1] (min-max; a constant sample becomes 0).
fn rescale(sample: &mut [f32]) {
    let (lo, hi) = sample
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(l, h), &v| {
            (l.min(v), h.max(v))
        });
    let range = hi - lo;
    for v in sample {
        *v = if range > 0.0 { (*v - lo) / range } else { 0.0 };
    }
}

/// The images of the batches `inputs` (`[B, C, H, W]` each) the first host was given, each
/// rescaled to [0, 1] per channel (undoing any per-channel normalisation up to the channel's
/// range). `None` if the inputs are not image batches of one shape.
pub fn images_from_inputs(inputs: &[HostTensor]) -> Option<ImageSet> {
    let shape = match inputs.first()?.shape.as_slice() {
        &[_, channels, height, width] => ImageShape {
            channels,
            height,
            width,
        },
        _ => return None,
    };
    let mut images = Vec::new();
    for t in inputs {
        if t.shape.len() != 4 || t.shape[1..] != [shape.channels, shape.height, shape.width] {
            return None;
        }
        images.extend_from_slice(values(t));
    }
    for channel in images.chunks_mut(shape.height * shape.width) {
        rescale(channel);
    }
    let n = images.len() / shape.values();
    ImageSet::new(shape, images, vec![0; n]).ok()
}

/// Grey images of side `height` × `width` from the feature maps `maps` (`[B, K, h, w]` each)
/// the second host was given: the mean over the `K` channels, upsampled by nearest neighbour
/// to fill the image but for a border of `(height − scale·h) / 2` (the unpadded convolution's
/// margin), rescaled to [0, 1]. `None` if the maps are not 4-D or larger than the images.
pub fn images_from_feature_maps(
    maps: &[HostTensor],
    height: usize,
    width: usize,
) -> Option<ImageSet> {
    let shape = ImageShape {
        channels: 1,
        height,
        width,
    };
    let mut images = Vec::new();
    for t in maps {
        let &[b, k, h, w] = t.shape.as_slice() else {
            return None;
        };
        let scale = (height / h).min(width / w);
        if scale == 0 {
            return None;
        }
        let (top, left) = ((height - scale * h) / 2, (width - scale * w) / 2);
        for sample in values(t).chunks_exact(k * h * w).take(b) {
            let mut mean = vec![0.0f32; h * w];
            for channel in sample.chunks_exact(h * w) {
                for (m, v) in mean.iter_mut().zip(channel) {
                    *m += v / k as f32;
                }
            }
            rescale(&mut mean);
            let mut image = vec![0.0f32; height * width];
            for r in 0..scale * h {
                for c in 0..scale * w {
                    image[(top + r) * width + left + c] = mean[(r / scale) * w + c / scale];
                }
            }
            images.extend(image);
        }
    }
    let n = images.len() / shape.values();
    ImageSet::new(shape, images, vec![0; n]).ok()
}

/// The label of every sample of the logits' gradients `grads` (`[B, classes]` each): the
/// class where the gradient is smallest (the only negative one).
pub fn labels_from_gradients(grads: &[HostTensor]) -> Vec<usize> {
    grads
        .iter()
        .filter_map(|t| match t.shape.as_slice() {
            &[_, classes] if classes > 0 => Some(values(t).chunks_exact(classes)),
            _ => None,
        })
        .flatten()
        .map(|row| {
            row.iter()
                .enumerate()
                .min_by(|a, b| a.1.total_cmp(b.1))
                .map_or(0, |(i, _)| i)
        })
        .collect()
}
