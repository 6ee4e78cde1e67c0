//! What the comparison runs of the other schemes (`amalgam tempo run`, `amalgam mixnn run`)
//! share: the job's description in `report.json` and the table of the models they trained.

use amalgam_core::model::WeightComparison;
use amalgam_core::training::Evaluation;
use amalgam_owner::data::Dataset;
use amalgam_owner::setup::OwnerSetup;
use serde::Serialize;

use crate::commands::run::rayon_threads;

/// The job a comparison run trained (flattened into its `report.json`).
#[derive(Serialize, Debug)]
pub struct JobSummary {
    pub dataset: String,
    pub model: String,
    pub train_samples: usize,
    pub test_samples: usize,
    pub epochs: usize,
    pub batch_size: usize,
    pub optimizer: String,
    pub learning_rate: f64,
    pub threads: usize,
}

impl JobSummary {
    /// The job of `setup` on `data`.
    pub fn new(data: &Dataset, setup: &OwnerSetup) -> Self {
        Self {
            dataset: data.name.clone(),
            model: setup.spec.architecture.name().into(),
            train_samples: data.train.labels.len(),
            test_samples: data.test.labels.len(),
            epochs: setup.train.epochs,
            batch_size: setup.train.batch_size,
            optimizer: format!("{:?}", setup.train.optimizer).to_lowercase(),
            learning_rate: setup.train.learning_rate,
            threads: rayon_threads(),
        }
    }

    /// `MODEL on DATA (N train / M test), E epochs, batch B, OPT lr R`.
    pub fn describe(&self) -> String {
        format!(
            "{} on {} ({} train / {} test), {} epochs, batch {}, {} lr {}",
            self.model,
            self.dataset,
            self.train_samples,
            self.test_samples,
            self.epochs,
            self.batch_size,
            self.optimizer,
            self.learning_rate
        )
    }
}

/// One row of [`print_model_table`]: the model's name, its evaluation, its weights against
/// the reference's (none for the reference) and its wall time in seconds.
pub type ModelRow<'a> = (&'a str, &'a Evaluation, Option<&'a WeightComparison>, f64);

/// Prints a Markdown table of `rows`, weights compared with `reference`.
pub fn print_model_table(reference: &str, rows: &[ModelRow<'_>]) {
    let diff_header = format!("max abs weight diff vs {reference}");
    let name_width = rows.iter().map(|r| r.0.len()).max().unwrap_or(0).max(5);
    let diff_width = diff_header.len();
    println!(
        "| {:<name_width$} | test accuracy | test loss | {diff_header} | wall time (s) |",
        "model"
    );
    println!(
        "|-{}-|---------------|-----------|-{}-|---------------|",
        "-".repeat(name_width),
        "-".repeat(diff_width)
    );
    for &(name, e, diff, seconds) in rows {
        let diff = diff.map_or("-".to_string(), |d| format!("{:e}", d.max_abs_diff));
        println!(
            "| {name:<name_width$} | {:>13.4} | {:>9.4} | {diff:>diff_width$} | {seconds:>13.2} |",
            e.accuracy, e.loss
        );
    }
}
