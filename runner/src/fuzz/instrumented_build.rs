//! Instrumented builds of fuzz targets: the one place that runs cargo for fuzzing, with
//! cargo-fuzz's flags, so `cargo fuzz run` and `cargo airlock fuzz` build the same thing (and
//! the one list of those flags, which the ClusterFuzzLite export writes into its `build.sh`).
//!
//! The build goes through the interception of `cargo airlock build` ([`crate::build::cargo`]):
//! every build script of the project's graph (the crate under test and its dependencies) runs
//! in the sandbox with the `build` profile, every proc-macro expansion too, and their records
//! become per-crate verdicts for the fuzz report.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::project::FuzzProject;
use super::FuzzError;
use crate::build::config::{self, Config};
use crate::build::graph::Graph;
use crate::build::session::{Session, SessionInfo};
use crate::build::verdict::{self, Verdicts};
use crate::build::{cargo, load_profile, Progress};
use crate::events::Phase;
use crate::profile::DEFAULT_PROFILE;
use crate::report::Instrumentation;

/// The rustc flags cargo-fuzz uses (its `BuildOptions` defaults with `--sanitizer address`).
pub(super) fn rustflags() -> String {
    [
        // Edge coverage with inline 8-bit counters and a PC table: libFuzzer's feedback.
        "-Cpasses=sancov-module",
        "-Cllvm-args=-sanitizer-coverage-level=4",
        "-Cllvm-args=-sanitizer-coverage-inline-8bit-counters",
        "-Cllvm-args=-sanitizer-coverage-pc-table",
        // Comparison operands feed libFuzzer's value profile and dictionary.
        "-Cllvm-args=-sanitizer-coverage-trace-compares",
        // Stack depth becomes a coverage feature, so inputs that nest deeper are kept and
        // unbounded recursion surfaces within minutes (cargo-fuzz does not enable this).
        "-Cllvm-args=-sanitizer-coverage-stack-depth",
        "--cfg",
        "fuzzing",
        "-Zsanitizer=address",
        "-Cdebug-assertions",
        "-Coverflow-checks",
        // Frame pointers make ASan's fast unwinder reliable.
        "-Cforce-frame-pointers=yes",
        // Lints capped as cargo caps them for dependencies, so an old crate whose own
        // `#![deny(...)]` meets a lint today's compiler raises still builds.
        harness_gen::compile::CAP_LINTS,
    ]
    .join(" ")
}

/// The nightly toolchain's version, or an error naming the fix.
pub(super) fn nightly_version() -> Result<String, FuzzError> {
    let out = Command::new("cargo")
        .args(["+nightly", "--version"])
        .output();
    match out {
        Ok(o) if o.status.success() => Ok(String::from_utf8_lossy(&o.stdout).trim().to_owned()),
        _ => Err(FuzzError::NoNightly),
    }
}

/// The host target triple (`rustc -vV`).
pub(super) fn host_triple() -> Result<String, FuzzError> {
    let out = Command::new("rustc")
        .args(["+nightly", "-vV"])
        .output()
        .map_err(|_| FuzzError::NoNightly)?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: ").map(str::to_owned))
        .ok_or(FuzzError::NoNightly)
}

/// The `clang` on `PATH`, which instruments the C code of a fuzzed crate (coverage and ASan);
/// without it the C is built with gcc and [`GCC_HARDENING`].
pub fn clang() -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|d| d.join("clang"))
        .find(|p| p.is_file())
}

/// How the instrumented build sandboxes the build scripts and proc macros of the project's
/// graph: as `cargo airlock build` does, with the `build` profile.
#[derive(Debug, Clone)]
pub struct Vetting {
    /// The cargo-airlock binary (the rustc wrapper and the launchers run it).
    pub airlock_bin: PathBuf,
    /// Run even when the sandbox cannot enforce every layer the profile requires.
    pub allow_degraded: bool,
}

/// A prepared build.
pub(super) struct FuzzBuild {
    pub instrumentation: Instrumentation,
    vetting: Vetting,
}

/// What an instrumented build produced.
#[derive(Debug)]
pub(super) struct BuildOutcome {
    /// The targets that failed to build, with cargo's first error line.
    pub failed: Vec<(String, String)>,
    /// What the sandboxed build scripts and proc-macro expansions of the graph did, crate by
    /// crate (the scripts cargo found fresh ran in the sandbox in an earlier build into the
    /// same target directory; their records are kept with it).
    pub verdicts: Verdicts,
    /// Why cargo failed, when it failed.
    pub failure: Option<String>,
}

impl FuzzBuild {
    /// Checks the toolchain and decides the instrumentation.
    pub(super) fn prepare(vetting: Vetting) -> Result<FuzzBuild, FuzzError> {
        let toolchain = nightly_version()?;
        let triple = host_triple()?;
        Ok(FuzzBuild {
            instrumentation: Instrumentation {
                toolchain,
                triple,
                sanitizer: "address".into(),
                c_instrumented: clang().is_some(),
            },
            vetting,
        })
    }

    /// `CC` and `CFLAGS` that instrument C code (when clang is here), else `CFLAGS` that harden
    /// it ([`GCC_HARDENING`]) for the `cc` crate's default compiler.
    fn c_env() -> Vec<(String, String)> {
        match clang() {
            Some(clang) => vec![
                ("CC".to_owned(), clang.to_string_lossy().into_owned()),
                (
                    "CFLAGS".to_owned(),
                    "-fsanitize=address,fuzzer-no-link -g".to_owned(),
                ),
            ],
            None => vec![("CFLAGS".to_owned(), GCC_HARDENING.to_owned())],
        }
    }

    /// The cargo command that builds `targets` (all when empty) of `project`.
    fn command(&self, project: &FuzzProject, targets: &[&str]) -> Command {
        let mut cmd = Command::new("cargo");
        cmd.arg("+nightly")
            .arg("build")
            .arg("--release")
            .arg("--manifest-path")
            .arg(project.manifest())
            // An explicit --target keeps build scripts and proc macros uninstrumented: cargo
            // applies RUSTFLAGS only to units built for the target.
            .arg("--target")
            .arg(&self.instrumentation.triple)
            .arg("--target-dir")
            .arg(project.target_dir());
        if targets.is_empty() {
            cmd.arg("--bins");
        }
        for t in targets {
            cmd.arg("--bin").arg(t);
        }
        cmd.env("RUSTFLAGS", rustflags())
            .env("CARGO_PROFILE_RELEASE_DEBUG", PROFILE_RELEASE_DEBUG)
            .env("CARGO_TERM_COLOR", "never");
        for (k, v) in Self::c_env() {
            cmd.env(k, v);
        }
        cmd
    }

    /// Opens the vetting session of the project's target directory: the earlier one when its
    /// runs were sandboxed the same way (its records stand for the outputs cargo reuses), or a
    /// new one over a cleared target directory, so that every build script really runs.
    fn session(&self, project: &FuzzProject, graph: Graph) -> Result<(Session, Config), FuzzError> {
        let config = airlock_config(project)?;
        let target_dir = project.target_dir();
        let mkdir = |dir: &Path| {
            fs::create_dir_all(dir).map_err(|source| FuzzError::Write {
                path: dir.to_owned(),
                source,
            })
        };
        mkdir(&target_dir)?;
        let info = SessionInfo {
            graph,
            profile: DEFAULT_PROFILE.to_owned(),
            allow_degraded: self.vetting.allow_degraded,
            build_target: fs::canonicalize(&target_dir).unwrap_or_else(|_| target_dir.clone()),
            airlock_bin: self.vetting.airlock_bin.clone(),
            exceptions: Session::exceptions_from(&config),
            script_env: Self::c_env(),
            test: None,
        };
        let dir = target_dir.join(SESSION_DIR);
        if let Some(session) = Session::resume(&dir, info.clone())? {
            return Ok((session, config));
        }
        fs::remove_dir_all(&target_dir).map_err(|source| FuzzError::Write {
            path: target_dir.clone(),
            source,
        })?;
        mkdir(&target_dir)?;
        Ok((Session::create(&dir, info)?, config))
    }

    /// Builds `targets` with every build script and proc-macro expansion of the project's
    /// graph sandboxed; on failure, builds them one by one so each failing target is named.
    /// Cargo's messages go to `log_dir`; `say` hears of sandboxed runs that need a look.
    pub(super) fn build(
        &self,
        project: &FuzzProject,
        targets: &[&str],
        log_dir: &Path,
        say: &(dyn Fn(&str) + Sync),
    ) -> Result<BuildOutcome, FuzzError> {
        fs::create_dir_all(log_dir).map_err(|source| FuzzError::Write {
            path: log_dir.to_owned(),
            source,
        })?;
        let graph = Graph::load(Path::new("cargo"), &project.manifest())?;
        let (session, config) = self.session(project, graph)?;
        load_profile(&session.info.profile)?;
        let progress = move |p: Progress| {
            if let Progress::RunFinished {
                label,
                phase,
                notable: true,
            } = p
            {
                let what = if phase == Phase::ProcMacro {
                    "proc-macro expansion"
                } else {
                    "build script"
                };
                say(&format!("fuzz: the {what} of {label} needs a look"));
            }
        };
        let log = log_dir.join("cargo-build.log");
        let run = cargo::run(self.command(project, targets), &session, &log, &progress)?;
        let mut failed = Vec::new();
        if !run.succeeded {
            for (i, t) in targets.iter().enumerate() {
                let one = log_dir.join(format!("cargo-build-{i}.log"));
                let alone = cargo::run(self.command(project, &[t]), &session, &one, &progress)?;
                if !alone.succeeded {
                    let first = alone
                        .errors(1)
                        .pop()
                        .unwrap_or_else(|| "the build failed".to_owned());
                    failed.push(((*t).to_owned(), first));
                }
            }
        }
        Ok(BuildOutcome {
            failed,
            verdicts: verdict::judge(&session.info.graph, &config, &session.records(), &run),
            failure: run.failure("cargo +nightly build"),
        })
    }
}

/// `CFLAGS` for C code when there is no clang to instrument it: no coverage and no ASan inside
/// the C, but a smashed stack or an overflowing `memcpy`/`strcpy` into a buffer of known size
/// aborts the run (a finding) instead of going unnoticed.
pub const GCC_HARDENING: &str = "-fstack-protector-all -D_FORTIFY_SOURCE=2 -O1 -g";

/// What is lost when C code is not instrumented, and how to get it, for the campaign's output
/// and `doctor`.
pub const NO_CLANG: &str = "C code not instrumented (no clang): no coverage and no memory errors \
     are seen inside C, only stack smashes and fortified overflows abort (gcc hardening); \
     install clang (`apt install clang`) to instrument it";

/// The instrumented build's vetting session, inside its target directory (cleared with it).
const SESSION_DIR: &str = "airlock-session";

/// `CARGO_PROFILE_RELEASE_DEBUG` of instrumented builds: limited debuginfo gives full function
/// paths in frames (line tables alone give bare names) without the cost of variable info.
pub(super) const PROFILE_RELEASE_DEBUG: &str = "limited";

/// The `airlock.toml` that grants exceptions to the project's build: the project's own, else
/// the one in the directory holding the project (`gen` writes `fuzz-airlock/` next to the
/// crate's manifest, so that is the crate's workspace root).
fn airlock_config(project: &FuzzProject) -> Result<Config, FuzzError> {
    let own = project.dir.join(config::FILE_NAME);
    let dir = match project.dir.parent() {
        Some(parent) if !own.is_file() => parent,
        _ => &project.dir,
    };
    Ok(Config::load(dir)?)
}
