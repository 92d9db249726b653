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
use std::ffi::CString;
use std::fs;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// What opening a tripwire means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Meaning {
    /// A decoy secret, by name.
    Decoy(String),
    /// A protected path (inside view) whose real content was withheld.
    Protected(PathBuf),
}

/// One planted file or directory.
#[derive(Debug, Clone)]
pub struct Tripwire {
    /// Where it lives on the host (what inotify watches).
    pub host: PathBuf,
    pub meaning: Meaning,
}

/// Directories of a home whose entries are mirrored one level deep (by name, never content).
pub const SECRET_DIRS: &[&str] = &[
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
pub fn mirror_home(
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
pub const MAX_MIRRORED: usize = 512;

/// An inotify instance watching a set of tripwires.
pub struct Watch {
    /// Always `Some` until dropped.
    fd: Option<OwnedFd>,
    by_wd: HashMap<i32, Meaning>,
}

impl Drop for Watch {
    /// Releasing an inotify instance with watches waits for an SRCU grace period; the closer
    /// process pays it instead of the run.
    fn drop(&mut self) {
        if let Some(fd) = self.fd.take() {
            super::closer::close_later(fd);
        }
    }
}

impl Watch {
    /// Watches every tripwire for opens.
    pub fn new(tripwires: &[Tripwire]) -> io::Result<Watch> {
        // SAFETY: plain inotify_init1.
        let fd = unsafe { libc::inotify_init1(libc::IN_CLOEXEC | libc::IN_NONBLOCK) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: the kernel just created it.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let mut by_wd = HashMap::new();
        for t in tripwires {
            let Ok(path) = CString::new(t.host.as_os_str().as_bytes()) else {
                continue;
            };
            // SAFETY: valid C string.
            let wd =
                unsafe { libc::inotify_add_watch(fd.as_raw_fd(), path.as_ptr(), libc::IN_OPEN) };
            if wd < 0 {
                return Err(io::Error::last_os_error());
            }
            by_wd.insert(wd, t.meaning.clone());
        }
        Ok(Watch {
            fd: Some(fd),
            by_wd,
        })
    }

    /// The descriptor to poll.
    pub fn raw_fd(&self) -> i32 {
        self.fd.as_ref().map_or(-1, AsRawFd::as_raw_fd)
    }

    /// Drains pending events: what was opened, once each per call.
    pub fn drain(&self) -> Vec<Meaning> {
        let mut out: Vec<Meaning> = Vec::new();
        // Aligned for struct inotify_event.
        let mut buf = [0u64; 512];
        loop {
            // SAFETY: `buf` is writable for its length.
            let n = unsafe {
                libc::read(
                    self.raw_fd(),
                    buf.as_mut_ptr().cast(),
                    std::mem::size_of_val(&buf),
                )
            };
            if n <= 0 {
                break;
            }
            // SAFETY: reinterpreting our own buffer as bytes.
            let bytes =
                unsafe { std::slice::from_raw_parts(buf.as_ptr().cast::<u8>(), n as usize) };
            let mut off = 0usize;
            while off + 16 <= bytes.len() {
                let wd = i32::from_ne_bytes(bytes[off..off + 4].try_into().unwrap_or([0; 4]));
                let len = u32::from_ne_bytes(bytes[off + 12..off + 16].try_into().unwrap_or([0; 4]))
                    as usize;
                if let Some(m) = self.by_wd.get(&wd) {
                    if !out.contains(m) {
                        out.push(m.clone());
                    }
                }
                off += 16 + len;
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
