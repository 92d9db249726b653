//! `report.sarif`: SARIF 2.1.0 for code-scanning dashboards. One result per denied or flagged
//! event (directives and leaks included); the rule id is `airlock/KIND/ACTION`, the location the
//! crate's manifest. Each granted `airlock.toml` exception is a `note`-level result
//! (`airlock/exception/KIND`), so that a loosened sandbox stays visible where findings are read.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::{decision_str, event_detail, exception_text, kind_str, phase_str, Report};

/// Renders the report as SARIF 2.1.0.
pub fn render(r: &Report) -> String {
    let mut rules: BTreeMap<String, Value> = BTreeMap::new();
    let mut results = Vec::new();
    for c in &r.crates {
        let uri = if c.source == "path" {
            format!("{}/Cargo.toml", c.location)
        } else {
            format!("{}-{}/Cargo.toml", c.name, c.version)
        };
        for e in c.notable_events() {
            let kind = kind_str(e);
            let id = format!("airlock/{kind}/{}", e.action);
            rules.entry(id.clone()).or_insert_with(|| {
                rule(
                    &id,
                    &format!("{kind}-{}", e.action),
                    &format!("A sandboxed {kind} attempt: {}", e.action),
                    "error",
                )
            });
            results.push(result(
                &id,
                "error",
                &format!(
                    "{} ({}): {} {kind}/{} {}",
                    c.label(),
                    phase_str(e),
                    decision_str(e.decision),
                    e.action,
                    event_detail(e)
                ),
                &uri,
                json!({"crate": c.label(), "verdict": c.verdict.as_str(), "event": e}),
            ));
        }
        for g in &c.exceptions {
            let id = format!("airlock/exception/{}", g.kind);
            rules.entry(id.clone()).or_insert_with(|| {
                rule(
                    &id,
                    &format!("exception-{}", g.kind),
                    &format!("An airlock.toml exception: {}", g.kind),
                    "note",
                )
            });
            results.push(result(
                &id,
                "note",
                &format!("{}: airlock.toml grants {}", c.label(), exception_text(g)),
                &uri,
                json!({"crate": c.label(), "verdict": c.verdict.as_str(), "exception": g}),
            ));
        }
    }
    if let Some(fuzz) = &r.fuzz {
        let (fuzz_results, fuzz_rules) = crate::fuzz::render::sarif(fuzz);
        for rule in fuzz_rules {
            if let Some(id) = rule["id"].as_str() {
                rules.entry(id.to_owned()).or_insert(rule);
            }
        }
        results.extend(fuzz_results);
    }
    let sarif = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "cargo-airlock",
                "version": r.environment.tool_version,
                "informationUri": "https://example.invalid/cargo-airlock",
                "rules": rules.into_values().collect::<Vec<_>>()
            }},
            "results": results
        }]
    });
    let mut text = serde_json::to_string_pretty(&sarif).unwrap_or_default();
    text.push('\n');
    text
}

/// A SARIF rule: its id, name, one-line description and default level.
fn rule(id: &str, name: &str, description: &str, level: &str) -> serde_json::Value {
    json!({
        "id": id,
        "name": name,
        "shortDescription": {"text": description},
        "defaultConfiguration": {"level": level}
    })
}

/// A SARIF result of rule `id`, located at the crate's manifest `uri`.
fn result(
    id: &str,
    level: &str,
    message: &str,
    uri: &str,
    properties: serde_json::Value,
) -> serde_json::Value {
    json!({
        "ruleId": id,
        "level": level,
        "message": {"text": message},
        "locations": [{"physicalLocation": {"artifactLocation": {"uri": uri}}}],
        "properties": properties
    })
}
