//! The sinkhole: a TCP listener inside the run's network namespace, owned by the supervisor,
//! that answers every outbound connection the run may not make, reads what the process would
//! have sent, and closes.
//!
//! How a connection gets here: the sandbox's init opens the listener in the fresh namespace
//! ([`listen_in_child`], raw syscalls) and the supervisor copies it out with the seccomp
//! listener. When a process `connect`s a TCP socket to a destination it may not reach, the
//! supervisor connects that very socket (a duplicate taken with `pidfd_getfd`; a socket routes
//! in the namespace it was created in) to the sinkhole instead ([`Sinkhole::divert`]) and
//! answers the `connect` with success. The process then writes its request to the supervisor,
//! and nothing leaves the machine.
//!
//! The bytes are hostile, so the reads are bounded: at most [`MAX_BYTES`], for at most
//! [`FIRST_BYTES_WAIT`] from the accept and [`IDLE_WAIT`] after the last bytes arrived (a
//! client waiting for a response sends nothing more), and at most [`MAX_OPEN`] diverted
//! connections at a time. What was read goes to a callback ([`Finished`]); the parsing is
//! `payload.rs`'s.

use std::collections::HashMap;
use std::io::{self, Read};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use super::socket_option::socket_option;

/// Most bytes read from one diverted connection.
pub(crate) const MAX_BYTES: usize = 16 * 1024;

/// How long the sinkhole waits for a connection's first bytes (and its longest read in all).
pub(crate) const FIRST_BYTES_WAIT: Duration = Duration::from_secs(2);

/// How long the sinkhole waits for more after bytes arrived: a client that sent its request
/// and waits for the answer sends nothing more.
pub(crate) const IDLE_WAIT: Duration = Duration::from_millis(250);

/// Most connections diverted at once; past it a connect is refused (and recorded).
pub(crate) const MAX_OPEN: usize = 32;

/// The listener's backlog: every diverted connection fits, so diverting never waits.
const BACKLOG: i32 = (MAX_OPEN * 2) as i32;

/// `SIOCGSKNS` (linux/sockios.h): the network namespace of a socket, as a new descriptor.
const SIOCGSKNS: libc::c_ulong = 0x894c;

/// What the supervisor knew of a connection when it diverted it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Diverted {
    /// The process, as the sandbox numbers it.
    pub pid: i32,
    /// Where the process meant to connect (`10.0.0.1:443`).
    pub address: String,
    /// `tcp`.
    pub protocol: String,
}

/// A diverted connection the sinkhole is done with.
#[derive(Debug)]
pub(crate) struct Finished {
    /// What the supervisor recorded when it diverted the connection; `None` for a connection
    /// that reached the sinkhole's port directly.
    pub diverted: Option<Diverted>,
    /// The first bytes the process sent (at most [`MAX_BYTES`]).
    pub bytes: Vec<u8>,
}

/// How a diverted `connect` went, to be told to the process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Connected {
    /// The socket is connected to the sinkhole.
    Now,
    /// The socket is non-blocking and the handshake is under way (`EINPROGRESS`).
    InProgress,
}

/// The run's sinkhole.
#[derive(Debug)]
pub(crate) struct Sinkhole {
    listener: TcpListener,
    port: u16,
    /// Whether the listener takes IPv6 connections (a dual-stack socket) besides IPv4.
    ipv6: bool,
    /// The run's network namespace.
    netns: Netns,
    /// Diverted connections not yet finished, by the client's local port.
    diverted: Mutex<HashMap<u16, Diverted>>,
    /// Written once to stop [`Sinkhole::serve`].
    stop: OwnedFd,
}

/// A running sinkhole: its thread, stopped with [`Running::stop`] (or when dropped, on an
/// early return).
pub(crate) struct Running {
    sinkhole: Arc<Sinkhole>,
    thread: Option<JoinHandle<()>>,
}

impl Running {
    /// Finishes every connection with what has arrived and waits for the thread.
    pub(crate) fn stop(self) {
        drop(self);
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // SAFETY: writes an 8-byte counter increment to our own eventfd.
        unsafe {
            libc::write(
                self.sinkhole.stop.as_raw_fd(),
                (&1u64 as *const u64).cast(),
                8,
            )
        };
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Starts serving `listener` (the descriptor [`listen_in_child`] opened in the run's
/// namespace) on its own thread; `on_finished` gets every connection as it is done with.
pub(crate) fn start(
    listener: OwnedFd,
    on_finished: impl FnMut(Finished) + Send + 'static,
) -> io::Result<(Arc<Sinkhole>, Running)> {
    let sinkhole = Arc::new(Sinkhole::new(listener)?);
    let serving = Arc::clone(&sinkhole);
    let thread = std::thread::Builder::new()
        .name("airlock-sinkhole".into())
        .spawn(move || serving.serve(on_finished))?;
    let thread = Some(thread);
    Ok((Arc::clone(&sinkhole), Running { sinkhole, thread }))
}

/// One accepted connection being read.
struct Open {
    stream: TcpStream,
    peer_port: u16,
    bytes: Vec<u8>,
    accepted: Instant,
    last: Option<Instant>,
}

impl Open {
    /// When the sinkhole stops waiting for this connection.
    fn deadline(&self) -> Instant {
        let cap = self.accepted + FIRST_BYTES_WAIT;
        self.last.map_or(cap, |last| (last + IDLE_WAIT).min(cap))
    }

    /// Reads what is there; true when the connection is done (closed, full, or failed).
    fn read_some(&mut self) -> bool {
        let mut buf = [0u8; 4096];
        loop {
            let room = MAX_BYTES - self.bytes.len();
            if room == 0 {
                return true;
            }
            let want = room.min(buf.len());
            match self.stream.read(&mut buf[..want]) {
                Ok(0) => return true,
                Ok(n) => {
                    self.bytes.extend_from_slice(&buf[..n]);
                    self.last = Some(Instant::now());
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return true,
            }
        }
    }
}

impl Sinkhole {
    fn new(listener: OwnedFd) -> io::Result<Sinkhole> {
        let netns = netns_of(listener.as_fd())?;
        let listener = TcpListener::from(listener);
        listener.set_nonblocking(true)?;
        let local = listener.local_addr()?;
        // SAFETY: EFD_CLOEXEC eventfd; owned below.
        let stop = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) };
        if stop < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Sinkhole {
            port: local.port(),
            ipv6: local.is_ipv6(),
            netns,
            listener,
            diverted: Mutex::new(HashMap::new()),
            // SAFETY: the kernel just returned it, and nothing else owns it.
            stop: unsafe { OwnedFd::from_raw_fd(stop) },
        })
    }

    /// The sinkhole's port inside the run's namespace (a destination never to be mistaken for
    /// a listener of the run).
    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    /// Whether `socket` lives in the run's network namespace (and not, say, in the host's,
    /// inherited from outside): only there is the namespace the kernel rule that bounds it.
    pub(crate) fn in_run_namespace(&self, socket: BorrowedFd<'_>) -> bool {
        netns_of(socket).is_ok_and(|ns| ns == self.netns)
    }

    /// Connects `socket` (the process's own, duplicated; of family `domain`) to the sinkhole,
    /// remembering `what` until the connection is finished. An errno when the socket cannot be
    /// connected (or [`MAX_OPEN`] connections are diverted already).
    pub(crate) fn divert(
        &self,
        socket: BorrowedFd<'_>,
        domain: i32,
        what: Diverted,
    ) -> Result<Connected, i32> {
        if self.diverted.lock().map_or(true, |m| m.len() >= MAX_OPEN) {
            return Err(libc::ECONNREFUSED);
        }
        let target: SocketAddr = match domain {
            libc::AF_INET => ([127, 0, 0, 1], self.port).into(),
            libc::AF_INET6 if self.ipv6 => (std::net::Ipv6Addr::LOCALHOST, self.port).into(),
            _ => return Err(libc::EAFNOSUPPORT),
        };
        let (storage, len) = sockaddr_of(target);
        // SAFETY: storage holds a sockaddr of `len` bytes; socket is a descriptor we hold.
        let r = unsafe {
            libc::connect(
                socket.as_raw_fd(),
                (&storage as *const libc::sockaddr_storage).cast(),
                len,
            )
        };
        let connected = if r == 0 {
            Connected::Now
        } else {
            match io::Error::last_os_error().raw_os_error() {
                Some(libc::EINPROGRESS) => Connected::InProgress,
                e => return Err(e.unwrap_or(libc::ECONNREFUSED)),
            }
        };
        let port = local_port(socket).ok_or(libc::ECONNREFUSED)?;
        if let Ok(mut map) = self.diverted.lock() {
            map.insert(port, what);
        }
        Ok(connected)
    }

    /// Accepts and reads until stopped, handing each finished connection to `on_finished`.
    fn serve(&self, mut on_finished: impl FnMut(Finished)) {
        let mut open: Vec<Open> = Vec::new();
        let mut stopping = false;
        while !stopping {
            let now = Instant::now();
            let wait = open
                .iter()
                .map(|c| c.deadline().saturating_duration_since(now))
                .min();
            let timeout = wait.map_or(PollTimeout::NONE, |w| {
                PollTimeout::try_from(w.as_millis().clamp(1, 60_000) as i32)
                    .unwrap_or(PollTimeout::MAX)
            });
            let accepting = open.len() < BACKLOG as usize;
            let mut fds = vec![
                PollFd::new(self.stop.as_fd(), PollFlags::POLLIN),
                PollFd::new(
                    self.listener.as_fd(),
                    if accepting {
                        PollFlags::POLLIN
                    } else {
                        PollFlags::empty()
                    },
                ),
            ];
            fds.extend(
                open.iter()
                    .map(|c| PollFd::new(c.stream.as_fd(), PollFlags::POLLIN)),
            );
            let ready: Vec<bool> = match poll(&mut fds, timeout) {
                Ok(_) => fds
                    .iter()
                    .map(|f| f.revents().is_some_and(|r| !r.is_empty()))
                    .collect(),
                Err(nix::errno::Errno::EINTR) => continue,
                Err(_) => vec![true; fds.len()], // stop serving rather than spin
            };
            stopping = ready[0];
            if ready[1] || stopping {
                self.accept_all(&mut open);
            }
            let now = Instant::now();
            // Connections accepted just now have no poll entry: they are read at once.
            for (i, mut conn) in std::mem::take(&mut open).into_iter().enumerate() {
                let readable = ready.get(i + 2).copied().unwrap_or(true);
                let done = (readable && conn.read_some()) || stopping || conn.deadline() <= now;
                if done {
                    on_finished(self.finish(conn.peer_port, conn.bytes));
                } else {
                    open.push(conn);
                }
            }
        }
        // Diverted connections the listener never saw (the process died first): still attempts.
        let left: Vec<Diverted> = self
            .diverted
            .lock()
            .map(|mut m| m.drain().map(|(_, d)| d).collect())
            .unwrap_or_default();
        for diverted in left {
            on_finished(Finished {
                diverted: Some(diverted),
                bytes: Vec::new(),
            });
        }
    }

    /// Accepts every queued connection (up to the backlog).
    fn accept_all(&self, open: &mut Vec<Open>) {
        while open.len() < BACKLOG as usize {
            match self.listener.accept() {
                Ok((stream, peer)) => {
                    if stream.set_nonblocking(true).is_err() {
                        continue;
                    }
                    open.push(Open {
                        stream,
                        peer_port: peer.port(),
                        bytes: Vec::new(),
                        accepted: Instant::now(),
                        last: None,
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
    }

    /// The finished connection from local port `peer_port`, with what the supervisor knew.
    fn finish(&self, peer_port: u16, bytes: Vec<u8>) -> Finished {
        let diverted = self
            .diverted
            .lock()
            .ok()
            .and_then(|mut m| m.remove(&peer_port));
        Finished { diverted, bytes }
    }
}

/// Which network namespace a socket lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Netns {
    /// Its cookie (`SO_NETNS_COOKIE`, Linux 5.14+): any process may ask, of any socket it holds.
    Cookie(u64),
    /// The `(device, inode)` of its nsfs file (`SIOCGSKNS`), on older kernels: that needs
    /// `CAP_NET_ADMIN` over the namespace, which the supervisor has over the sandbox's.
    Inode(u64, u64),
}

/// The network namespace `socket` lives in.
fn netns_of(socket: BorrowedFd<'_>) -> io::Result<Netns> {
    if let Some(cookie) = socket_option(socket, libc::SO_NETNS_COOKIE) {
        return Ok(Netns::Cookie(cookie));
    }
    // SAFETY: SIOCGSKNS takes no argument and returns a new descriptor, owned below.
    let ns = unsafe { libc::ioctl(socket.as_raw_fd(), SIOCGSKNS as _) };
    if ns < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just returned it, and nothing else owns it.
    let ns = unsafe { OwnedFd::from_raw_fd(ns) };
    let stat = nix::sys::stat::fstat(&ns)?;
    Ok(Netns::Inode(stat.st_dev, stat.st_ino))
}

/// The local port of a connected or bound socket.
fn local_port(socket: BorrowedFd<'_>) -> Option<u16> {
    // SAFETY: an all-zero sockaddr_storage is valid; len describes it.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    // SAFETY: storage/len describe a writable buffer.
    let r = unsafe {
        libc::getsockname(
            socket.as_raw_fd(),
            (&mut storage as *mut libc::sockaddr_storage).cast(),
            &mut len,
        )
    };
    if r != 0 {
        return None;
    }
    // sin_port and sin6_port sit at the same offset, in network order.
    let bytes: [u8; 4] = {
        // SAFETY: sockaddr_storage is at least 4 bytes of plain data.
        let raw = unsafe {
            std::slice::from_raw_parts((&storage as *const libc::sockaddr_storage).cast::<u8>(), 4)
        };
        [raw[0], raw[1], raw[2], raw[3]]
    };
    let family = i32::from(u16::from_ne_bytes([bytes[0], bytes[1]]));
    (family == libc::AF_INET || family == libc::AF_INET6)
        .then(|| u16::from_be_bytes([bytes[2], bytes[3]]))
}

/// A `sockaddr_storage` holding `addr`, and its length.
fn sockaddr_of(addr: SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: an all-zero sockaddr_storage is valid.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let len = match addr {
        SocketAddr::V4(a) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: a.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from(*a.ip()).to_be(),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_storage is larger than sockaddr_in and suitably aligned.
            unsafe { std::ptr::write((&mut storage as *mut libc::sockaddr_storage).cast(), sin) };
            std::mem::size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(a) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: a.port().to_be(),
                sin6_flowinfo: 0,
                sin6_addr: libc::in6_addr {
                    s6_addr: a.ip().octets(),
                },
                sin6_scope_id: 0,
            };
            // SAFETY: sockaddr_storage is larger than sockaddr_in6 and suitably aligned.
            unsafe { std::ptr::write((&mut storage as *mut libc::sockaddr_storage).cast(), sin6) };
            std::mem::size_of::<libc::sockaddr_in6>()
        }
    };
    (storage, len as libc::socklen_t)
}

/// Opens the sinkhole's listener in the calling process's network namespace: a dual-stack
/// socket on `[::]` (IPv4 connections arrive as mapped addresses), or `127.0.0.1` where IPv6
/// is missing, on a port the kernel picks. For the sandbox's init, after the loopback is up:
/// raw syscalls only, no allocation. Returns the descriptor (close-on-exec) or an errno.
pub(crate) fn listen_in_child() -> Result<RawFd, i32> {
    let errno = || {
        io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EIO)
    };
    // SAFETY: plain socket(2).
    let mut fd = unsafe { libc::socket(libc::AF_INET6, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
    let bound = if fd >= 0 {
        let off: libc::c_int = 0;
        // SAFETY: an int option; sin6 is a valid sockaddr_in6 (all zero: [::]:0).
        unsafe {
            libc::setsockopt(
                fd,
                libc::IPPROTO_IPV6,
                libc::IPV6_V6ONLY,
                (&off as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            );
            let mut sin6: libc::sockaddr_in6 = std::mem::zeroed();
            sin6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            libc::bind(
                fd,
                (&sin6 as *const libc::sockaddr_in6).cast(),
                std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t,
            )
        }
    } else {
        -1
    };
    if bound != 0 {
        if fd >= 0 {
            // SAFETY: closing the socket opened above.
            unsafe { libc::close(fd) };
        }
        // SAFETY: plain socket(2).
        fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
        if fd < 0 {
            return Err(errno());
        }
        let sin = libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: 0,
            sin_addr: libc::in_addr {
                s_addr: u32::from(std::net::Ipv4Addr::LOCALHOST).to_be(),
            },
            sin_zero: [0; 8],
        };
        // SAFETY: sin is a valid sockaddr_in.
        let r = unsafe {
            libc::bind(
                fd,
                (&sin as *const libc::sockaddr_in).cast(),
                std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
            )
        };
        if r != 0 {
            return Err(errno());
        }
    }
    // SAFETY: listen(2) on our socket.
    if unsafe { libc::listen(fd, BACKLOG) } != 0 {
        return Err(errno());
    }
    Ok(fd)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// A sinkhole in this process's own namespace: divert a socket, write, stop, and see what
    /// was read.
    #[test]
    fn a_diverted_connection_is_read_and_reported() {
        // On loopback only: this runs in the host's namespace.
        let listener = OwnedFd::from(TcpListener::bind("127.0.0.1:0").unwrap());
        let (tx, rx) = std::sync::mpsc::channel();
        let (sinkhole, running) = start(listener, move |f| tx.send(f).unwrap()).unwrap();
        let socket = std::net::TcpStream::connect(("127.0.0.1", sinkhole.port()));
        drop(socket); // a direct connection: reported without what the supervisor knew
        let client = nix::sys::socket::socket(
            nix::sys::socket::AddressFamily::Inet,
            nix::sys::socket::SockType::Stream,
            nix::sys::socket::SockFlag::SOCK_CLOEXEC,
            None,
        )
        .unwrap();
        assert!(sinkhole.in_run_namespace(client.as_fd()));
        let what = Diverted {
            pid: 7,
            address: "192.0.2.1:80".into(),
            protocol: "tcp".into(),
        };
        assert_eq!(
            sinkhole.divert(client.as_fd(), libc::AF_INET, what.clone()),
            Ok(Connected::Now)
        );
        let mut stream = TcpStream::from(client);
        stream.write_all(b"GET / HTTP/1.1\r\n\r\n").unwrap();
        let mut got = Vec::new();
        while got.len() < 2 {
            got.push(rx.recv_timeout(Duration::from_secs(5)).unwrap());
        }
        running.stop();
        let diverted = got.iter().find(|f| f.diverted.is_some()).unwrap();
        assert_eq!(diverted.diverted.as_ref(), Some(&what));
        assert_eq!(diverted.bytes, b"GET / HTTP/1.1\r\n\r\n");
        assert!(got
            .iter()
            .any(|f| f.diverted.is_none() && f.bytes.is_empty()));
    }
}
