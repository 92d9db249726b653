//! The sparse index's data: where a crate's index file lives (`1/`, `2/`, `3/x/`, `ab/cd/`),
//! the typed form of its lines and of `config.json`, and how a `.crate` URL is made from the
//! `dl` template.

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde::Deserialize;

use super::error::RegistryError;

/// Index lines of a schema newer than this are skipped, as cargo skips them.
const MAX_INDEX_SCHEMA: u32 = 2;

/// The markers a `dl` template may contain; without any of them, cargo appends
/// `/{crate}/{version}/download`.
const DL_MARKERS: [&str; 5] = [
    "{crate}",
    "{version}",
    "{prefix}",
    "{lowerprefix}",
    "{sha256-checksum}",
];

/// A registry's `config.json`.
#[derive(Debug, Clone, Deserialize)]
#[non_exhaustive]
pub struct RegistryConfig {
    /// Where `.crate` files are downloaded from: a template or a plain URL.
    pub dl: String,
    /// The web API, if the registry has one (unused: vetting needs only the index).
    #[serde(default)]
    pub api: Option<String>,
    /// Whether every request needs credentials.
    #[serde(default, rename = "auth-required")]
    pub auth_required: bool,
}

impl RegistryConfig {
    /// The download URL of one version, from the `dl` template.
    pub fn download_url(&self, entry: &IndexEntry) -> String {
        let mut url = self.dl.clone();
        if !DL_MARKERS.iter().any(|m| url.contains(m)) {
            url.push_str("/{crate}/{version}/download");
        }
        let prefix = dir_prefix(&entry.name);
        url.replace("{crate}", &entry.name)
            .replace("{version}", &entry.vers.to_string())
            .replace("{lowerprefix}", &prefix.to_lowercase())
            .replace("{prefix}", &prefix)
            .replace("{sha256-checksum}", &entry.cksum)
    }
}

/// One line of an index file: one published version.
#[derive(Debug, Clone, Deserialize)]
#[non_exhaustive]
pub struct IndexEntry {
    /// The crate's name as published.
    pub name: String,
    /// The version.
    pub vers: semver::Version,
    /// Its dependencies.
    #[serde(default)]
    pub deps: Vec<IndexDependency>,
    /// sha256 of the `.crate`, hex.
    pub cksum: String,
    /// Features.
    #[serde(default)]
    pub features: BTreeMap<String, Vec<String>>,
    /// Features using the newer syntax (`dep:`, `?`), schema 2.
    #[serde(default)]
    pub features2: Option<BTreeMap<String, Vec<String>>>,
    /// Whether the version is yanked.
    #[serde(default)]
    pub yanked: bool,
    /// The native library it links, if any.
    #[serde(default)]
    pub links: Option<String>,
    /// Its minimum supported Rust version.
    #[serde(default)]
    pub rust_version: Option<String>,
    /// When it was published (RFC 3339), where the registry records it.
    #[serde(default)]
    pub pubtime: Option<String>,
    /// The index schema version of this line.
    #[serde(default)]
    pub v: Option<u32>,
}

impl IndexEntry {
    /// `pubtime` as a time, when present and well formed.
    pub fn published_at(&self) -> Option<SystemTime> {
        self.pubtime
            .as_deref()
            .and_then(|t| humantime::parse_rfc3339_weak(t).ok())
    }
}

/// One dependency of an index entry.
#[derive(Debug, Clone, Deserialize)]
#[non_exhaustive]
pub struct IndexDependency {
    /// The name it is known by in the depending crate.
    pub name: String,
    /// The version requirement.
    pub req: String,
    /// Features enabled.
    #[serde(default)]
    pub features: Vec<String>,
    /// Whether it is optional.
    #[serde(default)]
    pub optional: bool,
    /// Whether default features are enabled.
    #[serde(default = "yes")]
    pub default_features: bool,
    /// A `cfg()` or target triple it is limited to.
    #[serde(default)]
    pub target: Option<String>,
    /// `normal`, `dev` or `build`.
    #[serde(default)]
    pub kind: Option<String>,
    /// The registry it comes from, when not the same one.
    #[serde(default)]
    pub registry: Option<String>,
    /// The real package name when renamed.
    #[serde(default)]
    pub package: Option<String>,
}

fn yes() -> bool {
    true
}

/// The parsed index file of one crate: every version the registry lists, in file order.
#[derive(Debug, Clone)]
pub struct IndexFile {
    /// The crate's name as looked up (lower case).
    pub name: String,
    /// Its versions.
    pub entries: Vec<IndexEntry>,
}

impl IndexFile {
    /// Parses an index file: one JSON object per line; blank lines and lines of a newer schema
    /// are skipped; any other line that is not a valid entry for `name` is an error naming it.
    pub fn parse(registry: &str, name: &str, body: &[u8]) -> Result<Self, RegistryError> {
        let mut entries = Vec::new();
        for (i, line) in body.split(|&b| b == b'\n').enumerate() {
            let line_no = i + 1;
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let bad = |source| RegistryError::BadIndexLine {
                registry: registry.to_owned(),
                crate_name: name.to_owned(),
                line: line_no,
                source,
            };
            let value: serde_json::Value = serde_json::from_slice(line).map_err(bad)?;
            let schema = value
                .get("v")
                .and_then(serde_json::Value::as_u64)
                .unwrap_or(1);
            if schema > u64::from(MAX_INDEX_SCHEMA) {
                continue;
            }
            let entry: IndexEntry = serde_json::from_value(value).map_err(bad)?;
            if !entry.name.eq_ignore_ascii_case(name) {
                return Err(RegistryError::IndexNameMismatch {
                    registry: registry.to_owned(),
                    crate_name: name.to_owned(),
                    line: line_no,
                    found: entry.name,
                });
            }
            entries.push(entry);
        }
        Ok(Self {
            name: name.to_owned(),
            entries,
        })
    }

    /// The entry of `version`, if listed.
    pub fn version(&self, version: &semver::Version) -> Option<&IndexEntry> {
        self.entries.iter().find(|e| &e.vers == version)
    }

    /// The newest version cargo would pick without a requirement: the highest non-yanked
    /// release, else the highest non-yanked pre-release.
    pub fn newest_available(&self) -> Option<&IndexEntry> {
        let available = self.entries.iter().filter(|e| !e.yanked);
        let release = available
            .clone()
            .filter(|e| e.vers.pre.is_empty())
            .max_by(|a, b| a.vers.cmp(&b.vers));
        release.or_else(|| available.max_by(|a, b| a.vers.cmp(&b.vers)))
    }
}

/// Whether `name` can be a crate name (ASCII letters, digits, `-`, `_`; at most 64; not empty),
/// which also makes it safe in index paths and URLs.
pub fn is_valid_crate_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        && name.as_bytes()[0].is_ascii_alphanumeric()
}

/// The directory part of a crate's index path, from its name as given: `1`, `2`, `3/a`,
/// `ab/cd` (cargo's `make_dep_prefix`).
pub fn dir_prefix(name: &str) -> String {
    // By characters, so that a name that is not ASCII (never a valid crate name) cannot panic.
    let chars: Vec<char> = name.chars().collect();
    let part = |range: std::ops::Range<usize>| chars[range].iter().collect::<String>();
    match chars.len() {
        0 | 1 => "1".to_owned(),
        2 => "2".to_owned(),
        3 => format!("3/{}", part(0..1)),
        _ => format!("{}/{}", part(0..2), part(2..4)),
    }
}

/// A crate's index file path relative to the index root (lower case, as the sparse protocol
/// requires).
pub fn index_path(name: &str) -> String {
    let lower = name.to_lowercase();
    format!("{}/{lower}", dir_prefix(&lower))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(line: &str) -> IndexEntry {
        serde_json::from_str(line).unwrap()
    }

    #[test]
    fn index_paths_follow_the_sparse_layout() {
        assert_eq!(index_path("a"), "1/a");
        assert_eq!(index_path("ab"), "2/ab");
        assert_eq!(index_path("abc"), "3/a/abc");
        assert_eq!(index_path("Serde_JSON"), "se/rd/serde_json");
        assert_eq!(dir_prefix("éèàù"), "éè/àù");
    }

    #[test]
    fn dl_templates_and_plain_urls() {
        let e = entry(r#"{"name":"Foo-Bar","vers":"1.2.3","cksum":"abcd","deps":[]}"#);
        let plain = RegistryConfig {
            dl: "https://dl.example/api/v1/crates".into(),
            api: None,
            auth_required: false,
        };
        assert_eq!(
            plain.download_url(&e),
            "https://dl.example/api/v1/crates/Foo-Bar/1.2.3/download"
        );
        let t = RegistryConfig {
            dl: "https://dl.example/{prefix}/{lowerprefix}/{crate}-{version}.crate?sum={sha256-checksum}".into(),
            api: None,
            auth_required: false,
        };
        assert_eq!(
            t.download_url(&e),
            "https://dl.example/Fo/o-/fo/o-/Foo-Bar-1.2.3.crate?sum=abcd"
        );
    }

    #[test]
    fn lines_parse_with_optional_fields_and_bad_lines_are_named() {
        let body = br#"{"name":"foo","vers":"0.1.0","deps":[{"name":"bar","req":"^1","features":[],"optional":false,"default_features":true,"target":null,"kind":"normal"}],"cksum":"00","features":{},"yanked":true,"links":null,"rust_version":"1.60","pubtime":"2024-01-02T03:04:05Z"}

{"name":"foo","vers":"0.2.0","cksum":"11","v":3,"future":1}
{"name":"foo","vers":"0.3.0-rc.1","deps":[],"cksum":"22","features":{},"yanked":false}
"#;
        let file = IndexFile::parse("r", "foo", body).unwrap();
        assert_eq!(file.entries.len(), 2);
        assert!(file.entries[0].yanked && file.entries[0].published_at().is_some());
        assert_eq!(
            file.newest_available().unwrap().vers.to_string(),
            "0.3.0-rc.1"
        );
        let err = IndexFile::parse("r", "foo", b"{\"name\":\"foo\"}\nnot json\n").unwrap_err();
        assert!(
            matches!(err, RegistryError::BadIndexLine { line: 1, .. }),
            "{err}"
        );
        let err = IndexFile::parse("r", "foo", b"\nnot json\n").unwrap_err();
        assert!(
            matches!(err, RegistryError::BadIndexLine { line: 2, .. }),
            "{err}"
        );
        assert!(
            err.to_string()
                .contains("line 2 of the index file of `foo`"),
            "{err}"
        );
        let err = IndexFile::parse("r", "foo", br#"{"name":"bar","vers":"1.0.0","cksum":"0"}"#)
            .unwrap_err();
        assert!(matches!(err, RegistryError::IndexNameMismatch { .. }));
    }

    #[test]
    fn crate_names() {
        assert!(is_valid_crate_name("rust_decimal") && is_valid_crate_name("a-1"));
        for bad in ["", "-a", "a/b", "a b", "..", "é"] {
            assert!(!is_valid_crate_name(bad), "{bad}");
        }
    }
}
