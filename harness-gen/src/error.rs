//! Errors of the generator. Each variant names the step that failed and carries the path or
//! package concerned; the CLI turns any of them into exit code 2.

use std::path::PathBuf;

/// Why `gen` could not do its job. Problems confined to one file or one target are not errors:
/// they are recorded as warnings or as `skipped`/`failed` targets.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GenError {
    /// `cargo metadata` failed (no manifest, invalid manifest, cargo missing).
    #[error("cannot read the cargo metadata of {}: {message}", manifest.as_deref().map(|p| p.display().to_string()).unwrap_or_else(|| "the current directory".into()))]
    Metadata {
        /// The manifest given, `None` for the current directory.
        manifest: Option<PathBuf>,
        /// cargo's own explanation.
        message: String,
    },
    /// `-p NAME` names no package of the dependency graph.
    #[error("package `{name}` is not in the dependency graph of {}; hint: `cargo tree` lists the packages `-p` accepts", manifest.display())]
    UnknownPackage {
        /// The name given.
        name: String,
        /// The workspace manifest.
        manifest: PathBuf,
    },
    /// A selected package has no library target, so there is nothing to link a fuzz target to.
    #[error("package `{name}` ({}) has no library target; gen needs a library (binaries cannot be fuzzed from outside)", manifest.display())]
    NoLibrary {
        /// The package.
        name: String,
        /// Its manifest.
        manifest: PathBuf,
    },
    /// A crate root could not be read.
    #[error("cannot read {}: {source}", path.display())]
    ReadSource {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A crate root does not parse as Rust, so nothing of the crate can be analysed.
    #[error("{}:{line}: does not parse as Rust: {message}", path.display())]
    ParseSource {
        /// The file.
        path: PathBuf,
        /// The line of the first error.
        line: usize,
        /// syn's message.
        message: String,
    },
    /// Writing the fuzz project failed.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The compile check could not run at all (cargo could not be started).
    #[error("cannot run the compile check `{command}`: {source}")]
    CompileCheck {
        /// The command line.
        command: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Writing `targets.json` failed.
    #[error(transparent)]
    Targets(#[from] crate::targets::TargetsError),
}
