//! The limits layer: per-process resource limits (`setrlimit`) applied in the sandbox child,
//! and, where the caller may create one (root), a pids cgroup that caps the whole run's process
//! count and counts refused forks.
//!
//! `RLIMIT_NPROC` alone is not enough as root: the kernel exempts the root user from it, and in
//! our user namespace the sandbox's root is the host's root. The pids cgroup has no such
//! exemption, and its `pids.events` tells us exactly how many forks it refused.

use std::fs;
use std::io;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use crate::profile::Limits;

/// Resource limits as `(resource, value)` pairs, ready for the child.
#[derive(Debug, Clone)]
pub struct Rlimits {
    pairs: Vec<(libc::__rlimit_resource_t, u64)>,
}

impl Rlimits {
    /// The limits of `limits`, plus no core dumps (a dump would hold whatever the process read).
    pub fn from_profile(limits: &Limits) -> Rlimits {
        let mut pairs = vec![
            (libc::RLIMIT_NPROC, limits.processes),
            (libc::RLIMIT_FSIZE, limits.file_size),
            (libc::RLIMIT_CORE, 0),
        ];
        if let Some(memory) = limits.memory {
            pairs.push((libc::RLIMIT_AS, memory));
        }
        if let Some(stack) = limits.stack {
            pairs.push((libc::RLIMIT_STACK, stack));
        }
        Rlimits { pairs }
    }

    /// Applies every limit to the calling process. Raw syscalls only (child-safe). On failure,
    /// returns the resource and errno.
    pub fn apply(&self) -> Result<(), (u32, i32)> {
        for &(resource, value) in &self.pairs {
            let limit = libc::rlimit {
                rlim_cur: value,
                rlim_max: value,
            };
            // SAFETY: `limit` is a valid rlimit for the duration of the call.
            if unsafe { libc::setrlimit(resource, &limit) } != 0 {
                let errno = io::Error::last_os_error().raw_os_error().unwrap_or(0);
                // Lowering a hard limit never fails; raising one above the caller's does. Keep
                // the caller's lower limit rather than fail the run.
                let mut current = libc::rlimit {
                    rlim_cur: 0,
                    rlim_max: 0,
                };
                // SAFETY: `current` is writable.
                unsafe { libc::getrlimit(resource, &mut current) };
                if current.rlim_max >= value {
                    return Err((resource, errno));
                }
            }
        }
        Ok(())
    }
}

/// A pids cgroup holding one run.
#[derive(Debug)]
pub struct PidsCgroup {
    dir: PathBuf,
}

impl PidsCgroup {
    /// Creates a pids cgroup capped at `max` processes, beneath the caller's own pids cgroup,
    /// in the v2 hierarchy if it has the pids controller, else in v1's `pids` hierarchy.
    /// `None` where neither is writable (unprivileged callers, containers).
    pub fn create(max: u64) -> Option<PidsCgroup> {
        let own = fs::read_to_string("/proc/self/cgroup").ok()?;
        let candidates = cgroup_dirs(&own);
        static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        for base in candidates {
            let dir = base.join(format!("airlock-{}-{n}", std::process::id()));
            if fs::create_dir(&dir).is_err() {
                continue;
            }
            if fs::write(dir.join("pids.max"), max.to_string()).is_ok() {
                return Some(PidsCgroup { dir });
            }
            let _ = fs::remove_dir(&dir);
        }
        None
    }

    /// The cgroup's `tasks` file opened for writing, where there is one (cgroup v1): a thread
    /// that writes `0` there moves itself, without the global lock a move of another process
    /// takes (see [`crate::sandbox::child::ChildPlan::join_cgroup`]).
    pub fn open_tasks(&self) -> Option<OwnedFd> {
        fs::OpenOptions::new()
            .write(true)
            .open(self.dir.join("tasks"))
            .ok()
            .map(OwnedFd::from)
    }

    /// Moves process `pid` (and so its future children) into the cgroup.
    pub fn add(&self, pid: i32) -> io::Result<()> {
        fs::write(self.dir.join("cgroup.procs"), pid.to_string())
    }

    /// How many forks the cgroup refused.
    pub fn refused_forks(&self) -> u64 {
        fs::read_to_string(self.dir.join("pids.events"))
            .ok()
            .and_then(|text| {
                text.lines()
                    .find_map(|l| l.strip_prefix("max "))
                    .and_then(|n| n.trim().parse().ok())
            })
            .unwrap_or(0)
    }

    /// Where the cgroup lives.
    pub fn path(&self) -> &Path {
        &self.dir
    }
}

impl Drop for PidsCgroup {
    fn drop(&mut self) {
        // The run's processes are gone by now; an empty cgroup can be removed.
        let _ = fs::remove_dir(&self.dir);
    }
}

/// Candidate parent directories for a pids cgroup, from `/proc/self/cgroup`.
fn cgroup_dirs(own: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for line in own.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(_id), Some(controllers), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let rel = path.trim_start_matches('/');
        if controllers.is_empty() {
            for root in ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"] {
                let base = Path::new(root).join(rel);
                let has_pids = fs::read_to_string(Path::new(root).join("cgroup.controllers"))
                    .is_ok_and(|c| c.split_whitespace().any(|w| w == "pids"));
                if has_pids {
                    out.push(base);
                }
            }
        } else if controllers.split(',').any(|c| c == "pids") {
            out.push(Path::new("/sys/fs/cgroup/pids").join(rel));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cgroup_candidates_from_proc_self_cgroup() {
        let dirs = cgroup_dirs("8:pids:/user.slice\n4:memory:/x\n");
        assert_eq!(dirs, vec![PathBuf::from("/sys/fs/cgroup/pids/user.slice")]);
    }

    #[test]
    fn rlimits_include_profile_values() {
        let limits = Limits {
            timeout: None,
            processes: 64,
            file_size: 1 << 20,
            memory: Some(1 << 30),
            stack: Some(2 << 20),
        };
        let r = Rlimits::from_profile(&limits);
        assert!(r.pairs.contains(&(libc::RLIMIT_NPROC, 64)));
        assert!(r.pairs.contains(&(libc::RLIMIT_AS, 1 << 30)));
        assert!(r.pairs.contains(&(libc::RLIMIT_STACK, 2 << 20)));
        assert!(r.pairs.contains(&(libc::RLIMIT_CORE, 0)));
    }
}
