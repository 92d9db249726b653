//! Signals: `kill`, `tkill`, `tgkill`, `rt_sigqueueinfo` and `rt_tgsigqueueinfo` (signal 0, a
//! mere existence probe, never reaches the supervisor). The PID namespace bounds who a signal
//! can reach; one aimed at a process the sandbox does not hold is refused and recorded.

use super::{Answer, Call, Handler};
use crate::events::{Decision, Event, Kind};
use crate::kernel::syscall_name;

impl Handler {
    /// A signal sent by any of the kill family.
    pub(super) fn signal(&self, call: &Call) -> Answer {
        let nr = call.nr;
        let (target, sig) = if nr == libc::SYS_tgkill || nr == libc::SYS_rt_tgsigqueueinfo {
            (call.args[0] as i32, call.args[2] as i32)
        } else {
            (call.args[0] as i32, call.args[1] as i32)
        };
        if target <= 0 || self.pid_exists_inside(target) {
            return Answer::Continue; // the PID namespace bounds who this can reach
        }
        self.record(
            call,
            Event::new(
                Kind::Syscall,
                syscall_name(nr).unwrap_or("kill"),
                Decision::Denied,
            )
            .with("pid", target)
            .with("signal", sig)
            .with("reason", "no such process in the sandbox"),
        );
        Answer::Deny(libc::ESRCH)
    }
}
