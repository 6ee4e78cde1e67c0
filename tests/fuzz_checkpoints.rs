//! Mutation fuzzing of Tempo's and MixNN's checkpoints at `--resume` (issue 16), with the
//! harness of `tests/fuzz.rs`: a one-epoch run writes its checkpoint, then each case mutates
//! one of its files and resumes for a second epoch with the remote parties the run had (Tempo:
//! an in-process worker over an in-memory transport; MixNN: in-process mix nodes and layer
//! hosts on loopback). Every case must end in a result or a clean error: no panic in the owner
//! or in any party (whatever a damaged checkpoint makes the owner send them), no allocation
//! above the harness's cap.
//!
//! `AMALGAM_FUZZ_CASES=N cargo test --release --test fuzz_checkpoints -- --nocapture` runs N
//! cases per target; add `tempo` or `mixnn` before `--` to run one target.

mod common;
mod fuzz_harness;

use std::path::Path;
use std::sync::Once;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

use amalgam_cloud::mixnn::{LayerHost, MixNode, spawn_in_process};
use amalgam_cloud::tempo::{Fault, Worker, serve};
use amalgam_core::backend::inference_device;
use amalgam_core::mixnn::{NodeKey, Role};
use amalgam_core::model::Architecture;
use amalgam_core::tempo::in_process_pair;
use amalgam_owner::data::Dataset;
use amalgam_owner::mixnn::{Directory, MixnnOptions, train_mixnn};
use amalgam_owner::setup::{OwnerSetup, TrainSettings};
use amalgam_owner::tempo::{OffloadOptions, train_with_worker};
use common::fashion_subset;
use fuzz_harness::fuzz;
use indicatif::ProgressBar;

/// Panics anywhere in this test binary, its parties' threads included.
static PANICS: AtomicUsize = AtomicUsize::new(0);

/// Counts every panic (then reports it as usual), so that one on a party's thread, which no
/// test would otherwise see, fails the test.
/// Installed once for the binary's tests, which run in parallel: a panic in either target
/// fails both, which is what a panic should do.
fn count_panics() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            PANICS.fetch_add(1, Ordering::SeqCst);
            previous(info);
        }));
    });
}

/// A one-epoch MLP setup on 32 training images.
fn small_setup(data: &Dataset) -> OwnerSetup {
    let settings = TrainSettings {
        epochs: 1,
        batch_size: 16,
        ..TrainSettings::default()
    };
    OwnerSetup::new(
        &data.clone(),
        Architecture::Mlp { hidden: vec![16] },
        &settings,
        3,
    )
    .unwrap()
}

/// The files of the checkpoint directory `dir` (named relative to its parent).
fn checkpoint_files(dir: &Path) -> Vec<String> {
    let name = dir.file_name().unwrap().to_str().unwrap().to_string();
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| format!("{name}/{}", e.unwrap().file_name().to_str().unwrap()))
        .collect();
    files.sort();
    files
}

/// Resumes a two-epoch Tempo run from its mutated first-epoch checkpoint: the first run's
/// worker corrupts the first product of the second epoch (2 steps of 2 layers each come
/// before it), which Freivalds' check stops, so the run ends after its first checkpoint.
#[test]
fn mutated_tempo_checkpoints_resume_or_fail_cleanly() {
    count_panics();
    let data = fashion_subset(32, 16);
    let mut setup = small_setup(&data);
    setup.train.epochs = 2;
    let run = |checkpoint: &Path, resume: bool, fault: Option<Fault>| {
        let (transport, mut worker_end) = in_process_pair(Duration::from_secs(30));
        let worker = thread::spawn(move || {
            let mut worker = Worker::new(&inference_device());
            if let Some(fault) = fault {
                worker = worker.with_fault(fault);
            }
            let _ = serve(&mut worker, &mut worker_end);
        });
        let options = OffloadOptions {
            key_seed: 2,
            rounds: 1,
            checkpoint: Some(checkpoint.to_path_buf()),
            resume,
        };
        let outcome = train_with_worker(
            &setup,
            &data.train,
            transport,
            &options,
            &ProgressBar::hidden(),
        );
        assert!(worker.join().is_ok(), "the worker panicked");
        outcome
    };
    let job = tempfile::tempdir().unwrap();
    let checkpoint = job.path().join("run.checkpoint");
    let stopped = run(&checkpoint, false, Some(Fault::CorruptProduct(4)));
    assert!(stopped.is_err(), "the corrupted product went unnoticed");
    let files = checkpoint_files(&checkpoint);
    assert_eq!(files.len(), 4, "{files:?}");
    let targets: Vec<&str> = files.iter().map(String::as_str).collect();
    let resumed = AtomicUsize::new(0);
    fuzz("tempo checkpoint", job.path(), &targets, |d| {
        if run(&d.join("run.checkpoint"), true, None).is_ok() {
            resumed.fetch_add(1, Ordering::Relaxed);
        }
    });
    println!("tempo checkpoint: {} cases resumed", resumed.into_inner());
    assert_eq!(PANICS.load(Ordering::SeqCst), 0, "a party panicked");
    let resumed = run(&checkpoint, true, None).expect("the intact checkpoint still resumes");
    assert_eq!(resumed.epochs.len(), 2);
}

/// Resumes a MixNN run from its mutated checkpoint. The checkpoint names its run by the
/// model and the whole training config, so the resumed run is the same one-epoch run: it
/// loads the checkpoint, sets the hosts up with its layers and optimizer states, and fetches
/// them back.
#[test]
fn mutated_mixnn_checkpoints_resume_or_fail_cleanly() {
    count_panics();
    let data = fashion_subset(32, 16);
    let setup = small_setup(&data);
    let spawn = |role, key: &NodeKey, handler| spawn_in_process("127.0.0.1:0", role, key, handler);
    let mixes = (0..3)
        .map(|_| {
            let key = NodeKey::random();
            spawn(
                Role::Mix,
                &key,
                Box::new(MixNode::new(key.clone(), 1, None)),
            )
            .unwrap()
        })
        .collect();
    let owner_key: [u8; 32] = rand::random();
    let hosts = (0..2)
        .map(|_| {
            let key = NodeKey::random();
            let host = LayerHost::new(key.clone(), Some(owner_key));
            spawn(Role::LayerHost, &key, Box::new(host)).unwrap()
        })
        .collect();
    let directory = Directory { mixes, hosts };
    let run = |setup: &OwnerSetup, checkpoint: &Path, resume: bool| {
        let options = MixnnOptions {
            checkpoint: Some(checkpoint.to_path_buf()),
            resume,
            ..common::loopback_mixnn_options(owner_key, 3, Duration::from_secs(2))
        };
        train_mixnn(
            setup,
            &data.train,
            &directory,
            &options,
            &ProgressBar::hidden(),
        )
    };
    let job = tempfile::tempdir().unwrap();
    let checkpoint = job.path().join("run.checkpoint");
    run(&setup, &checkpoint, false).unwrap();
    let files = checkpoint_files(&checkpoint);
    assert_eq!(files.len(), 3, "{files:?}");
    let targets: Vec<&str> = files.iter().map(String::as_str).collect();
    let resumed = AtomicUsize::new(0);
    fuzz("mixnn checkpoint", job.path(), &targets, |d| {
        if run(&setup, &d.join("run.checkpoint"), true).is_ok() {
            resumed.fetch_add(1, Ordering::Relaxed);
        }
    });
    println!("mixnn checkpoint: {} cases resumed", resumed.into_inner());
    assert_eq!(PANICS.load(Ordering::SeqCst), 0, "a party panicked");
    run(&setup, &checkpoint, true).expect("the nodes still serve an intact resume");
}
