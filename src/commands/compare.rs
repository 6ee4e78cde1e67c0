//! `amalgam compare`: every scheme on the same data, model family and seed, side by side.
//!
//! The data's training split is halved: the second half is the owner's private training set
//! for every scheme (and the plain model); the first half is public (PrivyNet pre-trains on
//! it; PrivyNet's attacker trains its decoder on it; Tempo's worker matches pixel statistics
//! against it). The test split is the owner's. MixNN's hosts attack what they are given.

use std::path::Path;
use std::time::Instant;

use amalgam_attack::privynet::DecoderSettings;
use amalgam_attack::{CloudView, Knowledge};
use amalgam_core::files::{StagingDir, write_json};
use amalgam_core::training::Evaluation;
use amalgam_owner::data::TrainingPart;
use amalgam_owner::mixnn::audit::MixnnAuditReport;
use amalgam_owner::noise::NoiseKind;
use amalgam_owner::tempo::audit::TempoAuditReport;
use anyhow::Result;
use serde::Serialize;

use crate::args::CompareArgs;
use crate::commands::audit::audit_view;
use crate::commands::augment::{decoy_images, options, with_decoy_inputs};
use crate::commands::eval::evaluate_dir;
use crate::commands::mixnn::attack::attacked_run as mixnn_attacked_run;
use crate::commands::privynet::args::{PartChoice, SplitArgs};
use crate::commands::privynet::attack::attack_bundle;
use crate::commands::privynet::job::{dir_bytes, run_job as run_privynet};
use crate::commands::privynet::options as privynet_options;
use crate::commands::privynet::pretrain::pretrained_or_train;
use crate::commands::run::{StageSeconds, run_job as run_amalgam};
use crate::commands::tempo::attack::attacked_run;
use crate::commands::{image_setup, load_images};

/// One scheme's row.
#[derive(Serialize, Debug)]
struct SchemeRow {
    scheme: String,
    /// The model the owner gets back, on the test split.
    owner_model: Evaluation,
    /// The owner's and the cloud's work for one training job (augment, train, extract), s.
    wall_seconds: f64,
    /// `wall_seconds` over the plain model's training loop.
    overhead: f64,
    /// Everything sent to the untrusted side.
    bytes_sent: u64,
    /// One-time work not counted in `wall_seconds` (PrivyNet's pre-training), s.
    one_time_seconds: f64,
    /// The best attack's result, in words.
    best_attack: String,
    /// The same, as numbers: SSIM of the best reconstruction of the owner's images (Amalgam:
    /// training images at the real branch's index; PrivyNet: test images).
    best_attack_ssim: f64,
    /// PSNR (dB) of the best reconstruction.
    best_attack_psnr: f64,
}

/// `compare.json`.
#[derive(Serialize, Debug)]
struct CompareReport {
    dataset: String,
    model: String,
    train_samples: usize,
    test_samples: usize,
    epochs: usize,
    seed: u64,
    plain: Evaluation,
    plain_train_seconds: f64,
    schemes: Vec<SchemeRow>,
}

pub fn run(args: CompareArgs) -> Result<()> {
    let staging = StagingDir::new(&args.out)?;
    let dir = staging.path().to_path_buf();
    let data = load_images(&args.job.data)?;
    let private = TrainingPart::SecondHalf.of(&data)?;
    let public = TrainingPart::FirstHalf
        .of(&data)?
        .train
        .head(args.public_samples);

    // Amalgam, as `amalgam run` does it; its job also trains the plain model.
    eprintln!("scheme: Amalgam");
    let opts = with_decoy_inputs(options(&args.job), &args.job, &private, |d| {
        decoy_images(d, &args.job)
    })?;
    let amalgam_dir = dir.join("amalgam");
    std::fs::create_dir(&amalgam_dir)?;
    let mut t = StageSeconds::default();
    let amalgam = run_amalgam(&private, &opts, &amalgam_dir, &mut t)?;
    let view = CloudView::open(
        &amalgam_dir.join("bundle"),
        Some(&amalgam_dir.join("trained.safetensors")),
        Some(&amalgam_dir.join("train-log.jsonl")),
        args.samples,
    )?;
    let (_, _, _, audit) = audit_view(view, &Knowledge::default(), &amalgam_dir.join("key.json"))?;
    let best = audit
        .reconstruction
        .iter()
        .max_by(|a, b| a.similarity.total_cmp(&b.similarity))
        .expect("the audit reconstructs images");
    // Interleave noise with decoy inputs from the owner's own set shows the cloud only
    // private images, whichever branch it picks (docs/PRIVACY.md).
    let own_views =
        opts.noise == NoiseKind::Interleave && args.job.obfuscation.decoy_data.is_none();
    let plain_seconds = t.train_plain_loop;
    let amalgam_seconds = t.augment + t.train_augmented + t.extract;
    let rows_amalgam = SchemeRow {
        scheme: "Amalgam".into(),
        owner_model: amalgam.extracted,
        wall_seconds: amalgam_seconds,
        overhead: amalgam_seconds / plain_seconds,
        bytes_sent: dir_bytes(&amalgam_dir.join("bundle"))?,
        one_time_seconds: 0.0,
        best_attack: format!(
            "real branch {} ({} branches); best reconstruction: {}{}",
            if audit.identified {
                "identified"
            } else {
                "not identified"
            },
            audit.branches,
            best.method,
            if own_views {
                "; but every view in the bundle is one of the owner's images (decoys from its own set)"
            } else {
                ""
            }
        ),
        best_attack_ssim: best.similarity,
        best_attack_psnr: best.psnr_db.unwrap_or(f64::NAN),
    };

    eprintln!("scheme: PrivyNet");
    let privynet_dir = dir.join("privynet");
    std::fs::create_dir(&privynet_dir)?;
    let start = Instant::now();
    let (pretrained, _) = pretrained_or_train(
        None,
        &data,
        TrainingPart::FirstHalf,
        TrainingPart::SecondHalf,
        &args.job.training,
        &privynet_dir,
    )?;
    let pretrain_seconds = start.elapsed().as_secs_f64();
    let split = SplitArgs {
        split: args.split,
        channels: args.channels,
        key_seed: Some(opts.key_seed),
        private: PartChoice::SecondHalf,
        f16: args.f16,
    };
    let split_opts = privynet_options(&pretrained.0, &split, &args.job.training, true)?;
    let job = run_privynet(&private, &pretrained, &split_opts, &privynet_dir)?;
    let decoder = DecoderSettings {
        epochs: args.decoder_epochs,
        ..DecoderSettings::default()
    };
    let (attack, _) = attack_bundle(
        &privynet_dir.join("bundle"),
        &pretrained,
        &public,
        &private.test,
        &job.key,
        &decoder,
        args.samples,
    )?;
    let best = attack.best();
    let privynet_seconds =
        job.cost.augment_seconds + job.cost.cloud_seconds + job.cost.extract_seconds;
    let rows_privynet = SchemeRow {
        scheme: "PrivyNet".into(),
        owner_model: job.privynet,
        wall_seconds: privynet_seconds,
        overhead: privynet_seconds / plain_seconds,
        bytes_sent: job.cost.bundle_bytes,
        one_time_seconds: pretrain_seconds,
        best_attack: format!(
            "decoder, {:.0}% of the {} kept channels identified (split point {})",
            100.0 * attack.channels_identified,
            attack.kept_channels.len(),
            attack.split_point
        ),
        best_attack_ssim: best.ssim,
        best_attack_psnr: best.psnr,
    };

    eprintln!("scheme: Tempo");
    let tempo_dir = dir.join("tempo");
    std::fs::create_dir(&tempo_dir)?;
    let image_model = image_setup(&private, &args.job.training)?;
    let (tempo, tempo_audit) = attacked_run(
        &image_model,
        &private,
        &public,
        opts.key_seed,
        2,
        &tempo_dir,
    )?;
    let rows_tempo = SchemeRow {
        scheme: "Tempo".into(),
        owner_model: evaluate_dir(&tempo_dir.join("tempo"), &private.test, None)?,
        wall_seconds: tempo.seconds,
        overhead: tempo.seconds / plain_seconds,
        bytes_sent: tempo.traffic.bytes_sent,
        one_time_seconds: 0.0,
        best_attack: tempo_attack_words(&tempo_audit),
        best_attack_ssim: tempo_audit
            .images
            .as_ref()
            .map_or(f64::NAN, |i| i.registered_ssim),
        best_attack_psnr: tempo_audit
            .images
            .as_ref()
            .map_or(f64::NAN, |i| i.registered_psnr),
    };

    eprintln!("scheme: MixNN");
    let mixnn_dir = dir.join("mixnn");
    std::fs::create_dir(&mixnn_dir)?;
    let (mixnn, mixnn_audit) = mixnn_attacked_run(&image_model, &private, &mixnn_dir)?;
    let first_host = mixnn_audit.first_host_images;
    let rows_mixnn = SchemeRow {
        scheme: "MixNN".into(),
        owner_model: evaluate_dir(&mixnn_dir.join("mixnn"), &private.test, None)?,
        wall_seconds: mixnn.seconds,
        overhead: mixnn.seconds / plain_seconds,
        bytes_sent: mixnn.traffic.owner_bytes[0],
        one_time_seconds: 0.0,
        best_attack: mixnn_attack_words(&mixnn_audit, mixnn.traffic.link_bytes),
        best_attack_ssim: first_host.map_or(f64::NAN, |s| s.ssim),
        best_attack_psnr: first_host.map_or(f64::NAN, |s| s.psnr),
    };

    let report = CompareReport {
        dataset: private.name.clone(),
        model: pretrained.0.architecture.name().into(),
        train_samples: private.train.labels.len(),
        test_samples: private.test.labels.len(),
        epochs: opts.train.epochs,
        seed: opts.seed,
        plain: amalgam.plain,
        plain_train_seconds: plain_seconds,
        schemes: vec![rows_amalgam, rows_privynet, rows_tempo, rows_mixnn],
    };
    write_json(&dir.join("compare.json"), &report)?;
    let out = staging.commit()?;
    print_table(&report, &out);
    Ok(())
}

/// Tempo's audit in words: the layer links, the reassembled model, the images.
fn tempo_attack_words(audit: &TempoAuditReport) -> String {
    let correct: f64 =
        audit.links.iter().map(|l| l.correct).sum::<f64>() / audit.links.len().max(1) as f64;
    let mut words = format!(
        "worker's view: {:.0}% of layer inputs linked to the right unit",
        100.0 * correct
    );
    if let Some(chain) = &audit.chain {
        words += &format!(
            "; its reassembled model {:.4} accurate",
            chain
                .with_estimated_pixel_order
                .as_ref()
                .unwrap_or(&chain.with_input_and_class_order)
                .accuracy
        );
    }
    match &audit.images {
        Some(images) => {
            words += &format!(
                "; training images by {} (PSNR and SSIM after registering each image's shift)",
                images.attack
            )
        }
        None => words += "; images: not attacked for this first layer",
    }
    words
}

/// MixNN's audit in words: what the first, second and last layer hosts recovered.
fn mixnn_attack_words(audit: &MixnnAuditReport, link_bytes: u64) -> String {
    let mut words = "first layer host: the training images it is given (rescaled)".to_string();
    if let Some(s) = audit.second_host_images {
        words += &format!(
            "; second host from feature maps: PSNR {:.1} dB / SSIM {:.3}",
            s.psnr, s.ssim
        );
    }
    words += &format!(
        "; last host: {:.0}% of labels from the logits' gradients; {:.0} MB crossed the mix network",
        100.0 * audit.last_host_labels,
        link_bytes as f64 / 1e6
    );
    words
}

fn print_table(r: &CompareReport, out: &Path) {
    println!(
        "amalgam compare: {} on {} ({} train / {} test, {} epochs, seed {})",
        r.model, r.dataset, r.train_samples, r.test_samples, r.epochs, r.seed
    );
    println!(
        "plain model (whole network, in the clear): accuracy {:.4}, training loop {:.1} s",
        r.plain.accuracy, r.plain_train_seconds
    );
    println!();
    println!(
        "| scheme   | owner's accuracy | plain accuracy | wall time (s) | overhead | sent (MB) | best attack: PSNR / SSIM | best attack |"
    );
    println!(
        "|----------|------------------|----------------|---------------|----------|-----------|--------------------------|-------------|"
    );
    for s in &r.schemes {
        println!(
            "| {:<8} | {:>16.4} | {:>14.4} | {:>13.1} | {:>7.2}x | {:>9.1} | {:>15.2} / {:.3} | {} |",
            s.scheme,
            s.owner_model.accuracy,
            r.plain.accuracy,
            s.wall_seconds,
            s.overhead,
            s.bytes_sent as f64 / 1e6,
            s.best_attack_psnr,
            s.best_attack_ssim,
            s.best_attack
        );
    }
    println!();
    println!("report: {}", out.join("compare.json").display());
}
