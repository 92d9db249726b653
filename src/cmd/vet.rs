//! `cargo airlock vet CRATE[@VERSION]..`: fetch each crate from its registry, run the phases
//! (provenance, inventory, sandboxed build, ...), show progress, print a one-screen summary and
//! exit 0 (clean), 1 (suspicious, or a crate that does not exist) or 2 (could not vet).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use runner::build::Progress;
use runner::profile::DEFAULT_PROFILE;
use runner::report::{Level, Reason, Report, Verdict};
use runner::vet::pipeline::{self, PhaseSelection, VetOptions, VetProgress};
use runner::vet::registry::ConfigInputs;
use runner::vet::spec::{CrateSpec, UpdateSpec};

use crate::outcome::Outcome;

/// How many signals and events the summary shows.
const SUMMARY_ITEMS: usize = 5;

/// Arguments of `cargo airlock vet`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  cargo airlock vet semver@1.0.26\n  cargo airlock vet itoa anyhow --phases provenance,inventory\n  cargo airlock vet my-crate@0.3.1 --registry company\n  cargo airlock vet serde@1.0.199..1.0.200   (an update: what 1.0.200 adds)\n\nPhases: provenance, inventory, build, and diff for an update (test, load, probe and fuzz are listed in the report as not run by this version).\n\nExit status: 0 clean, 1 suspicious or a crate that does not exist, 2 could not vet (bad spec, unknown or unreachable registry, checksum mismatch, a build that failed on its own)."
)]
pub(crate) struct VetArgs {
    /// The crates to vet, each `NAME` (the newest non-yanked version) or `NAME@VERSION`; or one
    /// update `NAME@OLD..NEW` (NEW vetted and compared with OLD).
    #[arg(required = true, value_name = "CRATE[@VERSION]")]
    pub specs: Vec<String>,
    /// A registry of cargo's configuration (`[registries.NAME]` or
    /// CARGO_REGISTRIES_<NAME>_INDEX; default: crates.io).
    #[arg(long, value_name = "NAME")]
    pub registry: Option<String>,
    /// The phases to run, comma-separated (default: all this version supports).
    #[arg(long, value_name = "LIST")]
    pub phases: Option<String>,
    /// The time budget of the run-time phases (e.g. 90s, 5m).
    #[arg(long, value_name = "D")]
    pub time: Option<String>,
    /// Where report.json, .md, .sarif and .html go (default: target/airlock/vet of the current
    /// workspace, else ./airlock-vet).
    #[arg(long, value_name = "D")]
    pub report_dir: Option<PathBuf>,
    /// Where downloads, unpacked packages and scratch workspaces go (default:
    /// $XDG_CACHE_HOME/cargo-airlock or ~/.cache/cargo-airlock).
    #[arg(long, value_name = "D")]
    pub cache_dir: Option<PathBuf>,
    /// Run even if this kernel lacks a sandbox layer (the report records it).
    #[arg(long)]
    pub allow_degraded: bool,
}

/// How progress is shown: a spinner on a terminal, one line per phase in CI logs.
enum Display {
    Bar(ProgressBar),
    Lines,
}

/// Runs `vet`.
pub(crate) fn run(args: VetArgs) -> anyhow::Result<Outcome> {
    let update = match args.specs.iter().find(|s| UpdateSpec::is_update(s)) {
        Some(_) if args.specs.len() > 1 => anyhow::bail!(
            "an update (CRATE@OLD..NEW) is vetted on its own: give it as the only CRATE argument"
        ),
        Some(spec) => Some(spec.parse::<UpdateSpec>()?),
        None => None,
    };
    let specs = match &update {
        Some(u) => vec![u.new.clone()],
        None => args
            .specs
            .iter()
            .map(|s| s.parse::<CrateSpec>())
            .collect::<Result<Vec<_>, _>>()?,
    };
    let phases = match &args.phases {
        Some(list) => PhaseSelection::parse(list)?,
        None => PhaseSelection::all(),
    };
    let time = match &args.time {
        Some(t) => pipeline::parse_time(t)?,
        None => pipeline::DEFAULT_TIME,
    };
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    let cache_dir = match args.cache_dir {
        Some(d) => d,
        None => pipeline::default_cache_dir().context(
            "no cache directory: neither XDG_CACHE_HOME nor HOME is set; pass --cache-dir DIR",
        )?,
    };
    let report_dir = args.report_dir.unwrap_or_else(|| default_report_dir(&cwd));
    let airlock_bin = std::env::current_exe()
        .and_then(std::fs::canonicalize)
        .context("cannot find the cargo-airlock binary itself (needed as the rustc wrapper)")?;
    let opts = VetOptions {
        specs,
        registry: args.registry,
        config: ConfigInputs::from_process(&cwd),
        phases,
        time,
        report_dir,
        cache_dir,
        allow_degraded: args.allow_degraded,
        profile: DEFAULT_PROFILE.to_owned(),
        airlock_bin,
        cargo: std::env::var_os("CARGO").map_or_else(|| PathBuf::from("cargo"), PathBuf::from),
        tool_version: env!("CARGO_PKG_VERSION").to_owned(),
        now: SystemTime::now(),
    };

    let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false");
    let display = if !ci && std::io::stderr().is_terminal() {
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("{spinner} [{elapsed}] {wide_msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.enable_steady_tick(Duration::from_millis(120));
        Display::Bar(bar)
    } else {
        Display::Lines
    };
    let display = Mutex::new(display);
    let current = Mutex::new(String::new());
    let on_progress = |p: VetProgress| {
        let d = display.lock().unwrap_or_else(|e| e.into_inner());
        let mut now = current.lock().unwrap_or_else(|e| e.into_inner());
        match (&*d, p) {
            (Display::Bar(bar), VetProgress::Started { phase, krate }) => {
                *now = format!("{phase}: {krate}");
                bar.set_message(now.clone());
            }
            (
                Display::Bar(bar),
                VetProgress::Finished {
                    phase,
                    krate,
                    elapsed,
                    outcome,
                },
            ) => bar.println(format!(
                "airlock: {phase} of {krate}: {outcome} ({})",
                secs(elapsed)
            )),
            (Display::Bar(bar), VetProgress::Build(Progress::CrateBuilt { done, total, .. })) => {
                bar.set_message(format!("{now} ({done}/{total} crates compiled)"))
            }
            (Display::Bar(bar), VetProgress::Build(Progress::Running(running)))
                if !running.is_empty() =>
            {
                bar.set_message(format!("{now} (running: {})", running.join(", ")))
            }
            (Display::Bar(_), _) => {}
            (Display::Lines, VetProgress::Started { .. } | VetProgress::Build(_)) => {}
            (
                Display::Lines,
                VetProgress::Finished {
                    phase,
                    krate,
                    elapsed,
                    outcome,
                },
            ) => eprintln!("airlock: {phase} of {krate}: {outcome} ({})", secs(elapsed)),
            (Display::Lines, VetProgress::Skipped { phase, reason }) => {
                eprintln!("airlock: {phase} skipped: {reason}")
            }
        }
    };
    let result = match &update {
        Some(u) => runner::vet::run_update(&opts, u, &on_progress),
        None => pipeline::run(&opts, &on_progress),
    };
    if let Display::Bar(bar) = &*display.lock().unwrap_or_else(|e| e.into_inner()) {
        bar.finish_and_clear();
    }
    let result = result?;
    eprint!("{}", summary(&result.report, &result.report_dir));
    // A crash the fuzz phase found is a finding, not suspicion: exit 1 as `fuzz` does.
    let found = result.report.fuzz.as_ref().is_some_and(|f| f.has_new());
    Ok(match result.verdict() {
        Verdict::Suspicious => Outcome::Findings,
        _ if found => Outcome::Findings,
        Verdict::Clean => Outcome::Clean,
        Verdict::Failed | Verdict::NotRun => Outcome::Error,
    })
}

/// `target/airlock/vet` of the workspace around `cwd` (as `cargo locate-project --workspace`
/// finds it), else `./airlock-vet`.
fn default_report_dir(cwd: &Path) -> PathBuf {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let located = std::process::Command::new(cargo)
        .args(["locate-project", "--workspace", "--message-format", "plain"])
        .current_dir(cwd)
        .stderr(std::process::Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    match located.as_deref().and_then(Path::parent) {
        Some(root) => root.join("target/airlock/vet"),
        None => cwd.join("airlock-vet"),
    }
}

fn secs(d: Duration) -> String {
    format!("{:.1}s", d.as_secs_f64())
}

/// The one-screen summary: the verdict, its reasons (the most important first), the phases
/// that did not run, the errors, and where the reports are.
fn summary(r: &Report, dir: &Path) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let v = r.vetting.verdict.as_ref();
    let verdict = v.map_or(Verdict::Failed, |v| v.verdict);
    let _ = writeln!(out, "\nairlock vet: {}", verdict.as_str().to_uppercase());
    for c in v.map(|v| v.crates.as_slice()).unwrap_or_default() {
        let _ = writeln!(
            out,
            "  {}{}: {}{}",
            c.name,
            c.version
                .as_deref()
                .map(|v| format!(" {v}"))
                .unwrap_or_default(),
            c.verdict.as_str(),
            match c.reasons.len() {
                0 => String::new(),
                n => format!(" ({n} reason{})", if n == 1 { "" } else { "s" }),
            }
        );
    }
    let items = important(r);
    if !items.is_empty() {
        let _ = writeln!(out, "Most important:");
        for item in items.iter().take(SUMMARY_ITEMS) {
            let _ = writeln!(out, "  {item}");
        }
        if items.len() > SUMMARY_ITEMS {
            let _ = writeln!(
                out,
                "  ... and {} more in the report",
                items.len() - SUMMARY_ITEMS
            );
        }
    }
    for f in r.fuzz.iter().flat_map(|f| &f.findings) {
        let _ = writeln!(
            out,
            "Fuzz finding {} ({} in {}): {}\n  reproduce: {}",
            f.id, f.kind, f.target, f.message, f.repro
        );
    }
    if let Some(d) = &r.vetting.diff {
        let mut added = Vec::new();
        if let Some(b) = &d.build_script {
            added.push(format!("build script {b}"));
        }
        for (what, n) in [
            ("capabilities", d.capabilities.len()),
            ("signals", d.signals.len()),
            ("notable events", d.events.len()),
            ("dependencies", d.dependencies.len()),
            ("files", d.files.len()),
        ] {
            if n > 0 {
                added.push(format!("{n} {what}"));
            }
        }
        let _ = writeln!(
            out,
            "Update {} {} -> {}: {}",
            d.name,
            d.old,
            d.new,
            if added.is_empty() {
                "nothing added".to_owned()
            } else {
                format!("added {}", added.join(", "))
            }
        );
    }
    for e in &r.errors {
        let _ = writeln!(out, "Could not vet: {e}");
    }
    let skipped: Vec<String> = r
        .vetting
        .phases
        .iter()
        .filter(|p| p.status != runner::report::PhaseStatus::Ran)
        // `diff` is for updates only: not worth a mention otherwise.
        .filter(|p| p.phase != runner::report::VetPhase::Diff || r.vetting.diff.is_some())
        .map(|p| p.phase.to_string())
        .collect();
    if !skipped.is_empty() {
        let _ = writeln!(
            out,
            "Phases not run: {} (the report says why)",
            skipped.join(", ")
        );
    }
    let _ = writeln!(
        out,
        "Reports: {}/report.{{json,md,sarif,html}}",
        dir.display()
    );
    out
}

/// The reasons (most important first), then the `info` signals of provenance and inventory,
/// one line each with where they come from.
fn important(r: &Report) -> Vec<String> {
    let reasons: &[Reason] = r
        .vetting
        .verdict
        .as_ref()
        .map(|v| v.reasons.as_slice())
        .unwrap_or_default();
    let mut items: Vec<String> = reasons
        .iter()
        .map(|reason| {
            format!(
                "[{}] {} {} `{}`{}: {}",
                reason.level.as_str(),
                reason.phase,
                reason.krate,
                reason.code,
                reason
                    .location
                    .as_deref()
                    .map(|l| format!(" at {l}"))
                    .unwrap_or_default(),
                reason.evidence
            )
        })
        .collect();
    for p in &r.vetting.provenance {
        for s in p.signals.iter().filter(|s| s.level == Level::Info) {
            items.push(format!(
                "[info] provenance {} `{}`: {}",
                p.name, s.code, s.reason
            ));
        }
    }
    for inv in &r.vetting.inventory {
        for s in inv.signals.iter().filter(|s| s.level == Level::Info) {
            items.push(format!(
                "[info] inventory {} {} `{}` at {}:{}: {}",
                inv.name,
                inv.version,
                s.code.as_str(),
                s.path,
                s.line,
                s.reason
            ));
        }
    }
    items
}
