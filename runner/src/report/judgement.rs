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

/// How much a signal weighs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Worth knowing; never makes a crate suspicious.
    Info,
    /// Makes the crate suspicious.
    Warn,
    /// Makes the crate suspicious: something is plainly wrong (the crate does not exist).
    Error,
}

impl Level {
    /// The lower-case name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        }
    }
}

impl From<inventory::Level> for Level {
    fn from(level: inventory::Level) -> Self {
        match level {
            inventory::Level::Info => Level::Info,
            inventory::Level::Warn => Level::Warn,
            inventory::Level::Error => Level::Error,
        }
    }
}
