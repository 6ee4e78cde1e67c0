//! The attacker's shadow bundles: Kerckhoffs' attacker runs amalgam itself on public data it
//! owns, with keys it makes, and hands each bundle and its own ground truth to the
//! shadow-trained detectors of `amalgam-attack`. Nothing here reads the target's key.

use std::path::Path;

use amalgam_attack::{CloudView, Knowledge, Shadow, ViewSamples, run_attacks, run_text_attacks};
use amalgam_cloud::{TrainOptions, train_bundle};
use amalgam_core::data::{ImageSet, LabelledSet, TokenSet};
use amalgam_core::model::Architecture;
use amalgam_owner::audit::{AuditReport, score, score_text};
use amalgam_owner::augment::{
    AugmentOptions, Augmentable, DecoyArchitecture, DecoyInputs, DecoySet, augment,
};
use amalgam_owner::data::{Dataset, SampleSource};
use amalgam_owner::key::SecretKey;
use amalgam_owner::noise::NoiseKind;
use amalgam_owner::setup::TrainSettings;
use anyhow::Result;
use indicatif::ProgressBar;

/// Key seeds of the attacker's shadow bundles start here (far from the owners' usual seeds,
/// though nothing depends on that: the attacker's keys are its own).
const SHADOW_KEY_SEEDS: u64 = 1_000_000;

/// A kind of data the attacker audits: images or token sequences.
pub trait AttackedKind:
    SampleSource<Chunk = Self> + Augmentable + ViewSamples + LabelledSet + Clone
{
    /// The samples `indices` (a copy).
    fn select(&self, indices: &[usize]) -> Self;

    /// `set` as a set of decoy inputs for interleave noise.
    fn decoy_set(set: &Dataset<Self>) -> DecoySet;

    /// What the attacker learns from its `public` data and its `shadows`.
    fn knowledge(public: &Dataset<Self>, shadows: &[Shadow<Self>]) -> Knowledge;

    /// Attacks `view` with `knowledge`, then reads the key at `key_path` (only then) and
    /// scores the attacks.
    fn audit(view: &CloudView<Self>, knowledge: &Knowledge, key_path: &Path)
    -> Result<AuditReport>;
}

impl AttackedKind for ImageSet {
    fn select(&self, indices: &[usize]) -> Self {
        ImageSet::select(self, indices)
    }

    fn decoy_set(set: &Dataset<Self>) -> DecoySet {
        set.clone().into()
    }

    fn knowledge(public: &Dataset<Self>, shadows: &[Shadow<Self>]) -> Knowledge {
        Knowledge::with_shadows(Some(public.train.clone()), shadows)
    }

    fn audit(
        view: &CloudView<Self>,
        knowledge: &Knowledge,
        key_path: &Path,
    ) -> Result<AuditReport> {
        let attacks = run_attacks(view, knowledge);
        let key = SecretKey::read(key_path)?;
        Ok(score(view, &attacks, &key)?)
    }
}

impl AttackedKind for TokenSet {
    fn select(&self, indices: &[usize]) -> Self {
        TokenSet::select(self, indices)
    }

    fn decoy_set(set: &Dataset<Self>) -> DecoySet {
        set.clone().into()
    }

    fn knowledge(public: &Dataset<Self>, shadows: &[Shadow<Self>]) -> Knowledge {
        Knowledge::with_text_shadows(Some(public.train.clone()), shadows)
    }

    fn audit(
        view: &CloudView<Self>,
        knowledge: &Knowledge,
        key_path: &Path,
    ) -> Result<AuditReport> {
        let attacks = run_text_attacks(view, knowledge);
        let key = SecretKey::read(key_path)?;
        Ok(score_text(view, &attacks, &key)?)
    }
}

/// What the attacker knows of the construction and brings of its own.
pub struct Attacker<'a, S = ImageSet> {
    /// Data it keeps aside to stand in for an owner's private data in its shadow bundles
    /// (the same kind as the target's, none of the owner's).
    pub stand_in: &'a Dataset<S>,
    /// Its public set: the decoy inputs of its interleave shadows, and what it matches the
    /// branches' inputs against.
    pub public: &'a Dataset<S>,
    /// How many shadow bundles it makes.
    pub shadows: u64,
    /// Epochs it trains each shadow bundle (0: data-only detectors).
    pub train_epochs: usize,
    /// Training samples the attacks read per bundle (0: all).
    pub samples: usize,
}

impl<S: AttackedKind> Attacker<'_, S> {
    /// Makes the shadow bundles for the construction `target` (the public part of the
    /// target's settings: noise kind, amount, decoys and their architectures, training
    /// config; its keys and data are the attacker's own), trains the detectors on them, and
    /// returns the attacker's knowledge. Its shadows are made from its stand-in data; with
    /// interleave noise their decoy inputs are its public set, so that it learns what public
    /// decoys look like next to private data.
    pub fn knowledge(&self, target: &AugmentOptions) -> Result<Knowledge> {
        let mut shadows = Vec::new();
        for s in 0..self.shadows {
            let dir = tempfile::tempdir()?;
            let options = AugmentOptions {
                key_seed: SHADOW_KEY_SEEDS + s,
                seed: SHADOW_KEY_SEEDS + s,
                decoy_inputs: (target.noise == NoiseKind::Interleave)
                    .then(|| DecoyInputs::other(S::decoy_set(self.public))),
                ..target.clone()
            };
            shadows.push(self.shadow(&options, dir.path())?);
        }
        Ok(S::knowledge(self.public, &shadows))
    }

    fn shadow(&self, options: &AugmentOptions, dir: &Path) -> Result<Shadow<S>> {
        let (view, key) = bundle_and_view(
            self.stand_in,
            options,
            dir,
            self.train_epochs > 0,
            self.samples,
        )?;
        Ok(Shadow {
            view,
            is_noise: key.noise_mask(),
            real_branch: key.real_branch,
        })
    }
}

/// Augments `dataset` with `options` into `dir/bundle` and `dir/key.json`, trains the bundle
/// as the cloud would if `train` (`dir/trained.safetensors`, `dir/log.jsonl`), and opens the
/// cloud's view of it with at most `samples` samples (0: all). Returns the view and the key.
pub fn bundle_and_view<S: AttackedKind>(
    dataset: &Dataset<S>,
    options: &AugmentOptions,
    dir: &Path,
    train: bool,
    samples: usize,
) -> Result<(CloudView<S>, SecretKey)> {
    let (bundle, key_path) = (dir.join("bundle"), dir.join("key.json"));
    let key = augment(dataset, options, &bundle, &key_path)?;
    let (trained, log) = (dir.join("trained.safetensors"), dir.join("log.jsonl"));
    if train {
        train_bundle(
            &bundle,
            &trained,
            &log,
            &ProgressBar::hidden(),
            TrainOptions::default(),
        )?;
    }
    let outputs = train.then_some((trained.as_path(), log.as_path()));
    let view = CloudView::open(&bundle, outputs.map(|o| o.0), outputs.map(|o| o.1), samples)?;
    Ok((view, key))
}

/// The target's construction as the attacker reads it from the bundle (everything but the
/// noise kind, which the bundle does not say: the attacker guesses `noise`). The amount comes
/// from the shapes, the decoys from the branches (`clone` if all architectures are equal,
/// else `family`), the real architecture is guessed as the published default among the
/// branches (or the first branch's), the training settings from `train.json`.
pub fn public_settings(view: &CloudView, noise: NoiseKind) -> AugmentOptions {
    let spec = &view.bundle.spec;
    let filtered = view.filtered_shape();
    let augmented = spec
        .input
        .image()
        .expect("the view opens image bundles only");
    let amount = (augmented.height - filtered.height) as f64 / filtered.height as f64
        + 0.5 / filtered.height as f64;
    let architectures: Vec<&Architecture> = spec
        .branches
        .iter()
        .map(|b| &b.network.architecture)
        .collect();
    let architecture = architectures
        .iter()
        .find(|a| Architecture::defaults().contains(a))
        .unwrap_or(&architectures[0]);
    let train = &view.bundle.train;
    AugmentOptions {
        architecture: (*architecture).clone(),
        amount,
        noise,
        decoys: spec.branches.len() - 1,
        decoy_architecture: if architectures.iter().all(|a| a == &architectures[0]) {
            DecoyArchitecture::Clone
        } else {
            DecoyArchitecture::Family
        },
        seed: 0,
        key_seed: 0,
        train: TrainSettings {
            epochs: train.epochs,
            batch_size: train.batch_size,
            learning_rate: train.learning_rate,
            optimizer: train.optimizer,
            momentum: train.momentum,
            weight_decay: train.weight_decay,
            schedule: train.schedule,
            crop_padding: train.crop_flip.map_or(0, |c| c.padding),
            normalize: spec.branches[0].network.normalization.is_some(),
        },
        decoy_inputs: None,
    }
}
