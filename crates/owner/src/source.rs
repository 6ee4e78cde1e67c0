//! Where the augmenter reads original samples from: a set in memory, or a file read chunk by
//! chunk so that a set larger than memory can be augmented (see [`crate::data::IdxImages`]).

use amalgam_core::Result;
use amalgam_core::data::{ImageSet, TokenSet};
use amalgam_core::model::{InputShape, Normalization};

use crate::augment::{Augmentable, CHUNK_SAMPLES, TokenNoise, image_noise};
use crate::noise::NoiseKind;

/// Original samples, visited in chunks of [`CHUNK_SAMPLES`] (the last one shorter).
pub trait SampleSource: Sync {
    /// The in-memory set a chunk is.
    type Chunk: Augmentable;

    /// Shape of one sample.
    fn sample_shape(&self) -> InputShape;

    /// Every sample's label, in order.
    fn all_labels(&self) -> &[u8];

    /// The noise source of `kind`, with this set as the training split.
    ///
    /// # Errors
    /// [`amalgam_core::Error::Invalid`] if `kind` does not apply to this kind of data.
    fn noise_source(&self, kind: NoiseKind) -> Result<<Self::Chunk as Augmentable>::Noise>;

    /// Calls `f` with the index of each chunk's first sample and the chunk, in order.
    ///
    /// # Errors
    /// The source's read errors (naming its file) and `f`'s.
    fn for_each_chunk(&self, f: &mut dyn FnMut(usize, Self::Chunk) -> Result<()>) -> Result<()>;

    /// Per-channel mean and standard deviation of the set, accumulated chunk by chunk (the
    /// same bits whether the set is in memory or streamed); `None` for text.
    ///
    /// # Errors
    /// As [`for_each_chunk`](Self::for_each_chunk).
    fn normalization(&self) -> Result<Option<Normalization>> {
        let mut totals: Option<Vec<(f64, f64)>> = None;
        let mut values = 0usize;
        self.for_each_chunk(&mut |_, chunk| {
            if let Some((sums, count)) = chunk.channel_totals() {
                let totals = totals.get_or_insert_with(|| vec![(0.0, 0.0); sums.len()]);
                for (t, s) in totals.iter_mut().zip(sums) {
                    (t.0, t.1) = (t.0 + s.0, t.1 + s.1);
                }
                values += count;
            }
            Ok(())
        })?;
        Ok(totals.map(|totals| {
            let n = values.max(1) as f64;
            let (mean, std) = totals
                .iter()
                .map(|(s, q)| {
                    let mean = s / n;
                    (mean as f32, (q / n - mean * mean).max(1e-12).sqrt() as f32)
                })
                .unzip();
            Normalization { mean, std }
        }))
    }
}

/// Visits an in-memory set in chunks.
fn chunks_of<S: Augmentable>(set: &S, f: &mut dyn FnMut(usize, S) -> Result<()>) -> Result<()> {
    for start in (0..set.len()).step_by(CHUNK_SAMPLES) {
        f(
            start,
            set.chunk(start..(start + CHUNK_SAMPLES).min(set.len())),
        )?;
    }
    Ok(())
}

impl SampleSource for ImageSet {
    type Chunk = ImageSet;

    fn sample_shape(&self) -> InputShape {
        InputShape::Image(self.shape)
    }

    fn all_labels(&self) -> &[u8] {
        &self.labels
    }

    fn noise_source(&self, kind: NoiseKind) -> Result<NoiseKind> {
        image_noise(kind)
    }

    fn for_each_chunk(&self, f: &mut dyn FnMut(usize, ImageSet) -> Result<()>) -> Result<()> {
        chunks_of(self, f)
    }
}

impl SampleSource for TokenSet {
    type Chunk = TokenSet;

    fn sample_shape(&self) -> InputShape {
        InputShape::Tokens(self.shape)
    }

    fn all_labels(&self) -> &[u8] {
        &self.labels
    }

    fn noise_source(&self, kind: NoiseKind) -> Result<TokenNoise> {
        TokenNoise::new(kind, self)
    }

    fn for_each_chunk(&self, f: &mut dyn FnMut(usize, TokenSet) -> Result<()>) -> Result<()> {
        chunks_of(self, f)
    }
}
