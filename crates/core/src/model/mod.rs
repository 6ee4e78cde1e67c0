//! Models as data: a serde [`ModelSpec`], the burn [`Network`] built from it, its seeded
//! initial weights, and the named weights that go to and from safetensors files.

mod init;
mod network;
mod spec;
mod weights;

pub use init::initial_weights;
pub use network::{Lenet, Mlp, Network};
pub use spec::{Architecture, ImageShape, ModelSpec, ParamSpec, SPEC_FORMAT_VERSION};
pub use weights::{
    WeightComparison, Weights, check_shapes, compare_weights, set_weights, weights_of,
};
