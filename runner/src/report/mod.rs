//! Reports (DESIGN.md, "Report"): the `airlock.report/1` data model that `build`, `fuzz` and
//! `vet` fill, and one renderer per format. Renderers only present; verdicts are decided by the
//! command that made the report.

pub mod html;
pub mod json;
pub mod markdown;
pub mod sarif;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::build::config::Granted;
use crate::build::directives::Directive;
use crate::events::{Decision, Event};

/// The schema tag of every report this version writes.
pub const SCHEMA: &str = "airlock.report/1";

/// A whole report.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    pub schema: String,
    /// The command that made it (`build`, `fuzz`, `vet`).
    pub command: String,
    /// The workspace root that was vetted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace: Option<PathBuf>,
    pub summary: Summary,
    pub crates: Vec<CrateReport>,
    /// Registry provenance (filled by `vet`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub provenance: Vec<Provenance>,
    /// The fuzz campaign (filled by `fuzz` and `vet`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fuzz: Option<FuzzReport>,
    pub environment: Environment,
    /// Why the tool could not do all of its job, if it could not (bad input, a failed build).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
}

/// Counts, for a glance.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Summary {
    pub crates: usize,
    pub clean: usize,
    pub suspicious: usize,
    pub failed: usize,
    /// Build scripts that ran in the sandbox.
    pub build_scripts_run: usize,
    /// rustc invocations that expanded proc macros in the sandbox.
    pub proc_macro_runs: usize,
    /// Whether `cargo build` itself succeeded.
    pub build_succeeded: bool,
}

/// A crate's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Clean,
    Failed,
    Suspicious,
}

impl Verdict {
    /// The word used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Clean => "clean",
            Verdict::Suspicious => "suspicious",
            Verdict::Failed => "failed",
        }
    }
}

/// What happened to a crate's build script.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ScriptStatus {
    /// The crate has no build script.
    None,
    /// It ran in the sandbox and exited 0.
    Ran,
    /// It ran in the sandbox and failed (non-zero exit, signal or timeout).
    Failed,
    /// The sandbox could not start it.
    Error,
    /// It was never run (the build stopped before it).
    NotRun,
}

/// `crates[].build_script`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BuildScript {
    pub status: ScriptStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
}

/// One crate of the graph.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CrateReport {
    pub name: String,
    pub version: String,
    /// `registry`, `path` or `git`.
    pub source: String,
    /// The source id or path.
    pub location: String,
    pub verdict: Verdict,
    /// Why the verdict is not `clean`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<String>,
    pub build_script: BuildScript,
    #[serde(default)]
    pub proc_macro: bool,
    /// Sandboxed rustc invocations that expanded this proc macro.
    #[serde(default)]
    pub proc_macro_runs: usize,
    pub events: Vec<Event>,
    pub directives: Vec<Directive>,
    pub exceptions: Vec<Granted>,
}

impl CrateReport {
    /// `name version`.
    pub fn label(&self) -> String {
        format!("{} {}", self.name, self.version)
    }

    /// The events that were denied or flagged, or that ran a network tool.
    pub fn notable_events(&self) -> impl Iterator<Item = &Event> {
        self.events.iter().filter(|e| {
            e.decision != Decision::Allowed
                || e.detail.get("network_tool").is_some_and(|v| v == true)
        })
    }
}

/// `provenance[]` (from `vet`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Provenance {
    pub name: String,
    pub version: String,
    pub exists: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_published: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest_published: Option<String>,
    #[serde(default)]
    pub versions: usize,
    #[serde(default)]
    pub yanked: bool,
}

/// `fuzz` (from `fuzz` and `vet`): the campaign's own section type, so the report carries
/// exactly what the campaign measured.
pub type FuzzReport = crate::fuzz::FuzzSection;

/// `environment`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Environment {
    pub kernel: String,
    /// The kernel's Landlock ABI (None without Landlock).
    pub landlock_abi: Option<u8>,
    /// The layers in force for the sandboxed runs (as `RunOutcome.layers` reports them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layers: Option<serde_json::Value>,
    /// Runs went ahead without every layer (`--allow-degraded`).
    #[serde(default)]
    pub degraded: bool,
    pub profile: String,
    pub tool_version: String,
    pub toolchain: String,
}

/// A report format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Markdown,
    Sarif,
    Html,
}

impl Format {
    /// Parses `json`, `md` (or `markdown`), `sarif`, `html`.
    pub fn parse(text: &str) -> Option<Format> {
        match text {
            "json" => Some(Format::Json),
            "md" | "markdown" => Some(Format::Markdown),
            "sarif" => Some(Format::Sarif),
            "html" => Some(Format::Html),
            _ => None,
        }
    }
}

/// Errors reading or writing reports.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReportError {
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read report {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} is not an airlock report: {reason}", path.display())]
    Parse { path: PathBuf, reason: String },
}

impl Report {
    /// Renders in `format`.
    pub fn render(&self, format: Format) -> String {
        match format {
            Format::Json => json::render(self),
            Format::Markdown => markdown::render(self),
            Format::Sarif => sarif::render(self),
            Format::Html => html::render(self),
        }
    }

    /// Writes `report.json`, `report.md` and `report.sarif` into `dir` (created).
    pub fn write_all(&self, dir: &Path) -> Result<Vec<PathBuf>, ReportError> {
        std::fs::create_dir_all(dir).map_err(|source| ReportError::Write {
            path: dir.to_owned(),
            source,
        })?;
        let mut written = Vec::new();
        for (file, format) in [
            ("report.json", Format::Json),
            ("report.md", Format::Markdown),
            ("report.sarif", Format::Sarif),
        ] {
            let path = dir.join(file);
            std::fs::write(&path, self.render(format)).map_err(|source| ReportError::Write {
                path: path.clone(),
                source,
            })?;
            written.push(path);
        }
        Ok(written)
    }

    /// A report of a fuzz campaign alone (no crates were built).
    pub fn for_fuzz(section: FuzzReport, environment: Environment) -> Report {
        Report {
            schema: SCHEMA.to_owned(),
            command: "fuzz".to_owned(),
            workspace: None,
            summary: Summary::default(),
            crates: Vec::new(),
            provenance: Vec::new(),
            fuzz: Some(section),
            environment,
            errors: Vec::new(),
        }
    }

    /// Reads a `report.json`.
    pub fn read(path: &Path) -> Result<Report, ReportError> {
        let text = std::fs::read_to_string(path).map_err(|source| ReportError::Read {
            path: path.to_owned(),
            source,
        })?;
        let report: Report = serde_json::from_str(&text).map_err(|e| ReportError::Parse {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
        if report.schema != SCHEMA {
            return Err(ReportError::Parse {
                path: path.to_owned(),
                reason: format!("schema `{}`, expected `{SCHEMA}`", report.schema),
            });
        }
        Ok(report)
    }
}

/// A one-line rendering of an event's most telling detail.
pub fn event_detail(e: &Event) -> String {
    let mut parts = Vec::new();
    for key in [
        "address", "query", "path", "decoy", "location", "limit", "line", "reason",
    ] {
        if let Some(v) = e.detail.get(key) {
            let v = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
            parts.push(format!("{key}={v}"));
        }
    }
    if e.detail.get("network_tool").is_some_and(|v| v == true) {
        parts.push("network tool".into());
    }
    parts.join(" ")
}

/// One granted `airlock.toml` exception in words: `exec-out-dir OUT_DIR (why)`.
pub fn exception_text(g: &Granted) -> String {
    let mut text = g.kind.clone();
    if !g.value.is_empty() {
        text.push(' ');
        text.push_str(&g.value);
    }
    if let Some(reason) = &g.reason {
        text.push_str(&format!(" ({reason})"));
    }
    text
}

/// The words of a kind (serde's kebab-case name).
pub fn kind_str(e: &Event) -> String {
    serde_json::to_value(e.kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// The word of a decision.
pub fn decision_str(d: Decision) -> &'static str {
    match d {
        Decision::Allowed => "allowed",
        Decision::Denied => "denied",
        Decision::Flagged => "flagged",
    }
}

/// The word of a phase.
pub fn phase_str(e: &Event) -> String {
    serde_json::to_value(e.phase)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::events::Kind;

    /// A small report with one clean and one suspicious crate.
    pub fn sample() -> Report {
        let mut e = Event::new(Kind::Net, "connect", Decision::Denied)
            .with("address", "127.0.0.1:4444")
            .with("protocol", "tcp");
        e.krate = "evil-sys 0.1.0".into();
        let krate = |name: &str, verdict, events: Vec<Event>| CrateReport {
            name: name.into(),
            version: "0.1.0".into(),
            source: "path".into(),
            location: format!("/ws/{name}"),
            verdict,
            reasons: if verdict == Verdict::Suspicious {
                vec!["denied net/connect".into()]
            } else {
                vec![]
            },
            build_script: BuildScript {
                status: ScriptStatus::Ran,
                exit_code: Some(0),
                duration_ms: Some(12),
            },
            proc_macro: false,
            proc_macro_runs: 0,
            events,
            directives: vec![],
            exceptions: vec![],
        };
        Report {
            schema: SCHEMA.into(),
            command: "build".into(),
            workspace: Some("/ws".into()),
            summary: Summary {
                crates: 2,
                clean: 1,
                suspicious: 1,
                failed: 0,
                build_scripts_run: 2,
                proc_macro_runs: 0,
                build_succeeded: true,
            },
            crates: vec![
                krate("evil-sys", Verdict::Suspicious, vec![e]),
                krate("fine", Verdict::Clean, vec![]),
            ],
            provenance: vec![],
            fuzz: None,
            environment: Environment {
                kernel: "6.8".into(),
                landlock_abi: Some(7),
                profile: "build".into(),
                tool_version: "0.1.0".into(),
                toolchain: "rustc 1.95.0".into(),
                ..Environment::default()
            },
            errors: vec![],
        }
    }

    #[test]
    fn json_round_trips_and_names_fields_as_designed() {
        let r = sample();
        let text = r.render(Format::Json);
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["schema"], "airlock.report/1");
        let c = &v["crates"][0];
        for key in [
            "name",
            "version",
            "source",
            "verdict",
            "build_script",
            "events",
            "directives",
            "exceptions",
        ] {
            assert!(c.get(key).is_some(), "missing {key}");
        }
        assert_eq!(c["build_script"]["status"], "ran");
        assert_eq!(c["events"][0]["crate"], "evil-sys 0.1.0");
        assert!(v.get("fuzz").is_none() && v.get("provenance").is_none());
        let dir = tempfile::tempdir().unwrap();
        r.write_all(dir.path()).unwrap();
        let back = Report::read(&dir.path().join("report.json")).unwrap();
        assert_eq!(back.crates.len(), 2);
    }

    #[test]
    fn every_format_lists_granted_exceptions_even_of_clean_crates() {
        let mut r = sample();
        r.crates[1].exceptions.push(Granted {
            kind: "exec-out-dir".into(),
            value: "OUT_DIR".into(),
            reason: Some("configure runs ./conftest".into()),
        });
        let line = "exec-out-dir OUT_DIR (configure runs ./conftest)";
        let md = r.render(Format::Markdown);
        assert!(md.contains(&format!("- fine 0.1.0: {line}")), "{md}");
        assert!(r.render(Format::Html).contains(line));
        let sarif: serde_json::Value = serde_json::from_str(&r.render(Format::Sarif)).unwrap();
        let results = sarif["runs"][0]["results"].as_array().unwrap();
        let note = results
            .iter()
            .find(|x| x["ruleId"] == "airlock/exception/exec-out-dir")
            .expect("a result for the exception");
        assert_eq!(note["level"], "note");
        assert!(note["message"]["text"].as_str().unwrap().contains(line));
        // Without exceptions, no section and no extra result.
        let plain = sample();
        assert!(!plain
            .render(Format::Markdown)
            .contains("Granted exceptions"));
    }

    #[test]
    fn every_format_mentions_the_suspicious_crate() {
        let r = sample();
        for f in [Format::Markdown, Format::Sarif, Format::Html] {
            let text = r.render(f);
            assert!(text.contains("evil-sys"), "{f:?}");
            assert!(text.contains("127.0.0.1:4444"), "{f:?}");
        }
        let sarif: serde_json::Value = serde_json::from_str(&r.render(Format::Sarif)).unwrap();
        assert_eq!(sarif["version"], "2.1.0");
        assert_eq!(sarif["runs"][0]["results"].as_array().unwrap().len(), 1);
    }
}
