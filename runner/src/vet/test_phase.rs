//! vet's `test` phase: the vetted crate's own unit, integration and doc tests, run as `cargo
//! airlock test` runs them (every build script and proc macro sandboxed, then every test
//! program in the sandbox under the `test` profile, each bounded by `--time`). The `.crate`
//! unpacked in the cache is never written to: it is copied into the vet run's scratch
//! workspace (`test/<name>-<version>`), given a `[workspace]` of its own and the scratch's
//! registry configuration, so its dev-dependencies come from the same registry.
//!
//! What the tests attempted joins the crate's entry in the report (events with phase `test`,
//! and its test runs); dev-dependencies the build phase did not build join as crates of their
//! own. Reasons come from notable test events (and from dev-dependencies the build judged
//! suspicious). Tests that fail are no reason; tests that do not compile fail the phase.

use std::fs;
use std::path::Path;

use super::pipeline::{Pipeline, VetProgress};
use super::registry::UnpackedCrate;
use super::{scratch, verdict};
use crate::build::BuildOptions;
use crate::error_chain::error_chain;
use crate::events::Phase as EventPhase;
use crate::report::{CrateReport, Verdict};
use crate::runtime::TEST_PROFILE;
use crate::test_run::{self, TestOptions, DEFAULT_TIMEOUT};

impl Pipeline<'_> {
    /// Runs the tests of crate `i` in a copy of its package; see the module doc.
    pub(super) fn test(&mut self, i: usize) -> Result<String, String> {
        let u = self.unpacked(i)?;
        let ws = self.scratch(&u)?;
        let copy = ws
            .dir
            .join("test")
            .join(format!("{}-{}", u.name, u.version));
        prepare_copy(
            &u,
            &copy,
            scratch::cargo_config(self.registry.source()).as_deref(),
        )
        .map_err(|e| {
            format!(
                "cannot copy the package into {} to test it: {e}",
                copy.display()
            )
        })?;
        let opts = self.opts;
        let test_opts = TestOptions {
            build: BuildOptions {
                manifest_path: Some(copy.join("Cargo.toml")),
                profile: opts.profile.clone(),
                report_dir: Some(ws.dir.join("test-report")),
                cargo_args: Vec::new(),
                allow_degraded: opts.allow_degraded,
                airlock_bin: opts.airlock_bin.clone(),
                cargo: opts.cargo.clone(),
                tool_version: opts.tool_version.clone(),
            },
            packages: Vec::new(),
            test_profile: TEST_PROFILE.to_owned(),
            timeout: opts.time.min(DEFAULT_TIMEOUT),
            cwd: Some(copy.clone()),
            quiet: true,
        };
        let progress = self.progress;
        let result = test_run::test(&test_opts, &|p| progress(VetProgress::Build(p)))
            .map_err(|e| error_chain(&e))?;
        if let Some(failure) = &result.failure {
            return Err(format!("its tests could not run: {failure}"));
        }
        let runs = result.test_runs().count();
        let failed = result.failed_tests().len();
        let mut added = Vec::new();
        for c in result.report.crates {
            match self
                .built
                .iter_mut()
                .find(|b| b.name == c.name && b.version == c.version)
            {
                Some(b) => merge_test_runs(b, c),
                None => added.push(c),
            }
        }
        let mut reasons = verdict::build_reasons(&added);
        self.built.extend(added);
        let tested: Vec<&CrateReport> = self
            .built
            .iter()
            .filter(|b| b.events.iter().any(|e| e.phase == EventPhase::Test))
            .collect();
        reasons.extend(verdict::test_reasons(&tested));
        let words = format!(
            "{runs} test program{} ran, {failed} failed; {}",
            if runs == 1 { "" } else { "s" },
            match reasons.len() {
                0 => "clean".to_owned(),
                n => format!("{n} reason{} against it", if n == 1 { "" } else { "s" }),
            }
        );
        if failed > 0 {
            self.notes.push(format!(
                "{failed} test program{} of {} {} failed in the sandbox (no finding; see the test report in {})",
                if failed == 1 { "" } else { "s" },
                u.name,
                u.version,
                result.report_dir.display()
            ));
        }
        self.crates[i].reasons.extend(reasons);
        Ok(words)
    }
}

/// Joins what the test run of crate `from` recorded into its build entry `into`: the test
/// phase's events and test runs; `into` becomes suspicious when a test event counts.
fn merge_test_runs(into: &mut CrateReport, from: CrateReport) {
    let events: Vec<_> = from
        .events
        .into_iter()
        .filter(|e| e.phase == EventPhase::Test)
        .collect();
    let mut lines = Vec::new();
    for e in events.iter().filter(|e| e.is_notable()) {
        let line = format!(
            "{} {}/{} (test)",
            e.decision.as_str(),
            e.kind.as_str(),
            e.action
        );
        if !lines.contains(&line) && !into.reasons.contains(&line) {
            lines.push(line);
        }
    }
    if !lines.is_empty() {
        into.verdict = Verdict::Suspicious;
        into.reasons.extend(lines);
    }
    into.events.extend(events);
    into.tests.extend(from.tests);
}

/// Makes `copy` a copy of the unpacked package `u` (everything but a `target/` left by an
/// earlier run, which keeps the build warm), a workspace of its own, reading the registry
/// through `config` (`.cargo/config.toml`).
fn prepare_copy(u: &UnpackedCrate, copy: &Path, config: Option<&str>) -> std::io::Result<()> {
    fs::create_dir_all(copy)?;
    for e in fs::read_dir(copy)? {
        let e = e?;
        if e.file_name() == "target" {
            continue;
        }
        if e.file_type()?.is_dir() {
            fs::remove_dir_all(e.path())?;
        } else {
            fs::remove_file(e.path())?;
        }
    }
    copy_tree(&u.dir, copy)?;
    let manifest = copy.join("Cargo.toml");
    let text = fs::read_to_string(&manifest)?;
    let has_workspace = text
        .parse::<toml::Table>()
        .map(|t| t.contains_key("workspace"))
        .unwrap_or(false);
    if !has_workspace {
        fs::write(
            &manifest,
            format!("{text}\n# Added by `cargo airlock vet`: tested on its own.\n[workspace]\n"),
        )?;
    }
    if let Some(config) = config {
        fs::create_dir_all(copy.join(".cargo"))?;
        fs::write(copy.join(".cargo/config.toml"), config)?;
    }
    Ok(())
}

/// Copies the files and directories under `src` into `dst` (symlinks are not followed, and
/// not copied: a package's files are plain).
fn copy_tree(src: &Path, dst: &Path) -> std::io::Result<()> {
    for e in fs::read_dir(src)? {
        let e = e?;
        let kind = e.file_type()?;
        let to = dst.join(e.file_name());
        if kind.is_dir() {
            fs::create_dir_all(&to)?;
            copy_tree(&e.path(), &to)?;
        } else if kind.is_file() {
            fs::copy(e.path(), &to)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{Decision, Event, Kind};
    use crate::report::ScriptStatus;

    fn krate(events: Vec<Event>) -> CrateReport {
        CrateReport {
            events,
            ..CrateReport::unjudged("p", "0.1.0", "registry", "registry+p", ScriptStatus::None)
        }
    }

    fn event(phase: EventPhase, decision: Decision) -> Event {
        let mut e = Event::new(Kind::Net, "connect", decision);
        e.phase = phase;
        e
    }

    #[test]
    fn only_the_test_phase_joins_and_a_denied_test_event_makes_it_suspicious() {
        let mut built = krate(vec![event(EventPhase::BuildScript, Decision::Allowed)]);
        let tested = krate(vec![
            // The test run's own build of the crate: already in `built`.
            event(EventPhase::BuildScript, Decision::Denied),
            event(EventPhase::Test, Decision::Denied),
            event(EventPhase::Test, Decision::Allowed),
        ]);
        merge_test_runs(&mut built, tested);
        assert_eq!(built.events.len(), 3);
        assert_eq!(built.verdict, Verdict::Suspicious);
        assert_eq!(built.reasons, ["denied net/connect (test)"]);

        let mut clean = krate(vec![]);
        merge_test_runs(
            &mut clean,
            krate(vec![event(EventPhase::Test, Decision::Allowed)]),
        );
        assert_eq!(clean.verdict, Verdict::Clean);
        assert!(clean.reasons.is_empty());
    }

    #[test]
    fn the_copy_is_a_workspace_of_its_own_and_keeps_its_target() {
        let tmp = tempfile::tempdir().unwrap();
        let pkg = tmp.path().join("pkg");
        fs::create_dir_all(pkg.join("src")).unwrap();
        fs::write(
            pkg.join("Cargo.toml"),
            "[package]\nname = \"p\"\nversion = \"0.1.0\"\n",
        )
        .unwrap();
        fs::write(pkg.join("src/lib.rs"), "").unwrap();
        let u = UnpackedCrate {
            name: "p".into(),
            version: semver::Version::new(0, 1, 0),
            checksum: String::new(),
            dir: pkg.clone(),
            crate_file: tmp.path().join("p-0.1.0.crate"),
        };
        let copy = tmp.path().join("copy");
        fs::create_dir_all(copy.join("target")).unwrap();
        fs::write(copy.join("target/kept"), "").unwrap();
        fs::write(copy.join("stale.rs"), "").unwrap();
        prepare_copy(
            &u,
            &copy,
            Some("[registries.x]\nindex = \"sparse+http://127.0.0.1:9/\"\n"),
        )
        .unwrap();
        let manifest: toml::Table =
            toml::from_str(&fs::read_to_string(copy.join("Cargo.toml")).unwrap()).unwrap();
        assert!(manifest.contains_key("workspace"));
        assert!(copy.join("src/lib.rs").is_file() && copy.join("target/kept").is_file());
        assert!(!copy.join("stale.rs").exists());
        assert!(copy.join(".cargo/config.toml").is_file());
        // The package in the cache is untouched.
        assert!(!fs::read_to_string(pkg.join("Cargo.toml"))
            .unwrap()
            .contains("workspace"));
    }
}
