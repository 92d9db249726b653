//! The compile check: builds the generated project with plain `cargo build` on the current
//! toolchain (stable is enough: libfuzzer-sys builds there, only the campaign needs nightly) and
//! `--keep-going`, reads cargo's JSON messages (as `cargo_metadata::Message`), and marks each target that did not build as
//! `failed` with the compiler's first error for it. A failure never stops the run.
//!
//! The crate under test is built as cargo builds a dependency: with its lints capped
//! ([`CAP_LINTS`]), so an old crate whose own `#![deny(...)]` meets a lint today's compiler
//! raises still builds.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Stdio};

use cargo_metadata::diagnostic::DiagnosticLevel;
use cargo_metadata::{Message, TargetKind};

use crate::error::GenError;
use crate::{TargetRecord, TargetStatus};

/// The rustc flag that caps lints at warnings, as cargo caps them for dependencies (it passes
/// `--cap-lints allow` to registry crates but nothing to path crates, which the crate under
/// test usually is). Given in `RUSTFLAGS`, it reaches every unit; rustc keeps the first
/// `--cap-lints` it is given, so registry crates keep cargo's `allow`.
pub const CAP_LINTS: &str = "--cap-lints warn";

/// `RUSTFLAGS` for a build of a generated project: the caller's, with [`CAP_LINTS`] added.
pub fn capped_rustflags(existing: Option<&str>) -> String {
    match existing.map(str::trim).filter(|s| !s.is_empty()) {
        Some(flags) if flags.contains("--cap-lints") => flags.to_owned(),
        Some(flags) => format!("{flags} {CAP_LINTS}"),
        None => CAP_LINTS.to_owned(),
    }
}

/// Builds every `built` or `generated` target in `out` and updates the records: `built` when
/// it compiled, `failed` with the compiler's first error when it did not.
pub fn check(
    out: &Path,
    target_dir: Option<&Path>,
    records: &mut [TargetRecord],
) -> Result<(), GenError> {
    let wanted: BTreeSet<String> = records
        .iter()
        .filter(|r| r.is_built())
        .map(|r| r.name.clone())
        .collect();
    if wanted.is_empty() {
        return Ok(());
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.arg("build")
        .arg("--manifest-path")
        .arg(out.join("Cargo.toml"))
        .arg("--bins")
        // Build every target that can be built, not just up to the first failure.
        .arg("--keep-going")
        .arg("--message-format=json")
        .env(
            "RUSTFLAGS",
            capped_rustflags(std::env::var("RUSTFLAGS").ok().as_deref()),
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(dir) = target_dir {
        cmd.arg("--target-dir").arg(dir);
    }
    let rendered = format!("{cmd:?}");
    let output = cmd.output().map_err(|source| GenError::CompileCheck {
        command: rendered,
        source,
    })?;
    let mut built: BTreeSet<String> = BTreeSet::new();
    let mut first_error: BTreeMap<String, String> = BTreeMap::new();
    let mut other_error: Option<String> = None;
    // Lines that are not cargo's JSON (none with `--message-format=json`) come as `TextLine`.
    for msg in Message::parse_stream(&output.stdout[..]).flatten() {
        match msg {
            Message::CompilerArtifact(a) if a.target.is_kind(TargetKind::Bin) => {
                built.insert(a.target.name);
            }
            Message::CompilerMessage(m) if m.message.level == DiagnosticLevel::Error => {
                let text = m.message.rendered.as_deref().unwrap_or(&m.message.message);
                let text = first_lines(text, 6);
                let is_bin = m.target.is_kind(TargetKind::Bin);
                let name = m.target.name;
                if is_bin && wanted.contains(&name) {
                    first_error.entry(name).or_insert(text);
                } else if other_error.is_none() {
                    other_error = Some(format!("`{name}` did not build: {text}"));
                }
            }
            _ => {}
        }
    }
    let stderr_tail = || {
        let s = String::from_utf8_lossy(&output.stderr);
        let lines: Vec<&str> = s.lines().filter(|l| l.contains("error")).take(3).collect();
        if lines.is_empty() {
            "cargo build failed without a compiler message".to_string()
        } else {
            lines.join("\n")
        }
    };
    for r in records.iter_mut().filter(|r| r.is_built()) {
        if built.contains(&r.name) {
            r.status = TargetStatus::Built;
            continue;
        }
        r.status = TargetStatus::Failed;
        r.reason = Some(
            first_error
                .get(&r.name)
                .cloned()
                .or_else(|| other_error.clone())
                .unwrap_or_else(stderr_tail),
        );
    }
    Ok(())
}

/// The first `n` lines of a compiler message.
fn first_lines(s: &str, n: usize) -> String {
    s.lines()
        .take(n)
        .collect::<Vec<_>>()
        .join("\n")
        .trim_end()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lints_are_capped_once() {
        assert_eq!(capped_rustflags(None), "--cap-lints warn");
        assert_eq!(capped_rustflags(Some(" ")), "--cap-lints warn");
        assert_eq!(
            capped_rustflags(Some("-Copt-level=1")),
            "-Copt-level=1 --cap-lints warn"
        );
        assert_eq!(
            capped_rustflags(Some("--cap-lints allow")),
            "--cap-lints allow"
        );
    }
}
