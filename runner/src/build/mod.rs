//! Sandboxed dependency builds (`cargo airlock build`): build a workspace so that every build
//! script and every proc-macro expansion of its whole dependency graph runs in the sandbox, and
//! judge each crate by what it attempted.
//!
//! How it fits together: [`build`] reads the graph ([`graph`]) and `airlock.toml` ([`config`]),
//! writes a [`session`], and runs `cargo build` into a fresh target directory (so no build
//! script is replayed from cargo's cache) with `RUSTC_WRAPPER` set to cargo-airlock itself.
//! The wrapper ([`intercept`]) replaces each linked build script with a launcher and runs the
//! rustc invocations that load proc macros in the sandbox; the launcher ([`launcher`]) runs
//! each build script in the sandbox and parses its [`directives`]. Every run leaves a record in
//! the session; when cargo is done, [`build`] turns the records into verdicts and a
//! [`crate::report::Report`].

pub mod config;
pub mod directives;
pub mod graph;
pub mod intercept;
pub mod launcher;
pub mod session;
pub mod tee;

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::events::{Decision, Kind, Phase};
use crate::profile::{Placeholders, Profile, ProfileError};
use crate::report::{
    BuildScript, CrateReport, Environment, Report, ScriptStatus, Summary, Verdict, SCHEMA,
};
use config::Config;
use graph::Graph;
use session::{RunRecord, Session, SessionInfo};

/// Errors of a vetting build. Each names the failing step and the input to fix.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    #[error("cannot read the workspace at {}: {reason}", path.display())]
    Manifest { path: PathBuf, reason: String },
    #[error("{}: {reason}", path.display())]
    Config { path: PathBuf, reason: String },
    #[error(transparent)]
    Profile(#[from] ProfileError),
    #[error("{step} {}: {source}", path.display())]
    Session {
        step: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("no vetting session: this entry point only runs inside `cargo airlock build` (AIRLOCK_SESSION is not set)")]
    NoSession,
    #[error("build-script launcher for {}: {reason}", script.display())]
    Launcher { script: PathBuf, reason: String },
    #[error("rustc wrapper: {reason}")]
    Wrapper { reason: String },
    #[error("cannot run `{command}`: {source}; is cargo installed and on PATH?")]
    Cargo {
        command: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Report(#[from] crate::report::ReportError),
}

/// Loads a built-in profile or a profile file with this process's placeholders.
pub fn load_profile(name: &str) -> Result<Profile, BuildError> {
    Ok(Profile::load(name, &Placeholders::from_env())?)
}

/// What to build and where to report.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// The workspace manifest (`Cargo.toml` in the current directory if None).
    pub manifest_path: Option<PathBuf>,
    /// A built-in profile name or a profile path.
    pub profile: String,
    /// Where the reports go (`<target>/airlock` if None).
    pub report_dir: Option<PathBuf>,
    /// Extra arguments for `cargo build`.
    pub cargo_args: Vec<OsString>,
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
    Started { total: usize },
    /// A package finished compiling.
    CrateBuilt {
        label: String,
        done: usize,
        total: usize,
    },
    /// These build scripts and proc-macro expansions are running now.
    Running(Vec<String>),
    /// A sandboxed run finished.
    RunFinished {
        label: String,
        phase: Phase,
        notable: bool,
    },
}

/// What a vetting build produced.
#[derive(Debug)]
pub struct BuildResult {
    pub report: Report,
    pub report_dir: PathBuf,
    /// The files written.
    pub written: Vec<PathBuf>,
    /// Cargo's own messages (stderr), kept in the report directory.
    pub cargo_log: Option<PathBuf>,
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
    let manifest = match &opts.manifest_path {
        Some(m) => m.clone(),
        None => std::env::current_dir()
            .map(|d| d.join("Cargo.toml"))
            .unwrap_or_else(|_| PathBuf::from("Cargo.toml")),
    };
    let manifest = std::fs::canonicalize(&manifest).unwrap_or(manifest);
    let graph = match Graph::load(&opts.cargo, &manifest) {
        Ok(g) => g,
        Err(err) => {
            let dir = opts.report_dir.clone().unwrap_or_else(|| {
                manifest.parent().filter(|d| d.is_dir()).map_or_else(
                    || PathBuf::from("target/airlock"),
                    |d| d.join("target/airlock"),
                )
            });
            return failed_early(opts, &dir, None, err.to_string());
        }
    };
    let airlock_dir = graph.target_directory.join("airlock");
    let report_dir = opts
        .report_dir
        .clone()
        .unwrap_or_else(|| airlock_dir.clone());
    let config = match Config::load(&graph.workspace_root) {
        Ok(c) => c,
        Err(err) => return failed_early(opts, &report_dir, Some(&graph), err.to_string()),
    };
    if let Err(err) = load_profile(&opts.profile) {
        return failed_early(opts, &report_dir, Some(&graph), err.to_string());
    }
    for (name, ex) in &config.crates {
        if let Some(p) = &ex.profile {
            if let Err(err) = load_profile(p) {
                return failed_early(
                    opts,
                    &report_dir,
                    Some(&graph),
                    format!("airlock.toml [crate.{name}]: {err}"),
                );
            }
        }
    }

    // A fresh target directory: every build script really runs, every macro really expands.
    let build_target = airlock_dir.join("build-target");
    if build_target.exists() {
        std::fs::remove_dir_all(&build_target).map_err(|source| BuildError::Session {
            step: "clearing the previous vetting build in".into(),
            path: build_target.clone(),
            source,
        })?;
    }
    std::fs::create_dir_all(&build_target).map_err(|source| BuildError::Session {
        step: "creating".into(),
        path: build_target.clone(),
        source,
    })?;
    std::fs::create_dir_all(&report_dir).map_err(|source| BuildError::Session {
        step: "creating the report directory".into(),
        path: report_dir.clone(),
        source,
    })?;
    let session = Session::create(
        &airlock_dir.join("session"),
        SessionInfo {
            graph: graph.clone(),
            profile: opts.profile.clone(),
            allow_degraded: opts.allow_degraded,
            build_target: std::fs::canonicalize(&build_target).unwrap_or(build_target.clone()),
            airlock_bin: opts.airlock_bin.clone(),
            exceptions: Session::exceptions_from(&config),
        },
    )?;

    // cargo build, with us as the rustc wrapper.
    let mut cmd = Command::new(&opts.cargo);
    cmd.arg("build")
        .arg("--manifest-path")
        .arg(&manifest)
        .arg("--target-dir")
        .arg(&session.info.build_target)
        // Artifacts on stdout (for progress and attribution), diagnostics rendered on stderr.
        .arg("--message-format=json-render-diagnostics")
        .args(&opts.cargo_args)
        .env("RUSTC_WRAPPER", &opts.airlock_bin)
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env(session::SESSION_VAR, &session.dir)
        .env("CARGO_TERM_PROGRESS_WHEN", "never")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let shown = format!(
        "{} build --manifest-path {} ...",
        opts.cargo.display(),
        manifest.display()
    );
    let mut child = cmd.spawn().map_err(|source| BuildError::Cargo {
        command: shown.clone(),
        source,
    })?;
    let total = graph.packages.len();
    progress(Progress::Started { total });

    let cargo_log = report_dir.join("cargo-build.log");
    let stderr = child.stderr.take();
    let stdout = child.stdout.take();
    let done = AtomicBool::new(false);
    let mut built: BTreeSet<String> = BTreeSet::new();
    let mut compile_errors: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut build_finished_ok = None;
    std::thread::scope(|scope| {
        let log_path = cargo_log.clone();
        scope.spawn(move || {
            let Some(stderr) = stderr else { return };
            let mut log = std::fs::File::create(&log_path).ok();
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(f) = log.as_mut() {
                    let _ = writeln!(f, "{line}");
                }
            }
        });
        let session_ref = &session;
        let done_ref = &done;
        scope.spawn(move || {
            let mut seen = BTreeSet::new();
            let mut last_running = Vec::new();
            while !done_ref.load(Ordering::Relaxed) {
                let running = session_ref.running_now();
                if running != last_running {
                    progress(Progress::Running(running.clone()));
                    last_running = running;
                }
                report_new_runs(session_ref, &mut seen, progress);
                std::thread::sleep(Duration::from_millis(200));
            }
            report_new_runs(session_ref, &mut seen, progress);
        });
        if let Some(stdout) = stdout {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let Ok(msg) = serde_json::from_str::<serde_json::Value>(&line) else {
                    continue;
                };
                let id = msg["package_id"].as_str().unwrap_or_default().to_owned();
                match msg["reason"].as_str() {
                    Some("compiler-artifact") if built.insert(id.clone()) => {
                        let label = graph
                            .by_id(&id)
                            .map_or_else(|| id.clone(), graph::Package::label);
                        progress(Progress::CrateBuilt {
                            label,
                            done: built.len(),
                            total,
                        });
                    }
                    Some("compiler-message") if msg["message"]["level"] == "error" => {
                        let text = msg["message"]["rendered"]
                            .as_str()
                            .or_else(|| msg["message"]["message"].as_str())
                            .unwrap_or_default();
                        compile_errors
                            .entry(id)
                            .or_default()
                            .push(text.trim_end().to_owned());
                    }
                    Some("build-finished") => build_finished_ok = msg["success"].as_bool(),
                    _ => {}
                }
            }
        }
        done.store(true, Ordering::Relaxed);
    });
    let status = child.wait().map_err(|source| BuildError::Cargo {
        command: shown.clone(),
        source,
    })?;
    let succeeded = status.success() && build_finished_ok != Some(false);

    let records = session.records();
    let mut report = assemble(
        opts,
        &graph,
        &config,
        &records,
        &built,
        &compile_errors,
        succeeded,
    );
    let failure = (!succeeded).then(|| {
        let tail = std::fs::read_to_string(&cargo_log).unwrap_or_default();
        let errors: Vec<&str> = tail
            .lines()
            .filter(|l| l.starts_with("error") || l.contains("could not run in the sandbox"))
            .take(8)
            .collect();
        format!(
            "`cargo build` failed (exit {}){}; its messages are in {}",
            status
                .code()
                .map_or_else(|| "by signal".to_owned(), |c| c.to_string()),
            if errors.is_empty() {
                String::new()
            } else {
                format!(":\n  {}", errors.join("\n  "))
            },
            cargo_log.display()
        )
    });
    if let Some(f) = &failure {
        report.errors.push(f.clone());
    }
    let written = report.write_all(&report_dir)?;
    Ok(BuildResult {
        report,
        report_dir,
        written,
        cargo_log: Some(cargo_log),
        failure,
    })
}

fn report_new_runs(
    session: &Session,
    seen: &mut BTreeSet<PathBuf>,
    progress: &(dyn Fn(Progress) + Sync),
) {
    let Ok(entries) = std::fs::read_dir(session.dir.join("runs")) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.extension().is_some_and(|x| x == "json") && seen.insert(p.clone()) {
            if let Some(r) = std::fs::read(&p)
                .ok()
                .and_then(|t| serde_json::from_slice::<RunRecord>(&t).ok())
            {
                let notable = r.error.is_some()
                    || r.exit_code != Some(0)
                    || r.events.iter().any(|e| e.decision != Decision::Allowed);
                progress(Progress::RunFinished {
                    label: r.krate,
                    phase: r.phase,
                    notable,
                });
            }
        }
    }
}

/// A result for input that stopped the build before it started: a report with the error.
fn failed_early(
    opts: &BuildOptions,
    dir: &Path,
    graph: Option<&Graph>,
    message: String,
) -> Result<BuildResult, BuildError> {
    let mut report = empty_report(opts, graph);
    report.errors.push(message.clone());
    let written = report.write_all(dir).unwrap_or_default();
    Ok(BuildResult {
        report,
        report_dir: dir.to_owned(),
        written,
        cargo_log: None,
        failure: Some(message),
    })
}

fn empty_report(opts: &BuildOptions, graph: Option<&Graph>) -> Report {
    let support = crate::sandbox::probe::Support::get();
    Report {
        schema: SCHEMA.into(),
        command: "build".into(),
        workspace: graph.map(|g| g.workspace_root.clone()),
        summary: Summary::default(),
        crates: Vec::new(),
        provenance: Vec::new(),
        fuzz: None,
        environment: Environment {
            kernel: support.kernel.clone(),
            landlock_abi: support.landlock_abi,
            layers: None,
            degraded: false,
            profile: opts.profile.clone(),
            tool_version: opts.tool_version.clone(),
            toolchain: toolchain(),
        },
        errors: Vec::new(),
    }
}

fn toolchain() -> String {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    Command::new(rustc)
        .arg("-V")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

/// Whether an event counts against a crate (DESIGN: denied, leaked, flagged, or a network tool
/// run), given its granted exceptions.
fn counts(e: &crate::events::Event, net_granted: bool) -> bool {
    if net_granted
        && (e.kind == Kind::Net || e.detail.get("network_tool").is_some_and(|v| v == true))
    {
        return false;
    }
    e.decision != Decision::Allowed || e.detail.get("network_tool").is_some_and(|v| v == true)
}

/// Turns the run records into per-crate verdicts.
fn assemble(
    opts: &BuildOptions,
    graph: &Graph,
    config: &Config,
    records: &[RunRecord],
    built: &BTreeSet<String>,
    compile_errors: &BTreeMap<String, Vec<String>>,
    succeeded: bool,
) -> Report {
    let mut report = empty_report(opts, Some(graph));
    let mut crates = Vec::new();
    for p in &graph.packages {
        let mine: Vec<&RunRecord> = records
            .iter()
            .filter(|r| r.package_ids.contains(&p.id))
            .collect();
        if mine.is_empty() && !built.contains(&p.id) && !compile_errors.contains_key(&p.id) {
            continue; // not part of this build (dev-dependency, other platform, not selected)
        }
        let exception = config.for_crate(&p.name);
        let net_granted = exception.is_some_and(|e| e.net);
        let scripts: Vec<&&RunRecord> = mine
            .iter()
            .filter(|r| r.phase == Phase::BuildScript)
            .collect();
        let macro_runs = mine.iter().filter(|r| r.phase == Phase::ProcMacro).count();
        let mut events = Vec::new();
        let mut directives = Vec::new();
        for r in &mine {
            events.extend(r.events.iter().cloned());
            if r.phase == Phase::BuildScript {
                directives.extend(r.directives.iter().cloned());
            }
        }
        let build_script = if !p.build_script {
            BuildScript {
                status: ScriptStatus::None,
                exit_code: None,
                duration_ms: None,
            }
        } else if let Some(r) = scripts
            .iter()
            .find(|r| r.exit_code != Some(0))
            .or(scripts.first())
        {
            BuildScript {
                status: match (&r.error, r.exit_code) {
                    (Some(_), _) => ScriptStatus::Error,
                    (None, Some(0)) => ScriptStatus::Ran,
                    _ => ScriptStatus::Failed,
                },
                exit_code: r.exit_code,
                duration_ms: Some(scripts.iter().map(|r| r.duration_ms).sum()),
            }
        } else {
            BuildScript {
                status: ScriptStatus::NotRun,
                exit_code: None,
                duration_ms: None,
            }
        };

        let mut reasons = Vec::new();
        let mut seen = BTreeSet::new();
        for e in events.iter().filter(|e| counts(e, net_granted)) {
            let line = format!(
                "{} {}/{}{}",
                crate::report::decision_str(e.decision),
                crate::report::kind_str(e),
                e.action,
                if e.detail.get("network_tool").is_some_and(|v| v == true) {
                    " (network tool)"
                } else {
                    ""
                }
            );
            if seen.insert(line.clone()) {
                reasons.push(line);
            }
        }
        let suspicious = !reasons.is_empty();
        let mut failures = Vec::new();
        if matches!(
            build_script.status,
            ScriptStatus::Failed | ScriptStatus::Error
        ) {
            failures.push(format!(
                "build script {}",
                build_script.exit_code.map_or_else(
                    || "could not run in the sandbox".to_owned(),
                    |c| format!("exited with {c}")
                )
            ));
        }
        for r in mine.iter().filter(|r| {
            r.phase == Phase::ProcMacro && (r.exit_code != Some(0) || r.error.is_some())
        }) {
            failures.push(format!(
                "sandboxed rustc for {} failed{}",
                r.consumer.as_deref().unwrap_or("a crate"),
                r.error
                    .as_ref()
                    .map(|e| format!(": {e}"))
                    .unwrap_or_default()
            ));
        }
        if let Some(errs) = compile_errors.get(&p.id) {
            failures.push(format!(
                "compilation failed: {}",
                errs.first()
                    .and_then(|e| e.lines().next())
                    .unwrap_or("error")
            ));
        }
        let verdict = if suspicious {
            Verdict::Suspicious
        } else if !failures.is_empty() {
            Verdict::Failed
        } else {
            Verdict::Clean
        };
        reasons.extend(failures);
        for hint in scripts.iter().filter_map(|r| r.hint.as_ref()) {
            if !reasons.contains(hint) {
                reasons.push(hint.clone());
            }
        }
        crates.push(CrateReport {
            name: p.name.clone(),
            version: p.version.clone(),
            source: match p.source {
                graph::SourceKind::Registry => "registry",
                graph::SourceKind::Path => "path",
                graph::SourceKind::Git => "git",
            }
            .into(),
            location: p.location.clone(),
            verdict,
            reasons,
            build_script,
            proc_macro: p.proc_macro,
            proc_macro_runs: macro_runs,
            events,
            directives,
            exceptions: exception
                .map(config::CrateException::granted)
                .unwrap_or_default(),
        });
    }
    crates.sort_by(|a, b| a.name.cmp(&b.name).then(a.version.cmp(&b.version)));
    let count = |v| crates.iter().filter(|c| c.verdict == v).count();
    report.summary = Summary {
        crates: crates.len(),
        clean: count(Verdict::Clean),
        suspicious: count(Verdict::Suspicious),
        failed: count(Verdict::Failed),
        build_scripts_run: records
            .iter()
            .filter(|r| r.phase == Phase::BuildScript && r.exit_code.is_some())
            .count(),
        proc_macro_runs: records
            .iter()
            .filter(|r| r.phase == Phase::ProcMacro && r.exit_code.is_some())
            .count(),
        build_succeeded: succeeded,
    };
    if let Some(layers) = records.iter().find_map(|r| r.layers.clone()) {
        report.environment.degraded = layers
            .get("degraded")
            .and_then(|d| d.as_array())
            .is_some_and(|d| !d.is_empty());
        report.environment.layers = Some(layers);
    }
    report.crates = crates;
    report
}
