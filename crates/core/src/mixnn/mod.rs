//! MixNN (Liu et al., "MixNN: Protection of Federated Learning Against Inference Attacks by
//! Mixing Neural Network Layers", arXiv 2203.14803; Sensors 22(21):8254), what every party
//! shares and nothing secret: node addresses and keys, the packet format, the messages, the
//! TCP links between hops and the layer specs.
//!
//! Every layer of the model runs on its own **layer host**; forward activations and backward
//! gradients travel between hosts as fixed-size Sphinx packets (the `sphinx-packet` crate, the
//! Nym mix network's format) through a route of **mix nodes**, each of which peels one layer
//! and learns only the next hop. The owner prepares single-use reply blocks (SURBs) for every
//! message a host sends, so a host never learns where its output goes. The routing, its
//! authentication and what each party sees are in `docs/MIXNN.md`; the details the paper does
//! not give are reconstructions and marked so there.

pub mod address;
pub mod keys;
pub mod layer;
pub mod links;
pub mod message;
pub mod packet;
pub mod sphinx;

pub use address::{decode_address, encode_address};
pub use keys::{NodeCard, NodeKey, Role};
pub use layer::LayerSpec;
pub use links::{Inbox, Links};
pub use message::Message;
pub use packet::{Assembler, Chunk, Kind, Slot};
pub use sphinx::{Processed, SphinxNode};
