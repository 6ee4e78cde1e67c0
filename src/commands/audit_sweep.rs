//! `amalgam audit-sweep`: the audit over many keys and settings, for docs/PRIVACY.md.

use amalgam_attack::{COMBINED, SHADOW_TRAINED};
use std::ops::Range;

use amalgam_core::files::write_json;
use amalgam_core::model::{Architecture, InputShape};
use amalgam_core::rng::{Stream, substream};
use amalgam_core::training::OptimizerKind;
use amalgam_owner::audit::AuditReport;
use amalgam_owner::augment::{AugmentOptions, DecoyArchitecture, DecoyInputs};
use amalgam_owner::data::Dataset;
use amalgam_owner::noise::NoiseKind;
use amalgam_owner::setup::TrainSettings;
use anyhow::{Result, bail};
use indicatif::{ProgressBar, ProgressStyle};
use rand::seq::SliceRandom;
use serde::Serialize;

use crate::args::AuditSweepArgs;
use crate::commands::original_data::{OriginalData, load};
use crate::commands::shadow::{AttackedKind, Attacker, bundle_and_view};

/// Where an interleave setting's decoy views come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
enum DecoySource {
    /// Not an interleave setting.
    None,
    /// Other images of the same class from the owner's own training set.
    Own,
    /// The owner's other data: a disjoint slice the attacker does not hold.
    OwnerOther,
    /// The attacker's public set (a public set the cloud holds too).
    Public,
}

/// One construction of the sweep.
#[derive(Clone, Copy, Debug, Serialize)]
struct Setting {
    noise: NoiseKind,
    amount: f64,
    decoys: usize,
    decoy_architecture: DecoyArchitecture,
    decoy_inputs: DecoySource,
}

/// The settings of docs/PRIVACY.md. Images: the published kinds and `resample` at amounts
/// 0.25 and 1.0 with 1 and 3 clone decoys, the published default (uniform noise, family
/// decoys), and `interleave` at the amounts its views fit (0.43 for K = 1, 1.0 for K = 3)
/// with each source of decoy inputs. Text: `unigram` and `uniform` noise at amounts 0.25 and
/// 1.0 with 1 and 3 clone decoys, unigram noise with family decoys, and `interleave` (amounts
/// 1.0 and 3.0) with each source.
fn settings(input: InputShape) -> Vec<Setting> {
    let mut settings = Vec::new();
    let setting = |noise, amount, decoys, decoy_architecture, decoy_inputs| Setting {
        noise,
        amount,
        decoys,
        decoy_architecture,
        decoy_inputs,
    };
    let (kinds, default) = match input {
        InputShape::Image(_) => (
            vec![NoiseKind::Uniform, NoiseKind::Gaussian, NoiseKind::Resample],
            NoiseKind::Uniform,
        ),
        InputShape::Tokens(_) => (
            vec![NoiseKind::Unigram, NoiseKind::Uniform],
            NoiseKind::Unigram,
        ),
    };
    for noise in kinds {
        for amount in [0.25, 1.0] {
            for decoys in [1, 3] {
                settings.push(setting(
                    noise,
                    amount,
                    decoys,
                    DecoyArchitecture::Clone,
                    DecoySource::None,
                ));
            }
        }
    }
    settings.push(setting(
        default,
        0.25,
        1,
        DecoyArchitecture::Family,
        DecoySource::None,
    ));
    // The amounts at which K + 1 views fit: for 28x28 images 0.43 (K = 1) and 1.0 (K = 3),
    // for token sequences 1.0 and 3.0.
    let fitting = match input {
        InputShape::Image(_) => [(0.43, 1), (1.0, 3)],
        InputShape::Tokens(_) => [(1.0, 1), (3.0, 3)],
    };
    for source in [
        DecoySource::Own,
        DecoySource::OwnerOther,
        DecoySource::Public,
    ] {
        for (amount, decoys) in fitting {
            settings.push(setting(
                NoiseKind::Interleave,
                amount,
                decoys,
                DecoyArchitecture::Clone,
                source,
            ));
        }
    }
    settings
}

/// One setting's results over all keys: means, and rates of correct identification.
#[derive(Serialize, Debug)]
struct SweepRow {
    setting: Setting,
    keys: usize,
    /// Mean AUC of each statistic (the last one is the attacker's best: shadow-trained when it
    /// has shadows).
    statistic_auc: Vec<(String, f64)>,
    /// Mean fraction of real pixel positions found at the known count (attacker's best).
    real_found: f64,
    /// Rate of correct identification of each verdict (`None`: the verdict was not available;
    /// a verdict that abstains counts as wrong).
    identification: Vec<(String, Option<f64>)>,
    random_guess: f64,
    /// Mean similarity of each reconstruction to the originals (SSIM for images, token
    /// accuracy for text): from the picked branch, by dropping the detected noise, and for
    /// images by shrinking the flat sequence.
    reconstruction: Vec<(String, f64)>,
}

fn mean(values: impl Iterator<Item = f64>) -> f64 {
    let (sum, n) = values.fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    sum / n.max(1) as f64
}

/// The rate at which `pick` names the real branch, over the reports where it gives a verdict
/// or abstains (`None` if it is never available).
fn rate(reports: &[AuditReport], pick: impl Fn(&AuditReport) -> Verdict) -> Option<f64> {
    let outcomes: Vec<bool> = reports
        .iter()
        .filter_map(|r| match pick(r) {
            Verdict::Unavailable => None,
            Verdict::Abstains => Some(false),
            Verdict::Branch(b) => Some(b == r.real_branch),
        })
        .collect();
    (!outcomes.is_empty()).then(|| mean(outcomes.into_iter().map(|ok| f64::from(u8::from(ok)))))
}

/// A verdict of one identification attack on one bundle.
enum Verdict {
    /// The attack needs what the attacker lacked (a log, trained weights, public data).
    Unavailable,
    /// It ran and named no branch.
    Abstains,
    /// It named this branch.
    Branch(usize),
}

fn optional(v: Option<usize>) -> Verdict {
    v.map_or(Verdict::Unavailable, Verdict::Branch)
}

/// Reads one identification verdict from a report.
type VerdictOf = fn(&AuditReport) -> Verdict;

/// Every identification verdict of the audit, by name.
fn verdicts() -> Vec<(&'static str, VerdictOf)> {
    vec![
        ("pick", |r| Verdict::Branch(r.identification.pick)),
        ("smoothness", |r| {
            Verdict::Branch(r.identification.by_smoothness)
        }),
        ("positions", |r| {
            Verdict::Branch(r.identification.by_positions)
        }),
        ("repeats", |r| Verdict::Branch(r.identification.by_repeats)),
        ("architecture", |r| {
            r.identification
                .by_architecture
                .map_or(Verdict::Abstains, Verdict::Branch)
        }),
        ("loss", |r| optional(r.identification.by_loss)),
        ("accuracy", |r| optional(r.identification.by_accuracy)),
        ("public_set", |r| optional(r.identification.by_public_set)),
        ("shadow", |r| optional(r.identification.by_shadow)),
    ]
}

impl SweepRow {
    fn new(setting: Setting, reports: &[AuditReport]) -> Self {
        let first = &reports[0];
        let statistic_auc = first
            .detection
            .iter()
            .enumerate()
            .map(|(i, d)| {
                (
                    d.statistic.clone(),
                    mean(reports.iter().map(|r| r.detection[i].auc)),
                )
            })
            .collect();
        let best = first.detection.len() - 1;
        let reconstruction = first
            .reconstruction
            .iter()
            .enumerate()
            .map(|(i, m)| {
                (
                    m.method.clone(),
                    mean(reports.iter().map(|r| r.reconstruction[i].similarity)),
                )
            })
            .collect();
        SweepRow {
            setting,
            keys: reports.len(),
            statistic_auc,
            real_found: mean(
                reports
                    .iter()
                    .map(|r| r.detection[best].real_recovered_at_count),
            ),
            identification: verdicts()
                .into_iter()
                .map(|(name, pick)| (name.to_string(), rate(reports, pick)))
                .collect(),
            random_guess: 1.0 / (setting.decoys + 1) as f64,
            reconstruction,
        }
    }
}

/// The sweep's two disjoint regions of one data set: the owner's region, from which every
/// key draws a fresh owner set and the owner's other data (so that verdicts about the data
/// itself are independent across keys), and the attacker's data.
struct Slices<S> {
    private: Dataset<S>,
    attacker: Dataset<S>,
}

impl<S: AttackedKind> Slices<S> {
    /// With `n = samples` and `t = samples / 8`: the owner's region is the first `5n`
    /// training and `5t` test samples, the attacker's the last `5n` and `5t`.
    fn cut(full: &Dataset<S>, samples: usize) -> Result<Self> {
        let (n, t) = (samples, samples / 8);
        let (end, test_end) = (full.train.len(), full.test.len());
        if end < 10 * n || test_end < 10 * t {
            bail!(
                "the audit sweep needs 10 x {n} training and 10 x {t} test samples (owner's region, attacker's data); {} has {end} and {test_end}: use a smaller --samples",
                full.name,
            );
        }
        let part = |train: Range<usize>, test: Range<usize>| Dataset {
            name: format!(
                "{} (training samples {train:?}, test samples {test:?})",
                full.name
            ),
            train: full.train.select(&train.collect::<Vec<_>>()),
            test: full.test.select(&test.collect::<Vec<_>>()),
        };
        Ok(Self {
            private: part(0..5 * n, 0..5 * t),
            attacker: part(end - 5 * n..end, test_end - 5 * t..test_end),
        })
    }

    /// For `key`: the owner's set, a fifth of every class of the owner's region drawn at
    /// random (about `samples` training and `samples / 8` test samples), and the owner's
    /// other data, the rest: four times as many of every class, enough decoy inputs for
    /// three decoys.
    fn owner_sets(&self, key: u64) -> (Dataset<S>, Dataset<S>) {
        let mut rng = substream(0, Stream::AuditSamples, key);
        let mut split = |set: &S| {
            let classes = set.classes();
            let (mut owner, mut other) = (Vec::new(), Vec::new());
            for class in 0..classes {
                let mut members: Vec<usize> = (0..set.len())
                    .filter(|&i| set.labels()[i] as usize == class)
                    .collect();
                members.shuffle(&mut rng);
                let fifth = members.len() / 5;
                owner.extend_from_slice(&members[..fifth]);
                other.extend_from_slice(&members[fifth..]);
            }
            owner.shuffle(&mut rng);
            other.shuffle(&mut rng);
            (set.select(&owner), set.select(&other))
        };
        let (train, other_train) = split(&self.private.train);
        let (test, other_test) = split(&self.private.test);
        let name = |what: &str| format!("{what} drawn from {}", self.private.name);
        (
            Dataset {
                name: name("owner's set"),
                train,
                test,
            },
            Dataset {
                name: name("owner's other data"),
                train: other_train,
                test: other_test,
            },
        )
    }
}

pub fn run(args: AuditSweepArgs) -> Result<()> {
    let (rows, description) = match load(&args.data)? {
        OriginalData::Images(full) => sweep(&full, &args, Architecture::lenet())?,
        OriginalData::Text(text) => sweep(&text.dataset, &args, Architecture::bag())?,
    };
    print_table(&rows, &description);
    if let Some(out) = &args.out {
        write_json(out, &rows)?;
    }
    Ok(())
}

/// Audits every setting for `architecture` bundles made from `full`; returns the rows and a
/// description of the sweep for the table's title.
fn sweep<S: AttackedKind>(
    full: &Dataset<S>,
    args: &AuditSweepArgs,
    architecture: Architecture,
) -> Result<(Vec<SweepRow>, String)> {
    let slices = Slices::cut(full, args.samples)?;
    let owner_sets: Vec<(Dataset<S>, Dataset<S>)> =
        (0..args.keys).map(|key| slices.owner_sets(key)).collect();
    let settings: Vec<Setting> = settings(full.train.input())
        .into_iter()
        .filter(|s| args.only.is_none_or(|only| s.noise == only.into()))
        .collect();
    let total = settings.len() as u64 * (args.keys + args.shadows);
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template(
            "{prefix} [{bar:30}] {pos}/{len} bundles {elapsed}<{eta} {msg}",
        )
        .expect("the template is valid")
        .progress_chars("=> "),
    );
    bar.set_prefix("auditing");
    // The attacker's data: a fifth stands in for private data in its shadows, the rest is its
    // public set (and the owner's public decoy source: four times the owner's set, enough for
    // three decoys).
    let (train, test) = (slices.attacker.train.len(), slices.attacker.test.len());
    let part = |what: &str, train: Range<usize>, test: Range<usize>| Dataset {
        name: format!("{what}: {train:?} and {test:?} of it"),
        train: slices.attacker.train.select(&train.collect::<Vec<_>>()),
        test: slices.attacker.test.select(&test.collect::<Vec<_>>()),
    };
    let stand_in = part("stand-in for private data", 0..train / 5, 0..test / 5);
    let public = part("public set", train / 5..train, test / 5..test);
    let mut rows = Vec::new();
    for setting in settings {
        bar.set_message(format!(
            "{:?} a={} K={} {:?} decoys from {:?}",
            setting.noise,
            setting.amount,
            setting.decoys,
            setting.decoy_architecture,
            setting.decoy_inputs
        ));
        let mut options = AugmentOptions {
            architecture: architecture.clone(),
            amount: setting.amount,
            noise: setting.noise,
            decoys: setting.decoys,
            decoy_architecture: setting.decoy_architecture,
            seed: 0,
            key_seed: 0,
            train: TrainSettings {
                epochs: args.train_epochs.max(1),
                batch_size: 32,
                learning_rate: 2e-3,
                optimizer: OptimizerKind::Adam,
                ..Default::default()
            },
            decoy_inputs: None,
        };
        let attacker = Attacker {
            stand_in: &stand_in,
            public: &public,
            shadows: args.shadows,
            train_epochs: args.train_epochs,
            samples: 0,
        };
        let knowledge = attacker.knowledge(&options)?;
        bar.inc(args.shadows);
        let public_decoys = Some(DecoyInputs::other(S::decoy_set(&public)));
        let mut reports = Vec::new();
        for (key_seed, (owner, other)) in (0..args.keys).zip(&owner_sets) {
            options.decoy_inputs = match setting.decoy_inputs {
                DecoySource::None => None,
                DecoySource::Own => Some(DecoyInputs::own(S::decoy_set(owner))),
                DecoySource::OwnerOther => Some(DecoyInputs::other(S::decoy_set(other))),
                DecoySource::Public => public_decoys.clone(),
            };
            let dir = tempfile::tempdir()?;
            // The training seed varies with the key too: with one seed, the real branch would
            // start from the same weights in every bundle, and its training (loss, accuracy)
            // would be one draw repeated, not a trial per key.
            let options = AugmentOptions {
                key_seed,
                seed: key_seed,
                ..options.clone()
            };
            let (view, _) = bundle_and_view(owner, &options, dir.path(), args.train_epochs > 0, 0)?;
            // The owner scores with the key file, read only after the attacks.
            reports.push(S::audit(&view, &knowledge, &dir.path().join("key.json"))?);
            bar.inc(1);
        }
        rows.push(SweepRow::new(setting, &reports));
    }
    bar.finish_and_clear();
    let description = format!(
        "Privacy audit of {} bundles, each key's owner set (a fifth of every class, about {} training samples) drawn from {}, {} keys per setting, {}; attacker: {} ({}; {}), {} shadow bundles per setting",
        architecture.name(),
        args.samples,
        slices.private.name,
        args.keys,
        if args.train_epochs > 0 {
            format!(
                "{} epoch(s) of cloud training per bundle",
                args.train_epochs
            )
        } else {
            "no training (data-only attacks)".to_string()
        },
        slices.attacker.name,
        stand_in.name,
        public.name,
        args.shadows,
    );
    Ok((rows, description))
}

fn print_table(rows: &[SweepRow], description: &str) {
    println!("{description}");
    println!();
    let Some(first) = rows.first() else {
        return;
    };
    let verdicts: Vec<&str> = first
        .identification
        .iter()
        .map(|(n, _)| n.as_str())
        .collect();
    let methods: Vec<&str> = first
        .reconstruction
        .iter()
        .map(|(n, _)| n.as_str())
        .collect();
    println!(
        "| noise | decoy inputs | decoys | amount | K | detection AUC (unsupervised) | detection AUC (shadow-trained) | real positions found | {} | random | {} |",
        verdicts
            .iter()
            .map(|v| format!("identified: {v}"))
            .collect::<Vec<_>>()
            .join(" | "),
        methods
            .iter()
            .map(|m| format!("similarity {m}"))
            .collect::<Vec<_>>()
            .join(" | ")
    );
    println!("|{}", "---|".repeat(9 + verdicts.len() + methods.len()));
    let opt = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.2}"));
    let auc = |r: &SweepRow, name: &str| {
        r.statistic_auc
            .iter()
            .find(|(n, _)| n == name)
            .map_or("-".to_string(), |(_, a)| format!("{a:.3}"))
    };
    let lower = |v: &dyn std::fmt::Debug| format!("{v:?}").to_lowercase();
    for r in rows {
        let s = &r.setting;
        let ids: Vec<String> = r.identification.iter().map(|(_, v)| opt(*v)).collect();
        let similarity: Vec<String> = r
            .reconstruction
            .iter()
            .map(|(_, v)| format!("{v:.3}"))
            .collect();
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {:.3} | {} | {:.2} | {} |",
            lower(&s.noise),
            match s.decoy_inputs {
                DecoySource::None => "-",
                DecoySource::Own => "owner's set",
                DecoySource::OwnerOther => "owner's other data",
                DecoySource::Public => "public set",
            },
            lower(&s.decoy_architecture),
            s.amount,
            s.decoys,
            auc(r, COMBINED),
            auc(r, SHADOW_TRAINED),
            r.real_found,
            ids.join(" | "),
            r.random_guess,
            similarity.join(" | "),
        );
    }
}
