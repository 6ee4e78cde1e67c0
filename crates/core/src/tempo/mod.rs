//! What Tempo's two parties share (Xu & Fang, arXiv 2401.11531; reconstructed where the paper
//! gives no detail, see `docs/TEMPO.md`): the messages and their frames, the transports that
//! carry them, and the offloaded layers with their optimizer. Nothing here is secret: the
//! permutations live in `amalgam-owner`.

mod layers;
mod noise_tcp;
mod transport;
mod view;
pub mod wire;

pub use layers::{LayerGradients, OffloadedLayers, affine};
pub use noise_tcp::{NOISE_PARAMS, NoiseListener, NoiseTcp, PSK_BYTES};
pub use transport::{InProcess, Transport, in_process_pair};
pub use view::{ProductView, WorkerView};
pub use wire::{LayerState, Matrix, Message};
