//! How a campaign's time is shared between its targets.
//!
//! An even split wastes most of the budget: a target whose bug showed in its first seconds, or
//! whose coverage stopped growing, gets as long as one that is still reaching deeper. So the
//! time is spent in two rounds. The first gives every target an equal share of half the budget
//! (a lone target gets all of it). The second shares the other half between the targets that
//! are still worth running:
//!
//! 1. those still gaining coverage at the end of their first share and without a new crash;
//! 2. failing any, those without a new crash;
//! 3. failing any, those still gaining coverage;
//! 4. failing any, every target.
//!
//! Corpora persist, so a target's second share carries on from where its first one stopped.

use std::time::{Duration, SystemTime};

use super::libfuzzer::number_after;

/// Shortest share worth a libFuzzer start (fork mode spends about a second starting up).
pub(super) const MIN_SHARE: Duration = Duration::from_secs(2);

/// The share of each of `n` targets in the first round (a lone target gets all the time in
/// one run: there is nothing to choose between).
pub(super) fn first_round_share(time: Duration, n: usize) -> Duration {
    match n {
        0 => Duration::ZERO,
        1 => time.max(MIN_SHARE),
        n => (time / 2 / u32::try_from(n).unwrap_or(u32::MAX)).max(MIN_SHARE),
    }
}

/// What one target's first share showed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Outcome {
    /// Its feature count grew in the second half of the share.
    pub growing: bool,
    /// It saved a crash, timeout, out-of-memory or leak artifact during the share.
    pub crashed: bool,
}

/// The second round's plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct SecondRound {
    /// Targets (indices into the outcomes) and their shares, in order.
    pub shares: Vec<(usize, Duration)>,
    /// Which rule chose them, for the progress line.
    pub why: &'static str,
}

/// A rule choosing targets for the second round, and how the progress line names it.
type Rule = (fn(&Outcome) -> bool, &'static str);

/// The rules of this module's doc, in order: the first that chooses any target wins.
const RULES: [Rule; 4] = [
    (
        |o| o.growing && !o.crashed,
        "still gaining coverage, no crash yet",
    ),
    (|o| !o.crashed, "no crash yet"),
    (
        |o| o.growing,
        "every target crashed; still gaining coverage",
    ),
    (|_| true, "every target crashed or stopped gaining coverage"),
];

/// The second round: `remaining` time split between the targets chosen by the rules of this
/// module's doc, in their order. No shares when there is no time left worth one.
pub(super) fn second_round(remaining: Duration, outcomes: &[Outcome]) -> SecondRound {
    if outcomes.is_empty() || remaining < MIN_SHARE {
        return SecondRound {
            shares: Vec::new(),
            why: "no time left",
        };
    }
    let (chosen, why) = RULES
        .iter()
        .map(|(rule, why)| {
            let chosen: Vec<usize> = outcomes
                .iter()
                .enumerate()
                .filter(|(_, o)| rule(o))
                .map(|(i, _)| i)
                .collect();
            (chosen, *why)
        })
        .find(|(c, _)| !c.is_empty())
        .unwrap_or_default();
    // Fewer, longer shares rather than shares too short to start up in.
    let fit = (remaining.as_secs() / MIN_SHARE.as_secs()).max(1) as usize;
    let chosen = &chosen[..chosen.len().min(fit)];
    let share = remaining / u32::try_from(chosen.len()).unwrap_or(u32::MAX);
    SecondRound {
        shares: chosen.iter().map(|&i| (i, share)).collect(),
        why,
    }
}

/// Whether the features libFuzzer counts (edges, counters, comparisons, stack depth) grew in
/// the second half of a fork-mode run, from its status lines
/// (`#N: cov: C ft: F corp: .. time: Ts job: J`).
pub(super) fn still_growing(log: &str) -> bool {
    let series: Vec<(u64, u64)> = log
        .lines()
        .filter(|l| l.starts_with('#') && l.contains(" ft: ") && l.contains(" time: "))
        .filter_map(|l| Some((number_after(l, " time: ")?, number_after(l, " ft: ")?)))
        .collect();
    let Some(&(end, last)) = series.last() else {
        return false;
    };
    let half = end / 2;
    let before = series
        .iter()
        .filter(|(t, _)| *t <= half)
        .map(|(_, ft)| *ft)
        .max()
        .unwrap_or(0);
    last > before
}

/// Seconds of fuzzing in `slices` (start and length of each run of one target) before
/// `moment`: the time a finding took, not counting time spent on other targets.
pub(super) fn fuzzing_secs_before(
    slices: &[(SystemTime, Duration)],
    moment: SystemTime,
) -> Option<u64> {
    let mut total = Duration::ZERO;
    let mut inside = false;
    for &(start, len) in slices {
        let Ok(since) = moment.duration_since(start) else {
            continue;
        };
        inside = true;
        total += since.min(len);
    }
    inside.then_some(total.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    const fn o(growing: bool, crashed: bool) -> Outcome {
        Outcome { growing, crashed }
    }

    #[test]
    fn first_round_is_half_the_budget() {
        assert_eq!(
            first_round_share(Duration::from_secs(120), 6),
            Duration::from_secs(10)
        );
        assert_eq!(first_round_share(Duration::from_secs(3), 6), MIN_SHARE);
        assert_eq!(
            first_round_share(Duration::from_secs(45), 1),
            Duration::from_secs(45)
        );
        assert_eq!(first_round_share(Duration::from_secs(3), 0), Duration::ZERO);
    }

    #[test]
    fn second_round_prefers_growing_targets_without_a_crash() {
        let sixty = Duration::from_secs(60);
        let outcomes = [
            o(true, true),
            o(true, false),
            o(false, false),
            o(true, false),
        ];
        let plan = second_round(sixty, &outcomes);
        assert_eq!(
            plan.shares,
            vec![(1, Duration::from_secs(30)), (3, Duration::from_secs(30))]
        );
        assert_eq!(plan.why, "still gaining coverage, no crash yet");
        // Nothing growing: the targets without a crash.
        let outcomes = [o(false, true), o(false, false)];
        assert_eq!(second_round(sixty, &outcomes).shares, vec![(1, sixty)]);
        // Everything crashed: the growing ones, else all.
        let outcomes = [o(false, true), o(true, true)];
        let plan = second_round(sixty, &outcomes);
        assert_eq!(plan.shares, vec![(1, sixty)]);
        assert!(plan.why.starts_with("every target crashed"));
        let outcomes = [o(false, true), o(false, true)];
        assert_eq!(second_round(sixty, &outcomes).shares.len(), 2);
    }

    #[test]
    fn second_round_never_cuts_shares_below_a_start() {
        assert!(second_round(Duration::from_secs(1), &[o(true, false)])
            .shares
            .is_empty());
        let many = [o(true, false); 10];
        let r = second_round(Duration::from_secs(5), &many).shares;
        assert_eq!(r.len(), 2);
        assert!(r.iter().all(|(_, d)| *d >= MIN_SHARE));
    }

    #[test]
    fn growth_is_judged_on_the_second_half() {
        let growing = "#100: cov: 10 ft: 20 corp: 3 exec/s: 50 oom/timeout/crash: 0/0/0 time: 2s job: 1 dft_time: 0\n#900: cov: 12 ft: 25 corp: 4 exec/s: 90 oom/timeout/crash: 0/0/0 time: 9s job: 3 dft_time: 0\n";
        assert!(still_growing(growing));
        let flat = "#100: cov: 10 ft: 20 corp: 3 exec/s: 50 oom/timeout/crash: 0/0/0 time: 2s job: 1 dft_time: 0\n#500: cov: 12 ft: 25 corp: 4 exec/s: 90 oom/timeout/crash: 0/0/0 time: 4s job: 2 dft_time: 0\n#900: cov: 12 ft: 25 corp: 4 exec/s: 90 oom/timeout/crash: 0/0/0 time: 10s job: 3 dft_time: 0\n";
        assert!(!still_growing(flat));
        assert!(!still_growing("INFO: no status lines\n"));
    }

    #[test]
    fn finding_time_counts_only_this_targets_slices() {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1000);
        let slices = [
            (t0, Duration::from_secs(10)),
            (t0 + Duration::from_secs(50), Duration::from_secs(20)),
        ];
        let at = |s| t0 + Duration::from_secs(s);
        assert_eq!(fuzzing_secs_before(&slices, at(4)), Some(4));
        // Found 5 s into the second slice: 10 + 5.
        assert_eq!(fuzzing_secs_before(&slices, at(55)), Some(15));
        assert_eq!(
            fuzzing_secs_before(&slices, t0 - Duration::from_secs(1)),
            None
        );
    }
}
