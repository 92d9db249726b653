//! What a run-time program prints, searched for the run's decoy values. A test's output goes to
//! the terminal and from there into CI logs, which are often public: a payload that prints a
//! token or a private key there has sent it out. The program's standard output and error (the
//! ones it inherits from us) are captured with the build's [`Tee`], passed through unchanged as
//! they arrive, and searched once the run is over, when its decoys are known.

use std::os::fd::RawFd;

use crate::build::tee::Tee;
use crate::events::{Decision, Event, Kind, Phase};
use crate::sandbox::decoys::DecoySet;

/// The streams being captured during one run.
pub(super) struct Watch {
    /// (stream name, capture) for stdout and stderr.
    streams: Vec<(&'static str, Tee)>,
}

impl Watch {
    /// Captures whichever of stdout and stderr the run inherits (`stdio[i]` is None).
    pub(super) fn start(stdio: &[Option<RawFd>; 3]) -> std::io::Result<Watch> {
        let mut streams = Vec::new();
        for (fd, name) in [(1, "stdout"), (2, "stderr")] {
            if stdio[fd as usize].is_none() {
                streams.push((name, Tee::start(fd, None)?));
            }
        }
        Ok(Watch { streams })
    }

    /// Captures nothing.
    pub(super) fn none() -> Watch {
        Watch {
            streams: Vec::new(),
        }
    }

    /// Restores the streams; what was written to each, by stream name.
    pub(super) fn finish(self) -> Vec<(&'static str, Vec<u8>)> {
        self.streams
            .into_iter()
            .map(|(name, tee)| (name, tee.finish()))
            .collect()
    }
}

/// A `leak/decoy-output` event for every decoy found in a stream of `printed`, attributed to
/// `krate` in `phase`, its `location` the stream (`stdout`, `stderr`).
pub(super) fn decoy_events(
    decoys: &DecoySet,
    printed: &[(&'static str, Vec<u8>)],
    phase: Phase,
    krate: &str,
) -> Vec<Event> {
    let mut out = Vec::new();
    for (stream, bytes) in printed {
        for decoy in decoys.found_in(bytes) {
            let mut e = Event::new(Kind::Leak, "decoy-output", Decision::Flagged)
                .with("decoy", decoy.name.as_str())
                .with("location", *stream);
            e.krate = krate.to_owned();
            e.phase = phase;
            out.push(e);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_decoy_printed_on_a_stream_is_a_leak_naming_the_stream() {
        let home = tempfile::tempdir().unwrap();
        let set = DecoySet::plant(home.path()).unwrap();
        let (name, value) = set.env.first().cloned().expect("decoy variables");
        let printed = vec![
            (
                "stdout",
                format!("PATH=/usr/bin\n{name}={value}\n").into_bytes(),
            ),
            ("stderr", b"running 1 test\n".to_vec()),
        ];
        let events = decoy_events(&set, &printed, Phase::Test, "p 0.1.0");
        assert!(!events.is_empty(), "the decoy is found");
        for e in &events {
            assert_eq!((e.kind, e.action.as_str()), (Kind::Leak, "decoy-output"));
            assert_eq!(e.detail["location"], "stdout");
            assert_eq!((e.krate.as_str(), e.phase), ("p 0.1.0", Phase::Test));
        }
        let clean = vec![("stdout", b"PATH=/usr/bin:/bin\nHOME=/home/u\n".to_vec())];
        assert!(decoy_events(&set, &clean, Phase::Test, "p 0.1.0").is_empty());
    }
}
