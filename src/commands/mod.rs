//! One module per subcommand.

pub mod augment;
pub mod baseline;
pub mod eval;
pub mod extract;
pub mod run;
pub mod train;
