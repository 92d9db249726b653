//! `report.md`: the human summary, in the order a reviewer reads: the verdict (or the counts
//! and the crates named by verdict), the findings, the suspicious and failed crates with what
//! they attempted, then what each crate did as a compact sub-list, the fuzz targets, the
//! environment, and skipped targets last.

use std::fmt::Write;

use super::account::{self, Account, Input};
use super::event_detail;
use crate::report::fuzz_section::{Finding, FuzzSection};
use crate::report::model::{CrateReport, Report, Verdict};

fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

/// `text` as inline code, whatever backticks it holds.
fn code(text: &str) -> String {
    let text = text.replace('\n', " ");
    if text.contains('`') {
        format!("`` {text} ``")
    } else {
        format!("`{text}`")
    }
}

/// Renders the report as Markdown.
pub(super) fn render(r: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# cargo-airlock {} report\n", r.command);
    if let Some(ws) = &r.workspace {
        let _ = writeln!(out, "Workspace: `{}`\n", ws.display());
    }
    verdict(&mut out, r);
    if let Some(fuzz) = r.fuzz.as_ref().filter(|f| !f.findings.is_empty()) {
        out.push_str("## Findings\n\n");
        for f in &fuzz.findings {
            finding(&mut out, f);
        }
    }
    suspicious(&mut out, r);
    if r.crates.iter().any(|c| !c.exceptions.is_empty()) {
        let _ = writeln!(out, "## Granted exceptions (airlock.toml)\n");
        for c in &r.crates {
            for g in &c.exceptions {
                let _ = writeln!(out, "- {}: {}", c.label(), g.text());
            }
        }
        out.push('\n');
    }
    if !r.crates.is_empty() {
        out.push_str("## What each crate did\n\n");
        for c in &r.crates {
            crate_account(&mut out, c);
        }
        out.push('\n');
    }
    if let Some(fuzz) = &r.fuzz {
        targets(&mut out, fuzz);
    }
    let env = &r.environment;
    let _ = writeln!(
        out,
        "## Environment\n\n- kernel {}, Landlock ABI {}, profile `{}`{}\n- cargo-airlock {}, {}",
        env.kernel,
        env.landlock_abi
            .map_or_else(|| "none".to_owned(), |a| a.to_string()),
        env.profile,
        if env.degraded {
            ", **degraded** (--allow-degraded)"
        } else {
            ""
        },
        env.tool_version,
        env.toolchain
    );
    if let Some(fuzz) = &r.fuzz {
        skipped(&mut out, fuzz);
    }
    out
}

/// The verdict and its reasons: vet's opening when there is one, else a summary.
fn verdict(out: &mut String, r: &Report) {
    let vet = super::vet::markdown(&r.vetting);
    if vet.is_empty() {
        out.push_str("## Summary\n\n");
    }
    out.push_str(&vet);
    if super::vet::build_ran(&r.vetting) {
        if let Some(counts) = account::crate_counts(r) {
            let s = &r.summary;
            let _ = writeln!(
                out,
                "**{counts}** {} build scripts and {} proc-macro expansions ran in the sandbox; the build {}.\n",
                s.build_scripts_run,
                s.proc_macro_runs,
                if s.build_succeeded { "succeeded" } else { "failed" }
            );
        }
        let named = account::named_verdicts(r);
        for (v, names) in &named {
            let _ = writeln!(out, "- **{}**: {}", v.as_str(), names.join(", "));
        }
        if !named.is_empty() {
            out.push('\n');
        }
    } else {
        let _ = writeln!(out, "The build phase did not run (see Phases).\n");
    }
    if let Some(fuzz) = &r.fuzz {
        let _ = writeln!(out, "**{}**\n", account::fuzz_counts(fuzz));
    }
    for e in &r.errors {
        let _ = writeln!(out, "> **Error:** {}\n", e.replace('\n', "\n> "));
    }
}

/// One finding: what crashed, where in the crate under test, the input, how to rerun it.
fn finding(out: &mut String, f: &Finding) {
    let _ = writeln!(
        out,
        "### {}: {} in `{}` ({})\n\n```text\n{}\n```\n",
        f.id,
        f.kind,
        f.target,
        f.status,
        f.message.replace("```", "'''")
    );
    let frames = account::frames_under_test(f);
    if !frames.is_empty() {
        out.push_str("Frames in the crate under test:\n\n");
        for fr in frames {
            let _ = writeln!(
                out,
                "1. {}{}",
                code(&fr.function),
                fr.location
                    .as_deref()
                    .map(|l| format!(" at {l}"))
                    .unwrap_or_default()
            );
        }
        out.push('\n');
    }
    let input = Input::of(f);
    let _ = writeln!(out, "Crashing input ({}):\n", input.caption());
    if let Input::Read { text, hex, .. } = &input {
        let _ = writeln!(out, "```text\n{text}\n```\n\n```text\n{hex}\n```\n");
    }
    let _ = writeln!(
        out,
        "- reproducer: `{}`{}\n- signature: {}{}\n- reproduce: {}\n",
        f.reproducer.display(),
        if f.minimized { " (minimized)" } else { "" },
        code(&f.signature),
        f.found_after_secs
            .map(|s| format!("\n- found after {s} s of fuzzing"))
            .unwrap_or_default(),
        code(&f.repro)
    );
    if !f.also_reached_by.is_empty() {
        let _ = writeln!(
            out,
            "- also reached by: {}\n",
            f.also_reached_by
                .iter()
                .map(|t| code(t))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
}

/// The suspicious, failed and not-run crates, each with what it tried.
fn suspicious(out: &mut String, r: &Report) {
    let mut notable: Vec<&CrateReport> = r
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
}

/// One crate's account as a sub-list: its build script, programs run, files written, tests,
/// directives, network attempts and anything else its runs recorded.
fn crate_account(out: &mut String, c: &CrateReport) {
    let account = Account::of(c);
    let _ = writeln!(
        out,
        "- **{}** ({}) — {}; {} events",
        c.label(),
        c.verdict.as_str(),
        account::script_line(c),
        c.events.len()
    );
    if !account.programs.is_empty() {
        let programs: Vec<String> = account
            .programs
            .iter()
            .map(|p| format!("{} {}", code(&p.path), p.counts()))
            .collect();
        let _ = writeln!(out, "  - programs run: {}", programs.join(", "));
    }
    let lists = [
        ("files written", &account.writes),
        ("network attempts", &account.network),
        ("other events", &account.other),
    ];
    for (title, events) in lists {
        if events.is_empty() {
            continue;
        }
        let _ = writeln!(out, "  - {title}:");
        for e in events {
            let _ = writeln!(out, "    - {}", code(&account::event_line(e)));
        }
    }
    if !c.tests.is_empty() {
        let _ = writeln!(out, "  - tests: {}", account::tests_summary(c));
        for t in &c.tests {
            let _ = writeln!(out, "    - {}", code(&account::test_line(t)));
        }
    }
    if !c.directives.is_empty() {
        let _ = writeln!(out, "  - directives:");
        for d in &c.directives {
            let _ = writeln!(
                out,
                "    - {}{}",
                code(&format!("{}={}", d.key, d.value)),
                d.flagged
                    .as_deref()
                    .map(|f| format!(" — **flagged**: {f}"))
                    .unwrap_or_default()
            );
        }
    }
}

/// The campaign's targets that were built or failed.
fn targets(out: &mut String, section: &FuzzSection) {
    out.push_str("## Fuzz targets\n\n");
    if let Some(i) = &section.instrumentation {
        let _ = writeln!(
            out,
            "Toolchain `{}`, target `{}`, sanitizer `{}`, C code {}.\n",
            i.toolchain,
            i.triple,
            i.sanitizer,
            if i.c_instrumented {
                "instrumented (clang)"
            } else {
                "not instrumented (no clang: no coverage and no memory errors inside C, only \
                 gcc's stack protector and fortify abort on a smash; `apt install clang`)"
            }
        );
    }
    out.push_str("| target | kind | item | status | runs | execs/s | coverage |\n|---|---|---|---|---:|---:|---:|\n");
    for t in section.targets.iter().filter(|t| t.status != "skipped") {
        let status = match &t.reason {
            Some(r) => format!("{} ({})", t.status, cell(r)),
            None => t.status.clone(),
        };
        let _ = writeln!(
            out,
            "| `{}` | {} | `{}` | {} | {} | {} | {} |",
            t.name, t.kind, t.item, status, t.runs, t.execs_per_sec, t.coverage
        );
    }
    out.push('\n');
    if section.findings.is_empty() {
        out.push_str("No findings.\n\n");
    }
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
    let _ = writeln!(out, "\n## Skipped targets ({})\n", skipped.len());
    for t in skipped {
        let _ = writeln!(
            out,
            "- `{}` (`{}`): {}",
            t.name,
            t.item,
            t.reason
                .as_deref()
                .unwrap_or("no reason recorded")
                .replace('\n', " ")
        );
    }
}
