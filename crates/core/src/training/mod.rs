//! The one training loop used by both the cloud trainer (augmented network, many branches) and
//! the owner's plain baseline (original network, one branch). Sharing it is what makes the
//! exactness invariant hold: the real branch goes through exactly the operations the plain
//! model goes through.

mod config;
mod crop_flip;
mod evaluate;
mod train;

pub use config::{
    OptimizerKind, OptimizerSettings, Schedule, TRAIN_FORMAT_VERSION, TrainConfig,
    restore_optimizer,
};
pub use crop_flip::{BatchTransform, CropFlip, image_batch};
pub use evaluate::{Evaluation, evaluate, logits};
pub use train::{BranchedClassifier, EpochLog, TrainState, train};
