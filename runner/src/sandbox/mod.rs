//! The sandbox engine: runs one command under every layer (namespaces, mounts, limits,
//! capabilities, Landlock, seccomp with a supervisor) and returns what it attempted.
//!
//! [`run`] reads top to bottom, one module per step:
//! - `plan`: every decision made before anything starts (grants, environment, where the decoy
//!   home goes, mount layout, masks), pure and unit-tested; `rundir`: the run's own
//!   directories and what is planted in them (decoys, tripwires);
//! - `launch`: the layers built in the supervisor, the child's plan, cgroups, the `clone`
//!   (then `child` runs the setup inside, allocation-free);
//! - `monitor`: the wait loop over the control socket (`control`), with the supervisor
//!   thread (`supervise`, judging each call with `supervisor`) started once the seccomp
//!   listener arrives;
//! - `finish`: limit events, scans of what the run wrote, the outcome.
//!
//! [`command`] holds what `cargo airlock sandbox -- CMD` grants besides the profile (the
//! program, the working directory) and the hint for a file the sandbox hid from it.
//!
//! System calls outside the cloned children go through `nix`; raw `libc` stays where nix
//! cannot serve (the allocation-free children, seccomp notification ioctls, `pidfd_getfd`),
//! with the reason beside each.

pub(crate) mod child;
mod closer;
pub mod command;
mod control;
pub mod decode;
pub mod decoys;
mod finish;
pub mod landlock;
mod launch;
pub(crate) mod limits;
mod monitor;
pub(crate) mod namespaces;
pub mod payload;
mod plan;
pub mod probe;
pub(crate) mod procmem;
mod rundir;
pub(crate) mod seccomp;
pub(crate) mod sinkhole;
pub(crate) mod socket_option;
mod supervise;
pub(crate) mod supervisor;
pub(crate) mod tripwire;

pub use limits::memory_cgroup_possible;

use std::ffi::OsString;
use std::io;
use std::os::fd::RawFd;
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use crate::events::{Event, Phase};
use crate::profile::Profile;
use decoys::DecoySet;
use launch::Usable;
use plan::{Plan, Request};
use rundir::RunDir;

/// How fully a layer is enforced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
#[repr(u32)]
pub enum LayerStatus {
    /// Every rule of the layer is in force.
    Full = 0,
    /// The layer is in force with some of its rules (an older kernel's subset).
    Partial = 1,
    /// The layer is missing (only with `--allow-degraded`).
    NotEnforced = 2,
}

impl LayerStatus {
    fn from_u32(v: u32) -> LayerStatus {
        match v {
            0 => LayerStatus::Full,
            1 => LayerStatus::Partial,
            _ => LayerStatus::NotEnforced,
        }
    }
}

/// Which layers a run had.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Layers {
    /// Landlock filesystem, network and scope rules.
    pub landlock: LayerStatus,
    /// The seccomp filter with user notification.
    pub seccomp: LayerStatus,
    /// User, mount, PID, network, IPC and UTS namespaces.
    pub namespaces: LayerStatus,
    /// Resource limits (rlimits, cgroups, the timeout).
    pub limits: LayerStatus,
    /// Landlock ABI the rules were written for.
    pub landlock_abi: u8,
    /// Whether a pids cgroup capped the process count (as root).
    pub pids_cgroup: bool,
    /// Whether a memory cgroup capped the run's memory (as root, with a memory limit); else
    /// `RLIMIT_AS` capped each process's address space.
    pub memory_cgroup: bool,
    /// Layers missing because `--allow-degraded` was given.
    pub degraded: Vec<String>,
}

/// One sandboxed run to perform.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// What the run may do.
    pub profile: Profile,
    /// Program and arguments.
    pub command: Vec<OsString>,
    /// Directories readable inside besides the profile's (`--read`).
    pub extra_read: Vec<PathBuf>,
    /// Directories writable inside besides the profile's (`--write`); nothing in them runs.
    pub extra_write: Vec<PathBuf>,
    /// Programs or directories executable inside besides the profile's (`--exec`).
    pub extra_exec: Vec<PathBuf>,
    /// Directories the command may write *and* execute programs from: only for an
    /// `airlock.toml` `exec-out-dir` exception (a build script whose autoconf `configure` runs
    /// the `./conftest` it links in `OUT_DIR`), never a default. Landlock grants the execute
    /// right there and the mount keeps exec; the supervisor still logs every exec. Every other
    /// writable directory stays non-executable, and no other write directory may lie beneath
    /// one of these.
    pub extra_write_exec: Vec<PathBuf>,
    /// Write directories from which the command may execute only what a compiler or linker of
    /// the same run produced there (a build script's `OUT_DIR`, where autoconf links and runs
    /// `./conftest`): Landlock grants the execute right and the mount keeps exec, and the
    /// supervisor refuses every exec of a file there that no compiler of the run wrote, or that
    /// changed since (see `supervisor/produced.rs`).
    pub produced_exec: Vec<PathBuf>,
    /// Read-only directories (the crate's package) whose `#!` scripts, copied byte for byte
    /// into a `produced_exec` directory, may run from there too (a build that copies its
    /// sources into `OUT_DIR` and runs their scripts, as autoconf's `config.status` does).
    pub produced_sources: Vec<PathBuf>,
    /// Write directories (among `extra_write`) whose files may be mapped executable, e.g. the
    /// deps directory from which rustc `dlopen`s a proc macro it also writes outputs next to.
    /// `execve` from them stays refused (Landlock grants no execute right there).
    pub exec_map: Vec<PathBuf>,
    /// Caller environment to filter through the profile (usually `std::env::vars_os()`).
    pub env: Vec<(OsString, OsString)>,
    /// Variables set inside regardless of the profile's pass list (e.g. cargo's for a build
    /// script). Never use this for secrets.
    pub env_set: Vec<(OsString, OsString)>,
    /// The command's working directory (as seen inside).
    pub cwd: PathBuf,
    /// Overrides the profile's timeout.
    pub timeout: Option<Duration>,
    /// Run with the layers this kernel has, recording what is missing.
    pub allow_degraded: bool,
    /// The phase the run's events are recorded under.
    pub phase: Phase,
    /// `name version` of the crate the run is attributed to.
    pub krate: String,
    /// Stream events as JSON lines here too.
    pub events_file: Option<PathBuf>,
    /// Descriptors the command inherits besides stdio (e.g. a jobserver's pipe).
    pub keep_fds: Vec<RawFd>,
    /// Replacements for the command's stdin, stdout and stderr (descriptors the caller owns
    /// and keeps open for the run); `None` inherits the caller's.
    pub stdio: [Option<RawFd>; 3],
    /// Plant a decoy `.env` in the working directory for the run (removed after it; one that
    /// exists is left alone). Only for a working directory the caller owns (vet's `load` and
    /// `probe` runs start in a private directory); off by default.
    pub decoy_dotenv: bool,
}

impl SandboxConfig {
    /// A config for `command` under `profile`, with the caller's environment and working
    /// directory and nothing extra.
    pub fn new(profile: Profile, command: Vec<OsString>) -> SandboxConfig {
        SandboxConfig {
            profile,
            command,
            extra_read: Vec::new(),
            extra_write: Vec::new(),
            extra_exec: Vec::new(),
            extra_write_exec: Vec::new(),
            produced_exec: Vec::new(),
            produced_sources: Vec::new(),
            exec_map: Vec::new(),
            env: std::env::vars_os().collect(),
            env_set: Vec::new(),
            cwd: std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/")),
            timeout: None,
            allow_degraded: false,
            phase: Phase::Sandbox,
            krate: String::new(),
            events_file: None,
            keep_fds: Vec::new(),
            stdio: [None; 3],
            decoy_dotenv: false,
        }
    }
}

/// How the command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "how", rename_all = "kebab-case")]
pub enum Termination {
    /// It exited by itself.
    Exited {
        /// Its exit status.
        code: i32,
    },
    /// A signal killed it.
    Signaled {
        /// The signal's number.
        signal: i32,
    },
    /// Killed by the sandbox at the timeout.
    TimedOut,
}

impl Termination {
    /// The shell convention: the exit code, or 128 + the signal.
    pub fn exit_code(self) -> i32 {
        match self {
            Termination::Exited { code } => code,
            Termination::Signaled { signal } => 128 + signal,
            Termination::TimedOut => 128 + libc::SIGKILL,
        }
    }

    fn from_wait_status(status: i32) -> Termination {
        if libc::WIFSIGNALED(status) {
            Termination::Signaled {
                signal: libc::WTERMSIG(status),
            }
        } else {
            Termination::Exited {
                code: libc::WEXITSTATUS(status),
            }
        }
    }
}

/// What a run did.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    /// How the command ended.
    pub termination: Termination,
    /// Everything the run recorded, in order.
    pub events: Vec<Event>,
    /// The layers the run had.
    pub layers: Layers,
    /// Wall time from launch to the end of the run.
    pub duration: Duration,
    /// Set if events could not be streamed to `events_file` (they are all in `events`).
    pub events_file_error: Option<String>,
    /// The run's decoys, so a caller can look for their values in output the sandbox did not
    /// see (e.g. a build script's stdout, which the caller captures). None without decoys.
    pub decoys: Option<DecoySet>,
}

impl RunOutcome {
    /// Whether any event makes the run suspicious: one of them is notable
    /// ([`Event::is_notable`]: denied, flagged, or a network tool run; docs/events.md).
    pub fn suspicious(&self) -> bool {
        self.events.iter().any(Event::is_notable)
    }
}

/// Errors that keep a run from happening. Each says what to do about it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SandboxError {
    /// `sandbox` was given no command.
    #[error(
        "no command given: pass it after `--`, e.g. `cargo airlock sandbox -- sh -c 'echo hi'`"
    )]
    NoCommand,
    /// The command is not on the sandbox's `PATH`.
    #[error("cannot find `{program}` in the sandbox's PATH ({path}); give its absolute path")]
    CommandNotFound {
        /// The program as given.
        program: String,
        /// The `PATH` searched.
        path: String,
    },
    /// The program, given as a path (`./prog`), does not exist.
    #[error("`{}` does not exist (looked for it from {})", program.display(), cwd.display())]
    NoSuchProgram {
        /// The program as given.
        program: PathBuf,
        /// The working directory it was looked up from.
        cwd: PathBuf,
    },
    /// A path the caller gave cannot be used as asked.
    #[error("--{flag} {}: {reason}", path.display())]
    BadPath {
        /// The option that named it (`read`, `write`, `exec`, ...).
        flag: &'static str,
        /// The path as given.
        path: PathBuf,
        /// Why it cannot be used.
        reason: String,
    },
    /// A path the caller gave cannot be looked up.
    #[error("--{flag} {}", path.display())]
    Unusable {
        /// The option that named it.
        flag: &'static str,
        /// The path as given.
        path: PathBuf,
        /// Why it could not be looked up.
        #[source]
        source: io::Error,
    },
    /// A layer is missing and `--allow-degraded` was not given.
    #[error("the sandbox cannot be fully enforced on this machine: {}. {hint} Or pass --allow-degraded to run with the layers that work (the report will say so).", missing.join("; "))]
    Unavailable {
        /// The missing layers.
        missing: Vec<String>,
        /// What would bring them.
        hint: String,
    },
    /// A setup step in the supervisor failed.
    #[error("preparing the sandbox failed while {step}")]
    Prepare {
        /// What the supervisor was doing.
        step: String,
        /// Why it failed.
        #[source]
        source: io::Error,
    },
    /// The Landlock ruleset could not be prepared.
    #[error(transparent)]
    Landlock(#[from] landlock::LandlockError),
    /// The seccomp filter could not be compiled.
    #[error(transparent)]
    Seccomp(#[from] seccomp::SeccompError),
    /// A setup step in the sandbox child failed (or the child could not be made).
    #[error("the sandbox child failed while {step}")]
    Child {
        /// What the child was doing.
        step: String,
        /// Why it failed.
        #[source]
        source: io::Error,
    },
}

fn prepare<T>(step: &str, result: io::Result<T>) -> Result<T, SandboxError> {
    result.map_err(|source| SandboxError::Prepare {
        step: step.to_owned(),
        source,
    })
}

/// Runs `config.command` in the sandbox and returns what happened.
///
/// The steps: check the request against what the kernel supports, create the run's
/// directories and plant its decoys, plan (grants, environment, home, mounts), plant the
/// tripwires the plan calls for, launch (build the layers, clone the sandbox), monitor it
/// until it ends, then finish (limit events, output scans, the outcome).
pub fn run(config: &SandboxConfig) -> Result<RunOutcome, SandboxError> {
    plan::program(config)?;
    let (usable, degraded) = check_support(config)?;
    let request = Request::resolve(config)?;
    let mut rundir = RunDir::create()?;
    let dotenv_dir = config.decoy_dotenv.then_some(request.cwd.as_path());
    let decoys = rundir.plant_decoys(config.profile.decoys, dotenv_dir)?;
    let decoy_env = decoys.as_ref().map_or(&[][..], |d| &d.env[..]);
    let real_home = std::env::var_os("HOME").map(PathBuf::from);
    let plan = Plan::new(
        config,
        &request,
        &rundir.paths,
        usable.namespaces,
        real_home.as_deref(),
        decoy_env,
    )?;
    let masks = rundir.plant_tripwires(&plan, &request)?;
    let mut launched = launch::launch(config, &request, &plan, &rundir, &masks, decoys, usable)?;
    let ended = monitor::monitor(&mut launched, config, &plan, usable);
    rundir::reveal(&rundir.paths.root);
    let ended = ended?;
    Ok(finish::finish(
        launched, ended, config, &plan, &rundir, usable, degraded,
    ))
}

/// The layers this kernel lets the run have, and those missing (only with
/// `--allow-degraded`; without it a missing layer is an error).
fn check_support(config: &SandboxConfig) -> Result<(Usable, Vec<String>), SandboxError> {
    let support = probe::Support::get();
    let missing = support.missing_for(&config.profile);
    if !missing.is_empty() && !config.allow_degraded {
        return Err(SandboxError::Unavailable {
            missing,
            hint: "Run `cargo airlock doctor` for details.".into(),
        });
    }
    let usable = Usable {
        namespaces: support.user_namespaces,
        landlock: support.landlock_abi.is_some(),
    };
    Ok((usable, missing))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::Placeholders;
    use std::fs;

    /// Landlock rights add up down the tree, so a write directory inside a write-and-execute
    /// one would be executable too: the run is refused before anything starts.
    #[test]
    fn a_write_dir_inside_a_write_exec_dir_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("sub");
        fs::create_dir(&sub).unwrap();
        let profile = Profile::load("build", &Placeholders::from_env()).unwrap();
        let mut config = SandboxConfig::new(profile, vec!["/bin/true".into()]);
        config.extra_write_exec = vec![dir.path().to_owned()];
        config.extra_write = vec![sub.clone()];
        config.allow_degraded = true; // the check does not depend on this kernel's layers
        match run(&config) {
            Err(SandboxError::BadPath { path, reason, .. }) => {
                assert_eq!(path, fs::canonicalize(&sub).unwrap());
                assert!(reason.contains("inside executable directory"), "{reason}");
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    /// The CLI prints an error with its chain of sources (`{:#}`): no message may repeat its
    /// source's.
    #[test]
    fn errors_do_not_repeat_their_source() {
        let os = || io::Error::from_raw_os_error(libc::ENOENT);
        let errors = [
            SandboxError::Prepare {
                step: "creating the run directory".into(),
                source: os(),
            },
            SandboxError::Child {
                step: "entering the working directory".into(),
                source: os(),
            },
            SandboxError::Unusable {
                flag: "read",
                path: "/x".into(),
                source: os(),
            },
            SandboxError::Landlock(landlock::LandlockError::OpenPath {
                path: "/x".into(),
                source: os(),
            }),
        ];
        let cause = os().to_string();
        for e in errors {
            let mut chain = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                chain = format!("{chain}: {s}");
                source = s.source();
            }
            assert_eq!(chain.matches(&cause).count(), 1, "{chain}");
        }
    }
}
