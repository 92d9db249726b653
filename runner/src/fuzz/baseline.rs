//! Comparing a campaign with a baseline report: each finding is `new`, `known` (the baseline had
//! its signature) or `fixed` (the baseline had it, its target was fuzzed again, and it did not
//! come back).

use std::collections::HashSet;

use crate::report::FuzzSection;

/// Marks findings `known` when the baseline had their signature, and adds the baseline's
/// findings that did not come back as `fixed`.
pub(super) fn apply_baseline(section: &mut FuzzSection, baseline: &FuzzSection) {
    let before: HashSet<&str> = baseline
        .findings
        .iter()
        .filter(|f| f.status != "fixed")
        .map(|f| f.signature.as_str())
        .collect();
    let now: HashSet<String> = section
        .findings
        .iter()
        .map(|f| f.signature.clone())
        .collect();
    for f in &mut section.findings {
        f.status = if before.contains(f.signature.as_str()) {
            "known"
        } else {
            "new"
        }
        .into();
    }
    let fuzzed: HashSet<&str> = section
        .targets
        .iter()
        .filter(|t| t.status == "built")
        .map(|t| t.name.as_str())
        .collect();
    for old in &baseline.findings {
        if old.status != "fixed"
            && !now.contains(&old.signature)
            && fuzzed.contains(old.target.as_str())
        {
            let mut fixed = old.clone();
            fixed.status = "fixed".into();
            section.findings.push(fixed);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::fuzz::triage;
    use crate::report::{Finding, TargetResult};

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

    #[test]
    fn baseline_marks_new_known_fixed() {
        let target = TargetResult {
            name: "t".into(),
            kind: "deserialize".into(),
            item: "c::T".into(),
            format: "json".into(),
            status: "built".into(),
            reason: None,
            runs: 1,
            execs_per_sec: 1,
            coverage: 1,
            seconds: 1,
            events: 0,
            notable_events: 0,
        };
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
        apply_baseline(&mut now, &base);
        let status: Vec<(&str, &str)> = now
            .findings
            .iter()
            .map(|f| (f.signature.as_str(), f.status.as_str()))
            .collect();
        assert_eq!(
            status,
            vec![
                ("panic|a", "known"),
                ("panic|c", "new"),
                ("panic|b", "fixed")
            ]
        );
        assert!(now.has_new());
    }
}
