//! `amalgam audit-sweep`: the audit over many keys and settings, for docs/PRIVACY.md.

use amalgam_cloud::{TrainOptions, train_bundle};
use amalgam_core::files::write_json;
use amalgam_core::model::Architecture;
use amalgam_core::training::OptimizerKind;
use amalgam_owner::audit::AuditReport;
use amalgam_owner::augment::{AugmentOptions, DecoyArchitecture, augment};
use amalgam_owner::data::Dataset;
use amalgam_owner::noise::NoiseKind;
use amalgam_owner::setup::TrainSettings;
use anyhow::{Result, bail};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use crate::args::AuditSweepArgs;
use crate::commands::audit::audit_bundle;
use crate::commands::original_data::{OriginalData, load};

const NOISES: [NoiseKind; 3] = [NoiseKind::Uniform, NoiseKind::Gaussian, NoiseKind::Resample];
const AMOUNTS: [f64; 2] = [0.25, 1.0];
const DECOYS: [usize; 2] = [1, 3];

/// One setting's results over all keys: means, and rates of correct identification.
#[derive(Serialize, Debug)]
struct SweepRow {
    noise: NoiseKind,
    amount: f64,
    decoys: usize,
    keys: usize,
    /// Mean AUC of the attacker's chosen statistic.
    detection_auc: f64,
    /// Mean AUC of each statistic.
    statistic_auc: Vec<(String, f64)>,
    /// Mean fraction of real pixel positions found at the known count (attacker's choice).
    real_found: f64,
    identification_rate: f64,
    by_smoothness_rate: f64,
    by_loss_rate: Option<f64>,
    by_accuracy_rate: Option<f64>,
    random_guess: f64,
    /// Mean (PSNR dB, SSIM) of the reconstructions: from the picked branch, by dropping the
    /// detected noise, by shrinking the flat sequence.
    reconstruction: Vec<(String, f64, f64)>,
}

fn mean(values: impl Iterator<Item = f64>) -> f64 {
    let (sum, n) = values.fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    sum / n.max(1) as f64
}

fn rate(reports: &[AuditReport], pick: impl Fn(&AuditReport) -> Option<usize>) -> Option<f64> {
    let picks: Option<Vec<bool>> = reports
        .iter()
        .map(|r| pick(r).map(|p| p == r.real_branch))
        .collect();
    picks.map(|p| mean(p.into_iter().map(|ok| f64::from(u8::from(ok)))))
}

impl SweepRow {
    fn new(noise: NoiseKind, amount: f64, decoys: usize, reports: &[AuditReport]) -> Self {
        let first = &reports[0];
        let statistic_auc = first
            .detection
            .iter()
            .enumerate()
            .map(|(i, d)| {
                (
                    d.statistic.clone(),
                    mean(reports.iter().map(|r| r.detection[i].auc)),
                )
            })
            .collect();
        let chosen = first.detection.len() - 1;
        let reconstruction = first
            .reconstruction
            .iter()
            .enumerate()
            .map(|(i, m)| {
                (
                    m.method.clone(),
                    mean(reports.iter().map(|r| r.reconstruction[i].psnr_db)),
                    mean(reports.iter().map(|r| r.reconstruction[i].ssim)),
                )
            })
            .collect();
        SweepRow {
            noise,
            amount,
            decoys,
            keys: reports.len(),
            detection_auc: mean(reports.iter().map(|r| r.detection[chosen].auc)),
            statistic_auc,
            real_found: mean(
                reports
                    .iter()
                    .map(|r| r.detection[chosen].real_recovered_at_count),
            ),
            identification_rate: rate(reports, |r| Some(r.identification.pick)).unwrap_or(0.0),
            by_smoothness_rate: rate(reports, |r| Some(r.identification.by_smoothness))
                .unwrap_or(0.0),
            by_loss_rate: rate(reports, |r| r.identification.by_loss),
            by_accuracy_rate: rate(reports, |r| r.identification.by_accuracy),
            random_guess: 1.0 / (decoys + 1) as f64,
            reconstruction,
        }
    }
}

pub fn run(args: AuditSweepArgs) -> Result<()> {
    let OriginalData::Images(full) = load(&args.data)? else {
        bail!("the audit sweep covers images only (--task image)");
    };
    let dataset = Dataset {
        name: format!("{} (first {} samples)", full.name, args.samples),
        train: full.train.head(args.samples),
        test: full.test.head(args.samples / 4),
    };
    let total = (NOISES.len() * AMOUNTS.len() * DECOYS.len()) as u64 * args.keys;
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template(
            "{prefix} [{bar:30}] {pos}/{len} bundles {elapsed}<{eta} {msg}",
        )
        .expect("the template is valid")
        .progress_chars("=> "),
    );
    bar.set_prefix("auditing");
    let mut rows = Vec::new();
    for noise in NOISES {
        for amount in AMOUNTS {
            for decoys in DECOYS {
                bar.set_message(format!("{noise:?} a={amount} K={decoys}"));
                let mut reports = Vec::new();
                for key_seed in 0..args.keys {
                    let dir = tempfile::tempdir()?;
                    let (bundle, key) = (dir.path().join("bundle"), dir.path().join("key.json"));
                    let (trained, log) = (
                        dir.path().join("trained.safetensors"),
                        dir.path().join("log.jsonl"),
                    );
                    let options = AugmentOptions {
                        architecture: Architecture::lenet(),
                        amount,
                        noise,
                        decoys,
                        decoy_architecture: DecoyArchitecture::Clone,
                        seed: 0,
                        key_seed,
                        train: TrainSettings {
                            epochs: args.train_epochs.max(1),
                            batch_size: 32,
                            learning_rate: 2e-3,
                            optimizer: OptimizerKind::Adam,
                            ..Default::default()
                        },
                    };
                    augment(&dataset, &options, &bundle, &key)?;
                    let trained_outputs = if args.train_epochs > 0 {
                        train_bundle(
                            &bundle,
                            &trained,
                            &log,
                            &ProgressBar::hidden(),
                            TrainOptions::default(),
                        )?;
                        Some((trained.as_path(), log.as_path()))
                    } else {
                        None
                    };
                    let (_, _, _, report) = audit_bundle(
                        &bundle,
                        trained_outputs.map(|t| t.0),
                        trained_outputs.map(|t| t.1),
                        &key,
                        0,
                    )?;
                    reports.push(report);
                    bar.inc(1);
                }
                rows.push(SweepRow::new(noise, amount, decoys, &reports));
            }
        }
    }
    bar.finish_and_clear();
    print_table(&rows, &dataset, args.train_epochs);
    if let Some(out) = &args.out {
        write_json(out, &rows)?;
    }
    Ok(())
}

fn print_table(rows: &[SweepRow], dataset: &Dataset, train_epochs: usize) {
    println!(
        "Privacy audit of {} with LeNet bundles, {} keys per setting, {}",
        dataset.name,
        rows.first().map_or(0, |r| r.keys),
        if train_epochs > 0 {
            format!("{train_epochs} epoch(s) of cloud training per bundle")
        } else {
            "no training (data-only attacks)".to_string()
        }
    );
    println!();
    println!(
        "| noise | amount | K | detection AUC | off-grid AUC | neighbour-corr. AUC | real pixels found | identified (pick) | by smoothness | by loss | by accuracy | random | SSIM from branch | SSIM drop noise | SSIM flat shrink |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    let opt = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.2}"));
    let auc = |r: &SweepRow, name: &str| {
        r.statistic_auc
            .iter()
            .find(|(n, _)| n == name)
            .map_or(0.0, |(_, a)| *a)
    };
    for r in rows {
        println!(
            "| {} | {} | {} | {:.3} | {:.3} | {:.3} | {:.3} | {:.2} | {:.2} | {} | {} | {:.2} | {:.3} | {:.3} | {:.3} |",
            format!("{:?}", r.noise).to_lowercase(),
            r.amount,
            r.decoys,
            r.detection_auc,
            auc(r, "off_grid"),
            auc(r, "neighbour_correlation"),
            r.real_found,
            r.identification_rate,
            r.by_smoothness_rate,
            opt(r.by_loss_rate),
            opt(r.by_accuracy_rate),
            r.random_guess,
            r.reconstruction[0].2,
            r.reconstruction[1].2,
            r.reconstruction[2].2,
        );
    }
}
