//! `report.html`: one self-contained file (inline style, no scripts) a person can open.

use std::fmt::Write;

use super::event_detail;
use crate::report::fuzz_section::FuzzSection;
use crate::report::model::{Report, Verdict};

fn esc(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Renders the report as a standalone HTML page.
pub(super) fn render(r: &Report) -> String {
    let s = &r.summary;
    let mut out = String::from(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>cargo-airlock report</title><style>\
body{font-family:system-ui,sans-serif;margin:2em;max-width:80em}table{border-collapse:collapse;width:100%}\
td,th{border:1px solid #ccc;padding:.3em .5em;text-align:left;font-size:.9em}\
.suspicious{background:#fdd}.failed{background:#ffd}.not-run{background:#eee}.clean{background:#efe}code{font-size:.9em}\
</style></head><body>\n",
    );
    let _ = writeln!(
        out,
        "<h1>cargo-airlock {} report</h1>{}",
        esc(&r.command),
        super::vet::html(&r.vetting)
    );
    if super::vet::build_ran(&r.vetting) {
        let _ = writeln!(
            out,
            "<p><b>{} crates: {} clean, {} suspicious, {} failed, {} not run.</b> {} build scripts and {} proc-macro expansions ran sandboxed; the build {}.</p>",
            s.crates, s.clean, s.suspicious, s.failed, s.not_run, s.build_scripts_run, s.proc_macro_runs,
            if s.build_succeeded { "succeeded" } else { "failed" }
        );
    } else {
        out.push_str("<p>The build phase did not run (see Phases).</p>\n");
    }
    for e in &r.errors {
        let _ = writeln!(out, "<p class=\"failed\"><b>Error:</b> {}</p>", esc(e));
    }
    for c in r.crates.iter().filter(|c| c.verdict != Verdict::Clean) {
        let _ = writeln!(
            out,
            "<h2 class=\"{v}\">{} {} — {v}</h2><p>{} <code>{}</code></p><ul>",
            esc(&c.name),
            esc(&c.version),
            esc(&c.source),
            esc(&c.location),
            v = c.verdict.as_str()
        );
        for reason in &c.reasons {
            let _ = writeln!(out, "<li>{}</li>", esc(reason));
        }
        out.push_str("</ul><table><tr><th>phase</th><th>decision</th><th>kind/action</th><th>detail</th></tr>\n");
        for e in c.notable_events() {
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}/{}</td><td><code>{}</code></td></tr>",
                e.phase.as_str(),
                e.decision.as_str(),
                e.kind.as_str(),
                esc(&e.action),
                esc(&event_detail(e))
            );
        }
        out.push_str("</table>\n");
    }
    if r.crates.iter().any(|c| !c.exceptions.is_empty()) {
        out.push_str("<h2>Granted exceptions (airlock.toml)</h2><ul>\n");
        for c in &r.crates {
            for g in &c.exceptions {
                let _ = writeln!(out, "<li>{}: {}</li>", esc(&c.label()), esc(&g.text()));
            }
        }
        out.push_str("</ul>\n");
    }
    out.push_str("<h2>All crates</h2><table><tr><th>crate</th><th>source</th><th>verdict</th><th>events</th></tr>\n");
    for c in &r.crates {
        let _ = writeln!(
            out,
            "<tr class=\"{v}\"><td>{} {}</td><td>{}</td><td>{v}</td><td>{}</td></tr>",
            esc(&c.name),
            esc(&c.version),
            esc(&c.source),
            c.events.len(),
            v = c.verdict.as_str()
        );
    }
    out.push_str("</table>\n");
    if let Some(fuzz) = &r.fuzz {
        out.push_str(&fuzz_section(fuzz));
    }
    let env = &r.environment;
    let _ = writeln!(
        out,
        "<h2>Environment</h2><p>kernel {}, Landlock ABI {}, profile <code>{}</code>{}; cargo-airlock {}, {}</p></body></html>",
        esc(&env.kernel),
        env.landlock_abi.map_or_else(|| "none".to_owned(), |a| a.to_string()),
        esc(&env.profile),
        if env.degraded { ", degraded" } else { "" },
        esc(&env.tool_version),
        esc(&env.toolchain)
    );
    out
}

/// A single self-contained HTML page for the section.
fn fuzz_section(section: &FuzzSection) -> String {
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
