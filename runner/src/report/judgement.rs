//! The words of judgement every report section shares: a crate's [`Verdict`] and a signal's
//! [`Level`]. A leaf of the report model: the model, vet's sections and the update diff all use
//! it, and it uses none of them.

use serde::{Deserialize, Serialize};

/// A crate's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Nothing notable happened and everything built.
    Clean,
    /// Its build script or its compilation never ran (the build stopped before it), so
    /// nothing can be said about it: never `clean`. The reasons say what did not run.
    NotRun,
    /// The build script or the compilation failed (and nothing notable happened); for `vet`'s
    /// verdicts: the crate could not be vetted completely.
    Failed,
    /// A notable event counted against the crate.
    Suspicious,
}

impl Verdict {
    /// The word used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Clean => "clean",
            Verdict::Suspicious => "suspicious",
            Verdict::Failed => "failed",
            Verdict::NotRun => "not-run",
        }
    }
}

/// How much a signal weighs: the inventory crate's scale, which every section of the report
/// (provenance, inventory, the update diff) shares.
pub use inventory::Level;
