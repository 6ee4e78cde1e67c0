//! Bag of embeddings (fastText-like).

use burn::nn::{Embedding, EmbeddingConfig, Linear, LinearConfig};
use burn::prelude::*;

use crate::model::{ModelSpec, PAD_TOKEN};

/// Mean of the non-padding tokens' embeddings, then a linear classifier (see
/// [`crate::model::Architecture::Bag`]).
#[derive(Module, Debug)]
pub struct Bag {
    embedding: Embedding,
    classifier: Linear,
}

impl Bag {
    pub(super) fn new(spec: &ModelSpec, embedding: usize, device: &Device) -> Self {
        let vocab = spec.token_input().vocab_size;
        Self {
            embedding: EmbeddingConfig::new(vocab, embedding).init(device),
            classifier: LinearConfig::new(embedding, spec.classes).init(device),
        }
    }

    pub(super) fn forward(&self, tokens: Tensor<2, Int>) -> Tensor<2> {
        let mask = tokens
            .clone()
            .not_equal_elem(PAD_TOKEN as i64)
            .float()
            .unsqueeze_dim::<3>(2);
        let counts = mask.clone().sum_dim(1).clamp_min(1.0);
        let summed = (self.embedding.forward(tokens) * mask).sum_dim(1);
        let mean: Tensor<2> = (summed / counts).squeeze_dim(1);
        self.classifier.forward(mean)
    }
}
