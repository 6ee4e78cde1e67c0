//! Tokenisation of texts into fixed-length id sequences, with a word-level vocabulary learned
//! from the training split by the `tokenizers` crate (Hugging Face).

use std::path::Path;

use amalgam_core::files::PUBLIC_MODE;
use amalgam_core::files::create_atomic;
use amalgam_core::model::{MAX_VOCABULARY, PAD_TOKEN, TokenShape};
use amalgam_core::{Error, Result};
use tokenizers::models::TrainerWrapper;
use tokenizers::models::wordlevel::{WordLevel, WordLevelTrainerBuilder};
use tokenizers::normalizers::Lowercase;
use tokenizers::pre_tokenizers::whitespace::Whitespace;
use tokenizers::{AddedToken, Tokenizer};

/// Longest token sequence a text sample may have.
pub const MAX_SEQUENCE_LENGTH: usize = 1 << 16;

/// The padding token, id [`PAD_TOKEN`] (0).
pub const PAD: &str = "[PAD]";
/// The unknown-word token, id 1.
pub const UNK: &str = "[UNK]";

/// How texts become token ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VocabularyOptions {
    /// Sequence length `L`: longer texts are truncated, shorter ones padded at the end.
    pub length: usize,
    /// Largest vocabulary, the two special tokens included.
    pub max_size: usize,
    /// Words seen fewer times than this in the training split become `[UNK]`.
    pub min_frequency: u64,
}

/// A word-level tokenizer (lower-cased; words and runs of punctuation split apart) and the
/// sequence length it pads to.
pub struct Vocabulary {
    tokenizer: Tokenizer,
    length: usize,
}

impl Vocabulary {
    /// Learns the vocabulary of `train_texts`: `[PAD]` (id 0), `[UNK]` (id 1), then the words
    /// by decreasing count (ties by the word), as many as `options` allow.
    ///
    /// # Errors
    /// [`Error::Invalid`] for a sequence length outside 1 to `MAX_SEQUENCE_LENGTH`, a vocabulary
    /// size outside 3 to [`MAX_VOCABULARY`], or if the
    /// tokenizer cannot be trained.
    pub fn learn(train_texts: &[&str], options: VocabularyOptions) -> Result<Self> {
        if !(1..=MAX_SEQUENCE_LENGTH).contains(&options.length) {
            return Err(Error::invalid(format!(
                "the sequence length must be 1 to {MAX_SEQUENCE_LENGTH} tokens, got {}",
                options.length
            )));
        }
        if !(3..=MAX_VOCABULARY).contains(&options.max_size) {
            return Err(Error::invalid(format!(
                "the vocabulary needs room for padding, unknown words and one word, and at most {MAX_VOCABULARY} entries; got {}",
                options.max_size
            )));
        }
        let fail = |e: tokenizers::Error| Error::invalid(format!("tokenizer: {e}"));
        let mut trainer: TrainerWrapper = WordLevelTrainerBuilder::default()
            .show_progress(false)
            .vocab_size(options.max_size)
            .min_frequency(options.min_frequency)
            .special_tokens(vec![
                AddedToken::from(PAD, true),
                AddedToken::from(UNK, true),
            ])
            .build()
            .map_err(|e| Error::invalid(format!("tokenizer: {e}")))?
            .into();
        let model = WordLevel::builder()
            .unk_token(UNK.into())
            .build()
            .map_err(fail)?;
        let mut tokenizer = Tokenizer::new(model);
        tokenizer.with_normalizer(Some(Lowercase)).map_err(fail)?;
        tokenizer.with_pre_tokenizer(Some(Whitespace {}));
        tokenizer
            .train(&mut trainer, train_texts.iter().map(|t| t.to_string()))
            .map_err(fail)?;
        debug_assert_eq!(tokenizer.token_to_id(PAD), Some(PAD_TOKEN));
        Ok(Self {
            tokenizer,
            length: options.length,
        })
    }

    /// Shape of the sequences it makes.
    pub fn shape(&self) -> TokenShape {
        TokenShape {
            length: self.length,
            vocab_size: self.tokenizer.get_vocab_size(true),
        }
    }

    /// The ids of `text`, truncated or padded to `L`.
    ///
    /// # Errors
    /// [`Error::Invalid`] if the tokenizer fails on the text.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        let encoding = self
            .tokenizer
            .encode(text, false)
            .map_err(|e| Error::invalid(format!("tokenizer: {e}")))?;
        let mut ids: Vec<u32> = encoding
            .get_ids()
            .iter()
            .take(self.length)
            .copied()
            .collect();
        ids.resize(self.length, PAD_TOKEN);
        Ok(ids)
    }

    /// Writes the tokenizer as `tokenizer.json` (the `tokenizers` format, loadable by its
    /// Python and Rust libraries) to `path`, atomically.
    ///
    /// # Errors
    /// [`Error::File`] naming `path` if it cannot be written.
    pub fn save(&self, path: &Path) -> Result<()> {
        create_atomic(path, PUBLIC_MODE, |_, tmp| {
            self.tokenizer.save(tmp, true).map_err(|e| e.to_string())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frequent_words_get_ids_and_sequences_are_padded_or_truncated() {
        let texts = ["A fine film.", "a dull film", "Fine, fine acting!"];
        let options = VocabularyOptions {
            length: 4,
            max_size: 100,
            min_frequency: 2,
        };
        let vocabulary = Vocabulary::learn(&texts, options).unwrap();
        // [PAD], [UNK], then fine (3), a (2), film (2).
        assert_eq!(vocabulary.shape().vocab_size, 5);
        assert_eq!(vocabulary.encode("FINE film").unwrap(), vec![2, 4, 0, 0]);
        assert_eq!(
            vocabulary.encode("a new fine film today").unwrap(),
            vec![3, 1, 2, 4]
        );
        assert!(
            Vocabulary::learn(
                &texts,
                VocabularyOptions {
                    length: 0,
                    ..options
                }
            )
            .is_err()
        );
    }
}
