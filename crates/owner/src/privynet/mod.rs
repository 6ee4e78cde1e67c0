//! PrivyNet (Li et al., "PrivyNet: A Flexible Framework for Privacy-Preserving Deep Neural
//! Network Training", arXiv 1709.06161) on amalgam's trust boundary: split learning with a
//! frozen local network.
//!
//! The owner pre-trains a network on public data ([`crate::baseline`] on the public part, see
//! [`crate::data::TrainingPart`]), freezes its first stages (the **local part**, up to the **split
//! point**), runs them on its private images and keeps a random subset of `D` channels of the
//! **feature map**. The bundle ([`make_bundle`]) holds only those features, the cloud part's
//! spec (the remaining stages and the classifier, sized for `D` channels) and its initial
//! weights: the cloud trains it with the ordinary trainer. The key ([`PrivynetKey`]) holds the
//! local part and the kept channels; [`extract`] composes local part, channel selection and
//! trained cloud part into one model that takes raw images.
//!
//! Reconstructed, not from the paper: the split points are stage boundaries of amalgam's
//! LeNet, ResNet and VGG (see [`amalgam_core::model::split`]); the cloud part starts from
//! fresh seeded weights rather than the pre-trained ones (the paper trains it for the
//! owner's task; it does not say from what start).

mod bundle;
mod extract;
mod key;
mod one_process;

pub use bundle::{PrivynetOptions, as_sent, kept_channels, make_bundle, split_setup};
pub use extract::extract;
pub use key::PrivynetKey;
pub use one_process::train_in_one_process;
