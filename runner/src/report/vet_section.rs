//! The sections `vet` adds to `report.json` (flattened into its top level, so the JSON names
//! stay `provenance`, `inventory`, `verdict`, `phases`, `vet`): the registry provenance of each
//! vetted crate with its signals, the static inventories, which phases ran, and the verdict with
//! the reasons that name the phase, the code and the evidence. Types only: `vet` fills them,
//! the renderers read them.

use std::path::PathBuf;

use inventory::CrateInventory;
use serde::{Deserialize, Serialize};

use super::diff_section::VetDiff;
use super::judgement::Verdict;

pub use super::judgement::Level;

/// The provenance signal codes (kebab-case in reports; extend, never rename).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Code {
    /// No such crate in the registry.
    NotFound,
    /// The crate exists but not the version asked for.
    VersionNotFound,
    /// A name one typo away exists.
    TypoNeighbour,
    /// First published less than 30 days ago.
    YoungCrate,
    /// This version published less than 72 hours ago.
    FreshVersion,
    /// This version is yanked.
    Yanked,
    /// This version is not yanked while most earlier ones are.
    OlderVersionsYanked,
}

impl Code {
    /// Every code.
    pub const ALL: [Code; 7] = [
        Self::NotFound,
        Self::VersionNotFound,
        Self::TypoNeighbour,
        Self::YoungCrate,
        Self::FreshVersion,
        Self::Yanked,
        Self::OlderVersionsYanked,
    ];

    /// The code as reports spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotFound => "not-found",
            Self::VersionNotFound => "version-not-found",
            Self::TypoNeighbour => "typo-neighbour",
            Self::YoungCrate => "young-crate",
            Self::FreshVersion => "fresh-version",
            Self::Yanked => "yanked",
            Self::OlderVersionsYanked => "older-versions-yanked",
        }
    }

    /// What the code means.
    pub fn description(self) -> &'static str {
        match self {
            Self::NotFound => "no crate of this name exists in the registry: a hallucinated or squattable dependency name",
            Self::VersionNotFound => "the crate exists, but not the version asked for",
            Self::TypoNeighbour => "a crate one typo away exists; a warning when this crate is young or has few versions and the neighbour is established",
            Self::YoungCrate => "the crate was first published less than 30 days ago",
            Self::FreshVersion => "this version was published less than 72 hours ago",
            Self::Yanked => "this version is yanked",
            Self::OlderVersionsYanked => "this version is not yanked while most earlier versions are, as after a hijacked release",
        }
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One provenance finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signal {
    /// What was found.
    pub code: Code,
    /// How much it weighs.
    pub level: Level,
    /// The evidence, in words.
    pub reason: String,
}

/// A crate one typo away that exists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Neighbour {
    /// Its name.
    pub name: String,
    /// How many versions it has.
    pub versions: usize,
    /// When it was first published, where known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_published: Option<String>,
    /// Which typo turns the vetted name into it.
    pub rule: TypoRule,
}

/// The report's `provenance[]` entry for one crate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provenance {
    /// The crate's name as asked for.
    pub name: String,
    /// The version vetted (or asked for, when it does not exist).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Whether the crate exists in the registry.
    pub exists: bool,
    /// The earliest `pubtime` of any version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_published: Option<String>,
    /// The latest `pubtime` of any version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest_published: Option<String>,
    /// How many versions the index lists (yanked included).
    pub versions: usize,
    /// Whether this version is yanked.
    pub yanked: bool,
    /// This version's `pubtime`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<String>,
    /// Names one typo away that exist.
    #[serde(default)]
    pub neighbours: Vec<Neighbour>,
    /// What was found.
    #[serde(default)]
    pub signals: Vec<Signal>,
}

impl Provenance {
    /// The highest level among the signals, if any.
    pub fn max_level(&self) -> Option<Level> {
        self.signals.iter().map(|s| s.level).max()
    }
}

/// How a neighbour's name differs from the vetted crate's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum TypoRule {
    /// A `-` where the other has `_`, or the reverse.
    SeparatorSwapped,
    /// The neighbour is this name with a `-` or `_` removed.
    SeparatorRemoved,
    /// The neighbour is this name with a `-` or `_` inserted.
    SeparatorAdded,
    /// The neighbour is this name without `-rs`, `rust-` or `-rust`.
    AffixRemoved,
    /// The neighbour is this name with `-rs`, `rust-` or `-rust` added.
    AffixAdded,
    /// The neighbour is this name with a doubled character undoubled.
    DoubledCharacter,
    /// The neighbour is this name with one character deleted.
    CharacterDeleted,
    /// The neighbour is this name with one character added.
    CharacterAdded,
    /// The neighbour is this name with two adjacent characters swapped.
    AdjacentSwapped,
}

impl TypoRule {
    /// Every rule, in the order candidates are generated.
    pub const ALL: [TypoRule; 9] = [
        Self::SeparatorSwapped,
        Self::SeparatorRemoved,
        Self::SeparatorAdded,
        Self::AffixRemoved,
        Self::AffixAdded,
        Self::DoubledCharacter,
        Self::CharacterDeleted,
        Self::CharacterAdded,
        Self::AdjacentSwapped,
    ];

    /// The kebab-case name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SeparatorSwapped => "separator-swapped",
            Self::SeparatorRemoved => "separator-removed",
            Self::SeparatorAdded => "separator-added",
            Self::AffixRemoved => "affix-removed",
            Self::AffixAdded => "affix-added",
            Self::DoubledCharacter => "doubled-character",
            Self::CharacterDeleted => "character-deleted",
            Self::CharacterAdded => "character-added",
            Self::AdjacentSwapped => "adjacent-swapped",
        }
    }

    /// What the rule means, for reasons and docs.
    pub fn description(self) -> &'static str {
        match self {
            Self::SeparatorSwapped => "`-` and `_` swapped",
            Self::SeparatorRemoved => "a `-` or `_` removed",
            Self::SeparatorAdded => "a `-` or `_` added",
            Self::AffixRemoved => "`-rs`, `rust-` or `-rust` removed",
            Self::AffixAdded => "`-rs`, `rust-` or `-rust` added",
            Self::DoubledCharacter => "a doubled character undoubled",
            Self::CharacterDeleted => "one character deleted",
            Self::CharacterAdded => "one character added",
            Self::AdjacentSwapped => "two adjacent characters swapped",
        }
    }
}

impl std::fmt::Display for TypoRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
/// What `vet` adds to a report. Empty (and absent from the JSON) for `build` and `fuzz`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct VetSections {
    /// The verdict over everything vetted, with its reasons (`vet` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<VetVerdict>,
    /// Which phases ran, which were skipped and why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub phases: Vec<PhaseRecord>,
    /// Registry provenance, one entry per crate asked for.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub provenance: Vec<Provenance>,
    /// Static inventories, the vetted crates first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inventory: Vec<CrateInventory>,
    /// What was asked for and from where.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vet: Option<VetRequest>,
    /// What an update adds (`vet CRATE@OLD..NEW`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diff: Option<VetDiff>,
}

/// The phases of `vet`, in pipeline order (kebab-case in reports; extend, never rename).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum VetPhase {
    /// What the registry's index says about the crate.
    Provenance,
    /// The static pass over every file of the package.
    Inventory,
    /// The sandboxed build of a scratch workspace that depends on the crate.
    Build,
    /// The crate's own tests, sandboxed.
    Test,
    /// A program that links the crate (static constructors), sandboxed.
    Load,
    /// The crate's public functions called with generated arguments, sandboxed.
    Probe,
    /// Generated fuzz targets within the time budget.
    Fuzz,
    /// What an update (`CRATE@OLD..NEW`) adds to the version it replaces.
    Diff,
}

impl VetPhase {
    /// Every phase, in pipeline order.
    pub const ALL: [VetPhase; 8] = [
        Self::Provenance,
        Self::Inventory,
        Self::Build,
        Self::Test,
        Self::Load,
        Self::Probe,
        Self::Fuzz,
        Self::Diff,
    ];

    /// The phase as reports and `--phases` spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Provenance => "provenance",
            Self::Inventory => "inventory",
            Self::Build => "build",
            Self::Test => "test",
            Self::Load => "load",
            Self::Probe => "probe",
            Self::Fuzz => "fuzz",
            Self::Diff => "diff",
        }
    }
}

impl std::fmt::Display for VetPhase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether a phase ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PhaseStatus {
    /// It ran for every crate it applies to.
    Ran,
    /// It did not run (not selected, not supported here, or nothing to run it on).
    Skipped,
    /// It started but could not finish (see `reason`).
    Failed,
}

impl PhaseStatus {
    /// The word used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ran => "ran",
            Self::Skipped => "skipped",
            Self::Failed => "failed",
        }
    }
}

/// `phases[]`: one entry per phase of the pipeline, selected or not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhaseRecord {
    /// The phase.
    pub phase: VetPhase,
    /// Whether it ran.
    pub status: PhaseStatus,
    /// Why it was skipped or failed, or what it noted while running (a dependency it could not
    /// inventory).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Crates it was not run for, each with why (`ghost: does not exist`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped_crates: Vec<String>,
    /// Wall time spent in it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
}

/// One reason a verdict is not `clean`: which phase found what, and the evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reason {
    /// The crate it concerns (`name version`, or the name alone when it does not exist).
    #[serde(rename = "crate")]
    pub krate: String,
    /// The phase that found it.
    pub phase: VetPhase,
    /// The signal code (`typo-neighbour`, `encoded-string`) or the event (`denied net/connect`).
    pub code: String,
    /// How much it weighs (`warn` or `error`; denied attempts are `error`).
    pub level: Level,
    /// The evidence, in words.
    pub evidence: String,
    /// Where: `path:line` in the package, where known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
}

/// The verdict of one crate asked for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VettedCrate {
    /// Its name.
    pub name: String,
    /// The version vetted, when it exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// `clean`, `suspicious`, or `failed` (it could not be vetted completely).
    pub verdict: Verdict,
    /// Why it is not clean.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<Reason>,
    /// The verdict, reasons and sections were reused from the verdict cache (`vet
    /// --manifest-path`), not found by this run.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cached: bool,
}

/// `verdict` (top level): `suspicious` when any crate is, else `failed` when any could not be
/// vetted, else `clean`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VetVerdict {
    /// The verdict over everything vetted.
    pub verdict: Verdict,
    /// Every crate's reasons, most important first.
    #[serde(default)]
    pub reasons: Vec<Reason>,
    /// One entry per crate asked for.
    #[serde(default)]
    pub crates: Vec<VettedCrate>,
}

/// `vet`: what was asked for and from where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VetRequest {
    /// The specs as given (`serde@1.0.200`).
    pub specs: Vec<String>,
    /// The registry name (`crates-io` or the `--registry` name).
    pub registry: String,
    /// Its index URL.
    pub index: String,
    /// The time budget of the run-time phases (`--time`), in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_secs: Option<u64>,
    /// Where packages were downloaded and unpacked.
    pub cache_dir: PathBuf,
    /// Which packages of a workspace were vetted (`vet --manifest-path`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace: Option<WorkspaceScope>,
}

/// `vet.workspace`: the third-party packages of a workspace's graph, and which of them this
/// report vetted (after `--since` and `--shard`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkspaceScope {
    /// The workspace's `Cargo.toml`.
    pub manifest_path: PathBuf,
    /// Third-party packages (registry and git) in its graph.
    pub packages: usize,
    /// `--since`: the lockfile or git revision compared with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    /// Packages unchanged since `since` (same name, version, source and checksum): not vetted.
    #[serde(default)]
    pub unchanged: usize,
    /// The shards (`K/N`) this report covers; empty when the packages were not sharded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shards: Vec<String>,
    /// Packages this report vetted (or took from the verdict cache).
    pub selected: usize,
}
