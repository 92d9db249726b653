//! One module per subcommand.

pub mod build;
pub mod doctor;
pub mod fuzz;
pub mod fuzz_report;
pub mod gen;
pub mod repro;
pub mod report;
pub mod sandbox;
