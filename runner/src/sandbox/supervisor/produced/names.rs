//! What names and bytes say, for `produced.rs`: which programs are compilers and where their
//! `-o` points, which interpreter a `#!` script names, and the crate's source files by name
//! and size (to recognize a script copied from them).

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

/// The compilers and linkers whose `-o` output may be executed (names without a target triple
/// or version suffix).
const COMPILERS: &[&str] = &[
    "cc", "c++", "gcc", "g++", "clang", "clang++", "ld", "ld.bfd", "ld.gold", "ld.lld", "lld",
    "ld.mold", "mold", "collect2", "rustc",
];

/// Source files of the crate, by file name and size, for recognizing copied scripts.
pub(super) type SourceIndex = HashMap<(OsString, u64), Vec<PathBuf>>;

/// At most this many files of the crate's sources are indexed.
const MAX_SOURCES: usize = 50_000;

/// A `#!` script at most this big may be recognized as a copy of a source file.
pub(super) const MAX_SCRIPT: i64 = 1 << 20;

/// Indexes the regular files beneath `dirs` (not following symlinks; skipping `target` and
/// `.git` directories), by file name and size.
pub(super) fn index_sources(dirs: &[PathBuf]) -> SourceIndex {
    let mut index = SourceIndex::new();
    let mut stack: Vec<PathBuf> = dirs.to_vec();
    let mut seen = 0;
    while let Some(dir) = stack.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            seen += 1;
            if seen > MAX_SOURCES {
                return index;
            }
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            let name = entry.file_name();
            if kind.is_dir() && name != "target" && name != ".git" {
                stack.push(entry.path());
            } else if kind.is_file() {
                if let Ok(meta) = entry.metadata() {
                    index
                        .entry((name, meta.len()))
                        .or_default()
                        .push(entry.path());
                }
            }
        }
    }
    index
}

/// The interpreter a `#!` script names (its first word), if `content` is one.
pub(super) fn interpreter(content: &[u8]) -> Option<&OsStr> {
    let line = content.strip_prefix(b"#!")?;
    let line = &line[..line.iter().position(|&b| b == b'\n').unwrap_or(line.len())];
    let word = line
        .split(|b| b.is_ascii_whitespace())
        .find(|w| !w.is_empty())?;
    Some(OsStr::from_bytes(word))
}

/// Whether `name` (a file name) is a compiler or linker: one of [`COMPILERS`], perhaps with a
/// target triple before it (`x86_64-linux-gnu-gcc`) and a version after it (`gcc-12`,
/// `clang-17`).
pub(in crate::sandbox::supervisor) fn is_compiler(name: &str) -> bool {
    let mut name = name;
    // A trailing `-N` or `-N.M` version.
    if let Some((stem, version)) = name.rsplit_once('-') {
        if !version.is_empty() && version.chars().all(|c| c.is_ascii_digit() || c == '.') {
            name = stem;
        }
    }
    let base = name.rsplit('-').next().unwrap_or(name);
    // `c++` contains no dash; `x86_64-linux-gnu-g++` ends in `g++`.
    COMPILERS.contains(&name) || COMPILERS.contains(&base)
}

/// The output a compiler's `argv` names: the last `-o PATH`, `-oPATH`, `--output PATH` or
/// `--output=PATH`.
pub(super) fn output_of(argv: &[String]) -> Option<&str> {
    let mut out = None;
    let mut args = argv.iter().skip(1);
    while let Some(arg) = args.next() {
        if arg == "-o" || arg == "--output" {
            out = args.next().map(String::as_str);
        } else if let Some(v) = arg.strip_prefix("--output=") {
            out = Some(v);
        } else if let Some(v) = arg.strip_prefix("-o").filter(|v| !v.is_empty()) {
            // Not an option that merely starts with -o (there are none in cc, ld or rustc
            // whose value could be a path beneath OUT_DIR besides -o itself).
            out = Some(v);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| (*w).to_owned()).collect()
    }

    #[test]
    fn compilers_are_known_by_name_triple_and_version() {
        for name in [
            "cc",
            "gcc",
            "gcc-12",
            "x86_64-linux-gnu-gcc-12",
            "clang",
            "clang-17",
            "clang++",
            "c++",
            "x86_64-linux-gnu-g++",
            "ld",
            "ld.bfd",
            "x86_64-linux-gnu-ld.gold",
            "collect2",
            "rustc",
        ] {
            assert!(is_compiler(name), "{name}");
        }
        for name in [
            "sh", "cp", "install", "cc1", "as", "true", "conftest", "gcc-ar",
        ] {
            assert!(!is_compiler(name), "{name}");
        }
    }

    #[test]
    fn the_last_output_option_names_the_output() {
        assert_eq!(
            output_of(&args(&["cc", "-o", "conftest", "c.c"])),
            Some("conftest")
        );
        assert_eq!(
            output_of(&args(&["cc", "-oconftest", "c.c"])),
            Some("conftest")
        );
        assert_eq!(output_of(&args(&["ld", "--output=a.out"])), Some("a.out"));
        assert_eq!(
            output_of(&args(&["ld", "-o", "x", "--output", "y"])),
            Some("y")
        );
        assert_eq!(output_of(&args(&["cc", "-c", "c.c"])), None);
        // argv[0] is never an option.
        assert_eq!(output_of(&args(&["-ofoo"])), None);
    }

    #[test]
    fn a_script_names_its_interpreter() {
        assert_eq!(
            interpreter(b"#!/bin/sh\nexit 0\n"),
            Some(OsStr::new("/bin/sh"))
        );
        assert_eq!(
            interpreter(b"#! /usr/bin/env python3 -u\n"),
            Some(OsStr::new("/usr/bin/env"))
        );
        assert_eq!(interpreter(b"#!payload"), Some(OsStr::new("payload")));
        assert_eq!(interpreter(b"\x7fELF"), None);
        assert_eq!(interpreter(b"#!\n"), None);
    }

    #[test]
    fn sources_are_indexed_by_name_and_size_without_target() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("sub")).unwrap();
        fs::create_dir_all(dir.path().join("target")).unwrap();
        fs::write(dir.path().join("sub/gen.sh"), "#!/bin/sh\n").unwrap();
        fs::write(dir.path().join("target/gen.sh"), "#!/bin/sh\n").unwrap();
        let index = index_sources(&[dir.path().to_owned()]);
        let found = &index[&("gen.sh".into(), 10)];
        assert_eq!(found, &[dir.path().join("sub/gen.sh")]);
    }
}
