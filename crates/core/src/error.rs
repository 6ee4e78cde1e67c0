//! The error type of amalgam's libraries: every failure names the file it concerns.

use std::fmt::Display;
use std::path::{Path, PathBuf};

/// An amalgam failure.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read, written, parsed or validated. `path` names the file.
    #[error("{}: {problem}", path.display())]
    File {
        /// The offending file or directory.
        path: PathBuf,
        /// What is wrong with it, in words.
        problem: String,
    },
    /// An argument is out of range or two inputs disagree.
    #[error("{0}")]
    Invalid(String),
    /// A network peer is gone, silent past its time limit, or failed authentication.
    #[error("{0}")]
    Connection(String),
}

impl Error {
    /// A problem with the file at `path`.
    pub fn file(path: impl AsRef<Path>, problem: impl Display) -> Self {
        Error::File {
            path: path.as_ref().to_path_buf(),
            problem: problem.to_string(),
        }
    }

    /// An invalid argument.
    pub fn invalid(problem: impl Display) -> Self {
        Error::Invalid(problem.to_string())
    }
}

/// Result with amalgam's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
