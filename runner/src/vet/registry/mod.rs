//! The registry client `vet` reads crates through: a registry resolved as cargo resolves it
//! ([`source`]), its sparse index read over HTTP with an on-disk cache (`http`, [`index`]), and
//! `.crate` files downloaded through the `dl` template, checked against the index's sha256 before
//! anything else, and unpacked without trusting them ([`unpack`]).
//!
//! Everything it writes goes under the cache directory it is given:
//! `index/<registry>/...` (index files and their validators), `crates/<registry>/NAME-VERSION.crate`
//! (verified archives) and `src/<registry>/NAME-VERSION/` (unpacked packages).
//!
//! ```no_run
//! use runner::vet::registry::{ConfigInputs, RegistrySource, SparseRegistry};
//! let source = RegistrySource::resolve(None, &ConfigInputs::from_process("."))?;
//! let registry = SparseRegistry::open(source, "/tmp/airlock-cache".as_ref())?;
//! if let Some(file) = registry.index("itoa")? {
//!     let newest = file.newest_available().expect("a non-yanked version");
//!     let unpacked = registry.download(newest)?;
//!     println!("{}", unpacked.dir.display());
//! }
//! # Ok::<(), runner::vet::registry::RegistryError>(())
//! ```

pub mod error;
mod http;
pub mod index;
pub mod source;
pub mod unpack;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use sha2::{Digest, Sha256};

pub use error::RegistryError;
use http::{Fetched, Http};
pub use http::{MAX_CRATE_BYTES, MAX_INDEX_BYTES};
pub use index::{IndexDependency, IndexEntry, IndexFile, RegistryConfig};
pub use source::{ConfigInputs, RegistrySource};

/// A sparse registry and the cache its files are kept in. Shareable between threads.
#[derive(Debug)]
pub struct SparseRegistry {
    source: RegistrySource,
    http: Http,
    /// `<cache>/…/<key>`: one directory per index URL.
    key: String,
    cache_dir: PathBuf,
    config: OnceLock<RegistryConfig>,
    /// Index files already read in this run (`None`: no such crate), so that each is requested
    /// once per run, as cargo does.
    seen: Mutex<HashMap<String, Option<Arc<IndexFile>>>>,
}

/// A `.crate` that matched its index checksum, and where it was unpacked.
#[derive(Debug, Clone)]
pub struct UnpackedCrate {
    /// The crate's name.
    pub name: String,
    /// Its version.
    pub version: semver::Version,
    /// Its sha256 (the index's `cksum`, verified).
    pub checksum: String,
    /// The package's root directory (`…/NAME-VERSION`, holding `Cargo.toml`).
    pub dir: PathBuf,
    /// The verified archive.
    pub crate_file: PathBuf,
}

impl SparseRegistry {
    /// A client for `source` that caches under `cache_dir`. Makes no request yet; fails only
    /// on a bad `http.proxy`.
    pub fn open(source: RegistrySource, cache_dir: &Path) -> Result<Self, RegistryError> {
        let http = Http::new(
            &source.display_name(),
            source.proxy.as_deref(),
            source.timeout_secs,
        )?;
        let key = cache_key(&source.base_url);
        Ok(Self {
            source,
            http,
            key,
            cache_dir: cache_dir.to_owned(),
            config: OnceLock::new(),
            seen: Mutex::new(HashMap::new()),
        })
    }

    /// The registry this client reads.
    pub fn source(&self) -> &RegistrySource {
        &self.source
    }

    fn name(&self) -> String {
        self.source.display_name()
    }

    /// The registry's `config.json` (fetched once per client, revalidated against the cache).
    pub fn config(&self) -> Result<&RegistryConfig, RegistryError> {
        if let Some(config) = self.config.get() {
            return Ok(config);
        }
        let url = format!("{}config.json", self.source.base_url);
        let cache = self
            .cache_dir
            .join("index")
            .join(&self.key)
            .join("config.json");
        let body = match self.http.get_cached(&url, &cache, MAX_INDEX_BYTES)? {
            Fetched::Body(body) => body,
            Fetched::Missing(_) => {
                return Err(RegistryError::NoConfigJson {
                    registry: self.name(),
                    url,
                })
            }
        };
        if body.iter().all(u8::is_ascii_whitespace) {
            return Err(RegistryError::EmptyResponse {
                registry: self.name(),
                url,
            });
        }
        let config =
            serde_json::from_slice(&body).map_err(|source| RegistryError::BadConfigJson {
                registry: self.name(),
                url,
                source,
            })?;
        Ok(self.config.get_or_init(|| config))
    }

    /// The index file of `name` (`None`: the registry has no such crate). `name` must be a
    /// valid crate name (see [`index::is_valid_crate_name`]); anything else is "no such crate".
    pub fn index(&self, name: &str) -> Result<Option<Arc<IndexFile>>, RegistryError> {
        if !index::is_valid_crate_name(name) {
            return Ok(None);
        }
        let lower = name.to_lowercase();
        if let Some(known) = self
            .seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&lower)
        {
            return Ok(known.clone());
        }
        // The protocol's first step: a registry without config.json is not a sparse registry.
        self.config()?;
        let path = index::index_path(&lower);
        let url = format!("{}{path}", self.source.base_url);
        let cache = self.cache_dir.join("index").join(&self.key).join(&path);
        let file = match self.http.get_cached(&url, &cache, MAX_INDEX_BYTES)? {
            Fetched::Missing(_) => None,
            Fetched::Body(body) => {
                if body.iter().all(u8::is_ascii_whitespace) {
                    return Err(RegistryError::EmptyResponse {
                        registry: self.name(),
                        url,
                    });
                }
                Some(Arc::new(IndexFile::parse(&self.name(), &lower, &body)?))
            }
        };
        self.seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(lower, file.clone());
        Ok(file)
    }

    /// Downloads `entry`'s `.crate`, checks its sha256 against the index before anything else
    /// (a mismatch keeps nothing), and unpacks it under the cache. A package already unpacked
    /// from an archive with the same checksum is reused.
    pub fn download(&self, entry: &IndexEntry) -> Result<UnpackedCrate, RegistryError> {
        if !index::is_valid_crate_name(&entry.name) {
            return Err(RegistryError::InvalidCrateName {
                name: entry.name.clone(),
            });
        }
        let name = self.name();
        let version = entry.vers.to_string();
        let package = format!("{} {version}", entry.name);
        let expected = entry.cksum.to_ascii_lowercase();
        if expected.len() != 64 || !expected.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(RegistryError::BadIndexChecksum {
                registry: name,
                package,
                cksum: entry.cksum.clone(),
            });
        }
        let package_dir = format!("{}-{version}", entry.name);
        let src_root = self.cache_dir.join("src").join(&self.key);
        let dir = src_root.join(&package_dir);
        let marker = src_root.join(format!("{package_dir}.sha256"));
        let crate_file = self
            .cache_dir
            .join("crates")
            .join(&self.key)
            .join(format!("{package_dir}.crate"));
        let unpacked = UnpackedCrate {
            name: entry.name.clone(),
            version: entry.vers.clone(),
            checksum: expected.clone(),
            dir: dir.clone(),
            crate_file: crate_file.clone(),
        };
        if std::fs::read_to_string(&marker).is_ok_and(|m| m.trim() == expected) && dir.is_dir() {
            return Ok(unpacked);
        }

        let url = self.config()?.download_url(entry);
        let body = match self.http.get(&url, MAX_CRATE_BYTES)? {
            Fetched::Body(body) => body,
            Fetched::Missing(status) => {
                return Err(RegistryError::CrateFileMissing {
                    registry: name,
                    package,
                    url,
                    status,
                })
            }
        };
        let actual = hex(&Sha256::digest(&body));
        if actual != expected {
            return Err(RegistryError::ChecksumMismatch {
                registry: name,
                package,
                url,
                expected,
                actual,
            });
        }

        let cache_err = |path: &Path| {
            let path = path.to_owned();
            move |source| RegistryError::Cache { path, source }
        };
        std::fs::create_dir_all(&src_root).map_err(cache_err(&src_root))?;
        let staging = tempfile::Builder::new()
            .prefix(".unpack-")
            .tempdir_in(&src_root)
            .map_err(cache_err(&src_root))?;
        unpack::unpack(&body, &package_dir, staging.path()).map_err(|source| {
            RegistryError::Unpack {
                registry: name.clone(),
                package: package.clone(),
                source,
            }
        })?;
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(cache_err(&dir))?;
        }
        std::fs::rename(staging.path().join(&package_dir), &dir).map_err(cache_err(&dir))?;
        http::write_atomic(&crate_file, &body)?;
        http::write_atomic(&marker, expected.as_bytes())?;
        Ok(unpacked)
    }
}

/// `host-port-<hash>`: readable, and distinct for every index URL.
fn cache_key(base_url: &str) -> String {
    let host = base_url
        .split("://")
        .nth(1)
        .unwrap_or(base_url)
        .split('/')
        .next()
        .unwrap_or("");
    let host: String = host
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!(
        "{host}-{}",
        &hex(&Sha256::digest(base_url.as_bytes()))[..16]
    )
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
