//! What a string says: addresses (public IPs, raw-IP URLs, drop sites, in `address`), secret
//! paths and variable names (in `secret`), downloaders and shells, and what base64/hex strings
//! decode to. Pure functions over one string; the callers (Rust and text scanners) say where it
//! came from.

mod address;
mod secret;

pub(crate) use address::BARE_IP;
pub(crate) use secret::secret_env_name;

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
    if s.len() < 4 && !ctx.process {
        return out;
    }
    let lower = s.to_ascii_lowercase();
    address::addresses(s, &lower, ctx, &mut out);
    secret::secret_paths(s, &lower, ctx, &mut out);
    if ctx.env_read {
        secret::secret_env(s, &mut out);
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

/// The level of an encoded string whose decoded text says `hidden`, and the finding that decides
/// it: error when the decoded text is itself suspicious (a drop site, a raw IP, a downloader, a
/// secret), warn for a plain URL or command; one lower in test code.
pub(crate) fn encoded_level(hidden: &[Finding], test: bool) -> (Level, &Finding) {
    let top = hidden
        .iter()
        .max_by_key(|f| f.level)
        .expect("called with findings");
    let level = match (top.level > Level::Info, test) {
        (true, false) => Level::Error,
        (true, true) | (false, false) => Level::Warn,
        (false, true) => Level::Info,
    };
    (level, top)
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
        assert_eq!(
            codes("nc", proc),
            [(SignalCode::ShellDownload, Level::Warn)]
        );
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
