//! Releasing descriptors whose last `close` is slow, off the caller's critical path.
//!
//! Closing an inotify instance that had watches waits for an SRCU grace period
//! (`fsnotify_destroy_group` flushes the mark reaper, which calls `synchronize_srcu`): 7–20 ms
//! measured on this project's machines, more than the rest of a sandbox run's setup. A thread
//! cannot hide that cost, because a process's exit waits for its last reference too. So one
//! small helper process per supervisor process (the "closer") receives such descriptors over a
//! socket and drops them; nobody waits for it. It holds the newest descriptor until the next
//! one arrives (by then the sender has long dropped its own copy, so the closer's is the last
//! reference and pays the wait) and exits when the supervisor process goes away.
//!
//! Nothing here is a security layer: the descriptors are ours, the closer runs our code only,
//! and it keeps no other descriptor (`close_range` before it waits). If the closer cannot be
//! started, descriptors are simply closed in place.
//!
//! The supervisor's side (socket pair, sending) uses nix; the closer itself is a raw clone of
//! a possibly multi-threaded process, so it makes raw `libc` calls only (nix's `recvmsg`
//! returns received descriptors in a `Vec`: an allocation).

use std::io::IoSlice;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::{Mutex, OnceLock};

use nix::sys::socket::{
    sendmsg, socketpair, AddressFamily, ControlMessage, MsgFlags, SockFlag, SockType,
};

/// Hands `fd` to the closer process; falls back to closing it here.
pub(super) fn close_later(fd: OwnedFd) {
    let closer = CLOSER.get_or_init(|| start().map(Mutex::new));
    if let Some(sock) = closer {
        let sock = sock.lock().unwrap_or_else(|e| e.into_inner());
        // On failure (the closer died) `fd` is dropped below, which is still correct.
        let _ = send_fd(sock.as_raw_fd(), fd.as_raw_fd());
    }
    drop(fd);
}

static CLOSER: OnceLock<Option<Mutex<OwnedFd>>> = OnceLock::new();

/// Starts the closer; `None` if the socket pair or the clone fails.
fn start() -> Option<OwnedFd> {
    let (ours, theirs) = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .ok()?;
    // A raw clone rather than fork(2) or nix's clone (a boxed closure on a stack we would
    // allocate): the caller may be multi-threaded, so the child runs allocation-free code only
    // (see child.rs for the same rule).
    // SAFETY: no CLONE_VM; the child runs `serve`, which never returns.
    let pid = unsafe { libc::syscall(libc::SYS_clone, libc::SIGCHLD as libc::c_ulong, 0, 0, 0, 0) };
    if pid < 0 {
        return None;
    }
    if pid == 0 {
        serve(theirs.as_raw_fd());
    }
    drop(theirs);
    Some(ours)
}

/// The closer's loop. Never returns.
fn serve(sock: RawFd) -> ! {
    // SAFETY: plain syscalls on our own process; the child owns copies of every descriptor
    // the parent had, and keeps none but its socket (a held pipe would stall the parent's
    // readers, e.g. a shell's command substitution).
    unsafe {
        libc::signal(libc::SIGINT, libc::SIG_IGN);
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
        let target = 3;
        if sock != target {
            libc::dup2(sock, target);
        }
        libc::syscall(libc::SYS_close_range, 0u32, 2u32, 0u32);
        libc::syscall(libc::SYS_close_range, 4u32, u32::MAX, 0u32);
    }
    let sock = 3;
    let mut held: RawFd = -1;
    loop {
        let received = recv_fd(sock);
        if held >= 0 {
            // SAFETY: a descriptor this process received and owns.
            unsafe { libc::close(held) };
        }
        match received {
            Some(fd) => held = fd,
            // The parent is gone (or the socket broke): exiting closes what is left.
            // SAFETY: leaving without unwinding or atexit handlers.
            None => unsafe { libc::_exit(0) },
        }
    }
}

/// Sends `fd` over `sock` as one byte with an `SCM_RIGHTS` message.
fn send_fd(sock: RawFd, fd: RawFd) -> std::io::Result<()> {
    let fds = [fd];
    sendmsg::<()>(
        sock,
        &[IoSlice::new(&[0u8])],
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::MSG_NOSIGNAL,
        None,
    )?;
    Ok(())
}

/// Runs `f` on a message header with a one-byte payload and room for one `SCM_RIGHTS`
/// descriptor, both in buffers that live for the call (on the stack: this runs in the closer).
fn with_message<R>(f: impl FnOnce(&mut libc::msghdr) -> R) -> R {
    let mut byte = [0u8; 1];
    let mut iov = libc::iovec {
        iov_base: byte.as_mut_ptr().cast(),
        iov_len: 1,
    };
    // Aligned room for one SCM_RIGHTS header and one descriptor.
    let mut control = [0u64; 4];
    // SAFETY: an all-zero msghdr is valid; the pointers set below outlive `f`.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&control);
    f(&mut msg)
}

/// Receives one descriptor; `None` at end of file or on error.
fn recv_fd(sock: RawFd) -> Option<RawFd> {
    loop {
        let received = with_message(|msg| {
            // SAFETY: recvmsg into the header's own buffers; CMSG_* within its control buffer.
            unsafe {
                let n = libc::recvmsg(sock, msg, libc::MSG_CMSG_CLOEXEC);
                if n < 0 && *libc::__errno_location() == libc::EINTR {
                    return Some(None);
                }
                if n <= 0 {
                    return None;
                }
                let cmsg = libc::CMSG_FIRSTHDR(msg);
                if cmsg.is_null()
                    || (*cmsg).cmsg_level != libc::SOL_SOCKET
                    || (*cmsg).cmsg_type != libc::SCM_RIGHTS
                {
                    return Some(None);
                }
                Some(Some(std::ptr::read_unaligned(
                    libc::CMSG_DATA(cmsg).cast::<RawFd>(),
                )))
            }
        });
        match received {
            None => return None,
            Some(Some(fd)) => return Some(fd),
            Some(None) => continue, // interrupted, or a message without a descriptor
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn a_handed_over_descriptor_is_closed_by_the_closer() {
        // A pipe's read end sees end of file only once every copy of the write end is closed:
        // ours (dropped by close_later) and the closer's (dropped when the next one arrives).
        let (mut reader, writer) = std::io::pipe().unwrap();
        close_later(OwnedFd::from(writer));
        let (_r2, w2) = std::io::pipe().unwrap();
        close_later(OwnedFd::from(w2));
        let mut buf = Vec::new();
        assert_eq!(reader.read_to_end(&mut buf).unwrap(), 0);
    }
}
