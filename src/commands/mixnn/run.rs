//! `amalgam mixnn run`: MixNN on loopback against the same model trained in one process.

use std::path::Path;

use amalgam_core::files::{StagingDir, write_json};
use amalgam_core::model::{WeightComparison, compare_weights};
use amalgam_core::training::Evaluation;
use amalgam_owner::baseline::train_baseline;
use amalgam_owner::mixnn::{MixnnTraffic, host_plans, train_mixnn};
use amalgam_owner::model_dir::write_model_dir;
use anyhow::Result;
use serde::Serialize;

use super::args::MixnnRunArgs;
use super::nodes::start_local;
use super::options;
use crate::commands::eval::evaluate_dir;
use crate::commands::image_setup as setup;
use crate::commands::run::default_out;
use crate::commands::scheme_report::{JobSummary, print_model_table};
use crate::commands::{key_file, load_images};
use crate::progress;

/// `report.json`.
#[derive(Serialize, Debug)]
struct MixnnReport {
    #[serde(flatten)]
    job: JobSummary,
    layer_hosts: usize,
    mix_nodes: usize,
    /// The model trained in one process (burn's whole network).
    one_process: Evaluation,
    /// The model MixNN returns.
    mixnn: Evaluation,
    mixnn_vs_one_process: WeightComparison,
    traffic: MixnnTraffic,
    /// Bytes over all links per training step.
    bytes_per_step: f64,
    /// (MixNN step time − one-process step time) / links crossed one after another per step.
    milliseconds_per_hop: f64,
    /// Wall time of MixNN's training (set-up and fetches included), seconds.
    mixnn_seconds: f64,
    /// Wall time of the one-process training, seconds.
    one_process_seconds: f64,
}

pub fn run(args: MixnnRunArgs) -> Result<()> {
    let out = args.out.clone().unwrap_or_else(|| default_out("mixnn"));
    let staging = StagingDir::new(&out)?;
    let dir = staging.path().to_path_buf();
    let data = load_images(&args.data)?;
    let setup = setup(&data, &args.training)?;
    let hosts = host_plans(&setup.spec)?.len();

    let nodes_dir = dir.join("nodes");
    std::fs::create_dir(&nodes_dir)?;
    let mix_args = vec!["--batch".to_string(), args.mix_batch.to_string()];
    let owner_key_path = nodes_dir.join("owner.key");
    let owner_key = key_file::create(&owner_key_path)?;
    let host_args = vec![
        "--owner-key".to_string(),
        owner_key_path.to_string_lossy().into_owned(),
    ];
    let nodes = start_local(&nodes_dir, args.mixes, hosts, &mix_args, &host_args)?;
    let bar = progress::batches("MixNN (layer hosts behind mix nodes)");
    let mixnn = train_mixnn(
        &setup,
        &data.train,
        &nodes.directory,
        &options(&args.route, Some(owner_key), None, false),
        &bar,
    );
    bar.finish_and_clear();
    drop(nodes);
    let mixnn = mixnn?;
    write_model_dir(&dir.join("mixnn"), &setup.spec, &mixnn.weights)?;

    let bar = progress::batches("one process");
    let plain = train_baseline(&data, &setup, &bar);
    bar.finish_and_clear();
    write_model_dir(&dir.join("one-process"), &setup.spec, &plain.weights)?;

    let evaluate = |name: &str| evaluate_dir(&dir.join(name), &data.test, None);
    let t = mixnn.traffic;
    let steps = t.steps.max(1) as f64;
    let plain_step = plain.train_seconds / steps;
    let report = MixnnReport {
        job: JobSummary::new(&data, &setup),
        layer_hosts: hosts,
        mix_nodes: args.mixes,
        one_process: evaluate("one-process")?,
        mixnn: evaluate("mixnn")?,
        mixnn_vs_one_process: compare_weights(&mixnn.weights, &plain.weights),
        bytes_per_step: t.link_bytes as f64 / steps,
        milliseconds_per_hop: 1e3 * (t.step_seconds / steps - plain_step)
            / t.sequential_hops_per_step.max(1) as f64,
        traffic: t,
        mixnn_seconds: mixnn.seconds,
        one_process_seconds: plain.train_seconds,
    };
    write_json(&dir.join("report.json"), &report)?;
    let out = staging.commit()?;
    print_table(&report, &out);
    Ok(())
}

fn print_table(r: &MixnnReport, out: &Path) {
    println!(
        "amalgam mixnn run: {}, {} layer hosts, {} mix nodes ({} per route), {} threads",
        r.job.describe(),
        r.layer_hosts,
        r.mix_nodes,
        r.traffic.route_mixes,
        r.job.threads
    );
    println!();
    print_model_table(
        "one process",
        &[
            ("one process", &r.one_process, None, r.one_process_seconds),
            (
                "MixNN (hosts behind mixes, TCP)",
                &r.mixnn,
                Some(&r.mixnn_vs_one_process),
                r.mixnn_seconds,
            ),
        ],
    );
    println!();
    let t = &r.traffic;
    println!(
        "{} steps ({} retried), {} packets of {} bytes ({} per activation message), {:.2} MB per step over all links, {:.2} ms per hop",
        t.steps,
        t.retries,
        t.packets,
        t.packet_bytes,
        t.packets_per_message,
        r.bytes_per_step / 1e6,
        r.milliseconds_per_hop
    );
    println!(
        "MixNN / one process wall time: {:.2}x",
        r.mixnn_seconds / r.one_process_seconds
    );
    println!("report: {}", out.join("report.json").display());
}
