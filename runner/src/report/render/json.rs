//! `report.json`: the report as pretty-printed JSON (schema `airlock.report/1`).

use crate::report::model::{Report, SCHEMA};

/// Renders the report as JSON.
pub(super) fn render(report: &Report) -> String {
    let mut text = serde_json::to_string_pretty(report)
        .unwrap_or_else(|e| format!("{{\"schema\":\"{}\",\"errors\":[\"{e}\"]}}", SCHEMA));
    text.push('\n');
    text
}
