//! The opening of a `vet` report in Markdown and HTML: the verdict and its reasons, then
//! provenance, inventory, an update's diff and which phases ran. The build's crates follow (the renderers' usual
//! sections). Only presents: the verdict and reasons come from the report.

use std::fmt::Write;

use inventory::CrateInventory;

use crate::report::diff_section::VetDiff;
use crate::report::vet_section::{
    PhaseRecord, PhaseStatus, Provenance, Reason, VetPhase, VetSections,
};

fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

fn esc(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn reason_location(r: &Reason) -> String {
    r.location.clone().unwrap_or_default()
}

fn phase_line(p: &PhaseRecord) -> (String, String) {
    let mut note = p.reason.clone().unwrap_or_default();
    if !p.skipped_crates.is_empty() {
        if !note.is_empty() {
            note.push_str("; ");
        }
        note.push_str(&format!("not run for {}", p.skipped_crates.join(", ")));
    }
    let status = match p.duration_ms {
        Some(ms) => format!("{} ({ms} ms)", p.status.as_str()),
        None => p.status.as_str().to_owned(),
    };
    (status, note)
}

fn provenance_facts(p: &Provenance) -> String {
    if !p.exists {
        return "does not exist".to_owned();
    }
    let mut facts = vec![format!("{} versions", p.versions)];
    if let Some(t) = &p.first_published {
        facts.push(format!("first published {t}"));
    }
    if let Some(t) = &p.published {
        facts.push(format!("this version {t}"));
    }
    if p.yanked {
        facts.push("yanked".to_owned());
    }
    facts.join(", ")
}

fn capabilities(inv: &CrateInventory) -> String {
    inv.capabilities
        .iter()
        .map(|(kind, c)| format!("{} ({})", kind.as_str(), c.count))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Whether the report has a build to show: not a `vet` report, or one whose build phase ran.
pub(super) fn build_ran(v: &VetSections) -> bool {
    v.verdict.is_none()
        || v.phases
            .iter()
            .any(|p| p.phase == VetPhase::Build && p.status != PhaseStatus::Skipped)
}

/// The non-empty lists of an update's diff, with their titles.
fn diff_lists(d: &VetDiff) -> Vec<(&'static str, Vec<String>)> {
    let build = d
        .build_script
        .iter()
        .map(|b| format!("build script {b}"))
        .collect();
    [
        ("build script", build),
        ("capabilities", d.capabilities.clone()),
        ("signals", d.signals.clone()),
        ("notable events", d.events.clone()),
        ("dependencies", d.dependencies.clone()),
        ("files", d.files.clone()),
    ]
    .into_iter()
    .filter(|(_, items)| !items.is_empty())
    .collect()
}

/// The Markdown opening (empty when the report has no verdict, i.e. is not a `vet` report).
pub(super) fn markdown(v: &VetSections) -> String {
    let mut out = String::new();
    let Some(verdict) = &v.verdict else {
        return out;
    };
    let _ = writeln!(out, "## Verdict: {}\n", verdict.verdict.as_str());
    for c in &verdict.crates {
        let _ = writeln!(
            out,
            "- {}{}: **{}**",
            c.name,
            c.version
                .as_deref()
                .map(|v| format!(" {v}"))
                .unwrap_or_default(),
            c.verdict.as_str()
        );
    }
    out.push('\n');
    if !verdict.reasons.is_empty() {
        let _ = writeln!(
            out,
            "| level | phase | crate | code | where | evidence |\n|---|---|---|---|---|---|"
        );
        for r in &verdict.reasons {
            let _ = writeln!(
                out,
                "| {} | {} | {} | `{}` | {} | {} |",
                r.level.as_str(),
                r.phase,
                cell(&r.krate),
                cell(&r.code),
                cell(&reason_location(r)),
                cell(&r.evidence)
            );
        }
        out.push('\n');
    }
    if !v.provenance.is_empty() {
        let _ = writeln!(out, "## Provenance\n");
        for p in &v.provenance {
            let _ = writeln!(
                out,
                "- **{}{}**: {}",
                p.name,
                p.version
                    .as_deref()
                    .map(|v| format!(" {v}"))
                    .unwrap_or_default(),
                provenance_facts(p)
            );
            for s in &p.signals {
                let _ = writeln!(
                    out,
                    "  - {} `{}`: {}",
                    s.level.as_str(),
                    s.code,
                    s.reason.replace('\n', " ")
                );
            }
        }
        out.push('\n');
    }
    if !v.inventory.is_empty() {
        let _ = writeln!(out, "## Inventory\n");
        for inv in &v.inventory {
            let _ = writeln!(
                out,
                "### {} {}\n\nCapabilities: {}\n",
                inv.name,
                inv.version,
                match capabilities(inv) {
                    c if c.is_empty() => "none".to_owned(),
                    c => c,
                }
            );
            if !inv.signals.is_empty() {
                let _ = writeln!(
                    out,
                    "| level | code | where | evidence |\n|---|---|---|---|"
                );
                for s in &inv.signals {
                    let _ = writeln!(
                        out,
                        "| {} | `{}` | {}:{} | {} |",
                        s.level.as_str(),
                        s.code.as_str(),
                        cell(&s.path),
                        s.line,
                        cell(&s.reason)
                    );
                }
                out.push('\n');
            }
        }
    }
    if let Some(d) = &v.diff {
        let _ = writeln!(out, "## Update {} {} -> {}\n", d.name, d.old, d.new);
        for f in &d.findings {
            let _ = writeln!(out, "- {} `{}`: {}", f.level.as_str(), f.code, f.reason);
        }
        if !d.findings.is_empty() {
            out.push('\n');
        }
        for (what, items) in diff_lists(d) {
            let _ = writeln!(out, "Added in {}: {what}\n", d.new);
            for item in items {
                let _ = writeln!(out, "- `{}`", item.replace('`', "'"));
            }
            out.push('\n');
        }
    }
    if !v.phases.is_empty() {
        let _ = writeln!(out, "## Phases\n\n| phase | status | note |\n|---|---|---|");
        for p in &v.phases {
            let (status, note) = phase_line(p);
            let _ = writeln!(out, "| {} | {} | {} |", p.phase, status, cell(&note));
        }
        out.push('\n');
    }
    let _ = writeln!(out, "## Build\n");
    out
}

/// The HTML opening (empty when the report is not a `vet` report).
pub(super) fn html(v: &VetSections) -> String {
    let mut out = String::new();
    let Some(verdict) = &v.verdict else {
        return out;
    };
    let _ = writeln!(
        out,
        "<h2 class=\"{v}\">Verdict: {v}</h2><ul>",
        v = verdict.verdict.as_str()
    );
    for c in &verdict.crates {
        let _ = writeln!(
            out,
            "<li class=\"{v}\">{}{}: <b>{v}</b></li>",
            esc(&c.name),
            esc(&c
                .version
                .as_deref()
                .map(|v| format!(" {v}"))
                .unwrap_or_default()),
            v = c.verdict.as_str()
        );
    }
    out.push_str("</ul>\n");
    if !verdict.reasons.is_empty() {
        out.push_str("<table><tr><th>level</th><th>phase</th><th>crate</th><th>code</th><th>where</th><th>evidence</th></tr>\n");
        for r in &verdict.reasons {
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
                r.level.as_str(),
                r.phase,
                esc(&r.krate),
                esc(&r.code),
                esc(&reason_location(r)),
                esc(&r.evidence)
            );
        }
        out.push_str("</table>\n");
    }
    if !v.provenance.is_empty() {
        out.push_str("<h2>Provenance</h2><ul>\n");
        for p in &v.provenance {
            let _ = write!(
                out,
                "<li><b>{}{}</b>: {}<ul>",
                esc(&p.name),
                esc(&p
                    .version
                    .as_deref()
                    .map(|v| format!(" {v}"))
                    .unwrap_or_default()),
                esc(&provenance_facts(p))
            );
            for s in &p.signals {
                let _ = write!(
                    out,
                    "<li>{} <code>{}</code>: {}</li>",
                    s.level.as_str(),
                    s.code,
                    esc(&s.reason)
                );
            }
            out.push_str("</ul></li>\n");
        }
        out.push_str("</ul>\n");
    }
    if !v.inventory.is_empty() {
        out.push_str("<h2>Inventory</h2>\n");
        for inv in &v.inventory {
            let _ = writeln!(
                out,
                "<h3>{} {}</h3><p>Capabilities: {}</p>",
                esc(&inv.name),
                esc(&inv.version),
                esc(&capabilities(inv))
            );
            if !inv.signals.is_empty() {
                out.push_str(
                    "<table><tr><th>level</th><th>code</th><th>where</th><th>evidence</th></tr>\n",
                );
                for s in &inv.signals {
                    let _ = writeln!(
                        out,
                        "<tr><td>{}</td><td><code>{}</code></td><td>{}:{}</td><td>{}</td></tr>",
                        s.level.as_str(),
                        s.code.as_str(),
                        esc(&s.path),
                        s.line,
                        esc(&s.reason)
                    );
                }
                out.push_str("</table>\n");
            }
        }
    }
    if let Some(d) = &v.diff {
        let _ = writeln!(
            out,
            "<h2>Update {} {} -&gt; {}</h2><ul>",
            esc(&d.name),
            esc(&d.old),
            esc(&d.new)
        );
        for f in &d.findings {
            let _ = writeln!(
                out,
                "<li>{} <code>{}</code>: {}</li>",
                f.level.as_str(),
                esc(&f.code),
                esc(&f.reason)
            );
        }
        out.push_str("</ul>\n");
        for (what, items) in diff_lists(d) {
            let _ = write!(out, "<h3>Added in {}: {what}</h3><ul>", esc(&d.new));
            for item in items {
                let _ = write!(out, "<li><code>{}</code></li>", esc(&item));
            }
            out.push_str("</ul>\n");
        }
    }
    if !v.phases.is_empty() {
        out.push_str("<h2>Phases</h2><table><tr><th>phase</th><th>status</th><th>note</th></tr>\n");
        for p in &v.phases {
            let (status, note) = phase_line(p);
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                p.phase,
                esc(&status),
                esc(&note)
            );
        }
        out.push_str("</table>\n");
    }
    out.push_str("<h2>Build</h2>\n");
    out
}
