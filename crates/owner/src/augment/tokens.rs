//! The dataset augmenter for text: scatters every sequence's tokens to the keep indices of a
//! longer sequence and fills the noise positions with noise tokens.

use amalgam_core::data::{LabelledSet, TokenSet};
use amalgam_core::model::{InputShape, PAD_TOKEN, TokenShape};
use amalgam_core::rng::{Stream, substream};
use amalgam_core::{Error, Result};
use rand::Rng;
use rand::distr::Distribution;
use rand::distr::weighted::WeightedIndex;
use rayon::prelude::*;

use crate::data::SampleSource;
use crate::noise::interleave::{DecoyViews, unread_positions};
use crate::noise::{NoiseKind, NoiseLayout};

/// Where noise tokens come from: a distribution over token ids, fixed from the training split.
#[derive(Clone, Debug)]
pub struct TokenNoise {
    ids: Vec<u32>,
    weights: WeightedIndex<u64>,
}

impl TokenNoise {
    /// [`NoiseKind::Unigram`]: every non-padding id weighted by its count in `train` (read
    /// chunk by chunk); [`NoiseKind::Uniform`]: every non-padding id of the vocabulary alike.
    ///
    /// # Errors
    /// [`Error::Invalid`] for the image-only kinds, or a training split without any token;
    /// `train`'s read errors.
    pub fn new(kind: NoiseKind, train: &impl SampleSource<Chunk = TokenSet>) -> Result<Self> {
        let vocab = train
            .sample_shape()
            .tokens()
            .expect("token sets have token shapes")
            .vocab_size;
        let counts: Vec<u64> = match kind {
            NoiseKind::Uniform => vec![1; vocab],
            NoiseKind::Unigram => {
                let mut counts = vec![0u64; vocab];
                train.for_each_chunk(&mut |_, chunk| {
                    for &t in &chunk.tokens {
                        counts[t as usize] += 1;
                    }
                    Ok(())
                })?;
                counts
            }
            NoiseKind::Gaussian | NoiseKind::Resample | NoiseKind::Interleave => {
                return Err(Error::invalid(format!(
                    "{kind:?} noise is for images; text takes unigram or uniform noise"
                )));
            }
        };
        let (ids, weights): (Vec<u32>, Vec<u64>) = counts
            .into_iter()
            .enumerate()
            .filter(|&(id, count)| id as u32 != PAD_TOKEN && count > 0)
            .map(|(id, count)| (id as u32, count))
            .unzip();
        let weights = WeightedIndex::new(weights)
            .map_err(|_| Error::invalid("the training split holds no token to draw noise from"))?;
        Ok(Self { ids, weights })
    }

    fn draw(&self, rng: &mut impl Rng) -> u32 {
        self.ids[self.weights.sample(rng)]
    }
}

/// What fills a text set's non-real positions.
#[derive(Clone, Debug)]
pub enum TextNoise {
    /// Noise tokens ([`NoiseKind::Unigram`] or [`NoiseKind::Uniform`]).
    Tokens(TokenNoise),
    /// The decoys' views ([`NoiseKind::Interleave`]).
    Views(DecoyViews<TokenSet>),
}

/// Augments every sequence of `set` with `layout`, in parallel over samples.
///
/// With noise tokens ([`TextNoise::Tokens`]), per sample: `x'[keep] = x` (padding stays
/// padding) and each noise position `p` gets a
/// noise token if `p <= cutoff`, padding otherwise. The cutoff is drawn uniformly between the
/// position of the last non-padding real token and the keep index after it (exclusive), so
/// every augmented sequence is one run of tokens followed by padding, and where that run ends
/// does not single out a keep index. (Noise after the real text, with real padding kept, would
/// show the cloud which positions are ever padding: the keep indices.) The randomness of
/// sample `i` comes from sub-stream `first_index + i` of [`Stream::NoiseValues`] of
/// `key_seed`, so the result does not depend on the thread count. The labels are copied.
///
/// With the decoys' views ([`TextNoise::Views`]): `x'[keep] = x`, each decoy's view holds its
/// donor text (its own padding included), and each position no view reads takes the token at
/// the corresponding position (`p * L / L'`) of one of the K + 1 texts, drawn at random.
pub fn augment_tokens(
    set: &TokenSet,
    layout: &NoiseLayout,
    noise: &TextNoise,
    key_seed: u64,
    first_index: u64,
) -> TokenSet {
    let shape = token_shape(layout.augmented);
    let keep = &layout.keep_indices[0];
    let unread = match noise {
        TextNoise::Tokens(_) => Vec::new(),
        TextNoise::Views(views) => unread_positions(layout, &views.keep_indices).remove(0),
    };
    let mut tokens = vec![PAD_TOKEN; set.len() * shape.length];
    tokens
        .par_chunks_mut(shape.length)
        .enumerate()
        .for_each(|(i, out)| {
            let mut rng = substream(key_seed, Stream::NoiseValues, first_index + i as u64);
            let sample = set.sample(i);
            for (&k, &t) in keep.iter().zip(sample) {
                out[k as usize] = t;
            }
            let noise = match noise {
                TextNoise::Tokens(noise) => noise,
                TextNoise::Views(views) => {
                    fill_views(
                        out,
                        sample,
                        views,
                        &unread,
                        first_index + i as u64,
                        &mut rng,
                    );
                    return;
                }
            };
            let last = sample.iter().rposition(|&t| t != PAD_TOKEN);
            let (start, next) = match last {
                Some(j) => (keep[j] as usize + 1, keep.get(j + 1)),
                None => (0, keep.first()),
            };
            let end = next.map_or(shape.length, |&k| k as usize);
            // Noise fills positions below `start + extra`, with `extra` uniform in 0..=end-start.
            let cutoff = start + rng.random_range(0..=end - start);
            for &p in &layout.noise_positions[0] {
                if (p as usize) < cutoff {
                    out[p as usize] = noise.draw(&mut rng);
                }
            }
        });
    TokenSet {
        shape,
        tokens,
        labels: set.labels().to_vec(),
    }
}

/// Writes the decoys' donor texts of sample `index` into their views of `out` and fills the
/// `unread` positions from any of the K + 1 texts (`real` included) at the corresponding
/// position.
fn fill_views(
    out: &mut [u32],
    real: &[u32],
    views: &DecoyViews<TokenSet>,
    unread: &[u32],
    index: u64,
    rng: &mut impl Rng,
) {
    let donors = views.donors_of(index);
    for (keep, donor) in views.keep_indices.iter().zip(&donors) {
        for (&k, &t) in keep[0].iter().zip(donor.iter()) {
            out[k as usize] = t;
        }
    }
    for &p in unread {
        let source = p as usize * real.len() / out.len();
        let text = rng.random_range(0..=donors.len());
        out[p as usize] = donors.get(text).map_or(real[source], |d| d[source]);
    }
}

/// The token shape of a text layout.
fn token_shape(shape: InputShape) -> TokenShape {
    shape
        .tokens()
        .expect("token sets are augmented with token layouts")
}
