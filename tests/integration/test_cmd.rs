//! `cargo airlock test` on the fixtures of `tests/fixtures/runtime-test`: a payload in a unit
//! test's code path, in an integration test only, in a doc test, and one gated on `GITLAB_CI`
//! each make their crate suspicious with the event that shows it, attributed to the test
//! program that ran it; tests doing what ordinary tests do (a loopback server of their own,
//! `sh` and `git`, temporary files, PATH and HOME) stay clean; a failing test is a failed test,
//! not a finding; a hanging one is stopped at `--test-timeout`; tests that do not compile, and
//! a missing manifest, exit 2. Every attempt aims at 127.0.0.1:9 inside the run's private
//! loopback.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::build::build_test_runs;
use crate::common::{copy_tree, fixture};
use crate::support::{bin, Scene};

/// What one `cargo airlock test` did.
struct TestCmd {
    code: i32,
    stdout: String,
    stderr: String,
    report: Value,
}

impl TestCmd {
    /// The report entry of crate `name`.
    fn krate(&self, name: &str) -> &Value {
        self.report["crates"]
            .as_array()
            .and_then(|cs| cs.iter().find(|c| c["name"] == name))
            .unwrap_or_else(|| panic!("no crate {name} in the report; stderr:\n{}", self.stderr))
    }

    /// The notable (not allowed) events of crate `name`.
    fn notable(&self, name: &str) -> Vec<&Value> {
        self.krate(name)["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["decision"] != "allowed")
            .collect()
    }

    /// Asserts `name` is suspicious with a denied connect to 127.0.0.1:9 in phase `test` from
    /// test program `entry`.
    #[track_caller]
    fn expect_phone_home(&self, name: &str, entry: &str) {
        let c = self.krate(name);
        assert_eq!(c["verdict"], "suspicious", "{name}: {c:#}");
        let found = self.notable(name).into_iter().any(|e| {
            e["kind"] == "net"
                && e["action"] == "connect"
                && e["decision"] == "denied"
                && e["phase"] == "test"
                && e["entry"] == entry
                && e["detail"]["address"] == "127.0.0.1:9"
        });
        assert!(
            found,
            "{name}: no denied connect from `{entry}`: {:#}",
            c["events"]
        );
        assert!(
            c["events"]
                .as_array()
                .unwrap()
                .iter()
                .all(|e| e["crate"].as_str().unwrap_or("").starts_with(name)),
            "{name}: an event is attributed elsewhere"
        );
    }
}

/// Copies fixture `runtime-test/<name>` into the scene as `ws/`.
fn copy(scene: &Scene, name: &str) -> PathBuf {
    let dst = scene.path("ws");
    copy_tree(&fixture(&format!("runtime-test/{name}")), &dst);
    dst
}

/// Runs `cargo airlock test --manifest-path <ws>/Cargo.toml ARGS` under CI=true.
fn airlock_test(ws: &Path, args: &[&str]) -> TestCmd {
    let out = Command::new(bin())
        .arg("test")
        .arg("--manifest-path")
        .arg(ws.join("Cargo.toml"))
        .args(args)
        .env("CI", "true")
        .output()
        .expect("cargo-airlock runs");
    let report = std::fs::read_to_string(ws.join("target/airlock/test/report.json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(Value::Null);
    TestCmd {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        report,
    }
}

#[test]
fn test_payloads_are_caught_and_ordinary_tests_stay_clean() {
    let scene = Scene::new("test_payloads");
    if !build_test_runs(&scene) {
        return;
    }
    let ws = copy(&scene, "triggers");
    let t = airlock_test(&ws, &[]);
    assert_eq!(t.code, 1, "suspicious crates: exit 1\n{}", t.stderr);
    assert_eq!(t.report["command"], "test");
    t.expect_phone_home("unit-payload", "unit_payload");
    t.expect_phone_home("integration-payload", "phone");
    t.expect_phone_home("doctest-payload", "doctest");
    t.expect_phone_home("ci-payload", "ci_payload");
    // The integration-only payload is not in the crate's unit tests.
    assert!(t
        .notable("integration-payload")
        .iter()
        .all(|e| e["entry"] == "phone"));

    let clean = t.krate("clean-control");
    assert_eq!(
        clean["verdict"],
        "clean",
        "clean-control: {:#?}",
        t.notable("clean-control")
    );
    let tests = clean["tests"].as_array().unwrap();
    let binaries: Vec<&str> = tests.iter().filter_map(|r| r["binary"].as_str()).collect();
    assert!(
        binaries.contains(&"clean_control") && binaries.contains(&"target_tmp"),
        "{binaries:?}"
    );
    assert!(tests
        .iter()
        .all(|r| r["passed"] == true && r["exit_code"] == 0));
    // What the controls did was seen, and allowed: their own server, sh and git.
    let events = clean["events"].as_array().unwrap();
    let allowed = |kind: &str, action: &str| {
        events
            .iter()
            .any(|e| e["kind"] == kind && e["action"] == action && e["decision"] == "allowed")
    };
    assert!(allowed("net", "bind"), "{events:#?}");
    assert!(allowed("net", "connect"), "{events:#?}");
    assert!(allowed("exec", "exec"), "{events:#?}");

    // Every test passed, and their output was shown as cargo shows it.
    assert!(t.stdout.contains("test result: ok"), "{}", t.stdout);
    assert!(
        t.report["crates"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|c| c["tests"].as_array().cloned().unwrap_or_default())
            .all(|r| r["passed"] == true),
        "{:#}",
        t.report
    );
    assert!(
        t.stderr.contains("4 crate(s) suspicious") && !t.stderr.contains("tests failed"),
        "{}",
        t.stderr
    );
}

#[test]
fn a_failing_test_is_a_failed_test_not_a_finding() {
    let scene = Scene::new("test_failing");
    if !build_test_runs(&scene) {
        return;
    }
    let ws = copy(&scene, "failing");
    // What follows a second `--` reaches the test binaries (and nothing of airlock's does).
    let t = airlock_test(&ws, &["--", "--", "--test-threads=1"]);
    assert_eq!(t.code, 1, "{}", t.stderr);
    assert!(t.stdout.contains("1 passed; 1 failed"), "{}", t.stdout);
    let c = t.krate("failing-tests");
    assert_eq!(c["verdict"], "failed", "{c:#}");
    assert!(t.notable("failing-tests").is_empty(), "{c:#}");
    assert_eq!(t.report["summary"]["suspicious"], 0);
    let run = &c["tests"][0];
    assert_eq!(run["binary"], "failing_tests");
    assert_eq!(run["passed"], false);
    assert_eq!(run["exit_code"], 101);
    assert!(
        t.stderr.contains("tests failed: failing_tests") && !t.stderr.contains("suspicious;"),
        "{}",
        t.stderr
    );
    assert!(
        t.stdout.contains("a deliberately failing test"),
        "{}",
        t.stdout
    );
}

#[test]
fn a_hanging_test_is_stopped_at_the_test_timeout() {
    let scene = Scene::new("test_hanging");
    if !build_test_runs(&scene) {
        return;
    }
    let ws = copy(&scene, "hanging");
    let started = std::time::Instant::now();
    let t = airlock_test(&ws, &["--test-timeout", "3s"]);
    assert_eq!(t.code, 1, "{}", t.stderr);
    assert!(started.elapsed().as_secs() < 120);
    let c = t.krate("hanging-tests");
    assert!(
        t.notable("hanging-tests")
            .iter()
            .any(|e| e["kind"] == "limit"
                && e["action"] == "timeout"
                && e["entry"] == "hanging_tests"),
        "{c:#}"
    );
    assert_eq!(c["tests"][0]["passed"], false);
    assert_eq!(c["tests"][0]["exit_code"], 137);
}

#[test]
fn tests_that_do_not_compile_and_a_missing_manifest_exit_2() {
    let scene = Scene::new("test_broken");
    if !build_test_runs(&scene) {
        return;
    }
    let ws = copy(&scene, "failing");
    std::fs::create_dir_all(ws.join("tests")).unwrap();
    std::fs::write(
        ws.join("tests/broken.rs"),
        "#[test]\nfn broken() { let x: u8 = \"not a number\"; }\n",
    )
    .unwrap();
    let t = airlock_test(&ws, &[]);
    assert_eq!(t.code, 2, "{}", t.stderr);
    let errors = t.report["errors"].to_string();
    assert!(errors.contains("cargo test"), "{errors}");
    assert!(
        t.stderr.contains("mismatched types") || errors.contains("mismatched types"),
        "{}",
        t.stderr
    );

    let missing = airlock_test(&scene.path("nowhere"), &[]);
    assert_eq!(missing.code, 2);
    assert!(
        missing.stderr.contains("does not exist"),
        "{}",
        missing.stderr
    );
}

#[test]
fn vet_runs_the_crates_own_tests_and_finds_the_one_that_connects_out() {
    use crate::registry_server::{crate_file, history, sha256, v, Registry, DAY};
    let scene = Scene::new("vet_test_phase");
    if !build_test_runs(&scene) {
        return;
    }
    std::fs::create_dir_all(scene.path("cargo-home")).unwrap();
    let registry = Registry::start();
    let year = std::time::Duration::from_secs(365 * 24 * 3600);
    registry.publish("rt-phone", &history(3, 3 * year, year));
    let lib = std::fs::read(fixture("runtime-test/vet-phone/src/lib.rs")).unwrap();
    let krate = crate_file("rt-phone", "1.0.0", &[("src/lib.rs", &lib)]);
    registry.publish_file(
        "rt-phone",
        &v("1.0.0", false, 200 * DAY),
        &krate,
        &sha256(&krate),
    );

    let report_dir = scene.path("report");
    let out = Command::new(bin())
        .args(["vet", "rt-phone@1.0.0", "--registry", "fixtures"])
        .args(["--phases", "provenance,build,test"])
        .arg("--report-dir")
        .arg(&report_dir)
        .arg("--cache-dir")
        .arg(scene.path("cache"))
        .env("CI", "true")
        .env("CARGO_HOME", scene.path("cargo-home"))
        .env("CARGO_REGISTRIES_FIXTURES_INDEX", registry.index_url())
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET_DIR")
        .current_dir(scene.dir.path())
        .output()
        .expect("cargo-airlock runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(report_dir.join("report.json")).unwrap())
            .unwrap();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(report["verdict"]["verdict"], "suspicious", "{stderr}");
    let phase = report["phases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["phase"] == "test")
        .unwrap();
    assert_eq!(phase["status"], "ran", "{phase:#}\n{stderr}");
    let reasons = report["verdict"]["reasons"].as_array().unwrap();
    assert!(
        reasons.iter().any(|r| r["phase"] == "test"
            && r["code"] == "denied net/connect"
            && r["location"] == "rt_phone"
            && r["evidence"].as_str().unwrap().contains("127.0.0.1:9")),
        "{reasons:#?}"
    );
    let krate = report["crates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "rt-phone")
        .unwrap();
    assert_eq!(krate["verdict"], "suspicious");
    assert_eq!(krate["tests"][0]["binary"], "rt_phone");
    assert_eq!(krate["tests"][0]["passed"], true);
    // The cache's copy of the package was never written to: it has no `[workspace]` and no
    // target directory (the test ran in the scratch's copy).
    let mut cached = Vec::new();
    let mut stack = vec![scene.path("cache")];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() && !p.ends_with("scratch") {
                stack.push(p.clone());
            }
            if p.ends_with("rt-phone-1.0.0/Cargo.toml") {
                cached.push(p);
            }
        }
    }
    assert!(!cached.is_empty(), "no unpacked package in the cache");
    for manifest in cached {
        let text = std::fs::read_to_string(&manifest).unwrap();
        assert!(!text.contains("[workspace]"), "{}", manifest.display());
        assert!(!manifest.with_file_name("target").exists());
    }
}

/// Copies fixture `test/<name>` into the scene as `ws/`.
fn copy_test_fixture(scene: &Scene, name: &str) -> PathBuf {
    let dst = scene.path("ws");
    copy_tree(&fixture(&format!("test/{name}")), &dst);
    dst
}

/// `P passed, F failed` summed over every `test result:` line of `log`.
fn counts(log: &str) -> (u32, u32) {
    let (mut passed, mut failed) = (0, 0);
    for line in log.lines() {
        let Some(rest) = line.split("test result: ").nth(1) else {
            continue;
        };
        let num = |word: &str| -> u32 {
            rest.split(';')
                .find_map(|part| part.trim().strip_suffix(word))
                .and_then(|n| n.trim().rsplit(' ').next().map(str::to_owned))
                .and_then(|n| n.parse().ok())
                .unwrap_or(0)
        };
        passed += num("passed");
        failed += num("failed");
    }
    (passed, failed)
}

#[test]
fn a_proc_macro_that_only_a_doc_test_expands_runs_in_the_sandbox() {
    let scene = Scene::new("test_rustdoc_macro");
    if !build_test_runs(&scene) {
        return;
    }
    let ws = copy_test_fixture(&scene, "rustdoc-macro");
    // The macro connects to a port of ours while rustdoc expands it: outside the sandbox it
    // would get through; inside, the run's private loopback has nothing there.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let src = ws.join("phone-macro/src/lib.rs");
    let text = std::fs::read_to_string(&src).unwrap();
    std::fs::write(&src, text.replace("__PORT__", &port.to_string())).unwrap();

    let t = airlock_test(&ws, &[]);
    assert_eq!(t.code, 1, "suspicious: exit 1\n{}", t.stderr);
    assert!(
        listener.accept().is_err(),
        "the macro reached the host's loopback: rustdoc ran it outside the sandbox"
    );
    let user = t.krate("doc-user");
    assert_eq!(user["verdict"], "suspicious", "{user:#}");
    let address = format!("127.0.0.1:{port}");
    assert!(
        t.notable("doc-user").iter().any(|e| e["kind"] == "net"
            && e["action"] == "connect"
            && e["decision"] == "denied"
            && e["phase"] == "test"
            && e["entry"] == "doctest"
            && e["detail"]["address"] == address.as_str()),
        "no denied connect to {address} from the doc tests: {:#}",
        user["events"]
    );
    // rustdoc's run is one test run of the package, and it passed (the connect failing is
    // nothing the doc test looks at).
    let doctest = user["tests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["binary"] == "doctest")
        .unwrap_or_else(|| panic!("no doctest run: {user:#}"));
    assert_eq!(doctest["passed"], true, "{doctest:#}\n{}", t.stdout);
    assert_eq!(t.krate("phone-macro")["verdict"], "clean");
    let _ = std::fs::remove_dir_all(ws.join("target"));
}

#[test]
fn doc_tests_using_a_derive_macro_pass_sandboxed_as_they_pass_plainly() {
    let scene = Scene::new("test_rustdoc_clean");
    if !build_test_runs(&scene) {
        return;
    }
    let ws = copy_test_fixture(&scene, "rustdoc-clean");
    let plain = Command::new("cargo")
        .args(["test", "--no-fail-fast", "--manifest-path"])
        .arg(ws.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(scene.path("plain-target"))
        .output()
        .expect("cargo runs");
    let plain_log = format!(
        "{}{}",
        String::from_utf8_lossy(&plain.stdout),
        String::from_utf8_lossy(&plain.stderr)
    );
    assert!(plain.status.success(), "{plain_log}");
    let _ = std::fs::remove_dir_all(scene.path("plain-target"));

    let t = airlock_test(&ws, &[]);
    assert_eq!(t.code, 0, "{}\n{}", t.stdout, t.stderr);
    let (passed, failed) = counts(&t.stdout);
    assert_eq!((passed, failed), counts(&plain_log), "{}", t.stdout);
    assert!(passed >= 5, "the doc tests ran: {}", t.stdout);
    for name in ["named", "named-derive"] {
        let c = t.krate(name);
        assert_eq!(c["verdict"], "clean", "{name}: {:#?}", t.notable(name));
    }
    let named = t.krate("named");
    assert!(
        named["tests"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["binary"] == "doctest" && r["passed"] == true),
        "{named:#}"
    );
    let _ = std::fs::remove_dir_all(ws.join("target"));
}

#[test]
fn a_test_that_prints_a_decoy_token_leaks_it_and_printing_path_is_fine() {
    let scene = Scene::new("test_output_decoys");
    if !build_test_runs(&scene) {
        return;
    }
    let ws = copy_test_fixture(&scene, "output");
    let t = airlock_test(&ws, &[]);
    assert_eq!(t.code, 1, "{}", t.stderr);
    // The output still reached the terminal as the test wrote it.
    assert!(t.stdout.contains("debug: token=ghp_"), "{}", t.stdout);
    let secret = t.krate("prints-secret");
    assert_eq!(secret["verdict"], "suspicious", "{secret:#}");
    assert!(
        t.notable("prints-secret")
            .iter()
            .any(|e| e["kind"] == "leak"
                && e["action"] == "decoy-output"
                && e["detail"]["decoy"] == "env:GITHUB_TOKEN"
                && e["detail"]["location"] == "stdout"
                && e["phase"] == "test"
                && e["entry"] == "prints_secret"),
        "{:#}",
        secret["events"]
    );
    let path = t.krate("prints-path");
    assert_eq!(path["verdict"], "clean", "{:#?}", t.notable("prints-path"));
    assert!(t.stdout.contains("PATH="), "{}", t.stdout);
    let _ = std::fs::remove_dir_all(ws.join("target"));
}
