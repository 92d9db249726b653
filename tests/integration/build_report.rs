//! Honest build reports: every crate the build compiles is in the report, a crate whose build
//! script or compilation never ran is `not-run` with why, the crate count does not change
//! between identical runs, one program run is one `exec` event, exceptions naming no crate
//! are errors, and `build` writes its reports to its own directory (and none without a
//! manifest).

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::build::{airlock_build, build_test_runs, fixture_copy};
use crate::support::{bin, Scene};

/// Writes a path crate `name` under `ws`: its manifest (with `extra` appended), an empty
/// library and, when given, a build script.
fn path_crate(ws: &Path, name: &str, extra: &str, build_rs: Option<&str>) {
    let dir = ws.join(name);
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(
        dir.join("Cargo.toml"),
        format!(
            "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2021\"\npublish = false\n{extra}"
        ),
    )
    .unwrap();
    std::fs::write(dir.join("src/lib.rs"), "").unwrap();
    if let Some(script) = build_rs {
        std::fs::write(dir.join("build.rs"), script).unwrap();
    }
}

/// A workspace whose build stops: `broken-sys`'s build script fails; `needs-broken` depends on
/// it (never compiled); `script-after` needs it to build its build script (which never runs);
/// `independent` builds beside them; `devonly` is a dev-dependency (not part of the build).
fn stopping_workspace(s: &Scene) -> std::path::PathBuf {
    let ws = s.path("stops");
    std::fs::create_dir_all(ws.join("src")).unwrap();
    std::fs::write(
        ws.join("Cargo.toml"),
        "[package]\nname = \"app\"\nversion = \"0.1.0\"\nedition = \"2021\"\npublish = false\n\n\
         [dependencies]\nneeds-broken = { path = \"needs-broken\" }\n\
         script-after = { path = \"script-after\" }\nindependent = { path = \"independent\" }\n\n\
         [dev-dependencies]\ndevonly = { path = \"devonly\" }\n\n[workspace]\n",
    )
    .unwrap();
    std::fs::write(ws.join("src/lib.rs"), "").unwrap();
    path_crate(
        &ws,
        "broken-sys",
        "",
        Some("fn main() { eprintln!(\"no libbroken here\"); std::process::exit(3); }\n"),
    );
    path_crate(
        &ws,
        "needs-broken",
        "[dependencies]\nbroken-sys = { path = \"../broken-sys\" }\n",
        None,
    );
    path_crate(
        &ws,
        "script-after",
        "[build-dependencies]\nneeds-broken = { path = \"../needs-broken\" }\n",
        Some("fn main() {}\n"),
    );
    // Slow enough that cargo without --keep-going would stop before it finished.
    path_crate(
        &ws,
        "independent",
        "",
        Some("fn main() { std::thread::sleep(std::time::Duration::from_millis(1500)); println!(\"cargo:rustc-cfg=independent_ran\"); }\n"),
    );
    path_crate(&ws, "devonly", "", None);
    ws
}

/// The report's crates as `name verdict`, in order.
fn verdicts(report: &Value) -> Vec<String> {
    report["crates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            format!(
                "{} {}",
                c["name"].as_str().unwrap(),
                c["verdict"].as_str().unwrap()
            )
        })
        .collect()
}

airtest!(
    a_stopped_build_reports_every_crate_and_what_never_ran,
    |s| {
        if !build_test_runs(&s) {
            return;
        }
        let ws = stopping_workspace(&s);
        let b = airlock_build(&ws.join("Cargo.toml"), &["--", "--offline"]);
        assert_eq!(b.code, 2, "{}", b.stderr);
        assert_eq!(
            verdicts(&b.report),
            [
                "app not-run",
                "broken-sys failed",
                "independent clean",
                "needs-broken not-run",
                "script-after not-run"
            ],
            "{:#}",
            b.report
        );
        // --keep-going: the script beside the failure ran.
        assert_eq!(b.krate("independent")["build_script"]["status"], "ran");
        let reasons = |name: &str| -> Vec<String> {
            b.krate(name)["reasons"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r.as_str().unwrap().to_owned())
                .collect()
        };
        assert_eq!(
            reasons("needs-broken"),
            ["never compiled: the build stopped before it (see the errors)"]
        );
        assert_eq!(
            reasons("script-after"),
            [
                "build script never ran: the build stopped before it (see the errors)",
                "never compiled: the build stopped before it (see the errors)"
            ]
        );
        assert_eq!(b.krate("script-after")["build_script"]["status"], "not-run");
        let summary = &b.report["summary"];
        assert_eq!(
            (
                &summary["crates"],
                &summary["clean"],
                &summary["failed"],
                &summary["not_run"]
            ),
            (&5.into(), &1.into(), &1.into(), &3.into()),
            "{summary:#}"
        );
        assert!(
            b.stderr.contains(
                "airlock: building 5 crates; the build scripts and proc macros of 3 run sandboxed"
            ),
            "{}",
            b.stderr
        );
        assert!(
            b.stderr
                .contains("5 crates: 1 clean, 0 suspicious, 1 failed, 3 not run"),
            "{}",
            b.stderr
        );
        let md = std::fs::read_to_string(b.report_dir.join("report.md")).unwrap();
        assert!(
            md.contains("needs-broken") && md.contains("not-run"),
            "{md}"
        );

        // The same build again: the same crates.
        let again = airlock_build(&ws.join("Cargo.toml"), &["--", "--offline"]);
        assert_eq!(
            verdicts(&again.report),
            verdicts(&b.report),
            "{}",
            again.stderr
        );
    }
);

airtest!(one_program_run_is_one_exec_event_with_its_candidates, |s| {
    if !build_test_runs(&s) {
        return;
    }
    let ws = fixture_copy(&s, "evil-exec", "exec");
    let b = airlock_build(&ws.join("Cargo.toml"), &["--", "--offline"]);
    assert_eq!(b.code, 1, "{}", b.stderr);
    let c = b.krate("evil-exec");
    let runs = |program: &str| -> Vec<Value> {
        c["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["kind"] == "exec" && e["detail"]["argv"][0] == program)
            .cloned()
            .collect()
    };
    // `Command::new("curl")` and `sh -c "wget ..."`: one attempt each, whatever PATH holds.
    for program in ["curl", "wget"] {
        let events = runs(program);
        assert_eq!(events.len(), 1, "{program}: {events:#?}");
        let e = &events[0];
        assert_eq!(e["detail"]["network_tool"], true, "{e:#}");
        let Some(tried) = e["detail"]["candidates"].as_array() else {
            // Found at the first PATH entry: nothing else was tried.
            assert!(e["detail"].get("found").is_none(), "{e:#}");
            continue;
        };
        assert_eq!(tried.last(), Some(&e["detail"]["path"]), "{e:#}");
        assert!(
            tried
                .iter()
                .all(|p| p.as_str().unwrap().ends_with(&format!("/{program}"))),
            "{e:#}"
        );
        let md = std::fs::read_to_string(b.report_dir.join("report.md")).unwrap();
        assert!(md.contains("candidates="), "{md}");
        if e["detail"]["found"] == false {
            assert!(md.contains("found=false"), "the flag is rendered: {md}");
        }
    }
});

airtest!(an_exception_for_no_crate_of_the_graph_is_an_error, |s| {
    if !build_test_runs(&s) {
        return;
    }
    let ws = fixture_copy(&s, "innocent", "stray");
    std::fs::write(
        ws.join("airlock.toml"),
        "[crate.inocent]\nnet = true\n\n[crate.nothing-like-it]\nread = [\"/opt\"]\n",
    )
    .unwrap();
    let b = airlock_build(&ws.join("Cargo.toml"), &["--", "--offline"]);
    assert_eq!(b.code, 2, "{}", b.stderr);
    assert!(
        b.stderr.contains(
            "airlock.toml:1:8: [crate.inocent] names no crate of the dependency graph; did you mean `innocent`?"
        ),
        "{}",
        b.stderr
    );
    assert!(
        b.stderr
            .contains("airlock.toml:4:8: [crate.nothing-like-it] names no crate"),
        "every problem at once: {}",
        b.stderr
    );
    assert!(b.report["crates"].as_array().unwrap().is_empty());
});

airtest!(
    manifest_path_may_be_the_directory_and_reports_go_to_target_airlock_build,
    |s| {
        if !build_test_runs(&s) {
            return;
        }
        let ws = fixture_copy(&s, "innocent", "dir");
        let out = Command::new(bin())
            .args(["build", "--manifest-path"])
            .arg(&ws)
            .args(["--", "--offline"])
            .env("CI", "true")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{stderr}");
        let report: Value = serde_json::from_str(
            &std::fs::read_to_string(ws.join("target/airlock/build/report.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(verdicts(&report), ["innocent clean"]);
        assert_eq!(report["command"], "build");
        assert!(
            !ws.join("target/airlock/report.json").exists(),
            "the shared directory is left to no command"
        );
        assert!(stderr.contains("target/airlock/build"), "{stderr}");
    }
);

airtest!(a_missing_manifest_writes_no_report, |s| {
    if !build_test_runs(&s) {
        return;
    }
    let cwd = s.path("empty");
    std::fs::create_dir_all(&cwd).unwrap();
    let out = Command::new(bin())
        .arg("build")
        .current_dir(&cwd)
        .env("CI", "true")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("does not exist") && stderr.contains("--manifest-path"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_dir(&cwd).unwrap().count(),
        0,
        "nothing written into the current directory"
    );
});
