//! Finding the packages to analyse with `cargo metadata`: workspace members by default, or the
//! packages named with `-p` (members or any dependency, registry ones included, whose sources
//! are in cargo's registry cache), with their resolved features, their serde format
//! dependencies and the dependencies whose functions are foreign (`*-sys`, `links`, `libc`).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use cargo_metadata::{DependencyKind, Metadata, MetadataCommand, Package, PackageId};

use crate::error::GenError;

/// One package to analyse.
#[derive(Debug, Clone)]
pub struct Selected {
    /// The package name.
    pub name: String,
    /// Its version.
    pub version: String,
    /// Its manifest.
    pub manifest: PathBuf,
    /// The library's crate root file.
    pub root: PathBuf,
    /// The name code uses for the library.
    pub code_name: String,
    /// Features enabled in the resolved build.
    pub features: Vec<String>,
    /// Serde formats among its enabled normal dependencies.
    pub formats: Vec<FormatDep>,
    /// Code names of dependencies whose functions are foreign.
    pub ffi_crates: BTreeSet<String>,
    /// Whether the crate uses the 2015 edition (`use` paths start at the crate root).
    pub edition_2015: bool,
    /// Whether the package comes from crates.io (not a path or git dependency).
    pub from_registry: bool,
}

/// The result of selection: packages to analyse and the ones passed over.
#[derive(Debug, Clone)]
pub struct Selection {
    /// The workspace root.
    pub workspace_root: PathBuf,
    /// Packages to analyse.
    pub packages: Vec<Selected>,
    /// Workspace members skipped by default selection, with the reason.
    pub passed_over: Vec<(String, String)>,
}

/// Runs `cargo metadata` and selects packages.
pub fn select(manifest: Option<&Path>, names: &[String]) -> Result<Selection, GenError> {
    let mut cmd = MetadataCommand::new();
    if let Some(m) = manifest {
        cmd.manifest_path(m);
    }
    let meta = cmd.exec().map_err(|e| match e {
        cargo_metadata::Error::CargoMetadata { stderr } => GenError::Metadata {
            manifest: manifest.map(Path::to_path_buf),
            stderr: stderr.trim().trim_start_matches("error: ").to_string(),
        },
        source => GenError::RunMetadata {
            manifest: manifest.map(Path::to_path_buf),
            source,
        },
    })?;
    let ws_manifest = meta.workspace_root.join("Cargo.toml").into_std_path_buf();
    let mut out = Selection {
        workspace_root: meta.workspace_root.clone().into_std_path_buf(),
        packages: Vec::new(),
        passed_over: Vec::new(),
    };
    if names.is_empty() {
        let members: Vec<&Package> = meta.workspace_default_packages();
        for p in members {
            match selected(&meta, p) {
                Ok(s) => out.packages.push(s),
                Err(GenError::NoLibrary { name, .. }) => {
                    out.passed_over.push((name, "no library target".into()))
                }
                Err(e) => return Err(e),
            }
        }
        if out.packages.is_empty() {
            let p = meta.workspace_default_packages().first().map(|p| {
                (
                    p.name.to_string(),
                    p.manifest_path.clone().into_std_path_buf(),
                )
            });
            let (name, manifest) = p.unwrap_or_else(|| ("(none)".into(), ws_manifest.clone()));
            return Err(GenError::NoLibrary { name, manifest });
        }
    } else {
        for spec in names {
            let (name, version) = match spec.split_once('@') {
                Some((n, v)) => (n, Some(v)),
                None => (spec.as_str(), None),
            };
            let mut matches: Vec<&Package> = meta
                .packages
                .iter()
                .filter(|p| {
                    p.name.as_str() == name
                        && version.is_none_or(|v| p.version.to_string().starts_with(v))
                })
                .collect();
            // Prefer a workspace member, then the newest version.
            matches.sort_by_key(|p| (meta.workspace_members.contains(&p.id), p.version.clone()));
            let Some(p) = matches.last() else {
                let mut versions: Vec<&cargo_metadata::semver::Version> = meta
                    .packages
                    .iter()
                    .filter(|p| p.name.as_str() == name)
                    .map(|p| &p.version)
                    .collect();
                versions.sort();
                versions.dedup();
                let closest = if versions.is_empty() {
                    crate::suggest::closest(name, meta.packages.iter().map(|p| p.name.as_str()), 3)
                } else {
                    Vec::new()
                };
                return Err(GenError::UnknownPackage {
                    name: spec.clone(),
                    manifest: ws_manifest,
                    versions: versions.iter().map(ToString::to_string).collect(),
                    closest: closest.into_iter().map(str::to_owned).collect(),
                });
            };
            out.packages.push(selected(&meta, p)?);
        }
    }
    Ok(out)
}

fn selected(meta: &Metadata, p: &Package) -> Result<Selected, GenError> {
    let lib = p
        .targets
        .iter()
        .find(|t| {
            t.kind.iter().any(|k| {
                matches!(
                    k.to_string().as_str(),
                    "lib" | "rlib" | "dylib" | "staticlib" | "cdylib"
                )
            })
        })
        .ok_or_else(|| GenError::NoLibrary {
            name: p.name.to_string(),
            manifest: p.manifest_path.clone().into_std_path_buf(),
        })?;
    let node = meta
        .resolve
        .as_ref()
        .and_then(|r| r.nodes.iter().find(|n| n.id == p.id));
    let features: Vec<String> = node
        .map(|n| n.features.iter().map(|f| f.to_string()).collect())
        .unwrap_or_default();
    let dep_pkg = |id: &PackageId| meta.packages.iter().find(|q| &q.id == id);
    let mut ffi_crates = BTreeSet::new();
    let mut enabled: Vec<(String, &Package)> = Vec::new();
    if let Some(n) = node {
        for d in &n.deps {
            let normal = d.dep_kinds.iter().any(|k| k.kind == DependencyKind::Normal);
            let Some(q) = dep_pkg(&d.pkg) else { continue };
            if !normal {
                continue;
            }
            if is_native(q) || binds_native(meta, q) {
                ffi_crates.insert(d.name.clone());
            }
            enabled.push((d.name.clone(), q));
        }
    }
    let mut formats = Vec::new();
    for dep in p
        .dependencies
        .iter()
        .filter(|d| d.kind == DependencyKind::Normal)
    {
        if !KNOWN_FORMATS.contains(&dep.name.as_str()) || dep.rename.is_some() {
            continue;
        }
        let Some((_, q)) = enabled.iter().find(|(_, q)| q.name.as_str() == dep.name) else {
            continue;
        };
        let mut features = dep.features.clone();
        // bincode 2 only speaks serde through its `serde` feature.
        if dep.name == "bincode" && q.version.major >= 2 && !features.iter().any(|f| f == "serde") {
            features.push("serde".into());
        }
        if formats.iter().any(|f: &FormatDep| f.package == dep.name) {
            continue;
        }
        formats.push(FormatDep {
            format: dep
                .name
                .replace("serde_", "")
                .replace("rmp-serde", "msgpack"),
            package: dep.name.clone(),
            version: q.version.to_string(),
            default_features: dep.uses_default_features,
            features,
            major: q.version.major,
        });
    }
    // `bincode` and friends keep their own name in targets.json; only drop the serde_ prefix.
    for f in &mut formats {
        if f.package == "bincode" || f.package == "ciborium" || f.package == "postcard" {
            f.format = f.package.clone();
        }
    }
    Ok(Selected {
        name: p.name.to_string(),
        version: p.version.to_string(),
        manifest: p.manifest_path.clone().into_std_path_buf(),
        root: lib.src_path.clone().into_std_path_buf(),
        code_name: lib.name.replace('-', "_"),
        features,
        formats,
        ffi_crates,
        edition_2015: p.edition.as_str() == "2015",
        from_registry: p
            .source
            .as_ref()
            .is_some_and(|s| s.repr.starts_with("registry+") || s.repr.starts_with("sparse+")),
    })
}

/// A crate whose functions are foreign: a `*-sys` crate, one with `links`, or `libc`.
fn is_native(q: &Package) -> bool {
    q.links.is_some()
        || q.name.ends_with("-sys")
        || q.name.ends_with("_sys")
        || q.name.as_str() == "libc"
}

/// A thin safe binding of a native crate with the same stem (`zstd-safe` over `zstd-sys`): its
/// functions are as good as foreign for the crate that calls them.
fn binds_native(meta: &Metadata, q: &Package) -> bool {
    let stem = |n: &str| {
        let n = n.replace('_', "-");
        ["-sys", "-safe", "-ffi"].iter().fold(n, |acc, suffix| {
            acc.strip_suffix(suffix).map(str::to_string).unwrap_or(acc)
        })
    };
    let Some(node) = meta
        .resolve
        .as_ref()
        .and_then(|r| r.nodes.iter().find(|n| n.id == q.id))
    else {
        return false;
    };
    node.deps.iter().any(|d| {
        meta.packages
            .iter()
            .find(|r| r.id == d.pkg)
            .is_some_and(|r| {
                is_native(r) && r.name.as_str() != "libc" && stem(&r.name) == stem(&q.name)
            })
    })
}

/// A serde format the crate under test depends on, and how to feed bytes through it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatDep {
    /// The format's name in `targets.json` (`toml`, `bincode`, ...).
    pub format: String,
    /// The package name (the dependency key).
    pub package: String,
    /// The resolved version (the fuzz project pins it exactly).
    pub version: String,
    /// Whether the crate under test uses the format's default features.
    pub default_features: bool,
    /// The features the crate under test enables on it.
    pub features: Vec<String>,
    /// The resolved major version (bincode 1 and 2 differ).
    pub major: u64,
}

/// The serde formats generated targets know how to drive (the package names).
pub const KNOWN_FORMATS: &[&str] = &[
    "toml",
    "serde_yaml",
    "bincode",
    "ciborium",
    "serde_cbor",
    "rmp-serde",
    "postcard",
    "ron",
    "serde_urlencoded",
];
