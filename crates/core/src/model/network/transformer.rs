//! Transformer encoder classifier.

use burn::nn::transformer::{
    TransformerEncoder, TransformerEncoderConfig, TransformerEncoderInput,
};
use burn::nn::{Embedding, EmbeddingConfig, Linear, LinearConfig};
use burn::prelude::*;

use crate::model::ModelSpec;

/// Token and learned positional embeddings, a pre-norm encoder, mean over positions, a linear
/// classifier (see [`crate::model::Architecture::Transformer`]).
#[derive(Module, Debug)]
pub struct Transformer {
    embedding: Embedding,
    positions: Embedding,
    encoder: TransformerEncoder,
    classifier: Linear,
}

impl Transformer {
    pub(super) fn new(
        spec: &ModelSpec,
        [width, heads, layers, feed_forward]: [usize; 4],
        device: &Device,
    ) -> Self {
        let input = spec.token_input();
        Self {
            embedding: EmbeddingConfig::new(input.vocab_size, width).init(device),
            positions: EmbeddingConfig::new(input.length, width).init(device),
            encoder: TransformerEncoderConfig::new(width, feed_forward, heads, layers)
                .with_dropout(0.0)
                .with_norm_first(true)
                .init(device),
            classifier: LinearConfig::new(width, spec.classes).init(device),
        }
    }

    pub(super) fn forward(&self, tokens: Tensor<2, Int>) -> Tensor<2> {
        let [batch, length] = tokens.dims();
        let device = tokens.device();
        let positions = Tensor::<1, Int>::arange(0..length as i64, &device)
            .unsqueeze_dim::<2>(0)
            .expand([batch, length]);
        let x = self.embedding.forward(tokens) + self.positions.forward(positions);
        let x = self.encoder.forward(TransformerEncoderInput::new(x));
        self.classifier.forward(x.mean_dim(1).squeeze_dim(1))
    }
}
