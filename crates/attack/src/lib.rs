//! # amalgam-attack: what the cloud can recover
//!
//! The attacks of the privacy audit, run from the cloud's point of view: they take a
//! [`CloudView`] (the bundle, and optionally the trained weights and the training log) and
//! nothing else. This crate depends on `amalgam-core` only, so it cannot read the key; the
//! owner scores the results with the key afterwards (the owner crate's `audit` module).
//!
//! The attacks assume the design is public (Kerckhoffs): the attacker knows the published
//! noise kinds and that noise positions are shared by all samples, but not the key.

mod detection;
mod identification;
mod reconstruction;
mod view;

pub use detection::{NoiseScores, noise_scores};
pub use identification::{BranchEvidence, Identification, identify, smoothness};
pub use reconstruction::{Reconstructions, reconstruct};
pub use view::CloudView;

/// Everything the attacks produce, before any scoring.
#[derive(Clone, Debug)]
pub struct AttackResults {
    /// Noise-likeness of every position, one entry per statistic.
    pub scores: Vec<NoiseScores>,
    /// Which branch the attacker believes is real, and why.
    pub identification: Identification,
    /// The attacker's images of the training samples.
    pub reconstructions: Reconstructions,
}

/// Runs every attack on `view`.
pub fn run_attacks(view: &CloudView) -> AttackResults {
    let scores = noise_scores(&view.train, view.noise_count());
    let identification = identify(view);
    let combined = scores
        .iter()
        .find(|s| s.statistic == detection::COMBINED)
        .expect("the combined score is always computed");
    let reconstructions = reconstruct(view, &identification, combined);
    AttackResults {
        scores,
        identification,
        reconstructions,
    }
}
