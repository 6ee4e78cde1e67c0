//! `amalgam eval`.

use std::path::Path;

use amalgam_core::backend::inference_device;
use amalgam_core::data::ImageSet;
use amalgam_core::training::{Evaluation, evaluate};
use amalgam_owner::model_dir::load_classifier;
use anyhow::{Result, bail};

use crate::args::EvalArgs;
use crate::commands::augment::load;

/// Accuracy and loss of the model directory `model` on `test`.
pub fn evaluate_dir(model: &Path, test: &ImageSet) -> Result<Evaluation> {
    let device = inference_device();
    let (spec, classifier) = load_classifier(model, &device)?;
    if spec.input != test.shape || spec.classes < test.classes() {
        bail!(
            "{}: the model takes {} images with {} classes; the test set has {} images with {} classes",
            model.display(),
            spec.input,
            spec.classes,
            test.shape,
            test.classes()
        );
    }
    Ok(evaluate(&classifier, test, &device))
}

pub fn run(args: EvalArgs) -> Result<()> {
    let dataset = load(&args.data)?;
    let e = evaluate_dir(&args.model, &dataset.test)?;
    println!(
        "{}: test accuracy {:.4}, loss {:.4} ({} samples of {})",
        args.model.display(),
        e.accuracy,
        e.loss,
        e.samples,
        dataset.name
    );
    Ok(())
}
