//! Fuzz campaigns: build the generated targets with cargo-fuzz's instrumentation on nightly,
//! run each under libFuzzer inside the sandbox (`fuzz` profile) within a time budget, then
//! reproduce, classify, deduplicate and minimize every crash, and compare with a baseline.
//!
//! The instrumented build runs every build script and proc-macro expansion of the project's
//! graph in the sandbox, as `build` does (`instrumented_build`).
//!
//! [`run_campaign`] is the `fuzz` command; [`reproduce`] is `repro`; [`export`] writes what
//! ClusterFuzzLite / OSS-Fuzz need to build and run the same targets.

mod artifacts;
mod baseline;
mod campaign;
pub(crate) mod events;
pub mod export;
mod instrumented_build;
mod libfuzzer;
pub(crate) mod project;
mod schedule;
mod target_run;
mod triage;

use std::path::{Path, PathBuf};
use std::time::Duration;

pub use campaign::{run_campaign, Campaign};
pub use instrumented_build::{clang, Vetting, GCC_HARDENING, NO_CLANG};
pub use target_run::{reproduce, Reproduction, FUZZ_PROFILE};
pub(crate) use triage::merge_findings;
pub use triage::Crash;

use crate::report::FuzzSection;

/// Errors that stop a campaign. Each names the input and the fix; a variant with a cause
/// returns it from `source()` and does not repeat it in its own message.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FuzzError {
    /// The directory holds no generated fuzz project.
    #[error("no generated fuzz project in {}. Run `cargo airlock gen --out {}` first", dir.display(), dir.display())]
    NoProject {
        /// The directory given.
        dir: PathBuf,
        /// Why its `targets.json` could not be read.
        #[source]
        source: std::io::Error,
    },
    /// The project's `Cargo.toml` does not parse.
    #[error("{} is not a valid Cargo.toml", path.display())]
    BadManifest {
        /// The manifest.
        path: PathBuf,
        /// The parser's error.
        #[source]
        source: toml::de::Error,
    },
    /// `targets.json` is not valid (its schema is harness-gen's).
    #[error(transparent)]
    Targets(#[from] harness_gen::targets::TargetsError),
    /// No nightly toolchain is installed.
    #[error("no nightly toolchain: fuzzing needs it for sanitizers and coverage. Install it with `rustup toolchain install nightly`")]
    NoNightly,
    /// `--target` named targets the project does not have.
    #[error("no target matches {0:?}; `targets.json` lists the generated ones")]
    UnknownTarget(Vec<String>),
    /// A program of the campaign could not be started.
    #[error("cannot run {what}")]
    Spawn {
        /// The program and what it was for.
        what: String,
        /// Why it could not run.
        #[source]
        source: std::io::Error,
    },
    /// No target built; the text is cargo's first error.
    #[error("the instrumented build failed for every target; first error: {0}")]
    BuildFailed(String),
    /// A file of the campaign (reproducer, report, log) could not be written.
    #[error("cannot write {}", path.display())]
    Write {
        /// The file or directory.
        path: PathBuf,
        /// Why writing failed.
        #[source]
        source: std::io::Error,
    },
    /// The sandbox could not run a target.
    #[error(transparent)]
    Sandbox(#[from] crate::sandbox::SandboxError),
    /// The `fuzz` profile could not be loaded.
    #[error(transparent)]
    Profile(#[from] crate::profile::ProfileError),
    /// The export cannot be written where it was asked to go.
    #[error("{}: {reason}", path.display())]
    Export {
        /// The path at fault.
        path: PathBuf,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// `--out` of the export is not an existing directory.
    #[error("{}: --out must be an existing directory, the root of the repository that holds the project", path.display())]
    ExportOut {
        /// The `--out` given.
        path: PathBuf,
        /// Why it could not be resolved.
        #[source]
        source: std::io::Error,
    },
    /// The interception of the instrumented build failed.
    #[error("sandboxing the build scripts of the instrumented build")]
    Vetting(#[from] crate::build::BuildError),
    /// `repro` named a finding the report does not have.
    #[error("no finding `{0}` in the report; `report.json` lists the ids under fuzz.findings")]
    UnknownFinding(String),
}

/// Why fuzzing cannot run on this machine, with the fix (no nightly toolchain: `cargo +nightly
/// -V` fails); None when it can. Checked once per process.
pub(crate) fn unavailable() -> Option<&'static str> {
    static WHY: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    WHY.get_or_init(|| {
        instrumented_build::nightly_version()
            .err()
            .map(|e| e.to_string())
    })
    .as_deref()
}

/// The error of writing `path` (a reproducer, a log, a campaign directory).
fn write_err(path: &Path) -> impl FnOnce(std::io::Error) -> FuzzError + '_ {
    move |source| FuzzError::Write {
        path: path.to_owned(),
        source,
    }
}

/// What `fuzz` was asked to do.
#[derive(Debug, Clone)]
pub struct CampaignOptions {
    /// The generated cargo-fuzz project.
    pub dir: PathBuf,
    /// Total fuzzing time, split across the targets.
    pub time: Duration,
    /// Parallel libFuzzer workers per target.
    pub jobs: usize,
    /// Only these targets (all runnable ones when empty).
    pub targets: Vec<String>,
    /// `(k, n)`: run only shard k of n.
    pub shard: Option<(u32, u32)>,
    /// Where reproducers go (next to the report).
    pub report_dir: PathBuf,
    /// Findings of an earlier report, to mark findings new / known / fixed.
    pub baseline: Option<FuzzSection>,
    /// Longest time one input may take before it is a `timeout` finding.
    pub input_timeout: Duration,
    /// Memory limit per input (libFuzzer `-rss_limit_mb` / `-malloc_limit_mb`).
    pub rss_limit_mb: u64,
    /// Run even when the sandbox cannot enforce every layer the profile requires.
    pub allow_degraded: bool,
    /// The cargo-airlock binary: the instrumented build runs its build scripts and proc-macro
    /// expansions in the sandbox through it, as `cargo airlock build` does.
    pub airlock_bin: PathBuf,
}
