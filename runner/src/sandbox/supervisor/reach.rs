//! What a destination inside the run's private network namespace is: a port a process of the
//! run listens on (a test's own server), or nobody's (the sinkhole answers). Read from the
//! namespace's own socket tables (`/proc/<init>/net/{tcp,udp}{,6}`), parsed here by pure
//! functions; and the socket a process named, duplicated to be looked at.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};

use crate::sandbox::decode::SockAddr;
use crate::sandbox::socket_option::socket_option;

/// `st` of a listening TCP socket in `/proc/net/tcp` (`TCP_LISTEN`).
const TCP_LISTEN: &str = "0A";

/// The transport a port belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Transport {
    Tcp,
    Udp,
}

/// Whether `addr` is a loopback address (`127.0.0.0/8`, `::1`, or a v4-mapped loopback).
pub(super) fn is_loopback(addr: &SockAddr) -> bool {
    match addr {
        SockAddr::V4(a) => a.ip().is_loopback(),
        SockAddr::V6(a) => {
            a.ip().is_loopback() || a.ip().to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
        _ => false,
    }
}

/// The port of an internet address.
pub(super) fn port(addr: &SockAddr) -> Option<u16> {
    match addr {
        SockAddr::V4(a) => Some(a.port()),
        SockAddr::V6(a) => Some(a.port()),
        _ => None,
    }
}

/// Whether a socket of the namespace whose process `pid` is looked through is bound to `port`
/// on `transport` (listening, for TCP), on a loopback or wildcard address.
pub(super) fn run_listens(pid: i32, transport: Transport, port: u16) -> bool {
    let name = match transport {
        Transport::Tcp => "tcp",
        Transport::Udp => "udp",
    };
    ["", "6"].iter().any(|v6| {
        std::fs::read_to_string(format!("/proc/{pid}/net/{name}{v6}"))
            .is_ok_and(|table| table_has(&table, transport, port))
    })
}

/// Whether a `/proc/net/{tcp,udp}{,6}` table lists a socket bound to `port` on a loopback or
/// wildcard address (listening, for TCP).
pub(super) fn table_has(table: &str, transport: Transport, port: u16) -> bool {
    table.lines().skip(1).any(|line| {
        let mut fields = line.split_whitespace();
        let (Some(_slot), Some(local), Some(_remote), Some(state)) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            return false;
        };
        if transport == Transport::Tcp && state != TCP_LISTEN {
            return false;
        }
        let Some((ip, p)) = local.split_once(':') else {
            return false;
        };
        u16::from_str_radix(p, 16) == Ok(port) && local_ip(ip).is_some_and(reachable_on_loopback)
    })
}

/// The address of a `/proc/net` table's hex field: 8 digits (IPv4) or 32 (IPv6), each 32-bit
/// word in host order.
fn local_ip(hex: &str) -> Option<IpAddr> {
    let word = |i: usize| -> Option<[u8; 4]> {
        let w = u32::from_str_radix(hex.get(i * 8..i * 8 + 8)?, 16).ok()?;
        Some(w.to_ne_bytes())
    };
    match hex.len() {
        8 => Some(IpAddr::V4(Ipv4Addr::from(word(0)?))),
        32 => {
            let mut octets = [0u8; 16];
            for i in 0..4 {
                octets[i * 4..i * 4 + 4].copy_from_slice(&word(i)?);
            }
            Some(IpAddr::V6(Ipv6Addr::from(octets)))
        }
        _ => None,
    }
}

/// Whether a socket bound to `ip` answers on the loopback.
fn reachable_on_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback() || v4.is_unspecified(),
        IpAddr::V6(v6) => {
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

/// Socket `fd` of process `pid`, duplicated into the supervisor with `pidfd_getfd`.
///
/// Raw `libc`: nix 0.30 offers neither `pidfd_open` nor `pidfd_getfd`.
pub(super) fn socket_of(pid: i32, fd: RawFd) -> Option<OwnedFd> {
    // SAFETY: pidfd_open on a pid; the descriptor is owned below.
    let mut pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if pidfd < 0 {
        // `pid` is a thread other than its process's leader (a test on libtest's threads):
        // pidfd_open wants the process, whose descriptor table the thread shares.
        let leader = super::inside::tgid(pid);
        if leader == pid {
            return None;
        }
        // SAFETY: as above.
        pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, leader, 0) };
        if pidfd < 0 {
            return None;
        }
    }
    // SAFETY: the kernel just gave us this descriptor.
    let pidfd = unsafe { OwnedFd::from_raw_fd(pidfd as i32) };
    // SAFETY: pidfd_getfd duplicates the target's descriptor into ours.
    let dup = unsafe { libc::syscall(libc::SYS_pidfd_getfd, pidfd.as_raw_fd(), fd, 0) };
    if dup < 0 {
        return None;
    }
    // SAFETY: as above.
    Some(unsafe { OwnedFd::from_raw_fd(dup as i32) })
}

/// Domain and type of a socket (`SO_DOMAIN`, `SO_TYPE`: raw options, as nix has no
/// `SO_DOMAIN` and its `SO_TYPE` fails on the types its `SockType` does not list).
pub(super) fn socket_kind(socket: &OwnedFd) -> Option<(i32, i32)> {
    let get = |option| socket_option(socket.as_fd(), option);
    Some((get(libc::SO_DOMAIN)?, get(libc::SO_TYPE)?))
}

/// The protocol of a socket (`SO_PROTOCOL`: for a netlink socket, its family, such as
/// `NETLINK_ROUTE`).
pub(super) fn socket_protocol(socket: &OwnedFd) -> Option<i32> {
    socket_option(socket.as_fd(), libc::SO_PROTOCOL)
}

/// The peer of a connected socket, decoded.
pub(super) fn peer_of(socket: &OwnedFd) -> Option<SockAddr> {
    // SAFETY: an all-zero sockaddr_storage is valid; len describes it.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    // SAFETY: storage/len describe a writable buffer.
    let r = unsafe {
        libc::getpeername(
            socket.as_raw_fd(),
            (&mut storage as *mut libc::sockaddr_storage).cast(),
            &mut len,
        )
    };
    if r != 0 {
        return None;
    }
    // SAFETY: the kernel wrote `len` bytes of the storage, which is plain bytes.
    let bytes = unsafe {
        std::slice::from_raw_parts(
            (&storage as *const libc::sockaddr_storage).cast::<u8>(),
            (len as usize).min(std::mem::size_of::<libc::sockaddr_storage>()),
        )
    };
    crate::sandbox::decode::sockaddr(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TCP: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0000000000000000 100 0 0 10 0
   1: 00000000:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2 1 0000000000000000 100 0 0 10 0
   2: 0100007F:A000 0100007F:1F90 01 00000000:00000000 00:00000000 00000000     0        0 3 1 0000000000000000 100 0 0 10 0
   3: 0200000A:01BB 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4 1 0000000000000000 100 0 0 10 0
";

    const TCP6: &str = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:1F91 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 5 1 0000000000000000 100 0 0 10 0
";

    #[test]
    fn listening_loopback_and_wildcard_ports_count() {
        assert!(table_has(TCP, Transport::Tcp, 8080)); // 127.0.0.1:8080
        assert!(table_has(TCP, Transport::Tcp, 80)); // 0.0.0.0:80
        assert!(!table_has(TCP, Transport::Tcp, 0xa000)); // a client's port, not listening
        assert!(!table_has(TCP, Transport::Tcp, 443)); // 10.0.0.2 only
        assert!(!table_has(TCP, Transport::Tcp, 9));
        assert!(table_has(TCP6, Transport::Tcp, 8081)); // [::1]:8081
                                                        // Any bound UDP socket counts, whatever its state.
        assert!(table_has(TCP, Transport::Udp, 0xa000));
        assert!(!table_has("garbage\n1: zz:zz", Transport::Udp, 0));
    }

    #[test]
    fn loopback_addresses() {
        let v4 = |s: &str| SockAddr::V4(s.parse().unwrap());
        let v6 = |s: &str| SockAddr::V6(s.parse().unwrap());
        assert!(is_loopback(&v4("127.0.0.1:1")));
        assert!(is_loopback(&v4("127.1.2.3:1")));
        assert!(!is_loopback(&v4("10.0.0.1:1")));
        assert!(is_loopback(&v6("[::1]:1")));
        assert!(is_loopback(&v6("[::ffff:127.0.0.1]:1")));
        assert!(!is_loopback(&v6("[2001:db8::1]:1")));
        assert_eq!(port(&v4("127.0.0.1:53")), Some(53));
    }
}
