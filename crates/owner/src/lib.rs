//! # amalgam-owner: the trusted side
//!
//! Everything that sees the owner's secrets: the original data ([`data`]), the secret
//! [`key`], the [`augment`]ers that turn data and model into a bundle, the [`extract`]or that
//! pulls the trained original model back out, and the plain [`baseline`] it is compared with.

pub mod augment;
pub mod baseline;
pub mod data;
pub mod extract;
pub mod key;
pub mod model_dir;
pub mod noise;
pub mod setup;
