//! `amalgam privynet attack`: the cloud's attacks on a PrivyNet bundle (key-blind), scored by
//! the owner with the key afterwards.

use std::path::Path;

use amalgam_attack::privynet::{DecoderSettings, identify_channels, keep_channels, train_decoder};
use amalgam_core::bundle::Bundle;
use amalgam_core::data::{ImageSet, SampleSet};
use amalgam_core::files::{StagingDir, write_json};
use amalgam_core::model::split::{Split, SplitPart, feature_channels};
use amalgam_core::model::{ImageShape, LocalPart, ModelSpec, Weights, feature_set};
use amalgam_owner::audit::{psnr, ssim, write_grid};
use amalgam_owner::data::TrainingPart;
use amalgam_owner::model_dir::read_model_dir;
use amalgam_owner::privynet::PrivynetKey;
use anyhow::{Context, Result, bail};
use serde::Serialize;

use super::args::PrivynetAttackArgs;
use crate::commands::load_images;
use crate::progress;

/// PSNR and SSIM of reconstructions against the owner's images.
#[derive(Serialize, Debug, Clone, Copy)]
pub struct ReconstructionScore {
    /// Peak signal-to-noise ratio, dB.
    pub psnr: f64,
    /// Structural similarity, mean over images.
    pub ssim: f64,
}

/// What the cloud recovered from a PrivyNet bundle.
#[derive(Serialize, Debug)]
pub struct PrivynetAttackReport {
    /// Split point (the bundle says it: the cloud part must know where it starts).
    pub split_point: usize,
    /// Channels of the feature map at the split point.
    pub feature_channels: usize,
    /// The channels the owner kept (from the key).
    pub kept_channels: Vec<u32>,
    /// The channels the attacker believes kept (key-blind).
    pub identified_channels: Vec<u32>,
    /// Fraction of the kept channels it identified at their place.
    pub channels_identified: f64,
    /// The attacker's public images the decoder trained on.
    pub public_images: usize,
    /// Private test images reconstructed and scored.
    pub scored_images: usize,
    /// Decoder epochs.
    pub decoder_epochs: usize,
    /// The key-blind decoder (trained through the identified channels).
    pub blind: ReconstructionScore,
    /// The upper bound: the same attacker told the kept channels.
    pub told_channels: ReconstructionScore,
}

impl PrivynetAttackReport {
    /// The better of the two attacks by PSNR: the privacy loss.
    pub fn best(&self) -> ReconstructionScore {
        if self.blind.psnr >= self.told_channels.psnr {
            self.blind
        } else {
            self.told_channels
        }
    }
}

/// The cloud part's split point of a PrivyNet bundle.
fn split_point(bundle: &Bundle) -> Result<usize> {
    match bundle.spec.branches.as_slice() {
        [branch] => match &branch.network.split {
            Some(Split {
                point,
                part: SplitPart::Cloud,
            }) => Ok(*point),
            _ => bail!(
                "{}: not a PrivyNet bundle (its network is not the cloud part of a split network)",
                bundle.dir.display()
            ),
        },
        _ => bail!(
            "{}: not a PrivyNet bundle (it has several branches)",
            bundle.dir.display()
        ),
    }
}

fn images(set: SampleSet, bundle: &Path) -> Result<ImageSet> {
    match set {
        SampleSet::Images(s) => Ok(s),
        SampleSet::Tokens(_) => bail!("{}: holds tokens, not features", bundle.display()),
    }
}

/// Runs the attacks on the bundle in `bundle_dir` with the attacker's knowledge (the
/// published `pretrained` network, its `public` images), then scores them against the owner's
/// `private_test` images with `key`: the report and the reconstructions (key-blind, told the
/// channels) of the first `samples` test images.
pub fn attack_bundle(
    bundle_dir: &Path,
    pretrained: &(ModelSpec, Weights),
    public: &ImageSet,
    private_test: &ImageSet,
    key: &PrivynetKey,
    settings: &DecoderSettings,
    samples: usize,
) -> Result<(PrivynetAttackReport, [ImageSet; 2])> {
    // The cloud's view: the bundle, the published network, its own images. No key.
    let bundle = Bundle::open(bundle_dir)?;
    let point = split_point(&bundle)?;
    let (train, test) = bundle.read_data()?;
    let (train, test) = (images(train, bundle_dir)?, images(test, bundle_dir)?);
    let (whole, weights) = pretrained;
    let width = feature_channels(&whole.architecture, point)?;
    let local = ModelSpec {
        split: Some(Split {
            point,
            part: SplitPart::Local,
        }),
        ..whole.clone()
    };
    let local_weights: Weights = local
        .parameters()
        .iter()
        .filter_map(|p| weights.get(&p.name).map(|t| (p.name.clone(), t.clone())))
        .collect();
    let all: Vec<u32> = (0..width as u32).collect();
    let map = ImageShape {
        channels: width,
        ..test.shape
    };
    let spinner = progress::step("attacker: features of its public images");
    let ours = feature_set(&LocalPart::new(&local, &local_weights, &all, map)?, public)?;
    spinner.finish_and_clear();
    let identified = identify_channels(&train.head(samples.max(1)), &ours);
    let observed = test.head(samples);
    let decode = |channels: &[u32], what: &str| {
        let spinner = progress::step(&format!("attacker: training the decoder ({what})"));
        let decoder = train_decoder(&keep_channels(&ours, channels), public, settings);
        spinner.finish_and_clear();
        decoder.reconstruct(&observed)
    };
    let blind = decode(&identified, "key-blind");

    // The owner, with the key: the upper bound and the scores.
    let (_, kept) = key.split();
    if key.bundle_fingerprint != bundle.fingerprint {
        bail!(
            "the key does not belong to the bundle {}",
            bundle_dir.display()
        );
    }
    let told = decode(kept, "told the kept channels");
    let truth = private_test.head(samples);
    if truth.shape != blind.shape || truth.labels.len() != blind.labels.len() {
        bail!(
            "the private test images ({} of {}) are not those the bundle was made from ({} of {})",
            truth.labels.len(),
            truth.shape,
            blind.labels.len(),
            blind.shape
        );
    }
    let score = |estimate: &ImageSet| ReconstructionScore {
        psnr: psnr(&truth, estimate),
        ssim: ssim(&truth, estimate),
    };
    let report = PrivynetAttackReport {
        split_point: point,
        feature_channels: width,
        kept_channels: kept.to_vec(),
        channels_identified: identified.iter().zip(kept).filter(|(a, b)| a == b).count() as f64
            / kept.len() as f64,
        identified_channels: identified,
        public_images: public.labels.len(),
        scored_images: truth.labels.len(),
        decoder_epochs: settings.epochs,
        blind: score(&blind),
        told_channels: score(&told),
    };
    Ok((report, [blind, told]))
}

pub fn run(args: PrivynetAttackArgs) -> Result<()> {
    let staging = StagingDir::new(&args.out)?;
    let data = load_images(&args.data)?;
    let public = match &args.attacker_data {
        Some(dir) => amalgam_owner::data::load_dataset(Some(dir), args.data.image_size)?.train,
        None => TrainingPart::FirstHalf.of(&data)?.train,
    }
    .head(args.public_samples);
    let pretrained = read_model_dir(&args.pretrained)?;
    let (key, _) = PrivynetKey::read(&args.key)?;
    let settings = DecoderSettings {
        epochs: args.decoder_epochs,
        ..DecoderSettings::default()
    };
    let (report, [blind, told]) = attack_bundle(
        &args.bundle,
        &pretrained,
        &public,
        &data.test,
        &key,
        &settings,
        args.samples,
    )
    .with_context(|| format!("attacking {}", args.bundle.display()))?;
    write_json(&staging.path().join("report.json"), &report)?;
    write_grid(
        &staging.path().join("grid.png"),
        &[&data.test.head(args.samples), &blind, &told],
        8,
    )?;
    let out = staging.commit()?;
    print_report(&report);
    println!(
        "report: {} (grid.png: original | key-blind | told the channels)",
        out.join("report.json").display()
    );
    Ok(())
}

fn print_report(r: &PrivynetAttackReport) {
    println!(
        "PrivyNet attack: split point {}, {} of {} channels kept; the attacker identified {:.0}% of them ({:?} for {:?})",
        r.split_point,
        r.kept_channels.len(),
        r.feature_channels,
        100.0 * r.channels_identified,
        r.identified_channels,
        r.kept_channels
    );
    println!();
    println!(
        "| decoder (trained on {} public images, {} epochs) | PSNR (dB) | SSIM  |",
        r.public_images, r.decoder_epochs
    );
    println!("|--------------------------------------------------|-----------|-------|");
    for (name, s) in [
        ("key-blind (identified channels)", r.blind),
        ("told the kept channels", r.told_channels),
    ] {
        println!("| {name:<48} | {:>9.2} | {:.3} |", s.psnr, s.ssim);
    }
}
