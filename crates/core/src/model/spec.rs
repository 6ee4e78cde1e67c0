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
    /// LeNet-5 (LeCun et al. 1998), no padding: conv 5x5 6 → ReLU → maxpool 2 → conv 5x5 16
    /// → ReLU → maxpool 2 → fc 120 → ReLU → fc 84 → ReLU → fc classes. Needs `H, W >= 14`.
    Lenet,
}

impl Architecture {
    /// The default MLP: two hidden layers of 256 and 128 units.
    pub fn default_mlp() -> Self {
        Architecture::Mlp {
            hidden: vec![256, 128],
        }
    }
}

/// A complete, buildable model description.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelSpec {
    /// Format version ([`SPEC_FORMAT_VERSION`]).
    pub format_version: u32,
    /// Shape of the input images the network takes.
    pub input: ImageShape,
    /// Number of classes (width of the logits).
    pub classes: usize,
    /// The network.
    pub architecture: Architecture,
}

/// One learnable tensor of a spec, in PyTorch layout and naming.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParamSpec {
    /// PyTorch-style name, e.g. `conv1.weight`.
    pub name: String,
    /// PyTorch layout: `[out, in]` for linear weights, `[out, in, kh, kw]` for convolutions.
    pub shape: Vec<usize>,
    /// Fan-in of the layer the tensor belongs to (inputs per output unit).
    pub fan_in: usize,
}

const LENET_KERNEL: usize = 5;

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
        match &self.architecture {
            Architecture::Mlp { hidden } if hidden.contains(&0) => {
                Err(Error::invalid("MLP hidden layer widths must be positive"))
            }
            Architecture::Lenet if self.input.height < 14 || self.input.width < 14 => {
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

    /// Every learnable tensor, in PyTorch names and layout, in a fixed order.
    pub fn parameters(&self) -> Vec<ParamSpec> {
        let mut params = Vec::new();
        let mut layer = |name: &str, weight: Vec<usize>| {
            let fan_in = weight[1..].iter().product();
            let out = weight[0];
            params.push(ParamSpec {
                name: format!("{name}.weight"),
                shape: weight,
                fan_in,
            });
            params.push(ParamSpec {
                name: format!("{name}.bias"),
                shape: vec![out],
                fan_in,
            });
        };
        match &self.architecture {
            Architecture::Mlp { hidden } => {
                let mut width = self.input.values();
                for (i, &h) in hidden.iter().chain([self.classes].iter()).enumerate() {
                    layer(&format!("layers.{i}"), vec![h, width]);
                    width = h;
                }
            }
            Architecture::Lenet => {
                let (h, w) = self.lenet_feature_side();
                let k = LENET_KERNEL;
                layer("conv1", vec![6, self.input.channels, k, k]);
                layer("conv2", vec![16, 6, k, k]);
                layer("fc1", vec![120, 16 * h * w]);
                layer("fc2", vec![84, 120]);
                layer("fc3", vec![self.classes, 84]);
            }
        }
        params
    }
}
