//! The namespace layer: which namespaces a run gets, and the mount namespace's layout.
//!
//! Every run gets new user, mount, PID, network, IPC and UTS namespaces. The user namespace is
//! created even as root: it is what makes the other namespaces possible unprivileged, and it
//! bounds the capabilities the setup code holds to the sandbox's own namespaces.
//!
//! The mount layout is planned here as data ([`MountPlan`]) by the supervisor and carried out
//! by the sandbox child with raw syscalls only ([`MountPlan::apply`]):
//! - *overlays* hide host directories behind fresh ones: `/tmp` (a private temporary
//!   directory), `/run` (host daemons' sockets), `/dev/shm`, and the user's home (the decoy home);
//! - *rebinds* bring back, at their own paths, the granted directories that an overlay hid
//!   (a workspace under `/tmp`, the toolchain under the home);
//! - *self-binds* remount each writable directory `noexec,nosuid,nodev`, so nothing the sandbox
//!   writes can be executed or mapped executable;
//! - *masks* cover protected paths that a broader read grant would expose (`/etc/shadow` under
//!   `/etc`) with a read-only tripwire (see `tripwire.rs`);
//! - a fresh `/proc` for the new PID namespace.
//!
//! The network namespace is private: its only interface is its own loopback, brought up by
//! the sandbox's init ([`loopback_up`]) so that a run can talk to its own servers; nothing
//! outside the namespace is reachable from it.

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// `MOUNT_ATTR_*` flags (linux/mount.h).
pub(crate) mod attr {
    pub(crate) const RDONLY: u64 = 0x1;
    pub(crate) const NOSUID: u64 = 0x2;
    pub(crate) const NODEV: u64 = 0x4;
    pub(crate) const NOEXEC: u64 = 0x8;
}

/// An overlay: `target` inside the sandbox shows host directory `source` instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Overlay {
    pub target: PathBuf,
    pub source: PathBuf,
    pub attrs: u64,
}

/// A path the sandbox must see at its own location, and how it may be used there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Visible {
    pub path: PathBuf,
    pub attrs: u64,
    /// Writable directories get a self-bind with `attrs` even when no overlay hides them.
    pub self_bind: bool,
    /// False for a path that must merely exist (a working directory that is not granted):
    /// where an overlay hides it, an empty directory stands in its place, so that nothing
    /// of the original becomes readable through the overlay's own grant.
    pub contents: bool,
}

/// One mount the child performs, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Step {
    /// Bind `source` (host path, opened before any step) onto `target`; `create` says whether
    /// the mountpoint must be made first (it lies inside an overlay), as a directory or a file.
    Bind {
        source: PathBuf,
        target: PathBuf,
        attrs: u64,
        create: Option<Mountpoint>,
    },
    /// Create an empty directory (inside an overlay) so that the path exists.
    Mkdir { target: PathBuf },
    /// Mount a fresh procfs.
    Proc { target: PathBuf },
}

/// The kind of mountpoint to create.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mountpoint {
    Dir,
    File,
}

/// The full mount layout of one run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MountPlan {
    pub steps: Vec<Step>,
}

fn depth(p: &Path) -> usize {
    p.components().count()
}

impl MountPlan {
    /// Plans overlays, rebinds, self-binds and masks. All paths must be absolute and
    /// normalized; `masks` pairs protected paths that exist on the host with the tripwire
    /// (same kind: file or directory) that covers each.
    pub(crate) fn new(
        overlays: &[Overlay],
        visible: &[Visible],
        masks: &[(PathBuf, PathBuf)],
    ) -> MountPlan {
        let mut steps = Vec::new();
        // Overlays first, shallowest first, so that a deeper overlay lands inside a shallower one.
        let mut overlays: Vec<&Overlay> = overlays.iter().collect();
        overlays.sort_by_key(|o| depth(&o.target));
        let covering_overlay = |p: &Path| -> Option<&Overlay> {
            overlays
                .iter()
                .copied()
                .filter(|o| p.starts_with(&o.target))
                .max_by_key(|o| depth(&o.target))
        };
        for o in &overlays {
            let create = covering_overlay_strict(&overlays, &o.target).map(|_| Mountpoint::Dir);
            steps.push(Step::Bind {
                source: o.source.clone(),
                target: o.target.clone(),
                attrs: o.attrs,
                create,
            });
        }
        // Rebinds and self-binds, shallowest first.
        let mut visible: Vec<&Visible> = visible.iter().collect();
        visible.sort_by_key(|v| depth(&v.path));
        visible.dedup_by(|a, b| a.path == b.path);
        let mut rebound: Vec<PathBuf> = Vec::new();
        for v in visible {
            let hidden_by = covering_overlay(&v.path);
            // A path already visible through a shallower rebind needs no mount of its own,
            // unless it is a writable directory that wants its own attributes.
            let under_rebind = rebound.iter().any(|r| v.path.starts_with(r));
            let needs = match hidden_by {
                Some(o) if o.target == v.path => false,
                Some(_) if !under_rebind => true,
                _ => v.self_bind,
            };
            if !needs {
                continue;
            }
            if !v.contents {
                if hidden_by.is_some() && !under_rebind {
                    steps.push(Step::Mkdir {
                        target: v.path.clone(),
                    });
                }
                continue;
            }
            let create = match hidden_by {
                Some(_) if !under_rebind => Some(if v.path.is_dir() {
                    Mountpoint::Dir
                } else {
                    Mountpoint::File
                }),
                _ => None,
            };
            steps.push(Step::Bind {
                source: v.path.clone(),
                target: v.path.clone(),
                attrs: v.attrs,
                create,
            });
            rebound.push(v.path.clone());
        }
        for (m, tripwire) in masks {
            if covering_overlay(m).is_some() && !rebound.iter().any(|r| m.starts_with(r)) {
                continue; // hidden already
            }
            steps.push(Step::Bind {
                source: tripwire.clone(),
                target: m.clone(),
                attrs: attr::RDONLY | attr::NOSUID | attr::NODEV | attr::NOEXEC,
                create: None,
            });
        }
        steps.push(Step::Proc {
            target: PathBuf::from("/proc"),
        });
        MountPlan { steps }
    }

    /// Compiles the plan into syscall-ready form (C strings), in the supervisor.
    pub(crate) fn compile(&self) -> io::Result<CompiledPlan> {
        let c = |p: &Path| {
            CString::new(p.as_os_str().as_bytes())
                .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path with NUL"))
        };
        let mut ops = Vec::new();
        for step in &self.steps {
            match step {
                Step::Bind {
                    source,
                    target,
                    attrs,
                    create,
                } => {
                    let mut mkdirs = Vec::new();
                    if create.is_some() {
                        let mut ancestors: Vec<&Path> = target.ancestors().skip(1).collect();
                        ancestors.reverse();
                        for a in ancestors.into_iter().skip(1) {
                            mkdirs.push(c(a)?);
                        }
                    }
                    ops.push(Op::Bind {
                        source: c(source)?,
                        target: c(target)?,
                        attrs: *attrs,
                        mkdirs,
                        create: *create,
                    });
                }
                Step::Mkdir { target } => {
                    let mut dirs: Vec<CString> = Vec::new();
                    let mut ancestors: Vec<&Path> = target.ancestors().collect();
                    ancestors.reverse();
                    for a in ancestors.into_iter().skip(1) {
                        dirs.push(c(a)?);
                    }
                    ops.push(Op::Mkdir { dirs });
                }
                Step::Proc { target } => ops.push(Op::Proc { target: c(target)? }),
            }
        }
        Ok(CompiledPlan { ops })
    }
}

fn covering_overlay_strict<'a>(overlays: &[&'a Overlay], p: &Path) -> Option<&'a Overlay> {
    overlays
        .iter()
        .copied()
        .filter(|o| p.starts_with(&o.target) && o.target != p)
        .max_by_key(|o| depth(&o.target))
}

/// A plan ready to run in the child: only C strings and flags.
#[derive(Debug)]
pub(crate) struct CompiledPlan {
    ops: Vec<Op>,
}

#[derive(Debug)]
enum Op {
    Bind {
        source: CString,
        target: CString,
        attrs: u64,
        mkdirs: Vec<CString>,
        create: Option<Mountpoint>,
    },
    Mkdir {
        dirs: Vec<CString>,
    },
    Proc {
        target: CString,
    },
}

/// Which mount step failed, for the child's error report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StepFailure {
    pub index: usize,
    pub errno: i32,
}

fn check(ret: libc::c_int) -> Result<(), i32> {
    if ret == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EIO))
    }
}

fn set_attrs(target: &CString, attrs: u64) -> Result<(), i32> {
    if attrs == 0 {
        return Ok(());
    }
    // struct mount_attr { attr_set, attr_clr, propagation, userns_fd }: only adds flags, so
    // flags the kernel locked on the original mount (nosuid, nodev, ...) are kept as they are.
    let mount_attr: [u64; 4] = [attrs, 0, 0, 0];
    // SAFETY: target is a valid C string; mount_attr is 32 bytes, the size passed.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            libc::AT_FDCWD,
            target.as_ptr(),
            0u32,
            mount_attr.as_ptr(),
            std::mem::size_of_val(&mount_attr),
        )
    };
    check(ret as libc::c_int)
}

impl CompiledPlan {
    /// Opens every bind source, then makes `/` private and performs each step. Only raw
    /// syscalls on prepared data: safe in a child forked from a multi-threaded process.
    /// The source descriptors are opened first because overlays hide them.
    pub(crate) fn apply(&self) -> Result<(), StepFailure> {
        const MAX_BINDS: usize = 256;
        let mut fds = [-1i32; MAX_BINDS];
        let fail = |index: usize, errno: i32| StepFailure { index, errno };
        for (i, op) in self.ops.iter().enumerate() {
            if let Op::Bind { source, .. } = op {
                if i >= MAX_BINDS {
                    return Err(fail(i, libc::E2BIG));
                }
                // SAFETY: source is a valid C string.
                let fd = unsafe { libc::open(source.as_ptr(), libc::O_PATH | libc::O_CLOEXEC) };
                if fd < 0 {
                    return Err(fail(
                        i,
                        io::Error::last_os_error().raw_os_error().unwrap_or(0),
                    ));
                }
                fds[i] = fd;
            }
        }
        let root = c"/";
        // SAFETY: valid C strings; null data is allowed for propagation changes.
        check(unsafe {
            libc::mount(
                std::ptr::null(),
                root.as_ptr(),
                std::ptr::null(),
                libc::MS_REC | libc::MS_PRIVATE,
                std::ptr::null(),
            )
        })
        .map_err(|e| fail(usize::MAX, e))?;
        let mut deferred_attrs: [(usize, u64); MAX_BINDS] = [(0, 0); MAX_BINDS];
        let mut n_deferred = 0;
        for (i, op) in self.ops.iter().enumerate() {
            let result = match op {
                Op::Bind {
                    target,
                    attrs,
                    mkdirs,
                    create,
                    ..
                } => {
                    for dir in mkdirs {
                        // SAFETY: valid C string; EEXIST is fine.
                        unsafe { libc::mkdir(dir.as_ptr(), 0o755) };
                    }
                    match create {
                        Some(Mountpoint::Dir) => {
                            // SAFETY: valid C string.
                            unsafe { libc::mkdir(target.as_ptr(), 0o755) };
                        }
                        Some(Mountpoint::File) => {
                            // SAFETY: valid C string; the descriptor is closed at once.
                            let fd = unsafe {
                                libc::open(
                                    target.as_ptr(),
                                    libc::O_CREAT | libc::O_WRONLY | libc::O_CLOEXEC,
                                    0o644,
                                )
                            };
                            if fd >= 0 {
                                // SAFETY: closing the descriptor we just opened.
                                unsafe { libc::close(fd) };
                            }
                        }
                        None => {}
                    }
                    let mut src = [0u8; 32];
                    proc_fd_path(fds[i], &mut src);
                    // SAFETY: `src` is NUL-terminated by proc_fd_path; target is a C string.
                    let r = check(unsafe {
                        libc::mount(
                            src.as_ptr().cast(),
                            target.as_ptr(),
                            std::ptr::null(),
                            libc::MS_BIND | libc::MS_REC,
                            std::ptr::null(),
                        )
                    });
                    if r.is_ok() && *attrs != 0 {
                        // Read-only is applied after everything is mounted, because deeper
                        // mountpoints may still have to be created inside this one.
                        deferred_attrs[n_deferred] = (i, *attrs);
                        n_deferred += 1;
                    }
                    r
                }
                Op::Mkdir { dirs } => {
                    for dir in dirs {
                        // SAFETY: valid C string; EEXIST is fine.
                        unsafe { libc::mkdir(dir.as_ptr(), 0o755) };
                    }
                    Ok(())
                }
                Op::Proc { target } => {
                    // SAFETY: valid C strings.
                    check(unsafe {
                        libc::mount(
                            c"proc".as_ptr(),
                            target.as_ptr(),
                            c"proc".as_ptr(),
                            libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
                            std::ptr::null(),
                        )
                    })
                }
            };
            result.map_err(|e| fail(i, e))?;
        }
        for &(i, attrs) in &deferred_attrs[..n_deferred] {
            if let Op::Bind { target, .. } = &self.ops[i] {
                set_attrs(target, attrs).map_err(|e| fail(i, e))?;
            }
        }
        for fd in fds.iter().filter(|fd| **fd >= 0) {
            // SAFETY: closing descriptors opened above.
            unsafe { libc::close(*fd) };
        }
        Ok(())
    }

    /// A human description of step `index`, for error messages.
    pub(crate) fn describe(&self, index: usize) -> String {
        match self.ops.get(index) {
            None => "making the mount tree private".to_owned(),
            Some(Op::Bind { source, target, .. }) => format!(
                "bind-mounting {} onto {}",
                source.to_string_lossy(),
                target.to_string_lossy()
            ),
            Some(Op::Mkdir { dirs }) => format!(
                "creating {}",
                dirs.last()
                    .map_or(String::new(), |d| d.to_string_lossy().into_owned())
            ),
            Some(Op::Proc { target }) => {
                format!("mounting a fresh procfs on {}", target.to_string_lossy())
            }
        }
    }
}

/// Brings up `lo` in the calling process's network namespace (which must be the run's own:
/// this needs `CAP_NET_ADMIN` there). Raw syscalls only, no allocation: for the sandbox's init.
/// The kernel gives the loopback its addresses (`127.0.0.1`, `::1`) as it comes up.
pub(crate) fn loopback_up() -> Result<(), i32> {
    let errno = || {
        io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EIO)
    };
    // SAFETY: plain socket(2); closed below.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(errno());
    }
    // SAFETY: an all-zero ifreq is valid; the name fits with its NUL.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(b"lo") {
        *dst = *src as libc::c_char;
    }
    // SAFETY: SIOCGIFFLAGS and SIOCSIFFLAGS read and write the ifreq we own.
    let result = unsafe {
        if libc::ioctl(fd, libc::SIOCGIFFLAGS, &mut req) != 0 {
            Err(errno())
        } else {
            req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
            if libc::ioctl(fd, libc::SIOCSIFFLAGS, &req) != 0 {
                Err(errno())
            } else {
                Ok(())
            }
        }
    };
    // SAFETY: closing the socket opened above.
    unsafe { libc::close(fd) };
    result
}

/// Writes `/proc/self/fd/<fd>\0` into `buf` without allocating.
fn proc_fd_path(fd: i32, buf: &mut [u8; 32]) {
    let prefix = b"/proc/self/fd/";
    buf[..prefix.len()].copy_from_slice(prefix);
    let mut digits = [0u8; 12];
    let mut n = fd.max(0) as u32;
    let mut len = 0;
    loop {
        digits[len] = b'0' + (n % 10) as u8;
        len += 1;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for i in 0..len {
        buf[prefix.len() + i] = digits[len - 1 - i];
    }
    buf[prefix.len() + len] = 0;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn overlay(target: &str, source: &str) -> Overlay {
        Overlay {
            target: target.into(),
            source: source.into(),
            attrs: attr::NOEXEC,
        }
    }

    fn vis(path: &str, self_bind: bool) -> Visible {
        Visible {
            path: path.into(),
            attrs: if self_bind {
                attr::NOEXEC
            } else {
                attr::RDONLY
            },
            self_bind,
            contents: true,
        }
    }

    fn targets(plan: &MountPlan) -> Vec<String> {
        plan.steps
            .iter()
            .map(|s| match s {
                Step::Bind { target, create, .. } => format!(
                    "bind {}{}",
                    target.display(),
                    if create.is_some() { " +create" } else { "" }
                ),
                Step::Mkdir { target } => format!("mkdir {}", target.display()),
                Step::Proc { target } => format!("proc {}", target.display()),
            })
            .collect()
    }

    #[test]
    fn rebinds_what_overlays_hide_and_self_binds_writable_dirs() {
        let plan = MountPlan::new(
            &[
                overlay("/tmp", "/tmp/run1/tmp"),
                overlay("/tmp/w/home", "/tmp/run1/home"),
            ],
            &[
                vis("/usr", false),
                vis("/tmp/w/out", true),
                vis("/tmp/w/home/.cargo/registry", false),
                vis("/work/out", true),
                vis("/tmp/w/out/sub", false),
            ],
            &[],
        );
        assert_eq!(
            targets(&plan),
            vec![
                "bind /tmp",
                "bind /tmp/w/home +create",
                "bind /work/out",
                "bind /tmp/w/out +create",
                "bind /tmp/w/home/.cargo/registry +create",
                "proc /proc",
            ]
        );
    }

    #[test]
    fn a_working_directory_without_a_grant_is_an_empty_stand_in() {
        let mut cwd = vis("/tmp/w", false);
        cwd.contents = false;
        let plan = MountPlan::new(
            &[overlay("/tmp", "/tmp/run1/tmp")],
            &[cwd, vis("/tmp/w/out", true)],
            &[],
        );
        assert_eq!(
            targets(&plan),
            vec![
                "bind /tmp",
                "mkdir /tmp/w",
                "bind /tmp/w/out +create",
                "proc /proc"
            ]
        );
    }

    #[test]
    fn masks_only_what_is_visible() {
        let plan = MountPlan::new(
            &[overlay("/home/u", "/tmp/run/home")],
            &[vis("/etc", false)],
            &[
                (PathBuf::from("/etc/hostname"), PathBuf::from("/tmp/run/t1")),
                (PathBuf::from("/home/u/.ssh"), PathBuf::from("/tmp/run/t2")),
            ],
        );
        assert_eq!(
            targets(&plan),
            vec!["bind /home/u", "bind /etc/hostname", "proc /proc"]
        );
    }

    #[test]
    fn proc_fd_paths() {
        let mut buf = [0u8; 32];
        proc_fd_path(1234, &mut buf);
        assert_eq!(&buf[..20], b"/proc/self/fd/1234\0\0");
        proc_fd_path(0, &mut buf);
        assert_eq!(&buf[..16], b"/proc/self/fd/0\0");
    }
}
