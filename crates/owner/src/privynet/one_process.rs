//! The comparison point of PrivyNet's exactness: the same split model trained in one process.

use amalgam_core::Result;
use amalgam_core::model::{ModelSpec, Weights, feature_set};
use indicatif::ProgressBar;

use super::bundle::{PrivynetOptions, as_sent, split_setup};
use crate::baseline::train_baseline;
use crate::data::Dataset;

/// The composed model (spec and weights) of `private` split from `pretrained` as `options`
/// says, trained without a bundle: the local part's features kept in memory (rounded as
/// they would be sent), the cloud part trained on them by the plain loop. PrivyNet's
/// extracted model equals it bit for bit.
///
/// # Errors
/// As [`split_setup`].
pub fn train_in_one_process(
    private: &Dataset,
    (pretrained, pretrained_weights): &(ModelSpec, Weights),
    options: &PrivynetOptions,
    progress: &ProgressBar,
) -> Result<(ModelSpec, Weights)> {
    let (local, local_weights, setup, composed) =
        split_setup(pretrained, pretrained_weights, private.classes(), options)?;
    let mut features = Dataset {
        name: format!("{} (features)", private.name),
        train: feature_set(&local, &private.train)?,
        test: feature_set(&local, &private.test)?,
    };
    for set in [&mut features.train, &mut features.test] {
        as_sent(&mut set.images, options.precision);
    }
    let mut weights = train_baseline(&features, &setup, progress).weights;
    weights.extend(local_weights);
    Ok((composed, weights))
}
