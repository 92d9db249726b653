//! The project on disk: `Cargo.toml` (written with the `toml` crate), `.gitignore`, one
//! `fuzz_targets/<name>.rs` per target, `dicts/<name>.dict`, `corpus/<name>/` seeds, and the
//! removal of targets a previous run wrote that this one does not.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::target::Emitted;
use crate::error::GenError;
use crate::targets::TargetKind;
use crate::workspace::FormatDep;

/// A package whose items are fuzzed: how the fuzz project depends on it.
#[derive(Debug, Clone)]
pub(crate) struct CrateDep {
    /// The package name.
    pub package: String,
    /// The package directory.
    pub dir: PathBuf,
    /// Features enabled in the analysed build (passed on with default features off).
    pub features: Vec<String>,
    /// For a crates.io package, its exact version: the fuzz project then depends on it by
    /// version, so that it is the same crate the serde formats depend on (a path dependency on
    /// registry sources would be a second, distinct copy).
    pub registry_version: Option<String>,
}

/// Quotes one libFuzzer dictionary entry.
fn dict_entry(s: &[u8]) -> String {
    let mut out = String::from("\"");
    for &b in s {
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02X}")),
        }
    }
    out.push('"');
    out
}

/// Writes the whole project into `out`. Previously generated targets and dictionaries are
/// replaced; corpus directories (which may hold a campaign's findings) are only added to.
pub(crate) fn write_project(
    out: &Path,
    crates: &[CrateDep],
    formats: &[FormatDep],
    targets: &[Emitted],
) -> Result<(), GenError> {
    let mkdir = |p: &Path| -> Result<(), GenError> {
        std::fs::create_dir_all(p).map_err(|source| GenError::Write {
            path: p.to_path_buf(),
            source,
        })
    };
    mkdir(out)?;
    // Every file of the project, written at the end in one go.
    let mut files: Vec<(PathBuf, Vec<u8>)> = Vec::new();
    let out_abs = std::path::absolute(out).unwrap_or_else(|_| out.to_path_buf());
    let toml = manifest(&out_abs, crates, formats, targets);
    files.push((out.join("Cargo.toml"), toml.into_bytes()));
    files.push((
        out.join(".gitignore"),
        b"target\ncorpus\nartifacts\ncoverage\n".to_vec(),
    ));
    let mut dirs = vec![out.join("fuzz_targets"), out.join("dicts")];
    for t in targets {
        let Some(src) = &t.source else { continue };
        let n = &t.record.name;
        files.push((
            out.join("fuzz_targets").join(format!("{n}.rs")),
            src.clone().into_bytes(),
        ));
        if !t.dict.is_empty() {
            let what = match t.record.kind {
                TargetKind::Deserialize => "names from the type's serde shape",
                _ => "tokens from the crate's lexer and literals",
            };
            let mut d = format!("# libFuzzer dictionary for `{n}`: {what}.\n");
            for (i, e) in t.dict.iter().enumerate() {
                let _ = writeln!(d, "kw{}={}", i + 1, dict_entry(e));
            }
            files.push((out.join("dicts").join(format!("{n}.dict")), d.into_bytes()));
        }
        if !t.seeds.is_empty() {
            let dir = out.join("corpus").join(n);
            // Deserialize seeds are JSON; format and parse seeds are the format's own bytes.
            let ext = if t.record.kind == TargetKind::Deserialize {
                ".json"
            } else {
                ""
            };
            for (i, s) in t.seeds.iter().enumerate() {
                files.push((dir.join(format!("seed-{}{ext}", i + 1)), s.clone()));
            }
            dirs.push(dir);
        }
    }
    for d in &dirs {
        mkdir(d)?;
    }
    remove_stale(out, &files)?;
    write_all(files)
}

/// How the fuzz project depends on one package: a bare version requirement, or a table.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(untagged)]
pub(crate) enum Dependency {
    /// `name = "1"`.
    Version(String),
    /// `name = { path = "..", version = "=1.2.3", default-features = false, features = [..] }`.
    Detailed {
        /// A path dependency's directory.
        #[serde(skip_serializing_if = "Option::is_none")]
        path: Option<String>,
        /// The version requirement.
        #[serde(skip_serializing_if = "Option::is_none")]
        version: Option<String>,
        /// Whether the package's default features are on.
        #[serde(rename = "default-features", skip_serializing_if = "Option::is_none")]
        default_features: Option<bool>,
        /// Features to enable.
        #[serde(skip_serializing_if = "Option::is_none")]
        features: Option<Vec<String>>,
    },
}

/// `[package]` with its `[package.metadata]`.
#[derive(serde::Serialize)]
struct PackageSection {
    package: Package,
}

#[derive(serde::Serialize)]
struct Package {
    name: String,
    version: &'static str,
    publish: bool,
    edition: &'static str,
    metadata: Metadata,
}

#[derive(serde::Serialize)]
struct Metadata {
    #[serde(rename = "cargo-fuzz")]
    cargo_fuzz: bool,
}

/// `[workspace]` and `[profile.release]`.
#[derive(serde::Serialize)]
struct WorkspaceSection {
    workspace: Workspace,
    profile: Profiles,
}

#[derive(serde::Serialize)]
struct Workspace {
    members: [&'static str; 1],
}

#[derive(serde::Serialize)]
struct Profiles {
    release: Release,
}

#[derive(serde::Serialize)]
struct Release {
    debug: u8,
}

/// The `[[bin]]` tables.
#[derive(serde::Serialize)]
struct Bins {
    bin: Vec<Bin>,
}

#[derive(serde::Serialize)]
struct Bin {
    name: String,
    path: String,
    test: bool,
    doc: bool,
    bench: bool,
}

/// Renders one value as TOML (strings quoted and escaped as TOML does, tables inline).
fn toml_value<T: serde::Serialize>(value: &T) -> String {
    let mut out = String::new();
    value
        .serialize(toml::ser::ValueSerializer::new(&mut out))
        .expect("dependency specs are strings, booleans and arrays of strings");
    out
}

/// A TOML key: bare when it can be, else a quoted string.
fn toml_key(key: &str) -> String {
    if !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        key.to_owned()
    } else {
        toml_value(&key)
    }
}

/// Renders a document section; every section here is plain strings, booleans and numbers.
fn toml_document<T: serde::Serialize>(value: &T) -> String {
    toml::to_string(value).expect("manifest sections are plain strings, booleans and numbers")
}

/// The project's `Cargo.toml`: its own package and workspace, a dependency on each crate under
/// test with its resolved features, `libfuzzer-sys`, `arbitrary`, `serde_json`, the serde formats
/// the crates use, and one `[[bin]]` per generated target. Values are written by the `toml`
/// crate; only the comments are fixed text.
fn manifest(
    out_abs: &Path,
    crates: &[CrateDep],
    formats: &[FormatDep],
    targets: &[Emitted],
) -> String {
    let names: Vec<&str> = crates.iter().map(|c| c.package.as_str()).collect();
    let mut toml = String::new();
    let _ = writeln!(
        toml,
        "# Fuzz targets for {} generated by `cargo airlock gen`.",
        names.join(", ")
    );
    toml.push_str("# A plain cargo-fuzz project: `cargo fuzz run <target>` works, and so does `cargo airlock fuzz`.\n");
    toml.push_str("# Regenerate rather than edit; targets.json lists every target and every item without one.\n\n");
    toml.push_str(&toml_document(&PackageSection {
        package: Package {
            name: format!("{}-airlock-fuzz", names.first().copied().unwrap_or("crate")),
            version: "0.0.0",
            publish: false,
            edition: "2021",
            metadata: Metadata { cargo_fuzz: true },
        },
    }));
    toml.push_str("\n[dependencies]\n");
    let mut deps: BTreeMap<String, Dependency> = BTreeMap::new();
    for c in crates {
        let (path, version) = match &c.registry_version {
            Some(v) => (None, Some(format!("={v}"))),
            None => (Some(relative(out_abs, &c.dir).display().to_string()), None),
        };
        deps.insert(
            c.package.clone(),
            Dependency::Detailed {
                path,
                version,
                default_features: Some(false),
                features: Some(c.features.clone()),
            },
        );
    }
    let version = |v: &str| Dependency::Version(v.to_owned());
    let mut fixed = vec![
        ("libfuzzer-sys", version("0.4")),
        (
            "arbitrary",
            Dependency::Detailed {
                path: None,
                version: Some("1".into()),
                default_features: None,
                features: Some(vec!["derive".into()]),
            },
        ),
        ("serde_json", version("1")),
    ];
    // Deserializer constructors are driven through the `serde::Deserialize` trait; shaped
    // targets implement `serde::Serialize` for the values they build.
    if targets
        .iter()
        .any(|t| matches!(t.record.kind, TargetKind::Format | TargetKind::Shaped))
    {
        fixed.push(("serde", version("1")));
    }
    for (k, v) in fixed {
        deps.entry(k.into()).or_insert(v);
    }
    for f in formats {
        deps.entry(f.package.clone())
            .or_insert_with(|| Dependency::Detailed {
                path: None,
                version: Some(format!("={}", f.version)),
                default_features: Some(f.default_features),
                features: Some(f.features.clone()),
            });
    }
    for (k, v) in &deps {
        let _ = writeln!(toml, "{} = {}", toml_key(k), toml_value(v));
    }
    toml.push_str(
        "\n# Its own workspace: building the fuzz targets never involves the crate's workspace.\n",
    );
    toml.push_str(&toml_document(&WorkspaceSection {
        workspace: Workspace { members: ["."] },
        profile: Profiles {
            release: Release { debug: 1 },
        },
    }));
    let bins: Vec<Bin> = targets
        .iter()
        .filter(|t| t.source.is_some())
        .map(|t| Bin {
            name: t.record.name.clone(),
            path: format!("fuzz_targets/{}.rs", t.record.name),
            test: false,
            doc: false,
            bench: false,
        })
        .collect();
    if !bins.is_empty() {
        toml.push('\n');
        toml.push_str(&toml_document(&Bins { bin: bins }));
    }
    toml
}

/// Removes targets and dictionaries of a previous run that this run does not write. Corpus
/// directories are left alone: they may hold a campaign's inputs.
fn remove_stale(out: &Path, files: &[(PathBuf, Vec<u8>)]) -> Result<(), GenError> {
    let keep: std::collections::HashSet<&Path> = files.iter().map(|(p, _)| p.as_path()).collect();
    for sub in ["fuzz_targets", "dicts"] {
        let dir = out.join(sub);
        let entries = std::fs::read_dir(&dir).map_err(|source| GenError::Write {
            path: dir.clone(),
            source,
        })?;
        for e in entries.flatten() {
            let p = e.path();
            if p.extension().is_some_and(|x| x == "rs" || x == "dict")
                && !keep.contains(p.as_path())
            {
                std::fs::remove_file(&p).map_err(|source| GenError::Write {
                    path: p.clone(),
                    source,
                })?;
            }
        }
    }
    Ok(())
}

/// Writes files whose content changed, on two threads: creating thousands of small files is the
/// slowest part of emission on most filesystems.
fn write_all(files: Vec<(PathBuf, Vec<u8>)>) -> Result<(), GenError> {
    let write = |chunk: &[(PathBuf, Vec<u8>)]| -> Result<(), GenError> {
        for (p, text) in chunk {
            if std::fs::read(p).is_ok_and(|old| &old == text) {
                continue;
            }
            std::fs::write(p, text).map_err(|source| GenError::Write {
                path: p.clone(),
                source,
            })?;
        }
        Ok(())
    };
    let (a, b) = files.split_at(files.len() / 2);
    std::thread::scope(|scope| {
        let other = scope.spawn(|| write(b));
        let mine = write(a);
        let theirs = other.join().unwrap_or_else(|_| {
            Err(GenError::Write {
                path: PathBuf::new(),
                source: std::io::Error::other("writer thread panicked"),
            })
        });
        mine.and(theirs)
    })
}

/// `to` relative to `from` when they share a prefix (so the project can move with the crate),
/// else `to` itself.
fn relative(from: &Path, to: &Path) -> PathBuf {
    let to = std::path::absolute(to).unwrap_or_else(|_| to.to_path_buf());
    let a: Vec<_> = from.components().collect();
    let b: Vec<_> = to.components().collect();
    let common = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    if common <= 1 {
        return to;
    }
    let mut p = PathBuf::new();
    for _ in common..a.len() {
        p.push("..");
    }
    for c in &b[common..] {
        p.push(c);
    }
    if p.as_os_str().is_empty() {
        p.push(".");
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dict_quoting() {
        assert_eq!(dict_entry(b"\"a\\b\n"), r#""\"a\\b\x0A""#);
    }

    /// Paths and features are TOML strings, escaped as TOML escapes them (not as Rust does).
    #[test]
    fn cargo_toml_escapes_as_toml_does() {
        let dir = "/w/we\"ird\\dir \u{e9}\u{1F980}";
        let crates = [CrateDep {
            package: "we-ird".into(),
            dir: PathBuf::from(dir),
            features: vec!["a\"b".into(), "c\\d".into()],
            registry_version: None,
        }];
        let formats = [FormatDep {
            format: "toml".into(),
            package: "toml".into(),
            version: "0.9.1".into(),
            default_features: false,
            features: vec!["parse".into()],
            major: 0,
        }];
        let text = manifest(Path::new("/w/out"), &crates, &formats, &[]);
        let doc: toml::Table = toml::from_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        let dep = &doc["dependencies"]["we-ird"];
        assert_eq!(
            dep["path"].as_str(),
            Some("../we\"ird\\dir \u{e9}\u{1F980}"),
            "{text}"
        );
        assert_eq!(dep["default-features"].as_bool(), Some(false));
        let features: Vec<&str> = dep["features"]
            .as_array()
            .expect("features")
            .iter()
            .filter_map(|f| f.as_str())
            .collect();
        assert_eq!(features, ["a\"b", "c\\d"]);
        assert_eq!(
            doc["dependencies"]["toml"]["version"].as_str(),
            Some("=0.9.1")
        );
        assert_eq!(doc["dependencies"]["libfuzzer-sys"].as_str(), Some("0.4"));
        assert_eq!(
            doc["package"]["metadata"]["cargo-fuzz"].as_bool(),
            Some(true)
        );
        assert_eq!(doc["workspace"]["members"][0].as_str(), Some("."));
        assert!(doc.get("bin").is_none());
        assert_eq!(toml_key("a b"), "\"a b\"");
    }

    #[test]
    fn relative_paths() {
        assert_eq!(
            relative(Path::new("/w/crate/fuzz"), Path::new("/w/crate")),
            PathBuf::from("..")
        );
        assert_eq!(
            relative(Path::new("/w/out"), Path::new("/w/crate")),
            PathBuf::from("../crate")
        );
    }
}
