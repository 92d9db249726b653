//! The limits layer: per-process resource limits (`setrlimit`) applied in the sandbox child,
//! and, where the caller may create them (root), cgroups that cap the whole run: a pids cgroup
//! (process count, refused forks counted) and a memory cgroup (memory of all the run's
//! processes together, OOM kills counted).
//!
//! `RLIMIT_NPROC` alone is not enough as root: the kernel exempts the root user from it, and in
//! our user namespace the sandbox's root is the host's root. The pids cgroup has no such
//! exemption, and its `pids.events` tells us exactly how many forks it refused. Likewise a
//! memory cgroup's OOM kills are counted, where `RLIMIT_AS` only fails an allocation inside the
//! process, unseen.

use std::fs;
use std::io;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use crate::profile::Limits;

/// Resource limits as `(resource, value)` pairs, ready for the child.
#[derive(Debug, Clone)]
pub(crate) struct Rlimits {
    pairs: Vec<(libc::__rlimit_resource_t, u64)>,
}

impl Rlimits {
    /// The limits of `limits`, plus no core dumps (a dump would hold whatever the process read).
    /// `memory_by_cgroup`: a memory cgroup caps memory instead of `RLIMIT_AS`.
    pub(crate) fn from_profile(limits: &Limits, memory_by_cgroup: bool) -> Rlimits {
        let mut pairs = vec![
            (libc::RLIMIT_NPROC, limits.processes),
            (libc::RLIMIT_FSIZE, limits.file_size),
            (libc::RLIMIT_CORE, 0),
        ];
        if let Some(memory) = limits.memory.filter(|_| !memory_by_cgroup) {
            pairs.push((libc::RLIMIT_AS, memory));
        }
        if let Some(stack) = limits.stack {
            pairs.push((libc::RLIMIT_STACK, stack));
        }
        Rlimits { pairs }
    }

    /// Applies every limit to the calling process. Raw `libc` syscalls only: this runs in the
    /// allocation-free sandbox child (see child.rs). On failure, returns the resource and errno.
    pub(crate) fn apply(&self) -> Result<(), (u32, i32)> {
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

/// How often [`ProcessWatch`] counts a run's processes.
pub(crate) const PROCESS_POLL: std::time::Duration = std::time::Duration::from_millis(50);

/// Counts the processes (threads, as `RLIMIT_NPROC` does) of a run without a pids cgroup,
/// through its own `/proc` (seen from outside as `/proc/<init>/root/proc`), to tell when the
/// run reaches its process limit. Only the first time is reported.
#[derive(Debug)]
pub(crate) struct ProcessWatch {
    proc_dir: PathBuf,
    limit: u64,
    reported: bool,
}

impl ProcessWatch {
    /// Watches the run whose init has host pid `init`, against `limit`.
    pub(crate) fn new(init: i32, limit: u64) -> ProcessWatch {
        ProcessWatch {
            proc_dir: PathBuf::from(format!("/proc/{init}/root/proc")),
            limit,
            reported: false,
        }
    }

    /// The run's thread count, the first time it is at the limit. Threads are counted only
    /// when the processes alone make half the limit (a directory read per process).
    pub(crate) fn reached(&mut self) -> Option<u64> {
        if self.reported {
            return None;
        }
        let pids: Vec<PathBuf> = fs::read_dir(&self.proc_dir)
            .ok()?
            .flatten()
            .filter(|e| {
                e.file_name()
                    .to_str()
                    .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()))
            })
            .map(|e| e.path())
            .collect();
        let processes = pids.len() as u64;
        if processes * 2 < self.limit {
            return None;
        }
        let threads: u64 = pids
            .iter()
            .map(|p| fs::read_dir(p.join("task")).map_or(1, |d| d.count() as u64))
            .sum();
        (threads >= self.limit).then(|| {
            self.reported = true;
            threads
        })
    }
}

/// The cgroups holding one run (as root): a pids cgroup capping its process count and, when the
/// profile caps memory, a memory cgroup capping the memory of all its processes together. Both
/// count their hits exactly (`pids.events`; the memory controller's OOM kills).
#[derive(Debug)]
pub(crate) struct RunCgroup {
    dirs: Vec<ControllerDir>,
    memory_limit: Option<u64>,
}

/// One cgroup directory and the controllers it caps the run with.
#[derive(Debug)]
struct ControllerDir {
    dir: PathBuf,
    /// In a cgroup v1 hierarchy (one controller per hierarchy, a `tasks` file).
    v1: bool,
    controllers: Vec<&'static str>,
}

impl RunCgroup {
    /// Creates the run's cgroups beneath the caller's own, in the v2 hierarchy where it has the
    /// controller, else in the controller's v1 hierarchy. `None` where no pids cgroup can be
    /// made (unprivileged callers, containers); the memory cgroup is left out where it cannot be
    /// made (then `RLIMIT_AS` caps memory per process).
    pub(crate) fn create(processes: u64, memory: Option<u64>) -> Option<RunCgroup> {
        let own = fs::read_to_string("/proc/self/cgroup").ok()?;
        static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("airlock-{}-{n}", std::process::id());
        let mut run = RunCgroup {
            dirs: Vec::new(),
            memory_limit: None,
        };
        let pids = [("pids.max", processes.to_string())];
        run.dirs.push(make_dir(&own, "pids", &name, &pids, &pids)?);
        if let Some(limit) = memory {
            let v1 = [
                ("memory.limit_in_bytes", limit.to_string()),
                ("memory.memsw.limit_in_bytes", limit.to_string()),
            ];
            let v2 = [
                ("memory.max", limit.to_string()),
                ("memory.swap.max", "0".to_owned()),
            ];
            let memory_v2 = candidates(&own, "memory");
            let shared = run.dirs.iter_mut().find(|d| {
                !d.v1
                    && memory_v2
                        .iter()
                        .any(|(c, v1)| !v1 && d.dir.parent() == Some(c.as_path()))
            });
            let capped = match shared {
                // One v2 hierarchy holds both controllers: one directory (a process is in one
                // cgroup per hierarchy).
                Some(d) => {
                    let ok = write_settings(&d.dir, &v2);
                    if ok {
                        d.controllers.push("memory");
                    }
                    ok
                }
                None => match make_dir(&own, "memory", &name, &v1, &v2) {
                    Some(d) => {
                        run.dirs.push(d);
                        true
                    }
                    None => false,
                },
            };
            if capped {
                run.memory_limit = Some(limit);
            }
        }
        Some(run)
    }

    /// Whether a memory cgroup caps the run's memory (then `RLIMIT_AS` is not set: a process
    /// reserves far more address space than it uses, so the rlimit would fail allocations
    /// before the cgroup could count a hit).
    pub(crate) fn caps_memory(&self) -> bool {
        self.memory_limit.is_some()
    }

    /// The v1 directories' `tasks` files, opened for writing: a thread that writes `0` there
    /// moves itself, without the global lock a move of another process takes (see
    /// [`crate::sandbox::child::ChildPlan::join_cgroups`]).
    pub(crate) fn open_tasks(&self) -> io::Result<Vec<OwnedFd>> {
        self.dirs
            .iter()
            .filter(|d| d.v1)
            .map(|d| {
                fs::OpenOptions::new()
                    .write(true)
                    .open(d.dir.join("tasks"))
                    .map(OwnedFd::from)
            })
            .collect()
    }

    /// Moves process `pid` (and so its future children) into the v2 directories, which it
    /// cannot join by itself.
    pub(crate) fn add_to_v2(&self, pid: i32) -> io::Result<()> {
        for d in self.dirs.iter().filter(|d| !d.v1) {
            fs::write(d.dir.join("cgroup.procs"), pid.to_string())?;
        }
        Ok(())
    }

    /// How many forks the pids cgroup refused.
    pub(crate) fn refused_forks(&self) -> u64 {
        self.counter("pids", "pids.events", "max ")
    }

    /// How many processes the memory controller killed because the run reached its limit.
    pub(crate) fn oom_kills(&self) -> u64 {
        let file = if self.dir_of("memory").is_some_and(|d| d.v1) {
            "memory.oom_control"
        } else {
            "memory.events"
        };
        self.counter("memory", file, "oom_kill ")
    }

    /// The memory limit the cgroup enforces, if any.
    pub(crate) fn memory_limit(&self) -> Option<u64> {
        self.memory_limit
    }

    /// Where the pids cgroup lives.
    pub(crate) fn path(&self) -> &Path {
        &self.dirs[0].dir
    }

    fn dir_of(&self, controller: &str) -> Option<&ControllerDir> {
        self.dirs
            .iter()
            .find(|d| d.controllers.contains(&controller))
    }

    fn counter(&self, controller: &str, file: &str, key: &str) -> u64 {
        self.dir_of(controller)
            .and_then(|d| fs::read_to_string(d.dir.join(file)).ok())
            .and_then(|text| {
                text.lines()
                    .find_map(|l| l.strip_prefix(key))
                    .and_then(|n| n.trim().parse().ok())
            })
            .unwrap_or(0)
    }
}

impl Drop for RunCgroup {
    fn drop(&mut self) {
        // The run's processes are gone by now; an empty cgroup can be removed.
        for d in &self.dirs {
            let _ = fs::remove_dir(&d.dir);
        }
    }
}

/// Creates `name` beneath the first candidate for `controller` where its settings (for v1 or
/// v2) take.
fn make_dir(
    own: &str,
    controller: &'static str,
    name: &str,
    settings_v1: &[(&str, String)],
    settings_v2: &[(&str, String)],
) -> Option<ControllerDir> {
    for (base, v1) in candidates(own, controller) {
        sweep_stale(&base);
        let dir = base.join(name);
        if fs::create_dir(&dir).is_err() {
            continue;
        }
        if write_settings(&dir, if v1 { settings_v1 } else { settings_v2 }) {
            return Some(ControllerDir {
                dir,
                v1,
                controllers: vec![controller],
            });
        }
        let _ = fs::remove_dir(&dir);
    }
    None
}

/// Removes the empty cgroups that runs of processes no longer alive left beneath `base` (a
/// supervisor killed outright cannot remove its own), once per process and directory.
fn sweep_stale(base: &Path) {
    static SWEPT: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());
    let Ok(mut swept) = SWEPT.lock() else {
        return;
    };
    if swept.iter().any(|b| b == base) {
        return;
    }
    swept.push(base.to_owned());
    let Ok(entries) = fs::read_dir(base) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let owner = name
            .to_str()
            .and_then(|n| n.strip_prefix("airlock-"))
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok());
        if let Some(pid) = owner {
            if !Path::new("/proc").join(pid.to_string()).exists() {
                // Fails harmlessly while the cgroup still holds processes.
                let _ = fs::remove_dir(entry.path());
            }
        }
    }
}

/// Writes each setting: the first must take; a later one may be missing (`memsw` files without
/// swap accounting, `swap.max` without swap) but must take where it exists.
fn write_settings(dir: &Path, settings: &[(&str, String)]) -> bool {
    settings.iter().enumerate().all(|(i, (file, value))| {
        let path = dir.join(file);
        (i > 0 && !path.exists()) || fs::write(&path, value).is_ok()
    })
}

/// Candidate parent directories for a cgroup of `controller`, from `/proc/self/cgroup`: the
/// caller's own cgroup in the v2 hierarchy if that has the controller, and in the
/// controller's v1 hierarchy. Each with whether it is v1.
fn candidates(own: &str, controller: &str) -> Vec<(PathBuf, bool)> {
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
                let has = fs::read_to_string(Path::new(root).join("cgroup.controllers"))
                    .is_ok_and(|c| c.split_whitespace().any(|w| w == controller));
                if has {
                    out.push((Path::new(root).join(rel), false));
                }
            }
        } else if controllers.split(',').any(|c| c == controller) {
            out.push((
                Path::new("/sys/fs/cgroup").join(controllers).join(rel),
                true,
            ));
        }
    }
    out
}

/// Whether a run's memory would be capped by a memory cgroup here (the precondition of
/// [`RunCgroup::caps_memory`]: root, and a v1 `memory` hierarchy or v2 with the memory
/// controller beneath the caller's cgroup), found out the way a run does it, by making and
/// removing a run's cgroups with a 64 MiB memory limit. Elsewhere `RLIMIT_AS` caps memory.
pub fn memory_cgroup_possible() -> bool {
    RunCgroup::create(1, Some(64 << 20)).is_some_and(|cgroup| cgroup.caps_memory())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cgroup_candidates_from_proc_self_cgroup() {
        let own = "8:pids:/user.slice\n4:memory:/x\n3:cpu,cpuacct:/y\n";
        assert_eq!(
            candidates(own, "pids"),
            vec![(PathBuf::from("/sys/fs/cgroup/pids/user.slice"), true)]
        );
        assert_eq!(
            candidates(own, "memory"),
            vec![(PathBuf::from("/sys/fs/cgroup/memory/x"), true)]
        );
        assert_eq!(
            candidates(own, "cpuacct"),
            vec![(PathBuf::from("/sys/fs/cgroup/cpu,cpuacct/y"), true)]
        );
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
        let r = Rlimits::from_profile(&limits, false);
        assert!(r.pairs.contains(&(libc::RLIMIT_NPROC, 64)));
        assert!(r.pairs.contains(&(libc::RLIMIT_AS, 1 << 30)));
        assert!(r.pairs.contains(&(libc::RLIMIT_STACK, 2 << 20)));
        assert!(r.pairs.contains(&(libc::RLIMIT_CORE, 0)));
        let r = Rlimits::from_profile(&limits, true);
        assert!(!r.pairs.iter().any(|(res, _)| *res == libc::RLIMIT_AS));
    }
}
