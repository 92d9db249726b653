//! `cargo airlock build`: build the workspace with every build script and proc-macro expansion
//! sandboxed, show progress, write the reports, and exit 0 (clean), 1 (a crate is suspicious)
//! or 2 (bad input or a build that failed on its own).

use std::ffi::OsString;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use runner::build::{self, BuildOptions, Progress};
use runner::events::Phase;
use runner::profile::DEFAULT_PROFILE;
use runner::report::Verdict;

use crate::outcome::Outcome;

/// Arguments of `cargo airlock build`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  cargo airlock build\n  cargo airlock build --manifest-path ../app/Cargo.toml -- --locked --features tls\n\nExit status: 0 every crate clean, 1 a crate is suspicious, 2 bad input or the build failed on its own."
)]
pub(crate) struct BuildArgs {
    /// The workspace's Cargo.toml, or the directory holding it (default: ./Cargo.toml).
    #[arg(long, value_name = "M")]
    pub manifest_path: Option<PathBuf>,
    /// A built-in profile (build, strict, fuzz) or the path of a TOML profile.
    #[arg(long, default_value = DEFAULT_PROFILE, value_name = "P")]
    pub profile: String,
    /// Where report.json, report.md and report.sarif go (default: <target>/airlock/build).
    #[arg(long, value_name = "D")]
    pub report_dir: Option<PathBuf>,
    /// Run even if this kernel lacks a sandbox layer (the report records it).
    #[arg(long)]
    pub allow_degraded: bool,
    /// Arguments for `cargo build` (e.g. --locked, --features F); --keep-going is always passed.
    #[arg(last = true, value_name = "CARGO_BUILD_ARGS")]
    pub cargo_args: Vec<OsString>,
}

/// How progress is shown: a bar on a terminal, one line per step in CI logs.
enum Display {
    Bar(ProgressBar),
    Lines,
}

/// Runs the vetting build.
pub(crate) fn run(args: BuildArgs) -> anyhow::Result<Outcome> {
    let airlock_bin = std::env::current_exe()
        .and_then(std::fs::canonicalize)
        .context("cannot find the cargo-airlock binary itself (needed as the rustc wrapper)")?;
    let opts = BuildOptions {
        manifest_path: args.manifest_path,
        profile: args.profile,
        report_dir: args.report_dir,
        cargo_args: args.cargo_args,
        allow_degraded: args.allow_degraded,
        airlock_bin,
        cargo: std::env::var_os("CARGO").map_or_else(|| PathBuf::from("cargo"), PathBuf::from),
        tool_version: env!("CARGO_PKG_VERSION").to_owned(),
    };
    let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false");
    let display = if !ci && std::io::stderr().is_terminal() {
        let bar = ProgressBar::new(0);
        bar.set_style(
            ProgressStyle::with_template("{spinner} [{elapsed}] {pos}/{len} crates {wide_msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.enable_steady_tick(Duration::from_millis(120));
        Display::Bar(bar)
    } else {
        Display::Lines
    };
    let display = Mutex::new(display);
    let on_progress = |p: Progress| {
        let d = display.lock().unwrap_or_else(|e| e.into_inner());
        match (&*d, p) {
            (Display::Bar(bar), Progress::Started { total, .. }) => bar.set_length(total as u64),
            (Display::Bar(bar), Progress::CrateBuilt { done, .. }) => bar.set_position(done as u64),
            (Display::Bar(bar), Progress::Running(now)) => bar.set_message(if now.is_empty() {
                String::new()
            } else {
                format!("running: {}", now.join(", "))
            }),
            (
                Display::Bar(bar),
                Progress::RunFinished {
                    label,
                    phase,
                    notable: true,
                },
            ) => bar.println(format!(
                "airlock: {} of {label} needs a look",
                phase_name(phase)
            )),
            (Display::Bar(_), _) => {}
            (Display::Lines, Progress::Started { total, sandboxed }) => eprintln!(
                "airlock: building {total} {}; the build scripts and proc macros of {sandboxed} run sandboxed",
                if total == 1 { "crate" } else { "crates" }
            ),
            (
                Display::Lines,
                Progress::RunFinished {
                    label,
                    phase,
                    notable,
                },
            ) => eprintln!(
                "airlock: {} of {label} {}",
                phase_name(phase),
                if notable { "needs a look" } else { "ran clean" }
            ),
            (Display::Lines, _) => {}
        }
    };
    let result = build::build(&opts, &on_progress);
    if let Display::Bar(bar) = &*display.lock().unwrap_or_else(|e| e.into_inner()) {
        bar.finish_and_clear();
    }
    let result = result.context("the vetting build could not run")?;

    let r = &result.report;
    for c in r.crates.iter().filter(|c| c.verdict != Verdict::Clean) {
        eprintln!(
            "airlock: {} {}: {}",
            c.label(),
            c.verdict.as_str().to_uppercase(),
            c.reasons.join("; ")
        );
    }
    let s = &r.summary;
    eprintln!(
        "airlock: {} crates: {} clean, {} suspicious, {} failed, {} not run; {} build scripts and {} proc-macro expansions sandboxed. Reports in {}",
        s.crates, s.clean, s.suspicious, s.failed, s.not_run, s.build_scripts_run, s.proc_macro_runs,
        result.report_dir.display()
    );
    if let Some(failure) = &result.failure {
        eprintln!("cargo-airlock: error: {failure}");
    }
    Ok(if result.suspicious() > 0 {
        Outcome::Findings
    } else if result.failure.is_some() {
        Outcome::Error
    } else {
        Outcome::Clean
    })
}

fn phase_name(p: Phase) -> &'static str {
    match p {
        Phase::BuildScript => "build script",
        Phase::ProcMacro => "proc-macro expansion",
        Phase::Fuzz => "fuzz run",
        Phase::Sandbox => "sandboxed run",
        Phase::Test => "test run",
        Phase::Load => "load run",
        Phase::Probe => "probe run",
    }
}
