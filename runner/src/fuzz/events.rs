//! What the sandboxed runs of a fuzz target attempted: every event of its libFuzzer runs,
//! triage reruns and minimizations, kept per target (phase `fuzz`, `entry` = the target's name)
//! and given to the crate under test, whose verdict they count toward like any other phase's.
//!
//! A campaign runs the same code millions of times, so the events are deduplicated by kind,
//! action, decision and detail (pids and times aside): every distinct notable event is kept (up
//! to [`MAX_NOTABLE`]) and a bounded sample of the distinct allowed ones ([`MAX_ALLOWED`]); the
//! counts of everything recorded stay in the report (`fuzz.targets[].events`,
//! `notable_events`).

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::Path;

use crate::build::verdict::Verdicts;
use crate::events::{Event, Kind, Phase};
use crate::report::{CrateReport, ScriptStatus, Verdict};

/// Most distinct notable events kept per target.
pub(crate) const MAX_NOTABLE: usize = 200;
/// Most distinct allowed events kept per target (a sample: what the target did routinely).
pub(crate) const MAX_ALLOWED: usize = 20;

/// The events of one target's runs.
#[derive(Debug, Default)]
pub(crate) struct TargetEvents {
    /// Every event its runs recorded, before deduplication.
    pub recorded: u64,
    /// The notable ones among them ([`Event::is_notable`]).
    pub notable: u64,
    kept: Vec<Event>,
    seen: HashSet<String>,
    kept_notable: usize,
    kept_allowed: usize,
}

/// The `limit` action of a run that ended with processes of it still running.
const SURVIVORS: &str = "survivors";

/// The events of a fuzz run that are the target's: all but the `limit/survivors` of its end,
/// which the fuzzing machinery leaves on every target. When its time is up, libFuzzer's
/// fork-mode parent exits without waiting for the job it was running; when an input crashes,
/// the process dies while ASan's symbolizer (`llvm-symbolizer`, which it starts to symbolize
/// the crash and never waits for) is still running. The sandbox kills both and records them.
/// A process the target itself left behind is killed the same way, and what it attempted while
/// it ran is recorded as events of its own, which do count.
pub(crate) fn of_target(events: Vec<Event>) -> Vec<Event> {
    events
        .into_iter()
        .filter(|e| !(e.kind == Kind::Limit && e.action == SURVIVORS))
        .collect()
}

/// What identifies an event across runs: kind, action, decision and detail (not pid or time).
fn key(e: &Event) -> String {
    format!(
        "{}|{}|{}|{}",
        e.kind.as_str(),
        e.action,
        e.decision.as_str(),
        serde_json::Value::Object(e.detail.clone())
    )
}

impl TargetEvents {
    /// Adds the events of one run of `target`: stamps phase `fuzz` and the entry point, counts
    /// them, keeps the distinct ones within the bounds.
    pub(crate) fn add(&mut self, target: &str, events: Vec<Event>) {
        for mut e in events {
            self.recorded += 1;
            let notable = e.is_notable();
            if notable {
                self.notable += 1;
            }
            let room = if notable {
                self.kept_notable < MAX_NOTABLE
            } else {
                self.kept_allowed < MAX_ALLOWED
            };
            if !room || !self.seen.insert(key(&e)) {
                continue;
            }
            if notable {
                self.kept_notable += 1;
            } else {
                self.kept_allowed += 1;
            }
            e.phase = Phase::Fuzz;
            e.entry.get_or_insert_with(|| target.to_owned());
            self.kept.push(e);
        }
    }

    /// The distinct events kept, in the order they first happened.
    #[cfg(test)]
    pub(crate) fn kept(&self) -> &[Event] {
        &self.kept
    }
}

/// The events of every target of a campaign, with the crate each target fuzzes.
#[derive(Debug, Default)]
pub(crate) struct CampaignEvents {
    targets: BTreeMap<String, (String, TargetEvents)>,
}

impl CampaignEvents {
    /// The events of `target`, which fuzzes the crate named `krate`.
    pub(crate) fn target(&mut self, target: &str, krate: &str) -> &mut TargetEvents {
        &mut self
            .targets
            .entry(target.to_owned())
            .or_insert_with(|| (krate.to_owned(), TargetEvents::default()))
            .1
    }

    /// `(recorded, notable)` of `target` (zeros when it never ran).
    pub(crate) fn counts(&self, target: &str) -> (u64, u64) {
        self.targets
            .get(target)
            .map_or((0, 0), |(_, t)| (t.recorded, t.notable))
    }

    /// Gives every target's events to the crate it fuzzes in `verdicts` (added when the build
    /// did not list it; `dirs` names the crates' directories) and judges those crates again:
    /// a notable event of a fuzz run makes its crate suspicious, unless an `airlock.toml` `net`
    /// exception granted to the crate covers it.
    pub(crate) fn apply(
        self,
        verdicts: &mut Verdicts,
        dirs: &BTreeMap<String, std::path::PathBuf>,
    ) {
        for (target, (krate, events)) in self.targets {
            if events.kept.is_empty() {
                continue;
            }
            let i = match verdicts
                .crates
                .iter()
                .position(|c| same_name(&c.name, &krate))
            {
                Some(i) => i,
                None => {
                    verdicts.crates.push(unlisted(&krate, dirs.get(&krate)));
                    verdicts.crates.len() - 1
                }
            };
            let mut kept = events.kept;
            for e in &mut kept {
                e.entry.get_or_insert_with(|| target.clone());
            }
            judge(&mut verdicts.crates[i], kept);
        }
        let s = &mut verdicts.summary;
        let count = |v| verdicts.crates.iter().filter(|c| c.verdict == v).count();
        s.crates = verdicts.crates.len();
        s.clean = count(Verdict::Clean);
        s.suspicious = count(Verdict::Suspicious);
        s.failed = count(Verdict::Failed);
        s.not_run = count(Verdict::NotRun);
    }
}

/// Package names compare with `-` and `_` alike (targets.json may use either).
fn same_name(a: &str, b: &str) -> bool {
    a.replace('-', "_") == b.replace('-', "_")
}

/// A crate the instrumented build did not list (its build was fresh and recorded nothing).
pub(crate) fn unlisted(name: &str, dir: Option<&std::path::PathBuf>) -> CrateReport {
    CrateReport::unjudged(
        name,
        &dir.and_then(|d| version_of(d)).unwrap_or_default(),
        "path",
        &dir.map(|d| d.display().to_string()).unwrap_or_default(),
        ScriptStatus::None,
    )
}

/// The `package.version` of the manifest in `dir`.
fn version_of(dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(dir.join("Cargo.toml")).ok()?;
    let doc: toml::Table = toml::from_str(&text).ok()?;
    Some(doc.get("package")?.get("version")?.as_str()?.to_owned())
}

/// The reason a notable fuzz event gives against its crate:
/// `denied net/connect in fuzz target de_beacon`.
pub(crate) fn reason(e: &Event) -> String {
    format!(
        "{} in fuzz target {}",
        e.code(),
        e.entry.as_deref().unwrap_or("?")
    )
}

/// Whether a fuzz event of crate `c` counts against it: it is notable and no `net` exception
/// granted to the crate covers it (as for the build's events).
pub(crate) fn counts_against(c: &CrateReport, e: &Event) -> bool {
    let net_granted = c.exceptions.iter().any(|g| g.kind == "net");
    let granted = net_granted && (e.kind == Kind::Net || e.is_network_tool());
    e.is_notable() && !granted
}

/// Adds fuzz events (each naming its target in `entry`) to crate `c`, attributed to it, and
/// judges it again: each one that [`counts_against`] it is a reason, and any such reason makes
/// it suspicious.
pub(crate) fn judge(c: &mut CrateReport, events: Vec<Event>) {
    let label = c.label();
    let mut reasons: BTreeSet<String> = BTreeSet::new();
    for mut e in events {
        e.krate.clone_from(&label);
        e.phase = Phase::Fuzz;
        if counts_against(c, &e) {
            reasons.insert(reason(&e));
        }
        c.events.push(e);
    }
    if reasons.is_empty() {
        return;
    }
    if c.verdict != Verdict::Suspicious {
        // Failures and not-run notes stay as reasons; the verdict is now the suspicion.
        c.verdict = Verdict::Suspicious;
    }
    for r in reasons {
        if !c.reasons.contains(&r) {
            c.reasons.push(r);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::Decision;

    fn read(path: &str) -> Event {
        Event::new(Kind::Fs, "open-read", Decision::Denied)
            .with("path", path)
            .by(7)
    }

    #[test]
    fn a_million_iterations_of_one_attempt_are_one_event_and_counted() {
        let mut t = TargetEvents::default();
        for run in 0..10 {
            // The same denied read from different pids at different times.
            let events = (0..1000)
                .map(|i| {
                    let mut e = read("/root/.ssh/id_rsa").by(run * 1000 + i);
                    e.time_ms = u64::from(i as u32);
                    e
                })
                .collect();
            t.add("de_key", events);
        }
        assert_eq!(t.recorded, 10_000);
        assert_eq!(t.notable, 10_000);
        assert_eq!(t.kept().len(), 1);
        let e = &t.kept()[0];
        assert_eq!(e.phase, Phase::Fuzz);
        assert_eq!(e.entry.as_deref(), Some("de_key"));
    }

    #[test]
    fn what_the_fuzzing_machinery_leaves_running_is_not_the_targets() {
        let survivors = Event::new(Kind::Limit, SURVIVORS, Decision::Denied).with("processes", 1);
        let connect =
            Event::new(Kind::Net, "connect", Decision::Denied).with("address", "127.0.0.1:9");
        let timeout = Event::new(Kind::Limit, "timeout", Decision::Denied);
        let kept = of_target(vec![survivors, connect.clone(), timeout.clone()]);
        assert_eq!(kept, [connect, timeout]);
    }

    #[test]
    fn notable_events_are_all_kept_and_allowed_ones_sampled() {
        let mut t = TargetEvents::default();
        let allowed: Vec<Event> = (0..100)
            .map(|i| {
                Event::new(Kind::Exec, "exec", Decision::Allowed)
                    .with("argv", format!("sh -c job{i}"))
            })
            .collect();
        t.add("fmt_x", allowed);
        let denied: Vec<Event> = (0..50)
            .map(|i| {
                Event::new(Kind::Net, "connect", Decision::Denied)
                    .with("address", format!("127.0.0.1:{}", 1000 + i))
            })
            .collect();
        t.add("fmt_x", denied);
        assert_eq!((t.recorded, t.notable), (150, 50));
        let kept_allowed = t.kept().iter().filter(|e| !e.is_notable()).count();
        let kept_notable = t.kept().iter().filter(|e| e.is_notable()).count();
        assert_eq!(kept_allowed, MAX_ALLOWED);
        assert_eq!(kept_notable, 50, "every distinct notable event is kept");
        // A flood of distinct notable events stays bounded too.
        let flood: Vec<Event> = (0..1000).map(|i| read(&format!("/root/f{i}"))).collect();
        t.add("fmt_x", flood);
        assert_eq!(
            t.kept().iter().filter(|e| e.is_notable()).count(),
            MAX_NOTABLE
        );
        assert_eq!(t.notable, 1050);
    }

    #[test]
    fn a_notable_fuzz_event_makes_its_crate_suspicious_with_the_target_named() {
        let mut verdicts = Verdicts::default();
        let mut c = unlisted("beacon-parse", None);
        c.version = "0.1.0".into();
        verdicts.crates.push(c);
        verdicts.crates.push(unlisted("serde", None));
        let mut campaign = CampaignEvents::default();
        campaign.target("de_beacon", "beacon_parse").add(
            "de_beacon",
            vec![
                Event::new(Kind::Net, "connect", Decision::Denied).with("address", "127.0.0.1:9"),
                Event::new(Kind::Exec, "exec", Decision::Allowed).with("argv", "sh -c x"),
            ],
        );
        campaign.target("de_quiet", "serde").add(
            "de_quiet",
            vec![Event::new(Kind::Exec, "exec", Decision::Allowed).with("argv", "sh")],
        );
        assert_eq!(campaign.counts("de_beacon"), (2, 1));
        assert_eq!(campaign.counts("nope"), (0, 0));
        campaign.apply(&mut verdicts, &BTreeMap::new());
        let b = &verdicts.crates[0];
        assert_eq!(b.verdict, Verdict::Suspicious);
        assert_eq!(b.reasons, ["denied net/connect in fuzz target de_beacon"]);
        assert_eq!(b.events.len(), 2);
        assert!(b
            .events
            .iter()
            .all(|e| e.krate == "beacon-parse 0.1.0" && e.phase == Phase::Fuzz));
        // Allowed events alone leave a crate clean.
        assert_eq!(verdicts.crates[1].verdict, Verdict::Clean);
        assert_eq!(verdicts.summary.suspicious, 1);
        assert_eq!(verdicts.summary.clean, 1);
    }

    #[test]
    fn a_granted_net_exception_covers_network_attempts_of_fuzz_runs() {
        let mut c = unlisted("netty", None);
        c.exceptions.push(crate::report::Granted {
            kind: "net".into(),
            value: String::new(),
            reason: Some("talks to its own test server".into()),
        });
        let mut verdicts = Verdicts {
            crates: vec![c],
            ..Verdicts::default()
        };
        let mut campaign = CampaignEvents::default();
        campaign.target("t", "netty").add(
            "t",
            vec![Event::new(Kind::Net, "connect", Decision::Denied).with("address", "10.0.0.1:80")],
        );
        campaign.apply(&mut verdicts, &BTreeMap::new());
        assert_eq!(verdicts.crates[0].verdict, Verdict::Clean);
        assert_eq!(verdicts.crates[0].events.len(), 1);
    }
}
