//! Attacks on Amalgam bundles: noise-position detection (per-position statistics and
//! shadow-trained detectors), real-branch identification, reconstruction, and the text
//! attacks.

mod detection;
mod identification;
mod logistic;
mod ordered_subset;
mod position_stats;
mod reconstruction;
mod shadow;
mod text;
mod view;

pub use detection::{COMBINED, NoiseScores, noise_scores};
pub use identification::{
    BranchEvidence, Identification, branch_evidence, identify, repeated_fraction, smoothness,
    tie_break,
};
pub use logistic::Logistic;
pub use ordered_subset::{MAX_GAP, ordered_subset};
pub use position_stats::{PositionStats, normalised_ranks};
pub use reconstruction::{Reconstructions, reconstruct};
pub use shadow::{SHADOW_TRAINED, Shadow, ShadowModels, position_rows};
pub use text::{
    Bigrams, TextAttackResults, TextReconstructions, gather_tokens, run_text_attacks,
    text_position_rows,
};
pub use view::{CloudView, ViewSamples};

use amalgam_core::data::{ImageSet, TokenSet};

/// What the attacker brings of its own.
#[derive(Clone, Debug, Default)]
pub struct Knowledge {
    /// Public images of the filtered (original) shape, for the public-set matching attack.
    pub public: Option<ImageSet>,
    /// Public texts (tokenised like the bundle), for the same attack on text bundles.
    pub public_texts: Option<TokenSet>,
    /// Detectors trained on the attacker's shadow bundles.
    pub shadow: Option<ShadowModels>,
}

impl Knowledge {
    /// Trains the shadow detectors on `shadows` (see [`ShadowModels::train`]), with the same
    /// branch evidence the attack on the target uses.
    pub fn with_shadows(public: Option<ImageSet>, shadows: &[Shadow]) -> Self {
        let shadow = (!shadows.is_empty()).then(|| {
            ShadowModels::train(
                shadows,
                |view| PositionStats::of_set(&view.train),
                |view, stats: &Vec<PositionStats>| position_rows(view, stats),
                |view, stats: &Vec<PositionStats>, scores| {
                    branch_evidence(view, stats, scores, public.as_ref())
                },
            )
        });
        Self {
            public,
            public_texts: None,
            shadow,
        }
    }
}

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

/// Runs every attack on `view` with the attacker's `knowledge`.
pub fn run_attacks(view: &CloudView, knowledge: &Knowledge) -> AttackResults {
    let stats = PositionStats::of_set(&view.train);
    let mut scores = noise_scores(&stats, view.noise_count());
    if let Some(shadow) = &knowledge.shadow {
        scores.push(shadow.noise_scores(&position_rows(view, &stats)));
    }
    // The attacker's best scores: the shadow-trained ones if it has them.
    let best = scores
        .last()
        .expect("the combined score is always computed");
    let evidence = branch_evidence(view, &stats, best, knowledge.public.as_ref());
    let identification = identify(
        evidence,
        knowledge.shadow.as_ref(),
        tie_break(&view.bundle.fingerprint),
    );
    let reconstructions = reconstruct(view, &identification, best);
    AttackResults {
        scores,
        identification,
        reconstructions,
    }
}
