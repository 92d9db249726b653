//! Vetting a workspace's git dependency (`vet --manifest-path`): a git package has no registry
//! index, so its provenance phase is skipped with that reason; the inventory runs on the source
//! cargo checked out, and the build phase builds a scratch workspace that depends on the same
//! repository at the locked commit. One report, shaped like the pipeline's for a registry crate.

use std::path::{Path, PathBuf};
use std::time::Instant;

use super::phases::{unsupported, Phase};
use super::pipeline::{VetOptions, VetProgress};
use super::scratch::SCRATCH_PACKAGE;
use super::verdict;
use crate::build::{self, BuildOptions};
use crate::error_chain::error_chain;
use crate::report::{
    CrateReport, Environment, PhaseRecord, PhaseStatus, Reason, Report, Summary, VetSections,
    SCHEMA,
};

/// Why the provenance phase does not run for a git package.
pub(crate) const NO_INDEX: &str =
    "a git package has no registry index: provenance is read for registry packages only";

/// Why the run-time phases do not run for a git package.
pub(crate) const RUN_TIME_FOR_REGISTRY_PACKAGES: &str =
    "the run-time phases (test, load, probe, fuzz) run for registry packages only in this version";

/// A git package of the workspace's graph.
#[derive(Debug, Clone)]
pub(crate) struct GitPackage {
    /// The package name.
    pub name: String,
    /// Its version.
    pub version: String,
    /// Cargo's source id: `git+URL?QUERY#COMMIT`.
    pub source: String,
    /// The checked-out source (the directory holding its `Cargo.toml`).
    pub dir: PathBuf,
}

/// The repository URL and the commit of a `git+URL?QUERY#COMMIT` source id.
pub(crate) fn repository(source: &str) -> Option<(String, String)> {
    let rest = source.strip_prefix("git+")?;
    let (url, commit) = rest.split_once('#')?;
    let url = url.split_once('?').map_or(url, |(u, _)| u);
    (!url.is_empty() && !commit.is_empty()).then(|| (url.to_owned(), commit.to_owned()))
}

/// Vets `pkg`: inventory of its checked-out source and a sandboxed build at its commit.
pub(crate) fn vet(
    opts: &VetOptions,
    pkg: &GitPackage,
    progress: &(dyn Fn(VetProgress) + Sync),
) -> Report {
    let krate = format!("{} {}", pkg.name, pkg.version);
    let mut sections = VetSections::default();
    let (mut reasons, mut errors): (Vec<Reason>, Vec<String>) = (Vec::new(), Vec::new());
    let (mut built, mut environment, mut build_succeeded) = (Vec::new(), None, true);
    for phase in Phase::ALL {
        let why_not = if !opts.phases.contains(phase) {
            Some("not selected with --phases")
        } else if phase == Phase::Provenance {
            Some(NO_INDEX)
        } else if phase == Phase::Diff {
            Some(super::pipeline::DIFF_ONLY_FOR_UPDATES)
        } else if matches!(
            phase,
            Phase::Test | Phase::Load | Phase::Probe | Phase::Fuzz
        ) {
            Some(RUN_TIME_FOR_REGISTRY_PACKAGES)
        } else {
            unsupported(phase)
        };
        let mut record = PhaseRecord {
            phase,
            status: PhaseStatus::Skipped,
            reason: why_not.map(str::to_owned),
            skipped_crates: Vec::new(),
            duration_ms: None,
        };
        if why_not.is_none() {
            progress(VetProgress::Started {
                phase,
                krate: krate.clone(),
            });
            let started = Instant::now();
            let outcome = match phase {
                Phase::Inventory => inventory::scan_package(&pkg.dir, &pkg.name, &pkg.version)
                    .map(|inv| {
                        let found = verdict::inventory_reasons(&inv);
                        let words = format!("{} reason(s) against it", found.len());
                        reasons.extend(found);
                        sections.inventory.push(inv);
                        words
                    })
                    .map_err(|e| error_chain(&e)),
                Phase::Build => build_at_commit(opts, pkg, progress).map(|b| {
                    let found = verdict::build_reasons(&b.crates);
                    let words = format!("{} crate(s) built", b.crates.len());
                    reasons.extend(found);
                    environment.get_or_insert(b.environment);
                    if let Some(failure) = b.failure {
                        build_succeeded = false;
                        errors.push(format!(
                            "the sandboxed build of {krate} failed on its own: {failure}"
                        ));
                    }
                    built = b.crates;
                    words
                }),
                _ => Err("not supported".to_owned()),
            };
            let elapsed = started.elapsed();
            record.duration_ms = Some(elapsed.as_millis() as u64);
            let outcome = match outcome {
                Ok(words) => {
                    record.status = PhaseStatus::Ran;
                    words
                }
                Err(message) => {
                    record.status = PhaseStatus::Failed;
                    errors.push(format!("{phase} of {krate}: {message}"));
                    format!("could not finish: {message}")
                }
            };
            progress(VetProgress::Finished {
                phase,
                krate: krate.clone(),
                elapsed,
                outcome,
            });
        }
        sections.phases.push(record);
    }
    let judged = verdict::crate_verdict(
        &pkg.name,
        Some(pkg.version.clone()),
        reasons,
        !errors.is_empty(),
    );
    sections.verdict = Some(verdict::overall(vec![judged]));
    let summary = Summary::of(&built, build_succeeded);
    Report {
        schema: SCHEMA.to_owned(),
        command: "vet".to_owned(),
        workspace: None,
        summary,
        crates: built,
        vetting: sections,
        fuzz: None,
        environment: environment.unwrap_or_else(|| probed_environment(opts)),
        errors,
    }
}

/// The environment of a report whose build did not run: this machine, as probed.
pub(crate) fn probed_environment(opts: &VetOptions) -> Environment {
    let support = crate::sandbox::probe::Support::get();
    Environment {
        kernel: support.kernel.clone(),
        landlock_abi: support.landlock_abi,
        profile: opts.profile.clone(),
        tool_version: opts.tool_version.clone(),
        toolchain: build::toolchain(),
        ..Environment::default()
    }
}

/// What the build of a git package gave.
struct Built {
    crates: Vec<CrateReport>,
    environment: Environment,
    failure: Option<String>,
}

/// Builds a scratch workspace depending on `pkg`'s repository at its commit, sandboxed.
fn build_at_commit(
    opts: &VetOptions,
    pkg: &GitPackage,
    progress: &(dyn Fn(VetProgress) + Sync),
) -> Result<Built, String> {
    let (url, commit) = repository(&pkg.source)
        .ok_or_else(|| format!("`{}` is not a git source id", pkg.source))?;
    let short: String = commit.chars().take(12).collect();
    let dir = opts
        .cache_dir
        .join("scratch/git")
        .join(format!("{}-{}-{short}", pkg.name, pkg.version));
    let manifest = write_scratch(&dir, &pkg.name, &url, &commit).map_err(|e| {
        format!(
            "cannot write the scratch workspace {}: {}",
            dir.display(),
            error_chain(&e)
        )
    })?;
    let build_opts = BuildOptions {
        manifest_path: Some(manifest),
        profile: opts.profile.clone(),
        report_dir: Some(dir.join("report")),
        cargo_args: vec!["--keep-going".into()],
        allow_degraded: opts.allow_degraded,
        airlock_bin: opts.airlock_bin.clone(),
        cargo: opts.cargo.clone(),
        tool_version: opts.tool_version.clone(),
    };
    let result = build::build(&build_opts, &|p| progress(VetProgress::Build(p)))
        .map_err(|e| error_chain(&e))?;
    Ok(Built {
        crates: result
            .report
            .crates
            .into_iter()
            .filter(|c| c.name != SCRATCH_PACKAGE)
            .collect(),
        environment: result.report.environment,
        failure: result.failure.map(|f| {
            format!(
                "{f} (cargo's output: {})",
                result.report_dir.join("cargo-build.log").display()
            )
        }),
    })
}

/// Writes the scratch package that depends on `name` from `url` at `commit`.
fn write_scratch(dir: &Path, name: &str, url: &str, commit: &str) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let quote = |s: &str| toml::Value::String(s.to_owned()).to_string();
    let text = format!(
        "# Written by `cargo airlock vet`: a workspace that depends on the vetted git package.\n\
         [package]\nname = \"{SCRATCH_PACKAGE}\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\
         publish = false\n\n[lib]\npath = \"lib.rs\"\n\n[dependencies]\n\
         {name} = {{ git = {}, rev = {} }}\n\n[workspace]\n",
        quote(url),
        quote(commit)
    );
    let manifest = dir.join("Cargo.toml");
    std::fs::write(&manifest, text)?;
    std::fs::write(
        dir.join("lib.rs"),
        "// The vetted package is the dependency.\n",
    )?;
    Ok(manifest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn git_source_ids_give_the_repository_and_the_commit() {
        assert_eq!(
            repository("git+https://github.com/o/r?branch=main#0123abcd"),
            Some(("https://github.com/o/r".into(), "0123abcd".into()))
        );
        assert_eq!(
            repository("git+file:///tmp/repo#ff"),
            Some(("file:///tmp/repo".into(), "ff".into()))
        );
        assert_eq!(repository("git+https://x/y"), None);
        assert_eq!(repository("registry+https://x#1"), None);
    }

    #[test]
    fn the_scratch_manifest_pins_the_commit() {
        let tmp = tempfile::tempdir().unwrap();
        let m = write_scratch(tmp.path(), "dep", "https://h/r\"x", "abc").unwrap();
        let doc: toml::Table = toml::from_str(&std::fs::read_to_string(m).unwrap()).unwrap();
        assert_eq!(
            doc["dependencies"]["dep"]["git"].as_str(),
            Some("https://h/r\"x")
        );
        assert_eq!(doc["dependencies"]["dep"]["rev"].as_str(), Some("abc"));
    }
}
