//! `amalgam audit`: the cloud's attacks on one bundle, scored with the key.

use std::path::Path;

use amalgam_attack::{AttackResults, CloudView, Knowledge, run_attacks};
use amalgam_core::bundle::Bundle;
use amalgam_core::data::{LabelledSet, TokenSet};
use amalgam_core::files::{StagingDir, check_new_dir, write_json};
use amalgam_owner::audit::{AuditReport, score, write_grid};
use amalgam_owner::data::{Dataset, load_dataset};
use amalgam_owner::key::SecretKey;
use anyhow::{Context, Result, bail};

use crate::args::AuditArgs;
use crate::commands::shadow::{AttackedKind, Attacker, public_settings};
use crate::progress;

/// Samples shown in the grid.
const GRID_ROWS: usize = 8;

/// Runs the attacks on the cloud's `view` with the attacker's `knowledge` (the key is not
/// read until they are done), then scores them with the key at `key_path`.
pub fn audit_view(
    view: CloudView,
    knowledge: &Knowledge,
    key_path: &Path,
) -> Result<(CloudView, AttackResults, SecretKey, AuditReport)> {
    let attacks = run_attacks(&view, knowledge);
    let key = SecretKey::read(key_path)?;
    let report = score(&view, &attacks, &key).with_context(|| key_path.display().to_string())?;
    Ok((view, attacks, key, report))
}

pub fn run(args: AuditArgs) -> Result<()> {
    check_new_dir(&args.out)?;
    if Bundle::open(&args.bundle)?.spec.input.tokens().is_some() {
        return run_text(&args);
    }
    let view = CloudView::open(
        &args.bundle,
        args.trained.as_deref(),
        args.log.as_deref(),
        args.samples,
    )?;
    let knowledge = match &args.attacker_data {
        Some(dir) => {
            let spinner = progress::step("making and learning from the attacker's shadow bundles");
            let data = load_dataset(Some(dir), view.filtered_shape().height)?;
            let limit = if args.samples == 0 {
                usize::MAX
            } else {
                args.samples
            };
            // A quarter stands in for private data in the shadows; the rest is public.
            let (train, test) = (data.train.len() / 4, data.test.len() / 4);
            let part = |train: std::ops::Range<usize>, test: std::ops::Range<usize>| Dataset {
                name: data.name.clone(),
                train: data.train.range(train).head(limit),
                test: data.test.range(test).head(limit / 4),
            };
            let (stand_in, public) = (
                part(0..train, 0..test),
                part(train..data.train.len(), test..data.test.len()),
            );
            let attacker = Attacker {
                stand_in: &stand_in,
                public: &public,
                shadows: args.shadows,
                // The attacker trains its shadows as the target was trained, if it has the
                // target's training outputs to compare with.
                train_epochs: if args.trained.is_some() || args.log.is_some() {
                    view.bundle.train.epochs
                } else {
                    0
                },
                samples: args.samples,
            };
            let knowledge = attacker.knowledge(&public_settings(&view, args.shadow_noise.into()));
            spinner.finish_and_clear();
            knowledge?
        }
        None => Knowledge::default(),
    };
    let spinner = progress::step("attacking the bundle as the cloud (no key)");
    let audited = audit_view(view, &knowledge, &args.key);
    spinner.finish_and_clear();
    let (view, attacks, key, report) = audited?;

    let staging = StagingDir::new(&args.out)?;
    write_json(&staging.path().join("report.json"), &report)?;
    let originals = view.train.gather(&key.keep_indices, view.filtered_shape());
    let r = &attacks.reconstructions;
    write_grid(
        &staging.path().join("grid.png"),
        &[
            &originals,
            &view.train,
            &r.from_branch,
            &r.drop_noise,
            &r.ordered_subset,
            &r.flat_shrink,
        ],
        GRID_ROWS,
    )?;
    let out = staging.commit()?;
    print_report(&report);
    println!(
        "report {}, grid {} (columns: original | augmented | from branch | drop noise | ordered subset | flat shrink)",
        out.join("report.json").display(),
        out.join("grid.png").display()
    );
    Ok(())
}

/// The audit of a text bundle: the attacks that need nothing of the attacker's own, scored by
/// token accuracy; `report.json` and the tables (no picture).
fn run_text(args: &AuditArgs) -> Result<()> {
    if args.attacker_data.is_some() {
        bail!(
            "--attacker-data: the shadow-trained attacks on text bundles need public text \
             tokenised with the bundle's vocabulary, which this command cannot build; \
             `amalgam audit-sweep --task text` runs them with the corpus's vocabulary"
        );
    }
    let view = CloudView::<TokenSet>::open(
        &args.bundle,
        args.trained.as_deref(),
        args.log.as_deref(),
        args.samples,
    )?;
    let spinner = progress::step("attacking the bundle as the cloud (no key)");
    let report = TokenSet::audit(&view, &Knowledge::default(), &args.key)
        .with_context(|| args.key.display().to_string());
    spinner.finish_and_clear();
    let report = report?;
    let staging = StagingDir::new(&args.out)?;
    write_json(&staging.path().join("report.json"), &report)?;
    let out = staging.commit()?;
    print_report(&report);
    println!("report {}", out.join("report.json").display());
    Ok(())
}

fn print_report(r: &AuditReport) {
    println!(
        "Noise-position detection over {} samples (AUC 0.5 = chance, 1.0 = all found)",
        r.samples
    );
    println!(
        "| statistic             |   AUC | best balanced acc. | real positions found at known count |"
    );
    println!(
        "|-----------------------|-------|--------------------|-------------------------------------|"
    );
    for d in &r.detection {
        println!(
            "| {:<21} | {:.3} | {:>18.3} | {:>35.3} |",
            d.statistic, d.auc, d.best_balanced_accuracy, d.real_recovered_at_count
        );
    }
    println!();
    let id = &r.identification;
    println!(
        "Real-branch identification: attacker picks branch {} ({}); real is {}; random guess {:.2}",
        id.pick,
        if r.identified { "correct" } else { "wrong" },
        r.real_branch,
        1.0 / r.branches as f64
    );
    let verdict = |v: Option<usize>| v.map_or("-".to_string(), |b| b.to_string());
    println!(
        "verdicts: smoothness {}, positions {}, repeats {}, architecture {}, loss {}, accuracy {}, public set {}, shadow-trained {}",
        id.by_smoothness,
        id.by_positions,
        id.by_repeats,
        verdict(id.by_architecture),
        verdict(id.by_loss),
        verdict(id.by_accuracy),
        verdict(id.by_public_set),
        verdict(id.by_shadow)
    );
    println!(
        "| branch | smoothness | total variation | noise-likeness | default arch. | final loss | test accuracy | public distance |"
    );
    println!(
        "|--------|------------|-----------------|----------------|---------------|------------|---------------|-----------------|"
    );
    let opt = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.4}"));
    for e in &id.evidence {
        println!(
            "| {:>6} | {:>10.4} | {:>15.4} | {:>14.4} | {:>13} | {:>10} | {:>13} | {:>15} |",
            e.branch,
            e.smoothness,
            e.total_variation,
            e.noise_likeness,
            if e.canonical_architecture {
                "yes"
            } else {
                "no"
            },
            opt(e.final_loss),
            opt(e.test_accuracy),
            opt(e.public_distance)
        );
    }
    println!();
    println!(
        "Reconstruction of the training samples (similarity: SSIM for images, token accuracy for text)"
    );
    println!("| method         | PSNR (dB) | similarity |");
    println!("|----------------|-----------|------------|");
    for rec in &r.reconstruction {
        let psnr = rec.psnr_db.map_or("-".to_string(), |p| format!("{p:.2}"));
        println!(
            "| {:<14} | {:>9} | {:>10.3} |",
            rec.method, psnr, rec.similarity
        );
    }
}
