//! The rendering layer: one module per format, each reading the report model and nothing
//! else, plus the words they share (an event's telling detail, an exception in words).

mod account;
mod html;
mod json;
mod markdown;
mod sarif;
mod vet;

#[cfg(test)]
mod order_tests;

use std::path::{Path, PathBuf};

use super::model::{Report, ReportError};
use crate::events::Event;

/// A report format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `report.json`, the model as written.
    Json,
    /// `report.md`, for people.
    Markdown,
    /// `report.sarif`, SARIF 2.1.0 for code-scanning dashboards.
    Sarif,
    /// `report.html`, one self-contained page.
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

impl Format {
    /// The file extension of `report.<ext>`.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Markdown => "md",
            Format::Sarif => "sarif",
            Format::Html => "html",
        }
    }
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
        self.write(dir, &[Format::Json, Format::Markdown, Format::Sarif])
    }

    /// Writes `report.<ext>` for each of `formats` into `dir` (created).
    pub fn write(&self, dir: &Path, formats: &[Format]) -> Result<Vec<PathBuf>, ReportError> {
        std::fs::create_dir_all(dir).map_err(|source| ReportError::Write {
            path: dir.to_owned(),
            source,
        })?;
        let mut written = Vec::new();
        for &format in formats {
            let path = dir.join(format!("report.{}", format.extension()));
            std::fs::write(&path, self.render(format)).map_err(|source| ReportError::Write {
                path: path.clone(),
                source,
            })?;
            written.push(path);
        }
        Ok(written)
    }
}

/// A one-line rendering of an event's most telling detail.
fn event_detail(e: &Event) -> String {
    let mut parts = Vec::new();
    for key in [
        "address",
        "query",
        "path",
        "decoy",
        "location",
        "limit",
        "line",
        "reason",
        "resolved",
        "via_symlink",
        "target",
        "payload",
        "tls_sni",
        "produced_by",
        "candidates",
    ] {
        if let Some(v) = e.detail.get(key) {
            let v = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
            parts.push(format!("{key}={v}"));
        }
    }
    if e.is_network_tool() {
        parts.push("network tool".into());
    }
    // Every flag the JSON has (`found=false`, `writable_dir=true`, `fileless=true`).
    for (key, v) in e
        .detail
        .iter()
        .filter(|(k, v)| v.is_boolean() && *k != crate::events::NETWORK_TOOL)
    {
        parts.push(format!("{key}={v}"));
    }
    parts.join(" ")
}

#[cfg(test)]
mod tests {

    use super::*;
    use crate::events::{Decision, Kind};
    use crate::report::model::{
        BuildScript, CrateReport, Environment, Granted, ScriptStatus, Summary, TestRun, Verdict,
        SCHEMA,
    };

    /// A small report with one clean and one suspicious crate.
    fn sample() -> Report {
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
            tests: vec![],
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
                not_run: 0,
                build_scripts_run: 2,
                proc_macro_runs: 0,
                build_succeeded: true,
            },
            crates: vec![
                krate("evil-sys", Verdict::Suspicious, vec![e]),
                krate("fine", Verdict::Clean, vec![]),
            ],
            vetting: Default::default(),
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
    fn markdown_and_html_list_each_test_program_and_its_outcome() {
        let mut r = sample();
        let run = |binary: &str, code: i32, notable: usize| TestRun {
            binary: binary.into(),
            program: format!("/t/debug/deps/{binary}-0123").into(),
            exit_code: Some(code),
            duration_ms: 40,
            passed: code == 0,
            events: 3,
            notable,
            error: None,
        };
        r.crates[1].tests = vec![run("fine", 0, 0), run("it", 101, 1)];
        let md = r.render(Format::Markdown);
        assert!(md.contains("  - tests: 2 test programs, 1 failed"), "{md}");
        assert!(
            md.contains("`fine: passed (exit 0, 40 ms, 3 events)`"),
            "{md}"
        );
        assert!(
            md.contains("`it: failed (exit 101, 40 ms, 1 notable of 3 events)`"),
            "{md}"
        );
        let html = r.render(Format::Html);
        assert!(
            html.contains("<h4>Tests: 2 test programs, 1 failed</h4>"),
            "{html}"
        );
        assert!(
            html.contains("<li class=\"failed\"><code>it: failed (exit 101"),
            "{html}"
        );
        // A crate without test runs gets no tests section.
        assert!(!sample().render(Format::Markdown).contains("- tests:"));
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

    #[test]
    fn sarif_fingerprints_follow_the_attempt_not_the_run() {
        let fingerprints = |r: &Report| -> Vec<serde_json::Value> {
            let sarif: serde_json::Value = serde_json::from_str(&r.render(Format::Sarif)).unwrap();
            sarif["runs"][0]["results"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x["partialFingerprints"].clone())
                .collect()
        };
        let first = sample();
        let mut later = sample();
        // Another run, another version of the crate: the same attempt.
        later.crates[0].version = "0.2.0".into();
        later.crates[0].events[0].pid = 77;
        later.crates[0].events[0].time_ms = 1234;
        let print = fingerprints(&first);
        assert_eq!(print.len(), 1);
        assert!(print[0]["airlockEvent/v1"].is_string(), "{print:?}");
        assert_eq!(print, fingerprints(&later));
        // Another address is another result.
        later.crates[0].events[0]
            .detail
            .insert("address".into(), "10.0.0.1:80".into());
        assert_ne!(print, fingerprints(&later));
    }

    /// The sample with what `vet` adds: a verdict with a reason, provenance and an inventory.
    fn vet_sample() -> Report {
        use crate::report::vet_section::{
            Code, Level, PhaseRecord, PhaseStatus, Provenance, Reason, Signal, VetPhase,
            VetVerdict, VettedCrate,
        };
        let mut r = sample();
        r.command = "vet".into();
        let reason = Reason {
            krate: "evil-sys 0.1.0".into(),
            phase: VetPhase::Inventory,
            code: "shell-download".into(),
            level: Level::Warn,
            evidence: "powershell handed to Command".into(),
            location: Some("src/win.rs:7".into()),
        };
        r.vetting.verdict = Some(VetVerdict {
            verdict: Verdict::Suspicious,
            reasons: vec![reason.clone()],
            crates: vec![VettedCrate {
                name: "evil-sys".into(),
                version: Some("0.1.0".into()),
                verdict: Verdict::Suspicious,
                reasons: vec![reason],
                cached: false,
            }],
        });
        r.vetting.phases.push(PhaseRecord {
            phase: VetPhase::Build,
            status: PhaseStatus::Ran,
            reason: None,
            skipped_crates: vec![],
            duration_ms: Some(900),
        });
        r.vetting.phases.push(PhaseRecord {
            phase: VetPhase::Fuzz,
            status: PhaseStatus::Skipped,
            reason: Some("not selected with --phases".into()),
            skipped_crates: vec![],
            duration_ms: None,
        });
        r.vetting.provenance.push(Provenance {
            name: "evil-sys".into(),
            version: Some("0.1.0".into()),
            exists: true,
            first_published: Some("2026-11-20T00:00:00Z".into()),
            latest_published: None,
            versions: 1,
            yanked: false,
            published: None,
            neighbours: vec![],
            signals: vec![Signal {
                code: Code::YoungCrate,
                level: Level::Info,
                reason: "first published 6 days ago".into(),
            }],
        });
        r.vetting.inventory.push(inventory::CrateInventory {
            name: "evil-sys".into(),
            version: "0.1.0".into(),
            capabilities: Default::default(),
            signals: vec![inventory::Signal {
                code: inventory::SignalCode::ShellDownload,
                level: inventory::Level::Warn,
                path: "src/win.rs".into(),
                line: 7,
                text: "powershell -c iwr".into(),
                reason: "powershell handed to Command".into(),
            }],
            files: Default::default(),
        });
        r
    }

    #[test]
    fn vet_reports_open_with_the_verdict_then_provenance_inventory_and_phases() {
        let r = vet_sample();
        let md = r.render(Format::Markdown);
        let at = |needle: &str| {
            md.find(needle)
                .unwrap_or_else(|| panic!("{needle} in {md}"))
        };
        assert!(at("## Verdict: suspicious") < at("## Provenance"));
        assert!(at("## Provenance") < at("## Inventory"));
        assert!(at("## Inventory") < at("## Phases"));
        assert!(at("## Phases") < at("## Build"));
        assert!(at("## Verdict") < at("crates: 1 clean"));
        assert!(md.contains("src/win.rs:7"));
        let mut update = r.clone();
        update.vetting.diff = Some(crate::report::VetDiff {
            name: "evil-sys".into(),
            old: "0.0.9".into(),
            new: "0.1.0".into(),
            build_script: Some("added".into()),
            files: vec!["build.rs".into()],
            ..Default::default()
        });
        let md = update.render(Format::Markdown);
        assert!(
            md.find("## Inventory").unwrap()
                < md.find("## Update evil-sys 0.0.9 -> 0.1.0").unwrap()
        );
        assert!(md.contains("- `build.rs`"), "{md}");
        assert!(update
            .render(Format::Html)
            .contains("Update evil-sys 0.0.9 -&gt; 0.1.0"));
        let html = r.render(Format::Html);
        assert!(html.find("Verdict: suspicious").unwrap() < html.find("<h2>Provenance").unwrap());
        // The JSON keeps the names flat at the top level, and reads back.
        let v: serde_json::Value = serde_json::from_str(&r.render(Format::Json)).unwrap();
        assert_eq!(v["verdict"]["verdict"], "suspicious");
        assert_eq!(v["verdict"]["reasons"][0]["crate"], "evil-sys 0.1.0");
        assert_eq!(v["phases"][1]["phase"], "fuzz");
        // Without the build phase, no build summary.
        let mut no_build = r.clone();
        no_build.vetting.phases.remove(0);
        let md = no_build.render(Format::Markdown);
        assert!(md.contains("The build phase did not run") && !md.contains("crates: 1 clean"));
        assert_eq!(v["provenance"][0]["signals"][0]["code"], "young-crate");
        assert_eq!(v["inventory"][0]["signals"][0]["code"], "shell-download");
        let back: Report = serde_json::from_value(v).unwrap();
        assert_eq!(back.vetting.inventory.len(), 1);
        // A build report has none of it.
        assert!(!sample().render(Format::Markdown).contains("## Verdict"));
    }

    #[test]
    fn sarif_has_vet_signals_located_in_the_package() {
        let sarif: serde_json::Value =
            serde_json::from_str(&vet_sample().render(Format::Sarif)).unwrap();
        let results = sarif["runs"][0]["results"].as_array().unwrap();
        let inv = results
            .iter()
            .find(|x| x["ruleId"] == "inventory/shell-download")
            .expect("the inventory signal");
        assert_eq!(inv["level"], "warning");
        let loc = &inv["locations"][0]["physicalLocation"];
        assert_eq!(loc["artifactLocation"]["uri"], "evil-sys-0.1.0/src/win.rs");
        assert_eq!(loc["region"]["startLine"], 7);
        let prov = results
            .iter()
            .find(|x| x["ruleId"] == "provenance/young-crate")
            .expect("the provenance signal");
        assert_eq!(prov["level"], "note");
        // An update's findings are results too, at NEW's manifest.
        let mut update = vet_sample();
        update.vetting.diff = Some(crate::report::VetDiff {
            name: "evil-sys".into(),
            old: "0.0.9".into(),
            new: "0.1.0".into(),
            findings: vec![crate::report::DiffFinding {
                code: "build-script-added".into(),
                level: crate::report::Level::Warn,
                reason: "0.1.0 adds a build script".into(),
            }],
            ..Default::default()
        });
        let sarif: serde_json::Value = serde_json::from_str(&update.render(Format::Sarif)).unwrap();
        let results = sarif["runs"][0]["results"].as_array().unwrap();
        let diff = results
            .iter()
            .find(|x| x["ruleId"] == "diff/build-script-added")
            .expect("the update finding");
        assert_eq!(diff["level"], "warning");
        assert_eq!(
            diff["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            "evil-sys-0.1.0/Cargo.toml"
        );
    }
}
