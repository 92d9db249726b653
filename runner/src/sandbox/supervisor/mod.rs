//! The supervisor: receives the seccomp notifications of a sandboxed process tree, decodes each
//! attempt (addresses, DNS names, argv, paths), records it as an [`Event`], and answers.
//!
//! Answers follow one rule: **deny** freely (a denial is safe whatever the process does to its
//! memory meanwhile), and **continue** only where a kernel rule bounds the outcome anyway
//! (Landlock for paths and executions, the private network namespace for sockets, the PID
//! namespace for signals). A log entry never stands in for a check.
//!
//! Where a syscall is decided:
//! - `policy.rs`: the one table of routes. Each says which syscall (and which arguments) the
//!   filter lets through, refuses, or asks the supervisor about, and why; a route that asks
//!   names the handler that answers. The BPF program ([`filter_rules`]) and the dispatch of
//!   [`Handler::handle`] both derive from it, so a routed call without a handler cannot be built.
//! - `net.rs`: `socket`, `socketpair`, `connect`, `bind`, `sendto`, `sendmsg`, `sendmmsg`, and
//!   the events of connections the sinkhole answered; `reach.rs`: what a destination in the
//!   run's private network namespace is (a listener of the run, or nobody).
//! - `exec.rs`: `execve`, `execveat`.
//! - `produced.rs`: the programs a compiler of the run produced in a write directory, the only
//!   files there an exec may run (plus the renames and symlinks routed only to keep that sound).
//! - `fs.rs`: opens (`openat`, `openat2`, `open`, `creat`; reads outside every grant are
//!   recorded), links, and the reads of decoys and protected paths.
//! - `signal.rs`: `kill`, `tkill`, `tgkill`, `rt_sigqueueinfo`, `rt_tgsigqueueinfo`.
//! - `refuse.rs`: calls refused whatever else holds: new namespaces, terminal injection, the
//!   syscalls the profile denies.
//! - `persist.rs`: creates, writes, renames and links onto persistence paths (`~/.bashrc`,
//!   `~/.ssh/authorized_keys`, autostart entries, crontabs, ...), called from `fs.rs` and
//!   `produced.rs`.
//! - `links.rs`: writes through hard links planted before the run (called from `fs.rs`).
//! - `leak.rs`: decoy values in an exec's argv and environment (called from `exec.rs`).
//! - `inside.rs`: looking into the sandbox from outside (its root directory, its PID namespace,
//!   paths as a sandboxed process sees them).

mod exec;
mod fs;
mod inside;
mod leak;
mod links;
mod net;
mod persist;
mod policy;
mod produced;
mod reach;
mod refuse;
mod signal;

use std::collections::{HashMap, HashSet};
use std::os::fd::RawFd;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI32};
use std::sync::{Arc, Mutex, OnceLock};

use super::decoys::DecoySet;
use super::seccomp::{syscall_number, Rule};
use super::sinkhole::Sinkhole;
use crate::events::{Event, EventLog};
use crate::profile::Profile;

pub(crate) use inside::normalize;

/// The filter rules of a run under `profile`: the policy table, then the syscalls the profile
/// denies (first match wins, so a denied syscall the table already routes keeps its route and is
/// refused by the dispatch instead).
pub(crate) fn filter_rules(profile: &Profile) -> Vec<Rule> {
    let denied = profile
        .deny_syscalls
        .iter()
        .filter_map(|d| syscall_number(&d.name));
    policy::routes(denied).map(|route| route.rule()).collect()
}

/// The answer to one notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Answer {
    /// Let the kernel carry out the syscall (bounded by its other rules).
    Continue,
    /// Fail it with this errno.
    Deny(i32),
    /// Do not carry it out; return this value as if it had succeeded.
    Pretend(i64),
}

/// What the handler knows about the run.
pub(crate) struct Context {
    /// Where events go.
    pub log: EventLog,
    /// The decoy home, if the run has one.
    pub decoys: Option<DecoyView>,
    /// The run's homes (inside view): `HOME` inside (the decoy home), and the real home where
    /// it is a different path (a grant shows it). Writes onto persistence paths beneath them
    /// are recorded (`persist.rs`).
    pub homes: Vec<PathBuf>,
    /// Protected paths (inside view): opens beneath them are refused and recorded.
    pub protect: Vec<PathBuf>,
    /// Every path the profile grants (inside view); a deeper grant beats a shallower protect.
    pub grants: Vec<PathBuf>,
    /// Granted paths (inside view) and whether each is writable; the deepest region containing
    /// a path decides.
    pub write_regions: Vec<(PathBuf, bool)>,
    /// Paths beneath which execution is granted (inside view).
    pub exec_dirs: Vec<PathBuf>,
    /// Those of `exec_dirs` that are writable too (an explicit write-and-execute grant): an
    /// exec from one is marked `writable_dir` in its event.
    pub write_exec_dirs: Vec<PathBuf>,
    /// Writable directories (among `write_exec_dirs`) from which only a program a compiler or
    /// linker of the run produced may be executed (`produced.rs`): a build script's `OUT_DIR`.
    pub produced_dirs: Vec<PathBuf>,
    /// The crate's own sources (read-only): a `#!` script copied from them into a produced
    /// directory may run from there too.
    pub produced_sources: Vec<PathBuf>,
    /// Program names whose execution is marked `network_tool` in its event.
    pub network_tools: Vec<String>,
    /// The syscalls the profile denies, by number, with the names the profile gives them.
    pub denied: HashMap<i64, String>,
    /// Host PID of the sandbox's init, for looking into its namespaces.
    pub init_pid: AtomicI32,
    /// Whether Landlock enforces the execute rights (set once the command reports it): then
    /// an exec is answered before its event is worked out.
    pub landlock_exec: AtomicBool,
    /// The run's sinkhole, once the sandbox handed its listener over (never without a network
    /// namespace of the run's own).
    pub sinkhole: OnceLock<Arc<Sinkhole>>,
}

/// The decoy home as the sandbox sees it.
pub(crate) struct DecoyView {
    /// The decoys planted there.
    pub set: DecoySet,
    /// Where the decoy home appears inside the sandbox.
    pub home_inside: PathBuf,
}

/// A notification's target: host pid and syscall arguments.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Call {
    /// The calling thread, as the host numbers it.
    pub pid: i32,
    /// The syscall number.
    pub nr: i64,
    /// Its arguments.
    pub args: [u64; 6],
    /// The notification's id, and the listener it came from (-1 in tests): see
    /// [`Call::still_pending`].
    pub id: u64,
    pub listener: RawFd,
}

impl Call {
    /// Whether this call only reads: an `openat` or `open` without a write-intent flag, told
    /// from its arguments alone. Most notifications of a run are these (the dynamic loader's
    /// probes, headers, sources); the supervisor answers them concurrently with other calls
    /// ([`crate::sandbox::supervise`]) and lets them by before allowed execs have happened
    /// (`produced.rs`), since a read cannot change what an exec runs. Every other call is
    /// judged and answered one at a time, in the order the supervisor takes them.
    pub(crate) fn only_reads(&self) -> bool {
        let flags = match self.nr {
            libc::SYS_openat => self.args[2],
            #[cfg(target_arch = "x86_64")]
            libc::SYS_open => self.args[1],
            _ => return false,
        };
        flags as u32 & fs::WRITE_INTENT == 0
    }
}

/// Decodes and answers notifications.
pub(crate) struct Handler {
    ctx: Context,
    /// Which handler answers each notified syscall, derived from the policy table.
    dispatch: policy::Dispatch,
    /// The sandbox seen from outside: its root directory and PID namespace.
    view: inside::SandboxView,
    /// Decoy and protected-path reads already recorded: (decoy or path key, in-sandbox pid).
    reads_seen: Mutex<HashSet<(String, i32)>>,
    /// UDP sockets whose connect we pretended to carry out: (tgid, fd) -> address.
    pretend_connected: Mutex<HashMap<(i32, RawFd), String>>,
    /// Exec attempts already answered, whose events are still to be worked out.
    pending_execs: Mutex<Vec<exec::ExecAttempt>>,
    /// The run's compiles and the programs they produced.
    produced: produced::Produced,
    /// Files the run linked itself (`links.rs`).
    own_links: links::OwnLinks,
}

impl Handler {
    /// A handler for the run `ctx` describes, its dispatch derived from the policy table and
    /// the syscalls `ctx` denies.
    pub(crate) fn new(mut ctx: Context) -> Handler {
        // Every path of the run in the form `inside::beneath` compares (the plan's paths are
        // canonical already; this keeps a hand-made one from matching the wrong tree).
        for list in [
            &mut ctx.protect,
            &mut ctx.grants,
            &mut ctx.exec_dirs,
            &mut ctx.write_exec_dirs,
            &mut ctx.produced_dirs,
            &mut ctx.homes,
        ] {
            list.iter_mut().for_each(|p| *p = normalize(p));
        }
        for (region, _) in &mut ctx.write_regions {
            *region = normalize(region);
        }
        if let Some(view) = &mut ctx.decoys {
            view.home_inside = normalize(&view.home_inside);
        }
        Handler {
            dispatch: policy::Dispatch::new(ctx.denied.keys().copied()),
            ctx,
            view: inside::SandboxView::default(),
            reads_seen: Mutex::new(HashSet::new()),
            pretend_connected: Mutex::new(HashMap::new()),
            pending_execs: Mutex::new(Vec::new()),
            produced: produced::Produced::default(),
            own_links: links::OwnLinks::default(),
        }
    }

    /// The run's context.
    pub(crate) fn context(&self) -> &Context {
        &self.ctx
    }

    /// Decides one notification: the handler the policy table names for its syscall answers.
    pub(crate) fn handle(&self, call: &Call) -> Answer {
        self.before_notification(call);
        match self.dispatch.judge(call.nr) {
            Some(judge) => judge.answer(self, call),
            None => self.unrouted(call),
        }
    }

    /// Records `event` of the process that made `call`.
    fn record(&self, call: &Call, event: Event) {
        self.record_by(self.inner_pid(call.pid), event);
    }

    /// Records `event` of the process the sandbox numbers `pid`.
    fn record_by(&self, pid: i32, event: Event) {
        self.ctx.log.record(event.by(pid));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(nr: i64, args: [u64; 6]) -> Call {
        Call {
            pid: 1,
            nr,
            args,
            id: 0,
            listener: -1,
        }
    }

    #[test]
    fn only_opens_without_write_intent_only_read() {
        let openat = |flags: i32| call(libc::SYS_openat, [0, 0, flags as u64, 0, 0, 0]);
        assert!(openat(libc::O_RDONLY | libc::O_CLOEXEC).only_reads());
        assert!(openat(libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW).only_reads());
        for write in [libc::O_WRONLY, libc::O_RDWR, libc::O_CREAT, libc::O_TRUNC] {
            assert!(!openat(write | libc::O_CLOEXEC).only_reads(), "{write:#o}");
        }
        #[cfg(target_arch = "x86_64")]
        {
            let open = |flags: i32| call(libc::SYS_open, [0, flags as u64, 0, 0, 0, 0]);
            assert!(open(libc::O_RDONLY).only_reads());
            assert!(!open(libc::O_WRONLY | libc::O_APPEND).only_reads());
        }
        // openat2's flags are in memory, which the check does not read: judged in order.
        assert!(!call(libc::SYS_openat2, [0; 6]).only_reads());
        for nr in [
            libc::SYS_execve,
            libc::SYS_renameat2,
            libc::SYS_linkat,
            libc::SYS_connect,
        ] {
            assert!(!call(nr, [0; 6]).only_reads(), "{nr}");
        }
    }
}
