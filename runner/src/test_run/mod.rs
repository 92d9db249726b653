//! `cargo airlock test`: a workspace's tests with every dependency's code sandboxed. Cargo
//! builds the tests as `build` builds a workspace (every build script and proc-macro expansion
//! sandboxed, through [`crate::build`]'s session, rustc wrapper and launchers), then runs every
//! test binary, doc test and example it runs through cargo's stable runner hook
//! (`target.<host>.runner`), which points at cargo-airlock's hidden `__test-runner` role
//! ([`runner_role`]): each program runs in the sandbox with [`crate::runtime`] (phase `test`,
//! attributed to the package whose test it is), its output on the terminal as cargo shows it,
//! its run recorded in the session. The build's verdicts then count the test runs' events like
//! any other, and a test program that failed makes its crate `failed`, never `suspicious`.
//!
//! The run's target directory (`<target>/airlock/test-target`) is kept between runs while they
//! are sandboxed the same way, so a second run is as warm as a second `cargo test`; the
//! records of the build scripts that made its outputs stand for them.

mod graph_cache;
mod hook;
mod record;
mod runner_role;
mod rustdoc_role;

pub use hook::RUSTDOC_ROLE;
pub use hook::TEST_RUNNER_ROLE;
pub use runner_role::run as run_test_runner;
pub use rustdoc_role::run as run_rustdoc;

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use crate::build::{self, BuildError, BuildOptions, Drive, Progress, TargetDir, TestSettings};
use crate::report::{Report, TestRun};
use graph_cache::GraphCache;

/// The subdirectory of `<target>/airlock` that `test`'s reports go to.
pub const REPORT_SUBDIR: &str = "test";

/// The session directory's name under `<target>/airlock`.
const SESSION_SUBDIR: &str = "test-session";

/// The default per-program timeout (`--test-timeout`).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);

/// Errors of `cargo airlock test` and of its test runner. Each names the failing step; a
/// variant with a cause returns it from `source()` and does not repeat it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TestError {
    /// Building or driving cargo failed (the session, the workspace, cargo itself).
    #[error(transparent)]
    Build(#[from] BuildError),
    /// The test runner was started outside `cargo airlock test`.
    #[error("test runner: not inside `cargo airlock test` (its session has no test settings); this entry point only runs as cargo's test runner")]
    NotATestSession,
    /// The rustdoc role could not run rustdoc.
    #[error("rustdoc for the doc tests: {step}")]
    Rustdoc {
        /// What failed (`executing /path/rustdoc`, `creating DIR`).
        step: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Cargo did not give the test runner what it gives a test program.
    #[error("test runner for {}: cargo did not set {var}", program.display())]
    MissingVar {
        /// The program cargo asked to run.
        program: PathBuf,
        /// The variable that is missing.
        var: &'static str,
    },
}

/// What to test and where to report.
#[derive(Debug, Clone)]
pub struct TestOptions {
    /// The workspace, the build scripts' profile, the report directory (default
    /// `<target>/airlock/test`), the arguments for `cargo test` (after the `-p`s), the
    /// binary and cargo.
    pub build: BuildOptions,
    /// `-p PKG`: the packages whose tests run (all of the workspace's default members if
    /// empty).
    pub packages: Vec<String>,
    /// The profile the test programs run under (`test` by default).
    pub test_profile: String,
    /// The timeout of each test program.
    pub timeout: Duration,
    /// cargo's working directory (where it reads `.cargo/config.toml`); None: ours.
    pub cwd: Option<PathBuf>,
    /// Keep cargo's and the tests' output out of the terminal (it is in cargo's log).
    pub quiet: bool,
}

/// What a test run produced.
#[derive(Debug)]
pub struct TestResult {
    /// The report (also written to `report_dir`).
    pub report: Report,
    /// Where the reports were written.
    pub report_dir: PathBuf,
    /// The files written.
    pub written: Vec<PathBuf>,
    /// Cargo's own messages (its stderr).
    pub cargo_log: Option<PathBuf>,
    /// Why the tests could not run (bad input; the tests did not compile).
    pub failure: Option<String>,
}

impl TestResult {
    /// Crates judged suspicious.
    pub fn suspicious(&self) -> usize {
        self.report.summary.suspicious
    }

    /// Every test program that ran, with the crate (`name version`) it belongs to.
    pub fn test_runs(&self) -> impl Iterator<Item = (String, &TestRun)> {
        self.report
            .crates
            .iter()
            .flat_map(|c| c.tests.iter().map(move |t| (c.label(), t)))
    }

    /// The test programs that failed (or could not run), with their crate.
    pub fn failed_tests(&self) -> Vec<(String, &TestRun)> {
        self.test_runs().filter(|(_, t)| !t.passed).collect()
    }
}

/// Runs the workspace's tests with every build script, proc macro and test program sandboxed.
/// Bad input and tests that do not compile still yield a result, with a report saying what went
/// wrong ([`TestResult::failure`]).
pub fn test(
    opts: &TestOptions,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<TestResult, TestError> {
    let mut args: Vec<OsString> = Vec::new();
    for p in &opts.packages {
        args.push("-p".into());
        args.push(p.into());
    }
    // Every test binary runs, even after one fails, as the report judges them all.
    if !opts.build.cargo_args.iter().any(|a| a == "--no-fail-fast") {
        args.push("--no-fail-fast".into());
    }
    // The last run's graph and toolchain while nothing they come from changed; else
    // `cargo metadata` (in the build) and one `rustc -vV` here for the hook and the report.
    let cwd = opts
        .cwd
        .clone()
        .or_else(|| std::env::current_dir().ok())
        .unwrap_or_default();
    let cache = GraphCache::new(
        &build::manifest_path(opts.build.manifest_path.as_deref()),
        &opts.build.cargo,
        &cwd,
        SESSION_SUBDIR,
    );
    let (graph, rustc) = match cache.lookup() {
        Some((graph, rustc)) => (Some(graph), Some(rustc)),
        None => (None, hook::rustc_identity().ok()),
    };
    let drive = Drive {
        subcommand: "test",
        report_subdir: REPORT_SUBDIR,
        target: TargetDir::Kept("test-target"),
        session_subdir: SESSION_SUBDIR,
        args,
        cwd: opts.cwd.clone(),
        test: Some(TestSettings {
            profile: opts.test_profile.clone(),
            timeout_ms: u64::try_from(opts.timeout.as_millis()).unwrap_or(u64::MAX),
            host_tmpdir: std::env::var_os("TMPDIR").map(PathBuf::from),
            host: rustc.as_ref().map(|r| r.host.clone()),
        }),
        mode: build::cargo::Mode::Test { echo: !opts.quiet },
        prepare: Some(hook::test_hook),
        graph,
        toolchain: rustc.as_ref().map(|r| r.version.clone()),
    };
    let r = build::drive_cargo(&opts.build, &drive, progress)?;
    if let Some(rustc) = &rustc {
        cache.store(rustc);
    }
    let mut result = TestResult {
        report: r.report,
        report_dir: r.report_dir,
        written: r.written,
        cargo_log: r.cargo_log,
        failure: r.failure,
    };
    if let Some(unsandboxed) = ran_outside(&result) {
        result.report.errors.push(unsandboxed.clone());
        result.written = result
            .report
            .write_all(&result.report_dir)
            .map_err(BuildError::from)?;
        result.failure.get_or_insert(unsandboxed);
    }
    Ok(result)
}

/// A safety net under the runner hook: when cargo says it ran more test binaries (its
/// `Running ...` lines) than the test runner recorded, some ran outside the sandbox (a runner
/// of the user's own configuration took precedence); says so.
fn ran_outside(result: &TestResult) -> Option<String> {
    let log = std::fs::read_to_string(result.cargo_log.as_ref()?).ok()?;
    let announced = log
        .lines()
        .filter(|l| l.trim_start().starts_with("Running "))
        .count();
    let recorded = result
        .test_runs()
        .filter(|(_, t)| t.binary != "doctest")
        .count();
    (announced > recorded).then(|| {
        format!(
            "cargo ran {announced} test binaries but only {recorded} went through the sandbox: \
             a runner of the cargo configuration (`target.<triple>.runner`) took precedence; \
             the others ran unobserved"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{Environment, Summary, SCHEMA};

    fn result(log: &str, dir: &std::path::Path) -> TestResult {
        let path = dir.join("cargo-test.log");
        std::fs::write(&path, log).unwrap();
        TestResult {
            report: Report {
                schema: SCHEMA.into(),
                command: "test".into(),
                workspace: None,
                summary: Summary::default(),
                crates: Vec::new(),
                vetting: Default::default(),
                fuzz: None,
                environment: Environment::default(),
                errors: Vec::new(),
            },
            report_dir: dir.to_owned(),
            written: Vec::new(),
            cargo_log: Some(path),
            failure: None,
        }
    }

    #[test]
    fn test_binaries_cargo_ran_without_a_record_are_reported() {
        let tmp = tempfile::tempdir().unwrap();
        let ran = "   Compiling p v0.1.0\n     Running unittests src/lib.rs (target/debug/deps/p-0123456789abcdef)\n   Doc-tests p\n";
        let message = ran_outside(&result(ran, tmp.path())).expect("one binary unrecorded");
        assert!(
            message.contains("cargo ran 1 test binaries but only 0"),
            "{message}"
        );
        assert!(!message.contains("  "), "one line of prose: {message:?}");
        // `cargo test -q` announces nothing: nothing to compare.
        assert!(ran_outside(&result("", tmp.path())).is_none());
    }
}
