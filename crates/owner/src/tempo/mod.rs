//! Tempo (Xu & Fang, arXiv 2401.11531), the trusted side: the secret permutations, the network
//! with its trusted (non-linear) steps, the offloaded products and their checks, and the
//! training loop. The untrusted worker is `amalgam_cloud::tempo`; what both share is
//! `amalgam_core::tempo`. Details the paper does not give are reconstructed (see
//! `docs/TEMPO.md`).

pub mod audit;
mod checkpoint;
mod freivalds;
pub mod graph;
pub mod key;
mod network;
mod products;
mod session;
mod train;

pub use key::{Permutation, TempoKey};
pub use network::{Norms, TrustedNetwork};
pub use products::{LocalProducts, Products, RemoteProducts, Traffic};
pub use session::{OffloadOptions, TempoOutcome, train_alone, train_with_worker};
pub use train::{TempoState, train};
