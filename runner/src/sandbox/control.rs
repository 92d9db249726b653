//! The supervisor's end of the control socket: the socket pair itself, receiving the child's
//! fixed-size [`Message`]s stamped with their sender's pid (`SCM_CREDENTIALS`), answering
//! them, and copying the seccomp listener out of the sandbox (`pidfd_getfd`).
//!
//! The child's end (raw `write`/`read`, no allocation) is in `child.rs`; the wire format is
//! [`Message`]'s.

use std::io::{self, IoSliceMut};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::socket::{
    recvmsg, setsockopt, socketpair, sockopt, AddressFamily, ControlMessageOwned, MsgFlags,
    SockFlag, SockType,
};

use super::child::{Message, MESSAGE_LEN};

/// What one wait on the control socket brought.
#[derive(Debug)]
pub(crate) enum Received {
    /// A message and the host pid of its sender.
    Message(Message, Option<libc::pid_t>),
    /// Nothing arrived within the timeout.
    TimedOut,
    /// The child's end is closed: every sandbox process is gone.
    Closed,
}

/// A connected `SOCK_SEQPACKET` pair, supervisor's end first. The kernel stamps every message
/// the supervisor receives with its sender's pid (in the supervisor's PID namespace).
pub(crate) fn pair() -> io::Result<(OwnedFd, OwnedFd)> {
    let (ours, theirs) = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )?;
    setsockopt(&ours, sockopt::PassCred, &true)?;
    Ok((ours, theirs))
}

/// Sends `message` to the child (which waits for any message as its go-ahead).
pub(crate) fn send(sock: BorrowedFd<'_>, message: Message) -> io::Result<()> {
    nix::unistd::write(sock, &message.encode())?;
    Ok(())
}

/// Waits up to `timeout` (forever with `None`) for one message.
pub(crate) fn recv(sock: BorrowedFd<'_>, timeout: Option<Duration>) -> io::Result<Received> {
    let ms = timeout.map_or(PollTimeout::NONE, |t| {
        let ms = t.as_millis().clamp(1, i32::MAX as u128);
        PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX)
    });
    loop {
        let mut fds = [PollFd::new(sock, PollFlags::POLLIN)];
        match poll(&mut fds, ms) {
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
            Ok(0) => return Ok(Received::TimedOut),
            Ok(_) => break,
        }
    }
    let mut buf = [0u8; MESSAGE_LEN];
    let mut iov = [IoSliceMut::new(&mut buf)];
    let mut cmsg = nix::cmsg_space!(libc::ucred);
    let msg = recvmsg::<()>(
        sock.as_raw_fd(),
        &mut iov,
        Some(&mut cmsg),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )?;
    let n = msg.bytes;
    if n == 0 {
        return Ok(Received::Closed);
    }
    let sender = msg.cmsgs()?.find_map(|c| match c {
        ControlMessageOwned::ScmCredentials(cred) => Some(cred.pid()),
        _ => None,
    });
    match Message::decode(&buf[..n]) {
        Some(m) => Ok(Received::Message(m, sender)),
        None => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "bad control message",
        )),
    }
}

/// Copies descriptor `fd` out of process `pid` (which waits for us to do so).
///
/// Raw `pidfd_open`/`pidfd_getfd`: nix 0.30 has neither.
pub(crate) fn take_fd(pid: libc::pid_t, fd: RawFd) -> io::Result<OwnedFd> {
    // SAFETY: pidfd_open on a pid we were just told about; owned below.
    let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if pidfd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just returned it, and nothing else owns it.
    let pidfd = unsafe { OwnedFd::from_raw_fd(pidfd as RawFd) };
    // SAFETY: duplicates the target's descriptor into this process.
    let copy = unsafe { libc::syscall(libc::SYS_pidfd_getfd, pidfd.as_raw_fd(), fd, 0) };
    if copy < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just returned it, and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(copy as RawFd) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn messages_carry_their_senders_pid() {
        let (ours, theirs) = pair().unwrap();
        let sent = Message::Exited {
            status: 0x0100,
            survivors: 1,
        };
        send(theirs.as_fd(), sent).unwrap();
        match recv(ours.as_fd(), Some(Duration::from_secs(5))).unwrap() {
            Received::Message(m, sender) => {
                assert_eq!(m, sent);
                assert_eq!(sender, Some(std::process::id() as libc::pid_t));
            }
            other => panic!("expected a message, got {other:?}"),
        }
        assert!(matches!(
            recv(ours.as_fd(), Some(Duration::from_millis(1))).unwrap(),
            Received::TimedOut
        ));
        drop(theirs);
        assert!(matches!(
            recv(ours.as_fd(), None).unwrap(),
            Received::Closed
        ));
    }

    #[test]
    fn a_copied_descriptor_is_the_same_file() {
        let (reader, writer) = std::io::pipe().unwrap();
        let copy = take_fd(std::process::id() as libc::pid_t, writer.as_raw_fd()).unwrap();
        drop(writer);
        nix::unistd::write(&copy, b"x").unwrap();
        drop(copy);
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut &reader, &mut buf).unwrap();
        assert_eq!(buf, b"x");
    }
}
