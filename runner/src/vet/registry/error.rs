//! The registry client's errors: one `#[non_exhaustive]` enum whose variants name the step that
//! failed (resolving the registry, fetching, parsing the index, downloading, verifying,
//! unpacking) and the input (registry, URL, crate, line, entry). Every one of them means "could
//! not vet" (exit 2 in the CLI). A variant that carries its cause in `source()` does not repeat
//! it in its own message: the CLI prints the chain.

use std::path::PathBuf;

/// Why the registry could not be resolved, read or downloaded from.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// Cargo's configuration files or `CARGO_*` variables could not be read.
    #[error("could not read cargo's configuration (from {cwd})")]
    LoadCargoConfig {
        /// The directory the configuration was searched from.
        cwd: PathBuf,
        /// The underlying error.
        #[source]
        source: cargo_config2::Error,
    },
    /// `--registry NAME` names no registry in cargo's configuration.
    #[error(
        "no registry named `{name}` in cargo's configuration: set CARGO_REGISTRIES_{env_name}_INDEX \
         or add `[registries.{name}] index = \"sparse+https://...\"` to .cargo/config.toml"
    )]
    UnknownRegistry {
        /// The name as given.
        name: String,
        /// The name as cargo spells it in environment variables.
        env_name: String,
    },
    /// The registry (after source replacement) is a git index; only sparse indexes are read.
    #[error(
        "registry `{registry}` uses the index `{index}`, which is not a sparse index: cargo-airlock \
         reads registries only through the sparse protocol; point `{registry}` (or a source \
         replacing it) at the registry's sparse index (`sparse+https://...`)"
    )]
    NotSparse {
        /// The registry or source name.
        registry: String,
        /// The configured index URL.
        index: String,
    },
    /// Source replacement names a source that is not a registry cargo-airlock can read.
    #[error(
        "source `{source_name}` is replaced with `{target}`, which is {what}; cargo-airlock can only \
         read a sparse registry"
    )]
    UnsupportedReplacement {
        /// The replaced source.
        source_name: String,
        /// The replacement.
        target: String,
        /// What the replacement is (`a directory source`, `not defined`, ...).
        what: &'static str,
    },
    /// Source replacement loops.
    #[error("source replacement loops: {chain}")]
    ReplacementCycle {
        /// The chain of names, ` -> ` separated.
        chain: String,
    },
    /// Cargo's `http.proxy` is not a proxy URL.
    #[error("cargo's http.proxy `{proxy}` is not a usable proxy")]
    BadProxy {
        /// The configured value.
        proxy: String,
        /// The underlying error.
        #[source]
        source: Box<ureq::Error>,
    },
    /// The HTTP request could not be made or got no answer (connection refused, DNS, TLS, timeout,
    /// an empty response).
    #[error("could not reach registry `{registry}` at {url}")]
    Transport {
        /// The registry's name.
        registry: String,
        /// The requested URL.
        url: String,
        /// The underlying error.
        #[source]
        source: Box<ureq::Error>,
    },
    /// The registry answered with a status that is neither success nor "no such file".
    #[error("registry `{registry}` answered HTTP {status} for {url}")]
    HttpStatus {
        /// The registry's name.
        registry: String,
        /// The requested URL.
        url: String,
        /// The HTTP status.
        status: u16,
    },
    /// The registry wants credentials; cargo-airlock does not read any.
    #[error(
        "registry `{registry}` requires authentication for {url} (HTTP {status}); cargo-airlock \
         reads no credentials and can only vet from registries that answer without them"
    )]
    AuthRequired {
        /// The registry's name.
        registry: String,
        /// The requested URL.
        url: String,
        /// 401 or 403.
        status: u16,
    },
    /// The response body could not be read (cut short, or larger than the limit).
    #[error("could not read the response of registry `{registry}` for {url}")]
    ReadBody {
        /// The registry's name.
        registry: String,
        /// The requested URL.
        url: String,
        /// The underlying error.
        #[source]
        source: Box<ureq::Error>,
    },
    /// The registry answered "not modified" to a request that had nothing cached to revalidate.
    #[error("registry `{registry}` answered 304 Not Modified for {url}, which was not cached")]
    UnexpectedNotModified {
        /// The registry's name.
        registry: String,
        /// The requested URL.
        url: String,
    },
    /// A response that must have content was empty.
    #[error("registry `{registry}` sent an empty response for {url}")]
    EmptyResponse {
        /// The registry's name.
        registry: String,
        /// The requested URL.
        url: String,
    },
    /// The registry has no `config.json`.
    #[error(
        "registry `{registry}` has no config.json at {url}: is this the root of a sparse index?"
    )]
    NoConfigJson {
        /// The registry's name.
        registry: String,
        /// The requested URL.
        url: String,
    },
    /// `config.json` is not the JSON object the sparse protocol describes.
    #[error("the config.json of registry `{registry}` ({url}) is not valid")]
    BadConfigJson {
        /// The registry's name.
        registry: String,
        /// The requested URL.
        url: String,
        /// The underlying error.
        #[source]
        source: serde_json::Error,
    },
    /// A line of an index file is not a valid index entry (not JSON, or a bad field).
    #[error("line {line} of the index file of `{crate_name}` in registry `{registry}` is not a valid index entry")]
    BadIndexLine {
        /// The registry's name.
        registry: String,
        /// The crate whose index file it is.
        crate_name: String,
        /// 1-based line number.
        line: usize,
        /// The underlying error.
        #[source]
        source: serde_json::Error,
    },
    /// An index line describes another crate than the file it is in.
    #[error(
        "line {line} of the index file of `{crate_name}` in registry `{registry}` describes `{found}`"
    )]
    IndexNameMismatch {
        /// The registry's name.
        registry: String,
        /// The crate whose index file it is.
        crate_name: String,
        /// 1-based line number.
        line: usize,
        /// The name on that line.
        found: String,
    },
    /// An index entry's `cksum` is not a sha256 in hex.
    #[error("the index of registry `{registry}` lists `{cksum}` as the checksum of {package}, which is not a sha256")]
    BadIndexChecksum {
        /// The registry's name.
        registry: String,
        /// The crate and version (`NAME VERSION`).
        package: String,
        /// The `cksum` field.
        cksum: String,
    },
    /// A name that cannot be a crate's was handed to the client.
    #[error("`{name}` is not a valid crate name (ASCII letters, digits, `-` and `_`, at most 64)")]
    InvalidCrateName {
        /// The name.
        name: String,
    },
    /// The `.crate` file the index lists is not there.
    #[error("registry `{registry}` has no .crate for {package} at {url} (HTTP {status})")]
    CrateFileMissing {
        /// The registry's name.
        registry: String,
        /// The crate and version (`NAME VERSION`).
        package: String,
        /// The download URL.
        url: String,
        /// The HTTP status.
        status: u16,
    },
    /// The downloaded `.crate` is not what the index lists.
    #[error(
        "registry `{registry}` served something other than what its index lists for {package}: the index says sha256 {expected}, the file from {url} has {actual}; nothing \
         from it was kept"
    )]
    ChecksumMismatch {
        /// The registry's name.
        registry: String,
        /// The crate and version (`NAME VERSION`).
        package: String,
        /// The download URL.
        url: String,
        /// The index's `cksum`.
        expected: String,
        /// The sha256 of what was served.
        actual: String,
    },
    /// The verified `.crate` could not be unpacked safely.
    #[error("could not unpack {package} from registry `{registry}`")]
    Unpack {
        /// The registry's name.
        registry: String,
        /// The crate and version (`NAME VERSION`).
        package: String,
        /// The underlying error.
        #[source]
        source: super::unpack::UnpackError,
    },
    /// The cache directory could not be read or written.
    #[error("could not use the registry cache at {path}")]
    Cache {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}
