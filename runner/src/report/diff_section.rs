//! `diff` (from `vet CRATE@OLD..NEW`): what NEW has that OLD did not, and the signals that new
//! behaviour raises. Types only: `vet` fills them, the renderers read them.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::vet_section::Level;

/// `diff`: everything listed is "added in NEW" (or changed, where it says so).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VetDiff {
    /// The crate.
    pub name: String,
    /// The version updated from.
    pub old: String,
    /// The version updated to.
    pub new: String,
    /// The report of OLD (vetted in the same run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_report: Option<PathBuf>,
    /// Capabilities NEW uses that OLD did not (`net`, `process`, ...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub capabilities: Vec<String>,
    /// Inventory and provenance signals NEW has that OLD did not: `code path: text`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub signals: Vec<String>,
    /// Notable events of NEW's build graph that OLD's did not have (compared by crate name,
    /// kind, action, decision and detail; no pids, times or versions).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<String>,
    /// Dependencies added (`name version`) or changed (`name old -> new`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dependencies: Vec<String>,
    /// `added`, `changed` or `removed` when NEW's build script differs from OLD's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build_script: Option<String>,
    /// Files NEW ships that OLD did not (paths in the package).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<String>,
    /// What the new behaviour means: `build-script-added`, `capability-added`,
    /// `shipped-binary-added`, `dependency-added`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<DiffFinding>,
}

/// A signal raised by new behaviour.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiffFinding {
    /// `build-script-added`, `build-script-changed`, `capability-added`, `shipped-binary-added`,
    /// `dependency-added`.
    pub code: String,
    /// `warn` or `error` make NEW suspicious; `info` does not.
    pub level: Level,
    /// The evidence, in words.
    pub reason: String,
}
