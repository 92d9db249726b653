//! The `targets.json` contract between `cargo airlock gen` (which writes it) and `cargo airlock
//! fuzz` (which reads it): one typed schema, one reader and one writer, used by both sides.
//!
//! The file is a JSON array with one [`TargetRecord`] per generated target and per discovered
//! item without one. `status` is `built` (generated and compiled), `generated` (written, the
//! compile check skipped: `fuzz` builds it), `skipped` or `failed`; `kind` is `deserialize`,
//! `ffi`, `format`, `parse` or `shaped` (a `Deserialize` type fed well-formed input built from
//! its serde shape, beside its byte-level `deserialize` target). Built targets carry the
//! main-thread stack they are meant to run with (`stack_bytes`, [`STACK_BYTES`]) and, where
//! they need them, libFuzzer options.

use std::fmt;
use std::path::{Path, PathBuf};

/// The file name of the manifest inside a generated project.
pub const TARGETS_FILE: &str = "targets.json";

/// The main-thread stack (`RLIMIT_STACK`) generated targets run with. On the usual 8 MiB stack a
/// recursive-descent parser without a depth limit needs far deeper nesting than short inputs
/// reach; on 2 MiB, a few thousand levels (fewer with the large frames of ASan builds) already
/// overflow, while parsers with a depth limit (64 to 1024 levels in real crates) stay within it.
/// Recorded per target in `targets.json` (`stack_bytes`); the runner applies it to every
/// sandboxed run of the target.
pub const STACK_BYTES: u64 = 2 << 20;

/// The kind of a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetKind {
    /// Feeds bytes to a `Deserialize` impl.
    Deserialize,
    /// Calls a safe wrapper over FFI.
    Ffi,
    /// Feeds bytes through an entry point of a format crate (one with its own `Deserializer`).
    Format,
    /// Feeds bytes to a hand-written parse entry point (`parse`, `FromStr`, `TryFrom<&[u8]>`).
    Parse,
    /// Builds a value of a `Deserialize` type's serde shape from the bytes (with `arbitrary`),
    /// serializes it with each format and feeds that to the type: well-formed input that
    /// reaches the code reading each field.
    Shaped,
}

impl TargetKind {
    /// The word `targets.json` and reports use.
    pub fn as_str(self) -> &'static str {
        match self {
            TargetKind::Deserialize => "deserialize",
            TargetKind::Ffi => "ffi",
            TargetKind::Format => "format",
            TargetKind::Parse => "parse",
            TargetKind::Shaped => "shaped",
        }
    }
}

impl fmt::Display for TargetKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// libFuzzer options a target needs beyond the campaign's defaults.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LibFuzzerOptions {
    /// `-max_len`: the longest input to try. Format and parse targets raise it so that nesting
    /// deep enough to overflow their reduced stack fits in an input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_len: Option<usize>,
    /// `-len_control`: `0` lets mutations use the whole `max_len` at once instead of growing
    /// inputs slowly, which deep nesting needs to be reached within minutes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub len_control: Option<u32>,
}

/// Whether a target exists and builds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetStatus {
    /// Generated and compiled by the compile check.
    Built,
    /// Generated; the compile check did not run (`gen --no-compile`), so whether it builds is
    /// not known until `fuzz` builds it.
    Generated,
    /// Discovered, but no target could be generated; `reason` says why.
    Skipped,
    /// Generated, but it does not compile; `reason` holds the compiler's first error.
    Failed,
}

impl TargetStatus {
    /// The word `targets.json` and reports use.
    pub fn as_str(self) -> &'static str {
        match self {
            TargetStatus::Built => "built",
            TargetStatus::Generated => "generated",
            TargetStatus::Skipped => "skipped",
            TargetStatus::Failed => "failed",
        }
    }
}

impl fmt::Display for TargetStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One record of `targets.json`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TargetRecord {
    /// The target (binary) name; for skipped items, the name it would have had.
    pub name: String,
    /// The package the item belongs to (empty in files written before it was recorded).
    #[serde(default)]
    pub package: String,
    /// What the target fuzzes.
    pub kind: TargetKind,
    /// The item's public path (crate-internal path when it has none).
    pub item: String,
    /// Input formats: `json+toml` for Deserialize targets, `arbitrary` for FFI targets.
    #[serde(default)]
    pub format: String,
    /// Built, generated, skipped or failed.
    pub status: TargetStatus,
    /// Why it was skipped or failed.
    #[serde(default)]
    pub reason: Option<String>,
    /// libFuzzer options for this target (absent when the defaults do).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub libfuzzer: Option<LibFuzzerOptions>,
    /// The main-thread stack the target runs with, in bytes (absent for items without a
    /// target; a reader treats an absent value on a built target as [`STACK_BYTES`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack_bytes: Option<u64>,
}

impl TargetRecord {
    /// Whether the target exists and is not known not to build (`built`, or `generated`
    /// without the compile check), so a campaign builds and runs it.
    pub fn is_built(&self) -> bool {
        matches!(self.status, TargetStatus::Built | TargetStatus::Generated)
    }

    /// The main-thread stack to run the target with: the recorded one, else [`STACK_BYTES`].
    pub fn stack(&self) -> u64 {
        self.stack_bytes.unwrap_or(STACK_BYTES)
    }
}

/// Why `targets.json` could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TargetsError {
    /// Reading the file failed.
    #[error("cannot read {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a valid `targets.json`.
    #[error("{} is not a valid targets.json", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// What serde found wrong.
        #[source]
        source: serde_json::Error,
    },
    /// Writing the file failed.
    #[error("cannot write {}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// The whole of `targets.json`: every record, in the order the generator found them.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct TargetsManifest {
    /// One record per target and per discovered item without one.
    pub records: Vec<TargetRecord>,
}

impl TargetsManifest {
    /// The manifest's path in the project directory `dir`.
    pub fn path_in(dir: &Path) -> PathBuf {
        dir.join(TARGETS_FILE)
    }

    /// Reads `targets.json` from the project directory `dir`.
    pub fn read(dir: &Path) -> Result<TargetsManifest, TargetsError> {
        let path = Self::path_in(dir);
        let text = std::fs::read_to_string(&path).map_err(|source| TargetsError::Read {
            path: path.clone(),
            source,
        })?;
        serde_json::from_str(&text).map_err(|source| TargetsError::Parse { path, source })
    }

    /// Writes `targets.json` (pretty-printed, with a final newline) into the project directory
    /// `dir` and returns its path.
    pub fn write(&self, dir: &Path) -> Result<PathBuf, TargetsError> {
        let path = Self::path_in(dir);
        let mut text = serde_json::to_string_pretty(self)
            .expect("records are plain strings, numbers and enums");
        text.push('\n');
        std::fs::write(&path, text).map_err(|source| TargetsError::Write {
            path: path.clone(),
            source,
        })?;
        Ok(path)
    }

    /// The records of targets that were generated and compiled.
    pub fn runnable(&self) -> impl Iterator<Item = &TargetRecord> {
        self.records.iter().filter(|r| r.is_built())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_kinds_keep_their_words() {
        let json = r#"[{"name":"de_a","package":"p","kind":"deserialize","item":"p::A","format":"json","status":"built","reason":null,"stack_bytes":2097152},
                       {"name":"ffi_b","kind":"ffi","item":"p::b","status":"skipped","reason":"why"}]"#;
        let m: TargetsManifest = serde_json::from_str(json).expect("parses");
        assert_eq!(m.records[0].status, TargetStatus::Built);
        assert_eq!(m.records[0].stack(), STACK_BYTES);
        assert_eq!(m.records[1].status, TargetStatus::Skipped);
        assert_eq!(m.records[1].package, "");
        assert_eq!(m.runnable().count(), 1);
        let back = serde_json::to_value(&m).expect("serializes");
        assert_eq!(back[0]["status"], "built");
        assert_eq!(back[1]["kind"], "ffi");
        assert!(back[1].get("stack_bytes").is_none());
        assert_eq!(TargetStatus::Failed.to_string(), "failed");
    }

    #[test]
    fn read_and_write_round_trip_with_typed_errors() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(matches!(
            TargetsManifest::read(dir.path()),
            Err(TargetsError::Read { .. })
        ));
        let m = TargetsManifest {
            records: vec![TargetRecord {
                name: "parse_x".into(),
                package: "p".into(),
                kind: TargetKind::Parse,
                item: "p::x".into(),
                format: "str".into(),
                status: TargetStatus::Failed,
                reason: Some("error[E0425]".into()),
                libfuzzer: Some(LibFuzzerOptions {
                    max_len: Some(16384),
                    len_control: Some(0),
                }),
                stack_bytes: Some(STACK_BYTES),
            }],
        };
        let path = m.write(dir.path()).expect("writes");
        assert!(std::fs::read_to_string(&path)
            .expect("reads")
            .ends_with("]\n"));
        assert_eq!(TargetsManifest::read(dir.path()).expect("reads"), m);
        std::fs::write(
            &path,
            r#"[{"name":"a","kind":"ffi","item":"a","status":"maybe"}]"#,
        )
        .expect("writes");
        let err = TargetsManifest::read(dir.path()).expect_err("unknown status");
        assert!(matches!(err, TargetsError::Parse { .. }));
        assert!(!err.to_string().contains("unknown variant"));
    }
}
