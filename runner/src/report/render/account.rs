//! What the Markdown and HTML renderers say of a report beyond its raw lists: the opening
//! (counts and the crates of each verdict), each crate's account of what its runs did
//! (programs grouped by path, files written, directives, network attempts, the rest, its test
//! programs), and a
//! fuzz finding's frames and crashing input. Only presents: verdicts come from the model.

use std::collections::BTreeMap;
use std::io::Read;

use super::event_detail;
use crate::events::{Event, Kind};
use crate::report::fuzz_section::{Finding, Frame, FuzzSection};
use crate::report::model::{CrateReport, Report, ScriptStatus, TestRun, Verdict};

/// The crate counts in words, or `None` when the report has no build (a `fuzz` report).
pub(super) fn crate_counts(r: &Report) -> Option<String> {
    if r.crates.is_empty() && r.fuzz.is_some() {
        return None;
    }
    let s = &r.summary;
    Some(format!(
        "{} crates: {} clean, {} suspicious, {} failed, {} not run.",
        s.crates, s.clean, s.suspicious, s.failed, s.not_run
    ))
}

/// The crates of each non-clean verdict, most serious first: `(verdict, labels)`.
pub(super) fn named_verdicts(r: &Report) -> Vec<(Verdict, Vec<String>)> {
    [Verdict::Suspicious, Verdict::Failed, Verdict::NotRun]
        .into_iter()
        .filter_map(|v| {
            let names: Vec<String> = r
                .crates
                .iter()
                .filter(|c| c.verdict == v)
                .map(CrateReport::label)
                .collect();
            (!names.is_empty()).then_some((v, names))
        })
        .collect()
}

/// The campaign in one line: findings by status and targets by status.
pub(super) fn fuzz_counts(f: &FuzzSection) -> String {
    let count = |status: &str| f.findings.iter().filter(|x| x.status == status).count();
    let targets = |status: &str| f.targets.iter().filter(|t| t.status == status).count();
    format!(
        "{} finding{}: {} new, {} known, {} fixed. {} targets: {} built, {} failed, {} skipped.",
        f.findings.len(),
        if f.findings.len() == 1 { "" } else { "s" },
        count("new"),
        count("known"),
        count("fixed"),
        f.targets.len(),
        targets("built"),
        targets("failed"),
        targets("skipped")
    )
}

/// What the build script did, in words: `ran (exit 0, 12 ms)`, `none`, `not run`.
pub(super) fn script_line(c: &CrateReport) -> String {
    let status = match c.build_script.status {
        ScriptStatus::None => return "no build script".to_owned(),
        ScriptStatus::Ran => "build script ran",
        ScriptStatus::Failed => "build script failed",
        ScriptStatus::Error => "build script could not start",
        ScriptStatus::NotRun => "build script not run",
    };
    let mut facts = Vec::new();
    if let Some(code) = c.build_script.exit_code {
        facts.push(format!("exit {code}"));
    }
    if let Some(ms) = c.build_script.duration_ms {
        facts.push(format!("{ms} ms"));
    }
    let mut line = status.to_owned();
    if !facts.is_empty() {
        line.push_str(&format!(" ({})", facts.join(", ")));
    }
    if c.proc_macro {
        line.push_str(&format!(
            "; proc macro expanded {} times",
            c.proc_macro_runs
        ));
    }
    line
}

/// One test program's run in words: `it: passed (exit 0, 120 ms, 3 events)`,
/// `doctest: failed (exit 101, 2 notable of 5 events)`, `x: could not run: why`.
pub(super) fn test_line(t: &TestRun) -> String {
    if let Some(error) = &t.error {
        return format!("{}: could not run: {error}", t.binary);
    }
    let mut facts = Vec::new();
    if let Some(code) = t.exit_code {
        facts.push(format!("exit {code}"));
    }
    facts.push(format!("{} ms", t.duration_ms));
    facts.push(match t.notable {
        0 => format!("{} events", t.events),
        n => format!("{n} notable of {} events", t.events),
    });
    let status = if t.passed { "passed" } else { "failed" };
    format!("{}: {status} ({})", t.binary, facts.join(", "))
}

/// How a crate's test programs fared: `3 test programs, 1 failed`.
pub(super) fn tests_summary(c: &CrateReport) -> String {
    let failed = c.tests.iter().filter(|t| !t.passed).count();
    let n = c.tests.len();
    let programs = if n == 1 { "program" } else { "programs" };
    match failed {
        0 => format!("{n} test {programs}, all passed"),
        f => format!("{n} test {programs}, {f} failed"),
    }
}

/// One program a crate's runs executed, with how often.
pub(super) struct Program {
    /// The program path (as executed).
    pub(super) path: String,
    /// Attempts.
    pub(super) count: usize,
    /// Attempts the sandbox refused.
    pub(super) denied: usize,
    /// Attempts where the program was not found (`found=false`).
    pub(super) not_found: usize,
}

impl Program {
    /// `count`, with the refused and not-found attempts when there are any.
    pub(super) fn counts(&self) -> String {
        let mut text = format!("×{}", self.count);
        if self.denied > 0 {
            text.push_str(&format!(", {} denied", self.denied));
        }
        if self.not_found > 0 {
            text.push_str(&format!(", {} not found", self.not_found));
        }
        text
    }
}

/// A crate's account: every event of its runs, grouped for a reader.
pub(super) struct Account<'a> {
    /// Programs run, by path, in first-seen order.
    pub(super) programs: Vec<Program>,
    /// File writes, creations and links (decision and detail).
    pub(super) writes: Vec<&'a Event>,
    /// Network attempts.
    pub(super) network: Vec<&'a Event>,
    /// Everything else (reads refused, syscalls, limits, leaks, directives flagged).
    pub(super) other: Vec<&'a Event>,
}

impl Account<'_> {
    /// Groups the crate's events.
    pub(super) fn of(c: &CrateReport) -> Account<'_> {
        let mut account = Account {
            programs: Vec::new(),
            writes: Vec::new(),
            network: Vec::new(),
            other: Vec::new(),
        };
        let mut index: BTreeMap<String, usize> = BTreeMap::new();
        for e in &c.events {
            match e.kind {
                Kind::Exec => {
                    let path = e
                        .detail
                        .get("path")
                        .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
                        .unwrap_or_else(|| e.action.clone());
                    let at = *index.entry(path.clone()).or_insert_with(|| {
                        account.programs.push(Program {
                            path,
                            count: 0,
                            denied: 0,
                            not_found: 0,
                        });
                        account.programs.len() - 1
                    });
                    let p = &mut account.programs[at];
                    p.count += 1;
                    p.denied += usize::from(e.decision != crate::events::Decision::Allowed);
                    p.not_found += usize::from(e.detail.get("found") == Some(&false.into()));
                }
                Kind::Fs if e.action != "read" => account.writes.push(e),
                Kind::Net => account.network.push(e),
                _ => account.other.push(e),
            }
        }
        account
    }

    /// Whether the runs recorded nothing at all.
    pub(super) fn is_empty(&self) -> bool {
        self.programs.is_empty()
            && self.writes.is_empty()
            && self.network.is_empty()
            && self.other.is_empty()
    }
}

/// An event as one line: `denied fs/write path=/etc/x`.
pub(super) fn event_line(e: &Event) -> String {
    let detail = event_detail(e);
    let mut line = format!("{} {}/{}", e.decision.as_str(), e.kind.as_str(), e.action);
    if !detail.is_empty() {
        line.push(' ');
        line.push_str(&detail);
    }
    line
}

/// Frames of the fuzzing machinery and the standard library, left out of a finding's stack.
const RUNTIME_FRAMES: &[&str] = &[
    "std::",
    "core::",
    "alloc::",
    "<alloc::",
    "<core::",
    "<std::",
    "rust_panic",
    "rust_begin_unwind",
    "__rust",
    "__rustc::",
    "libfuzzer_sys::",
    "fuzzer::",
    "LLVMFuzzer",
    "__sanitizer",
    "__asan",
    "__interceptor",
    "__libc",
    "_start",
    "main",
    "panic_abort::",
    "panic_unwind::",
];

/// The finding's frames in the crate under test (innermost first, at most 12); all frames,
/// up to 12, when none is outside the runtime.
pub(super) fn frames_under_test(f: &Finding) -> Vec<&Frame> {
    let ours: Vec<&Frame> = f
        .frames
        .iter()
        .filter(|fr| !RUNTIME_FRAMES.iter().any(|p| fr.function.starts_with(p)))
        .take(12)
        .collect();
    if ours.is_empty() {
        f.frames.iter().take(12).collect()
    } else {
        ours
    }
}

/// Bytes of a reproducer shown as escaped text.
const TEXT_BYTES: usize = 1024;
/// Bytes of a reproducer shown as hex.
const HEX_BYTES: usize = 256;

/// The crashing input as a reader sees it.
pub(super) enum Input {
    /// The reproducer was read.
    Read {
        /// Its size in bytes.
        size: u64,
        /// Its first bytes, escaped (`\n`, `\x00`), at most [`TEXT_BYTES`] of it.
        text: String,
        /// A hex dump of its first [`HEX_BYTES`] bytes, 16 a line, with offsets.
        hex: String,
        /// Whether only the first bytes are shown.
        cut: bool,
    },
    /// The file is not at hand (another machine's report, or removed).
    Missing,
}

impl Input {
    /// Reads the finding's reproducer (at most [`TEXT_BYTES`] of it).
    pub(super) fn of(f: &Finding) -> Input {
        let Ok(file) = std::fs::File::open(&f.reproducer) else {
            return Input::Missing;
        };
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        let mut bytes = Vec::new();
        if file
            .take(TEXT_BYTES as u64)
            .read_to_end(&mut bytes)
            .is_err()
        {
            return Input::Missing;
        }
        let hex = bytes[..bytes.len().min(HEX_BYTES)]
            .chunks(16)
            .enumerate()
            .map(|(i, row)| {
                let cells: Vec<String> = row.iter().map(|b| format!("{b:02x}")).collect();
                format!("{:08x}  {}", i * 16, cells.join(" "))
            })
            .collect::<Vec<_>>()
            .join("\n");
        Input::Read {
            size,
            text: bytes.escape_ascii().to_string(),
            hex,
            cut: size > TEXT_BYTES as u64,
        }
    }

    /// A line saying how much of the input is shown.
    pub(super) fn caption(&self) -> String {
        match self {
            Input::Read { size, cut, .. } => {
                if *cut {
                    format!(
                        "{size} bytes; the first {TEXT_BYTES} as text, the first {HEX_BYTES} as hex"
                    )
                } else if *size as usize > HEX_BYTES {
                    format!("{size} bytes; the first {HEX_BYTES} as hex")
                } else {
                    format!("{size} bytes")
                }
            }
            Input::Missing => "the reproducer is not at hand on this machine".to_owned(),
        }
    }
}
