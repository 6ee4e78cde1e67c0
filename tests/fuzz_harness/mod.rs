//! The mutation-fuzzing harness shared by the fuzz test binaries (issue 16): byte-level and
//! JSON-number mutations of valid files, a proptest runner over them, and a counting
//! allocator that aborts the test binary above [`ALLOCATION_CAP`]. Each binary that declares
//! this module gets the allocator.

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

/// Most bytes the test binary may hold at once: a reader that believes a lying size asks
/// for far more.
pub const ALLOCATION_CAP: usize = 3 << 30;

struct CappedAllocator;

static LIVE: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded to the system allocator; only a counter is kept beside it.
unsafe impl GlobalAlloc for CappedAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        if live > ALLOCATION_CAP {
            eprintln!(
                "allocation of {} bytes passes the cap ({live} live)",
                layout.size()
            );
            std::process::abort();
        }
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: forwarded with the caller's pointer and layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: CappedAllocator = CappedAllocator;

/// One mutation of a file's bytes.
#[derive(Clone, Debug)]
enum Mutation {
    /// XOR the byte at (relative) position `at` with `mask`.
    Flip { at: f64, mask: u8 },
    /// Set the byte at `at` to an interesting value.
    Set { at: f64, value: u8 },
    /// Remove `len` bytes at `at`.
    Cut { at: f64, len: usize },
    /// Repeat `len` bytes at `at`.
    Repeat { at: f64, len: usize },
    /// Keep only the first fraction `at` of the file.
    Truncate { at: f64 },
    /// Replace the `nth` JSON number (or the `nth` run of ASCII digits) with `value`.
    Number { nth: usize, value: &'static str },
}

const INTERESTING_NUMBERS: [&str; 10] = [
    "0",
    "-1",
    "1",
    "4294967296",
    "9223372036854775808",
    "18446744073709551615",
    "1e308",
    "0.5",
    "65535",
    "100000000000",
];

fn mutation() -> impl Strategy<Value = Mutation> {
    let at = 0.0f64..1.0;
    prop_oneof![
        (at.clone(), any::<u8>()).prop_map(|(at, mask)| Mutation::Flip { at, mask }),
        (
            at.clone(),
            prop::sample::select(vec![0u8, 0xff, 0x7f, 0x80, b'9', b'"', b'{'])
        )
            .prop_map(|(at, value)| Mutation::Set { at, value }),
        (at.clone(), 1usize..64).prop_map(|(at, len)| Mutation::Cut { at, len }),
        (at.clone(), 1usize..64).prop_map(|(at, len)| Mutation::Repeat { at, len }),
        at.clone().prop_map(|at| Mutation::Truncate { at }),
        (
            0usize..400,
            prop::sample::select(INTERESTING_NUMBERS.to_vec())
        )
            .prop_map(|(nth, value)| Mutation::Number { nth, value }),
    ]
}

fn apply(bytes: &mut Vec<u8>, m: &Mutation) {
    let pos = |at: f64, len: usize| ((at * len as f64) as usize).min(len.saturating_sub(1));
    if bytes.is_empty() {
        return;
    }
    match *m {
        Mutation::Flip { at, mask } => {
            let i = pos(at, bytes.len());
            bytes[i] ^= mask;
        }
        Mutation::Set { at, value } => {
            let i = pos(at, bytes.len());
            bytes[i] = value;
        }
        Mutation::Cut { at, len } => {
            let i = pos(at, bytes.len());
            let end = (i + len).min(bytes.len());
            bytes.drain(i..end);
        }
        Mutation::Repeat { at, len } => {
            let i = pos(at, bytes.len());
            let end = (i + len).min(bytes.len());
            let copy = bytes[i..end].to_vec();
            bytes.splice(end..end, copy);
        }
        Mutation::Truncate { at } => bytes.truncate(pos(at, bytes.len())),
        Mutation::Number { nth, value } => {
            // Runs of digits (with an optional minus sign), the nth of them modulo their count.
            let mut runs = Vec::new();
            let mut i = 0;
            while i < bytes.len() {
                if bytes[i].is_ascii_digit() {
                    let start = if i > 0 && bytes[i - 1] == b'-' {
                        i - 1
                    } else {
                        i
                    };
                    while i < bytes.len() && bytes[i].is_ascii_digit() {
                        i += 1;
                    }
                    runs.push(start..i);
                } else {
                    i += 1;
                }
            }
            if !runs.is_empty() {
                let run = runs[nth % runs.len()].clone();
                bytes.splice(run, value.bytes());
            }
        }
    }
}

fn cases() -> u32 {
    std::env::var("AMALGAM_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(24)
}

/// Runs `check` on `cases()` mutated copies of the files `targets` (names in `dir`, one
/// picked per case), each in a fresh copy of `dir`; prints the count.
pub fn fuzz(name: &str, dir: &Path, targets: &[&str], check: impl Fn(&Path)) {
    let originals: Vec<Vec<u8>> = targets
        .iter()
        .map(|t| std::fs::read(dir.join(t)).unwrap())
        .collect();
    let mut runner = TestRunner::new(Config {
        cases: cases(),
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = (0..targets.len(), prop::collection::vec(mutation(), 1..4));
    let executions = AtomicUsize::new(0);
    runner
        .run(&strategy, |(target, mutations)| {
            let work = tempfile::tempdir().unwrap();
            copy_dir(dir, work.path());
            let mut bytes = originals[target].clone();
            for m in &mutations {
                apply(&mut bytes, m);
            }
            std::fs::write(work.path().join(targets[target]), &bytes).unwrap();
            check(work.path());
            executions.fetch_add(1, Ordering::Relaxed);
            Ok(())
        })
        .unwrap();
    println!(
        "fuzz target {name}: {} executions, no panic, no allocation above {} MiB",
        executions.into_inner(),
        ALLOCATION_CAP >> 20
    );
}

pub fn copy_dir(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir(&target).unwrap();
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}
