//! One module per subcommand.

pub mod doctor;
pub mod fuzz;
pub mod fuzz_report;
pub mod gen;
pub mod repro;
pub mod sandbox;
