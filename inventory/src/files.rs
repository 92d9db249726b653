//! The package's files: a deterministic walk of the unpacked directory (symlinks are reported,
//! never followed), each file classified as Rust, native source, script, binary or other, and
//! the `shipped-binary`/`shipped-script` signals that follow from the classification.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::binary::{self, BinaryKind};
use crate::code::SignalCode;
use crate::collect::Collector;
use crate::error::InventoryError;
use crate::model::{Level, Signal};

/// Files listed per package; beyond this, one `not-scanned` signal says how many were left.
pub(crate) const MAX_FILES: usize = 50_000;
/// Bytes read to recognise a file's kind.
const HEAD_BYTES: usize = 4096;
/// `ar` archives up to this size are opened to tell import libraries from code.
const MAX_ARCHIVE_INSPECT: u64 = 64 << 20;

/// How a file is scanned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A `.rs` file: parsed with syn.
    Rust,
    /// C, C++, Objective-C or assembly source: scanned as text.
    Native,
    /// A script: scanned as text, and reported as shipped.
    Script,
    /// Binary: reported as shipped.
    Binary(BinaryKind),
    /// Text or media that is neither.
    Other,
}

/// One file of the package.
#[derive(Debug, Clone)]
pub(crate) struct File {
    /// Absolute path.
    pub abs: PathBuf,
    /// Path relative to the root, `/`-separated.
    pub rel: String,
    /// Size in bytes.
    pub size: u64,
    /// How it is scanned.
    pub kind: Kind,
    /// Under `tests/`, `examples/`, `benches/` (or a `test`/`tests`/`testdata` directory), or a
    /// `tests.rs`/`test.rs` module.
    pub test: bool,
    /// The first bytes, for the reason of a binary signal.
    pub magic: String,
}

/// The walk's result.
pub(crate) struct Listing {
    /// Files to scan, in path order.
    pub files: Vec<File>,
    /// Entries that were not scanned, as signals.
    pub skipped: Vec<Signal>,
}

const NATIVE_EXT: &[&str] = &[
    "c", "h", "cc", "cpp", "cxx", "c++", "hpp", "hh", "hxx", "inc", "s", "asm", "m", "mm",
];
const SCRIPT_EXT: &[&str] = &[
    "sh",
    "bash",
    "zsh",
    "ksh",
    "fish",
    "ps1",
    "psm1",
    "psd1",
    "bat",
    "cmd",
    "vbs",
    "vbe",
    "js",
    "mjs",
    "py",
    "pl",
    "pm",
    "rb",
    "php",
    "lua",
    "tcl",
    "applescript",
    "scpt",
];

/// Lists every file under `root`.
pub(crate) fn list(root: &Path) -> Result<Listing, InventoryError> {
    let mut listing = Listing {
        files: Vec::new(),
        skipped: Vec::new(),
    };
    let mut stack = vec![root.to_path_buf()];
    let mut over = 0usize;
    while let Some(dir) = stack.pop() {
        let read = fs::read_dir(&dir).map_err(|source| InventoryError::ReadDir {
            path: dir.clone(),
            source,
        })?;
        let mut entries: Vec<_> = read.filter_map(Result::ok).collect();
        entries.sort_by_key(|e| std::cmp::Reverse(e.file_name()));
        for entry in entries {
            let abs = entry.path();
            let rel = relative(root, &abs);
            let Ok(meta) = fs::symlink_metadata(&abs) else {
                listing
                    .skipped
                    .push(not_scanned(&rel, "could not be read".into()));
                continue;
            };
            if meta.file_type().is_symlink() {
                let target = fs::read_link(&abs)
                    .map(|t| t.display().to_string())
                    .unwrap_or_default();
                listing.skipped.push(not_scanned(
                    &rel,
                    format!("a symlink (to `{target}`), not followed"),
                ));
            } else if meta.is_dir() && dir == root && entry.file_name() == ".git" {
                // A git dependency's checkout: the repository's metadata, not the package
                // (`cargo package` leaves it out too).
                listing.skipped.push(not_scanned(
                    &rel,
                    "version-control metadata of a git checkout, not part of the package".into(),
                ));
            } else if meta.is_dir() {
                stack.push(abs);
            } else if meta.is_file() {
                if listing.files.len() >= MAX_FILES {
                    over += 1;
                    continue;
                }
                match classify(&abs, &rel, meta.len()) {
                    Ok(file) => listing.files.push(file),
                    Err(e) => listing
                        .skipped
                        .push(not_scanned(&rel, format!("could not be read: {e}"))),
                }
            }
        }
    }
    if over > 0 {
        listing.skipped.push(not_scanned(
            ".",
            format!("{over} files beyond the limit of {MAX_FILES} were not scanned"),
        ));
    }
    listing.files.sort_by(|a, b| a.rel.cmp(&b.rel));
    Ok(listing)
}

fn not_scanned(rel: &str, reason: String) -> Signal {
    Signal {
        code: SignalCode::NotScanned,
        level: Level::Info,
        path: rel.to_owned(),
        line: 0,
        text: String::new(),
        reason,
    }
}

fn relative(root: &Path, abs: &Path) -> String {
    let rel = abs.strip_prefix(root).unwrap_or(abs);
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

fn classify(abs: &Path, rel: &str, size: u64) -> std::io::Result<File> {
    let name = rel.rsplit('/').next().unwrap_or(rel);
    let ext = match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => ext.to_ascii_lowercase(),
        _ => String::new(),
    };
    let mut head = Vec::with_capacity(HEAD_BYTES);
    fs::File::open(abs)?
        .take(HEAD_BYTES as u64)
        .read_to_end(&mut head)?;
    let first = rel.split('/').next().unwrap_or("");
    let test = matches!(
        first,
        "tests" | "examples" | "benches" | "test" | "testdata" | "fuzz"
    ) || rel
        .split('/')
        .any(|c| matches!(c, "tests" | "testdata" | "test-data" | "test_data"))
        || matches!(name, "tests.rs" | "test.rs");
    let mut kind = if ext == "rs" && binary::is_text(&head) {
        Kind::Rust
    } else if let Some(b) = binary::classify(&head, &ext) {
        Kind::Binary(b)
    } else if NATIVE_EXT.contains(&ext.as_str()) {
        Kind::Native
    } else if SCRIPT_EXT.contains(&ext.as_str())
        || head.starts_with(b"#!") && !head.starts_with(b"#![")
    {
        Kind::Script
    } else {
        Kind::Other
    };
    if kind == Kind::Binary(BinaryKind::StaticLibrary) && size <= MAX_ARCHIVE_INSPECT {
        let data = fs::read(abs)?;
        if binary::import_library(&data) {
            kind = Kind::Binary(BinaryKind::ImportLibrary);
        }
    }
    let magic = head
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ");
    Ok(File {
        abs: abs.to_path_buf(),
        rel: rel.to_owned(),
        size,
        kind,
        test,
        magic,
    })
}

/// Counts the file and raises the signals its kind implies.
pub(crate) fn report_kind(file: &File, out: &mut Collector) {
    match file.kind {
        Kind::Rust => out.files.rust += 1,
        Kind::Native => out.files.native += 1,
        Kind::Other => out.files.other += 1,
        Kind::Script => {
            out.files.scripts += 1;
            out.signal(Signal {
                code: SignalCode::ShippedScript,
                level: Level::Info,
                path: file.rel.clone(),
                line: 0,
                text: String::new(),
                reason: "script shipped in the package (scanned for downloads and addresses)"
                    .into(),
            });
        }
        Kind::Binary(kind) => {
            out.files.binary += 1;
            let (level, why) = if kind.is_runnable() {
                (
                    Level::Warn,
                    "machine code shipped in the package: it can be run or loaded without being built from source",
                )
            } else if kind.is_linkable_object() {
                // Calibrated on real crates: `ring` ships prebuilt assembly as objects for the
                // targets without an assembler. Object code runs only once a build links it, and
                // what it then does is watched: the build phase records the link directives, the
                // load phase runs its constructors, the probe and test phases its functions.
                (
                    Level::Info,
                    "prebuilt object code: it runs only if a build script links it (the build phase records what is linked; the load phase runs its constructors)",
                )
            } else {
                (
                    Level::Info,
                    "not code; listed so the package's contents are known",
                )
            };
            out.signal(Signal {
                code: SignalCode::ShippedBinary,
                level,
                path: file.rel.clone(),
                line: 0,
                text: format!("magic {}", file.magic),
                reason: format!("{} of {} bytes: {why}", kind.describe(), file.size),
            });
        }
    }
}
