//! vet's `fuzz` phase: `gen` and a fuzz campaign on the vetted crate, within the fuzz share of
//! `--time`, sandboxed exactly as `cargo airlock fuzz` is (the `fuzz` profile; the instrumented
//! build's scripts and proc macros under the `build` profile).
//!
//! `gen` needs the crate as a workspace of its own, so the unpacked package is copied to a
//! scratch directory under the cache (the cache's copy is never written) and the fuzz project
//! is generated next to it, where later vets of the same version reuse its instrumented build.
//!
//! What counts: the events of the fuzz runs go to the vetted crate's `crates[]` entry (phase
//! `fuzz`, `entry` = the target) and each notable one is a reason against it, like any phase's.
//! A crash is a finding, not suspicion (DESIGN: "crashes are findings"): it goes into the
//! report's `fuzz` section with its repro command, and the command exits 1 for a new finding
//! as `fuzz` does, whatever the verdict. Without a nightly toolchain the phase does not run
//! ([`crate::fuzz::unavailable`] says why, in `phases`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::pipeline::{Pipeline, VetProgress};
use super::registry::UnpackedCrate;
use super::verdict;
use crate::error_chain::error_chain;
use crate::events::Phase as EventPhase;
use crate::fuzz::{self, events as fuzz_events, CampaignOptions};
use crate::report::{CrateReport, Environment, Format, FuzzSection, Report, ScriptStatus};

/// The share of `--time` the fuzz phase takes, in percent (the rest is the other run-time
/// phases').
pub(crate) const FUZZ_SHARE_PERCENT: u32 = 50;

/// The shortest campaign worth starting (per crate).
const MIN_FUZZ_TIME: Duration = Duration::from_secs(4);

/// Longest time one input may take (as `fuzz`'s default `--input-timeout`).
const INPUT_TIMEOUT: Duration = Duration::from_secs(10);

/// Memory limit per input in MiB (as `fuzz`'s default `--rss-limit-mb`).
const RSS_LIMIT_MB: u64 = 2048;

/// The fuzzing time of each of `crates` crates: [`FUZZ_SHARE_PERCENT`] of `time`, split evenly,
/// at least [`MIN_FUZZ_TIME`].
pub(crate) fn fuzz_time(time: Duration, crates: usize) -> Duration {
    let share = time * FUZZ_SHARE_PERCENT / 100;
    (share / u32::try_from(crates.max(1)).unwrap_or(u32::MAX)).max(MIN_FUZZ_TIME)
}

impl Pipeline<'_> {
    /// `gen` on a copy of the crate, then a campaign on its targets; the events, findings and
    /// reasons into the report.
    pub(super) fn fuzz(&mut self, i: usize) -> Result<String, String> {
        let u = self.unpacked(i)?;
        let opts = self.opts;
        let work = opts
            .cache_dir
            .join("fuzz")
            .join(super::pipeline::sanitize(
                &self.registry.source().display_name(),
            ))
            .join(format!("{}-{}", u.name, u.version));
        let manifest = copy_for_gen(&u, &work.join("crate")).map_err(|e| {
            format!(
                "cannot copy the package to {} for gen: {e}",
                work.join("crate").display()
            )
        })?;
        let project = work.join("fuzz-airlock");
        // The project's lock starts from the package's resolution (gen copies it when absent):
        // one kept from an earlier run may hold the package's own pins.
        match std::fs::remove_file(project.join("Cargo.lock")) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(format!(
                    "cannot remove {}: {e}",
                    project.join("Cargo.lock").display()
                ))
            }
            _ => {}
        }
        let generated = harness_gen::generate(&harness_gen::GenOptions {
            manifest_path: Some(manifest),
            packages: vec![u.name.clone()],
            out_dir: project.clone(),
            compile_check: false,
            target_dir: None,
        });
        let generated = match generated {
            Ok(g) => g,
            // A package without a library has nothing a fuzz target could link to.
            Err(e @ harness_gen::GenError::NoLibrary { .. }) => {
                return Ok(format!("nothing to fuzz: {e}"))
            }
            Err(e) => return Err(format!("gen: {}", error_chain(&e))),
        };
        if generated.counts.generated == 0 {
            return Ok(format!(
                "no fuzz target ({} skipped: no Deserialize type, parser or FFI wrapper to fuzz)",
                generated.counts.skipped
            ));
        }
        let report_dir = opts
            .report_dir
            .join("fuzz")
            .join(format!("{}-{}", u.name, u.version));
        std::fs::create_dir_all(&report_dir)
            .map_err(|e| format!("cannot create {}: {e}", report_dir.display()))?;
        let report_dir = std::fs::canonicalize(&report_dir).unwrap_or(report_dir);
        let time = fuzz_time(opts.time, self.crates.len());
        let campaign_opts = CampaignOptions {
            dir: project,
            time,
            jobs: std::thread::available_parallelism().map_or(1, |n| n.get()),
            targets: Vec::new(),
            shard: None,
            report_dir: report_dir.clone(),
            baseline: None,
            input_timeout: INPUT_TIMEOUT,
            rss_limit_mb: RSS_LIMIT_MB,
            allow_degraded: opts.allow_degraded,
            airlock_bin: opts.airlock_bin.clone(),
        };
        let progress = self.progress;
        let campaign = fuzz::run_campaign(&campaign_opts, &|line: &str| {
            progress(VetProgress::Step(line.to_owned()))
        })
        .map_err(|e| error_chain(&e))?;
        if let Some(failure) = &campaign.failure {
            return Err(format!("the instrumented build failed: {failure}"));
        }
        let section = campaign.section.clone();
        // The campaign's own report, which the findings' repro commands name.
        let mut own = Report::for_fuzz(section.clone(), self.fuzz_environment(&section));
        let under_test = campaign
            .verdicts
            .crates
            .iter()
            .find(|c| c.name.replace('-', "_") == u.name.replace('-', "_"))
            .cloned();
        campaign.verdicts.fill(&mut own);
        own.write(&report_dir, &[Format::Json, Format::Markdown])
            .map_err(|e| error_chain(&e))?;

        let events: Vec<_> = under_test
            .map(|c| {
                c.events
                    .into_iter()
                    .filter(|e| e.phase == EventPhase::Fuzz)
                    .collect()
            })
            .unwrap_or_default();
        let label = format!("{} {}", u.name, u.version);
        let version = u.version.to_string();
        let k = match self
            .built
            .iter()
            .position(|c| c.name == u.name && c.version == version && c.source == "registry")
        {
            Some(k) => k,
            None => {
                self.built.push(CrateReport::unjudged(
                    &u.name,
                    &version,
                    "registry",
                    &u.dir.display().to_string(),
                    ScriptStatus::None,
                ));
                self.built.len() - 1
            }
        };
        fuzz_events::judge(&mut self.built[k], events);
        let reasons = verdict::fuzz_reasons(&self.built[k]);
        self.crates[i].reasons.extend(reasons.iter().cloned());

        let built = section
            .targets
            .iter()
            .filter(|t| t.status == "built")
            .count();
        let notable: u64 = section.targets.iter().map(|t| t.notable_events).sum();
        let findings = section.findings.len();
        let mut words = format!(
            "{built} target{} of {label} fuzzed for {}s; {findings} finding{}; {}",
            plural(built),
            time.as_secs(),
            plural(findings),
            match reasons.len() {
                0 => format!("clean ({notable} notable events)"),
                n => format!(
                    "{n} reason{} against it ({notable} notable events)",
                    plural(n)
                ),
            }
        );
        for f in &section.findings {
            words.push_str(&format!(
                "; {} {} in {}: {}",
                f.id, f.kind, f.target, f.repro
            ));
        }
        self.merge_fuzz(section);
        Ok(words)
    }

    /// Adds one crate's campaign to the report's `fuzz` section (its `project` is the first
    /// crate's; each finding's repro command names its own campaign's report).
    fn merge_fuzz(&mut self, section: FuzzSection) {
        match &mut self.fuzz {
            None => self.fuzz = Some(section),
            Some(all) => {
                all.targets.extend(section.targets);
                all.findings.extend(section.findings);
                if all.instrumentation.is_none() {
                    all.instrumentation = section.instrumentation;
                }
            }
        }
    }

    /// The `environment` of a campaign's own report.
    fn fuzz_environment(&self, section: &FuzzSection) -> Environment {
        let support = crate::sandbox::probe::Support::get();
        Environment {
            kernel: support.kernel.clone(),
            landlock_abi: support.landlock_abi,
            layers: None,
            degraded: self.opts.allow_degraded && !support.missing_for_fuzz().is_empty(),
            profile: fuzz::FUZZ_PROFILE.to_owned(),
            tool_version: self.opts.tool_version.clone(),
            toolchain: section
                .instrumentation
                .as_ref()
                .map(|i| i.toolchain.clone())
                .unwrap_or_default(),
        }
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// Copies the unpacked package `u` to `dst` (replacing an earlier copy) without its lock file
/// and makes it a workspace of its own; returns its manifest.
fn copy_for_gen(u: &UnpackedCrate, dst: &Path) -> std::io::Result<PathBuf> {
    if dst.exists() {
        std::fs::remove_dir_all(dst)?;
    }
    copy_tree(&u.dir, dst)?;
    // Cargo ignores a dependency's lock file: a dependent builds the crate with what cargo
    // resolves today, so the package's own (an author's snapshot, which may pin versions today's
    // toolchain no longer builds, such as proc-macro2 before 1.0.60 on nightly) is left out.
    match std::fs::remove_file(dst.join("Cargo.lock")) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let manifest = dst.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest)?;
    let has_workspace = toml::from_str::<toml::Table>(&text)
        .map(|doc| doc.contains_key("workspace"))
        .unwrap_or(false);
    if !has_workspace {
        std::fs::write(
            &manifest,
            format!(
                "{text}\n# Added by `cargo airlock vet`: a workspace of its own.\n[workspace]\n"
            ),
        )?;
    }
    Ok(manifest)
}

/// Copies the regular files and directories under `src` to `dst` (symbolic links are left out:
/// an unpacked package has none, and none may point out of it).
fn copy_tree(src: &Path, dst: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dst)?;
    for entry in std::fs::read_dir(src)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let to = dst.join(entry.file_name());
        if kind.is_dir() {
            copy_tree(&entry.path(), &to)?;
        } else if kind.is_file() {
            std::fs::copy(entry.path(), &to)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fuzz_takes_half_the_time_split_over_the_crates() {
        assert_eq!(
            fuzz_time(Duration::from_secs(60), 1),
            Duration::from_secs(30)
        );
        assert_eq!(
            fuzz_time(Duration::from_secs(60), 3),
            Duration::from_secs(10)
        );
        assert_eq!(fuzz_time(Duration::from_secs(2), 1), MIN_FUZZ_TIME);
    }

    #[test]
    fn the_copy_is_a_workspace_of_its_own_and_the_cache_is_not_touched() {
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().join("cache/beacon-0.1.0");
        std::fs::create_dir_all(src.join("src")).unwrap();
        let manifest = "[package]\nname = \"beacon\"\nversion = \"0.1.0\"\n";
        std::fs::write(src.join("Cargo.toml"), manifest).unwrap();
        std::fs::write(src.join("src/lib.rs"), "pub fn f() {}\n").unwrap();
        std::fs::write(src.join("Cargo.lock"), "# the author's pins\n").unwrap();
        let u = UnpackedCrate {
            name: "beacon".into(),
            version: semver::Version::new(0, 1, 0),
            checksum: String::new(),
            dir: src.clone(),
            crate_file: tmp.path().join("beacon-0.1.0.crate"),
        };
        let dst = tmp.path().join("work/crate");
        std::fs::create_dir_all(&dst).unwrap();
        std::fs::write(dst.join("stale.rs"), "").unwrap();
        let m = copy_for_gen(&u, &dst).unwrap();
        let doc: toml::Table = toml::from_str(&std::fs::read_to_string(&m).unwrap()).unwrap();
        assert!(doc.contains_key("workspace"));
        assert!(dst.join("src/lib.rs").is_file());
        assert!(
            !dst.join("Cargo.lock").exists(),
            "cargo resolves a dependency afresh: the package's lock is left out"
        );
        assert!(src.join("Cargo.lock").is_file());
        assert!(
            !dst.join("stale.rs").exists(),
            "an earlier copy is replaced"
        );
        assert_eq!(
            std::fs::read_to_string(src.join("Cargo.toml")).unwrap(),
            manifest
        );
        // Copying again does not add a second `[workspace]`.
        let m = copy_for_gen(&u, &dst).unwrap();
        let text = std::fs::read_to_string(m).unwrap();
        assert_eq!(text.matches("[workspace]").count(), 1, "{text}");
    }
}
