//! vet's `fuzz` phase where fuzzing cannot run: without a nightly toolchain (here: no `cargo`
//! on `PATH` at all, so `cargo +nightly -V` fails) the phase is skipped with the reason and how
//! to install one, and the rest of the vet goes on. The campaigns themselves (a parser that
//! phones home while fuzzed, vet's fuzz phase on a loopback registry) need nightly and minutes
//! of instrumented builds: they are in the `fuzz_campaign` target (`fuzz_events.rs`).

use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::registry_server::{crate_file, sha256, v, Registry};
use crate::support::bin;

airtest!(
    vet_skips_the_fuzz_phase_without_nightly_and_says_how_to_get_it,
    |scene| {
        let registry = Registry::start();
        let krate = crate_file(
            "quiet-parse",
            "1.0.0",
            &[(
                "src/lib.rs",
                b"pub fn parse(s: &[u8]) -> Result<u8, ()> { s.first().copied().ok_or(()) }\n"
                    .as_slice(),
            )],
        );
        let year = Duration::from_secs(365 * 24 * 3600);
        registry.publish_file(
            "quiet-parse",
            &v("1.0.0", false, year),
            &krate,
            &sha256(&krate),
        );
        std::fs::create_dir_all(scene.path("cargo-home")).unwrap();
        let report_dir = scene.path("report");
        let out = Command::new(bin())
            .args(["vet", "quiet-parse", "--registry", "fixtures"])
            .args(["--phases", "provenance,fuzz", "--time", "10s"])
            .arg("--cache-dir")
            .arg(scene.path("cache"))
            .arg("--report-dir")
            .arg(&report_dir)
            .env("CI", "true")
            // No toolchain at all: `cargo +nightly -V` cannot even start.
            .env("PATH", scene.path("no-bin"))
            .env("CARGO_HOME", scene.path("cargo-home"))
            .env("CARGO_REGISTRIES_FIXTURES_INDEX", registry.index_url())
            .current_dir(scene.dir.path())
            .output()
            .expect("cargo-airlock runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let report: Value =
            serde_json::from_str(&std::fs::read_to_string(report_dir.join("report.json")).unwrap())
                .unwrap();
        assert_eq!(out.status.code(), Some(0), "{stderr}");
        let fuzz = report["phases"]
            .as_array()
            .and_then(|ps| ps.iter().find(|p| p["phase"] == "fuzz"))
            .cloned()
            .unwrap_or(Value::Null);
        assert_eq!(fuzz["status"], "skipped", "{fuzz:#}");
        let reason = fuzz["reason"].as_str().unwrap_or("");
        assert!(
            reason.contains("nightly") && reason.contains("rustup toolchain install nightly"),
            "{reason}"
        );
        assert!(
            stderr.contains("fuzz skipped") && stderr.contains("rustup toolchain install nightly"),
            "the progress line says so: {stderr}"
        );
        assert!(
            report.get("fuzz").is_none(),
            "nothing fuzzed: {:#}",
            report["fuzz"]
        );
    }
);
