//! A split network's local part at work: the frozen first stages of a pre-trained network
//! turning images into (some channels of) their feature map. The owner runs it on its private
//! images (PrivyNet); an attacker who knows the published pre-trained network runs it on its
//! own public images.

use burn::prelude::*;

use super::split::select_channels;
use super::{ImageShape, InputBatch, InputStage, ModelSpec, Network, Weights, set_weights};
use crate::backend::inference_device;
use crate::data::{ImageSet, LabelledSet};
use crate::{Error, Result};

/// Samples per forward pass of the local part.
const FEATURE_BATCH: usize = 256;

/// A local part, ready to turn images into the chosen (kept) channels of its feature map.
pub struct LocalPart {
    stage: InputStage,
    network: Network,
    kept: Vec<u32>,
    /// Shape of one sample's kept features, `[D, h, w]`.
    pub features: ImageShape,
}

impl LocalPart {
    /// The local part `local` (a [`super::split::SplitPart::Local`] spec) with its `weights`,
    /// keeping the channels `kept`; `features` is the shape of one sample's kept features.
    ///
    /// # Errors
    /// [`Error::Invalid`] if the weights do not fit the spec.
    pub fn new(
        local: &ModelSpec,
        weights: &Weights,
        kept: &[u32],
        features: ImageShape,
    ) -> Result<Self> {
        let device = inference_device();
        let mut network = Network::new(local, &device);
        set_weights(&mut network, weights)
            .map_err(|e| Error::invalid(format!("local part: {e}")))?;
        Ok(Self {
            stage: InputStage::new(local, &device),
            network,
            kept: kept.to_vec(),
            features,
        })
    }

    /// The kept features `[n, D, h, w]` (row-major) of `n` images `[n, C, H, W]`.
    pub fn kept_features(&self, images: &[f32], shape: ImageShape) -> Vec<f32> {
        let n = images.len() / shape.values();
        let batch = Tensor::<4>::from_data(
            TensorData::new(
                images.to_vec(),
                [n, shape.channels, shape.height, shape.width],
            ),
            &inference_device(),
        );
        let InputBatch::Images(normalised) = self.stage.apply(InputBatch::Images(batch)) else {
            unreachable!("an image stage gives images")
        };
        let features = select_channels(self.network.features(normalised), &self.kept);
        features.into_data().iter::<f32>().collect()
    }

    /// Calls `sink` with the kept features of `set`'s samples, in order, a batch at a time.
    ///
    /// # Errors
    /// `sink`'s errors.
    pub fn for_each_batch(
        &self,
        set: &ImageSet,
        mut sink: impl FnMut(&[f32]) -> Result<()>,
    ) -> Result<()> {
        let per_sample = set.shape.values();
        for chunk in set.images.chunks(FEATURE_BATCH * per_sample) {
            sink(&self.kept_features(chunk, set.shape))?;
        }
        Ok(())
    }
}

/// `set` as the cloud sees it: its kept features `[N, D, h, w]` and its labels.
///
/// # Errors
/// [`Error::Invalid`] if the feature count does not fit (never for a consistent local part).
pub fn feature_set(local: &LocalPart, set: &ImageSet) -> Result<ImageSet> {
    let mut values = Vec::with_capacity(set.len() * local.features.values());
    local.for_each_batch(set, |batch| {
        values.extend_from_slice(batch);
        Ok(())
    })?;
    ImageSet::new(local.features, values, set.labels.clone())
}
