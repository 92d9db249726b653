//! The engine of cargo-airlock: the kernel sandbox (Landlock, seccomp with user notification,
//! namespaces, capabilities, limits), the event vocabulary it records, the decoys it plants,
//! and the profiles that configure it.
//!
//! # Test strategy
//! Pure pieces (profile parsing, decoders, the mount plan, the BPF compiler) have unit tests
//! next to them. Everything that installs a layer is tested for real in a forked child, and the
//! whole sandbox is tested end to end by the `cargo-airlock` integration tests, which run
//! fixtures that really attempt each class of escape against this machine's kernel.

pub mod build;
pub mod events;
pub mod fuzz;
pub mod profile;
pub mod report;
pub mod sandbox;
