//! Calls refused whatever else holds, and recorded: `clone` and `unshare` asking for new
//! namespaces, `ioctl`s that push input into a terminal, the syscalls the profile denies, and
//! (never expected) a notification no route asked for.

use super::{Answer, Call, Handler};
use crate::events::{Decision, Event, Kind};
use crate::kernel::syscall_name;

/// `clone`/`unshare` flags that make new namespaces (`CLONE_NEWTIME` is `0x80`; libc does not
/// name it).
pub(super) const NS_FLAGS: u32 = (libc::CLONE_NEWUSER
    | libc::CLONE_NEWNS
    | libc::CLONE_NEWPID
    | libc::CLONE_NEWNET
    | libc::CLONE_NEWIPC
    | libc::CLONE_NEWUTS
    | libc::CLONE_NEWCGROUP
    | 0x80) as u32;

impl Handler {
    /// `clone` or `unshare` with a new-namespace flag.
    pub(super) fn new_namespace(&self, call: &Call) -> Answer {
        let name = if call.nr == libc::SYS_clone {
            "clone"
        } else {
            "unshare"
        };
        self.record(
            call,
            Event::new(Kind::Syscall, name, Decision::Denied)
                .with("flags", format!("{:#x}", call.args[0]))
                .with("reason", "new namespaces"),
        );
        Answer::Deny(libc::EPERM)
    }

    /// `ioctl(fd, TIOCSTI | TIOCLINUX, ...)`.
    pub(super) fn terminal_ioctl(&self, call: &Call) -> Answer {
        let request = if call.args[1] as u32 == libc::TIOCSTI as u32 {
            "TIOCSTI"
        } else {
            "TIOCLINUX"
        };
        self.record(
            call,
            Event::new(Kind::Syscall, "ioctl", Decision::Denied)
                .with("request", request)
                .with("fd", call.args[0]),
        );
        Answer::Deny(libc::EPERM)
    }

    /// A syscall the profile denies, by the name the profile gives it.
    pub(super) fn denied(&self, call: &Call) -> Answer {
        let name = self.ctx.denied.get(&call.nr).map_or_else(
            || syscall_name(call.nr).unwrap_or("unknown"),
            String::as_str,
        );
        self.record(
            call,
            Event::new(Kind::Syscall, name, Decision::Denied)
                .with("args", format_args_hex(&call.args[..3])),
        );
        Answer::Deny(libc::EPERM)
    }

    /// A notification for a syscall no route of the policy asks about (the filter and the
    /// dispatch derive from one table, so this cannot happen short of a kernel surprise):
    /// refused, loudly.
    pub(super) fn unrouted(&self, call: &Call) -> Answer {
        let name = syscall_name(call.nr).unwrap_or("unknown");
        self.record(
            call,
            Event::new(Kind::Syscall, name, Decision::Denied).with("nr", call.nr),
        );
        Answer::Deny(libc::ENOSYS)
    }
}

/// Syscall arguments as hex strings, for an event.
fn format_args_hex(args: &[u64]) -> Vec<String> {
    args.iter().map(|a| format!("{a:#x}")).collect()
}
