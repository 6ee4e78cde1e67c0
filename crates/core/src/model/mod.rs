//! Models as data: a serde [`ModelSpec`], the burn [`Network`] built from it, its seeded
//! initial weights, and the named weights that go to and from safetensors files.

mod classifier;
mod init;
mod local_part;
mod network;
mod params;
mod spec;
pub mod split;
mod weights;

pub use classifier::{Classifier, InputStage, Normalization};
pub use init::initial_weights;
pub use local_part::{LocalPart, feature_set};
pub use network::{Bag, Gru, InputBatch, Lenet, Mlp, Network, Resnet, TextCnn, Transformer, Vgg};
pub use spec::{
    Architecture, ImageShape, InputShape, LENET_MIN_SIDE, MAX_DEPTH, MAX_SAMPLE_VALUES,
    MAX_VOCABULARY, MAX_WIDTH, ModelSpec, PAD_TOKEN, ParamInit, ParamSpec, SPEC_FORMAT_VERSION,
    TokenShape,
};
pub use weights::{
    WeightComparison, Weights, check_shapes, compare_weights, set_weights, weights_of,
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::inference_device;
    use crate::rng::{Stream, stream};
    use burn::prelude::{Int, Tensor, TensorData};

    fn specs() -> Vec<ModelSpec> {
        let input = ImageShape {
            channels: 3,
            height: 20,
            width: 17,
        };
        vec![
            ModelSpec::new(Architecture::default_mlp(), input, 7).unwrap(),
            ModelSpec::new(Architecture::lenet(), input, 7).unwrap(),
            ModelSpec::new(Architecture::resnet20(), input, 7).unwrap(),
            ModelSpec::new(Architecture::resnet18(), input, 7).unwrap(),
            ModelSpec::new(Architecture::vgg11(), input, 7).unwrap(),
        ]
        .into_iter()
        .chain(text_specs())
        .collect()
    }

    fn text_specs() -> Vec<ModelSpec> {
        let input = TokenShape {
            length: 9,
            vocab_size: 50,
        };
        [
            Architecture::bag(),
            Architecture::text_cnn(),
            Architecture::gru(),
            Architecture::transformer(),
        ]
        .into_iter()
        .map(|a| ModelSpec::new(a, input, 3).unwrap())
        .collect()
    }

    #[test]
    fn text_networks_give_logits_per_sequence() {
        let device = inference_device();
        let tokens = Tensor::<2, Int>::from_data(
            TensorData::new((0..18).map(|t| t % 50).collect::<Vec<i64>>(), [2, 9]),
            &device,
        );
        for spec in text_specs() {
            let network = Network::new(&spec, &device);
            let logits = network.forward(InputBatch::Tokens(tokens.clone()));
            assert_eq!(logits.dims(), [2, 3], "{:?}", spec.architecture);
        }
    }

    #[test]
    fn architectures_only_take_their_kind_of_input() {
        let tokens = TokenShape {
            length: 9,
            vocab_size: 50,
        };
        let image = ImageShape {
            channels: 1,
            height: 28,
            width: 28,
        };
        assert!(ModelSpec::new(Architecture::lenet(), tokens, 2).is_err());
        assert!(ModelSpec::new(Architecture::bag(), image, 2).is_err());
        let short = TokenShape {
            length: 4,
            vocab_size: 50,
        };
        assert!(ModelSpec::new(Architecture::text_cnn(), short, 2).is_err());
    }

    #[test]
    fn network_tensors_are_named_and_shaped_as_the_spec_says() {
        for spec in specs() {
            let network = Network::new(&spec, &inference_device());
            let names: Vec<(String, Vec<usize>)> = weights_of(&network)
                .into_iter()
                .map(|(n, t)| (n, t.shape))
                .collect();
            let mut expected: Vec<(String, Vec<usize>)> = spec
                .parameters()
                .into_iter()
                .map(|p| (p.name, p.shape))
                .collect();
            expected.sort();
            assert_eq!(names, expected, "{:?}", spec.architecture);
        }
    }

    #[test]
    fn seeded_weights_load_and_read_back_unchanged() {
        for spec in specs() {
            let init = initial_weights(&spec, &mut stream(3, Stream::ModelInit));
            let mut network = Network::new(&spec, &inference_device());
            set_weights(&mut network, &init).unwrap();
            assert!(compare_weights(&weights_of(&network), &init).bitwise_equal);
            let other = initial_weights(&spec, &mut stream(4, Stream::ModelInit));
            assert!(!compare_weights(&other, &init).bitwise_equal);
        }
    }

    #[test]
    fn lenet_flattens_the_feature_maps_of_its_input_size() {
        let spec = &specs()[1];
        let fc1 = spec
            .parameters()
            .into_iter()
            .find(|p| p.name == "fc1.weight")
            .unwrap();
        // 20 -> conv 16 -> pool 8 -> conv 4 -> pool 2; 17 -> 13 -> 6 -> 2 -> 1.
        assert_eq!(fc1.shape, vec![120, 16 * 2]);
    }

    #[test]
    fn too_small_inputs_are_rejected() {
        let input = ImageShape {
            channels: 1,
            height: 13,
            width: 28,
        };
        assert!(ModelSpec::new(Architecture::lenet(), input, 10).is_err());
        assert!(ModelSpec::new(Architecture::default_mlp(), input, 1).is_err());
    }

    #[test]
    fn comparison_reports_the_largest_difference() {
        let spec = &specs()[0];
        let a = initial_weights(spec, &mut stream(1, Stream::ModelInit));
        let mut b = a.clone();
        if let crate::tensors::Values::F32(v) = &mut b.get_mut("layers.0.weight").unwrap().values {
            v[5] += 0.25;
        }
        let c = compare_weights(&a, &b);
        assert!(!c.bitwise_equal);
        assert!((c.max_abs_diff - 0.25).abs() < 1e-6);
        assert!(compare_weights(&a, &a).bitwise_equal);
    }
}
