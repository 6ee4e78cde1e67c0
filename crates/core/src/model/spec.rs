//! Serde model specs: enough for the cloud to rebuild a network from `model.json` and for the
//! owner to rebuild the original from the key.

use serde::{Deserialize, Serialize};

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
}

impl Architecture {
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
    /// Shape of the input images the network takes.
    pub input: ImageShape,
    /// Number of classes (width of the logits).
    pub classes: usize,
    /// The network.
    pub architecture: Architecture,
    /// Per-channel normalisation of the input, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub normalization: Option<super::Normalization>,
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
    /// All ones (BatchNorm scale and running variance).
    Ones,
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

impl ModelSpec {
    /// A validated spec.
    ///
    /// # Errors
    /// [`Error::Invalid`] if the input is too small for the architecture, or a size is zero.
    pub fn new(architecture: Architecture, input: ImageShape, classes: usize) -> Result<Self> {
        let spec = Self {
            format_version: SPEC_FORMAT_VERSION,
            input,
            classes,
            architecture,
            normalization: None,
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
        if self.input.values() == 0 || self.classes < 2 {
            return Err(Error::invalid(format!(
                "model needs a non-empty input and at least 2 classes (input {}, classes {})",
                self.input, self.classes
            )));
        }
        if let Some(n) = &self.normalization
            && (n.mean.len() != self.input.channels
                || n.std.len() != self.input.channels
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
            Architecture::Lenet { .. } if self.input.height < 14 || self.input.width < 14 => {
                Err(Error::invalid(format!(
                    "LeNet needs images of at least 14x14 pixels, got {}",
                    self.input
                )))
            }
            _ => Ok(()),
        }
    }

    /// Side lengths `(h, w)` of LeNet's feature maps after the second pooling.
    pub(crate) fn lenet_feature_side(&self) -> (usize, usize) {
        let side = |s: usize| ((s - LENET_KERNEL + 1) / 2 - LENET_KERNEL + 1) / 2;
        (side(self.input.height), side(self.input.width))
    }

    /// Every tensor of the model's weights (BatchNorm running statistics included), in
    /// PyTorch names and layouts, in a fixed order.
    pub fn parameters(&self) -> Vec<ParamSpec> {
        super::params::parameters(self)
    }
}
