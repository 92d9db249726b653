//! `vet`'s verdict: the reasons each phase gives against a crate (provenance and inventory
//! signals of `warn` level or above; a crate of the build graph judged suspicious by the build,
//! that is a denied attempt, a leak, a flagged directive or a network tool; a notable event of a
//! probe of the crate's public functions), and the verdict
//! they make per crate and over the whole run. Renderers only show what is decided here.

use crate::events::{Event, Kind};
use crate::report::{
    CrateReport, Level, Provenance, Reason, Verdict, VetPhase, VetVerdict, VettedCrate,
};

/// Reasons from a provenance entry: its signals of `warn` level or above.
pub(crate) fn provenance_reasons(p: &Provenance) -> Vec<Reason> {
    let krate = match &p.version {
        Some(v) if p.exists => format!("{} {v}", p.name),
        _ => p.name.clone(),
    };
    p.signals
        .iter()
        .filter(|s| s.level >= Level::Warn)
        .map(|s| Reason {
            krate: krate.clone(),
            phase: VetPhase::Provenance,
            code: s.code.as_str().to_owned(),
            level: s.level,
            evidence: s.reason.clone(),
            location: None,
        })
        .collect()
}

/// Reasons from an inventory: its signals of `warn` level or above, each at its place.
pub(crate) fn inventory_reasons(inv: &inventory::CrateInventory) -> Vec<Reason> {
    inv.signals_at_least(inventory::Level::Warn)
        .map(|s| Reason {
            krate: format!("{} {}", inv.name, inv.version),
            phase: VetPhase::Inventory,
            code: s.code.as_str().to_owned(),
            level: s.level,
            evidence: if s.text.is_empty() {
                s.reason.clone()
            } else {
                format!("{} (`{}`)", s.reason, s.text)
            },
            location: Some(if s.line > 0 {
                format!("{}:{}", s.path, s.line)
            } else {
                s.path.clone()
            }),
        })
        .collect()
}

/// Reasons from the crates of a build graph: one per reason of each crate the build judged
/// suspicious, with the first notable event that shows it as evidence.
pub(crate) fn build_reasons(crates: &[CrateReport]) -> Vec<Reason> {
    let mut out = Vec::new();
    for c in crates.iter().filter(|c| c.verdict == Verdict::Suspicious) {
        let notable: Vec<&Event> = c.notable_events().collect();
        for reason in &c.reasons {
            let shown = notable
                .iter()
                .find(|e| reason.ends_with(&format!("{}/{}", e.kind.as_str(), e.action)))
                .or(notable.first());
            out.push(Reason {
                krate: c.label(),
                phase: VetPhase::Build,
                code: reason.clone(),
                level: Level::Error,
                evidence: shown.map_or_else(|| reason.clone(), |e| event_evidence(e)),
                location: None,
            });
        }
    }
    out
}

/// Whether an event of a run of the crate's own code counts against it: a notable one
/// ([`Event::is_notable`]), except, in the `probe` phase, running out of time or memory, which
/// innocent code does with generated arguments (a probe that never returns, a huge allocation).
pub(crate) fn runtime_counts(phase: VetPhase, e: &Event) -> bool {
    e.is_notable()
        && !(phase == VetPhase::Probe
            && e.kind == Kind::Limit
            && matches!(e.action.as_str(), "timeout" | "memory"))
}

/// Reasons from the events of a run of the crate's own code (phase `test`, `load`, `probe`):
/// one per kind of event that counts ([`runtime_counts`]: `denied net/connect`, `flagged
/// leak/decoy-read`), with the first such event and the entry point whose run made it as
/// evidence.
pub(crate) fn runtime_reasons(krate: &str, phase: VetPhase, events: &[Event]) -> Vec<Reason> {
    let mut out: Vec<Reason> = Vec::new();
    for e in events.iter().filter(|e| runtime_counts(phase, e)) {
        let code = e.code();
        if out.iter().any(|r| r.code == code) {
            continue;
        }
        let entry = e
            .entry
            .as_ref()
            .map(|n| format!(" (entry `{n}`)"))
            .unwrap_or_default();
        out.push(Reason {
            krate: krate.to_owned(),
            phase,
            code,
            level: Level::Error,
            evidence: format!("{}{entry}", event_evidence(e)),
            location: e.entry.clone(),
        });
    }
    out
}

/// Reasons from the fuzz runs of crate `c`: one per kind of notable `fuzz` event that counts
/// against it (as [`crate::fuzz::events::counts_against`] decides), with the first such event
/// and its target as evidence. Crashes are not reasons: they are findings of the `fuzz`
/// section.
pub(crate) fn fuzz_reasons(c: &CrateReport) -> Vec<Reason> {
    let events: Vec<Event> = c
        .events
        .iter()
        .filter(|e| {
            e.phase == crate::events::Phase::Fuzz && crate::fuzz::events::counts_against(c, e)
        })
        .cloned()
        .collect();
    runtime_reasons(&c.label(), VetPhase::Fuzz, &events)
}

/// Reasons from the test phase: for each tested crate, one per kind of its notable `test`
/// events, the test program that made it as the location.
pub(crate) fn test_reasons(crates: &[&CrateReport]) -> Vec<Reason> {
    crates
        .iter()
        .flat_map(|c| {
            let events: Vec<Event> = c
                .notable_events()
                .filter(|e| e.phase == crate::events::Phase::Test)
                .cloned()
                .collect();
            runtime_reasons(&c.label(), VetPhase::Test, &events)
        })
        .collect()
}

/// An event in words: `denied net/connect by the build script: address=127.0.0.1:9 ...`.
pub(crate) fn event_evidence(e: &Event) -> String {
    let mut parts = Vec::new();
    for key in [
        "address", "query", "path", "argv", "decoy", "line", "reason",
    ] {
        if let Some(v) = e.detail.get(key) {
            let v = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
            parts.push(format!("{key}={v}"));
        }
    }
    if e.is_network_tool() {
        parts.push("a network tool ran".to_owned());
    }
    format!(
        "{} {}/{} in the {}{}{}",
        e.decision.as_str(),
        e.kind.as_str(),
        e.action,
        e.phase.as_str(),
        if parts.is_empty() { "" } else { ": " },
        parts.join(" ")
    )
}

/// The verdict of one crate asked for: `suspicious` with any reason, else `failed` when it could
/// not be vetted completely, else `clean`.
pub(crate) fn crate_verdict(
    name: &str,
    version: Option<String>,
    mut reasons: Vec<Reason>,
    could_not_vet: bool,
) -> VettedCrate {
    sort(&mut reasons);
    reasons.dedup();
    let verdict = if !reasons.is_empty() {
        Verdict::Suspicious
    } else if could_not_vet {
        Verdict::Failed
    } else {
        Verdict::Clean
    };
    VettedCrate {
        name: name.to_owned(),
        version,
        verdict,
        reasons,
        cached: false,
    }
}

/// The verdict over every crate asked for.
pub(crate) fn overall(crates: Vec<VettedCrate>) -> VetVerdict {
    let verdict = crates
        .iter()
        .map(|c| c.verdict)
        .max()
        .unwrap_or(Verdict::Clean);
    let mut reasons: Vec<Reason> = crates.iter().flat_map(|c| c.reasons.clone()).collect();
    sort(&mut reasons);
    reasons.dedup();
    VetVerdict {
        verdict,
        reasons,
        crates,
    }
}

/// Adds `reasons` against the crate `name` of `v` and decides its verdict and the overall one
/// again.
pub(crate) fn add_reasons(v: &mut VetVerdict, name: &str, reasons: Vec<Reason>) {
    if reasons.is_empty() {
        return;
    }
    let mut crates = std::mem::take(&mut v.crates);
    for c in crates.iter_mut().filter(|c| c.name == name) {
        let failed = c.verdict == Verdict::Failed;
        let mut all = std::mem::take(&mut c.reasons);
        all.extend(reasons.iter().cloned());
        *c = crate_verdict(&c.name, c.version.take(), all, failed);
    }
    *v = overall(crates);
}

/// Most important first: by level, then by phase order (the earliest evidence first).
fn sort(reasons: &mut [Reason]) {
    reasons.sort_by(|a, b| {
        b.level
            .cmp(&a.level)
            .then(a.phase.cmp(&b.phase))
            .then(a.krate.cmp(&b.krate))
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{Decision, Kind};
    use crate::report::{Code, ScriptStatus, Signal};

    fn provenance(level: Level) -> Provenance {
        Provenance {
            name: "rustdecimal".into(),
            version: Some("0.1.0".into()),
            exists: true,
            first_published: None,
            latest_published: None,
            versions: 1,
            yanked: false,
            published: None,
            neighbours: vec![],
            signals: vec![Signal {
                code: Code::TypoNeighbour,
                level,
                reason: "`rust_decimal` exists".into(),
            }],
        }
    }

    #[test]
    fn info_signals_never_make_a_crate_suspicious() {
        let reasons = provenance_reasons(&provenance(Level::Info));
        assert!(reasons.is_empty());
        let c = crate_verdict("rustdecimal", None, reasons, false);
        assert_eq!(c.verdict, Verdict::Clean);
    }

    #[test]
    fn warn_signals_and_denied_events_are_reasons_that_name_phase_code_and_evidence() {
        let mut reasons = provenance_reasons(&provenance(Level::Warn));
        let e = Event::new(Kind::Net, "connect", Decision::Denied).with("address", "127.0.0.1:9");
        let krate = CrateReport {
            verdict: Verdict::Suspicious,
            reasons: vec!["denied net/connect".into()],
            events: vec![e],
            ..CrateReport::unjudged("evil", "0.1.0", "registry", "x", ScriptStatus::Ran)
        };
        reasons.extend(build_reasons(&[krate]));
        let c = crate_verdict("evil", Some("0.1.0".into()), reasons, true);
        assert_eq!(c.verdict, Verdict::Suspicious);
        // The denied attempt (error) comes before the typo warning.
        assert_eq!(c.reasons[0].phase, VetPhase::Build);
        assert_eq!(c.reasons[0].code, "denied net/connect");
        assert!(
            c.reasons[0].evidence.contains("127.0.0.1:9"),
            "{:?}",
            c.reasons[0]
        );
        assert_eq!(c.reasons[1].code, "typo-neighbour");
        let all = overall(vec![c, crate_verdict("ok", None, vec![], false)]);
        assert_eq!(all.verdict, Verdict::Suspicious);
        assert_eq!(all.reasons.len(), 2);
    }

    #[test]
    fn probe_reasons_name_the_entry_and_leave_out_running_out_of_time() {
        let at = |e: Event, entry: &str| Event {
            entry: Some(entry.to_owned()),
            ..e
        };
        let events = [
            at(
                Event::new(Kind::Limit, "timeout", Decision::Denied),
                "d::serve",
            ),
            at(
                Event::new(Kind::Net, "connect", Decision::Denied).with("address", "127.0.0.1:9"),
                "d::run",
            ),
            at(
                Event::new(Kind::Net, "connect", Decision::Denied).with("address", "127.0.0.1:9"),
                "d::again",
            ),
        ];
        let reasons = runtime_reasons("d 1.0.0", VetPhase::Probe, &events);
        assert_eq!(reasons.len(), 1, "{reasons:?}");
        assert_eq!(reasons[0].phase, VetPhase::Probe);
        assert_eq!(reasons[0].code, "denied net/connect");
        assert!(
            reasons[0]
                .evidence
                .ends_with("address=127.0.0.1:9 (entry `d::run`)"),
            "{}",
            reasons[0].evidence
        );
    }

    #[test]
    fn runtime_events_give_one_reason_per_kind_with_the_first_as_evidence() {
        let entry = |e: Event| Event {
            phase: crate::events::Phase::Load,
            entry: Some("load".into()),
            ..e
        };
        let events = [
            entry(Event::new(Kind::Exec, "exec", Decision::Allowed).with("path", "/bin/true")),
            entry(
                Event::new(Kind::Net, "connect", Decision::Denied).with("address", "127.0.0.1:9"),
            ),
            entry(
                Event::new(Kind::Net, "connect", Decision::Denied).with("address", "127.0.0.1:8"),
            ),
            entry(
                Event::new(Kind::Leak, "decoy-read", Decision::Flagged)
                    .with("decoy", "solana-keypair"),
            ),
        ];
        let reasons = runtime_reasons("x 0.1.0", VetPhase::Load, &events);
        let codes: Vec<&str> = reasons.iter().map(|r| r.code.as_str()).collect();
        assert_eq!(codes, ["denied net/connect", "flagged leak/decoy-read"]);
        assert!(
            reasons[0].evidence.contains("127.0.0.1:9") && reasons[0].evidence.contains("load")
        );
        assert_eq!(reasons[0].phase, VetPhase::Load);
        assert_eq!(reasons[1].location.as_deref(), Some("load"));
        assert!(runtime_reasons("x", VetPhase::Load, &events[..1]).is_empty());
    }

    #[test]
    fn notable_fuzz_events_are_reasons_naming_their_target_and_allowed_ones_are_not() {
        let mut c = CrateReport::unjudged("beacon", "0.1.0", "registry", "x", ScriptStatus::None);
        let fuzz = |e: Event| Event {
            phase: crate::events::Phase::Fuzz,
            entry: Some("de_beacon".into()),
            ..e
        };
        c.events = vec![
            fuzz(Event::new(Kind::Exec, "exec", Decision::Allowed).with("path", "/bin/sh")),
            fuzz(Event::new(Kind::Net, "connect", Decision::Denied).with("address", "127.0.0.1:9")),
            fuzz(Event::new(Kind::Net, "connect", Decision::Denied).with("address", "127.0.0.1:9")),
            // A build-script event is the build phase's reason, not this one's.
            Event::new(Kind::Fs, "open-write", Decision::Denied),
        ];
        let reasons = fuzz_reasons(&c);
        assert_eq!(reasons.len(), 1, "{reasons:?}");
        let r = &reasons[0];
        assert_eq!(
            (r.phase, r.code.as_str()),
            (VetPhase::Fuzz, "denied net/connect")
        );
        assert!(
            r.evidence.contains("127.0.0.1:9") && r.evidence.contains("de_beacon"),
            "{r:?}"
        );
        assert_eq!(r.krate, "beacon 0.1.0");
    }

    #[test]
    fn a_crate_that_could_not_be_vetted_fails_unless_it_is_suspicious() {
        let c = crate_verdict("x", None, vec![], true);
        assert_eq!(c.verdict, Verdict::Failed);
        assert_eq!(overall(vec![c]).verdict, Verdict::Failed);
        assert_eq!(overall(vec![]).verdict, Verdict::Clean);
    }
}
