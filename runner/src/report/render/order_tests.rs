//! The order a reviewer reads: the HTML parsed with a real HTML parser (scraper) and the
//! Markdown's headings, for a build report with a suspicious crate and a fuzz report with a
//! finding.

use std::path::{Path, PathBuf};

use scraper::{ElementRef, Html, Selector};

use super::Format;
use crate::events::{Decision, Event, Kind, Phase};
use crate::report::fuzz_section::{Finding, Frame, FuzzSection, TargetResult};
use crate::report::model::{
    BuildScript, CrateReport, Directive, Environment, Report, ScriptStatus, Summary, Verdict,
    SCHEMA,
};

fn event(kind: Kind, action: &str, decision: Decision, detail: &[(&str, &str)]) -> Event {
    let mut e = Event::new(kind, action, decision);
    for (k, v) in detail {
        e = e.with(k, *v);
    }
    e.phase = Phase::BuildScript;
    e
}

fn krate(name: &str, verdict: Verdict, events: Vec<Event>) -> CrateReport {
    CrateReport {
        name: name.into(),
        version: "0.1.0".into(),
        source: "registry".into(),
        location: format!("registry+{name}"),
        verdict,
        reasons: match verdict {
            Verdict::Suspicious => vec!["denied net/connect".into()],
            Verdict::NotRun => vec!["build script never ran: the build stopped".into()],
            _ => vec![],
        },
        build_script: BuildScript {
            status: if verdict == Verdict::NotRun {
                ScriptStatus::NotRun
            } else {
                ScriptStatus::Ran
            },
            exit_code: (verdict != Verdict::NotRun).then_some(0),
            duration_ms: (verdict != Verdict::NotRun).then_some(40),
        },
        proc_macro: false,
        proc_macro_runs: 0,
        events,
        directives: vec![],
        exceptions: vec![],
        tests: vec![],
    }
}

/// A build: one suspicious crate that ran curl and connected out, one clean crate that ran
/// the C compiler three times and printed a directive, one that never ran.
fn build_report() -> Report {
    let connect = event(
        Kind::Net,
        "connect",
        Decision::Denied,
        &[("address", "203.0.113.9:443")],
    );
    let curl = event(
        Kind::Exec,
        "exec",
        Decision::Allowed,
        &[("path", "/usr/bin/curl")],
    )
    .with(crate::events::NETWORK_TOOL, true);
    let cc = || {
        event(
            Kind::Exec,
            "exec",
            Decision::Allowed,
            &[("path", "/usr/bin/cc")],
        )
    };
    let write = event(
        Kind::Fs,
        "write",
        Decision::Denied,
        &[("path", "/home/u/.bashrc")],
    );
    let mut clean = krate("zlib-sys", Verdict::Clean, vec![cc(), cc(), cc()]);
    clean.directives.push(Directive {
        key: "rustc-link-lib".into(),
        value: "static=z".into(),
        line: "cargo:rustc-link-lib=static=z".into(),
        line_no: 1,
        new_syntax: false,
        flagged: None,
    });
    Report {
        schema: SCHEMA.into(),
        command: "build".into(),
        workspace: Some("/ws".into()),
        summary: Summary {
            crates: 3,
            clean: 1,
            suspicious: 1,
            failed: 0,
            not_run: 1,
            build_scripts_run: 2,
            proc_macro_runs: 0,
            build_succeeded: false,
        },
        crates: vec![
            clean,
            krate("evil-sys", Verdict::Suspicious, vec![curl, connect, write]),
            krate("late-sys", Verdict::NotRun, vec![]),
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

fn target(name: &str, status: &str, reason: Option<&str>) -> TargetResult {
    TargetResult {
        name: name.into(),
        kind: "deserialize".into(),
        item: format!("toml::{name}"),
        format: "bytes".into(),
        status: status.into(),
        reason: reason.map(str::to_owned),
        runs: 1000,
        execs_per_sec: 500,
        coverage: 321,
        seconds: 2,
        events: 0,
        notable_events: 0,
    }
}

/// A fuzz report with one finding whose reproducer is in `dir`, and a skipped target.
fn fuzz_report(dir: &Path) -> Report {
    let reproducer = dir.join("F1a2b");
    std::fs::write(&reproducer, b"[a]\nx = \"\x00\xff<b>\"").unwrap();
    let finding = Finding {
        id: "F1a2b".into(),
        target: "de_value".into(),
        kind: "panic".into(),
        signature: "panic toml::de::Deserializer::parse".into(),
        message: "index out of bounds: the len is 3 but the index is 7".into(),
        frames: vec![
            Frame {
                function: "core::panicking::panic_bounds_check".into(),
                location: None,
            },
            Frame {
                function: "toml::de::Deserializer::parse".into(),
                location: Some("src/de.rs:412:9".into()),
            },
        ],
        reproducer,
        minimized: true,
        also_reached_by: vec!["de_other".into()],
        status: "new".into(),
        repro: "cargo airlock repro F1a2b".into(),
        found_after_secs: Some(3),
    };
    let section = FuzzSection {
        targets: vec![
            target("de_value", "built", None),
            target(
                "ser_value",
                "skipped",
                Some("no Deserialize impl reachable"),
            ),
        ],
        findings: vec![finding],
        instrumentation: None,
        project: PathBuf::from("/ws/fuzz"),
    };
    Report::for_fuzz(section, build_report().environment)
}

fn select<'a>(doc: &'a Html, css: &str) -> Vec<ElementRef<'a>> {
    doc.select(&Selector::parse(css).unwrap()).collect()
}

fn text(e: &ElementRef) -> String {
    e.text().collect()
}

/// The ids of the page's sections, in document order.
fn section_ids(doc: &Html) -> Vec<String> {
    select(doc, "section[id]")
        .iter()
        .map(|s| s.value().id().unwrap().to_owned())
        .collect()
}

/// Checks what every page has: a phone viewport, a title, no script, no external resource.
fn self_contained(doc: &Html) {
    assert_eq!(select(doc, "meta[name=viewport]").len(), 1);
    assert!(select(doc, "script").is_empty());
    assert!(select(doc, "link, img, iframe").is_empty());
    assert_eq!(select(doc, "h1").len(), 1);
}

#[test]
fn html_of_a_build_leads_with_the_verdict_then_the_suspicious_crate_then_each_crate_folded() {
    let r = build_report();
    let doc = Html::parse_document(&r.render(Format::Html));
    self_contained(&doc);
    assert_eq!(
        section_ids(&doc),
        ["verdict", "suspicious", "crates", "environment"]
    );
    let verdict = text(&select(&doc, "section#verdict")[0]);
    assert!(
        verdict.contains("3 crates: 1 clean, 1 suspicious, 0 failed, 1 not run."),
        "{verdict}"
    );
    assert!(verdict.contains("suspicious: evil-sys 0.1.0"), "{verdict}");
    assert!(verdict.contains("not-run: late-sys 0.1.0"), "{verdict}");
    // What the suspicious crate tried, in a table that scrolls inside its container.
    let tables = select(&doc, "section#suspicious div.wide > table");
    assert_eq!(tables.len(), 1);
    let tried = text(&tables[0]);
    assert!(tried.contains("address=203.0.113.9:443"), "{tried}");
    assert!(tried.contains("network tool"), "{tried}");
    let heads: Vec<String> = select(&doc, "section#suspicious h3")
        .iter()
        .map(text)
        .collect();
    assert_eq!(
        heads,
        ["evil-sys 0.1.0 — suspicious", "late-sys 0.1.0 — not-run"]
    );
    // Every crate has a folded account, clean ones included.
    let folded = select(&doc, "section#crates details");
    assert_eq!(folded.len(), 3);
    assert!(select(&doc, "details[open]").is_empty());
    let zlib = text(&folded[0]);
    assert!(
        zlib.contains("zlib-sys 0.1.0") && zlib.contains("build script ran (exit 0, 40 ms)"),
        "{zlib}"
    );
    assert!(zlib.contains("/usr/bin/cc ×3"), "{zlib}");
    assert!(zlib.contains("rustc-link-lib=static=z"), "{zlib}");
    let evil = text(&folded[1]);
    for needle in [
        "Programs run",
        "/usr/bin/curl ×1",
        "Files written",
        "denied fs/write path=/home/u/.bashrc",
        "Network attempts",
        "denied net/connect address=203.0.113.9:443",
    ] {
        assert!(evil.contains(needle), "{needle} in {evil}");
    }
    assert!(text(&folded[2]).contains("build script not run"));
}

#[test]
fn html_of_a_fuzz_run_shows_the_finding_with_its_input_before_targets_and_skipped_last() {
    let dir = tempfile::tempdir().unwrap();
    let r = fuzz_report(dir.path());
    let doc = Html::parse_document(&r.render(Format::Html));
    self_contained(&doc);
    assert_eq!(
        section_ids(&doc),
        [
            "verdict",
            "findings",
            "fuzz-targets",
            "environment",
            "skipped"
        ]
    );
    let verdict = text(&select(&doc, "section#verdict")[0]);
    assert!(verdict.contains("1 finding: 1 new"), "{verdict}");
    assert!(!verdict.contains("crates:"), "{verdict}");
    let finding = select(&doc, "section#findings article#finding-F1a2b");
    assert_eq!(finding.len(), 1);
    let shown = text(&finding[0]);
    assert!(shown.contains("F1a2b: panic in de_value (new)"), "{shown}");
    assert!(shown.contains("index out of bounds"), "{shown}");
    // The frames in the crate under test, not the panic machinery.
    let frames: Vec<String> = select(&doc, "article#finding-F1a2b ol li")
        .iter()
        .map(text)
        .collect();
    assert_eq!(frames, ["toml::de::Deserializer::parse at src/de.rs:412:9"]);
    // The input as escaped text (the parser unescapes the entities) and as hex.
    let input = text(&select(&doc, "article#finding-F1a2b pre.input")[0]);
    assert_eq!(input, "[a]\\nx = \\\"\\x00\\xff<b>\\\"");
    let hex = text(&select(&doc, "article#finding-F1a2b pre.hex")[0]);
    assert!(
        hex.starts_with("00000000  5b 61 5d 0a 78 20 3d 20 22 00 ff 3c 62 3e 22"),
        "{hex}"
    );
    assert!(shown.contains("15 bytes"), "{shown}");
    assert!(shown.contains(&dir.path().join("F1a2b").display().to_string()));
    let repro = text(&select(&doc, "article#finding-F1a2b pre.repro")[0]);
    assert_eq!(repro, "cargo airlock repro F1a2b");
    // Built targets in the table, skipped ones last with their reason.
    let table = text(&select(&doc, "section#fuzz-targets table")[0]);
    assert!(
        table.contains("de_value") && !table.contains("ser_value"),
        "{table}"
    );
    let skipped = text(&select(&doc, "section#skipped li")[0]);
    assert_eq!(
        skipped,
        "ser_value (toml::ser_value): no Deserialize impl reachable"
    );
    // Without the file, the page says so.
    std::fs::remove_file(dir.path().join("F1a2b")).unwrap();
    let doc = Html::parse_document(&r.render(Format::Html));
    assert!(select(&doc, "pre.input").is_empty());
    assert!(text(&select(&doc, "article.finding")[0]).contains("not at hand"));
}

/// Where each of `needles` first appears in `text`, which must be increasing.
fn in_order(text: &str, needles: &[&str]) {
    let at: Vec<usize> = needles
        .iter()
        .map(|n| text.find(n).unwrap_or_else(|| panic!("{n} in {text}")))
        .collect();
    assert!(
        at.windows(2).all(|w| w[0] < w[1]),
        "{needles:?} at {at:?}: {text}"
    );
}

#[test]
fn markdown_follows_the_same_order() {
    let md = build_report().render(Format::Markdown);
    in_order(
        &md,
        &[
            "## Summary",
            "**3 crates: 1 clean, 1 suspicious, 0 failed, 1 not run.**",
            "- **suspicious**: evil-sys 0.1.0",
            "- **not-run**: late-sys 0.1.0",
            "## evil-sys 0.1.0 — suspicious",
            "## late-sys 0.1.0 — not-run",
            "## What each crate did",
            "- **zlib-sys 0.1.0** (clean) — build script ran (exit 0, 40 ms); 3 events",
            "  - programs run: `/usr/bin/cc` ×3",
            "    - `rustc-link-lib=static=z`",
            "- **evil-sys 0.1.0** (suspicious)",
            "    - `denied net/connect address=203.0.113.9:443`",
            "## Environment",
        ],
    );
    let dir = tempfile::tempdir().unwrap();
    let md = fuzz_report(dir.path()).render(Format::Markdown);
    in_order(
        &md,
        &[
            "**1 finding: 1 new, 0 known, 0 fixed.",
            "## Findings",
            "### F1a2b: panic in `de_value` (new)",
            "1. `toml::de::Deserializer::parse` at src/de.rs:412:9",
            "Crashing input (15 bytes):",
            "[a]\\nx = \\\"\\x00\\xff<b>\\\"",
            "00000000  5b 61 5d 0a",
            "- reproduce: `cargo airlock repro F1a2b`",
            "## Fuzz targets",
            "## Environment",
            "## Skipped targets (1)",
            "- `ser_value` (`toml::ser_value`): no Deserialize impl reachable",
        ],
    );
    assert!(!md.contains("panic_bounds_check"), "{md}");
}
