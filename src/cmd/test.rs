//! `cargo airlock test`: run the workspace's tests with every build script, proc-macro
//! expansion and test program sandboxed, the tests' output visible as `cargo test` shows it;
//! write the reports and exit 0 (every test passed, nothing suspicious), 1 (a crate is
//! suspicious or a test failed) or 2 (bad input, or the tests did not compile).

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use runner::build::{BuildOptions, Progress};
use runner::events::Phase;
use runner::profile::DEFAULT_PROFILE;
use runner::report::Verdict;
use runner::runtime::TEST_PROFILE;
use runner::test_run::{self, TestOptions};

use crate::outcome::Outcome;

/// Arguments of `cargo airlock test`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  cargo airlock test\n  cargo airlock test -p mylib --test-timeout 2m -- --features tls -- --nocapture\n\nExit status: 0 every test passed and nothing is suspicious, 1 a crate is suspicious or a test failed, 2 bad input or the tests did not compile."
)]
pub(crate) struct TestArgs {
    /// The workspace's Cargo.toml, or the directory holding it (default: ./Cargo.toml).
    #[arg(long, value_name = "M")]
    pub manifest_path: Option<PathBuf>,
    /// Test only this package (repeatable).
    #[arg(short = 'p', long = "package", value_name = "PKG")]
    pub packages: Vec<String>,
    /// Where report.json, report.md, report.sarif and report.html go (default:
    /// <target>/airlock/test).
    #[arg(long, value_name = "D")]
    pub report_dir: Option<PathBuf>,
    /// The profile the test programs run under: `test`, another built-in profile, or the path
    /// of a TOML profile (build scripts and proc macros run under `build`).
    #[arg(long, default_value = TEST_PROFILE, value_name = "P")]
    pub profile: String,
    /// Stop a test program (one binary, one doc-test program) that runs longer (`90s`, `10m`).
    #[arg(long, default_value = "10m", value_name = "D", value_parser = crate::cmd::fuzz::parse_duration)]
    pub test_timeout: Duration,
    /// Run even if this kernel lacks a sandbox layer (the report records it).
    #[arg(long)]
    pub allow_degraded: bool,
    /// Arguments for `cargo test` (e.g. --features F, --lib, -- --nocapture); --no-fail-fast
    /// is always passed.
    #[arg(last = true, value_name = "CARGO_TEST_ARGS")]
    pub cargo_args: Vec<OsString>,
}

/// Runs the tests.
pub(crate) fn run(args: TestArgs) -> anyhow::Result<Outcome> {
    let airlock_bin = std::env::current_exe()
        .and_then(std::fs::canonicalize)
        .context("cannot find the cargo-airlock binary itself (needed as the rustc wrapper and the test runner)")?;
    let opts = TestOptions {
        build: BuildOptions {
            manifest_path: args.manifest_path,
            profile: DEFAULT_PROFILE.to_owned(),
            report_dir: args.report_dir,
            cargo_args: args.cargo_args,
            allow_degraded: args.allow_degraded,
            airlock_bin,
            cargo: std::env::var_os("CARGO").map_or_else(|| PathBuf::from("cargo"), PathBuf::from),
            tool_version: env!("CARGO_PKG_VERSION").to_owned(),
        },
        packages: args.packages,
        test_profile: args.profile,
        timeout: args.test_timeout,
        cwd: None,
        quiet: false,
    };
    // The tests' own output is on the terminal; progress says only what needs a look.
    let on_progress = |p: Progress| {
        match p {
        Progress::Started { total, sandboxed } => eprintln!(
            "airlock: testing with {total} {} to build; the build scripts and proc macros of {sandboxed} and every test program run sandboxed",
            if total == 1 { "crate" } else { "crates" }
        ),
        Progress::RunFinished {
            label,
            phase,
            notable: true,
        } if phase != Phase::Test => eprintln!("airlock: {} of {label} needs a look", phase_name(phase)),
        _ => {}
    }
    };
    let result =
        test_run::test(&opts, &on_progress).context("the sandboxed tests could not run")?;

    let r = &result.report;
    for c in r.crates.iter().filter(|c| c.verdict != Verdict::Clean) {
        eprintln!(
            "airlock: {} {}: {}",
            c.label(),
            c.verdict.as_str().to_uppercase(),
            c.reasons.join("; ")
        );
    }
    let runs = result.test_runs().count();
    let failed = result.failed_tests();
    let s = &r.summary;
    eprintln!(
        "airlock: {runs} test program{} ran sandboxed, {} failed; {} crates: {} clean, {} suspicious, {} failed, {} not run. Reports in {}",
        if runs == 1 { "" } else { "s" },
        failed.len(),
        s.crates,
        s.clean,
        s.suspicious,
        s.failed,
        s.not_run,
        result.report_dir.display()
    );
    if let Some(failure) = &result.failure {
        eprintln!("cargo-airlock: error: {failure}");
        return Ok(Outcome::Error);
    }
    let suspicious = result.suspicious() > 0;
    if suspicious || !failed.is_empty() {
        let mut why = Vec::new();
        if suspicious {
            why.push(format!("{} crate(s) suspicious", result.suspicious()));
        }
        if !failed.is_empty() {
            let names: Vec<String> = failed
                .iter()
                .map(|(c, t)| format!("{} ({c})", t.binary))
                .collect();
            why.push(format!("tests failed: {}", names.join(", ")));
        }
        eprintln!("airlock: exit 1: {}", why.join("; "));
        return Ok(Outcome::Findings);
    }
    Ok(Outcome::Clean)
}

fn phase_name(p: Phase) -> &'static str {
    match p {
        Phase::BuildScript => "build script",
        Phase::ProcMacro => "proc-macro expansion",
        _ => "run",
    }
}
