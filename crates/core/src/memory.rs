//! How much memory this machine can give a command, so that a data set too large to hold is
//! refused up front, naming its file and size, instead of ending in the kernel's
//! out-of-memory killer halfway through (issue 16: a sparse file costs nothing on disk but
//! everything in memory).

use std::path::Path;

use sysinfo::{MemoryRefreshKind, RefreshKind, System};

use crate::{Error, Result};

/// Bytes of memory this process can still take: the smaller of the machine's available RAM
/// and, in a container, its cgroup's limit less the cgroup's resident anonymous memory;
/// `None` where the platform does not say.
///
/// The cgroup's own "free" figure (limit less usage) is not used: usage counts the page
/// cache, which the kernel reclaims on demand, so after a build or a large read it would
/// refuse data that fits.
#[must_use]
pub fn available_bytes() -> Option<u64> {
    let system = System::new_with_specifics(
        RefreshKind::nothing().with_memory(MemoryRefreshKind::nothing().with_ram()),
    );
    let machine = Some(system.available_memory()).filter(|&b| b > 0);
    let cgroup = system
        .cgroup_limits()
        .map(|limits| limits.total_memory.saturating_sub(limits.rss))
        .filter(|&b| b > 0);
    match (machine, cgroup) {
        (Some(m), Some(c)) => Some(m.min(c)),
        (m, c) => m.or(c),
    }
}

/// Checks that holding `bytes` more, for `what` read from `path`, fits in `available` bytes
/// (`None`: unknown, so not checked).
///
/// # Errors
/// [`Error::File`] naming `path`, what it needs and what is available.
pub fn check_fits_in(path: &Path, what: &str, bytes: u64, available: Option<u64>) -> Result<()> {
    match available {
        Some(available) if bytes > available => Err(Error::file(
            path,
            format!(
                "{what} needs {} of memory, more than the {} this machine has available",
                gib(bytes),
                gib(available)
            ),
        )),
        _ => Ok(()),
    }
}

/// Checks that holding `bytes` more, for `what` read from `path`, fits in the memory
/// available now ([`available_bytes`]). Call it before allocating what a file's header or
/// length asks for.
///
/// # Errors
/// As [`check_fits_in`].
pub fn check_fits(path: &Path, what: &str, bytes: u64) -> Result<()> {
    check_fits_in(path, what, bytes, available_bytes())
}

/// `bytes` in GiB, for messages.
fn gib(bytes: u64) -> String {
    format!("{:.1} GiB", bytes as f64 / f64::from(1u32 << 30))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_need_above_what_is_available_is_refused_naming_both() {
        let path = Path::new("dir/images");
        let err = check_fits_in(path, "decoding 20 images", 3 << 30, Some(2 << 30))
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "dir/images: decoding 20 images needs 3.0 GiB of memory, more than the 2.0 GiB this machine has available"
        );
        assert!(check_fits_in(path, "x", 2 << 30, Some(2 << 30)).is_ok());
        assert!(check_fits_in(path, "x", u64::MAX, None).is_ok());
    }

    #[test]
    fn this_machine_reports_its_available_memory() {
        if cfg!(target_os = "linux") {
            let available = available_bytes().expect("Linux reports available memory");
            assert!(available > 1 << 20 && available < 1 << 50, "{available}");
        }
    }
}
