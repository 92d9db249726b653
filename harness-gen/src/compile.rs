//! The compile check: builds the generated project with plain `cargo build` on the current
//! toolchain (stable is enough: libfuzzer-sys builds there, only the campaign needs nightly) and
//! `--keep-going`, reads cargo's JSON messages, and marks each target that did not build as
//! `failed` with the compiler's first error for it. A failure never stops the run.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Stdio};

use crate::error::GenError;
use crate::{TargetRecord, TargetStatus};

/// Builds every `built` target in `out` and updates the records.
pub fn check(
    out: &Path,
    target_dir: Option<&Path>,
    records: &mut [TargetRecord],
) -> Result<(), GenError> {
    let wanted: BTreeSet<String> = records
        .iter()
        .filter(|r| r.status == TargetStatus::Built)
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
    for line in output.stdout.split(|&b| b == b'\n') {
        let Ok(msg) = serde_json::from_slice::<serde_json::Value>(line) else {
            continue;
        };
        let target_name = msg
            .pointer("/target/name")
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_string();
        let is_bin = msg
            .pointer("/target/kind")
            .and_then(|v| v.as_array())
            .is_some_and(|k| k.iter().any(|x| x == "bin"));
        match msg.get("reason").and_then(|v| v.as_str()) {
            Some("compiler-artifact") if is_bin => {
                built.insert(target_name);
            }
            Some("compiler-message") => {
                if msg.pointer("/message/level").and_then(|v| v.as_str()) != Some("error") {
                    continue;
                }
                let text = msg
                    .pointer("/message/rendered")
                    .and_then(|v| v.as_str())
                    .or_else(|| msg.pointer("/message/message").and_then(|v| v.as_str()))
                    .unwrap_or("error")
                    .to_string();
                let text = first_lines(&text, 6);
                if is_bin && wanted.contains(&target_name) {
                    first_error.entry(target_name).or_insert(text);
                } else if other_error.is_none() {
                    other_error = Some(format!("`{target_name}` did not build: {text}"));
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
    for r in records
        .iter_mut()
        .filter(|r| r.status == TargetStatus::Built)
    {
        if built.contains(&r.name) {
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
