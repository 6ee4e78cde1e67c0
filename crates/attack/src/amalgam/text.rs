//! Attacks on text bundles (token sequences `[N, L']`, one "channel"): noise-token detection
//! from per-position statistics and from how well each position's tokens fit their
//! neighbours under a bigram model estimated from the bundle's own sequences, real-branch
//! identification, and reconstruction of the texts.
//!
//! Real tokens follow the real tokens around them; noise tokens (drawn from the unigram
//! distribution) do not, so adjacent pairs that involve a noise position have a pointwise
//! mutual information near zero. The bigram counts come from the very sequences under attack
//! (every adjacent pair of non-padding tokens), which is all the cloud has.

use std::collections::{HashMap, HashSet};

use amalgam_core::data::{LabelledSet, TokenSet};
use amalgam_core::model::{PAD_TOKEN, TokenShape};

use super::detection::COMBINED;
use super::identification::{
    BranchEvidence, common_evidence, identify, ranks_per_channel, repeated_fraction, tie_break,
};
use super::position_stats::normalised_ranks;
use crate::{CloudView, Identification, Knowledge, NoiseScores, Shadow, ShadowModels};

/// Offsets of the neighbours whose fit is measured: left, right, and one further each way.
const NEIGHBOURS: [isize; 4] = [-1, 1, -2, 2];

/// Counts of tokens and of adjacent token pairs (padding excluded).
#[derive(Clone, Debug)]
pub struct Bigrams {
    unigrams: HashMap<u32, f64>,
    pairs: HashMap<(u32, u32), f64>,
    tokens: f64,
}

impl Bigrams {
    /// The counts over every sequence of `set`.
    pub fn of(set: &TokenSet) -> Self {
        let (mut unigrams, mut pairs) = (HashMap::new(), HashMap::new());
        let mut tokens = 0.0;
        for i in 0..set.len() {
            let sample = set.sample(i);
            for (j, &t) in sample.iter().enumerate() {
                if t == PAD_TOKEN {
                    continue;
                }
                *unigrams.entry(t).or_insert(0.0) += 1.0;
                tokens += 1.0;
                if let Some(&next) = sample.get(j + 1).filter(|&&n| n != PAD_TOKEN) {
                    *pairs.entry((t, next)).or_insert(0.0) += 1.0;
                }
            }
        }
        Self {
            unigrams,
            pairs,
            tokens,
        }
    }

    /// How much better than its unigram probability `b` is predicted by the token `a` before
    /// it: `log P(b | a) / P(b)`, with `P(b | a) = (c(a, b) + P(b)) / (c(a) + 1)` (a Dirichlet
    /// prior of weight 1 toward the unigram). For a pair of the counted sequences its own
    /// occurrence is left out of every count: without that, a token seen once, as most
    /// uniform noise tokens are, would look perfectly predicted by its only neighbour. 0 when
    /// there is no evidence about `a`; negative when a well-known `a` is followed by an
    /// unexpected `b`.
    pub fn pmi(&self, a: u32, b: u32) -> f64 {
        let held_out = |c: Option<&f64>| (c.copied().unwrap_or(0.0) - 1.0).max(0.0);
        let p_b = (held_out(self.unigrams.get(&b)) + 0.5) / self.tokens.max(1.0);
        let pair = held_out(self.pairs.get(&(a, b)));
        let count_a = held_out(self.unigrams.get(&a));
        ((pair + p_b) / ((count_a + 1.0) * p_b)).ln()
    }

    /// `log P(t)` under the unigram counts.
    fn log_unigram(&self, t: u32) -> f64 {
        ((self.unigrams.get(&t).copied().unwrap_or(0.0) + 0.5) / self.tokens.max(1.0)).ln()
    }
}

/// Per position of the `L'` sequence, raw statistics over the samples: padding fraction, mean
/// log unigram probability, and the mean PMI with each neighbour of [`NEIGHBOURS`] (over the
/// samples where both tokens are not padding; 0 where there is none).
fn position_statistics(set: &TokenSet, bigrams: &Bigrams) -> Vec<Vec<f64>> {
    let length = set.shape.length;
    let columns = 2 + NEIGHBOURS.len();
    let mut sums = vec![vec![0.0f64; length]; columns];
    let mut counts = vec![vec![0.0f64; length]; columns];
    for i in 0..set.len() {
        let sample = set.sample(i);
        for (p, &t) in sample.iter().enumerate() {
            let pad = t == PAD_TOKEN;
            sums[0][p] += f64::from(u8::from(pad));
            counts[0][p] += 1.0;
            if pad {
                continue;
            }
            sums[1][p] += bigrams.log_unigram(t);
            counts[1][p] += 1.0;
            for (k, &offset) in NEIGHBOURS.iter().enumerate() {
                let q = p as isize + offset;
                let Some(&u) = usize::try_from(q).ok().and_then(|q| sample.get(q)) else {
                    continue;
                };
                if u == PAD_TOKEN {
                    continue;
                }
                let pmi = if offset < 0 {
                    bigrams.pmi(u, t)
                } else {
                    bigrams.pmi(t, u)
                };
                sums[2 + k][p] += pmi;
                counts[2 + k][p] += 1.0;
            }
        }
    }
    sums.iter()
        .zip(&counts)
        .map(|(s, c)| {
            s.iter()
                .zip(c)
                .map(|(s, c)| if *c > 0.0 { s / c } else { 0.0 })
                .collect()
        })
        .collect()
}

/// Per position, the text position detector's features: the rank of each statistic and its
/// square, the raw padding fraction, and the filter coverage (fraction of branches reading
/// the position). One channel.
pub fn text_position_rows(view: &CloudView<TokenSet>, bigrams: &Bigrams) -> Vec<Vec<Vec<f64>>> {
    let statistics = position_statistics(&view.train, bigrams);
    let branches = &view.bundle.spec.branches;
    let mut coverage = vec![0.0f64; view.train.shape.length];
    for branch in branches {
        for &k in &branch.keep_indices[0] {
            coverage[k as usize] += 1.0 / branches.len() as f64;
        }
    }
    let mut columns = statistics.clone();
    columns.push(coverage.clone());
    let ranks: Vec<Vec<f64>> = columns.iter().map(|c| normalised_ranks(c)).collect();
    vec![
        (0..coverage.len())
            .map(|p| {
                let mut row: Vec<f64> = ranks.iter().map(|r| r[p]).collect();
                row.extend(ranks.iter().map(|r| r[p] * r[p]));
                row.extend([statistics[0][p], coverage[p]]);
                row
            })
            .collect(),
    ]
}

/// The unsupervised noise scores of the text positions (higher: more likely noise):
/// `padding` (the padding fraction), `fit` (minus the mean PMI with the left and right
/// neighbours), `skip_fit` (the same two positions away), and [`COMBINED`], the attacker's
/// choice: `fit`, since noise tokens are drawn independently of their neighbours (picking by
/// how cleanly a statistic splits, as for images, picks padding, whose direction the split
/// does not tell).
fn text_noise_scores(set: &TokenSet, bigrams: &Bigrams) -> Vec<NoiseScores> {
    let s = position_statistics(set, bigrams);
    let columns: Vec<(&'static str, Vec<f32>)> = vec![
        ("padding", s[0].iter().map(|&v| v as f32).collect()),
        (
            "fit",
            s[2].iter()
                .zip(&s[3])
                .map(|(l, r)| (-(l + r) / 2.0) as f32)
                .collect(),
        ),
        (
            "skip_fit",
            s[4].iter()
                .zip(&s[5])
                .map(|(l, r)| (-(l + r) / 2.0) as f32)
                .collect(),
        ),
    ];
    let best = columns[1].1.clone();
    columns
        .into_iter()
        .chain([(COMBINED, best)])
        .map(|(statistic, scores)| NoiseScores {
            statistic,
            scores: vec![scores],
        })
        .collect()
}

/// The tokens at positions `keep` of every sequence of `set` (a branch's filter).
pub fn gather_tokens(set: &TokenSet, keep: &[u32]) -> TokenSet {
    let mut tokens = Vec::with_capacity(set.len() * keep.len());
    for i in 0..set.len() {
        let sample = set.sample(i);
        tokens.extend(keep.iter().map(|&k| sample[k as usize]));
    }
    TokenSet {
        shape: TokenShape {
            length: keep.len(),
            vocab_size: set.shape.vocab_size,
        },
        tokens,
        labels: set.labels.clone(),
    }
}

/// The mean PMI of adjacent non-padding tokens of `set`, and its fraction of non-padding
/// tokens.
fn naturalness(set: &TokenSet, bigrams: &Bigrams) -> (f64, f64) {
    let (mut pmi, mut pairs, mut filled) = (0.0, 0usize, 0usize);
    for i in 0..set.len() {
        let sample = set.sample(i);
        filled += sample.iter().filter(|&&t| t != PAD_TOKEN).count();
        for w in sample.windows(2) {
            if w[0] != PAD_TOKEN && w[1] != PAD_TOKEN {
                pmi += bigrams.pmi(w[0], w[1]);
                pairs += 1;
            }
        }
    }
    (
        pmi / pairs.max(1) as f64,
        filled as f64 / (set.len() * set.shape.length).max(1) as f64,
    )
}

/// The fraction of `set`'s sequences that do not occur in `public` (0: all are public).
fn unmatched_fraction(set: &TokenSet, public: &HashSet<&[u32]>) -> f64 {
    let unmatched = (0..set.len())
        .filter(|&i| !public.contains(set.sample(i)))
        .count();
    unmatched as f64 / set.len().max(1) as f64
}

/// The attacker's evidence about every branch of a text bundle; with `public` texts, the
/// public distance of a branch is the fraction of its filtered texts that are not among them.
fn text_evidence(
    view: &CloudView<TokenSet>,
    bigrams: &Bigrams,
    scores: &NoiseScores,
    public: Option<&TokenSet>,
) -> Vec<BranchEvidence> {
    let public: Option<HashSet<&[u32]>> =
        public.map(|p| (0..p.len()).map(|i| p.sample(i)).collect());
    let score_ranks = ranks_per_channel(scores);
    view.bundle
        .spec
        .branches
        .iter()
        .enumerate()
        .map(|(b, branch)| {
            let keep = &branch.keep_indices[0];
            let filtered = gather_tokens(&view.train, keep);
            let (smoothness, total_variation) = naturalness(&filtered, bigrams);
            let common = common_evidence(view, b, &score_ranks, || gather_tokens(&view.test, keep));
            BranchEvidence {
                smoothness,
                total_variation,
                repeated_images: repeated_fraction(
                    (0..filtered.len()).map(|i| filtered.sample(i).to_vec()),
                ),
                public_distance: public.as_ref().map(|p| unmatched_fraction(&filtered, p)),
                ..common
            }
        })
        .collect()
}

impl Knowledge {
    /// Trains the shadow detectors on text shadow bundles (see [`ShadowModels::train`]), with
    /// the attacker's `public` texts for matching.
    pub fn with_text_shadows(public: Option<TokenSet>, shadows: &[Shadow<TokenSet>]) -> Self {
        let shadow = (!shadows.is_empty()).then(|| {
            ShadowModels::train(
                shadows,
                |view| Bigrams::of(&view.train),
                text_position_rows,
                |view, bigrams, scores| text_evidence(view, bigrams, scores, public.as_ref()),
            )
        });
        Self {
            public: None,
            public_texts: public,
            shadow,
        }
    }
}

/// The attacker's texts of the training samples, each of the original length `L`.
#[derive(Clone, Debug)]
pub struct TextReconstructions {
    /// The identified branch's filter applied to the augmented sequences.
    pub from_branch: TokenSet,
    /// The `L` positions judged least noise-like, in order.
    pub drop_noise: TokenSet,
}

/// Everything the text attacks produce, before any scoring.
#[derive(Clone, Debug)]
pub struct TextAttackResults {
    /// Noise-likeness of every position, one entry per statistic (the last is the best).
    pub scores: Vec<NoiseScores>,
    /// Which branch the attacker believes is real, and why.
    pub identification: Identification,
    /// The attacker's texts of the training samples.
    pub reconstructions: TextReconstructions,
}

/// Runs every text attack on `view` with the attacker's `knowledge`.
pub fn run_text_attacks(view: &CloudView<TokenSet>, knowledge: &Knowledge) -> TextAttackResults {
    let bigrams = Bigrams::of(&view.train);
    let length = view.bundle.spec.branches[0].keep_indices[0].len();
    let mut scores = text_noise_scores(&view.train, &bigrams);
    if let Some(shadow) = &knowledge.shadow {
        scores.push(shadow.noise_scores(&text_position_rows(view, &bigrams)));
    }
    let best = scores
        .last()
        .expect("the combined score is always computed");
    let identification = identify(
        text_evidence(view, &bigrams, best, knowledge.public_texts.as_ref()),
        knowledge.shadow.as_ref(),
        tie_break(&view.bundle.fingerprint),
    );
    let mut order: Vec<u32> = (0..view.train.shape.length as u32).collect();
    order.sort_by(|&a, &b| best.scores[0][a as usize].total_cmp(&best.scores[0][b as usize]));
    let mut judged_real = order[..length].to_vec();
    judged_real.sort_unstable();
    let picked = &view.bundle.spec.branches[identification.pick].keep_indices[0];
    let reconstructions = TextReconstructions {
        from_branch: gather_tokens(&view.train, picked),
        drop_noise: gather_tokens(&view.train, &judged_real),
    };
    TextAttackResults {
        scores,
        identification,
        reconstructions,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pmi_is_high_for_pairs_that_always_follow_each_other() {
        // Sequences "1 2 3 0", "1 2 4 0", "5 6 0 0": 1 is always followed by 2.
        let set = TokenSet::new(
            TokenShape {
                length: 4,
                vocab_size: 7,
            },
            vec![1, 2, 3, 0, 1, 2, 4, 0, 5, 6, 0, 0],
            vec![0, 0, 1],
        )
        .unwrap();
        let bigrams = Bigrams::of(&set);
        assert!(bigrams.pmi(1, 2) > 0.0, "seen twice");
        assert_eq!(bigrams.pmi(5, 6), 0.0, "seen once: no evidence left");
        assert!(
            bigrams.pmi(2, 1) < 0.0,
            "a known token, an unseen successor"
        );
        assert_eq!(gather_tokens(&set, &[0, 2]).tokens, vec![1, 3, 1, 4, 5, 0]);
    }
}
