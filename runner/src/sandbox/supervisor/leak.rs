//! Decoy values in what a process hands to another program: an exec's arguments. A payload
//! that found a decoy token passes it on the command line of the tool that sends it
//! (`curl -d <token>`); the send itself may never be seen (the tool is missing, or it fails
//! before connecting), so the argv is where the leak shows. Recorded as `leak/decoy-output`
//! with `location: exec:<program>`.

use super::{Call, Handler};
use crate::events::{Decision, Event, Kind};

impl Handler {
    /// Records each decoy whose value (in any encoding the matcher knows) appears in `argv` of
    /// an exec of `path` by the process of `call`.
    pub(super) fn note_decoys_in_argv(&self, call: &Call, path: &str, argv: &[String]) {
        let Some(view) = &self.ctx.decoys else {
            return;
        };
        // One pass over the arguments joined, so a value split over nothing is found whole and
        // the matcher runs once per exec.
        let joined = argv.join("\0");
        for decoy in view.set.found_in(joined.as_bytes()) {
            self.record(
                call,
                Event::new(Kind::Leak, "decoy-output", Decision::Flagged)
                    .with("decoy", decoy.name.as_str())
                    .with("location", format!("exec:{path}")),
            );
        }
    }
}
