//! `Cargo.lock` as `vet --manifest-path --since` reads it: the packages (name, version, source,
//! checksum) of the current lockfile and of an older one, and which of the current ones are new
//! or changed since. The older lockfile is a file, or `git show REV:Cargo.lock` of the
//! workspace's repository.
//!
//! Parsed with `toml` + serde rather than the `cargo-lock` crate: four fields of one table are
//! all that is read, `toml` is already a dependency, and `cargo-lock` would add a parser, a
//! `url` stack and its own semver pin for nothing more.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize;

/// One `[[package]]` of a lockfile.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
pub(crate) struct LockedPackage {
    /// The package name.
    pub name: String,
    /// Its version.
    pub version: String,
    /// Cargo's source id (`registry+URL`, `sparse+URL`, `git+URL#REV`); None for path packages.
    #[serde(default)]
    pub source: Option<String>,
    /// The `.crate`'s sha256 (registry packages).
    #[serde(default)]
    pub checksum: Option<String>,
}

/// A parsed lockfile.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Lockfile {
    /// Every package, in file order.
    pub packages: Vec<LockedPackage>,
}

#[derive(Deserialize)]
struct RawLock {
    #[serde(default)]
    package: Vec<LockedPackage>,
    /// Version 1 lockfiles keep checksums here: `"checksum NAME VERSION (SOURCE)" = "HEX"`.
    #[serde(default)]
    metadata: BTreeMap<String, String>,
}

/// Why a lockfile could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LockfileError {
    /// Reading the file failed.
    #[error("cannot read the lockfile {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The text is not a `Cargo.lock`.
    #[error("{what} is not a Cargo.lock")]
    Parse {
        /// The file, or `REV:Cargo.lock`.
        what: String,
        /// Where and why it does not parse.
        #[source]
        source: toml::de::Error,
    },
    /// `--since` is neither a file nor a git revision with a `Cargo.lock`.
    #[error(
        "--since `{since}`: no such file, and `git show {since}:Cargo.lock` in {} found no \
         lockfile ({message})",
        dir.display()
    )]
    Revision {
        /// The `--since` argument.
        since: String,
        /// The workspace directory git ran in.
        dir: PathBuf,
        /// What git said (its own words, not an error value).
        message: String,
    },
    /// git could not be started.
    #[error("--since `{since}` is not a file, and git could not be run to read it as a revision")]
    Git {
        /// The `--since` argument.
        since: String,
        /// Why git did not start.
        #[source]
        source: std::io::Error,
    },
}

impl Lockfile {
    /// Parses lockfile text; `what` names it in errors.
    pub(crate) fn parse(text: &str, what: &str) -> Result<Self, LockfileError> {
        let raw: RawLock = toml::from_str(text).map_err(|source| LockfileError::Parse {
            what: what.to_owned(),
            source,
        })?;
        let mut packages = raw.package;
        for p in packages.iter_mut().filter(|p| p.checksum.is_none()) {
            if let Some(source) = &p.source {
                let key = format!("checksum {} {} ({source})", p.name, p.version);
                p.checksum = raw.metadata.get(&key).cloned();
            }
        }
        Ok(Self { packages })
    }

    /// Reads a lockfile from disk.
    pub(crate) fn read(path: &Path) -> Result<Self, LockfileError> {
        let text = std::fs::read_to_string(path).map_err(|source| LockfileError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    /// `--since`: the file `since` (relative to `cwd`) when it exists, else `git show
    /// since:./Cargo.lock` run in the workspace directory `workspace`.
    pub(crate) fn since(since: &str, cwd: &Path, workspace: &Path) -> Result<Self, LockfileError> {
        let file = cwd.join(since);
        if file.is_file() {
            return Self::read(&file);
        }
        let out = Command::new("git")
            .arg("show")
            .arg(format!("{since}:./Cargo.lock"))
            .current_dir(workspace)
            .output()
            .map_err(|source| LockfileError::Git {
                since: since.to_owned(),
                source,
            })?;
        if !out.status.success() {
            let said = String::from_utf8_lossy(&out.stderr);
            return Err(LockfileError::Revision {
                since: since.to_owned(),
                dir: workspace.to_owned(),
                message: said
                    .lines()
                    .next()
                    .unwrap_or("git failed")
                    .trim()
                    .to_owned(),
            });
        }
        Self::parse(
            &String::from_utf8_lossy(&out.stdout),
            &format!("{since}:Cargo.lock"),
        )
    }

    /// The locked package with this name, version and source.
    pub(crate) fn find(&self, name: &str, version: &str, source: &str) -> Option<&LockedPackage> {
        self.packages
            .iter()
            .find(|p| p.name == name && p.version == version && p.source.as_deref() == Some(source))
    }
}

/// How a package of the current lockfile compares with the older one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Change {
    /// No package of this name was locked before.
    Added,
    /// The name was locked before, with another version, source or checksum.
    Changed,
    /// Locked before exactly so (name, version, source and checksum).
    Unchanged,
}

/// Compares `package` of the current lockfile with the `older` one.
pub(crate) fn change(older: &Lockfile, package: &LockedPackage) -> Change {
    if older.packages.iter().any(|p| p == package) {
        Change::Unchanged
    } else if older.packages.iter().any(|p| p.name == package.name) {
        Change::Changed
    } else {
        Change::Added
    }
}

/// The names of every package of `lock` (for the typo-neighbour comparison).
pub(crate) fn names(lock: &Lockfile) -> Vec<String> {
    let mut seen = HashSet::new();
    lock.packages
        .iter()
        .filter(|p| seen.insert(p.name.as_str()))
        .map(|p| p.name.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const REG: &str = "registry+https://github.com/rust-lang/crates.io-index";

    fn lock(entries: &[(&str, &str, Option<&str>)]) -> String {
        let mut text = String::from("version = 4\n");
        for (name, version, checksum) in entries {
            text.push_str(&format!(
                "\n[[package]]\nname = \"{name}\"\nversion = \"{version}\"\n"
            ));
            if let Some(c) = checksum {
                text.push_str(&format!("source = \"{REG}\"\nchecksum = \"{c}\"\n"));
            }
        }
        text
    }

    #[test]
    fn packages_are_added_changed_or_unchanged_by_version_source_and_checksum() {
        let old = Lockfile::parse(
            &lock(&[
                ("me", "0.1.0", None),
                ("itoa", "1.0.0", Some("aa")),
                ("semver", "1.0.0", Some("bb")),
                ("log", "0.4.0", Some("cc")),
            ]),
            "old",
        )
        .unwrap();
        let new = Lockfile::parse(
            &lock(&[
                ("me", "0.1.0", None),
                ("itoa", "1.0.0", Some("aa")),
                ("semver", "1.0.1", Some("bd")),
                ("log", "0.4.0", Some("XX")),
                ("anyhow", "1.0.0", Some("dd")),
            ]),
            "new",
        )
        .unwrap();
        let got: Vec<(&str, Change)> = new
            .packages
            .iter()
            .map(|p| (p.name.as_str(), change(&old, p)))
            .collect();
        assert_eq!(
            got,
            [
                ("me", Change::Unchanged),
                ("itoa", Change::Unchanged),
                ("semver", Change::Changed),
                ("log", Change::Changed),
                ("anyhow", Change::Added),
            ]
        );
        assert_eq!(names(&new).len(), 5);
        assert!(new.find("itoa", "1.0.0", REG).is_some());
        assert!(new.find("itoa", "1.0.0", "sparse+x").is_none());
    }

    #[test]
    fn version_1_checksums_come_from_the_metadata_table() {
        let text = format!(
            "[[package]]\nname = \"itoa\"\nversion = \"1.0.0\"\nsource = \"{REG}\"\n\n\
             [metadata]\n\"checksum itoa 1.0.0 ({REG})\" = \"abc\"\n"
        );
        let l = Lockfile::parse(&text, "v1").unwrap();
        assert_eq!(l.packages[0].checksum.as_deref(), Some("abc"));
    }

    #[test]
    fn a_file_that_is_not_a_lockfile_says_so_once() {
        let err = Lockfile::parse("[[package]\n", "x.lock").unwrap_err();
        let shown = err.to_string();
        assert_eq!(shown, "x.lock is not a Cargo.lock");
        let tmp = tempfile::tempdir().unwrap();
        let err = Lockfile::since("nope-rev", tmp.path(), tmp.path()).unwrap_err();
        assert!(err.to_string().contains("`nope-rev`"), "{err}");
    }
}
