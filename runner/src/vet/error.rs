//! Errors that stop `vet` before it can vet anything.

use std::path::PathBuf;

use super::registry::RegistryError;
use crate::report::ReportError;

/// Errors that stop `vet` before it can vet anything. Problems of one crate (an unreachable
/// index, a checksum mismatch, a failed build) are not errors: the report records them and the
/// verdict is `failed`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VetError {
    /// `--phases` names a phase that does not exist.
    #[error("unknown phase `{name}` in --phases: the phases are {known}")]
    UnknownPhase {
        /// The name given.
        name: String,
        /// The phases there are.
        known: String,
    },
    /// `--phases` names no phase.
    #[error("--phases names no phase: give a comma-separated list of {known}")]
    NoPhases {
        /// The phases there are.
        known: String,
    },
    /// `--time` is not a duration.
    #[error("--time `{text}` is not a duration (for example 90s, 5m or 1h30m)")]
    BadTime {
        /// The text given.
        text: String,
        /// Why it does not parse.
        #[source]
        source: humantime::DurationError,
    },
    /// The registry could not be resolved (unknown name, not sparse, bad configuration).
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// The cache directory could not be created.
    #[error("cannot create the cache directory {} (choose another with --cache-dir)", path.display())]
    Cache {
        /// The directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The reports could not be written.
    #[error(transparent)]
    Report(#[from] ReportError),
}
