//! Which index a registry name means, resolved as cargo resolves it: `--registry NAME` from
//! `CARGO_REGISTRIES_<NAME>_INDEX` or `[registries.NAME] index` in cargo's configuration files
//! (read with `cargo-config2`), no name meaning crates.io, and `[source.*] replace-with`
//! followed to the end. Only sparse indexes (`sparse+http(s)://`) are accepted. Cargo's
//! `http.proxy` and `http.timeout` come along.

use std::path::PathBuf;

use cargo_config2::{Config, RegistriesProtocol, ResolveOptions};

use super::error::RegistryError;

/// The name cargo gives crates.io, as a registry and as a source.
pub const CRATES_IO: &str = "crates-io";
/// crates.io's sparse index, cargo's default.
pub const CRATES_IO_SPARSE_INDEX: &str = "sparse+https://index.crates.io/";
/// crates.io's git index (`[registries.crates-io] protocol = "git"`), refused.
pub const CRATES_IO_GIT_INDEX: &str = "https://github.com/rust-lang/crates.io-index";
/// Longest `replace-with` chain followed (cargo has no limit; a loop is caught before this).
const MAX_REPLACEMENTS: usize = 16;

/// Where cargo's configuration is read from.
#[derive(Debug, Clone)]
pub struct ConfigInputs {
    /// The directory whose `.cargo/config.toml` files (and those of its parents) apply.
    pub cwd: PathBuf,
    /// The environment to read `CARGO_*` variables from; `None` means this process's.
    pub env: Option<Vec<(String, String)>>,
    /// `CARGO_HOME`; `None` means cargo's default for this process.
    pub cargo_home: Option<PathBuf>,
}

impl ConfigInputs {
    /// This process's environment and cargo home, with configuration files found from `cwd`.
    pub fn from_process(cwd: impl Into<PathBuf>) -> Self {
        Self {
            cwd: cwd.into(),
            env: None,
            cargo_home: None,
        }
    }
}

/// A registry resolved to the sparse index that will be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrySource {
    /// The registry's name as the user knows it (`crates-io` by default).
    pub name: String,
    /// The name of the source that replaces it, if source replacement applies.
    pub replaced_with: Option<String>,
    /// The index URL as configured, `sparse+` prefix included.
    pub index: String,
    /// The HTTP(S) base URL of the index, ending in `/`.
    pub base_url: String,
    /// Cargo's `http.proxy` (`CARGO_HTTP_PROXY`), used before the `*_proxy` variables, as cargo
    /// does.
    pub proxy: Option<String>,
    /// Cargo's `http.timeout` in seconds (`CARGO_HTTP_TIMEOUT`).
    pub timeout_secs: Option<u32>,
}

impl RegistrySource {
    /// Resolves `registry` (`None`: crates.io) as cargo would from `inputs`.
    pub fn resolve(registry: Option<&str>, inputs: &ConfigInputs) -> Result<Self, RegistryError> {
        let config = load(inputs)?;
        let (name, index) = match registry {
            None | Some(CRATES_IO) => (CRATES_IO.to_owned(), crates_io_index(&config)),
            Some(name) => {
                let index = registry_index(&config, name).ok_or_else(|| {
                    RegistryError::UnknownRegistry {
                        name: name.to_owned(),
                        env_name: env_name(name),
                    }
                })?;
                (name.to_owned(), index)
            }
        };
        let (replaced_with, index) = follow_replacements(&config, &name, index)?;
        let shown = replaced_with.clone().unwrap_or_else(|| name.clone());
        let base_url = sparse_base(&index).ok_or_else(|| RegistryError::NotSparse {
            registry: shown,
            index: index.clone(),
        })?;
        Ok(Self {
            name,
            replaced_with,
            index,
            base_url,
            proxy: config.http.proxy.clone(),
            timeout_secs: config.http.timeout,
        })
    }

    /// A registry at a known sparse index URL (no configuration involved).
    pub fn from_index(name: &str, index: &str) -> Result<Self, RegistryError> {
        let base_url = sparse_base(index).ok_or_else(|| RegistryError::NotSparse {
            registry: name.to_owned(),
            index: index.to_owned(),
        })?;
        Ok(Self {
            name: name.to_owned(),
            replaced_with: None,
            index: index.to_owned(),
            base_url,
            proxy: None,
            timeout_secs: None,
        })
    }

    /// How errors and reports name this registry: `NAME` or `NAME (replaced with OTHER)`.
    pub fn display_name(&self) -> String {
        match &self.replaced_with {
            Some(other) => format!("{} (replaced with {other})", self.name),
            None => self.name.clone(),
        }
    }
}

fn load(inputs: &ConfigInputs) -> Result<Config, RegistryError> {
    let mut options = ResolveOptions::default();
    if let Some(env) = &inputs.env {
        options = options.env(env.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    if let Some(home) = &inputs.cargo_home {
        options = options.cargo_home(Some(home.clone()));
    }
    Config::load_with_options(&inputs.cwd, options).map_err(|source| {
        RegistryError::LoadCargoConfig {
            cwd: inputs.cwd.clone(),
            source,
        }
    })
}

/// `my-reg` is `MY_REG` in `CARGO_REGISTRIES_MY_REG_INDEX`.
fn env_name(name: &str) -> String {
    name.to_uppercase().replace('-', "_")
}

/// The `[registries.NAME]` entry; the environment's spelling (`CARGO_REGISTRIES_<NAME>_*`, which
/// `cargo-config2` keys by the upper-case name) wins over the file's, as in cargo.
fn registry_entry<'c>(
    config: &'c Config,
    name: &str,
) -> impl Iterator<Item = &'c cargo_config2::RegistriesConfigValue> {
    let from_env = config.registries.get(&env_name(name));
    let from_file = config.registries.get(name);
    from_env.into_iter().chain(from_file)
}

fn registry_index(config: &Config, name: &str) -> Option<String> {
    registry_entry(config, name).find_map(|r| r.index.clone())
}

fn crates_io_index(config: &Config) -> String {
    let git = registry_entry(config, CRATES_IO)
        .find_map(|r| r.protocol.clone())
        .is_some_and(|p| p == RegistriesProtocol::Git);
    if git {
        CRATES_IO_GIT_INDEX
    } else {
        CRATES_IO_SPARSE_INDEX
    }
    .to_owned()
}

/// Follows `[source.X] replace-with` from the source that stands for registry `name` (for
/// crates.io the source `crates-io`; for another registry `[source.NAME]` or a source whose
/// `registry` is the same URL). Returns the last replacement's name and its index.
fn follow_replacements(
    config: &Config,
    name: &str,
    index: String,
) -> Result<(Option<String>, String), RegistryError> {
    let start = if name == CRATES_IO || config.source.contains_key(name) {
        Some(name.to_owned())
    } else {
        config
            .source
            .iter()
            .find(|(_, s)| s.registry.as_deref().is_some_and(|r| same_url(r, &index)))
            .map(|(k, _)| k.clone())
    };
    let Some(start) = start else {
        return Ok((None, index));
    };
    let mut chain = vec![start.clone()];
    let mut current = start;
    let mut replaced = None;
    let mut index = index;
    while let Some(target) = config
        .source
        .get(&current)
        .and_then(|s| s.replace_with.clone())
    {
        if chain.contains(&target) || chain.len() > MAX_REPLACEMENTS {
            chain.push(target);
            return Err(RegistryError::ReplacementCycle {
                chain: chain.join(" -> "),
            });
        }
        chain.push(target.clone());
        let unsupported = |what| RegistryError::UnsupportedReplacement {
            source_name: current.clone(),
            target: target.clone(),
            what,
        };
        if let Some(source) = config.source.get(&target) {
            if let Some(registry) = &source.registry {
                index = registry.clone();
            } else if source.directory.is_some() {
                return Err(unsupported("a directory source"));
            } else if source.local_registry.is_some() {
                return Err(unsupported("a local registry"));
            } else if source.git.is_some() {
                return Err(unsupported("a git repository"));
            } else if source.replace_with.is_none() {
                return Err(unsupported("a source with no registry"));
            }
        } else if let Some(registry) = registry_index(config, &target) {
            index = registry;
        } else {
            return Err(unsupported("not defined in [source] or [registries]"));
        }
        replaced = Some(target.clone());
        current = target;
    }
    Ok((replaced, index))
}

fn same_url(a: &str, b: &str) -> bool {
    a.trim_end_matches('/') == b.trim_end_matches('/')
}

/// `sparse+https://host/path` → `https://host/path/`; anything else is not a sparse index.
fn sparse_base(index: &str) -> Option<String> {
    let url = index.strip_prefix("sparse+")?;
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?;
    if rest.is_empty() || rest.starts_with('/') {
        return None;
    }
    let mut base = url.to_owned();
    if !base.ends_with('/') {
        base.push('/');
    }
    Some(base)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs(dir: &std::path::Path, env: &[(&str, &str)]) -> ConfigInputs {
        ConfigInputs {
            cwd: dir.to_owned(),
            env: Some(
                env.iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
            ),
            cargo_home: Some(dir.join("cargo-home")),
        }
    }

    fn write_config(dir: &std::path::Path, text: &str) {
        std::fs::create_dir_all(dir.join(".cargo")).unwrap();
        std::fs::write(dir.join(".cargo/config.toml"), text).unwrap();
    }

    #[test]
    fn default_is_crates_io_sparse() {
        let dir = tempfile::tempdir().unwrap();
        let r = RegistrySource::resolve(None, &inputs(dir.path(), &[])).unwrap();
        assert_eq!(r.name, "crates-io");
        assert_eq!(r.base_url, "https://index.crates.io/");
        assert_eq!(r.replaced_with, None);
    }

    #[test]
    fn env_index_wins_over_file() {
        let dir = tempfile::tempdir().unwrap();
        write_config(
            dir.path(),
            "[registries.my-reg]\nindex = \"sparse+https://file.example/\"\n",
        );
        let from_file = RegistrySource::resolve(Some("my-reg"), &inputs(dir.path(), &[])).unwrap();
        assert_eq!(from_file.base_url, "https://file.example/");
        let env = [(
            "CARGO_REGISTRIES_MY_REG_INDEX",
            "sparse+http://127.0.0.1:9/index",
        )];
        let from_env = RegistrySource::resolve(Some("my-reg"), &inputs(dir.path(), &env)).unwrap();
        assert_eq!(from_env.base_url, "http://127.0.0.1:9/index/");
        let env = [
            ("CARGO_HTTP_PROXY", "http://proxy.example:3128"),
            ("CARGO_HTTP_TIMEOUT", "7"),
        ];
        let r = RegistrySource::resolve(None, &inputs(dir.path(), &env)).unwrap();
        assert_eq!(
            (r.proxy.as_deref(), r.timeout_secs),
            (Some("http://proxy.example:3128"), Some(7))
        );
    }

    #[test]
    fn unknown_registry_names_it_and_its_variable() {
        let dir = tempfile::tempdir().unwrap();
        let err = RegistrySource::resolve(Some("no-such"), &inputs(dir.path(), &[])).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("`no-such`") && text.contains("CARGO_REGISTRIES_NO_SUCH_INDEX"),
            "{text}"
        );
    }

    #[test]
    fn git_index_is_refused_with_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        let env = [(
            "CARGO_REGISTRIES_OLD_INDEX",
            "https://git.example/index.git",
        )];
        let err = RegistrySource::resolve(Some("old"), &inputs(dir.path(), &env)).unwrap_err();
        assert!(matches!(err, RegistryError::NotSparse { .. }));
        assert!(err.to_string().contains("sparse+https://"), "{err}");
        let env = [("CARGO_REGISTRIES_CRATES_IO_PROTOCOL", "git")];
        let err = RegistrySource::resolve(None, &inputs(dir.path(), &env)).unwrap_err();
        assert!(
            matches!(err, RegistryError::NotSparse { ref index, .. } if index == CRATES_IO_GIT_INDEX)
        );
    }

    #[test]
    fn source_replacement_is_followed() {
        let dir = tempfile::tempdir().unwrap();
        write_config(
            dir.path(),
            "[source.crates-io]\nreplace-with = \"mirror\"\n\
             [source.mirror]\nregistry = \"sparse+https://mirror.example/idx/\"\n\
             [registries.corp]\nindex = \"sparse+https://corp.example/\"\n\
             [source.corp-src]\nregistry = \"sparse+https://corp.example/\"\nreplace-with = \"corp-mirror\"\n\
             [registries.corp-mirror]\nindex = \"sparse+https://corp-mirror.example/\"\n",
        );
        let r = RegistrySource::resolve(None, &inputs(dir.path(), &[])).unwrap();
        assert_eq!(r.replaced_with.as_deref(), Some("mirror"));
        assert_eq!(r.base_url, "https://mirror.example/idx/");
        let r = RegistrySource::resolve(Some("corp"), &inputs(dir.path(), &[])).unwrap();
        assert_eq!(r.replaced_with.as_deref(), Some("corp-mirror"));
        assert_eq!(r.base_url, "https://corp-mirror.example/");
    }

    #[test]
    fn replacement_loops_and_vendoring_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        write_config(
            dir.path(),
            "[source.crates-io]\nreplace-with = \"a\"\n[source.a]\nreplace-with = \"crates-io\"\n",
        );
        let err = RegistrySource::resolve(None, &inputs(dir.path(), &[])).unwrap_err();
        assert!(
            matches!(err, RegistryError::ReplacementCycle { .. }),
            "{err}"
        );
        write_config(
            dir.path(),
            "[source.crates-io]\nreplace-with = \"vendored\"\n[source.vendored]\ndirectory = \"vendor\"\n",
        );
        let err = RegistrySource::resolve(None, &inputs(dir.path(), &[])).unwrap_err();
        assert!(matches!(
            err,
            RegistryError::UnsupportedReplacement {
                what: "a directory source",
                ..
            }
        ));
    }

    #[test]
    fn sparse_base_forms() {
        assert_eq!(
            sparse_base("sparse+https://a.example/x").as_deref(),
            Some("https://a.example/x/")
        );
        assert_eq!(
            sparse_base("sparse+http://127.0.0.1:1/").as_deref(),
            Some("http://127.0.0.1:1/")
        );
        assert_eq!(sparse_base("https://a.example/"), None);
        assert_eq!(sparse_base("sparse+file:///x"), None);
        assert_eq!(sparse_base("sparse+https://"), None);
    }
}
