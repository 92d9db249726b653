//! The provenance phase: what the registry's sparse index says about a crate (does it exist,
//! how old are it and this version, how many versions, yanked, older versions yanked) and which
//! names one typo away exist, as the report's `provenance[]` entry with its signals. Signals are
//! evidence, not verdicts: `info` ones never make a crate suspicious, `warn` and `error` do.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use super::registry::{IndexEntry, IndexFile, RegistryError, SparseRegistry};
use super::spec::CrateSpec;
use super::typo::{self, TypoRule};

const DAY: Duration = Duration::from_secs(24 * 60 * 60);
/// `young-crate`: first published less than this long ago.
pub const YOUNG_CRATE: Duration = Duration::from_secs(30 * 24 * 60 * 60);
/// `fresh-version`: this version published less than this long ago.
pub const FRESH_VERSION: Duration = Duration::from_secs(72 * 60 * 60);
/// A `typo-neighbour` can warn only when this crate was first published less than this long ago
/// or has at most [`FEW_VERSIONS`] versions.
pub const TYPO_YOUNG: Duration = Duration::from_secs(90 * 24 * 60 * 60);
/// See [`TYPO_YOUNG`].
pub const FEW_VERSIONS: usize = 3;
/// A neighbour is established when it has this many times the versions of this crate (and at
/// least [`ESTABLISHED_MIN_VERSIONS`]) ...
pub const ESTABLISHED_VERSION_FACTOR: usize = 5;
/// See [`ESTABLISHED_VERSION_FACTOR`].
pub const ESTABLISHED_MIN_VERSIONS: usize = 10;
/// ... or was first published at least this much earlier.
pub const ESTABLISHED_HEAD_START: Duration = Duration::from_secs(2 * 365 * 24 * 60 * 60);
/// `older-versions-yanked` needs at least this many yanked earlier versions (one yanked release
/// fixed by the next is ordinary).
pub const MIN_YANKED_EARLIER: usize = 2;
/// `older-versions-yanked` warns while this version is younger than this: a hijacked release
/// steers users to itself in the days after it appears. Calibrated on real crates (ahash,
/// subtle, untrusted, zeroize): maintainers who yank old versions as a habit leave a release
/// that has stood for months, which is information only.
pub const YANK_STEERING_WINDOW: Duration = Duration::from_secs(30 * 24 * 60 * 60);
/// A crate with few versions counts as "little used" for `typo-neighbour` only while it is
/// younger than this: a name that has stood this long beside its neighbour (adler2 beside adler)
/// is a successor or a fork people depend on, not a fresh squat.
pub const TYPO_STANDING: Duration = Duration::from_secs(2 * 365 * 24 * 60 * 60);
/// Index lookups of typo candidates run on at most this many threads.
pub const LOOKUP_THREADS: usize = 8;

pub use crate::report::{Code, Level, Neighbour, Provenance, Signal};

/// What the phase needs besides the crate.
#[derive(Debug, Clone)]
pub struct ProvenanceOptions {
    /// The time ages are measured from.
    pub now: SystemTime,
    /// More names to compare against (a workspace's lockfile names).
    pub extra_names: Vec<String>,
}

impl Default for ProvenanceOptions {
    fn default() -> Self {
        Self {
            now: SystemTime::now(),
            extra_names: Vec::new(),
        }
    }
}

/// The provenance entry and, when the crate and version exist, the index entry to download.
#[derive(Debug, Clone)]
pub struct Assessment {
    /// The report entry.
    pub provenance: Provenance,
    /// The version vetted.
    pub entry: Option<IndexEntry>,
}

/// Runs the provenance phase for `spec` against `registry`.
pub fn assess(
    registry: &SparseRegistry,
    spec: &CrateSpec,
    options: &ProvenanceOptions,
) -> Result<Assessment, RegistryError> {
    let file = registry.index(&spec.name)?;
    let neighbours = neighbours(registry, &spec.name, &options.extra_names)?;
    let stats = file.as_deref().map(Stats::of);
    let entry = file.as_deref().and_then(|f| match &spec.version {
        Some(v) => f.version(v).cloned(),
        // Everything yanked: report the newest, which the `yanked` signal then flags.
        None => f
            .newest_available()
            .or_else(|| f.entries.iter().max_by(|a, b| a.vers.cmp(&b.vers)))
            .cloned(),
    });
    let mut p = Provenance {
        name: spec.name.clone(),
        version: entry
            .as_ref()
            .map(|e| e.vers.to_string())
            .or(spec.version.as_ref().map(ToString::to_string)),
        exists: file.is_some(),
        first_published: stats
            .as_ref()
            .and_then(|s| s.first.as_ref().map(|(text, _)| text.clone())),
        latest_published: stats.as_ref().and_then(|s| s.latest.clone()),
        versions: file.as_ref().map_or(0, |f| f.entries.len()),
        yanked: entry.as_ref().is_some_and(|e| e.yanked),
        published: entry.as_ref().and_then(|e| e.pubtime.clone()),
        neighbours,
        signals: Vec::new(),
    };
    let registry_name = registry.source().display_name();
    let mut signals = Vec::new();
    match (&file, &entry) {
        (None, _) => signals.push(Signal {
            code: Code::NotFound,
            level: Level::Error,
            reason: not_found_reason(&spec.name, &registry_name, &p.neighbours),
        }),
        (Some(file), None) => signals.push(Signal {
            code: Code::VersionNotFound,
            level: Level::Error,
            reason: format!(
                "`{}` has no version {} in registry `{registry_name}` (newest: {})",
                spec.name,
                p.version.as_deref().unwrap_or("?"),
                file.newest_available()
                    .map_or_else(|| "none available".to_owned(), |e| e.vers.to_string())
            ),
        }),
        (Some(file), Some(entry)) => version_signals(file, entry, options.now, &mut signals),
    }
    if let Some(first) = stats.as_ref().and_then(|s| s.first.as_ref()) {
        let age = options.now.duration_since(first.1).unwrap_or_default();
        if age < YOUNG_CRATE {
            signals.push(Signal {
                code: Code::YoungCrate,
                level: Level::Info,
                reason: format!(
                    "`{}` was first published {}, {} ago",
                    spec.name,
                    first.0,
                    span(age)
                ),
            });
        }
    }
    for n in &p.neighbours {
        signals.push(typo_signal(&p, stats.as_ref(), n, options.now));
    }
    p.signals = signals;
    Ok(Assessment {
        provenance: p,
        entry,
    })
}

/// First and latest publication of a crate.
struct Stats {
    first: Option<(String, SystemTime)>,
    latest: Option<String>,
}

impl Stats {
    fn of(file: &IndexFile) -> Self {
        let times: Vec<(String, SystemTime)> = file
            .entries
            .iter()
            .filter_map(|e| Some((e.pubtime.clone()?, e.published_at()?)))
            .collect();
        Self {
            first: times.iter().min_by_key(|(_, t)| *t).cloned(),
            latest: times.iter().max_by_key(|(_, t)| *t).map(|(s, _)| s.clone()),
        }
    }
}

fn version_signals(file: &IndexFile, entry: &IndexEntry, now: SystemTime, out: &mut Vec<Signal>) {
    let v = &entry.vers;
    if entry.yanked {
        out.push(Signal {
            code: Code::Yanked,
            level: Level::Warn,
            reason: format!("{} {v} is yanked: its publisher withdrew it", entry.name),
        });
    } else {
        let earlier: Vec<&IndexEntry> = file.entries.iter().filter(|e| e.vers < *v).collect();
        let yanked: Vec<String> = earlier
            .iter()
            .filter(|e| e.yanked)
            .map(|e| e.vers.to_string())
            .collect();
        if yanked.len() >= MIN_YANKED_EARLIER && yanked.len() * 2 > earlier.len() {
            let age = entry
                .published_at()
                .and_then(|t| now.duration_since(t).ok());
            let steering = age.is_none_or(|a| a < YANK_STEERING_WINDOW);
            let mut reason = format!(
                "{} {v} is not yanked, but {} of the {} earlier versions are ({}), so cargo \
                 steers every user to it",
                entry.name,
                yanked.len(),
                earlier.len(),
                yanked.join(", ")
            );
            if let (false, Some(a)) = (steering, age) {
                reason.push_str(&format!(
                    "; {v} has stood for {}, so this looks like the maintainers' habit",
                    span(a)
                ));
            }
            out.push(Signal {
                code: Code::OlderVersionsYanked,
                level: if steering { Level::Warn } else { Level::Info },
                reason,
            });
        }
    }
    if let Some(published) = entry.published_at() {
        let age = now.duration_since(published).unwrap_or_default();
        if age < FRESH_VERSION {
            out.push(Signal {
                code: Code::FreshVersion,
                level: Level::Info,
                reason: format!(
                    "{} {v} was published {}, {} ago",
                    entry.name,
                    entry.pubtime.as_deref().unwrap_or_default(),
                    span(age)
                ),
            });
        }
    }
}

fn typo_signal(p: &Provenance, stats: Option<&Stats>, n: &Neighbour, now: SystemTime) -> Signal {
    let first = stats.and_then(|s| s.first.as_ref());
    let young = first.is_some_and(|(_, t)| now.duration_since(*t).unwrap_or_default() < TYPO_YOUNG);
    let standing =
        first.is_some_and(|(_, t)| now.duration_since(*t).unwrap_or_default() >= TYPO_STANDING);
    let few = p.versions <= FEW_VERSIONS && !standing;
    let many_more =
        n.versions >= ESTABLISHED_MIN_VERSIONS.max(ESTABLISHED_VERSION_FACTOR * p.versions);
    let n_first = n
        .first_published
        .as_deref()
        .and_then(|t| humantime::parse_rfc3339_weak(t).ok());
    let head_start = match (n_first, first) {
        (Some(theirs), Some((_, ours))) => ours.duration_since(theirs).ok(),
        _ => None,
    };
    let older = head_start.is_some_and(|d| d >= ESTABLISHED_HEAD_START);
    let warn = p.exists && (young || few) && (many_more || older);
    let mut reason = format!(
        "`{}` exists, one typo from `{}` ({}): it has {} version(s){}",
        n.name,
        p.name,
        n.rule.description(),
        n.versions,
        n.first_published
            .as_deref()
            .map(|t| format!(", first published {t}"))
            .unwrap_or_default()
    );
    if p.exists {
        reason.push_str(&format!(
            "; `{}` has {} version(s){}",
            p.name,
            p.versions,
            first
                .map(|(t, _)| format!(", first published {t}"))
                .unwrap_or_default()
        ));
    }
    if warn {
        let why = match (many_more, head_start) {
            (true, _) => format!(
                "{} has {}x the versions",
                n.name,
                n.versions / p.versions.max(1)
            ),
            (false, Some(d)) => format!("{} is {} older", n.name, span(d)),
            (false, None) => String::new(),
        };
        reason.push_str(&format!(
            "; `{}` is {} and {why}: make sure `{}` is the crate you meant",
            p.name,
            if young { "young" } else { "little used" },
            p.name
        ));
    }
    Signal {
        code: Code::TypoNeighbour,
        level: if warn { Level::Warn } else { Level::Info },
        reason,
    }
}

fn not_found_reason(name: &str, registry: &str, neighbours: &[Neighbour]) -> String {
    let mut reason = format!(
        "no crate named `{name}` in registry `{registry}`: a dependency on it cannot be real, and \
         anyone could register the name"
    );
    if let Some(best) = neighbours.iter().max_by_key(|n| n.versions) {
        reason.push_str(&format!(
            "; did you mean `{}` ({} versions)?",
            best.name, best.versions
        ));
    }
    reason
}

/// The names one typo from `name` (typo candidates plus `extra` names related to it) that the
/// registry has, looked up on a few threads.
fn neighbours(
    registry: &SparseRegistry,
    name: &str,
    extra: &[String],
) -> Result<Vec<Neighbour>, RegistryError> {
    let mut wanted: BTreeMap<String, TypoRule> = typo::candidates(name);
    for other in extra {
        if let Some(rule) = typo::relation(name, other) {
            wanted.entry(other.to_lowercase()).or_insert(rule);
        }
    }
    let queue = Mutex::new(wanted.into_iter());
    let found = Mutex::new(Vec::new());
    let failed = Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..LOOKUP_THREADS {
            scope.spawn(|| loop {
                if failed.lock().unwrap_or_else(|p| p.into_inner()).is_some() {
                    break;
                }
                let Some((candidate, rule)) =
                    queue.lock().unwrap_or_else(|p| p.into_inner()).next()
                else {
                    break;
                };
                match registry.index(&candidate) {
                    Ok(Some(file)) => {
                        let stats = Stats::of(&file);
                        found
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .push(Neighbour {
                                name: file.entries.first().map_or(candidate, |e| e.name.clone()),
                                versions: file.entries.len(),
                                first_published: stats.first.map(|(t, _)| t),
                                rule,
                            });
                    }
                    Ok(None) => {}
                    Err(e) => {
                        failed
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .get_or_insert(e);
                        break;
                    }
                }
            });
        }
    });
    if let Some(e) = failed.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(e);
    }
    let mut found = found.into_inner().unwrap_or_else(|p| p.into_inner());
    found.sort_by(|a, b| {
        b.versions
            .cmp(&a.versions)
            .then_with(|| a.name.cmp(&b.name))
    });
    Ok(found)
}

/// `17 hours`, `6 days`, `3 years`.
fn span(d: Duration) -> String {
    let hours = d.as_secs() / 3600;
    let days = d.as_secs() / DAY.as_secs();
    if hours < 48 {
        format!("{hours} hour{}", if hours == 1 { "" } else { "s" })
    } else if days < 730 {
        format!("{days} days")
    } else {
        format!("{} years", days / 365)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_stable() {
        let names: Vec<&str> = Code::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(
            names,
            [
                "not-found",
                "version-not-found",
                "typo-neighbour",
                "young-crate",
                "fresh-version",
                "yanked",
                "older-versions-yanked"
            ]
        );
        let unique: std::collections::BTreeSet<&str> = names.iter().copied().collect();
        assert_eq!(unique.len(), names.len());
        for code in Code::ALL {
            assert_eq!(serde_json::to_value(code).unwrap(), code.as_str());
            assert!(!code.description().is_empty());
        }
        assert_eq!(serde_json::to_value(Level::Warn).unwrap(), "warn");
    }

    #[test]
    fn spans_read_naturally() {
        assert_eq!(span(Duration::from_secs(3600)), "1 hour");
        assert_eq!(span(Duration::from_secs(17 * 3600)), "17 hours");
        assert_eq!(span(6 * DAY), "6 days");
        assert_eq!(span(1100 * DAY), "3 years");
    }
}
