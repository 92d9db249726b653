//! Signal codes: the stable kebab-case vocabulary of inventory signals. Codes are extended,
//! never renamed (reports and caches key on them).

use serde::{Deserialize, Serialize};

/// What kind of thing an inventory signal reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum SignalCode {
    /// A compiled program, library, object file or archive shipped in the package.
    ShippedBinary,
    /// A script (shell, PowerShell, batch, Python, Perl...) shipped in the package.
    ShippedScript,
    /// A base64/hex literal, or fragments joined at run time, that decode to an address, a URL
    /// or a command.
    EncodedString,
    /// A public IP address, a URL with a raw IP or an unusual port, or a known drop site.
    AddressLiteral,
    /// A path of a secret: ssh keys, cloud and cargo credentials, `.env`, wallets, browser
    /// profiles.
    SecretPath,
    /// A read of an environment variable that holds a secret (`*_TOKEN`, `*_PRIVATE_KEY`,
    /// `AWS_*`).
    SecretEnv,
    /// A downloader or shell (`curl`, `wget`, `powershell`, `bitsadmin`, `certutil`) in strings
    /// handed to a process.
    ShellDownload,
    /// Code that runs when a binary is loaded: `.init_array`/`.ctors` sections, `#[ctor]`,
    /// `__attribute__((constructor))`.
    StaticConstructor,
    /// `include_bytes!` of a file that is not text or an image.
    IncludeBinary,
    /// A `.rs` file that syn could not parse (its contents were scanned as text instead).
    ParseError,
    /// A file that was not scanned (too large, a symlink, unreadable), or files beyond the limit.
    NotScanned,
}

impl SignalCode {
    /// Every code, in declaration order.
    pub const ALL: [SignalCode; 11] = [
        SignalCode::ShippedBinary,
        SignalCode::ShippedScript,
        SignalCode::EncodedString,
        SignalCode::AddressLiteral,
        SignalCode::SecretPath,
        SignalCode::SecretEnv,
        SignalCode::ShellDownload,
        SignalCode::StaticConstructor,
        SignalCode::IncludeBinary,
        SignalCode::ParseError,
        SignalCode::NotScanned,
    ];

    /// The kebab-case code used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            SignalCode::ShippedBinary => "shipped-binary",
            SignalCode::ShippedScript => "shipped-script",
            SignalCode::EncodedString => "encoded-string",
            SignalCode::AddressLiteral => "address-literal",
            SignalCode::SecretPath => "secret-path",
            SignalCode::SecretEnv => "secret-env",
            SignalCode::ShellDownload => "shell-download",
            SignalCode::StaticConstructor => "static-constructor",
            SignalCode::IncludeBinary => "include-binary",
            SignalCode::ParseError => "parse-error",
            SignalCode::NotScanned => "not-scanned",
        }
    }

    /// One sentence saying what the code means, for reports and docs.
    pub fn description(self) -> &'static str {
        match self {
            SignalCode::ShippedBinary => {
                "the package ships a compiled program, library, object file or archive"
            }
            SignalCode::ShippedScript => "the package ships a script (shell, PowerShell, batch, Python, Perl, ...)",
            SignalCode::EncodedString => {
                "a base64/hex string, or fragments joined at run time, decode to an address, URL or command"
            }
            SignalCode::AddressLiteral => {
                "a public IP address, a URL with a raw IP or unusual port, or a known drop site (paste site, chat-bot or webhook API, serverless host)"
            }
            SignalCode::SecretPath => {
                "a path of a secret: ssh keys, cloud or cargo credentials, .env, wallets, keystores, browser profiles"
            }
            SignalCode::SecretEnv => {
                "a read of an environment variable that holds a secret (*_TOKEN, *_PRIVATE_KEY, AWS_*)"
            }
            SignalCode::ShellDownload => {
                "a downloader or shell (curl, wget, powershell, bitsadmin, certutil) in strings handed to a process"
            }
            SignalCode::StaticConstructor => {
                "code that runs when a binary is loaded (.init_array/.ctors sections, #[ctor], __attribute__((constructor)))"
            }
            SignalCode::IncludeBinary => "include_bytes! of a file that is not text or an image",
            SignalCode::ParseError => "a Rust file that does not parse; it was scanned as text instead",
            SignalCode::NotScanned => "a file that was not scanned (too large, a symlink, unreadable, or over the file limit)",
        }
    }
}

impl std::fmt::Display for SignalCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_unique_and_stable() {
        let codes: Vec<_> = SignalCode::ALL
            .iter()
            .map(|c| (c.as_str(), c.description()))
            .collect();
        let mut names: Vec<_> = codes.iter().map(|(n, _)| *n).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), SignalCode::ALL.len(), "codes must be unique");
        for code in SignalCode::ALL {
            let json = serde_json::to_string(&code).unwrap();
            assert_eq!(
                json,
                format!("\"{}\"", code.as_str()),
                "serde name matches as_str"
            );
        }
        insta::assert_json_snapshot!(codes);
    }
}
