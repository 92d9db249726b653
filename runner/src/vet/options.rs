//! What a vet is given ([`VetOptions`]), what it says while it runs ([`VetProgress`]) and what it
//! hands back ([`VetResult`]).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::phases::{Phase, PhaseSelection};
use super::registry::{ConfigInputs, SparseRegistry};
use super::spec::CrateSpec;
use crate::build;
use crate::report::{Report, Verdict};

/// What to vet, from where, and where to put things.
#[derive(Debug, Clone)]
pub struct VetOptions {
    /// The crates asked for.
    pub specs: Vec<CrateSpec>,
    /// `--registry NAME` (None: crates.io).
    pub registry: Option<String>,
    /// Where cargo's configuration is read from.
    pub config: ConfigInputs,
    /// The registry already opened, in place of resolving `registry` from the configuration
    /// (a workspace's package names its registry by index URL, and its packages share one
    /// client: its connections and the index files it has read this run).
    pub source: Option<Arc<SparseRegistry>>,
    /// Names a typo neighbour is also looked for among (a workspace's other packages).
    pub extra_names: Vec<String>,
    /// Also inventory the other packages of the graph cargo resolves for each crate (a
    /// workspace's vet vets every package of its graph on its own instead).
    pub inventory_dependencies: bool,
    /// The phases to run.
    pub phases: PhaseSelection,
    /// Why the phases that build or run the crates' code do not run (a workspace's package
    /// compiled only for other platforms than this host); None: they run as selected.
    pub not_for_host: Option<String>,
    /// The budget of the run-time phases (recorded; see [`super::phases::DEFAULT_TIME`]).
    pub time: Duration,
    /// Where report.json, report.md, report.sarif and report.html go.
    pub report_dir: PathBuf,
    /// Where index files, `.crate`s, unpacked packages and scratch workspaces go.
    pub cache_dir: PathBuf,
    /// Run even if this kernel lacks a sandbox layer (the report records it).
    pub allow_degraded: bool,
    /// The sandbox profile of the build.
    pub profile: String,
    /// The cargo-airlock binary (the build's rustc wrapper and launchers).
    pub airlock_bin: PathBuf,
    /// cargo itself.
    pub cargo: PathBuf,
    /// cargo-airlock's version, for the report.
    pub tool_version: String,
    /// The time ages are measured from.
    pub now: SystemTime,
}

/// Progress, for the command line to show.
#[derive(Debug, Clone)]
pub enum VetProgress {
    /// A phase started for a crate.
    Started {
        /// The phase.
        phase: Phase,
        /// The crate (`name` or `name version`).
        krate: String,
    },
    /// A phase finished for a crate.
    Finished {
        /// The phase.
        phase: Phase,
        /// The crate.
        krate: String,
        /// How long it took.
        elapsed: Duration,
        /// What it found, in a few words.
        outcome: String,
    },
    /// A phase does not run at all.
    Skipped {
        /// The phase.
        phase: Phase,
        /// Why.
        reason: String,
    },
    /// Progress of the sandboxed build.
    Build(build::Progress),
    /// A step inside a phase's work (the fuzz campaign's build, rounds and targets), for a
    /// terminal's status line; a log keeps to one line per phase.
    Step(String),
    /// A package's verdict was taken from the verdict cache (`vet --manifest-path`).
    Cached {
        /// The crate (`name version`).
        krate: String,
        /// Its cached verdict.
        verdict: Verdict,
    },
}

/// What a vet produced.
#[derive(Debug)]
pub struct VetResult {
    /// The report (also written to `report_dir`).
    pub report: Report,
    /// Where the reports were written.
    pub report_dir: PathBuf,
    /// The files written.
    pub written: Vec<PathBuf>,
}

impl VetResult {
    /// The verdict over everything vetted.
    pub fn verdict(&self) -> Verdict {
        self.report
            .vetting
            .verdict
            .as_ref()
            .map_or(Verdict::Failed, |v| v.verdict)
    }
}
