//! Text-classification data sets: a CSV/TSV table (split by a fixed rule), a directory with
//! train and test tables, or the embedded Rotten Tomatoes corpus; tokenised to fixed-length
//! id sequences with a vocabulary learned from the training split only.

use std::io::BufReader;
use std::path::{Path, PathBuf};

use amalgam_core::data::TokenSet;
use amalgam_core::files::open_regular;
use amalgam_core::memory::check_fits;
use amalgam_core::{Error, Result};
use bzip2::read::BzDecoder;

use super::Dataset;
use super::text_table::{TextColumns, TextRow, read_text_table};
use super::vocabulary::{Vocabulary, VocabularyOptions};

/// Every `TEST_EVERY`-th row (1-based: rows 5, 10, 15, ...) of a single table is a test
/// sample; the others are training samples.
pub const TEST_EVERY: usize = 5;

/// The embedded Rotten Tomatoes corpus (see `data/rotten-tomatoes/SOURCE.md` in this crate).
const ROTTEN_TOMATOES: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/data/rotten-tomatoes/rotten_tomatoes_corpus_full.csv.bz2"
));

/// How to read and tokenise a text set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TextOptions {
    /// Columns to read; `None`: `text` and `label` for a file, and for the embedded corpus its
    /// own (`text`, `category`, without `plot`).
    pub columns: Option<TextColumns>,
    /// Sequence length and vocabulary limits.
    pub vocabulary: VocabularyOptions,
}

/// A tokenised text data set, with what turns new text into its ids.
pub struct TextDataset {
    /// The train and test token sets.
    pub dataset: Dataset<TokenSet>,
    /// The vocabulary learned from the training split.
    pub vocabulary: Vocabulary,
    /// Class names; class `i` is `classes[i]` (sorted by name).
    pub classes: Vec<String>,
}

/// Loads and tokenises a text set:
///
/// - `None`: the embedded Rotten Tomatoes corpus (`fresh` vs `rotten`);
/// - a file (`.csv` or `.tsv`, optionally `.bz2`-compressed): split by [`TEST_EVERY`];
/// - a directory holding `train.csv` and `test.csv` (or `.tsv`).
///
/// Labels map to class ids in name order over the training split.
///
/// # Errors
/// [`Error::File`] naming a missing or malformed table, a missing column, an empty text, or
/// a test label the training split lacks; [`Error::Invalid`] for a bad sequence length or
/// vocabulary size, or more than 256 classes.
pub fn load_text_dataset(path: Option<&Path>, options: &TextOptions) -> Result<TextDataset> {
    let columns = options.columns.clone().unwrap_or_else(|| match path {
        None => TextColumns {
            text: "text".into(),
            label: "category".into(),
            drop_labels: vec!["plot".into()],
        },
        Some(_) => TextColumns {
            text: "text".into(),
            label: "label".into(),
            drop_labels: Vec::new(),
        },
    });
    let (name, (train, test), test_path) = match path {
        None => {
            let origin = Path::new("<embedded>/rotten_tomatoes_corpus_full.csv.bz2");
            let rows = read_text_table(
                BzDecoder::new(ROTTEN_TOMATOES),
                MAX_TABLE_BYTES,
                origin,
                &columns,
            )?;
            (
                "embedded Rotten Tomatoes".to_string(),
                split(rows),
                origin.to_path_buf(),
            )
        }
        Some(dir) if dir.is_dir() => {
            let table = |split: &str| -> Result<PathBuf> {
                ["csv", "tsv", "csv.bz2", "tsv.bz2"]
                    .iter()
                    .map(|ext| dir.join(format!("{split}.{ext}")))
                    .find(|p| p.is_file())
                    .ok_or_else(|| {
                        Error::file(dir, format!("has no {split}.csv or {split}.tsv table"))
                    })
            };
            let (train_path, test_path) = (table("train")?, table("test")?);
            let train = read_table(&train_path, &columns)?;
            let test = read_table(&test_path, &columns)?;
            (dir.display().to_string(), (train, test), test_path)
        }
        Some(file) => {
            let rows = read_table(file, &columns)?;
            (file.display().to_string(), split(rows), file.to_path_buf())
        }
    };
    let mut classes: Vec<String> = train.iter().map(|r| r.label.clone()).collect();
    classes.sort();
    classes.dedup();
    if classes.len() > 256 {
        return Err(Error::invalid(format!(
            "{} classes; amalgam handles at most 256",
            classes.len()
        )));
    }
    let texts: Vec<&str> = train.iter().map(|r| r.text.as_str()).collect();
    let vocabulary = Vocabulary::learn(&texts, options.vocabulary)?;
    let encode = |rows: &[TextRow], origin: &Path| -> Result<TokenSet> {
        let length = vocabulary.shape().length;
        let needed = (rows.len() as u64).saturating_mul(length as u64 * 4);
        check_fits(
            origin,
            &format!("encoding {} texts of {length} tokens", rows.len()),
            needed,
        )?;
        let mut tokens = Vec::with_capacity(rows.len() * vocabulary.shape().length);
        let mut labels = Vec::with_capacity(rows.len());
        for row in rows {
            tokens.extend(vocabulary.encode(&row.text)?);
            let class = classes.binary_search(&row.label).map_err(|_| {
                Error::file(
                    origin,
                    format!("label `{}` does not occur in the training split", row.label),
                )
            })?;
            labels.push(class as u8);
        }
        TokenSet::new(vocabulary.shape(), tokens, labels)
    };
    let dataset = Dataset {
        name,
        train: encode(&train, &test_path)?,
        test: encode(&test, &test_path)?,
    };
    Ok(TextDataset {
        dataset,
        vocabulary,
        classes,
    })
}

/// Reads a table file, decompressing `.bz2`, streaming: only the rows are held.
fn read_table(path: &Path, columns: &TextColumns) -> Result<Vec<TextRow>> {
    let (file, _) = open_regular(path, MAX_TABLE_BYTES)?;
    let file = BufReader::new(file);
    if path.extension().is_some_and(|e| e == "bz2") {
        read_text_table(BzDecoder::new(file), MAX_TABLE_BYTES, path, columns)
    } else {
        read_text_table(file, MAX_TABLE_BYTES, path, columns)
    }
}

/// Largest text table, decompressed (512 MiB): a larger file is refused before it is read,
/// and a `.bz2` file that decompresses to more (a bzip2 bomb) once it passes this. The table
/// is streamed, so memory holds the rows read, not the file.
pub const MAX_TABLE_BYTES: u64 = 1 << 29;

/// Splits rows into training and test rows by [`TEST_EVERY`].
fn split(rows: Vec<TextRow>) -> (Vec<TextRow>, Vec<TextRow>) {
    let (test, train): (Vec<_>, Vec<_>) = rows
        .into_iter()
        .enumerate()
        .partition(|(i, _)| (i + 1) % TEST_EVERY == 0);
    let strip = |rows: Vec<(usize, TextRow)>| rows.into_iter().map(|(_, r)| r).collect();
    (strip(train), strip(test))
}

#[cfg(test)]
mod tests {
    use super::*;
    use amalgam_core::data::LabelledSet;

    #[test]
    fn the_embedded_corpus_splits_into_fresh_and_rotten_reviews() {
        let options = TextOptions {
            columns: None,
            vocabulary: VocabularyOptions {
                length: 48,
                max_size: 20_000,
                min_frequency: 2,
            },
        };
        let text = load_text_dataset(None, &options).unwrap();
        assert_eq!(text.classes, ["fresh", "rotten"]);
        assert_eq!(
            (text.dataset.train.len(), text.dataset.test.len()),
            (10_247, 2_561)
        );
        assert_eq!(text.dataset.train.shape.length, 48);
        assert!(text.dataset.train.shape.vocab_size > 5_000);
    }
}
