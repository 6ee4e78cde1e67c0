//! Serde model specs: enough for the cloud to rebuild a network from `model.json` and for the
//! owner to rebuild the original from the key.

use serde::{Deserialize, Serialize};

use super::split::{Split, SplitPart, check_point, feature_channels, stage_count, stage_side};
use crate::{Error, Result};

/// Version of the JSON spec formats (model specs, bundle spec, training config, key).
pub const SPEC_FORMAT_VERSION: u32 = 1;

/// Shape of one image sample `[C, H, W]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageShape {
    /// Channels `C`.
    pub channels: usize,
    /// Height `H` in pixels.
    pub height: usize,
    /// Width `W` in pixels.
    pub width: usize,
}

impl ImageShape {
    /// Pixels per channel, `H * W`.
    pub fn pixels(&self) -> usize {
        self.height * self.width
    }

    /// Values per sample, `C * H * W`.
    pub fn values(&self) -> usize {
        self.channels * self.pixels()
    }

    /// `[C, H, W]`.
    pub fn dims(&self) -> [usize; 3] {
        [self.channels, self.height, self.width]
    }
}

impl std::fmt::Display for ImageShape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}x{}x{}", self.channels, self.height, self.width)
    }
}

/// Shape of one text sample: `length` token ids, each below `vocab_size`. Id 0 is padding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenShape {
    /// Sequence length `L` (tokens per sample, padding included).
    pub length: usize,
    /// Vocabulary size `V`: token ids are in `0..V`.
    pub vocab_size: usize,
}

/// Token id of padding in every text sample.
pub const PAD_TOKEN: u32 = 0;

/// What a model takes: images `[C, H, W]` or token sequences `[L]`.
///
/// Both are grids of positions the augmenter hides among noise: an image has `C` channels of
/// `H * W` positions, a token sequence one "channel" of `L` positions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum InputShape {
    /// Images with values in [0, 1].
    Image(ImageShape),
    /// Token id sequences.
    Tokens(TokenShape),
}

impl InputShape {
    /// Channels: `C` for images, 1 for tokens.
    pub fn channels(&self) -> usize {
        match self {
            InputShape::Image(s) => s.channels,
            InputShape::Tokens(_) => 1,
        }
    }

    /// Positions per channel: `H * W` for images, `L` for tokens.
    pub fn positions(&self) -> usize {
        match self {
            InputShape::Image(s) => s.pixels(),
            InputShape::Tokens(s) => s.length,
        }
    }

    /// Values per sample: `channels() * positions()`.
    pub fn values(&self) -> usize {
        self.channels() * self.positions()
    }

    /// The image shape, if images.
    pub fn image(&self) -> Option<ImageShape> {
        match self {
            InputShape::Image(s) => Some(*s),
            InputShape::Tokens(_) => None,
        }
    }

    /// The token shape, if tokens.
    pub fn tokens(&self) -> Option<TokenShape> {
        match self {
            InputShape::Image(_) => None,
            InputShape::Tokens(s) => Some(*s),
        }
    }
}

impl std::fmt::Display for InputShape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InputShape::Image(s) => s.fmt(f),
            InputShape::Tokens(s) => write!(f, "{} tokens (vocabulary {})", s.length, s.vocab_size),
        }
    }
}

impl From<ImageShape> for InputShape {
    fn from(s: ImageShape) -> Self {
        InputShape::Image(s)
    }
}

impl From<TokenShape> for InputShape {
    fn from(s: TokenShape) -> Self {
        InputShape::Tokens(s)
    }
}

/// The network family and its hyper-parameters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Architecture {
    /// Fully connected: flatten, then `hidden` layers with ReLU, then a linear classifier.
    Mlp {
        /// Widths of the hidden layers.
        hidden: Vec<usize>,
    },
    /// LeNet-5 (LeCun et al. 1998), no padding: conv 5x5 `channels[0]` → ReLU → maxpool 2 →
    /// conv 5x5 `channels[1]` → ReLU → maxpool 2 → fc `hidden[0]` → ReLU → fc `hidden[1]` →
    /// ReLU → fc classes. The original: channels 6, 16 and hidden 120, 84. Needs `H, W >= 14`.
    Lenet {
        /// Output channels of the two convolutions.
        channels: [usize; 2],
        /// Widths of the two hidden fully connected layers.
        hidden: [usize; 2],
    },
    /// ResNet for small images (He et al. 2016, the CIFAR variant, as in the Amalgam
    /// prototype's `models/resnet.py`): a 3x3 stride-1 stem conv of `widths[0]` channels with
    /// BatchNorm and ReLU, no max-pool; stage `i` has `blocks[i]` BasicBlocks of `widths[i]`
    /// channels (stride 2 from the second stage; 1x1 conv + BatchNorm shortcut where the
    /// shape changes); global average pooling; a linear classifier. 1 to 4 stages.
    Resnet {
        /// BasicBlocks per stage.
        blocks: Vec<usize>,
        /// Channels per stage.
        widths: Vec<usize>,
    },
    /// VGG with BatchNorm (Simonyan & Zisserman 2015; the CIFAR variant): per stage, 3x3
    /// convs (padding 1) each followed by BatchNorm and ReLU, then a 2x2 max-pool (ceil
    /// mode, so any side works); global average pooling; a linear classifier.
    Vgg {
        /// Per stage, the channels of its convs.
        stages: Vec<Vec<usize>>,
    },
    /// Bag of embeddings (fastText-like; Joulin et al. 2017): token embeddings of width
    /// `embedding`, averaged over the non-padding tokens, then a linear classifier. Tokens.
    Bag {
        /// Embedding width.
        embedding: usize,
    },
    /// TextCNN (Kim 2014): embeddings, one 1-D convolution of `filters` channels per width in
    /// `widths` (ReLU, max over time), concatenated, then a linear classifier (no dropout: it
    /// would draw from burn's global random state). Tokens, `L >= max(widths)`.
    TextCnn {
        /// Embedding width.
        embedding: usize,
        /// Convolution widths in tokens (Kim: 3, 4, 5).
        widths: Vec<usize>,
        /// Output channels of each convolution.
        filters: usize,
    },
    /// GRU classifier (Cho et al. 2014): embeddings, a one-layer GRU of `hidden` units over the
    /// sequence, max over time of its states, then a linear classifier. Tokens.
    Gru {
        /// Embedding width.
        embedding: usize,
        /// GRU state width.
        hidden: usize,
    },
    /// Transformer encoder (Vaswani et al. 2017; pre-norm): token plus learned positional
    /// embeddings of width `embedding`, `layers` encoder layers of `heads` heads and a
    /// `feed_forward`-wide GELU feed-forward (no dropout), mean over positions, then a linear
    /// classifier. Tokens; `embedding` a multiple of `heads`.
    Transformer {
        /// Model width `d_model`.
        embedding: usize,
        /// Attention heads.
        heads: usize,
        /// Encoder layers.
        layers: usize,
        /// Hidden width of the feed-forward block.
        feed_forward: usize,
    },
}

impl Architecture {
    /// Whether the architecture takes token sequences (rather than images).
    pub fn takes_tokens(&self) -> bool {
        matches!(
            self,
            Architecture::Bag { .. }
                | Architecture::TextCnn { .. }
                | Architecture::Gru { .. }
                | Architecture::Transformer { .. }
        )
    }

    /// Its family's name, for messages.
    pub fn name(&self) -> &'static str {
        match self {
            Architecture::Mlp { .. } => "MLP",
            Architecture::Lenet { .. } => "LeNet",
            Architecture::Resnet { .. } => "ResNet",
            Architecture::Vgg { .. } => "VGG",
            Architecture::Bag { .. } => "bag-of-embeddings",
            Architecture::TextCnn { .. } => "TextCNN",
            Architecture::Gru { .. } => "GRU",
            Architecture::Transformer { .. } => "Transformer",
        }
    }

    /// amalgam's default architecture of every family (what `--model NAME` builds).
    pub fn defaults() -> [Architecture; 9] {
        [
            Architecture::default_mlp(),
            Architecture::lenet(),
            Architecture::resnet20(),
            Architecture::resnet18(),
            Architecture::vgg11(),
            Architecture::bag(),
            Architecture::text_cnn(),
            Architecture::gru(),
            Architecture::transformer(),
        ]
    }

    /// Bag of embeddings of width 64.
    pub fn bag() -> Self {
        Architecture::Bag { embedding: 64 }
    }

    /// TextCNN as Kim (2014) but narrower: embeddings 64, widths 3/4/5, 64 filters each.
    pub fn text_cnn() -> Self {
        Architecture::TextCnn {
            embedding: 64,
            widths: vec![3, 4, 5],
            filters: 64,
        }
    }

    /// GRU classifier: embeddings 64, 64 hidden units.
    pub fn gru() -> Self {
        Architecture::Gru {
            embedding: 64,
            hidden: 64,
        }
    }

    /// Small Transformer encoder: width 64, 4 heads, 2 layers, feed-forward 128.
    pub fn transformer() -> Self {
        Architecture::Transformer {
            embedding: 64,
            heads: 4,
            layers: 2,
            feed_forward: 128,
        }
    }

    /// The default MLP: two hidden layers of 256 and 128 units.
    pub fn default_mlp() -> Self {
        Architecture::Mlp {
            hidden: vec![256, 128],
        }
    }

    /// LeNet-5 as published: channels 6 and 16, hidden layers 120 and 84.
    pub fn lenet() -> Self {
        Architecture::Lenet {
            channels: [6, 16],
            hidden: [120, 84],
        }
    }

    /// ResNet-20 (He et al. 2016): 3 stages of 3 BasicBlocks, 16/32/64 channels.
    pub fn resnet20() -> Self {
        Architecture::Resnet {
            blocks: vec![3, 3, 3],
            widths: vec![16, 32, 64],
        }
    }

    /// ResNet-18, CIFAR variant: 4 stages of 2 BasicBlocks, 64/128/256/512 channels.
    pub fn resnet18() -> Self {
        Architecture::Resnet {
            blocks: vec![2, 2, 2, 2],
            widths: vec![64, 128, 256, 512],
        }
    }

    /// VGG-11 with BatchNorm: 64 | 128 | 256 256 | 512 512 | 512 512.
    pub fn vgg11() -> Self {
        Architecture::Vgg {
            stages: vec![
                vec![64],
                vec![128],
                vec![256, 256],
                vec![512, 512],
                vec![512, 512],
            ],
        }
    }
}

/// A complete, buildable model description.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelSpec {
    /// Format version ([`SPEC_FORMAT_VERSION`]).
    pub format_version: u32,
    /// What the network takes.
    pub input: InputShape,
    /// Number of classes (width of the logits).
    pub classes: usize,
    /// The network.
    pub architecture: Architecture,
    /// Per-channel normalisation of the input, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub normalization: Option<super::Normalization>,
    /// Which part of a split network this spec builds (see [`super::split`]); none for the
    /// whole network.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split: Option<Split>,
}

/// How a tensor of a fresh model is initialised.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ParamInit {
    /// He (Kaiming) uniform for ReLU networks: `U(-sqrt(6/fan_in), sqrt(6/fan_in))`.
    HeUniform {
        /// Inputs per output unit of the layer.
        fan_in: usize,
    },
    /// All zeros (biases, BatchNorm shift and running mean).
    Zeros,
    /// All ones (BatchNorm and LayerNorm scale, running variance).
    Ones,
    /// `U(-bound, bound)`: embeddings, and layers not followed by a ReLU (Glorot/Xavier
    /// uniform, `bound = sqrt(6 / (fan_in + fan_out))`).
    Uniform {
        /// Half-width of the interval.
        bound: f32,
    },
}

/// One tensor of a model's weights (learned parameters and BatchNorm running statistics), in
/// PyTorch layout and naming.
#[derive(Clone, Debug, PartialEq)]
pub struct ParamSpec {
    /// PyTorch-style name, e.g. `conv1.weight` or `layer1.0.bn1.running_var`.
    pub name: String,
    /// PyTorch layout: `[out, in]` for linear weights, `[out, in, kh, kw]` for convolutions.
    pub shape: Vec<usize>,
    /// Its initial values.
    pub init: ParamInit,
}

/// Kernel side of LeNet's convolutions.
pub(crate) const LENET_KERNEL: usize = 5;
/// Smallest image side LeNet takes: below it, its feature maps after the second pooling are
/// empty.
pub const LENET_MIN_SIDE: usize = 16;
/// Most values one sample may have (`C * H * W` or `L`): 2^27, a 3 x 6,688 x 6,688 image.
pub const MAX_SAMPLE_VALUES: usize = 1 << 27;
/// Largest vocabulary.
pub const MAX_VOCABULARY: usize = 1 << 24;
/// Largest width, channel count or embedding size of any layer.
pub const MAX_WIDTH: usize = 1 << 16;
/// Most layers, blocks or stages of a repeated kind.
pub const MAX_DEPTH: usize = 256;

impl InputShape {
    /// Checks that a sample's size stays within [`MAX_SAMPLE_VALUES`] (with checked
    /// arithmetic, so no product overflows) and the vocabulary within [`MAX_VOCABULARY`].
    ///
    /// # Errors
    /// [`Error::Invalid`] naming the limit.
    pub fn check_size(&self) -> Result<()> {
        let values = match self {
            InputShape::Image(s) => s
                .channels
                .checked_mul(s.height)
                .and_then(|v| v.checked_mul(s.width)),
            InputShape::Tokens(s) => Some(s.length),
        };
        if values.is_none_or(|v| v > MAX_SAMPLE_VALUES) {
            return Err(Error::invalid(format!(
                "a sample of {self} is larger than the {MAX_SAMPLE_VALUES} values supported"
            )));
        }
        if let InputShape::Tokens(t) = self
            && t.vocab_size > MAX_VOCABULARY
        {
            return Err(Error::invalid(format!(
                "a vocabulary of {} is larger than the {MAX_VOCABULARY} supported",
                t.vocab_size
            )));
        }
        Ok(())
    }
}

impl Architecture {
    /// Checks every width against [`MAX_WIDTH`] and every count of layers, blocks or stages
    /// against [`MAX_DEPTH`], before anything is sized from them.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming the limit.
    pub fn check_sizes(&self) -> Result<()> {
        let (widths, depths): (Vec<usize>, Vec<usize>) = match self {
            Architecture::Mlp { hidden } => (hidden.clone(), vec![hidden.len()]),
            Architecture::Lenet { channels, hidden } => {
                (channels.iter().chain(hidden).copied().collect(), vec![])
            }
            Architecture::Resnet { blocks, widths } => (widths.clone(), blocks.clone()),
            Architecture::Vgg { stages } => (
                stages.iter().flatten().copied().collect(),
                std::iter::once(stages.len())
                    .chain(stages.iter().map(Vec::len))
                    .collect(),
            ),
            Architecture::Bag { embedding } => (vec![*embedding], vec![]),
            Architecture::TextCnn {
                embedding,
                widths,
                filters,
            } => (
                [*embedding, *filters]
                    .into_iter()
                    .chain(widths.iter().copied())
                    .collect(),
                vec![widths.len()],
            ),
            Architecture::Gru { embedding, hidden } => (vec![*embedding, *hidden], vec![]),
            Architecture::Transformer {
                embedding,
                heads,
                layers,
                feed_forward,
            } => (vec![*embedding, *heads, *feed_forward], vec![*layers]),
        };
        if widths.iter().any(|&w| w > MAX_WIDTH) || depths.iter().any(|&d| d > MAX_DEPTH) {
            return Err(Error::invalid(format!(
                "the {} has a width above {MAX_WIDTH} or more than {MAX_DEPTH} layers, blocks or stages",
                self.name()
            )));
        }
        Ok(())
    }
}

impl ModelSpec {
    /// A validated spec.
    ///
    /// # Errors
    /// [`Error::Invalid`] if the input is too small for the architecture, or a size is zero.
    pub fn new(
        architecture: Architecture,
        input: impl Into<InputShape>,
        classes: usize,
    ) -> Result<Self> {
        let spec = Self {
            format_version: SPEC_FORMAT_VERSION,
            input: input.into(),
            classes,
            architecture,
            normalization: None,
            split: None,
        };
        spec.validate()?;
        Ok(spec)
    }

    /// Checks sizes and the format version.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming the problem.
    pub fn validate(&self) -> Result<()> {
        if self.format_version != SPEC_FORMAT_VERSION {
            return Err(Error::invalid(format!(
                "model spec format_version {} is not supported (expected {SPEC_FORMAT_VERSION})",
                self.format_version
            )));
        }
        self.input.check_size()?;
        self.architecture.check_sizes()?;
        if self.input.values() == 0 || self.classes < 2 {
            return Err(Error::invalid(format!(
                "model needs a non-empty input and at least 2 classes (input {}, classes {})",
                self.input, self.classes
            )));
        }
        if self.architecture.takes_tokens() != matches!(self.input, InputShape::Tokens(_)) {
            let takes = if self.architecture.takes_tokens() {
                "token sequences (text)"
            } else {
                "images"
            };
            return Err(Error::invalid(format!(
                "the {} architecture takes {takes}, not {}",
                self.architecture.name(),
                self.input
            )));
        }
        self.validate_split()?;
        if let InputShape::Tokens(t) = self.input
            && t.vocab_size < 2
        {
            return Err(Error::invalid(
                "a text model needs a vocabulary of at least 2 tokens (padding and one more)",
            ));
        }
        if let Some(n) = &self.normalization
            && (n.mean.len() != self.input.channels()
                || self.input.image().is_none()
                || n.std.len() != self.input.channels()
                || n.std.iter().any(|s| !(*s > 0.0)))
        {
            return Err(Error::invalid(
                "normalisation needs one mean and one positive std per channel",
            ));
        }
        match &self.architecture {
            Architecture::Mlp { hidden } if hidden.contains(&0) => {
                Err(Error::invalid("MLP hidden layer widths must be positive"))
            }
            Architecture::Resnet { blocks, widths }
                if blocks.len() != widths.len()
                    || !(1..=4).contains(&blocks.len())
                    || blocks.contains(&0)
                    || widths.contains(&0) =>
            {
                Err(Error::invalid(
                    "ResNet needs 1 to 4 stages, as many block counts as widths, all positive",
                ))
            }
            Architecture::Vgg { stages }
                if stages.is_empty() || stages.iter().any(|s| s.is_empty() || s.contains(&0)) =>
            {
                Err(Error::invalid(
                    "VGG needs at least one stage, each with at least one conv of positive width",
                ))
            }
            Architecture::Lenet { channels, hidden }
                if channels.contains(&0) || hidden.contains(&0) =>
            {
                Err(Error::invalid("LeNet widths must be positive"))
            }
            Architecture::Lenet { .. }
                if self
                    .split
                    .as_ref()
                    .is_none_or(|s| s.part != SplitPart::Cloud)
                    && (self.image_input().height < LENET_MIN_SIDE
                        || self.image_input().width < LENET_MIN_SIDE) =>
            {
                Err(Error::invalid(format!(
                    "LeNet needs images of at least {LENET_MIN_SIDE}x{LENET_MIN_SIDE} pixels (its feature maps vanish below), got {}",
                    self.input
                )))
            }
            Architecture::Bag { embedding } if *embedding == 0 => {
                Err(Error::invalid("the embedding width must be positive"))
            }
            Architecture::TextCnn {
                embedding,
                widths,
                filters,
            } if *embedding == 0
                || *filters == 0
                || widths.is_empty()
                || widths.contains(&0)
                || widths.iter().any(|&w| w > self.token_input().length) =>
            {
                Err(Error::invalid(format!(
                    "TextCNN needs positive widths, at least one convolution, and no width above the sequence length {}",
                    self.token_input().length
                )))
            }
            Architecture::Gru { embedding, hidden } if *embedding == 0 || *hidden == 0 => {
                Err(Error::invalid("GRU widths must be positive"))
            }
            Architecture::Transformer {
                embedding,
                heads,
                layers,
                feed_forward,
            } if *heads == 0
                || *layers == 0
                || *feed_forward == 0
                || *embedding == 0
                || embedding % heads != 0 =>
            {
                Err(Error::invalid(
                    "Transformer needs positive sizes and a width divisible by its heads",
                ))
            }
            _ => Ok(()),
        }
    }

    /// The image input of an image model.
    ///
    /// # Panics
    /// If the spec takes tokens; [`validate`](Self::validate) rules that out for image
    /// architectures.
    pub(crate) fn image_input(&self) -> ImageShape {
        self.input
            .image()
            .expect("a validated image architecture takes images")
    }

    /// The token input of a text model.
    ///
    /// # Panics
    /// If the spec takes images; [`validate`](Self::validate) rules that out for text
    /// architectures.
    pub(crate) fn token_input(&self) -> TokenShape {
        self.input
            .tokens()
            .expect("a validated text architecture takes tokens")
    }

    /// Side lengths `(h, w)` of LeNet's feature maps after the second pooling (for a cloud
    /// part, whose input is already a feature map, after the stages it runs).
    pub(crate) fn lenet_feature_side(&self) -> (usize, usize) {
        let from = match &self.split {
            Some(Split {
                point,
                part: SplitPart::Cloud,
            }) => *point,
            _ => 0,
        };
        let side = |s: usize| stage_side(&self.architecture, from, 2, s).unwrap_or(0);
        let input = self.image_input();
        (side(input.height), side(input.width))
    }

    /// Checks the spec's [`Split`], if any: a split point of the architecture, a cloud
    /// part's input of at most the feature map's channels and big enough for its stages, kept
    /// channels sorted, distinct and in range.
    fn validate_split(&self) -> Result<()> {
        let Some(split) = &self.split else {
            return Ok(());
        };
        check_point(&self.architecture, split.point)?;
        let channels = feature_channels(&self.architecture, split.point)?;
        let input = self
            .input
            .image()
            .ok_or_else(|| Error::invalid("a split network takes images (or a feature map)"))?;
        match &split.part {
            SplitPart::Cloud => {
                let stages = stage_count(&self.architecture).unwrap_or(0);
                let remaining = |s| stage_side(&self.architecture, split.point, stages, s);
                if input.channels > channels
                    || remaining(input.height).is_none()
                    || remaining(input.width).is_none()
                    || self.normalization.is_some()
                {
                    return Err(Error::invalid(format!(
                        "the cloud part after split point {} takes a feature map of at most {channels} channels, big enough for its stages and not normalised, not {input}",
                        split.point
                    )));
                }
            }
            SplitPart::Composed { kept_channels } => {
                let sorted = kept_channels.windows(2).all(|w| w[0] < w[1]);
                if kept_channels.is_empty()
                    || !sorted
                    || kept_channels.iter().any(|&c| c as usize >= channels)
                {
                    return Err(Error::invalid(format!(
                        "the kept channels must be 1 to {channels} sorted distinct channels below {channels} (split point {})",
                        split.point
                    )));
                }
            }
            SplitPart::Local => {}
        }
        if !matches!(split.part, SplitPart::Cloud) {
            let stages = stage_count(&self.architecture).unwrap_or(0);
            let side = |s| stage_side(&self.architecture, 0, stages, s);
            if side(input.height).is_none() || side(input.width).is_none() {
                return Err(Error::invalid(format!(
                    "the {}'s feature maps vanish for {input} images",
                    self.architecture.name()
                )));
            }
        }
        Ok(())
    }

    /// Every tensor of the model's weights (BatchNorm running statistics included), in
    /// PyTorch names and layouts, in a fixed order.
    pub fn parameters(&self) -> Vec<ParamSpec> {
        super::params::parameters(self)
    }
}
