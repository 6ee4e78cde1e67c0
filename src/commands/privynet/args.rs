//! `amalgam privynet` arguments.

use std::path::PathBuf;

use amalgam_owner::data::TrainingPart;
use clap::{Args, Subcommand, ValueEnum};

use crate::args::{DataArgs, TrainingArgs};

/// PrivyNet (Li et al. 2017): split learning with a frozen pre-trained local network.
#[derive(Subcommand, Debug)]
pub enum PrivynetCommand {
    /// Owner, once: train the whole network on public data; its first stages become the
    /// frozen local part.
    Pretrain(PretrainArgs),
    /// Owner: run the local part on the private images and keep D channels of its feature
    /// map; write the bundle (features, cloud part) for `amalgam train` and the key.
    Augment(PrivynetAugmentArgs),
    /// Owner: compose local part, kept channels and trained cloud part into one model
    /// directory (`amalgam eval` takes it, on raw images).
    Extract(PrivynetExtractArgs),
    /// The cloud's attacks on a bundle (key-blind: channel identification, a decoder trained
    /// on public images), then scored with the key: PSNR/SSIM, report.json and grid.png.
    Attack(PrivynetAttackArgs),
    /// Topology selection: for each split point and D, train and attack; print the
    /// accuracy/privacy frontier, write frontier.json and frontier.png, pick the most
    /// accurate topology within the limits.
    Select(PrivynetSelectArgs),
    /// The whole job: pre-train (unless --pretrained), augment, train the bundle (the cloud's
    /// role), extract, evaluate; also the plain model and the same split model trained in one
    /// process; a table and report.json.
    Run(PrivynetRunArgs),
}

/// Parts of a training split, as the command line names them.
#[derive(ValueEnum, Debug, Clone, Copy)]
pub enum PartChoice {
    /// Samples 0..N/2.
    FirstHalf,
    /// Samples N/2..N.
    SecondHalf,
    /// Every sample.
    All,
}

impl From<PartChoice> for TrainingPart {
    fn from(p: PartChoice) -> Self {
        match p {
            PartChoice::FirstHalf => TrainingPart::FirstHalf,
            PartChoice::SecondHalf => TrainingPart::SecondHalf,
            PartChoice::All => TrainingPart::All,
        }
    }
}

#[derive(Args, Debug)]
pub struct PretrainArgs {
    #[command(flatten)]
    pub data: DataArgs,
    #[command(flatten)]
    pub training: TrainingArgs,
    /// The public part of the training split. The default, the first half, is disjoint from
    /// the private part `augment` takes by default (the second half); `all` for a data set
    /// that is public as a whole.
    #[arg(long, value_enum, default_value = "first-half")]
    pub public: PartChoice,
    /// Output model directory (model.json + model.safetensors).
    #[arg(long, value_name = "MODEL_DIR")]
    pub out: PathBuf,
}

/// Where to split and what to keep.
#[derive(Args, Debug, Clone)]
pub struct SplitArgs {
    /// Split point: stages the owner runs (LeNet 1-2; ResNet-20 1-4: stem, then each stage;
    /// VGG-11 1-5).
    #[arg(long, default_value_t = 1)]
    pub split: usize,
    /// Channels D of the feature map the owner keeps and sends (default: half of them,
    /// rounded up).
    #[arg(long)]
    pub channels: Option<usize>,
    /// Key seed: which channels are kept. Default: a fresh random seed from the operating
    /// system; keep a seed you pass as secret as the key.
    #[arg(long)]
    pub key_seed: Option<u64>,
    /// The private part of the training split (default: the second half, disjoint from
    /// `pretrain`'s default public part).
    #[arg(long, value_enum, default_value = "second-half")]
    pub private: PartChoice,
    /// Store the features as f16 in the bundle (half the bytes sent; the cloud trains on
    /// the rounded features).
    #[arg(long)]
    pub f16: bool,
}

#[derive(Args, Debug)]
pub struct PrivynetAugmentArgs {
    #[command(flatten)]
    pub data: DataArgs,
    #[command(flatten)]
    pub training: TrainingArgs,
    #[command(flatten)]
    pub split: SplitArgs,
    /// The pre-trained model directory (`amalgam privynet pretrain`).
    #[arg(long, value_name = "MODEL_DIR")]
    pub pretrained: PathBuf,
    /// Output bundle directory (must not exist or be empty).
    #[arg(long, value_name = "OUT_DIR")]
    pub bundle: PathBuf,
    /// Output key directory (key.json + local.safetensors, mode 0700; must not exist or be
    /// empty).
    #[arg(long, value_name = "OUT_KEY_DIR")]
    pub key: PathBuf,
}

#[derive(Args, Debug)]
pub struct PrivynetExtractArgs {
    /// The key directory written by `amalgam privynet augment`.
    #[arg(long, value_name = "KEY_DIR")]
    pub key: PathBuf,
    /// Trained weights of the bundle (`amalgam train`, or the PyTorch runtime).
    #[arg(long, value_name = "TRAINED.safetensors")]
    pub trained: PathBuf,
    /// Output model directory (model.json + model.safetensors).
    #[arg(long, value_name = "MODEL_DIR")]
    pub out: PathBuf,
}

#[derive(Args, Debug)]
pub struct PrivynetRunArgs {
    #[command(flatten)]
    pub data: DataArgs,
    #[command(flatten)]
    pub training: TrainingArgs,
    #[command(flatten)]
    pub split: SplitArgs,
    /// A pre-trained model directory; without it, the run pre-trains on --public first.
    #[arg(long, value_name = "MODEL_DIR")]
    pub pretrained: Option<PathBuf>,
    /// The public part of the training split, for pre-training.
    #[arg(long, value_enum, default_value = "first-half")]
    pub public: PartChoice,
    /// Output directory: pretrained/, bundle/, key/, trained.safetensors, train-log.jsonl,
    /// extracted/, plain/, report.json. Default: amalgam-runs/privynet-<unix time>.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct PrivynetAttackArgs {
    /// The owner's data: its test split is what the bundle's test features came from and
    /// scores the reconstructions; without --attacker-data, the attacker's public images are
    /// the first half of its training split.
    #[command(flatten)]
    pub data: DataArgs,
    /// The bundle (what the cloud received).
    #[arg(long, value_name = "DIR")]
    pub bundle: PathBuf,
    /// The published pre-trained model directory the local part comes from (Kerckhoffs: the
    /// attacker knows it).
    #[arg(long, value_name = "MODEL_DIR")]
    pub pretrained: PathBuf,
    /// The bundle's key directory, read only after the attacks, to score them.
    #[arg(long, value_name = "KEY_DIR")]
    pub key: PathBuf,
    /// The attacker's own public images (a directory, as --data).
    #[arg(long, value_name = "DIR")]
    pub attacker_data: Option<PathBuf>,
    /// Public images the decoder trains on.
    #[arg(long, default_value_t = 5000)]
    pub public_samples: usize,
    /// Private test images reconstructed and scored.
    #[arg(long, default_value_t = 1000)]
    pub samples: usize,
    /// Decoder training epochs.
    #[arg(long, default_value_t = 5)]
    pub decoder_epochs: usize,
    /// Output directory: report.json and grid.png.
    #[arg(long, value_name = "REPORT_DIR")]
    pub out: PathBuf,
}

#[derive(Args, Debug)]
pub struct PrivynetSelectArgs {
    #[command(flatten)]
    pub data: DataArgs,
    #[command(flatten)]
    pub training: TrainingArgs,
    /// A pre-trained model directory; without it, the command pre-trains on --public first.
    #[arg(long, value_name = "MODEL_DIR")]
    pub pretrained: Option<PathBuf>,
    /// The public part of the training split, for pre-training and the attacker's images.
    #[arg(long, value_enum, default_value = "first-half")]
    pub public: PartChoice,
    /// The private part of the training split.
    #[arg(long, value_enum, default_value = "second-half")]
    pub private: PartChoice,
    /// Key seed of every topology's channel draw. Default: fresh randomness.
    #[arg(long)]
    pub key_seed: Option<u64>,
    /// Store the features as f16 in the bundles.
    #[arg(long)]
    pub f16: bool,
    /// Split points to try (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "1,2")]
    pub splits: Vec<usize>,
    /// Kept channel counts D to try (comma-separated; counts above a split point's channels
    /// are skipped; all its channels are always tried).
    #[arg(long, value_delimiter = ',', default_value = "1,2,4,8")]
    pub channels: Vec<usize>,
    /// Privacy limit: the best attack's PSNR (dB) on the owner's test images, at most.
    #[arg(long, value_name = "DB")]
    pub max_psnr: Option<f64>,
    /// Local computation limit: multiply-accumulates per image of the local part.
    #[arg(long, value_name = "MACS")]
    pub max_local_macs: Option<u64>,
    /// Local storage limit: parameters of the local part.
    #[arg(long, value_name = "N")]
    pub max_local_params: Option<usize>,
    /// Public images the attacker's decoders train on.
    #[arg(long, default_value_t = 5000)]
    pub public_samples: usize,
    /// Private test images reconstructed and scored per topology.
    #[arg(long, default_value_t = 1000)]
    pub samples: usize,
    /// Decoder training epochs.
    #[arg(long, default_value_t = 5)]
    pub decoder_epochs: usize,
    /// Output directory: frontier.json, frontier.png, grid.png (the chosen topology), and
    /// pretrained/ when pre-trained here.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}
