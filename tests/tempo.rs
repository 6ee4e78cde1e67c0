//! Tempo: the trusted process with its worker trains the model plain training trains (bit for
//! bit without permutations, to rounding with them); Freivalds' check catches a worker that
//! returns a wrong product; the Noise-over-TCP session carries the same protocol and refuses
//! a peer without the key.

mod common;

use std::thread;
use std::time::Duration;

use amalgam_cloud::tempo::{Fault, Worker, serve};
use amalgam_core::backend::inference_device;
use amalgam_core::model::{Architecture, Weights, compare_weights};
use amalgam_core::tempo::{NoiseListener, NoiseTcp, Transport, in_process_pair};
use amalgam_owner::baseline::train_baseline;
use amalgam_owner::data::Dataset;
use amalgam_owner::setup::{OwnerSetup, TrainSettings};
use amalgam_owner::tempo::{LocalProducts, Products, RemoteProducts, TempoKey, TempoState, train};
use common::exactness::assert_bitwise;
use common::fashion_subset;
use indicatif::ProgressBar;

const LIMIT: Duration = Duration::from_secs(60);

fn setup(data: &Dataset, architecture: Architecture) -> OwnerSetup {
    let settings = TrainSettings {
        epochs: 1,
        batch_size: 16,
        ..TrainSettings::default()
    };
    OwnerSetup::new(data, architecture, &settings, 5).unwrap()
}

/// As [`setup`], with SGD and momentum: Adam's first steps move every weight by about the
/// learning rate whatever the gradient's size, so the sign of a near-zero gradient, which
/// rounding can flip, decides a whole step; SGD keeps the drift at the size of the rounding.
fn sgd_setup(data: &Dataset, architecture: Architecture) -> OwnerSetup {
    let settings = TrainSettings {
        epochs: 1,
        batch_size: 16,
        optimizer: amalgam_core::training::OptimizerKind::Sgd,
        learning_rate: 0.02,
        momentum: 0.9,
        ..TrainSettings::default()
    };
    OwnerSetup::new(data, architecture, &settings, 5).unwrap()
}

/// Trains `setup` with `products` (made from the plain offloaded layers) and returns the
/// model's weights and the products.
fn train_with<P: Products>(
    data: &Dataset,
    setup: &OwnerSetup,
    products: impl FnOnce(&[amalgam_core::tempo::LayerState]) -> P,
) -> amalgam_core::Result<(Weights, P)> {
    let (state, layers) = TempoState::new(setup)?;
    let mut products = products(&layers);
    let state = train(
        state,
        &mut products,
        &data.train,
        &setup.train,
        &ProgressBar::hidden(),
        usize::MAX,
    )?;
    Ok((state.weights(&mut products)?, products))
}

/// A worker serving one in-process session on its own thread (with `fault`, if any).
fn in_process_worker(fault: Option<Fault>) -> (impl Transport, thread::JoinHandle<()>) {
    let (owner_end, mut worker_end) = in_process_pair(LIMIT);
    let handle = thread::spawn(move || {
        let mut worker = Worker::new(&inference_device());
        if let Some(fault) = fault {
            worker = worker.with_fault(fault);
        }
        let _ = serve(&mut worker, &mut worker_end);
    });
    (owner_end, handle)
}

fn remote(
    setup: &OwnerSetup,
    key: impl FnOnce(&[[usize; 2]]) -> TempoKey,
    rounds: usize,
    fault: Option<Fault>,
    data: &Dataset,
) -> amalgam_core::Result<Weights> {
    let (transport, worker) = in_process_worker(fault);
    let trained = train_with(data, setup, |layers| {
        let shapes: Vec<[usize; 2]> = layers
            .iter()
            .map(|l| [l.weight.rows, l.weight.cols])
            .collect();
        RemoteProducts::new(
            transport,
            key(&shapes),
            layers,
            &setup.train.optimizer_settings(),
            None,
            rounds,
            &inference_device(),
        )
        .unwrap()
    });
    let (weights, products) = trained?;
    products.finish()?;
    worker.join().unwrap();
    Ok(weights)
}

#[test]
fn the_protocol_without_permutations_is_bitwise_the_trusted_process_alone() {
    let data = fashion_subset(64, 16);
    for architecture in [Architecture::default_mlp(), Architecture::lenet()] {
        let setup = setup(&data, architecture);
        let local = train_with(&data, &setup, |layers| {
            LocalProducts::new(
                &setup.train.optimizer_settings(),
                layers,
                &inference_device(),
            )
            .unwrap()
        })
        .unwrap()
        .0;
        let through_worker = remote(&setup, TempoKey::identity, 2, None, &data).unwrap();
        assert_bitwise(
            "identity-key Tempo vs trusted process alone",
            &local,
            &through_worker,
        );
    }
}

#[test]
fn permuted_training_matches_plain_training_to_rounding() {
    // ResNet-20 and VGG-11 take one step only: after a BatchNorm, the weight gradient is a sum over
    // every row (sample x position) with heavy cancellation, so the row permutation's new
    // summation order moves it by about 1e-3 of its size, and steps compound it.
    for (architecture, samples) in [
        (Architecture::default_mlp(), 64),
        (Architecture::lenet(), 64),
        (Architecture::resnet20(), 16),
        (Architecture::vgg11(), 16),
    ] {
        let data = fashion_subset(samples, 16);
        let setup = sgd_setup(&data, architecture.clone());
        let plain = train_baseline(&data, &setup, &ProgressBar::hidden()).weights;
        let tempo = remote(&setup, |s| TempoKey::new(17, s), 2, None, &data).unwrap();
        let comparison = compare_weights(&plain, &tempo);
        assert!(
            comparison.max_abs_diff < 1e-4,
            "{}: Tempo drifts from plain training by {}",
            architecture.name(),
            comparison.max_abs_diff
        );
        // The permutations change the summation order: equality would mean nothing was permuted.
        assert!(!comparison.bitwise_equal, "{}", architecture.name());
    }
}

#[test]
fn freivalds_catches_a_wrong_product_and_a_wrong_input_gradient() {
    let data = fashion_subset(32, 16);
    let setup = setup(&data, Architecture::lenet());
    let key = |s: &[[usize; 2]]| TempoKey::new(3, s);
    let forward = remote(&setup, key, 1, Some(Fault::CorruptProduct(7)), &data).unwrap_err();
    assert!(forward.to_string().contains("wrong product"), "{forward}");
    let backward = remote(&setup, key, 1, Some(Fault::CorruptInputGradient(2)), &data).unwrap_err();
    assert!(
        backward.to_string().contains("wrong input gradient"),
        "{backward}"
    );
    // Without checks, the same fault goes unnoticed: the check is what catches it.
    assert!(remote(&setup, key, 0, Some(Fault::CorruptProduct(7)), &data).is_ok());
}

#[test]
fn noise_over_loopback_tcp_carries_the_same_training_and_refuses_a_wrong_key() {
    let data = fashion_subset(32, 16);
    let setup = setup(&data, Architecture::default_mlp());
    let psk = [7u8; 32];
    let listener = NoiseListener::bind("127.0.0.1:0", psk, LIMIT).unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let worker = thread::spawn(move || {
        // First session: a client with the wrong key, refused at the handshake.
        assert!(listener.accept().is_err());
        let mut session = listener.accept().unwrap();
        let mut worker = Worker::new(&inference_device());
        serve(&mut worker, &mut session).unwrap();
    });
    let wrong = NoiseTcp::connect(&addr, [8u8; 32], LIMIT);
    // The initiator may only learn of the failure when it next reads.
    if let Ok(mut wrong) = wrong {
        assert!(wrong.receive().is_err());
    }
    let over_tcp = train_with(&data, &setup, |layers| {
        let shapes: Vec<[usize; 2]> = layers
            .iter()
            .map(|l| [l.weight.rows, l.weight.cols])
            .collect();
        let transport = NoiseTcp::connect(&addr, psk, LIMIT).unwrap();
        RemoteProducts::new(
            transport,
            TempoKey::new(9, &shapes),
            layers,
            &setup.train.optimizer_settings(),
            None,
            1,
            &inference_device(),
        )
        .unwrap()
    });
    let (over_tcp, products) = over_tcp.unwrap();
    let traffic = products.finish().unwrap();
    worker.join().unwrap();
    assert!(traffic.bytes_sent > 0 && traffic.steps == 2, "{traffic:?}");
    let in_process = remote(&setup, |s| TempoKey::new(9, s), 1, None, &data).unwrap();
    assert_bitwise("Tempo over TCP vs in process", &in_process, &over_tcp);
}

#[test]
fn a_damaged_checkpoint_is_refused_never_a_panic() {
    use amalgam_owner::tempo::{OffloadOptions, train_with_worker};
    let data = fashion_subset(32, 16);
    let mut setup = setup(&data, Architecture::resnet20());
    let dir = tempfile::tempdir().unwrap();
    let checkpoint = dir.path().join("run.checkpoint");
    let options = |resume| OffloadOptions {
        key_seed: 2,
        rounds: 1,
        checkpoint: Some(checkpoint.clone()),
        resume,
    };
    let run = |setup: &OwnerSetup, resume, fault| {
        let (transport, worker) = in_process_worker(fault);
        let outcome = train_with_worker(
            setup,
            &data.train,
            transport,
            &options(resume),
            &ProgressBar::hidden(),
        );
        // The owner's end is gone either way, so the worker's session ends; the worker must
        // not have panicked on what it was sent (a damaged checkpoint's state).
        assert!(worker.join().is_ok(), "the worker panicked");
        outcome
    };
    // A two-epoch run whose worker corrupts the first product of the second epoch (after 2
    // steps of one product per offloaded layer), which Freivalds' check stops: the checkpoint
    // of the first epoch is left for a resume of the same run. (The checkpoint names its run
    // by the epochs too, so a one-epoch run's checkpoint would not do.)
    setup.train.epochs = 2;
    let layers = TempoState::new(&setup).unwrap().1.len();
    assert!(run(&setup, false, Some(Fault::CorruptProduct(2 * layers))).is_err());
    let files: Vec<_> = std::fs::read_dir(&checkpoint)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 4, "{files:?}");
    let originals: Vec<Vec<u8>> = files.iter().map(|f| std::fs::read(f).unwrap()).collect();
    // A resume that goes through checkpoints its second epoch over the first: put the first
    // back after every case.
    let restore = || {
        std::fs::remove_dir_all(&checkpoint).unwrap();
        std::fs::create_dir(&checkpoint).unwrap();
        for (file, bytes) in files.iter().zip(&originals) {
            std::fs::write(file, bytes).unwrap();
        }
    };
    for (file, original) in files.iter().zip(&originals) {
        for damage in 0..3 {
            let damaged = match damage {
                0 => original[..original.len() / 2].to_vec(),
                1 => {
                    let mut d = original.clone();
                    let at = d.len() / 3;
                    d[at] ^= 0xff;
                    d[at + 1] ^= 0x55;
                    d
                }
                _ => b"not a checkpoint".to_vec(),
            };
            std::fs::write(file, &damaged).unwrap();
            let outcome =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(&setup, true, None)));
            let outcome = outcome
                .unwrap_or_else(|_| panic!("{} damaged ({damage}) panicked", file.display()));
            match outcome {
                Err(e) => assert!(!e.to_string().is_empty()),
                // A changed value can be a legitimate state; a file that is not one cannot.
                Ok(_) => assert!(damage == 1, "{} accepted damage {damage}", file.display()),
            }
            restore();
        }
    }
    let resumed = run(&setup, true, None).expect("the intact checkpoint resumes");
    assert_eq!(resumed.epochs.len(), 2);
}
