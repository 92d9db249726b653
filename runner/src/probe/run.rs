//! Running the probe binary's entries: each entry in its own sandboxed run
//! ([`crate::runtime::run`], phase `probe`, `entry` the item path), in a private working
//! directory of its own (the only place it may write), with stdout and stderr kept in files
//! beside it, a timeout per entry shared out of the budget, and up to `jobs` entries at once;
//! once the budget is spent, the entries not started yet are not run.
//! The binary's last stdout line is its summary ([`EntrySummary`]).

use std::ffi::OsString;
use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::events::Phase;
use crate::runtime::{self, RuntimeError, RuntimeRun};
use crate::sandbox::RunOutcome;

/// The shortest time an entry gets, whatever the budget.
const MIN_ENTRY_TIME: Duration = Duration::from_secs(2);

/// What to run.
#[derive(Debug, Clone)]
pub struct RunPlan {
    /// The probe binary.
    pub binary: PathBuf,
    /// The entries to run (names from `probes.json`).
    pub entries: Vec<String>,
    /// `name version` of the probed crate.
    pub krate: String,
    /// The crate's sources (readable).
    pub package_dir: PathBuf,
    /// Where each entry's working directory and output go (`<work>/<n>/`).
    pub work_dir: PathBuf,
    /// The time all entries share.
    pub budget: Duration,
    /// Entries run at once.
    pub jobs: usize,
    /// Run with the layers this kernel has.
    pub allow_degraded: bool,
}

impl RunPlan {
    /// Each entry's timeout: its share of the budget over `jobs` lanes, at least
    /// 2 s and at most the whole budget.
    pub fn entry_timeout(&self) -> Duration {
        let n = self.entries.len().max(1) as u32;
        let lanes = self.jobs.clamp(1, self.entries.len().max(1)) as u32;
        (self.budget * lanes / n).clamp(MIN_ENTRY_TIME, self.budget.max(MIN_ENTRY_TIME))
    }

    /// The timeout of one call inside an entry: a quarter of the entry's, at least 200 ms.
    pub fn call_timeout(&self) -> Duration {
        (self.entry_timeout() / 4).max(Duration::from_millis(200))
    }
}

/// The summary line the probe binary prints last.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
pub struct EntrySummary {
    /// Calls made (a call that timed out counts).
    pub calls: usize,
    /// Calls that panicked.
    pub panics: usize,
    /// Calls that overran the call timeout (the entry stops at the first).
    pub timeouts: usize,
    /// Argument sets no value could be built from.
    pub unbuilt: usize,
}

/// Errors of one entry's run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EntryError {
    /// Its directory or output files could not be made.
    #[error("cannot prepare {}", path.display())]
    Prepare {
        /// The path.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The sandbox could not run it.
    #[error(transparent)]
    Run(#[from] RuntimeError),
    /// Not started: the entries before it spent the budget.
    #[error("not run: the budget of {}s was spent", budget.as_secs())]
    OutOfTime {
        /// The budget.
        budget: Duration,
    },
}

/// One entry's run.
#[derive(Debug)]
pub struct EntryRun {
    /// The entry's name.
    pub entry: String,
    /// Its directory (`cwd/`, `stdout`, `stderr`).
    pub dir: PathBuf,
    /// What the sandbox saw, when it ran.
    pub outcome: Result<RunOutcome, EntryError>,
    /// The binary's summary, when it printed one (not when the sandbox stopped it, or the
    /// process died, e.g. of a stack overflow).
    pub summary: Option<EntrySummary>,
}

impl EntryRun {
    /// Whether the sandbox stopped it at its timeout, or a call overran the call timeout.
    pub fn timed_out(&self) -> bool {
        matches!(&self.outcome, Ok(o) if o.termination == crate::sandbox::Termination::TimedOut)
            || self.summary.is_some_and(|s| s.timeouts > 0)
    }
}

/// Runs every entry of `plan`, up to `plan.jobs` at once, starting none once the budget is
/// spent; results in the plan's order.
pub fn run_entries(plan: &RunPlan) -> Vec<EntryRun> {
    let started = Instant::now();
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<EntryRun>>> =
        Mutex::new((0..plan.entries.len()).map(|_| None).collect());
    let jobs = plan.jobs.clamp(1, plan.entries.len().max(1));
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(entry) = plan.entries.get(i) else {
                    return;
                };
                let run = if started.elapsed() < plan.budget {
                    run_one(plan, i, entry)
                } else {
                    EntryRun {
                        entry: entry.clone(),
                        dir: plan.work_dir.join(i.to_string()),
                        outcome: Err(EntryError::OutOfTime {
                            budget: plan.budget,
                        }),
                        summary: None,
                    }
                };
                if let Ok(mut r) = results.lock() {
                    r[i] = Some(run);
                }
            });
        }
    });
    results
        .into_inner()
        .unwrap_or_default()
        .into_iter()
        .flatten()
        .collect()
}

/// Runs one entry in `<work>/<i>/`.
fn run_one(plan: &RunPlan, i: usize, entry: &str) -> EntryRun {
    let dir = plan.work_dir.join(i.to_string());
    let outcome = sandboxed(plan, &dir, entry);
    let summary = std::fs::read_to_string(dir.join("stdout"))
        .ok()
        .and_then(|text| summary_of(&text));
    EntryRun {
        entry: entry.to_owned(),
        dir,
        outcome,
        summary,
    }
}

fn sandboxed(plan: &RunPlan, dir: &Path, entry: &str) -> Result<RunOutcome, EntryError> {
    fn prepare(path: &Path) -> impl FnOnce(std::io::Error) -> EntryError + '_ {
        move |source| EntryError::Prepare {
            path: path.to_owned(),
            source,
        }
    }
    let cwd = dir.join("cwd");
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(prepare(dir))?;
    }
    std::fs::create_dir_all(&cwd).map_err(prepare(&cwd))?;
    let stdout_path = dir.join("stdout");
    let stderr_path = dir.join("stderr");
    let stdin = File::open("/dev/null").map_err(prepare(Path::new("/dev/null")))?;
    let stdout = File::create(&stdout_path).map_err(prepare(&stdout_path))?;
    let stderr = File::create(&stderr_path).map_err(prepare(&stderr_path))?;
    let run = RuntimeRun {
        args: vec![
            OsString::from(entry),
            OsString::from("--call-timeout-ms"),
            OsString::from(plan.call_timeout().as_millis().to_string()),
        ],
        entry: Some(entry.to_owned()),
        cwd: Some(cwd.clone()),
        write: vec![cwd],
        timeout: Some(plan.entry_timeout()),
        allow_degraded: plan.allow_degraded,
        stdio: [
            Some(stdin.as_raw_fd()),
            Some(stdout.as_raw_fd()),
            Some(stderr.as_raw_fd()),
        ],
        ..RuntimeRun::new(&plan.binary, Phase::Probe, &plan.krate, &plan.package_dir)
    };
    let outcome = runtime::run(&run)?;
    drop((stdin, stdout, stderr));
    Ok(outcome)
}

/// The summary among the binary's output: its last line that parses as one.
fn summary_of(stdout: &str) -> Option<EntrySummary> {
    stdout
        .lines()
        .rev()
        .filter(|l| l.starts_with("{\"entry\":"))
        .find_map(|l| serde_json::from_str(l).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(entries: usize, budget: u64, jobs: usize) -> RunPlan {
        RunPlan {
            binary: PathBuf::from("/p/probe"),
            entries: (0..entries).map(|i| format!("demo::f{i}")).collect(),
            krate: "demo 0.1.0".into(),
            package_dir: PathBuf::from("/src/demo"),
            work_dir: PathBuf::from("/w"),
            budget: Duration::from_secs(budget),
            jobs,
            allow_degraded: false,
        }
    }

    #[test]
    fn entries_share_the_budget_over_the_lanes() {
        assert_eq!(plan(10, 20, 2).entry_timeout(), Duration::from_secs(4));
        assert_eq!(plan(1, 20, 2).entry_timeout(), Duration::from_secs(20));
        assert_eq!(plan(100, 20, 2).entry_timeout(), MIN_ENTRY_TIME);
        assert_eq!(plan(10, 20, 2).call_timeout(), Duration::from_secs(1));
        assert_eq!(plan(100, 20, 2).call_timeout(), Duration::from_millis(500));
    }

    #[test]
    fn the_summary_is_the_last_line_that_parses() {
        let out = "hello\n{\"entry\": not json\n\n{\"entry\":\"demo::f\",\"calls\":64,\"panics\":3,\"timeouts\":0,\"unbuilt\":1}\n";
        assert_eq!(
            summary_of(out),
            Some(EntrySummary {
                calls: 64,
                panics: 3,
                timeouts: 0,
                unbuilt: 1
            })
        );
        assert_eq!(summary_of("killed"), None);
    }
}
