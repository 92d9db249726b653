//! What the first bytes of an outbound TCP connection say: an HTTP request (method, path,
//! `Host`), a TLS ClientHello (the server name it asks for), or neither (a hex preview).
//!
//! The sinkhole feeds this module bytes a sandboxed process chose, so everything here is a pure
//! function over a bounded slice: no I/O, no allocation proportional to anything but the
//! (bounded) input, every length checked. Unit-tested below and fuzzed
//! (`fuzz/fuzz_targets/sinkhole_payload.rs`).

/// Most bytes of a field (method, path, host, server name) kept in a summary.
pub const MAX_FIELD: usize = 256;

/// Bytes shown in the hex preview of a payload that is neither HTTP nor TLS.
pub const PREVIEW_BYTES: usize = 32;

/// HTTP methods recognised at the start of a request line.
const HTTP_METHODS: &[&str] = &[
    "GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH", "CONNECT", "TRACE",
];

/// What a payload was recognised as, and what it carried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PayloadSummary {
    /// Nothing was sent.
    Empty,
    /// An HTTP/1.x request.
    Http {
        /// The request method (`POST`).
        method: String,
        /// The request target as sent (`/collect`, or an absolute URL through a proxy).
        path: String,
        /// The `Host` header, if the headers read so far had one.
        host: Option<String>,
    },
    /// A TLS handshake beginning with a ClientHello.
    Tls {
        /// The server name indication, if the hello carried one.
        sni: Option<String>,
    },
    /// Anything else: the first [`PREVIEW_BYTES`] bytes in hex.
    Data {
        /// Lowercase hex of the payload's first bytes.
        hex: String,
    },
}

impl PayloadSummary {
    /// The kind as events spell it: `empty`, `http`, `tls` or `data`.
    pub fn kind(&self) -> &'static str {
        match self {
            PayloadSummary::Empty => "empty",
            PayloadSummary::Http { .. } => "http",
            PayloadSummary::Tls { .. } => "tls",
            PayloadSummary::Data { .. } => "data",
        }
    }

    /// A one-line description: `POST http://x.example/collect`, `TLS ClientHello for
    /// x.example`, `data 68656c6c6f`, `nothing sent`.
    pub fn line(&self) -> String {
        match self {
            PayloadSummary::Empty => "nothing sent".to_owned(),
            PayloadSummary::Http { method, path, host } => match host {
                Some(host) if path.starts_with('/') => format!("{method} http://{host}{path}"),
                _ => format!("{method} {path}"),
            },
            PayloadSummary::Tls { sni: Some(sni) } => format!("TLS ClientHello for {sni}"),
            PayloadSummary::Tls { sni: None } => "TLS ClientHello".to_owned(),
            PayloadSummary::Data { hex } => format!("data {hex}"),
        }
    }
}

/// Summarizes the first bytes a process sent on a connection.
pub fn summarize(bytes: &[u8]) -> PayloadSummary {
    if bytes.is_empty() {
        return PayloadSummary::Empty;
    }
    if let Some(http) = http_request(bytes) {
        return http;
    }
    if let Some(sni) = tls_client_hello(bytes) {
        return PayloadSummary::Tls { sni };
    }
    let hex = bytes
        .iter()
        .take(PREVIEW_BYTES)
        .map(|b| format!("{b:02x}"))
        .collect();
    PayloadSummary::Data { hex }
}

/// Printable text of a field, cut at [`MAX_FIELD`] bytes; `None` if it holds control bytes.
fn field(bytes: &[u8]) -> Option<String> {
    let bytes = &bytes[..bytes.len().min(MAX_FIELD)];
    if bytes.is_empty() || !bytes.iter().all(|b| b.is_ascii_graphic()) {
        return None;
    }
    std::str::from_utf8(bytes).ok().map(str::to_owned)
}

/// An HTTP/1.x request line (`METHOD TARGET HTTP/1.x`) and its `Host` header.
fn http_request(bytes: &[u8]) -> Option<PayloadSummary> {
    let line_end = bytes
        .windows(2)
        .position(|w| w == b"\r\n")
        .or_else(|| bytes.iter().position(|&b| b == b'\n'))
        .unwrap_or(bytes.len());
    let line = &bytes[..line_end];
    let mut parts = line.split(|&b| b == b' ');
    let method = parts.next()?;
    let method = HTTP_METHODS
        .iter()
        .find(|m| m.as_bytes() == method)?
        .to_string();
    let path = field(parts.next()?)?;
    let version = parts.next();
    // Without a version the line may be cut by the read bound; with one it must be HTTP's.
    if version.is_some_and(|v| !v.starts_with(b"HTTP/")) {
        return None;
    }
    let host = header(&bytes[line_end..], b"host");
    Some(PayloadSummary::Http { method, path, host })
}

/// The value of header `name` (lowercase) among the header lines in `rest`.
fn header(rest: &[u8], name: &[u8]) -> Option<String> {
    let rest = rest.strip_prefix(b"\r").unwrap_or(rest);
    let rest = rest.strip_prefix(b"\n").unwrap_or(rest);
    for line in rest.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            break; // the end of the headers
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        if line[..colon].eq_ignore_ascii_case(name) {
            let value = &line[colon + 1..];
            let start = value
                .iter()
                .position(|b| !b.is_ascii_whitespace())
                .unwrap_or(value.len());
            return field(&value[start..]);
        }
    }
    None
}

/// A big-endian integer of `n` bytes at `at`.
fn be(bytes: &[u8], at: usize, n: usize) -> Option<usize> {
    let slice = bytes.get(at..at.checked_add(n)?)?;
    Some(slice.iter().fold(0usize, |v, &b| (v << 8) | usize::from(b)))
}

/// If `bytes` begin a TLS record holding a ClientHello: `Some(sni)`, the server name it asks
/// for when the extension was read.
fn tls_client_hello(bytes: &[u8]) -> Option<Option<String>> {
    // Record header: type 22 (handshake), version 3.x, length; then handshake type 1.
    if bytes.first() != Some(&22) || bytes.get(1) != Some(&3) || bytes.get(5) != Some(&1) {
        return None;
    }
    // The hello may be cut by the read bound: parse what is there.
    let hello = bytes.get(9..)?;
    // client_version (2), random (32), session id.
    let mut at = 2 + 32;
    at += 1 + be(hello, at, 1)?;
    // cipher suites, compression methods.
    at += 2 + be(hello, at, 2)?;
    at += 1 + be(hello, at, 1)?;
    let Some(ext_len) = be(hello, at, 2) else {
        return Some(None);
    };
    at += 2;
    let end = at.saturating_add(ext_len).min(hello.len());
    while at + 4 <= end {
        let (kind, len) = (be(hello, at, 2)?, be(hello, at + 2, 2)?);
        at += 4;
        if kind == 0 {
            return Some(server_name(hello.get(at..at.checked_add(len)?.min(end))?));
        }
        at = at.checked_add(len)?;
    }
    Some(None)
}

/// The first host name of a `server_name` extension's body.
fn server_name(ext: &[u8]) -> Option<String> {
    // server_name_list length (2), then entries: name_type (1), length (2), name.
    let mut at = 2;
    while at + 3 <= ext.len() {
        let (kind, len) = (ext[at], be(ext, at + 1, 2)?);
        at += 3;
        let name = ext.get(at..at.checked_add(len)?)?;
        if kind == 0 {
            return field(name);
        }
        at += len;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A ClientHello as a client library sends it, asking for `name`.
    pub(crate) fn client_hello(name: &str) -> Vec<u8> {
        let mut sni = Vec::new();
        let list_len = 3 + name.len();
        sni.extend_from_slice(&(list_len as u16).to_be_bytes());
        sni.push(0);
        sni.extend_from_slice(&(name.len() as u16).to_be_bytes());
        sni.extend_from_slice(name.as_bytes());
        let mut exts = vec![0x00, 0x0b, 0x00, 0x02, 0x01, 0x00]; // ec_point_formats first
        exts.extend_from_slice(&[0x00, 0x00]);
        exts.extend_from_slice(&(sni.len() as u16).to_be_bytes());
        exts.extend_from_slice(&sni);
        let mut hello = vec![0x03, 0x03];
        hello.extend_from_slice(&[7; 32]);
        hello.extend_from_slice(&[0]); // no session id
        hello.extend_from_slice(&[0x00, 0x02, 0x13, 0x01]);
        hello.extend_from_slice(&[0x01, 0x00]);
        hello.extend_from_slice(&(exts.len() as u16).to_be_bytes());
        hello.extend_from_slice(&exts);
        let mut handshake = vec![0x01, 0, 0, 0];
        handshake[1..4].copy_from_slice(&(hello.len() as u32).to_be_bytes()[1..]);
        handshake.extend_from_slice(&hello);
        let mut record = vec![22, 3, 1];
        record.extend_from_slice(&(handshake.len() as u16).to_be_bytes());
        record.extend_from_slice(&handshake);
        record
    }

    #[test]
    fn http_requests_show_method_path_and_host() {
        let req =
            b"POST /collect?id=1 HTTP/1.1\r\nUser-Agent: x\r\nhost:  x.example:8080\r\n\r\nbody";
        let s = summarize(req);
        assert_eq!(
            s,
            PayloadSummary::Http {
                method: "POST".into(),
                path: "/collect?id=1".into(),
                host: Some("x.example:8080".into()),
            }
        );
        assert_eq!(s.line(), "POST http://x.example:8080/collect?id=1");
        assert_eq!(s.kind(), "http");
        let bare = summarize(b"GET / HTTP/1.0\n\n");
        assert_eq!(bare.line(), "GET /");
        // A request cut by the read bound still names its method and path.
        assert_eq!(summarize(b"GET /a/b").line(), "GET /a/b");
    }

    #[test]
    fn not_quite_http_is_data() {
        for junk in [
            &b"GETX / HTTP/1.1\r\n"[..],
            b"GET / SMTP/1\r\n",
            b"POST \x01 HTTP/1.1\r\n",
            b"get / HTTP/1.1\r\n",
        ] {
            assert_eq!(summarize(junk).kind(), "data", "{junk:?}");
        }
    }

    #[test]
    fn tls_client_hellos_show_their_server_name() {
        let hello = client_hello("x.example");
        assert_eq!(
            summarize(&hello),
            PayloadSummary::Tls {
                sni: Some("x.example".into())
            }
        );
        assert_eq!(summarize(&hello).line(), "TLS ClientHello for x.example");
        // Cut before the extensions: still a hello, without a name.
        assert_eq!(summarize(&hello[..50]), PayloadSummary::Tls { sni: None });
        // Every prefix parses without panicking.
        for n in 0..hello.len() {
            let _ = summarize(&hello[..n]);
        }
    }

    #[test]
    fn anything_else_is_a_bounded_hex_preview() {
        assert_eq!(summarize(b""), PayloadSummary::Empty);
        assert_eq!(summarize(b"hi").line(), "data 6869");
        let PayloadSummary::Data { hex } = summarize(&[0xab; 1000]) else {
            panic!("not data");
        };
        assert_eq!(hex.len(), PREVIEW_BYTES * 2);
    }

    #[test]
    fn fields_are_bounded_and_printable() {
        let long = format!("GET /{} HTTP/1.1\r\nHost: h\r\n\r\n", "a".repeat(5000));
        let PayloadSummary::Http { path, .. } = summarize(long.as_bytes()) else {
            panic!("not http");
        };
        assert_eq!(path.len(), MAX_FIELD);
        let PayloadSummary::Http { host, .. } = summarize(b"GET / HTTP/1.1\r\nHost: a\x07b\r\n")
        else {
            panic!("not http");
        };
        assert_eq!(host, None);
    }
}
