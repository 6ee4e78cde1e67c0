//! Scoring the worker's reassembled model: put in the original coordinates, evaluated.

use amalgam_core::backend::inference_device;
use amalgam_core::data::ImageSet;
use amalgam_core::model::{Classifier, ModelSpec};
use amalgam_core::tempo::LayerState;
use amalgam_core::training::{Evaluation, evaluate};
use amalgam_core::{Error, Result};

use crate::tempo::graph::Graph;
use crate::tempo::network::offloaded_weights;

/// The chained model in the original coordinates: its first layer's rows put at the pixels
/// `pixels[row]`, its last layer's columns at the classes `classes[column]`; evaluated on
/// `test`.
pub(super) fn evaluate_chain(
    chained: &[LayerState],
    pixels: &[usize],
    classes: &[u32],
    spec: &ModelSpec,
    test: &ImageSet,
) -> Result<Evaluation> {
    let mut layers = chained.to_vec();
    let first = &mut layers[0].weight;
    let mut values = vec![0.0f32; first.values.len()];
    for (row, &pixel) in pixels.iter().enumerate() {
        values[pixel * first.cols..(pixel + 1) * first.cols]
            .copy_from_slice(&first.values[row * first.cols..(row + 1) * first.cols]);
    }
    first.values = values;
    let last = layers.last_mut().expect("a chain has layers");
    let m = last.weight.cols;
    let mut weight = vec![0.0f32; last.weight.values.len()];
    for row in 0..last.weight.rows {
        for (column, &class) in classes.iter().enumerate() {
            weight[row * m + class as usize] = last.weight.values[row * m + column];
        }
    }
    last.weight.values = weight;
    if let Some(bias) = &mut last.bias {
        let mut reordered = vec![0.0f32; m];
        for (column, &class) in classes.iter().enumerate() {
            reordered[class as usize] = bias[column];
        }
        *bias = reordered;
    }
    let device = inference_device();
    let weights = offloaded_weights(&Graph::new(spec)?, &layers, &device);
    let classifier = Classifier::new(spec, &weights, &device).map_err(Error::invalid)?;
    Ok(evaluate(&classifier, test, &device))
}
