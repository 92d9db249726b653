//! Decoy values in what a process hands to another program: an exec's arguments and
//! environment. A payload that found a decoy token passes it on the command line of the tool
//! that sends it (`curl -d <token>`) or in a variable of its own; the send itself may never be
//! seen (the tool is missing, or it fails before connecting), so the exec is where the leak
//! shows. Recorded as `leak/decoy-output` with `location: exec:<program>` (argv) or
//! `exec-env:<program>` (environment).

use super::{Call, Handler};
use crate::events::{Decision, Event, Kind};
use crate::sandbox::procmem::read_argv;

impl Handler {
    /// Records each decoy whose value (in any encoding the matcher knows) appears in `argv` of
    /// an exec of `path` by the process of `call`, or in its environment other than as the
    /// variable the decoy was planted in (which every child inherits as it is).
    pub(super) fn note_decoys_in_exec(&self, call: &Call, path: &str, argv: &[String]) {
        let Some(view) = &self.ctx.decoys else {
            return;
        };
        // One pass over the arguments joined: the matcher runs once per exec.
        let joined = argv.join("\0");
        let found = view.set.found_in(joined.as_bytes());
        let envp = if call.nr == libc::SYS_execveat {
            call.args[3]
        } else {
            call.args[2]
        };
        let env = read_argv(call.pid, envp);
        let moved: Vec<&str> = env
            .iter()
            .map(String::as_str)
            .filter(|kv| {
                !view
                    .set
                    .env
                    .iter()
                    .any(|(k, v)| kv.split_once('=') == Some((k.as_str(), v.as_str())))
            })
            .collect();
        let in_env = view.set.found_in(moved.join("\0").as_bytes());
        if found.is_empty() && in_env.is_empty() || !call.still_pending() {
            return;
        }
        for (decoys, location) in [(found, "exec"), (in_env, "exec-env")] {
            for decoy in decoys {
                self.record(
                    call,
                    Event::new(Kind::Leak, "decoy-output", Decision::Flagged)
                        .with("decoy", decoy.name.as_str())
                        .with("location", format!("{location}:{path}")),
                );
            }
        }
    }
}
