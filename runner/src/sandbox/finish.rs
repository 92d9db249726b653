//! After a run: the limit events only its end tells (processes left over, forks the pids
//! cgroup refused, OOM kills, a file-size kill), the scans of what it wrote (decoy values, files
//! at the size limit), and the [`RunOutcome`] with the layers the run had.

use std::fs;
use std::path::{Path, PathBuf};

use super::landlock::FsRule;
use super::launch::{Launched, Usable};
use super::limits::RunCgroup;
use super::monitor::Ended;
use super::plan::Plan;
use super::rundir::RunDir;
use super::{probe, LayerStatus, Layers, RunOutcome, SandboxConfig, Termination};
use crate::events::{Decision, Event, EventLog, Kind};

/// Records the end-of-run events and assembles the outcome. `degraded` lists the layers
/// `--allow-degraded` let the run go without.
pub(crate) fn finish(
    run: Launched,
    ended: Ended,
    config: &SandboxConfig,
    plan: &Plan,
    rundir: &RunDir,
    usable: Usable,
    degraded: Vec<String>,
) -> RunOutcome {
    let limits = &config.profile.limits;
    let log = &run.log;
    if ended.survivors > 0 {
        log.record(
            Event::new(Kind::Limit, "survivors", Decision::Denied)
                .with("processes", ended.survivors)
                .with(
                    "reason",
                    "still running when the command exited; killed with the sandbox",
                ),
        );
    }
    if let Some(cg) = &run.cgroup {
        cgroup_events(cg, limits.processes, log);
    }
    if ended.termination
        == (Termination::Signaled {
            signal: libc::SIGXFSZ,
        })
    {
        log.record(
            Event::new(Kind::Limit, "file-size", Decision::Denied).with("limit", limits.file_size),
        );
    }
    scan_output(
        &run,
        &plan.rules,
        limits.file_size,
        &rundir.paths.private_tmp,
    );

    let (events, events_file_error) = log.snapshot();
    let cgroup = run.cgroup.as_ref();
    RunOutcome {
        termination: ended.termination,
        events,
        layers: Layers {
            landlock: ended.landlock,
            seccomp: LayerStatus::Full,
            namespaces: if usable.namespaces {
                LayerStatus::Full
            } else {
                LayerStatus::NotEnforced
            },
            // Unprivileged, RLIMIT_NPROC counts per user namespace and holds; as root only the
            // pids cgroup does.
            limits: if cgroup.is_some() || !probe::Support::get().root {
                LayerStatus::Full
            } else {
                LayerStatus::Partial
            },
            landlock_abi: config.profile.landlock_abi,
            pids_cgroup: cgroup.is_some(),
            memory_cgroup: cgroup.is_some_and(RunCgroup::caps_memory),
            degraded,
        },
        duration: run.started.elapsed(),
        events_file_error,
        decoys: run.handler.context().decoys.as_ref().map(|v| v.set.clone()),
    }
}

/// What the run's cgroups counted: forks refused at the process limit, OOM kills.
fn cgroup_events(cg: &RunCgroup, processes: u64, log: &EventLog) {
    let refused = cg.refused_forks();
    if refused > 0 {
        log.record(
            Event::new(Kind::Limit, "processes", Decision::Denied)
                .with("limit", processes)
                .with("refused_forks", refused),
        );
    }
    let killed = cg.oom_kills();
    if let Some(limit) = cg.memory_limit().filter(|_| killed > 0) {
        log.record(
            Event::new(Kind::Limit, "memory", Decision::Denied)
                .with("limit", limit)
                .with("oom_kills", killed)
                .with(
                    "reason",
                    "the run's processes together needed more memory than the profile allows",
                ),
        );
    }
}

/// Scans what the run wrote: decoy values (leaks) and files that reached the size limit.
fn scan_output(run: &Launched, rules: &[FsRule], file_size: u64, private_tmp: &Path) {
    let log = &run.log;
    let write_dirs: Vec<&PathBuf> = rules
        .iter()
        .filter(|r| r.grant.writable() && r.path.is_dir())
        .map(|r| &r.path)
        .filter(|p| !p.starts_with("/dev"))
        .collect();
    if let Some(view) = &run.handler.context().decoys {
        for dir in &write_dirs {
            for (file, decoy) in view.set.scan_dir(dir) {
                let shown = match file.strip_prefix(private_tmp) {
                    Ok(rel) => Path::new("/tmp").join(rel),
                    Err(_) => file.clone(),
                };
                log.record(
                    Event::new(Kind::Leak, "decoy-output", Decision::Flagged)
                        .with("decoy", decoy)
                        .with("location", shown.to_string_lossy()),
                );
            }
        }
    }
    let already = log.any(|e| e.kind == Kind::Limit && e.action == "file-size");
    if !already && file_size < u64::MAX {
        for dir in &write_dirs {
            if let Some(file) = find_file_at_least(dir, file_size) {
                log.record(
                    Event::new(Kind::Limit, "file-size", Decision::Denied)
                        .with("limit", file_size)
                        .with("path", file.to_string_lossy()),
                );
                break;
            }
        }
    }
}

/// The first file beneath `dir` of at least `size` bytes.
fn find_file_at_least(dir: &Path, size: u64) -> Option<PathBuf> {
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).ok()?.flatten() {
            let Ok(meta) = entry.metadata() else { continue };
            if meta.is_dir() {
                stack.push(entry.path());
            } else if meta.is_file() && meta.len() >= size {
                return Some(entry.path());
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_file_at_the_size_limit_in_a_subdirectory() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("sub")).unwrap();
        fs::write(dir.path().join("small"), [0u8; 10]).unwrap();
        assert_eq!(find_file_at_least(dir.path(), 100), None);
        fs::write(dir.path().join("sub/big"), [0u8; 100]).unwrap();
        assert_eq!(
            find_file_at_least(dir.path(), 100),
            Some(dir.path().join("sub/big"))
        );
    }
}
