//! The slow acceptance test of `cargo airlock build` (run by `.ci/run`, not by a plain
//! `cargo test`): the real graph in `tests/fixtures/real-graph` — build scripts that drive cc,
//! ar, pkg-config and rustc probes — builds under the default profile
//! exactly as a plain build does: exit 0, every build script ran in the sandbox with its
//! compilers recorded as allowed `exec` events, no crate suspicious, and the program runs.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

fn execs(krate: &Value) -> Vec<String> {
    krate["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "exec" && e["decision"] == "allowed")
        .filter_map(|e| e["detail"]["path"].as_str())
        .map(|p| p.rsplit('/').next().unwrap_or(p).to_owned())
        .collect()
}

#[test]
fn real_graph_builds_sandboxed_exactly_as_plain() {
    let ws = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/real-graph");
    let reports = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_cargo-airlock"))
        .arg("build")
        .arg("--manifest-path")
        .arg(ws.join("Cargo.toml"))
        .arg("--report-dir")
        .arg(reports.path())
        .args(["--", "--locked", "-j2"])
        .env("CI", "true")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(reports.path().join("report.json")).unwrap())
            .unwrap();
    let crates = report["crates"].as_array().unwrap();
    let table: Vec<String> = crates
        .iter()
        .map(|c| {
            format!(
                "{} {}: {} (build script {}, {} events)",
                c["name"].as_str().unwrap(),
                c["version"].as_str().unwrap(),
                c["verdict"].as_str().unwrap(),
                c["build_script"]["status"].as_str().unwrap(),
                c["events"].as_array().unwrap().len()
            )
        })
        .collect();
    eprintln!("{}", table.join("\n"));
    assert_eq!(out.status.code(), Some(0), "stderr:\n{stderr}");
    assert_eq!(report["summary"]["suspicious"], 0);
    assert_eq!(report["summary"]["build_succeeded"], true);
    for c in crates {
        assert_eq!(c["verdict"], "clean", "{c:#}");
        assert_ne!(c["build_script"]["status"], "not-run", "{}", c["name"]);
    }
    let by_name = |n: &str| {
        crates
            .iter()
            .find(|c| c["name"] == n)
            .unwrap_or_else(|| panic!("{n} missing"))
    };
    for (name, tool) in [
        ("ring", "cc"),
        ("libz-sys", "cc"),
        ("zstd-sys", "cc"),
        ("bzip2-sys", "cc"),
        ("libsqlite3-sys", "cc"),
        ("openssl-sys", "pkg-config"),
        ("proc-macro2", "rustc"),
    ] {
        let c = by_name(name);
        assert_eq!(c["build_script"]["status"], "ran", "{name}");
        let seen = execs(c);
        assert!(
            seen.iter()
                .any(|p| p == tool || p.ends_with(tool) || p.starts_with(tool)),
            "{name}: no allowed exec of {tool}: {seen:?}"
        );
    }
    assert!(report["summary"]["proc_macro_runs"].as_u64().unwrap() > 0);

    let program = ws.join("target/airlock/build-target/debug/real-graph");
    let run = Command::new(&program).output().unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(String::from_utf8_lossy(&run.stdout).contains("real-graph ok"));
}
