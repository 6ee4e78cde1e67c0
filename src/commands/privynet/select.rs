//! `amalgam privynet select`: PrivyNet's topology selection. Every candidate (split point,
//! kept channels D) is trained and attacked; the most accurate one within the limits on
//! privacy loss (the best attack's PSNR), local computation and local storage is chosen.

use amalgam_attack::privynet::DecoderSettings;
use amalgam_core::bundle::Precision;
use amalgam_core::files::{StagingDir, write_json};
use amalgam_core::model::split::{feature_channels, local_macs};
use amalgam_core::training::Evaluation;
use amalgam_owner::audit::write_grid;
use amalgam_owner::baseline::train_baseline;
use amalgam_owner::data::TrainingPart;
use amalgam_owner::privynet::PrivynetOptions;
use amalgam_owner::setup::OwnerSetup;
use anyhow::Result;
use serde::Serialize;

use super::args::PrivynetSelectArgs;
use super::attack::{PrivynetAttackReport, attack_bundle};
use super::job::{JobCost, run_job};
use super::pretrain::pretrained_or_train;
use super::{architecture, local_parameters};
use crate::commands::load_images;
use crate::plot::{Point, scatter_png};
use crate::progress;

/// One candidate topology, trained and attacked.
#[derive(Serialize, Debug)]
struct Topology {
    split_point: usize,
    kept_channels: usize,
    feature_channels: usize,
    local_parameters: usize,
    local_macs: u64,
    /// The composed model's test accuracy and loss.
    privynet: Evaluation,
    /// The attacks' results, scored with the key.
    attack: PrivynetAttackReport,
    /// The best attack's PSNR: the privacy loss the limit bounds.
    privacy_loss_psnr: f64,
    within_limits: bool,
    on_frontier: bool,
    cost: JobCost,
}

/// `frontier.json`.
#[derive(Serialize, Debug)]
struct SelectReport {
    dataset: String,
    model: String,
    train_samples: usize,
    test_samples: usize,
    epochs: usize,
    /// The whole network trained on the private images in the clear.
    plain: Evaluation,
    max_psnr: Option<f64>,
    max_local_macs: Option<u64>,
    max_local_params: Option<usize>,
    topologies: Vec<Topology>,
    /// Index in `topologies` of the chosen one, if any is within the limits.
    chosen: Option<usize>,
}

pub fn run(args: PrivynetSelectArgs) -> Result<()> {
    let staging = StagingDir::new(&args.out)?;
    let dir = staging.path().to_path_buf();
    let data = load_images(&args.data)?;
    let (public_part, private_part): (TrainingPart, TrainingPart) =
        (args.public.into(), args.private.into());
    let private = private_part.of(&data)?;
    let public = public_part.of(&data)?.train.head(args.public_samples);
    let (pretrained, _) = pretrained_or_train(
        args.pretrained.as_deref(),
        &data,
        public_part,
        private_part,
        &args.training,
        &dir,
    )?;
    let whole = &pretrained.0;
    let key_seed = args.key_seed.unwrap_or_else(rand::random);
    let decoder = DecoderSettings {
        epochs: args.decoder_epochs,
        ..DecoderSettings::default()
    };
    let mut train = args.training.settings();
    (train.crop_padding, train.normalize) = (0, false);

    let mut topologies = Vec::new();
    let mut grids = Vec::new();
    for &point in &args.splits {
        let width = feature_channels(&whole.architecture, point)?;
        let mut counts: Vec<usize> = args
            .channels
            .iter()
            .copied()
            .filter(|&d| d < width)
            .collect();
        counts.push(width);
        counts.sort_unstable();
        counts.dedup();
        for channels in counts {
            eprintln!("topology: split point {point}, {channels} of {width} channels");
            let work = tempfile::tempdir_in(&dir)?;
            let options = PrivynetOptions {
                point,
                channels,
                seed: args.training.seed,
                key_seed,
                train: train.clone(),
                precision: if args.f16 {
                    Precision::F16
                } else {
                    Precision::F32
                },
            };
            let job = run_job(&private, &pretrained, &options, work.path())?;
            let (attack, [blind, told]) = attack_bundle(
                &work.path().join("bundle"),
                &pretrained,
                &public,
                &private.test,
                &job.key,
                &decoder,
                args.samples,
            )?;
            let privacy_loss_psnr = attack.best().psnr;
            let local_parameters = local_parameters(&job.key);
            let local_macs = local_macs(whole, point)?;
            let within_limits = args.max_psnr.is_none_or(|m| privacy_loss_psnr <= m)
                && args.max_local_macs.is_none_or(|m| local_macs <= m)
                && args.max_local_params.is_none_or(|m| local_parameters <= m);
            topologies.push(Topology {
                split_point: point,
                kept_channels: channels,
                feature_channels: width,
                local_parameters,
                local_macs,
                privynet: job.privynet,
                attack,
                privacy_loss_psnr,
                within_limits,
                on_frontier: false,
                cost: job.cost,
            });
            grids.push([blind, told]);
        }
    }
    mark_frontier(&mut topologies);
    let chosen = topologies
        .iter()
        .enumerate()
        .filter(|(_, t)| t.within_limits)
        .max_by(|(_, a), (_, b)| a.privynet.accuracy.total_cmp(&b.privynet.accuracy))
        .map(|(i, _)| i);

    let setup = OwnerSetup::new(
        &private,
        architecture(&args.training),
        &args.training.settings(),
        args.training.seed,
    )?;
    let bar = progress::batches("plain");
    let plain = train_baseline(&private, &setup, &bar);
    bar.finish_and_clear();
    let classifier = amalgam_core::model::Classifier::new(
        &setup.spec,
        &plain.weights,
        &amalgam_core::backend::inference_device(),
    )
    .map_err(|e| anyhow::anyhow!("plain model: {e}"))?;
    let plain = amalgam_core::training::evaluate(
        &classifier,
        &private.test,
        &amalgam_core::backend::inference_device(),
    );

    let report = SelectReport {
        dataset: private.name.clone(),
        model: whole.architecture.name().into(),
        train_samples: private.train.labels.len(),
        test_samples: private.test.labels.len(),
        epochs: train.epochs,
        plain,
        max_psnr: args.max_psnr,
        max_local_macs: args.max_local_macs,
        max_local_params: args.max_local_params,
        topologies,
        chosen,
    };
    write_json(&dir.join("frontier.json"), &report)?;
    let points: Vec<Point> = report
        .topologies
        .iter()
        .enumerate()
        .map(|(i, t)| Point {
            x: t.privacy_loss_psnr,
            y: t.privynet.accuracy,
            label: format!("p{} D{}", t.split_point, t.kept_channels),
            highlighted: Some(i) == chosen,
        })
        .collect();
    scatter_png(
        &dir.join("frontier.png"),
        &format!(
            "PrivyNet topologies of {} (p: split point, D: channels kept; chosen in red)",
            report.model
        ),
        "privacy loss: best attack's PSNR on the owner's test images (dB)",
        "test accuracy",
        &points,
    )?;
    if let Some(i) = chosen {
        let [blind, told] = &grids[i];
        write_grid(
            &dir.join("grid.png"),
            &[&private.test.head(args.samples), blind, told],
            8,
        )?;
    }
    let out = staging.commit()?;
    print_frontier(&report);
    println!(
        "frontier: {} and frontier.png",
        out.join("frontier.json").display()
    );
    Ok(())
}

/// Marks the topologies no other beats on both accuracy (higher) and privacy loss (lower).
fn mark_frontier(topologies: &mut [Topology]) {
    let dominated: Vec<bool> = topologies
        .iter()
        .map(|t| {
            topologies.iter().any(|o| {
                o.privynet.accuracy >= t.privynet.accuracy
                    && o.privacy_loss_psnr <= t.privacy_loss_psnr
                    && (o.privynet.accuracy > t.privynet.accuracy
                        || o.privacy_loss_psnr < t.privacy_loss_psnr)
            })
        })
        .collect();
    for (t, d) in topologies.iter_mut().zip(dominated) {
        t.on_frontier = !d;
    }
}

fn print_frontier(r: &SelectReport) {
    println!(
        "PrivyNet topology selection: {} on {} ({} train / {} test, {} epochs); plain model (whole network in the clear): accuracy {:.4}",
        r.model, r.dataset, r.train_samples, r.test_samples, r.epochs, r.plain.accuracy
    );
    println!();
    println!(
        "| split | D / C   | local params | local MMACs | accuracy | blind PSNR / SSIM | told PSNR / SSIM | channels found | frontier | within limits |"
    );
    println!(
        "|-------|---------|--------------|-------------|----------|-------------------|------------------|----------------|----------|---------------|"
    );
    for (i, t) in r.topologies.iter().enumerate() {
        println!(
            "| {:>5} | {:>3} / {:<3} | {:>12} | {:>11.3} | {:>8.4} | {:>8.2} / {:.3} | {:>7.2} / {:.3} | {:>13.0}% | {:>8} | {:>13} |",
            t.split_point,
            t.kept_channels,
            t.feature_channels,
            t.local_parameters,
            t.local_macs as f64 / 1e6,
            t.privynet.accuracy,
            t.attack.blind.psnr,
            t.attack.blind.ssim,
            t.attack.told_channels.psnr,
            t.attack.told_channels.ssim,
            100.0 * t.attack.channels_identified,
            if t.on_frontier { "yes" } else { "" },
            if Some(i) == r.chosen {
                "CHOSEN"
            } else if t.within_limits {
                "yes"
            } else {
                "no"
            },
        );
    }
    println!();
    match r.chosen {
        Some(i) => {
            let t = &r.topologies[i];
            println!(
                "chosen: split point {}, {} of {} channels: accuracy {:.4}, privacy loss {:.2} dB",
                t.split_point,
                t.kept_channels,
                t.feature_channels,
                t.privynet.accuracy,
                t.privacy_loss_psnr
            );
        }
        None => println!("no topology is within the limits"),
    }
}
