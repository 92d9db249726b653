//! The sandbox events of fuzz runs count: a crate whose `Deserialize` phones home while fuzzed
//! (`fuzz`), and a crate vetted from a loopback registry whose parser does the same (vet's
//! `fuzz` phase), both come out suspicious with a `fuzz` event that names the target; the
//! vetted parser's planted crash is a finding with a repro command that works, not a reason.
//! Each fuzzes for seconds; the time goes into the instrumented builds.

use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::common::{bin, fixture, gen_project};
use crate::registry_server::{sha256, v, Registry};

/// The port the fixtures phone home to. They aim at loopback only, so they are harmless even
/// outside the sandbox; the tests make sure nothing listens there, so that the attempt cannot
/// reach anything on this machine either.
const HOME_PORT: u16 = 9;

fn nothing_listens_on_the_home_port() {
    let addr = SocketAddr::from(([127, 0, 0, 1], HOME_PORT));
    assert!(
        TcpStream::connect_timeout(&addr, Duration::from_millis(500)).is_err(),
        "something listens on {addr}: the fixtures' attempt must reach nothing"
    );
}

/// The events of `report`'s crate `name`.
fn events_of<'a>(report: &'a Value, name: &str) -> Vec<&'a Value> {
    report["crates"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["name"] == name))
        .and_then(|c| c["events"].as_array())
        .map(|es| es.iter().collect())
        .unwrap_or_default()
}

/// The denied connect to the home port of a fuzz run of `target`, if the report has it.
fn phoned_home<'a>(report: &'a Value, name: &str, target: &str) -> Option<&'a Value> {
    events_of(report, name).into_iter().find(|e| {
        e["phase"] == "fuzz"
            && e["entry"] == target
            && e["kind"] == "net"
            && e["action"] == "connect"
            && e["decision"] == "denied"
            && e["detail"]["address"] == format!("127.0.0.1:{HOME_PORT}")
    })
}

#[test]
fn a_deserialize_that_phones_home_while_fuzzed_makes_its_crate_suspicious() {
    nothing_listens_on_the_home_port();
    let dir = tempfile::Builder::new()
        .prefix("airlock-fuzz-events-")
        .tempdir()
        .unwrap();
    let project = dir.path().join("fuzz-airlock");
    gen_project(&fixture("runtime-fuzz/beacon").join("Cargo.toml"), &project);
    let report_dir = dir.path().join("report");
    let out = Command::new(bin())
        .args([
            "fuzz",
            "--jobs",
            "1",
            "--time",
            "4s",
            "--target",
            "de_beacon",
        ])
        .arg("--dir")
        .arg(&project)
        .arg("--report-dir")
        .arg(&report_dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let report: Value = std::fs::read_to_string(report_dir.join("report.json"))
        .map(|t| serde_json::from_str(&t).unwrap())
        .unwrap_or(Value::Null);
    assert_eq!(out.status.code(), Some(1), "suspicious exits 1\n{stderr}");
    let beacon = report["crates"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["name"] == "beacon"))
        .cloned()
        .unwrap_or(Value::Null);
    assert_eq!(beacon["verdict"], "suspicious", "{beacon:#}\n{stderr}");
    assert!(
        beacon["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r == "denied net/connect in fuzz target de_beacon"),
        "{:#}",
        beacon["reasons"]
    );
    let event = phoned_home(&report, "beacon", "de_beacon")
        .unwrap_or_else(|| panic!("no fuzz event of de_beacon: {:#}", beacon["events"]));
    assert_eq!(event["crate"], "beacon 0.1.0");
    let target = report["fuzz"]["targets"]
        .as_array()
        .and_then(|ts| ts.iter().find(|t| t["name"] == "de_beacon"))
        .cloned()
        .unwrap_or(Value::Null);
    let notable = target["notable_events"].as_u64().unwrap_or(0);
    assert!(notable >= 1, "{target:#}");
    assert!(
        target["events"].as_u64().unwrap_or(0) >= notable,
        "{target:#}"
    );
    // The events are deduplicated: one fuzz job after another phoned home, one event.
    let connects = events_of(&report, "beacon")
        .into_iter()
        .filter(|e| e["phase"] == "fuzz" && e["action"] == "connect")
        .count();
    assert_eq!(connects, 1, "{:#}", beacon["events"]);
    // What the profile itself grants (corpus and artifact writes, reads) is never notable.
    for e in events_of(&report, "beacon") {
        if e["phase"] == "fuzz" && e["decision"] != "allowed" {
            assert_eq!(e["kind"], "net", "only the phone-home is notable: {e:#}");
        }
    }
    assert!(stderr.contains("notable (targets de_beacon)"), "{stderr}");
}

/// A `.crate` of the fixture package in `dir` (`NAME-VERSION/` + its files), tar.gz.
fn crate_of(dir: &Path, name: &str, version: &str) -> Vec<u8> {
    let mut b = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    b.append_dir_all(format!("{name}-{version}"), dir).unwrap();
    b.into_inner().unwrap().finish().unwrap()
}

#[test]
fn vet_fuzzes_the_crate_and_counts_what_its_fuzz_runs_attempted() {
    nothing_listens_on_the_home_port();
    let dir = tempfile::Builder::new()
        .prefix("airlock-vet-fuzz-")
        .tempdir()
        .unwrap();
    let registry = Registry::start();
    let krate = crate_of(
        &fixture("runtime-fuzz/beacon-parse"),
        "beacon-parse",
        "1.0.0",
    );
    let year = Duration::from_secs(365 * 24 * 3600);
    registry.publish_file(
        "beacon-parse",
        &v("1.0.0", false, year),
        &krate,
        &sha256(&krate),
    );
    // A cargo home of the test's own: the fixture registry is not cached in the user's (the
    // fuzz project's own dependencies, libfuzzer-sys and the like, come from crates.io).
    let cargo_home = dir.path().join("cargo-home");
    std::fs::create_dir_all(&cargo_home).unwrap();
    let report_dir = dir.path().join("report");
    let cache = dir.path().join("cache");
    let out = Command::new(bin())
        .args([
            "vet",
            "beacon-parse",
            "--registry",
            "fixtures",
            "--time",
            "20s",
        ])
        .arg("--cache-dir")
        .arg(&cache)
        .arg("--report-dir")
        .arg(&report_dir)
        .env("CI", "true")
        .env("CARGO_HOME", &cargo_home)
        .env("CARGO_REGISTRIES_FIXTURES_INDEX", registry.index_url())
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET_DIR")
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let report: Value = std::fs::read_to_string(report_dir.join("report.json"))
        .map(|t| serde_json::from_str(&t).unwrap())
        .unwrap_or(Value::Null);
    assert_eq!(out.status.code(), Some(1), "suspicious exits 1\n{stderr}");
    let phase = report["phases"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["phase"] == "fuzz"))
        .cloned()
        .unwrap_or(Value::Null);
    assert_eq!(phase["status"], "ran", "{phase:#}\n{stderr}");
    assert_eq!(report["verdict"]["verdict"], "suspicious", "{stderr}");
    let reason = report["verdict"]["reasons"]
        .as_array()
        .and_then(|rs| {
            rs.iter()
                .find(|r| r["phase"] == "fuzz" && r["code"] == "denied net/connect")
        })
        .cloned()
        .unwrap_or_else(|| panic!("no fuzz reason: {:#}", report["verdict"]));
    let target = report["fuzz"]["targets"][0]["name"]
        .as_str()
        .unwrap_or_else(|| panic!("no fuzz section: {:#}", report["fuzz"]))
        .to_owned();
    assert!(
        reason["evidence"].as_str().unwrap().contains(&target),
        "{reason:#}"
    );
    let event = phoned_home(&report, "beacon-parse", &target)
        .unwrap_or_else(|| panic!("no fuzz event of {target}: {:#}", report["crates"]));
    assert_eq!(event["crate"], "beacon-parse 1.0.0");
    // The cache's copy of the package was never written into (gen ran on a copy).
    let unpacked: Vec<_> = walk(&cache)
        .into_iter()
        .filter(|p| p.ends_with("beacon-parse-1.0.0/Cargo.toml"))
        .collect();
    for manifest in unpacked
        .iter()
        .filter(|p| !p.to_string_lossy().contains("/fuzz/"))
    {
        let text = std::fs::read_to_string(manifest).unwrap();
        assert!(
            !text.contains("Added by `cargo airlock vet`"),
            "{}",
            manifest.display()
        );
    }
    // The crash is a finding with its repro command (naming the campaign's own report, next
    // to vet's), not a reason against the crate.
    let own_report = report_dir.join("fuzz/beacon-parse-1.0.0/report.json");
    assert!(own_report.is_file());
    let finding = report["fuzz"]["findings"]
        .as_array()
        .and_then(|fs| {
            fs.iter().find(|f| {
                f["kind"] == "panic"
                    && f["message"]
                        .as_str()
                        .is_some_and(|m| m.contains("a bang header"))
            })
        })
        .cloned()
        .unwrap_or_else(|| panic!("no finding: {:#}\n{stderr}", report["fuzz"]["findings"]));
    let repro = finding["repro"].as_str().unwrap();
    assert!(repro.contains(&own_report.display().to_string()), "{repro}");
    assert!(
        stderr.contains("Fuzz finding") && stderr.contains(repro),
        "{stderr}"
    );
    for r in report["verdict"]["reasons"].as_array().unwrap() {
        assert_ne!(r["code"], "panic", "a crash is no reason: {r:#}");
    }
    // ... and it reproduces with that command.
    let again = Command::new(bin())
        .args(["repro", finding["id"].as_str().unwrap(), "--report"])
        .arg(&own_report)
        .env("CARGO_HOME", &cargo_home)
        .env("CARGO_REGISTRIES_FIXTURES_INDEX", registry.index_url())
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&again.stdout);
    assert_eq!(
        again.status.code(),
        Some(1),
        "{stdout}\n{}",
        String::from_utf8_lossy(&again.stderr)
    );
    assert!(stdout.contains("a bang header"), "{stdout}");
}

/// Every file under `dir`.
fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
