//! Executions: `execve` and `execveat`. Every exec is recorded with its argv and the file it
//! resolves to; one from outside the executable directories, or of a file without a name
//! (a descriptor, `memfd`), is refused. In a run with produced directories (a build script's
//! `OUT_DIR`), an exec from one is judged by `produced.rs` before it may go on, and compilers
//! are noted there as they start.
//!
//! This is the hot path of a build (a compiler driver execs dozens of times), so where
//! Landlock's execute right decides in the kernel the process goes on at once and its event is
//! worked out afterwards ([`Handler::finish_pending`]).

use std::ffi::OsStr;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use super::inside::{
    absolute, beneath, fd_target, fd_target_from_path, is_fd_path, path_of, proc_self,
};
use super::{Answer, Call, Handler};
use crate::events::{Decision, Event, Kind};
use crate::sandbox::procmem::read_exec;

/// An exec the supervisor has decoded: everything its event needs once the process has gone on.
pub(super) struct ExecAttempt {
    /// The process, as the sandbox numbers it.
    pid: i32,
    /// The process, as the host numbers it.
    host_pid: i32,
    /// The path asked for, as given, and the arguments.
    path: String,
    argv: Vec<String>,
    file: ExecFile,
    /// The inside name of an `Opened` file, read while the process waited: once the run's
    /// processes are gone their mounts are detached, and a name read then is the mount's own.
    named: Option<PathBuf>,
}

/// The file an exec names.
enum ExecFile {
    /// Opened (`O_PATH`) while the process waited: for paths the sandbox could change (in a
    /// writable directory, or through `/proc`), so that removing or replacing the file after
    /// the answer changes nothing. `None`: no such file.
    Opened(Option<OwnedFd>),
    /// To be resolved once the process has gone on (remembered for the run: see
    /// `Handler::resolve_program_inside`): a path outside every writable directory, which the
    /// sandbox cannot change (unless the host itself keeps a symlink there into a writable
    /// directory: then the file could be swapped in the meantime, and Landlock still decides
    /// the exec). `None`: a path that could not be made absolute.
    Deferred(Option<PathBuf>),
}

impl Handler {
    /// `execve(path, argv, envp)`.
    pub(super) fn execve(&self, call: &Call) -> Answer {
        self.exec(call, libc::AT_FDCWD, call.args[0], call.args[1], 0)
    }

    /// `execveat(dirfd, path, argv, envp, flags)`.
    pub(super) fn execveat(&self, call: &Call) -> Answer {
        self.exec(
            call,
            call.args[0] as i32,
            call.args[1],
            call.args[2],
            call.args[4] as i32,
        )
    }

    fn exec(&self, call: &Call, dirfd: i32, path_ptr: u64, argv_ptr: u64, flags: i32) -> Answer {
        let (path, argv) = read_exec(call.pid, path_ptr, argv_ptr);
        let path = path.unwrap_or_default();
        let path_text = String::from_utf8_lossy(&path).into_owned();
        if !call.still_pending() {
            return Answer::Deny(libc::ESRCH); // what was read may be another process's
        }
        let fileless = flags & libc::AT_EMPTY_PATH != 0 && path.is_empty()
            || is_fd_path(&path_text)
            || dirfd != libc::AT_FDCWD && path.is_empty();
        let absolute = (!fileless)
            .then(|| absolute(call.pid, dirfd, OsStr::new(&path_text)))
            .flatten();
        let missing = absolute
            .as_deref()
            .and_then(|p| self.missing_program(&path_text, p, flags));
        if let Some(errno) = missing {
            return Answer::Deny(errno);
        }
        self.note_decoys_in_exec(call, &path_text, &argv);
        if fileless {
            let target = if dirfd >= 0 {
                fd_target(call.pid, dirfd).unwrap_or_default()
            } else {
                fd_target_from_path(call.pid, &path_text).unwrap_or_default()
            };
            let event = Event::new(Kind::Exec, "exec", Decision::Denied)
                .with("path", path_text.as_str())
                .with("argv", argv)
                .with("fileless", true)
                .with("target", target);
            self.record(call, event);
            return Answer::Deny(libc::EACCES);
        }
        let pid = self.inner_pid(call.pid);
        if let Some(p) = absolute
            .as_ref()
            .filter(|p| self.produces() && self.in_produced_dir(p))
        {
            if !self.explicit_write_exec(p) {
                return self.exec_in_produced_dir(call, &path_text, argv, p);
            }
        }
        let file = match absolute {
            Some(p) if p.starts_with("/proc") => {
                ExecFile::Opened(self.open_inside(call.pid, &proc_self(&p, pid)))
            }
            // With produced directories every exec is opened first: which rule applies depends
            // on where the file really is, and a compiler's start must be seen.
            Some(p) if self.writable(&p) || self.produces() => {
                ExecFile::Opened(self.open_inside(call.pid, &p))
            }
            other => ExecFile::Deferred(other),
        };
        if let ExecFile::Opened(Some(opened)) = &file {
            if let Some(resolved) = self.produces().then(|| path_of(opened)).flatten() {
                if self.in_produced_dir(&resolved) && !self.explicit_write_exec(&resolved) {
                    // Named from elsewhere through a symlink (the lexical path is not in a
                    // produced directory): the run could repoint it before the exec.
                    let event = Event::new(Kind::Exec, "exec", Decision::Denied)
                        .with("path", path_text.as_str())
                        .with("argv", argv)
                        .with("resolved", resolved.to_string_lossy())
                        .with("writable_dir", true);
                    return self.refuse_exec(call, event, super::produced::REACHED_BY_SYMLINK);
                }
                if !self.writable(&resolved) {
                    self.note_compile(call, opened, &resolved, &argv);
                }
            }
        }
        let named = match &file {
            ExecFile::Opened(f) => f.as_ref().and_then(path_of),
            ExecFile::Deferred(_) => None,
        };
        let attempt = ExecAttempt {
            pid,
            host_pid: call.pid,
            path: path_text,
            argv,
            file,
            named,
        };
        if self.ctx.landlock_exec.load(Ordering::Relaxed) {
            // Landlock's execute right decides in the kernel, so the process may go on at once;
            // the event (which predicts Landlock's answer) is worked out after the answer is
            // sent (see ExecFile for why that cannot be fooled by changing the file).
            if let Ok(mut pending) = self.pending_execs.lock() {
                pending.push(attempt);
                return Answer::Continue;
            }
        }
        self.judge_exec(attempt)
    }

    /// The error the kernel would fail this exec with because its file is not there (`ENOENT`,
    /// or `ENOTDIR` for a component that is a file), found by resolving the path inside the
    /// sandbox; `None` when the file exists or that cannot be told for sure. Such an exec is
    /// answered with that error at once, without reading the process's environment or
    /// scanning it for decoys: nothing runs, so nothing receives them. Such execs are common:
    /// `execvp` tries each `PATH` entry in turn (rustc looking for `cc` made ten failed execs
    /// on the `PATH` of the machine this was measured on), and each cost a full judgment.
    ///
    /// Left to the full judgment: a network tool's name (its missing attempt is recorded),
    /// paths with a `..` (resolved lexically here, which a symlink before it can make wrong),
    /// `/proc` paths, `AT_SYMLINK_NOFOLLOW`, and paths in a produced directory (`produced.rs`
    /// answers a missing file there itself, and refuses one named through a symlink, even a
    /// dangling one). Answering for the kernel is safe against a file created meanwhile: the
    /// process gets the answer it would have got a moment earlier.
    fn missing_program(&self, path: &str, absolute: &Path, flags: i32) -> Option<i32> {
        let judged_in_full = flags & libc::AT_SYMLINK_NOFOLLOW != 0
            || path.split('/').any(|c| c == "..")
            || self.is_network_tool(path)
            || absolute.starts_with("/proc")
            || self.produces() && self.in_produced_dir(absolute);
        if judged_in_full {
            return None;
        }
        self.missing_inside(absolute)
    }

    /// Whether the program `path` names is one of the profile's network tools (by file name).
    fn is_network_tool(&self, path: &str) -> bool {
        Path::new(path).file_name().is_some_and(|name| {
            let name = name.to_string_lossy();
            self.ctx.network_tools.iter().any(|t| *t == name)
        })
    }

    /// Records the exec attempts answered since the last call, whose events were left to be
    /// worked out once the process had gone on (see this module's doc).
    pub(crate) fn finish_pending(&self) {
        let pending = match self.pending_execs.lock() {
            Ok(mut p) => std::mem::take(&mut *p),
            Err(_) => return,
        };
        for attempt in pending {
            self.judge_exec(attempt);
        }
    }

    /// Whether `path` lies beneath an explicit write-and-execute grant (`exec-out-dir`), where
    /// anything written may run.
    fn explicit_write_exec(&self, path: &Path) -> bool {
        self.ctx
            .write_exec_dirs
            .iter()
            .filter(|d| !self.ctx.produced_dirs.contains(d))
            .any(|d| beneath(path, d))
    }

    /// Predicts Landlock's answer to an exec, records it, and answers the same way.
    fn judge_exec(&self, attempt: ExecAttempt) -> Answer {
        let ExecAttempt {
            pid,
            host_pid,
            path,
            argv,
            file,
            named,
        } = attempt;
        let resolved = match file {
            ExecFile::Opened(file) => named.or_else(|| file.as_ref().and_then(path_of)),
            ExecFile::Deferred(p) => p.and_then(|p| self.resolve_program_inside(host_pid, &p)),
        };
        let network_tool = self.is_network_tool(&path);
        let mut event = Event::new(Kind::Exec, "exec", Decision::Allowed)
            .with("path", path.as_str())
            .with("argv", argv);
        let Some(resolved) = resolved else {
            // execvp probing each PATH entry: the kernel answers ENOENT. Only a missing network
            // tool is worth a line (the attempt says what the payload wanted).
            if network_tool {
                self.record_by(
                    pid,
                    event
                        .with(crate::events::NETWORK_TOOL, true)
                        .with("found", false),
                );
            }
            return Answer::Continue;
        };
        if !self.ctx.exec_dirs.iter().any(|d| beneath(&resolved, d)) {
            event.decision = Decision::Denied;
            event = event
                .with("resolved", resolved.to_string_lossy())
                .with("reason", "not beneath an executable directory");
            self.record_by(pid, event);
            return Answer::Deny(libc::EACCES);
        }
        if network_tool {
            event = event.with(crate::events::NETWORK_TOOL, true);
        }
        if self
            .ctx
            .write_exec_dirs
            .iter()
            .any(|d| beneath(&resolved, d))
        {
            event = event
                .with("resolved", resolved.to_string_lossy())
                .with("writable_dir", true);
        }
        self.record_by(pid, event);
        Answer::Continue
    }
}
