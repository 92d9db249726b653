//! `report.md`: the human summary. Suspicious and failed crates first, each with what it
//! attempted; clean crates in one table at the end.

use std::fmt::Write;

use super::event_detail;
use crate::report::fuzz_section::FuzzSection;
use crate::report::model::{Report, Verdict};

fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

/// Renders the report as Markdown.
pub(super) fn render(r: &Report) -> String {
    let mut out = String::new();
    let s = &r.summary;
    let _ = writeln!(out, "# cargo-airlock {} report\n", r.command);
    if let Some(ws) = &r.workspace {
        let _ = writeln!(out, "Workspace: `{}`\n", ws.display());
    }
    let _ = writeln!(
        out,
        "**{} crates: {} clean, {} suspicious, {} failed.** {} build scripts and {} proc-macro expansions ran in the sandbox; the build {}.\n",
        s.crates,
        s.clean,
        s.suspicious,
        s.failed,
        s.build_scripts_run,
        s.proc_macro_runs,
        if s.build_succeeded { "succeeded" } else { "failed" }
    );
    for e in &r.errors {
        let _ = writeln!(out, "> **Error:** {}\n", e.replace('\n', "\n> "));
    }
    let mut notable: Vec<_> = r
        .crates
        .iter()
        .filter(|c| c.verdict != Verdict::Clean)
        .collect();
    notable.sort_by(|a, b| b.verdict.cmp(&a.verdict).then(a.name.cmp(&b.name)));
    for c in notable {
        let _ = writeln!(
            out,
            "## {} {} — {}\n",
            c.name,
            c.version,
            c.verdict.as_str()
        );
        let _ = writeln!(out, "Source: {} (`{}`)\n", c.source, c.location);
        for reason in &c.reasons {
            let _ = writeln!(out, "- {reason}");
        }
        if !c.reasons.is_empty() {
            out.push('\n');
        }
        let events: Vec<_> = c.notable_events().collect();
        if !events.is_empty() {
            let _ = writeln!(
                out,
                "| phase | decision | kind/action | detail |\n|---|---|---|---|"
            );
            for e in events {
                let _ = writeln!(
                    out,
                    "| {} | {} | {}/{} | {} |",
                    e.phase.as_str(),
                    e.decision.as_str(),
                    e.kind.as_str(),
                    cell(&e.action),
                    cell(&event_detail(e))
                );
            }
            out.push('\n');
        }
    }
    if r.crates.iter().any(|c| !c.exceptions.is_empty()) {
        let _ = writeln!(out, "## Granted exceptions (airlock.toml)\n");
        for c in &r.crates {
            for g in &c.exceptions {
                let _ = writeln!(out, "- {}: {}", c.label(), g.text());
            }
        }
        out.push('\n');
    }
    let _ = writeln!(out, "## All crates\n");
    let _ = writeln!(
        out,
        "| crate | source | verdict | build script | events |\n|---|---|---|---|---|"
    );
    for c in &r.crates {
        let script = match (c.build_script.exit_code, c.build_script.duration_ms) {
            (Some(code), Some(ms)) => format!("exit {code}, {ms} ms"),
            _ => format!("{:?}", c.build_script.status).to_lowercase(),
        };
        let _ = writeln!(
            out,
            "| {} {} | {} | {} | {} | {} |",
            c.name,
            c.version,
            c.source,
            c.verdict.as_str(),
            script,
            c.events.len()
        );
    }
    let env = &r.environment;
    let _ =
        writeln!(
        out,
        "\n## Environment\n\n- kernel {}, Landlock ABI {}, profile `{}`{}\n- cargo-airlock {}, {}",
        env.kernel,
        env.landlock_abi.map_or_else(|| "none".to_owned(), |a| a.to_string()),
        env.profile,
        if env.degraded { ", **degraded** (--allow-degraded)" } else { "" },
        env.tool_version,
        env.toolchain
    );
    if let Some(fuzz) = &r.fuzz {
        out.push('\n');
        out.push_str(&fuzz_section(fuzz));
    }
    out
}

/// The Markdown of the section (a `## Fuzzing` heading and two tables).
fn fuzz_section(section: &FuzzSection) -> String {
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
                "not instrumented (no clang: no coverage and no memory errors inside C, only \
                 gcc's stack protector and fortify abort on a smash; `apt install clang`)"
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
        if !f.also_reached_by.is_empty() {
            out.push_str(&format!(
                "  - also reached by: `{}`\n",
                f.also_reached_by.join("`, `")
            ));
        }
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
