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
use runner::vet::workspace::{self, WorkspaceOptions};

use crate::outcome::Outcome;

/// How many signals and events the summary shows.
const SUMMARY_ITEMS: usize = 5;
/// Above this many crates, the summary lists only those that are not clean.
const SUMMARY_CRATES: usize = 12;

/// Arguments of `cargo airlock vet`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  cargo airlock vet semver@1.0.26\n  cargo airlock vet itoa anyhow --phases provenance,inventory\n  cargo airlock vet my-crate@0.3.1 --registry company\n  cargo airlock vet serde@1.0.199..1.0.200   (an update: what 1.0.200 adds)\n  cargo airlock vet --manifest-path .   (every third-party package of the workspace)\n  cargo airlock vet --manifest-path . --since origin/main   (only what a pull request adds or changes)\n  cargo airlock vet --manifest-path . --since old/Cargo.lock --shard 2/4\n\nPhases, in order: provenance, inventory, build (every build script and proc macro sandboxed), test (the crate's own tests), load (a program that links it starts: static constructors), probe (its public functions called with generated arguments), fuzz (needs a nightly toolchain), and diff for an update. Everything that runs the crate's code is sandboxed.\n\nA workspace's verdicts are cached in the cache directory by name, version, checksum, tool version, profile and phases: a package vetted completely before is reported from the cache (`cached: true`); --no-cache vets it again.\n\nExit status: 0 clean, 1 suspicious or a crate that does not exist, 2 could not vet (bad spec, unknown or unreachable registry, checksum mismatch, a build that failed on its own, a --since that is neither a lockfile nor a revision with one, a bad --shard)."
)]
pub(crate) struct VetArgs {
    /// The crates to vet, each `NAME` (the newest non-yanked version) or `NAME@VERSION`; or one
    /// update `NAME@OLD..NEW` (NEW vetted and compared with OLD).
    #[arg(
        required_unless_present = "manifest_path",
        conflicts_with = "manifest_path",
        value_name = "CRATE[@VERSION]"
    )]
    pub specs: Vec<String>,
    /// Vet every third-party package (registry and git) of this workspace's graph instead: its
    /// Cargo.toml, or the directory holding it.
    #[arg(long, value_name = "M")]
    pub manifest_path: Option<PathBuf>,
    /// Only the packages added or changed since this older Cargo.lock, or since this git
    /// revision's Cargo.lock (`git show REV:Cargo.lock` in the workspace).
    #[arg(long, value_name = "LOCKFILE|REV", requires = "manifest_path")]
    pub since: Option<String>,
    /// Vet only shard K of N of the workspace's packages (split deterministically by
    /// name@version, as `fuzz --shard` splits targets), e.g. 2/4.
    #[arg(long, value_name = "K/N", value_parser = crate::cmd::fuzz::parse_shard, requires = "manifest_path")]
    pub shard: Option<(u32, u32)>,
    /// Vet every package again instead of reusing a cached verdict (fresh verdicts are still
    /// cached).
    #[arg(long)]
    pub no_cache: bool,
    /// A registry of cargo's configuration (`[registries.NAME]` or
    /// CARGO_REGISTRIES_<NAME>_INDEX; default: crates.io). A workspace's packages come from the
    /// registries their lockfile names.
    #[arg(long, value_name = "NAME", conflicts_with = "manifest_path")]
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
    let manifest = args
        .manifest_path
        .as_deref()
        .map(|m| runner::vet::workspace::manifest_of(&cwd.join(m)));
    // A workspace's own cargo configuration applies to its registries.
    let config_dir = manifest
        .as_deref()
        .and_then(Path::parent)
        .map_or_else(|| cwd.clone(), Path::to_owned);
    let cache_dir = match args.cache_dir {
        Some(d) => d,
        None => pipeline::default_cache_dir().context(
            "no cache directory: neither XDG_CACHE_HOME nor HOME is set; pass --cache-dir DIR",
        )?,
    };
    let report_dir = args
        .report_dir
        .unwrap_or_else(|| default_report_dir(&config_dir));
    let airlock_bin = std::env::current_exe()
        .and_then(std::fs::canonicalize)
        .context("cannot find the cargo-airlock binary itself (needed as the rustc wrapper)")?;
    let opts = VetOptions {
        specs,
        registry: args.registry,
        config: ConfigInputs::from_process(&config_dir),
        source: None,
        extra_names: Vec::new(),
        inventory_dependencies: true,
        phases,
        not_for_host: None,
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
    // A workspace runs the pipeline once per package: say why a phase is skipped once.
    let said_skipped = Mutex::new(std::collections::BTreeSet::new());
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
            (Display::Bar(bar), VetProgress::Step(line)) => {
                bar.set_message(format!("{now} ({})", line.trim_start_matches("fuzz: ")))
            }
            (Display::Bar(bar), VetProgress::Cached { krate, verdict }) => bar.println(format!(
                "airlock: {krate}: {} (cached verdict)",
                verdict.as_str()
            )),
            (Display::Bar(_), _) => {}
            (
                Display::Lines,
                VetProgress::Started { .. } | VetProgress::Build(_) | VetProgress::Step(_),
            ) => {}
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
                let mut said = said_skipped.lock().unwrap_or_else(|e| e.into_inner());
                if said.insert((phase, reason.clone())) {
                    eprintln!("airlock: {phase} skipped: {reason}")
                }
            }
            (Display::Lines, VetProgress::Cached { krate, verdict }) => {
                eprintln!("airlock: {krate}: {} (cached verdict)", verdict.as_str())
            }
        }
    };
    let result: anyhow::Result<_> = match (&update, manifest) {
        (Some(u), _) => runner::vet::run_update(&opts, u, &on_progress).map_err(Into::into),
        (None, Some(manifest_path)) => {
            let ws = WorkspaceOptions {
                vet: opts,
                manifest_path,
                since: args.since,
                shard: args.shard,
                use_cache: !args.no_cache,
                cwd,
            };
            workspace::run(&ws, &on_progress).map_err(Into::into)
        }
        (None, None) => pipeline::run(&opts, &on_progress).map_err(Into::into),
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
    let crates = v.map(|v| v.crates.as_slice()).unwrap_or_default();
    // A workspace may have hundreds: then only those that are not clean, and a count.
    let listed: Vec<_> = if crates.len() > SUMMARY_CRATES {
        let clean = crates
            .iter()
            .filter(|c| c.verdict == Verdict::Clean)
            .count();
        let _ = writeln!(
            out,
            "  {clean} of {} packages clean{}",
            crates.len(),
            if clean < crates.len() {
                "; the others:"
            } else {
                ""
            }
        );
        crates
            .iter()
            .filter(|c| c.verdict != Verdict::Clean)
            .collect()
    } else {
        crates.iter().collect()
    };
    for c in listed {
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
        if c.cached {
            out.pop();
            out.push_str(" [cached]\n");
        }
    }
    if let Some(ws) = r.vetting.vet.as_ref().and_then(|v| v.workspace.as_ref()) {
        let cached = v.map_or(0, |v| v.crates.iter().filter(|c| c.cached).count());
        let _ = writeln!(out, "{}", workspace_line(ws, cached));
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

/// `Workspace: 12 third-party packages; 9 unchanged since origin/main; 2 in shard 1/2 (1
/// from the cache)`.
fn workspace_line(ws: &runner::report::WorkspaceScope, cached: usize) -> String {
    let mut parts = vec![format!(
        "{} third-party package{}",
        ws.packages,
        if ws.packages == 1 { "" } else { "s" }
    )];
    if let Some(since) = &ws.since {
        parts.push(format!(
            "{} unchanged since {since} (not vetted)",
            ws.unchanged
        ));
    }
    let scope = if ws.shards.is_empty() {
        String::new()
    } else {
        format!(
            " in shard{} {}",
            if ws.shards.len() == 1 { "" } else { "s" },
            ws.shards.join(", ")
        )
    };
    let from_cache = match cached {
        0 => String::new(),
        n => format!(" ({n} from the cache)"),
    };
    parts.push(format!("{} vetted{scope}{from_cache}", ws.selected));
    format!("Workspace: {}", parts.join("; "))
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

#[cfg(test)]
mod tests {
    use super::*;
    use runner::report::{VetVerdict, VettedCrate, WorkspaceScope};

    fn workspace_report(clean: usize, suspicious: usize) -> Report {
        let crate_ = |i: usize, verdict: Verdict| VettedCrate {
            name: format!("dep{i}"),
            version: Some("1.0.0".into()),
            verdict,
            reasons: vec![],
            cached: i % 2 == 0,
        };
        let mut crates: Vec<VettedCrate> = (0..clean).map(|i| crate_(i, Verdict::Clean)).collect();
        crates.extend((clean..clean + suspicious).map(|i| crate_(i, Verdict::Suspicious)));
        let json = serde_json::json!({
            "schema": "airlock.report/1", "command": "vet",
            "summary": {"crates": 0, "clean": 0, "suspicious": 0, "failed": 0,
                        "build_scripts_run": 0, "proc_macro_runs": 0, "build_succeeded": true},
            "crates": [], "environment": {"kernel": "", "landlock_abi": null, "profile": "",
                                          "tool_version": "", "toolchain": ""}
        });
        let mut r: Report = serde_json::from_value(json).unwrap();
        r.vetting.verdict = Some(VetVerdict {
            verdict: Verdict::Clean,
            reasons: vec![],
            crates,
        });
        r
    }

    #[test]
    fn a_large_workspace_lists_only_what_is_not_clean() {
        let text = summary(&workspace_report(20, 1), Path::new("/r"));
        assert!(
            text.contains("20 of 21 packages clean; the others:"),
            "{text}"
        );
        assert!(text.contains("dep20 1.0.0: suspicious"), "{text}");
        assert!(!text.contains("dep3 1.0.0"), "{text}");
        let small = summary(&workspace_report(2, 0), Path::new("/r"));
        assert!(small.contains("dep0 1.0.0: clean [cached]"), "{small}");
        assert!(small.contains("dep1 1.0.0: clean\n"), "{small}");
    }

    #[test]
    fn the_workspace_line_says_what_was_skipped_and_why() {
        let ws = WorkspaceScope {
            manifest_path: "/w/Cargo.toml".into(),
            packages: 12,
            since: Some("origin/main".into()),
            unchanged: 9,
            shards: vec!["1/2".into()],
            selected: 2,
        };
        assert_eq!(
            workspace_line(&ws, 1),
            "Workspace: 12 third-party packages; 9 unchanged since origin/main (not vetted); \
             2 vetted in shard 1/2 (1 from the cache)"
        );
    }
}
