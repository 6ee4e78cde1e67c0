//! The owner's side of PrivyNet: the bundle (features, cloud part, initial weights, training
//! config) and the key.

use std::path::Path;

use amalgam_core::bundle::{AugmentedSpec, BranchSpec, Bundle, Precision, branch_prefix};
use amalgam_core::data::LabelledSet;
use amalgam_core::files::{StagingDir, check_new_dir};
use amalgam_core::model::split::{feature_channels, split_specs};
use amalgam_core::model::{ModelSpec, SPEC_FORMAT_VERSION, Weights};
use amalgam_core::rng::{Stream, stream};
use amalgam_core::tensors::ValuesView;
use amalgam_core::{Error, Result};
use rand::RngCore;

use super::key::{PrivynetKey, SCHEME};
use crate::data::Dataset;
use crate::setup::{OwnerSetup, TrainSettings};
use amalgam_core::model::LocalPart;

/// Everything `amalgam privynet augment` is asked to do.
#[derive(Clone, Debug)]
pub struct PrivynetOptions {
    /// Split point: stages of the pre-trained network the owner runs.
    pub point: usize,
    /// Channels `D` of the feature map the owner keeps (and sends).
    pub channels: usize,
    /// Training seed: the cloud part's initial weights and the batch order.
    pub seed: u64,
    /// Key seed: which channels are kept.
    pub key_seed: u64,
    /// Training hyper-parameters written into the bundle (no crops, no normalisation: the
    /// cloud trains on features).
    pub train: TrainSettings,
    /// How the features are stored in the bundle: f32, or f16 (half the bytes; the cloud
    /// widens them back to f32, so it trains on the f16-rounded features).
    pub precision: Precision,
}

/// `values` as the cloud receives them at `precision`: unchanged (f32), or rounded to the
/// nearest f16 and widened back (f16). The one-process reference trains on these.
pub fn as_sent(values: &mut [f32], precision: Precision) {
    if precision == Precision::F16 {
        for v in values {
            *v = half::f16::from_f32(*v).to_f32();
        }
    }
}

/// `D` channels of the `width` channels of a feature map, drawn with stream
/// [`Stream::KeptChannels`] of `key_seed`, sorted.
///
/// # Errors
/// [`Error::Invalid`] unless `1 <= D <= width`.
pub fn kept_channels(width: usize, channels: usize, key_seed: u64) -> Result<Vec<u32>> {
    if !(1..=width).contains(&channels) {
        return Err(Error::invalid(format!(
            "--channels {channels}: the feature map at this split point has {width} channels; keep 1 to {width}"
        )));
    }
    let mut rng = stream(key_seed, Stream::KeptChannels);
    let mut kept: Vec<u32> = rand::seq::index::sample(&mut rng, width, channels)
        .into_iter()
        .map(|c| c as u32)
        .collect();
    kept.sort_unstable();
    Ok(kept)
}

/// 128 bits (hex) of stream [`Stream::BundleId`] of the key seed: tells apart bundles whose
/// cloud parts coincide (same pre-trained network, seed and `D`) but whose kept channels
/// differ. ChaCha20's output reveals nothing of its seed.
fn bundle_id(key_seed: u64) -> String {
    let mut rng = stream(key_seed, Stream::BundleId);
    format!("{:016x}{:016x}", rng.next_u64(), rng.next_u64())
}

/// The local part of `pretrained` (spec and weights of a whole pre-trained network) split as
/// `options` says, the cloud part's setup (spec, seeded initial weights, config) for a task
/// of `classes` classes, and the key's composed spec.
///
/// # Errors
/// [`Error::Invalid`] if the network cannot be split there, `D` is out of range, or a
/// setting does not apply to features.
pub fn split_setup(
    pretrained: &ModelSpec,
    pretrained_weights: &Weights,
    classes: usize,
    options: &PrivynetOptions,
) -> Result<(LocalPart, Weights, OwnerSetup, ModelSpec)> {
    if options.train.crop_padding > 0 || options.train.normalize {
        return Err(Error::invalid(
            "the cloud part trains on features: random crops and normalisation do not apply (pre-train with them instead)",
        ));
    }
    let width = feature_channels(&pretrained.architecture, options.point)?;
    let kept = kept_channels(width, options.channels, options.key_seed)?;
    let (local, cloud, composed) = split_specs(pretrained, options.point, &kept, classes)?;
    let local_weights: Weights = local
        .parameters()
        .into_iter()
        .map(|p| {
            pretrained_weights
                .get(&p.name)
                .filter(|t| t.shape == p.shape)
                .map(|t| (p.name.clone(), t.clone()))
                .ok_or_else(|| {
                    Error::invalid(format!(
                        "the pre-trained weights lack `{}` {:?}",
                        p.name, p.shape
                    ))
                })
        })
        .collect::<Result<_>>()?;
    let features = cloud
        .input
        .image()
        .expect("a cloud part takes a feature map");
    let local_part = LocalPart::new(&local, &local_weights, &kept, features)?;
    let setup = OwnerSetup::for_spec(cloud, &options.train, options.seed)?;
    Ok((local_part, local_weights, setup, composed))
}

/// Runs the local part on `dataset` (the owner's private images) and writes the bundle
/// directory `bundle_dir` (the kept features, the cloud part as a one-branch network that
/// keeps every position, its initial weights, the training config) and the key directory
/// `key_dir`; returns the key. The two are published together or not at all.
///
/// # Errors
/// [`Error::File`] if an output exists (and is not an empty directory) or cannot be written;
/// [`Error::Invalid`] as [`split_setup`], or if the images do not fit the pre-trained model.
pub fn make_bundle(
    dataset: &Dataset,
    pretrained: &ModelSpec,
    pretrained_weights: &Weights,
    options: &PrivynetOptions,
    bundle_dir: &Path,
    key_dir: &Path,
) -> Result<PrivynetKey> {
    if dataset.train.input() != pretrained.input {
        return Err(Error::invalid(format!(
            "{}: its images are {}, the pre-trained model takes {}",
            dataset.name,
            dataset.train.input(),
            pretrained.input
        )));
    }
    check_new_dir(key_dir)?;
    let (local, local_weights, setup, composed) =
        split_setup(pretrained, pretrained_weights, dataset.classes(), options)?;
    let cloud = &setup.spec;
    let every_position: Vec<u32> = (0..cloud.input.positions() as u32).collect();
    let spec = AugmentedSpec {
        format_version: SPEC_FORMAT_VERSION,
        input: cloud.input,
        classes: cloud.classes,
        bundle_id: Some(bundle_id(options.key_seed)),
        precision: options.precision,
        branches: vec![BranchSpec {
            keep_indices: vec![every_position; cloud.input.channels()],
            network: cloud.clone(),
        }],
    };
    let init: Weights = setup
        .init
        .iter()
        .map(|(name, t)| (format!("{}{name}", branch_prefix(0)), t.clone()))
        .collect();
    let bundle_staging = StagingDir::new(bundle_dir)?;
    let key_staging = StagingDir::new(key_dir)?;
    let counts = [dataset.train.len(), dataset.test.len()];
    let fingerprint = Bundle::write(
        bundle_staging.path(),
        &spec,
        &setup.train,
        &init,
        counts,
        |sink| {
            for set in [&dataset.train, &dataset.test] {
                local.for_each_batch(set, |features| match options.precision {
                    Precision::F32 => sink.write(ValuesView::F32(features)),
                    Precision::F16 => {
                        let half: Vec<half::f16> =
                            features.iter().map(|&v| half::f16::from_f32(v)).collect();
                        sink.write(ValuesView::F16(&half))
                    }
                })?;
                sink.write(ValuesView::U8(&set.labels))?;
            }
            Ok(())
        },
    )?;
    let key = PrivynetKey {
        format_version: SPEC_FORMAT_VERSION,
        scheme: SCHEME.into(),
        bundle_fingerprint: fingerprint,
        model: composed,
    };
    key.write_into(key_staging.path(), &local_weights)?;
    let bundle_dir = bundle_staging.commit()?;
    if let Err(e) = key_staging.commit_with_mode(0o700) {
        let _ = std::fs::remove_dir_all(&bundle_dir);
        return Err(e);
    }
    Ok(key)
}
