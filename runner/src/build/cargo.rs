//! One cargo run under interception: cargo-airlock is the rustc wrapper of a [`Session`], so
//! that every build script cargo links is replaced by a launcher and every rustc invocation
//! that loads a proc macro runs in the sandbox. Cargo's JSON messages are followed for progress
//! and attribution, and its own messages are kept in a log. `cargo airlock build` and the
//! instrumented build of `cargo airlock fuzz` both run cargo through [`run`]; `cargo airlock
//! test` runs `cargo test` through [`run_with`] in [`Mode::Test`], where what the tests print
//! can stay visible.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, SystemTime};

use cargo_metadata::diagnostic::DiagnosticLevel;
use cargo_metadata::Message;

use super::graph;
use super::session::{self, RunRecord, Session};
use super::{BuildError, Progress};
use crate::events::Decision;

/// What cargo said about one run.
#[derive(Debug)]
pub(crate) struct CargoRun {
    pub status: ExitStatus,
    /// Cargo exited 0 and its `build-finished` message (if any) said so.
    pub succeeded: bool,
    /// Package ids cargo compiled or found fresh (any target, build scripts included).
    pub built: BTreeSet<String>,
    /// Package ids whose own code (a target other than the build script) cargo compiled or
    /// found fresh.
    pub compiled: BTreeSet<String>,
    /// Compiler errors by package id.
    pub compile_errors: BTreeMap<String, Vec<String>>,
    /// Cargo's own messages (its stderr).
    pub log: PathBuf,
}

impl CargoRun {
    /// The first `n` error lines of cargo's log (compiler errors, scripts that could not run
    /// in the sandbox).
    pub(crate) fn errors(&self, n: usize) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.starts_with("error") || l.contains("could not run in the sandbox"))
            .take(n)
            .map(str::to_owned)
            .collect()
    }

    /// Why cargo failed, with its first errors and where the rest is; None if it succeeded.
    pub(crate) fn failure(&self, what: &str) -> Option<String> {
        if self.succeeded {
            return None;
        }
        let errors = self.errors(8);
        Some(format!(
            "`{what}` failed (exit {}){}; its messages are in {}",
            self.status
                .code()
                .map_or_else(|| "by signal".to_owned(), |c| c.to_string()),
            if errors.is_empty() {
                String::new()
            } else {
                format!(":\n  {}", errors.join("\n  "))
            },
            self.log.display()
        ))
    }
}

/// What kind of cargo command [`run_with`] follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// `cargo build`: cargo's messages go to the log only; it succeeded when it exited 0.
    Build,
    /// `cargo test`: the build succeeded when cargo's `build-finished` message says so (a
    /// failing test makes cargo exit 101 after a build that succeeded). With `echo`, what the
    /// tests print (the lines of cargo's stdout that are not its JSON messages) goes to our
    /// stdout, and cargo's stderr to our stderr as well as the log.
    Test {
        /// Show the tests' and cargo's output.
        echo: bool,
    },
}

/// Runs `cmd` (a `cargo build` whose target directory is the session's) with cargo-airlock as
/// its rustc wrapper, cargo's messages into `log`. An existing `RUSTC_WRAPPER` or
/// `RUSTC_WORKSPACE_WRAPPER` is not used.
pub(crate) fn run(
    cmd: Command,
    session: &Session,
    log: &Path,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<CargoRun, BuildError> {
    run_with(cmd, session, log, progress, Mode::Build, &[])
}

/// [`run`] for a cargo command of kind `mode`; `trailing` goes after the arguments cargo-airlock
/// adds (`--` and what `cargo test` passes on to the test binaries).
pub(crate) fn run_with(
    mut cmd: Command,
    session: &Session,
    log: &Path,
    progress: &(dyn Fn(Progress) + Sync),
    mode: Mode,
    trailing: &[std::ffi::OsString],
) -> Result<CargoRun, BuildError> {
    let echo = mode == Mode::Test { echo: true };
    // Artifacts on stdout (for progress and attribution), diagnostics rendered on stderr.
    cmd.arg("--message-format=json-render-diagnostics")
        .args(trailing)
        .env("RUSTC_WRAPPER", &session.info.airlock_bin)
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env(session::SESSION_VAR, &session.dir)
        .env("CARGO_TERM_PROGRESS_WHEN", "never")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let shown = format!("{cmd:?}");
    let mut child = cmd.spawn().map_err(|source| BuildError::Cargo {
        command: shown.clone(),
        source,
    })?;
    let graph = &session.info.graph;
    let in_build = || graph.packages.iter().filter(|p| p.in_build);
    let total = in_build().count();
    let sandboxed = in_build()
        .filter(|p| p.build_script || p.proc_macro)
        .count();
    progress(Progress::Started { total, sandboxed });

    let stderr = child.stderr.take();
    let stdout = child.stdout.take();
    // Dropped when cargo's output ends, which wakes the progress thread at once.
    let (cargo_running, cargo_done) = mpsc::channel::<()>();
    let mut built: BTreeSet<String> = BTreeSet::new();
    let mut compiled: BTreeSet<String> = BTreeSet::new();
    let mut compile_errors: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut build_finished_ok = None;
    let known = record_files(session);
    std::thread::scope(|scope| {
        let log_path = log.to_owned();
        scope.spawn(move || {
            let Some(stderr) = stderr else { return };
            let mut log = std::fs::File::create(&log_path).ok();
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(f) = log.as_mut() {
                    let _ = writeln!(f, "{line}");
                }
                if echo {
                    eprintln!("{line}");
                }
            }
        });
        scope.spawn(move || {
            let mut seen = known;
            let mut last_running = Vec::new();
            loop {
                let running = session.running_now();
                if running != last_running {
                    progress(Progress::Running(running.clone()));
                    last_running = running;
                }
                report_new_runs(session, &mut seen, progress);
                // Every 200 ms, and at once when cargo is done (a sleep here would be waited
                // out at the end of every run: a warm `cargo test` is over in a second).
                match cargo_done.recv_timeout(Duration::from_millis(200)) {
                    Err(mpsc::RecvTimeoutError::Timeout) => {}
                    Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => break,
                }
            }
            report_new_runs(session, &mut seen, progress);
        });
        if let Some(stdout) = stdout {
            for message in Message::parse_stream(BufReader::new(stdout)).map_while(Result::ok) {
                if let Message::CompilerArtifact(artifact) = &message {
                    if !artifact.target.is_custom_build() {
                        compiled.insert(artifact.package_id.repr.clone());
                    }
                }
                match message {
                    Message::CompilerArtifact(artifact)
                        if built.insert(artifact.package_id.repr.clone()) =>
                    {
                        let id = &artifact.package_id.repr;
                        let label = graph
                            .by_id(id)
                            .map_or_else(|| id.clone(), graph::Package::label);
                        progress(Progress::CrateBuilt {
                            label,
                            done: built.len(),
                            total,
                        });
                    }
                    Message::CompilerMessage(msg)
                        if matches!(
                            msg.message.level,
                            DiagnosticLevel::Error | DiagnosticLevel::Ice
                        ) =>
                    {
                        let text = msg
                            .message
                            .rendered
                            .as_ref()
                            .unwrap_or(&msg.message.message);
                        compile_errors
                            .entry(msg.package_id.repr)
                            .or_default()
                            .push(text.trim_end().to_owned());
                    }
                    Message::BuildFinished(finished) => build_finished_ok = Some(finished.success),
                    Message::TextLine(line) if echo => {
                        let mut out = std::io::stdout().lock();
                        let _ = writeln!(out, "{line}");
                        let _ = out.flush();
                    }
                    _ => {}
                }
            }
        }
        drop(cargo_running);
    });
    let status = child.wait().map_err(|source| BuildError::Cargo {
        command: shown,
        source,
    })?;
    Ok(CargoRun {
        status,
        succeeded: match mode {
            Mode::Build => status.success() && build_finished_ok != Some(false),
            Mode::Test { .. } => build_finished_ok.unwrap_or_else(|| status.success()),
        },
        built,
        compiled,
        compile_errors,
        log: log.to_owned(),
    })
}

/// A record file as of one write (a rerun of its unit rewrites it).
type RecordFile = (PathBuf, Option<SystemTime>);

/// The record files already in the session (a resumed session's earlier runs).
fn record_files(session: &Session) -> BTreeSet<RecordFile> {
    std::fs::read_dir(session.dir.join("runs"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| (e.path(), e.metadata().and_then(|m| m.modified()).ok()))
        .collect()
}

/// Announces the runs recorded since the last call.
fn report_new_runs(
    session: &Session,
    seen: &mut BTreeSet<RecordFile>,
    progress: &(dyn Fn(Progress) + Sync),
) {
    let Ok(entries) = std::fs::read_dir(session.dir.join("runs")) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        let file = (p.clone(), e.metadata().and_then(|m| m.modified()).ok());
        if p.extension().is_some_and(|x| x == "json") && seen.insert(file) {
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
