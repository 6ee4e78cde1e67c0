//! Disjoint public and private parts of one data set's training split.

use amalgam_core::Result;
use amalgam_core::data::{ImageSet, LabelledSet};

use crate::data::Dataset;

/// Which samples of a data set's training split a step uses (the public part an attacker or
/// a pre-training owns, the private part the owner trains on). With the defaults,
/// pre-training ([`TrainingPart::FirstHalf`], public) and the owner's job
/// ([`TrainingPart::SecondHalf`], private) never share a sample; the test split is the
/// owner's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrainingPart {
    /// Samples `0..N/2`.
    FirstHalf,
    /// Samples `N/2..N`.
    SecondHalf,
    /// Every sample (a data set that is public, or private, as a whole).
    All,
}

impl TrainingPart {
    /// `dataset` with only this part of its training split (the test split unchanged).
    ///
    /// # Errors
    /// [`amalgam_core::Error::Invalid`] if the part is empty.
    pub fn of(self, dataset: &Dataset) -> Result<Dataset> {
        let n = dataset.train.len();
        let range = match self {
            TrainingPart::FirstHalf => 0..n / 2,
            TrainingPart::SecondHalf => n / 2..n,
            TrainingPart::All => 0..n,
        };
        if range.is_empty() {
            return Err(amalgam_core::Error::invalid(format!(
                "{}: the {} of its {n} training samples is empty",
                dataset.name,
                self.describe()
            )));
        }
        let train: ImageSet = dataset.train.range(range);
        Ok(Dataset {
            name: format!("{} ({})", dataset.name, self.describe()),
            train,
            test: dataset.test.clone(),
        })
    }

    /// For reports: `first half of the training split`, ...
    pub fn describe(self) -> &'static str {
        match self {
            TrainingPart::FirstHalf => "first half of the training split",
            TrainingPart::SecondHalf => "second half of the training split",
            TrainingPart::All => "whole training split",
        }
    }
}
