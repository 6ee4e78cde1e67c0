//! One module per subcommand.

pub mod audit;
pub mod audit_sweep;
pub mod augment;
pub mod baseline;
pub mod compare;
pub mod eval;
pub mod extract;
pub mod original_data;
pub mod privynet;
pub mod run;
pub mod shadow;
pub mod train;
