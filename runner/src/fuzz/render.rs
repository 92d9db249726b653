//! Renderings of the `fuzz` section: Markdown for people, SARIF results for code-scanning
//! dashboards. Renderers never decide anything: they print what the campaign found.

use serde_json::{json, Value};

use super::FuzzSection;

/// The Markdown of the section (a `## Fuzzing` heading and two tables).
pub fn markdown(section: &FuzzSection) -> String {
    let mut out = String::from("## Fuzzing\n\n");
    if let Some(i) = &section.instrumentation {
        out.push_str(&format!(
            "Toolchain `{}`, target `{}`, sanitizer `{}`, C code {}.\n\n",
            i.toolchain,
            i.triple,
            i.sanitizer,
            if i.c_instrumented {
                "instrumented (clang)"
            } else {
                "not instrumented (no clang)"
            }
        ));
    }
    out.push_str("| target | kind | item | status | runs | execs/s | coverage |\n|---|---|---|---|---:|---:|---:|\n");
    for t in &section.targets {
        let status = match &t.reason {
            Some(r) => format!("{} ({})", t.status, r.replace('|', "\\|")),
            None => t.status.clone(),
        };
        out.push_str(&format!(
            "| `{}` | {} | `{}` | {} | {} | {} | {} |\n",
            t.name, t.kind, t.item, status, t.runs, t.execs_per_sec, t.coverage
        ));
    }
    out.push('\n');
    if section.findings.is_empty() {
        out.push_str("No findings.\n");
        return out;
    }
    out.push_str("### Findings\n\n");
    for f in &section.findings {
        out.push_str(&format!(
            "- **{}** `{}` in `{}` ({}): {}\n  - signature: `{}`\n  - reproducer: `{}`{}\n  - reproduce: `{}`\n",
            f.id,
            f.kind,
            f.target,
            f.status,
            f.message.replace('\n', " "),
            f.signature,
            f.reproducer.display(),
            if f.minimized { " (minimized)" } else { "" },
            f.repro
        ));
        for frame in f.frames.iter().take(8) {
            out.push_str(&format!(
                "    - `{}`{}\n",
                frame.function,
                frame
                    .location
                    .as_ref()
                    .map(|l| format!(" at {l}"))
                    .unwrap_or_default()
            ));
        }
    }
    out
}

/// SARIF 2.1.0 results (one per finding that is not fixed) and the rules they refer to.
pub fn sarif(section: &FuzzSection) -> (Vec<Value>, Vec<Value>) {
    let mut rules: Vec<Value> = Vec::new();
    let mut results = Vec::new();
    for f in section.findings.iter().filter(|f| f.status != "fixed") {
        let rule_id = format!("fuzz/{}", f.kind);
        if !rules.iter().any(|r| r["id"] == rule_id) {
            rules.push(json!({
                "id": rule_id,
                "shortDescription": { "text": format!("Fuzzing found a {} crash", f.kind) },
            }));
        }
        let location = f
            .frames
            .iter()
            .find_map(|fr| fr.location.as_ref())
            .and_then(|l| {
                let mut parts = l.rsplitn(3, ':');
                let last = parts.next()?;
                let mid = parts.next()?;
                let (file, line) = match parts.next() {
                    Some(file) => (file, mid),
                    None => (mid, last),
                };
                Some(json!({
                    "physicalLocation": {
                        "artifactLocation": { "uri": file },
                        "region": { "startLine": line.parse::<u64>().unwrap_or(1) }
                    }
                }))
            });
        let mut result = json!({
            "ruleId": rule_id,
            "level": "error",
            "message": { "text": format!("{} in fuzz target {}: {}. Reproduce with: {}", f.kind, f.target, f.message, f.repro) },
            "partialFingerprints": { "airlockSignature": f.signature },
            "properties": { "id": f.id, "status": f.status, "reproducer": f.reproducer },
        });
        if let Some(loc) = location {
            result["locations"] = json!([loc]);
        }
        results.push(result);
    }
    (results, rules)
}

/// A single self-contained HTML page for the section.
pub fn html(section: &FuzzSection) -> String {
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    let mut rows = String::new();
    for t in &section.targets {
        rows.push_str(&format!(
            "<tr><td><code>{}</code></td><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&t.name), esc(&t.kind), esc(&t.item), esc(&t.status), t.runs, t.execs_per_sec, t.coverage
        ));
    }
    let mut findings = String::new();
    for f in &section.findings {
        let frames: String = f
            .frames
            .iter()
            .take(12)
            .map(|fr| {
                format!(
                    "<li><code>{}</code> {}</li>",
                    esc(&fr.function),
                    esc(fr.location.as_deref().unwrap_or(""))
                )
            })
            .collect();
        findings.push_str(&format!(
            "<section class=\"finding {}\"><h3>{} <span>{}</span> in <code>{}</code> ({})</h3><p>{}</p><p>signature <code>{}</code></p><ol>{}</ol><pre>{}</pre></section>",
            esc(&f.status), esc(&f.id), esc(&f.kind), esc(&f.target), esc(&f.status), esc(&f.message), esc(&f.signature), frames, esc(&f.repro)
        ));
    }
    if findings.is_empty() {
        findings.push_str("<p>No findings.</p>");
    }
    format!(
        "<h2>Fuzzing</h2><table><tr><th>target</th><th>kind</th><th>item</th><th>status</th><th>runs</th><th>execs/s</th><th>coverage</th></tr>{rows}</table><h2>Findings</h2>{findings}"
    )
}
