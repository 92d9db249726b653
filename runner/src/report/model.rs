//! The report model: the serde types of `report.json` (schema `airlock.report/1`) that `build`,
//! `fuzz` and `vet` fill and every renderer reads (vet's sections are in `vet_section`). It
//! depends on the event vocabulary and the inventory's types only; the
//! directives and granted exceptions are kept here as the report records them, and `build`
//! produces them.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::fuzz_section::FuzzSection;
pub use super::judgement::Verdict;
use super::vet_section::VetSections;
use crate::events::{Decision, Event, Kind};

/// The schema tag of every report this version writes.
pub const SCHEMA: &str = "airlock.report/1";

/// A whole report.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    /// [`SCHEMA`] for reports this version writes.
    pub schema: String,
    /// The command that made it (`build`, `fuzz`, `vet`).
    pub command: String,
    /// The workspace root that was vetted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace: Option<PathBuf>,
    /// The counts.
    pub summary: Summary,
    /// One entry per crate of the graph that the build compiles (or would have, had it not
    /// stopped: those are `not-run`), by name and version.
    pub crates: Vec<CrateReport>,
    /// What `vet` adds (`verdict`, `phases`, `provenance`, `inventory`, `vet`), flattened into
    /// the top level; empty for `build` and `fuzz`.
    #[serde(flatten)]
    pub vetting: VetSections,
    /// The fuzz campaign (filled by `fuzz` and `vet`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fuzz: Option<FuzzReport>,
    /// Where the report was made.
    pub environment: Environment,
    /// Why the tool could not do all of its job, if it could not (bad input, a failed build).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
}

/// Counts, for a glance.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Summary {
    /// Crates in the report.
    pub crates: usize,
    /// Crates judged `clean`.
    pub clean: usize,
    /// Crates judged `suspicious`.
    pub suspicious: usize,
    /// Crates judged `failed`.
    pub failed: usize,
    /// Crates judged `not-run`: their build script or compilation never ran.
    #[serde(default)]
    pub not_run: usize,
    /// Build scripts that ran in the sandbox.
    pub build_scripts_run: usize,
    /// rustc invocations that expanded proc macros in the sandbox.
    pub proc_macro_runs: usize,
    /// Whether `cargo build` itself succeeded.
    pub build_succeeded: bool,
}

impl Summary {
    /// The counts of `crates` (a build script counts as run when it ran or failed), with
    /// whether the build succeeded.
    pub fn of(crates: &[CrateReport], build_succeeded: bool) -> Summary {
        let count = |v: Verdict| crates.iter().filter(|c| c.verdict == v).count();
        Summary {
            crates: crates.len(),
            clean: count(Verdict::Clean),
            suspicious: count(Verdict::Suspicious),
            failed: count(Verdict::Failed),
            not_run: count(Verdict::NotRun),
            build_scripts_run: crates
                .iter()
                .filter(|c| {
                    matches!(
                        c.build_script.status,
                        ScriptStatus::Ran | ScriptStatus::Failed
                    )
                })
                .count(),
            proc_macro_runs: crates.iter().map(|c| c.proc_macro_runs).sum(),
            build_succeeded,
        }
    }
}

/// What happened to a crate's build script.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ScriptStatus {
    /// The crate has no build script.
    None,
    /// It ran in the sandbox and exited 0.
    Ran,
    /// It ran in the sandbox and failed (non-zero exit, signal or timeout).
    Failed,
    /// The sandbox could not start it.
    Error,
    /// It was never run (the build stopped before it).
    NotRun,
}

/// `crates[].build_script`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BuildScript {
    /// What happened to it.
    pub status: ScriptStatus,
    /// Its exit code (of the failing run, when it ran more than once).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// Milliseconds spent in its sandboxed runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
}

/// One crate of the graph.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CrateReport {
    /// The package name.
    pub name: String,
    /// The package version.
    pub version: String,
    /// `registry`, `path` or `git`.
    pub source: String,
    /// The source id or path.
    pub location: String,
    /// The crate's verdict.
    pub verdict: Verdict,
    /// Why the verdict is not `clean`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<String>,
    /// What happened to its build script.
    pub build_script: BuildScript,
    /// Whether the crate is a proc macro.
    #[serde(default)]
    pub proc_macro: bool,
    /// Sandboxed rustc invocations that expanded this proc macro.
    #[serde(default)]
    pub proc_macro_runs: usize,
    /// Everything its sandboxed runs recorded.
    pub events: Vec<Event>,
    /// The directives its build script printed.
    pub directives: Vec<Directive>,
    /// The `airlock.toml` exceptions granted to it.
    pub exceptions: Vec<Granted>,
    /// Its test binaries, doc tests and examples that `cargo airlock test` (or vet's `test`
    /// phase) ran in the sandbox; their events are in `events` (phase `test`, `entry` the
    /// binary).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tests: Vec<TestRun>,
}

/// One sandboxed run of a test binary, a doc test program or an example (`crates[].tests`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestRun {
    /// The binary's name without cargo's hash (`it` for `tests/it.rs`, the crate's name for its
    /// unit tests), or `doctest`.
    pub binary: String,
    /// The program as cargo ran it.
    pub program: PathBuf,
    /// Its exit code (128 + signal when killed, 137 on timeout); None when it could not start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// Milliseconds it ran.
    pub duration_ms: u64,
    /// Whether it passed (exit code 0).
    pub passed: bool,
    /// How many events it recorded (they are in the crate's `events`).
    pub events: usize,
    /// How many of them are notable (denied, flagged, a network tool).
    #[serde(default)]
    pub notable: usize,
    /// Why it could not run in the sandbox, if it could not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl CrateReport {
    /// A crate with nothing judged yet: clean, no events, no directives or exceptions, its
    /// build script in state `script` (`None` when it has none, `NotRun` when no build of
    /// this report ran it). `source` is `registry`, `path` or `git`; `location` its source id
    /// or directory.
    pub fn unjudged(
        name: &str,
        version: &str,
        source: &str,
        location: &str,
        script: ScriptStatus,
    ) -> CrateReport {
        CrateReport {
            name: name.to_owned(),
            version: version.to_owned(),
            source: source.to_owned(),
            location: location.to_owned(),
            verdict: Verdict::Clean,
            reasons: Vec::new(),
            build_script: BuildScript {
                status: script,
                exit_code: None,
                duration_ms: None,
            },
            proc_macro: false,
            proc_macro_runs: 0,
            events: Vec::new(),
            directives: Vec::new(),
            exceptions: Vec::new(),
            tests: Vec::new(),
        }
    }

    /// `name version`.
    pub fn label(&self) -> String {
        format!("{} {}", self.name, self.version)
    }

    /// The events worth a look ([`Event::is_notable`]: denied, flagged, or a network tool run).
    pub fn notable_events(&self) -> impl Iterator<Item = &Event> {
        self.events.iter().filter(|e| e.is_notable())
    }
}

/// `fuzz` (from `fuzz` and `vet`): the campaign's own section type, so the report carries
/// exactly what the campaign measured.
pub type FuzzReport = FuzzSection;

/// `environment`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Environment {
    /// The kernel release (`uname -r`).
    pub kernel: String,
    /// The kernel's Landlock ABI (None without Landlock).
    pub landlock_abi: Option<u8>,
    /// The layers in force for the sandboxed runs (as `RunOutcome.layers` reports them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layers: Option<serde_json::Value>,
    /// Runs went ahead without every layer (`--allow-degraded`).
    #[serde(default)]
    pub degraded: bool,
    /// The sandbox profile the runs used.
    pub profile: String,
    /// cargo-airlock's version.
    pub tool_version: String,
    /// The Rust toolchain (`rustc -V`).
    pub toolchain: String,
}

/// Errors reading or writing reports.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReportError {
    /// Writing a report file (or creating its directory) failed.
    #[error("cannot write {}", path.display())]
    Write {
        /// The file or directory.
        path: PathBuf,
        /// Why writing failed.
        #[source]
        source: std::io::Error,
    },
    /// Reading `report.json` failed.
    #[error("cannot read report {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why reading failed.
        #[source]
        source: std::io::Error,
    },
    /// The file is not JSON of the report schema.
    #[error("{} is not an airlock report", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// Where and why it does not parse.
        #[source]
        source: serde_json::Error,
    },
    /// The file is a report of another schema version.
    #[error("{} is not an airlock report this version reads: its schema is `{found}`, not `{SCHEMA}`", path.display())]
    Schema {
        /// The file.
        path: PathBuf,
        /// The schema it declares.
        found: String,
    },
}

impl Report {
    /// A report of a fuzz campaign alone (no crates were built).
    pub fn for_fuzz(section: FuzzReport, environment: Environment) -> Report {
        Report {
            schema: SCHEMA.to_owned(),
            command: "fuzz".to_owned(),
            workspace: None,
            summary: Summary::default(),
            crates: Vec::new(),
            vetting: VetSections::default(),
            fuzz: Some(section),
            environment,
            errors: Vec::new(),
        }
    }

    /// Reads a `report.json`.
    pub fn read(path: &Path) -> Result<Report, ReportError> {
        let text = std::fs::read_to_string(path).map_err(|source| ReportError::Read {
            path: path.to_owned(),
            source,
        })?;
        let report: Report = serde_json::from_str(&text).map_err(|source| ReportError::Parse {
            path: path.to_owned(),
            source,
        })?;
        if report.schema != SCHEMA {
            return Err(ReportError::Schema {
                path: path.to_owned(),
                found: report.schema,
            });
        }
        Ok(report)
    }
}

/// One granted `airlock.toml` exception, as the report lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Granted {
    /// `read`, `write`, `exec`, `exec-out-dir`, `net` or `profile`.
    pub kind: String,
    /// The path or profile (`OUT_DIR` for `exec-out-dir`, empty for `net`).
    pub value: String,
    /// Why the exception was granted, as `airlock.toml` says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl Granted {
    /// The exception in words: `exec-out-dir OUT_DIR (why)`.
    pub fn text(&self) -> String {
        let mut text = self.kind.clone();
        if !self.value.is_empty() {
            text.push(' ');
            text.push_str(&self.value);
        }
        if let Some(reason) = &self.reason {
            text.push_str(&format!(" ({reason})"));
        }
        text
    }
}

/// One directive a build script printed, as the report records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Directive {
    /// `rustc-link-arg`, `rustc-env`, `metadata`, ...
    pub key: String,
    /// What follows the `=`.
    pub value: String,
    /// The line as printed (untrimmed).
    pub line: String,
    /// 1-based line number in the script's stdout.
    pub line_no: usize,
    /// The `cargo::` form (rather than `cargo:`).
    pub new_syntax: bool,
    /// Why it matters for security, when it does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flagged: Option<String>,
}

impl Directive {
    /// The `directive` event for a flagged directive.
    pub fn event(&self) -> Option<Event> {
        let reason = self.flagged.as_ref()?;
        Some(
            Event::new(Kind::Directive, self.key.clone(), Decision::Flagged)
                .with("line", self.line.as_str())
                .with("line_no", self.line_no)
                .with("reason", reason.as_str()),
        )
    }
}
