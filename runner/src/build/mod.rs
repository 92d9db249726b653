//! Sandboxed dependency builds (`cargo airlock build`): build a workspace so that every build
//! script and every proc-macro expansion of its whole dependency graph runs in the sandbox, and
//! judge each crate by what it attempted.
//!
//! How it fits together: [`build`] reads the graph (`graph`) and `airlock.toml` (`config`),
//! writes a `session`, and runs `cargo build` (`cargo`) into a fresh target directory (so
//! no build script is replayed from cargo's cache) with `RUSTC_WRAPPER` set to cargo-airlock
//! itself. The wrapper (`intercept`) replaces each linked build script with a launcher and
//! runs the rustc invocations that load proc macros in the sandbox; the launcher (`launcher`)
//! runs each build script in the sandbox and parses its `directives`. Every run leaves a
//! record in the session; when cargo is done, `verdict` turns the records into verdicts and
//! [`build`] into a [`crate::report::Report`]. The instrumented build of `fuzz`
//! (`crate::fuzz`'s `instrumented_build`) drives cargo through the same session, wrapper and
//! verdicts.

pub(crate) mod cargo;
pub(crate) mod config;
mod directives;
mod exec_attempts;
pub(crate) mod graph;
pub(crate) mod intercept;
mod launcher;
pub(crate) mod session;
pub(crate) mod tee;
pub(crate) mod verdict;

pub use intercept::run as run_rustc_wrapper;
pub use launcher::run as run_build_script;
pub use session::SESSION_VAR;
pub use verdict::Verdicts;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error_chain::error_chain;
use crate::events::Phase;
use crate::profile::{Placeholders, Problem, Profile, ProfileError};
use crate::report::{Environment, Report, Summary, SCHEMA};
use config::Config;
use graph::Graph;
pub(crate) use session::TestSettings;
use session::{Session, SessionInfo};

/// Errors of a vetting build. Each names the failing step and the input to fix; a variant with
/// a cause returns it from `source()` and does not repeat it in its own message.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The workspace manifest does not exist.
    #[error("cannot read the workspace at {}: it does not exist; pass --manifest-path PATH/Cargo.toml or run inside a workspace", path.display())]
    NoManifest {
        /// The manifest looked for.
        path: PathBuf,
    },
    /// `cargo metadata` failed for the workspace.
    #[error("cannot read the workspace at {}: `cargo metadata` failed", path.display())]
    Metadata {
        /// The workspace manifest.
        path: PathBuf,
        /// What cargo_metadata reported (cargo's stderr when cargo ran).
        #[source]
        source: MetadataError,
    },
    /// `airlock.toml` exists but could not be read.
    #[error("cannot read {}", path.display())]
    ConfigRead {
        /// The `airlock.toml` read.
        path: PathBuf,
        /// Why reading failed.
        #[source]
        source: std::io::Error,
    },
    /// `airlock.toml` does not parse, or says something it may not: every problem found.
    #[error("{}", render_problems(path, problems))]
    ConfigInvalid {
        /// The `airlock.toml` checked.
        path: PathBuf,
        /// Every problem found, in source order, with its line and column.
        problems: Vec<Problem>,
    },
    /// The sandbox profile could not be loaded.
    #[error(transparent)]
    Profile(#[from] ProfileError),
    /// A step on the session directory (or the build's target and report directories) failed.
    #[error("{step} {}", path.display())]
    Session {
        /// What was being done (`creating`, `writing a run record to`, ...).
        step: String,
        /// The path it was done to.
        path: PathBuf,
        /// Why it failed.
        #[source]
        source: std::io::Error,
    },
    /// A wrapper entry point ran outside `cargo airlock build`.
    #[error("no vetting session: this entry point only runs inside `cargo airlock build` (AIRLOCK_SESSION is not set)")]
    NoSession,
    /// The build-script launcher was started without what cargo gives a build script.
    #[error("build-script launcher for {}: {reason}", script.display())]
    Launcher {
        /// The real build script.
        script: PathBuf,
        /// What is missing.
        reason: String,
    },
    /// A step of the build-script launcher failed.
    #[error("build-script launcher for {}: {step}", script.display())]
    LauncherStep {
        /// The real build script.
        script: PathBuf,
        /// What was being done.
        step: &'static str,
        /// Why it failed.
        #[source]
        source: std::io::Error,
    },
    /// The rustc wrapper was called in a way it cannot serve.
    #[error("rustc wrapper: {reason}")]
    Wrapper {
        /// What is wrong with the call.
        reason: String,
    },
    /// A step of the rustc wrapper failed.
    #[error("rustc wrapper: {step}")]
    WrapperStep {
        /// What was being done (`running /path/rustc`, `creating /path`, ...).
        step: String,
        /// Why it failed.
        #[source]
        source: std::io::Error,
    },
    /// cargo could not be started or waited for.
    #[error("cannot run `{command}` (is cargo installed and on PATH?)")]
    Cargo {
        /// The command line.
        command: String,
        /// Why it could not run.
        #[source]
        source: std::io::Error,
    },
    /// The host triple could not be read (`cargo airlock test` sets cargo's runner for it).
    #[error("cannot read the host triple from `rustc -vV` (is a Rust toolchain on PATH?)")]
    HostTriple {
        /// Why `rustc -vV` did not say.
        #[source]
        source: std::io::Error,
    },
    /// The report could not be written.
    #[error(transparent)]
    Report(#[from] crate::report::ReportError),
}

/// `invalid PATH:` and one `PATH:LINE:COLUMN: message` line per problem.
fn render_problems(path: &Path, problems: &[Problem]) -> String {
    let mut out = format!("invalid {}:", path.display());
    for p in problems {
        out.push_str(&format!(
            "\n  {}:{}:{}: {}",
            path.display(),
            p.line,
            p.column,
            p.message
        ));
    }
    out
}

/// An error of `cargo_metadata`, printed once. Its messages already end with their cause
/// (`failed to start `cargo metadata`: {io error}`) and also return it from `source()`; this
/// wrapper keeps the message and stops the chain there, so the cause is not printed twice.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct MetadataError(pub cargo_metadata::Error);

/// Loads a built-in profile or a profile file with this process's placeholders.
pub fn load_profile(name: &str) -> Result<Profile, BuildError> {
    Ok(Profile::load(name, &Placeholders::from_env())?)
}

/// What to build and where to report.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// The workspace manifest, or the directory holding it (`Cargo.toml` in the current
    /// directory if None).
    pub manifest_path: Option<PathBuf>,
    /// A built-in profile name or a profile path.
    pub profile: String,
    /// Where the reports go (`<target>/airlock/build` if None).
    pub report_dir: Option<PathBuf>,
    /// Extra arguments for `cargo build`.
    pub cargo_args: Vec<OsString>,
    /// Run even when the sandbox cannot enforce every layer the profile requires.
    pub allow_degraded: bool,
    /// The cargo-airlock binary (the wrapper and the launchers run it).
    pub airlock_bin: PathBuf,
    /// cargo itself (`$CARGO` or `cargo`).
    pub cargo: PathBuf,
    /// cargo-airlock's version, for the report.
    pub tool_version: String,
}

/// Progress of a vetting build, for the command line to show.
#[derive(Debug, Clone)]
pub enum Progress {
    /// Cargo started; about this many packages may be compiled.
    Started {
        /// Packages the build compiles.
        total: usize,
        /// Of those, the ones with a build script or a proc macro (what runs sandboxed).
        sandboxed: usize,
    },
    /// A package finished compiling.
    CrateBuilt {
        /// `name version`.
        label: String,
        /// Packages compiled so far.
        done: usize,
        /// Packages the build compiles.
        total: usize,
    },
    /// These build scripts and proc-macro expansions are running now.
    Running(Vec<String>),
    /// A sandboxed run finished.
    RunFinished {
        /// `name version` of the crate.
        label: String,
        /// A build script or a proc-macro expansion.
        phase: Phase,
        /// Whether it failed, could not run, or recorded a denied attempt.
        notable: bool,
    },
}

/// What a vetting build produced.
#[derive(Debug)]
pub struct BuildResult {
    /// The report (also written to `report_dir`).
    pub report: Report,
    /// Where the reports were written.
    pub report_dir: PathBuf,
    /// The files written.
    pub written: Vec<PathBuf>,
    /// Cargo's own messages (stderr), kept in the report directory.
    pub cargo_log: Option<PathBuf>,
    /// The target directory cargo built into (None when the build stopped before cargo ran).
    pub target_dir: Option<PathBuf>,
    /// Why the tool could not do all of its job (bad input, a failed build).
    pub failure: Option<String>,
}

impl BuildResult {
    /// Crates judged suspicious.
    pub fn suspicious(&self) -> usize {
        self.report.summary.suspicious
    }
}

/// Runs a vetting build. Bad input still yields a result (with a report saying what went wrong)
/// when a report directory can be determined; see [`BuildResult::failure`].
pub fn build(
    opts: &BuildOptions,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<BuildResult, BuildError> {
    drive_build(opts, TargetDir::Fresh("build-target"), progress)
}

/// Like [`build`], into `target_dir`: the target directory of another vetting build, as it
/// stands. cargo reuses what that build compiled while it is fresh (its build scripts ran and
/// its macros expanded sandboxed, recorded in that build's report), so only what differs is
/// compiled, and sandboxed, again. vet's probe project builds into the build phase's.
pub fn build_reusing(
    opts: &BuildOptions,
    target_dir: &Path,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<BuildResult, BuildError> {
    drive_build(opts, TargetDir::Shared(target_dir.to_owned()), progress)
}

/// `cargo build` into `target`, with every build script that can run running.
fn drive_build(
    opts: &BuildOptions,
    target: TargetDir,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<BuildResult, BuildError> {
    let mut args = Vec::new();
    // Every build script that can run does, even when another crate fails.
    if !opts.cargo_args.iter().any(|a| a == "--keep-going") {
        args.push("--keep-going".into());
    }
    let drive = Drive {
        subcommand: "build",
        report_subdir: REPORT_SUBDIR,
        target,
        session_subdir: "session",
        args,
        cwd: None,
        test: None,
        mode: cargo::Mode::Build,
        prepare: None,
        graph: None,
        toolchain: None,
    };
    drive_cargo(opts, &drive, progress)
}

/// The cargo command a vetting run drives ([`build`]: `cargo build`; `cargo airlock test`:
/// `cargo test`), and where it keeps its target directory, session and reports.
#[derive(Debug, Clone)]
pub(crate) struct Drive {
    /// The cargo subcommand; also the report's `command` and the name of cargo's log
    /// (`cargo-<subcommand>.log`).
    pub subcommand: &'static str,
    /// The subdirectory of `<target>/airlock` the reports go to by default.
    pub report_subdir: &'static str,
    /// The target directory of the run.
    pub target: TargetDir,
    /// The session directory's name under `<target>/airlock`.
    pub session_subdir: &'static str,
    /// Arguments for cargo before the user's.
    pub args: Vec<OsString>,
    /// cargo's working directory (where it looks for `.cargo/config.toml`); None: ours.
    pub cwd: Option<PathBuf>,
    /// How test programs run (a `cargo test` through the runner hook); None for builds.
    pub test: Option<session::TestSettings>,
    /// How cargo's output is followed.
    pub mode: cargo::Mode,
    /// Adds to the cargo command what the session and the user's arguments call for (the
    /// test runner hook of `cargo airlock test`).
    pub prepare: Option<Prepare>,
    /// The workspace's graph when the caller has it already (`cargo airlock test` reuses the
    /// last run's while the lock file, manifests and configuration are the same); None: from
    /// `cargo metadata`.
    pub graph: Option<Graph>,
    /// The toolchain's `rustc -V` when the caller knows it; None: asks rustc.
    pub toolchain: Option<String>,
}

/// See [`Drive::prepare`].
pub(crate) type Prepare = fn(&mut Command, &Session, &[OsString]) -> Result<(), BuildError>;

/// The target directory of a driven cargo run: `Fresh` and `Kept` name one under
/// `<target>/airlock`.
#[derive(Debug, Clone)]
pub(crate) enum TargetDir {
    /// Cleared before every run: every build script really runs, every macro really expands.
    Fresh(&'static str),
    /// Kept with its session while the runs are sandboxed the same way (profile, binary,
    /// exceptions): cargo reuses what it built, and the records of the build scripts and
    /// macro expansions that made it stand; cleared otherwise.
    Kept(&'static str),
    /// Another build's, used as it stands and never cleared ([`build_reusing`]).
    Shared(PathBuf),
}

/// Runs `drive`'s cargo command for `opts` under interception and turns its records into a
/// report (see [`build`]).
pub(crate) fn drive_cargo(
    opts: &BuildOptions,
    drive: &Drive,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<BuildResult, BuildError> {
    let manifest = manifest_path(opts.manifest_path.as_deref());
    // Without a manifest there is no workspace to report on: an error, and no report.
    if !manifest.is_file() {
        return Err(BuildError::NoManifest { path: manifest });
    }
    let loaded = match drive.graph.clone() {
        Some(g) => Ok(g),
        None => Graph::load(&opts.cargo, &manifest),
    };
    let graph = match loaded {
        Ok(g) => g,
        Err(err) => {
            let dir = opts.report_dir.clone().unwrap_or_else(|| {
                manifest
                    .parent()
                    .unwrap_or(Path::new("."))
                    .join("target/airlock")
                    .join(drive.report_subdir)
            });
            return failed_early(opts, drive, &dir, None, error_chain(&err));
        }
    };
    let airlock_dir = graph.target_directory.join("airlock");
    let report_dir = opts
        .report_dir
        .clone()
        .unwrap_or_else(|| airlock_dir.join(drive.report_subdir));
    let early = |message: String| failed_early(opts, drive, &report_dir, Some(&graph), message);
    let config =
        match Config::load(&graph.workspace_root).and_then(|c| c.check_names(&graph).map(|()| c)) {
            Ok(c) => c,
            Err(err) => return early(error_chain(&err)),
        };
    let mut profiles = vec![opts.profile.as_str()];
    profiles.extend(drive.test.as_ref().map(|t| t.profile.as_str()));
    for name in profiles {
        if let Err(err) = load_profile(name) {
            return early(error_chain(&err));
        }
    }
    for (name, ex) in &config.crates {
        if let Some(p) = &ex.profile {
            if let Err(err) = load_profile(p) {
                return early(format!(
                    "airlock.toml [crate.{name}]: {}",
                    error_chain(&err)
                ));
            }
        }
    }
    std::fs::create_dir_all(&report_dir).map_err(|source| BuildError::Session {
        step: "creating the report directory".into(),
        path: report_dir.clone(),
        source,
    })?;
    let build_target = match &drive.target {
        TargetDir::Fresh(sub) | TargetDir::Kept(sub) => airlock_dir.join(sub),
        TargetDir::Shared(dir) => dir.clone(),
    };
    std::fs::create_dir_all(&build_target).map_err(|source| BuildError::Session {
        step: "creating".into(),
        path: build_target.clone(),
        source,
    })?;
    let info = SessionInfo {
        graph: graph.clone(),
        profile: opts.profile.clone(),
        allow_degraded: opts.allow_degraded,
        build_target: std::fs::canonicalize(&build_target).unwrap_or(build_target.clone()),
        airlock_bin: opts.airlock_bin.clone(),
        exceptions: Session::exceptions_from(&config),
        script_env: Vec::new(),
        test: drive.test.clone(),
    };
    let session_dir = airlock_dir.join(drive.session_subdir);
    let resumed = match drive.target {
        TargetDir::Kept(_) => Session::resume(&session_dir, info.clone())?,
        TargetDir::Fresh(_) | TargetDir::Shared(_) => None,
    };
    let session = match resumed {
        Some(s) => {
            s.forget_phase(Phase::Test);
            s
        }
        None => {
            if !matches!(drive.target, TargetDir::Shared(_)) {
                clear_dir(&build_target)?;
            }
            Session::create(&session_dir, info)?
        }
    };

    // cargo, with us as the rustc wrapper.
    let mut cmd = Command::new(&opts.cargo);
    cmd.arg(drive.subcommand)
        .arg("--manifest-path")
        .arg(&manifest)
        .arg("--target-dir")
        .arg(&session.info.build_target);
    if let Some(cwd) = &drive.cwd {
        cmd.current_dir(cwd);
    }
    cmd.args(&drive.args);
    if let Some(prepare) = drive.prepare {
        prepare(&mut cmd, &session, &opts.cargo_args)?;
    }
    // For `cargo test`, what follows `--` is the test binaries' (after cargo's own flags).
    let split = match drive.test {
        Some(_) => opts.cargo_args.iter().position(|a| a == "--"),
        None => None,
    };
    let (cargo_args, trailing) = opts
        .cargo_args
        .split_at(split.unwrap_or(opts.cargo_args.len()));
    cmd.args(cargo_args);
    let cargo_log = report_dir.join(format!("cargo-{}.log", drive.subcommand));
    let run = cargo::run_with(cmd, &session, &cargo_log, progress, drive.mode, trailing)?;
    let mut report = empty_report(opts, drive, Some(&graph));
    verdict::judge(&graph, &config, &session.records(), &run).fill(&mut report);
    let failure = run.failure(&format!("cargo {}", drive.subcommand));
    if let Some(f) = &failure {
        report.errors.push(f.clone());
    }
    let written = report.write_all(&report_dir)?;
    Ok(BuildResult {
        report,
        report_dir,
        written,
        cargo_log: Some(cargo_log),
        target_dir: Some(session.info.build_target.clone()),
        failure,
    })
}

/// Empties `dir` (creating it if needed).
fn clear_dir(dir: &Path) -> Result<(), BuildError> {
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(|source| BuildError::Session {
            step: "clearing the previous vetting build in".into(),
            path: dir.to_owned(),
            source,
        })?;
    }
    std::fs::create_dir_all(dir).map_err(|source| BuildError::Session {
        step: "creating".into(),
        path: dir.to_owned(),
        source,
    })
}

/// The subdirectory of `<target>/airlock` that `build`'s reports go to (`fuzz` and `vet` have
/// their own), so that no command overwrites another's report.
pub const REPORT_SUBDIR: &str = "build";

/// The manifest to build: `given` (a `Cargo.toml`, or a directory holding one), else
/// `./Cargo.toml`; canonical when it exists.
pub(crate) fn manifest_path(given: Option<&Path>) -> PathBuf {
    let manifest = match given {
        Some(m) if m.is_dir() => m.join("Cargo.toml"),
        Some(m) => m.to_owned(),
        None => std::env::current_dir()
            .map(|d| d.join("Cargo.toml"))
            .unwrap_or_else(|_| PathBuf::from("Cargo.toml")),
    };
    std::fs::canonicalize(&manifest).unwrap_or(manifest)
}

/// A result for input that stopped the build before it started: a report with the error.
fn failed_early(
    opts: &BuildOptions,
    drive: &Drive,
    dir: &Path,
    graph: Option<&Graph>,
    message: String,
) -> Result<BuildResult, BuildError> {
    let mut report = empty_report(opts, drive, graph);
    report.errors.push(message.clone());
    let written = report.write_all(dir).unwrap_or_default();
    Ok(BuildResult {
        report,
        report_dir: dir.to_owned(),
        written,
        cargo_log: None,
        target_dir: None,
        failure: Some(message),
    })
}

/// A report of this build with no crates yet.
fn empty_report(opts: &BuildOptions, drive: &Drive, graph: Option<&Graph>) -> Report {
    let support = crate::sandbox::probe::Support::get();
    Report {
        schema: SCHEMA.into(),
        command: drive.subcommand.into(),
        workspace: graph.map(|g| g.workspace_root.clone()),
        summary: Summary::default(),
        crates: Vec::new(),
        vetting: Default::default(),
        fuzz: None,
        environment: Environment {
            kernel: support.kernel.clone(),
            landlock_abi: support.landlock_abi,
            layers: None,
            degraded: false,
            profile: drive
                .test
                .as_ref()
                .map_or_else(|| opts.profile.clone(), |t| t.profile.clone()),
            tool_version: opts.tool_version.clone(),
            toolchain: drive.toolchain.clone().unwrap_or_else(toolchain),
        },
        errors: Vec::new(),
    }
}

/// The toolchain's `rustc -V`.
pub(crate) fn toolchain() -> String {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    Command::new(rustc)
        .arg("-V")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}
