//! A vetting session: the directory that the command driving cargo (`build`, or the
//! instrumented build of `fuzz`), the rustc wrapper and the build-script launchers share. The
//! command writes `session.json` (graph, profile, exceptions) before cargo starts; every
//! sandboxed run writes one [`RunRecord`] under `runs/`, one per compilation unit (a rerun of
//! the unit replaces it); launchers
//! mark what runs now under `running/`; the wrapper notes which proc-macro file is which crate
//! under `macros/`. Everything is plain files, so processes cargo starts in parallel need no
//! coordination beyond unique names.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use serde::{Deserialize, Serialize};

use super::config::Config;
use super::graph::{Graph, Package};
use super::BuildError;
use crate::events::{Event, Phase};
use crate::report::{Directive, Granted};

/// The variable naming the session directory for the wrapper and the launchers.
pub const SESSION_VAR: &str = "AIRLOCK_SESSION";

/// What the command tells the processes it starts.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct SessionInfo {
    pub graph: Graph,
    /// A built-in profile name or a profile path.
    pub profile: String,
    pub allow_degraded: bool,
    /// The target directory of the vetting build.
    pub build_target: PathBuf,
    /// The `cargo-airlock` binary (launchers call it).
    pub airlock_bin: PathBuf,
    /// `airlock.toml` exceptions by crate name.
    pub exceptions: std::collections::BTreeMap<String, super::config::CrateException>,
    /// Variables set for every build script on top of cargo's (the fuzz build's `CC` and
    /// `CFLAGS`, so that C code a script compiles is instrumented too).
    #[serde(default)]
    pub script_env: Vec<(String, String)>,
    /// How test binaries, doc tests and examples run (`cargo airlock test`): None for builds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test: Option<TestSettings>,
}

/// What the test runner (`cargo-airlock __test-runner PROGRAM ARGS..`, cargo's
/// `target.<triple>.runner`) needs to know of a `cargo airlock test` session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct TestSettings {
    /// The profile test programs run under (`test` unless `--profile` says otherwise).
    pub profile: String,
    /// The per-program timeout, in milliseconds.
    pub timeout_ms: u64,
    /// The host's temporary directory (cargo gets one under the target directory for
    /// rustdoc's doc-test programs; the sandbox's own run directories go here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_tmpdir: Option<PathBuf>,
    /// The host triple, when the command knows it already (the runner hook asks `rustc -vV`
    /// otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
}

impl SessionInfo {
    /// Whether runs recorded under `earlier` were sandboxed exactly as runs under `self` would
    /// be, so that their records still stand for the outputs cargo reuses.
    fn same_grants(&self, earlier: &SessionInfo) -> bool {
        self.profile == earlier.profile
            && self.allow_degraded == earlier.allow_degraded
            && self.build_target == earlier.build_target
            && self.airlock_bin == earlier.airlock_bin
            && self.exceptions == earlier.exceptions
            && self.script_env == earlier.script_env
    }
}

/// One sandboxed run, as its launcher or wrapper recorded it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct RunRecord {
    /// The packages the run is attributed to (cargo's ids): the crate whose build script ran,
    /// or every proc-macro crate the rustc invocation loaded. Empty if unknown.
    pub package_ids: Vec<String>,
    /// `name version`.
    pub krate: String,
    pub phase: Phase,
    /// For proc-macro runs: the crate whose compilation loaded the macro.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consumer: Option<String>,
    /// Exit code (128 + signal when killed); None when the run could not start.
    pub exit_code: Option<i32>,
    pub duration_ms: u64,
    pub events: Vec<Event>,
    #[serde(default)]
    pub directives: Vec<Directive>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layers: Option<serde_json::Value>,
    /// Why the run could not happen, if it could not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// What the user could do about a failure (e.g. the `airlock.toml` lines that would allow
    /// a refused exec from `OUT_DIR`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// The exceptions that were granted to the run.
    #[serde(default)]
    pub exceptions: Vec<Granted>,
    /// For test runs: the test binary's name without hash, or `doctest`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry: Option<String>,
    /// For test runs: the program cargo ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub program: Option<PathBuf>,
}

impl RunRecord {
    /// A record of a run that has not produced anything yet: no exit code, events, directives,
    /// layers, error or hint.
    pub(crate) fn new(
        package_ids: Vec<String>,
        krate: String,
        phase: Phase,
        exceptions: Vec<Granted>,
    ) -> RunRecord {
        RunRecord {
            package_ids,
            krate,
            phase,
            consumer: None,
            exit_code: None,
            duration_ms: 0,
            events: Vec::new(),
            directives: Vec::new(),
            layers: None,
            error: None,
            hint: None,
            exceptions,
            entry: None,
            program: None,
        }
    }

    /// Takes what a sandboxed run that ran left (exit code, duration, events, layers); returns
    /// the exit code, which is what cargo gets.
    pub(crate) fn ran(&mut self, outcome: crate::sandbox::RunOutcome) -> i32 {
        let code = outcome.termination.exit_code();
        self.exit_code = Some(code);
        self.duration_ms = u64::try_from(outcome.duration.as_millis()).unwrap_or(u64::MAX);
        self.events = outcome.events;
        self.layers = serde_json::to_value(&outcome.layers).ok();
        code
    }

    /// Records that `what` (`the build script of P`) could not run in the sandbox, and says
    /// so on stderr; returns the exit code cargo gets, as for a failed run (101).
    pub(crate) fn could_not_run(&mut self, what: &str, err: &dyn std::error::Error) -> i32 {
        let err = crate::error_chain::error_chain(err);
        eprintln!("cargo-airlock: {what} could not run in the sandbox: {err}");
        self.error = Some(err);
        101
    }
}

/// An open session directory.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    pub dir: PathBuf,
    pub info: SessionInfo,
}

fn io_err(step: &str, path: &Path) -> impl FnOnce(io::Error) -> BuildError {
    let step = step.to_owned();
    let path = path.to_owned();
    move |source| BuildError::Session { step, path, source }
}

impl Session {
    /// Creates (emptied) the session directory and writes `session.json`.
    pub(crate) fn create(dir: &Path, info: SessionInfo) -> Result<Session, BuildError> {
        if dir.exists() {
            fs::remove_dir_all(dir).map_err(io_err("clearing the session", dir))?;
        }
        for sub in ["runs", "running", "macros"] {
            let d = dir.join(sub);
            fs::create_dir_all(&d).map_err(io_err("creating the session", &d))?;
        }
        write_info(&dir.join("session.json"), &info)?;
        Ok(Session {
            dir: fs::canonicalize(dir).unwrap_or_else(|_| dir.to_owned()),
            info,
        })
    }

    /// Opens the session in `dir` again for another cargo run into the same target directory,
    /// keeping the records (and proc-macro notes) of earlier runs: cargo reuses the outputs of
    /// the build scripts it finds fresh, and their records are what says how they ran. Returns
    /// None when there is no earlier session there or it sandboxed runs differently (another
    /// profile, binary, exceptions, ...); the caller must then clear the target directory and
    /// [`Session::create`] a new one, so that every script really runs again.
    pub(crate) fn resume(dir: &Path, info: SessionInfo) -> Result<Option<Session>, BuildError> {
        let path = dir.join("session.json");
        let Some(earlier) = fs::read(&path)
            .ok()
            .and_then(|t| serde_json::from_slice::<SessionInfo>(&t).ok())
        else {
            return Ok(None);
        };
        if !info.same_grants(&earlier) || !dir.join("runs").is_dir() {
            return Ok(None);
        }
        let running = dir.join("running");
        let _ = fs::remove_dir_all(&running);
        fs::create_dir_all(&running).map_err(io_err("creating the session", &running))?;
        fs::create_dir_all(dir.join("macros"))
            .map_err(io_err("creating the session", &dir.join("macros")))?;
        write_info(&path, &info)?;
        Ok(Some(Session {
            dir: fs::canonicalize(dir).unwrap_or_else(|_| dir.to_owned()),
            info,
        }))
    }

    /// Opens the session named by [`SESSION_VAR`].
    pub(crate) fn from_env() -> Result<Session, BuildError> {
        let dir = std::env::var_os(SESSION_VAR)
            .map(PathBuf::from)
            .ok_or(BuildError::NoSession)?;
        let path = dir.join("session.json");
        let text = fs::read(&path).map_err(io_err("reading", &path))?;
        let info = serde_json::from_slice(&text).map_err(|e| BuildError::Session {
            step: "decoding the session".into(),
            path,
            source: io::Error::other(e),
        })?;
        Ok(Session { dir, info })
    }

    /// The exceptions config for a crate.
    pub(crate) fn exception(&self, name: &str) -> Option<&super::config::CrateException> {
        self.info.exceptions.get(name)
    }

    /// Writes the run record of compilation unit `unit` (the build script's `OUT_DIR`, or the
    /// rustc invocation's output file stem), replacing the unit's earlier record, atomically:
    /// a reader never sees half of it.
    pub(crate) fn write_record(
        &self,
        record: &RunRecord,
        unit: &str,
    ) -> Result<PathBuf, BuildError> {
        let name = format!(
            "{}-{}-{}.json",
            record.phase.as_str(),
            sanitize(&record.krate),
            fnv1a(unit.as_bytes())
        );
        let path = self.dir.join("runs").join(name);
        let tmp = path.with_extension(format!("{}.tmp", unique()));
        let text = serde_json::to_vec(record).map_err(|e| BuildError::Session {
            step: "encoding a run record".into(),
            path: path.clone(),
            source: io::Error::other(e),
        })?;
        fs::write(&tmp, text).map_err(io_err("writing a run record", &tmp))?;
        fs::rename(&tmp, &path).map_err(io_err("writing a run record", &path))?;
        Ok(path)
    }

    /// Removes the records of every run in `phase` (a resumed session's earlier test runs,
    /// which the new run replaces; the build's records stay).
    pub(crate) fn forget_phase(&self, phase: Phase) {
        let prefix = format!("{}-", phase.as_str());
        for e in fs::read_dir(self.dir.join("runs"))
            .into_iter()
            .flatten()
            .flatten()
        {
            if e.file_name().to_string_lossy().starts_with(&prefix) {
                let _ = fs::remove_file(e.path());
            }
        }
    }

    /// Every run record written so far (unreadable ones are skipped).
    pub(crate) fn records(&self) -> Vec<RunRecord> {
        let mut out = Vec::new();
        let Ok(entries) = fs::read_dir(self.dir.join("runs")) else {
            return out;
        };
        let mut paths: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        paths.sort();
        for p in paths {
            if let Some(r) = fs::read(&p)
                .ok()
                .and_then(|t| serde_json::from_slice(&t).ok())
            {
                out.push(r);
            }
        }
        out
    }

    /// Marks a run as in progress; the mark goes away when the guard drops.
    pub(crate) fn running(&self, label: &str) -> RunningMark {
        let path = self
            .dir
            .join("running")
            .join(format!("{}-{}", sanitize(label), unique()));
        let _ = fs::write(&path, label);
        RunningMark { path }
    }

    /// The labels of the runs in progress.
    pub(crate) fn running_now(&self) -> Vec<String> {
        let mut out: Vec<String> = fs::read_dir(self.dir.join("running"))
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| fs::read_to_string(e.path()).ok())
            .collect();
        out.sort();
        out
    }

    /// Records that proc-macro file `file_name` (e.g. `libfoo-HASH.so`) is `package`.
    pub(crate) fn note_macro(&self, file_name: &str, package: &Package) {
        let _ = fs::write(self.dir.join("macros").join(file_name), &package.id);
    }

    /// The package of proc-macro file `file_name`, if the wrapper saw it compiled.
    pub(crate) fn macro_package(&self, file_name: &str) -> Option<&Package> {
        let id = fs::read_to_string(self.dir.join("macros").join(file_name)).ok()?;
        self.info.graph.by_id(id.trim())
    }

    /// The cargo ids of every proc macro the wrapper saw compiled in this session.
    pub(crate) fn compiled_macro_ids(&self) -> std::collections::HashSet<String> {
        fs::read_dir(self.dir.join("macros"))
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| fs::read_to_string(e.path()).ok())
            .map(|id| id.trim().to_owned())
            .collect()
    }

    /// The `airlock.toml` the session was made from, as exceptions.
    pub(crate) fn exceptions_from(
        config: &Config,
    ) -> std::collections::BTreeMap<String, super::config::CrateException> {
        config.crates.clone()
    }
}

/// Removes its marker file when dropped.
pub(crate) struct RunningMark {
    path: PathBuf,
}

impl Drop for RunningMark {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

/// Writes `session.json`.
fn write_info(path: &Path, info: &SessionInfo) -> Result<(), BuildError> {
    let text = serde_json::to_vec_pretty(info).map_err(|e| BuildError::Session {
        step: "encoding the session".into(),
        path: path.to_owned(),
        source: io::Error::other(e),
    })?;
    fs::write(path, text).map_err(io_err("writing", path))
}

/// The 64-bit FNV-1a hash of `bytes`, in hex: a stable file name for a unit.
fn fnv1a(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// A name unique among the processes of this machine.
fn unique() -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "{}-{}-{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

fn sanitize(label: &str) -> String {
    label
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(build_target: &Path, profile: &str) -> SessionInfo {
        SessionInfo {
            graph: Graph {
                workspace_root: build_target.to_owned(),
                target_directory: build_target.to_owned(),
                packages: Vec::new(),
            },
            profile: profile.into(),
            allow_degraded: false,
            build_target: build_target.to_owned(),
            airlock_bin: PathBuf::from("/usr/bin/cargo-airlock"),
            exceptions: Default::default(),
            script_env: Vec::new(),
            test: None,
        }
    }

    fn record(exit_code: i32) -> RunRecord {
        RunRecord {
            exit_code: Some(exit_code),
            duration_ms: 1,
            ..RunRecord::new(
                vec!["p 0.1.0".into()],
                "p 0.1.0".into(),
                Phase::BuildScript,
                Vec::new(),
            )
        }
    }

    #[test]
    fn a_rerun_replaces_its_units_record() {
        let tmp = tempfile::tempdir().unwrap();
        let s = Session::create(&tmp.path().join("s"), info(tmp.path(), "build")).unwrap();
        s.write_record(&record(1), "/t/build/p-1/out").unwrap();
        s.write_record(&record(0), "/t/build/p-1/out").unwrap();
        s.write_record(&record(0), "/t/build/p-2/out").unwrap();
        let codes: Vec<Option<i32>> = s.records().iter().map(|r| r.exit_code).collect();
        assert_eq!(codes, [Some(0), Some(0)]);
    }

    #[test]
    fn resume_keeps_records_only_under_the_same_grants() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("s");
        assert!(Session::resume(&dir, info(tmp.path(), "build"))
            .unwrap()
            .is_none());
        let s = Session::create(&dir, info(tmp.path(), "build")).unwrap();
        s.write_record(&record(0), "unit").unwrap();
        let again = Session::resume(&dir, info(tmp.path(), "build"))
            .unwrap()
            .expect("same grants: resumed");
        assert_eq!(again.records().len(), 1);
        assert!(Session::resume(&dir, info(tmp.path(), "strict"))
            .unwrap()
            .is_none());
        let mut other_bin = info(tmp.path(), "build");
        other_bin.airlock_bin = PathBuf::from("/elsewhere/cargo-airlock");
        assert!(Session::resume(&dir, other_bin).unwrap().is_none());
    }
}
