//! Tempo: what the worker can recover from its own view ([`amalgam_core::tempo::WorkerView`]):
//! the links between consecutive layers by exact value matching ([`link_columns`]), a working
//! copy of a fully connected model ([`chain_layers`]), the training images' pixel order
//! from public image statistics ([`pixel_order`]), and images from a convolution's im2col
//! rows ([`kernel_layout`], [`assemble`]). Known attacks on permutation obfuscation
//! (see `../shared/docs/related-systems.md`); the implementations are ours.

mod jigsaw;
mod links;
mod pixels;
mod reassemble;

pub use jigsaw::{Piece, assemble, canonical_patches, im2col, kernel_layout};
pub use links::{Between, ColumnLink, link_columns};
pub use pixels::{PixelStatistics, correlations, pixel_order, refine_order};
pub use reassemble::chain_layers;
