//! End to end: `gen` on fixture crates with planted bugs, `fuzz` them for real (nightly, ASan,
//! libFuzzer in the sandbox), check the findings, and `repro` one. Slower than the integration
//! tests (a couple of minutes), so it is its own test target; `.ci/run` runs it through the
//! README's test command. The full two-minutes-per-crate run is `bench/fuzz-planted`.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

#[path = "../common/mod.rs"]
mod common;
mod fuzz_events;
/// The loopback sparse registry of the runner's registry tests, shared.
#[path = "../../runner/tests/vet_registry/server.rs"]
#[allow(dead_code)]
mod registry_server;
use common::{bin, fixture, gen_project};

struct Campaign {
    _dir: tempfile::TempDir,
    report_dir: PathBuf,
    code: i32,
    stderr: String,
    report: Value,
}

/// Generates the fuzz project of fixture crate `krate`, leaves each `(target, input)` of
/// `planted` in the project as an artifact of that target (as an earlier campaign would have),
/// and runs `fuzz` on it for `time`.
fn campaign(krate: &str, time: &str, extra: &[&str], planted: &[(&str, &[u8])]) -> Campaign {
    let dir = tempfile::Builder::new()
        .prefix(&format!("airlock-fuzz-{krate}-"))
        .tempdir()
        .unwrap();
    let project = dir.path().join("fuzz-airlock");
    gen_project(
        &fixture(&format!("fuzz/{krate}")).join("Cargo.toml"),
        &project,
    );
    for (i, (target, input)) in planted.iter().enumerate() {
        let artifacts = project.join("artifacts").join(target);
        std::fs::create_dir_all(&artifacts).unwrap();
        std::fs::write(artifacts.join(format!("crash-planted-{i}")), input).unwrap();
    }
    let report_dir = dir.path().join("report");
    let out = Command::new(bin())
        .args(["fuzz", "--jobs", "2", "--time", time, "--dir"])
        .arg(&project)
        .arg("--report-dir")
        .arg(&report_dir)
        .args(extra)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let report = std::fs::read_to_string(report_dir.join("report.json"))
        .map(|t| serde_json::from_str(&t).unwrap())
        .unwrap_or(Value::Null);
    Campaign {
        _dir: dir,
        report_dir,
        code: out.status.code().unwrap_or(-1),
        stderr,
        report,
    }
}

fn findings(c: &Campaign) -> Vec<&Value> {
    c.report["fuzz"]["findings"]
        .as_array()
        .map(|a| a.iter().collect())
        .unwrap_or_default()
}

fn has(c: &Campaign, target: &str, kind: &str) -> bool {
    findings(c)
        .iter()
        .any(|f| f["target"] == target && f["kind"] == kind)
}

#[test]
fn planted_bugs_are_found_reported_once_and_reproduced() {
    // An input that reaches each asserted bug is in the project from the start (an artifact
    // of an earlier campaign), so what is checked here (triage, one finding per bug, no false
    // positive, the reports, repro, the baseline) does not depend on how fast this machine
    // fuzzes. How soon the fuzzer finds every planted bug by itself is bench/fuzz-planted.
    let c = campaign(
        "planted",
        "36s",
        &[
            "--target",
            "de_version",
            "--target",
            "de_budget",
            "--target",
            "de_ratio",
        ],
        &[
            ("de_version", br#""1.x""#),
            ("de_budget", br#"{"base":200,"extra":100}"#),
        ],
    );
    assert_eq!(c.code, 1, "findings exit 1\n{}", c.stderr);
    for (target, kind) in [("de_version", "panic"), ("de_budget", "panic")] {
        assert!(
            has(&c, target, kind),
            "no {kind} in {target}:\n{}\n{:#}",
            c.stderr,
            c.report["fuzz"]["findings"]
        );
    }
    // Whatever else was found is one of the planted bugs, never a false positive.
    for f in findings(&c) {
        let msg = f["message"].as_str().unwrap_or("");
        assert!(
            msg.contains("minor version is numeric")
                || msg.contains("with overflow")
                || msg.contains("divide by zero"),
            "unexpected finding {f:#}"
        );
    }
    // Each bug once: signatures are unique.
    let sigs: Vec<&str> = findings(&c)
        .iter()
        .map(|f| f["signature"].as_str().unwrap())
        .collect();
    let mut unique = sigs.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(sigs.len(), unique.len(), "duplicate findings: {sigs:?}");
    // Every built target reports its runs and speed.
    for t in c.report["fuzz"]["targets"].as_array().unwrap() {
        if t["status"] == "built" {
            assert!(
                t["runs"].as_u64().unwrap() > 0 && t["execs_per_sec"].as_u64().unwrap() > 0,
                "{t}"
            );
        }
    }
    for format in ["report.md", "report.sarif"] {
        assert!(c.report_dir.join(format).is_file());
    }

    // repro exits 1 while the crash reproduces, and prints it.
    let panic = findings(&c)
        .into_iter()
        .find(|f| f["target"] == "de_version")
        .unwrap();
    let out = Command::new(bin())
        .args(["repro", panic["id"].as_str().unwrap(), "--report"])
        .arg(c.report_dir.join("report.json"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("minor version is numeric"), "{stdout}");

    // A baseline with the same findings: nothing new, exit 0.
    let again = Command::new(bin())
        .args([
            "fuzz",
            "--jobs",
            "2",
            "--time",
            "6s",
            "--target",
            "de_version",
            "--dir",
        ])
        .arg(c.report["fuzz"]["project"].as_str().unwrap())
        .arg("--report-dir")
        .arg(c.report_dir.join("second"))
        .arg("--baseline")
        .arg(c.report_dir.join("report.json"))
        .output()
        .unwrap();
    let second: Value = serde_json::from_str(
        &std::fs::read_to_string(c.report_dir.join("second/report.json")).unwrap(),
    )
    .unwrap();
    let statuses: Vec<&str> = second["fuzz"]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["target"] == "de_version")
        .map(|f| f["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        vec!["known"],
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    assert_eq!(again.status.code(), Some(0));
}

#[test]
fn clean_crate_yields_no_finding() {
    let c = campaign("clean", "24s", &[], &[]);
    assert_eq!(
        c.code, 0,
        "{}\n{:#}",
        c.stderr, c.report["fuzz"]["findings"]
    );
    assert!(findings(&c).is_empty());
    // What the fuzz profile itself grants (corpus and artifact writes, its reads, the fork-mode
    // jobs, the symbolizer) is no notable event: the fuzz runs leave every crate clean.
    for t in c.report["fuzz"]["targets"].as_array().unwrap() {
        assert!(t.get("notable_events").is_none(), "{t:#}");
    }
    for krate in c.report["crates"].as_array().unwrap() {
        assert_eq!(krate["verdict"], "clean", "{krate:#}");
    }
    assert!(c.report["fuzz"]["targets"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t["status"] == "built"));
}

#[test]
fn bad_input_exits_2() {
    let out = Command::new(bin())
        .args(["fuzz", "--dir", "/nonexistent/airlock-project"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cargo airlock gen"), "{err}");
    let out = Command::new(bin())
        .args(["repro", "Fdeadbeef", "--report", "/nonexistent/report.json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("report.json");
    std::fs::write(&bad, "not json").unwrap();
    let out = Command::new(bin())
        .args(["repro", "Fdeadbeef", "--report"])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not an airlock report"));
}

/// Issue 6: a format crate (its own serde `Deserializer`) whose parser recurses without a depth
/// limit. Its generated format target runs each input once, on the main thread, whose stack the
/// `fuzz` profile caps at 2 MiB, so a deeply nested input (here one left in the project as an
/// artifact) overflows it and is classified as a stack overflow, not a plain crash. How soon
/// the fuzzer reaches that depth by itself, and the other format and parse fixtures
/// (pre-allocation, `FromStr` panic, parse loop, clean format), are `bench/fuzz-formats`.
#[test]
fn format_crate_unbounded_recursion_is_a_stack_overflow() {
    let nested = [b'['; 100_000];
    let c = campaign(
        "nestfmt",
        "45s",
        &["--target", "fmt_from_slice"],
        &[("fmt_from_slice", &nested)],
    );
    assert_eq!(c.code, 1, "findings exit 1\n{}", c.stderr);
    assert!(
        has(&c, "fmt_from_slice", "stack-overflow"),
        "no stack overflow in fmt_from_slice:\n{}\n{:#}",
        c.stderr,
        c.report["fuzz"]["findings"]
    );
    let target = c.report["fuzz"]["targets"]
        .as_array()
        .and_then(|t| t.iter().find(|t| t["name"] == "fmt_from_slice"))
        .cloned()
        .unwrap_or(Value::Null);
    assert_eq!(target["kind"], "format", "{target:#}");
}
