//! `cargo airlock build` on the malicious fixture workspace (`tests/fixtures/build`): every
//! attacking crate is judged suspicious with the right events, nothing it attempted happened,
//! and the innocent crates of the same build are unaffected. Also bad input: exit 2, a clear
//! message, and a report saying what went wrong.

use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::common::{copy_tree, fixture};
use crate::support::{bin, Scene};

/// Copies the fixture workspace into the scene (as `ws/`).
fn workspace_copy(scene: &Scene) -> PathBuf {
    let dst = scene.path("ws");
    copy_tree(&fixture("build"), &dst);
    dst
}

/// What one `cargo airlock build` did.
pub(crate) struct Build {
    pub(crate) code: i32,
    pub(crate) stderr: String,
    pub(crate) report: Value,
    pub(crate) report_dir: PathBuf,
}

/// The switch that skips the build tests (they need a toolchain this user can run).
const SKIP_SWITCH: &str = "AIRLOCK_TEST_SKIP_BUILD";

/// Whether the build test of `scene` runs: yes, unless [`SKIP_SWITCH`] is set, in which case the
/// skip is written to the real stderr (past the harness's capture, so it shows in every run)
/// as `airlock-test: SKIPPED ...`, one line per test, for a caller to count. Without the
/// switch, a toolchain this user cannot run fails the test: it never passes untested.
pub(crate) fn build_test_runs(scene: &Scene) -> bool {
    let test = &scene.name;
    if std::env::var_os(SKIP_SWITCH).is_some() {
        // One write, so that the line stays whole between the harness's own output.
        let line = format!("\nairlock-test: SKIPPED {test} ({SKIP_SWITCH} is set)\n");
        let _ = std::io::stderr().write_all(line.as_bytes());
        return false;
    }
    let cargo = Command::new("cargo").arg("-V").output();
    assert!(
        cargo.as_ref().is_ok_and(|o| o.status.success()),
        "{test}: `cargo -V` does not run for this user ({cargo:?}); the build tests need a \
         toolchain (set {SKIP_SWITCH}=1 to skip them visibly)"
    );
    true
}

/// A copy of the build fixture `fixture` in the scene's directory `dir`, to edit freely.
pub(crate) fn fixture_copy(s: &Scene, fixture: &str, dir: &str) -> PathBuf {
    let ws = s.path(dir);
    copy_tree(&crate::common::fixture(&format!("build/{fixture}")), &ws);
    ws
}

/// Runs `cargo airlock build` on `manifest` with `extra` arguments.
pub(crate) fn airlock_build(manifest: &Path, extra: &[&str]) -> Build {
    let report_dir = manifest.parent().unwrap().join("target/airlock/build");
    let out = Command::new(bin())
        .arg("build")
        .arg("--manifest-path")
        .arg(manifest)
        .args(extra)
        .env("CI", "true")
        .output()
        .expect("cargo-airlock runs");
    let report = std::fs::read_to_string(report_dir.join("report.json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(Value::Null);
    Build {
        code: out.status.code().unwrap_or(-1),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        report,
        report_dir,
    }
}

impl Build {
    /// The report entry of crate `name`.
    pub(crate) fn krate(&self, name: &str) -> &Value {
        self.report["crates"]
            .as_array()
            .and_then(|cs| cs.iter().find(|c| c["name"] == name))
            .unwrap_or_else(|| panic!("no crate {name} in the report; stderr:\n{}", self.stderr))
    }

    /// Asserts `name` is suspicious with an event of kind/action/decision whose detail `key`
    /// contains `needle` (any detail when `key` is empty).
    #[track_caller]
    fn expect(
        &self,
        name: &str,
        kind: &str,
        action: &str,
        decision: &str,
        key: &str,
        needle: &str,
    ) {
        let c = self.krate(name);
        assert_eq!(c["verdict"], "suspicious", "{name}: {c:#}");
        let found = c["events"].as_array().unwrap().iter().any(|e| {
            e["kind"] == kind
                && e["action"] == action
                && e["decision"] == decision
                && (key.is_empty()
                    || e["detail"][key].as_str().map_or_else(
                        || e["detail"][key].to_string().contains(needle),
                        |s| s.contains(needle),
                    ))
        });
        assert!(
            found,
            "{name}: no {kind}/{action} {decision} with {key}~{needle:?}: {:#}",
            c["events"]
        );
        assert!(
            c["events"]
                .as_array()
                .unwrap()
                .iter()
                .all(|e| e["crate"].as_str().unwrap_or("").contains(name)),
            "{name}: an event is attributed elsewhere"
        );
    }
}

/// A registry source directory of this user's cargo home (`registry/src/<index>`), which the
/// `evil-registry` fixture tries to write into. Building this repository filled one; a cargo
/// home without it (a fresh one for another user) fails the test rather than skip the check.
fn registry_src() -> PathBuf {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .expect("CARGO_HOME or HOME is set");
    std::fs::read_dir(home.join("registry/src"))
        .ok()
        .and_then(|dir| dir.flatten().map(|e| e.path()).next())
        .unwrap_or_else(|| {
            panic!(
                "no registry source directory under {}: the evil-registry check needs one",
                home.display()
            )
        })
}

fn sysroot() -> PathBuf {
    let out = Command::new("rustc")
        .args(["--print", "sysroot"])
        .output()
        .unwrap();
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

airtest!(malicious_crates_are_suspicious_and_contained, |s| {
    if !build_test_runs(&s) {
        return;
    }
    let ws = workspace_copy(&s);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let target = listener.local_addr().unwrap().to_string();
    for c in [
        "evil-net",
        "evil-exec",
        "evil-detached",
        "macro-user",
        "ctor-user",
    ] {
        std::fs::write(ws.join(c).join("target.txt"), &target).unwrap();
    }
    let registry = registry_src();
    std::fs::write(
        ws.join("evil-registry/target.txt"),
        registry.to_string_lossy().as_bytes(),
    )
    .unwrap();
    std::fs::create_dir_all(ws.join(".git/hooks")).unwrap();

    let b = airlock_build(&ws.join("Cargo.toml"), &["--", "--offline"]);
    assert_eq!(b.code, 1, "stderr:\n{}", b.stderr);
    assert_eq!(b.report["schema"], "airlock.report/1");
    assert_eq!(b.report["summary"]["build_succeeded"], true);

    // Each attack, recorded and attributed.
    b.expect("evil-net", "net", "connect", "denied", "address", &target);
    b.expect("evil-net", "net", "dns", "denied", "", "");
    b.expect(
        "evil-exec",
        "exec",
        "exec",
        "allowed",
        "network_tool",
        "true",
    );
    b.expect(
        "evil-secrets",
        "leak",
        "decoy-read",
        "flagged",
        "decoy",
        "ssh-key",
    );
    b.expect(
        "evil-secrets",
        "leak",
        "decoy-output",
        "flagged",
        "location",
        "loot.txt",
    );
    b.expect(
        "evil-ci",
        "leak",
        "decoy-output",
        "flagged",
        "location",
        "directives",
    );
    b.expect(
        "evil-link",
        "directive",
        "rustc-link-search",
        "flagged",
        "line",
        "/opt/airlock-evil",
    );
    b.expect(
        "evil-link",
        "directive",
        "rustc-link-arg",
        "flagged",
        "reason",
        "redirects symbols",
    );
    b.expect(
        "evil-link",
        "directive",
        "rustc-env",
        "flagged",
        "line",
        "LD_PRELOAD",
    );
    b.expect(
        "evil-indent",
        "directive",
        "rustc-link-arg",
        "flagged",
        "reason",
        "rpath",
    );
    b.expect("evil-detached", "limit", "survivors", "denied", "", "");
    b.expect(
        "evil-detached",
        "exec",
        "exec",
        "allowed",
        "network_tool",
        "true",
    );
    b.expect(
        "evil-registry",
        "fs",
        "create",
        "denied",
        "path",
        "airlock-pwned-registry",
    );
    b.expect(
        "evil-sibling",
        "fs",
        "write",
        "denied",
        "path",
        "generated.rs",
    );
    b.expect(
        "evil-toolchain",
        "fs",
        "create",
        "denied",
        "path",
        "airlock-pwned-toolchain",
    );
    b.expect(
        "evil-githook",
        "fs",
        "create",
        "denied",
        "path",
        ".git/hooks/pre-commit",
    );
    b.expect(
        "evil-macro",
        "leak",
        "decoy-read",
        "flagged",
        "decoy",
        "ssh-key",
    );
    b.expect("evil-macro", "net", "connect", "denied", "address", &target);
    let m = b.krate("evil-macro");
    assert!(
        m["events"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["phase"] == "proc-macro"),
        "{m:#}"
    );

    // A proc macro's constructor runs in every compilation that loads the macro's library,
    // also two steps downstream of its user (rustc loads the whole graph's proc macros): that
    // compilation ran sandboxed, and the attempt is the macro's.
    b.expect("ctor-macro", "net", "connect", "denied", "address", &target);

    // The bystanders: clean, their build script ran in the sandbox, their output intact.
    for name in ["innocent", "macro-user", "ctor-mid", "ctor-user"] {
        let c = b.krate(name);
        assert_eq!(c["verdict"], "clean", "{name}: {c:#}");
    }
    let innocent = b.krate("innocent");
    assert_eq!(innocent["build_script"]["status"], "ran");
    assert!(innocent["directives"]
        .as_array()
        .unwrap()
        .iter()
        .any(|d| d["key"] == "rustc-cfg"));
    let build_dir = ws.join("target/airlock/build-target/debug/build");
    let out = std::fs::read_dir(&build_dir)
        .unwrap()
        .flatten()
        .map(|e| e.path().join("out"))
        .find(|p| p.join("generated.rs").exists())
        .expect("innocent's OUT_DIR");
    assert_eq!(
        std::fs::read_to_string(out.join("generated.rs")).unwrap(),
        "pub const ANSWER: u32 = 42;\n"
    );
    assert!(!out.join("pwned.txt").exists());

    // Nothing happened.
    assert!(
        listener.accept().is_err(),
        "a connection reached the test's listener"
    );
    assert!(!ws.join(".git/hooks/pre-commit").exists());
    let planted = sysroot().join("lib/rustlib/airlock-pwned-toolchain");
    let in_toolchain = planted.exists();
    let _ = std::fs::remove_file(&planted);
    assert!(!in_toolchain, "the toolchain was written");
    let planted = registry.join("airlock-pwned-registry.rs");
    let present = planted.exists();
    let _ = std::fs::remove_file(&planted);
    assert!(!present, "the registry was written");

    // Reports in every format, and the CI-style one line per step.
    for f in ["report.json", "report.md", "report.sarif"] {
        assert!(b.report_dir.join(f).is_file(), "{f} missing");
    }
    let md = std::fs::read_to_string(b.report_dir.join("report.md")).unwrap();
    assert!(md.contains("evil-net 0.1.0 — suspicious"), "{md}");
    assert!(
        b.stderr
            .contains("build script of innocent 0.1.0 ran clean"),
        "{}",
        b.stderr
    );
    let html = Command::new(bin())
        .args(["report", "--format", "html"])
        .arg(b.report_dir.join("report.json"))
        .output()
        .unwrap();
    assert!(html.status.success());
    assert!(String::from_utf8_lossy(&html.stdout).contains("<html>"));
});

airtest!(a_clean_workspace_exits_0, |s| {
    if !build_test_runs(&s) {
        return;
    }
    let ws = fixture_copy(&s, "innocent", "clean");
    let b = airlock_build(&ws.join("Cargo.toml"), &["--", "--offline"]);
    assert_eq!(b.code, 0, "stderr:\n{}", b.stderr);
    assert_eq!(b.krate("innocent")["verdict"], "clean");
    assert_eq!(b.report["summary"]["build_scripts_run"], 1);
});

airtest!(missing_manifest_exits_2_with_a_clear_message, |s| {
    if !build_test_runs(&s) {
        return;
    }
    let b = airlock_build(&s.path("nowhere/Cargo.toml"), &[]);
    assert_eq!(b.code, 2, "{}", b.stderr);
    assert!(
        b.stderr.contains("does not exist") && b.stderr.contains("--manifest-path"),
        "{}",
        b.stderr
    );
    assert!(!b.stderr.contains("panicked"));
});

airtest!(malformed_manifest_exits_2_and_still_writes_a_report, |s| {
    if !build_test_runs(&s) {
        return;
    }
    let ws = s.path("bad");
    std::fs::create_dir_all(&ws).unwrap();
    std::fs::write(ws.join("Cargo.toml"), "[package\nname = ").unwrap();
    let b = airlock_build(&ws.join("Cargo.toml"), &[]);
    assert_eq!(b.code, 2, "{}", b.stderr);
    assert!(b.stderr.contains("Cargo.toml"), "{}", b.stderr);
    assert!(
        b.report["errors"][0]
            .as_str()
            .unwrap()
            .contains("cargo metadata"),
        "{:#}",
        b.report
    );
});

airtest!(
    a_build_that_fails_on_its_own_exits_2_and_reports_the_crate,
    |s| {
        if !build_test_runs(&s) {
            return;
        }
        let ws = fixture_copy(&s, "innocent", "broken");
        std::fs::write(
            ws.join("build.rs"),
            "fn main() { eprintln!(\"no libfoo here\"); std::process::exit(3); }\n",
        )
        .unwrap();
        let b = airlock_build(&ws.join("Cargo.toml"), &["--", "--offline"]);
        assert_eq!(b.code, 2, "{}", b.stderr);
        assert!(b.stderr.contains("cargo build` failed"), "{}", b.stderr);
        let c = b.krate("innocent");
        assert_eq!(c["verdict"], "failed");
        assert_eq!(c["build_script"]["exit_code"], 3);
    }
);

airtest!(bad_airlock_toml_exits_2_naming_the_file, |s| {
    if !build_test_runs(&s) {
        return;
    }
    let ws = fixture_copy(&s, "innocent", "cfg");
    std::fs::write(
        ws.join("airlock.toml"),
        "[crate.innocent]\nwrite_everything = true\n",
    )
    .unwrap();
    let b = airlock_build(&ws.join("Cargo.toml"), &["--", "--offline"]);
    assert_eq!(b.code, 2, "{}", b.stderr);
    assert!(
        b.stderr.contains("airlock.toml") && b.stderr.contains("write_everything"),
        "{}",
        b.stderr
    );
});

airtest!(exceptions_are_granted_and_listed, |s| {
    if !build_test_runs(&s) {
        return;
    }
    let ws = fixture_copy(&s, "evil-net", "exc");
    std::fs::write(ws.join("airlock.toml"), "[crate.evil-net]\nnet = true\nread = [\"/usr/share\"]\nreason = \"talks to a test server\"\n").unwrap();
    let b = airlock_build(&ws.join("Cargo.toml"), &["--", "--offline"]);
    assert_eq!(b.code, 0, "{}", b.stderr);
    let c = b.krate("evil-net");
    assert_eq!(c["verdict"], "clean", "{c:#}");
    let kinds: Vec<&str> = c["exceptions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["read", "net"]);
    assert!(
        c["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "net"),
        "still recorded"
    );
});
