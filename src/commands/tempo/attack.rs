//! `amalgam tempo attack`: what a curious worker recovers, scored with the key.

use std::path::Path;
use std::thread;
use std::time::Duration;

use amalgam_cloud::tempo::{Worker, serve};
use amalgam_core::backend::inference_device;
use amalgam_core::data::ImageSet;
use amalgam_core::files::{StagingDir, write_json};
use amalgam_core::tempo::in_process_pair;
use amalgam_core::training::Evaluation;
use amalgam_owner::data::{Dataset, TrainingPart};
use amalgam_owner::model_dir::write_model_dir;
use amalgam_owner::setup::OwnerSetup;
use amalgam_owner::tempo::audit::{TempoAuditReport, audit};
use amalgam_owner::tempo::graph::Graph;
use amalgam_owner::tempo::{OffloadOptions, TempoKey, TempoOutcome, train_with_worker};
use anyhow::{Context, Result, anyhow};
use serde::Serialize;

use super::args::TempoAttackArgs;
use crate::commands::eval::evaluate_dir;
use crate::commands::image_setup as setup;
use crate::commands::load_images;
use crate::commands::run::default_out;
use crate::progress;

/// `report.json`.
#[derive(Serialize, Debug)]
struct TempoAttackReport {
    dataset: String,
    model: String,
    private_train_samples: usize,
    public_images: usize,
    epochs: usize,
    key_seed: u64,
    /// The model Tempo returned to the owner.
    tempo: Evaluation,
    audit: TempoAuditReport,
}

pub fn run(args: TempoAttackArgs) -> Result<()> {
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| default_out("tempo-attack"));
    let staging = StagingDir::new(&out)?;
    let dir = staging.path().to_path_buf();
    let data = load_images(&args.data)?;
    let private = TrainingPart::SecondHalf.of(&data)?;
    let public = TrainingPart::FirstHalf.of(&data)?;
    let setup = setup(&private, &args.training)?;

    let (_, audit) = attacked_run(&setup, &private, &public.train, args.key_seed, 0, &dir)?;
    let report = TempoAttackReport {
        dataset: data.name.clone(),
        model: setup.spec.architecture.name().into(),
        private_train_samples: private.train.labels.len(),
        public_images: public.train.labels.len(),
        epochs: setup.train.epochs,
        key_seed: args.key_seed,
        tempo: evaluate_dir(&dir.join("tempo"), &private.test, None)?,
        audit,
    };
    write_json(&dir.join("report.json"), &report)?;
    let out = staging.commit()?;
    print_report(&report, &out);
    Ok(())
}

/// Trains `setup`'s model on `private` with a curious worker in this process (`rounds`
/// Freivalds rounds), writes the returned model to `dir/tempo`, then runs the worker's
/// attacks (with `public` images) and scores them with the key (`dir/grid.png`).
pub fn attacked_run(
    setup: &OwnerSetup,
    private: &Dataset,
    public: &ImageSet,
    key_seed: u64,
    rounds: usize,
    dir: &Path,
) -> Result<(TempoOutcome, TempoAuditReport)> {
    let (owner_end, mut worker_end) = in_process_pair(Duration::from_secs(600));
    let worker = thread::spawn(move || {
        let mut worker = Worker::new(&inference_device()).curious();
        serve(&mut worker, &mut worker_end)?;
        worker.into_view()
    });
    let options = OffloadOptions {
        key_seed,
        rounds,
        checkpoint: None,
        resume: false,
    };
    let bar = progress::batches("Tempo with a curious worker");
    let outcome = train_with_worker(setup, &private.train, owner_end, &options, &bar);
    bar.finish_and_clear();
    let outcome = outcome?;
    let view = worker
        .join()
        .map_err(|_| anyhow!("the worker thread panicked"))??
        .context("a curious worker keeps a view")?;
    write_model_dir(&dir.join("tempo"), &setup.spec, &outcome.weights)?;
    let spinner = progress::step("attacking");
    let key = TempoKey::new(key_seed, &Graph::new(&setup.spec)?.product_shapes());
    let audit = audit(
        &view,
        &key,
        &setup.spec,
        public,
        &private.test,
        &dir.join("grid.png"),
    );
    spinner.finish_and_clear();
    Ok((outcome, audit?))
}

fn print_report(r: &TempoAttackReport, out: &Path) {
    println!(
        "amalgam tempo attack: {} on {} ({} private training samples, {} public images), {} epochs",
        r.model, r.dataset, r.private_train_samples, r.public_images, r.epochs
    );
    println!();
    println!("| layers | input columns | linked | linked to the right unit |");
    println!("|--------|---------------|--------|--------------------------|");
    for l in &r.audit.links {
        println!(
            "| {} -> {} | {:>13} | {:>6.3} | {:>24.3} |",
            l.from_layer, l.to_layer, l.columns, l.linked, l.correct
        );
    }
    println!();
    println!(
        "Tempo's model (the owner's): test accuracy {:.4}",
        r.tempo.accuracy
    );
    if let Some(chain) = &r.audit.chain {
        println!(
            "the worker's reassembled model: test accuracy {:.4} given pixel and class order{}",
            chain.with_input_and_class_order.accuracy,
            chain
                .with_estimated_pixel_order
                .as_ref()
                .map(|e| format!(
                    ", {:.4} with its own pixel order (class order given)",
                    e.accuracy
                ))
                .unwrap_or_default()
        );
    }
    if let Some(images) = &r.audit.images {
        println!(
            "training images ({}): {:.3} of {} positions placed right; PSNR {:.2} dB, SSIM {:.3} over {} images ({:.2} dB, {:.3} registered)",
            images.attack,
            images.placed_correctly,
            images.positions,
            images.psnr,
            images.ssim,
            images.scored_images,
            images.registered_psnr,
            images.registered_ssim
        );
    }
    println!("report: {}", out.join("report.json").display());
}
