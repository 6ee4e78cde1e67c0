//! The worker's working copy of a fully connected model: permuted hidden units are an
//! equivalent network, so once the links between layers are known, the worker's obfuscated
//! weights only need their rows put in the previous layer's output order.

use amalgam_core::tempo::{LayerState, Matrix};

use super::ColumnLink;

/// The worker's layers `[k, m]` with the rows of every layer after the first moved to the
/// order of the previous layer's outputs, as `links` say (one list per consecutive pair:
/// `links[i]` links layer `i + 1`'s input columns to layer `i`'s output columns). Unlinked
/// rows stay zero. The model takes inputs in the first layer's (secret) order and gives
/// outputs in the last layer's (secret) class order. `None` when a layer's inputs are not
/// as many as the previous layer's outputs (not a fully connected chain).
pub fn chain_layers(
    layers: &[LayerState],
    links: &[Vec<Option<ColumnLink>>],
) -> Option<Vec<LayerState>> {
    let mut chained = vec![layers.first()?.clone()];
    for (pair, layer) in links.iter().zip(&layers[1..]) {
        let (k, m) = (layer.weight.rows, layer.weight.cols);
        let previous = chained.last().expect("the first layer is in").weight.cols;
        if k != previous || pair.len() != k {
            return None;
        }
        let mut values = vec![0.0f32; k * m];
        for (row, link) in pair.iter().enumerate() {
            if let Some(link) = link {
                let source = link.source;
                values[source * m..(source + 1) * m]
                    .copy_from_slice(&layer.weight.values[row * m..(row + 1) * m]);
            }
        }
        chained.push(LayerState {
            weight: Matrix {
                rows: k,
                cols: m,
                values,
            },
            bias: layer.bias.clone(),
        });
    }
    Some(chained)
}
