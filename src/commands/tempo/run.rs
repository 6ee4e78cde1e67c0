//! `amalgam tempo run`: Tempo against plain training and against the trusted process alone.

use std::path::Path;
use std::time::Duration;

use amalgam_core::files::{StagingDir, write_json};
use amalgam_core::model::{WeightComparison, compare_weights};
use amalgam_core::tempo::NoiseTcp;
use amalgam_core::training::Evaluation;
use amalgam_owner::baseline::train_baseline;
use amalgam_owner::model_dir::write_model_dir;
use amalgam_owner::tempo::{Traffic, train_alone, train_with_worker};
use anyhow::Result;
use serde::Serialize;

use super::args::TempoRunArgs;
use super::offload_options;
use super::worker_process::start_worker;
use crate::commands::eval::evaluate_dir;
use crate::commands::image_setup as setup;
use crate::commands::key_file;
use crate::commands::load_images;
use crate::commands::run::default_out;
use crate::commands::scheme_report::{JobSummary, print_model_table};
use crate::progress;

/// Wall time of each way of training, seconds.
#[derive(Serialize, Debug, Default)]
struct Seconds {
    tempo: f64,
    plain: f64,
    trusted_alone: f64,
}

/// `report.json`.
#[derive(Serialize, Debug)]
struct TempoReport {
    #[serde(flatten)]
    job: JobSummary,
    freivalds_rounds: usize,
    offloaded_layers: usize,
    /// The model trained in the clear in one process (burn's own layers).
    plain: Evaluation,
    /// The model Tempo returns.
    tempo: Evaluation,
    /// The same graph with the trusted process computing every product (TEE-only baseline).
    trusted_alone: Evaluation,
    tempo_vs_plain: WeightComparison,
    trusted_alone_vs_plain: WeightComparison,
    traffic: Traffic,
    bytes_per_step: f64,
    seconds: Seconds,
}

pub fn run(args: TempoRunArgs) -> Result<()> {
    let out = args.out.clone().unwrap_or_else(|| default_out("tempo"));
    let staging = StagingDir::new(&out)?;
    let dir = staging.path().to_path_buf();
    let data = load_images(&args.data)?;
    let setup = setup(&data, &args.training)?;
    let rounds = args.offload.freivalds_rounds;

    let psk_path = dir.join("psk");
    let psk = key_file::create(&psk_path)?;
    let worker = start_worker(&psk_path, args.offload.timeout)?;
    let transport =
        NoiseTcp::connect(&worker.addr, psk, Duration::from_secs(args.offload.timeout))?;
    let bar = progress::batches("Tempo (trusted process + worker)");
    let options = offload_options(&args.offload, None, false);
    let tempo = train_with_worker(&setup, &data.train, transport, &options, &bar);
    bar.finish_and_clear();
    let tempo = tempo?;
    drop(worker);
    std::fs::remove_file(&psk_path)?;
    write_model_dir(&dir.join("tempo"), &setup.spec, &tempo.weights)?;

    let bar = progress::batches("trusted process alone");
    let alone = train_alone(&setup, &data.train, &bar);
    bar.finish_and_clear();
    let alone = alone?;
    write_model_dir(&dir.join("trusted-alone"), &setup.spec, &alone.weights)?;

    let bar = progress::batches("plain");
    let plain = train_baseline(&data, &setup, &bar);
    bar.finish_and_clear();
    write_model_dir(&dir.join("plain"), &setup.spec, &plain.weights)?;

    let evaluate = |name: &str| evaluate_dir(&dir.join(name), &data.test, None);
    let traffic = tempo.traffic;
    let report = TempoReport {
        job: JobSummary::new(&data, &setup),
        freivalds_rounds: rounds,
        offloaded_layers: amalgam_owner::tempo::graph::Graph::new(&setup.spec)?
            .layers
            .len(),
        plain: evaluate("plain")?,
        tempo: evaluate("tempo")?,
        trusted_alone: evaluate("trusted-alone")?,
        tempo_vs_plain: compare_weights(&tempo.weights, &plain.weights),
        trusted_alone_vs_plain: compare_weights(&alone.weights, &plain.weights),
        bytes_per_step: (traffic.bytes_sent + traffic.bytes_received) as f64
            / traffic.steps.max(1) as f64,
        traffic,
        seconds: Seconds {
            tempo: tempo.seconds,
            plain: plain.train_seconds,
            trusted_alone: alone.seconds,
        },
    };
    write_json(&dir.join("report.json"), &report)?;
    let out = staging.commit()?;
    print_table(&report, &out);
    Ok(())
}

fn print_table(r: &TempoReport, out: &Path) {
    println!(
        "amalgam tempo run: {}, {} offloaded layers, Freivalds rounds {}, {} threads",
        r.job.describe(),
        r.offloaded_layers,
        r.freivalds_rounds,
        r.job.threads
    );
    println!();
    let s = &r.seconds;
    print_model_table(
        "plain",
        &[
            ("plain (one process)", &r.plain, None, s.plain),
            (
                "Tempo (trusted process + worker, TCP)",
                &r.tempo,
                Some(&r.tempo_vs_plain),
                s.tempo,
            ),
            (
                "trusted process alone (TEE-only)",
                &r.trusted_alone,
                Some(&r.trusted_alone_vs_plain),
                s.trusted_alone,
            ),
        ],
    );
    println!();
    let t = &r.traffic;
    println!(
        "exchanged with the worker: {} steps, {} requests, {:.2} MB per step ({:.1} MB sent, {:.1} MB received), {} products checked",
        t.steps,
        t.requests,
        r.bytes_per_step / 1e6,
        t.bytes_sent as f64 / 1e6,
        t.bytes_received as f64 / 1e6,
        t.checked
    );
    println!(
        "Tempo / plain wall time: {:.2}x; Tempo / trusted process alone: {:.2}x",
        s.tempo / s.plain,
        s.tempo / s.trusted_alone
    );
    println!("report: {}", out.join("report.json").display());
}
