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

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use toml::Spanned;

use super::graph::Graph;
use super::BuildError;
use crate::profile::Problem;
use crate::report::Granted;

/// The file's name, at the workspace root.
pub(crate) const FILE_NAME: &str = "airlock.toml";

/// The key (and granted-exception kind) that lets a build script execute from its `OUT_DIR`.
pub(crate) const EXEC_OUT_DIR: &str = "exec-out-dir";

/// The whole file.
#[derive(Debug, Clone, Default)]
pub(crate) struct Config {
    /// Exceptions by crate name.
    pub crates: BTreeMap<String, CrateException>,
    /// Where each crate's table is named in the file (1-based line and column), for errors.
    places: BTreeMap<String, (usize, usize)>,
    /// The file it was read from (empty for an absent file).
    path: PathBuf,
}

/// The file as written: crate names spanned, so that a problem names its line and column.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default, rename = "crate")]
    crates: BTreeMap<Spanned<String>, CrateException>,
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
    /// Reads `airlock.toml` from `dir` (an absent file is an empty config).
    pub(crate) fn load(dir: &Path) -> Result<Config, BuildError> {
        let path = dir.join(FILE_NAME);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Config::default()),
            Err(source) => return Err(BuildError::ConfigRead { path, source }),
        };
        Config::parse(&text, &path)
    }

    /// Parses the text of `path`, collecting every problem the schema lets through (a path
    /// that is not absolute) with its line and column.
    pub(crate) fn parse(text: &str, path: &Path) -> Result<Config, BuildError> {
        let invalid = |problems| BuildError::ConfigInvalid {
            path: path.to_owned(),
            problems,
        };
        let raw: RawConfig = toml::from_str(text).map_err(|err| {
            let (line, column) = err.span().map_or((1, 1), |s| locate(text, s.start));
            invalid(vec![Problem {
                line,
                column,
                message: err.message().trim().to_owned(),
            }])
        })?;
        let mut config = Config {
            path: path.to_owned(),
            ..Config::default()
        };
        let mut problems = Vec::new();
        for (name, ex) in raw.crates {
            let (line, column) = locate(text, name.span().start);
            let name = name.into_inner();
            for p in ex.read.iter().chain(&ex.write).chain(&ex.exec) {
                if !p.is_absolute() {
                    problems.push(Problem {
                        line,
                        column,
                        message: format!(
                            "[crate.{name}]: path `{}` is not absolute; write the full path",
                            p.display()
                        ),
                    });
                }
            }
            config.places.insert(name.clone(), (line, column));
            config.crates.insert(name, ex);
        }
        if !problems.is_empty() {
            problems.sort_by_key(|p| (p.line, p.column));
            return Err(invalid(problems));
        }
        Ok(config)
    }

    /// Checks that every exception names a crate of `graph` (a misspelt name would grant
    /// nothing, silently): every stray name at once, each with its place and the closest names
    /// of the graph.
    pub(crate) fn check_names(&self, graph: &Graph) -> Result<(), BuildError> {
        let names: BTreeSet<&str> = graph.packages.iter().map(|p| p.name.as_str()).collect();
        let problems: Vec<Problem> = self
            .crates
            .keys()
            .filter(|name| !names.contains(name.as_str()))
            .map(|name| {
                let (line, column) = self.places.get(name).copied().unwrap_or((1, 1));
                let close = harness_gen::suggest::closest(name, names.iter().copied(), 3);
                Problem {
                    line,
                    column,
                    message: format!(
                        "[crate.{name}] names no crate of the dependency graph{}",
                        if close.is_empty() {
                            String::new()
                        } else {
                            format!(
                                "; did you mean {}?",
                                close
                                    .iter()
                                    .map(|n| format!("`{n}`"))
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            )
                        }
                    ),
                }
            })
            .collect();
        if problems.is_empty() {
            Ok(())
        } else {
            let mut problems = problems;
            problems.sort_by_key(|p| (p.line, p.column));
            Err(BuildError::ConfigInvalid {
                path: self.path.clone(),
                problems,
            })
        }
    }

    /// The exception for crate `name`, if any.
    pub(crate) fn for_crate(&self, name: &str) -> Option<&CrateException> {
        self.crates.get(name)
    }
}

/// The 1-based line and column of byte `offset` in `text`.
fn locate(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before
        .rfind('\n')
        .map_or(before.len(), |nl| before.len() - nl - 1)
        + 1;
    (line, column)
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

    fn graph(names: &[&str]) -> Graph {
        Graph {
            workspace_root: PathBuf::from("/w"),
            target_directory: PathBuf::from("/w/target"),
            packages: names
                .iter()
                .map(|n| super::super::graph::Package {
                    id: format!("{n} 1.0.0"),
                    name: (*n).to_owned(),
                    version: "1.0.0".to_owned(),
                    source: super::super::graph::SourceKind::Registry,
                    location: String::new(),
                    manifest_dir: PathBuf::new(),
                    build_script: true,
                    proc_macro: false,
                    workspace_member: false,
                    in_build: true,
                    deps: Vec::new(),
                })
                .collect(),
        }
    }

    #[test]
    fn every_exception_naming_no_crate_is_an_error_with_its_place_and_the_closest_names() {
        let text = "[crate.tikv-jemalloc-sys]\nexec-out-dir = true\n\n[crate.tikv-jemaloc-sys]\nnet = true\n[crate.zzzz]\nnet = true\n";
        let c = Config::parse(text, Path::new("/w/airlock.toml")).unwrap();
        let g = graph(&["tikv-jemalloc-sys", "tikv-jemallocator", "libc"]);
        let err = c.check_names(&g).unwrap_err();
        let BuildError::ConfigInvalid { problems, .. } = &err else {
            panic!("{err}")
        };
        assert_eq!(problems.len(), 2, "{err}");
        assert_eq!((problems[0].line, problems[0].column), (4, 8), "{err}");
        assert!(
            problems[0].message.contains("tikv-jemaloc-sys")
                && problems[0]
                    .message
                    .contains("did you mean `tikv-jemalloc-sys`"),
            "{err}"
        );
        assert_eq!(problems[1].line, 6, "{err}");
        assert!(!problems[1].message.contains("did you mean"), "{err}");
        let text = err.to_string();
        assert!(
            text.contains("/w/airlock.toml:4:8: [crate.tikv-jemaloc-sys]"),
            "{text}"
        );
        assert!(c
            .check_names(&graph(&["tikv-jemaloc-sys", "zzzz", "tikv-jemalloc-sys"]))
            .is_ok());
    }

    #[test]
    fn every_relative_path_is_reported_at_once() {
        let err = Config::parse(
            "[crate.a]\nread = [\"rel\"]\n[crate.b]\nwrite = [\"x/y\"]\n",
            Path::new("airlock.toml"),
        )
        .unwrap_err();
        let BuildError::ConfigInvalid { problems, .. } = &err else {
            panic!("{err}")
        };
        assert_eq!(
            problems.iter().map(|p| p.line).collect::<Vec<_>>(),
            [1, 3],
            "{err}"
        );
    }
}
