//! MixNN's untrusted parties: the mix nodes, which peel one layer of each packet and forward
//! it, and the layer hosts, which each run one layer of the model with its own optimizer.
//! Neither is given an address beyond the next mix: hosts answer with the owner's single-use
//! reply blocks (see `amalgam_core::mixnn` and `docs/MIXNN.md`).

mod host;
mod layer;
mod mix;
mod serve;

pub use host::{HostView, LayerHost, MAX_VIEW_BATCHES};
pub use layer::HostLayer;
pub use mix::{Fault, MixNode};
pub use serve::{Outgoing, PacketHandler, serve, spawn_in_process};
