//! Unpacking a verified `.crate` (a gzip tar) without trusting it: every entry must lie under
//! `NAME-VERSION/`, no path may climb out (`..`, absolute), links may only point below their own
//! directory (hard links are copied, never linked), only files, directories and links are
//! accepted, the declared sizes and the entry count are bounded before anything is read, files
//! are created fresh (never through an existing path), and an archive that ends early or fails
//! its gzip check is refused.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Component, Path, PathBuf};

use flate2::read::GzDecoder;
use tar::EntryType;

/// The most bytes a package may unpack to (cargo's own default bound is the same).
pub const MAX_UNPACKED_BYTES: u64 = 512 * 1024 * 1024;
/// The most entries a package may have.
pub const MAX_ENTRIES: usize = 50_000;

/// Why a `.crate` was refused or could not be unpacked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UnpackError {
    /// The archive could not be read: cut short, corrupt, or not a gzip tar.
    #[error("the archive is truncated or corrupt")]
    ReadArchive {
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// A file's data ended before its declared size.
    #[error("the archive is truncated: `{entry}` declares {declared} bytes but has {found}")]
    Truncated {
        /// The entry's path.
        entry: String,
        /// Its declared size.
        declared: u64,
        /// The bytes actually there.
        found: u64,
    },
    /// An entry's path is absolute or climbs with `..`.
    #[error("entry `{entry}` has a path that escapes the package directory")]
    EntryEscapes {
        /// The entry's path.
        entry: String,
    },
    /// An entry lies outside `NAME-VERSION/`.
    #[error("entry `{entry}` is not inside `{expected}/`, where every file of a package must be")]
    OutsidePackageDir {
        /// The entry's path.
        entry: String,
        /// The package directory.
        expected: String,
    },
    /// A symbolic or hard link whose target could lead out of the package.
    #[error(
        "link `{entry}` -> `{target}` may point outside the package (only targets below the \
         link's own directory are accepted)"
    )]
    LinkEscapes {
        /// The link's path.
        entry: String,
        /// Its target.
        target: String,
    },
    /// A hard link to something that is not a file unpacked before it.
    #[error("hard link `{entry}` -> `{target}` does not point at a file of the package")]
    DanglingHardLink {
        /// The link's path.
        entry: String,
        /// Its target.
        target: String,
    },
    /// An entry type a package has no business shipping (device, FIFO, ...).
    #[error("entry `{entry}` is a {kind}, which a package may not contain")]
    UnsupportedEntry {
        /// The entry's path.
        entry: String,
        /// What it is.
        kind: String,
    },
    /// The declared sizes add up to more than [`MAX_UNPACKED_BYTES`].
    #[error(
        "the package declares at least {declared} bytes (at `{entry}`), more than the {limit} a \
         package may unpack to"
    )]
    TooLarge {
        /// The entry that crossed the limit.
        entry: String,
        /// The running total of declared sizes.
        declared: u64,
        /// The limit.
        limit: u64,
    },
    /// More than [`MAX_ENTRIES`] entries.
    #[error("the package has more than {limit} entries")]
    TooManyEntries {
        /// The limit.
        limit: usize,
    },
    /// The same path twice.
    #[error("entry `{entry}` appears twice")]
    Duplicate {
        /// The entry's path.
        entry: String,
    },
    /// No `Cargo.toml` at the package root.
    #[error("the package has no `{expected}/Cargo.toml`")]
    NoManifest {
        /// The package directory.
        expected: String,
    },
    /// Writing the unpacked tree failed.
    #[error("could not write {path}")]
    Write {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
}

/// Unpacks `archive` into `dest` (an empty directory), which then holds `package_dir`
/// (`NAME-VERSION`) and nothing else. On error `dest` may hold part of it: the caller removes it.
pub fn unpack(archive: &[u8], package_dir: &str, dest: &Path) -> Result<(), UnpackError> {
    let read = |source| UnpackError::ReadArchive { source };
    let mut tar = tar::Archive::new(GzDecoder::new(archive));
    let mut total = 0u64;
    let mut count = 0usize;
    for entry in tar.entries().map_err(read)? {
        let mut entry = entry.map_err(read)?;
        count += 1;
        if count > MAX_ENTRIES {
            return Err(UnpackError::TooManyEntries { limit: MAX_ENTRIES });
        }
        let raw = entry.path().map_err(read)?.into_owned();
        let shown = raw.display().to_string();
        let kind = entry.header().entry_type();
        if matches!(kind, EntryType::XGlobalHeader | EntryType::XHeader) {
            continue;
        }
        let rel = inside(&raw, package_dir)?;
        let path = dest.join(&rel);
        match kind {
            EntryType::Regular | EntryType::Continuous => {
                let size = entry.size();
                total = total.saturating_add(size);
                if total > MAX_UNPACKED_BYTES {
                    return Err(UnpackError::TooLarge {
                        entry: shown,
                        declared: total,
                        limit: MAX_UNPACKED_BYTES,
                    });
                }
                let mode = entry.header().mode().unwrap_or(0o644) & 0o755 | 0o600;
                let mut file = create_new(&path, mode, &shown)?;
                let found = io::copy(&mut (&mut entry).take(size), &mut file).map_err(read)?;
                if found != size {
                    return Err(UnpackError::Truncated {
                        entry: shown,
                        declared: size,
                        found,
                    });
                }
            }
            EntryType::Directory => {
                fs::create_dir_all(&path).map_err(|source| UnpackError::Write { path, source })?;
            }
            EntryType::Symlink => {
                let target = entry
                    .link_name()
                    .map_err(read)?
                    .unwrap_or_default()
                    .into_owned();
                if !stays_below(&target) {
                    return Err(UnpackError::LinkEscapes {
                        entry: shown,
                        target: target.display().to_string(),
                    });
                }
                make_parent(&path)?;
                std::os::unix::fs::symlink(&target, &path).map_err(|source| {
                    if source.kind() == io::ErrorKind::AlreadyExists {
                        UnpackError::Duplicate {
                            entry: shown.clone(),
                        }
                    } else {
                        UnpackError::Write {
                            path: path.clone(),
                            source,
                        }
                    }
                })?;
            }
            EntryType::Link => {
                let target = entry
                    .link_name()
                    .map_err(read)?
                    .unwrap_or_default()
                    .into_owned();
                let shown_target = target.display().to_string();
                let target_rel =
                    inside(&target, package_dir).map_err(|_| UnpackError::LinkEscapes {
                        entry: shown.clone(),
                        target: shown_target.clone(),
                    })?;
                let source_path = dest.join(target_rel);
                let meta = fs::symlink_metadata(&source_path);
                if !meta.as_ref().is_ok_and(fs::Metadata::is_file) {
                    return Err(UnpackError::DanglingHardLink {
                        entry: shown,
                        target: shown_target,
                    });
                }
                let len = meta.map(|m| m.len()).unwrap_or(0);
                total = total.saturating_add(len);
                if total > MAX_UNPACKED_BYTES {
                    return Err(UnpackError::TooLarge {
                        entry: shown,
                        declared: total,
                        limit: MAX_UNPACKED_BYTES,
                    });
                }
                let mut from = File::open(&source_path).map_err(|source| UnpackError::Write {
                    path: source_path.clone(),
                    source,
                })?;
                let mut to = create_new(&path, 0o644, &shown)?;
                io::copy(&mut from, &mut to)
                    .map_err(|source| UnpackError::Write { path, source })?;
            }
            other => {
                return Err(UnpackError::UnsupportedEntry {
                    entry: shown,
                    kind: format!("{other:?}"),
                });
            }
        }
    }
    // Read what is left so gzip checks its length and CRC: an archive cut at an entry boundary
    // is otherwise indistinguishable from a short one.
    io::copy(&mut tar.into_inner(), &mut io::sink()).map_err(read)?;
    if !dest.join(package_dir).join("Cargo.toml").is_file() {
        return Err(UnpackError::NoManifest {
            expected: package_dir.to_owned(),
        });
    }
    Ok(())
}

/// `path` relative to the archive root, checked to be under `package_dir/` with no `..` or
/// root component.
fn inside(path: &Path, package_dir: &str) -> Result<PathBuf, UnpackError> {
    let shown = || path.display().to_string();
    let mut rel = PathBuf::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => rel.push(part),
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => {
                return Err(UnpackError::EntryEscapes { entry: shown() });
            }
        }
    }
    match rel.components().next() {
        Some(Component::Normal(first)) if first == package_dir => Ok(rel),
        _ => Err(UnpackError::OutsidePackageDir {
            entry: shown(),
            expected: package_dir.to_owned(),
        }),
    }
}

/// A symlink target that cannot leave the link's directory: relative, no `..`. By induction
/// every link then resolves inside the package.
fn stays_below(target: &Path) -> bool {
    !target.as_os_str().is_empty()
        && target
            .components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
}

fn make_parent(path: &Path) -> Result<(), UnpackError> {
    match path.parent() {
        Some(parent) => fs::create_dir_all(parent).map_err(|source| UnpackError::Write {
            path: parent.to_owned(),
            source,
        }),
        None => Ok(()),
    }
}

/// Creates a file that did not exist (`O_EXCL`, so never through an existing link).
fn create_new(path: &Path, mode: u32, shown: &str) -> Result<File, UnpackError> {
    make_parent(path)?;
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(|source| {
            if source.kind() == io::ErrorKind::AlreadyExists {
                UnpackError::Duplicate {
                    entry: shown.to_owned(),
                }
            } else {
                UnpackError::Write {
                    path: path.to_owned(),
                    source,
                }
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::write::GzEncoder;
    use std::io::Write;

    fn header(path: &str, kind: EntryType, size: u64) -> tar::Header {
        let mut h = tar::Header::new_gnu();
        // set_path refuses `..`; write the raw name the way a hostile archive would.
        let name = &mut h.as_old_mut().name;
        name[..path.len()].copy_from_slice(path.as_bytes());
        h.set_entry_type(kind);
        h.set_size(size);
        h.set_mode(0o644);
        h.set_cksum();
        h
    }

    /// Path, type, data, link target.
    type Spec<'a> = (&'a str, EntryType, &'a [u8], Option<&'a str>);

    fn archive(entries: &[Spec<'_>]) -> Vec<u8> {
        let mut b = tar::Builder::new(GzEncoder::new(Vec::new(), flate2::Compression::fast()));
        for (path, kind, data, link) in entries {
            let mut h = header(path, *kind, data.len() as u64);
            if let Some(link) = link {
                h.set_link_name(link).unwrap();
                h.set_cksum();
            }
            b.append(&h, *data).unwrap();
        }
        b.into_inner().unwrap().finish().unwrap()
    }

    const OK: Spec<'static> = (
        "foo-1.0.0/Cargo.toml",
        EntryType::Regular,
        b"[package]\n",
        None,
    );

    #[test]
    fn a_plain_package_unpacks() {
        let dir = tempfile::tempdir().unwrap();
        let a = archive(&[
            OK,
            (
                "foo-1.0.0/src/lib.rs",
                EntryType::Regular,
                b"pub fn f() {}\n",
                None,
            ),
            (
                "foo-1.0.0/src/alias.rs",
                EntryType::Symlink,
                b"",
                Some("lib.rs"),
            ),
            (
                "foo-1.0.0/copy.rs",
                EntryType::Link,
                b"",
                Some("foo-1.0.0/src/lib.rs"),
            ),
        ]);
        unpack(&a, "foo-1.0.0", dir.path()).unwrap();
        let root = dir.path().join("foo-1.0.0");
        assert_eq!(
            fs::read_to_string(root.join("src/alias.rs")).unwrap(),
            "pub fn f() {}\n"
        );
        assert!(fs::symlink_metadata(root.join("copy.rs"))
            .unwrap()
            .is_file());
    }

    #[test]
    fn escaping_paths_and_links_are_refused() {
        let cases: [&[Spec<'_>]; 6] = [
            &[OK, ("foo-1.0.0/../evil", EntryType::Regular, b"x", None)],
            &[OK, ("/etc/evil", EntryType::Regular, b"x", None)],
            &[OK, ("bar-1.0.0/x", EntryType::Regular, b"x", None)],
            &[
                OK,
                ("foo-1.0.0/l", EntryType::Symlink, b"", Some("/etc/passwd")),
            ],
            &[
                OK,
                ("foo-1.0.0/a/l", EntryType::Symlink, b"", Some("../../x")),
            ],
            &[
                OK,
                ("foo-1.0.0/h", EntryType::Link, b"", Some("/etc/passwd")),
            ],
        ];
        for case in cases {
            let dir = tempfile::tempdir().unwrap();
            let err = unpack(&archive(case), "foo-1.0.0", dir.path()).unwrap_err();
            assert!(
                matches!(
                    err,
                    UnpackError::EntryEscapes { .. }
                        | UnpackError::OutsidePackageDir { .. }
                        | UnpackError::LinkEscapes { .. }
                ),
                "{err}"
            );
            assert!(!dir.path().parent().unwrap().join("evil").exists());
        }
    }

    #[test]
    fn declared_size_is_bounded_before_reading() {
        // Raw blocks, no end-of-archive marker: a hostile archive need not carry the gigabyte
        // it declares.
        let mut raw = GzEncoder::new(Vec::new(), flate2::Compression::fast());
        raw.write_all(header(OK.0, EntryType::Regular, 10).as_bytes())
            .unwrap();
        let mut block = [0u8; 512];
        block[..10].copy_from_slice(b"[package]\n");
        raw.write_all(&block).unwrap();
        raw.write_all(header("foo-1.0.0/big.bin", EntryType::Regular, 1 << 30).as_bytes())
            .unwrap();
        raw.write_all(&[b'x'; 4096]).unwrap();
        let a = raw.finish().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let err = unpack(&a, "foo-1.0.0", dir.path()).unwrap_err();
        assert!(
            matches!(err, UnpackError::TooLarge { declared, .. } if declared > MAX_UNPACKED_BYTES),
            "{err}"
        );
    }

    #[test]
    fn truncated_archives_and_odd_entries_are_refused() {
        let full = archive(&[
            OK,
            (
                "foo-1.0.0/src/lib.rs",
                EntryType::Regular,
                &[b'x'; 4000],
                None,
            ),
        ]);
        for cut in [full.len() / 2, full.len() - 4] {
            let dir = tempfile::tempdir().unwrap();
            let err = unpack(&full[..cut], "foo-1.0.0", dir.path()).unwrap_err();
            assert!(
                matches!(
                    err,
                    UnpackError::ReadArchive { .. } | UnpackError::Truncated { .. }
                ),
                "{cut}: {err}"
            );
        }
        let dir = tempfile::tempdir().unwrap();
        let fifo = archive(&[OK, ("foo-1.0.0/p", EntryType::Fifo, b"", None)]);
        assert!(matches!(
            unpack(&fifo, "foo-1.0.0", dir.path()),
            Err(UnpackError::UnsupportedEntry { .. })
        ));
        let dir = tempfile::tempdir().unwrap();
        let twice = archive(&[OK, OK]);
        assert!(matches!(
            unpack(&twice, "foo-1.0.0", dir.path()),
            Err(UnpackError::Duplicate { .. })
        ));
        let dir = tempfile::tempdir().unwrap();
        let none = archive(&[("foo-1.0.0/src/lib.rs", EntryType::Regular, b"", None)]);
        assert!(matches!(
            unpack(&none, "foo-1.0.0", dir.path()),
            Err(UnpackError::NoManifest { .. })
        ));
    }
}
