//! `amalgam tempo` as processes on loopback: the comparison run; a worker killed with SIGKILL
//! mid-training is noticed at once, and `--resume` with a fresh worker ends bitwise equal to
//! an uninterrupted run; a peer without the key and a malformed pre-shared key file are
//! refused. Every process started here is stopped before the test ends.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use amalgam_owner::model_dir::read_model_dir;
use common::exactness::assert_bitwise;
use common::{amalgam_ok, fails_with, path_arg, write_idx_dataset};

/// A process killed (if still running) and reaped when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `amalgam tempo worker` on a free loopback port with `psk`; returns it and its address.
fn start_worker(psk: &Path) -> (Running, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_amalgam"))
        .args([
            "tempo",
            "worker",
            "--listen",
            "127.0.0.1:0",
            "--timeout",
            "60",
            "--psk",
        ])
        .arg(psk)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap()
        .to_string();
    (Running(child), addr)
}

fn train_args(data: &Path, psk: &Path, addr: &str, out: &Path) -> Vec<String> {
    [
        "tempo",
        "train",
        "--model",
        "mlp",
        "--epochs",
        "3",
        "--batch-size",
        "32",
        "--key-seed",
        "5",
        "--worker",
        addr,
    ]
    .iter()
    .map(|s| s.to_string())
    .chain(["--data".into(), path_arg(data)])
    .chain(["--psk".into(), path_arg(psk)])
    .chain(["--out".into(), path_arg(out)])
    .collect()
}

fn run_train(args: &[String]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_amalgam"))
        .args(args)
        .output()
        .unwrap()
}

fn setup() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    write_idx_dataset(&data, 3000, 100, 28);
    let psk = dir.path().join("psk");
    amalgam_ok(&["tempo", "psk", &path_arg(&psk)]);
    (dir, data, psk)
}

#[test]
fn a_killed_worker_is_noticed_and_resume_ends_bitwise_equal() {
    let (dir, data, psk) = setup();
    // Uninterrupted.
    let (_worker, addr) = start_worker(&psk);
    let whole = dir.path().join("whole");
    let out = run_train(&train_args(&data, &psk, &addr, &whole));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Interrupted: the worker is killed once the first epoch's checkpoint is written.
    let (mut worker, addr) = start_worker(&psk);
    let resumed = dir.path().join("resumed");
    let args = train_args(&data, &psk, &addr, &resumed);
    let mut owner = Running(
        Command::new(env!("CARGO_BIN_EXE_amalgam"))
            .args(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let state = dir.path().join("resumed.checkpoint/state.json");
    let start = Instant::now();
    while !state.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "no checkpoint appeared"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    worker.0.kill().unwrap();
    let killed = Instant::now();
    let status = owner.0.wait().unwrap();
    assert!(
        killed.elapsed() < Duration::from_secs(30),
        "the owner took {:?} to notice",
        killed.elapsed()
    );
    let mut stderr = String::new();
    std::io::Read::read_to_string(owner.0.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert!(
        !status.success(),
        "the run cannot finish without its worker"
    );
    assert!(
        stderr.contains("hung up") || stderr.contains("cannot"),
        "{stderr}"
    );
    assert!(!resumed.exists());

    // A fresh worker, and the run goes on from its checkpoint.
    let (_worker, addr) = start_worker(&psk);
    let mut args = train_args(&data, &psk, &addr, &resumed);
    args.push("--resume".into());
    let out = run_train(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!dir.path().join("resumed.checkpoint").exists());
    let (_, a) = read_model_dir(&whole).unwrap();
    let (_, b) = read_model_dir(&resumed).unwrap();
    assert_bitwise("resumed Tempo run vs uninterrupted", &a, &b);
}

#[test]
fn peers_without_the_key_and_bad_key_files_are_refused() {
    let (dir, data, psk) = setup();
    let (mut worker, addr) = start_worker(&psk);
    // Garbage instead of a handshake: that session is refused, the worker serves the next.
    let mut stream = TcpStream::connect(&addr).unwrap();
    stream.write_all(&[0, 5, 1, 2, 3, 4, 5]).unwrap();
    drop(stream);
    let other = dir.path().join("other-psk");
    amalgam_ok(&["tempo", "psk", &path_arg(&other)]);
    let out = run_train(&train_args(&data, &other, &addr, &dir.path().join("m")));
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("pre-shared key"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        worker.0.try_wait().unwrap().is_none(),
        "the worker must keep serving"
    );

    let bad = dir.path().join("bad-psk");
    std::fs::write(&bad, "not hex\n").unwrap();
    fails_with(
        &[
            "tempo",
            "worker",
            "--listen",
            "127.0.0.1:0",
            "--psk",
            &path_arg(&bad),
        ],
        "64 hex digits",
    );
    fails_with(&["tempo", "psk", &path_arg(&psk)], "already exists");
}

#[test]
fn tempo_run_reports_the_three_trainings() {
    let (dir, data, _) = setup();
    let out = dir.path().join("run");
    let table = amalgam_ok(&[
        "tempo",
        "run",
        "--model",
        "lenet",
        "--epochs",
        "1",
        "--data",
        &path_arg(&data),
        "--out",
        &path_arg(&out),
    ]);
    assert!(
        table.contains("Tempo (trusted process + worker, TCP)"),
        "{table}"
    );
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    let steps = report["traffic"]["steps"].as_u64().unwrap();
    assert_eq!(steps, 3000 / 32 + 1);
    assert!(report["traffic"]["checked"].as_u64().unwrap() > steps);
    for model in ["plain", "tempo", "trusted-alone"] {
        read_model_dir(&out.join(model)).unwrap();
    }
    let diff = report["tempo_vs_plain"]["max_abs_diff"].as_f64().unwrap();
    assert!(diff.is_finite() && diff < 0.1, "{diff}");
    assert!(
        !out.join("psk").exists(),
        "the run's key is removed with its worker"
    );
}

/// `amalgam tempo attack` on `model` with key seed `key`: its directory and report.
fn attack_report(model: &str, key: &str) -> (tempfile::TempDir, serde_json::Value) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("attack");
    amalgam_ok(&[
        "tempo",
        "attack",
        "--model",
        model,
        "--epochs",
        "1",
        "--key-seed",
        key,
        "--out",
        &path_arg(&out),
    ]);
    let report = serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    (dir, report)
}

#[test]
fn the_curious_worker_links_the_layers_and_puts_the_pixels_back() {
    let (dir, report) = attack_report("mlp", "3");
    let audit = &report["audit"];
    for link in audit["links"].as_array().unwrap() {
        // Units that never fire in the first step cannot be linked; the rest are, rightly.
        assert!(link["correct"].as_f64().unwrap() > 0.8, "{link}");
        assert_eq!(link["correct"], link["linked"], "{link}");
    }
    let tempo = report["tempo"]["accuracy"].as_f64().unwrap();
    let own_pixels = audit["chain"]["with_estimated_pixel_order"]["accuracy"]
        .as_f64()
        .unwrap();
    assert!(own_pixels > tempo - 0.05, "{own_pixels} vs {tempo}");
    assert!(audit["images"]["psnr"].as_f64().unwrap() > 18.0, "{audit}");
    assert!(dir.path().join("attack/grid.png").is_file());
}

#[test]
fn the_curious_worker_solves_the_im2col_jigsaw() {
    let (_dir, report) = attack_report("lenet", "4");
    let images = &report["audit"]["images"];
    assert_eq!(images["attack"], "im2col jigsaw");
    // Every kernel offset placed (up to a symmetry of the square), and the images back up
    // to their place in the frame.
    assert_eq!(
        images["placed_correctly"].as_f64().unwrap(),
        1.0,
        "{images}"
    );
    assert!(
        images["registered_ssim"].as_f64().unwrap() > 0.9,
        "{images}"
    );
    let links = report["audit"]["links"].as_array().unwrap();
    assert_eq!(
        links[0]["correct"].as_f64().unwrap(),
        1.0,
        "conv1 -> conv2 channels"
    );
}
