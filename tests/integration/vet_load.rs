//! vet's `load` phase against crates served over the test's loopback registry
//! (`tests/fixtures/runtime-load/`): a C constructor that a build script compiles and links,
//! and a Rust `.init_array` constructor, each come out suspicious with the event that shows it
//! (phase `load`); a crate without constructors stays clean. Attacks aim at a loopback port the
//! test made sure is closed and at the run's own working directory.

use std::net::TcpListener;
use std::path::Path;

use serde_json::Value;

use crate::common::fixture;

use crate::registry_server::{crate_file, index_path, sha256, tarball, v, Registry, Route, DAY};
use crate::support::{bin, Scene};
use crate::vet::{fixture_command, run_vet};

/// Every file of the fixture crate `name` (under `runtime-load/`), with `@PORT@` replaced.
fn fixture_files(name: &str, port: u16) -> Vec<(String, Vec<u8>)> {
    fn walk(root: &Path, dir: &Path, port: u16, out: &mut Vec<(String, Vec<u8>)>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let path = e.path();
            if path.is_dir() {
                walk(root, &path, port, out);
            } else {
                let rel = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                let text = std::fs::read_to_string(&path).unwrap();
                out.push((rel, text.replace("@PORT@", &port.to_string()).into_bytes()));
            }
        }
    }
    let root = fixture(&format!("runtime-load/{name}"));
    let mut out = Vec::new();
    walk(&root, &root, port, &mut out);
    out
}

/// A port nothing listens on: bound, then released.
fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// Publishes the fixture `dir` as `name` 0.3.0 and vets it (phases `build,load`); returns the
/// exit code, stderr and the report.
fn vet(scene: &Scene, dir: &str, name: &str, port: u16) -> (i32, String, Value) {
    let registry = Registry::start();
    let files = fixture_files(dir, port);
    let files: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(p, d)| (p.as_str(), d.as_slice()))
        .collect();
    let krate = crate_file(name, "0.3.0", &files);
    registry.publish_file(name, &v("0.3.0", false, 300 * DAY), &krate, &sha256(&krate));
    vet_from(scene, &registry, name)
}

/// A `.crate` of `name` `version` with the manifest `manifest` and the fixture files of `dir`.
fn crate_with_manifest(name: &str, version: &str, manifest: &str, dir: &str, port: u16) -> Vec<u8> {
    let files = fixture_files(dir, port);
    let all: Vec<(&str, &[u8])> = std::iter::once(("Cargo.toml", manifest.as_bytes()))
        .chain(files.iter().map(|(p, d)| (p.as_str(), d.as_slice())))
        .collect();
    tarball(name, version, &all)
}

/// Vets `name` from `registry` (phases `build,load`): exit code, stderr, report.
fn vet_from(scene: &Scene, registry: &Registry, name: &str) -> (i32, String, Value) {
    std::fs::create_dir_all(scene.path("cargo-home")).unwrap();
    let report_dir = scene.path("report");
    let mut cmd = fixture_command(scene, registry, bin());
    cmd.args([
        "vet",
        name,
        "--registry",
        "fixtures",
        "--phases",
        "build,load",
    ])
    .arg("--cache-dir")
    .arg(scene.path("cache"))
    .arg("--report-dir")
    .arg(&report_dir);
    let run = run_vet(cmd, report_dir);
    (run.code, run.stderr, run.report)
}

/// The report entry of crate `name`.
fn krate<'a>(report: &'a Value, name: &str, stderr: &str) -> &'a Value {
    report["crates"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["name"] == name))
        .unwrap_or_else(|| panic!("no {name} in the report: {report:#}\n{stderr}"))
}

/// The `load` phase's record.
fn load_phase(report: &Value) -> &Value {
    report["phases"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["phase"] == "load"))
        .unwrap_or_else(|| panic!("no load phase: {:#}", report["phases"]))
}

/// The events of `c` in phase `load`.
fn load_events(c: &Value) -> Vec<&Value> {
    c["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["phase"] == "load")
        .collect()
}

/// The verdict's reasons of phase `load`.
fn load_reasons(report: &Value) -> Vec<&Value> {
    report["verdict"]["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["phase"] == "load")
        .collect()
}

airtest!(
    a_c_constructor_linked_by_the_build_script_is_caught_at_load,
    |s| {
        let port = closed_port();
        let (code, stderr, report) = vet(&s, "ctor-c", "fast-adler", port);
        assert_eq!(code, 1, "{stderr}\n{:#}", report["verdict"]);
        assert_eq!(load_phase(&report)["status"], "ran", "{stderr}");
        let c = krate(&report, "fast-adler", &stderr);
        assert_eq!(c["verdict"], "suspicious");
        // The build itself did nothing wrong: the payload only runs when a program starts.
        assert!(
            c["events"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|e| e["phase"] == "build-script")
                .all(|e| e["decision"] == "allowed"),
            "{:#}",
            c["events"]
        );
        let events = load_events(c);
        let connect = events
            .iter()
            .find(|e| {
                e["kind"] == "net"
                    && e["action"] == "connect"
                    && e["decision"] == "denied"
                    && e["detail"]["address"]
                        .as_str()
                        .is_some_and(|a| a.ends_with(&format!(":{port}")))
            })
            .unwrap_or_else(|| panic!("no denied connect to {port}: {events:#?}\n{stderr}"));
        assert_eq!(connect["entry"], "load");
        let reasons = load_reasons(&report);
        assert!(
            reasons.iter().any(|r| r["code"] == "denied net/connect"
                && r["evidence"].as_str().unwrap().contains(&port.to_string())),
            "{reasons:#?}"
        );
        assert!(
            stderr.contains("static library linked whole"),
            "the progress line says how it linked: {stderr}"
        );
    }
);

airtest!(
    a_rust_init_array_constructor_stealing_a_wallet_is_caught_at_load,
    |s| {
        let (code, stderr, report) = vet(&s, "ctor-rust", "byte-human", closed_port());
        assert_eq!(code, 1, "{stderr}\n{:#}", report["verdict"]);
        let c = krate(&report, "byte-human", &stderr);
        assert_eq!(c["verdict"], "suspicious");
        let events = load_events(c);
        let leak = |action: &str| {
            events
                .iter()
                .find(|e| {
                    e["kind"] == "leak"
                        && e["action"] == action
                        && e["detail"]["decoy"] == "solana-keypair"
                })
                .unwrap_or_else(|| panic!("no leak/{action}: {events:#?}\n{stderr}"))
        };
        assert!(leak("decoy-read")["detail"]["location"]
            .as_str()
            .unwrap()
            .ends_with(".config/solana/id.json"));
        assert!(leak("decoy-output")["detail"]["location"]
            .as_str()
            .unwrap()
            .ends_with("wallet-backup.json"));
        let codes: Vec<&str> = load_reasons(&report)
            .iter()
            .map(|r| r["code"].as_str().unwrap())
            .collect();
        assert!(codes.contains(&"flagged leak/decoy-read"), "{codes:?}");
        assert!(codes.contains(&"flagged leak/decoy-output"), "{codes:?}");
    }
);

airtest!(a_crate_without_constructors_stays_clean_at_load, |s| {
    let (code, stderr, report) = vet(&s, "clean", "tidy-clamp", closed_port());
    assert_eq!(code, 0, "{stderr}\n{:#}", report["verdict"]);
    assert_eq!(report["verdict"]["verdict"], "clean");
    assert_eq!(load_phase(&report)["status"], "ran", "{stderr}");
    let c = krate(&report, "tidy-clamp", &stderr);
    assert_eq!(c["verdict"], "clean");
    assert!(
        load_events(c).iter().all(|e| e["decision"] == "allowed"),
        "{:#}",
        c["events"]
    );
    assert!(
        stderr.contains("the load program started and exited: clean"),
        "{stderr}"
    );
});

airtest!(
    a_load_program_that_does_not_link_is_a_failed_phase_with_the_reason,
    |s| {
        let (code, stderr, report) = vet(&s, "no-link", "absent-sys", closed_port());
        assert_eq!(code, 2, "could not vet: {stderr}\n{:#}", report["verdict"]);
        assert_eq!(report["verdict"]["verdict"], "failed");
        let phase = load_phase(&report);
        assert_eq!(phase["status"], "failed", "{phase:#}");
        let errors = report["errors"].to_string();
        assert!(
            errors.contains("did not link") && errors.contains("airlock_fixture_absent"),
            "{errors}"
        );
        // The build phase ran and stays as it was.
        assert_eq!(krate(&report, "absent-sys", &stderr)["verdict"], "clean");
    }
);

airtest!(
    a_proc_macro_of_the_graph_runs_sandboxed_while_the_load_program_links,
    |s| {
        // Listening, so that a constructor outside the sandbox would get through.
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let registry = Registry::start();
        let manifest =
            "[package]\nname = \"nothing-macro\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n\
                    [lib]\nproc-macro = true\n";
        let archive = crate_with_manifest("nothing-macro", "0.1.0", manifest, "pm-ctor", port);
        registry.publish_file(
            "nothing-macro",
            &v("0.1.0", false, 300 * DAY),
            &archive,
            &sha256(&archive),
        );
        let manifest = format!(
            "[package]\nname = \"uses-nothing\"\nversion = \"0.3.0\"\nedition = \"2021\"\n\n\
         [dependencies.nothing-macro]\nversion = \"^0.1.0\"\nregistry-index = \"{}\"\n",
            registry.index_url()
        );
        let archive = crate_with_manifest("uses-nothing", "0.3.0", &manifest, "pm-user", port);
        let line = format!(
            r#"{{"name":"uses-nothing","vers":"0.3.0","deps":[{{"name":"nothing-macro","req":"^0.1.0","features":[],"optional":false,"default_features":true,"target":null,"kind":"normal"}}],"cksum":"{}","features":{{}},"yanked":false,"links":null,"pubtime":"2025-01-01T00:00:00Z"}}"#,
            sha256(&archive)
        );
        registry.route(&index_path("uses-nothing"), Route::Body(line.into_bytes()));
        registry.route("/dl/uses-nothing/0.3.0/download", Route::Body(archive));

        let (code, stderr, report) = vet_from(&s, &registry, "uses-nothing");
        assert_eq!(code, 1, "{stderr}\n{:#}", report["verdict"]);
        assert!(
            listener.accept().is_err(),
            "the macro's constructor reached the listener: it ran outside the sandbox"
        );
        assert_eq!(load_phase(&report)["status"], "ran", "{stderr}");
        let c = krate(&report, "uses-nothing", &stderr);
        let events = load_events(c);
        let connect = events
            .iter()
            .find(|e| {
                e["kind"] == "net"
                    && e["decision"] == "denied"
                    && e["detail"]["address"]
                        .as_str()
                        .is_some_and(|a| a.ends_with(&format!(":{port}")))
            })
            .unwrap_or_else(|| panic!("no denied connect while linking: {events:#?}\n{stderr}"));
        assert_eq!(connect["entry"], "link");
        assert_eq!(c["verdict"], "suspicious");
    }
);
