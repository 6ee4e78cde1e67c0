//! `amalgam mixnn attack`: MixNN with curious layer hosts (threads of this process, on
//! loopback), their attacks, and the owner's scores.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use amalgam_attack::mixnn::{images_from_feature_maps, images_from_inputs, labels_from_gradients};
use amalgam_cloud::mixnn::{HostView, LayerHost, MAX_VIEW_BATCHES, MixNode, spawn_in_process};
use amalgam_core::files::{StagingDir, write_json};
use amalgam_core::mixnn::{LayerSpec, NodeKey, Role};
use amalgam_core::training::Evaluation;
use amalgam_owner::audit::write_grid;
use amalgam_owner::data::Dataset;
use amalgam_owner::mixnn::audit::{
    MixnnAuditReport, first_batches, grey, label_accuracy, parties, score_images,
};
use amalgam_owner::mixnn::{Directory, MixnnOptions, MixnnOutcome, host_plans, train_mixnn};
use amalgam_owner::model_dir::write_model_dir;
use amalgam_owner::setup::OwnerSetup;
use anyhow::Result;
use serde::Serialize;

use super::args::MixnnAttackArgs;
use crate::commands::eval::evaluate_dir;
use crate::commands::image_setup as setup;
use crate::commands::load_images;
use crate::commands::run::default_out;
use crate::progress;

/// Mix nodes of the audited run.
const MIXES: usize = 4;

/// `report.json`.
#[derive(Serialize, Debug)]
struct MixnnAttackReport {
    dataset: String,
    model: String,
    train_samples: usize,
    epochs: usize,
    mixnn: Evaluation,
    audit: MixnnAuditReport,
}

pub fn run(args: MixnnAttackArgs) -> Result<()> {
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| default_out("mixnn-attack"));
    let staging = StagingDir::new(&out)?;
    let dir = staging.path().to_path_buf();
    let data = load_images(&args.data)?;
    let setup = setup(&data, &args.training)?;
    let (_, audit) = attacked_run(&setup, &data, &dir)?;
    let report = MixnnAttackReport {
        dataset: data.name.clone(),
        model: setup.spec.architecture.name().into(),
        train_samples: data.train.labels.len(),
        epochs: setup.train.epochs,
        mixnn: evaluate_dir(&dir.join("mixnn"), &data.test, None)?,
        audit,
    };
    write_json(&dir.join("report.json"), &report)?;
    let out = staging.commit()?;
    print_report(&report, &out);
    Ok(())
}

/// Trains `setup`'s model on `data` through mix nodes and curious layer hosts in this process,
/// writes the returned model to `dir/mixnn`, runs the hosts' attacks and scores them
/// (`dir/grid.png`: true images, the first host's, the second host's).
pub fn attacked_run(
    setup: &OwnerSetup,
    data: &Dataset,
    dir: &Path,
) -> Result<(MixnnOutcome, MixnnAuditReport)> {
    let plans = host_plans(&setup.spec)?;
    let mut mixes = Vec::new();
    for _ in 0..MIXES {
        let key = NodeKey::random();
        let mix = Box::new(MixNode::new(key.clone(), 1, None));
        mixes.push(spawn_in_process("127.0.0.1:0", Role::Mix, &key, mix)?);
    }
    let views: Vec<Arc<Mutex<HostView>>> = plans.iter().map(|_| Arc::default()).collect();
    let owner_key: [u8; 32] = rand::random();
    let mut hosts = Vec::new();
    for view in &views {
        let key = NodeKey::random();
        let host = Box::new(LayerHost::curious(
            key.clone(),
            Some(owner_key),
            view.clone(),
        ));
        hosts.push(spawn_in_process(
            "127.0.0.1:0",
            Role::LayerHost,
            &key,
            host,
        )?);
    }
    let options = MixnnOptions {
        listen: "127.0.0.1:0".into(),
        route_mixes: 3,
        step_timeout: Duration::from_secs(60),
        retries: 3,
        checkpoint: None,
        resume: false,
        owner_key: Some(owner_key),
    };
    let bar = progress::batches("MixNN with curious layer hosts");
    let outcome = train_mixnn(
        setup,
        &data.train,
        &Directory { mixes, hosts },
        &options,
        &bar,
    );
    bar.finish_and_clear();
    let outcome = outcome?;
    write_model_dir(&dir.join("mixnn"), &setup.spec, &outcome.weights)?;

    let view = |i: usize| views[i].lock().expect("the hosts are idle").clone();
    let (first, last) = (view(0), view(plans.len() - 1));
    let samples = setup.train.batch_size * MAX_VIEW_BATCHES;
    let (truth, labels) = first_batches(&data.train, &setup.train, samples);
    let first_images = images_from_inputs(&first.inputs);
    let image = setup.spec.input.image().expect("MixNN trains image models");
    let second_images = matches!(plans[0].layer, LayerSpec::Conv { .. })
        .then(|| images_from_feature_maps(&view(1).inputs, image.height, image.width))
        .flatten();
    let guesses = labels_from_gradients(&last.output_gradients);
    let grey_truth = grey(&truth);
    let mut columns = vec![&grey_truth];
    let first_grey = first_images.as_ref().map(grey);
    columns.extend(first_grey.as_ref());
    columns.extend(second_images.as_ref());
    write_grid(&dir.join("grid.png"), &columns, 8)?;
    let audit = MixnnAuditReport {
        first_host_images: first_images.as_ref().map(|e| score_images(&truth, e)),
        second_host_images: second_images.as_ref().map(|e| score_images(&grey_truth, e)),
        last_host_labels: label_accuracy(&labels, &guesses),
        labels_scored: guesses.len().min(labels.len()),
        parties: parties(&plans, options.route_mixes),
    };
    Ok((outcome, audit))
}

fn print_report(r: &MixnnAttackReport, out: &Path) {
    println!(
        "amalgam mixnn attack: {} on {} ({} training samples), {} epochs; MixNN's model: test accuracy {:.4}",
        r.model, r.dataset, r.train_samples, r.epochs, r.mixnn.accuracy
    );
    println!();
    let a = &r.audit;
    let scores = |s: &Option<amalgam_owner::mixnn::audit::ImageScores>| {
        s.map_or("not attacked (no spatial layout)".to_string(), |s| {
            format!(
                "PSNR {:.2} dB, SSIM {:.3} over {} images",
                s.psnr, s.ssim, s.images
            )
        })
    };
    println!(
        "first layer host, training images: {}",
        scores(&a.first_host_images)
    );
    println!(
        "second layer host, training images from feature maps: {}",
        scores(&a.second_host_images)
    );
    println!(
        "last layer host, labels from the logits' gradients: {:.3} of {} right",
        a.last_host_labels, a.labels_scored
    );
    for p in &a.parties {
        println!("- {}: {}", p.party, p.sees);
    }
    println!("report: {}", out.join("report.json").display());
}
