//! Bad input and the commands' contracts: exit 2 with a message that names the problem and the
//! fix, never a panic.

use std::process::Command;

use crate::support::bin;

fn airlock(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(bin()).args(args).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!stderr.contains("panicked"), "panic: {stderr}");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr,
    )
}

#[test]
fn sandbox_without_a_command_exits_2() {
    let (code, _, err) = airlock(&["sandbox"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("no command given") && err.contains("--"),
        "{err}"
    );
}

#[test]
fn unknown_profile_exits_2_and_lists_the_builtins() {
    let (code, _, err) = airlock(&["sandbox", "--profile", "nosuch", "--", "true"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("no profile named `nosuch`") && err.contains("`build`"),
        "{err}"
    );
}

#[test]
fn malformed_profile_points_at_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(
        &path,
        "[profile]\nname = \"bad\"\ncompatibility = \"required\"\nlandlock-abi = 7\n\n[[read]]\npath = \"/usr\"\nreason = \"x\"\nrecurse = true\n",
    )
    .unwrap();
    let (code, _, err) = airlock(&["sandbox", "--profile", path.to_str().unwrap(), "--", "true"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("bad.toml:") && err.contains("recurse"),
        "{err}"
    );
}

#[test]
fn missing_write_dir_exits_2() {
    let (code, _, err) = airlock(&[
        "sandbox",
        "--write",
        "/nonexistent/airlock-out",
        "--",
        "true",
    ]);
    assert_eq!(code, 2);
    assert!(
        err.contains("/nonexistent/airlock-out") && err.contains("does not exist"),
        "{err}"
    );
}

#[test]
fn unknown_command_exits_2() {
    let (code, _, err) = airlock(&["sandbox", "--", "airlock-no-such-program"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("cannot find `airlock-no-such-program`"),
        "{err}"
    );
}

#[test]
fn bad_duration_is_a_usage_error() {
    let (code, _, err) = airlock(&["sandbox", "--timeout", "soon", "--", "true"]);
    assert_eq!(code, 2);
    assert!(err.contains("soon"), "{err}");
}

#[test]
fn doctor_reports_every_layer() {
    let (code, out, _) = airlock(&["doctor", "--json"]);
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["enforceable"], code == 0);
    assert!(report["support"]["landlock_abi"].is_number() || code == 2);
    // Everything the text shows is in the JSON too.
    for key in [
        "user",
        "uid",
        "landlock_ok",
        "profile_landlock_abi",
        "process_limit",
        "memory_limit",
        "nightly",
        "missing",
    ] {
        assert!(report.get(key).is_some(), "no {key}: {report:#}");
    }
    for set in [
        "effective",
        "permitted",
        "inheritable",
        "ambient",
        "bounding",
    ] {
        assert!(
            report["capabilities"][set].is_array(),
            "capabilities.{set}: {report:#}"
        );
    }
    for kind in ["user", "mount", "pid", "net", "ipc", "uts"] {
        assert_eq!(
            report["namespaces"][kind], report["support"]["user_namespaces"],
            "namespaces.{kind}: {report:#}"
        );
    }
    let (_, text, _) = airlock(&["doctor"]);
    for key in ["process_limit", "memory_limit", "user"] {
        let value = report[key].as_str().unwrap();
        assert!(
            text.contains(value),
            "{key} `{value}` not in the text:\n{text}"
        );
    }
    assert!(
        text.contains("namespaces          user, mount, pid, net, ipc, uts"),
        "{text}"
    );
    let effective_none = report["capabilities"]["effective"]
        .as_array()
        .is_some_and(Vec::is_empty);
    assert_eq!(
        text.contains("capabilities        effective none;"),
        effective_none,
        "{text}"
    );
    assert!(text.contains(&format!("(uid {})", report["uid"])), "{text}");
    if let Ok(expected) = std::env::var("AIRLOCK_TEST_LANDLOCK_ABI") {
        // Kernel tests fail loudly when the machine is not the one they were written for.
        assert_eq!(
            report["support"]["landlock_abi"].to_string(),
            expected,
            "unexpected Landlock ABI"
        );
    }
}

#[test]
fn cargo_subcommand_form_is_accepted() {
    // cargo runs `cargo-airlock airlock doctor` for `cargo airlock doctor`.
    let (code, out, _) = airlock(&["airlock", "doctor"]);
    assert!(code == 0 || code == 2);
    assert!(out.contains("landlock"));
}

/// Runs `cargo-airlock ARGS` inside a user namespace whose own limit forbids creating further
/// user namespaces: a real kernel without one of the sandbox's layers, made for this test only.
fn airlock_without_user_namespaces(args: &str) -> (i32, String) {
    let script = format!(
        "echo 0 > /proc/sys/user/max_user_namespaces && exec {} {args}",
        bin()
    );
    let out = Command::new("unshare")
        .args(["--user", "--map-root-user", "sh", "-c", &script])
        .output()
        .expect("unshare runs");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!stderr.contains("panicked"), "panic: {stderr}");
    (out.status.code().unwrap_or(-1), stderr)
}

#[test]
fn a_missing_layer_refuses_to_run_and_names_the_fix() {
    let (code, err) = airlock_without_user_namespaces("sandbox -- true");
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("user namespaces") && err.contains("--allow-degraded"),
        "{err}"
    );
    let (code, _) = airlock_without_user_namespaces("doctor");
    assert_eq!(code, 2);
}

#[test]
fn allow_degraded_runs_and_says_so() {
    let (code, err) = airlock_without_user_namespaces("sandbox --allow-degraded -- true");
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("DEGRADED"), "{err}");
    assert!(
        !err.contains("survivors"),
        "no false survivors without a PID namespace: {err}"
    );
}

/// `fuzz export clusterfuzzlite` on bad input exits 2 and names the fix; it never overwrites a
/// file it did not write, and it replaces its own. (The export's build.sh is built and run in
/// `tests/fuzz_build`.)
#[test]
fn fuzz_export_refuses_bad_input_and_foreign_files() {
    let (code, _, err) = airlock(&[
        "fuzz",
        "export",
        "clusterfuzzlite",
        "--dir",
        "/nonexistent/fuzz-airlock",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("cargo airlock gen"), "{err}");
    let (code, _, err) = airlock(&["fuzz", "--time", "1s", "export", "clusterfuzzlite"]);
    assert_eq!(code, 2, "campaign flags and export do not mix: {err}");

    let repo = tempfile::tempdir().unwrap();
    let project = repo.path().join("fuzz-airlock");
    std::fs::create_dir_all(&project).unwrap();
    std::fs::write(
        project.join("Cargo.toml"),
        "[package]\nname = \"x-fuzz\"\nversion = \"0.0.0\"\n",
    )
    .unwrap();
    std::fs::write(
        project.join("targets.json"),
        r#"[{"name":"de_x","package":"x","kind":"deserialize","item":"x::X","format":"json","status":"built","reason":null,"libfuzzer":{"max_len":4096}}]"#,
    )
    .unwrap();
    let dir = project.to_str().unwrap();
    let (code, _, err) = airlock(&[
        "fuzz",
        "export",
        "clusterfuzzlite",
        "--dir",
        dir,
        "--target",
        "nope",
    ]);
    assert_eq!(code, 2);
    assert!(
        err.contains("nope") && err.contains("targets.json"),
        "{err}"
    );
    let (code, _, err) = airlock(&[
        "fuzz",
        "export",
        "clusterfuzzlite",
        "--dir",
        dir,
        "--shard",
        "3/2",
    ]);
    assert_eq!(code, 2, "{err}");

    let mine = repo.path().join(".clusterfuzzlite/build.sh");
    std::fs::create_dir_all(mine.parent().unwrap()).unwrap();
    std::fs::write(&mine, "#!/bin/sh\n# hand-written\n").unwrap();
    let (code, _, err) = airlock(&["fuzz", "export", "clusterfuzzlite", "--dir", dir]);
    assert_eq!(code, 2);
    assert!(err.contains("was not written by"), "{err}");
    assert_eq!(
        std::fs::read_to_string(&mine).unwrap(),
        "#!/bin/sh\n# hand-written\n"
    );
    assert!(
        !repo.path().join(".clusterfuzzlite/Dockerfile").exists(),
        "nothing half exported"
    );

    std::fs::remove_file(&mine).unwrap();
    for _ in 0..2 {
        let (code, _, err) = airlock(&["fuzz", "export", "clusterfuzzlite", "--dir", dir]);
        assert_eq!(code, 0, "{err}");
    }
    let script = std::fs::read_to_string(&mine).unwrap();
    assert!(
        script.contains("TARGETS=('de_x')") && script.contains("max_len = 4096"),
        "{script}"
    );
    let ignore = std::fs::read_to_string(repo.path().join(".dockerignore")).unwrap();
    let patterns: Vec<&str> = ignore.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(patterns, ["**/target/", ".git/"], "{ignore}");
    assert!(
        !repo.path().join(".github").exists(),
        "the workflow only with --workflow"
    );
}

/// The `: `-separated segments of an error line (after its `error: ` prefix) that repeat: one
/// that appears again, alone or inside a later segment, as a cause printed both in its
/// error's own message and again as that error's `source()` does.
fn repeated_segments(line: &str) -> Vec<String> {
    let message = line.split_once("error: ").map_or(line, |(_, m)| m);
    let segments: Vec<&str> = message.split(": ").map(str::trim).collect();
    let mut repeated = Vec::new();
    for (i, seg) in segments.iter().enumerate() {
        if seg.is_empty() {
            continue;
        }
        let again = segments
            .iter()
            .enumerate()
            .any(|(j, other)| i != j && (other == seg || (j < i && other.contains(seg))));
        if again && !repeated.iter().any(|r| r == seg) {
            repeated.push((*seg).to_owned());
        }
    }
    repeated
}

#[test]
fn repeated_segments_finds_a_cause_printed_twice() {
    let doubled = "cargo-airlock: error: cannot read report r.json: No such file or directory \
                   (os error 2): No such file or directory (os error 2)";
    assert_eq!(
        repeated_segments(doubled),
        ["No such file or directory (os error 2)"]
    );
    let inside = "error: no project in d: No such file or directory (os error 2). Run gen \
                  first: No such file or directory (os error 2)";
    assert_eq!(
        repeated_segments(inside),
        ["No such file or directory (os error 2)"]
    );
    let once = "cargo-airlock: error: cannot read report r.json: No such file or directory";
    assert!(repeated_segments(once).is_empty());
}

/// Every user-facing error on bad input: exit 2, no panic or backtrace, and no part of the
/// message printed twice. All inputs are tried and every failure is listed at once.
#[test]
fn no_user_facing_error_repeats_itself() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let a_dir = d.join("a-directory");
    std::fs::create_dir(&a_dir).unwrap();
    let not_json = d.join("not-json.json");
    std::fs::write(&not_json, "not json").unwrap();
    let (a_dir, not_json) = (a_dir.to_str().unwrap(), not_json.to_str().unwrap());
    let missing = d.join("missing");
    let missing = missing.to_str().unwrap();
    let missing_report = format!("{missing}/report.json");
    let missing_manifest = format!("{missing}/Cargo.toml");
    let missing_profile = format!("{missing}/profile.toml");
    let missing_events = format!("{missing}/events.jsonl");
    let cases: Vec<Vec<&str>> = vec![
        vec!["report", &missing_report],
        vec!["report", a_dir],
        vec!["report", not_json],
        vec!["build", "--manifest-path", &missing_manifest],
        vec!["build", "--manifest-path", a_dir],
        vec!["gen", "--no-compile", "--manifest-path", &missing_manifest],
        vec!["gen", "--no-compile", "--manifest-path", a_dir],
        vec!["sandbox", "--", "./does-not-exist"],
        vec!["sandbox", "--profile", &missing_profile, "--", "true"],
        vec!["sandbox", "--profile", a_dir, "--", "true"],
        vec!["sandbox", "--timeout", "soon", "--", "true"],
        vec!["sandbox", "--events", &missing_events, "--", "true"],
        vec!["sandbox", "--events", a_dir, "--", "true"],
        vec!["sandbox", "--write", not_json, "--", "true"],
        vec!["fuzz", "--dir", missing],
        vec!["fuzz", "--dir", a_dir],
        vec!["fuzz", "export", "clusterfuzzlite", "--dir", missing],
        vec!["repro", "Fdeadbeef", "--report", &missing_report],
        vec!["repro", "Fdeadbeef", "--report", not_json],
        vec!["vet", "foo@@1"],
        vec!["vet", "foo@notaversion"],
        vec!["vet", "foo", "--registry", "nosuch"],
        vec!["vet", "foo", "--phases", "bild"],
        vec!["vet", "foo", "--time", "soon"],
    ];
    let mut failures = Vec::new();
    for args in &cases {
        let out = Command::new(bin())
            .args(args)
            .current_dir(d)
            .env_remove("RUST_BACKTRACE")
            .output()
            .unwrap();
        let code = out.status.code().unwrap_or(-1);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let command = format!("cargo-airlock {}", args.join(" "));
        if code != 2 {
            failures.push(format!("{command}: exit {code}, not 2: {stderr}"));
        }
        if ["panicked", "RUST_BACKTRACE", "stack backtrace"]
            .iter()
            .any(|p| stderr.contains(p))
        {
            failures.push(format!("{command}: a panic: {stderr}"));
        }
        let lines: Vec<&str> = stderr.lines().filter(|l| l.contains("error: ")).collect();
        if lines.is_empty() {
            failures.push(format!("{command}: no error line: {stderr}"));
        }
        for line in lines {
            let repeated = repeated_segments(line);
            if !repeated.is_empty() {
                failures.push(format!("{command}: {repeated:?} repeated in `{line}`"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} bad inputs:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
