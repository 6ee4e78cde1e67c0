//! Exactness for text: the model extracted from the trained augmented network equals, bit for
//! bit, each of the four text models trained plainly on the original token sequences (same
//! seed, same batch order), with two decoys from the model's family, noise tokens (or, for the
//! GRU, the decoys' own texts interleaved), and the input filter gathering token ids before
//! the embedding lookup.

mod common;

use amalgam_core::model::Architecture;
use amalgam_core::training::OptimizerKind;
use amalgam_owner::augment::DecoyInputs;
use amalgam_owner::noise::NoiseKind;
use amalgam_owner::setup::TrainSettings;
use common::exactness::check_exactness_on;

fn check_text_exactness(architecture: Architecture, noise: NoiseKind) {
    let dataset = common::rotten_tomatoes_subset(256, 64, 24);
    let train = TrainSettings {
        epochs: 1,
        optimizer: OptimizerKind::Adam,
        ..TrainSettings::default()
    };
    // Interleave noise takes its decoy texts from the owner's own set.
    let decoys = (noise == NoiseKind::Interleave).then(|| DecoyInputs::own(dataset.clone()));
    check_exactness_on(&dataset, architecture, train, noise, decoys);
}

#[test]
fn bag_of_embeddings_with_two_decoys_extracts_bitwise_equal_weights() {
    check_text_exactness(Architecture::bag(), NoiseKind::Unigram);
}

#[test]
fn text_cnn_with_two_decoys_extracts_bitwise_equal_weights() {
    check_text_exactness(Architecture::text_cnn(), NoiseKind::Uniform);
}

#[test]
fn gru_with_two_decoys_extracts_bitwise_equal_weights() {
    check_text_exactness(Architecture::gru(), NoiseKind::Unigram);
}

#[test]
fn transformer_with_two_decoys_extracts_bitwise_equal_weights() {
    check_text_exactness(Architecture::transformer(), NoiseKind::Unigram);
}

#[test]
fn gru_with_interleaved_decoy_texts_extracts_bitwise_equal_weights() {
    check_text_exactness(Architecture::gru(), NoiseKind::Interleave);
}
