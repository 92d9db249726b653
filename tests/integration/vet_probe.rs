//! vet's `probe` phase against fixture crates (`tests/fixtures/runtime-probe/`) served by the
//! loopback sparse registry of the vet tests: the probe project generated, built sandboxed and
//! each public function's entry run in its own sandboxed run, its events in the crate's report
//! naming the entry. Every payload aims at a loopback port this test opened (and checks was
//! never reached) and at the sandbox's decoy home.
//!
//! The probe project depends on `arbitrary` from crates.io; so that nothing here touches the
//! internet, the test's cargo home replaces crates.io with a directory source holding the
//! `arbitrary` package from this machine's cargo cache (fetched there once if it is missing).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

use flate2::read::GzDecoder;
use serde_json::Value;

use crate::build::build_test_runs;
use crate::registry_server::{index_path, sha256, tarball, Registry, Route};
use crate::support::{bin, Scene};
use crate::vet::{fixture_command, run_vet};

/// A registry of fixture crates, a cargo home that builds offline, and a listener nothing in a
/// sandbox may reach.
struct Fixture {
    registry: Registry,
    scene: Scene,
    listener: TcpListener,
}

impl Fixture {
    fn new(scene: Scene) -> Fixture {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let f = Fixture {
            registry: Registry::start(),
            scene,
            listener,
        };
        f.cargo_home();
        f
    }

    fn port(&self) -> u16 {
        self.listener.local_addr().unwrap().port()
    }

    /// `cargo-home/config.toml`: crates.io replaced by `vendor/` (holding `arbitrary`).
    fn cargo_home(&self) {
        let vendor = self.scene.path("vendor");
        vendor_arbitrary(&vendor);
        std::fs::create_dir_all(self.scene.path("cargo-home")).unwrap();
        std::fs::write(
            self.scene.path("cargo-home/config.toml"),
            format!(
                "[source.crates-io]\nreplace-with = \"airlock-test-vendor\"\n\n\
                 [source.airlock-test-vendor]\ndirectory = {:?}\n",
                vendor.display().to_string()
            ),
        )
        .unwrap();
    }

    /// Publishes the fixture `name` at `version` (its `@PORT@` replaced, its `deps.txt`
    /// dependencies from the same registry at `0.1.0`).
    fn publish(&self, name: &str, version: &str) {
        let dir = crate::common::fixture(&format!("runtime-probe/{name}"));
        let deps: Vec<String> = std::fs::read_to_string(dir.join("deps.txt"))
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        let mut manifest = format!(
            "[package]\nname = \"{name}\"\nversion = \"{version}\"\nedition = \"2021\"\n\n\
             [dependencies]\n"
        );
        for d in &deps {
            manifest.push_str(&format!(
                "{d} = {{ version = \"0.1\", registry = \"fixtures\" }}\n"
            ));
        }
        let lib = std::fs::read_to_string(dir.join("src/lib.rs"))
            .unwrap()
            .replace("@PORT@", &self.port().to_string());
        let krate = tarball(
            name,
            version,
            &[
                ("Cargo.toml", manifest.as_bytes()),
                ("src/lib.rs", lib.as_bytes()),
            ],
        );
        let dep_json: Vec<String> = deps
            .iter()
            .map(|d| {
                format!(
                    r#"{{"name":"{d}","req":"^0.1","features":[],"optional":false,"default_features":true,"target":null,"kind":"normal"}}"#
                )
            })
            .collect();
        let line = format!(
            r#"{{"name":"{name}","vers":"{version}","deps":[{}],"cksum":"{}","features":{{}},"yanked":false,"links":null,"rust_version":null,"pubtime":"2025-01-01T00:00:00Z"}}"#,
            dep_json.join(","),
            sha256(&krate)
        );
        self.registry
            .route(&index_path(name), Route::Body(line.into_bytes()));
        self.registry.route(
            &format!("/dl/{name}/{version}/download"),
            Route::Body(krate),
        );
    }

    /// `cargo airlock vet ARGS --registry fixtures --time 20s` with this test's cargo home.
    fn vet(&self, args: &[&str]) -> Vet {
        let report_dir = self.scene.path("report");
        let mut cmd = fixture_command(&self.scene, &self.registry, bin());
        cmd.arg("vet")
            .args(args)
            .args(["--registry", "fixtures", "--time", "20s"])
            .arg("--report-dir")
            .arg(&report_dir)
            .arg("--cache-dir")
            .arg(self.scene.path("cache"));
        let run = run_vet(cmd, report_dir);
        assert!(
            self.listener.accept().is_err(),
            "a probe reached the test's listener"
        );
        Vet {
            code: run.code,
            stderr: run.stderr,
            report: run.report,
        }
    }
}

struct Vet {
    code: i32,
    stderr: String,
    report: Value,
}

impl Vet {
    fn phase(&self, name: &str) -> &Value {
        self.report["phases"]
            .as_array()
            .and_then(|ps| ps.iter().find(|p| p["phase"] == name))
            .unwrap_or_else(|| panic!("no phase {name}: {}\n{}", self.report, self.stderr))
    }

    fn verdict_of(&self, name: &str) -> &str {
        self.report["verdict"]["crates"]
            .as_array()
            .and_then(|cs| cs.iter().find(|c| c["name"] == name))
            .and_then(|c| c["verdict"].as_str())
            .unwrap_or_else(|| panic!("no verdict for {name}: {}", self.stderr))
    }

    /// The notable `probe` events of crate `name` made by `entry`.
    fn probe_events(&self, name: &str, entry: &str) -> Vec<&Value> {
        let krate = self.report["crates"]
            .as_array()
            .and_then(|cs| cs.iter().find(|c| c["name"] == name))
            .unwrap_or_else(|| panic!("no crate {name}: {}\n{}", self.report, self.stderr));
        krate["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["phase"] == "probe" && e["entry"] == entry && e["decision"] != "allowed")
            .collect()
    }

    /// Asserts `name` is suspicious with a `probe` reason and a notable event of `entry` whose
    /// JSON contains `needle`.
    #[track_caller]
    fn expect_caught(&self, name: &str, entry: &str, needle: &str) {
        assert_eq!(self.verdict_of(name), "suspicious", "{}", self.stderr);
        let events = self.probe_events(name, entry);
        assert!(
            events.iter().any(|e| e.to_string().contains(needle)),
            "no notable probe event of {entry} with {needle}: {events:#?}\n{}",
            self.stderr
        );
        let reasons = self.report["verdict"]["reasons"].as_array().unwrap();
        assert!(
            reasons.iter().any(|r| r["phase"] == "probe"
                && r["evidence"]
                    .as_str()
                    .is_some_and(|e| e.contains(&format!("`{entry}`")))),
            "no probe reason naming {entry}: {reasons:#?}"
        );
    }
}

/// This machine's cargo home (where the `arbitrary` package is cached).
fn real_cargo_home() -> PathBuf {
    std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cargo"))
}

/// The newest `arbitrary-1.*.crate` in the cargo cache.
fn cached_arbitrary() -> Option<PathBuf> {
    let cache = real_cargo_home().join("registry/cache");
    let mut found: Vec<PathBuf> = std::fs::read_dir(cache)
        .ok()?
        .flatten()
        .flat_map(|d| std::fs::read_dir(d.path()).into_iter().flatten().flatten())
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("arbitrary-1.") && n.ends_with(".crate"))
        })
        .collect();
    found.sort();
    found.pop()
}

/// Unpacks `arbitrary` from the cargo cache into the directory source `vendor` (fetching it into
/// the cache first when it is not there).
pub(crate) fn vendor_arbitrary(vendor: &Path) {
    let krate = cached_arbitrary().unwrap_or_else(|| {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(tmp.path().join("src")).unwrap();
        std::fs::write(tmp.path().join("src/lib.rs"), "").unwrap();
        std::fs::write(
            tmp.path().join("Cargo.toml"),
            "[package]\nname = \"fetch-arbitrary\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\
             [dependencies]\narbitrary = \"1\"\n[workspace]\n",
        )
        .unwrap();
        let status = Command::new("cargo")
            .arg("fetch")
            .current_dir(tmp.path())
            .status()
            .unwrap();
        assert!(
            status.success(),
            "cannot fetch `arbitrary` into the cargo cache"
        );
        cached_arbitrary().expect("`arbitrary` in the cargo cache after cargo fetch")
    });
    let bytes = std::fs::read(&krate).unwrap();
    std::fs::create_dir_all(vendor).unwrap();
    tar::Archive::new(GzDecoder::new(bytes.as_slice()))
        .unpack(vendor)
        .unwrap();
    let stem = krate.file_stem().unwrap().to_str().unwrap();
    std::fs::write(
        vendor.join(stem).join(".cargo-checksum.json"),
        format!(r#"{{"files":{{}},"package":"{}"}}"#, sha256(&bytes)),
    )
    .unwrap();
}

airtest!(
    vet_probe_catches_public_functions_that_phone_home,
    |scene| {
        if !build_test_runs(&scene) {
            return;
        }
        let f = Fixture::new(scene);
        for name in ["key-sync", "host-check", "tick-progress", "lazy-scan"] {
            f.publish(name, "0.3.0");
        }
        let run = f.vet(&[
            "key-sync",
            "host-check",
            "tick-progress",
            "lazy-scan",
            "--phases",
            "probe",
        ]);
        assert_eq!(run.code, 1, "{}", run.stderr);
        assert_eq!(run.phase("probe")["status"], "ran", "{}", run.stderr);
        let port = f.port().to_string();
        // A zero-argument function: the key read from the decoy home, the connect denied.
        run.expect_caught("key-sync", "key_sync::sync_keys", "ssh-key");
        run.expect_caught("key-sync", "key_sync::sync_keys", &port);
        // A function taking `&str` that connects on its first call only.
        run.expect_caught("host-check", "host_check::is_host", &port);
        // A method on what the constructor returns.
        run.expect_caught("tick-progress", "tick_progress::Updater::run", &port);
        assert!(
            run.probe_events("tick-progress", "tick_progress::Updater::new")
                .is_empty(),
            "the constructor itself is innocent"
        );
        // What is lazy runs when the probe drives what the call returned. (The verdict gives
        // one reason per crate and kind of attempt; each entry's events name it.)
        assert_eq!(run.verdict_of("lazy-scan"), "suspicious", "{}", run.stderr);
        for entry in ["scan", "watch", "refresh"] {
            let entry = format!("lazy_scan::{entry}");
            let events = run.probe_events("lazy-scan", &entry);
            assert!(
                events.iter().any(|e| e.to_string().contains(&port)),
                "no denied connect of {entry}: {events:#?}\n{}",
                run.stderr
            );
        }
        assert!(run.stderr.contains("entr"), "{}", run.stderr);
    }
);

airtest!(
    vet_probe_sees_a_payload_in_a_dependency_reached_through_the_api,
    |scene| {
        if !build_test_runs(&scene) {
            return;
        }
        let f = Fixture::new(scene);
        f.publish("pack-core", "0.1.0");
        f.publish("log-pack", "0.2.0");
        let run = f.vet(&["log-pack", "--phases", "build,probe"]);
        assert_eq!(run.code, 1, "{}", run.stderr);
        run.expect_caught("log-pack", "log_pack::pack", &f.port().to_string());
        // After the build phase, the probe project builds into its target directory: the
        // dependency is not compiled a second time, the crate itself (a path dependency of
        // the project) is.
        let scratch = f.scene.path("cache/scratch/fixtures/log-pack-0.2.0");
        let log = std::fs::read_to_string(scratch.join("probe/report/cargo-build.log")).unwrap();
        assert!(log.contains("Compiling log-pack"), "{log}");
        assert!(!log.contains("Compiling pack-core"), "{log}");
        assert!(scratch
            .join("target/airlock/build-target/debug/probe")
            .is_file());
    }
);

airtest!(
    vet_probe_counts_panics_of_a_clean_crate_and_keeps_it_clean,
    |scene| {
        if !build_test_runs(&scene) {
            return;
        }
        let f = Fixture::new(scene);
        f.publish("calm-parse", "1.0.0");
        // After the build phase, as a default vet runs it.
        let run = f.vet(&["calm-parse", "--phases", "build,probe"]);
        assert_eq!(run.code, 0, "{}\n{:#}", run.stderr, run.report["verdict"]);
        assert_eq!(run.verdict_of("calm-parse"), "clean");
        let probe = run.phase("probe");
        assert_eq!(probe["status"], "ran", "{}", run.stderr);
        // 8 entries; `always_panics` panics once, `parse_port` on almost every argument set;
        // `wait_forever` overruns its call's time and `settle` its entry's (noted, not
        // suspicious); `label`'s call does not compile, so it is skipped and the project is
        // built again.
        let words = run
            .stderr
            .lines()
            .find(|l| l.contains("probe of calm-parse"))
            .unwrap_or_else(|| panic!("no probe line: {}", run.stderr));
        assert!(
            words.contains(
                "8 entries ran, 1 skipped: calm_parse::label (its generated call did not compile"
            ),
            "{words}"
        );
        assert!(words.contains("2 timed out"), "{words}");
        for entry in ["wait_forever", "settle"] {
            let needle = format!("`calm_parse::{entry}` ran out of time");
            assert!(
                probe["reason"]
                    .as_str()
                    .is_some_and(|r| r.contains(&needle)),
                "{probe:#}"
            );
        }
        let krate = run.report["crates"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == "calm-parse")
            .unwrap();
        let stopped = krate["events"].as_array().unwrap().iter().any(|e| {
            e["kind"] == "limit" && e["action"] == "timeout" && e["entry"] == "calm_parse::settle"
        });
        assert!(stopped, "{:#}", krate["events"]);
        let panics: usize = words
            .split("; ")
            .find(|p| p.contains("panicked call"))
            .and_then(|p| p.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no panic count: {words}"));
        assert!(panics > 1, "{words}");
        // The project stays in the scratch workspace, its binary in the build phase's target
        // directory: `probe --list` and `probes.json` agree.
        let scratch = f.scene.path("cache/scratch/fixtures/calm-parse-1.0.0");
        let project = scratch.join("probe");
        let list = Command::new(scratch.join("target/airlock/build-target/debug/probe"))
            .arg("--list")
            .output()
            .unwrap();
        let listed: Vec<String> = String::from_utf8_lossy(&list.stdout)
            .lines()
            .map(str::to_owned)
            .collect();
        let manifest: Value =
            serde_json::from_str(&std::fs::read_to_string(project.join("probes.json")).unwrap())
                .unwrap();
        let entries: Vec<&str> = manifest["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["name"].as_str().unwrap())
            .collect();
        assert_eq!(listed, entries);
        assert!(
            listed.iter().any(|l| l == "calm_parse::describe"),
            "{listed:?}"
        );
        assert_eq!(manifest["skipped"][0]["item"], "calm_parse::label");
    }
);
