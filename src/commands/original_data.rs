//! Loading the owner's original data, images or text, as `--task` says.

use amalgam_core::data::{ImageSet, LabelledSet};
use amalgam_owner::data::{
    Dataset, TextColumns, TextDataset, TextOptions, VocabularyOptions, load_dataset,
    load_text_dataset,
};
use anyhow::Result;

use crate::args::{DataArgs, Task};
use crate::progress;

/// The original data of either task.
pub enum OriginalData {
    /// Images.
    Images(Dataset<ImageSet>),
    /// Tokenised text, with its vocabulary.
    Text(TextDataset),
}

impl OriginalData {
    /// Name, sizes and sample shape, for the terminal.
    pub fn describe(&self) -> String {
        let (name, train, test): (&str, &dyn LabelledSet, &dyn LabelledSet) = match self {
            OriginalData::Images(d) => (&d.name, &d.train, &d.test),
            OriginalData::Text(t) => (&t.dataset.name, &t.dataset.train, &t.dataset.test),
        };
        format!(
            "{name} ({} train, {} test, {})",
            train.len(),
            test.len(),
            train.input()
        )
    }

    /// The test set.
    pub fn test(&self) -> &dyn LabelledSet {
        match self {
            OriginalData::Images(d) => &d.test,
            OriginalData::Text(t) => &t.dataset.test,
        }
    }
}

/// Loads the original data with a spinner.
pub fn load(data: &DataArgs) -> Result<OriginalData> {
    let spinner = progress::step("reading the original data");
    let loaded = match data.task {
        Task::Image => {
            load_dataset(data.data.as_deref(), data.image_size).map(OriginalData::Images)
        }
        Task::Text => {
            load_text_dataset(data.data.as_deref(), &text_options(data)).map(OriginalData::Text)
        }
    };
    spinner.finish_and_clear();
    Ok(loaded?)
}

fn text_options(data: &DataArgs) -> TextOptions {
    let custom =
        data.text_column.is_some() || data.label_column.is_some() || !data.drop_label.is_empty();
    TextOptions {
        columns: custom.then(|| TextColumns {
            text: data.text_column.clone().unwrap_or_else(|| "text".into()),
            label: data.label_column.clone().unwrap_or_else(|| "label".into()),
            drop_labels: data.drop_label.clone(),
        }),
        vocabulary: VocabularyOptions {
            length: data.sequence_length,
            max_size: data.vocab_size,
            min_frequency: data.min_frequency,
        },
    }
}
