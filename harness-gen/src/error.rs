//! Errors of the generator. Each variant names the step that failed and carries the path or
//! package concerned; the CLI turns any of them into exit code 2.

use std::path::PathBuf;

/// Why `gen` could not do its job. Problems confined to one file or one target are not errors:
/// they are recorded as warnings or as `skipped`/`failed` targets.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GenError {
    /// `cargo metadata` ran and refused (no manifest, invalid manifest): cargo's own words.
    #[error("cannot read the cargo metadata of {}: {stderr}", shown(manifest.as_deref()))]
    Metadata {
        /// The manifest given, `None` for the current directory.
        manifest: Option<PathBuf>,
        /// cargo's explanation (its standard error, not an error value).
        stderr: String,
    },
    /// `cargo metadata` could not be run or its output not read (cargo missing, bad JSON).
    #[error("cannot run `cargo metadata` for {}", shown(manifest.as_deref()))]
    RunMetadata {
        /// The manifest given, `None` for the current directory.
        manifest: Option<PathBuf>,
        /// What went wrong.
        #[source]
        source: cargo_metadata::Error,
    },
    /// `-p NAME` names no package of the dependency graph.
    #[error("package `{name}` is not in the dependency graph of {}; {}", manifest.display(), unknown_hint(name, versions, closest))]
    UnknownPackage {
        /// The name given.
        name: String,
        /// The workspace manifest.
        manifest: PathBuf,
        /// The versions of that name the graph has (`-p NAME@VERSION` asked for another).
        versions: Vec<String>,
        /// The graph's names closest to a misspelt one.
        closest: Vec<String>,
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
    #[error("cannot read {}", path.display())]
    ReadSource {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A crate root does not parse as Rust, so nothing of the crate can be analysed.
    #[error("{}:{line}: does not parse as Rust{}", path.display(), parse_hint(source))]
    ParseSource {
        /// The file.
        path: PathBuf,
        /// The line of the first error.
        line: usize,
        /// syn's error.
        #[source]
        source: syn::Error,
    },
    /// Writing the fuzz project failed.
    #[error("cannot write {}", path.display())]
    Write {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The compile check could not run at all (cargo could not be started).
    #[error("cannot run the compile check `{command}`")]
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

/// The manifest as messages name it.
/// What to do about a `-p` naming no package: the versions the graph has, else the closest
/// names, else where the packages come from.
fn unknown_hint(name: &str, versions: &[String], closest: &[String]) -> String {
    let base = name.split_once('@').map_or(name, |(n, _)| n);
    let quote = |v: &[String], f: &dyn Fn(&String) -> String| {
        v.iter().map(f).collect::<Vec<_>>().join(", ")
    };
    if !versions.is_empty() {
        format!(
            "the graph has {}; pass -p {base}@VERSION with one of them, or -p {base}",
            quote(versions, &|v| format!("`{base}@{v}`"))
        )
    } else if !closest.is_empty() {
        format!("did you mean {}?", quote(closest, &|n| format!("`{n}`")))
    } else {
        "-p takes a workspace member or a dependency of it, so gen needs a project that depends \
         on the crate; `cargo tree` lists the packages -p accepts"
            .to_owned()
    }
}

fn shown(manifest: Option<&std::path::Path>) -> String {
    manifest.map_or_else(
        || "the current directory".into(),
        |p| p.display().to_string(),
    )
}

/// What syn's least helpful message means, said before its own words.
fn parse_hint(e: &syn::Error) -> &'static str {
    if e.to_string() == "cannot parse string into token stream" {
        " (invalid tokens: an unclosed delimiter, string or comment)"
    } else {
        ""
    }
}
