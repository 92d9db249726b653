//! Writing the report of a fuzz campaign: `report.json` (schema `airlock.report/1`),
//! `report.md`, `report.sarif` and `report.html`, from the `fuzz` section and the environment.

use std::path::{Path, PathBuf};

use anyhow::Context;
use runner::fuzz::{render, FuzzSection};
use runner::sandbox::probe::Support;
use serde_json::json;

/// The `environment` object of a report.
pub fn environment() -> serde_json::Value {
    let support = Support::get();
    json!({
        "kernel": support.kernel,
        "landlock_abi": support.landlock_abi,
        "seccomp_user_notif": support.seccomp_user_notif,
        "namespaces": support.user_namespaces,
        "root": support.root,
        "tool_version": env!("CARGO_PKG_VERSION"),
    })
}

/// Writes every format into `dir`; returns the JSON report's path.
pub fn write(dir: &Path, section: &FuzzSection) -> anyhow::Result<PathBuf> {
    let report = json!({
        "schema": "airlock.report/1",
        "crates": [],
        "fuzz": section,
        "environment": environment(),
    });
    let json_path = dir.join("report.json");
    let write = |name: &str, text: String| -> anyhow::Result<()> {
        let path = dir.join(name);
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))
    };
    write("report.json", serde_json::to_string_pretty(&report)?)?;
    write(
        "report.md",
        format!("# cargo-airlock report\n\n{}", render::markdown(section)),
    )?;
    let (results, rules) = render::sarif(section);
    let sarif = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": { "name": "cargo-airlock", "version": env!("CARGO_PKG_VERSION"), "rules": rules } },
            "results": results,
        }],
    });
    write("report.sarif", serde_json::to_string_pretty(&sarif)?)?;
    Ok(json_path)
}
