//! # amalgam-core: what both sides of the trust boundary share
//!
//! Nothing in this crate is secret. It holds the file formats (safetensors tensors, JSON
//! specs), the model specs and the burn networks built from them, the seeded random streams,
//! the training loop, and the [`bundle`] format: the one thing that crosses from the owner to
//! the cloud. The owner's secrets live in `amalgam-owner`; the cloud trainer lives in
//! `amalgam-cloud`, which depends on this crate only.

pub mod backend;
pub mod bundle;
pub mod data;
pub mod error;
pub mod files;
pub mod memory;
pub mod mixnn;
pub mod model;
pub mod rng;
pub mod tempo;
pub mod tensor_stream;
pub mod tensors;
pub mod training;

pub use error::{Error, Result};
