//! The one place that chooses where tensors live.
//!
//! amalgam runs on burn's pure-Rust `flex` CPU backend (SIMD kernels, rayon threads). It builds
//! offline and is deterministic for a fixed thread count, which the exactness guarantee needs.
//! A GPU backend is added here, behind a cargo feature, without touching the rest.

use burn::tensor::Device;

/// The device for inference and evaluation (no autodiff).
pub fn inference_device() -> Device {
    Device::flex()
}

/// The device for training: [`inference_device`] with autodiff.
pub fn training_device() -> Device {
    inference_device().autodiff()
}
