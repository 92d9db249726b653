//! Watching a launched run until it ends: the control messages from the sandbox (a setup
//! failure, the seccomp listener to take over, the command's exit), the supervisor thread
//! started with the listener, the timeout, and (unprivileged, without a pids cgroup) the
//! count of the run's processes.

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::child::{Message, Step};
use super::control::{self, Received};
use super::launch::{Launched, Usable};
use super::limits::{ProcessWatch, PROCESS_POLL};
use super::plan::Plan;
use super::rundir;
use super::sinkhole;
use super::supervise::supervise;
use super::{LayerStatus, SandboxConfig, SandboxError, Termination};
use crate::events::{Decision, Event, Kind};

/// How a run ended, as the monitor saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ended {
    pub termination: Termination,
    /// Processes still running when the command exited (killed with the sandbox).
    pub survivors: u32,
    /// What the command reported of Landlock.
    pub landlock: LayerStatus,
}

/// Waits for the run to end (or its timeout), answering the control messages and running
/// the supervisor once the listener arrives. A setup failure in the child is an error.
pub(crate) fn monitor(
    run: &mut Launched,
    config: &SandboxConfig,
    plan: &Plan,
    usable: Usable,
) -> Result<Ended, SandboxError> {
    let profile = &config.profile;
    let timeout = config.timeout.or(profile.limits.timeout);
    let deadline = timeout.map(|t| run.started + t);
    let mut landlock = LayerStatus::NotEnforced;
    let mut supervisor_thread = None;
    let mut sinkhole_thread = None;
    let mut exit: Option<(i32, u32)> = None;
    let mut timed_out = false;
    // Without a pids cgroup (unprivileged), RLIMIT_NPROC caps the run and nobody counts what it
    // refuses: the run's processes are counted every PROCESS_POLL instead.
    let mut process_watch = (run.cgroup.is_none() && usable.namespaces)
        .then(|| ProcessWatch::new(run.waiter.pid.as_raw(), profile.limits.processes));
    loop {
        let wait = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        if wait == Some(Duration::ZERO) {
            timed_out = true;
            break;
        }
        let watching = process_watch.is_some() && supervisor_thread.is_some();
        let poll = if watching {
            Some(wait.map_or(PROCESS_POLL, |w| w.min(PROCESS_POLL)))
        } else {
            wait
        };
        match control::recv(run.control.as_fd(), poll) {
            Ok(Received::TimedOut) if watching && poll != wait => {
                if let Some(count) = process_watch.as_mut().and_then(ProcessWatch::reached) {
                    run.log.record(
                        Event::new(Kind::Limit, "processes", Decision::Denied)
                            .with("limit", profile.limits.processes)
                            .with("reached", count)
                            .with(
                                "reason",
                                "the run's processes reached RLIMIT_NPROC, so its forks fail from here (seen by counting them: the kernel counts no refusals of an rlimit)",
                            ),
                    );
                }
            }
            Ok(Received::Message(
                Message::Failed {
                    step,
                    detail,
                    errno,
                },
                _,
            )) => {
                run.waiter.kill_and_reap();
                return Err(child_failure(run, plan, step, detail, errno));
            }
            Ok(Received::Message(
                Message::Ready {
                    landlock: status,
                    listener,
                    sinkhole,
                },
                Some(sender),
            )) => {
                let listener = match control::take_fd(sender, listener) {
                    Ok(fd) => fd,
                    Err(source) => {
                        run.waiter.kill_and_reap();
                        return Err(SandboxError::Child {
                            step: "copying the seccomp listener out of the sandbox (pidfd_getfd)"
                                .into(),
                            source,
                        });
                    }
                };
                let sinkhole = (sinkhole >= 0).then(|| control::take_fd(sender, sinkhole));
                // The mounts are in place and the command has not started (it waits for the
                // ack): the run's directory is hidden from the host from here, and whatever
                // the watch saw so far was not the command's.
                if let Some(root) = &run.hide {
                    rundir::hide(root);
                }
                if let Some(watch) = &run.watch {
                    watch.drain();
                }
                let ack = Message::Ready {
                    landlock: 0,
                    listener: 0,
                    sinkhole: -1,
                };
                // A failed send shows as the child's failure (handing the listener over).
                let _ = control::send(run.control.as_fd(), ack);
                landlock = if usable.landlock {
                    LayerStatus::from_u32(status)
                } else {
                    LayerStatus::NotEnforced
                };
                // Execute rights exist since Landlock's first ABI: any enforcement covers them.
                run.handler
                    .context()
                    .landlock_exec
                    .store(landlock != LayerStatus::NotEnforced, Ordering::Relaxed);
                if let Some(fd) = sinkhole {
                    sinkhole_thread = Some(start_sinkhole(run, fd)?);
                }
                let handler = Arc::clone(&run.handler);
                let watch = run.watch.take();
                supervisor_thread = Some(
                    std::thread::Builder::new()
                        .name("airlock-supervisor".into())
                        .spawn(move || supervise(listener, handler, watch))
                        .map_err(|source| SandboxError::Prepare {
                            step: "starting the supervisor thread".into(),
                            source,
                        })?,
                );
            }
            Ok(Received::Message(Message::Exited { status, survivors }, _)) => {
                exit = Some((status, survivors));
                break;
            }
            Ok(Received::Message(_, _)) => {}
            Ok(Received::TimedOut) => {
                timed_out = true;
                break;
            }
            Ok(Received::Closed) | Err(_) => break,
        }
    }
    if timed_out {
        run.waiter.kill_and_reap();
        run.log.record(
            Event::new(Kind::Limit, "timeout", Decision::Denied)
                .with("limit", humanize(timeout.unwrap_or_default())),
        );
    }
    let init = run.waiter.reap();
    if let Some(t) = supervisor_thread {
        let _ = t.join();
    }
    if let Some(sinkhole) = sinkhole_thread {
        sinkhole.stop(); // every process is gone: what was sent has all arrived
    }
    let termination = match (timed_out, exit) {
        (true, _) => Termination::TimedOut,
        (false, Some((status, _))) => Termination::from_wait_status(status),
        (false, None) => init,
    };
    Ok(Ended {
        termination,
        survivors: exit.map_or(0, |(_, survivors)| survivors),
        landlock,
    })
}

/// Starts the run's sinkhole on the listener the sandbox handed over (`taken`), reporting what
/// it read through the supervisor's handler.
fn start_sinkhole(
    run: &mut Launched,
    taken: io::Result<OwnedFd>,
) -> Result<sinkhole::Running, SandboxError> {
    let prepare = |source| SandboxError::Prepare {
        step: "starting the sinkhole".into(),
        source,
    };
    let handler = Arc::clone(&run.handler);
    let fd = taken.map_err(prepare)?;
    let (sinkhole, running) =
        sinkhole::start(fd, move |finished| handler.sinkholed(finished)).map_err(prepare)?;
    let _ = run.handler.context().sinkhole.set(sinkhole);
    Ok(running)
}

/// The error for a setup step the child reported failing.
fn child_failure(run: &Launched, plan: &Plan, step: u32, detail: u32, errno: i32) -> SandboxError {
    let step = Step::from_u32(step).unwrap_or(Step::Exec);
    let source = io::Error::from_raw_os_error(errno);
    if step == Step::Exec {
        return SandboxError::Child {
            step: format!("executing {}", plan.program.display()),
            source,
        };
    }
    let mut what = step.describe().to_owned();
    if step == Step::Mount {
        if let Some(m) = &run.mounts {
            what = format!("{what} ({})", m.describe(detail as usize));
        }
    }
    SandboxError::Child { step: what, source }
}

/// A duration as a profile writes it: whole seconds, else milliseconds.
fn humanize(d: Duration) -> String {
    if d.as_millis() % 1000 == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_read_like_a_profile() {
        assert_eq!(humanize(Duration::from_secs(90)), "90s");
        assert_eq!(humanize(Duration::from_millis(1500)), "1500ms");
    }
}
