//! The augmenter writes the bundle's data chunk by chunk; the result is the same as
//! augmenting each whole set at once (chunk boundaries and noise sub-streams line up).

mod common;

use amalgam_core::bundle::Bundle;
use amalgam_core::data::{LabelledSet, SampleSet};
use amalgam_core::rng::{Stream, stream};
use amalgam_owner::augment::{CHUNK_SAMPLES, augment, augment_images};
use amalgam_owner::noise::{NoiseLayout, augmented_shape};

#[test]
fn chunked_bundle_data_equals_whole_set_augmentation() {
    let mut dataset = common::tiny_dataset(CHUNK_SAMPLES + 100, 4);
    dataset.test = dataset.train.head(CHUNK_SAMPLES + 7);
    let options = common::quick_options(1, 0, 13);
    let dir = tempfile::tempdir().unwrap();
    let (bundle, key_path) = (dir.path().join("bundle"), dir.path().join("key.json"));
    let key = augment(&dataset, &options, &bundle, &key_path).unwrap();
    let (SampleSet::Images(train), SampleSet::Images(test)) =
        Bundle::open(&bundle).unwrap().read_data().unwrap()
    else {
        panic!("an image bundle");
    };

    let augmented = augmented_shape(dataset.train.shape, options.amount).unwrap();
    let layout = NoiseLayout::draw(
        dataset.train.input(),
        augmented,
        &mut stream(options.key_seed, Stream::NoisePositions),
    );
    assert_eq!(layout.keep_indices, key.keep_indices);
    let whole_train = augment_images(&dataset.train, &layout, options.noise, 13, 0);
    let whole_test = augment_images(
        &dataset.test,
        &layout,
        options.noise,
        13,
        dataset.train.len() as u64,
    );
    common::assert_bitwise_equal(&train, &whole_train);
    common::assert_bitwise_equal(&test, &whole_test);
}
