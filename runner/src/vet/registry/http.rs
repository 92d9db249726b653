//! HTTP for the sparse protocol: one `ureq` agent (rustls, the system's trust store), GETs of index files through an
//! on-disk cache revalidated the way cargo does (the stored `ETag` sent as `If-None-Match`, else
//! `Last-Modified` as `If-Modified-Since`; `304` served from the cache), "no such file" (`404`,
//! `410`, `451`) told apart from failure, and bounded bodies.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::error::RegistryError;

/// Largest index file or `config.json` read (the biggest crates.io index files are a few MB).
pub const MAX_INDEX_BYTES: u64 = 64 * 1024 * 1024;
/// Largest `.crate` downloaded (crates.io's upload limit is 10 MB; some registries allow more).
pub const MAX_CRATE_BYTES: u64 = 256 * 1024 * 1024;
/// How long one request may take, connection included, unless cargo's `http.timeout` says.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);
/// Connections kept open for reuse (at least one per provenance lookup thread).
const IDLE_CONNECTIONS: usize = 16;
/// The most of an unwanted body (a 404 page) read to keep its connection.
const DISCARD_LIMIT: u64 = 64 * 1024;
/// How long connecting may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// What a GET found.
#[derive(Debug)]
pub(crate) enum Fetched {
    /// The body (fresh or revalidated from the cache).
    Body(Vec<u8>),
    /// The registry has no such file.
    Missing(u16),
}

/// The validators stored next to a cached body.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Validators {
    etag: Option<String>,
    last_modified: Option<String>,
}

/// The HTTP side of one registry.
#[derive(Debug)]
pub(crate) struct Http {
    agent: ureq::Agent,
    registry: String,
}

impl Http {
    /// An agent for `registry`, through `proxy` (cargo's `http.proxy`; else the `*_proxy`
    /// variables) and with cargo's `http.timeout` when set.
    pub(crate) fn new(
        registry: &str,
        proxy: Option<&str>,
        timeout_secs: Option<u32>,
    ) -> Result<Self, RegistryError> {
        let proxy = match proxy {
            Some(p) => Some(
                ureq::Proxy::new(p).map_err(|source| RegistryError::BadProxy {
                    proxy: p.to_owned(),
                    source: Box::new(source),
                })?,
            ),
            None => ureq::Proxy::try_from_env(),
        };
        let timeout = timeout_secs.map_or(REQUEST_TIMEOUT, |s| Duration::from_secs(s.into()));
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .proxy(proxy)
            .timeout_global(Some(timeout))
            .timeout_connect(Some(CONNECT_TIMEOUT))
            // Keep a connection per lookup thread: a TLS handshake costs more than a request.
            .max_idle_connections_per_host(IDLE_CONNECTIONS)
            .max_idle_connections(IDLE_CONNECTIONS)
            .user_agent(concat!("cargo-airlock/", env!("CARGO_PKG_VERSION")))
            // The system's trust store, as cargo uses it: a registry behind a company's TLS
            // proxy or with a private CA is trusted where cargo trusts it.
            .tls_config(
                ureq::tls::TlsConfig::builder()
                    .root_certs(ureq::tls::RootCerts::PlatformVerifier)
                    .build(),
            )
            .build();
        Ok(Self {
            agent: config.new_agent(),
            registry: registry.to_owned(),
        })
    }

    /// GETs `url` without caching (downloads).
    pub(crate) fn get(&self, url: &str, limit: u64) -> Result<Fetched, RegistryError> {
        let response = self
            .agent
            .get(url)
            .call()
            .map_err(|e| self.transport(url, e))?;
        let status = response.status().as_u16();
        match status {
            200 => Ok(Fetched::Body(self.read(url, response, limit)?)),
            404 | 410 | 451 => {
                discard(response);
                Ok(Fetched::Missing(status))
            }
            _ => Err(self.status(url, status)),
        }
    }

    /// GETs `url`, revalidating the copy cached at `cache` (body) and `cache.meta.json`
    /// (validators). A missing file removes the cached copy.
    pub(crate) fn get_cached(
        &self,
        url: &str,
        cache: &Path,
        limit: u64,
    ) -> Result<Fetched, RegistryError> {
        let meta_path = meta_path(cache);
        let cached = fs::read(cache).ok();
        let validators: Validators = match &cached {
            Some(_) => fs::read(&meta_path)
                .ok()
                .and_then(|m| serde_json::from_slice(&m).ok())
                .unwrap_or_default(),
            None => Validators::default(),
        };
        let mut request = self.agent.get(url).header("cargo-protocol", "version=1");
        if let Some(etag) = &validators.etag {
            request = request.header("If-None-Match", etag);
        } else if let Some(modified) = &validators.last_modified {
            request = request.header("If-Modified-Since", modified);
        }
        let response = request.call().map_err(|e| self.transport(url, e))?;
        let status = response.status().as_u16();
        match status {
            200 => {
                let header = |name| {
                    response
                        .headers()
                        .get(name)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned)
                };
                let fresh = Validators {
                    etag: header("etag"),
                    last_modified: header("last-modified"),
                };
                let body = self.read(url, response, limit)?;
                store(cache, &body, &fresh)?;
                Ok(Fetched::Body(body))
            }
            304 => match cached {
                Some(body) if validators.etag.is_some() || validators.last_modified.is_some() => {
                    Ok(Fetched::Body(body))
                }
                _ => Err(RegistryError::UnexpectedNotModified {
                    registry: self.registry.clone(),
                    url: url.to_owned(),
                }),
            },
            404 | 410 | 451 => {
                discard(response);
                for path in [cache.to_owned(), meta_path] {
                    if let Err(source) = fs::remove_file(&path) {
                        if source.kind() != std::io::ErrorKind::NotFound {
                            return Err(RegistryError::Cache { path, source });
                        }
                    }
                }
                Ok(Fetched::Missing(status))
            }
            _ => Err(self.status(url, status)),
        }
    }

    fn read(
        &self,
        url: &str,
        mut response: ureq::http::Response<ureq::Body>,
        limit: u64,
    ) -> Result<Vec<u8>, RegistryError> {
        response
            .body_mut()
            .with_config()
            .limit(limit)
            .read_to_vec()
            .map_err(|e| RegistryError::ReadBody {
                registry: self.registry.clone(),
                url: url.to_owned(),
                source: Box::new(e),
            })
    }

    fn transport(&self, url: &str, e: ureq::Error) -> RegistryError {
        RegistryError::Transport {
            registry: self.registry.clone(),
            url: url.to_owned(),
            source: Box::new(e),
        }
    }

    fn status(&self, url: &str, status: u16) -> RegistryError {
        let (registry, url) = (self.registry.clone(), url.to_owned());
        match status {
            401 | 403 => RegistryError::AuthRequired {
                registry,
                url,
                status,
            },
            _ => RegistryError::HttpStatus {
                registry,
                url,
                status,
            },
        }
    }
}

/// Reads what is left of an answer whose body is not wanted (a 404 page), so that its
/// connection can go back to the pool instead of being dropped.
fn discard(mut response: ureq::http::Response<ureq::Body>) {
    let _ = response
        .body_mut()
        .with_config()
        .limit(DISCARD_LIMIT)
        .read_to_vec();
}

fn meta_path(cache: &Path) -> PathBuf {
    let mut name = cache.file_name().unwrap_or_default().to_owned();
    name.push(".meta.json");
    cache.with_file_name(name)
}

/// Writes the body then its validators, each through a temporary file and a rename, so a
/// reader never sees half a file or validators for another body.
fn store(cache: &Path, body: &[u8], validators: &Validators) -> Result<(), RegistryError> {
    let meta = serde_json::to_vec(validators).unwrap_or_default();
    write_atomic(cache, body)?;
    write_atomic(&meta_path(cache), &meta)
}

/// Writes `path` through a temporary file in the same directory and a rename.
pub(crate) fn write_atomic(path: &Path, data: &[u8]) -> Result<(), RegistryError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let cache_err = |source| RegistryError::Cache {
        path: path.to_owned(),
        source,
    };
    fs::create_dir_all(dir).map_err(cache_err)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(cache_err)?;
    tmp.write_all(data).map_err(cache_err)?;
    tmp.persist(path).map_err(|e| cache_err(e.error))?;
    Ok(())
}
