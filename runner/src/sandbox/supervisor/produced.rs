//! Programs the run compiled: the rule that lets a build run what its own compiler or linker
//! produced in a write directory (autoconf's `./conftest`, cmake's `try_run`), and nothing else
//! written there.
//!
//! The directories where this applies ([`super::Context::produced_dirs`], a build script's
//! `OUT_DIR`) carry Landlock's execute right and are mounted without `noexec`, so the kernel
//! lets any file there run; the supervisor refuses every exec from them except of a file that
//! a compiler of the run produced and nobody changed since. (Refusing is always safe; a
//! `continue` is backed by Landlock's execute right, which is why the check below must make
//! sure that what the kernel runs is what was checked.)
//!
//! 1. **A compile is noticed** when a compiler or linker (`cc`, `gcc`, `clang`, `c++`, `ld`,
//!    `collect2`, `rustc`, with triple and version affixes; `names.rs`) is exec'd from outside
//!    every writable directory with `-o PATH` (`--output`), `PATH` (resolved against the
//!    process's cwd) beneath a produced directory. The process is held by a pidfd. It counts
//!    only once the process is seen running that compiler (`/proc/<pid>/exe` is the
//!    compiler's file at one of its later notified syscalls: a driver execs its passes, a
//!    linker opens its output to write), so an exec that failed, leaving the caller to write
//!    the output itself, produces nothing.
//! 2. **The output is sealed when the compiler exits**: its `(device, inode)` with size, mtime
//!    and ctime, from a descriptor whose path is the output itself (no symlink followed).
//!    Exits are collected before any notified call but a read-only open is judged
//!    ([`Handler::reap_compiles`]).
//!    Everything the run could do after the exit to put another file under the output's name
//!    or other bytes into it, short of `truncate`, is a notified syscall (a write-intent open,
//!    a link, a rename, a symlink: the last two routed here for this alone, `policy.rs`), so
//!    the seal is taken before any of it. A write-intent open of the output during the
//!    compile by a process outside the compiler's process tree taints the compile.
//! 3. **An exec in a produced directory** is looked up in the sandbox's root without following
//!    any symlink (`openat2` with `RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS`; a path with `..` is
//!    refused): the name cannot be re-pointed between the check and the kernel's lookup. One
//!    that reaches the directory through a symlink from elsewhere is refused in `exec.rs`.
//!    The file is allowed if its identity and stamp are a sealed one (`produced_by`: the
//!    compiler's argv[0] and pid), or if it is a `#!` script, byte for byte a file of the
//!    crate's own sources, whose interpreter lies outside every writable directory
//!    (`copied_from`; running it runs that interpreter on a file it may read anyway, as `sh
//!    file` always may). The caller must be the only thread that can change the path it passed
//!    (one thread, not sharing its memory with a multi-threaded parent as a `vfork` child
//!    does), and the notification still valid (`SECCOMP_IOCTL_NOTIF_ID_VALID`). Anything else
//!    is `denied` with a reason (the crate is suspicious): a dropped or copied binary, bytes
//!    written with `fs::write`, a script the build wrote, a program rewritten or renamed
//!    over. Fileless execs are refused in `exec.rs` before any of this.
//!
//! **Races with other processes of the run.** A syscall answered `continue` takes effect
//! after the answer, so the order in which the supervisor sees two syscalls is not the order
//! in which they act. Both orders are covered:
//! - a rename or write-intent open answered *before* an exec is judged unseals the files it
//!   names first ([`Handler::swap`], [`Handler::produced_write`]), so the exec is refused
//!   whether or not it has taken effect yet;
//! - one notified *after* an exec was allowed (any call but a read-only open) first waits
//!   until that exec has happened (the process's `/proc/<pid>/exe` changed, or it is gone;
//!   [`Handler::settle_execs`]). From then on the file is a running executable, which the
//!   kernel will not open for writing (`ETXTBSY`); a writer holding it open already makes the
//!   exec itself fail that way.
//!
//! Both rest on one order of judgments: the supervisor's threads judge and answer every call
//! but a read-only open one at a time (`supervise.rs`).
//!
//! What remains: a descriptor opened for writing before the compile began, on an inode the
//! compiler then rewrites in place (linkers unlink or rename their output first, so a linked
//! program is a fresh inode); `truncate(2)`, which can only cut a file short; a copied script
//! rewritten through a descriptor opened before the check (the interpreter line is read by the
//! kernel at the exec: an interpreter in `OUT_DIR` would then run unchecked); and a path
//! string in memory shared with another process (`MAP_SHARED`). In every case the program runs
//! inside the same sandbox with the grants the build script has anyway (it may compile and
//! run any code it likes): what is at stake is which exec the report attributes to a
//! compiler, never what the sandbox lets a build do.

mod names;
mod process;

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::stat::fstat;

use self::names::{index_sources, interpreter, is_compiler, output_of, SourceIndex, MAX_SCRIPT};
use self::process::{descends_from, exe_identity, notification_valid, shares_path_memory};
use super::inside::{absolute, beneath, path_of, tgid};
use super::{Answer, Call, Handler};
use crate::events::{Decision, Event, Kind};
use crate::sandbox::procmem::read_cstring;

/// Why an exec reached through a symlink in a produced directory is refused.
pub(super) const REACHED_BY_SYMLINK: &str = "reached through a symlink, which the run could point \
     elsewhere between this check and the exec";

/// How long a syscall that could swap a file waits for an allowed exec to happen.
const SETTLE_LIMIT: Duration = Duration::from_millis(50);

/// The run's compiles and the programs they produced.
#[derive(Default)]
pub(super) struct Produced {
    /// Compiles still running (or not yet collected), in the order they started.
    pending: Mutex<Vec<Compile>>,
    /// Outputs of finished compiles, by `(device, inode)`.
    sealed: Mutex<HashMap<(u64, u64), Sealed>>,
    /// Allowed execs of produced files that may not have happened yet.
    in_flight: Mutex<Vec<InFlight>>,
    /// The crate's source files, indexed on the first script exec.
    sources: OnceLock<SourceIndex>,
}

/// A compiler process writing into a produced directory.
struct Compile {
    /// Holds the process: readable once it has exited.
    pidfd: OwnedFd,
    /// The process, as the host numbers it (its thread group).
    host_pid: i32,
    /// As the sandbox numbers it.
    pid: i32,
    /// The compiler's argv[0].
    program: String,
    /// The compiler's file, `(device, inode)`: the process counts once it is seen running it.
    exe: (u64, u64),
    confirmed: bool,
    /// A process outside the compile opened the output to write meanwhile.
    tainted: bool,
    /// Its `-o`, absolute (inside view).
    output: PathBuf,
}

/// What a file looked like when its compiler exited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    size: i64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl Stamp {
    fn of(st: &libc::stat) -> Stamp {
        Stamp {
            size: st.st_size,
            mtime: (st.st_mtime, st.st_mtime_nsec),
            ctime: (st.st_ctime, st.st_ctime_nsec),
        }
    }
}

/// A produced file.
struct Sealed {
    /// Where its compiler wrote it (inside view).
    path: PathBuf,
    stamp: Stamp,
    program: String,
    pid: i32,
}

/// Why a file in a produced directory may run.
enum Origin {
    /// A compiler of the run wrote it.
    Compiled { program: String, pid: i32 },
    /// A `#!` script, a copy of this file of the crate's own sources.
    Copied(PathBuf),
}

/// An allowed exec of a produced file.
struct InFlight {
    host_pid: i32,
    /// What `/proc/<pid>/exe` was when the exec was asked for.
    before: Option<(u64, u64)>,
    since: Instant,
}

impl Handler {
    /// Whether produced-program rules apply in this run.
    pub(super) fn produces(&self) -> bool {
        !self.ctx.produced_dirs.is_empty()
    }

    /// Whether inside path `path` lies in a produced directory.
    pub(super) fn in_produced_dir(&self, path: &Path) -> bool {
        self.ctx.produced_dirs.iter().any(|d| beneath(path, d))
    }

    /// Book-keeping before any notification is judged: confirms a compile whose process is
    /// seen running its compiler; then, before a call that could run or change a produced
    /// file (anything but a read-only open), collects exited compiles (sealing their
    /// outputs) and lets allowed execs happen.
    pub(super) fn before_notification(&self, call: &Call) {
        if !self.produces() {
            return;
        }
        self.confirm_compile(call.pid);
        if !call.only_reads() {
            self.reap_compiles();
            self.settle_execs();
        }
    }

    /// A rename or symlink: [`Handler::before_notification`] has already collected the ended
    /// compiles and let allowed execs happen. A rename's source and destination are unsealed
    /// before it may go on (it takes effect after this answer, possibly after an exec judged
    /// meanwhile; a symlink cannot replace an existing name). Landlock decides the call itself.
    pub(super) fn swap(&self, call: &Call) -> Answer {
        match self.swap_persistence(call) {
            Some(Answer::Continue) | None => {}
            Some(refused) => return refused,
        }
        if !self.produces() {
            return Answer::Continue;
        }
        let names: [(i32, u64); 2] = match call.nr {
            #[cfg(target_arch = "x86_64")]
            libc::SYS_rename => [
                (libc::AT_FDCWD, call.args[0]),
                (libc::AT_FDCWD, call.args[1]),
            ],
            libc::SYS_renameat | libc::SYS_renameat2 => [
                (call.args[0] as i32, call.args[1]),
                (call.args[2] as i32, call.args[3]),
            ],
            _ => return Answer::Continue,
        };
        for (dirfd, ptr) in names {
            let Some(path) = read_cstring(call.pid, ptr)
                .and_then(|raw| absolute(call.pid, dirfd, OsStr::from_bytes(&raw)))
            else {
                continue;
            };
            if self.in_produced_dir(&path) {
                self.unseal(call, &path);
            }
        }
        Answer::Continue
    }

    /// Forgets the produced files at or beneath `path` (inside view), and the file it names.
    fn unseal(&self, call: &Call, path: &Path) {
        let named = self.open_inside(call.pid, path).and_then(|f| identity(&f));
        if let Ok(mut sealed) = self.produced.sealed.lock() {
            sealed.retain(|id, s| Some(*id) != named && !s.path.starts_with(path));
        }
    }

    /// Notes an exec of `file` (opened, at `resolved`, outside every writable directory) with
    /// `argv`: if it is a compiler writing beneath a produced directory, the compile is
    /// tracked.
    pub(super) fn note_compile(
        &self,
        call: &Call,
        file: &OwnedFd,
        resolved: &Path,
        argv: &[String],
    ) {
        let name = resolved.file_name().map(OsStr::to_string_lossy);
        if !name.is_some_and(|n| is_compiler(&n)) {
            return;
        }
        let Some(output) = output_of(argv) else {
            return;
        };
        let Some(output) = absolute(call.pid, libc::AT_FDCWD, OsStr::new(output)) else {
            return;
        };
        if !self.in_produced_dir(&output) {
            return;
        }
        let Some(exe) = identity(file) else {
            return;
        };
        let host_pid = tgid(call.pid);
        // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, host_pid, 0) };
        if fd < 0 {
            return;
        }
        // SAFETY: the descriptor was just returned to us and is owned by nobody else.
        let pidfd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
        let compile = Compile {
            pidfd,
            host_pid,
            pid: self.inner_pid(host_pid),
            program: argv.first().cloned().unwrap_or_default(),
            exe,
            confirmed: false,
            tainted: false,
            output,
        };
        if let Ok(mut pending) = self.produced.pending.lock() {
            pending.push(compile);
        }
    }

    /// A compile counts once its process is seen running the compiler it exec'd.
    fn confirm_compile(&self, host: i32) {
        let Ok(mut pending) = self.produced.pending.lock() else {
            return;
        };
        if pending.iter().all(|c| c.confirmed) {
            return;
        }
        // The thread itself leads its group, unless a worker thread of a linker asks.
        let group = if pending.iter().any(|c| c.host_pid == host) {
            host
        } else {
            tgid(host)
        };
        let mut exe = None;
        for c in pending
            .iter_mut()
            .filter(|c| !c.confirmed && c.host_pid == group)
        {
            if exe.is_none() {
                exe = Some(exe_identity(group));
            }
            if exe == Some(Some(c.exe)) {
                c.confirmed = true;
            }
        }
    }

    /// Seals the outputs of the compiles that have exited (see the module doc).
    pub(super) fn reap_compiles(&self) {
        let Ok(mut pending) = self.produced.pending.lock() else {
            return;
        };
        if pending.is_empty() {
            return;
        }
        let exited: Vec<bool> = {
            let mut fds: Vec<PollFd<'_>> = pending
                .iter()
                .map(|c| PollFd::new(c.pidfd.as_fd(), PollFlags::POLLIN))
                .collect();
            if poll(&mut fds, PollTimeout::ZERO).is_err() {
                return;
            }
            fds.iter()
                .map(|f| f.revents().is_some_and(|r| !r.is_empty()))
                .collect()
        };
        let mut done = Vec::new();
        let mut kept = Vec::new();
        for (compile, exited) in pending.drain(..).zip(exited) {
            if exited {
                done.push(compile);
            } else {
                kept.push(compile);
            }
        }
        *pending = kept;
        drop(pending);
        // The outermost compile (the driver, which started first) is sealed last, so that it
        // is the one named as the producer.
        for compile in done.into_iter().rev() {
            if compile.confirmed && !compile.tainted {
                self.seal(&compile);
            }
        }
    }

    fn seal(&self, compile: &Compile) {
        let Some(file) = self.open_inside(compile.host_pid, &compile.output) else {
            return;
        };
        // A symlink at the output was followed: not what the compiler wrote.
        if path_of(&file).as_deref() != Some(compile.output.as_path()) {
            return;
        }
        let Ok(st) = fstat(file.as_fd()) else {
            return;
        };
        if st.st_mode & libc::S_IFMT != libc::S_IFREG {
            return;
        }
        if let Ok(mut sealed) = self.produced.sealed.lock() {
            sealed.insert(
                (st.st_dev, st.st_ino),
                Sealed {
                    path: compile.output.clone(),
                    stamp: Stamp::of(&st),
                    program: compile.program.clone(),
                    pid: compile.pid,
                },
            );
        }
    }

    /// A write-intent open of `path` (inside view): a compile whose output it is, opened by a
    /// process outside the compile, is tainted; a sealed file there is unsealed.
    pub(super) fn produced_write(&self, call: &Call, path: &Path) {
        if !self.produces() || !self.in_produced_dir(path) {
            return;
        }
        if let Ok(mut pending) = self.produced.pending.lock() {
            for c in pending.iter_mut().filter(|c| c.output == path) {
                if !descends_from(call.pid, c.host_pid) {
                    c.tainted = true;
                }
            }
        }
        self.unseal(call, path);
    }

    /// An exec of `lexical` (absolute, inside view), which lies in a produced directory: the
    /// file is looked up without following any symlink (the run could swap one between this
    /// check and the kernel's own lookup) and judged by [`Handler::judge_produced`].
    pub(super) fn exec_in_produced_dir(
        &self,
        call: &Call,
        path: &str,
        argv: Vec<String>,
        lexical: &Path,
    ) -> Answer {
        if Path::new(path)
            .components()
            .any(|c| c == Component::ParentDir)
        {
            let event = exec_event(path, argv, lexical);
            return self.refuse_exec(
                call,
                event,
                "names its file through `..`, which the run \
                 could make lead elsewhere between this check and the exec",
            );
        }
        match self.open_inside_no_symlinks(lexical) {
            Ok(file) => self.judge_produced(call, path, argv, &file, lexical),
            Err(Errno::ELOOP) => {
                let event = exec_event(path, argv, lexical);
                self.refuse_exec(call, event, REACHED_BY_SYMLINK)
            }
            // Nothing there: what the kernel would answer.
            Err(_) => Answer::Deny(libc::ENOENT),
        }
    }

    /// Records `event` as a refused exec with `reason` and refuses it.
    pub(super) fn refuse_exec(&self, call: &Call, event: Event, reason: &str) -> Answer {
        let mut event = event.with("reason", reason);
        event.decision = Decision::Denied;
        self.record(call, event);
        Answer::Deny(libc::EACCES)
    }

    /// Judges an exec of `file` (opened race-free, at `resolved` in a produced directory):
    /// allowed only if a compiler of the run produced it and nothing changed it since.
    pub(super) fn judge_produced(
        &self,
        call: &Call,
        path: &str,
        argv: Vec<String>,
        file: &OwnedFd,
        resolved: &Path,
    ) -> Answer {
        let event = exec_event(path, argv, resolved);
        let verdict = match fstat(file.as_fd()) {
            Ok(st) => self
                .produced_by(&st)
                .or_else(|reason| self.copied_script(call, file, &st).ok_or(reason)),
            Err(_) => Err("the file could not be examined"),
        };
        let verdict = verdict.and_then(|origin| {
            if shares_path_memory(call.pid) {
                Err(
                    "the caller shares its memory with another running thread, which could \
                     change the path between the check and the exec",
                )
            } else {
                Ok(origin)
            }
        });
        match verdict {
            Ok(origin) => {
                if !notification_valid(call) {
                    return Answer::Deny(libc::EACCES); // the caller is gone
                }
                let before = exe_identity(call.pid);
                if let Ok(mut in_flight) = self.produced.in_flight.lock() {
                    in_flight.push(InFlight {
                        host_pid: call.pid,
                        before,
                        since: Instant::now(),
                    });
                }
                let event = match origin {
                    Origin::Compiled { program, pid } => event.with(
                        "produced_by",
                        serde_json::json!({"program": program, "pid": pid}),
                    ),
                    Origin::Copied(source) => event
                        .with("script", true)
                        .with("copied_from", source.to_string_lossy()),
                };
                self.record(call, event);
                Answer::Continue
            }
            Err(reason) => self.refuse_exec(call, event, reason),
        }
    }

    /// If `file` (described by `st`) is a `#!` script whose interpreter lies outside every
    /// writable directory and whose bytes are those of a file of the crate's own sources of
    /// the same name (a build that copies its sources into `OUT_DIR`, as tikv-jemalloc-sys
    /// does before `configure`), that source file. Running it runs that interpreter on a file
    /// it could read anyway (`sh script` needs no exception); the kernel checks the
    /// interpreter's execute right itself.
    fn copied_script(&self, call: &Call, file: &OwnedFd, st: &libc::stat) -> Option<Origin> {
        if self.ctx.produced_sources.is_empty() || st.st_size > MAX_SCRIPT {
            return None;
        }
        let path = path_of(file)?;
        let content = fs::read(format!("/proc/self/fd/{}", file.as_raw_fd())).ok()?;
        let interpreter = absolute(call.pid, libc::AT_FDCWD, interpreter(&content)?)?;
        if self.writable(&interpreter) {
            return None;
        }
        let index = self
            .produced
            .sources
            .get_or_init(|| index_sources(&self.ctx.produced_sources));
        let key = (path.file_name()?.to_owned(), content.len() as u64);
        let source = index
            .get(&key)?
            .iter()
            .find(|candidate| fs::read(candidate).is_ok_and(|c| c == content))?;
        Some(Origin::Copied(source.clone()))
    }

    /// The producer of the file `st` describes, if it was sealed with this very stamp.
    fn produced_by(&self, st: &libc::stat) -> Result<Origin, &'static str> {
        let sealed = self.produced.sealed.lock().map_err(|_| "internal error")?;
        match sealed.get(&(st.st_dev, st.st_ino)) {
            Some(s) if s.stamp == Stamp::of(st) => Ok(Origin::Compiled {
                program: s.program.clone(),
                pid: s.pid,
            }),
            Some(_) => Err("changed after the compiler of this run produced it"),
            None => Err(
                "written into a writable directory, not produced by a compiler or \
                         linker of this run",
            ),
        }
    }

    /// Waits until every allowed exec of a produced file has happened (or failed), so that the
    /// syscall about to be judged cannot swap the file under it.
    pub(super) fn settle_execs(&self) {
        let Ok(mut in_flight) = self.produced.in_flight.lock() else {
            return;
        };
        in_flight.retain(|e| loop {
            let now = exe_identity(e.host_pid);
            if now.is_none() || now != e.before || e.since.elapsed() > SETTLE_LIMIT {
                return false;
            }
            std::thread::sleep(Duration::from_micros(50));
        });
    }
}

/// The event of an exec of `resolved`, named `path` with `argv`, from a produced directory.
fn exec_event(path: &str, argv: Vec<String>, resolved: &Path) -> Event {
    Event::new(Kind::Exec, "exec", Decision::Allowed)
        .with("path", path)
        .with("argv", argv)
        .with("resolved", resolved.to_string_lossy())
        .with("writable_dir", true)
}

/// `(device, inode)` of an open file.
fn identity(file: &OwnedFd) -> Option<(u64, u64)> {
    fstat(file.as_fd()).ok().map(|st| (st.st_dev, st.st_ino))
}
