//! Text-classification tables: CSV or TSV files with a header row, one sample per row.

use std::cell::Cell;
use std::io::{self, Read};
use std::path::Path;
use std::rc::Rc;

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

/// Longest row, in bytes (4 MiB), all its columns together: the reader stops there, before
/// the row is held in memory, so a cell that never ends (an unclosed quote, a hostile file)
/// costs at most this much.
pub const MAX_ROW_BYTES: u64 = 4 << 20;

/// Memory a held row takes besides its text and label bytes: the row itself and the
/// allocator's share of its two strings. Counted against the table's limit, so that a table
/// of many tiny rows (a compressible `.bz2` of 18 million of them, say) is refused before its
/// rows take several times the limit.
const ROW_OVERHEAD: u64 = std::mem::size_of::<TextRow>() as u64 + 32;

/// A reader that fails once more than `max_total` bytes have passed through it, or more than
/// [`MAX_ROW_BYTES`] since `row_start` (where the table reader starts each row).
struct BoundedTable<R> {
    inner: R,
    consumed: u64,
    max_total: u64,
    row_start: Rc<Cell<u64>>,
}

impl<R: Read> Read for BoundedTable<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.consumed.saturating_sub(self.row_start.get()) > MAX_ROW_BYTES {
            return Err(io::Error::other(format!(
                "a row of more than {MAX_ROW_BYTES} bytes (an unclosed quote?)"
            )));
        }
        let n = self.inner.read(buf)?;
        self.consumed += n as u64;
        if self.consumed > self.max_total {
            return Err(io::Error::other(format!(
                "more than the {} bytes a text table may have",
                self.max_total
            )));
        }
        Ok(n)
    }
}

/// The rows of the CSV (or, for a `.tsv` name, tab-separated) table streamed from `source`
/// (the file's bytes, already decompressed), read from `path` (named in errors), in file
/// order. At most `max_bytes` are read, the rows held take at most `max_bytes` (their text
/// and label bytes and [`ROW_OVERHEAD`] each), and no row longer than [`MAX_ROW_BYTES`] is
/// held.
///
/// # Errors
/// [`Error::File`] naming `path` for a malformed table, a missing text or label column, a
/// row whose text or label is empty, a text longer than `MAX_TEXT_BYTES`, a row longer than
/// [`MAX_ROW_BYTES`], or a table longer than `max_bytes` or whose rows take more.
pub fn read_text_table(
    source: impl Read,
    max_bytes: u64,
    path: &Path,
    columns: &TextColumns,
) -> Result<Vec<TextRow>> {
    let tab = path
        .to_string_lossy()
        .trim_end_matches(".bz2")
        .ends_with(".tsv");
    let row_start = Rc::new(Cell::new(0));
    let bounded = BoundedTable {
        inner: source,
        consumed: 0,
        max_total: max_bytes,
        row_start: row_start.clone(),
    };
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(if tab { b'\t' } else { b',' })
        .from_reader(bounded);
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
    let mut held = 0u64;
    let mut record = csv::StringRecord::new();
    for line in 2.. {
        row_start.set(reader.position().byte());
        let more = reader
            .read_record(&mut record)
            .map_err(|e| Error::file(path, format!("row at line {line}: {e}")))?;
        if !more {
            break;
        }
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
        held += text.len() as u64 + label.len() as u64 + ROW_OVERHEAD;
        if held > max_bytes {
            return Err(Error::file(
                path,
                format!(
                    "row at line {line}: the rows so far take more than the {max_bytes} bytes of memory a text table may ({ROW_OVERHEAD} bytes per row besides its text)"
                ),
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
        let rows = read_text_table(&csv[..], 1 << 20, Path::new("a.csv"), &columns()).unwrap();
        let labels: Vec<&str> = rows.iter().map(|r| r.label.as_str()).collect();
        assert_eq!(labels, ["pos", "neg"]);
        assert_eq!(rows[0].text, "good, fun");
        let tsv = b"text\tlabel\ngood, fun\tpos\n";
        assert_eq!(
            read_text_table(&tsv[..], 1 << 20, Path::new("a.tsv"), &columns())
                .unwrap()
                .len(),
            1
        );
    }

    #[test]
    fn missing_columns_and_empty_texts_are_named() {
        let err = read_text_table(
            &b"label,body\npos,x\n"[..],
            1 << 20,
            Path::new("a.csv"),
            &columns(),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("a.csv") && err.contains("`text`") && err.contains("body"),
            "{err}"
        );
        let err = read_text_table(
            &b"label,text\npos,  \n"[..],
            1 << 20,
            Path::new("a.csv"),
            &columns(),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("line 2") && err.contains("empty"), "{err}");
    }

    /// An endless cell (here 64 MiB of one quoted field, streamed, never in memory) is
    /// refused once it passes the row limit, and a table past its size limit likewise.
    #[test]
    fn an_endless_cell_and_an_oversized_table_are_refused_while_streaming() {
        let endless = b"label,text\npos,\"".chain(io::repeat(b'a').take(64 << 20));
        let err = read_text_table(endless, u64::MAX, Path::new("a.csv"), &columns())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("line 2") && err.contains("row of more than"),
            "{err}"
        );
        let mut many = b"label,text\n".to_vec();
        for _ in 0..1000 {
            many.extend_from_slice(b"pos,fine words\n");
        }
        let err = read_text_table(&many[..], 4096, Path::new("a.csv"), &columns())
            .unwrap_err()
            .to_string();
        assert!(err.contains("more than the 4096 bytes"), "{err}");
    }

    /// Tiny rows cost more held than read: 1,000 rows of 15 bytes read are 15,011 bytes, but
    /// held they take ROW_OVERHEAD more each, past a limit of 20,000.
    #[test]
    fn many_tiny_rows_are_refused_by_the_memory_they_take() {
        let mut many = b"label,text\n".to_vec();
        for _ in 0..1000 {
            many.extend_from_slice(b"pos,fine words\n");
        }
        let err = read_text_table(&many[..], 20_000, Path::new("a.csv"), &columns())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("the rows so far take more than the 20000 bytes of memory"),
            "{err}"
        );
        let rows = read_text_table(
            &many[..],
            1000 * (13 + ROW_OVERHEAD),
            Path::new("a.csv"),
            &columns(),
        );
        assert_eq!(rows.unwrap().len(), 1000);
    }
}
