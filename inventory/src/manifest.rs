//! The package manifest: whether the package has a build script (and which file) and whether it
//! is a procedural macro, from `Cargo.toml` as cargo reads it (`build` key or a `build.rs` at
//! the root; `[lib] proc-macro = true`).

use std::path::Path;

use crate::collect::Collector;
use crate::model::CapabilityKind;

/// Records the `build-script` and `proc-macro` capabilities.
pub(crate) fn scan(root: &Path, out: &mut Collector) {
    let text = std::fs::read_to_string(root.join("Cargo.toml")).unwrap_or_default();
    let table: toml::Table = text.parse().unwrap_or_default();
    let package = table.get("package").and_then(|p| p.as_table());
    let build = match package.and_then(|p| p.get("build")) {
        Some(toml::Value::String(path)) => Some(path.clone()),
        Some(toml::Value::Boolean(false)) => None,
        _ => root
            .join("build.rs")
            .is_file()
            .then(|| "build.rs".to_owned()),
    };
    if let Some(build) = build {
        let line = line_of(&text, "build").unwrap_or(0);
        out.capability(
            CapabilityKind::BuildScript,
            &build,
            0,
            format!(
                "build script `{build}` (runs at build time){}",
                if line > 0 {
                    format!(", Cargo.toml:{line}")
                } else {
                    String::new()
                }
            ),
        );
    }
    if let Some(links) = package
        .and_then(|p| p.get("links"))
        .and_then(|l| l.as_str())
    {
        out.detail(CapabilityKind::BuildScript, &format!("links = \"{links}\""));
    }
    let lib = table.get("lib").and_then(|l| l.as_table());
    let proc_macro = lib.is_some_and(|l| {
        l.get("proc-macro")
            .or_else(|| l.get("proc_macro"))
            .and_then(|v| v.as_bool())
            == Some(true)
    });
    if proc_macro {
        let line = line_of(&text, "proc-macro")
            .or_else(|| line_of(&text, "proc_macro"))
            .unwrap_or(0);
        out.capability(
            CapabilityKind::ProcMacro,
            "Cargo.toml",
            line,
            "[lib] proc-macro = true (runs inside the compiler)",
        );
    }
}

fn line_of(text: &str, key: &str) -> Option<usize> {
    text.lines()
        .position(|l| l.trim_start().starts_with(key) && l.contains('='))
        .map(|i| i + 1)
}
