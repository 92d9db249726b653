//! vet's `probe` phase: the vetted crate's public functions and methods called by a generated
//! program ([`crate::probe`]), each entry point in its own sandboxed run (phase `probe`, every
//! event naming its entry), the runs sharing the `--time` budget over the machine's cores. The
//! probe project lives in the scratch workspace (`<scratch>/probe`, its build's report in
//! `probe/report`, each entry's working directory and output in `probe/runs/N`). After the
//! build phase it builds into that phase's target directory, where the crate's graph is fresh
//! ([`crate::build::build_reusing`]).
//!
//! Every event goes into the vetted crate's `crates[]` entry; a notable one (denied, flagged,
//! a network tool) is a reason against the crate ([`verdict::runtime_reasons`]), except running
//! out of time or memory. Panics are counted and entries that run out of time are noted;
//! neither is suspicious by itself.

use std::time::Duration;

use super::pipeline::{plural, words, Pipeline, VetProgress};
use super::verdict;
use crate::build::BuildOptions;
use crate::error_chain::error_chain;
use crate::events::Event;
use crate::probe::{self, EntryError, EntryRun, RunPlan, PROBE_DIR};
use crate::report::{CrateReport, ScriptStatus, Verdict, VetPhase as Phase};
use crate::sandbox::Termination;

/// Skipped items named in the phase's words before "and N more".
const SKIPS_SHOWN: usize = 3;

impl Pipeline<'_> {
    /// Generates, builds and runs the probes of crate `i`.
    pub(super) fn probe(&mut self, i: usize) -> Result<String, String> {
        let u = self.unpacked(i)?;
        let opts = self.opts;
        let ws = self.scratch(&u)?;
        let dir = ws.dir.join(PROBE_DIR);
        let template = BuildOptions {
            manifest_path: None,
            profile: opts.profile.clone(),
            report_dir: None,
            cargo_args: Vec::new(),
            allow_degraded: opts.allow_degraded,
            airlock_bin: opts.airlock_bin.clone(),
            cargo: opts.cargo.clone(),
            tool_version: opts.tool_version.clone(),
        };
        let package = format!("{}@{}", u.name, u.version);
        let progress = self.progress;
        // After this vet's build phase, the probes build into its target directory: only the
        // crate, `arbitrary` and the probes are compiled again.
        let project = probe::prepare(
            &ws.manifest,
            &package,
            &dir,
            &template,
            self.crates[i].build_target.as_deref(),
            &|p| progress(VetProgress::Build(p)),
        )
        .map_err(|e| error_chain(&e))?;
        let skipped = skipped_words(&project.manifest.skipped);
        let Some(binary) = project.binary else {
            return Ok(format!("no public function a probe can call; {skipped}"));
        };
        let label = format!("{} {}", u.name, u.version);
        let plan = RunPlan {
            binary,
            entries: project
                .manifest
                .entries
                .iter()
                .map(|e| e.name.clone())
                .collect(),
            krate: label.clone(),
            package_dir: u.dir.clone(),
            work_dir: dir.join("runs"),
            budget: opts.time,
            jobs: std::thread::available_parallelism().map_or(1, |n| n.get()),
            allow_degraded: opts.allow_degraded,
        };
        let runs = probe::run_entries(&plan);
        let tally = Tally::of(&runs, plan.entry_timeout());
        let mut events: Vec<Event> = Vec::new();
        let mut failed: Vec<String> = Vec::new();
        for run in runs {
            match run.outcome {
                Ok(outcome) => events.extend(outcome.events),
                Err(EntryError::OutOfTime { .. }) => {}
                Err(e) => failed.push(format!("`{}`: {}", run.entry, error_chain(&e))),
            }
        }
        if let Some(first) = failed.first() {
            self.crates[i].fail(format!(
                "{} probe{} of {label} could not run (the first, {first})",
                failed.len(),
                plural(failed.len())
            ));
        }
        self.notes.extend(tally.notes.iter().cloned());
        let reasons = verdict::runtime_reasons(&label, Phase::Probe, &events);
        let notable = events
            .iter()
            .filter(|e| verdict::runtime_counts(Phase::Probe, e))
            .count();
        let krate = self.crate_report(&u.name, &u.version.to_string(), &u.dir);
        for r in &reasons {
            if !krate.reasons.contains(&r.code) {
                krate.reasons.push(r.code.clone());
            }
        }
        if !reasons.is_empty() {
            krate.verdict = Verdict::Suspicious;
        }
        krate.events.extend(events);
        let words = format!(
            "{} entr{} ran, {skipped}; {} panicked call{}, {} timed out; {}",
            tally.ran,
            if tally.ran == 1 { "y" } else { "ies" },
            tally.panics,
            plural(tally.panics),
            tally.timed_out,
            words(&reasons, notable, "notable event")
        );
        self.crates[i].reasons.extend(reasons);
        Ok(words)
    }

    /// The report entry of `name version`: the build phase's, else a new one.
    fn crate_report(
        &mut self,
        name: &str,
        version: &str,
        dir: &std::path::Path,
    ) -> &mut CrateReport {
        let at = self
            .built
            .iter()
            .position(|c| c.name == name && c.version == version);
        let at = at.unwrap_or_else(|| {
            self.built.push(CrateReport::unjudged(
                name,
                version,
                "registry",
                &dir.display().to_string(),
                ScriptStatus::NotRun,
            ));
            self.built.len() - 1
        });
        &mut self.built[at]
    }
}

/// What the entries' runs add up to.
#[derive(Debug, Default)]
struct Tally {
    ran: usize,
    panics: usize,
    timed_out: usize,
    notes: Vec<String>,
}

impl Tally {
    fn of(runs: &[EntryRun], timeout: Duration) -> Tally {
        let mut t = Tally::default();
        let mut not_run = 0;
        for run in runs {
            match &run.outcome {
                Ok(_) => t.ran += 1,
                Err(EntryError::OutOfTime { .. }) => not_run += 1,
                Err(_) => {}
            }
            if let Some(s) = run.summary {
                t.panics += s.panics;
            } else if let Ok(o) = &run.outcome {
                if o.termination != Termination::TimedOut {
                    t.notes.push(format!(
                        "the probe `{}` ended without its summary (exit {}; its output is in {})",
                        run.entry,
                        o.termination.exit_code(),
                        run.dir.display()
                    ));
                }
            }
            if run.timed_out() {
                t.timed_out += 1;
                t.notes.push(format!(
                    "the probe `{}` ran out of time ({} s per entry, a quarter of it per call)",
                    run.entry,
                    timeout.as_secs()
                ));
            }
        }
        if not_run > 0 {
            t.notes.push(format!(
                "{not_run} probe entr{} not run: the --time budget was spent",
                if not_run == 1 { "y was" } else { "ies were" }
            ));
        }
        t
    }
}

/// `3 skipped: a::f (unsafe: ...), ...` or `none skipped`.
fn skipped_words(skipped: &[harness_gen::probe::ProbeSkip]) -> String {
    if skipped.is_empty() {
        return "none skipped".to_owned();
    }
    let mut shown: Vec<String> = skipped
        .iter()
        .take(SKIPS_SHOWN)
        .map(|s| format!("{} ({})", s.item, s.reason))
        .collect();
    if skipped.len() > SKIPS_SHOWN {
        shown.push(format!(
            "{} more in probes.json",
            skipped.len() - SKIPS_SHOWN
        ));
    }
    format!("{} skipped: {}", skipped.len(), shown.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use harness_gen::probe::ProbeSkip;

    #[test]
    fn the_words_name_the_first_skipped_items_and_count_the_rest() {
        assert_eq!(skipped_words(&[]), "none skipped");
        let skip = |n: usize| ProbeSkip {
            item: format!("d::f{n}"),
            reason: "unsafe: calling it is the caller's contract".into(),
        };
        let all: Vec<ProbeSkip> = (0..5).map(skip).collect();
        let words = skipped_words(&all);
        assert!(
            words.starts_with("5 skipped: d::f0 (unsafe: calling it is the caller's contract), "),
            "{words}"
        );
        assert!(words.ends_with(", 2 more in probes.json"), "{words}");
        assert!(!words.contains("d::f3"), "{words}");
    }
}
