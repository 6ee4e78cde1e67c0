//! Split networks (split learning, as PrivyNet uses it: Li et al., "PrivyNet: A Flexible
//! Framework for Privacy-Preserving Deep Neural Network Training", arXiv 1709.06161).
//!
//! A splittable network is a sequence of **stages** followed by a classifier. The **split
//! point** `p` is the number of stages the owner's local part runs: it turns images into a
//! **feature map**; the owner keeps `D` of its channels and the cloud part runs the remaining
//! stages and the classifier on them. Tensor names are always those of the whole network, so
//! a local part and a trained cloud part compose into one model by name.
//!
//! Stages (and so the split points `1..=stages`):
//! - LeNet: 2, the two conv → ReLU → max-pool blocks (`conv1`, `conv2`); the fully connected
//!   layers are the classifier.
//! - ResNet: 1 + stages, the stem (`conv1`, `bn1`, ReLU) then each `layer{k}`; pooling and
//!   `linear` are the classifier.
//! - VGG: one per VGG stage (its convs and its max-pool); pooling and `classifier` are the
//!   classifier.

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::spec::{Architecture, LENET_KERNEL, ModelSpec};
use crate::{Error, Result};

/// Which part of a split network a [`super::ModelSpec`] builds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum SplitPart {
    /// The owner's local part: stages `0..point` at the architecture's widths. Takes the
    /// spec's images and gives the whole feature map; it has no classifier (see
    /// [`super::Network::features`]).
    Local,
    /// The cloud part: stages `point..` and the classifier. The spec's input is the feature
    /// map of the `D` kept channels, `[D, h, w]`, and the first layer of stage `point` takes
    /// `D` channels.
    Cloud,
    /// The composed model the owner gets back: the local part, then the kept channels of its
    /// feature map, then the cloud part. Takes the spec's images.
    Composed {
        /// The kept channels of the feature map, sorted and distinct (`D` of them).
        kept_channels: Vec<u32>,
    },
}

/// Where a network is cut and which part of it a spec builds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Split {
    /// Stages run by the local part, `1..=stages`.
    pub point: usize,
    /// The part built.
    pub part: SplitPart,
}

/// Number of stages of a splittable architecture; `None` for the others (MLP, text models).
pub fn stage_count(architecture: &Architecture) -> Option<usize> {
    match architecture {
        Architecture::Lenet { .. } => Some(2),
        Architecture::Resnet { blocks, .. } => Some(1 + blocks.len()),
        Architecture::Vgg { stages } => Some(stages.len()),
        _ => None,
    }
}

/// Channels of the feature map after `point` stages (`1..=stages`).
///
/// # Errors
/// [`Error::Invalid`] if the architecture cannot be split there.
pub fn feature_channels(architecture: &Architecture, point: usize) -> Result<usize> {
    check_point(architecture, point)?;
    Ok(match architecture {
        Architecture::Lenet { channels, .. } => channels[point - 1],
        Architecture::Resnet { widths, .. } => widths[point.saturating_sub(2)],
        Architecture::Vgg { stages } => *stages[point - 1].last().unwrap_or(&0),
        _ => unreachable!("check_point accepts splittable architectures only"),
    })
}

/// Side of the feature map after stages `from..to` for an input of side `side` (pixels), or
/// `None` if it vanishes.
pub fn stage_side(
    architecture: &Architecture,
    from: usize,
    to: usize,
    side: usize,
) -> Option<usize> {
    (from..to).try_fold(side, |s, stage| {
        let next = match architecture {
            // A 5x5 convolution without padding, then a 2x2 max-pool.
            Architecture::Lenet { .. } => s.checked_sub(LENET_KERNEL - 1)? / 2,
            // The stem and the first stage keep the side; later stages halve it (rounding up).
            Architecture::Resnet { .. } if stage < 2 => s,
            // Stride-2 stages of ResNet, and VGG's ceil-mode max-pool.
            _ => s.div_ceil(2),
        };
        (next > 0).then_some(next)
    })
}

/// Checks that `point` is a split point of `architecture`.
///
/// # Errors
/// [`Error::Invalid`] naming the architecture's split points.
pub fn check_point(architecture: &Architecture, point: usize) -> Result<()> {
    let Some(stages) = stage_count(architecture) else {
        return Err(Error::invalid(format!(
            "the {} cannot be split: split points exist for LeNet, ResNet and VGG",
            architecture.name()
        )));
    };
    if !(1..=stages).contains(&point) {
        return Err(Error::invalid(format!(
            "the {} has split points 1 to {stages}, not {point}",
            architecture.name()
        )));
    }
    Ok(())
}

/// The specs of the three parts of `whole` (a whole network's spec, taking images) split at
/// `point` with the channels `kept` of its feature map, for a task of `classes` classes.
///
/// Returns `(local, cloud, composed)`: the local part (`whole`'s classes and normalisation),
/// the cloud part (its input the feature map `[D, h, w]`, no normalisation), and the composed
/// model the owner gets back.
///
/// # Errors
/// [`Error::Invalid`] if `whole` is already split, `point` is not a split point of it, the
/// kept channels are not sorted, distinct and in range, or the feature map vanishes.
pub fn split_specs(
    whole: &ModelSpec,
    point: usize,
    kept: &[u32],
    classes: usize,
) -> Result<(ModelSpec, ModelSpec, ModelSpec)> {
    if whole.split.is_some() {
        return Err(Error::invalid("the model to split is already split"));
    }
    check_point(&whole.architecture, point)?;
    let image = whole
        .input
        .image()
        .ok_or_else(|| Error::invalid("a split network takes images"))?;
    let side = |s| {
        stage_side(&whole.architecture, 0, point, s).ok_or_else(|| {
            Error::invalid(format!(
                "the {}'s feature map after split point {point} vanishes for {image} images",
                whole.architecture.name()
            ))
        })
    };
    let with = |part| ModelSpec {
        split: Some(Split { point, part }),
        ..whole.clone()
    };
    let local = with(SplitPart::Local);
    let composed = ModelSpec {
        classes,
        ..with(SplitPart::Composed {
            kept_channels: kept.to_vec(),
        })
    };
    let cloud = ModelSpec {
        input: super::ImageShape {
            channels: kept.len(),
            height: side(image.height)?,
            width: side(image.width)?,
        }
        .into(),
        classes,
        normalization: None,
        ..with(SplitPart::Cloud)
    };
    for spec in [&local, &cloud, &composed] {
        spec.validate()?;
    }
    Ok((local, cloud, composed))
}

/// Multiply-accumulates per image of the local part of `whole` (a whole network's spec, taking
/// images) split at `point`: its convolutions only (BatchNorm, ReLU and pooling are cheap
/// beside them). The local computation PrivyNet's topology selection bounds.
///
/// # Errors
/// [`Error::Invalid`] if `point` is not a split point of `whole` or its maps vanish.
pub fn local_macs(whole: &ModelSpec, point: usize) -> Result<u64> {
    check_point(&whole.architecture, point)?;
    let image = whole
        .input
        .image()
        .ok_or_else(|| Error::invalid("a split network takes images"))?;
    let vanish = || Error::invalid(format!("the feature maps vanish for {image} images"));
    let side = |to: usize, s: usize| stage_side(&whole.architecture, 0, to, s).ok_or_else(vanish);
    // A k x k convolution of `input` → `output` channels over an `h x w` output map.
    let conv = |input: usize, output: usize, k: usize, (h, w): (usize, usize)| {
        (input * output * k * k * h * w) as u64
    };
    let map = |to: usize| -> Result<(usize, usize)> {
        Ok((side(to, image.height)?, side(to, image.width)?))
    };
    let mut macs = 0u64;
    match &whole.architecture {
        Architecture::Lenet { channels, .. } => {
            let inputs = [image.channels, channels[0]];
            for stage in 0..point {
                let (h, w) = map(stage)?;
                let k = LENET_KERNEL;
                macs += conv(inputs[stage], channels[stage], k, (h + 1 - k, w + 1 - k));
            }
        }
        Architecture::Resnet { blocks, widths } => {
            macs += conv(image.channels, widths[0], 3, map(0)?);
            let mut input = widths[0];
            for stage in 1..point {
                let (width, out) = (widths[stage - 1], map(stage + 1)?);
                for block in 0..blocks[stage - 1] {
                    macs += conv(input, width, 3, out) + conv(width, width, 3, out);
                    if block == 0 && (stage > 1 || input != width) {
                        macs += conv(input, width, 1, out);
                    }
                    input = width;
                }
            }
        }
        Architecture::Vgg { stages } => {
            let mut input = image.channels;
            for (number, stage) in stages.iter().enumerate().take(point) {
                for &width in stage {
                    macs += conv(input, width, 3, map(number)?);
                    input = width;
                }
            }
        }
        _ => unreachable!("check_point accepts splittable architectures only"),
    }
    Ok(macs)
}

/// How a splittable network runs, given its spec's [`Split`] (or none: the whole network).
#[derive(Clone, Debug, Default)]
pub(crate) struct StagePlan {
    split: Option<Split>,
}

impl StagePlan {
    pub(crate) fn new(split: Option<&Split>) -> Self {
        Self {
            split: split.cloned(),
        }
    }

    /// Whether stage `stage` (the classifier is stage `stages`) is built.
    pub(crate) fn builds(&self, stage: usize) -> bool {
        match &self.split {
            None => true,
            Some(Split {
                part: SplitPart::Composed { .. },
                ..
            }) => true,
            Some(Split {
                point,
                part: SplitPart::Local,
            }) => stage < *point,
            Some(Split {
                point,
                part: SplitPart::Cloud,
            }) => stage >= *point,
        }
    }

    /// Channels entering stage `stage`: `natural` (the architecture's width), or `D` where the
    /// kept channels enter it. `input_channels` is the spec's input channel count (`D` for a
    /// cloud part).
    pub(crate) fn input_width(&self, stage: usize, natural: usize, input_channels: usize) -> usize {
        match &self.split {
            Some(Split { point, part }) if *point == stage => match part {
                SplitPart::Cloud => input_channels,
                SplitPart::Composed { kept_channels } => kept_channels.len(),
                SplitPart::Local => natural,
            },
            _ => natural,
        }
    }

    /// Logits `[B, classes]`: runs the built stages (selecting the kept channels of a
    /// composed model at its split point), then the classifier.
    ///
    /// # Panics
    /// For a local part, which has no classifier: use [`Self::features`].
    pub(crate) fn forward(
        &self,
        images: Tensor<4>,
        stages: usize,
        stage: impl Fn(usize, Tensor<4>) -> Tensor<4>,
        classify: impl FnOnce(Tensor<4>) -> Tensor<2>,
    ) -> Tensor<2> {
        let x = match &self.split {
            None => (0..stages).fold(images, |x, s| stage(s, x)),
            Some(Split {
                point,
                part: SplitPart::Cloud,
            }) => (*point..stages).fold(images, |x, s| stage(s, x)),
            Some(Split {
                point,
                part: SplitPart::Composed { kept_channels },
            }) => {
                let features = (0..*point).fold(images, |x, s| stage(s, x));
                let kept = select_channels(features, kept_channels);
                (*point..stages).fold(kept, |x, s| stage(s, x))
            }
            Some(Split {
                part: SplitPart::Local,
                ..
            }) => panic!("a local part has no classifier: use its features"),
        };
        classify(x)
    }

    /// The feature map `[B, C_p, h, w]` of a local part.
    ///
    /// # Panics
    /// If the spec is not a local part.
    pub(crate) fn features(
        &self,
        images: Tensor<4>,
        stage: impl Fn(usize, Tensor<4>) -> Tensor<4>,
    ) -> Tensor<4> {
        match &self.split {
            Some(Split {
                point,
                part: SplitPart::Local,
            }) => (0..*point).fold(images, |x, s| stage(s, x)),
            _ => panic!("only a local part gives features"),
        }
    }
}

/// The channels `kept` (sorted, in range) of a feature map `[B, C, h, w]`: `[B, D, h, w]`.
pub fn select_channels(features: Tensor<4>, kept: &[u32]) -> Tensor<4> {
    let indices: Vec<i64> = kept.iter().map(|&c| i64::from(c)).collect();
    let indices =
        Tensor::<1, Int>::from_data(TensorData::new(indices, [kept.len()]), &features.device());
    features.select(1, indices)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::inference_device;
    use crate::model::{
        ImageShape, ModelSpec, Network, Weights, initial_weights, set_weights, weights_of,
    };
    use crate::rng::{Stream, stream};

    const IMAGE: ImageShape = ImageShape {
        channels: 3,
        height: 20,
        width: 18,
    };

    fn whole_specs() -> Vec<ModelSpec> {
        [
            Architecture::lenet(),
            Architecture::resnet20(),
            Architecture::Vgg {
                stages: vec![vec![8], vec![12, 12], vec![16]],
            },
        ]
        .into_iter()
        .map(|a| ModelSpec::new(a, IMAGE, 5).unwrap())
        .collect()
    }

    fn with_split(spec: &ModelSpec, point: usize, part: SplitPart) -> ModelSpec {
        ModelSpec {
            split: Some(Split { point, part }),
            ..spec.clone()
        }
    }

    fn network(spec: &ModelSpec, weights: &Weights) -> Network {
        spec.validate().unwrap();
        let mut network = Network::new(spec, &inference_device());
        set_weights(&mut network, weights).unwrap();
        network
    }

    fn images() -> Tensor<4> {
        let values: Vec<f32> = (0..2 * IMAGE.values())
            .map(|i| ((i * 37) % 101) as f32 / 101.0)
            .collect();
        Tensor::from_data(
            TensorData::new(values, [2, IMAGE.channels, IMAGE.height, IMAGE.width]),
            &inference_device(),
        )
    }

    #[test]
    fn composed_model_is_local_part_then_kept_channels_then_cloud_part() {
        for whole in whole_specs() {
            let stages = stage_count(&whole.architecture).unwrap();
            for point in 1..=stages {
                let width = feature_channels(&whole.architecture, point).unwrap();
                let kept: Vec<u32> = (0..width as u32).filter(|c| c % 3 != 1).collect();
                let (local, cloud, composed) =
                    split_specs(&whole, point, &kept, whole.classes).unwrap();
                let local_weights = initial_weights(&local, &mut stream(1, Stream::ModelInit));
                let cloud_weights = initial_weights(&cloud, &mut stream(2, Stream::ModelInit));
                let mut both = local_weights.clone();
                both.extend(cloud_weights.clone());
                let context = format!("{} split at {point}", whole.architecture.name());
                // Names are the whole network's, shapes follow the kept channels.
                let names = |spec: &ModelSpec| -> Vec<(String, Vec<usize>)> {
                    let mut n: Vec<_> = spec
                        .parameters()
                        .into_iter()
                        .map(|p| (p.name, p.shape))
                        .collect();
                    n.sort();
                    n
                };
                let composed_network = network(&composed, &both);
                let built: Vec<_> = weights_of(&composed_network)
                    .into_iter()
                    .map(|(n, t)| (n, t.shape))
                    .collect();
                assert_eq!(built, names(&composed), "{context}");
                let whole_names: Vec<String> = names(&whole).into_iter().map(|(n, _)| n).collect();
                let composed_names: Vec<String> =
                    names(&composed).into_iter().map(|(n, _)| n).collect();
                if kept.len() == width {
                    assert_eq!(composed_names, whole_names, "{context}");
                }

                let features = network(&local, &local_weights).features(images());
                let [_, c, h, w] = features.dims();
                assert_eq!(c, width, "{context}");
                assert_eq!(
                    [h, w],
                    [
                        cloud.input.image().unwrap().height,
                        cloud.input.image().unwrap().width
                    ],
                    "{context}"
                );
                let via_parts = network(&cloud, &cloud_weights).forward(
                    crate::model::InputBatch::Images(select_channels(features, &kept)),
                );
                let composed_logits =
                    composed_network.forward(crate::model::InputBatch::Images(images()));
                assert_eq!(
                    via_parts.into_data().iter::<f32>().collect::<Vec<_>>(),
                    composed_logits
                        .into_data()
                        .iter::<f32>()
                        .collect::<Vec<_>>(),
                    "{context}"
                );
            }
        }
    }

    #[test]
    fn local_macs_count_the_local_convolutions() {
        let image = ImageShape {
            channels: 1,
            height: 28,
            width: 28,
        };
        let lenet = ModelSpec::new(Architecture::lenet(), image, 10).unwrap();
        // conv1: 6 x 1 x 25 over 24 x 24; conv2: 16 x 6 x 25 over 8 x 8.
        assert_eq!(local_macs(&lenet, 1).unwrap(), 6 * 25 * 576);
        assert_eq!(
            local_macs(&lenet, 2).unwrap(),
            6 * 25 * 576 + 16 * 6 * 25 * 64
        );
        let resnet = ModelSpec::new(Architecture::resnet20(), image, 10).unwrap();
        let stem = 16 * 9 * 784;
        assert_eq!(local_macs(&resnet, 1).unwrap(), stem);
        // Stage 1: 3 blocks of two 16 → 16 convs at 28 x 28.
        assert_eq!(
            local_macs(&resnet, 2).unwrap(),
            stem + 6 * 16 * 16 * 9 * 784
        );
        // Stage 2 starts with a stride-2 block (and its 1x1 shortcut) at 14 x 14.
        let stage2 = (16 * 32 * 9 + 32 * 32 * 9 + 16 * 32 + 4 * 32 * 32 * 9) * 196;
        assert_eq!(
            local_macs(&resnet, 3).unwrap(),
            stem + 6 * 16 * 16 * 9 * 784 + stage2
        );
    }

    #[test]
    fn bad_splits_are_refused() {
        let lenet = &whole_specs()[0];
        let kept = |k: Vec<u32>| SplitPart::Composed { kept_channels: k };
        for (point, part) in [
            (0, SplitPart::Local),
            (3, SplitPart::Local),
            (1, kept(vec![])),
            (1, kept(vec![2, 1])),
            (1, kept(vec![1, 1])),
            (1, kept(vec![6])),
            (2, kept(vec![16])),
        ] {
            assert!(
                with_split(lenet, point, part.clone()).validate().is_err(),
                "{point} {part:?}"
            );
        }
        assert!(with_split(lenet, 1, kept(vec![0, 5])).validate().is_ok());
        // A cloud part may not take more channels than the feature map has.
        let (_, cloud, _) = split_specs(lenet, 1, &[0, 1, 2, 3, 4, 5], 5).unwrap();
        let mut wider = cloud.clone();
        if let crate::model::InputShape::Image(image) = &mut wider.input {
            image.channels = 7;
        }
        assert!(wider.validate().is_err());
        assert!(split_specs(lenet, 1, &[0, 6], 5).is_err());
        assert!(split_specs(&cloud, 2, &[0], 5).is_err());
        // Networks without stages cannot be split.
        let mlp = ModelSpec::new(Architecture::default_mlp(), IMAGE, 5).unwrap();
        assert!(with_split(&mlp, 1, SplitPart::Local).validate().is_err());
    }
}
