//! # amalgam-cloud: the untrusted side
//!
//! Trains a bundle with an ordinary training loop and writes the trained augmented weights.
//! This crate depends on `amalgam-core` only. It cannot name the owner's key, original data or
//! extractor: `amalgam-owner` is not among its dependencies (see `Cargo.toml`), so the
//! compiler itself enforces the trust boundary.

mod augmented_network;
mod checkpoint;
mod input_filter;
pub mod mixnn;
pub mod tempo;
mod trainer;

pub use augmented_network::AugmentedNetwork;
pub use checkpoint::checkpoint_dir;
pub use input_filter::InputFilter;
pub use trainer::{TrainOptions, TrainSummary, train_bundle};
