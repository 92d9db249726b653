//! Issue 5 end to end: the instrumented build of `cargo airlock fuzz` sandboxes the build
//! scripts of the project's graph as `build` does, and `fuzz export clusterfuzzlite` writes a
//! `build.sh` that builds the same targets. Needs the nightly toolchain; one instrumented build
//! of a tiny crate (a few minutes on a busy machine). Its own test target, so that its build
//! never competes for the CPU with the timed campaigns of `fuzz_campaign`.

use std::process::Command;

use serde_json::Value;

#[path = "../common/mod.rs"]
mod common;
use common::{bin, copy_tree, fixture, gen_project};

/// Issue 5: the instrumented build of `fuzz` runs every build script of the project's graph
/// in the sandbox as `build` does, so a crate under test whose build script phones home and
/// writes outside its `OUT_DIR` is contained, recorded in the fuzz report and makes the exit
/// code 1, while its targets are still instrumented and fuzzed. Then the ClusterFuzzLite export
/// of the same project: its `build.sh`, run with SRC/OUT/WORK at temp directories and the
/// campaign's target directory, finds everything fresh (so it builds the same targets with the
/// same flags: a differing flag would rebuild) and fills $OUT with binaries that run, their
/// dictionaries, options and seed corpora. One instrumented build serves both halves.
#[test]
fn issue5_fuzz_build_scripts_are_sandboxed_and_the_export_builds_the_same_targets() {
    let tmp = tempfile::Builder::new()
        .prefix("airlock-fuzz-evil-build-")
        .tempdir()
        .unwrap();
    let src = tmp.path().join("src");
    let repo = src.join("repo");
    let krate = repo.join("evil-build");
    copy_tree(&fixture("fuzz/evil-build"), &krate);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let victim = krate.join("pwned.txt");
    std::fs::write(
        krate.join("target.txt"),
        format!("{address}\n{}\n", victim.display()),
    )
    .unwrap();
    let project = repo.join("fuzz-airlock");
    gen_project(&krate.join("Cargo.toml"), &project);

    let report_dir = tmp.path().join("report");
    let out = Command::new(bin())
        .args(["fuzz", "--jobs", "1", "--time", "2s", "--dir"])
        .arg(&project)
        .arg("--report-dir")
        .arg(&report_dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(report_dir.join("report.json")).unwrap())
            .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "a suspicious build script exits 1\n{stderr}"
    );
    let crates = report["crates"].as_array().unwrap();
    let evil = crates
        .iter()
        .find(|c| c["name"] == "evil-build")
        .unwrap_or_else(|| panic!("evil-build not in the report: {report:#}"));
    assert_eq!(evil["verdict"], "suspicious", "{evil:#}");
    assert_eq!(evil["build_script"]["status"], "ran", "{evil:#}");
    let events = evil["events"].as_array().unwrap();
    let has = |kind: &str, action: &str, key: &str, needle: &str| {
        events.iter().any(|e| {
            e["kind"] == kind
                && e["action"] == action
                && e["decision"] == "denied"
                && e["phase"] == "build-script"
                && e["detail"][key]
                    .as_str()
                    .is_some_and(|v| v.contains(needle))
        })
    };
    assert!(has("net", "connect", "address", &address), "{evil:#}");
    assert!(has("fs", "create", "path", "pwned.txt"), "{evil:#}");
    assert!(stderr.contains("evil-build 0.1.0 SUSPICIOUS"), "{stderr}");
    // Nothing it attempted happened.
    assert!(
        matches!(listener.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "the build script reached the listener"
    );
    assert!(!victim.exists(), "the build script wrote outside OUT_DIR");
    // Every build script of the graph ran in the sandbox, and the bystanders are clean.
    let fuzz_sys = crates
        .iter()
        .find(|c| c["name"] == "libfuzzer-sys")
        .unwrap();
    assert_eq!(fuzz_sys["verdict"], "clean", "{fuzz_sys:#}");
    assert_eq!(fuzz_sys["build_script"]["status"], "ran", "{fuzz_sys:#}");
    for c in crates {
        assert_ne!(c["build_script"]["status"], "not-run", "{c:#}");
        if c["name"] != "evil-build" {
            assert_eq!(c["verdict"], "clean", "{c:#}");
        }
    }
    // The targets were still instrumented and fuzzed.
    let targets: Vec<&Value> = report["fuzz"]["targets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["status"] == "built")
        .collect();
    assert!(!targets.is_empty(), "{report:#}");
    for t in &targets {
        assert!(
            t["runs"].as_u64().unwrap() > 0 && t["coverage"].as_u64().unwrap() > 0,
            "{t}"
        );
    }

    // The export: bad input first, then the real thing.
    let export = |extra: &[&str]| {
        Command::new(bin())
            .args(["fuzz", "export", "clusterfuzzlite", "--dir"])
            .arg(&project)
            .args(extra)
            .output()
            .unwrap()
    };
    let outside = export(&["--out", tmp.path().join("report").to_str().unwrap()]);
    assert_eq!(outside.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&outside.stderr).contains("is not inside"));
    let unknown = export(&["--target", "no_such_target"]);
    assert_eq!(unknown.status.code(), Some(2));
    let exported = export(&["--workflow"]);
    assert_eq!(
        exported.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&exported.stderr)
    );
    let cfl = repo.join(".clusterfuzzlite");
    assert!(std::fs::read_to_string(cfl.join("project.yaml"))
        .unwrap()
        .contains("language: rust"));
    let dockerfile = std::fs::read_to_string(cfl.join("Dockerfile")).unwrap();
    assert!(dockerfile.contains("FROM gcr.io/oss-fuzz-base/base-builder-rust"));
    assert!(dockerfile.contains("COPY . $SRC/repo"));
    assert!(repo.join(".github/workflows/cflite_pr.yml").is_file());

    let (out_dir, work) = (tmp.path().join("out"), tmp.path().join("work"));
    std::fs::create_dir_all(&out_dir).unwrap();
    std::fs::create_dir_all(&work).unwrap();
    let built = Command::new("bash")
        .arg(cfl.join("build.sh"))
        .current_dir(&repo)
        .env("SRC", &src)
        .env("OUT", &out_dir)
        .env("WORK", &work)
        .env("CARGO_TARGET_DIR", project.join("target/airlock"))
        .output()
        .unwrap();
    let build_log = String::from_utf8_lossy(&built.stderr);
    assert!(built.status.success(), "build.sh failed:\n{build_log}");
    assert!(
        !build_log.contains("Compiling"),
        "build.sh rebuilt what `fuzz` built: its flags differ\n{build_log}"
    );
    for t in &targets {
        let name = t["name"].as_str().unwrap();
        let binary = out_dir.join(name);
        let options = std::fs::read_to_string(out_dir.join(format!("{name}.options"))).unwrap();
        assert!(
            options.starts_with("[libfuzzer]\ntimeout = 10\n"),
            "{options}"
        );
        if project.join(format!("dicts/{name}.dict")).is_file() {
            assert!(out_dir.join(format!("{name}.dict")).is_file(), "{name}");
        }
        let zip = std::fs::read(out_dir.join(format!("{name}_seed_corpus.zip"))).unwrap();
        assert!(zip.starts_with(b"PK\x03\x04"), "{name}: not a zip");
        let run = Command::new(&binary).arg("-runs=100").output().unwrap();
        let log = String::from_utf8_lossy(&run.stderr);
        assert!(
            run.status.success() && log.contains("Done 100 runs"),
            "{name}: {log}"
        );
    }
}
