//! `report.md`: the human summary. Suspicious and failed crates first, each with what it
//! attempted; clean crates in one table at the end.

use std::fmt::Write;

use super::{decision_str, event_detail, exception_text, kind_str, phase_str, Report, Verdict};

fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

/// Renders the report as Markdown.
pub fn render(r: &Report) -> String {
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
                    phase_str(e),
                    decision_str(e.decision),
                    kind_str(e),
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
                let _ = writeln!(out, "- {}: {}", c.label(), exception_text(g));
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
        out.push_str(&crate::fuzz::render::markdown(fuzz));
    }
    out
}
