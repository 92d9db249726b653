//! `cargo airlock report merge`: several reports of the same schema (the shards of one `vet
//! --manifest-path --shard K/N` run, or any vet and build reports) joined into one. Crates,
//! provenance, inventories, phases and fuzz results are united (each crate once); the summary
//! and the verdict are recomputed from the merged crates and reasons with `vet`'s own rule,
//! never copied from an input; the environment is the first report's; errors are concatenated.

use std::path::PathBuf;

use super::verdict::{crate_verdict, overall};
use crate::report::FuzzSection;
use crate::report::{
    PhaseRecord, PhaseStatus, VetRequest, VetSections, VetVerdict, VettedCrate, WorkspaceScope,
};
use crate::report::{Report, ReportError, Summary, Verdict};

/// Why reports could not be merged.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MergeError {
    /// No report was given.
    #[error("no report to merge: give at least one report.json")]
    NoReports,
    /// An input could not be read as a report of this schema (missing, not a report, another
    /// schema version).
    #[error(transparent)]
    Read(#[from] ReportError),
}

/// Reads every report of `paths` (each must be an `airlock.report/1` report) and merges them.
pub fn merge_files(paths: &[PathBuf]) -> Result<Report, MergeError> {
    let reports = paths
        .iter()
        .map(|p| Report::read(p))
        .collect::<Result<Vec<_>, _>>()?;
    merge(reports)
}

/// Merges `reports` into one (see the module documentation for what comes from where).
pub fn merge(reports: Vec<Report>) -> Result<Report, MergeError> {
    let mut reports = reports.into_iter();
    let mut out = reports.next().ok_or(MergeError::NoReports)?;
    for r in reports {
        if out.command != r.command && !out.command.split('+').any(|c| c == r.command) {
            out.command = format!("{}+{}", out.command, r.command);
        }
        out.workspace = out.workspace.or(r.workspace);
        let build_succeeded = out.summary.build_succeeded && r.summary.build_succeeded;
        out.summary.build_succeeded = build_succeeded;
        for c in r.crates {
            match out
                .crates
                .iter_mut()
                .find(|o| o.name == c.name && o.version == c.version && o.location == c.location)
            {
                // The same crate built twice: the graver account stands.
                Some(o) if c.verdict > o.verdict => *o = c,
                Some(_) => {}
                None => out.crates.push(c),
            }
        }
        merge_sections(&mut out.vetting, r.vetting);
        out.fuzz = match (out.fuzz.take(), r.fuzz) {
            (Some(a), Some(b)) => Some(merge_fuzz(a, b)),
            (a, b) => a.or(b),
        };
        out.errors.extend(r.errors);
    }
    out.summary = summary(&out);
    if let Some(v) = out.vetting.verdict.take() {
        out.vetting.verdict = Some(rejudge(v));
    }
    Ok(out)
}

fn merge_sections(out: &mut VetSections, other: VetSections) {
    out.verdict = match (out.verdict.take(), other.verdict) {
        (Some(mut a), Some(b)) => {
            a.crates.extend(b.crates);
            Some(a)
        }
        (a, b) => a.or(b),
    };
    for p in other.phases {
        match out.phases.iter_mut().find(|o| o.phase == p.phase) {
            Some(o) => merge_phase(o, p),
            None => out.phases.push(p),
        }
    }
    out.phases.sort_by_key(|p| p.phase);
    for p in other.provenance {
        if !out
            .provenance
            .iter()
            .any(|o| o.name == p.name && o.version == p.version)
        {
            out.provenance.push(p);
        }
    }
    for inv in other.inventory {
        if !out
            .inventory
            .iter()
            .any(|o| o.name == inv.name && o.version == inv.version)
        {
            out.inventory.push(inv);
        }
    }
    out.vet = match (out.vet.take(), other.vet) {
        (Some(a), Some(b)) => Some(merge_request(a, b)),
        (a, b) => a.or(b),
    };
    out.diff = out.diff.take().or(other.diff);
}

/// A phase ran when it ran anywhere; else it failed when it failed anywhere.
fn merge_phase(out: &mut PhaseRecord, other: PhaseRecord) {
    out.status = match (out.status, other.status) {
        (PhaseStatus::Ran, _) | (_, PhaseStatus::Ran) => PhaseStatus::Ran,
        (PhaseStatus::Failed, _) | (_, PhaseStatus::Failed) => PhaseStatus::Failed,
        _ => PhaseStatus::Skipped,
    };
    out.reason = match (out.reason.take(), other.reason) {
        (Some(a), Some(b)) if a == b || a.split("; ").any(|part| part == b) => Some(a),
        (Some(a), Some(b)) => Some(format!("{a}; {b}")),
        (a, b) => a.or(b),
    };
    out.skipped_crates.extend(other.skipped_crates);
    out.duration_ms = match (out.duration_ms, other.duration_ms) {
        (Some(a), Some(b)) => Some(a + b),
        (a, b) => a.or(b),
    };
}

fn merge_request(mut a: VetRequest, b: VetRequest) -> VetRequest {
    for spec in b.specs {
        if !a.specs.contains(&spec) {
            a.specs.push(spec);
        }
    }
    a.workspace = match (a.workspace.take(), b.workspace) {
        (Some(x), Some(y)) => Some(merge_scope(x, y)),
        (x, y) => x.or(y),
    };
    a
}

/// Shards of one run see the same graph and the same `--since`: the package counts are
/// shared, the selections add up.
fn merge_scope(mut a: WorkspaceScope, b: WorkspaceScope) -> WorkspaceScope {
    a.packages = a.packages.max(b.packages);
    a.unchanged = a.unchanged.max(b.unchanged);
    a.selected += b.selected;
    a.since = a.since.or(b.since);
    a.shards.extend(b.shards);
    a.shards.sort();
    a.shards.dedup();
    a
}

fn merge_fuzz(mut a: FuzzSection, b: FuzzSection) -> FuzzSection {
    for t in b.targets {
        if !a.targets.iter().any(|o| o.name == t.name) {
            a.targets.push(t);
        }
    }
    for f in b.findings {
        if !a.findings.iter().any(|o| o.id == f.id) {
            a.findings.push(f);
        }
    }
    // Shards of one campaign (`fuzz --shard`) may each have caught one hang or one recursion
    // through other targets. A finding's crate is its target's item's (when every target of
    // that name agrees: a vet report joins the campaigns of several crates).
    let targets = &a.targets;
    crate::fuzz::merge_findings(&mut a.findings, |f| {
        let mut crates = targets
            .iter()
            .filter(|t| t.name == f.target)
            .map(|t| t.item.split("::").next().unwrap_or_default());
        let first = crates.next()?;
        crates.all(|c| c == first).then(|| (first.to_owned(), None))
    });
    a.instrumentation = a.instrumentation.or(b.instrumentation);
    a
}

/// Each crate once, with every input's reasons; its verdict and the overall one decided again
/// by `vet`'s rule (a reason makes it suspicious; else it failed when any input could not vet
/// it). It counts as cached only when every input took it from the cache.
fn rejudge(v: VetVerdict) -> VetVerdict {
    let mut joined: Vec<(VettedCrate, bool)> = Vec::new();
    for c in v.crates {
        let failed = c.verdict == Verdict::Failed || c.verdict == Verdict::NotRun;
        match joined
            .iter_mut()
            .find(|(o, _)| o.name == c.name && o.version == c.version)
        {
            Some((o, could_not)) => {
                o.reasons.extend(c.reasons);
                o.cached &= c.cached;
                *could_not |= failed;
            }
            None => joined.push((c, failed)),
        }
    }
    overall(
        joined
            .into_iter()
            .map(|(c, could_not)| {
                let mut judged = crate_verdict(&c.name, c.version, c.reasons, could_not);
                judged.cached = c.cached;
                judged
            })
            .collect(),
    )
}

fn summary(r: &Report) -> Summary {
    Summary::of(&r.crates, r.summary.build_succeeded)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{CrateReport, Environment, Level, Reason, ScriptStatus, VetPhase, SCHEMA};

    fn vetted(name: &str, verdict: Verdict, reasons: Vec<Reason>) -> VettedCrate {
        VettedCrate {
            name: name.into(),
            version: Some("1.0.0".into()),
            verdict,
            reasons,
            cached: false,
        }
    }

    fn reason(name: &str) -> Reason {
        Reason {
            krate: format!("{name} 1.0.0"),
            phase: VetPhase::Inventory,
            code: "shell-download".into(),
            level: Level::Warn,
            evidence: "curl handed to Command".into(),
            location: Some("build.rs:3".into()),
        }
    }

    fn built(name: &str, verdict: Verdict) -> CrateReport {
        CrateReport {
            verdict,
            proc_macro_runs: 1,
            ..CrateReport::unjudged(
                name,
                "1.0.0",
                "registry",
                "sparse+http://127.0.0.1:1/index/",
                ScriptStatus::Ran,
            )
        }
    }

    fn shard(kernel: &str, crates: Vec<VettedCrate>, built_: Vec<CrateReport>) -> Report {
        // The stated verdict is deliberately wrong: merge must not take it from an input.
        Report {
            schema: SCHEMA.into(),
            command: "vet".into(),
            workspace: None,
            summary: Summary {
                crates: 99,
                build_succeeded: true,
                ..Summary::default()
            },
            crates: built_,
            vetting: VetSections {
                verdict: Some(VetVerdict {
                    verdict: Verdict::Clean,
                    reasons: vec![],
                    crates,
                }),
                phases: vec![PhaseRecord {
                    phase: VetPhase::Build,
                    status: PhaseStatus::Skipped,
                    reason: Some("nothing".into()),
                    skipped_crates: vec![],
                    duration_ms: Some(5),
                }],
                ..VetSections::default()
            },
            fuzz: None,
            environment: Environment {
                kernel: kernel.into(),
                ..Environment::default()
            },
            errors: vec![format!("from {kernel}")],
        }
    }

    #[test]
    fn shards_join_and_the_verdict_is_decided_again_from_the_reasons() {
        let a = shard(
            "first",
            vec![vetted("a", Verdict::Clean, vec![])],
            vec![built("a", Verdict::Clean), built("shared", Verdict::Clean)],
        );
        let mut b = shard(
            "second",
            vec![vetted("b", Verdict::Clean, vec![reason("b")])],
            vec![built("shared", Verdict::Suspicious)],
        );
        b.vetting.phases[0].status = PhaseStatus::Ran;
        let m = merge(vec![a, b]).unwrap();
        let v = m.vetting.verdict.as_ref().unwrap();
        assert_eq!(v.verdict, Verdict::Suspicious);
        assert_eq!(v.crates.len(), 2);
        assert_eq!(v.crates[1].verdict, Verdict::Suspicious);
        assert_eq!(v.reasons, vec![reason("b")]);
        assert_eq!(m.environment.kernel, "first");
        assert_eq!(m.errors, ["from first", "from second"]);
        // Each crate once, the graver account kept; the summary counted again.
        assert_eq!(m.crates.len(), 2);
        assert_eq!(m.summary.crates, 2);
        assert_eq!(m.summary.suspicious, 1);
        assert_eq!(m.summary.proc_macro_runs, 2);
        assert_eq!(m.vetting.phases.len(), 1);
        assert_eq!(m.vetting.phases[0].status, PhaseStatus::Ran);
        assert_eq!(m.vetting.phases[0].reason.as_deref(), Some("nothing"));
        assert_eq!(m.vetting.phases[0].duration_ms, Some(10));
    }

    #[test]
    fn the_same_crate_in_two_inputs_keeps_every_reason_and_a_failure() {
        let a = shard("a", vec![vetted("x", Verdict::Failed, vec![])], vec![]);
        let b = shard("b", vec![vetted("x", Verdict::Clean, vec![])], vec![]);
        let m = merge(vec![a, b]).unwrap();
        assert_eq!(m.vetting.verdict.unwrap().verdict, Verdict::Failed);
        let mut c = shard("c", vec![vetted("x", Verdict::Clean, vec![])], vec![]);
        c.vetting.verdict.as_mut().unwrap().crates[0].cached = true;
        let d = shard(
            "d",
            vec![vetted("x", Verdict::Clean, vec![reason("x")])],
            vec![],
        );
        let m = merge(vec![c, d]).unwrap();
        let v = m.vetting.verdict.unwrap();
        assert_eq!(v.verdict, Verdict::Suspicious);
        assert!(
            !v.crates[0].cached,
            "not every input took it from the cache"
        );
    }

    #[test]
    fn bad_inputs_name_the_file() {
        assert!(matches!(merge(vec![]), Err(MergeError::NoReports)));
        let tmp = tempfile::tempdir().unwrap();
        let missing = tmp.path().join("missing.json");
        let err = merge_files(&[missing]).unwrap_err();
        assert!(err.to_string().contains("missing.json"), "{err}");
        let other = tmp.path().join("other.json");
        std::fs::write(&other, r#"{"schema":"airlock.report/9"}"#).unwrap();
        let err = merge_files(&[other]).unwrap_err().to_string();
        assert!(err.contains("not an airlock report"), "{err}");
        let schema = tmp.path().join("schema.json");
        let mut r = shard("x", vec![], vec![]);
        r.schema = "airlock.report/2".into();
        std::fs::write(&schema, serde_json::to_string(&r).unwrap()).unwrap();
        let err = merge_files(&[schema]).unwrap_err().to_string();
        assert!(err.contains("airlock.report/2"), "{err}");
    }

    #[test]
    fn two_fuzz_shards_that_caught_one_hang_through_two_targets_report_it_once() {
        use crate::report::{Finding, Frame, TargetResult};
        let target = |name: &str| {
            let item = format!("handparse::{}", name.trim_start_matches("parse_"));
            TargetResult::built(name, "parse", &item, "bytes")
        };
        let hang = |name: &str, id: &str, frames: &[&str]| Finding {
            id: id.into(),
            target: name.into(),
            kind: "timeout".into(),
            signature: format!("timeout|{}", frames.join("|")),
            message: "libFuzzer: timeout after 11 seconds".into(),
            frames: frames
                .iter()
                .map(|f| Frame {
                    function: (*f).into(),
                    location: Some("/w/handparse/src/lib.rs:77:20".into()),
                })
                .chain([Frame {
                    function: format!("{name}::one"),
                    location: None,
                }])
                .collect(),
            reproducer: PathBuf::from(id),
            minimized: false,
            status: "new".into(),
            repro: String::new(),
            found_after_secs: Some(3),
            also_reached_by: vec![],
        };
        let mut a = shard("a", vec![], vec![]);
        a.fuzz = Some(FuzzSection {
            targets: vec![target("parse_parse")],
            findings: vec![hang("parse_parse", "F1", &["handparse::parse"])],
            ..FuzzSection::default()
        });
        let mut b = shard("b", vec![], vec![]);
        b.fuzz = Some(FuzzSection {
            targets: vec![target("parse_count")],
            findings: vec![hang(
                "parse_count",
                "F2",
                &["handparse::parse", "handparse::count"],
            )],
            ..FuzzSection::default()
        });
        let fuzz = merge(vec![a, b]).unwrap().fuzz.unwrap();
        assert_eq!(fuzz.targets.len(), 2);
        assert_eq!(fuzz.findings.len(), 1, "{:#?}", fuzz.findings);
        assert_eq!(fuzz.findings[0].id, "F1");
        assert_eq!(fuzz.findings[0].also_reached_by, ["parse_count"]);
    }
}
