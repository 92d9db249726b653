//! The `fuzz` section of `report.json`: what a campaign measured per target, the deduplicated
//! crashes it found and how the targets were instrumented. Only the data: `fuzz` fills it,
//! the renderers present it.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// The `fuzz` section of a report.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct FuzzSection {
    /// One entry per generated target, in `targets.json` order.
    pub targets: Vec<TargetResult>,
    /// The deduplicated crashes.
    pub findings: Vec<Finding>,
    /// How the targets were compiled (absent when nothing was built).
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

/// One target's campaign.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetResult {
    /// The target's name (its binary in the generated project).
    pub name: String,
    /// The kind of generated target, as `targets.json` records it.
    pub kind: String,
    /// The path of the fuzzed item in its crate.
    pub item: String,
    /// The input format the target decodes.
    pub format: String,
    /// `built`, `skipped` or `failed`.
    pub status: String,
    /// Why the target was skipped or failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Inputs run.
    pub runs: u64,
    /// libFuzzer's execution rate at the end of the run.
    pub execs_per_sec: u64,
    /// Edges covered (libFuzzer's `cov`).
    pub coverage: u64,
    /// Seconds the target was fuzzed.
    pub seconds: u64,
    /// Events its sandboxed runs (fuzzing, triage, minimization) recorded, before
    /// deduplication; the distinct ones are in its crate's `events` with phase `fuzz` and
    /// `entry` = this target's name.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub events: u64,
    /// The notable ones among them (denied, flagged, or a network tool run): each makes the
    /// crate under test suspicious.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub notable_events: u64,
}

#[cfg(test)]
impl TargetResult {
    /// A target of `kind` over `item` that was built and fuzzed for a second (tests' shorthand).
    pub(crate) fn built(name: &str, kind: &str, item: &str, format: &str) -> TargetResult {
        TargetResult {
            name: name.into(),
            kind: kind.into(),
            item: item.into(),
            format: format.into(),
            status: "built".into(),
            reason: None,
            runs: 1,
            execs_per_sec: 1,
            coverage: 1,
            seconds: 1,
            events: 0,
            notable_events: 0,
        }
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// One deduplicated crash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// A short stable id derived from the signature; `repro` takes it.
    pub id: String,
    /// The target that crashed.
    pub target: String,
    /// `panic`, `stack-overflow`, `oom`, `timeout`, `leak`, `abort`, `segv`, `asan:<type>`.
    pub kind: String,
    /// What identifies the crash across inputs and runs (kind and top frames).
    pub signature: String,
    /// The panic message or sanitizer summary.
    pub message: String,
    /// The crashing stack, innermost first.
    pub frames: Vec<Frame>,
    /// The reproducer, kept next to the report.
    pub reproducer: PathBuf,
    /// Whether the reproducer was minimized.
    pub minimized: bool,
    /// `new`, `known` or `fixed` (against `--baseline`; `new` without one).
    pub status: String,
    /// The command that reproduces it.
    pub repro: String,
    /// Seconds of fuzzing its target had had (over all of the target's runs in the campaign)
    /// when libFuzzer saved the earliest of the triaged artifacts that show it (when known).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub found_after_secs: Option<u64>,
    /// The other targets that reached the same defect (the same fault site).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub also_reached_by: Vec<String>,
}

/// One stack frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Frame {
    /// Function name, demangled, without the Rust hash suffix.
    pub function: String,
    /// `file:line[:col]` when symbolized.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
}

/// How the targets are instrumented, for the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Instrumentation {
    /// The nightly toolchain (`rustc -V`).
    pub toolchain: String,
    /// The target triple built for.
    pub triple: String,
    /// The sanitizer (`address`).
    pub sanitizer: String,
    /// Whether C code compiled by `cc` is instrumented too (needs clang).
    pub c_instrumented: bool,
}
