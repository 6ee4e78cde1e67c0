//! # amalgam-attack: what the cloud can recover
//!
//! The attacks of the privacy audit, run from the cloud's point of view, one module per
//! scheme: [`amalgam`] takes a [`CloudView`] (the bundle, and optionally the trained weights
//! and the training log) and what the attacker knows on its own ([`Knowledge`]: public
//! images, shadow bundles it made and keyed itself), and nothing else; [`privynet`] takes a
//! PrivyNet bundle's features, the published pre-trained network and public images; [`tempo`]
//! takes what a Tempo worker saw and public images.
//!
//! This crate depends on `amalgam-core` (and burn) only, so it cannot read the owner's key;
//! the owner scores the results with the key afterwards (the owner crate's `audit` module).
//!
//! The attacks assume the design is public (Kerckhoffs): the attacker knows the published
//! noise kinds, that noise positions are shared by all samples, and amalgam's defaults, and
//! can run amalgam itself; it does not know the key.

pub mod amalgam;
pub mod mixnn;
pub mod privynet;
pub mod tempo;

pub use amalgam::*;
