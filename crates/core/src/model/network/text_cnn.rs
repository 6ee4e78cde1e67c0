//! TextCNN (Kim 2014).

use burn::nn::conv::{Conv1d, Conv1dConfig};
use burn::nn::{Embedding, EmbeddingConfig, Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::relu;

use crate::model::ModelSpec;

/// Embeddings, parallel 1-D convolutions with max-over-time pooling, a linear classifier
/// (see [`crate::model::Architecture::TextCnn`]).
#[derive(Module, Debug)]
pub struct TextCnn {
    embedding: Embedding,
    convs: Vec<Conv1d>,
    classifier: Linear,
}

impl TextCnn {
    pub(super) fn new(
        spec: &ModelSpec,
        embedding: usize,
        widths: &[usize],
        filters: usize,
        device: &Device,
    ) -> Self {
        let vocab = spec.token_input().vocab_size;
        Self {
            embedding: EmbeddingConfig::new(vocab, embedding).init(device),
            convs: widths
                .iter()
                .map(|&w| Conv1dConfig::new(embedding, filters, w).init(device))
                .collect(),
            classifier: LinearConfig::new(filters * widths.len(), spec.classes).init(device),
        }
    }

    pub(super) fn forward(&self, tokens: Tensor<2, Int>) -> Tensor<2> {
        // [B, L, D] -> [B, D, L]: channels first for the convolutions.
        let x = self.embedding.forward(tokens).swap_dims(1, 2);
        let pooled: Vec<Tensor<2>> = self
            .convs
            .iter()
            .map(|conv| relu(conv.forward(x.clone())).max_dim(2).squeeze_dim(2))
            .collect();
        self.classifier.forward(Tensor::cat(pooled, 1))
    }
}
