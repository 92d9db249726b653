//! `report.html`: one self-contained file (inline style, no scripts, readable on a phone) in
//! the order a reviewer reads: the verdict, the findings, the suspicious crates, then what
//! each crate did (folded), the fuzz targets, the environment, and skipped targets last.
//! Each part is a `<section id=...>`.

use std::fmt::Write;

use super::account::{self, Account, Input};
use crate::report::fuzz_section::{Finding, FuzzSection};
use crate::report::model::{CrateReport, Report, Verdict};

fn esc(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const STYLE: &str = "\
body{font-family:system-ui,sans-serif;margin:1em;max-width:80em;line-height:1.4;overflow-wrap:break-word}\
.wide{overflow-x:auto;max-width:100%}table{border-collapse:collapse;min-width:60%}\
td,th{border:1px solid #ccc;padding:.3em .5em;text-align:left;vertical-align:top;font-size:.9em}\
pre{white-space:pre-wrap;overflow-wrap:anywhere;background:#f6f6f6;padding:.5em;font-size:.85em}\
pre.hex{white-space:pre;overflow-x:auto}\
details{border:1px solid #ddd;margin:.3em 0;padding:.2em .5em}summary{cursor:pointer}\
.suspicious{background:#fdd}.failed{background:#ffd}.not-run{background:#eee}.clean{background:#efe}\
.new{border-left:4px solid #c00;padding-left:.5em}code{font-size:.9em}";

/// Renders the report as a standalone HTML page.
pub(super) fn render(r: &Report) -> String {
    let mut out = format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>cargo-airlock {cmd} report</title><style>{STYLE}</style></head><body>\n\
<h1>cargo-airlock {cmd} report</h1>\n",
        cmd = esc(&r.command)
    );
    if let Some(ws) = &r.workspace {
        let _ = writeln!(
            out,
            "<p>Workspace <code>{}</code></p>",
            esc(&ws.display().to_string())
        );
    }
    verdict(&mut out, r);
    if let Some(fuzz) = r.fuzz.as_ref().filter(|f| !f.findings.is_empty()) {
        out.push_str("<section id=\"findings\"><h2>Findings</h2>\n");
        for f in &fuzz.findings {
            finding(&mut out, f);
        }
        out.push_str("</section>\n");
    }
    suspicious(&mut out, r);
    if r.crates.iter().any(|c| !c.exceptions.is_empty()) {
        out.push_str("<section id=\"exceptions\"><h2>Granted exceptions (airlock.toml)</h2><ul>\n");
        for c in &r.crates {
            for g in &c.exceptions {
                let _ = writeln!(out, "<li>{}: {}</li>", esc(&c.label()), esc(&g.text()));
            }
        }
        out.push_str("</ul></section>\n");
    }
    if !r.crates.is_empty() {
        out.push_str("<section id=\"crates\"><h2>What each crate did</h2>\n");
        for c in &r.crates {
            crate_account(&mut out, c);
        }
        out.push_str("</section>\n");
    }
    if let Some(fuzz) = &r.fuzz {
        targets(&mut out, fuzz);
    }
    let env = &r.environment;
    let _ = writeln!(
        out,
        "<section id=\"environment\"><h2>Environment</h2><p>kernel {}, Landlock ABI {}, profile <code>{}</code>{}; cargo-airlock {}, {}</p></section>",
        esc(&env.kernel),
        env.landlock_abi.map_or_else(|| "none".to_owned(), |a| a.to_string()),
        esc(&env.profile),
        if env.degraded { ", degraded" } else { "" },
        esc(&env.tool_version),
        esc(&env.toolchain)
    );
    if let Some(fuzz) = &r.fuzz {
        skipped(&mut out, fuzz);
    }
    out.push_str("</body></html>\n");
    out
}

/// The verdict and its reasons: vet's verdict when there is one, the counts, the crates named
/// by verdict, the campaign's counts, the errors.
fn verdict(out: &mut String, r: &Report) {
    out.push_str("<section id=\"verdict\">");
    let vet = super::vet::html(&r.vetting);
    if vet.is_empty() {
        out.push_str("<h2>Summary</h2>\n");
    }
    out.push_str(&wrap_tables(&vet));
    if super::vet::build_ran(&r.vetting) {
        if let Some(counts) = account::crate_counts(r) {
            let s = &r.summary;
            let _ = writeln!(
                out,
                "<p><b>{counts}</b> {} build scripts and {} proc-macro expansions ran sandboxed; the build {}.</p>",
                s.build_scripts_run,
                s.proc_macro_runs,
                if s.build_succeeded { "succeeded" } else { "failed" }
            );
        }
        let named = account::named_verdicts(r);
        if !named.is_empty() {
            out.push_str("<ul>");
            for (v, names) in named {
                let _ = write!(
                    out,
                    "<li class=\"{v}\"><b>{v}</b>: {}</li>",
                    esc(&names.join(", ")),
                    v = v.as_str()
                );
            }
            out.push_str("</ul>\n");
        }
    } else {
        out.push_str("<p>The build phase did not run (see Phases).</p>\n");
    }
    if let Some(fuzz) = &r.fuzz {
        let _ = writeln!(out, "<p><b>{}</b></p>", esc(&account::fuzz_counts(fuzz)));
    }
    for e in &r.errors {
        let _ = writeln!(out, "<p class=\"failed\"><b>Error:</b> {}</p>", esc(e));
    }
    out.push_str("</section>\n");
}

/// Puts every table of `html` in a scrolling container (vet's opening writes bare tables).
fn wrap_tables(html: &str) -> String {
    html.replace("<table>", "<div class=\"wide\"><table>")
        .replace("</table>", "</table></div>")
}

/// One finding: what crashed, where in the crate under test, the input, how to rerun it.
fn finding(out: &mut String, f: &Finding) {
    let _ = write!(
        out,
        "<article class=\"finding {status}\" id=\"finding-{id}\"><h3>{id}: {kind} in <code>{target}</code> ({status})</h3>\
<pre>{message}</pre>",
        id = esc(&f.id),
        kind = esc(&f.kind),
        target = esc(&f.target),
        status = esc(&f.status),
        message = esc(&f.message)
    );
    let frames = account::frames_under_test(f);
    if !frames.is_empty() {
        out.push_str("<h4>Frames in the crate under test</h4><ol>");
        for fr in frames {
            let _ = write!(
                out,
                "<li><code>{}</code>{}</li>",
                esc(&fr.function),
                fr.location
                    .as_deref()
                    .map(|l| format!(" at {}", esc(l)))
                    .unwrap_or_default()
            );
        }
        out.push_str("</ol>");
    }
    let input = Input::of(f);
    let _ = write!(
        out,
        "<h4>Crashing input</h4><p>{}</p>",
        esc(&input.caption())
    );
    if let Input::Read { text, hex, .. } = &input {
        let _ = write!(
            out,
            "<pre class=\"input\">{}</pre><pre class=\"hex\">{}</pre>",
            esc(text),
            esc(hex)
        );
    }
    let _ = writeln!(
        out,
        "<p>Reproducer <code>{}</code>{}; signature <code>{}</code>{}{}</p><pre class=\"repro\">{}</pre></article>",
        esc(&f.reproducer.display().to_string()),
        if f.minimized { " (minimized)" } else { "" },
        esc(&f.signature),
        f.found_after_secs
            .map(|s| format!("; found after {s} s of fuzzing"))
            .unwrap_or_default(),
        if f.also_reached_by.is_empty() {
            String::new()
        } else {
            format!("; also reached by <code>{}</code>", esc(&f.also_reached_by.join(", ")))
        },
        esc(&f.repro)
    );
}

/// The suspicious, failed and not-run crates, each with what it tried.
fn suspicious(out: &mut String, r: &Report) {
    let mut notable: Vec<&CrateReport> = r
        .crates
        .iter()
        .filter(|c| c.verdict != Verdict::Clean)
        .collect();
    if notable.is_empty() {
        return;
    }
    notable.sort_by(|a, b| b.verdict.cmp(&a.verdict).then(a.name.cmp(&b.name)));
    out.push_str("<section id=\"suspicious\"><h2>Crates to look at</h2>\n");
    for c in notable {
        let _ = writeln!(
            out,
            "<h3 class=\"{v}\">{} {} — {v}</h3><p>{} <code>{}</code></p><ul>",
            esc(&c.name),
            esc(&c.version),
            esc(&c.source),
            esc(&c.location),
            v = c.verdict.as_str()
        );
        for reason in &c.reasons {
            let _ = writeln!(out, "<li>{}</li>", esc(reason));
        }
        out.push_str("</ul>\n");
        let events: Vec<_> = c.notable_events().collect();
        if events.is_empty() {
            continue;
        }
        out.push_str("<div class=\"wide\"><table><tr><th>phase</th><th>decision</th><th>kind/action</th><th>detail</th></tr>\n");
        for e in events {
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}/{}</td><td><code>{}</code></td></tr>",
                e.phase.as_str(),
                e.decision.as_str(),
                e.kind.as_str(),
                esc(&e.action),
                esc(&super::event_detail(e))
            );
        }
        out.push_str("</table></div>\n");
    }
    out.push_str("</section>\n");
}

/// One crate's account, folded: its build script, programs run, files written, tests, directives,
/// network attempts and anything else its runs recorded.
fn crate_account(out: &mut String, c: &CrateReport) {
    let account = Account::of(c);
    let _ = write!(
        out,
        "<details class=\"crate\"><summary><span class=\"{v}\">{v}</span> <b>{}</b> — {}; {} events</summary><p>{} <code>{}</code></p>",
        esc(&c.label()),
        esc(&account::script_line(c)),
        c.events.len(),
        esc(&c.source),
        esc(&c.location),
        v = c.verdict.as_str()
    );
    if !account.programs.is_empty() {
        out.push_str("<h4>Programs run</h4><ul>");
        for p in &account.programs {
            let _ = write!(
                out,
                "<li><code>{}</code> {}</li>",
                esc(&p.path),
                esc(&p.counts())
            );
        }
        out.push_str("</ul>");
    }
    let lists = [
        ("Files written", &account.writes),
        ("Network attempts", &account.network),
        ("Other events", &account.other),
    ];
    for (title, events) in lists {
        if events.is_empty() {
            continue;
        }
        let _ = write!(out, "<h4>{title}</h4><ul>");
        for e in events {
            let _ = write!(
                out,
                "<li><code>{}</code></li>",
                esc(&account::event_line(e))
            );
        }
        out.push_str("</ul>");
    }
    if !c.tests.is_empty() {
        let _ = write!(
            out,
            "<h4>Tests: {}</h4><ul>",
            esc(&account::tests_summary(c))
        );
        for t in &c.tests {
            let class = if t.passed { "" } else { " class=\"failed\"" };
            let _ = write!(
                out,
                "<li{class}><code>{}</code></li>",
                esc(&account::test_line(t))
            );
        }
        out.push_str("</ul>");
    }
    if !c.directives.is_empty() {
        out.push_str("<h4>Directives</h4><ul>");
        for d in &c.directives {
            let _ = write!(
                out,
                "<li><code>{}={}</code>{}</li>",
                esc(&d.key),
                esc(&d.value),
                d.flagged
                    .as_deref()
                    .map(|f| format!(" — <b>flagged</b>: {}", esc(f)))
                    .unwrap_or_default()
            );
        }
        out.push_str("</ul>");
    }
    if account.is_empty() && c.directives.is_empty() && c.tests.is_empty() {
        out.push_str("<p>Its runs recorded no events and printed no directives.</p>");
    }
    out.push_str("</details>\n");
}

/// The campaign's targets that were built or failed.
fn targets(out: &mut String, section: &FuzzSection) {
    let _ = write!(out, "<section id=\"fuzz-targets\"><h2>Fuzz targets</h2>");
    if let Some(i) = &section.instrumentation {
        let _ = write!(
            out,
            "<p>Toolchain <code>{}</code>, target <code>{}</code>, sanitizer <code>{}</code>, C code {}.</p>",
            esc(&i.toolchain),
            esc(&i.triple),
            esc(&i.sanitizer),
            if i.c_instrumented { "instrumented (clang)" } else { "not instrumented (no clang)" }
        );
    }
    out.push_str("<div class=\"wide\"><table><tr><th>target</th><th>kind</th><th>item</th><th>status</th><th>runs</th><th>execs/s</th><th>coverage</th></tr>\n");
    for t in section.targets.iter().filter(|t| t.status != "skipped") {
        let _ = writeln!(
            out,
            "<tr><td><code>{}</code></td><td>{}</td><td><code>{}</code></td><td>{}{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&t.name),
            esc(&t.kind),
            esc(&t.item),
            esc(&t.status),
            t.reason.as_deref().map(|r| format!(" ({})", esc(r))).unwrap_or_default(),
            t.runs,
            t.execs_per_sec,
            t.coverage
        );
    }
    out.push_str("</table></div>");
    if section.findings.is_empty() {
        out.push_str("<p>No findings.</p>");
    }
    out.push_str("</section>\n");
}

/// The skipped targets with their reasons, last.
fn skipped(out: &mut String, section: &FuzzSection) {
    let skipped: Vec<_> = section
        .targets
        .iter()
        .filter(|t| t.status == "skipped")
        .collect();
    if skipped.is_empty() {
        return;
    }
    let _ = write!(
        out,
        "<section id=\"skipped\"><h2>Skipped targets ({})</h2><ul>",
        skipped.len()
    );
    for t in skipped {
        let _ = write!(
            out,
            "<li><code>{}</code> (<code>{}</code>): {}</li>",
            esc(&t.name),
            esc(&t.item),
            esc(t.reason.as_deref().unwrap_or("no reason recorded"))
        );
    }
    out.push_str("</ul></section>\n");
}
