//! Secrets in strings: paths of credentials, keys, wallets and browser profiles, and names of
//! environment variables that hold secrets.

use super::{shorten, Finding, StrContext};
use crate::code::SignalCode;
use crate::model::Level;

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

pub(super) fn secret_paths(s: &str, lower: &str, ctx: StrContext, out: &mut Vec<Finding>) {
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

pub(super) fn secret_env(s: &str, out: &mut Vec<Finding>) {
    if let Some((level, what)) = secret_env_name(s) {
        out.push(Finding {
            code: SignalCode::SecretEnv,
            level,
            text: shorten(s),
            reason: format!("reads `{s}`, a variable that holds {what}"),
        });
    }
}
