//! One module per subcommand.

pub mod build;
pub mod doctor;
pub mod report;
pub mod sandbox;
