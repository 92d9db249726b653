//! The sink every scanner writes into: capabilities with capped places and details, and signals
//! deduplicated by (code, path, line, text), with info-level signals capped per code.

use std::collections::{BTreeMap, HashSet};

use crate::code::SignalCode;
use crate::model::{
    Capability, CapabilityKind, CrateInventory, FileCounts, Level, Place, Signal,
    MAX_DETAILS_PER_CAPABILITY, MAX_PLACES_PER_CAPABILITY,
};
use crate::text::{shorten, Finding};

/// How the reason of a constructor signal of native code begins (the scan of native code
/// writes it; [`Collector::finish`] calibrates those signals).
pub(crate) const NATIVE_CONSTRUCTOR: &str = "shipped native code declares";

/// Info-level signals kept per code (a test suite full of public addresses stays readable);
/// `warn` and `error` signals are never dropped.
pub(crate) const MAX_INFO_SIGNALS_PER_CODE: usize = 50;

/// Accumulates one package's inventory.
#[derive(Default)]
pub(crate) struct Collector {
    capabilities: BTreeMap<CapabilityKind, Capability>,
    signals: Vec<Signal>,
    seen: HashSet<(SignalCode, String, usize, String)>,
    info_per_code: BTreeMap<SignalCode, usize>,
    pub(crate) files: FileCounts,
    /// The first place where the package's own code (not its build script, tests, examples or
    /// benches) reaches the network or starts a program: `net at src/x.c:12`.
    runtime_reach: Option<String>,
    /// The file being scanned is code the package's users never run (its build script, a
    /// test, an example, a bench): its uses do not count as [`Collector::runtime_reach`].
    outside_runtime: bool,
}

impl Collector {
    /// A collector for one file: `outside_runtime` when it is code the package's users never
    /// run (its build script, tests, examples, benches).
    pub(crate) fn for_file(outside_runtime: bool) -> Collector {
        Collector {
            outside_runtime,
            ..Collector::default()
        }
    }

    /// Records one use of `kind` at `path:line`.
    pub(crate) fn capability(
        &mut self,
        kind: CapabilityKind,
        path: &str,
        line: usize,
        text: impl Into<String>,
    ) {
        if matches!(kind, CapabilityKind::Net | CapabilityKind::Process)
            && self.runtime_reach.is_none()
            && !self.outside_runtime
        {
            self.runtime_reach = Some(format!("{} at {path}:{line}", kind.as_str()));
        }
        let cap = self.capabilities.entry(kind).or_default();
        cap.count += 1;
        if cap.places.len() < MAX_PLACES_PER_CAPABILITY {
            cap.places.push(Place {
                path: path.to_owned(),
                line,
                text: shorten(&text.into()),
            });
        }
    }

    /// Records what a use of `kind` names (a variable, a path, a crate, a program).
    pub(crate) fn detail(&mut self, kind: CapabilityKind, detail: &str) {
        let cap = self.capabilities.entry(kind).or_default();
        let detail = shorten(detail);
        if cap.details.len() < MAX_DETAILS_PER_CAPABILITY && !cap.details.contains(&detail) {
            cap.details.push(detail);
        }
    }

    /// Records a signal (once per code, path, line and text).
    pub(crate) fn signal(&mut self, signal: Signal) {
        let key = (
            signal.code,
            signal.path.clone(),
            signal.line,
            signal.text.clone(),
        );
        if self.seen.contains(&key) {
            return;
        }
        if signal.level == Level::Info {
            let n = self.info_per_code.entry(signal.code).or_default();
            if *n >= MAX_INFO_SIGNALS_PER_CODE {
                return;
            }
            *n += 1;
        }
        self.seen.insert(key);
        self.signals.push(signal);
    }

    /// Records a finding of the string analysis at `path:line`, with `how` prefixed to its
    /// reason when the string was assembled or decoded.
    pub(crate) fn finding(&mut self, f: Finding, path: &str, line: usize, how: Option<&str>) {
        let reason = match how {
            Some(how) => format!("{how}: {}", f.reason),
            None => f.reason,
        };
        self.signal(Signal {
            code: f.code,
            level: f.level,
            path: path.to_owned(),
            line,
            text: f.text,
            reason,
        });
    }

    /// Adds what another collector (one file's scan) gathered, after what this one holds.
    pub(crate) fn merge(&mut self, other: Collector) {
        for (kind, cap) in other.capabilities {
            let mine = self.capabilities.entry(kind).or_default();
            mine.count += cap.count;
            let room = MAX_PLACES_PER_CAPABILITY.saturating_sub(mine.places.len());
            mine.places.extend(cap.places.into_iter().take(room));
            for d in cap.details {
                if mine.details.len() < MAX_DETAILS_PER_CAPABILITY && !mine.details.contains(&d) {
                    mine.details.push(d);
                }
            }
        }
        for s in other.signals {
            self.signal(s);
        }
        if self.runtime_reach.is_none() {
            self.runtime_reach = other.runtime_reach;
        }
        let (a, b) = (&mut self.files, other.files);
        a.rust += b.rust;
        a.rust_unparsed += b.rust_unparsed;
        a.native += b.native;
        a.scripts += b.scripts;
        a.binary += b.binary;
        a.other += b.other;
    }

    /// The finished inventory, signals ordered by level (highest first), then path and line.
    /// A constructor of native code stays `warn` only when the package's own code also reaches
    /// the network or starts a program (see `native`), else it is `info`.
    pub(crate) fn finish(mut self, name: &str, version: &str) -> CrateInventory {
        for s in &mut self.signals {
            if s.code != SignalCode::StaticConstructor || !s.reason.starts_with(NATIVE_CONSTRUCTOR)
            {
                continue;
            }
            match &self.runtime_reach {
                Some(reach) => s.reason.push_str(&format!(
                    "; the package's code also reaches the network or starts programs ({reach})"
                )),
                None => {
                    s.level = Level::Info;
                    s.reason.push_str(
                        "; nothing else in the package's own code opens a socket or starts a \
                         program (vet's load phase runs constructors and watches them)",
                    );
                }
            }
        }
        self.signals.sort_by(|a, b| {
            b.level
                .cmp(&a.level)
                .then_with(|| a.path.cmp(&b.path))
                .then(a.line.cmp(&b.line))
                .then(a.code.cmp(&b.code))
        });
        CrateInventory {
            name: name.to_owned(),
            version: version.to_owned(),
            capabilities: self.capabilities,
            signals: self.signals,
            files: self.files,
        }
    }
}
