//! Tempo's privacy audit: the worker's attacks (`amalgam_attack::tempo`, key-blind) run on
//! what a curious worker kept, then scored here with the key.

mod chain;
mod images;

pub use images::ImageScore;

use std::path::Path;

use amalgam_attack::tempo::{
    Between, PixelStatistics, chain_layers, correlations, link_columns, pixel_order, refine_order,
};
use amalgam_core::backend::inference_device;
use amalgam_core::data::ImageSet;
use amalgam_core::model::ModelSpec;
use amalgam_core::tempo::WorkerView;
use amalgam_core::training::Evaluation;
use amalgam_core::{Error, Result};
use serde::Serialize;

use super::graph::{Graph, Op};
use super::key::TempoKey;

/// Passes of the pixel-order local search.
const REFINE_SWEEPS: usize = 20;

/// How well the worker linked one product's outputs to the next product's inputs.
#[derive(Serialize, Debug, Clone)]
pub struct LinkScore {
    /// The earlier layer.
    pub from_layer: usize,
    /// The later layer.
    pub to_layer: usize,
    /// Input columns of the later layer.
    pub columns: usize,
    /// Share of them the attack linked to some output column.
    pub linked: f64,
    /// Share of them linked to the right unit (from the key).
    pub correct: f64,
}

/// The worker's reassembled model (fully connected networks).
#[derive(Serialize, Debug, Clone)]
pub struct ChainScore {
    /// Its test accuracy, given the input pixel order and the class order from the key.
    pub with_input_and_class_order: Evaluation,
    /// Its test accuracy with the pixel order the worker estimated itself (class order from
    /// the key).
    pub with_estimated_pixel_order: Option<Evaluation>,
}

/// What the worker recovered.
#[derive(Serialize, Debug, Clone)]
pub struct TempoAuditReport {
    /// Consecutive products linked by exact value matching.
    pub links: Vec<LinkScore>,
    /// The reassembled model, if the network is fully connected.
    pub chain: Option<ChainScore>,
    /// The training images (a first layer that sees whole images, or a single-channel
    /// convolution's im2col rows).
    pub images: Option<ImageScore>,
}

/// Runs the worker's attacks on `view` (with `public` images, the attacker's own) and scores
/// them with `key`: links for every consecutive pair of products; for a fully connected
/// network, the reassembled model's accuracy on `test`; for a first layer that sees whole
/// images, the pixel order and the reconstructed images; for a single-channel convolution,
/// the im2col jigsaw's images (grid at `grid`).
///
/// # Errors
/// [`Error::Invalid`] for a view that does not fit the key (another run's), or a grid that
/// cannot be written.
pub fn audit(
    view: &WorkerView,
    key: &TempoKey,
    spec: &ModelSpec,
    public: &ImageSet,
    test: &ImageSet,
    grid: &Path,
) -> Result<TempoAuditReport> {
    let graph = Graph::new(spec)?;
    let shapes = graph.product_shapes();
    if view.first_step.len() < shapes.len() || view.final_layers.len() != shapes.len() {
        return Err(Error::invalid("the worker's view does not match the model"));
    }
    let mut links = Vec::new();
    let mut all_links = Vec::new();
    for pair in view.first_step.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        // Key-blind: whichever model of the step between finds more values.
        let found = [Between::Copied, Between::NormalizedAtInit { epsilon: 1e-5 }]
            .into_iter()
            .map(|between| link_columns(&a.output, &b.input, between))
            .max_by_key(|links| {
                links
                    .iter()
                    .flatten()
                    .map(|l| u64::from(l.votes))
                    .sum::<u64>()
            })
            .expect("two models");
        let (k_b, m_a) = (shapes[b.layer][0], shapes[a.layer][1]);
        let per_unit = (k_b / m_a).max(1);
        let truth = |column: usize| key.layers[b.layer].input.indices()[column] as usize / per_unit;
        let named = |source: usize| key.layers[a.layer].output.indices()[source] as usize;
        let linked = found.iter().filter(|l| l.is_some()).count();
        let correct = found
            .iter()
            .enumerate()
            .filter(|(j, l)| l.is_some_and(|l| named(l.source) == truth(*j)))
            .count();
        links.push(LinkScore {
            from_layer: a.layer,
            to_layer: b.layer,
            columns: found.len(),
            linked: linked as f64 / found.len().max(1) as f64,
            correct: correct as f64 / found.len().max(1) as f64,
        });
        all_links.push(found);
    }
    let image = spec
        .input
        .image()
        .ok_or_else(|| Error::invalid("Tempo trains image models only"))?;
    let whole_images = shapes[0][0] == image.values();
    let pixel = whole_images.then(|| {
        let observed = PixelStatistics::of(
            view.first_layer_inputs.iter().map(|m| m.values.as_slice()),
            image.values(),
        );
        let public_stats = PixelStatistics::of([public.images.as_slice()], image.values());
        let mut order = pixel_order(&observed, &public_stats);
        let seen: Vec<f32> = view
            .first_layer_inputs
            .iter()
            .flat_map(|m| m.values.iter().copied())
            .collect();
        let device = inference_device();
        let d = image.values();
        refine_order(
            &correlations(&seen, d, &device),
            &correlations(&public.images, d, &device),
            &mut order,
            REFINE_SWEEPS,
        );
        order
    });
    let chain = chain_layers(&view.final_layers, &all_links)
        .map(|chained| -> Result<ChainScore> {
            let given = key.layers[0]
                .input
                .indices()
                .iter()
                .map(|&i| i as usize)
                .collect::<Vec<_>>();
            let classes = key.layers[shapes.len() - 1].output.indices();
            Ok(ChainScore {
                with_input_and_class_order: chain::evaluate_chain(
                    &chained, &given, classes, spec, test,
                )?,
                with_estimated_pixel_order: pixel
                    .as_ref()
                    .map(|order| chain::evaluate_chain(&chained, order, classes, spec, test))
                    .transpose()?,
            })
        })
        .transpose()?;
    let first_conv = graph.nodes.get(1).and_then(|node| match node.op {
        Op::Unfold {
            kernel,
            stride: 1,
            padding,
        } => Some((kernel, padding)),
        _ => None,
    });
    let images = match (pixel, first_conv) {
        (Some(order), _) => Some(images::score_pixel_order(view, key, &order, image, grid)?),
        (None, Some((kernel, padding))) if image.channels == 1 => Some(images::score_jigsaw(
            view, key, public, kernel, padding, grid,
        )?),
        _ => None,
    };
    Ok(TempoAuditReport {
        links,
        chain,
        images,
    })
}
