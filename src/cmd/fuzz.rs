//! `cargo airlock fuzz`: build the generated targets with sanitizers and coverage (their build
//! scripts and proc macros sandboxed as in `build`), run them in the sandbox within the time
//! budget, triage the crashes, write the report; exit 1 for a new finding or a suspicious
//! crate (its build script, or a notable event of its fuzz runs).

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use runner::fuzz::{self, CampaignOptions};
use runner::report::{Environment, Format, FuzzSection, Report, Verdict};
use runner::sandbox::probe::Support;

use crate::outcome::Outcome;

/// `--input-timeout` unless told otherwise.
pub(crate) const DEFAULT_INPUT_TIMEOUT: &str = "10s";
/// `--rss-limit-mb` unless told otherwise.
pub(crate) const DEFAULT_RSS_LIMIT_MB: u64 = 2048;

/// The per-input limits of a campaign, shared by `fuzz` and `fuzz export` (an export runs its
/// targets under the same libFuzzer options as the campaign).
#[derive(Debug, clap::Args)]
pub(crate) struct InputLimits {
    /// Longest time one input may take (libFuzzer's -timeout; longer is a `timeout` finding).
    #[arg(long, value_name = "D", default_value = DEFAULT_INPUT_TIMEOUT, value_parser = parse_duration)]
    pub input_timeout: Duration,
    /// Memory limit per input in MiB (-rss_limit_mb and -malloc_limit_mb; more is an `oom`
    /// finding).
    #[arg(long, value_name = "MB", default_value_t = DEFAULT_RSS_LIMIT_MB)]
    pub rss_limit_mb: u64,
}

/// Arguments of `cargo airlock fuzz`.
#[derive(Debug, clap::Args)]
#[command(
    args_conflicts_with_subcommands = true,
    after_help = "Examples:\n  cargo airlock gen --out fuzz-airlock && cargo airlock fuzz --dir fuzz-airlock --time 10m\n  cargo airlock fuzz --dir fuzz-airlock --time 1h --shard 2/4 --baseline last/report.json\n  cargo airlock fuzz export clusterfuzzlite --dir fuzz-airlock\n\nExit status: 0 nothing new, 1 a new finding or a suspicious crate (its build script, or what it attempted while fuzzed), 2 the campaign could not run."
)]
pub(crate) struct FuzzArgs {
    #[command(subcommand)]
    pub action: Option<FuzzAction>,
    /// The project `cargo airlock gen` wrote.
    #[arg(long, value_name = "DIR", default_value = "fuzz-airlock")]
    pub dir: PathBuf,
    /// Total fuzzing time, shared by the targets (e.g. 90s, 10m, 1h): half evenly, the other
    /// half among those still gaining coverage without a crash.
    #[arg(long, value_name = "D", default_value = "5m", value_parser = parse_duration)]
    pub time: Duration,
    /// Parallel libFuzzer workers per target (default: the number of cores).
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
    /// Fuzz only this target (repeatable).
    #[arg(long = "target", value_name = "T")]
    pub targets: Vec<String>,
    /// Where report.json, report.md, report.sarif and the reproducers go (`build` writes to
    /// target/airlock/build, so neither overwrites the other).
    #[arg(long, value_name = "D", default_value = "target/airlock/fuzz")]
    pub report_dir: PathBuf,
    /// An earlier report: findings are marked new, known or fixed; exit 1 only for new ones.
    #[arg(long, value_name = "REPORT")]
    pub baseline: Option<PathBuf>,
    /// Run only shard K of N (targets are split deterministically by name), e.g. 2/4.
    #[arg(long, value_name = "K/N", value_parser = parse_shard)]
    pub shard: Option<(u32, u32)>,
    #[command(flatten)]
    pub limits: InputLimits,
    /// Run even if this kernel lacks a sandbox layer (the report says so).
    #[arg(long)]
    pub allow_degraded: bool,
}

/// What `fuzz` does instead of a campaign.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum FuzzAction {
    /// Write what ClusterFuzzLite / OSS-Fuzz need to build and run the same targets.
    Export(crate::cmd::export::ExportArgs),
}

/// Parses a duration flag (`90s`, `10m`, `1h`).
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    runner::profile::parse_duration(text)
}

/// Parses `--shard K/N`.
pub(crate) fn parse_shard(text: &str) -> Result<(u32, u32), String> {
    let (k, n) = text
        .split_once('/')
        .ok_or_else(|| format!("`{text}` is not K/N (e.g. 1/4)"))?;
    let k: u32 = k.parse().map_err(|_| format!("`{k}` is not a number"))?;
    let n: u32 = n.parse().map_err(|_| format!("`{n}` is not a number"))?;
    if n == 0 || k == 0 || k > n {
        return Err(format!("shard {k}/{n}: need 1 <= K <= N"));
    }
    Ok((k, n))
}

/// Prints one progress line.
pub(crate) fn progress(line: &str) {
    eprintln!("{line}");
}

/// This binary: the instrumented build runs build scripts and proc-macro expansions through it.
pub(crate) fn airlock_bin() -> anyhow::Result<PathBuf> {
    std::env::current_exe()
        .and_then(std::fs::canonicalize)
        .context("cannot find the cargo-airlock binary itself (needed as the rustc wrapper)")
}

/// Reads the `fuzz` section of a report (empty when the report has none).
pub(crate) fn load_section(path: &Path) -> anyhow::Result<FuzzSection> {
    let report = Report::read(path)?;
    Ok(report.fuzz.unwrap_or_default())
}

/// The `environment` of a fuzz report.
fn environment(section: &FuzzSection, allow_degraded: bool) -> Environment {
    let support = Support::get();
    Environment {
        kernel: support.kernel.clone(),
        landlock_abi: support.landlock_abi,
        layers: None,
        degraded: allow_degraded && !support.missing_for_fuzz().is_empty(),
        profile: runner::fuzz::FUZZ_PROFILE.to_owned(),
        tool_version: env!("CARGO_PKG_VERSION").to_owned(),
        toolchain: section
            .instrumentation
            .as_ref()
            .map(|i| i.toolchain.clone())
            .unwrap_or_default(),
    }
}

/// Runs the campaign and writes the report (or what `args.action` says).
pub(crate) fn run(args: FuzzArgs) -> anyhow::Result<Outcome> {
    if let Some(FuzzAction::Export(export)) = args.action {
        return crate::cmd::export::run(export);
    }
    let baseline = match &args.baseline {
        Some(path) => Some(load_section(path)?),
        None => None,
    };
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    std::fs::create_dir_all(&args.report_dir)
        .with_context(|| format!("cannot create {}", args.report_dir.display()))?;
    let report_dir = std::fs::canonicalize(&args.report_dir)?;
    let options = CampaignOptions {
        dir: args.dir.clone(),
        time: args.time,
        jobs,
        targets: args.targets,
        shard: args.shard,
        report_dir: report_dir.clone(),
        baseline,
        input_timeout: args.limits.input_timeout,
        rss_limit_mb: args.limits.rss_limit_mb,
        allow_degraded: args.allow_degraded,
        airlock_bin: airlock_bin()?,
    };
    let campaign =
        fuzz::run_campaign(&options, &progress).context("the fuzz campaign could not run")?;
    let section = campaign.section;
    let mut report = Report::for_fuzz(section.clone(), environment(&section, args.allow_degraded));
    let suspicious = campaign.verdicts.suspicious();
    campaign.verdicts.fill(&mut report);
    report.errors.extend(campaign.failure.clone());
    report
        .write_all(&report_dir)
        .context("cannot write the report")?;
    std::fs::write(report_dir.join("report.html"), report.render(Format::Html))
        .with_context(|| format!("cannot write {}", report_dir.join("report.html").display()))?;
    let written = report_dir.join("report.json");
    let new = section
        .findings
        .iter()
        .filter(|f| f.status == "new")
        .count();
    eprintln!(
        "fuzz: {} targets fuzzed, {} findings ({new} new); report: {}",
        section
            .targets
            .iter()
            .filter(|t| t.status == "built")
            .count(),
        section
            .findings
            .iter()
            .filter(|f| f.status != "fixed")
            .count(),
        written.display()
    );
    for f in &section.findings {
        eprintln!(
            "  [{}] {} {} in {}: {}",
            f.status, f.id, f.kind, f.target, f.message
        );
        eprintln!("      reproduce: {}", f.repro);
    }
    let (recorded, notable): (u64, u64) = section
        .targets
        .iter()
        .fold((0, 0), |(r, n), t| (r + t.events, n + t.notable_events));
    eprintln!(
        "fuzz: the sandboxed fuzz runs recorded {recorded} events, {notable} notable{}",
        match section
            .targets
            .iter()
            .filter(|t| t.notable_events > 0)
            .map(|t| t.name.as_str())
            .collect::<Vec<_>>()
        {
            names if names.is_empty() => String::new(),
            names => format!(" (targets {})", names.join(", ")),
        }
    );
    let s = &report.summary;
    eprintln!(
        "fuzz: {} build scripts and {} proc-macro expansions of the instrumented build ran in the sandbox; {} crates clean, {} suspicious, {} failed, {} not run",
        s.build_scripts_run, s.proc_macro_runs, s.clean, s.suspicious, s.failed, s.not_run
    );
    for c in report.crates.iter().filter(|c| c.verdict != Verdict::Clean) {
        eprintln!(
            "  {} {}: {}",
            c.label(),
            c.verdict.as_str().to_uppercase(),
            c.reasons.join("; ")
        );
    }
    if let Some(failure) = &campaign.failure {
        eprintln!("cargo-airlock: error: {failure}");
    }
    Ok(if section.has_new() || suspicious > 0 {
        Outcome::Findings
    } else if campaign.failure.is_some() {
        Outcome::Error
    } else {
        Outcome::Clean
    })
}
