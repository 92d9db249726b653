//! `cargo airlock build` on autoconf-like build scripts (`tests/fixtures/build/conftest-run`
//! and `conftest-exec`): a program the build's own compiler linked into `OUT_DIR` runs there
//! with no configuration and is recorded with `produced_by`; anything the script wrote there
//! itself (a copy, bytes, a script, a compiled program rewritten or renamed over) is refused
//! and makes the crate suspicious; a script that fails on such a refusal gets a hint naming the
//! `exec-out-dir` exception, which opens `OUT_DIR` and nothing else.

use std::path::Path;

use serde_json::Value;

use crate::build::{airlock_build, build_test_runs, fixture_copy};

/// The `results.txt` that a conftest fixture's build script leaves in its OUT_DIR: what really
/// ran.
fn conftest_results(ws: &Path) -> String {
    let build = ws.join("target/airlock/build-target/debug/build");
    std::fs::read_dir(&build)
        .unwrap()
        .flatten()
        .map(|e| e.path().join("out/results.txt"))
        .find(|p| p.is_file())
        .map(|p| std::fs::read_to_string(p).unwrap())
        .unwrap_or_else(|| panic!("no results.txt under {}", build.display()))
}

/// The outcome `conftest-exec` recorded for `name` (`ran` or `refused: ...`).
fn conftest_outcome(results: &str, name: &str) -> String {
    results
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} in {results}"))
        .to_owned()
}

fn exec_events<'a>(c: &'a Value, decision: &'a str) -> impl Iterator<Item = &'a Value> {
    c["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(move |e| e["kind"] == "exec" && e["decision"] == decision)
}

airtest!(
    a_program_the_build_compiled_runs_from_out_dir_without_exception,
    |s| {
        if !build_test_runs(&s) {
            return;
        }
        let ws = fixture_copy(&s, "conftest-run", "conftest");
        let b = airlock_build(&ws.join("Cargo.toml"), &["--", "--offline"]);
        assert_eq!(b.code, 0, "stderr:\n{}", b.stderr);
        assert_eq!(b.report["summary"]["build_succeeded"], true);
        let results = conftest_results(&ws);
        assert_eq!(
            results,
            "direct=Ok(Some(42))\nshell=Ok(Some(42))\nscript=Ok(Some(42))\n"
        );
        let c = b.krate("conftest-run");
        assert_eq!(c["verdict"], "clean", "{c:#}");
        assert!(c["exceptions"].as_array().unwrap().is_empty());
        // Both runs are allowed execs from the writable OUT_DIR, each naming the compiler that
        // produced it: the direct one by its absolute path, the shell's by `./conftest2`, whose
        // `-o conftest2` was resolved against the shell's working directory.
        let produced: Vec<&Value> = exec_events(c, "allowed")
            .filter(|e| e["detail"]["writable_dir"] == true)
            .collect();
        assert_eq!(produced.len(), 3, "{:#}", c["events"]);
        for (e, file) in produced.iter().zip(["/out/conftest", "/out/conftest2"]) {
            assert!(
                e["detail"]["resolved"].as_str().unwrap().ends_with(file),
                "{e:#}"
            );
            assert_eq!(e["detail"]["produced_by"]["program"], "cc", "{e:#}");
            assert!(e["detail"]["produced_by"]["pid"].as_i64().unwrap() > 0);
        }
        assert_eq!(produced[1]["detail"]["path"], "./conftest2");
        // The script the crate ships, copied into OUT_DIR: named with its source.
        assert_eq!(produced[2]["detail"]["script"], true, "{:#}", produced[2]);
        assert!(produced[2]["detail"]["copied_from"]
            .as_str()
            .unwrap()
            .ends_with("/conftest/gen.sh"));
    }
);

airtest!(
    a_program_the_build_wrote_itself_is_refused_in_out_dir,
    |s| {
        if !build_test_runs(&s) {
            return;
        }
        let ws = fixture_copy(&s, "conftest-exec", "conftest");
        let b = airlock_build(&ws.join("Cargo.toml"), &["--", "--offline"]);
        assert_eq!(b.code, 1, "stderr:\n{}", b.stderr);
        assert_eq!(b.report["summary"]["build_succeeded"], true);
        // The compiled program ran; nothing the script wrote, copied, rewrote or renamed did.
        let results = conftest_results(&ws);
        assert_eq!(conftest_outcome(&results, "out_dir"), "ran", "{results}");
        for name in [
            "copied",
            "written",
            "script",
            "rewritten",
            "renamed",
            "tmp",
            "memfd",
        ] {
            assert!(
                conftest_outcome(&results, name).starts_with("refused: Permission denied"),
                "{name}: {results}"
            );
        }
        // Swapped in and out under a compiled program's name by another process, the copy never
        // ran.
        let raced = conftest_outcome(&results, "raced");
        assert!(raced.contains(" copied 0 "), "{raced}");
        let c = b.krate("conftest-exec");
        assert_eq!(c["verdict"], "suspicious", "{c:#}");
        let allowed: Vec<&Value> = exec_events(c, "allowed")
            .filter(|e| e["detail"]["writable_dir"] == true)
            .filter(|e| !e["detail"]["path"].as_str().unwrap().contains("raced"))
            .collect();
        assert_eq!(allowed.len(), 1, "{:#}", c["events"]);
        assert_eq!(allowed[0]["detail"]["path"], "./conftest");
        assert_eq!(allowed[0]["detail"]["produced_by"]["program"], "cc");
        let denied: Vec<&Value> = exec_events(c, "denied").collect();
        for name in ["copied", "written", "script.sh", "rewritten", "renamed"] {
            assert!(
                denied
                    .iter()
                    .any(|e| e["detail"]["path"] == format!("./{name}")
                        && e["detail"]["writable_dir"] == true
                        && e["detail"]["resolved"]
                            .as_str()
                            .is_some_and(|r| r.ends_with(&format!("/out/{name}")))
                        && e["detail"]["reason"]
                            .as_str()
                            .is_some_and(|r| r.contains("not produced by a compiler"))),
                "{name}: {denied:#?}"
            );
        }
        assert!(
            denied.iter().any(|e| e["detail"]["path"] == "/tmp/conftest"
                && e["detail"]["reason"] == "not beneath an executable directory"),
            "{denied:#?}"
        );
        assert!(
            denied.iter().any(|e| e["detail"]["fileless"] == true),
            "{denied:#?}"
        );
        // The script went on, so no hint.
        assert!(!b.stderr.contains("exec-out-dir = true"), "{}", b.stderr);
    }
);

airtest!(exec_from_out_dir_is_refused_by_default_with_a_hint, |s| {
    if !build_test_runs(&s) {
        return;
    }
    let ws = fixture_copy(&s, "conftest-exec", "conftest");
    std::fs::write(ws.join("fail-on-refusal"), "").unwrap();
    let b = airlock_build(&ws.join("Cargo.toml"), &["--", "--offline"]);
    assert_eq!(b.code, 1, "stderr:\n{}", b.stderr);
    assert_eq!(b.report["summary"]["build_succeeded"], false);
    // The kernel refused it: the copy never ran, and the script failed as configure does.
    let results = conftest_results(&ws);
    assert!(
        conftest_outcome(&results, "copied").starts_with("refused: Permission denied"),
        "{results}"
    );
    let c = b.krate("conftest-exec");
    assert_eq!(c["verdict"], "suspicious", "{c:#}");
    assert_eq!(c["build_script"]["exit_code"], 1);
    let denied: Vec<&Value> = exec_events(c, "denied").collect();
    assert!(
        denied.iter().any(|e| e["detail"]["path"] == "./copied"
            && e["detail"]["resolved"]
                .as_str()
                .is_some_and(|r| r.ends_with("/out/copied"))),
        "{denied:#?}"
    );
    assert!(c["exceptions"].as_array().unwrap().is_empty());
    // What to do about it, in the report and on stderr.
    let hint = "`[crate.conftest-exec]` with `exec-out-dir = true`";
    assert!(
        c["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r.as_str().unwrap().contains(hint)),
        "{:#}",
        c["reasons"]
    );
    assert!(b.stderr.contains(hint), "{}", b.stderr);
});

airtest!(exec_out_dir_exception_opens_out_dir_only, |s| {
    if !build_test_runs(&s) {
        return;
    }
    let ws = fixture_copy(&s, "conftest-exec", "conftest");
    std::fs::write(
        ws.join("airlock.toml"),
        "[crate.conftest-exec]\nexec-out-dir = true\nreason = \"configure runs ./conftest\"\n",
    )
    .unwrap();
    let b = airlock_build(&ws.join("Cargo.toml"), &["--", "--offline"]);
    // The script's attempts on /tmp and memory are denied, so the crate is still suspicious.
    assert_eq!(b.code, 1, "stderr:\n{}", b.stderr);
    assert_eq!(b.report["summary"]["build_succeeded"], true);
    // Under the exception anything in OUT_DIR runs, compiled or not.
    let results = conftest_results(&ws);
    for name in [
        "out_dir",
        "copied",
        "written",
        "script",
        "rewritten",
        "renamed",
    ] {
        assert_eq!(conftest_outcome(&results, name), "ran", "{name}: {results}");
    }
    assert!(
        conftest_outcome(&results, "tmp").starts_with("refused")
            && conftest_outcome(&results, "memfd").starts_with("refused"),
        "{results}"
    );

    let c = b.krate("conftest-exec");
    assert_eq!(c["verdict"], "suspicious", "{c:#}");
    // Allowed, logged, and marked as coming from a writable directory.
    let allowed: Vec<&Value> = exec_events(c, "allowed")
        .filter(|e| e["detail"]["writable_dir"] == true)
        .collect();
    let allowed: Vec<&Value> = allowed
        .into_iter()
        .filter(|e| !e["detail"]["path"].as_str().unwrap().contains("raced"))
        .collect();
    assert_eq!(allowed.len(), 6, "{:#}", c["events"]);
    assert_eq!(allowed[0]["detail"]["path"], "./conftest");
    assert!(allowed[0]["detail"]["resolved"]
        .as_str()
        .unwrap()
        .ends_with("/out/conftest"));
    // Another writable directory and memory stay non-executable.
    let denied: Vec<&Value> = exec_events(c, "denied").collect();
    assert!(
        denied.iter().any(|e| e["detail"]["path"] == "/tmp/conftest"
            && e["detail"]["reason"] == "not beneath an executable directory"),
        "{denied:#?}"
    );
    assert!(
        denied.iter().any(|e| e["detail"]["fileless"] == true),
        "{denied:#?}"
    );
    // Listed as granted, in every report.
    let granted = &c["exceptions"][0];
    assert_eq!(granted["kind"], "exec-out-dir");
    assert_eq!(granted["reason"], "configure runs ./conftest");
    let md = std::fs::read_to_string(b.report_dir.join("report.md")).unwrap();
    assert!(
        md.contains("conftest-exec 0.1.0: exec-out-dir OUT_DIR (configure runs ./conftest)"),
        "{md}"
    );
    let sarif = std::fs::read_to_string(b.report_dir.join("report.sarif")).unwrap();
    assert!(sarif.contains("airlock/exception/exec-out-dir"), "{sarif}");
    // No hint once the exception is granted.
    assert!(!b.stderr.contains("exec-out-dir = true"), "{}", b.stderr);
});
