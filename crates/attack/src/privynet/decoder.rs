//! PrivyNet's attacker: a convolutional decoder from features back to images.

use amalgam_core::data::ImageSet;
use amalgam_core::model::ImageShape;
use burn::module::Module;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;
use burn::tensor::activation::{relu, sigmoid};
use burn::tensor::module::interpolate;
use burn::tensor::ops::{InterpolateMode, InterpolateOptions};

/// How the decoder is built and trained.
#[derive(Clone, Debug)]
pub struct DecoderSettings {
    /// Channels of its hidden convolutions.
    pub width: usize,
    /// Passes over the attacker's public images.
    pub epochs: usize,
    /// Samples per batch.
    pub batch_size: usize,
    /// Adam's learning rate.
    pub learning_rate: f64,
    /// Seed of its initial weights and batch order.
    pub seed: u64,
}

impl Default for DecoderSettings {
    /// Width 32, 5 epochs, batch 64, Adam at 1e-3.
    fn default() -> Self {
        Self {
            width: 32,
            epochs: 5,
            batch_size: 64,
            learning_rate: 1e-3,
            seed: 0,
        }
    }
}

fn conv3x3(input: usize, output: usize, device: &Device) -> Conv2d {
    Conv2dConfig::new([input, output], [3, 3])
        .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
        .init(device)
}

/// Features `[B, D, h, w]` → images `[B, C, H, W]` in [0, 1]: per-channel standardisation
/// (by the training features' statistics), two 3x3 convolutions with ReLU at the features'
/// size, bilinear up-sampling to the images' size, a 3x3 convolution with ReLU and a 3x3
/// convolution with a sigmoid. (Reconstructed: PrivyNet's decoder mirrors the local layers
/// with deconvolutions; this one is a generic up-sampling decoder of similar depth.)
#[derive(Module, Debug)]
pub struct Decoder {
    conv1: Conv2d,
    conv2: Conv2d,
    conv3: Conv2d,
    conv4: Conv2d,
    #[module(skip)]
    image: ImageShape,
    #[module(skip)]
    standardise: (Vec<f32>, Vec<f32>),
}

impl Decoder {
    fn new(
        features: ImageShape,
        image: ImageShape,
        width: usize,
        stats: (Vec<f32>, Vec<f32>),
        device: &Device,
    ) -> Self {
        Self {
            conv1: conv3x3(features.channels, width, device),
            conv2: conv3x3(width, width, device),
            conv3: conv3x3(width, width, device),
            conv4: conv3x3(width, image.channels, device),
            image,
            standardise: stats,
        }
    }

    fn forward(&self, features: Tensor<4>) -> Tensor<4> {
        let device = features.device();
        let column = |v: &[f32]| {
            Tensor::<1>::from_data(TensorData::new(v.to_vec(), [v.len()]), &device).reshape([
                1,
                v.len(),
                1,
                1,
            ])
        };
        let (mean, std) = &self.standardise;
        let x = (features - column(mean)) / column(std);
        let x = relu(self.conv1.forward(x));
        let x = relu(self.conv2.forward(x));
        let x = interpolate(
            x,
            InterpolateOptions::new(InterpolateMode::Bilinear)
                .with_output_size([self.image.height, self.image.width]),
        );
        let x = relu(self.conv3.forward(x));
        sigmoid(self.conv4.forward(x))
    }

    /// Reconstructed images `[N, C, H, W]` (labels copied) of `features` `[N, D, h, w]`.
    pub fn reconstruct(&self, features: &ImageSet) -> ImageSet {
        let device = amalgam_core::backend::inference_device();
        let valid = self.clone().valid();
        let mut values = Vec::with_capacity(features.labels.len() * self.image.values());
        let per = features.shape.values();
        for chunk in features.images.chunks(256 * per) {
            let n = chunk.len() / per;
            let x = Tensor::<4>::from_data(
                TensorData::new(
                    chunk.to_vec(),
                    [
                        n,
                        features.shape.channels,
                        features.shape.height,
                        features.shape.width,
                    ],
                ),
                &device,
            );
            values.extend(valid.forward(x).into_data().iter::<f32>());
        }
        ImageSet::new(self.image, values, features.labels.clone())
            .expect("one image per feature map")
    }
}

/// Per-channel mean and standard deviation of `features`.
fn channel_stats(features: &ImageSet) -> (Vec<f32>, Vec<f32>) {
    let stats = features.channel_sums();
    let n = (features.labels.len() * features.shape.pixels()).max(1) as f64;
    stats
        .iter()
        .map(|&(sum, squares)| {
            let mean = sum / n;
            let std = (squares / n - mean * mean).max(1e-12).sqrt();
            (mean as f32, std as f32)
        })
        .unzip()
}

/// Trains a [`Decoder`] to turn `features` (`[N, D, h, w]`, the attacker's public images
/// through the local part and the channels it believes kept) back into `images`
/// (`[N, C, H, W]`, the same public images), minimising the mean squared error.
///
/// # Panics
/// If `features` and `images` hold different numbers of samples.
pub fn train_decoder(
    features: &ImageSet,
    images: &ImageSet,
    settings: &DecoderSettings,
) -> Decoder {
    let n = features.labels.len();
    assert_eq!(n, images.labels.len(), "one image per feature map");
    let device = amalgam_core::backend::training_device();
    device.seed(settings.seed);
    let mut decoder = Decoder::new(
        features.shape,
        images.shape,
        settings.width,
        channel_stats(features),
        &device,
    );
    let mut optimizer = AdamConfig::new().init();
    let batch = |set: &ImageSet, indices: &[usize]| {
        let s = set.shape;
        let values: Vec<f32> = indices
            .iter()
            .flat_map(|&i| set.sample(i).iter().copied())
            .collect();
        Tensor::<4>::from_data(
            TensorData::new(values, [indices.len(), s.channels, s.height, s.width]),
            &device,
        )
    };
    for epoch in 0..settings.epochs {
        let order = amalgam_core::data::batch_order(n, settings.seed, epoch);
        for indices in order.chunks(settings.batch_size) {
            let output = decoder.forward(batch(features, indices));
            let loss = (output - batch(images, indices)).powi_scalar(2).mean();
            let grads = GradientsParams::from_grads(loss.backward(), &decoder);
            decoder = optimizer.step(settings.learning_rate, decoder, grads);
        }
    }
    decoder
}
