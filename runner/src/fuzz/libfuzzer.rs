//! libFuzzer's interface as the campaign uses it: the options of a run (the limits every run
//! gets and the ones the generator chose per target) and the figures its log reports.

use std::ffi::OsString;
use std::time::Duration;

use super::project::LibFuzzerOptions;

/// The libFuzzer options of a target's runs, as `(name, value)`: the limits every run gets,
/// then the options the generator chose for the target (format and parse targets need longer
/// inputs to nest deeply enough for unbounded recursion to show). The ClusterFuzzLite export
/// writes the same options into `<target>.options`.
pub(super) fn libfuzzer_options(
    input_timeout: Duration,
    rss_limit_mb: u64,
    chosen: Option<LibFuzzerOptions>,
) -> Vec<(&'static str, String)> {
    let mut options = vec![
        ("timeout", input_timeout.as_secs().max(1).to_string()),
        ("rss_limit_mb", rss_limit_mb.to_string()),
        ("malloc_limit_mb", rss_limit_mb.to_string()),
    ];
    if let Some(chosen) = chosen {
        if let Some(max_len) = chosen.max_len {
            options.push(("max_len", max_len.to_string()));
        }
        if let Some(len_control) = chosen.len_control {
            options.push(("len_control", len_control.to_string()));
        }
    }
    options
}

/// `options` as libFuzzer arguments (`-name=value`).
pub(super) fn as_args(options: Vec<(&'static str, String)>) -> Vec<OsString> {
    options
        .into_iter()
        .map(|(k, v)| format!("-{k}={v}").into())
        .collect()
}

/// The limits of a run that is not a target's campaign (reproduction, minimization).
pub(super) fn libfuzzer_limits(input_timeout: Duration, rss_limit_mb: u64) -> Vec<OsString> {
    as_args(libfuzzer_options(input_timeout, rss_limit_mb, None))
}

/// libFuzzer's final figures, from its log.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Stats {
    /// Inputs run.
    pub runs: u64,
    /// Edges covered.
    pub coverage: u64,
}

/// The number right after `key` in a libFuzzer status line.
pub(super) fn number_after(line: &str, key: &str) -> Option<u64> {
    let rest = &line[line.find(key)? + key.len()..];
    rest.trim_start()
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

/// Parses the status lines of a libFuzzer log (fork mode `#N: cov: ...` and plain `#N\tNEW
/// cov: ...`) and its final stats.
pub(super) fn parse_stats(log: &str) -> Stats {
    let mut stats = Stats::default();
    for line in log.lines() {
        if line.starts_with('#') && line.contains("cov:") {
            stats.runs = stats.runs.max(number_after(line, "#").unwrap_or(0));
            stats.coverage = stats.coverage.max(number_after(line, "cov:").unwrap_or(0));
        } else if let Some(n) = number_after(line, "stat::number_of_executed_units:") {
            stats.runs = stats.runs.max(n);
        }
    }
    stats
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_from_fork_and_plain_logs() {
        let fork = "#1024: cov: 120 ft: 300 corp: 45 exec/s: 2500 oom/timeout/crash: 0/0/3 time: 30s job: 12 dft_time: 0\n#4096: cov: 130 ft: 320 corp: 50 exec/s: 2600 oom/timeout/crash: 0/0/3 time: 60s job: 20 dft_time: 0\n";
        assert_eq!(
            parse_stats(fork),
            Stats {
                runs: 4096,
                coverage: 130
            }
        );
        let plain = "#2\tINITED cov: 10 ft: 10 corp: 1/1b exec/s: 0 rss: 30Mb\n#512\tNEW    cov: 15 ft: 20 corp: 2/3b lim: 4 exec/s: 512 rss: 31Mb\nstat::number_of_executed_units: 9000\nstat::average_exec_per_sec:     3000\n";
        let s = parse_stats(plain);
        assert_eq!(s.runs, 9000);
        assert_eq!(s.coverage, 15);
    }
}
