//! The burn networks built from a [`ModelSpec`]. Tensor names (PyTorch style, enum variants
//! skipped) are those of [`ModelSpec::parameters`].

mod bag;
mod gru;
mod lenet;
mod mlp;
mod resnet;
mod text_cnn;
mod transformer;
mod vgg;

use burn::prelude::*;

pub use bag::Bag;
pub use gru::Gru;
pub use lenet::Lenet;
pub use mlp::Mlp;
pub use resnet::Resnet;
pub use text_cnn::TextCnn;
pub use transformer::Transformer;
pub use vgg::Vgg;

/// A batch of network inputs.
#[derive(Clone, Debug)]
pub enum InputBatch {
    /// Images `[B, C, H, W]`, values in [0, 1] (before any normalisation).
    Images(Tensor<4>),
    /// Token ids `[B, L]`.
    Tokens(Tensor<2, Int>),
}

impl InputBatch {
    /// The images.
    ///
    /// # Panics
    /// If the batch holds tokens: a validated spec never feeds tokens to an image network.
    pub fn images(self) -> Tensor<4> {
        match self {
            InputBatch::Images(x) => x,
            InputBatch::Tokens(_) => panic!("an image network was given tokens"),
        }
    }

    /// The token ids.
    ///
    /// # Panics
    /// If the batch holds images: a validated spec never feeds images to a text network.
    pub fn tokens(self) -> Tensor<2, Int> {
        match self {
            InputBatch::Tokens(x) => x,
            InputBatch::Images(_) => panic!("a text network was given images"),
        }
    }
}

use super::spec::{Architecture, ModelSpec};

/// See [`Network::flush_running_statistics`].
fn flush(norm: &burn::nn::BatchNorm) {
    norm.running_mean.value_sync();
    norm.running_var.value_sync();
}

/// A network of any supported architecture.
#[derive(Module, Debug)]
pub enum Network {
    /// See [`Mlp`].
    Mlp(Mlp),
    /// See [`Lenet`].
    Lenet(Lenet),
    /// See [`Resnet`].
    Resnet(Resnet),
    /// See [`Vgg`].
    Vgg(Vgg),
    /// See [`Bag`].
    Bag(Bag),
    /// See [`TextCnn`].
    TextCnn(TextCnn),
    /// See [`Gru`].
    Gru(Gru),
    /// See [`Transformer`].
    Transformer(Transformer),
}

impl Network {
    /// Builds the network for `spec` on `device`. Its weights are burn's defaults; load the
    /// seeded ones with [`set_weights`](super::set_weights). BatchNorm layers use batch
    /// statistics on an autodiff device and their running statistics otherwise.
    pub fn new(spec: &ModelSpec, device: &Device) -> Self {
        match &spec.architecture {
            Architecture::Mlp { hidden } => Network::Mlp(Mlp::new(spec, hidden, device)),
            Architecture::Lenet { channels, hidden } => {
                Network::Lenet(Lenet::new(spec, *channels, *hidden, device))
            }
            Architecture::Resnet { blocks, widths } => {
                Network::Resnet(Resnet::new(spec, blocks, widths, device))
            }
            Architecture::Vgg { stages } => Network::Vgg(Vgg::new(spec, stages, device)),
            Architecture::Bag { embedding } => Network::Bag(Bag::new(spec, *embedding, device)),
            Architecture::TextCnn {
                embedding,
                widths,
                filters,
            } => Network::TextCnn(TextCnn::new(spec, *embedding, widths, *filters, device)),
            Architecture::Gru { embedding, hidden } => {
                Network::Gru(Gru::new(spec, *embedding, *hidden, device))
            }
            Architecture::Transformer {
                embedding,
                heads,
                layers,
                feed_forward,
            } => Network::Transformer(Transformer::new(
                spec,
                [*embedding, *heads, *layers, *feed_forward],
                device,
            )),
        }
    }

    /// Folds the pending running-statistics update of every BatchNorm layer into its value.
    ///
    /// burn's `RunningState` keeps a layer's latest update aside (per thread) until the next
    /// forward pass reads it, and reading the weights does not fold it in: without this call a
    /// saved or extracted model would miss the last batch's update.
    pub fn flush_running_statistics(&self) {
        match self {
            Network::Mlp(_)
            | Network::Lenet(_)
            | Network::Bag(_)
            | Network::TextCnn(_)
            | Network::Gru(_)
            | Network::Transformer(_) => {}
            Network::Resnet(net) => net.batch_norms().for_each(flush),
            Network::Vgg(net) => net.batch_norms().for_each(flush),
        }
    }

    /// The feature map `[B, C_p, h, w]` of a split network's local part (see
    /// [`crate::model::split`]) for images `[B, C, H, W]` (normalised if the spec says so).
    ///
    /// # Panics
    /// If the spec is not the local part of a split network; [`ModelSpec::validate`] accepts
    /// splits of LeNet, ResNet and VGG only.
    pub fn features(&self, images: Tensor<4>) -> Tensor<4> {
        match self {
            Network::Lenet(net) => net.features(images),
            Network::Resnet(net) => net.features(images),
            Network::Vgg(net) => net.features(images),
            _ => panic!("only LeNet, ResNet and VGG can be split"),
        }
    }

    /// Logits `[B, classes]` for a batch of the spec's inputs.
    ///
    /// # Panics
    /// If the batch is of the other kind (images for a text network or tokens for an image
    /// one), or if the network is a split network's local part, which has no classifier.
    pub fn forward(&self, input: InputBatch) -> Tensor<2> {
        match self {
            Network::Mlp(net) => net.forward(input.images()),
            Network::Lenet(net) => net.forward(input.images()),
            Network::Resnet(net) => net.forward(input.images()),
            Network::Vgg(net) => net.forward(input.images()),
            Network::Bag(net) => net.forward(input.tokens()),
            Network::TextCnn(net) => net.forward(input.tokens()),
            Network::Gru(net) => net.forward(input.tokens()),
            Network::Transformer(net) => net.forward(input.tokens()),
        }
    }
}
