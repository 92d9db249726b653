//! The event vocabulary (docs/events.md): what a sandboxed process attempted, who attempted
//! it, and what the sandbox decided. Events are written as JSON lines and embedded in reports;
//! the field names and the `kind`/`action` strings are a public contract: extend, never rename.
//!
//! This is the bottom layer of the runner: it imports nothing from the rest of the crate. The
//! one rule of what makes an event worth a look ([`Event::is_notable`]) lives here, so the
//! sandbox's exit status, the verdicts of `build` and the reports agree on it.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde::{Deserialize, Serialize};

/// The detail key (`"network_tool": true`) set on an `exec` event whose program is one of the
/// profile's network tools (`curl`, `wget`, ...). Part of the JSON contract.
pub const NETWORK_TOOL: &str = "network_tool";

/// What class of attempt an event records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// Sockets, connections, sends, DNS queries.
    Net,
    /// Program executions.
    Exec,
    /// File reads, writes, creations, links, executable mappings.
    Fs,
    /// A syscall a build has no business making (`action` is its name).
    Syscall,
    /// A resource limit was hit.
    Limit,
    /// A decoy secret was read or found in output.
    Leak,
    /// A build-script directive worth a look.
    Directive,
}

impl Kind {
    /// The word of the kind in the event vocabulary (its JSON name).
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Net => "net",
            Kind::Exec => "exec",
            Kind::Fs => "fs",
            Kind::Syscall => "syscall",
            Kind::Limit => "limit",
            Kind::Leak => "leak",
            Kind::Directive => "directive",
        }
    }
}

/// The sandbox's answer to an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Decision {
    /// The attempt went ahead, bounded by the kernel rules in force.
    Allowed,
    /// The attempt was refused.
    Denied,
    /// Not a syscall decision: a directive or a leak worth reporting.
    Flagged,
}

impl Decision {
    /// The word of the decision in the event vocabulary (its JSON name).
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Allowed => "allowed",
            Decision::Denied => "denied",
            Decision::Flagged => "flagged",
        }
    }
}

/// Which stage of the work the event came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// A dependency's `build.rs`.
    BuildScript,
    /// A proc-macro expansion inside rustc.
    ProcMacro,
    /// A fuzz target.
    Fuzz,
    /// `cargo airlock sandbox -- CMD`.
    Sandbox,
    /// The crate's own tests, doc tests and examples (`cargo airlock test`, vet's `test`).
    Test,
    /// A program that links the crate and starts: its static constructors (vet's `load`).
    Load,
    /// The crate's public functions called with generated arguments (vet's `probe`).
    Probe,
}

impl Phase {
    /// The word of the phase in the event vocabulary (its JSON name).
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::BuildScript => "build-script",
            Phase::ProcMacro => "proc-macro",
            Phase::Fuzz => "fuzz",
            Phase::Sandbox => "sandbox",
            Phase::Test => "test",
            Phase::Load => "load",
            Phase::Probe => "probe",
        }
    }
}

/// One recorded attempt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// `name version` of the crate the attempt is attributed to (empty for a plain `sandbox` run).
    #[serde(rename = "crate", default, skip_serializing_if = "String::is_empty")]
    pub krate: String,
    /// The stage of the work the attempt came from.
    pub phase: Phase,
    /// The class of attempt.
    pub kind: Kind,
    /// What was attempted within the class: `connect`, `exec`, `open-write`, a syscall name, ...
    pub action: String,
    /// What the sandbox decided.
    pub decision: Decision,
    /// Decoded arguments: `address`, `protocol`, `query`, `path`, `argv`, `decoy`, ...
    pub detail: serde_json::Map<String, serde_json::Value>,
    /// The attempting process as seen from inside the sandbox's PID namespace (0 when unknown).
    #[serde(default)]
    pub pid: i32,
    /// Milliseconds since the sandbox started.
    #[serde(default)]
    pub time_ms: u64,
    /// The entry point whose run made the attempt (`logs_update::run` for a probe, a test
    /// binary's name for a test), when the phase runs several.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry: Option<String>,
}

impl Event {
    /// A new event with an empty detail map; fill it with [`Event::with`].
    pub fn new(kind: Kind, action: impl Into<String>, decision: Decision) -> Self {
        Event {
            krate: String::new(),
            phase: Phase::Sandbox,
            kind,
            action: action.into(),
            decision,
            detail: serde_json::Map::new(),
            pid: 0,
            time_ms: 0,
            entry: None,
        }
    }

    /// Adds one detail field.
    pub fn with(mut self, key: &str, value: impl Into<serde_json::Value>) -> Self {
        self.detail.insert(key.to_owned(), value.into());
        self
    }

    /// Sets the attempting pid.
    pub fn by(mut self, pid: i32) -> Self {
        self.pid = pid;
        self
    }

    /// A detail field as a string, if it is one.
    pub fn detail_str(&self, key: &str) -> Option<&str> {
        self.detail.get(key).and_then(|v| v.as_str())
    }

    /// Whether the attempt ran one of the profile's network tools (detail [`NETWORK_TOOL`] is
    /// `true`), whether or not the tool could then reach anything.
    pub fn is_network_tool(&self) -> bool {
        self.detail.get(NETWORK_TOOL).is_some_and(|v| v == true)
    }

    /// The attempt in a few words, as reasons and verdicts name it: `denied net/connect`,
    /// `flagged leak/decoy-read`, `allowed exec/exec (network tool)`.
    pub fn code(&self) -> String {
        format!(
            "{} {}/{}{}",
            self.decision.as_str(),
            self.kind.as_str(),
            self.action,
            if self.is_network_tool() {
                " (network tool)"
            } else {
                ""
            }
        )
    }

    /// Whether the event is worth a look on its own: the sandbox denied the attempt, flagged it
    /// (a leaked decoy, a directive), or the attempt ran a network tool (allowed, but a build
    /// has no business fetching anything). This is the one rule behind a `suspicious` crate, the
    /// sandbox's exit status and the events a report lists; exceptions granted in
    /// `airlock.toml` are applied on top of it by the caller.
    pub fn is_notable(&self) -> bool {
        self.decision != Decision::Allowed || self.is_network_tool()
    }
}

/// Where events go while a sandbox runs: kept in memory for the caller, and optionally streamed
/// as JSON lines to a file as they happen (so a run that is killed still leaves its events).
#[derive(Clone)]
pub struct EventLog {
    inner: Arc<Mutex<LogInner>>,
    started: Instant,
    krate: String,
    phase: Phase,
}

struct LogInner {
    events: Vec<Event>,
    stream: Option<BufWriter<File>>,
    stream_error: Option<io::Error>,
}

impl EventLog {
    /// A log that keeps events in memory only.
    pub fn new(phase: Phase, krate: impl Into<String>) -> Self {
        EventLog {
            inner: Arc::new(Mutex::new(LogInner {
                events: Vec::new(),
                stream: None,
                stream_error: None,
            })),
            started: Instant::now(),
            krate: krate.into(),
            phase,
        }
    }

    /// Also stream every event as a JSON line to `path` (created or truncated).
    pub fn stream_to(self, path: &Path) -> io::Result<Self> {
        let file = File::create(path)?;
        self.lock().stream = Some(BufWriter::new(file));
        Ok(self)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LogInner> {
        // A panic while holding the lock cannot leave the vector in a torn state.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Records an event, stamping crate, phase and time.
    pub fn record(&self, mut event: Event) {
        event.time_ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        if event.krate.is_empty() {
            event.krate.clone_from(&self.krate);
        }
        event.phase = self.phase;
        let mut inner = self.lock();
        if let Some(stream) = inner.stream.as_mut() {
            let written = serde_json::to_writer(&mut *stream, &event)
                .map_err(io::Error::from)
                .and_then(|()| stream.write_all(b"\n"))
                .and_then(|()| stream.flush());
            if let Err(err) = written {
                inner.stream = None;
                inner.stream_error = Some(err);
            }
        }
        inner.events.push(event);
    }

    /// Whether an event matching `pred` was already recorded.
    pub fn any(&self, pred: impl Fn(&Event) -> bool) -> bool {
        self.lock().events.iter().any(pred)
    }

    /// The events so far, and the first error met while streaming them (if any).
    pub fn snapshot(&self) -> (Vec<Event>, Option<String>) {
        let inner = self.lock();
        (
            inner.events.clone(),
            inner.stream_error.as_ref().map(|e| e.to_string()),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_serializes_in_the_design_vocabulary() {
        let event = Event::new(Kind::Net, "connect", Decision::Denied)
            .with("address", "127.0.0.1:4444")
            .with("protocol", "tcp")
            .by(41);
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(json["kind"], "net");
        assert_eq!(json["decision"], "denied");
        assert_eq!(json["phase"], "sandbox");
        assert_eq!(json["detail"]["address"], "127.0.0.1:4444");
        assert!(json.get("crate").is_none(), "empty crate is omitted");
        let back: Event = serde_json::from_value(json).unwrap();
        assert_eq!(back, event);
    }

    #[test]
    fn words_are_the_json_names() {
        for kind in [
            Kind::Net,
            Kind::Exec,
            Kind::Fs,
            Kind::Syscall,
            Kind::Limit,
            Kind::Leak,
            Kind::Directive,
        ] {
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
        }
        for d in [Decision::Allowed, Decision::Denied, Decision::Flagged] {
            assert_eq!(serde_json::to_value(d).unwrap(), d.as_str());
        }
        for p in [
            Phase::BuildScript,
            Phase::ProcMacro,
            Phase::Fuzz,
            Phase::Sandbox,
        ] {
            assert_eq!(serde_json::to_value(p).unwrap(), p.as_str());
        }
    }

    #[test]
    fn notable_is_denied_flagged_or_a_network_tool() {
        let exec = || Event::new(Kind::Exec, "exec", Decision::Allowed).with("path", "/bin/sh");
        assert!(!exec().is_notable());
        assert!(!exec().with(NETWORK_TOOL, false).is_notable());
        let curl = exec().with(NETWORK_TOOL, true);
        assert!(curl.is_network_tool() && curl.is_notable());
        assert_eq!(
            serde_json::to_value(&curl).unwrap()["detail"]["network_tool"],
            true
        );
        assert!(Event::new(Kind::Net, "connect", Decision::Denied).is_notable());
        assert!(Event::new(Kind::Leak, "read", Decision::Flagged).is_notable());
    }

    #[test]
    fn log_streams_json_lines_and_stamps_crate() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.jsonl");
        let log = EventLog::new(Phase::BuildScript, "evil-sys 0.1.0")
            .stream_to(&path)
            .unwrap();
        log.record(Event::new(Kind::Exec, "exec", Decision::Allowed).with("path", "/bin/sh"));
        log.record(Event::new(Kind::Fs, "read", Decision::Denied).with("path", "/root/x"));
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<Event> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].krate, "evil-sys 0.1.0");
        assert_eq!(lines[1].phase, Phase::BuildScript);
    }
}
