//! Tempo's untrusted worker: it holds the obfuscated weights and their optimizer state, and
//! computes the offloaded products forward and backward and the weight updates, never seeing
//! a plain input, activation or weight (the trusted process permutes them first).

mod worker;

pub use worker::{Fault, MAX_KEPT_INPUT_VALUES, Worker, serve};
