//! Fuzz campaigns: build the generated targets with cargo-fuzz's instrumentation on nightly,
//! run each under libFuzzer inside the sandbox (`fuzz` profile) within a time budget, then
//! reproduce, classify, deduplicate and minimize every crash, and compare with a baseline.
//!
//! The instrumented build runs every build script and proc-macro expansion of the project's
//! graph in the sandbox, as `build` does ([`instrument`]).
//!
//! [`run_campaign`] is the `fuzz` command; [`reproduce`] is `repro`; [`export`] writes what
//! ClusterFuzzLite / OSS-Fuzz need to build and run the same targets.

pub mod campaign;
pub mod export;
pub mod instrument;
pub mod project;
pub mod render;
pub mod schedule;
pub mod triage;

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use campaign::{reproduce, run_campaign, Campaign, Reproduction};
pub use instrument::{Instrumentation, Vetting};
pub use project::FuzzProject;
pub use triage::Frame;

/// Errors that stop a campaign. Each names the input and the fix.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FuzzError {
    #[error("no generated fuzz project in {}: {source}. Run `cargo airlock gen --out {}` first", dir.display(), dir.display())]
    NoProject {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The project's `Cargo.toml` does not parse.
    #[error("{} is not a valid Cargo.toml", path.display())]
    BadManifest {
        path: PathBuf,
        #[source]
        source: toml::de::Error,
    },
    /// `targets.json` is not valid (its schema is harness-gen's).
    #[error(transparent)]
    Targets(#[from] harness_gen::targets::TargetsError),
    #[error("no nightly toolchain: fuzzing needs it for sanitizers and coverage. Install it with `rustup toolchain install nightly`")]
    NoNightly,
    #[error("no target matches {0:?}; `targets.json` lists the generated ones")]
    UnknownTarget(Vec<String>),
    #[error("cannot run {what}: {source}")]
    Spawn {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the instrumented build failed for every target; first error: {0}")]
    BuildFailed(String),
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Sandbox(#[from] crate::sandbox::SandboxError),
    #[error(transparent)]
    Profile(#[from] crate::profile::ProfileError),
    #[error("{}: {reason}", path.display())]
    Export { path: PathBuf, reason: String },
    #[error("sandboxing the build scripts of the instrumented build: {0}")]
    Vetting(#[from] crate::build::BuildError),
    #[error("no finding `{0}` in the report; `report.json` lists the ids under fuzz.findings")]
    UnknownFinding(String),
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
    pub allow_degraded: bool,
    /// The cargo-airlock binary: the instrumented build runs its build scripts and proc-macro
    /// expansions in the sandbox through it, as `cargo airlock build` does.
    pub airlock_bin: PathBuf,
    /// Called with one line per step (progress).
    pub progress: fn(&str),
}

/// One target's campaign.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetResult {
    pub name: String,
    pub kind: String,
    pub item: String,
    pub format: String,
    /// `built`, `skipped` or `failed`.
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub runs: u64,
    pub execs_per_sec: u64,
    /// Edges covered (libFuzzer's `cov`).
    pub coverage: u64,
    /// Seconds the target was fuzzed.
    pub seconds: u64,
}

/// One deduplicated crash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub id: String,
    pub target: String,
    pub kind: String,
    pub signature: String,
    pub message: String,
    pub frames: Vec<Frame>,
    /// The reproducer, kept next to the report.
    pub reproducer: PathBuf,
    pub minimized: bool,
    /// `new`, `known` or `fixed` (against `--baseline`; `new` without one).
    pub status: String,
    /// The command that reproduces it.
    pub repro: String,
    /// Seconds of fuzzing its target had had (over all of the target's runs in the campaign)
    /// when libFuzzer saved the earliest of the triaged artifacts that show it (when known).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub found_after_secs: Option<u64>,
}

/// The `fuzz` section of a report.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct FuzzSection {
    pub targets: Vec<TargetResult>,
    pub findings: Vec<Finding>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instrumentation: Option<Instrumentation>,
    /// The generated project the campaign ran.
    #[serde(default)]
    pub project: PathBuf,
}

impl FuzzSection {
    /// Whether any finding is new (what makes `fuzz` exit 1).
    pub fn has_new(&self) -> bool {
        self.findings.iter().any(|f| f.status == "new")
    }
}
