//! Addresses in strings: public IP addresses (not loopback, private or documentation ranges),
//! URLs with raw IPs or unusual ports, and known drop sites.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::{shorten, Finding, StrContext};
use crate::code::SignalCode;
use crate::model::Level;

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

pub(super) fn addresses(s: &str, lower: &str, ctx: StrContext, out: &mut Vec<Finding>) {
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
        out.push(Finding {
            code: SignalCode::AddressLiteral,
            level: Level::Warn,
            text: shorten(s),
            reason: format!("names `{site}`, a known drop site (paste site, chat-bot or webhook API, tunnel or free serverless host)"),
        });
        break;
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
            .split(['/', '?', '#', '"', '\'', ' ', '\\'])
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
