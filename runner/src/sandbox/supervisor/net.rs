//! Network attempts: `socket`, `socketpair`, `connect`, `bind`, `sendto`, `sendmsg` and
//! `sendmmsg`, and the connections the sinkhole answered. The run's network namespace is
//! private (its own loopback, nothing else), so nothing here can reach the world: a run's own
//! servers work inside it, every other destination is refused (TCP: answered by the sinkhole,
//! which reads what would have been sent), and each attempt is recorded with what it carried
//! (addresses, DNS names, HTTP requests, TLS server names, decoys in payloads).

use std::os::fd::{AsFd, OwnedFd, RawFd};
use std::sync::atomic::Ordering;

use super::inside::tgid;
use super::reach::{
    is_loopback, peer_of, port, run_listens, socket_kind, socket_of, socket_protocol, Transport,
};
use super::{Answer, Call, Handler};
use crate::events::{Decision, Event, Kind};
use crate::sandbox::decode::{self, SockAddr};
use crate::sandbox::payload::{self, PayloadSummary};
use crate::sandbox::procmem::read_mem;
use crate::sandbox::sinkhole::{Connected, Diverted, Finished, Sinkhole};

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
                // Harmless in the private network namespace; recorded: builds rarely need it.
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
    ///
    /// In the run's own network namespace: a loopback port a process of the run listens on is
    /// reached (the namespace bounds it); any other TCP destination is answered by the sinkhole,
    /// whose event comes when it has read what the process sent ([`Handler::sinkholed`]); a
    /// UDP destination is pretended, so that the send after it shows its payload.
    pub(super) fn connect(&self, call: &Call) -> Answer {
        let addr = sockaddr_at(call.pid, call.args[1], call.args[2]);
        let socket = socket_of(call.pid, call.args[0] as RawFd);
        let (domain, sock_type) = socket.as_ref().and_then(socket_kind).unwrap_or((-1, -1));
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
        let event = |decision| {
            Event::new(Kind::Net, "connect", decision)
                .with("address", addr.to_string())
                .with("protocol", protocol.as_str())
        };
        let stream = sock_type & 0xf == libc::SOCK_STREAM;
        if let Some(sinkhole) = addr
            .is_inet()
            .then(|| self.in_run_namespace(socket.as_ref()))
            .flatten()
        {
            let transport = if stream {
                Transport::Tcp
            } else {
                Transport::Udp
            };
            if self.own_listener(&addr, transport) {
                self.record(call, event(Decision::Allowed).with("reason", OWN_LISTENER));
                return Answer::Continue;
            }
            if let (true, Some(socket)) = (stream, &socket) {
                let diverted = Diverted {
                    pid: self.inner_pid(call.pid),
                    address: addr.to_string(),
                    protocol: protocol.clone(),
                };
                match sinkhole.divert(socket.as_fd(), domain, diverted) {
                    Ok(Connected::Now) => return Answer::Pretend(0),
                    Ok(Connected::InProgress) => return Answer::Deny(libc::EINPROGRESS),
                    // The socket is connected already (to the sinkhole, or to a server of the
                    // run): the kernel's own answer, and no new attempt.
                    Err(e @ (libc::EISCONN | libc::EALREADY)) => return Answer::Deny(e),
                    Err(_) => {} // recorded below without a payload
                }
            }
        }
        self.record(call, event(Decision::Denied));
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

    /// `bind(fd, addr, addrlen)`: allowed for a socket in the run's own network namespace,
    /// which nothing outside can reach (a test's own server, a UDP client's local port).
    pub(super) fn bind(&self, call: &Call) -> Answer {
        let Some(addr) = sockaddr_at(call.pid, call.args[1], call.args[2]) else {
            return Answer::Deny(libc::EFAULT);
        };
        let event =
            |decision| Event::new(Kind::Net, "bind", decision).with("address", addr.to_string());
        if addr.is_unix() {
            // Pathname sockets need Landlock's make-socket right (write dirs only); abstract
            // names live in our own network namespace.
            self.record(call, event(Decision::Allowed));
            return Answer::Continue;
        }
        let socket = socket_of(call.pid, call.args[0] as RawFd);
        if addr == SockAddr::Other(libc::AF_NETLINK as u16) {
            return self.bind_netlink(call, socket.as_ref());
        }
        if addr.is_inet() && self.in_run_namespace(socket.as_ref()).is_some() {
            self.record(call, event(Decision::Allowed));
            return Answer::Continue;
        }
        self.record(call, event(Decision::Denied));
        Answer::Deny(libc::EACCES)
    }

    /// `bind` of a netlink socket. A `NETLINK_ROUTE` socket of the run's own network namespace
    /// sees that namespace alone (its loopback): what `getaddrinfo` (`AI_ADDRCONFIG`) and
    /// `if_nameindex` ask, and OpenSSL with them, so it is allowed. Every other netlink family
    /// (audit, netfilter, the kernel's uevents, ...) reaches beyond the run, and is refused.
    fn bind_netlink(&self, call: &Call, socket: Option<&OwnedFd>) -> Answer {
        let protocol = socket
            .filter(|s| socket_kind(s).is_some_and(|(domain, _)| domain == libc::AF_NETLINK))
            .and_then(socket_protocol);
        let route = protocol == Some(libc::NETLINK_ROUTE);
        let allowed = route && self.in_run_namespace(socket).is_some();
        let address = match protocol {
            Some(libc::NETLINK_ROUTE) => "netlink:route".to_owned(),
            Some(p) => format!("netlink:{p}"),
            None => "netlink".to_owned(),
        };
        let (decision, answer) = if allowed {
            (Decision::Allowed, Answer::Continue)
        } else {
            (Decision::Denied, Answer::Deny(libc::EACCES))
        };
        let mut event = Event::new(Kind::Net, "bind", decision).with("address", address);
        if allowed {
            event = event.with("reason", NETLINK_ROUTE);
        }
        self.record(call, event);
        answer
    }

    /// `sendto(fd, buf, len, flags, addr, addrlen)`.
    pub(super) fn sendto(&self, call: &Call) -> Answer {
        let addr = sockaddr_at(call.pid, call.args[4], call.args[5]);
        let send = Send {
            fd: call.args[0] as RawFd,
            addr,
            buf: call.args[1],
            len: call.args[2],
            flags: call.args[3],
        };
        self.send(call, send)
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
        let flags = if call.nr == libc::SYS_sendmmsg {
            call.args[3]
        } else {
            call.args[2]
        };
        let send = Send {
            fd: call.args[0] as RawFd,
            addr,
            buf: base,
            len,
            flags,
        };
        self.send(call, send)
    }

    /// A send: on a connected TCP socket it goes ahead (its peer is in the run's namespace: a
    /// server of the run, or the sinkhole, which records it); a datagram reaches a port a
    /// process of the run bound (unless it asks DNS for another name than `localhost`), and is
    /// otherwise refused and recorded with its payload.
    fn send(&self, call: &Call, send: Send) -> Answer {
        let socket = socket_of(call.pid, send.fd);
        let (domain, sock_type) = socket.as_ref().and_then(socket_kind).unwrap_or((-1, -1));
        let inet = send.addr.as_ref().is_some_and(SockAddr::is_inet)
            || domain == libc::AF_INET
            || domain == libc::AF_INET6;
        let unix_named = matches!(
            send.addr,
            Some(SockAddr::UnixPath(_) | SockAddr::UnixAbstract(_))
        );
        if !inet && !unix_named {
            return Answer::Continue; // local IPC on a socketpair or an accepted connection
        }
        let stream = sock_type & 0xf == libc::SOCK_STREAM;
        let fast_open = send.flags & libc::MSG_FASTOPEN as u64 != 0;
        if inet && stream && !(fast_open && send.addr.is_some()) {
            // Without TCP Fast Open a send never connects: a connected socket's peer is a
            // server of the run or the sinkhole (the namespace holds nothing else), and an
            // unconnected one fails in the kernel.
            return Answer::Continue;
        }
        let mut payload = vec![0u8; (send.len as usize).min(MAX_PAYLOAD)];
        let n = if send.buf != 0 {
            read_mem(call.pid, send.buf, &mut payload).unwrap_or(0)
        } else {
            0
        };
        payload.truncate(n);
        let destination = send
            .addr
            .clone()
            .or_else(|| socket.as_ref().and_then(peer_of));
        let address = destination.as_ref().map_or_else(
            || {
                self.pretend_connected
                    .lock()
                    .ok()
                    .and_then(|map| map.get(&(tgid(call.pid), send.fd)).cloned())
                    .unwrap_or_else(|| "connected".to_owned())
            },
            ToString::to_string,
        );
        let protocol = if domain >= 0 {
            decode::protocol(domain, sock_type)
        } else {
            "unknown".into()
        };
        let query = decode::dns_query(&payload);
        let transport = if stream {
            Transport::Tcp
        } else {
            Transport::Udp
        };
        let allowed = inet
            && query
                .as_deref()
                .is_none_or(|q| q.eq_ignore_ascii_case("localhost"))
            && destination
                .as_ref()
                .is_some_and(|d| self.own_listener(d, transport))
            && self.in_run_namespace(socket.as_ref()).is_some();
        let decision = if allowed {
            Decision::Allowed
        } else {
            Decision::Denied
        };
        let event = match &query {
            Some(query) => Event::new(Kind::Net, "dns", decision).with("query", query.as_str()),
            None => Event::new(Kind::Net, "send", decision).with("bytes", send.len),
        };
        let mut event = event
            .with("address", address.as_str())
            .with("protocol", protocol.as_str());
        if stream {
            event = with_payload(event, &payload);
        }
        self.record(call, event);
        if allowed {
            return Answer::Continue;
        }
        self.scan_for_decoys(self.inner_pid(call.pid), &payload, &address);
        Answer::Deny(if inet {
            libc::ECONNREFUSED
        } else {
            libc::EACCES
        })
    }

    /// Records a connection the sinkhole answered: the `connect` (denied: nothing left the
    /// machine) with what the process sent, and the decoys found in it.
    pub(crate) fn sinkholed(&self, finished: Finished) {
        let diverted = finished.diverted.unwrap_or_else(|| Diverted {
            pid: 0,
            address: self
                .ctx
                .sinkhole
                .get()
                .map_or_else(String::new, |s| format!("sinkhole port {}", s.port())),
            protocol: "tcp".into(),
        });
        let event = Event::new(Kind::Net, "connect", Decision::Denied)
            .with("address", diverted.address.as_str())
            .with("protocol", diverted.protocol.as_str())
            .with("sinkhole", true);
        self.record_by(diverted.pid, with_payload(event, &finished.bytes));
        self.scan_for_decoys(diverted.pid, &finished.bytes, &diverted.address);
    }

    /// Records a `leak/decoy-output` for each decoy found in `payload` sent towards `address`.
    fn scan_for_decoys(&self, pid: i32, payload: &[u8], address: &str) {
        if let Some(view) = &self.ctx.decoys {
            for decoy in view.set.found_in(payload) {
                self.record_by(
                    pid,
                    Event::new(Kind::Leak, "decoy-output", Decision::Flagged)
                        .with("decoy", decoy.name.as_str())
                        .with("location", format!("network:{address}")),
                );
            }
        }
    }

    /// The sinkhole, if `socket` lives in the run's own network namespace (which then bounds
    /// whatever it does).
    fn in_run_namespace(&self, socket: Option<&OwnedFd>) -> Option<&Sinkhole> {
        let sinkhole = self.ctx.sinkhole.get()?;
        sinkhole
            .in_run_namespace(socket?.as_fd())
            .then_some(&**sinkhole)
    }

    /// Whether `addr` is a loopback port that a process of the run bound (listening, for TCP),
    /// other than the sinkhole's.
    fn own_listener(&self, addr: &SockAddr, transport: Transport) -> bool {
        let init = self.ctx.init_pid.load(Ordering::Relaxed);
        let sinkhole = self.ctx.sinkhole.get().map(|s| s.port());
        match port(addr) {
            Some(p) if is_loopback(addr) && Some(p) != sinkhole && init > 0 => {
                run_listens(init, transport, p)
            }
            _ => false,
        }
    }
}

/// Why a connection to the run's own listener is allowed, as its event says.
const OWN_LISTENER: &str =
    "a port a process of the run listens on, in its private network namespace";

/// Why a `NETLINK_ROUTE` bind is allowed, as its event says.
const NETLINK_ROUTE: &str =
    "routing netlink in the run's private network namespace, which holds its loopback alone";

/// A send's arguments, whichever syscall made it.
struct Send {
    fd: RawFd,
    addr: Option<SockAddr>,
    buf: u64,
    len: u64,
    flags: u64,
}

/// `event` with the summary of a stream's first bytes (docs/events.md: the sinkhole's keys).
fn with_payload(event: Event, bytes: &[u8]) -> Event {
    let summary = payload::summarize(bytes);
    let mut event = event
        .with("payload", summary.line())
        .with("payload_kind", summary.kind())
        .with("payload_bytes", bytes.len());
    match summary {
        PayloadSummary::Http { method, path, host } => {
            event = event.with("http_method", method).with("http_path", path);
            if let Some(host) = host {
                event = event.with("http_host", host);
            }
        }
        PayloadSummary::Tls { sni: Some(sni) } => event = event.with("tls_sni", sni),
        PayloadSummary::Data { .. } => {
            // DNS over TCP: a two-byte length, then the query.
            if let Some(query) = bytes.get(2..).and_then(decode::dns_query) {
                event = event.with("query", query);
            }
        }
        PayloadSummary::Tls { sni: None } | PayloadSummary::Empty => {}
    }
    event
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_streams_payload_is_summarized_in_its_event() {
        let e = with_payload(
            Event::new(Kind::Net, "connect", Decision::Denied),
            b"GET /x HTTP/1.1\r\nHost: h.example\r\n\r\n",
        );
        assert_eq!(e.detail_str("payload"), Some("GET http://h.example/x"));
        assert_eq!(e.detail_str("http_host"), Some("h.example"));
        assert_eq!(e.detail["payload_bytes"], 36);
        // DNS over TCP: a two-byte length, then the query.
        let mut dns = vec![0, 29, 0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        dns.extend_from_slice(b"\x05exfil\x04test\x00\x00\x01\x00\x01");
        let e = with_payload(Event::new(Kind::Net, "connect", Decision::Denied), &dns);
        assert_eq!(e.detail_str("payload_kind"), Some("data"));
        assert_eq!(e.detail_str("query"), Some("exfil.test"));
        let e = with_payload(Event::new(Kind::Net, "connect", Decision::Denied), b"");
        assert_eq!(e.detail_str("payload"), Some("nothing sent"));
    }
}
