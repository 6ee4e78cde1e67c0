//! # amalgam-owner: the trusted side
//!
//! Everything that sees the owner's secrets: the original data ([`data`]), the secret
//! [`key`], the [`augment`]ers that turn data and model into a bundle, the [`extract`]or that
//! pulls the trained original model back out, the plain [`baseline`] it is compared with, and
//! the scoring of the privacy [`audit`].

pub mod audit;
pub mod augment;
pub mod baseline;
pub mod data;
pub mod extract;
pub mod key;
pub mod mixnn;
pub mod model_dir;
pub mod noise;
pub mod plain_bundle;
pub mod privynet;
pub mod setup;
pub mod tempo;
pub mod trained_torch;
