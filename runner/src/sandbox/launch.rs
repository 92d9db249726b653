//! Starting a planned run: the layers built in the supervisor (Landlock ruleset, compiled mount
//! plan, seccomp program), the supervisor's context, the child's plan, the run's cgroups, and
//! the `clone` into fresh namespaces. What the child does next is in `child.rs`.

use std::collections::HashMap;
use std::ffi::CString;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::Arc;
use std::time::Instant;

use nix::sys::signal::{kill, Signal};
use nix::unistd::{getegid, geteuid, Pid};

use super::child::{ChildPlan, Message};
use super::control;
use super::decoys::DecoySet;
use super::landlock::PreparedRuleset;
use super::limits::{Rlimits, RunCgroup};
use super::namespaces::{CompiledPlan, MountPlan};
use super::plan::{Plan, Request};
use super::rundir::RunDir;
use super::supervisor::{self, Context, DecoyView, Handler};
use super::{prepare, seccomp, tripwire, SandboxConfig, SandboxError, Termination};
use crate::events::EventLog;
use crate::profile::Compatibility;

/// A started run: the sandbox's init is running the setup of `child.rs`.
pub(crate) struct Launched {
    /// Owns the init process until it is reaped.
    pub waiter: ChildWaiter,
    /// The supervisor's end of the control socket.
    pub control: OwnedFd,
    pub handler: Arc<Handler>,
    pub log: EventLog,
    /// The run's cgroups (as root); removed when dropped.
    pub cgroup: Option<RunCgroup>,
    /// The compiled mounts, to describe a failed step.
    pub mounts: Option<CompiledPlan>,
    /// The tripwires' watch, for the supervisor thread.
    pub watch: Option<tripwire::Watch>,
    /// The run's directory, hidden from the host once the sandbox has mounted it
    /// (`rundir::hide`); `None` without namespaces, where the sandbox reaches it by its path.
    pub hide: Option<PathBuf>,
    pub started: Instant,
}

/// Which layers the kernel lets this run have.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Usable {
    pub namespaces: bool,
    pub landlock: bool,
}

/// Builds the layers (with the protected paths covered by `masks`), the supervisor and the
/// child's plan, and clones the sandbox's init.
pub(crate) fn launch(
    config: &SandboxConfig,
    request: &Request,
    plan: &Plan,
    rundir: &RunDir,
    masks: &[(PathBuf, PathBuf)],
    decoys: Option<DecoySet>,
    usable: Usable,
) -> Result<Launched, SandboxError> {
    let layers = build_layers(config, plan, masks, usable)?;
    let log = EventLog::new(config.phase, config.krate.clone());
    let log = match &config.events_file {
        Some(path) => prepare(&format!("opening {}", path.display()), log.stream_to(path))?,
        None => log,
    };
    let handler = Arc::new(Handler::new(context(config, plan, &log, decoys)));
    if handler.context().decoys.is_some() {
        let handler = Arc::clone(&handler);
        // Beside the launch, off the first exec's path; if the thread cannot start, the first
        // scan builds the search itself.
        let _ = std::thread::Builder::new()
            .name("airlock-decoys".into())
            .spawn(move || {
                if let Some(view) = &handler.context().decoys {
                    view.set.prepare_search();
                }
            });
    }
    let (control, child_control) = prepare("creating the control socket", control::pair())?;
    let limits = &config.profile.limits;
    let cgroup = if geteuid().is_root() {
        RunCgroup::create(limits.processes, limits.memory)
    } else {
        None
    };
    let cgroup_tasks = match &cgroup {
        Some(cg) => prepare(
            &format!("opening the tasks files of {}", cg.path().display()),
            cg.open_tasks(),
        )?,
        None => Vec::new(),
    };
    let child = child_plan(config, request, plan, layers, usable)?;
    let child = ChildPlan {
        rlimits: Rlimits::from_profile(limits, cgroup.as_ref().is_some_and(RunCgroup::caps_memory)),
        join_cgroups: cgroup_tasks.iter().map(AsRawFd::as_raw_fd).collect(),
        control: child_control.as_raw_fd(),
        ..child
    };
    let watch = Some(prepare(
        "watching tripwires",
        tripwire::Watch::new(&rundir.tripwires),
    )?);

    let started = Instant::now();
    let (waiter, mounts) = clone_init(child, usable.namespaces, &control)?;
    drop(child_control);
    drop(cgroup_tasks);
    handler
        .context()
        .init_pid
        .store(waiter.pid.as_raw(), Ordering::Relaxed);
    if let Some(cg) = &cgroup {
        prepare(
            &format!("moving the sandbox into {}", cg.path().display()),
            cg.add_to_v2(waiter.pid.as_raw()),
        )?;
    }
    let go = Message::Ready {
        landlock: 0,
        listener: 0,
        sinkhole: -1,
    };
    // A failed send shows as the child's failure (it reports waiting for the supervisor).
    let _ = control::send(control.as_fd(), go);
    Ok(Launched {
        waiter,
        control,
        handler,
        log,
        cgroup,
        mounts,
        watch,
        hide: usable.namespaces.then(|| rundir.paths.root.clone()),
        started,
    })
}

/// The layers built in the supervisor for the child to install.
struct BuiltLayers {
    landlock: Option<PreparedRuleset>,
    mounts: Option<CompiledPlan>,
    seccomp: seccomp::Program,
}

/// Builds the Landlock ruleset (where the kernel has Landlock), the compiled mount plan
/// (with namespaces) and the seccomp program.
fn build_layers(
    config: &SandboxConfig,
    plan: &Plan,
    masks: &[(PathBuf, PathBuf)],
    usable: Usable,
) -> Result<BuiltLayers, SandboxError> {
    let profile = &config.profile;
    let landlock = if usable.landlock {
        let required = profile.compatibility == Compatibility::Required && !config.allow_degraded;
        Some(PreparedRuleset::build(
            profile.landlock_abi,
            &plan.rules,
            required,
            // In the run's own network namespace the namespace bounds TCP (the run's servers
            // work there); without one, Landlock refuses it all.
            !usable.namespaces,
        )?)
    } else {
        None
    };
    let mounts = match &plan.layout {
        Some(layout) => {
            let mounts = MountPlan::new(&layout.overlays, &layout.visible, masks);
            Some(prepare("planning mounts", mounts.compile())?)
        }
        None => None,
    };
    let seccomp = seccomp::Program::compile(&supervisor::filter_rules(profile))?;
    Ok(BuiltLayers {
        landlock,
        mounts,
        seccomp,
    })
}

/// The child's plan as C strings and prepared layers; the caller fills in the limits, the
/// cgroups to join and the control socket.
fn child_plan(
    config: &SandboxConfig,
    request: &Request,
    plan: &Plan,
    layers: BuiltLayers,
    usable: Usable,
) -> Result<ChildPlan, SandboxError> {
    let argv: Vec<CString> = config
        .command
        .iter()
        .map(|a| cstring(a.as_bytes(), "an argument"))
        .collect::<Result<_, _>>()?;
    let envp: Vec<CString> = plan
        .env
        .iter()
        .map(|(k, v)| {
            let mut kv = k.as_bytes().to_vec();
            kv.push(b'=');
            kv.extend_from_slice(v.as_bytes());
            cstring(&kv, "an environment variable")
        })
        .collect::<Result<_, _>>()?;
    let (uid, gid) = (geteuid(), getegid());
    Ok(ChildPlan {
        id_maps: usable
            .namespaces
            .then(|| {
                Some((
                    CString::new(format!("{uid} {uid} 1\n")).ok()?,
                    CString::new(format!("{gid} {gid} 1\n")).ok()?,
                ))
            })
            .flatten(),
        mounts: layers.mounts,
        set_hostname: usable.namespaces,
        network: usable.namespaces,
        pid_namespace: usable.namespaces,
        rlimits: Rlimits::from_profile(&config.profile.limits, false),
        join_cgroups: Vec::new(),
        cwd: cstring(request.cwd.as_os_str().as_bytes(), "the working directory")?,
        landlock: layers.landlock,
        seccomp: layers.seccomp,
        program: cstring(plan.program.as_os_str().as_bytes(), "the program path")?,
        argv,
        envp,
        control: -1,
        keep_fds: config.keep_fds.clone(),
        stdio: config.stdio,
    })
}

/// The supervisor's context: what it needs to judge each call, in the sandbox's paths.
fn context(
    config: &SandboxConfig,
    plan: &Plan,
    log: &EventLog,
    decoys: Option<DecoySet>,
) -> Context {
    let profile = &config.profile;
    let denied: HashMap<i64, String> = profile
        .deny_syscalls
        .iter()
        .filter_map(|d| crate::kernel::syscall_number(&d.name).map(|nr| (nr, d.name.clone())))
        .collect();
    let view = plan.view.clone();
    Context {
        log: log.clone(),
        decoys: decoys.map(|set| DecoyView {
            set,
            home_inside: plan.home.inside.clone(),
        }),
        homes: std::iter::once(plan.home.inside.clone())
            .chain(
                plan.home
                    .real
                    .clone()
                    .filter(|real| *real != plan.home.inside),
            )
            .collect(),
        protect: view.protect,
        grants: view.grants,
        write_regions: view.write_regions,
        exec_dirs: view.exec_dirs,
        write_exec_dirs: view.write_exec_dirs,
        produced_dirs: view.produced_dirs,
        produced_sources: config.produced_sources.clone(),
        network_tools: profile.network_tools.clone(),
        denied,
        init_pid: AtomicI32::new(0),
        landlock_exec: AtomicBool::new(false),
        sinkhole: std::sync::OnceLock::new(),
    }
}

/// Clones the sandbox's init into fresh namespaces (or none) and returns its waiter and the
/// compiled mounts (kept to describe a failed step).
///
/// A raw `clone` syscall: fork semantics (a copy-on-write copy of this stack) plus the new
/// namespaces. nix's `clone` runs a boxed closure on a separate stack the caller allocates,
/// which is not what the allocation-free child in child.rs needs.
fn clone_init(
    child: ChildPlan,
    namespaces: bool,
    control: &OwnedFd,
) -> Result<(ChildWaiter, Option<CompiledPlan>), SandboxError> {
    let ns_flags = if namespaces {
        libc::CLONE_NEWUSER
            | libc::CLONE_NEWNS
            | libc::CLONE_NEWPID
            | libc::CLONE_NEWNET
            | libc::CLONE_NEWIPC
            | libc::CLONE_NEWUTS
    } else {
        0
    };
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
        // The supervisor's end is not the child's: closing it is one raw close(2).
        // SAFETY: closing a descriptor this process owns; nothing here uses it again, and the
        // OwnedFd is never dropped in the child (run_init never returns).
        unsafe { libc::close(control.as_raw_fd()) };
        child.run_init();
    }
    let ChildPlan { mounts, .. } = child;
    Ok((
        ChildWaiter {
            pid: Pid::from_raw(pid as libc::pid_t),
            reaped: None,
        },
        mounts,
    ))
}

fn cstring(bytes: &[u8], what: &str) -> Result<CString, SandboxError> {
    CString::new(bytes).map_err(|_| SandboxError::Prepare {
        step: format!("encoding {what}"),
        source: io::Error::new(io::ErrorKind::InvalidInput, "contains a NUL byte"),
    })
}

/// Owns the sandbox's init process until it is reaped; killing it kills the whole run (a PID
/// namespace ends with its init).
#[derive(Debug)]
pub(crate) struct ChildWaiter {
    pub pid: Pid,
    reaped: Option<Termination>,
}

impl ChildWaiter {
    /// Kills the run (unless reaped already) and reaps its init.
    pub(super) fn kill_and_reap(&mut self) {
        if self.reaped.is_none() {
            // SIGKILL to a PID namespace's init kills all of it.
            let _ = kill(self.pid, Signal::SIGKILL);
        }
        self.reap();
    }

    /// Waits for init to end; how it ended.
    ///
    /// Raw `waitpid`: nix's `WaitStatus` refuses (EINVAL) a death by a signal it has no name
    /// for, such as a real-time one, after the process is already reaped.
    pub(super) fn reap(&mut self) -> Termination {
        if let Some(t) = self.reaped {
            return t;
        }
        let pid = self.pid.as_raw();
        let mut status = 0;
        loop {
            // SAFETY: waiting for our own child, into a status we own.
            let r = unsafe { libc::waitpid(pid, &mut status, libc::__WALL) };
            if r == pid || (r < 0 && io::Error::last_os_error().raw_os_error() != Some(libc::EINTR))
            {
                break;
            }
        }
        let termination = Termination::from_wait_status(status);
        self.reaped = Some(termination);
        termination
    }
}

impl Drop for ChildWaiter {
    fn drop(&mut self) {
        self.kill_and_reap();
    }
}
