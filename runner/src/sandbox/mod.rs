//! The sandbox engine: runs one command under every layer (namespaces, mounts, limits,
//! capabilities, Landlock, seccomp with a supervisor) and returns what it attempted.
//!
//! Setup reads top to bottom in [`run`]: validate the request, probe the kernel, plant decoys,
//! compute grants, build the Landlock ruleset, the mount plan and the seccomp filter, clone
//! the child into fresh namespaces, hand its listener to the supervisor thread, wait (with the
//! timeout), then scan what it wrote.

pub mod child;
mod closer;
pub mod decode;
pub mod landlock;
pub mod limits;
pub mod namespaces;
pub mod probe;
pub mod procmem;
pub mod seccomp;
pub mod supervisor;
pub mod tripwire;

use std::collections::HashMap;
use std::ffi::{CString, OsStr, OsString};
use std::fs;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::decoys::DecoySet;
use crate::events::{Decision, Event, EventLog, Kind, Phase};
use crate::profile::{Compatibility, Profile};
use child::{ChildPlan, Message, Step, MAX_ARGS, MAX_ENV};
use landlock::{FsRule, Grant, PreparedRuleset};
use limits::{ProcessWatch, Rlimits, RunCgroup, PROCESS_POLL};
use namespaces::{attr, MountPlan, Overlay, Visible};
use supervisor::{normalize, Answer, Call, Context, DecoyView, Handler};

/// How fully a layer is enforced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
#[repr(u32)]
pub enum LayerStatus {
    Full = 0,
    Partial = 1,
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
    pub landlock: LayerStatus,
    pub seccomp: LayerStatus,
    pub namespaces: LayerStatus,
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
    pub profile: Profile,
    /// Program and arguments.
    pub command: Vec<OsString>,
    pub extra_read: Vec<PathBuf>,
    pub extra_write: Vec<PathBuf>,
    pub extra_exec: Vec<PathBuf>,
    /// Directories the command may write *and* execute programs from: only for an
    /// `airlock.toml` `exec-out-dir` exception (a build script whose autoconf `configure` runs
    /// the `./conftest` it links in `OUT_DIR`), never a default. Landlock grants the execute
    /// right there and the mount keeps exec; the supervisor still logs every exec. Every other
    /// writable directory stays non-executable, and no other write directory may lie beneath
    /// one of these.
    pub extra_write_exec: Vec<PathBuf>,
    /// Write directories (among `extra_write`) whose files may be mapped executable, e.g. the
    /// deps directory from which rustc `dlopen`s a proc macro it also writes outputs next to.
    /// `execve` from them stays refused (Landlock grants no execute right there).
    pub exec_map: Vec<PathBuf>,
    /// Caller environment to filter through the profile (usually `std::env::vars_os()`).
    pub env: Vec<(OsString, OsString)>,
    /// Variables set inside regardless of the profile's pass list (e.g. cargo's for a build
    /// script). Never use this for secrets.
    pub env_set: Vec<(OsString, OsString)>,
    pub cwd: PathBuf,
    /// Overrides the profile's timeout.
    pub timeout: Option<Duration>,
    /// Run with the layers this kernel has, recording what is missing.
    pub allow_degraded: bool,
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
        }
    }
}

/// How the command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "how", rename_all = "kebab-case")]
pub enum Termination {
    Exited {
        code: i32,
    },
    Signaled {
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
    pub termination: Termination,
    pub events: Vec<Event>,
    pub layers: Layers,
    pub duration: Duration,
    /// Set if events could not be streamed to `events_file` (they are all in `events`).
    pub events_file_error: Option<String>,
    /// The run's decoys, so a caller can look for their values in output the sandbox did not
    /// see (e.g. a build script's stdout, which the caller captures). None without decoys.
    pub decoys: Option<DecoySet>,
}

impl RunOutcome {
    /// Whether any event makes the run suspicious (DESIGN: denied, leaked, flagged, or a
    /// network tool run).
    pub fn suspicious(&self) -> bool {
        self.events.iter().any(|e| {
            e.decision != Decision::Allowed
                || e.detail.get("network_tool").is_some_and(|v| v == true)
        })
    }
}

/// Errors that keep a run from happening. Each says what to do about it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SandboxError {
    #[error(
        "no command given: pass it after `--`, e.g. `cargo airlock sandbox -- sh -c 'echo hi'`"
    )]
    NoCommand,
    #[error("cannot find `{program}` in the sandbox's PATH ({path}); give its absolute path")]
    CommandNotFound { program: String, path: String },
    #[error("--{flag} {}: {reason}", path.display())]
    BadPath {
        flag: &'static str,
        path: PathBuf,
        reason: String,
    },
    #[error("the sandbox cannot be fully enforced on this machine: {}. {hint} Or pass --allow-degraded to run with the layers that work (the report will say so).", missing.join("; "))]
    Unavailable { missing: Vec<String>, hint: String },
    #[error("preparing the sandbox failed while {step}: {source}")]
    Prepare {
        step: String,
        #[source]
        source: io::Error,
    },
    #[error(transparent)]
    Landlock(#[from] landlock::LandlockError),
    #[error(transparent)]
    Seccomp(#[from] seccomp::SeccompError),
    #[error("the sandbox child failed while {step}: {source}")]
    Child {
        step: String,
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

fn cstring(bytes: &[u8], what: &str) -> Result<CString, SandboxError> {
    CString::new(bytes).map_err(|_| SandboxError::Prepare {
        step: format!("encoding {what}"),
        source: io::Error::new(io::ErrorKind::InvalidInput, "contains a NUL byte"),
    })
}

/// Canonical form of a user-given path that must exist.
fn existing(flag: &'static str, path: &Path) -> Result<PathBuf, SandboxError> {
    fs::canonicalize(path).map_err(|e| SandboxError::BadPath {
        flag,
        path: path.to_owned(),
        reason: if e.kind() == io::ErrorKind::NotFound {
            "does not exist; create it first or fix the path".into()
        } else {
            e.to_string()
        },
    })
}

fn resolve_program(program: &OsStr, path_var: Option<&OsStr>) -> Result<PathBuf, SandboxError> {
    let p = Path::new(program);
    if p.components().count() > 1 || p.is_absolute() {
        return Ok(fs::canonicalize(p).unwrap_or_else(|_| p.to_owned()));
    }
    let search = path_var.unwrap_or(OsStr::new("/usr/local/bin:/usr/bin:/bin"));
    for dir in std::env::split_paths(search) {
        let candidate = dir.join(p);
        if let Ok(meta) = fs::metadata(&candidate) {
            use std::os::unix::fs::PermissionsExt;
            if meta.is_file() && meta.permissions().mode() & 0o111 != 0 {
                return Ok(candidate);
            }
        }
    }
    Err(SandboxError::CommandNotFound {
        program: program.to_string_lossy().into_owned(),
        path: search.to_string_lossy().into_owned(),
    })
}

/// Runs `config.command` in the sandbox and returns what happened.
pub fn run(config: &SandboxConfig) -> Result<RunOutcome, SandboxError> {
    let profile = &config.profile;
    let Some(program) = config.command.first() else {
        return Err(SandboxError::NoCommand);
    };
    if config.command.len() >= MAX_ARGS {
        return Err(SandboxError::Prepare {
            step: "passing arguments".into(),
            source: io::Error::new(io::ErrorKind::InvalidInput, "too many arguments"),
        });
    }

    // What the kernel offers, and whether that is enough.
    let support = probe::Support::get();
    let mut degraded = Vec::new();
    let missing = support.missing_for(profile);
    if !missing.is_empty() {
        if !config.allow_degraded {
            return Err(SandboxError::Unavailable {
                missing,
                hint: "Run `cargo airlock doctor` for details.".into(),
            });
        }
        degraded = missing;
    }
    let use_namespaces = support.user_namespaces;
    let use_landlock = support.landlock_abi.is_some();

    // Paths the caller named.
    let mut extra_read = Vec::new();
    for p in &config.extra_read {
        extra_read.push(existing("read", p)?);
    }
    let write_dir = |flag: &'static str, p: &Path| -> Result<PathBuf, SandboxError> {
        let c = existing(flag, p)?;
        if !c.is_dir() {
            return Err(SandboxError::BadPath {
                flag,
                path: p.to_owned(),
                reason: "is not a directory".into(),
            });
        }
        Ok(c)
    };
    let mut extra_write = Vec::new();
    for p in &config.extra_write {
        extra_write.push(write_dir("write", p)?);
    }
    let mut extra_write_exec = Vec::new();
    for p in &config.extra_write_exec {
        extra_write_exec.push(write_dir("write", p)?);
    }
    let mut extra_exec = Vec::new();
    for p in &config.extra_exec {
        extra_exec.push(existing("exec", p)?);
    }

    // The environment inside.
    let real_home = std::env::var_os("HOME").map(PathBuf::from);
    let mut env: Vec<(OsString, OsString)> = config
        .env
        .iter()
        .filter(|(k, _)| profile.env.passes(&k.to_string_lossy()))
        .cloned()
        .collect();
    // The run's own small files (decoy home, stand-ins, tripwires, /run, /dev/shm) live on a
    // tmpfs where there is one; the private /tmp stays on the temporary directory's disk, since
    // builds may put large files there.
    let rundir = prepare(
        "creating the run directory",
        tempfile::Builder::new()
            .prefix("airlock-run-")
            .tempdir_in(scratch_base()),
    )?;
    let tmpdir = prepare(
        "creating the private /tmp",
        tempfile::Builder::new().prefix("airlock-tmp-").tempdir(),
    )?;
    let private_tmp = tmpdir.path().to_path_buf();
    let decoy_home = rundir.path().join("home");
    let run_dir = rundir.path().join("run");
    let shm_dir = rundir.path().join("shm");
    for d in [&decoy_home, &run_dir, &shm_dir] {
        prepare("creating the run directory", fs::create_dir(d))?;
    }
    prepare(
        "opening the private /tmp",
        fs::set_permissions(
            &private_tmp,
            std::os::unix::fs::PermissionsExt::from_mode(0o1777),
        ),
    )?;
    let tripwire_dir = rundir.path().join("tripwires");
    prepare("creating the run directory", fs::create_dir(&tripwire_dir))?;
    let decoys = if profile.decoys {
        Some(prepare("planting decoys", DecoySet::plant(&decoy_home))?)
    } else {
        None
    };
    let mut tripwires: Vec<tripwire::Tripwire> = decoys
        .iter()
        .flat_map(|set| &set.decoys)
        .filter_map(|d| {
            Some(tripwire::Tripwire {
                host: decoy_home.join(d.file.as_ref()?),
                meaning: tripwire::Meaning::Decoy(d.name.clone()),
            })
        })
        .collect();

    // Grants: the profile's, the caller's, and the run's own directories.
    let mut rules: Vec<FsRule> = Vec::new();
    let mut add = |path: &Path, grant: Grant, optional: bool| -> Result<(), SandboxError> {
        match fs::canonicalize(path) {
            Ok(p) => {
                rules.push(FsRule { path: p, grant });
                Ok(())
            }
            Err(_) if optional => Ok(()),
            Err(e) => Err(SandboxError::Prepare {
                step: format!(
                    "granting {} from profile `{}`",
                    path.display(),
                    profile.name
                ),
                source: e,
            }),
        }
    };
    for a in &profile.read {
        add(&a.path, Grant::Read, a.optional)?;
    }
    for a in &profile.exec {
        add(&a.path, Grant::Exec, a.optional)?;
    }
    for a in &profile.write {
        add(&a.path, Grant::Write, a.optional)?;
    }
    for p in &extra_read {
        add(p, Grant::Read, false)?;
    }
    for p in &extra_exec {
        add(p, Grant::Exec, false)?;
    }
    for p in &extra_write {
        add(p, Grant::Write, false)?;
    }
    for p in &extra_write_exec {
        add(p, Grant::WriteExec, false)?;
    }
    add(&private_tmp, Grant::Write, false)?;
    add(&shm_dir, Grant::Write, false)?;
    add(&decoy_home, Grant::Read, false)?;
    // Landlock rights add up down the tree: a write directory beneath an executable one would
    // be executable too. Only an explicit write-and-execute grant may be both.
    for w in rules.iter().filter(|r| r.grant == Grant::Write) {
        if let Some(x) = rules
            .iter()
            .find(|r| r.grant.executable() && w.path.starts_with(&r.path))
        {
            return Err(SandboxError::BadPath {
                flag: "write",
                path: w.path.clone(),
                reason: format!(
                    "lies inside executable directory {}: the sandbox could run what it writes. Choose a write directory outside it",
                    x.path.display()
                ),
            });
        }
    }

    // Where the decoy home appears: over the real home, unless a grant needs the real home
    // itself (then beneath /run).
    let home_overlay_ok = real_home.as_ref().is_some_and(|h| {
        h.is_absolute()
            && h != Path::new("/")
            && h.is_dir()
            && !rules
                .iter()
                .any(|r| h.starts_with(&r.path) && r.grant != Grant::Read || &r.path == h)
    });
    let home_inside = match (&real_home, home_overlay_ok, use_namespaces) {
        (Some(h), true, true) => fs::canonicalize(h).unwrap_or_else(|_| h.clone()),
        (_, _, true) => PathBuf::from("/run/airlock/home"),
        (_, _, false) => decoy_home.clone(),
    };
    if let (Some(real), true, true) = (&real_home, home_overlay_ok, use_namespaces) {
        let keep: Vec<PathBuf> = rules
            .iter()
            .map(|r| r.path.clone())
            .chain([cwd_path(config)])
            .collect();
        tripwires.extend(tripwire::mirror_home(
            real,
            &decoy_home,
            &home_inside,
            &keep,
        ));
    }
    env.retain(|(k, _)| k != "HOME" && k != "TMPDIR");
    env.push(("HOME".into(), home_inside.clone().into_os_string()));
    env.push((
        "TMPDIR".into(),
        if use_namespaces {
            "/tmp".into()
        } else {
            private_tmp.clone().into_os_string()
        },
    ));
    if !env.iter().any(|(k, _)| k == "PATH") {
        env.push(("PATH".into(), "/usr/local/bin:/usr/bin:/bin".into()));
    }
    for (k, v) in &profile.env.set {
        env.retain(|(ek, _)| ek != k.as_str());
        env.push((k.into(), v.into()));
    }
    for (k, v) in &config.env_set {
        env.retain(|(ek, _)| ek != k);
        env.push((k.clone(), v.clone()));
    }
    if let Some(d) = &decoys {
        for (k, v) in &d.env {
            env.retain(|(ek, _)| ek != k.as_str());
            env.push((k.into(), v.into()));
        }
    }
    if env.len() >= MAX_ENV {
        return Err(SandboxError::Prepare {
            step: "passing the environment".into(),
            source: io::Error::new(io::ErrorKind::InvalidInput, "too many variables"),
        });
    }
    let path_var = env
        .iter()
        .find(|(k, _)| k == "PATH")
        .map(|(_, v)| v.clone());
    let program_path = resolve_program(program, path_var.as_deref())?;

    // Landlock.
    let landlock = if use_landlock {
        let required = profile.compatibility == Compatibility::Required && !config.allow_degraded;
        Some(PreparedRuleset::build(
            profile.landlock_abi,
            &rules,
            required,
        )?)
    } else {
        None
    };

    // Mounts: the inside view of every grant is its host path (rebinds keep paths).
    let cwd = cwd_path(config);
    let inside = |p: &Path| -> PathBuf {
        if p.starts_with(&private_tmp) {
            Path::new("/tmp").join(p.strip_prefix(&private_tmp).unwrap_or(Path::new("")))
        } else if p.starts_with(&shm_dir) {
            PathBuf::from("/dev/shm")
        } else if p.starts_with(&decoy_home) {
            home_inside.clone()
        } else {
            p.to_owned()
        }
    };
    let mounts = if use_namespaces {
        let mut overlays = vec![
            Overlay {
                target: "/tmp".into(),
                source: private_tmp.clone(),
                attrs: attr::NOSUID | attr::NODEV | attr::NOEXEC,
            },
            Overlay {
                target: "/run".into(),
                source: run_dir.clone(),
                attrs: attr::NOSUID | attr::NODEV | attr::NOEXEC,
            },
            Overlay {
                target: home_inside.clone(),
                source: decoy_home.clone(),
                attrs: attr::RDONLY | attr::NOSUID | attr::NODEV | attr::NOEXEC,
            },
        ];
        if Path::new("/dev/shm").is_dir() {
            overlays.push(Overlay {
                target: "/dev/shm".into(),
                source: shm_dir.clone(),
                attrs: attr::NOSUID | attr::NODEV | attr::NOEXEC,
            });
        }
        let run_owned = |p: &Path| p.starts_with(rundir.path()) || p.starts_with(tmpdir.path());
        let exec_map: Vec<PathBuf> = config
            .exec_map
            .iter()
            .filter_map(|p| fs::canonicalize(p).ok())
            .collect();
        let mut visible: Vec<Visible> = rules
            .iter()
            .filter(|r| !run_owned(&r.path))
            .map(|r| Visible {
                path: r.path.clone(),
                attrs: match r.grant {
                    Grant::Read => attr::RDONLY | attr::NOSUID | attr::NODEV,
                    Grant::Exec => attr::RDONLY | attr::NODEV,
                    Grant::Write if exec_map.contains(&r.path) => attr::NOSUID | attr::NODEV,
                    Grant::Write => attr::NOSUID | attr::NODEV | attr::NOEXEC,
                    Grant::WriteExec => attr::NOSUID | attr::NODEV,
                },
                self_bind: r.grant.writable() && r.path.is_dir(),
                contents: true,
            })
            .collect();
        visible.push(Visible {
            path: cwd.clone(),
            attrs: attr::RDONLY | attr::NOSUID | attr::NODEV,
            self_bind: false,
            contents: false,
        });
        let mut masks = Vec::new();
        for (i, target) in profile
            .protect
            .iter()
            .filter_map(|a| fs::canonicalize(&a.path).ok())
            .filter(|p| rules.iter().any(|r| p.starts_with(&r.path) && p != &r.path))
            .filter(|p| !rules.iter().any(|r| r.path.starts_with(p)))
            .enumerate()
        {
            let wire = tripwire_dir.join(format!("mask-{i}"));
            let made = if target.is_dir() {
                fs::create_dir(&wire)
            } else {
                fs::write(&wire, b"")
            };
            prepare("planting a tripwire", made)?;
            tripwires.push(tripwire::Tripwire {
                host: wire.clone(),
                meaning: tripwire::Meaning::Protected(target.clone()),
            });
            masks.push((target, wire));
        }
        let plan = MountPlan::new(&overlays, &visible, &masks);
        Some(prepare("planning mounts", plan.compile())?)
    } else {
        None
    };

    // Seccomp.
    let rules_bpf = supervisor::filter_rules(profile);
    let program_bpf = seccomp::Program::compile(&rules_bpf)?;

    // Supervisor context (paths in the inside view).
    let log = EventLog::new(config.phase, config.krate.clone());
    let log = match &config.events_file {
        Some(path) => prepare(&format!("opening {}", path.display()), log.stream_to(path))?,
        None => log,
    };
    // The decoy home is left out: beneath it, whatever is not a decoy is the real home.
    let grants_inside: Vec<PathBuf> = rules
        .iter()
        .filter(|r| r.path != decoy_home)
        .map(|r| inside(&r.path))
        .collect();
    // Writable regions, deepest wins: write grants are writable; every other grant seen through
    // a rebind is mounted read-only, even beneath the private /tmp.
    let write_regions: Vec<(PathBuf, bool)> = rules
        .iter()
        .filter(|r| r.path != decoy_home)
        .map(|r| (inside(&r.path), r.grant.writable()))
        .collect();
    let exec_inside: Vec<PathBuf> = rules
        .iter()
        .filter(|r| r.grant.executable())
        .map(|r| inside(&r.path))
        .collect();
    let write_exec_inside: Vec<PathBuf> = rules
        .iter()
        .filter(|r| r.grant == Grant::WriteExec)
        .map(|r| inside(&r.path))
        .collect();
    let mut protect: Vec<PathBuf> = profile.protect.iter().map(|a| normalize(&a.path)).collect();
    if let Some(h) = &real_home {
        if home_inside != *h {
            protect.push(normalize(h));
        }
    }
    let denied: HashMap<i64, String> = profile
        .deny_syscalls
        .iter()
        .filter_map(|d| seccomp::syscall_number(&d.name).map(|nr| (nr, d.name.clone())))
        .collect();
    let decoy_view = decoys.map(|set| DecoyView {
        set,
        home_inside: home_inside.clone(),
        real_home: real_home.clone(),
        home_host: decoy_home.clone(),
    });
    let handler = Arc::new(Handler::new(Context {
        log: log.clone(),
        decoys: decoy_view,
        protect,
        grants: grants_inside,
        write_regions,
        exec_dirs: exec_inside,
        write_exec_dirs: write_exec_inside,
        network_tools: profile.network_tools.clone(),
        denied,
        init_pid: AtomicI32::new(0),
        landlock_exec: std::sync::atomic::AtomicBool::new(false),
    }));

    // The child's plan.
    let argv: Vec<CString> = config
        .command
        .iter()
        .map(|a| cstring(a.as_bytes(), "an argument"))
        .collect::<Result<_, _>>()?;
    let envp: Vec<CString> = env
        .iter()
        .map(|(k, v)| {
            let mut kv = k.as_bytes().to_vec();
            kv.push(b'=');
            kv.extend_from_slice(v.as_bytes());
            cstring(&kv, "an environment variable")
        })
        .collect::<Result<_, _>>()?;
    let (parent_sock, child_sock) = prepare("creating the control socket", control_pair())?;
    // SAFETY: geteuid/getegid cannot fail.
    let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
    let cgroup = if uid == 0 {
        RunCgroup::create(profile.limits.processes, profile.limits.memory)
    } else {
        None
    };
    let mut plan = ChildPlan {
        id_maps: use_namespaces
            .then(|| {
                Some((
                    CString::new(format!("{uid} {uid} 1\n")).ok()?,
                    CString::new(format!("{gid} {gid} 1\n")).ok()?,
                ))
            })
            .flatten(),
        mounts,
        set_hostname: use_namespaces,
        pid_namespace: use_namespaces,
        rlimits: Rlimits::from_profile(
            &profile.limits,
            cgroup.as_ref().is_some_and(RunCgroup::caps_memory),
        ),
        join_cgroups: Vec::new(),
        cwd: cstring(cwd.as_os_str().as_bytes(), "the working directory")?,
        landlock,
        seccomp: program_bpf,
        program: cstring(program_path.as_os_str().as_bytes(), "the program path")?,
        argv,
        envp,
        control: child_sock.as_raw_fd(),
        keep_fds: config.keep_fds.clone(),
        stdio: config.stdio,
    };
    let cgroup_tasks = match &cgroup {
        Some(cg) => prepare(
            &format!("opening the tasks files of {}", cg.path().display()),
            cg.open_tasks(),
        )?,
        None => Vec::new(),
    };
    plan.join_cgroups = cgroup_tasks.iter().map(AsRawFd::as_raw_fd).collect();
    let ns_flags = if use_namespaces {
        libc::CLONE_NEWUSER
            | libc::CLONE_NEWNS
            | libc::CLONE_NEWPID
            | libc::CLONE_NEWNET
            | libc::CLONE_NEWIPC
            | libc::CLONE_NEWUTS
    } else {
        0
    };

    let mut watch = Some(prepare(
        "watching tripwires",
        tripwire::Watch::new(&tripwires),
    )?);
    let started = Instant::now();
    // A raw clone: fork semantics (copy-on-write stack) plus new namespaces; see child.rs for
    // why nothing in the child allocates.
    // SAFETY: no CLONE_VM; the child runs `run_init`, which never returns.
    let pid = unsafe {
        libc::syscall(
            libc::SYS_clone,
            (ns_flags | libc::SIGCHLD) as libc::c_ulong,
            0,
            0,
            0,
            0,
        )
    };
    if pid < 0 {
        return Err(SandboxError::Child {
            step: "creating the sandbox namespaces (clone)".into(),
            source: io::Error::last_os_error(),
        });
    }
    if pid == 0 {
        drop(parent_sock);
        plan.run_init();
    }
    let pid = pid as libc::pid_t;
    drop(child_sock);
    let ChildPlan {
        mounts: compiled_mounts,
        ..
    } = plan;
    handler.context().init_pid.store(pid, Ordering::Relaxed);
    let mut waiter = ChildWaiter { pid, reaped: None };
    drop(cgroup_tasks);
    if let Some(cg) = &cgroup {
        if let Err(e) = cg.add_to_v2(pid) {
            return Err(SandboxError::Prepare {
                step: format!("moving the sandbox into {}", cg.path().display()),
                source: e,
            });
        }
    }
    let go = Message::Ready {
        landlock: 0,
        listener: 0,
    }
    .encode();
    // SAFETY: writing a buffer we own.
    unsafe { libc::write(parent_sock.as_raw_fd(), go.as_ptr().cast(), go.len()) };

    let timeout = config.timeout.or(profile.limits.timeout);
    let deadline = timeout.map(|t| started + t);
    let mut landlock_status = LayerStatus::NotEnforced;
    let mut supervisor_thread = None;
    let mut exit: Option<(i32, u32)> = None;
    let mut timed_out = false;
    // Without a pids cgroup (unprivileged), RLIMIT_NPROC caps the run and nobody counts what it
    // refuses: the run's processes are counted every PROCESS_POLL instead.
    let mut process_watch = (cgroup.is_none() && use_namespaces)
        .then(|| ProcessWatch::new(pid, profile.limits.processes));
    loop {
        let wait = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        if wait == Some(Duration::ZERO) {
            timed_out = true;
            break;
        }
        let watching = process_watch.is_some() && supervisor_thread.is_some();
        let poll = if watching {
            Some(wait.map_or(PROCESS_POLL, |w| w.min(PROCESS_POLL)))
        } else {
            wait
        };
        match recv_message(parent_sock.as_raw_fd(), poll) {
            Ok(Received::TimedOut) if watching && poll != wait => {
                if let Some(count) = process_watch.as_mut().and_then(ProcessWatch::reached) {
                    log.record(
                        Event::new(Kind::Limit, "processes", Decision::Denied)
                            .with("limit", profile.limits.processes)
                            .with("reached", count)
                            .with(
                                "reason",
                                "the run's processes reached RLIMIT_NPROC, so its forks fail from here (seen by counting them: the kernel counts no refusals of an rlimit)",
                            ),
                    );
                }
            }
            Ok(Received::Message(
                Message::Failed {
                    step,
                    detail,
                    errno,
                },
                _,
            )) => {
                waiter.kill_and_reap();
                let step = Step::from_u32(step).unwrap_or(Step::Exec);
                let mut what = step.describe().to_owned();
                if step == Step::Mount {
                    if let Some(m) = &compiled_mounts {
                        what = format!("{what} ({})", m.describe(detail as usize));
                    }
                }
                let source = io::Error::from_raw_os_error(errno);
                if step == Step::Exec {
                    return Err(SandboxError::Child {
                        step: format!("executing {}", program_path.display()),
                        source,
                    });
                }
                return Err(SandboxError::Child { step: what, source });
            }
            Ok(Received::Message(Message::Ready { landlock, listener }, Some(sender))) => {
                let listener = match take_fd(sender, listener) {
                    Ok(fd) => fd,
                    Err(source) => {
                        waiter.kill_and_reap();
                        return Err(SandboxError::Child {
                            step: "copying the seccomp listener out of the sandbox (pidfd_getfd)"
                                .into(),
                            source,
                        });
                    }
                };
                let ack = Message::Ready {
                    landlock: 0,
                    listener: 0,
                }
                .encode();
                // SAFETY: writing a buffer we own.
                unsafe { libc::write(parent_sock.as_raw_fd(), ack.as_ptr().cast(), ack.len()) };
                landlock_status = if use_landlock {
                    LayerStatus::from_u32(landlock)
                } else {
                    LayerStatus::NotEnforced
                };
                // Execute rights exist since Landlock's first ABI: any enforcement covers them.
                handler.context().landlock_exec.store(
                    landlock_status != LayerStatus::NotEnforced,
                    Ordering::Relaxed,
                );
                let h = Arc::clone(&handler);
                let watch = watch.take();
                supervisor_thread = Some(
                    std::thread::Builder::new()
                        .name("airlock-supervisor".into())
                        .spawn(move || supervise(listener, h, watch))
                        .map_err(|e| SandboxError::Prepare {
                            step: "starting the supervisor thread".into(),
                            source: e,
                        })?,
                );
            }
            Ok(Received::Message(Message::Exited { status, survivors }, _)) => {
                exit = Some((status, survivors));
                break;
            }
            Ok(Received::Message(_, _)) => {}
            Ok(Received::TimedOut) => {
                timed_out = true;
                break;
            }
            Ok(Received::Closed) | Err(_) => break,
        }
    }
    if timed_out {
        waiter.kill_and_reap();
        log.record(
            Event::new(Kind::Limit, "timeout", Decision::Denied)
                .with("limit", humanize(timeout.unwrap_or_default())),
        );
    }
    let init_status = waiter.reap();
    if let Some(t) = supervisor_thread {
        let _ = t.join();
    }
    let termination = match (timed_out, exit) {
        (true, _) => Termination::TimedOut,
        (false, Some((status, _))) => Termination::from_wait_status(status),
        (false, None) => Termination::from_wait_status(init_status),
    };
    if let Some((_, survivors)) = exit {
        if survivors > 0 {
            log.record(
                Event::new(Kind::Limit, "survivors", Decision::Denied)
                    .with("processes", survivors)
                    .with(
                        "reason",
                        "still running when the command exited; killed with the sandbox",
                    ),
            );
        }
    }
    if let Some(cg) = &cgroup {
        let refused = cg.refused_forks();
        if refused > 0 {
            log.record(
                Event::new(Kind::Limit, "processes", Decision::Denied)
                    .with("limit", profile.limits.processes)
                    .with("refused_forks", refused),
            );
        }
        let killed = cg.oom_kills();
        if let Some(limit) = cg.memory_limit().filter(|_| killed > 0) {
            log.record(
                Event::new(Kind::Limit, "memory", Decision::Denied)
                    .with("limit", limit)
                    .with("oom_kills", killed)
                    .with(
                        "reason",
                        "the run's processes together needed more memory than the profile allows",
                    ),
            );
        }
    }
    if termination
        == (Termination::Signaled {
            signal: libc::SIGXFSZ,
        })
    {
        log.record(
            Event::new(Kind::Limit, "file-size", Decision::Denied)
                .with("limit", profile.limits.file_size),
        );
    }
    after_run_scans(
        &handler,
        &rules,
        profile.limits.file_size,
        &log,
        &private_tmp,
    );

    let (events, events_file_error) = log.snapshot();
    Ok(RunOutcome {
        termination,
        events,
        layers: Layers {
            landlock: landlock_status,
            seccomp: LayerStatus::Full,
            namespaces: if use_namespaces {
                LayerStatus::Full
            } else {
                LayerStatus::NotEnforced
            },
            // Unprivileged, RLIMIT_NPROC counts per user namespace and holds; as root only the
            // pids cgroup does.
            limits: if cgroup.is_some() || !probe::Support::get().root {
                LayerStatus::Full
            } else {
                LayerStatus::Partial
            },
            landlock_abi: profile.landlock_abi,
            pids_cgroup: cgroup.is_some(),
            memory_cgroup: cgroup.as_ref().is_some_and(RunCgroup::caps_memory),
            degraded,
        },
        duration: started.elapsed(),
        events_file_error,
        decoys: handler.context().decoys.as_ref().map(|v| v.set.clone()),
    })
}

fn cwd_path(config: &SandboxConfig) -> PathBuf {
    fs::canonicalize(&config.cwd).unwrap_or_else(|_| config.cwd.clone())
}

fn humanize(d: Duration) -> String {
    if d.as_millis() % 1000 == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

/// Scans what the run wrote: decoy values (leaks) and files that reached the size limit.
fn after_run_scans(
    handler: &Handler,
    rules: &[FsRule],
    file_size: u64,
    log: &EventLog,
    private_tmp: &Path,
) {
    let write_dirs: Vec<&PathBuf> = rules
        .iter()
        .filter(|r| r.grant.writable() && r.path.is_dir())
        .map(|r| &r.path)
        .filter(|p| !p.starts_with("/dev"))
        .collect();
    if let Some(view) = &handler.context().decoys {
        for dir in &write_dirs {
            for (file, decoy) in view.set.scan_dir(dir) {
                let shown = match file.strip_prefix(private_tmp) {
                    Ok(rel) => Path::new("/tmp").join(rel),
                    Err(_) => file.clone(),
                };
                log.record(
                    Event::new(Kind::Leak, "decoy-output", Decision::Flagged)
                        .with("decoy", decoy)
                        .with("location", shown.to_string_lossy()),
                );
            }
        }
    }
    let already = log.any(|e| e.kind == Kind::Limit && e.action == "file-size");
    if !already && file_size < u64::MAX {
        for dir in &write_dirs {
            if let Some(file) = find_file_at_least(dir, file_size) {
                log.record(
                    Event::new(Kind::Limit, "file-size", Decision::Denied)
                        .with("limit", file_size)
                        .with("path", file.to_string_lossy()),
                );
                break;
            }
        }
    }
}

fn find_file_at_least(dir: &Path, size: u64) -> Option<PathBuf> {
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).ok()?.flatten() {
            let Ok(meta) = entry.metadata() else { continue };
            if meta.is_dir() {
                stack.push(entry.path());
            } else if meta.is_file() && meta.len() >= size {
                return Some(entry.path());
            }
        }
    }
    None
}

/// Owns the sandbox's init process until it is reaped.
struct ChildWaiter {
    pid: libc::pid_t,
    reaped: Option<i32>,
}

impl ChildWaiter {
    fn kill_and_reap(&mut self) {
        if self.reaped.is_none() {
            // SAFETY: signalling our own child; SIGKILL to a PID namespace's init kills all of it.
            unsafe { libc::kill(self.pid, libc::SIGKILL) };
        }
        self.reap();
    }

    fn reap(&mut self) -> i32 {
        if let Some(s) = self.reaped {
            return s;
        }
        let mut status = 0;
        loop {
            // SAFETY: waiting for our own child.
            let r = unsafe { libc::waitpid(self.pid, &mut status, libc::__WALL) };
            if r == self.pid
                || (r < 0 && io::Error::last_os_error().raw_os_error() != Some(libc::EINTR))
            {
                break;
            }
        }
        self.reaped = Some(status);
        status
    }
}

impl Drop for ChildWaiter {
    fn drop(&mut self) {
        self.kill_and_reap();
    }
}

fn control_pair() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for two descriptors.
    let r = unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC,
            0,
            fds.as_mut_ptr(),
        )
    };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just created both descriptors.
    let pair = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    // The kernel then stamps every message with its sender's pid (in our PID namespace).
    let on: libc::c_int = 1;
    // SAFETY: setting an int option on our own socket.
    let r = unsafe {
        libc::setsockopt(
            pair.0.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PASSCRED,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(pair)
}

/// Where a run keeps its own small files: a tmpfs (`$XDG_RUNTIME_DIR`, then `/dev/shm`) where
/// one is writable, else the temporary directory.
///
/// A run creates and deletes a few dozen inodes (decoys, stand-ins mirroring the real home,
/// tripwires). On ext4, allocating inodes in a directory that churns through many deleted ones
/// scans the inode bitmap and table (`find_inode_bit`, `recently_deleted`): measured at 40% of
/// a run's setup CPU on this project's machines; on tmpfs it costs nothing.
fn scratch_base() -> PathBuf {
    const TMPFS_MAGIC: i64 = 0x0102_1994;
    let candidates = std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .into_iter()
        .chain([PathBuf::from("/dev/shm")]);
    for dir in candidates {
        let Ok(c) = CString::new(dir.as_os_str().as_bytes()) else {
            continue;
        };
        // SAFETY: statfs fills a zeroed struct we own; access only reads the path.
        let usable = unsafe {
            let mut st: libc::statfs = std::mem::zeroed();
            libc::statfs(c.as_ptr(), &mut st) == 0
                && st.f_type as i64 == TMPFS_MAGIC
                && libc::access(c.as_ptr(), libc::W_OK | libc::X_OK) == 0
        };
        if usable {
            return dir;
        }
    }
    std::env::temp_dir()
}

/// Copies descriptor `fd` out of process `pid` (which waits for us to do so).
fn take_fd(pid: libc::pid_t, fd: RawFd) -> io::Result<OwnedFd> {
    // SAFETY: pidfd_open on a pid we were just told about; owned below.
    let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if pidfd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just returned it.
    let pidfd = unsafe { OwnedFd::from_raw_fd(pidfd as RawFd) };
    // SAFETY: duplicates the target's descriptor into this process.
    let copy = unsafe { libc::syscall(libc::SYS_pidfd_getfd, pidfd.as_raw_fd(), fd, 0) };
    if copy < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just returned it.
    Ok(unsafe { OwnedFd::from_raw_fd(copy as RawFd) })
}

enum Received {
    /// A message and the host pid of its sender.
    Message(Message, Option<libc::pid_t>),
    TimedOut,
    Closed,
}

fn recv_message(sock: RawFd, timeout: Option<Duration>) -> io::Result<Received> {
    let mut pfd = libc::pollfd {
        fd: sock,
        events: libc::POLLIN,
        revents: 0,
    };
    let ms = timeout.map_or(-1, |t| t.as_millis().clamp(1, i32::MAX as u128) as i32);
    loop {
        // SAFETY: one valid pollfd.
        let r = unsafe { libc::poll(&mut pfd, 1, ms) };
        if r < 0 {
            let e = io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            return Err(e);
        }
        if r == 0 {
            return Ok(Received::TimedOut);
        }
        break;
    }
    let mut buf = [0u8; child::MESSAGE_LEN];
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    let mut cmsg = [0u64; 8];
    // SAFETY: zeroed msghdr, then pointed at our buffers.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cmsg.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&cmsg);
    // SAFETY: msg describes valid, writable buffers.
    let n = unsafe { libc::recvmsg(sock, &mut msg, libc::MSG_CMSG_CLOEXEC) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    if n == 0 {
        return Ok(Received::Closed);
    }
    let mut sender = None;
    // SAFETY: walking the control messages the kernel filled in.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(&msg);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_CREDENTIALS {
                let cred = std::ptr::read_unaligned(libc::CMSG_DATA(c).cast::<libc::ucred>());
                sender = Some(cred.pid);
            }
            c = libc::CMSG_NXTHDR(&msg, c);
        }
    }
    match Message::decode(&buf[..n as usize]) {
        Some(m) => Ok(Received::Message(m, sender)),
        None => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "bad control message",
        )),
    }
}

/// The supervisor loop: answers notifications until every filtered process is gone.
fn supervise(listener: OwnedFd, handler: Arc<Handler>, watch: Option<tripwire::Watch>) {
    // Wake the supervisor synchronously (Linux 6.6+): a notification is a ping-pong between two
    // tasks, and the synchronous hand-off saves a scheduler round per syscall.
    // SAFETY: SET_FLAGS takes a u64 flag value; failure (older kernels) is harmless.
    unsafe {
        libc::ioctl(
            listener.as_raw_fd(),
            libc::SECCOMP_IOCTL_NOTIF_SET_FLAGS,
            1u64, // SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
        )
    };
    let tripped = |w: &tripwire::Watch| {
        for meaning in w.drain() {
            match meaning {
                tripwire::Meaning::Decoy(name) => {
                    let location = handler
                        .context()
                        .decoys
                        .as_ref()
                        .and_then(|v| {
                            let d = v.set.decoys.iter().find(|d| d.name == name)?;
                            Some(v.home_inside.join(d.file.as_ref()?))
                        })
                        .unwrap_or_default();
                    handler.note_decoy_read_unattributed(&name, &location);
                }
                tripwire::Meaning::Protected(path) => handler.note_protected_read(&path),
            }
        }
    };
    loop {
        let mut fds = [
            libc::pollfd {
                fd: listener.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: watch.as_ref().map_or(-1, tripwire::Watch::raw_fd),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // SAFETY: two valid pollfds (a negative fd is ignored by poll).
        let r = unsafe { libc::poll(fds.as_mut_ptr(), 2, -1) };
        if r < 0 {
            if io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            break;
        }
        if fds[1].revents & libc::POLLIN != 0 {
            if let Some(w) = &watch {
                tripped(w);
            }
        }
        if fds[0].revents & libc::POLLIN != 0 {
            answer_one(listener.as_raw_fd(), &handler);
            handler.finish_pending();
            continue;
        }
        if fds[0].revents & (libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) != 0 {
            break;
        }
    }
    handler.finish_pending();
    if let Some(w) = &watch {
        tripped(w);
    }
}

fn answer_one(listener: RawFd, handler: &Handler) {
    // SAFETY: the kernel requires a zeroed struct for RECV.
    let mut notif: libc::seccomp_notif = unsafe { std::mem::zeroed() };
    // SAFETY: notif is the struct RECV expects.
    let r = unsafe { libc::ioctl(listener, libc::SECCOMP_IOCTL_NOTIF_RECV, &mut notif) };
    if r != 0 {
        return; // ENOENT: the target died before we read it
    }
    let call = Call {
        pid: notif.pid as i32,
        nr: i64::from(notif.data.nr),
        args: notif.data.args,
    };
    let answer = handler.handle(&call);
    let mut resp = libc::seccomp_notif_resp {
        id: notif.id,
        val: 0,
        error: 0,
        flags: 0,
    };
    match answer {
        Answer::Continue => resp.flags = libc::SECCOMP_USER_NOTIF_FLAG_CONTINUE as u32,
        Answer::Deny(errno) => resp.error = -errno,
        Answer::Pretend(val) => resp.val = val,
    }
    // SAFETY: resp is the struct SEND expects; ENOENT (target gone) is harmless.
    unsafe { libc::ioctl(listener, libc::SECCOMP_IOCTL_NOTIF_SEND, &mut resp) };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::Placeholders;

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
}
