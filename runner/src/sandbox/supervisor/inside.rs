//! Looking into the sandbox from outside: its root directory and PID namespace (opened once per
//! run, in [`SandboxView`]), paths as a sandboxed process sees them (`openat2` with
//! `RESOLVE_IN_ROOT`, `*at` calls on the root, `/proc/<pid>/root` where those cannot go), and
//! what `/proc` says about a process (its cwd, descriptors, thread group, in-sandbox pid).

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::fs;
use std::io::Read;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Mutex, OnceLock};

use nix::errno::Errno;
use nix::fcntl::{openat2, readlinkat, AtFlags, OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::{fstatat, Mode};

use super::{Call, Handler};

/// The sandbox seen from outside, opened on first use: every process of a run shares its root
/// directory and PID namespace.
#[derive(Default)]
pub(super) struct SandboxView {
    /// In-sandbox pids of host pids, cached: a run's host pids are not reused while it lasts,
    /// short of wrapping the host's whole pid space.
    pids: Mutex<HashMap<i32, i32>>,
    /// The sandbox's PID namespace, for translating host pids.
    pid_namespace: OnceLock<Option<OwnedFd>>,
    /// The sandbox's root directory.
    root: OnceLock<Option<OwnedFd>>,
    /// Directories outside every grant, as given and as they resolve inside (a merged-`/usr`
    /// system's `/lib` is `/usr/lib`): the sandbox cannot change what lies outside its write
    /// grants, so a resolution holds for the run. Bounded by [`RESOLVED_DIRS`].
    resolved_dirs: Mutex<HashMap<PathBuf, Option<PathBuf>>>,
    /// Programs outside every write grant, as an exec names them and as they resolve inside,
    /// for the same reason: a build runs the same few compilers and tools again and again, and
    /// opening each to learn its name cost more than the rest of its exec's handling. Only
    /// files found are remembered (an `execvp` probing `PATH` meets many that are not there,
    /// and one may yet appear). Bounded by [`RESOLVED_DIRS`].
    exec_names: Mutex<HashMap<PathBuf, PathBuf>>,
}

/// The most directories [`SandboxView::resolved_dirs`] remembers; beyond, each is resolved again.
const RESOLVED_DIRS: usize = 4096;

impl Handler {
    /// The in-sandbox pid of host pid `host` (0 if unknown).
    pub(super) fn inner_pid(&self, host: i32) -> i32 {
        if let Some(pid) = self
            .view
            .pids
            .lock()
            .ok()
            .and_then(|m| m.get(&host).copied())
        {
            return pid;
        }
        let pid = self
            .translate_pid(host)
            .unwrap_or_else(|| pid_in_own_namespace(host));
        if let Ok(mut m) = self.view.pids.lock() {
            m.insert(host, pid);
        }
        pid
    }

    /// `host` as the sandbox's PID namespace numbers it, by one `NS_GET_PID_IN_PIDNS` ioctl
    /// (Linux 6.0+) on the namespace's descriptor: a fraction of the cost of reading
    /// `/proc/<pid>/status`, on the path every exec notification takes.
    fn translate_pid(&self, host: i32) -> Option<i32> {
        let ns = self.view.pid_namespace.get_or_init(|| {
            let init = self.ctx.init_pid.load(Ordering::Relaxed);
            (init > 0)
                .then(|| fs::File::open(format!("/proc/{init}/ns/pid")).ok())
                .flatten()
                .map(OwnedFd::from)
        });
        // _IOR(NSIO = 0xb7, 0x8, int) from <linux/nsfs.h>; libc does not define it. Raw libc:
        // the ioctl takes the pid by value as its (unsigned long) argument and answers in its
        // return value, which nix's ioctl macros (pointer or int arguments) do not express.
        const NS_GET_PID_IN_PIDNS: libc::c_ulong = 0x8004_b708;
        let fd = ns.as_ref()?.as_raw_fd();
        // SAFETY: the ioctl takes the pid by value and returns the translation.
        let pid = unsafe { libc::ioctl(fd, NS_GET_PID_IN_PIDNS, host as libc::c_ulong) };
        (pid > 0).then_some(pid)
    }

    /// The sandbox's root directory: `/proc/<init>/root`, opened once, through which the
    /// supervisor looks at paths as the sandbox sees them (without a `/proc/<pid>` lookup on
    /// every write-intent open). Every process of a run has this root: none can change it
    /// (`chroot` needs a capability no sandboxed process has, and new user namespaces, where
    /// one could gain it, are refused by the filter whatever the profile says; `pivot_root`
    /// needs another, and Landlock forbids it besides).
    fn sandbox_root(&self) -> Option<BorrowedFd<'_>> {
        self.view
            .root
            .get_or_init(|| {
                let init = self.ctx.init_pid.load(Ordering::Relaxed);
                (init > 0)
                    .then(|| open_path(&proc_root(init), OFlag::O_DIRECTORY))
                    .flatten()
            })
            .as_ref()
            .map(AsFd::as_fd)
    }

    /// Opens (`O_PATH`) the file that absolute `path` names inside the sandbox, its symlinks
    /// resolved there (absolute ones against the sandbox's root): one `openat2` with
    /// `RESOLVE_IN_ROOT`. Where that cannot go (Linux < 5.6; the magic links of `/proc`, which
    /// `RESOLVE_IN_ROOT` refuses), a walk through `/proc/<pid>/root`. `None` if there is no
    /// such file.
    pub(super) fn open_inside(&self, pid: i32, path: &Path) -> Option<OwnedFd> {
        if let Some(root) = self.sandbox_root().filter(|_| !path.starts_with("/proc")) {
            match openat2_in_root(root, path) {
                Err(Errno::ENOSYS) => {}
                result => return result.ok(),
            }
        }
        let root = proc_root(pid);
        if path.starts_with("/proc") {
            // The sandbox's own /proc: its `cwd`, `root` and `fd/N` entries are magic links,
            // whose text (read from outside the sandbox's mount namespace) need not name the
            // file; the kernel follows them itself, so open the path as it stands.
            return open_path(&join_inside(&root, path), OFlag::O_NOFOLLOW);
        }
        let resolved = resolve_inside(&root, path);
        open_path(&join_inside(&root, &resolved), OFlag::O_NOFOLLOW)
    }

    /// `ENOENT` or `ENOTDIR` if absolute `path` (symlinks followed, as an exec follows them)
    /// names no file inside the sandbox; `None` if it does, or if that cannot be told.
    pub(super) fn missing_inside(&self, path: &Path) -> Option<i32> {
        match openat2_in_root(self.sandbox_root()?, path) {
            Err(errno @ (Errno::ENOENT | Errno::ENOTDIR)) => Some(errno as i32),
            _ => None,
        }
    }

    /// Opens (`O_PATH`) absolute `path` inside the sandbox without following any symlink on
    /// the way (`RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS`): a path that names a file only
    /// through a symlink fails with `ELOOP`.
    pub(super) fn open_inside_no_symlinks(&self, path: &Path) -> nix::Result<OwnedFd> {
        let root = self.sandbox_root().ok_or(Errno::ENOENT)?;
        let how = OpenHow::new()
            .flags(OFlag::O_PATH | OFlag::O_CLOEXEC | OFlag::O_NOFOLLOW)
            .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_SYMLINKS);
        openat2(root, relative(path), how)
    }

    /// Directory `dir` (absolute, outside every write grant) as it resolves inside the sandbox,
    /// its symlinks followed; `None` if there is no such directory. Remembered per run.
    pub(super) fn resolve_dir_inside(&self, pid: i32, dir: &Path) -> Option<PathBuf> {
        if let Some(known) = self
            .view
            .resolved_dirs
            .lock()
            .ok()
            .and_then(|m| m.get(dir).cloned())
        {
            return known;
        }
        let resolved = self.open_inside(pid, dir).and_then(|fd| path_of(&fd));
        if let Ok(mut m) = self.view.resolved_dirs.lock() {
            if m.len() < RESOLVED_DIRS {
                m.insert(dir.to_owned(), resolved.clone());
            }
        }
        resolved
    }

    /// Directory `dir` as [`Handler::resolve_dir_inside`] resolved it before, if it did.
    pub(super) fn known_dir_inside(&self, dir: &Path) -> Option<PathBuf> {
        self.view
            .resolved_dirs
            .lock()
            .ok()
            .and_then(|m| m.get(dir).cloned().flatten())
    }

    /// The name inside the sandbox of program `path` (absolute, outside every write grant), its
    /// symlinks followed; `None` if there is no such file. Remembered per run when found.
    pub(super) fn resolve_program_inside(&self, pid: i32, path: &Path) -> Option<PathBuf> {
        if let Some(known) = self
            .view
            .exec_names
            .lock()
            .ok()
            .and_then(|m| m.get(path).cloned())
        {
            return Some(known);
        }
        let resolved = self.open_inside(pid, path).and_then(|fd| path_of(&fd))?;
        if let Ok(mut m) = self.view.exec_names.lock() {
            if m.len() < RESOLVED_DIRS {
                m.insert(path.to_owned(), resolved.clone());
            }
        }
        Some(resolved)
    }

    /// Whether absolute `path` exists inside the sandbox (a symlink counts as itself).
    pub(super) fn exists_inside(&self, call: &Call, path: &Path) -> bool {
        match self.sandbox_root() {
            Some(root) => fstatat(root, relative(path), AtFlags::AT_SYMLINK_NOFOLLOW).is_ok(),
            None => fs::symlink_metadata(join_inside(&proc_root(call.pid), path)).is_ok(),
        }
    }

    /// The status of absolute `path` inside the sandbox (a symlink counts as itself).
    pub(super) fn stat_inside(&self, call: &Call, path: &Path) -> Option<libc::stat> {
        match self.sandbox_root() {
            Some(root) => fstatat(root, relative(path), AtFlags::AT_SYMLINK_NOFOLLOW).ok(),
            None => nix::sys::stat::lstat(&join_inside(&proc_root(call.pid), path)).ok(),
        }
    }

    /// The target of absolute `path` inside the sandbox, if it is a symlink.
    pub(super) fn read_link_inside(&self, call: &Call, path: &Path) -> Option<PathBuf> {
        match self.sandbox_root() {
            Some(root) => readlinkat(root, relative(path)).ok().map(PathBuf::from),
            None => fs::read_link(join_inside(&proc_root(call.pid), path)).ok(),
        }
    }

    /// Whether the sandbox holds a process it numbers `pid`.
    pub(super) fn pid_exists_inside(&self, pid: i32) -> bool {
        let init = self.ctx.init_pid.load(Ordering::Relaxed);
        Path::new(&format!("/proc/{init}/root/proc/{pid}")).exists()
    }
}

impl Call {
    /// Whether the notification is still waiting for its answer, checked after reading the
    /// process's memory or `/proc/<pid>` and before acting on what was read: a process that
    /// died meanwhile may have had its pid reused, and then what was read belongs to another
    /// process (`SECCOMP_IOCTL_NOTIF_ID_VALID`). A call without a listener (tests) is pending.
    pub(super) fn still_pending(&self) -> bool {
        if self.listener < 0 {
            return true;
        }
        let mut id = self.id;
        // Raw libc: nix has no seccomp API. SAFETY: ID_VALID reads one u64 through the pointer,
        // which points at a live local.
        unsafe {
            libc::ioctl(
                self.listener,
                libc::SECCOMP_IOCTL_NOTIF_ID_VALID,
                &mut id as *mut u64,
            ) == 0
        }
    }
}

/// `/proc/<pid>/root`: the root directory of process `pid`, through which the supervisor looks
/// at paths as that process sees them (while the process exists).
fn proc_root(pid: i32) -> PathBuf {
    PathBuf::from(format!("/proc/{pid}/root"))
}

/// Resolves symlinks in `path` as a process whose root directory is reachable at `root` sees
/// it (`/proc/<pid>/root` or a descriptor of it), with absolute link targets restarted at that
/// root. Unresolvable tails are kept as they are.
fn resolve_inside(root: &Path, path: &Path) -> PathBuf {
    let mut resolved = PathBuf::from("/");
    let mut pending: Vec<OsString> = path
        .components()
        .rev()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_owned()),
            Component::ParentDir => Some("..".into()),
            _ => None,
        })
        .collect();
    let mut hops = 0;
    while let Some(part) = pending.pop() {
        if part == ".." {
            resolved.pop();
            continue;
        }
        let candidate = resolved.join(&part);
        match fs::read_link(join_inside(root, &candidate)) {
            Ok(target) if hops < 40 => {
                hops += 1;
                if target.is_absolute() {
                    resolved = PathBuf::from("/");
                }
                for c in target.components().rev() {
                    match c {
                        Component::Normal(n) => pending.push(n.to_owned()),
                        Component::ParentDir => pending.push("..".into()),
                        _ => {}
                    }
                }
            }
            _ => resolved = candidate,
        }
    }
    resolved
}

/// Absolute `path` beneath `root`.
fn join_inside(root: &Path, path: &Path) -> PathBuf {
    root.join(path.strip_prefix("/").unwrap_or(path))
}

/// `path` with a leading `/proc/self` or `/proc/thread-self` naming process `pid` instead (the
/// supervisor looking through the sandbox's `/proc` is not the process asking).
pub(super) fn proc_self(path: &Path, pid: i32) -> PathBuf {
    for alias in ["/proc/self", "/proc/thread-self"] {
        if let Ok(rest) = path.strip_prefix(alias) {
            return Path::new("/proc").join(pid.to_string()).join(rest);
        }
    }
    path.to_owned()
}

/// Opens `path` with `O_PATH | O_CLOEXEC | extra`.
fn open_path(path: &Path, extra: OFlag) -> Option<OwnedFd> {
    nix::fcntl::open(
        path,
        OFlag::O_PATH | OFlag::O_CLOEXEC | extra,
        Mode::empty(),
    )
    .ok()
}

/// Absolute `path` relative to the root (`.` for `/`), for the `*at` calls on the sandbox's
/// root directory.
fn relative(path: &Path) -> &Path {
    let relative = path.strip_prefix("/").unwrap_or(path);
    if relative.as_os_str().is_empty() {
        Path::new(".")
    } else {
        relative
    }
}

/// `openat2(root, path, O_PATH, RESOLVE_IN_ROOT)`: `path` resolved as if `root` were `/`.
fn openat2_in_root(root: BorrowedFd<'_>, path: &Path) -> nix::Result<OwnedFd> {
    let how = OpenHow::new()
        .flags(OFlag::O_PATH | OFlag::O_CLOEXEC)
        .resolve(ResolveFlag::RESOLVE_IN_ROOT);
    openat2(root, relative(path), how)
}

/// The path of an open file as its own mount namespace names it (what the sandbox sees), even
/// once it has been removed.
pub(super) fn path_of(file: &OwnedFd) -> Option<PathBuf> {
    let link = fs::read_link(format!("/proc/self/fd/{}", file.as_raw_fd())).ok()?;
    let bytes = link.as_os_str().as_bytes();
    let bytes = bytes.strip_suffix(b" (deleted)").unwrap_or(bytes);
    Some(PathBuf::from(OsStr::from_bytes(bytes)))
}

/// Whether `path` names a descriptor (`/dev/fd/N`, `/proc/<pid>/fd/N`).
pub(super) fn is_fd_path(path: &str) -> bool {
    path.starts_with("/dev/fd/")
        || path.starts_with("/proc/self/fd/")
        || path.starts_with("/proc/thread-self/fd/")
        || (path.starts_with("/proc/") && path.contains("/fd/"))
}

/// What descriptor `fd` of process `pid` refers to (`/path`, `pipe:[N]`, `memfd:...`).
pub(super) fn fd_target(pid: i32, fd: i32) -> Option<String> {
    fs::read_link(format!("/proc/{pid}/fd/{fd}"))
        .ok()
        .map(|p| p.to_string_lossy().into_owned())
}

/// What the descriptor a path like `/dev/fd/N` names refers to, in process `pid`.
pub(super) fn fd_target_from_path(pid: i32, path: &str) -> Option<String> {
    let fd: i32 = path.rsplit('/').next()?.parse().ok()?;
    fd_target(pid, fd)
}

/// The thread-group (process) id of thread `tid`, which owns the descriptor table.
pub(super) fn tgid(tid: i32) -> i32 {
    status_field(tid, "Tgid:").unwrap_or(tid)
}

/// The last number of line `field` of `/proc/<pid>/status`.
fn status_field(pid: i32, field: &str) -> Option<i32> {
    // One read into a stack buffer: /proc/<pid>/status is generated whole on open anyway.
    let mut buf = [0u8; 4096];
    let mut file = fs::File::open(format!("/proc/{pid}/status")).ok()?;
    let n = file.read(&mut buf).ok()?;
    std::str::from_utf8(&buf[..n])
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().last()?.parse().ok())
}

/// The pid of host process `pid` as seen inside its own PID namespace (0 if unknown).
fn pid_in_own_namespace(pid: i32) -> i32 {
    status_field(pid, "NSpid:").unwrap_or(0)
}

/// Lexically normalizes an absolute path (`.` and `..` resolved without touching the disk).
pub(crate) fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for c in path.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(n) => out.push(n),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    out
}

/// Whether `path` is `dir` or lies beneath it, for absolute paths in the form [`normalize`]
/// leaves them (no `.`, `..`, repeated or trailing separators). Compares bytes: the supervisor
/// asks this of every grant on every open and exec, and `Path::starts_with` parses both paths
/// into components each time.
pub(super) fn beneath(path: &Path, dir: &Path) -> bool {
    let (path, dir) = (path.as_os_str().as_bytes(), dir.as_os_str().as_bytes());
    let dir = dir.strip_suffix(b"/").unwrap_or(dir); // `/` contains every absolute path
    path.starts_with(dir) && (path.len() == dir.len() || path[dir.len()] == b'/')
}

/// The absolute, normalized form of `path` as the process `pid` sees it, relative to `dirfd`.
pub(super) fn absolute(pid: i32, dirfd: i32, path: &OsStr) -> Option<PathBuf> {
    let p = Path::new(path);
    if p.is_absolute() {
        return Some(normalize(p));
    }
    let base = if dirfd == libc::AT_FDCWD {
        fs::read_link(format!("/proc/{pid}/cwd")).ok()?
    } else {
        fs::read_link(format!("/proc/{pid}/fd/{dirfd}")).ok()?
    };
    Some(normalize(&base.join(p)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_resolves_dots() {
        assert_eq!(normalize(Path::new("/a/./b/../c")), PathBuf::from("/a/c"));
        assert_eq!(normalize(Path::new("/../x")), PathBuf::from("/x"));
    }

    #[test]
    fn beneath_compares_whole_components() {
        let yes = [
            ("/usr/lib/x", "/usr"),
            ("/usr", "/usr"),
            ("/usr", "/"),
            ("/", "/"),
        ];
        let no = [
            ("/usrx/lib", "/usr"),
            ("/us", "/usr"),
            ("/", "/usr"),
            ("/etc", "/usr/"),
        ];
        for (path, dir) in yes {
            assert!(beneath(Path::new(path), Path::new(dir)), "{path} in {dir}");
            assert!(Path::new(path).starts_with(dir));
        }
        for (path, dir) in no {
            assert!(
                !beneath(Path::new(path), Path::new(dir)),
                "{path} not in {dir}"
            );
            assert!(!Path::new(path).starts_with(dir));
        }
    }

    #[test]
    fn fd_paths_are_recognized() {
        assert!(is_fd_path("/proc/self/fd/3"));
        assert!(is_fd_path("/dev/fd/7"));
        assert!(is_fd_path("/proc/42/fd/3"));
        assert!(!is_fd_path("/usr/bin/cc"));
    }

    #[test]
    fn paths_resolve_inside_the_root() {
        assert_eq!(relative(Path::new("/")), Path::new("."));
        assert_eq!(relative(Path::new("/usr/bin")), Path::new("usr/bin"));
        // An absolute symlink beneath a root resolves against that root, not the host's.
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("target"), b"").unwrap();
        std::os::unix::fs::symlink("/target", dir.path().join("link")).unwrap();
        let root = open_path(dir.path(), OFlag::O_DIRECTORY).unwrap();
        let file = openat2_in_root(root.as_fd(), Path::new("/link")).unwrap();
        let seen = path_of(&file).unwrap();
        assert_eq!(seen, fs::canonicalize(dir.path()).unwrap().join("target"));
        assert_eq!(
            openat2_in_root(root.as_fd(), Path::new("/missing")).err(),
            Some(Errno::ENOENT)
        );
    }
}
