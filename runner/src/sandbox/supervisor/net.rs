//! Network attempts: `socket`, `socketpair`, `connect`, `bind`, `sendto`, `sendmsg` and
//! `sendmmsg`. The sandbox's network namespace is empty, so nothing here can reach the world;
//! these handlers record what the process tried (addresses, DNS names, decoys in payloads) and
//! refuse what would leave the sandbox's own local sockets.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use super::inside::tgid;
use super::{Answer, Call, Handler};
use crate::events::{Decision, Event, Kind};
use crate::sandbox::decode::{self, SockAddr};
use crate::sandbox::procmem::read_mem;

/// Unix sockets that libc itself tries, refused without an event.
const QUIET_UNIX_SOCKETS: &[&str] = &["/var/run/nscd/socket", "/run/nscd/socket"];

/// Longest socket address read (`struct sockaddr_storage`).
const MAX_SOCKADDR: usize = 128;

/// Most payload bytes read from a refused send (to name a DNS query or find a decoy).
const MAX_PAYLOAD: usize = 4096;

impl Handler {
    /// `socket(domain, type, protocol)`.
    pub(super) fn socket(&self, call: &Call) -> Answer {
        let domain = call.args[0] as i32;
        let sock_type = call.args[1] as i32;
        let base = sock_type & 0xf;
        let protocol = decode::protocol(domain, sock_type);
        let (answer, event) = match (domain, base) {
            (libc::AF_UNIX, libc::SOCK_STREAM) | (libc::AF_NETLINK, _) => (Answer::Continue, false),
            (libc::AF_INET | libc::AF_INET6, libc::SOCK_STREAM | libc::SOCK_DGRAM) => {
                // Harmless in an empty network namespace; recorded because builds rarely need it.
                (Answer::Continue, true)
            }
            (libc::AF_UNIX, _) => (Answer::Deny(libc::EACCES), true),
            (_, libc::SOCK_RAW) => (Answer::Deny(libc::EPERM), true),
            _ => (Answer::Deny(libc::EAFNOSUPPORT), true),
        };
        if event {
            let decision = if answer == Answer::Continue {
                Decision::Allowed
            } else {
                Decision::Denied
            };
            self.record(
                call,
                Event::new(Kind::Net, "socket", decision)
                    .with("protocol", protocol)
                    .with("domain", decode::domain_name(domain)),
            );
        }
        answer
    }

    /// `socketpair(domain, type, protocol, sv)` of a type the filter does not let through.
    pub(super) fn socketpair(&self, call: &Call) -> Answer {
        let protocol = decode::protocol(call.args[0] as i32, call.args[1] as i32);
        self.record(
            call,
            Event::new(Kind::Net, "socket", Decision::Denied)
                .with("protocol", protocol)
                .with("pair", true),
        );
        Answer::Deny(libc::EACCES)
    }

    /// `connect(fd, addr, addrlen)`.
    pub(super) fn connect(&self, call: &Call) -> Answer {
        let addr = sockaddr_at(call.pid, call.args[1], call.args[2]);
        let (domain, sock_type) = socket_kind(call.pid, call.args[0] as RawFd).unwrap_or((-1, -1));
        let Some(addr) = addr else {
            return Answer::Deny(libc::EFAULT);
        };
        if !call.still_pending() {
            return Answer::Deny(libc::ESRCH); // what was read may be another process's
        }
        if addr == SockAddr::Unspec {
            return Answer::Continue; // dissolves an association; reaches nothing
        }
        if let SockAddr::UnixPath(p) = &addr {
            if QUIET_UNIX_SOCKETS.contains(&p.as_str()) {
                // glibc asks nscd on every user lookup; refusing is normal, not a finding.
                return Answer::Deny(libc::ENOENT);
            }
        }
        let protocol = if domain >= 0 {
            decode::protocol(domain, sock_type)
        } else if addr.is_unix() {
            "unix".into()
        } else {
            "unknown".into()
        };
        self.record(
            call,
            Event::new(Kind::Net, "connect", Decision::Denied)
                .with("address", addr.to_string())
                .with("protocol", protocol.as_str()),
        );
        if addr.is_inet() && sock_type & 0xf == libc::SOCK_DGRAM {
            // A UDP "connection" only sets a default destination. Pretending it worked lets the
            // payload show itself in the send that follows (a DNS query names its target);
            // that send is refused.
            if let Ok(mut map) = self.pretend_connected.lock() {
                map.insert((tgid(call.pid), call.args[0] as RawFd), addr.to_string());
            }
            return Answer::Pretend(0);
        }
        if addr.is_inet() {
            Answer::Deny(libc::ECONNREFUSED)
        } else {
            Answer::Deny(libc::EACCES)
        }
    }

    /// `bind(fd, addr, addrlen)`.
    pub(super) fn bind(&self, call: &Call) -> Answer {
        let Some(addr) = sockaddr_at(call.pid, call.args[1], call.args[2]) else {
            return Answer::Deny(libc::EFAULT);
        };
        if addr.is_unix() {
            // Pathname sockets need Landlock's make-socket right (write dirs only); abstract
            // names live in our own network namespace.
            self.record(
                call,
                Event::new(Kind::Net, "bind", Decision::Allowed).with("address", addr.to_string()),
            );
            return Answer::Continue;
        }
        self.record(
            call,
            Event::new(Kind::Net, "bind", Decision::Denied).with("address", addr.to_string()),
        );
        Answer::Deny(libc::EACCES)
    }

    /// `sendto(fd, buf, len, flags, addr, addrlen)`.
    pub(super) fn sendto(&self, call: &Call) -> Answer {
        let addr = sockaddr_at(call.pid, call.args[4], call.args[5]);
        self.send(
            call,
            call.args[0] as RawFd,
            addr,
            call.args[1],
            call.args[2],
        )
    }

    /// `sendmsg(fd, msg, flags)`, and `sendmmsg(fd, msgvec, vlen, flags)` by its first message
    /// (a `struct mmsghdr` begins with its `struct msghdr`).
    pub(super) fn sendmsg(&self, call: &Call) -> Answer {
        // struct msghdr { void *name; u32 namelen; iovec *iov; size_t iovlen; ... }
        let mut hdr = [0u8; 32];
        if read_mem(call.pid, call.args[1], &mut hdr).ok() != Some(32) {
            return Answer::Deny(libc::EFAULT);
        }
        let word = |i: usize| u64::from_ne_bytes(hdr[i..i + 8].try_into().unwrap_or([0; 8]));
        let name = word(0);
        let namelen = u64::from(u32::from_ne_bytes(hdr[8..12].try_into().unwrap_or([0; 4])));
        let iov = word(16);
        let iovlen = word(24);
        let addr = sockaddr_at(call.pid, name, namelen);
        let (base, len) = if iovlen > 0 {
            let mut v = [0u8; 16];
            match read_mem(call.pid, iov, &mut v) {
                Ok(16) => (
                    u64::from_ne_bytes(v[0..8].try_into().unwrap_or([0; 8])),
                    u64::from_ne_bytes(v[8..16].try_into().unwrap_or([0; 8])),
                ),
                _ => (0, 0),
            }
        } else {
            (0, 0)
        };
        self.send(call, call.args[0] as RawFd, addr, base, len)
    }

    /// A send of `len` bytes at `buf` on socket `fd`, to `addr` or the socket's destination.
    fn send(&self, call: &Call, fd: RawFd, addr: Option<SockAddr>, buf: u64, len: u64) -> Answer {
        let (domain, sock_type) = socket_kind(call.pid, fd).unwrap_or((-1, -1));
        let inet = addr.as_ref().is_some_and(SockAddr::is_inet)
            || domain == libc::AF_INET
            || domain == libc::AF_INET6;
        let unix_named = matches!(
            addr,
            Some(SockAddr::UnixPath(_) | SockAddr::UnixAbstract(_))
        );
        if !inet && !unix_named {
            return Answer::Continue; // local IPC on a socketpair or an accepted connection
        }
        let mut payload = vec![0u8; (len as usize).min(MAX_PAYLOAD)];
        let n = if buf != 0 {
            read_mem(call.pid, buf, &mut payload).unwrap_or(0)
        } else {
            0
        };
        payload.truncate(n);
        let address = addr.map(|a| a.to_string()).unwrap_or_else(|| {
            self.pretend_connected
                .lock()
                .ok()
                .and_then(|map| map.get(&(tgid(call.pid), fd)).cloned())
                .unwrap_or_else(|| "connected".to_owned())
        });
        let protocol = if domain >= 0 {
            decode::protocol(domain, sock_type)
        } else {
            "unknown".into()
        };
        if let Some(query) = decode::dns_query(&payload) {
            self.record(
                call,
                Event::new(Kind::Net, "dns", Decision::Denied)
                    .with("query", query.as_str())
                    .with("address", address.as_str())
                    .with("protocol", protocol.as_str()),
            );
        } else {
            self.record(
                call,
                Event::new(Kind::Net, "send", Decision::Denied)
                    .with("address", address.as_str())
                    .with("protocol", protocol.as_str())
                    .with("bytes", len),
            );
        }
        if let Some(view) = &self.ctx.decoys {
            for decoy in view.set.found_in(&payload) {
                self.record(
                    call,
                    Event::new(Kind::Leak, "decoy-output", Decision::Flagged)
                        .with("decoy", decoy.name.as_str())
                        .with("location", format!("network:{address}")),
                );
            }
        }
        Answer::Deny(if inet {
            libc::ECONNREFUSED
        } else {
            libc::EACCES
        })
    }
}

/// The socket address of `len` bytes at `addr` in process `pid`, decoded.
fn sockaddr_at(pid: i32, addr: u64, len: u64) -> Option<SockAddr> {
    if addr == 0 || len == 0 {
        return None;
    }
    let mut buf = [0u8; MAX_SOCKADDR];
    let len = (len as usize).min(MAX_SOCKADDR);
    let n = read_mem(pid, addr, &mut buf[..len]).ok()?;
    decode::sockaddr(&buf[..n])
}

/// Domain and type of socket `fd` in process `pid`, through a duplicate taken with
/// `pidfd_getfd` (the type decides how a UDP connect is answered).
///
/// Raw `libc`: nix 0.30 offers neither `pidfd_open` nor `pidfd_getfd`, has no `SO_DOMAIN`
/// option, and its `SO_TYPE` option fails on the types its `SockType` does not list.
fn socket_kind(pid: i32, fd: RawFd) -> Option<(i32, i32)> {
    // SAFETY: pidfd_open on a pid; the descriptor is owned below.
    let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if pidfd < 0 {
        return None;
    }
    // SAFETY: the kernel just gave us this descriptor.
    let pidfd = unsafe { OwnedFd::from_raw_fd(pidfd as i32) };
    // SAFETY: pidfd_getfd duplicates the target's descriptor into ours.
    let dup = unsafe { libc::syscall(libc::SYS_pidfd_getfd, pidfd.as_raw_fd(), fd, 0) };
    if dup < 0 {
        return None;
    }
    // SAFETY: as above.
    let dup = unsafe { OwnedFd::from_raw_fd(dup as i32) };
    let get = |opt: i32| -> Option<i32> {
        let mut value: i32 = 0;
        let mut len = std::mem::size_of::<i32>() as libc::socklen_t;
        // SAFETY: value/len describe a writable int.
        let r = unsafe {
            libc::getsockopt(
                dup.as_raw_fd(),
                libc::SOL_SOCKET,
                opt,
                (&mut value as *mut i32).cast(),
                &mut len,
            )
        };
        (r == 0).then_some(value)
    };
    Some((get(libc::SO_DOMAIN)?, get(libc::SO_TYPE)?))
}
