//! `report.sarif`: SARIF 2.1.0 for code-scanning dashboards, written through typed structs of
//! the part of the schema we emit (as cargo-deny does).
//!
//! One result per notable event (denied, flagged or a network tool run; directives and leaks
//! included); the rule id is `airlock/KIND/ACTION`, the location the crate's manifest. Each
//! granted `airlock.toml` exception is a `note`-level result (`airlock/exception/KIND`), so that
//! a loosened sandbox stays visible where findings are read. Each fuzz finding that is not fixed
//! is an `error` result (`fuzz/KIND`) located at its innermost symbolized frame. `vet`'s
//! provenance and inventory signals are results too (`provenance/CODE`, `inventory/CODE`; `error`,
//! `warning` or `note` by their level), located in the package (`NAME-VERSION/PATH`, with the
//! line where known).
//!
//! Every result carries `partialFingerprints` that do not depend on the run (no times, pids or
//! versions), so a dashboard tracks the same result across runs and across upgrades of the
//! crate: `airlockEvent/v1` (crate, rule, detail), `airlockException/v1` (crate, rule, value),
//! `airlockSignature` (a fuzz finding's crash signature).
//!
//! The released `serde-sarif` crate models the whole schema with builders (and brings
//! `typed-builder` and `strum`'s derive macros); the dozen structs below are all we write.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::json;

use super::event_detail;
use crate::report::fuzz_section::FuzzSection;
use crate::report::model::Report;
use crate::report::vet_section::VetSections;

/// The log: `$schema`, `version` and one run.
#[derive(Serialize)]
struct Log {
    #[serde(rename = "$schema")]
    schema: &'static str,
    version: &'static str,
    runs: Vec<Run>,
}

/// `runs[]`: the tool and its results.
#[derive(Serialize)]
struct Run {
    tool: Tool,
    results: Vec<SarifResult>,
}

/// `tool`.
#[derive(Serialize)]
struct Tool {
    driver: Driver,
}

/// `tool.driver`: cargo-airlock and the rules its results refer to.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Driver {
    name: &'static str,
    version: String,
    information_uri: &'static str,
    rules: Vec<Rule>,
}

/// `reportingDescriptor`: one rule.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Rule {
    id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    short_description: Message,
    #[serde(skip_serializing_if = "Option::is_none")]
    default_configuration: Option<Configuration>,
}

/// `reportingConfiguration`: a rule's default level.
#[derive(Serialize)]
struct Configuration {
    level: Level,
}

/// A result's level.
#[derive(Serialize, Clone, Copy)]
#[serde(rename_all = "lowercase")]
enum Level {
    Error,
    Warning,
    Note,
}

impl Level {
    /// The SARIF level of a signal's level.
    fn of(level: crate::report::vet_section::Level) -> Level {
        use crate::report::vet_section::Level as L;
        match level {
            L::Error => Level::Error,
            L::Warn => Level::Warning,
            L::Info => Level::Note,
        }
    }
}

/// `message` (plain text).
#[derive(Serialize)]
struct Message {
    text: String,
}

/// `result`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifResult {
    rule_id: String,
    level: Level,
    message: Message,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    locations: Vec<Location>,
    partial_fingerprints: BTreeMap<&'static str, String>,
    properties: serde_json::Value,
}

/// `location`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Location {
    physical_location: PhysicalLocation,
}

/// `physicalLocation`: a file and, when known, a line.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PhysicalLocation {
    artifact_location: ArtifactLocation,
    #[serde(skip_serializing_if = "Option::is_none")]
    region: Option<Region>,
}

/// `artifactLocation`.
#[derive(Serialize)]
struct ArtifactLocation {
    uri: String,
}

/// `region`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Region {
    start_line: u64,
}

impl Location {
    fn file(uri: String, line: Option<u64>) -> Location {
        Location {
            physical_location: PhysicalLocation {
                artifact_location: ArtifactLocation { uri },
                region: line.map(|start_line| Region { start_line }),
            },
        }
    }
}

/// Renders the report as SARIF 2.1.0.
pub(super) fn render(r: &Report) -> String {
    let mut rules: BTreeMap<String, Rule> = BTreeMap::new();
    let mut results = Vec::new();
    for c in &r.crates {
        let uri = if c.source == "path" {
            format!("{}/Cargo.toml", c.location)
        } else {
            format!("{}-{}/Cargo.toml", c.name, c.version)
        };
        for e in c.notable_events() {
            let kind = e.kind.as_str();
            let id = format!("airlock/{kind}/{}", e.action);
            rules.entry(id.clone()).or_insert_with(|| Rule {
                id: id.clone(),
                name: Some(format!("{kind}-{}", e.action)),
                short_description: Message {
                    text: format!("A sandboxed {kind} attempt: {}", e.action),
                },
                default_configuration: Some(Configuration {
                    level: Level::Error,
                }),
            });
            let detail = event_detail(e);
            results.push(SarifResult {
                partial_fingerprints: fingerprint("airlockEvent/v1", [&c.name, &id, &detail]),
                rule_id: id,
                level: Level::Error,
                message: Message {
                    text: format!(
                        "{} ({}): {} {kind}/{} {detail}",
                        c.label(),
                        e.phase.as_str(),
                        e.decision.as_str(),
                        e.action,
                    ),
                },
                locations: vec![Location::file(uri.clone(), None)],
                properties: json!({"crate": c.label(), "verdict": c.verdict.as_str(), "event": e}),
            });
        }
        for g in &c.exceptions {
            let id = format!("airlock/exception/{}", g.kind);
            rules.entry(id.clone()).or_insert_with(|| Rule {
                id: id.clone(),
                name: Some(format!("exception-{}", g.kind)),
                short_description: Message {
                    text: format!("An airlock.toml exception: {}", g.kind),
                },
                default_configuration: Some(Configuration { level: Level::Note }),
            });
            results.push(SarifResult {
                partial_fingerprints: fingerprint("airlockException/v1", [&c.name, &id, &g.value]),
                rule_id: id,
                level: Level::Note,
                message: Message {
                    text: format!("{}: airlock.toml grants {}", c.label(), g.text()),
                },
                locations: vec![Location::file(uri.clone(), None)],
                properties: json!({"crate": c.label(), "verdict": c.verdict.as_str(), "exception": g}),
            });
        }
    }
    if let Some(fuzz) = &r.fuzz {
        fuzz_results(fuzz, &mut rules, &mut results);
    }
    vet_results(&r.vetting, &mut rules, &mut results);
    let log = Log {
        schema: "https://json.schemastore.org/sarif-2.1.0.json",
        version: "2.1.0",
        runs: vec![Run {
            tool: Tool {
                driver: Driver {
                    name: "cargo-airlock",
                    version: r.environment.tool_version.clone(),
                    information_uri: "https://example.invalid/cargo-airlock",
                    rules: rules.into_values().collect(),
                },
            },
            results,
        }],
    };
    let mut text = serde_json::to_string_pretty(&log).unwrap_or_default();
    text.push('\n');
    text
}

/// One result per fuzz finding that is not fixed, and the rules they refer to.
fn fuzz_results(
    section: &FuzzSection,
    rules: &mut BTreeMap<String, Rule>,
    results: &mut Vec<SarifResult>,
) {
    for f in section.findings.iter().filter(|f| f.status != "fixed") {
        let rule_id = format!("fuzz/{}", f.kind);
        rules.entry(rule_id.clone()).or_insert_with(|| Rule {
            id: rule_id.clone(),
            name: None,
            short_description: Message {
                text: format!("Fuzzing found a {} crash", f.kind),
            },
            default_configuration: None,
        });
        let location = f
            .frames
            .iter()
            .find_map(|fr| fr.location.as_deref())
            .and_then(file_and_line)
            .map(|(file, line)| Location::file(file.to_owned(), Some(line)));
        results.push(SarifResult {
            rule_id,
            level: Level::Error,
            message: Message {
                text: format!(
                    "{} in fuzz target {}: {}. Reproduce with: {}",
                    f.kind, f.target, f.message, f.repro
                ),
            },
            locations: location.into_iter().collect(),
            partial_fingerprints: BTreeMap::from([("airlockSignature", f.signature.clone())]),
            properties: json!({ "id": f.id, "status": f.status, "reproducer": f.reproducer }),
        });
    }
}

/// One result per provenance signal (located at the package's manifest), per finding of an
/// update's diff (at NEW's manifest) and per inventory signal (at its file and line in the
/// package, `NAME-VERSION/PATH`), with their rules.
fn vet_results(
    v: &VetSections,
    rules: &mut BTreeMap<String, Rule>,
    results: &mut Vec<SarifResult>,
) {
    let mut rule = |id: &str, what: &str| {
        rules.entry(id.to_owned()).or_insert_with(|| Rule {
            id: id.to_owned(),
            name: None,
            short_description: Message {
                text: what.to_owned(),
            },
            default_configuration: None,
        });
    };
    for p in &v.provenance {
        let package = match &p.version {
            Some(version) if p.exists => format!("{}-{version}", p.name),
            _ => p.name.clone(),
        };
        for s in &p.signals {
            let id = format!("provenance/{}", s.code);
            rule(&id, s.code.description());
            results.push(SarifResult {
                partial_fingerprints: fingerprint("airlockSignal/v1", [&p.name, &id, &s.reason]),
                rule_id: id,
                level: Level::of(s.level),
                message: Message {
                    text: format!("{package}: {}", s.reason),
                },
                locations: vec![Location::file(format!("{package}/Cargo.toml"), None)],
                properties: json!({"crate": p.name, "version": p.version, "signal": s}),
            });
        }
    }
    if let Some(d) = &v.diff {
        for f in &d.findings {
            let id = format!("diff/{}", f.code);
            rule(
                &id,
                &format!("Update finding `{}`: new in the newer version", f.code),
            );
            results.push(SarifResult {
                partial_fingerprints: fingerprint(
                    "airlockDiff/v1",
                    [&d.name, &d.new, &id, &f.reason],
                ),
                rule_id: id,
                level: Level::of(f.level),
                message: Message {
                    text: format!("{} {} -> {}: {}", d.name, d.old, d.new, f.reason),
                },
                locations: vec![Location::file(
                    format!("{}-{}/Cargo.toml", d.name, d.new),
                    None,
                )],
                properties: json!({"crate": d.name, "old": d.old, "new": d.new, "finding": f}),
            });
        }
    }
    for inv in &v.inventory {
        for s in &inv.signals {
            let id = format!("inventory/{}", s.code.as_str());
            rule(
                &id,
                &format!("Static inventory signal `{}`", s.code.as_str()),
            );
            results.push(SarifResult {
                partial_fingerprints: fingerprint(
                    "airlockSignal/v1",
                    [&inv.name, &id, &s.path, &s.text],
                ),
                rule_id: id,
                level: Level::of(s.level),
                message: Message {
                    text: format!("{} {}: {}", inv.name, inv.version, s.reason),
                },
                locations: vec![Location::file(
                    format!("{}-{}/{}", inv.name, inv.version, s.path),
                    (s.line > 0).then_some(s.line as u64),
                )],
                properties: json!({"crate": inv.name, "version": inv.version, "signal": s}),
            });
        }
    }
}

/// `file:line[:col]` split into the file and its line (1 when the line does not parse).
fn file_and_line(location: &str) -> Option<(&str, u64)> {
    let mut parts = location.rsplitn(3, ':');
    let last = parts.next()?;
    let mid = parts.next()?;
    let (file, line) = match parts.next() {
        Some(file) => (file, mid),
        None => (mid, last),
    };
    Some((file, line.parse::<u64>().unwrap_or(1)))
}

/// A partial fingerprint named `key`: a 64-bit FNV-1a hash (stable across Rust versions, unlike
/// `std`'s hasher) of `parts`, as 16 hex digits.
fn fingerprint<const N: usize>(
    key: &'static str,
    parts: [&str; N],
) -> BTreeMap<&'static str, String> {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        // A separator no part contains keeps ("ab", "c") apart from ("a", "bc").
        for byte in part.bytes().chain([0xff]) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    BTreeMap::from([(key, format!("{hash:016x}"))])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_location_splits_into_file_and_line() {
        assert_eq!(file_and_line("src/lib.rs:12:5"), Some(("src/lib.rs", 12)));
        assert_eq!(file_and_line("src/lib.rs:12"), Some(("src/lib.rs", 12)));
        assert_eq!(file_and_line("src/lib.rs"), None);
    }

    #[test]
    fn fingerprints_separate_their_parts() {
        assert_eq!(fingerprint("k", ["ab", "c"]), fingerprint("k", ["ab", "c"]));
        assert_ne!(fingerprint("k", ["ab", "c"]), fingerprint("k", ["a", "bc"]));
        assert_eq!(fingerprint("k", ["x"])["k"].len(), 16);
    }
}
