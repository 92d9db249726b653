//! The supervisor thread's loop: it receives each seccomp notification of the sandbox, has the
//! [`Handler`] judge it, answers the kernel, and turns tripwire opens (inotify) into events,
//! until every filtered process is gone.
//!
//! The notification ioctls (`SECCOMP_IOCTL_NOTIF_*`) are raw `libc`: nix has no seccomp API.

use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::sync::Arc;

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use super::supervisor::{Answer, Call, Handler};
use super::tripwire;

/// Answers notifications on `listener` until every filtered process is gone, watching the
/// tripwires of `watch` meanwhile.
pub(crate) fn supervise(listener: OwnedFd, handler: Arc<Handler>, watch: Option<tripwire::Watch>) {
    // Wake the supervisor synchronously (Linux 6.6+): a notification is a ping-pong between two
    // tasks, and the synchronous hand-off saves a scheduler round per syscall.
    // SAFETY: SET_FLAGS takes a u64 flag value; failure (older kernels) is harmless.
    unsafe {
        libc::ioctl(
            listener.as_raw_fd(),
            libc::SECCOMP_IOCTL_NOTIF_SET_FLAGS,
            1u64, // SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
        )
    };
    let tripped = |w: &tripwire::Watch| {
        for meaning in w.drain() {
            match meaning {
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
                    handler.note_decoy_read_unattributed(&name, &location);
                }
                tripwire::Meaning::Protected(path) => handler.note_protected_read(&path),
            }
        }
    };
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
                tripped(w);
            }
        }
        if listener_events.contains(PollFlags::POLLIN) {
            answer_one(listener.as_raw_fd(), &handler);
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
        tripped(w);
    }
}

/// Receives one notification, judges it, and sends the answer.
fn answer_one(listener: RawFd, handler: &Handler) {
    // SAFETY: the kernel requires a zeroed struct for RECV.
    let mut notif: libc::seccomp_notif = unsafe { std::mem::zeroed() };
    // SAFETY: notif is the struct RECV expects.
    let r = unsafe { libc::ioctl(listener, libc::SECCOMP_IOCTL_NOTIF_RECV, &mut notif) };
    if r != 0 {
        return; // ENOENT: the target died before we read it
    }
    let call = Call {
        pid: notif.pid as i32,
        nr: i64::from(notif.data.nr),
        args: notif.data.args,
        id: notif.id,
        listener,
    };
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
}
