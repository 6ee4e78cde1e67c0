//! `amalgam mixnn` as processes on loopback: the comparison run trains bitwise like one
//! process (MLP and LeNet); a tampering and a replaying mix node are caught and training goes
//! on to the same weights; a layer host or a mix node killed mid-training is noticed within
//! the step timeout, and `--resume` with the node restarted ends bitwise equal to an
//! uninterrupted run.
//! Every process started here is stopped before the test ends.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use amalgam_owner::model_dir::read_model_dir;
use common::exactness::assert_bitwise;
use common::{amalgam_ok, path_arg, write_idx_dataset};

/// A process killed (if still running) and reaped when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A node started as `dir/NAME.{key,json,log}`.
struct Node {
    process: Running,
    card: PathBuf,
    address: String,
}

fn start_node(dir: &Path, role: &str, name: &str, listen: &str, extra: &[&str]) -> Node {
    let card = dir.join(format!("{name}.json"));
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(format!("{name}.log")))
        .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_amalgam"))
        .args(["mixnn", role, "--listen", listen, "--key"])
        .arg(dir.join(format!("{name}.key")))
        .arg("--card")
        .arg(&card)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let address = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("{name} said {line:?}"))
        .to_string();
    Node {
        process: Running(child),
        card,
        address,
    }
}

/// Four mix nodes (the first two with `faults`) and three layer hosts (an MLP's layers).
fn start_nodes(dir: &Path, faults: [&[&str]; 2]) -> (Vec<Node>, Vec<Node>) {
    std::fs::create_dir_all(dir).unwrap();
    let mixes = (0..4)
        .map(|i| {
            let extra = if i < 2 { faults[i] } else { &[] };
            start_node(dir, "mix-node", &format!("mix-{i}"), "127.0.0.1:0", extra)
        })
        .collect();
    let owner_key = owner_key(dir);
    let host_args = ["--owner-key", owner_key.as_str()];
    let hosts = (0..3)
        .map(|i| {
            start_node(
                dir,
                "layer-host",
                &format!("host-{i}"),
                "127.0.0.1:0",
                &host_args,
            )
        })
        .collect();
    (mixes, hosts)
}

/// The owner key of the nodes in `dir` (made on first use).
fn owner_key(dir: &Path) -> String {
    let path = dir.join("owner.key");
    if !path.exists() {
        amalgam_ok(&["mixnn", "owner-key", &path_arg(&path)]);
    }
    path_arg(&path)
}

/// `mixnn train` through `mixes` and `hosts`, whose cards and owner key are in `nodes`.
fn train_args(
    data: &Path,
    nodes: &Path,
    mixes: &[Node],
    hosts: &[Node],
    out: &Path,
) -> Vec<String> {
    let mut args: Vec<String> = [
        "mixnn",
        "train",
        "--model",
        "mlp",
        "--epochs",
        "3",
        "--batch-size",
        "64",
        "--step-timeout",
        "2",
        "--retries",
        "2",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend(["--data".into(), path_arg(data)]);
    args.extend(["--out".into(), path_arg(out)]);
    args.extend(["--owner-key".into(), owner_key(nodes)]);
    for m in mixes {
        args.extend(["--mix".into(), path_arg(&m.card)]);
    }
    for h in hosts {
        args.extend(["--host".into(), path_arg(&h.card)]);
    }
    args
}

fn run(args: &[String]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_amalgam"))
        .args(args)
        .output()
        .unwrap()
}

fn assert_success(out: &Output) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn data(dir: &Path) -> PathBuf {
    let data = dir.join("data");
    std::fs::create_dir(&data).unwrap();
    write_idx_dataset(&data, 640, 64, 28);
    data
}

/// Trains with clean nodes: the reference weights.
fn uninterrupted(dir: &Path, data: &Path) -> PathBuf {
    let nodes = dir.join("clean-nodes");
    let (mixes, hosts) = start_nodes(&nodes, [&[], &[]]);
    let out = dir.join("whole");
    assert_success(&run(&train_args(data, &nodes, &mixes, &hosts, &out)));
    out
}

fn logs(dir: &Path) -> String {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect()
}

#[test]
fn mixnn_run_trains_bitwise_like_one_process() {
    let dir = tempfile::tempdir().unwrap();
    let data = data(dir.path());
    for model in ["mlp", "lenet"] {
        let out = dir.path().join(model);
        let table = amalgam_ok(&[
            "mixnn",
            "run",
            "--model",
            model,
            "--epochs",
            "1",
            "--batch-size",
            "64",
            "--data",
            &path_arg(&data),
            "--out",
            &path_arg(&out),
        ]);
        assert!(table.contains("MixNN / one process wall time"), "{table}");
        let (_, mixnn) = read_model_dir(&out.join("mixnn")).unwrap();
        let (_, one) = read_model_dir(&out.join("one-process")).unwrap();
        assert_bitwise(&format!("{model}: MixNN vs one process"), &mixnn, &one);
        let report: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap())
                .unwrap();
        assert_eq!(report["traffic"]["retries"], 0, "{report}");
        assert_eq!(report["traffic"]["route_mixes"], 3);
    }
}

#[test]
fn tampered_and_replayed_packets_are_refused_and_training_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let data = data(dir.path());
    let whole = uninterrupted(dir.path(), &data);
    let nodes_dir = dir.path().join("faulty-nodes");
    let (mixes, hosts) = start_nodes(
        &nodes_dir,
        [&["--fault", "tamper:60"], &["--fault", "replay:50"]],
    );
    let out = dir.path().join("faulty");
    let output = run(&train_args(&data, &nodes_dir, &mixes, &hosts, &out));
    assert_success(&output);
    drop((mixes, hosts));
    let owner = String::from_utf8_lossy(&output.stderr);
    let logs = logs(&nodes_dir) + &owner;
    assert!(logs.contains("fault injected: tampered"), "{logs}");
    assert!(logs.contains("fault injected: replayed"), "{logs}");
    assert!(logs.contains("replayed (seen before)"), "{logs}");
    assert!(logs.contains("payload integrity"), "{logs}");
    assert!(
        owner.contains("trying again") || owner.contains("asking again"),
        "{owner}"
    );
    let (_, a) = read_model_dir(&whole).unwrap();
    let (_, b) = read_model_dir(&out).unwrap();
    assert_bitwise("MixNN with faulty mixes vs clean", &a, &b);
}

#[test]
fn a_killed_layer_host_is_noticed_and_resume_ends_bitwise_equal() {
    kill_and_resume(false);
}

#[test]
fn a_killed_mix_node_is_noticed_and_resume_ends_bitwise_equal() {
    kill_and_resume(true);
}

/// Kills a layer host (or a mix node) once the first epoch's checkpoint is written, restarts
/// it, resumes, and compares with an uninterrupted run.
fn kill_and_resume(kill_mix: bool) {
    let dir = tempfile::tempdir().unwrap();
    let data = data(dir.path());
    let whole = uninterrupted(dir.path(), &data);

    let nodes_dir = dir.path().join("nodes");
    let (mut mixes, mut hosts) = start_nodes(&nodes_dir, [&[], &[]]);
    let resumed = dir.path().join("resumed");
    let args = train_args(&data, &nodes_dir, &mixes, &hosts, &resumed);
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
        std::thread::sleep(Duration::from_millis(10));
    }
    let (victim, role, name) = if kill_mix {
        (&mut mixes[0], "mix-node", "mix-0")
    } else {
        (&mut hosts[1], "layer-host", "host-1")
    };
    victim.process.0.kill().unwrap();
    let killed = Instant::now();
    let status = owner.0.wait().unwrap();
    // Three attempts of 2 s at most, and a step in flight.
    assert!(
        killed.elapsed() < Duration::from_secs(20),
        "the owner took {:?} to notice",
        killed.elapsed()
    );
    let mut stderr = String::new();
    std::io::Read::read_to_string(owner.0.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert!(
        !status.success(),
        "the run cannot finish without its {name}"
    );
    assert!(stderr.contains("--resume"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!resumed.exists());

    // The node restarted with its key and address, and the run goes on from its checkpoint.
    let address = victim.address.clone();
    let key = owner_key(&nodes_dir);
    let extra: &[&str] = if kill_mix {
        &[]
    } else {
        &["--owner-key", &key]
    };
    *victim = start_node(&nodes_dir, role, name, &address, extra);
    let mut args = train_args(&data, &nodes_dir, &mixes, &hosts, &resumed);
    args.push("--resume".into());
    assert_success(&run(&args));
    assert!(!dir.path().join("resumed.checkpoint").exists());
    let (_, a) = read_model_dir(&whole).unwrap();
    let (_, b) = read_model_dir(&resumed).unwrap();
    assert_bitwise("resumed MixNN run vs uninterrupted", &a, &b);
}

#[test]
fn mixnn_attack_recovers_the_first_hosts_images_and_the_last_hosts_labels() {
    let dir = tempfile::tempdir().unwrap();
    let data = data(dir.path());
    let out = dir.path().join("attack");
    amalgam_ok(&[
        "mixnn",
        "attack",
        "--model",
        "lenet",
        "--epochs",
        "1",
        "--batch-size",
        "64",
        "--data",
        &path_arg(&data),
        "--out",
        &path_arg(&out),
    ]);
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    let audit = &report["audit"];
    assert!(
        audit["first_host_images"]["ssim"].as_f64().unwrap() > 0.99,
        "{audit}"
    );
    assert_eq!(audit["last_host_labels"].as_f64().unwrap(), 1.0, "{audit}");
    assert!(audit["labels_scored"].as_u64().unwrap() >= 64);
    assert!(audit["second_host_images"]["ssim"].is_number(), "{audit}");
    assert!(out.join("grid.png").exists());
}
