//! Persistence: writes that would make code run later, outside the run (an ssh key that lets
//! someone in, a line in a shell's startup file, an autostart entry, a systemd user unit, a
//! crontab, a git or cargo configuration that runs a command, a program dropped in a directory
//! on `PATH`). A create, write, rename, hard link or symlink onto such a path under the run's
//! home (the decoy home, or the real one where a grant shows it) or in the system's startup
//! places is an event of its own, `reason: persistence`, whatever the sandbox decides: `denied`
//! where the path is not writable (the decoy home never is), `flagged` where a grant let it go
//! ahead. Other writes in the home stay quiet (tools try to write caches there).
//!
//! Only calls that could change a file reach this module (write-intent opens, links, renames,
//! symlinks): it costs a few byte comparisons per such call.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use super::inside::{absolute, beneath};
use super::{Answer, Call, Handler};
use crate::events::{Decision, Event, Kind};
use crate::sandbox::procmem::read_cstring;

/// How a persistence path matches: the file itself, or anything beneath a directory.
#[derive(Clone, Copy)]
enum Match {
    File,
    Beneath,
}

/// Persistence paths relative to a home, with what each is.
const IN_HOME: &[(&str, Match, &str)] = &[
    (".ssh/authorized_keys", Match::File, "ssh authorized keys"),
    (".ssh/authorized_keys2", Match::File, "ssh authorized keys"),
    (".ssh/rc", Match::File, "ssh login script"),
    (".ssh/environment", Match::File, "ssh login environment"),
    (
        ".ssh/config",
        Match::File,
        "ssh configuration (ProxyCommand runs a program)",
    ),
    (".bashrc", Match::File, "shell startup file"),
    (".bash_profile", Match::File, "shell startup file"),
    (".bash_login", Match::File, "shell startup file"),
    (".bash_logout", Match::File, "shell startup file"),
    (".bashrc.d", Match::Beneath, "shell startup file"),
    (".profile", Match::File, "shell startup file"),
    (".zshrc", Match::File, "shell startup file"),
    (".zshenv", Match::File, "shell startup file"),
    (".zprofile", Match::File, "shell startup file"),
    (".zlogin", Match::File, "shell startup file"),
    (".config/fish", Match::Beneath, "shell startup file"),
    (".xprofile", Match::File, "session startup file"),
    (".xsessionrc", Match::File, "session startup file"),
    (".xinitrc", Match::File, "session startup file"),
    (".pam_environment", Match::File, "login environment"),
    (".config/environment.d", Match::Beneath, "login environment"),
    (".config/autostart", Match::Beneath, "autostart entry"),
    (".config/systemd/user", Match::Beneath, "systemd user unit"),
    (
        ".local/share/systemd/user",
        Match::Beneath,
        "systemd user unit",
    ),
    (
        ".gitconfig",
        Match::File,
        "git configuration (hooks, aliases, filters run programs)",
    ),
    (
        ".config/git",
        Match::Beneath,
        "git configuration (hooks, aliases, filters run programs)",
    ),
    (
        ".cargo/config.toml",
        Match::File,
        "cargo configuration (runners, rustc wrappers)",
    ),
    (
        ".cargo/config",
        Match::File,
        "cargo configuration (runners, rustc wrappers)",
    ),
    (
        ".cargo/bin",
        Match::Beneath,
        "a directory on PATH (toolchain hijack)",
    ),
    (".local/bin", Match::Beneath, "a directory on PATH"),
];

/// Persistence paths of the system (writes there are refused anyway: recorded as such).
const SYSTEM: &[(&str, Match, &str)] = &[
    ("/var/spool/cron", Match::Beneath, "crontab"),
    ("/etc/crontab", Match::File, "crontab"),
    ("/etc/cron.d", Match::Beneath, "crontab"),
    ("/etc/cron.hourly", Match::Beneath, "crontab"),
    ("/etc/cron.daily", Match::Beneath, "crontab"),
    ("/etc/cron.weekly", Match::Beneath, "crontab"),
    ("/etc/cron.monthly", Match::Beneath, "crontab"),
    ("/etc/profile", Match::File, "shell startup file"),
    ("/etc/profile.d", Match::Beneath, "shell startup file"),
    ("/etc/bash.bashrc", Match::File, "shell startup file"),
    ("/etc/environment", Match::File, "login environment"),
    ("/etc/ld.so.preload", Match::File, "loader preload"),
    ("/etc/systemd/system", Match::Beneath, "systemd unit"),
    ("/etc/rc.local", Match::File, "system startup script"),
    ("/etc/xdg/autostart", Match::Beneath, "autostart entry"),
];

/// Whether `path` is `base/rel` (a file match) or lies beneath it.
fn matches(path: &Path, base: &Path, rel: &str, how: Match) -> bool {
    let Ok(rest) = path.strip_prefix(base) else {
        return false;
    };
    let rest = rest.as_os_str().as_bytes();
    let rel = rel.as_bytes();
    match how {
        Match::File => rest == rel,
        Match::Beneath => {
            rest.starts_with(rel) && (rest.len() == rel.len() || rest[rel.len()] == b'/')
        }
    }
}

/// What persistence path `path` (absolute, normalized) is, with `homes` the run's homes
/// (inside view): `None` for any other path.
pub(super) fn persistence_of(path: &Path, homes: &[PathBuf]) -> Option<&'static str> {
    let in_home = homes
        .iter()
        .filter(|home| beneath(path, home))
        .find_map(|home| {
            IN_HOME
                .iter()
                .find(|(rel, how, _)| matches(path, home, rel, *how))
        });
    let system = || {
        SYSTEM
            .iter()
            .find(|(abs, how, _)| matches(path, Path::new("/"), &abs[1..], *how))
    };
    in_home.or_else(system).map(|(_, _, what)| *what)
}

/// One attempt on a persistence path, as the handlers decoded it.
pub(super) struct Attempt<'a> {
    /// The event's action: `write`, `create`, `rename`, `link`, `symlink`.
    pub action: &'static str,
    /// The path as the process named it.
    pub named: &'a [u8],
    /// Absolute and normalized (inside view).
    pub path: &'a Path,
    /// Where the change lands, symlinks followed, when known.
    pub resolved: Option<&'a Path>,
    /// A second detail, e.g. `("from", source)` for a rename.
    pub other: Option<(&'static str, &'a Path)>,
}

impl Handler {
    /// If `attempt` names a persistence path (as named or as resolved), records it and returns
    /// the answer: refused (`EACCES`) unless the path is writable, in which case the caller
    /// goes on (Landlock decides) and the event is `flagged`.
    pub(super) fn persistence(&self, call: &Call, attempt: &Attempt<'_>) -> Option<Answer> {
        let homes = &self.ctx.homes;
        let resolved = attempt.resolved.unwrap_or(attempt.path);
        let what =
            persistence_of(attempt.path, homes).or_else(|| persistence_of(resolved, homes))?;
        // The decoy home is mounted read-only whatever the regions say (it may lie beneath a
        // writable one, a home in /tmp), and protected paths are refused before Landlock.
        let decoy_home = self.ctx.decoys.as_ref().map(|v| v.home_inside.as_path());
        let refused = [attempt.path, resolved].iter().any(|p| {
            decoy_home.is_some_and(|h| beneath(p, h)) || self.is_protected(p) || !self.writable(p)
        });
        let decision = if refused {
            Decision::Denied
        } else {
            Decision::Flagged
        };
        let mut event = Event::new(Kind::Fs, attempt.action, decision)
            .with("path", attempt.path.to_string_lossy())
            .with(
                "named",
                OsStr::from_bytes(attempt.named)
                    .to_string_lossy()
                    .into_owned(),
            )
            .with("resolved", resolved.to_string_lossy())
            .with("reason", "persistence")
            .with("persistence", what);
        if let Some((key, value)) = attempt.other {
            event = event.with(key, value.to_string_lossy());
        }
        self.record(call, event);
        Some(if refused {
            Answer::Deny(libc::EACCES)
        } else {
            Answer::Continue
        })
    }
}

impl Handler {
    /// A rename or symlink (routed for `produced.rs`) onto a persistence path: recorded, and
    /// refused where the path is not writable. `None` for any other call.
    pub(super) fn swap_persistence(&self, call: &Call) -> Option<Answer> {
        // (action, the new name's dirfd and pointer, the other name's dirfd and pointer)
        let (action, new, other): (&'static str, (i32, u64), (i32, u64)) = match call.nr {
            #[cfg(target_arch = "x86_64")]
            libc::SYS_rename => (
                "rename",
                (libc::AT_FDCWD, call.args[1]),
                (libc::AT_FDCWD, call.args[0]),
            ),
            libc::SYS_renameat | libc::SYS_renameat2 => (
                "rename",
                (call.args[2] as i32, call.args[3]),
                (call.args[0] as i32, call.args[1]),
            ),
            #[cfg(target_arch = "x86_64")]
            libc::SYS_symlink => (
                "symlink",
                (libc::AT_FDCWD, call.args[1]),
                (libc::AT_FDCWD, call.args[0]),
            ),
            libc::SYS_symlinkat => (
                "symlink",
                (call.args[1] as i32, call.args[2]),
                (libc::AT_FDCWD, call.args[0]),
            ),
            _ => return None,
        };
        let named = read_cstring(call.pid, new.1)?;
        let path = absolute(call.pid, new.0, OsStr::from_bytes(&named))?;
        persistence_of(&path, &self.ctx.homes)?;
        let other_raw = read_cstring(call.pid, other.1)?;
        let (key, other_path) = if action == "rename" {
            (
                "from",
                absolute(call.pid, other.0, OsStr::from_bytes(&other_raw))?,
            )
        } else {
            // A symlink's target is text, kept as written.
            ("target", PathBuf::from(OsStr::from_bytes(&other_raw)))
        };
        if !call.still_pending() {
            return Some(Answer::Deny(libc::ESRCH)); // what was read may be another process's
        }
        self.persistence(
            call,
            &Attempt {
                action,
                named: &named,
                path: &path,
                resolved: None,
                other: Some((key, &other_path)),
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn persistence_paths_under_a_home_and_the_system() {
        let homes = [PathBuf::from("/home/u"), PathBuf::from("/run/airlock/home")];
        let of = |p: &str| persistence_of(Path::new(p), &homes);
        assert_eq!(
            of("/home/u/.ssh/authorized_keys"),
            Some("ssh authorized keys")
        );
        assert_eq!(of("/run/airlock/home/.bashrc"), Some("shell startup file"));
        assert_eq!(
            of("/home/u/.config/autostart/x.desktop"),
            Some("autostart entry")
        );
        assert_eq!(
            of("/home/u/.config/systemd/user/evil.service"),
            Some("systemd user unit")
        );
        assert!(of("/home/u/.cargo/bin/cargo").is_some());
        assert!(of("/home/u/.cargo/config.toml").is_some());
        assert!(of("/home/u/.gitconfig").is_some());
        assert_eq!(of("/var/spool/cron/crontabs/u"), Some("crontab"));
        assert_eq!(of("/etc/ld.so.preload"), Some("loader preload"));
        // Caches and look-alikes stay quiet.
        assert_eq!(of("/home/u/.cache/x"), None);
        assert_eq!(of("/home/u/.ssh/known_hosts"), None);
        assert_eq!(of("/home/u/.bashrc.bak"), None);
        assert_eq!(of("/home/u/.cargo/binx"), None);
        assert_eq!(of("/home/u/.cargo/registry/cache/x"), None);
        assert_eq!(of("/elsewhere/.bashrc"), None);
        assert_eq!(of("/etc/profile.dx"), None);
    }
}
