//! What a string says: addresses (public IPs, raw-IP URLs, drop sites), secret paths, secret
//! variable names, downloaders and shells, and what base64/hex strings decode to. Pure functions
//! over one string; the callers (Rust and text scanners) say where it came from.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::code::SignalCode;
use crate::model::Level;

/// Longest evidence text kept in a signal.
pub(crate) const MAX_TEXT: usize = 160;
/// Strings shorter than this are not tried as base64 (too many words are valid base64).
const MIN_BASE64: usize = 16;
/// Strings shorter than this are not tried as hex.
const MIN_HEX: usize = 16;
/// Strings longer than this are not decoded (tables, test vectors).
const MAX_DECODE: usize = 64 * 1024;

/// Where a string was found, which decides some levels.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StrContext {
    /// In tests, examples or benches (a file there or a `#[cfg(test)]`/`#[test]` item).
    pub test: bool,
    /// Handed to a process (`Command::new`, `.arg`, `.args`) or a line of a script.
    pub process: bool,
    /// Read as an environment variable (`env::var("X")`), or in a file that reads variables.
    pub env_read: bool,
}

/// One thing a string says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Finding {
    pub code: SignalCode,
    pub level: Level,
    pub text: String,
    pub reason: String,
}

/// Shortens `s` for a signal's text, on a char boundary, escaping control characters.
pub(crate) fn shorten(s: &str) -> String {
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i >= MAX_TEXT {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// Everything `s` says about addresses, secrets and downloaders (not decoding).
pub(crate) fn analyze(s: &str, ctx: StrContext) -> Vec<Finding> {
    let mut out = Vec::new();
    if s.len() < 4 {
        return out;
    }
    let lower = s.to_ascii_lowercase();
    addresses(s, &lower, ctx, &mut out);
    secret_paths(s, &lower, ctx, &mut out);
    if ctx.env_read {
        secret_env(s, &mut out);
    }
    if ctx.process {
        downloaders(s, &lower, &mut out);
    }
    out
}

/// If `s` is base64 or hex that decodes to printable text, that text and the encoding.
pub(crate) fn decode(s: &str) -> Option<(String, &'static str)> {
    let t = s.trim();
    if t.len() > MAX_DECODE {
        return None;
    }
    if t.len() >= MIN_HEX && t.len() % 2 == 0 && t.bytes().all(|b| b.is_ascii_hexdigit()) {
        let bytes: Vec<u8> = (0..t.len())
            .step_by(2)
            .filter_map(|i| u8::from_str_radix(&t[i..i + 2], 16).ok())
            .collect();
        return printable(bytes).map(|d| (d, "hex"));
    }
    if t.len() >= MIN_BASE64 {
        if let Some(bytes) = base64(t) {
            return printable(bytes).map(|d| (d, "base64"));
        }
    }
    None
}

/// Whether a decoded string is something a clean crate would not hide: what it says at warn or
/// above, or a command.
pub(crate) fn worth_hiding(decoded: &str, ctx: StrContext) -> Vec<Finding> {
    let mut ctx = ctx;
    ctx.process = true;
    ctx.env_read = true;
    let mut found = analyze(decoded, ctx);
    let lower = decoded.to_ascii_lowercase();
    if found.is_empty() && (lower.contains("http://") || lower.contains("https://")) {
        found.push(Finding {
            code: SignalCode::AddressLiteral,
            level: Level::Info,
            text: shorten(decoded),
            reason: "URL".into(),
        });
    }
    found
}

fn printable(bytes: Vec<u8>) -> Option<String> {
    let s = String::from_utf8(bytes).ok()?;
    let good = s
        .chars()
        .filter(|c| !c.is_control() || matches!(c, '\n' | '\r' | '\t'))
        .count();
    (s.len() >= 6 && good * 100 >= s.chars().count() * 95).then_some(s)
}

fn base64(s: &str) -> Option<Vec<u8>> {
    let body = s.trim_end_matches('=');
    if s.len() - body.len() > 2 || body.len() % 4 == 1 {
        return None;
    }
    // A string of only letters of one case, or only digits, is a word or a number, not base64.
    let has_upper = body.bytes().any(|b| b.is_ascii_uppercase());
    let has_lower = body.bytes().any(|b| b.is_ascii_lowercase());
    if !(has_upper && has_lower) {
        return None;
    }
    let mut out = Vec::with_capacity(body.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0;
    for b in body.bytes() {
        let v = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// Hosts where stolen data is dropped or payloads are fetched: paste sites, chat-bot and
/// webhook APIs, request catchers, tunnels and free serverless hosts.
const DROP_SITES: &[&str] = &[
    "pastebin.com",
    "paste.ee",
    "hastebin.com",
    "ghostbin.",
    "rentry.co",
    "transfer.sh",
    "file.io",
    "api.telegram.org",
    "discord.com/api/webhooks",
    "discordapp.com/api/webhooks",
    "hooks.slack.com",
    "webhook.site",
    "requestbin",
    "pipedream.net",
    "ngrok.io",
    "ngrok-free.app",
    "ngrok.app",
    "trycloudflare.com",
    "workers.dev",
    "vercel.app",
    "netlify.app",
    "glitch.me",
    "repl.co",
    "interact.sh",
    "oast.fun",
    "oast.pro",
    "burpcollaborator.net",
    "canarytokens.com",
    "ipinfo.io",
    "ifconfig.me",
    "api.ipify.org",
];

/// Ports that say nothing by themselves.
const COMMON_PORTS: &[u16] = &[80, 443, 8000, 8080, 8443, 3000, 5000, 8888, 9000];

/// Public resolvers and well-known anycast addresses, used by clean code to find a route.
const WELL_KNOWN_IPS: &[&str] = &[
    "8.8.8.8",
    "8.8.4.4",
    "1.1.1.1",
    "1.0.0.1",
    "9.9.9.9",
    "208.67.222.222",
    "2001:4860:4860::8888",
    "2001:4860:4860::8844",
    "2606:4700:4700::1111",
    // Placeholders of examples and tests.
    "1.2.3.4",
    "4.3.2.1",
    "1.1.1.2",
];

fn addresses(s: &str, lower: &str, ctx: StrContext, out: &mut Vec<Finding>) {
    for site in DROP_SITES {
        let Some(at) = lower.find(site) else {
            continue;
        };
        // A drop-site name must be a host of its own or a subdomain (`x.workers.dev`).
        if lower[..at]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '-')
        {
            continue;
        }
        {
            out.push(Finding {
                code: SignalCode::AddressLiteral,
                level: Level::Warn,
                text: shorten(s),
                reason: format!("names `{site}`, a known drop site (paste site, chat-bot or webhook API, tunnel or free serverless host)"),
            });
            break;
        }
    }
    let mut url_ip = false;
    let mut rest = lower;
    while let Some(at) = rest.find("://") {
        let scheme_start = rest[..at]
            .rfind(|c: char| !c.is_ascii_alphanumeric() && c != '+')
            .map_or(0, |i| i + 1);
        let scheme = &rest[scheme_start..at];
        let after = &rest[at + 3..];
        rest = after;
        if !matches!(
            scheme,
            "http" | "https" | "ftp" | "ws" | "wss" | "tcp" | "udp"
        ) {
            continue;
        }
        let authority = after
            .split(|c: char| matches!(c, '/' | '?' | '#' | '"' | '\'' | ' ' | '\\'))
            .next()
            .unwrap_or("");
        let hostport = authority.rsplit('@').next().unwrap_or("");
        let (host, port) = split_host_port(hostport);
        if host.is_empty() || host.contains('{') {
            continue;
        }
        if let Ok(ip) = host.trim_matches(['[', ']']).parse::<IpAddr>() {
            url_ip = true;
            if let Some((level, why)) = classify_ip(ip, ctx) {
                let level = if port.is_some_and(|p| !COMMON_PORTS.contains(&p))
                    && level == Level::Info
                    && !ctx.test
                    && is_public(ip)
                {
                    Level::Warn
                } else {
                    level
                };
                out.push(Finding {
                    code: SignalCode::AddressLiteral,
                    level,
                    text: shorten(s),
                    reason: format!("URL with a raw IP address ({host}: {why})"),
                });
            }
        } else if let Some(p) = port.filter(|p| !COMMON_PORTS.contains(p)) {
            if !documentation_host(host) {
                out.push(Finding {
                    code: SignalCode::AddressLiteral,
                    level: Level::Info,
                    text: shorten(s),
                    reason: format!("URL to {host} on unusual port {p}"),
                });
            }
        }
    }
    if url_ip {
        return;
    }
    for token in s.split(|c: char| !(c.is_ascii_hexdigit() || c == '.' || c == ':')) {
        let token = token.trim_matches(|c| c == '.' || c == ':');
        let Some(ip) = parse_ip_token(token) else {
            continue;
        };
        if let Some((level, why)) = classify_ip(ip, ctx) {
            // Outside a URL, dotted numbers are as often OIDs, versions and buffer-size
            // examples as addresses: info, raised to warn by the Rust scan when the same file
            // uses the network or starts programs.
            // Single-digit quads (`2.5.4.3`) are OIDs and versions far more often: never raised.
            let small = matches!(ip, IpAddr::V4(v4) if v4.octets().iter().all(|o| *o < 10));
            let (level, prefix) = match level {
                Level::Warn if small => (Level::Info, "IP address"),
                Level::Warn => (Level::Info, BARE_IP),
                _ => (level, "IP address"),
            };
            out.push(Finding {
                code: SignalCode::AddressLiteral,
                level,
                text: shorten(s),
                reason: format!("{prefix} {ip} ({why})"),
            });
        }
    }
}

/// Reason prefix of a public IP address outside a URL: raised to warn by the Rust scan when the
/// same file uses the network or starts programs.
pub(crate) const BARE_IP: &str = "IP address outside a URL:";

fn split_host_port(hostport: &str) -> (&str, Option<u16>) {
    if let Some(end) = hostport.find(']') {
        let host = &hostport[..=end];
        let port = hostport[end + 1..]
            .strip_prefix(':')
            .and_then(|p| p.parse().ok());
        return (host, port);
    }
    match hostport.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => (h, p.parse().ok()),
        _ => (hostport, None),
    }
}

fn parse_ip_token(token: &str) -> Option<IpAddr> {
    if token.contains(':') {
        // Strip a trailing `:port` from `a.b.c.d:port`.
        if let Some((a, p)) = token.rsplit_once(':') {
            if a.contains('.') && !a.contains(':') && p.bytes().all(|b| b.is_ascii_digit()) {
                return a.parse::<Ipv4Addr>().ok().map(IpAddr::V4);
            }
        }
        // IPv6: at least three groups with digits in them, and a `::` or all eight groups, to
        // keep `a:b` and Rust paths (`de::de`) out.
        let groups = token.split(':').filter(|g| !g.is_empty()).count();
        let full = token.split(':').count() == 8;
        if groups < 3
            || !(full || token.contains("::"))
            || !token.bytes().any(|b| b.is_ascii_digit())
        {
            return None;
        }
        return token.parse::<Ipv6Addr>().ok().map(IpAddr::V6);
    }
    if token.split('.').count() != 4 || token.split('.').any(|p| p.len() > 1 && p.starts_with('0'))
    {
        return None;
    }
    token.parse::<Ipv4Addr>().ok().map(IpAddr::V4)
}

fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || o[0] == 0
                || o[0] >= 240
                || (o[0] == 100 && (64..128).contains(&o[1]))
                || (o[0] == 198 && (o[1] == 18 || o[1] == 19)))
        }
        IpAddr::V6(v6) => {
            let seg = v6.segments();
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (seg[0] & 0xfe00) == 0xfc00
                || (seg[0] & 0xffc0) == 0xfe80
                || (seg[0] == 0x2001 && seg[1] == 0x0db8)
                || seg[0] == 0
                || seg[0] == 0x64)
        }
    }
}

/// `None` for addresses that say nothing (loopback, private, documentation ranges).
fn classify_ip(ip: IpAddr, ctx: StrContext) -> Option<(Level, &'static str)> {
    if !is_public(ip) {
        return None;
    }
    let text = ip.to_string();
    if WELL_KNOWN_IPS.contains(&text.as_str()) {
        return Some((Level::Info, "a well-known public resolver or placeholder"));
    }
    if ctx.test {
        return Some((Level::Info, "public address in test code"));
    }
    Some((
        Level::Warn,
        "public address, not loopback, private or documentation",
    ))
}

fn documentation_host(host: &str) -> bool {
    host == "localhost"
        || ["example.com", "example.org", "example.net"]
            .iter()
            .any(|d| host == *d || host.ends_with(&format!(".{d}")))
        || [".example", ".test", ".invalid", ".localhost", ".local"]
            .iter()
            .any(|t| host.ends_with(t))
}

/// Secret paths: (needle, what it is). Needles are matched on the lower-cased string at path
/// component boundaries.
const SECRET_PATHS: &[(&str, &str)] = &[
    (".ssh", "ssh directory"),
    ("id_rsa", "ssh private key"),
    ("id_ed25519", "ssh private key"),
    ("id_ecdsa", "ssh private key"),
    ("id_dsa", "ssh private key"),
    ("authorized_keys", "ssh authorized keys (persistence)"),
    (".aws", "AWS credentials directory"),
    (".azure", "Azure credentials directory"),
    (".config/gcloud", "Google Cloud credentials"),
    (".kube/config", "Kubernetes credentials"),
    (".docker/config.json", "Docker registry credentials"),
    (".cargo/credentials", "cargo registry token"),
    (".git-credentials", "git credentials"),
    (".netrc", "netrc credentials"),
    (".npmrc", "npm token"),
    (".pypirc", "PyPI token"),
    (".gnupg", "GnuPG keys"),
    (".env", "dotenv secrets file"),
    ("solana/id.json", "Solana wallet key"),
    ("wallet.dat", "Bitcoin wallet"),
    (".bitcoin", "Bitcoin data directory"),
    (".electrum", "Electrum wallet"),
    (".ethereum", "Ethereum data directory"),
    ("keystore", "Ethereum keystore"),
    ("exodus", "Exodus wallet"),
    ("metamask", "MetaMask wallet"),
    ("google/chrome", "Chrome browser profile"),
    ("google-chrome", "Chrome browser profile"),
    ("bravesoftware", "Brave browser profile"),
    (".mozilla/firefox", "Firefox browser profile"),
    ("login data", "browser saved passwords"),
    ("cookies.sqlite", "browser cookies"),
    ("key4.db", "Firefox saved passwords"),
];

fn secret_paths(s: &str, lower: &str, ctx: StrContext, out: &mut Vec<Finding>) {
    if s.len() > 4096 || lower.contains(' ') && !lower.contains('/') && !lower.contains('\\') {
        // Long texts and sentences are not paths ("login data" is a path only as one).
        if !lower.ends_with("login data") {
            return;
        }
    }
    for (needle, what) in SECRET_PATHS {
        let mut from = 0;
        while let Some(at) = lower[from..].find(needle) {
            let at = from + at;
            from = at + needle.len();
            let before = lower[..at].chars().next_back();
            let after = lower[at + needle.len()..].chars().next();
            let sep =
                |c: Option<char>| c.is_none_or(|c| matches!(c, '/' | '\\' | '~' | '"' | '\''));
            let ok = match *needle {
                // `.env` alone, `/.env`, `.env.local`; not `.environment` or `foo.env`.
                ".env" => {
                    sep(before) && (after.is_none() || matches!(after, Some('.' | '/' | '\\')))
                }
                "keystore" | "exodus" | "metamask" => {
                    sep(before)
                        && (sep(after) || after == Some('/'))
                        && (lower.contains('/') || lower.contains('\\'))
                }
                _ => {
                    sep(before)
                        || needle.starts_with('.')
                            && before.is_some_and(|c| matches!(c, '/' | '\\'))
                }
            };
            let ok = ok
                && (after.is_none_or(|c| !c.is_ascii_alphanumeric() && c != '_')
                    || needle.ends_with('/')
                    || *needle == ".env");
            if ok {
                out.push(Finding {
                    code: SignalCode::SecretPath,
                    level: if ctx.test { Level::Info } else { Level::Warn },
                    text: shorten(s),
                    reason: format!("path of a secret: `{needle}` ({what})"),
                });
                return;
            }
        }
    }
}

/// Whether `name` is a variable that holds a secret, and why.
pub(crate) fn secret_env_name(name: &str) -> Option<(Level, &'static str)> {
    let n = name.trim();
    if n.is_empty()
        || !n
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
    {
        return None;
    }
    if matches!(
        n,
        "AWS_ACCESS_KEY_ID" | "AWS_SECRET_ACCESS_KEY" | "AWS_SESSION_TOKEN"
    ) {
        return Some((Level::Warn, "AWS credentials"));
    }
    if n.starts_with("AWS_") || n == "AWS_" {
        return Some((Level::Info, "AWS configuration"));
    }
    if n.ends_with("_PRIVATE_KEY") || n == "_PRIVATE_KEY" || n == "PRIVATE_KEY" {
        return Some((Level::Warn, "a private key"));
    }
    if n.ends_with("_TOKEN") || n == "_TOKEN" {
        return Some((Level::Warn, "a token"));
    }
    None
}

fn secret_env(s: &str, out: &mut Vec<Finding>) {
    if let Some((level, what)) = secret_env_name(s) {
        out.push(Finding {
            code: SignalCode::SecretEnv,
            level,
            text: shorten(s),
            reason: format!("reads `{s}`, a variable that holds {what}"),
        });
    }
}

/// Downloaders and shells that fetch code.
const DOWNLOADERS: &[&str] = &[
    "curl",
    "wget",
    "powershell",
    "pwsh",
    "bitsadmin",
    "certutil",
    "mshta",
    "ncat",
    "nc",
];
/// Phrases of download cradles, wherever they appear.
const CRADLES: &[&str] = &[
    "invoke-webrequest",
    "invoke-restmethod",
    "downloadstring",
    "downloadfile",
    "net.webclient",
    "start-bitstransfer",
    "-urlcache",
    "/transfer ",
];

fn downloaders(s: &str, lower: &str, out: &mut Vec<Finding>) {
    for word in lower.split(|c: char| {
        c.is_whitespace() || matches!(c, '"' | '\'' | ';' | '|' | '&' | '(' | ')' | '`')
    }) {
        let base = word.rsplit(['/', '\\']).next().unwrap_or(word);
        let base = base.strip_suffix(".exe").unwrap_or(base);
        if DOWNLOADERS.contains(&base) {
            out.push(Finding {
                code: SignalCode::ShellDownload,
                level: Level::Warn,
                text: shorten(s),
                reason: format!("`{base}` handed to a process: downloads or runs fetched code"),
            });
            return;
        }
    }
    if let Some(c) = CRADLES.iter().find(|c| lower.contains(*c)) {
        out.push(Finding {
            code: SignalCode::ShellDownload,
            level: Level::Warn,
            text: shorten(s),
            reason: format!("download cradle `{}` handed to a process", c.trim()),
        });
    }
}

/// Whether a script line pipes a download into a shell or runs a PowerShell cradle.
pub(crate) fn script_download(line: &str) -> Option<Finding> {
    let lower = line.to_ascii_lowercase();
    let fetch = ["curl ", "wget "].iter().any(|d| lower.contains(d));
    let piped = ["| sh", "|sh", "| bash", "|bash", "| sudo"]
        .iter()
        .any(|p| lower.contains(p));
    if fetch && piped {
        return Some(Finding {
            code: SignalCode::ShellDownload,
            level: Level::Warn,
            text: shorten(line.trim()),
            reason: "script pipes a download into a shell".into(),
        });
    }
    if let Some(c) = CRADLES.iter().find(|c| lower.contains(*c)) {
        return Some(Finding {
            code: SignalCode::ShellDownload,
            level: Level::Warn,
            text: shorten(line.trim()),
            reason: format!("script runs the download cradle `{}`", c.trim()),
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: StrContext = StrContext {
        test: false,
        process: false,
        env_read: false,
    };

    fn codes(s: &str, ctx: StrContext) -> Vec<(SignalCode, Level)> {
        analyze(s, ctx)
            .into_iter()
            .map(|f| (f.code, f.level))
            .collect()
    }

    #[test]
    fn addresses_by_range() {
        assert!(codes("127.0.0.1:8080", SRC).is_empty());
        assert!(
            codes("http://192.0.2.7/x", SRC).is_empty(),
            "documentation range"
        );
        assert!(codes("10.1.2.3", SRC).is_empty());
        assert!(codes("version 1.0.2", SRC).is_empty());
        assert_eq!(
            codes("http://45.13.7.9:4444/x", SRC),
            [(SignalCode::AddressLiteral, Level::Warn)]
        );
        assert_eq!(
            codes("45.13.7.9:4444", SRC),
            [(SignalCode::AddressLiteral, Level::Info)]
        );
        assert_eq!(
            codes("45.13.7.9", SRC),
            [(SignalCode::AddressLiteral, Level::Info)],
            "bare, no port"
        );
        assert!(codes("de::de", SRC).is_empty());
        let test = StrContext { test: true, ..SRC };
        assert_eq!(
            codes("45.13.7.9", test),
            [(SignalCode::AddressLiteral, Level::Info)]
        );
        assert_eq!(
            codes("8.8.8.8:53", SRC),
            [(SignalCode::AddressLiteral, Level::Info)]
        );
        assert_eq!(
            codes("https://api.telegram.org/bot1/sendMessage", SRC)[0],
            (SignalCode::AddressLiteral, Level::Warn)
        );
        assert_eq!(
            codes("https://x.y.workers.dev/", SRC)[0],
            (SignalCode::AddressLiteral, Level::Warn)
        );
        assert!(codes("https://docs.rs/serde", SRC).is_empty());
        assert!(codes("::1", SRC).is_empty());
        assert!(codes("a::b::c", SRC).is_empty());
    }

    #[test]
    fn secret_paths_at_boundaries() {
        assert_eq!(
            codes("/home/u/.ssh/id_rsa", SRC),
            [(SignalCode::SecretPath, Level::Warn)]
        );
        assert_eq!(codes(".env", SRC), [(SignalCode::SecretPath, Level::Warn)]);
        assert_eq!(
            codes("authorized_keys", SRC),
            [(SignalCode::SecretPath, Level::Warn)]
        );
        assert!(codes(".environment", SRC).is_empty());
        assert!(codes("foo.env", SRC).is_empty());
        assert!(codes("keystore", SRC).is_empty(), "a word, not a path");
        assert!(codes("the key store is full", SRC).is_empty());
    }

    #[test]
    fn secret_env_names() {
        let env = StrContext {
            env_read: true,
            ..SRC
        };
        assert_eq!(
            codes("DEPLOY_PRIVATE_KEY", env),
            [(SignalCode::SecretEnv, Level::Warn)]
        );
        assert_eq!(
            codes("GITHUB_TOKEN", env),
            [(SignalCode::SecretEnv, Level::Warn)]
        );
        assert_eq!(
            codes("AWS_REGION", env),
            [(SignalCode::SecretEnv, Level::Info)]
        );
        assert!(codes("OPENSSL_DIR", env).is_empty());
        assert!(codes("GITHUB_TOKEN", SRC).is_empty(), "not read");
    }

    #[test]
    fn downloaders_only_when_handed_to_a_process() {
        let proc = StrContext {
            process: true,
            ..SRC
        };
        assert_eq!(
            codes("powershell", proc),
            [(SignalCode::ShellDownload, Level::Warn)]
        );
        assert_eq!(
            codes("/usr/bin/curl", proc),
            [(SignalCode::ShellDownload, Level::Warn)]
        );
        assert!(codes("powershell", SRC).is_empty());
        assert!(codes("cc", proc).is_empty());
    }

    #[test]
    fn decoding() {
        assert_eq!(
            decode("aHR0cHM6Ly9leGFtcGxlLmNvbS94").unwrap().0,
            "https://example.com/x"
        );
        assert_eq!(
            decode("68747470733a2f2f782e7979").unwrap(),
            ("https://x.yy".into(), "hex")
        );
        assert!(
            decode("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855").is_none()
        );
        assert!(decode("abcdefghijklmnop").is_none(), "one case only");
    }
}
