//! Verdicts: what the run records of a sandboxed cargo run say about each crate of its graph.
//! A crate is `suspicious` when one of its events was denied, a decoy leaked, a directive was
//! flagged or a network tool ran (unless `airlock.toml` expects its network attempts);
//! `failed` when its build script or compilation failed, or (`cargo airlock test`) one of its
//! test programs failed; `not-run` when its build script or its compilation never ran (cargo
//! stopped before it); `clean` otherwise. A test run's events count like a build script's: a
//! failing test is a failure, never suspicion. Every crate the build compiles is judged,
//! whether cargo reached it or not. `build`, `test` and the instrumented build of `fuzz` judge
//! their crates here.

use std::collections::BTreeSet;

use super::cargo::CargoRun;
use super::config::{self, Config};
use super::exec_attempts;
use super::graph::{self, Graph};
use super::session::RunRecord;
use crate::events::{Event, Kind, Phase};
use crate::report::{BuildScript, CrateReport, Report, ScriptStatus, Summary, TestRun, Verdict};

/// Whether an event counts against a crate: it is notable ([`Event::is_notable`]) and not
/// covered by a granted `net` exception, which covers every network attempt and every network
/// tool run.
fn counts(e: &Event, net_granted: bool) -> bool {
    let granted = net_granted && (e.kind == Kind::Net || e.is_network_tool());
    !granted && e.is_notable()
}

/// Why nothing can be said of part of crate `p`: its build script or its own compilation never
/// ran (empty when both ran, or the crate has nothing of the kind).
fn not_run_reasons(p: &graph::Package, script: &BuildScript, cargo: &CargoRun) -> Vec<String> {
    let why = if cargo.succeeded {
        "cargo did not run it"
    } else {
        "the build stopped before it (see the errors)"
    };
    let mut out = Vec::new();
    if script.status == ScriptStatus::NotRun {
        out.push(format!("build script never ran: {why}"));
    }
    if !cargo.compiled.contains(&p.id) && !cargo.compile_errors.contains_key(&p.id) {
        out.push(format!("never compiled: {why}"));
    }
    out
}

/// The test programs among a crate's run records, by binary name.
fn test_runs(mine: &[&RunRecord]) -> Vec<TestRun> {
    let mut runs: Vec<TestRun> = mine
        .iter()
        .filter(|r| r.phase == Phase::Test)
        .map(|r| TestRun {
            binary: r.entry.clone().unwrap_or_else(|| "test".to_owned()),
            program: r.program.clone().unwrap_or_default(),
            exit_code: r.exit_code,
            duration_ms: r.duration_ms,
            passed: r.error.is_none() && r.exit_code == Some(0),
            events: r.events.len(),
            notable: r.events.iter().filter(|e| e.is_notable()).count(),
            error: r.error.clone(),
        })
        .collect();
    runs.sort_by(|a, b| a.binary.cmp(&b.binary).then(a.program.cmp(&b.program)));
    runs
}

/// What the records of a cargo run say about each crate of the graph.
#[derive(Debug, Clone, Default)]
pub struct Verdicts {
    /// The crates that took part in the build, by name and version.
    pub crates: Vec<CrateReport>,
    /// Their counts.
    pub summary: Summary,
    /// The sandbox layers in force (as the runs reported them), if any run reported them.
    pub layers: Option<serde_json::Value>,
}

impl Verdicts {
    /// Crates judged suspicious.
    pub fn suspicious(&self) -> usize {
        self.summary.suspicious
    }

    /// Puts the verdicts into `report` (crates, summary, layers in force).
    pub fn fill(self, report: &mut Report) {
        if let Some(layers) = self.layers {
            report.environment.degraded |= layers
                .get("degraded")
                .and_then(|d| d.as_array())
                .is_some_and(|d| !d.is_empty());
            report.environment.layers = Some(layers);
        }
        report.crates = self.crates;
        report.summary = self.summary;
    }
}

/// Turns the run records of a cargo run into per-crate verdicts: `records` from the session,
/// `cargo` what cargo said it compiled and what failed.
pub(crate) fn judge(
    graph: &Graph,
    config: &Config,
    records: &[RunRecord],
    cargo: &CargoRun,
) -> Verdicts {
    let (built, compile_errors, succeeded) = (&cargo.built, &cargo.compile_errors, cargo.succeeded);
    let mut crates = Vec::new();
    for p in &graph.packages {
        let mine: Vec<&RunRecord> = records
            .iter()
            .filter(|r| r.package_ids.contains(&p.id))
            .collect();
        let took_part =
            !mine.is_empty() || built.contains(&p.id) || compile_errors.contains_key(&p.id);
        // A crate the build compiles that cargo never reached because it stopped is reported
        // as `not-run`; one cargo left out of a build that succeeded was not selected
        // (dev-dependency, other platform, `-p`).
        if !took_part && (succeeded || !p.in_build) {
            continue;
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
            events.extend(exec_attempts::fold(r.events.clone()));
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
            let line = e.code();
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
        let tests = test_runs(&mine);
        for t in tests.iter().filter(|t| !t.passed) {
            failures.push(match (&t.error, t.exit_code) {
                (Some(e), _) => format!("test program `{}` could not run: {e}", t.binary),
                (None, Some(c)) => format!("tests failed: `{}` exited with {c}", t.binary),
                (None, None) => format!("tests failed: `{}` did not finish", t.binary),
            });
        }
        if let Some(errs) = compile_errors.get(&p.id) {
            failures.push(format!(
                "compilation failed: {}",
                errs.first()
                    .and_then(|e| e.lines().next())
                    .unwrap_or("error")
            ));
        }
        let not_run = not_run_reasons(p, &build_script, cargo);
        let verdict = if suspicious {
            Verdict::Suspicious
        } else if !failures.is_empty() {
            Verdict::Failed
        } else if !not_run.is_empty() {
            Verdict::NotRun
        } else {
            Verdict::Clean
        };
        reasons.extend(failures);
        if verdict != Verdict::Failed {
            reasons.extend(not_run);
        }
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
            tests,
        });
    }
    crates.sort_by(|a, b| a.name.cmp(&b.name).then(a.version.cmp(&b.version)));
    let count = |v| crates.iter().filter(|c| c.verdict == v).count();
    let summary = Summary {
        crates: crates.len(),
        clean: count(Verdict::Clean),
        suspicious: count(Verdict::Suspicious),
        failed: count(Verdict::Failed),
        not_run: count(Verdict::NotRun),
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
    Verdicts {
        crates,
        summary,
        layers: records.iter().find_map(|r| r.layers.clone()),
    }
}
