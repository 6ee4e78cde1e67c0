//! Command-line arguments.

use std::path::PathBuf;

use amalgam_core::model::Architecture;
use amalgam_core::training::{OptimizerKind, Schedule};
use amalgam_owner::augment::DecoyArchitecture;
use amalgam_owner::noise::NoiseKind;
use amalgam_owner::setup::TrainSettings;
use clap::{Args, Parser, Subcommand, ValueEnum};

/// Obfuscated neural-network training on untrusted compute (Amalgam, Taki & Mastorakis,
/// Middleware 2024).
///
/// The owner augments data and model into a bundle plus a secret key; the cloud trains the
/// bundle without the key; the owner extracts the trained original model with the key.
#[derive(Parser, Debug)]
#[command(name = "amalgam", version, about, long_about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Owner: augment data and model into a bundle (for the cloud) and a key (kept secret).
    Augment(AugmentArgs),
    /// Cloud: train a bundle; writes the trained augmented weights and a JSONL log.
    Train(TrainArgs),
    /// Owner: extract the trained original model from trained weights, with the key.
    Extract(ExtractArgs),
    /// Owner: train the original model on the original data (the comparison point).
    Baseline(BaselineArgs),
    /// Test accuracy and loss of a model directory on the original test set.
    Eval(EvalArgs),
    /// The main job: augment, train, extract, evaluate, train the baseline, compare, report.
    Run(RunArgs),
    /// Privacy audit of a bundle: run the cloud's attacks (no key), then score them with the key.
    Audit(AuditArgs),
    /// Privacy audit over many keys and settings (noise, amount, decoys): a table of rates.
    AuditSweep(AuditSweepArgs),
    /// Every scheme (Amalgam, PrivyNet, Tempo, MixNN) on the same data, model and seed: accuracy, time,
    /// bytes sent and the best attack's result, side by side.
    Compare(CompareArgs),
    /// PrivyNet (Li et al. 2017): split learning with a frozen pre-trained local network.
    Privynet {
        #[command(subcommand)]
        command: crate::commands::privynet::args::PrivynetCommand,
    },
    /// Tempo (Xu & Fang 2024): a trusted process offloads the linear algebra to an untrusted
    /// worker under secret permutations, over an encrypted TCP session.
    Tempo {
        #[command(subcommand)]
        command: crate::commands::tempo::args::TempoCommand,
    },
    /// MixNN (Liu et al. 2022): every layer on its own host, activations and gradients in
    /// fixed-size Sphinx packets through a mix network.
    Mixnn {
        #[command(subcommand)]
        command: crate::commands::mixnn::args::MixnnCommand,
    },
}

/// Kinds of learning task.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Task {
    /// Image classification.
    Image,
    /// Text classification.
    Text,
}

/// The original data.
#[derive(Args, Debug, Clone)]
pub struct DataArgs {
    /// What kind of data and models.
    #[arg(long, value_enum, default_value = "image")]
    pub task: Task,
    /// Images: a directory with the four IDX files (train-images-idx3-ubyte[.gz], ...),
    /// CIFAR-10 (data_batch_*.bin, test_batch.bin) or CIFAR-100 (train.bin, test.bin) binary
    /// files, or image folders train/<class>/* and test/<class>/*. Text: a CSV/TSV table
    /// (.csv, .tsv, optionally .bz2; every fifth row is a test sample) or a directory with
    /// train.csv and test.csv (or .tsv). Default: the embedded Fashion-MNIST subset (10,000
    /// train / 2,000 test), or for text the embedded Rotten Tomatoes reviews (fresh vs rotten,
    /// 10,247 train / 2,561 test).
    #[arg(long, value_name = "PATH")]
    pub data: Option<PathBuf>,
    /// Side of the square images that image folders are resized and centre-cropped to.
    #[arg(long, default_value_t = 32)]
    pub image_size: usize,
    /// Text: header of the text column (default: `text`).
    #[arg(long, value_name = "NAME")]
    pub text_column: Option<String>,
    /// Text: header of the label column (default: `label`; `category` for the embedded set).
    #[arg(long, value_name = "NAME")]
    pub label_column: Option<String>,
    /// Text: skip rows with this label (repeatable; the embedded set drops `plot`).
    #[arg(long, value_name = "LABEL")]
    pub drop_label: Vec<String>,
    /// Text: tokens per sample; longer texts are truncated, shorter ones padded.
    #[arg(long, default_value_t = 48)]
    pub sequence_length: usize,
    /// Text: largest vocabulary (padding and unknown-word tokens included).
    #[arg(long, default_value_t = 20_000)]
    pub vocab_size: usize,
    /// Text: words seen fewer times in the training split become the unknown-word token.
    #[arg(long, default_value_t = 2)]
    pub min_frequency: u64,
}

/// Model architectures offered on the command line.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelChoice {
    /// LeNet-5: conv 5x5 6, pool, conv 5x5 16, pool, fc 120, fc 84, fc classes.
    Lenet,
    /// MLP with hidden layers 256 and 128.
    Mlp,
    /// ResNet-20: 3 stages of 3 BasicBlocks, 16/32/64 channels, BatchNorm.
    Resnet20,
    /// ResNet-18, CIFAR variant: 4 stages of 2 BasicBlocks, 64/128/256/512 channels.
    Resnet18,
    /// VGG-11 with BatchNorm.
    Vgg11,
    /// Text: bag of embeddings (fastText-like), width 64, mean over tokens.
    Bag,
    /// Text: TextCNN (Kim 2014), embeddings 64, widths 3/4/5 with 64 filters each.
    Textcnn,
    /// Text: GRU, embeddings 64, 64 units, max over time.
    Gru,
    /// Text: Transformer encoder, width 64, 4 heads, 2 layers, learned positions.
    Transformer,
}

impl ModelChoice {
    /// The default model of a task.
    pub fn default_for(task: Task) -> Self {
        match task {
            Task::Image => ModelChoice::Lenet,
            Task::Text => ModelChoice::Gru,
        }
    }

    pub fn architecture(self) -> Architecture {
        match self {
            ModelChoice::Lenet => Architecture::lenet(),
            ModelChoice::Mlp => Architecture::default_mlp(),
            ModelChoice::Resnet20 => Architecture::resnet20(),
            ModelChoice::Resnet18 => Architecture::resnet18(),
            ModelChoice::Vgg11 => Architecture::vgg11(),
            ModelChoice::Bag => Architecture::bag(),
            ModelChoice::Textcnn => Architecture::text_cnn(),
            ModelChoice::Gru => Architecture::gru(),
            ModelChoice::Transformer => Architecture::transformer(),
        }
    }
}

#[derive(ValueEnum, Debug, Clone, Copy)]
pub enum OptimizerChoice {
    /// Plain SGD.
    Sgd,
    /// Adam (betas 0.9/0.999, eps 1e-8).
    Adam,
    /// AdamW (decoupled weight decay).
    Adamw,
}

#[derive(ValueEnum, Debug, Clone, Copy)]
pub enum ScheduleChoice {
    /// The same rate every epoch.
    Constant,
    /// Cosine annealing to 0 over the epochs.
    Cosine,
    /// Multiply by --step-gamma every --step-every epochs.
    Step,
    /// Cosine annealing to 0 over every batch of every epoch (anneals within an epoch too).
    CosineBatches,
}

#[derive(ValueEnum, Debug, Clone, Copy)]
pub enum DecoyChoice {
    /// A member of the real model's family: gives the real branch away when the real model
    /// is one of amalgam's defaults (it is then the only default architecture).
    Family,
    /// The real architecture: architectures then say nothing about which branch is real.
    Clone,
}

impl From<DecoyChoice> for DecoyArchitecture {
    fn from(d: DecoyChoice) -> Self {
        match d {
            DecoyChoice::Family => DecoyArchitecture::Family,
            DecoyChoice::Clone => DecoyArchitecture::Clone,
        }
    }
}

#[derive(ValueEnum, Debug, Clone, Copy)]
pub enum NoiseChoice {
    /// Images: U[0, 1). Text: token ids drawn uniformly from the vocabulary.
    Uniform,
    /// |N(0, 1)| clamped to [0, 1].
    Gaussian,
    /// Pixels resampled from the data at the corresponding location (quantised like the data).
    Resample,
    /// No noise at all: the sample interleaves K + 1 natural images (or texts), one per
    /// branch (the decoys' from --decoy-data, or other samples of the same class of the
    /// owner's set). Needs H'W' >= (K + 1) HW (L' >= (K + 1) L): --amount 0.43 for 28x28
    /// images with one decoy, 1.0 with three; 1.0 for text with one.
    Interleave,
    /// Text: tokens drawn from the training split's unigram distribution (looks like words).
    Unigram,
}

impl From<NoiseChoice> for NoiseKind {
    fn from(n: NoiseChoice) -> Self {
        match n {
            NoiseChoice::Uniform => NoiseKind::Uniform,
            NoiseChoice::Gaussian => NoiseKind::Gaussian,
            NoiseChoice::Resample => NoiseKind::Resample,
            NoiseChoice::Interleave => NoiseKind::Interleave,
            NoiseChoice::Unigram => NoiseKind::Unigram,
        }
    }
}

/// The original model and how to train it.
#[derive(Args, Debug, Clone)]
pub struct TrainingArgs {
    /// Model architecture (default: lenet for images, gru for text).
    #[arg(long, value_enum)]
    pub model: Option<ModelChoice>,
    /// Training seed: initial weights and batch order.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Passes over the training set.
    #[arg(long, default_value_t = 2)]
    pub epochs: usize,
    /// Samples per batch.
    #[arg(long, default_value_t = 32)]
    pub batch_size: usize,
    /// Learning rate.
    #[arg(long, default_value_t = 2e-3)]
    pub lr: f64,
    /// Optimizer.
    #[arg(long, value_enum, default_value = "adam")]
    pub optimizer: OptimizerChoice,
    /// SGD momentum (0: none; the prototype used 0.9).
    #[arg(long, default_value_t = 0.0)]
    pub momentum: f64,
    /// Weight decay (L2 for sgd and adam, decoupled for adamw; the prototype used 5e-4).
    #[arg(long, default_value_t = 0.0)]
    pub weight_decay: f64,
    /// Learning-rate schedule, stepped once per epoch (cosine-batches: once per batch).
    #[arg(long, value_enum, default_value = "constant")]
    pub schedule: ScheduleChoice,
    /// Epochs between decays of the step schedule.
    #[arg(long, default_value_t = 30)]
    pub step_every: usize,
    /// Decay factor of the step schedule.
    #[arg(long, default_value_t = 0.1)]
    pub step_gamma: f64,
    /// Random crop after zero padding by this many pixels, and random horizontal flip, fresh
    /// each epoch, applied after the input filter (4 is the CIFAR standard; 0: off).
    #[arg(long, default_value_t = 0)]
    pub crop_padding: usize,
    /// Normalise each channel by the training set's mean and std, a layer after the filter.
    #[arg(long)]
    pub normalize: bool,
}

impl TrainingArgs {
    /// The chosen model, or the task's default.
    pub fn model(&self, task: Task) -> ModelChoice {
        self.model.unwrap_or(ModelChoice::default_for(task))
    }

    pub fn settings(&self) -> TrainSettings {
        TrainSettings {
            epochs: self.epochs,
            batch_size: self.batch_size,
            learning_rate: self.lr,
            optimizer: match self.optimizer {
                OptimizerChoice::Sgd => OptimizerKind::Sgd,
                OptimizerChoice::Adam => OptimizerKind::Adam,
                OptimizerChoice::Adamw => OptimizerKind::Adamw,
            },
            momentum: self.momentum,
            weight_decay: self.weight_decay,
            schedule: match self.schedule {
                ScheduleChoice::Constant => Schedule::Constant,
                ScheduleChoice::Cosine => Schedule::Cosine,
                ScheduleChoice::CosineBatches => Schedule::CosineBatches,
                ScheduleChoice::Step => Schedule::Step {
                    every: self.step_every,
                    gamma: self.step_gamma,
                },
            },
            crop_padding: self.crop_padding,
            normalize: self.normalize,
        }
    }
}

/// How to obfuscate.
#[derive(Args, Debug, Clone)]
pub struct ObfuscationArgs {
    /// Augmentation amount a in (0, 4]: image sides grow to H + floor(H * a), token
    /// sequences to L + floor(L * a). Default: 0.25, or with interleave noise the smallest
    /// amount its K + 1 views fit (0.43 for 28x28 images and one decoy).
    #[arg(long)]
    pub amount: Option<f64>,
    /// What fills the positions the real branch does not read (default: interleave; see
    /// docs/PRIVACY.md for what each hides).
    #[arg(long, value_enum)]
    pub noise: Option<NoiseChoice>,
    /// Number of decoy sub-networks.
    #[arg(long, default_value_t = 1)]
    pub decoys: usize,
    /// Decoy architectures: `clone` copies the real one (the authors' prototype), `family`
    /// draws each from the real model's family (varied depth and width).
    #[arg(long, value_enum, default_value = "clone")]
    pub decoy_arch: DecoyChoice,
    /// Key seed: noise positions and values, branch order, decoys. Default: a fresh random
    /// seed from the operating system. Pass one only to reproduce a bundle, and keep it as
    /// secret as the key: the key's secrets follow from it.
    #[arg(long)]
    pub key_seed: Option<u64>,
    /// With --noise interleave, images only: the data set (a directory, as --data) whose
    /// images fill the decoys' views, same shape and classes. Default: the owner's own set,
    /// which hides which branch is real but shows only private images (see docs/PRIVACY.md).
    /// Refused for text (decoy texts would stand out by their unknown words).
    #[arg(long, value_name = "DIR")]
    pub decoy_data: Option<PathBuf>,
}

/// Everything the owner chooses for an obfuscated training job.
#[derive(Args, Debug)]
pub struct JobArgs {
    #[command(flatten)]
    pub data: DataArgs,
    #[command(flatten)]
    pub training: TrainingArgs,
    #[command(flatten)]
    pub obfuscation: ObfuscationArgs,
}

#[derive(Args, Debug)]
pub struct AugmentArgs {
    #[command(flatten)]
    pub job: JobArgs,
    /// Output bundle directory (must not exist or be empty).
    #[arg(long, value_name = "OUT_DIR")]
    pub bundle: PathBuf,
    /// Output key file (mode 0600; must not exist).
    #[arg(long, value_name = "OUT_KEY")]
    pub key: PathBuf,
}

#[derive(Args, Debug)]
pub struct TrainArgs {
    /// Bundle directory written by `amalgam augment`.
    #[arg(value_name = "BUNDLE_DIR")]
    pub bundle: PathBuf,
    /// Output file for the trained augmented weights (safetensors).
    #[arg(long, value_name = "TRAINED.safetensors")]
    pub out: PathBuf,
    /// Output JSONL log, one line per epoch with each branch's mean loss. Default: OUT with
    /// the extension `log.jsonl`.
    #[arg(long, value_name = "FILE")]
    pub log: Option<PathBuf>,
    /// Continue a stopped run from its checkpoint (OUT.checkpoint/, written after every epoch).
    #[arg(long)]
    pub resume: bool,
    /// Stop after this epoch, keeping the checkpoint, without writing OUT.
    #[arg(long, value_name = "EPOCH")]
    pub stop_after: Option<usize>,
}

#[derive(Args, Debug)]
pub struct ExtractArgs {
    /// The key written by `amalgam augment`.
    #[arg(long, value_name = "KEY")]
    pub key: PathBuf,
    /// Trained augmented weights: safetensors from `amalgam train` or `python -m amalgam_cloud
    /// train`, or a torch.save file (.pt, .pth) holding `state_dict` and the bundle fingerprint.
    #[arg(long, value_name = "TRAINED.safetensors")]
    pub trained: PathBuf,
    /// Output model directory (model.json + model.safetensors).
    #[arg(long, value_name = "MODEL_DIR")]
    pub out: PathBuf,
}

#[derive(Args, Debug)]
pub struct BaselineArgs {
    #[command(flatten)]
    pub data: DataArgs,
    #[command(flatten)]
    pub training: TrainingArgs,
    /// Output model directory (model.json + model.safetensors), or with --as-bundle the
    /// bundle directory.
    #[arg(long, value_name = "MODEL_DIR")]
    pub out: PathBuf,
    /// Do not train: write the plain job to --out as a one-branch bundle (the original data,
    /// every position kept, no decoys) for another runtime to train, e.g.
    /// `python -m amalgam_cloud train`. It hides nothing; for comparisons only.
    #[arg(long)]
    pub as_bundle: bool,
}

#[derive(Args, Debug)]
pub struct EvalArgs {
    /// Model directory (model.json + model.safetensors).
    #[arg(long, value_name = "MODEL_DIR")]
    pub model: PathBuf,
    /// Also write the test set's logits to this safetensors file (tensor `logits`,
    /// `[N, classes]` f32), e.g. to compare with another runtime.
    #[arg(long, value_name = "FILE")]
    pub logits: Option<PathBuf>,
    #[command(flatten)]
    pub data: DataArgs,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    #[command(flatten)]
    pub job: JobArgs,
    /// Output directory: bundle/, key.json, trained.safetensors, train-log.jsonl, extracted/,
    /// plain/, report.json. Default: amalgam-runs/run-<unix time>.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct AuditArgs {
    /// Bundle directory (what the cloud received).
    #[arg(long, value_name = "DIR")]
    pub bundle: PathBuf,
    /// Trained augmented weights (what the cloud produced), for the accuracy attack.
    #[arg(long, value_name = "FILE")]
    pub trained: Option<PathBuf>,
    /// Training log (JSONL), for the loss attack.
    #[arg(long, value_name = "FILE")]
    pub log: Option<PathBuf>,
    /// The bundle's key, read only after the attacks, to score them.
    #[arg(long, value_name = "KEY")]
    pub key: PathBuf,
    /// Output directory: report.json and grid.png.
    #[arg(long, value_name = "REPORT_DIR")]
    pub out: PathBuf,
    /// Training (and test) samples the attacks use; 0 for all.
    #[arg(long, default_value_t = 2000)]
    pub samples: usize,
    /// The attacker's own public data (a directory, as --data; none of the owner's samples):
    /// it makes shadow bundles from it for the shadow-trained detectors, and matches the
    /// branches' inputs against it. Without it, only the attacks that need nothing of the
    /// attacker's own run.
    #[arg(long, value_name = "DIR")]
    pub attacker_data: Option<PathBuf>,
    /// Shadow bundles the attacker makes (with --attacker-data).
    #[arg(long, default_value_t = 4)]
    pub shadows: u64,
    /// The noise kind the attacker assumes for its shadow bundles (the bundle does not say;
    /// the owner auditing its own bundle gives the true one for the worst case).
    #[arg(long, value_enum, default_value = "uniform")]
    pub shadow_noise: NoiseChoice,
}

#[derive(Args, Debug)]
pub struct AuditSweepArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Training samples of each key's owner set (the sweep needs ten times as many: the
    /// owner's region and the attacker's data).
    #[arg(long, default_value_t = 1000)]
    pub samples: usize,
    /// Keys (key seeds 0..KEYS) per setting.
    #[arg(long, default_value_t = 20)]
    pub keys: u64,
    /// Epochs of cloud training per bundle for the loss and accuracy attacks (0: data-only
    /// attacks).
    #[arg(long, default_value_t = 0)]
    pub train_epochs: usize,
    /// Shadow bundles the attacker makes per setting from its own slice of the data (0: no
    /// shadow-trained attacks).
    #[arg(long, default_value_t = 4)]
    pub shadows: u64,
    /// Only the settings of this noise kind (e.g. `interleave`, to rerun them with more keys).
    #[arg(long, value_enum, value_name = "NOISE")]
    pub only: Option<NoiseChoice>,
    /// Output JSON file with every setting's rates.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct CompareArgs {
    /// The data, the model family and its training, and Amalgam's obfuscation (its key seed
    /// is PrivyNet's too). The training split's second half is the owner's private set for
    /// every scheme; its first half is public (PrivyNet pre-trains on it; attackers use it).
    #[command(flatten)]
    pub job: JobArgs,
    /// PrivyNet's split point (stages the owner runs).
    #[arg(long, default_value_t = 1)]
    pub split: usize,
    /// PrivyNet's kept channels D (default: half of the feature map's, rounded up).
    #[arg(long)]
    pub channels: Option<usize>,
    /// PrivyNet: store the features as f16.
    #[arg(long)]
    pub f16: bool,
    /// Public images PrivyNet's attacker trains its decoder on.
    #[arg(long, default_value_t = 5000)]
    pub public_samples: usize,
    /// Samples the attacks reconstruct and the scores use.
    #[arg(long, default_value_t = 1000)]
    pub samples: usize,
    /// Epochs of PrivyNet's attacker's decoder.
    #[arg(long, default_value_t = 5)]
    pub decoder_epochs: usize,
    /// Output directory: amalgam/, privynet/, compare.json.
    #[arg(long, value_name = "DIR")]
    pub out: std::path::PathBuf,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// clap's own consistency checks (unique flags across flattened groups, valid defaults);
    /// `Cargo.toml` keeps them on in release builds.
    #[test]
    fn every_command_line_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
