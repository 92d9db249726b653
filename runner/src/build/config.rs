//! `airlock.toml` at the workspace root: per-crate exceptions to the sandbox. Each one is granted
//! to that crate's build script and proc-macro runs only, and listed in the report.
//!
//! ```toml
//! [crate.openssl-sys]
//! read = ["/opt/openssl"]
//! reason = "links the OpenSSL we build ourselves"
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::BuildError;

/// The file's name, at the workspace root.
pub const FILE_NAME: &str = "airlock.toml";

/// The whole file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Exceptions by crate name.
    #[serde(default, rename = "crate")]
    pub crates: BTreeMap<String, CrateException>,
}

/// What one crate is granted beyond the profile.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrateException {
    #[serde(default)]
    pub read: Vec<PathBuf>,
    #[serde(default)]
    pub write: Vec<PathBuf>,
    #[serde(default)]
    pub exec: Vec<PathBuf>,
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

/// One granted exception, as the report lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Granted {
    /// `read`, `write`, `exec`, `net` or `profile`.
    pub kind: String,
    /// The path or profile (empty for `net`).
    pub value: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl CrateException {
    /// Every grant, one per entry.
    pub fn granted(&self) -> Vec<Granted> {
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
    pub fn load(workspace_root: &Path) -> Result<Config, BuildError> {
        let path = workspace_root.join(FILE_NAME);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Config::default()),
            Err(e) => {
                return Err(BuildError::Config {
                    path,
                    reason: e.to_string(),
                })
            }
        };
        Config::parse(&text, &path)
    }

    /// Parses the text of `path`.
    pub fn parse(text: &str, path: &Path) -> Result<Config, BuildError> {
        let config: Config = toml::from_str(text).map_err(|e| BuildError::Config {
            path: path.to_owned(),
            reason: e.to_string(),
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
    pub fn for_crate(&self, name: &str) -> Option<&CrateException> {
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
        let err = Config::parse("[crate.x]\nwrite_all = true\n", Path::new("airlock.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("airlock.toml") && err.contains("write_all"),
            "{err}"
        );
        assert!(Config::parse("[crate.x]\nread = [\"rel\"]\n", Path::new("a.toml")).is_err());
    }
}
