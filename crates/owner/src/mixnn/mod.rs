//! MixNN (Liu et al., arXiv 2203.14803), the owner's side: cutting the model into one layer per
//! host, the routes and reply blocks through the mix nodes (the owner alone knows them), the
//! training driver and its checkpoints. The untrusted mix nodes and layer hosts are
//! `amalgam_cloud::mixnn`; what all share is `amalgam_core::mixnn`. Details the paper does not
//! give are reconstructed (see `docs/MIXNN.md`).

pub mod audit;
mod checkpoint;
mod driver;
pub mod plan;
mod routes;
mod session;

pub use plan::{HostPlan, host_plans, join_weights};
pub use routes::Directory;
pub use session::{MixnnOptions, MixnnOutcome, MixnnTraffic, train_mixnn};
