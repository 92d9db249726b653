//! Comparing a campaign with a baseline report: each finding is `new`, `known` (the baseline had
//! it: the same signature, or the same hang or recursion caught elsewhere, as
//! [`triage::same_defect`] says) or `fixed` (the baseline had it, its target was fuzzed again,
//! and it did not come back).

use std::collections::HashSet;

use crate::report::{Finding, FuzzSection};

/// Marks findings `known` when the baseline had them (`same`: whether two findings show one
/// defect), and adds the baseline's findings that did not come back as `fixed`.
pub(super) fn apply_baseline<F>(section: &mut FuzzSection, baseline: &FuzzSection, same: F)
where
    F: Fn(&Finding, &Finding) -> bool,
{
    let before: Vec<&Finding> = baseline
        .findings
        .iter()
        .filter(|f| f.status != "fixed")
        .collect();
    // The baseline's findings that did not come back where their target was fuzzed again.
    let fuzzed: HashSet<&str> = section
        .targets
        .iter()
        .filter(|t| t.status == "built")
        .map(|t| t.name.as_str())
        .collect();
    let fixed: Vec<Finding> = before
        .iter()
        .filter(|old| fuzzed.contains(old.target.as_str()))
        .filter(|old| !section.findings.iter().any(|f| same(old, f)))
        .map(|old| Finding {
            status: "fixed".into(),
            ..(*old).clone()
        })
        .collect();
    for f in &mut section.findings {
        f.status = if before.iter().any(|old| same(old, f)) {
            "known"
        } else {
            "new"
        }
        .into();
    }
    section.findings.extend(fixed);
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::fuzz::triage;
    use crate::report::{Frame, TargetResult};

    fn finding(sig: &str, status: &str) -> Finding {
        Finding {
            id: triage::finding_id(sig),
            target: "t".into(),
            kind: "panic".into(),
            signature: sig.into(),
            message: String::new(),
            frames: Vec::new(),
            reproducer: PathBuf::new(),
            minimized: false,
            status: status.into(),
            repro: String::new(),
            found_after_secs: None,
            also_reached_by: vec![],
        }
    }

    /// Each finding's signature and status, in order.
    fn statuses(section: &FuzzSection) -> Vec<(&str, &str)> {
        section
            .findings
            .iter()
            .map(|f| (f.signature.as_str(), f.status.as_str()))
            .collect()
    }

    /// A hang the alarm caught in another function of its loop this time, through another
    /// entry point, is the baseline's hang: `known`, and the baseline's is not `fixed`. A hang
    /// in another loop is `new`.
    #[test]
    fn a_hang_caught_elsewhere_is_known() {
        let hang = |sig: &str, target: &str, frames: &[&str]| Finding {
            target: target.into(),
            kind: "timeout".into(),
            frames: frames
                .iter()
                .map(|f| Frame {
                    function: (*f).into(),
                    location: None,
                })
                .collect(),
            ..finding(sig, "new")
        };
        let target = |name: &str| TargetResult::built(name, "parse", "hp::parse", "");
        let base = FuzzSection {
            targets: vec![target("parse"), target("count")],
            findings: vec![hang(
                "timeout|hp::peek|hp::parse",
                "parse",
                &["hp::peek", "hp::skip_ws", "hp::parse"],
            )],
            ..FuzzSection::default()
        };
        let mut now = FuzzSection {
            targets: vec![target("parse"), target("count")],
            findings: vec![
                hang(
                    "timeout|hp::skip_ws|hp::count",
                    "count",
                    &["hp::skip_ws", "hp::count"],
                ),
                hang(
                    "timeout|hp::string|hp::count",
                    "count",
                    &["hp::string", "hp::value", "hp::count"],
                ),
            ],
            ..FuzzSection::default()
        };
        apply_baseline(&mut now, &base, |a, b| {
            triage::same_defect(a, b, |_| Some(("hp".to_owned(), None)))
        });
        assert_eq!(
            statuses(&now),
            vec![
                ("timeout|hp::skip_ws|hp::count", "known"),
                ("timeout|hp::string|hp::count", "new"),
            ]
        );
    }

    #[test]
    fn baseline_marks_new_known_fixed() {
        let target = TargetResult::built("t", "deserialize", "c::T", "json");
        let base = FuzzSection {
            targets: vec![target.clone()],
            findings: vec![finding("panic|a", "new"), finding("panic|b", "new")],
            ..FuzzSection::default()
        };
        let mut now = FuzzSection {
            targets: vec![target],
            findings: vec![finding("panic|a", "new"), finding("panic|c", "new")],
            ..FuzzSection::default()
        };
        apply_baseline(&mut now, &base, |a, b| a.signature == b.signature);
        assert_eq!(
            statuses(&now),
            vec![
                ("panic|a", "known"),
                ("panic|c", "new"),
                ("panic|b", "fixed")
            ]
        );
        assert!(now.has_new());
    }
}
