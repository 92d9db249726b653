//! The slow acceptance test of `cargo airlock build` (run by `.ci/run`, not by a plain
//! `cargo test`): the real graph in `tests/fixtures/real-graph` — build scripts that drive cc,
//! ar, pkg-config, rustc probes and an autoconf `sh configure` + make (tikv-jemalloc-sys, whose
//! `./conftest` programs, linked by its compiler, run from its OUT_DIR) — builds under the
//! default profile, with no `airlock.toml`, exactly as a plain build does: exit 0, every build
//! script ran in the sandbox with its compilers recorded as allowed `exec` events, every exec
//! from an OUT_DIR a program its compiler produced (`produced_by`), no exception granted, no
//! crate suspicious, and the program (with jemalloc as its global allocator) runs.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

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
    let started = Instant::now();
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
    eprintln!("sandboxed build: {:.1} s", started.elapsed().as_secs_f64());
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
        ("tikv-jemalloc-sys", "sh"),
        ("tikv-jemalloc-sys", "make"),
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

    // The autoconf crate: configure's ./conftest programs ran from its OUT_DIR, each one an
    // allowed exec event marked as coming from a writable directory and naming the compiler
    // that produced it, and the header-generating scripts the crate ships (copied into OUT_DIR
    // with the rest of jemalloc's sources) ran from there too, each naming its source file; no
    // exception was needed.
    let writable_execs = |c: &Value| -> Vec<String> {
        c["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["kind"] == "exec" && e["detail"]["writable_dir"] == true)
            .map(|e| {
                let origin = match e["detail"]["copied_from"].as_str() {
                    Some(source) => format!("copied from {source}"),
                    None => format!("produced by {}", e["detail"]["produced_by"]["program"]),
                };
                format!("{} {} {}", e["decision"], e["detail"]["resolved"], origin)
            })
            .collect()
    };
    let jemalloc = by_name("tikv-jemalloc-sys");
    let from_out_dir = writable_execs(jemalloc);
    assert!(
        from_out_dir.iter().all(|e| e.starts_with("\"allowed\"")
            && !e.ends_with(" produced by null")
            && e.contains("/tikv-jemalloc-sys-")
            && e.contains("/out/build/")),
        "{from_out_dir:#?}"
    );
    assert!(
        from_out_dir
            .iter()
            .filter(|e| e.contains("/out/build/conftest\" produced by \"cc\""))
            .count()
            >= 5,
        "{from_out_dir:#?}"
    );
    assert!(
        from_out_dir.iter().any(|e| e
            .contains("/out/build/include/jemalloc/jemalloc.sh\" copied from ")
            && e.ends_with("/jemalloc/include/jemalloc/jemalloc.sh")),
        "{from_out_dir:#?}"
    );
    for c in crates {
        assert_eq!(c["exceptions"], serde_json::json!([]), "{}", c["name"]);
        if c["name"] != "tikv-jemalloc-sys" {
            assert!(writable_execs(c).is_empty(), "{}", c["name"]);
        }
    }

    let program = ws.join("target/airlock/build-target/debug/real-graph");
    let run = Command::new(&program).output().unwrap();
    eprintln!("whole test: {:.1} s", started.elapsed().as_secs_f64());
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(String::from_utf8_lossy(&run.stdout).contains("real-graph ok"));
}
