//! The command line: one clap struct per subcommand. Parsing does no I/O.

use std::ffi::OsString;

use clap::{Parser, Subcommand};

/// Dynamic vetting of Rust dependencies: sandboxed build scripts, generated fuzz campaigns.
#[derive(Debug, Parser)]
#[command(name = "cargo-airlock", bin_name = "cargo airlock", version, about, long_about = None)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Report what this kernel and toolchain support; exit 2 if the sandbox cannot be enforced.
    Doctor(crate::cmd::doctor::DoctorArgs),
    /// Run any command in the sandbox and record what it attempts.
    Sandbox(crate::cmd::sandbox::SandboxArgs),
    /// Discover Deserialize types and FFI wrappers and write a cargo-fuzz project.
    Gen(crate::cmd::gen::GenArgs),
    /// Build the generated targets with sanitizers and fuzz them in the sandbox.
    Fuzz(crate::cmd::fuzz::FuzzArgs),
    /// Rerun one finding's reproducer; exit 1 while it still crashes.
    Repro(crate::cmd::repro::ReproArgs),
    /// Build the workspace with every build script and proc-macro expansion sandboxed; report
    /// crate by crate.
    Build(crate::cmd::build::BuildArgs),
    /// Run the workspace's tests with every build script, proc macro and test program
    /// sandboxed; report what each crate's code attempted and which tests failed.
    Test(crate::cmd::test::TestArgs),
    /// Vet crates before they enter a dependency tree: registry provenance, static inventory,
    /// sandboxed build; one verdict.
    Vet(crate::cmd::vet::VetArgs),
    /// Render a saved report.json as md, sarif, html or json, or merge reports (`report merge`).
    Report(crate::cmd::report::ReportArgs),
}

/// The process arguments, minus the `airlock` that cargo inserts when it runs us as
/// `cargo airlock ...` (cargo calls `cargo-airlock airlock ...`).
pub(crate) fn normalized_args() -> Vec<OsString> {
    let mut args: Vec<OsString> = std::env::args_os().collect();
    if args.get(1).is_some_and(|a| a == "airlock") {
        args.remove(1);
    }
    args
}
