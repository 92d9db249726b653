//! The engine of cargo-airlock: the kernel sandbox (Landlock, seccomp with user notification,
//! namespaces, capabilities, limits), the event vocabulary it records, the decoys it plants and
//! the profiles that configure it; sandboxed dependency builds (`build`), fuzz campaigns
//! (`fuzz`) and the reports both write (`report`).
//!
//! # Layers
//! Imports point one way, from the bottom up:
//!
//! 1. [`events`]: the event vocabulary, and the one rule of what is notable. Imports nothing of
//!    this crate.
//! 2. [`profile`] and [`sandbox`]: what a sandboxed run may do, and the run itself;
//!    [`runtime`]: how the crate's own code (tests, load programs, probes) runs on it.
//! 3. The report model ([`report`]'s types): imports [`events`] only.
//! 4. [`build`] (interception of a cargo build, verdicts), then [`fuzz`] (which builds through
//!    [`build`]'s interception) and [`test_run`] (`cargo airlock test`: cargo's tests built
//!    through [`build`]'s interception, each test program run through [`runtime`]): all fill
//!    the report model; [`probe`] builds probes of a crate's public functions through
//!    [`build`] and runs them through [`runtime`].
//! 5. Report rendering (JSON, Markdown, SARIF, HTML): reads the report model only.
//!
//! # Test strategy
//! Pure pieces (profile parsing, decoders, the mount plan, the BPF compiler) have unit tests
//! next to them. Everything that installs a layer is tested for real in a forked child, and the
//! whole sandbox is tested end to end by the `cargo-airlock` integration tests, which run
//! fixtures that really attempt each class of escape against this machine's kernel.

pub mod build;
mod error_chain;
pub mod events;
pub mod fuzz;
mod kernel;
pub mod probe;
pub mod profile;
pub mod report;
pub mod runtime;
pub mod sandbox;
pub mod test_run;
pub mod vet;
