//! Original samples visited chunk by chunk: a set in memory, or a file read chunk by chunk so
//! that a set larger than memory can be augmented (see [`crate::data::IdxImages`]).

use std::ops::Range;

use amalgam_core::Result;
use amalgam_core::data::{ImageSet, StoredSet, TokenSet};
use amalgam_core::model::{InputShape, Normalization};

/// Samples visited at a time: whoever visits a [`SampleSource`] holds one chunk of samples
/// (and what it makes of them), not the whole set.
pub const CHUNK_SAMPLES: usize = 4096;

/// An in-memory set that can be cut into chunks.
pub trait Chunked: StoredSet + Sized {
    /// Per channel, the sum and the sum of squares of the values, and the number of values
    /// per channel, for the optional normalisation layer; `None` where the data has no
    /// channels to normalise (text).
    fn channel_totals(&self) -> Option<(Vec<(f64, f64)>, usize)>;

    /// The samples `range` (a copy).
    fn chunk(&self, range: Range<usize>) -> Self;
}

impl Chunked for ImageSet {
    fn channel_totals(&self) -> Option<(Vec<(f64, f64)>, usize)> {
        Some((self.channel_sums(), self.labels.len() * self.shape.pixels()))
    }

    fn chunk(&self, range: Range<usize>) -> Self {
        self.range(range)
    }
}

impl Chunked for TokenSet {
    fn channel_totals(&self) -> Option<(Vec<(f64, f64)>, usize)> {
        None
    }

    fn chunk(&self, range: Range<usize>) -> Self {
        self.range(range)
    }
}

/// Original samples, visited in chunks of [`CHUNK_SAMPLES`] (the last one shorter).
pub trait SampleSource: Sync {
    /// The in-memory set a chunk is.
    type Chunk: Chunked;

    /// Shape of one sample.
    fn sample_shape(&self) -> InputShape;

    /// Every sample's label, in order.
    fn all_labels(&self) -> &[u8];

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
fn chunks_of<S: Chunked>(set: &S, f: &mut dyn FnMut(usize, S) -> Result<()>) -> Result<()> {
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

    fn for_each_chunk(&self, f: &mut dyn FnMut(usize, TokenSet) -> Result<()>) -> Result<()> {
        chunks_of(self, f)
    }
}
