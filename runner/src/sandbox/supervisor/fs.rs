//! The filesystem: opens (`openat`, `openat2`, `open`, `creat`), hard links (`linkat`,
//! `link`), and the reads of decoys and protected paths. Landlock decides every path in the
//! kernel; these handlers refuse early what it would refuse anyway, record it, and add what it
//! cannot see (decoys, protected paths, symlinks out of writable directories).
//!
//! Refused reads: Landlock refuses a read outside the granted trees without telling anyone.
//! Its own denial log (`LANDLOCK_RESTRICT_SELF_LOG_*`, ABI 7) goes to the audit subsystem, which
//! logs nothing until audit is enabled host-wide (off where no auditd runs: enabling it is a
//! change to the host, and then every record also goes to the kernel log) and which only a
//! process holding `CAP_AUDIT_READ` in the initial user namespace may read: no use unprivileged,
//! and no use on most hosts as root. The seccomp filter cannot read a path, so no flag tells a
//! read it could skip from one Landlock refuses. So every read-only open reaches the
//! supervisor, which lets it go on at once (`Continue`: Landlock still decides): a plain
//! absolute path beneath a grant (the loader's cache and libraries, headers, sources) is
//! answered from one read into the stack, without allocating; others take one more `readlink`
//! (a relative path) or a remembered resolution (a directory reached through a host symlink).
//! Only a path outside every grant that exists on the host costs more: a `stat`, and its
//! event, once per path and run. `bench/sandbox-overhead` measures the price (its "opens"
//! workloads).
//!
//! The private `/tmp` and `/dev/shm` hide the host's: a read there costs one `fstatat` in the
//! sandbox's root (on the fast path, for a file the run has), and a name the run does not have
//! but the host does is recorded (`masked by the private /tmp`), looked up on the host, never
//! opened. Granted directories beneath `/tmp` (shown at their own paths) are not looked up.
//!
//! Write-intent opens in a writable directory are checked for symlinks out of it, for hard
//! links planted before the run (`links.rs`), and for persistence paths (`persist.rs`).

use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use super::inside::{absolute, beneath, fd_target_from_path, is_fd_path, normalize, path_of};
use super::persist::{persistence_of, Attempt};
use super::{Answer, Call, Handler};
use crate::events::{Decision, Event, Kind};
use crate::sandbox::procmem::{read_cstring, read_mem, read_u64};

/// `open` flags that can change a file: `O_WRONLY | O_RDWR | O_CREAT | O_TRUNC`.
pub(super) const WRITE_INTENT: u32 =
    (libc::O_WRONLY | libc::O_RDWR | libc::O_CREAT | libc::O_TRUNC) as u32;

/// The controlling terminal, whose opening is refused without an event (see `Handler::open`).
const NO_TERMINAL: &str = "/dev/tty";

/// Trees whose refused reads are not recorded: kernel and device state that runtimes probe on
/// their own (Rust's `available_parallelism` reads the cgroup's CPU quota under
/// `/sys/fs/cgroup` in every build script that asks how many jobs to run), where no user data
/// lives. Landlock still refuses them.
const QUIET_REFUSALS: &[&str] = &["/sys", "/dev"];

impl Handler {
    /// `openat(dirfd, path, flags, mode)`.
    pub(super) fn openat(&self, call: &Call) -> Answer {
        if call.only_reads() {
            return self.open_read(call, call.args[0] as i32, call.args[1]);
        }
        self.open(call, call.args[0] as i32, call.args[1], call.args[2] as i32)
    }

    /// `openat2(dirfd, path, how, size)`.
    pub(super) fn openat2(&self, call: &Call) -> Answer {
        // struct open_how { u64 flags; u64 mode; u64 resolve; }
        let flags = read_u64(call.pid, call.args[2]).unwrap_or(0) as i32;
        self.open(call, call.args[0] as i32, call.args[1], flags)
    }

    /// `open(path, flags, mode)`.
    #[cfg(target_arch = "x86_64")]
    pub(super) fn open_legacy(&self, call: &Call) -> Answer {
        if call.only_reads() {
            return self.open_read(call, libc::AT_FDCWD, call.args[0]);
        }
        self.open(call, libc::AT_FDCWD, call.args[0], call.args[1] as i32)
    }

    /// `creat(path, mode)`: an open to create, write and truncate.
    #[cfg(target_arch = "x86_64")]
    pub(super) fn creat(&self, call: &Call) -> Answer {
        self.open(
            call,
            libc::AT_FDCWD,
            call.args[0],
            libc::O_CREAT | libc::O_WRONLY | libc::O_TRUNC,
        )
    }

    /// `link(old, new)`.
    #[cfg(target_arch = "x86_64")]
    pub(super) fn link_legacy(&self, call: &Call) -> Answer {
        self.link(
            call,
            libc::AT_FDCWD,
            call.args[0],
            libc::AT_FDCWD,
            call.args[1],
        )
    }

    /// `linkat(olddirfd, old, newdirfd, new, flags)`.
    pub(super) fn linkat(&self, call: &Call) -> Answer {
        self.link(
            call,
            call.args[0] as i32,
            call.args[1],
            call.args[2] as i32,
            call.args[3],
        )
    }

    fn open(&self, call: &Call, dirfd: i32, path_ptr: u64, flags: i32) -> Answer {
        let Some(raw) = read_cstring(call.pid, path_ptr) else {
            return Answer::Continue; // the kernel will answer EFAULT itself
        };
        let Some(path) = absolute(call.pid, dirfd, OsStr::from_bytes(&raw)) else {
            return Answer::Continue;
        };
        if !call.still_pending() {
            return Answer::Deny(libc::ESRCH); // what was read may be another process's
        }
        let write_intent = flags & WRITE_INTENT as i32 != 0;

        if let Some(view) = &self.ctx.decoys {
            if let Ok(rel) = path.strip_prefix(&view.home_inside) {
                if let Some(decoy) = view.set.by_file(rel) {
                    self.note_decoy_read(call, &decoy.name, &path);
                    return if write_intent {
                        Answer::Deny(libc::EACCES)
                    } else {
                        Answer::Continue
                    };
                }
            }
            // A decoy planted outside the decoy home (the `.env` of an owned working directory).
            if let Some(decoy) = view.set.outside_home(&path) {
                self.note_decoy_read(call, &decoy.name, &path);
                return match write_intent {
                    true => Answer::Deny(libc::EACCES),
                    false => Answer::Continue,
                };
            }
        }
        if path == Path::new(NO_TERMINAL) && write_intent {
            // Every bash opens its controlling terminal at startup (`check_dev_tty`) and goes on
            // without one. The sandbox offers none: answer as the kernel does for a process
            // without a controlling terminal, and keep bash's startup out of the findings.
            return Answer::Deny(libc::ENXIO);
        }
        if write_intent && persistence_of(&path, &self.ctx.homes).is_some() {
            let resolved = self.write_target(call, &path, flags & libc::O_NOFOLLOW == 0);
            let attempt = Attempt {
                action: self.write_action(call, &path, flags),
                named: &raw,
                path: &path,
                resolved: resolved.as_deref(),
                other: None,
            };
            match self.persistence(call, &attempt) {
                Some(Answer::Continue) | None => {}
                Some(refused) => return refused,
            }
        }
        if self.is_protected(&path) {
            // Invisible or masked anyway; recorded when there is something real to protect.
            if exists_on_host(&path) {
                self.record(
                    call,
                    Event::new(
                        Kind::Fs,
                        if write_intent { "write" } else { "read" },
                        Decision::Denied,
                    )
                    .with("path", path.to_string_lossy())
                    .with("reason", "protected path"),
                );
            }
            return Answer::Deny(libc::EACCES);
        }
        if write_intent {
            // Reopening an inherited pipe (cargo's jobserver) through /dev/fd grants nothing new.
            let raw_text = String::from_utf8_lossy(&raw);
            if is_fd_path(&raw_text)
                && fd_target_from_path(call.pid, &raw_text).is_some_and(|t| t.starts_with("pipe:"))
            {
                return Answer::Continue;
            }
            if !self.writable(&path) {
                let action = self.write_action(call, &path, flags);
                self.record(
                    call,
                    Event::new(Kind::Fs, action, Decision::Denied)
                        .with("path", path.to_string_lossy()),
                );
                return Answer::Deny(libc::EACCES);
            }
            let follow = flags & libc::O_NOFOLLOW == 0;
            let landing = self.write_target(call, &path, follow);
            let escape = landing.clone().filter(|t| *t != path && !self.writable(t));
            if let Some(target) = escape {
                let mut event = Event::new(Kind::Fs, "write", Decision::Denied)
                    .with("path", path.to_string_lossy())
                    .with("via_symlink", target.to_string_lossy());
                if let Some(what) = persistence_of(&target, &self.ctx.homes) {
                    event = event
                        .with("reason", "persistence")
                        .with("persistence", what);
                }
                self.record(call, event);
                return Answer::Deny(libc::EACCES);
            }
            if let Some(refused) =
                self.planted_link(call, &path, landing.as_deref().unwrap_or(&path))
            {
                return refused;
            }
            self.produced_write(call, &path);
        }
        // Landlock decides the rest.
        Answer::Continue
    }

    fn link(&self, call: &Call, olddir: i32, old_ptr: u64, newdir: i32, new_ptr: u64) -> Answer {
        let old = read_cstring(call.pid, old_ptr)
            .and_then(|raw| absolute(call.pid, olddir, OsStr::from_bytes(&raw)));
        let new = read_cstring(call.pid, new_ptr)
            .and_then(|raw| absolute(call.pid, newdir, OsStr::from_bytes(&raw)));
        let (Some(old), Some(new)) = (old, new) else {
            return Answer::Continue;
        };
        if !call.still_pending() {
            return Answer::Deny(libc::ESRCH); // what was read may be another process's
        }
        // The file the link would name, as resolved inside (a symlinked directory on the way
        // followed): what the new name would have made writable.
        let target = self.write_target(call, &old, false).unwrap_or(old);
        if persistence_of(&new, &self.ctx.homes).is_some() {
            let named = read_cstring(call.pid, new_ptr).unwrap_or_default();
            let attempt = Attempt {
                action: "link",
                named: &named,
                path: &new,
                resolved: None,
                other: Some(("target", &target)),
            };
            if let Some(refused) = self
                .persistence(call, &attempt)
                .filter(|a| *a != Answer::Continue)
            {
                return refused;
            }
        }
        if self.writable(&target) && self.writable(&new) {
            self.note_own_link(call, &target);
            return Answer::Continue; // Landlock's refer right governs links within write dirs
        }
        self.record(
            call,
            Event::new(Kind::Fs, "link", Decision::Denied)
                .with("path", new.to_string_lossy())
                .with("target", target.to_string_lossy()),
        );
        Answer::Deny(libc::EXDEV)
    }

    /// `create` for an open that would make `path` (it does not exist inside yet), else `write`.
    fn write_action(&self, call: &Call, path: &Path, flags: i32) -> &'static str {
        if flags & libc::O_CREAT != 0 && !self.exists_inside(call, path) {
            "create"
        } else {
            "write"
        }
    }

    fn note_decoy_read(&self, call: &Call, decoy: &str, path: &Path) {
        let pid = self.inner_pid(call.pid);
        let fresh = self
            .reads_seen
            .lock()
            .map(|mut seen| seen.insert((decoy.to_owned(), pid)))
            .unwrap_or(true);
        if fresh {
            self.record(
                call,
                Event::new(Kind::Leak, "decoy-read", Decision::Flagged)
                    .with("decoy", decoy)
                    .with("location", path.to_string_lossy()),
            );
        }
    }

    /// Records the opening of a tripwire over a protected path (seen by its watch), by the
    /// process the host numbers `host_pid` where the watch knows it.
    pub(crate) fn note_protected_read(&self, path: &Path, host_pid: Option<i32>) {
        let key = format!("protected:{}", path.display());
        let fresh = self
            .reads_seen
            .lock()
            .map(|mut seen| seen.insert((key, 0)))
            .unwrap_or(true);
        if fresh {
            self.record_by(
                host_pid.map_or(0, |pid| self.inner_pid(pid)),
                Event::new(Kind::Fs, "read", Decision::Denied)
                    .with("path", path.to_string_lossy())
                    .with(
                        "reason",
                        "protected path: the sandbox saw an empty stand-in",
                    ),
            );
        }
    }

    /// Records a decoy read that a tripwire saw and no open notification explained, by the
    /// process the host numbers `host_pid` where the watch knows it.
    pub(crate) fn note_decoy_read_unattributed(
        &self,
        decoy: &str,
        location: &Path,
        host_pid: Option<i32>,
    ) {
        let seen = self
            .reads_seen
            .lock()
            .map(|seen| seen.iter().any(|(d, _)| d == decoy))
            .unwrap_or(false);
        if !seen {
            let pid = host_pid.map_or(0, |pid| self.inner_pid(pid));
            if let Ok(mut s) = self.reads_seen.lock() {
                s.insert((decoy.to_owned(), pid));
            }
            self.record_by(
                pid,
                Event::new(Kind::Leak, "decoy-read", Decision::Flagged)
                    .with("decoy", decoy)
                    .with("location", location.to_string_lossy()),
            );
        }
    }

    /// Whether the deepest grant containing `path` (inside view) is writable.
    pub(super) fn writable(&self, path: &Path) -> bool {
        self.ctx
            .write_regions
            .iter()
            .filter(|(region, _)| beneath(path, region))
            // Every region that matches contains `path`: the longest is the deepest.
            .max_by_key(|(region, _)| region.as_os_str().len())
            .is_some_and(|(_, writable)| *writable)
    }

    /// Whether `path` lies beneath a protected path deeper than any grant containing it.
    pub(super) fn is_protected(&self, path: &Path) -> bool {
        // Every path that matches contains `path`: the longest is the deepest.
        let deepest = |list: &[PathBuf]| {
            list.iter()
                .filter(|p| beneath(path, p))
                .map(|p| p.as_os_str().len())
                .max()
        };
        match (deepest(&self.ctx.protect), deepest(&self.ctx.grants)) {
            (Some(p), Some(g)) => p > g,
            (Some(_), None) => true,
            _ => false,
        }
    }

    /// Where a write to absolute `path` lands inside the sandbox: its directory resolved there
    /// (every symlink on the way followed, as the kernel will), then, when `follow`, its last
    /// component followed while it is a symlink (at most 8 hops; the kernel allows 40 but no
    /// honest build chains more). `None` if its directory does not exist.
    fn write_target(&self, call: &Call, path: &Path, follow: bool) -> Option<PathBuf> {
        let mut path = path.to_owned();
        for _ in 0..8 {
            let name = path.file_name()?.to_owned();
            let dir = self.open_inside(call.pid, path.parent()?)?;
            let resolved = path_of(&dir)?.join(name);
            if !follow {
                return Some(resolved);
            }
            match self.read_link_inside(call, &resolved) {
                Some(link) => {
                    path = normalize(&resolved.parent().unwrap_or(Path::new("/")).join(link));
                }
                None => return Some(resolved),
            }
        }
        Some(path)
    }

    /// A read-only open: Landlock decides it; one of a decoy is recorded with the process that
    /// made it, and one outside every grant (which Landlock refuses, or the mount layout hides)
    /// is recorded once per path when the path exists on the host (see this module's doc).
    fn open_read(&self, call: &Call, dirfd: i32, path_ptr: u64) -> Answer {
        // Most reads (every exec's loader cache and libraries, headers, sources) name a granted
        // file by a plain absolute path: answered from one read into the stack.
        let mut buf = [0u8; SHORT_PATH];
        let short = read_mem(call.pid, path_ptr, &mut buf)
            .ok()
            .and_then(|n| buf[..n].iter().position(|&b| b == 0));
        if let Some(end) = short {
            if self.plainly_granted(call, &buf[..end]) {
                return Answer::Continue;
            }
        }
        // The path as read already, unless it was longer than the stack holds.
        let raw = match short {
            Some(end) => buf[..end].to_vec(),
            None => match read_cstring(call.pid, path_ptr) {
                Some(raw) => raw,
                None => return Answer::Continue,
            },
        };
        let Some(path) = absolute(call.pid, dirfd, OsStr::from_bytes(&raw)) else {
            return Answer::Continue;
        };
        if let Some(view) = &self.ctx.decoys {
            if let Ok(rel) = path.strip_prefix(&view.home_inside) {
                if let Some(decoy) = view.set.by_file(rel) {
                    if call.still_pending() {
                        self.note_decoy_read(call, &decoy.name, &path);
                    }
                }
                return Answer::Continue; // the decoy home is readable
            }
            // A decoy planted outside the decoy home (the `.env` of an owned working directory).
            if let Some(decoy) = view.set.outside_home(&path) {
                if call.still_pending() {
                    self.note_decoy_read(call, &decoy.name, &path);
                }
            }
        }
        if self.in_private_tmp(&path) {
            self.note_masked_tmp(call, &path);
            return Answer::Continue;
        }
        let granted = |p: &Path| self.ctx.grants.iter().any(|g| beneath(p, g));
        if granted(&path)
            || self.is_protected(&path)
            || QUIET_REFUSALS.iter().any(|q| beneath(&path, Path::new(q)))
        {
            // Granted, a protected path whose tripwire records the read, or a quiet probe.
            return Answer::Continue;
        }
        // Grants are canonical; the path may reach one through a symlink on the host (`/lib`
        // is `/usr/lib` on a merged-/usr system). Its directory resolved inside decides.
        let path = match (path.parent(), path.file_name()) {
            (Some(dir), Some(name)) => match self.resolve_dir_inside(call.pid, dir) {
                Some(resolved) => resolved.join(name),
                None => return Answer::Continue, // no such directory: the open fails (ENOENT)
            },
            _ => path, // `/` itself
        };
        if granted(&path) || self.is_protected(&path) {
            return Answer::Continue;
        }
        let key = format!("refused:{}", path.display());
        let fresh = self
            .reads_seen
            .lock()
            .map(|seen| !seen.contains(&(key.clone(), 0)))
            .unwrap_or(false);
        if fresh && exists_on_host(&path) && call.still_pending() {
            if let Ok(mut seen) = self.reads_seen.lock() {
                seen.insert((key, 0));
            }
            self.record(
                call,
                Event::new(Kind::Fs, "read", Decision::Denied)
                    .with("path", path.to_string_lossy())
                    .with("reason", "outside the granted paths"),
            );
        }
        Answer::Continue
    }
}

/// Paths the read fast path ([`Handler::plainly_granted`]) looks at: longer ones take the
/// general path.
const SHORT_PATH: usize = 256;

impl Handler {
    /// Whether a read-only open of `raw` goes on without anything to record, decided without
    /// allocating: an absolute path already in normal form (no `.` or `..` component, no
    /// repeated separator; a name beginning with a dot takes the general path too) beneath a
    /// grant (in a private tmp, a file the run has), or in the decoy home and not a decoy. The
    /// general path would answer the same.
    fn plainly_granted(&self, call: &Call, raw: &[u8]) -> bool {
        let plain = raw.first() == Some(&b'/') && !raw.windows(2).any(|w| w == b"//" || w == b"/.");
        if !plain {
            return false;
        }
        let path = Path::new(OsStr::from_bytes(raw.strip_suffix(b"/").unwrap_or(raw)));
        let path = if path.as_os_str().is_empty() {
            Path::new("/")
        } else {
            path
        };
        if let Some(view) = &self.ctx.decoys {
            if let Ok(rel) = path.strip_prefix(&view.home_inside) {
                // The decoy home is readable; a decoy's read is recorded by the general path.
                return view.set.by_file(rel).is_none();
            }
        }
        if self.in_private_tmp(path) {
            // The run's own file (one `fstatat`); a name it lacks may be a host file the
            // private tmp hides, which the general path records.
            return self.exists_inside(call, path);
        }
        let granted = |p: &Path| self.ctx.grants.iter().any(|g| beneath(p, g));
        // A directory reaching a grant through a host symlink (`/lib` on a merged-`/usr`
        // system, where every library the loader opens is named), as the general path
        // resolved it before: whatever lies beneath a granted directory is granted.
        granted(path)
            || path
                .parent()
                .and_then(|dir| self.known_dir_inside(dir))
                .is_some_and(|dir| granted(&dir))
    }
}

impl Handler {
    /// Whether `path` lies in one of [`PRIVATE_TMPS`] and beneath no grant bound there at its
    /// own path (a granted directory under `/tmp` is shown as it is on the host).
    fn in_private_tmp(&self, path: &Path) -> bool {
        PRIVATE_TMPS.iter().map(Path::new).any(|tmp| {
            path != tmp
                && beneath(path, tmp)
                && !self
                    .ctx
                    .grants
                    .iter()
                    .any(|g| g.as_os_str().len() > tmp.as_os_str().len() && beneath(path, g))
        })
    }

    /// A read of `path` in a private temporary directory: when the run has no such file but
    /// the host does, the private directory hid it, and the attempt is recorded (once per path
    /// and run) with the path alone. The host file is only looked up, never opened.
    fn note_masked_tmp(&self, call: &Call, path: &Path) {
        if self.exists_inside(call, path) {
            return; // the run's own file
        }
        let key = format!("masked:{}", path.display());
        let fresh = self
            .reads_seen
            .lock()
            .map(|seen| !seen.contains(&(key.clone(), 0)))
            .unwrap_or(false);
        if !fresh || !exists_on_host(path) || !call.still_pending() {
            return;
        }
        if let Ok(mut seen) = self.reads_seen.lock() {
            seen.insert((key, 0));
        }
        let tmp = PRIVATE_TMPS
            .iter()
            .find(|t| beneath(path, Path::new(t)))
            .unwrap_or(&"/tmp");
        self.record(
            call,
            Event::new(Kind::Fs, "read", Decision::Denied)
                .with("path", path.to_string_lossy())
                .with("reason", format!("masked by the private {tmp}")),
        );
    }
}

/// The run's private temporary directories, which hide the host's: a read there of a name the
/// run does not have but the host does is recorded.
const PRIVATE_TMPS: &[&str] = &["/tmp", "/dev/shm"];

/// Whether `path` exists on the host (a protected path is recorded only if there is something
/// real to protect).
fn exists_on_host(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok()
}
