//! Probes of a crate's public functions (vet's `probe` phase), on the runner's side: the probe
//! project written by harness-gen ([`harness_gen::generate_probes`]: one binary whose entries
//! call the crate's public functions and methods with arguments built by `arbitrary`), built
//! through the sandboxed build ([`crate::build::build`], every build script and proc macro in
//! the sandbox, its own report directory), then each entry run in its own sandboxed run
//! (`run`: [`crate::runtime::run`], phase `probe`, every event stamped with the entry).
//!
//! What the events mean for a verdict is the caller's business (`vet`'s probe phase).

mod run;

use std::path::{Path, PathBuf};

use harness_gen::probe::{ProbeManifest, ProbeOptions, ProbeSkip, PROBE_BIN};

use crate::build::{self, BuildError, BuildOptions, BuildResult};

pub use run::{run_entries, EntryError, EntryRun, EntrySummary, RunPlan};

/// The probe project's directory inside the workspace it is generated from.
pub const PROBE_DIR: &str = "probe";

/// Errors of writing or building the probe project; each names the step.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProbeError {
    /// harness-gen could not write the project.
    #[error("cannot write the probe project of {package} into {}", dir.display())]
    Generate {
        /// `name@version`.
        package: String,
        /// The project directory.
        dir: PathBuf,
        /// Why.
        #[source]
        source: Box<harness_gen::GenError>,
    },
    /// The sandboxed build could not run.
    #[error("cannot build the probe project at {}", dir.display())]
    Build {
        /// The project directory.
        dir: PathBuf,
        /// Why.
        #[source]
        source: Box<BuildError>,
    },
    /// The build ran and failed (cargo's log is in the build's report directory).
    #[error("the probe project at {} did not build: {failure}", dir.display())]
    BuildFailed {
        /// The project directory.
        dir: PathBuf,
        /// What the build said went wrong.
        failure: String,
    },
    /// The build finished without the binary where cargo puts it.
    #[error("the probe build left no binary at {}", path.display())]
    NoBinary {
        /// Where it was looked for.
        path: PathBuf,
    },
}

/// A written and built probe project.
#[derive(Debug)]
pub struct ProbeProject {
    /// The project directory.
    pub dir: PathBuf,
    /// `probes.json`.
    pub manifest: ProbeManifest,
    /// The built binary (None when there is no entry, so nothing was built).
    pub binary: Option<PathBuf>,
    /// The sandboxed build's result (None when nothing was built).
    pub build: Option<BuildResult>,
}

/// Writes the probe project of `package` (`name@version`, in the dependency graph of the
/// workspace `workspace_manifest`) into `dir` and, when it has entries, builds it sandboxed as
/// `template` says (its manifest and report directory replaced by the project's), reporting the
/// build's progress to `progress`. When the build fails on calls of the generated source, the
/// entries whose calls did not compile are left out (`probes.json` says why) and the project
/// is built once more.
///
/// With `reuse_target`, the workspace's own vetting build's target directory, the project is
/// built into it ([`build::build_reusing`]): its `Cargo.lock` starts as the workspace's and it
/// asks for the crate with the same features, so cargo compiles again only the crate itself
/// (a path dependency here), `arbitrary` and the probes, not the crate's whole graph.
pub fn prepare(
    workspace_manifest: &Path,
    package: &str,
    dir: &Path,
    template: &BuildOptions,
    reuse_target: Option<&Path>,
    progress: &(dyn Fn(build::Progress) + Sync),
) -> Result<ProbeProject, ProbeError> {
    let mut exclude: Vec<ProbeSkip> = Vec::new();
    loop {
        let manifest = harness_gen::generate_probes(&ProbeOptions {
            manifest_path: Some(workspace_manifest.to_owned()),
            package: package.to_owned(),
            out_dir: dir.to_owned(),
            exclude: exclude.clone(),
        })
        .map_err(|source| ProbeError::Generate {
            package: package.to_owned(),
            dir: dir.to_owned(),
            source: Box::new(source),
        })?;
        if manifest.entries.is_empty() {
            return Ok(ProbeProject {
                dir: dir.to_owned(),
                manifest,
                binary: None,
                build: None,
            });
        }
        let opts = BuildOptions {
            manifest_path: Some(dir.join("Cargo.toml")),
            report_dir: Some(dir.join("report")),
            ..template.clone()
        };
        let build_err = |source| ProbeError::Build {
            dir: dir.to_owned(),
            source: Box::new(source),
        };
        let result = match reuse_target {
            Some(target) => build::build_reusing(&opts, target, progress),
            None => build::build(&opts, progress),
        }
        .map_err(build_err)?;
        if let Some(failure) = &result.failure {
            let broken = if exclude.is_empty() {
                uncompiled_entries(dir, result.cargo_log.as_deref(), &manifest)
            } else {
                Vec::new()
            };
            if broken.is_empty() {
                return Err(ProbeError::BuildFailed {
                    dir: dir.to_owned(),
                    failure: failure.clone(),
                });
            }
            exclude = broken;
            continue;
        }
        // Where the build had cargo put its output (known whenever cargo ran, as it did for a
        // build without a failure).
        let target = result.target_dir.as_deref().unwrap_or(dir);
        let binary = target.join("debug").join(PROBE_BIN);
        if !binary.is_file() {
            return Err(ProbeError::NoBinary { path: binary });
        }
        return Ok(ProbeProject {
            dir: dir.to_owned(),
            manifest,
            binary: Some(binary),
            build: Some(result),
        });
    }
}

/// The entries whose generated calls rustc rejected, from cargo's log: each error located in
/// the project's `src/main.rs` belongs to the entry function (`fn eN`) it falls in.
fn uncompiled_entries(dir: &Path, log: Option<&Path>, manifest: &ProbeManifest) -> Vec<ProbeSkip> {
    let (Some(log), Ok(source)) = (log, std::fs::read_to_string(dir.join("src/main.rs"))) else {
        return Vec::new();
    };
    let log = std::fs::read_to_string(log).unwrap_or_default();
    let fn_lines: Vec<(usize, usize)> = source
        .lines()
        .enumerate()
        .filter_map(|(n, l)| {
            let index = l.strip_prefix("fn e")?.split('(').next()?.parse().ok()?;
            Some((n + 1, index))
        })
        .collect();
    let mut out: Vec<ProbeSkip> = Vec::new();
    let mut error: Option<&str> = None;
    for line in log.lines() {
        if let Some(message) = line.strip_prefix("error") {
            let message = message.split_once(": ").map_or(message, |(_, m)| m);
            error = Some(message);
        } else if line.starts_with("warning") {
            error = None;
        }
        let (Some(message), Some(at)) = (error, line.split("src/main.rs:").nth(1)) else {
            continue;
        };
        let Some(n) = at.split(':').next().and_then(|n| n.parse::<usize>().ok()) else {
            continue;
        };
        let Some(&(_, index)) = fn_lines.iter().rev().find(|(start, _)| *start <= n) else {
            continue;
        };
        let Some(entry) = manifest.entries.get(index) else {
            continue;
        };
        if !out.iter().any(|s| s.item == entry.name) {
            out.push(ProbeSkip {
                item: entry.name.clone(),
                reason: format!("its generated call did not compile: {message}"),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use harness_gen::probe::ProbeEntry;

    #[test]
    fn compile_errors_are_charged_to_the_entry_function_they_fall_in() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("src")).unwrap();
        std::fs::write(
            dir.path().join("src/main.rs"),
            "const X: u8 = 1;\n\n/// `d::a`.\nfn e0(_data: &[u8]) {\n    d::a();\n}\n\n\
             /// `d::b`.\nfn e1(data: &[u8]) {\n    d::b(data);\n}\n",
        )
        .unwrap();
        let log = dir.path().join("cargo-build.log");
        std::fs::write(
            &log,
            "warning: unused variable\n  --> src/main.rs:5:5\n\
             error[E0308]: mismatched types\n   --> /p/probe/src/main.rs:10:10\n\
             error: could not compile `d-airlock-probe`\n",
        )
        .unwrap();
        let entry = |name: &str| ProbeEntry {
            name: name.into(),
            item: name.into(),
            constructor: None,
            inputs: vec![],
            calls: 1,
        };
        let manifest = ProbeManifest {
            package: "d".into(),
            version: "1.0.0".into(),
            binary: PROBE_BIN.into(),
            entries: vec![entry("d::a"), entry("d::b")],
            skipped: vec![],
        };
        let broken = uncompiled_entries(dir.path(), Some(&log), &manifest);
        assert_eq!(broken.len(), 1, "{broken:?}");
        assert_eq!(broken[0].item, "d::b");
        assert!(broken[0].reason.ends_with("mismatched types"), "{broken:?}");
    }
}
