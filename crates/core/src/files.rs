//! Writing outputs so that a failure never leaves a half-written one: files go to a temporary
//! file in the same directory, flushed to the disk, and are renamed into place; output
//! directories are built under a temporary name beside their target and renamed when
//! complete. The directory is flushed after each rename, so that a power loss leaves the old
//! output or the whole new one.

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{Error, Result};

/// Permission bits of an ordinary output file.
pub const PUBLIC_MODE: u32 = 0o644;
/// Permission bits of a secret (the key): owner read/write only.
pub const SECRET_MODE: u32 = 0o600;

fn parent_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Creates `path` atomically with permission bits `mode`: `fill` writes a temporary file
/// (given its path) in the same directory, which is then renamed to `path`. If `fill` fails,
/// the temporary file is removed and `path` is untouched.
///
/// # Errors
/// [`Error::File`] naming `path` with `fill`'s error, or if the directory is missing or not
/// writable.
pub fn create_atomic(
    path: &Path,
    mode: u32,
    fill: impl FnOnce(&mut fs::File, &Path) -> std::result::Result<(), String>,
) -> Result<()> {
    create_atomic_with(path, mode, |file, tmp| {
        fill(file, tmp).map_err(|e| Error::file(path, format!("cannot write: {e}")))
    })
}

/// As [`create_atomic`], but `fill`'s errors pass through unchanged (for a writer that also
/// reads other files, whose errors name those files).
///
/// # Errors
/// `fill`'s error, or [`Error::File`] naming `path` if the directory is missing or not
/// writable.
pub fn create_atomic_with(
    path: &Path,
    mode: u32,
    fill: impl FnOnce(&mut fs::File, &Path) -> Result<()>,
) -> Result<()> {
    let fail = |e: &dyn std::fmt::Display| Error::file(path, format!("cannot write: {e}"));
    let mut tmp = tempfile::Builder::new()
        .prefix(".amalgam-")
        .tempfile_in(parent_of(path))
        .map_err(|e| fail(&e))?;
    let tmp_path = tmp.path().to_path_buf();
    fill(tmp.as_file_mut(), &tmp_path)?;
    fs::set_permissions(&tmp_path, fs::Permissions::from_mode(mode)).map_err(|e| fail(&e))?;
    // `fill` may have written through its own handle: fsync flushes the file, not the handle.
    tmp.as_file().sync_all().map_err(|e| fail(&e))?;
    tmp.persist(path).map_err(|e| fail(&e.error))?;
    sync_directory(parent_of(path)).map_err(|e| fail(&e))
}

/// Flushes `dir`'s entries (a rename in it) to the disk.
fn sync_directory(dir: &Path) -> std::io::Result<()> {
    fs::File::open(dir)?.sync_all()
}

/// Writes `bytes` to `path` atomically with permission bits `mode` (e.g. [`SECRET_MODE`]).
///
/// # Errors
/// [`Error::File`] naming `path` if the directory is missing or not writable.
pub fn write_atomic_with_mode(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    create_atomic(path, mode, |file, _| {
        file.write_all(bytes).map_err(|e| e.to_string())
    })
}

/// Writes `bytes` to `path` atomically (mode 0644).
///
/// # Errors
/// As [`write_atomic_with_mode`].
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic_with_mode(path, bytes, PUBLIC_MODE)
}

/// Writes `value` as pretty JSON to `path` atomically.
///
/// # Errors
/// As [`write_atomic_with_mode`].
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let mut text = serde_json::to_vec_pretty(value)
        .map_err(|e| Error::file(path, format!("cannot encode JSON: {e}")))?;
    text.push(b'\n');
    write_atomic(path, &text)
}

/// Largest file read whole into memory (data sets, weights): 16 GiB.
pub const MAX_READ_BYTES: u64 = 16 << 30;
/// Largest JSON file read (specs, keys, configs, checkpoint states): 256 MiB.
pub const MAX_JSON_BYTES: u64 = 256 << 20;

/// Opens `path` if it is a regular file (not a FIFO, device or directory, which could block
/// or never end) of at most `limit` bytes; returns it and its length.
///
/// # Errors
/// [`Error::File`] naming `path` if it is missing, not a regular file, or too large.
pub fn open_regular(path: &Path, limit: u64) -> Result<(fs::File, u64)> {
    let file = fs::File::open(path).map_err(|e| Error::file(path, format!("cannot read: {e}")))?;
    let meta = file
        .metadata()
        .map_err(|e| Error::file(path, format!("cannot read: {e}")))?;
    if !meta.is_file() {
        return Err(Error::file(path, "is not a regular file"));
    }
    if meta.len() > limit {
        return Err(Error::file(
            path,
            format!(
                "is {} bytes, more than the {limit} this file may have",
                meta.len()
            ),
        ));
    }
    Ok((file, meta.len()))
}

/// Reads a regular file of at most [`MAX_READ_BYTES`], naming it in the error.
///
/// # Errors
/// [`Error::File`] if the file is missing, unreadable, not a regular file or too large.
pub fn read(path: &Path) -> Result<Vec<u8>> {
    read_at_most(path, MAX_READ_BYTES)
}

/// Reads a regular file of at most `limit` bytes (reading stops at the limit even if the
/// file grows meanwhile).
///
/// # Errors
/// As [`open_regular`], or [`Error::File`] if reading fails.
pub fn read_at_most(path: &Path, limit: u64) -> Result<Vec<u8>> {
    use std::io::Read;
    let (file, len) = open_regular(path, limit)?;
    let mut bytes = Vec::with_capacity(len as usize);
    file.take(limit)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::file(path, format!("cannot read: {e}")))?;
    Ok(bytes)
}

/// Reads and parses a JSON file of at most [`MAX_JSON_BYTES`].
///
/// # Errors
/// [`Error::File`] if the file is missing, unreadable, too large or not the expected JSON.
pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T> {
    let bytes = read_at_most(path, MAX_JSON_BYTES)?;
    serde_json::from_slice(&bytes).map_err(|e| Error::file(path, format!("invalid JSON: {e}")))
}

/// Checks that the output directory `target` can be created: it does not exist, or is an
/// empty directory. Call it before long work whose result goes there.
///
/// # Errors
/// [`Error::File`] naming `target` otherwise.
pub fn check_new_dir(target: &Path) -> Result<()> {
    if target.exists() {
        let empty = fs::read_dir(target)
            .map(|mut entries| entries.next().is_none())
            .unwrap_or(false);
        if !empty {
            return Err(Error::file(
                target,
                "already exists and is not an empty directory; choose another output path",
            ));
        }
    }
    Ok(())
}

/// Name prefix of staging directories; the process id and a random suffix follow.
const STAGING_PREFIX: &str = ".amalgam-staging-";

/// Removes the staging directories in `parent` left by processes that no longer run (a
/// command killed with SIGKILL cannot clean up after itself). Directories of live processes,
/// and names that carry no process id, are left alone.
fn remove_stale_staging(parent: &Path) {
    let Ok(entries) = fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(STAGING_PREFIX))
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if !Path::new("/proc").join(pid.to_string()).exists() {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

/// An output directory under construction. Files are written into [`path`](Self::path), a
/// temporary directory beside the target; [`commit`](Self::commit) renames it to the target.
/// Dropped without a commit (after an error), it is removed, leaving nothing behind; one left
/// by a killed process is removed by the next staging directory made beside it.
pub struct StagingDir {
    tmp: tempfile::TempDir,
    target: PathBuf,
}

impl StagingDir {
    /// Starts building the directory `target`.
    ///
    /// # Errors
    /// [`Error::File`] if `target` exists and is not an empty directory, or its parent is
    /// not writable.
    pub fn new(target: &Path) -> Result<Self> {
        check_new_dir(target)?;
        let parent = parent_of(target);
        fs::create_dir_all(parent)
            .map_err(|e| Error::file(parent, format!("cannot create directory: {e}")))?;
        remove_stale_staging(parent);
        let tmp = tempfile::Builder::new()
            .prefix(&format!("{STAGING_PREFIX}{}-", std::process::id()))
            .tempdir_in(parent)
            .map_err(|e| Error::file(parent, format!("cannot create directory: {e}")))?;
        Ok(Self {
            tmp,
            target: target.to_path_buf(),
        })
    }

    /// Where to write the directory's files until it is committed.
    pub fn path(&self) -> &Path {
        self.tmp.path()
    }

    /// Moves the finished directory to its target.
    ///
    /// # Errors
    /// [`Error::File`] naming the target if the rename fails.
    pub fn commit(self) -> Result<PathBuf> {
        self.commit_with_mode(0o755)
    }

    /// Moves the finished directory to its target with permission bits `mode` (0o700 for a
    /// directory that holds a key).
    ///
    /// # Errors
    /// [`Error::File`] naming the target if the rename fails.
    pub fn commit_with_mode(self, mode: u32) -> Result<PathBuf> {
        let fail = |e: std::io::Error| Error::file(&self.target, format!("cannot create: {e}"));
        fs::set_permissions(self.tmp.path(), fs::Permissions::from_mode(mode)).map_err(fail)?;
        if self.target.exists() {
            fs::remove_dir(&self.target).map_err(fail)?;
        }
        let staged = self.tmp.keep();
        fs::rename(&staged, &self.target).map_err(|e| {
            let _ = fs::remove_dir_all(&staged);
            Error::file(&self.target, format!("cannot create: {e}"))
        })?;
        sync_directory(parent_of(&self.target)).map_err(fail)?;
        Ok(self.target)
    }
}
