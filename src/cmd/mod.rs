//! One module per subcommand.

pub mod build;
pub mod doctor;
pub mod export;
pub mod fuzz;
pub mod gen;
pub mod report;
pub mod repro;
pub mod sandbox;
