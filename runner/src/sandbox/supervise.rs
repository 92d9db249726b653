//! The supervisor thread's loop: it receives each seccomp notification of the sandbox, has the
//! [`Handler`] judge it, answers the kernel, and turns tripwire opens (inotify) into events,
//! until every filtered process is gone.
//!
//! Two ways to wait, by kernel:
//! - Linux 6.6+ (where the listener takes `SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP`): the threads
//!   block in `SECCOMP_IOCTL_NOTIF_RECV` themselves, which that release made return once
//!   every filtered process is gone. No `poll` per notification: a notification is a
//!   ping-pong between two tasks, on the path of every open and exec of the run, and the poll
//!   was a sixth of the supervisor's time. The tripwires get a thread of their own.
//! - older kernels: one thread, one `poll` over the listener and the tripwires, as RECV there
//!   waits on a semaphore that nothing releases when the processes are gone.
//!
//! **One answering thread per CPU, up to [`MAX_ANSWERERS`].** With the synchronous wake-up
//! the kernel runs the answering thread on the CPU of the process that asked, and wakes that
//! process on the CPU that answered. One thread serving two CPUs therefore pulls every
//! process whose question waited behind another's onto the thread's CPU, and the other CPU
//! idles: `rustdoc` running doc tests two at a time took 1.06x its plain time on one CPU but
//! 1.2-1.3x on two. A second thread waiting in RECV is woken on the CPU that asks, so a
//! question is answered where it was asked. Each thread beyond one costs every notification
//! a wake-up (the kernel wakes every thread waiting in RECV, the wait not being exclusive:
//! a lone process's 100,000 opens take ~12 us each instead of ~9), hence the cap. Threads
//! pinned one per CPU did no better on two CPUs, and on a larger machine would pull what
//! they answer onto their own CPUs; a token that lets one thread wait at a time cost more
//! (a futex hand-off per notification).
//!
//! **Order.** Read-only opens, most of a run's notifications, are judged concurrently; every
//! other call is judged and answered under one lock, so that the rules that depend on the
//! order the supervisor sees calls in (`produced.rs`: an exec against a rename) keep one.
//!
//! The notification ioctls (`SECCOMP_IOCTL_NOTIF_*`) are raw `libc`: nix has no seccomp API.

use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use super::supervisor::{Answer, Call, Handler};
use super::tripwire;

/// Answers notifications on `listener` until every filtered process is gone, watching the
/// tripwires of `watch` meanwhile.
pub(crate) fn supervise(listener: OwnedFd, handler: Arc<Handler>, watch: Option<tripwire::Watch>) {
    if !sync_wake_up(&listener) {
        return poll_loop(&listener, &handler, watch);
    }
    let tripwires = match watch.map(|w| Tripwires::start(w, Arc::clone(&handler))) {
        Some(Err(watch)) => return poll_loop(&listener, &handler, watch),
        Some(Ok(t)) => Some(t),
        None => None,
    };
    let answerer = Answerer {
        listener: &listener,
        handler: &handler,
        order: Mutex::new(()),
    };
    std::thread::scope(|scope| {
        for _ in 1..answerers() {
            let answerer = &answerer;
            // A thread that cannot start leaves its share to the others.
            let _ = std::thread::Builder::new()
                .name("airlock-answer".into())
                .spawn_scoped(scope, move || answerer.until_gone());
        }
        answerer.until_gone();
    });
    handler.finish_pending();
    if let Some(t) = tripwires {
        t.stop();
    }
}

/// The most threads that answer one run's notifications (see the module doc).
const MAX_ANSWERERS: usize = 2;

/// What the answering threads share.
struct Answerer<'a> {
    listener: &'a OwnedFd,
    handler: &'a Handler,
    /// Held while a call other than a read-only open is judged and answered.
    order: Mutex<()>,
}

impl Answerer<'_> {
    /// Answers notifications until every filtered process is gone.
    fn until_gone(&self) {
        loop {
            match answer_one(self.listener.as_raw_fd(), self.handler, &self.order) {
                Ok(()) => self.handler.finish_pending(),
                Err(Errno::EINTR) => {}
                // The target died before we read it, or every filtered process is gone.
                Err(Errno::ENOENT) if !hung_up(self.listener) => {}
                Err(_) => break,
            }
        }
    }
}

/// How many threads answer: one per CPU this process may run on (its affinity and cgroup
/// quota, as std counts them), at most [`MAX_ANSWERERS`].
fn answerers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(MAX_ANSWERERS))
}

/// Wakes the supervisor synchronously (Linux 6.6+): the task that notifies hands its CPU to
/// the supervisor, saving a scheduler round per syscall. Whether the kernel took the flag.
fn sync_wake_up(listener: &OwnedFd) -> bool {
    // SAFETY: SET_FLAGS takes a u64 flag value; older kernels refuse it (EINVAL).
    let r = unsafe {
        libc::ioctl(
            listener.as_raw_fd(),
            libc::SECCOMP_IOCTL_NOTIF_SET_FLAGS,
            1u64, // SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
        )
    };
    r == 0
}

/// Whether every filtered process is gone (the listener reports a hang-up).
fn hung_up(listener: &OwnedFd) -> bool {
    let mut fds = [PollFd::new(listener.as_fd(), PollFlags::POLLIN)];
    match poll(&mut fds, PollTimeout::ZERO) {
        Ok(_) => fds[0]
            .revents()
            .is_some_and(|r| r.intersects(PollFlags::POLLHUP | PollFlags::POLLERR)),
        Err(Errno::EINTR) => false,
        Err(_) => true,
    }
}

/// The loop for kernels before 6.6: one `poll` over the listener and the tripwires.
fn poll_loop(listener: &OwnedFd, handler: &Handler, watch: Option<tripwire::Watch>) {
    let order = Mutex::new(()); // one thread: never contended
    loop {
        // On the stack: this runs once per notification.
        let listening = PollFd::new(listener.as_fd(), PollFlags::POLLIN);
        let (mut one, mut both);
        let fds: &mut [PollFd<'_>] = match &watch {
            Some(w) => {
                both = [listening, PollFd::new(w.as_fd(), PollFlags::POLLIN)];
                &mut both
            }
            None => {
                one = [listening];
                &mut one
            }
        };
        match poll(fds, PollTimeout::NONE) {
            Err(Errno::EINTR) => continue,
            Err(_) => break,
            Ok(_) => {}
        }
        let events = |i: usize| {
            fds.get(i)
                .and_then(PollFd::revents)
                .unwrap_or(PollFlags::empty())
        };
        let (listener_events, watch_events) = (events(0), events(1));
        if watch_events.contains(PollFlags::POLLIN) {
            if let Some(w) = &watch {
                tripped(handler, w);
            }
        }
        if listener_events.contains(PollFlags::POLLIN) {
            // An error is a target gone before we read it: the next poll tells the rest.
            let _ = answer_one(listener.as_raw_fd(), handler, &order);
            handler.finish_pending();
            continue;
        }
        if listener_events.intersects(PollFlags::POLLHUP | PollFlags::POLLERR | PollFlags::POLLNVAL)
        {
            break;
        }
    }
    handler.finish_pending();
    if let Some(w) = &watch {
        tripped(handler, w);
    }
}

/// Records what the tripwires of `watch` saw since the last call.
fn tripped(handler: &Handler, watch: &tripwire::Watch) {
    for seen in watch.drain() {
        match seen.meaning {
            tripwire::Meaning::Decoy(name) => {
                let location = handler
                    .context()
                    .decoys
                    .as_ref()
                    .and_then(|v| {
                        let d = v.set.decoys.iter().find(|d| d.name == name)?;
                        Some(v.home_inside.join(d.file.as_ref()?))
                    })
                    .unwrap_or_default();
                handler.note_decoy_read_unattributed(&name, &location, seen.pid);
            }
            tripwire::Meaning::Protected(path) => handler.note_protected_read(&path, seen.pid),
        }
    }
}

/// The tripwires' own thread, while the supervisor blocks in RECV.
struct Tripwires {
    /// Dropped to stop the thread (its peer then reports a hang-up).
    stop: UnixStream,
    thread: JoinHandle<()>,
}

impl Tripwires {
    /// Watches `watch` on a thread of its own; gives it back if the thread cannot start.
    fn start(
        watch: tripwire::Watch,
        handler: Arc<Handler>,
    ) -> Result<Tripwires, Option<tripwire::Watch>> {
        let Ok((stop, stopped)) = UnixStream::pair() else {
            return Err(Some(watch));
        };
        let watch = Arc::new(watch);
        let theirs = Arc::clone(&watch);
        let spawned = std::thread::Builder::new()
            .name("airlock-tripwire".into())
            .spawn(move || {
                loop {
                    let mut fds = [
                        PollFd::new(theirs.as_fd(), PollFlags::POLLIN),
                        PollFd::new(stopped.as_fd(), PollFlags::POLLIN),
                    ];
                    match poll(&mut fds, PollTimeout::NONE) {
                        Err(Errno::EINTR) => continue,
                        Err(_) => break,
                        Ok(_) => {}
                    }
                    let ended = fds[1].revents().is_some_and(|r| !r.is_empty());
                    tripped(&handler, &theirs);
                    if ended {
                        break;
                    }
                }
                tripped(&handler, &theirs);
            });
        match spawned {
            Ok(thread) => Ok(Tripwires { stop, thread }),
            // The closure, and its reference, are gone with the failed spawn.
            // The failed spawn dropped the closure, and its reference with it.
            Err(_) => Err(Arc::try_unwrap(watch).ok()),
        }
    }

    /// Records what is still pending and ends the thread.
    fn stop(self) {
        drop(self.stop);
        let _ = self.thread.join();
    }
}

/// Receives one notification, judges it, and sends the answer, holding `order` meanwhile
/// unless the call only reads. An error is RECV's: `EINTR`, or `ENOENT` (the target died
/// before we read it, or every filtered process is gone).
fn answer_one(listener: RawFd, handler: &Handler, order: &Mutex<()>) -> Result<(), Errno> {
    // SAFETY: the kernel requires a zeroed struct for RECV.
    let mut notif: libc::seccomp_notif = unsafe { std::mem::zeroed() };
    // SAFETY: notif is the struct RECV expects.
    let r = unsafe { libc::ioctl(listener, libc::SECCOMP_IOCTL_NOTIF_RECV, &mut notif) };
    if r != 0 {
        return Err(Errno::from_raw(
            io::Error::last_os_error().raw_os_error().unwrap_or(0),
        ));
    }
    let call = Call {
        pid: notif.pid as i32,
        nr: i64::from(notif.data.nr),
        args: notif.data.args,
        id: notif.id,
        listener,
    };
    let _turn = (!call.only_reads()).then(|| order.lock().unwrap_or_else(PoisonError::into_inner));
    let answer = handler.handle(&call);
    let mut resp = libc::seccomp_notif_resp {
        id: notif.id,
        val: 0,
        error: 0,
        flags: 0,
    };
    match answer {
        Answer::Continue => resp.flags = libc::SECCOMP_USER_NOTIF_FLAG_CONTINUE as u32,
        Answer::Deny(errno) => resp.error = -errno,
        Answer::Pretend(val) => resp.val = val,
    }
    // SAFETY: resp is the struct SEND expects; ENOENT (target gone) is harmless.
    unsafe { libc::ioctl(listener, libc::SECCOMP_IOCTL_NOTIF_SEND, &mut resp) };
    Ok(())
}
