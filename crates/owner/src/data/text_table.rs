//! Text-classification tables: CSV or TSV files with a header row, one sample per row.

use std::path::Path;

use amalgam_core::{Error, Result};

/// One labelled text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TextRow {
    /// The text.
    pub text: String,
    /// The label as written in the file.
    pub label: String,
}

/// Which columns hold the text and the label, and which labels to drop.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TextColumns {
    /// Header name of the text column.
    pub text: String,
    /// Header name of the label column.
    pub label: String,
    /// Rows with one of these labels are skipped (e.g. `plot` in the Rotten Tomatoes corpus).
    pub drop_labels: Vec<String>,
}

/// Longest text of one row, in bytes (1 MiB): a sample keeps at most 2^16 tokens, and a
/// longer cell is a malformed table (an unclosed quote swallowing the rest of the file).
pub const MAX_TEXT_BYTES: usize = 1 << 20;

/// The rows of the CSV (or, for a `.tsv` name, tab-separated) table `bytes`, read from
/// `path` (named in errors), in file order.
///
/// # Errors
/// [`Error::File`] naming `path` for a malformed table, a missing text or label column, a
/// row whose text or label is empty, or a text longer than `MAX_TEXT_BYTES`.
pub fn read_text_table(bytes: &[u8], path: &Path, columns: &TextColumns) -> Result<Vec<TextRow>> {
    let tab = path
        .to_string_lossy()
        .trim_end_matches(".bz2")
        .ends_with(".tsv");
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(if tab { b'\t' } else { b',' })
        .from_reader(bytes);
    let headers = reader
        .headers()
        .map_err(|e| Error::file(path, format!("cannot read the header row: {e}")))?
        .clone();
    let column = |name: &str, role: &str| {
        headers.iter().position(|h| h == name).ok_or_else(|| {
            Error::file(
                path,
                format!(
                    "has no {role} column `{name}` (its columns: {})",
                    headers.iter().collect::<Vec<_>>().join(", ")
                ),
            )
        })
    };
    let (text_at, label_at) = (
        column(&columns.text, "text")?,
        column(&columns.label, "label")?,
    );
    let mut rows = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let line = i + 2;
        let record = record.map_err(|e| Error::file(path, format!("row at line {line}: {e}")))?;
        let label = record.get(label_at).unwrap_or("").trim();
        if columns.drop_labels.iter().any(|d| d == label) {
            continue;
        }
        let text = record.get(text_at).unwrap_or("");
        if text.len() > MAX_TEXT_BYTES || label.len() > MAX_TEXT_BYTES {
            return Err(Error::file(
                path,
                format!(
                    "row at line {line} has a cell of more than {MAX_TEXT_BYTES} bytes (an unclosed quote?)"
                ),
            ));
        }
        if text.trim().is_empty() || label.is_empty() {
            return Err(Error::file(
                path,
                format!("row at line {line} has an empty text or label"),
            ));
        }
        rows.push(TextRow {
            text: text.to_string(),
            label: label.to_string(),
        });
    }
    if rows.is_empty() {
        return Err(Error::file(path, "holds no labelled text"));
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn columns() -> TextColumns {
        TextColumns {
            text: "text".into(),
            label: "label".into(),
            drop_labels: vec!["skip".into()],
        }
    }

    #[test]
    fn rows_come_in_file_order_without_dropped_labels() {
        let csv = b"label,text\npos,\"good, fun\"\nskip,whatever\nneg,dull\n";
        let rows = read_text_table(csv, Path::new("a.csv"), &columns()).unwrap();
        let labels: Vec<&str> = rows.iter().map(|r| r.label.as_str()).collect();
        assert_eq!(labels, ["pos", "neg"]);
        assert_eq!(rows[0].text, "good, fun");
        let tsv = b"text\tlabel\ngood, fun\tpos\n";
        assert_eq!(
            read_text_table(tsv, Path::new("a.tsv"), &columns())
                .unwrap()
                .len(),
            1
        );
    }

    #[test]
    fn missing_columns_and_empty_texts_are_named() {
        let err = read_text_table(b"label,body\npos,x\n", Path::new("a.csv"), &columns())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("a.csv") && err.contains("`text`") && err.contains("body"),
            "{err}"
        );
        let err = read_text_table(b"label,text\npos,  \n", Path::new("a.csv"), &columns())
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 2") && err.contains("empty"), "{err}");
    }
}
