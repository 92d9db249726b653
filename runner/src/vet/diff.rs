//! `vet CRATE@OLD..NEW`: what NEW adds to OLD (capabilities, signals, events, dependencies, the
//! build script, shipped files), compared from the two vet reports and the two unpacked
//! packages, and the findings that new behaviour raises (a build script that appears, a network
//! or process capability that appears, a new shipped binary; new dependencies are judged by
//! the pipeline with their provenance).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::report::{DiffFinding, Level, Report, VetDiff};

/// One side of the comparison: a vet report and the package it unpacked.
pub(crate) struct Side<'a> {
    /// The vet report of this version.
    pub report: &'a Report,
    /// The version.
    pub version: &'a str,
    /// The unpacked package, when it was fetched.
    pub dir: Option<&'a Path>,
}

/// Compares OLD and NEW of `name`.
pub(crate) fn compare(name: &str, old: &Side<'_>, new: &Side<'_>) -> VetDiff {
    let mut diff = VetDiff {
        name: name.to_owned(),
        old: old.version.to_owned(),
        new: new.version.to_owned(),
        ..VetDiff::default()
    };
    let (old_inv, new_inv) = (own_inventory(old, name), own_inventory(new, name));
    if let Some(new_inv) = new_inv {
        for (kind, cap) in &new_inv.capabilities {
            if old_inv.is_some_and(|o| o.capabilities.contains_key(kind)) {
                continue;
            }
            diff.capabilities.push(kind.as_str().to_owned());
            let warn = matches!(kind.as_str(), "net" | "process");
            let at = cap
                .places
                .first()
                .map(|p| format!(" (first at {}:{})", p.path, p.line))
                .unwrap_or_default();
            diff.findings.push(DiffFinding {
                code: "capability-added".to_owned(),
                level: if warn { Level::Warn } else { Level::Info },
                reason: format!(
                    "{name} {} uses `{}`{at}, which {name} {} did not",
                    new.version,
                    kind.as_str(),
                    old.version
                ),
            });
        }
        let old_keys: BTreeSet<String> = old_inv
            .map(|o| o.signals.iter().map(signal_key).collect())
            .unwrap_or_default();
        for s in new_inv.signals.iter() {
            let key = signal_key(s);
            if old_keys.contains(&key) {
                continue;
            }
            if s.code.as_str() == "shipped-binary" {
                diff.findings.push(DiffFinding {
                    code: "shipped-binary-added".to_owned(),
                    level: Level::Warn,
                    reason: format!(
                        "{name} {} ships {}, which {} did not: {}",
                        new.version, s.path, old.version, s.reason
                    ),
                });
            }
            diff.signals.push(key);
        }
    }
    let old_codes: BTreeSet<&str> = provenance_codes(old.report).collect();
    for code in provenance_codes(new.report) {
        if !old_codes.contains(code) {
            diff.signals.push(format!("{code} (provenance)"));
        }
    }
    let old_events = events(old.report);
    diff.events = events(new.report)
        .into_iter()
        .filter(|e| !old_events.contains(e))
        .collect();
    diff.dependencies = dependency_changes(name, old.report, new.report);
    diff.build_script = build_script_change(old.dir, new.dir);
    match diff.build_script.as_deref() {
        Some("added") => diff.findings.push(DiffFinding {
            code: "build-script-added".to_owned(),
            level: Level::Warn,
            reason: format!(
                "{name} {} has a build script and {} had none: it runs on every machine that \
                 builds the crate",
                new.version, old.version
            ),
        }),
        Some("changed") => diff.findings.push(DiffFinding {
            code: "build-script-changed".to_owned(),
            level: Level::Info,
            reason: format!(
                "the build script of {name} changed from {} to {}",
                old.version, new.version
            ),
        }),
        _ => {}
    }
    if let (Some(o), Some(n)) = (old.dir, new.dir) {
        let before = files(o);
        diff.files = files(n).difference(&before).cloned().collect();
    }
    diff
}

/// The dependencies NEW added (`name version`): those in `diff.dependencies` without `->`.
pub(crate) fn added_dependencies(diff: &VetDiff) -> Vec<(String, String)> {
    diff.dependencies
        .iter()
        .filter(|d| !d.contains("->"))
        .filter_map(|d| d.split_once(' '))
        .map(|(n, v)| (n.to_owned(), v.to_owned()))
        .collect()
}

fn own_inventory<'a>(side: &Side<'a>, name: &str) -> Option<&'a inventory::CrateInventory> {
    side.report
        .vetting
        .inventory
        .iter()
        .find(|i| i.name == name && i.version == side.version)
}

fn signal_key(s: &inventory::Signal) -> String {
    format!("{} {}: {}", s.code.as_str(), s.path, s.text)
}

fn provenance_codes(r: &Report) -> impl Iterator<Item = &'static str> + '_ {
    r.vetting
        .provenance
        .iter()
        .flat_map(|p| p.signals.iter().map(|s| s.code.as_str()))
}

/// Notable events by crate name, decision, kind, action and detail (no pids, times, versions).
fn events(r: &Report) -> BTreeSet<String> {
    r.crates
        .iter()
        .flat_map(|c| {
            c.notable_events().map(move |e| {
                format!(
                    "{}: {} {}/{} {}",
                    c.name,
                    e.decision.as_str(),
                    e.kind.as_str(),
                    e.action,
                    serde_json::Value::Object(e.detail.clone())
                )
            })
        })
        .collect()
}

/// The packages of a report's graph other than `name`: from the build's crates and the
/// inventories.
fn dependencies(name: &str, r: &Report) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let build = r.crates.iter().map(|c| (&c.name, &c.version));
    let inventoried = r.vetting.inventory.iter().map(|i| (&i.name, &i.version));
    for (n, v) in build.chain(inventoried) {
        if n != name {
            out.entry(n.clone()).or_default().insert(v.clone());
        }
    }
    out
}

fn dependency_changes(name: &str, old: &Report, new: &Report) -> Vec<String> {
    let before = dependencies(name, old);
    let mut out = Vec::new();
    for (dep, versions) in dependencies(name, new) {
        match before.get(&dep) {
            None => out.extend(versions.iter().map(|v| format!("{dep} {v}"))),
            Some(old_versions) if *old_versions != versions => out.push(format!(
                "{dep} {} -> {}",
                join(old_versions),
                join(&versions)
            )),
            Some(_) => {}
        }
    }
    out
}

fn join(set: &BTreeSet<String>) -> String {
    set.iter().cloned().collect::<Vec<_>>().join(", ")
}

/// The build script's text: `package.build` of the manifest (a path, or `false` for none),
/// else `build.rs` when the package has one.
fn build_script(dir: &Path) -> Option<Vec<u8>> {
    let manifest: toml::Table = std::fs::read_to_string(dir.join("Cargo.toml"))
        .ok()
        .and_then(|t| toml::from_str(&t).ok())?;
    let path = match manifest.get("package").and_then(|p| p.get("build")) {
        Some(toml::Value::Boolean(false)) => return None,
        Some(toml::Value::String(path)) => path.clone(),
        _ => "build.rs".to_owned(),
    };
    std::fs::read(dir.join(path)).ok()
}

fn build_script_change(old: Option<&Path>, new: Option<&Path>) -> Option<String> {
    let (old, new) = (old.and_then(build_script), new.and_then(build_script));
    match (old, new) {
        (None, Some(_)) => Some("added".to_owned()),
        (Some(_), None) => Some("removed".to_owned()),
        (Some(a), Some(b)) if a != b => Some("changed".to_owned()),
        _ => None,
    }
}

/// Every regular file under `root`, as `/`-separated paths relative to it.
fn files(root: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut stack = vec![root.to_owned()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let Ok(kind) = e.file_type() else { continue };
            let path = e.path();
            if kind.is_dir() {
                stack.push(path);
            } else if kind.is_file() {
                if let Ok(rel) = path.strip_prefix(root) {
                    let rel: Vec<String> = rel
                        .components()
                        .map(|c| c.as_os_str().to_string_lossy().into_owned())
                        .collect();
                    out.insert(rel.join("/"));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_build_script_that_appears_is_found_and_files_are_listed() {
        let tmp = tempfile::tempdir().unwrap();
        let (old, new) = (tmp.path().join("old"), tmp.path().join("new"));
        for d in [&old, &new] {
            std::fs::create_dir_all(d.join("src")).unwrap();
            std::fs::write(d.join("Cargo.toml"), "[package]\nname = \"x\"\n").unwrap();
            std::fs::write(d.join("src/lib.rs"), "").unwrap();
        }
        std::fs::write(new.join("build.rs"), "fn main() {}").unwrap();
        assert_eq!(
            build_script_change(Some(&old), Some(&new)).as_deref(),
            Some("added")
        );
        assert_eq!(build_script_change(Some(&new), Some(&new)), None);
        std::fs::write(
            new.join("Cargo.toml"),
            "[package]\nname = \"x\"\nbuild = false\n",
        )
        .unwrap();
        assert_eq!(build_script_change(Some(&old), Some(&new)), None);
        let added: Vec<String> = files(&new).difference(&files(&old)).cloned().collect();
        assert_eq!(added, ["build.rs"]);
    }

    #[test]
    fn added_dependencies_are_the_ones_without_an_arrow() {
        let diff = VetDiff {
            dependencies: vec!["cc 1.0.0".into(), "libc 0.2.1 -> 0.2.2".into()],
            ..VetDiff::default()
        };
        assert_eq!(
            added_dependencies(&diff),
            [("cc".to_owned(), "1.0.0".to_owned())]
        );
    }
}
