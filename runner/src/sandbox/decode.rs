//! Pure decoders for what the supervisor reads out of a sandboxed process's memory: socket
//! addresses, DNS queries, and the strings that hide decoy secrets. No I/O here, so every
//! decoder is unit-tested and fuzzed (`fuzz/fuzz_targets/decode_*.rs`).

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddrV4, SocketAddrV6};

/// A decoded `struct sockaddr`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SockAddr {
    /// An IPv4 address and port.
    V4(SocketAddrV4),
    /// An IPv6 address and port.
    V6(SocketAddrV6),
    /// A pathname unix socket.
    UnixPath(String),
    /// An abstract unix socket (leading NUL stripped).
    UnixAbstract(String),
    /// An unnamed unix socket (autobind, or `socketpair`).
    UnixUnnamed,
    /// `AF_UNSPEC`: disconnect a datagram socket.
    Unspec,
    /// Any other family, by number.
    Other(u16),
}

impl SockAddr {
    /// Whether the address is on the internet families.
    pub fn is_inet(&self) -> bool {
        matches!(self, SockAddr::V4(_) | SockAddr::V6(_))
    }

    /// Whether the address names a unix socket.
    pub fn is_unix(&self) -> bool {
        matches!(
            self,
            SockAddr::UnixPath(_) | SockAddr::UnixAbstract(_) | SockAddr::UnixUnnamed
        )
    }
}

impl fmt::Display for SockAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SockAddr::V4(a) => write!(f, "{a}"),
            SockAddr::V6(a) => write!(f, "[{}]:{}", a.ip(), a.port()),
            SockAddr::UnixPath(p) => write!(f, "unix:{p}"),
            SockAddr::UnixAbstract(n) => write!(f, "unix-abstract:{n}"),
            SockAddr::UnixUnnamed => f.write_str("unix:"),
            SockAddr::Unspec => f.write_str("unspec"),
            SockAddr::Other(fam) => write!(f, "family-{fam}"),
        }
    }
}

/// Decodes `len` bytes of a `struct sockaddr` (native endianness for the family, network order
/// for ports). Returns `None` when the bytes are too short for the family they claim.
pub fn sockaddr(bytes: &[u8]) -> Option<SockAddr> {
    let family = u16::from_ne_bytes(bytes.get(0..2)?.try_into().ok()?);
    match i32::from(family) {
        libc::AF_INET => {
            let port = u16::from_be_bytes(bytes.get(2..4)?.try_into().ok()?);
            let ip: [u8; 4] = bytes.get(4..8)?.try_into().ok()?;
            Some(SockAddr::V4(SocketAddrV4::new(Ipv4Addr::from(ip), port)))
        }
        libc::AF_INET6 => {
            let port = u16::from_be_bytes(bytes.get(2..4)?.try_into().ok()?);
            let flow = u32::from_be_bytes(bytes.get(4..8)?.try_into().ok()?);
            let ip: [u8; 16] = bytes.get(8..24)?.try_into().ok()?;
            let scope = bytes
                .get(24..28)
                .and_then(|b| b.try_into().ok())
                .map_or(0, u32::from_ne_bytes);
            Some(SockAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(ip),
                port,
                flow,
                scope,
            )))
        }
        libc::AF_UNIX => {
            let path = &bytes[2..];
            match path.first() {
                None => Some(SockAddr::UnixUnnamed),
                Some(0) => Some(SockAddr::UnixAbstract(
                    String::from_utf8_lossy(&path[1..]).into_owned(),
                )),
                Some(_) => {
                    let end = path.iter().position(|&b| b == 0).unwrap_or(path.len());
                    Some(SockAddr::UnixPath(
                        String::from_utf8_lossy(&path[..end]).into_owned(),
                    ))
                }
            }
        }
        libc::AF_UNSPEC => Some(SockAddr::Unspec),
        _ => Some(SockAddr::Other(family)),
    }
}

/// The protocol name for a socket's domain and type, as events spell it.
pub fn protocol(domain: i32, sock_type: i32) -> String {
    let base = sock_type & 0xf;
    match (domain, base) {
        (libc::AF_INET | libc::AF_INET6, libc::SOCK_STREAM) => "tcp".into(),
        (libc::AF_INET | libc::AF_INET6, libc::SOCK_DGRAM) => "udp".into(),
        (_, libc::SOCK_RAW) => "raw".into(),
        (libc::AF_UNIX, libc::SOCK_STREAM) => "unix-stream".into(),
        (libc::AF_UNIX, libc::SOCK_DGRAM) => "unix-dgram".into(),
        (libc::AF_UNIX, libc::SOCK_SEQPACKET) => "unix-seqpacket".into(),
        (libc::AF_NETLINK, _) => "netlink".into(),
        (libc::AF_PACKET, _) => "packet".into(),
        (d, t) => format!("domain-{d}-type-{t}"),
    }
}

/// The name of a socket domain.
pub fn domain_name(domain: i32) -> String {
    match domain {
        libc::AF_INET => "inet".into(),
        libc::AF_INET6 => "inet6".into(),
        libc::AF_UNIX => "unix".into(),
        libc::AF_NETLINK => "netlink".into(),
        libc::AF_PACKET => "packet".into(),
        d => format!("domain-{d}"),
    }
}

/// If `payload` is a DNS query (RFC 1035 header, QR clear, at least one question), the first
/// question's name, e.g. `exfil.example.com`.
pub fn dns_query(payload: &[u8]) -> Option<String> {
    if payload.len() < 12 {
        return None;
    }
    let flags = u16::from_be_bytes([payload[2], payload[3]]);
    let is_response = flags & 0x8000 != 0;
    let opcode = (flags >> 11) & 0xf;
    let questions = u16::from_be_bytes([payload[4], payload[5]]);
    if is_response || opcode > 2 || questions == 0 {
        return None;
    }
    let mut name = String::new();
    let mut at = 12;
    loop {
        let len = usize::from(*payload.get(at)?);
        at += 1;
        if len == 0 {
            break;
        }
        if len > 63 {
            return None; // compression pointers and extended labels never start a query
        }
        let label = payload.get(at..at + len)?;
        if !label.iter().all(|b| b.is_ascii_graphic() && *b != b'.') {
            return None;
        }
        if !name.is_empty() {
            name.push('.');
        }
        name.push_str(std::str::from_utf8(label).ok()?);
        at += len;
        if name.len() > 255 {
            return None;
        }
    }
    // QTYPE and QCLASS must follow.
    payload.get(at..at + 4)?;
    if name.is_empty() {
        None
    } else {
        Some(name)
    }
}

/// Encodings under which a decoy value is searched for: as is, hex (either case), base64
/// (standard and URL-safe, at each of the three alignments). `value` is text (a token) or
/// bytes (a key a payload may send as it decoded it).
pub fn encodings<T: AsRef<[u8]> + ?Sized>(value: &T) -> Vec<Vec<u8>> {
    let raw = value.as_ref();
    let mut out = vec![raw.to_vec()];
    let hex: String = raw.iter().map(|b| format!("{b:02x}")).collect();
    out.push(hex.clone().into_bytes());
    out.push(hex.to_uppercase().into_bytes());
    for skip in 0..3 {
        // A value embedded at offset k of a larger base64 stream encodes differently for each
        // k mod 3; encode with k filler bytes and keep only the stable middle.
        let mut padded = vec![0u8; skip];
        padded.extend_from_slice(raw);
        let encoded = base64(&padded);
        let start = (skip * 4).div_ceil(3) + 1;
        let stable = encoded.len().saturating_sub(4);
        if stable > start + 8 {
            let core = &encoded[start..stable];
            out.push(core.as_bytes().to_vec());
            out.push(core.replace('+', "-").replace('/', "_").into_bytes());
        }
    }
    out
}

/// Standard base64 with padding. Written here (a dozen lines) rather than pulled in as a
/// dependency, since only the encoder is needed, for the decoy search above.
fn base64(data: &[u8]) -> String {
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let n = chunk.len();
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let v = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= n {
                out.push(char::from(TABLE[((v >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Whether `haystack` contains `value` under any of [`encodings`], case-insensitively for
/// DNS-style text (labels are case-insensitive).
pub fn contains_encoded(haystack: &[u8], needles: &[Vec<u8>]) -> bool {
    needles
        .iter()
        .any(|n| !n.is_empty() && haystack.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inet4(port: u16, ip: [u8; 4]) -> Vec<u8> {
        let mut b = (libc::AF_INET as u16).to_ne_bytes().to_vec();
        b.extend_from_slice(&port.to_be_bytes());
        b.extend_from_slice(&ip);
        b.extend_from_slice(&[0; 8]);
        b
    }

    #[test]
    fn ipv4_and_ipv6() {
        assert_eq!(
            sockaddr(&inet4(4444, [127, 0, 0, 1])).unwrap().to_string(),
            "127.0.0.1:4444"
        );
        let mut v6 = (libc::AF_INET6 as u16).to_ne_bytes().to_vec();
        v6.extend_from_slice(&53u16.to_be_bytes());
        v6.extend_from_slice(&[0; 4]);
        v6.extend_from_slice(&Ipv6Addr::LOCALHOST.octets());
        v6.extend_from_slice(&[0; 4]);
        assert_eq!(sockaddr(&v6).unwrap().to_string(), "[::1]:53");
        assert_eq!(sockaddr(&v6[..10]), None);
    }

    #[test]
    fn unix_forms() {
        let mut path = (libc::AF_UNIX as u16).to_ne_bytes().to_vec();
        path.extend_from_slice(b"/tmp/x.sock\0\0\0");
        assert_eq!(sockaddr(&path).unwrap().to_string(), "unix:/tmp/x.sock");
        let mut abs = (libc::AF_UNIX as u16).to_ne_bytes().to_vec();
        abs.extend_from_slice(b"\0hidden");
        assert_eq!(sockaddr(&abs).unwrap().to_string(), "unix-abstract:hidden");
        let unnamed = (libc::AF_UNIX as u16).to_ne_bytes().to_vec();
        assert_eq!(sockaddr(&unnamed), Some(SockAddr::UnixUnnamed));
        assert_eq!(sockaddr(&[1]), None);
    }

    fn query(name: &str) -> Vec<u8> {
        let mut q = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        for label in name.split('.') {
            q.push(label.len() as u8);
            q.extend_from_slice(label.as_bytes());
        }
        q.extend_from_slice(&[0, 0, 1, 0, 1]);
        q
    }

    #[test]
    fn dns_queries_parse_and_junk_does_not() {
        assert_eq!(
            dns_query(&query("exfil.attacker.test")).as_deref(),
            Some("exfil.attacker.test")
        );
        let mut response = query("a.test");
        response[2] |= 0x80;
        assert_eq!(dns_query(&response), None);
        assert_eq!(dns_query(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"), None);
        assert_eq!(dns_query(&query("a.test")[..15]), None);
    }

    #[test]
    fn encoded_decoys_are_found() {
        let secret = "AIRLOCKDECOY0123456789abcdef";
        let needles = encodings(secret);
        assert!(contains_encoded(
            format!("token={secret}").as_bytes(),
            &needles
        ));
        let hex: String = secret.bytes().map(|b| format!("{b:02x}")).collect();
        assert!(contains_encoded(
            format!("q={hex}.evil.test").as_bytes(),
            &needles
        ));
        for prefix in ["", "x", "xy", "xyz"] {
            let b64 = base64(format!("{prefix}{secret}!").as_bytes());
            assert!(
                contains_encoded(b64.as_bytes(), &needles),
                "{prefix:?} {b64}"
            );
        }
        assert!(!contains_encoded(b"nothing to see", &needles));
    }

    #[test]
    fn base64_matches_rfc4648_vectors() {
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }
}
