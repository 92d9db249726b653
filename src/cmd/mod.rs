//! One module per subcommand.

pub(crate) mod build;
pub(crate) mod doctor;
pub(crate) mod export;
pub(crate) mod fuzz;
pub(crate) mod gen;
pub(crate) mod report;
pub(crate) mod repro;
pub(crate) mod sandbox;
pub(crate) mod test;
pub(crate) mod vet;
