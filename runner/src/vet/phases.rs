//! The phases of `vet` as the command line selects them (`--phases LIST`), which of them this
//! version can run, and the other inputs that shape a run (`--time`, the cache directory).

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use super::error::VetError;
pub use crate::report::VetPhase as Phase;

/// The default `--time`: the budget of the run-time phases, small enough that a small crate's
/// whole vet stays under five minutes on two cores.
pub const DEFAULT_TIME: Duration = Duration::from_secs(60);

/// Why this version cannot run `phase` (None: it can).
pub fn unsupported(phase: Phase) -> Option<&'static str> {
    match phase {
        Phase::Provenance | Phase::Inventory | Phase::Build | Phase::Diff => None,
        Phase::Test | Phase::Load | Phase::Probe => None,
        Phase::Fuzz => crate::fuzz::unavailable(),
    }
}

/// Whether `phase` builds or runs the crate's code (and so needs code compiled for this host);
/// provenance, inventory and diff only read.
pub fn runs_code(phase: Phase) -> bool {
    matches!(
        phase,
        Phase::Build | Phase::Test | Phase::Load | Phase::Probe | Phase::Fuzz
    )
}

/// The phases to run (`--phases LIST`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhaseSelection(BTreeSet<Phase>);

impl PhaseSelection {
    /// Every phase (the default; the unsupported ones are then skipped with their reason).
    pub fn all() -> Self {
        Self(Phase::ALL.into_iter().collect())
    }

    /// Parses `provenance,inventory,build` (names as reports spell them, comma-separated).
    pub fn parse(list: &str) -> Result<Self, VetError> {
        let mut out = BTreeSet::new();
        for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let phase = Phase::ALL
                .into_iter()
                .find(|p| p.as_str() == name)
                .ok_or_else(|| VetError::UnknownPhase {
                    name: name.to_owned(),
                    known: known_phases(),
                })?;
            out.insert(phase);
        }
        if out.is_empty() {
            return Err(VetError::NoPhases {
                known: known_phases(),
            });
        }
        Ok(Self(out))
    }

    /// Whether `phase` was selected.
    pub fn contains(&self, phase: Phase) -> bool {
        self.0.contains(&phase)
    }

    /// The selected phases that only read the crate ([`runs_code`] is false).
    pub fn reading_only(&self) -> Self {
        Self(self.0.iter().copied().filter(|p| !runs_code(*p)).collect())
    }
}

fn known_phases() -> String {
    Phase::ALL.map(Phase::as_str).join(", ")
}

/// Parses `--time` (`90s`, `5m`, `1h 30m`).
pub fn parse_time(text: &str) -> Result<Duration, VetError> {
    humantime::parse_duration(text).map_err(|source| VetError::BadTime {
        text: text.to_owned(),
        source,
    })
}

/// `$XDG_CACHE_HOME/cargo-airlock`, else `~/.cache/cargo-airlock` (None without either).
pub fn default_cache_dir() -> Option<PathBuf> {
    let from = |var: &str| {
        std::env::var_os(var)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    from("XDG_CACHE_HOME")
        .filter(|p| p.is_absolute())
        .or_else(|| from("HOME").map(|h| h.join(".cache")))
        .map(|base| base.join("cargo-airlock"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_parse_by_their_report_names() {
        let s = PhaseSelection::parse("provenance, inventory").unwrap();
        assert!(s.contains(Phase::Provenance) && s.contains(Phase::Inventory));
        assert!(!s.contains(Phase::Build));
        let err = PhaseSelection::parse("provenance,bild")
            .unwrap_err()
            .to_string();
        assert!(err.contains("`bild`") && err.contains("build"), "{err}");
        assert!(matches!(
            PhaseSelection::parse(" , "),
            Err(VetError::NoPhases { .. })
        ));
        assert!(Phase::ALL
            .iter()
            .all(|p| PhaseSelection::all().contains(*p)));
    }

    #[test]
    fn every_phase_runs_and_fuzz_says_how_to_get_nightly_when_missing() {
        for p in [
            Phase::Provenance,
            Phase::Inventory,
            Phase::Build,
            Phase::Diff,
            Phase::Test,
            Phase::Load,
            Phase::Probe,
        ] {
            assert!(unsupported(p).is_none());
        }
        // Fuzzing runs where a nightly toolchain is installed, and says how to get one.
        let nightly = std::process::Command::new("cargo")
            .args(["+nightly", "-V"])
            .output()
            .is_ok_and(|o| o.status.success());
        match unsupported(Phase::Fuzz) {
            None => assert!(nightly),
            Some(why) => assert!(!nightly && why.contains("rustup toolchain install nightly")),
        }
    }

    #[test]
    fn time_parses_like_humans_write_it() {
        assert_eq!(parse_time("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_time("5m").unwrap(), Duration::from_secs(300));
        let err = parse_time("soon").unwrap_err();
        assert!(err.to_string().contains("`soon`"));
        assert!(!err.to_string().contains(&err.source_text()));
    }

    trait SourceText {
        fn source_text(&self) -> String;
    }
    impl SourceText for VetError {
        fn source_text(&self) -> String {
            std::error::Error::source(self).map_or_else(String::new, ToString::to_string)
        }
    }
}
