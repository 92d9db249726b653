//! The dependency graph of a workspace, from `cargo metadata`: every package that a build of the
//! host platform can compile, where it comes from, and whether it has a build script or is a
//! proc macro. The graph is what runs are attributed to.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::{Deserialize, Serialize};

use super::BuildError;

/// Where a package's sources come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum SourceKind {
    /// A registry (crates.io or another).
    Registry,
    /// A path on this machine (workspace members, path dependencies).
    Path,
    /// A git repository.
    Git,
}

/// One package of the graph.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Package {
    /// Cargo's package id.
    pub id: String,
    pub name: String,
    pub version: String,
    pub source: SourceKind,
    /// Cargo's source id (`registry+https://...`, `git+https://...`), or the path for path
    /// packages.
    pub location: String,
    /// The directory holding `Cargo.toml`.
    pub manifest_dir: PathBuf,
    pub build_script: bool,
    pub proc_macro: bool,
    pub workspace_member: bool,
    /// `cargo build` of the workspace compiles it: a default member, or reached from one
    /// through normal and build dependencies (not dev-dependencies only).
    #[serde(default)]
    pub in_build: bool,
    /// Cargo ids of its dependencies of every kind (normal, build, dev).
    #[serde(default)]
    pub deps: Vec<String>,
}

impl Package {
    /// `name version`, the attribution used in events.
    pub(crate) fn label(&self) -> String {
        format!("{} {}", self.name, self.version)
    }
}

/// The packages a build of the workspace may compile.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Graph {
    pub workspace_root: PathBuf,
    /// The workspace's own target directory (the vetting build uses its own beneath it).
    pub target_directory: PathBuf,
    pub packages: Vec<Package>,
}

impl Graph {
    /// Runs `cargo metadata` for `manifest` (filtered to the host platform) and reads the graph.
    pub(crate) fn load(cargo: &Path, manifest: &Path) -> Result<Graph, BuildError> {
        if !manifest.is_file() {
            return Err(BuildError::NoManifest {
                path: manifest.to_owned(),
            });
        }
        let host = host_triple(cargo);
        let mut cmd = cargo_metadata::MetadataCommand::new();
        cmd.cargo_path(cargo).manifest_path(manifest);
        if let Some(host) = host {
            cmd.other_options(vec!["--filter-platform".to_owned(), host]);
        }
        let meta = cmd.exec().map_err(|e| BuildError::Metadata {
            path: manifest.to_owned(),
            source: super::MetadataError(e),
        })?;
        let in_resolve: Option<HashSet<&cargo_metadata::PackageId>> = meta
            .resolve
            .as_ref()
            .map(|r| r.nodes.iter().map(|n| &n.id).collect());
        let in_build = build_closure(&meta);
        let deps: HashMap<&cargo_metadata::PackageId, Vec<String>> = meta
            .resolve
            .as_ref()
            .map(|r| {
                r.nodes
                    .iter()
                    .map(|n| (&n.id, n.deps.iter().map(|d| d.pkg.repr.clone()).collect()))
                    .collect()
            })
            .unwrap_or_default();
        let packages = meta
            .packages
            .iter()
            .filter(|p| in_resolve.as_ref().is_none_or(|set| set.contains(&p.id)))
            .map(|p| {
                let (source, location) = match &p.source {
                    Some(s) if s.repr.starts_with("git+") => (SourceKind::Git, s.repr.clone()),
                    Some(s) => (SourceKind::Registry, s.repr.clone()),
                    None => (
                        SourceKind::Path,
                        p.manifest_path
                            .parent()
                            .map(|d| d.to_string())
                            .unwrap_or_default(),
                    ),
                };
                Package {
                    id: p.id.repr.clone(),
                    name: p.name.to_string(),
                    version: p.version.to_string(),
                    source,
                    location,
                    manifest_dir: p
                        .manifest_path
                        .parent()
                        .map(|d| d.as_std_path().to_owned())
                        .unwrap_or_default(),
                    build_script: p.targets.iter().any(|t| t.is_custom_build()),
                    proc_macro: p.targets.iter().any(|t| t.is_proc_macro()),
                    workspace_member: meta.workspace_members.contains(&p.id),
                    in_build: in_build.contains(&p.id),
                    deps: deps.get(&p.id).cloned().unwrap_or_default(),
                }
            })
            .collect();
        Ok(Graph {
            workspace_root: meta.workspace_root.into_std_path_buf(),
            target_directory: meta.target_directory.into_std_path_buf(),
            packages,
        })
    }

    /// The package built from `manifest_dir` with this name and version.
    pub(crate) fn find(&self, name: &str, version: &str, manifest_dir: &Path) -> Option<&Package> {
        let dir = std::fs::canonicalize(manifest_dir).unwrap_or_else(|_| manifest_dir.to_owned());
        self.packages
            .iter()
            .find(|p| {
                p.name == name
                    && p.version == version
                    && std::fs::canonicalize(&p.manifest_dir).ok().as_deref() == Some(&dir)
            })
            .or_else(|| {
                self.packages
                    .iter()
                    .find(|p| p.name == name && p.version == version)
            })
    }

    /// The proc-macro packages that package `id` reaches through its dependencies, however
    /// deep: rustc loads (`dlopen`s) every proc macro of a crate's dependency graph when it
    /// loads the crates that use them, so their constructors run in any compilation downstream.
    pub(crate) fn reachable_proc_macros(&self, id: &str) -> Vec<&Package> {
        let mut seen: HashSet<&str> = HashSet::new();
        let mut todo: Vec<&str> = self
            .by_id(id)
            .map(|p| p.deps.iter().map(String::as_str).collect())
            .unwrap_or_default();
        let mut out = Vec::new();
        while let Some(next) = todo.pop() {
            if !seen.insert(next) {
                continue;
            }
            let Some(p) = self.by_id(next) else { continue };
            if p.proc_macro {
                out.push(p);
            }
            todo.extend(p.deps.iter().map(String::as_str));
        }
        out.sort_by(|a, b| a.id.cmp(&b.id));
        out
    }

    /// The package with this cargo id.
    pub(crate) fn by_id(&self, id: &str) -> Option<&Package> {
        self.packages.iter().find(|p| p.id == id)
    }
}

/// The packages `cargo build` of the workspace compiles: the default members and everything
/// they reach through normal and build dependencies (all of them when cargo gave no resolve).
fn build_closure(meta: &cargo_metadata::Metadata) -> HashSet<cargo_metadata::PackageId> {
    use cargo_metadata::DependencyKind;
    let Some(resolve) = &meta.resolve else {
        return meta.packages.iter().map(|p| p.id.clone()).collect();
    };
    let nodes: HashMap<&cargo_metadata::PackageId, &cargo_metadata::Node> =
        resolve.nodes.iter().map(|n| (&n.id, n)).collect();
    let mut seen: HashSet<cargo_metadata::PackageId> = HashSet::new();
    // `cargo build` builds the default members (all members when cargo cannot say which).
    let mut todo: Vec<&cargo_metadata::PackageId> = if meta.workspace_default_members.is_available()
    {
        meta.workspace_default_members.iter().collect()
    } else {
        meta.workspace_members.iter().collect()
    };
    while let Some(id) = todo.pop() {
        if !seen.insert(id.clone()) {
            continue;
        }
        let Some(node) = nodes.get(id) else { continue };
        for dep in &node.deps {
            let built = dep.dep_kinds.is_empty()
                || dep
                    .dep_kinds
                    .iter()
                    .any(|k| k.kind != DependencyKind::Development);
            if built {
                todo.push(&dep.pkg);
            }
        }
    }
    seen
}

/// The host triple, from `rustc -vV` (None if rustc cannot be asked; then nothing is filtered).
fn host_triple(cargo: &Path) -> Option<String> {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| {
        cargo
            .parent()
            .map(|d| d.join("rustc").into_os_string())
            .filter(|p| Path::new(p).exists())
            .unwrap_or_else(|| "rustc".into())
    });
    let out = Command::new(rustc).arg("-vV").output().ok()?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .map(str::to_owned)
}
