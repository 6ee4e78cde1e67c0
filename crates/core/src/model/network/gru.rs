//! GRU classifier.

use burn::nn::gru::{Gru as GruLayer, GruConfig};
use burn::nn::{Embedding, EmbeddingConfig, Linear, LinearConfig};
use burn::prelude::*;

use crate::model::ModelSpec;

/// Embeddings, a one-layer GRU, max over time of its states, a linear classifier (see
/// [`crate::model::Architecture::Gru`]).
#[derive(Module, Debug)]
pub struct Gru {
    embedding: Embedding,
    gru: GruLayer,
    classifier: Linear,
}

impl Gru {
    pub(super) fn new(spec: &ModelSpec, embedding: usize, hidden: usize, device: &Device) -> Self {
        let vocab = spec.token_input().vocab_size;
        Self {
            embedding: EmbeddingConfig::new(vocab, embedding).init(device),
            gru: GruConfig::new(embedding, hidden, true).init(device),
            classifier: LinearConfig::new(hidden, spec.classes).init(device),
        }
    }

    pub(super) fn forward(&self, tokens: Tensor<2, Int>) -> Tensor<2> {
        let states = self.gru.forward(self.embedding.forward(tokens), None);
        self.classifier.forward(states.max_dim(1).squeeze_dim(1))
    }
}
