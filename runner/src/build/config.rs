//! `airlock.toml` at the workspace root: per-crate exceptions to the sandbox. Each one is granted
//! to that crate's build script and proc-macro runs only, and listed in the report.
//!
//! ```toml
//! [crate.openssl-sys]
//! read = ["/opt/openssl"]
//! reason = "links the OpenSSL we build ourselves"
//!
//! [crate.tikv-jemalloc-sys]
//! exec-out-dir = true
//! reason = "runs the helper binary it unpacks into OUT_DIR"
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::BuildError;
use crate::report::Granted;

/// The file's name, at the workspace root.
pub(crate) const FILE_NAME: &str = "airlock.toml";

/// The key (and granted-exception kind) that lets a build script execute from its `OUT_DIR`.
pub(crate) const EXEC_OUT_DIR: &str = "exec-out-dir";

/// The whole file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Config {
    /// Exceptions by crate name.
    #[serde(default, rename = "crate")]
    pub crates: BTreeMap<String, CrateException>,
}

/// What one crate is granted beyond the profile.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CrateException {
    /// Extra directories to read (absolute).
    #[serde(default)]
    pub read: Vec<PathBuf>,
    /// Extra directories to write (absolute); nothing in them can be executed.
    #[serde(default)]
    pub write: Vec<PathBuf>,
    /// Extra paths to execute from (absolute); the sandbox cannot write them.
    #[serde(default)]
    pub exec: Vec<PathBuf>,
    /// The build script may execute anything it wrote into its own `OUT_DIR`, not only what a
    /// compiler or linker of the build produced there (the default). Landlock grants the execute right on that one directory only, for the
    /// build script's runs only (proc-macro runs have no `OUT_DIR`); every exec is still
    /// logged, and every other writable directory, memory (`memfd`) and descriptors stay
    /// non-executable.
    #[serde(default, rename = "exec-out-dir")]
    pub exec_out_dir: bool,
    /// Network attempts are expected. The engine keeps the network closed whatever this says;
    /// the exception only keeps `net` events from making the crate suspicious.
    #[serde(default)]
    pub net: bool,
    /// A profile for this crate's runs instead of the build's.
    #[serde(default)]
    pub profile: Option<String>,
    /// Why the exception exists (shown in the report).
    #[serde(default)]
    pub reason: Option<String>,
}

impl CrateException {
    /// Every grant, one per entry.
    pub(crate) fn granted(&self) -> Vec<Granted> {
        let g = |kind: &str, value: String| Granted {
            kind: kind.to_owned(),
            value,
            reason: self.reason.clone(),
        };
        let mut out = Vec::new();
        out.extend(self.read.iter().map(|p| g("read", p.display().to_string())));
        out.extend(
            self.write
                .iter()
                .map(|p| g("write", p.display().to_string())),
        );
        out.extend(self.exec.iter().map(|p| g("exec", p.display().to_string())));
        if self.exec_out_dir {
            out.push(g(EXEC_OUT_DIR, "OUT_DIR".to_owned()));
        }
        if self.net {
            out.push(g("net", String::new()));
        }
        if let Some(p) = &self.profile {
            out.push(g("profile", p.clone()));
        }
        out
    }
}

impl Config {
    /// Reads `airlock.toml` from `workspace_root` (an absent file is an empty config).
    pub(crate) fn load(workspace_root: &Path) -> Result<Config, BuildError> {
        let path = workspace_root.join(FILE_NAME);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Config::default()),
            Err(source) => return Err(BuildError::ConfigRead { path, source }),
        };
        Config::parse(&text, &path)
    }

    /// Parses the text of `path`.
    pub(crate) fn parse(text: &str, path: &Path) -> Result<Config, BuildError> {
        let config: Config = toml::from_str(text).map_err(|source| BuildError::ConfigParse {
            path: path.to_owned(),
            source,
        })?;
        for (name, ex) in &config.crates {
            for p in ex.read.iter().chain(&ex.write).chain(&ex.exec) {
                if !p.is_absolute() {
                    return Err(BuildError::Config {
                        path: path.to_owned(),
                        reason: format!(
                            "[crate.{name}]: path `{}` is not absolute; write the full path",
                            p.display()
                        ),
                    });
                }
            }
        }
        Ok(config)
    }

    /// The exception for crate `name`, if any.
    pub(crate) fn for_crate(&self, name: &str) -> Option<&CrateException> {
        self.crates.get(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_exceptions_and_rejects_unknown_keys() {
        let c = Config::parse(
            "[crate.foo-sys]\nread = [\"/opt/foo\"]\nnet = true\nreason = \"vendored\"\n",
            Path::new("airlock.toml"),
        )
        .unwrap();
        let g = c.for_crate("foo-sys").unwrap().granted();
        assert_eq!(g.len(), 2);
        assert_eq!(g[0].kind, "read");
        assert_eq!(g[1].kind, "net");
        let err = crate::error_chain::error_chain(
            &Config::parse("[crate.x]\nwrite_all = true\n", Path::new("airlock.toml")).unwrap_err(),
        );
        assert!(
            err.contains("airlock.toml") && err.contains("write_all"),
            "{err}"
        );
        assert!(Config::parse("[crate.x]\nread = [\"rel\"]\n", Path::new("a.toml")).is_err());
    }

    #[test]
    fn exec_out_dir_is_off_unless_asked_and_listed_when_granted() {
        let c = Config::parse(
            "[crate.jm-sys]\nexec-out-dir = true\nreason = \"configure runs ./conftest\"\n[crate.other]\nread = [\"/opt\"]\n",
            Path::new("airlock.toml"),
        )
        .unwrap();
        assert!(!c.for_crate("other").unwrap().exec_out_dir);
        let g = c.for_crate("jm-sys").unwrap().granted();
        assert_eq!(g.len(), 1);
        assert_eq!(
            (g[0].kind.as_str(), g[0].value.as_str()),
            (EXEC_OUT_DIR, "OUT_DIR")
        );
        assert_eq!(g[0].reason.as_deref(), Some("configure runs ./conftest"));
        // The spelling is the kebab-case one; a snake-case key is an unknown key, not a grant.
        let err = crate::error_chain::error_chain(
            &Config::parse(
                "[crate.x]\nexec_out_dir = true\n",
                Path::new("airlock.toml"),
            )
            .unwrap_err(),
        );
        assert!(err.contains("exec_out_dir"), "{err}");
    }
}
