//! Tripwires: files planted in the sandbox's view whose every opening the supervisor learns of
//! through inotify, without routing ordinary reads through seccomp (which would cost a round
//! trip per `open` of every header a compiler reads).
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
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify, WatchDescriptor};

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

/// An inotify instance watching a set of tripwires.
pub(crate) struct Watch {
    /// Always `Some` until dropped.
    inotify: Option<Inotify>,
    by_wd: HashMap<WatchDescriptor, Meaning>,
}

impl Drop for Watch {
    /// Releasing an inotify instance with watches waits for an SRCU grace period; the closer
    /// process pays it instead of the run.
    fn drop(&mut self) {
        if let Some(inotify) = self.inotify.take() {
            super::closer::close_later(OwnedFd::from(inotify));
        }
    }
}

impl AsFd for Watch {
    /// The descriptor to poll.
    fn as_fd(&self) -> BorrowedFd<'_> {
        match &self.inotify {
            Some(inotify) => inotify.as_fd(),
            None => unreachable!("the inotify instance is only taken by drop"),
        }
    }
}

impl Watch {
    /// Watches every tripwire for opens.
    pub(crate) fn new(tripwires: &[Tripwire]) -> io::Result<Watch> {
        let inotify = Inotify::init(InitFlags::IN_CLOEXEC | InitFlags::IN_NONBLOCK)?;
        let mut by_wd = HashMap::new();
        for t in tripwires {
            let wd = inotify.add_watch(&t.host, AddWatchFlags::IN_OPEN)?;
            by_wd.insert(wd, t.meaning.clone());
        }
        Ok(Watch {
            inotify: Some(inotify),
            by_wd,
        })
    }

    /// Drains pending events: what was opened, once each per call.
    pub(crate) fn drain(&self) -> Vec<Meaning> {
        let mut out: Vec<Meaning> = Vec::new();
        let Some(inotify) = &self.inotify else {
            return out;
        };
        // Non-blocking: EAGAIN once everything pending is read.
        while let Ok(events) = inotify.read_events() {
            if events.is_empty() {
                break;
            }
            for event in events {
                if let Some(m) = self.by_wd.get(&event.wd) {
                    if !out.contains(m) {
                        out.push(m.clone());
                    }
                }
            }
        }
        out
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
        let watch = Watch::new(&wires).unwrap();
        assert!(watch.drain().is_empty());
        let _ = fs::read(decoy.join("secret.txt"));
        assert_eq!(
            watch.drain(),
            vec![Meaning::Protected(PathBuf::from("/home/u/secret.txt"))]
        );
    }
}
