//! The augmenter writes the bundle's data chunk by chunk, from sets in memory or streamed
//! from IDX files; the result is the same as augmenting each whole set at once (chunk
//! boundaries and noise sub-streams line up, normalisation statistics are accumulated alike).

mod common;

use amalgam_core::bundle::{Bundle, DATA_FILE};
use amalgam_core::data::{LabelledSet, SampleSet};
use amalgam_core::rng::{Stream, stream};
use amalgam_owner::augment::{ImageNoise, augment, augment_images};
use amalgam_owner::data::CHUNK_SAMPLES;
use amalgam_owner::data::{load_dataset, open_idx_dataset};
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
    let whole_train = augment_images(
        &dataset.train,
        &layout,
        &ImageNoise::Values(options.noise),
        13,
        0,
    );
    let whole_test = augment_images(
        &dataset.test,
        &layout,
        &ImageNoise::Values(options.noise),
        13,
        dataset.train.len() as u64,
    );
    common::assert_bitwise_equal(&train, &whole_train);
    common::assert_bitwise_equal(&test, &whole_test);
}

#[test]
fn streamed_idx_files_give_the_same_bundle_as_the_set_in_memory() {
    let data = tempfile::tempdir().unwrap();
    common::write_idx_dataset(data.path(), CHUNK_SAMPLES as u32 + 50, 30, 8);
    let mut options = common::quick_options(1, 0, 3);
    options.train.normalize = true;
    let out = tempfile::tempdir().unwrap();
    let bundle = |name: &str| out.path().join(name);

    let in_memory = load_dataset(Some(data.path()), 32).unwrap();
    let key_a = augment(&in_memory, &options, &bundle("a"), &bundle("a.json")).unwrap();
    let streamed = open_idx_dataset(data.path()).unwrap().expect("IDX files");
    let key_b = augment(&streamed, &options, &bundle("b"), &bundle("b.json")).unwrap();

    assert_eq!(
        key_a, key_b,
        "same fingerprint, hence same spec, weights and config"
    );
    assert!(key_a.original.normalization.is_some());
    let data_file = |dir: &str| std::fs::read(bundle(dir).join(DATA_FILE)).unwrap();
    assert!(data_file("a") == data_file("b"), "same augmented data");
}
