//! `amalgam eval`.

use std::path::Path;

use amalgam_core::backend::inference_device;
use amalgam_core::data::LabelledSet;
use amalgam_core::tensors::{HostTensor, TensorFile, write_tensor_file};
use amalgam_core::training::{Evaluation, evaluate, logits};
use amalgam_owner::model_dir::load_classifier;
use anyhow::{Result, bail};

use crate::args::EvalArgs;
use crate::commands::original_data::load;

/// Accuracy and loss of the model directory `model` on `test`; with `logits_out`, also writes
/// the logits `[N, classes]` there (safetensors, tensor `logits`).
pub fn evaluate_dir(
    model: &Path,
    test: &dyn LabelledSet,
    logits_out: Option<&Path>,
) -> Result<Evaluation> {
    let device = inference_device();
    let (spec, classifier) = load_classifier(model, &device)?;
    if spec.input != test.input() || spec.classes < test.classes() {
        bail!(
            "{}: the model takes {} inputs with {} classes; the test set has {} inputs with {} classes",
            model.display(),
            spec.input,
            spec.classes,
            test.input(),
            test.classes()
        );
    }
    if let Some(path) = logits_out {
        let values = logits(&classifier, test, &device);
        let file = TensorFile {
            tensors: [(
                "logits".to_string(),
                HostTensor::f32(vec![test.len(), spec.classes], values),
            )]
            .into(),
            metadata: Default::default(),
        };
        write_tensor_file(path, &file)?;
    }
    Ok(evaluate(&classifier, test, &device))
}

pub fn run(args: EvalArgs) -> Result<()> {
    let data = load(&args.data)?;
    let e = evaluate_dir(&args.model, data.test(), args.logits.as_deref())?;
    println!(
        "{}: test accuracy {:.4}, loss {:.4} ({} samples of {})",
        args.model.display(),
        e.accuracy,
        e.loss,
        e.samples,
        data.describe()
    );
    Ok(())
}
