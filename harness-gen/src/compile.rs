//! The compile check: builds the generated project with plain `cargo build` on the current
//! toolchain (stable is enough: libfuzzer-sys builds there, only the campaign needs nightly) and
//! `--keep-going`, reads cargo's JSON messages (as `cargo_metadata::Message`), and marks each target that did not build as
//! `failed` with the compiler's first error for it. A failure never stops the run.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Stdio};

use cargo_metadata::diagnostic::DiagnosticLevel;
use cargo_metadata::{Message, TargetKind};

use crate::error::GenError;
use crate::{TargetRecord, TargetStatus};

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

fn first_lines(s: &str, n: usize) -> String {
    s.lines()
        .take(n)
        .collect::<Vec<_>>()
        .join("\n")
        .trim_end()
        .to_string()
}
