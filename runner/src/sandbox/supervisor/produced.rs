//! Programs the run compiled: the rule that lets a build run what its own compiler or linker
//! produced in a write directory (autoconf's `./conftest`, cmake's `try_run`), and nothing else
//! written there.
//!
//! The directories where this applies ([`super::Context::produced_dirs`], a build script's
//! `OUT_DIR`) carry Landlock's execute right and are mounted without `noexec`, so the kernel
//! lets any file there run; the supervisor refuses every exec from them except of a file that
//! a compiler of the run produced and nobody changed since. The rule:
//!
//! 1. **A compile is noticed** when a compiler or linker (`cc`, `gcc`, `clang`, `c++`, `ld`,
//!    `collect2`, `rustc`, their triple- and version-suffixed names; see [`is_compiler`]) is
//!    exec'd from outside every writable directory with `-o PATH` (`--output`), `PATH` (resolved
//!    against the process's cwd) beneath a produced directory. The process is held by a pidfd.
//!    It counts only once the process is seen running that compiler (its `/proc/<pid>/exe` is
//!    the compiler's file, checked at its next notified syscall: a driver execs its passes, a
//!    linker opens its output to write): an exec that failed, leaving the caller to write the
//!    output itself, produces nothing.
//! 2. **The output is sealed when the compiler exits**: its `(device, inode)` with size, mtime
//!    and ctime, taken from a descriptor opened without following a final symlink. Exits are
//!    collected at the start of every notification ([`Handler::reap_compiles`]), and every way
//!    the run could change which file the path names or what it holds before that is a
//!    notified syscall: write-intent opens, links, and renames and symlinks (routed here only
//!    for this, see `policy.rs`). So nothing the run does after the exit is seen before the
//!    seal. A write-intent open of the output during the compile by a process outside the
//!    compiler's process tree taints the compile (it is never sealed).
//! 3. **An exec from a produced directory** opens the file race-free (`openat2` with
//!    `RESOLVE_IN_ROOT` on the sandbox root), and is allowed only if its identity and stamp are
//!    a sealed one (a rewrite changes mtime and ctime; a rename or copy is another inode), the
//!    calling process is the only thread that can change the path it passed (one thread, and
//!    not sharing its memory with a multi-threaded parent, as a `vfork` child would), and the
//!    notification is still valid (`SECCOMP_IOCTL_NOTIF_ID_VALID`). The event is `allowed`
//!    with `produced_by` (the compiler's argv[0] and pid). Anything else is `denied` (the
//!    crate is suspicious): a dropped or copied binary, a script, a file written with
//!    `fs::write`, a program rewritten after its compile. Fileless execs stay refused in
//!    `exec.rs` before any of this.
//!
//! **Between the answer and the kernel's exec** the path is resolved again. Every syscall that
//! could make it name another file or change the file's content is notified (renames,
//! symlinks, links, write-intent opens), and while an allowed exec is in flight each of them
//! first waits until the exec has happened (the process's `/proc/<pid>/exe` is no longer what
//! it ran, or it is gone; [`Handler::settle_execs`]). After that the file is a running
//! executable, which the kernel refuses to open for writing (`ETXTBSY`); a writer already
//! holding it open at the exec makes the exec fail the same way. A write-intent open of a
//! sealed file unseals it. What remains: a descriptor opened for writing before the compile
//! began, on an inode the compiler then rewrites in place (linkers unlink or rename their
//! output first, so a linked program is a fresh inode), and `truncate(2)`, which can only cut
//! the file short. In every case the program still runs inside the same sandbox, with the
//! same grants as the build script that could compile any code it likes.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::stat::fstat;

use super::inside::{absolute, path_of, tgid};
use crate::sandbox::procmem::read_cstring;
use super::{Answer, Call, Handler};
use crate::events::{Decision, Event, Kind};

/// Why an exec reached through a symlink in a produced directory is refused.
pub(super) const REACHED_BY_SYMLINK: &str = "reached through a symlink, which the run could point \
     elsewhere between this check and the exec";

/// How long a syscall that could swap a file waits for an allowed exec to happen.
const SETTLE_LIMIT: Duration = Duration::from_millis(50);

/// The compilers and linkers whose `-o` output may be executed (names without a target triple
/// or version suffix).
const COMPILERS: &[&str] = &[
    "cc", "c++", "gcc", "g++", "clang", "clang++", "ld", "ld.bfd", "ld.gold", "ld.lld", "lld",
    "ld.mold", "mold", "collect2", "rustc",
];

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
        self.ctx.produced_dirs.iter().any(|d| path.starts_with(d))
    }

    /// Book-keeping before any notification is judged: collects exited compiles (sealing their
    /// outputs), confirms a compile whose process is seen running its compiler, and lets
    /// allowed execs happen before anything could swap their file.
    pub(super) fn before_notification(&self, call: &Call) {
        if !self.produces() {
            return;
        }
        self.confirm_compile(call.pid);
        self.reap_compiles();
        self.settle_execs();
    }

    /// A rename or symlink: [`Handler::before_notification`] has already collected the ended
    /// compiles and let allowed execs happen. A rename's source and destination are unsealed
    /// before it may go on (it takes effect after this answer, possibly after an exec judged
    /// meanwhile; a symlink cannot replace an existing name). Landlock decides the call itself.
    pub(super) fn swap(&self, call: &Call) -> Answer {
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
        if pending.iter().all(|c| c.confirmed || c.host_pid != tgid_cached(host, c)) {
            return;
        }
        let exe = exe_identity(host);
        for c in pending.iter_mut().filter(|c| !c.confirmed) {
            if c.host_pid == tgid_cached(host, c) && exe == Some(c.exe) {
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
        if Path::new(path).components().any(|c| c == Component::ParentDir) {
            let event = exec_event(path, argv, lexical);
            return self.refuse_exec(call, event, "names its file through `..`, which the run \
                 could make lead elsewhere between this check and the exec");
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
            Ok(st) => self.produced_by(&st).or_else(|reason| {
                self.copied_script(call, file, &st).ok_or(reason)
            }),
            Err(_) => Err("the file could not be examined"),
        };
        let verdict = verdict.and_then(|origin| {
            if shares_path_memory(call.pid) {
                Err("the caller shares its memory with another running thread, which could \
                     change the path between the check and the exec")
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
            None => Err("written into a writable directory, not produced by a compiler or \
                         linker of this run"),
        }
    }

    /// Waits until every allowed exec of a produced file has happened (or failed), so that the
    /// syscall about to be judged cannot swap the file under it.
    pub(super) fn settle_execs(&self) {
        let Ok(mut in_flight) = self.produced.in_flight.lock() else {
            return;
        };
        in_flight.retain(|e| {
            loop {
                let now = exe_identity(e.host_pid);
                if now.is_none() || now != e.before || e.since.elapsed() > SETTLE_LIMIT {
                    return false;
                }
                std::thread::sleep(Duration::from_micros(50));
            }
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

/// Source files of the crate, by file name and size, for recognizing copied scripts.
type SourceIndex = HashMap<(std::ffi::OsString, u64), Vec<PathBuf>>;

/// At most this many files of the crate's sources are indexed.
const MAX_SOURCES: usize = 50_000;

/// A `#!` script at most this big may be recognized as a copy of a source file.
const MAX_SCRIPT: i64 = 1 << 20;

/// Indexes the regular files beneath `dirs` (not following symlinks; skipping `target` and
/// `.git` directories), by file name and size.
fn index_sources(dirs: &[PathBuf]) -> SourceIndex {
    let mut index = SourceIndex::new();
    let mut stack: Vec<PathBuf> = dirs.to_vec();
    let mut seen = 0;
    while let Some(dir) = stack.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            seen += 1;
            if seen > MAX_SOURCES {
                return index;
            }
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            let name = entry.file_name();
            if kind.is_dir() && name != "target" && name != ".git" {
                stack.push(entry.path());
            } else if kind.is_file() {
                if let Ok(meta) = entry.metadata() {
                    index.entry((name, meta.len())).or_default().push(entry.path());
                }
            }
        }
    }
    index
}

/// The interpreter a `#!` script names (its first word), if `content` is one.
fn interpreter(content: &[u8]) -> Option<&OsStr> {
    let line = content.strip_prefix(b"#!")?;
    let line = &line[..line.iter().position(|&b| b == b'\n').unwrap_or(line.len())];
    let word = line
        .split(|b| b.is_ascii_whitespace())
        .find(|w| !w.is_empty())?;
    Some(OsStr::from_bytes(word))
}

/// `tgid(host)` if `host` may be `compile`'s process at all (cheap test first).
fn tgid_cached(host: i32, compile: &Compile) -> i32 {
    if host == compile.host_pid {
        host
    } else {
        tgid(host)
    }
}

/// Whether `name` (a file name) is a compiler or linker: one of [`COMPILERS`], perhaps with a
/// target triple before it (`x86_64-linux-gnu-gcc`) and a version after it (`gcc-12`,
/// `clang-17`).
pub(super) fn is_compiler(name: &str) -> bool {
    let mut name = name;
    // A trailing `-N` or `-N.M` version.
    if let Some((stem, version)) = name.rsplit_once('-') {
        if !version.is_empty() && version.chars().all(|c| c.is_ascii_digit() || c == '.') {
            name = stem;
        }
    }
    let base = name.rsplit('-').next().unwrap_or(name);
    // `c++` contains no dash; `x86_64-linux-gnu-g++` ends in `g++`.
    COMPILERS.contains(&name) || COMPILERS.contains(&base)
}

/// The output a compiler's `argv` names: the last `-o PATH`, `-oPATH`, `--output PATH` or
/// `--output=PATH`.
pub(super) fn output_of(argv: &[String]) -> Option<&str> {
    let mut out = None;
    let mut args = argv.iter().skip(1);
    while let Some(arg) = args.next() {
        if arg == "-o" || arg == "--output" {
            out = args.next().map(String::as_str);
        } else if let Some(v) = arg.strip_prefix("--output=") {
            out = Some(v);
        } else if let Some(v) = arg.strip_prefix("-o").filter(|v| !v.is_empty()) {
            // Not an option that merely starts with -o (there are none in cc, ld or rustc
            // whose value could be a path beneath OUT_DIR besides -o itself).
            out = Some(v);
        }
    }
    out
}

/// `(device, inode)` of an open file.
fn identity(file: &OwnedFd) -> Option<(u64, u64)> {
    fstat(file.as_fd()).ok().map(|st| (st.st_dev, st.st_ino))
}

/// `(device, inode)` of the program host process `pid` runs.
fn exe_identity(pid: i32) -> Option<(u64, u64)> {
    fs::metadata(format!("/proc/{pid}/exe"))
        .ok()
        .map(|m| (m.dev(), m.ino()))
}

/// A number from `/proc/<pid>/status` (host pids).
fn status_number(pid: i32, field: &str) -> Option<i32> {
    let text = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}

/// Whether host process `pid` is `ancestor` or descends from it.
fn descends_from(pid: i32, ancestor: i32) -> bool {
    let mut pid = tgid(pid);
    for _ in 0..64 {
        if pid == ancestor {
            return true;
        }
        match status_number(pid, "PPid:") {
            Some(parent) if parent > 1 => pid = parent,
            _ => return false,
        }
    }
    false
}

/// Whether another thread could change the memory of host thread `tid` while it waits in
/// `execve`: it has sibling threads, or it shares its memory with a parent (a `vfork` or
/// `posix_spawn` child) that has more than one thread.
fn shares_path_memory(tid: i32) -> bool {
    let pid = tgid(tid);
    if status_number(pid, "Threads:").is_none_or(|n| n != 1) {
        return true;
    }
    let Some(parent) = status_number(pid, "PPid:") else {
        return true;
    };
    // kcmp(pid1, pid2, KCMP_VM, 0, 0) is 0 when both use the same memory.
    const KCMP_VM: libc::c_long = 1;
    // SAFETY: kcmp compares two processes' resources; it reads nothing from our memory.
    let same = unsafe {
        libc::syscall(
            libc::SYS_kcmp,
            libc::c_long::from(pid),
            libc::c_long::from(parent),
            KCMP_VM,
            0,
            0,
        )
    };
    match same {
        0 => status_number(parent, "Threads:").is_none_or(|n| n != 1),
        r if r > 0 => false,
        _ => true, // kcmp unavailable: assume the worst
    }
}

/// Whether the notification `call` answers is still pending (its process has not died and
/// been replaced by another with the same pid).
fn notification_valid(call: &Call) -> bool {
    let mut id = call.id;
    // SAFETY: ID_VALID reads a u64 notification id from the pointer.
    let r = unsafe {
        libc::ioctl(
            call.listener,
            libc::SECCOMP_IOCTL_NOTIF_ID_VALID,
            &mut id as *mut u64,
        )
    };
    r == 0 || call.listener < 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| (*w).to_owned()).collect()
    }

    #[test]
    fn compilers_are_known_by_name_triple_and_version() {
        for name in [
            "cc",
            "gcc",
            "gcc-12",
            "x86_64-linux-gnu-gcc-12",
            "clang",
            "clang-17",
            "clang++",
            "c++",
            "x86_64-linux-gnu-g++",
            "ld",
            "ld.bfd",
            "x86_64-linux-gnu-ld.gold",
            "collect2",
            "rustc",
        ] {
            assert!(is_compiler(name), "{name}");
        }
        for name in ["sh", "cp", "install", "cc1", "as", "true", "conftest", "gcc-ar"] {
            assert!(!is_compiler(name), "{name}");
        }
    }

    #[test]
    fn the_last_output_option_names_the_output() {
        assert_eq!(output_of(&args(&["cc", "-o", "conftest", "c.c"])), Some("conftest"));
        assert_eq!(output_of(&args(&["cc", "-oconftest", "c.c"])), Some("conftest"));
        assert_eq!(output_of(&args(&["ld", "--output=a.out"])), Some("a.out"));
        assert_eq!(
            output_of(&args(&["ld", "-o", "x", "--output", "y"])),
            Some("y")
        );
        assert_eq!(output_of(&args(&["cc", "-c", "c.c"])), None);
        // argv[0] is never an option.
        assert_eq!(output_of(&args(&["-ofoo"])), None);
    }

    #[test]
    fn a_vfork_child_of_a_single_threaded_parent_cannot_be_raced() {
        // This test process has several threads (the harness's): a child sharing its memory
        // could have its path changed under it; a forked child cannot.
        let me = std::process::id() as i32;
        let threads = status_number(me, "Threads:").unwrap();
        assert_eq!(shares_path_memory(me), threads != 1);
    }
}
