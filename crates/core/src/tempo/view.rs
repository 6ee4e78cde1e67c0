//! What a curious worker keeps of a session: the material of the attacks in
//! `amalgam-attack` (everything here is something the worker received or computed).

use super::wire::{LayerState, Matrix};

/// One forward product as the worker saw it.
#[derive(Clone, Debug, PartialEq)]
pub struct ProductView {
    /// Layer index (the order of the products is the worker's only clue to the graph).
    pub layer: usize,
    /// The permuted input `X'` `[n, k]`.
    pub input: Matrix,
    /// The product it returned, `Y'` `[n, m]`.
    pub output: Matrix,
}

/// A worker's record of one session.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WorkerView {
    /// Every forward product of the first optimizer step, in the order they came.
    pub first_step: Vec<ProductView>,
    /// Every input of layer 0, step after step (the permuted training samples).
    pub first_layer_inputs: Vec<Matrix>,
    /// The obfuscated layers at the end of the session.
    pub final_layers: Vec<LayerState>,
}
