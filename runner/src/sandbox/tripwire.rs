//! Tripwires: files planted in the sandbox's view whose every opening the supervisor learns of
//! through fanotify (root) or inotify, however the file was reached: every `open` reaches the
//! supervisor as well, but one through a symlink there names another path, and is only seen
//! here.
//!
//! Three kinds are planted:
//! - the decoys of the decoy home (`~/.ssh/id_rsa`, ...): opening one is a `leak/decoy-read`;
//! - stand-ins for what the real home holds (its top-level entries and the contents of the usual
//!   secret directories, by name only, empty): opening one is a denied `fs/read` of the real
//!   path, whose content the sandbox never saw;
//! - masks over protected files that a broader grant would expose (`/etc/shadow` under `/etc`).

use std::collections::HashMap;
use std::fs;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use nix::fcntl::AT_FDCWD;
use nix::sys::fanotify::{EventFFlags, Fanotify, InitFlags as FanInit, MarkFlags, MaskFlags};
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify, WatchDescriptor};
use nix::sys::stat::fstat;

/// What opening a tripwire means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Meaning {
    /// A decoy secret, by name.
    Decoy(String),
    /// A protected path (inside view) whose real content was withheld.
    Protected(PathBuf),
}

/// One planted file or directory.
#[derive(Debug, Clone)]
pub(crate) struct Tripwire {
    /// Where it lives on the host (what inotify watches).
    pub host: PathBuf,
    pub meaning: Meaning,
}

/// Directories of a home whose entries are mirrored one level deep (by name, never content).
pub(crate) const SECRET_DIRS: &[&str] = &[
    ".ssh",
    ".aws",
    ".gnupg",
    ".kube",
    ".docker",
    ".cargo",
    ".config/gh",
    ".config/gcloud",
    ".azure",
];

/// Plants empty stand-ins in `decoy_home` for what `real_home` holds: its top-level entries and
/// the entries of [`SECRET_DIRS`], skipping paths a decoy already occupies and anything in
/// `keep` (paths the sandbox is granted, which are bound in their real form).
pub(crate) fn mirror_home(
    real_home: &Path,
    decoy_home: &Path,
    home_inside: &Path,
    keep: &[PathBuf],
) -> Vec<Tripwire> {
    let mut out = Vec::new();
    let mut plant = |rel: &Path, is_dir: bool| {
        let host = decoy_home.join(rel);
        let inside = home_inside.join(rel);
        if host.exists() || keep.iter().any(|k| k.starts_with(&inside)) {
            return;
        }
        let made = if is_dir {
            fs::create_dir_all(&host)
        } else {
            host.parent()
                .map_or(Ok(()), fs::create_dir_all)
                .and_then(|()| fs::write(&host, b""))
        };
        if made.is_ok() {
            out.push(Tripwire {
                host,
                meaning: Meaning::Protected(inside),
            });
        }
    };
    let list = |dir: &Path| -> Vec<(PathBuf, bool)> {
        fs::read_dir(dir)
            .map(|entries| {
                entries
                    .flatten()
                    .take(MAX_MIRRORED)
                    .map(|e| {
                        (
                            PathBuf::from(e.file_name()),
                            e.file_type().is_ok_and(|t| t.is_dir()),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    for (name, is_dir) in list(real_home) {
        plant(&name, is_dir);
    }
    for dir in SECRET_DIRS {
        for (name, is_dir) in list(&real_home.join(dir)) {
            plant(&Path::new(dir).join(name), is_dir);
        }
    }
    out
}

/// Most entries mirrored from one directory.
pub(crate) const MAX_MIRRORED: usize = 512;

/// Where a watch learns of opens: fanotify where it may (as root), which gives the opener and
/// the file as opened; inotify elsewhere, which gives neither.
enum Notifier {
    Fanotify(Fanotify),
    Inotify(Inotify),
}

/// A watch over a set of tripwires.
///
/// The stand-ins live in the run's directory on the host, where a host process may open them
/// too (a `find /`, an indexer, a backup). Inotify cannot tell such an open from the sandbox's,
/// so unprivileged every open counts: the run's directory is closed (mode `000`,
/// `rundir::hide`) once the sandbox has mounted it, which keeps the user's own host processes
/// out (a root process still gets in). Fanotify (root) hands over the file as it was opened:
/// opened through the host's own name of the stand-in, it was a host process's, and is
/// ignored; through the sandbox's mounts (which the host's namespace does not hold, so the
/// file is named as the sandbox sees it), it was the run's, and its opener is known.
pub(crate) struct Watch {
    /// Always `Some` until dropped.
    notifier: Option<Notifier>,
    by_wd: HashMap<WatchDescriptor, Meaning>,
    /// Each tripwire by its file (device, inode), with its host path.
    by_inode: HashMap<(u64, u64), (PathBuf, Meaning)>,
}

/// One open of a tripwire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Seen {
    pub meaning: Meaning,
    /// The opener, as the host numbers it, where the watch knows it (fanotify).
    pub pid: Option<i32>,
}

impl Drop for Watch {
    /// Releasing a notification group with marks waits for an SRCU grace period; the closer
    /// process pays it instead of the run.
    fn drop(&mut self) {
        match self.notifier.take() {
            Some(Notifier::Fanotify(f)) => super::closer::close_later(OwnedFd::from(f)),
            Some(Notifier::Inotify(i)) => super::closer::close_later(OwnedFd::from(i)),
            None => {}
        }
    }
}

impl AsFd for Watch {
    /// The descriptor to poll.
    fn as_fd(&self) -> BorrowedFd<'_> {
        match &self.notifier {
            Some(Notifier::Fanotify(f)) => f.as_fd(),
            Some(Notifier::Inotify(i)) => i.as_fd(),
            None => unreachable!("the notifier is only taken by drop"),
        }
    }
}

impl Watch {
    /// Watches every tripwire for opens: with fanotify as root, else (or if fanotify fails)
    /// with inotify.
    pub(crate) fn new(tripwires: &[Tripwire]) -> io::Result<Watch> {
        if nix::unistd::geteuid().is_root() {
            if let Ok(watch) = Watch::with_fanotify(tripwires) {
                return Ok(watch);
            }
        }
        Watch::with_inotify(tripwires)
    }

    /// Watches with inotify: every open counts, whoever made it.
    pub(crate) fn with_inotify(tripwires: &[Tripwire]) -> io::Result<Watch> {
        let inotify = Inotify::init(InitFlags::IN_CLOEXEC | InitFlags::IN_NONBLOCK)?;
        let mut by_wd = HashMap::new();
        for t in tripwires {
            let wd = inotify.add_watch(&t.host, AddWatchFlags::IN_OPEN)?;
            by_wd.insert(wd, t.meaning.clone());
        }
        Ok(Watch {
            notifier: Some(Notifier::Inotify(inotify)),
            by_wd,
            by_inode: HashMap::new(),
        })
    }

    /// Watches with fanotify (needs `CAP_SYS_ADMIN`): opens through the host's name of a
    /// stand-in are ignored.
    fn with_fanotify(tripwires: &[Tripwire]) -> io::Result<Watch> {
        let fanotify = Fanotify::init(
            FanInit::FAN_CLASS_NOTIF | FanInit::FAN_CLOEXEC | FanInit::FAN_NONBLOCK,
            EventFFlags::O_RDONLY | EventFFlags::O_CLOEXEC | EventFFlags::O_LARGEFILE,
        )?;
        let mut by_inode = HashMap::new();
        for t in tripwires {
            fanotify.mark(
                MarkFlags::FAN_MARK_ADD,
                MaskFlags::FAN_OPEN | MaskFlags::FAN_ONDIR,
                AT_FDCWD,
                Some(&t.host),
            )?;
            let meta = fs::symlink_metadata(&t.host)?;
            by_inode.insert(
                (meta.dev(), meta.ino()),
                (t.host.clone(), t.meaning.clone()),
            );
        }
        Ok(Watch {
            notifier: Some(Notifier::Fanotify(fanotify)),
            by_wd: HashMap::new(),
            by_inode,
        })
    }

    /// Drains pending events: what was opened (and by whom, where known), once each per call.
    pub(crate) fn drain(&self) -> Vec<Seen> {
        let mut out: Vec<Seen> = Vec::new();
        let mut add = |seen: Seen| {
            if !out.contains(&seen) {
                out.push(seen);
            }
        };
        // Non-blocking: EAGAIN once everything pending is read.
        match &self.notifier {
            Some(Notifier::Inotify(inotify)) => {
                while let Ok(events) = inotify.read_events() {
                    if events.is_empty() {
                        break;
                    }
                    for event in events {
                        if let Some(m) = self.by_wd.get(&event.wd) {
                            add(Seen {
                                meaning: m.clone(),
                                pid: None,
                            });
                        }
                    }
                }
            }
            Some(Notifier::Fanotify(fanotify)) => {
                while let Ok(events) = fanotify.read_events() {
                    if events.is_empty() {
                        break;
                    }
                    for event in &events {
                        if let Some(meaning) = event.fd().and_then(|fd| self.opened_by_run(fd)) {
                            add(Seen {
                                meaning,
                                pid: Some(event.pid()),
                            });
                        }
                    }
                }
            }
            None => {}
        }
        out
    }

    /// The tripwire `file` (as a fanotify event opened it) is, if the run opened it: its name
    /// as opened is not the host's name of the stand-in.
    fn opened_by_run(&self, file: BorrowedFd<'_>) -> Option<Meaning> {
        let stat = fstat(file).ok()?;
        let (host, meaning) = self
            .by_inode
            .get(&(stat.st_dev as u64, stat.st_ino as u64))?;
        let named = fs::read_link(format!("/proc/self/fd/{}", file.as_raw_fd())).ok()?;
        (named != *host).then(|| meaning.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mirrors_names_never_content_and_sees_opens() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real");
        let decoy = dir.path().join("decoy");
        fs::create_dir_all(real.join(".ssh")).unwrap();
        fs::create_dir_all(real.join("project")).unwrap();
        fs::write(real.join("secret.txt"), "REAL").unwrap();
        fs::write(real.join(".ssh/id_ecdsa"), "REAL KEY").unwrap();
        fs::create_dir_all(&decoy).unwrap();
        let inside = Path::new("/home/u");
        let wires = mirror_home(&real, &decoy, inside, &[PathBuf::from("/home/u/project")]);
        assert_eq!(fs::read(decoy.join("secret.txt")).unwrap(), b"");
        assert_eq!(fs::read(decoy.join(".ssh/id_ecdsa")).unwrap(), b"");
        assert!(
            !decoy.join("project").exists(),
            "granted paths are left to their rebind"
        );
        let watch = Watch::with_inotify(&wires).unwrap();
        assert!(watch.drain().is_empty());
        let _ = fs::read(decoy.join("secret.txt"));
        assert_eq!(
            watch.drain(),
            vec![Seen {
                meaning: Meaning::Protected(PathBuf::from("/home/u/secret.txt")),
                pid: None
            }]
        );
    }

    #[test]
    fn as_root_a_host_open_of_a_stand_in_is_not_the_runs() {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("skipped: fanotify needs root");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let host = dir.path().join("stand-in");
        fs::write(&host, b"").unwrap();
        let target = dir.path().join("where-the-sandbox-sees-it");
        fs::write(&target, b"").unwrap();
        let wires = [Tripwire {
            host: host.clone(),
            meaning: Meaning::Protected(PathBuf::from("/home/u/.profile")),
        }];
        let watch = Watch::new(&wires).unwrap();
        assert!(matches!(watch.notifier, Some(Notifier::Fanotify(_))));
        // A host process opening the stand-in by its host name: not the run.
        let _ = fs::read(&host);
        assert!(watch.drain().is_empty());
        // Through a bind mount in a mount namespace of its own, as the sandbox sees it: the
        // run's, with the opener.
        let host_c = std::ffi::CString::new(host.as_os_str().as_encoded_bytes()).unwrap();
        let target_c = std::ffi::CString::new(target.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: the child makes raw syscalls only and `_exit`s.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0);
        if pid == 0 {
            // SAFETY: raw syscalls on valid C strings, in the forked child.
            let code = unsafe {
                let private = libc::unshare(libc::CLONE_NEWNS) == 0
                    && libc::mount(
                        std::ptr::null(),
                        c"/".as_ptr(),
                        std::ptr::null(),
                        libc::MS_REC | libc::MS_PRIVATE,
                        std::ptr::null(),
                    ) == 0
                    && libc::mount(
                        host_c.as_ptr(),
                        target_c.as_ptr(),
                        std::ptr::null(),
                        libc::MS_BIND,
                        std::ptr::null(),
                    ) == 0;
                let fd = libc::open(target_c.as_ptr(), libc::O_RDONLY);
                i32::from(!private || fd < 0)
            };
            // SAFETY: ending the forked child without running destructors.
            unsafe { libc::_exit(code) };
        }
        let mut status = 0;
        // SAFETY: waiting for our own child.
        unsafe { libc::waitpid(pid, &mut status, 0) };
        assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0);
        assert_eq!(
            watch.drain(),
            vec![Seen {
                meaning: Meaning::Protected(PathBuf::from("/home/u/.profile")),
                pid: Some(pid)
            }]
        );
    }
}
