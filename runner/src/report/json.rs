//! `report.json`: the report as pretty-printed JSON (schema `airlock.report/1`).

use super::Report;

/// Renders the report as JSON.
pub fn render(report: &Report) -> String {
    let mut text = serde_json::to_string_pretty(report)
        .unwrap_or_else(|e| format!("{{\"schema\":\"{}\",\"errors\":[\"{e}\"]}}", super::SCHEMA));
    text.push('\n');
    text
}
