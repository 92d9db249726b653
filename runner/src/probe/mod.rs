//! Probes of a crate's public functions (vet's `probe` phase), on the runner's side: the probe
//! project written by harness-gen ([`harness_gen::generate_probes`]: one binary whose entries
//! call the crate's public functions and methods with arguments built by `arbitrary`), built
//! through the sandboxed build ([`crate::build::build`], every build script and proc macro in
//! the sandbox, its own report directory), then each entry run in its own sandboxed run
//! ([`run`]: [`crate::runtime::run`], phase `probe`, every event stamped with the entry).
//!
//! What the events mean for a verdict is the caller's business (`vet`'s probe phase).

mod run;

use std::path::{Path, PathBuf};

use harness_gen::probe::{ProbeManifest, ProbeOptions, PROBE_BIN};

use crate::build::graph::Graph;
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
/// build's progress to `progress`.
pub fn prepare(
    workspace_manifest: &Path,
    package: &str,
    dir: &Path,
    template: &BuildOptions,
    progress: &(dyn Fn(build::Progress) + Sync),
) -> Result<ProbeProject, ProbeError> {
    let manifest = harness_gen::generate_probes(&ProbeOptions {
        manifest_path: Some(workspace_manifest.to_owned()),
        package: package.to_owned(),
        out_dir: dir.to_owned(),
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
    let project_manifest = dir.join("Cargo.toml");
    let opts = BuildOptions {
        manifest_path: Some(project_manifest.clone()),
        report_dir: Some(dir.join("report")),
        ..template.clone()
    };
    let build_err = |source| ProbeError::Build {
        dir: dir.to_owned(),
        source: Box::new(source),
    };
    let result = build::build(&opts, progress).map_err(build_err)?;
    if let Some(failure) = &result.failure {
        return Err(ProbeError::BuildFailed {
            dir: dir.to_owned(),
            failure: failure.clone(),
        });
    }
    let graph = Graph::load(&opts.cargo, &project_manifest).map_err(build_err)?;
    let binary = graph
        .target_directory
        .join("airlock/build-target/debug")
        .join(PROBE_BIN);
    if !binary.is_file() {
        return Err(ProbeError::NoBinary { path: binary });
    }
    Ok(ProbeProject {
        dir: dir.to_owned(),
        manifest,
        binary: Some(binary),
        build: Some(result),
    })
}
