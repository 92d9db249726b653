//! The report types of an inventory: what `inventory[]` of `report.json` holds for one crate
//! (capabilities with the places that use them, and signals with their evidence).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::code::SignalCode;

/// Places listed per capability; `count` keeps the total.
pub const MAX_PLACES_PER_CAPABILITY: usize = 20;
/// Details (variable names, literal paths, crates) listed per capability.
pub const MAX_DETAILS_PER_CAPABILITY: usize = 50;

/// The static inventory of one package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrateInventory {
    /// Package name.
    pub name: String,
    /// Package version.
    pub version: String,
    /// What the package's code uses, keyed by capability; absent keys are unused.
    pub capabilities: BTreeMap<CapabilityKind, Capability>,
    /// What looks out of place, ordered by level (errors first), then path and line.
    pub signals: Vec<Signal>,
    /// How many files of each kind were scanned.
    pub files: FileCounts,
}

impl CrateInventory {
    /// The highest level among the signals, if any.
    pub fn max_level(&self) -> Option<Level> {
        self.signals.iter().map(|s| s.level).max()
    }

    /// Signals at `level` or above.
    pub fn signals_at_least(&self, level: Level) -> impl Iterator<Item = &Signal> {
        self.signals.iter().filter(move |s| s.level >= level)
    }
}

/// Files seen in the package, by how they were scanned.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileCounts {
    /// `.rs` files (parsed with syn, or scanned as text when they do not parse).
    pub rust: usize,
    /// `.rs` files that did not parse (each also has a `parse-error` signal).
    pub rust_unparsed: usize,
    /// C, C++ and assembly sources scanned as text.
    pub native: usize,
    /// Scripts scanned as text.
    pub scripts: usize,
    /// Binary files (programs, libraries, archives, data).
    pub binary: usize,
    /// Every other file.
    pub other: usize,
}

/// A capability of the code: a fact, not an alarm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum CapabilityKind {
    /// Sockets, `std::net`, `tokio::net`, HTTP clients.
    Net,
    /// Starting programs: `Command`, `exec*`, shells.
    Process,
    /// Filesystem access through `std::fs` and friends.
    Fs,
    /// Reading environment variables.
    Env,
    /// `unsafe` blocks, functions, impls and traits.
    Unsafe,
    /// Foreign functions: `extern` blocks and `#[link]`.
    Ffi,
    /// The package has a build script.
    BuildScript,
    /// The package is a procedural macro (runs inside the compiler).
    ProcMacro,
}

impl CapabilityKind {
    /// Every capability, in report order.
    pub const ALL: [CapabilityKind; 8] = [
        CapabilityKind::Net,
        CapabilityKind::Process,
        CapabilityKind::Fs,
        CapabilityKind::Env,
        CapabilityKind::Unsafe,
        CapabilityKind::Ffi,
        CapabilityKind::BuildScript,
        CapabilityKind::ProcMacro,
    ];

    /// The kebab-case name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            CapabilityKind::Net => "net",
            CapabilityKind::Process => "process",
            CapabilityKind::Fs => "fs",
            CapabilityKind::Env => "env",
            CapabilityKind::Unsafe => "unsafe",
            CapabilityKind::Ffi => "ffi",
            CapabilityKind::BuildScript => "build-script",
            CapabilityKind::ProcMacro => "proc-macro",
        }
    }
}

/// The uses of one capability.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capability {
    /// Every use found (places beyond [`MAX_PLACES_PER_CAPABILITY`] are only counted).
    pub count: usize,
    /// The first uses, in file order.
    pub places: Vec<Place>,
    /// What the uses name, where that is known: environment variables read, literal paths,
    /// network crates, programs started (at most [`MAX_DETAILS_PER_CAPABILITY`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<String>,
}

/// One place in the package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Place {
    /// Path relative to the package root, `/`-separated.
    pub path: String,
    /// 1-based line (0 when the whole file is meant).
    pub line: usize,
    /// What is there, in a few words (`std::env::var("HOME")`).
    pub text: String,
}

/// How much a signal weighs in the verdict: `warn` and `error` make a crate suspicious.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Level {
    /// Worth knowing; not an alarm (shipped C sources, private addresses in tests).
    Info,
    /// Out of place for a clean crate: a person should look.
    Warn,
    /// Evidence of hiding or of a payload (an address assembled from encoded fragments).
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

/// Something in the package that a person vetting it should hear about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signal {
    /// What kind of thing was found.
    pub code: SignalCode,
    /// How much it weighs.
    pub level: Level,
    /// File relative to the package root, `/`-separated.
    pub path: String,
    /// 1-based line (0 for a whole file).
    pub line: usize,
    /// The evidence itself, shortened (a literal, a decoded string, a file's magic).
    pub text: String,
    /// Why it was raised at this level, naming the evidence.
    pub reason: String,
}
