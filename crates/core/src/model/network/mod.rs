//! The burn networks built from a [`ModelSpec`]. Tensor names (PyTorch style, enum variants
//! skipped) are those of [`ModelSpec::parameters`].

mod lenet;
mod mlp;
mod resnet;
mod vgg;

use burn::prelude::*;

pub use lenet::Lenet;
pub use mlp::Mlp;
pub use resnet::Resnet;
pub use vgg::Vgg;

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
        }
    }

    /// Folds the pending running-statistics update of every BatchNorm layer into its value.
    ///
    /// burn's `RunningState` keeps a layer's latest update aside (per thread) until the next
    /// forward pass reads it, and reading the weights does not fold it in: without this call a
    /// saved or extracted model would miss the last batch's update.
    pub fn flush_running_statistics(&self) {
        match self {
            Network::Mlp(_) | Network::Lenet(_) => {}
            Network::Resnet(net) => net.batch_norms().for_each(flush),
            Network::Vgg(net) => net.batch_norms().for_each(flush),
        }
    }

    /// Logits `[B, classes]` for images `[B, C, H, W]`.
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        match self {
            Network::Mlp(net) => net.forward(images),
            Network::Lenet(net) => net.forward(images),
            Network::Resnet(net) => net.forward(images),
            Network::Vgg(net) => net.forward(images),
        }
    }
}
