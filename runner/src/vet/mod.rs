//! `cargo airlock vet`: whether to trust a crate before it enters a dependency tree.
//!
//! The pipeline, one report for all of it (docs/architecture.md, "vet"):
//!
//! 1. **provenance** ([`provenance`], [`typo`]): what the registry's sparse index says about
//!    the crate (existence, ages, versions, yanks) and which names one typo away exist.
//! 2. **inventory**: a static pass over every file of the package, whatever its `cfg`.
//! 3. **build**: the crate built in a scratch workspace with every build script and proc macro
//!    sandboxed.
//! 4. **run**: tests, a program that loads it, and probes of its public functions, sandboxed.
//! 5. **fuzz**: generated targets fuzzed within the time budget.
//!
//! Every phase reads the crate the same way: [`spec`] parses `CRATE[@VERSION]`, [`registry`]
//! resolves the registry as cargo does, reads its index, and downloads and unpacks the `.crate`
//! after checking it against the index. [`pipeline`] runs the phases in order for every crate
//! asked for (the inventory phase is the `inventory` crate; the build phase builds a scratch
//! workspace that depends on the crate, `scratch`) and `verdict` turns what they found into the
//! report's verdict and reasons; `phases` is the `--phases` selection and `options` what a run
//! takes and gives back. `update` vets `CRATE@OLD..NEW` (both versions, then `diff`).
//!
//! [`workspace`] vets the third-party packages of a workspace (`--manifest-path`), each through
//! the same pipeline: `lockfile` says which changed since an older `Cargo.lock` (`--since`),
//! `cache` keeps complete verdicts so a nightly run re-vets only what changed, and `--shard`
//! splits the packages as `fuzz --shard` splits targets.
//!
//! The run-time phases each have a module: `load_phase` runs the program `load_program` links
//! (the crate's static constructors), `probe_phase` the probes of its public functions.

mod cache;
mod diff;
mod error;
mod fuzz_phase;
mod git_package;
mod load_phase;
mod load_program;
mod lockfile;
pub mod merge;
mod options;
mod phases;
pub mod pipeline;
mod probe_phase;
pub mod provenance;
pub mod registry;
mod scratch;
pub mod spec;
mod test_phase;
pub mod typo;
mod update;
pub(crate) mod verdict;
pub mod workspace;

pub use error::VetError;
pub use lockfile::LockfileError;
pub use update::run_update;
