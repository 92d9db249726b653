//! The syscall policy as data: one table of routes, each a syscall, an optional test of one
//! argument, what happens to a matching call and why. A route that asks the supervisor names
//! the handler that answers ([`Judge`]), so the BPF program (compiled from [`routes`]) and the
//! supervisor's dispatch ([`Dispatch`], built from the same table) cannot disagree: a syscall is
//! routed to the supervisor only together with the handler that judges it.
//!
//! The filter takes the first route that matches, in table order; anything no route matches is
//! allowed (the kernel's other layers still apply).

use super::refuse::NS_FLAGS;
use super::{Answer, Call, Handler};
use crate::sandbox::seccomp::{Action, ArgTest, Rule};
use Judge as J;
use Then::{Allow, Ask, Errno};

/// What the filter does with a call a route matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Then {
    /// Let it through.
    Allow,
    /// Fail it with this errno, without asking the supervisor.
    Errno(i32),
    /// Ask the supervisor; this handler answers.
    Ask(Judge),
}

/// The handler that answers a notified syscall; each lives in the file of its concern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Judge {
    /// `socket`: `net.rs`.
    Socket,
    /// `socketpair` of a type that can address other sockets: `net.rs`.
    SocketPair,
    /// `connect`: `net.rs`.
    Connect,
    /// `bind`: `net.rs`.
    Bind,
    /// `sendto`: `net.rs`.
    SendTo,
    /// `sendmsg` and `sendmmsg` (the first message): `net.rs`.
    SendMsg,
    /// `execve`: `exec.rs`.
    Execve,
    /// `execveat`: `exec.rs`.
    Execveat,
    /// `openat`: `fs.rs`.
    Openat,
    /// `openat2`: `fs.rs`.
    Openat2,
    /// `open`: `fs.rs`.
    #[cfg(target_arch = "x86_64")]
    Open,
    /// `creat`: `fs.rs`.
    #[cfg(target_arch = "x86_64")]
    Creat,
    /// `link`: `fs.rs`.
    #[cfg(target_arch = "x86_64")]
    Link,
    /// `linkat`: `fs.rs`.
    Linkat,
    /// `kill`, `tkill`, `tgkill`, `rt_sigqueueinfo`, `rt_tgsigqueueinfo`: `signal.rs`.
    Signal,
    /// `clone` and `unshare` asking for new namespaces: `refuse.rs`.
    NewNamespace,
    /// `ioctl` injecting terminal input (`TIOCSTI`, `TIOCLINUX`): `refuse.rs`.
    TerminalIoctl,
    /// A syscall the profile denies: `refuse.rs`.
    Denied,
    /// Renames and symlinks, which could swap a produced program: `produced.rs`.
    Swap,
}

impl Judge {
    /// Answers `call` with this handler.
    pub(super) fn answer(self, handler: &Handler, call: &Call) -> Answer {
        match self {
            Judge::Socket => handler.socket(call),
            Judge::SocketPair => handler.socketpair(call),
            Judge::Connect => handler.connect(call),
            Judge::Bind => handler.bind(call),
            Judge::SendTo => handler.sendto(call),
            Judge::SendMsg => handler.sendmsg(call),
            Judge::Execve => handler.execve(call),
            Judge::Execveat => handler.execveat(call),
            Judge::Openat => handler.openat(call),
            Judge::Openat2 => handler.openat2(call),
            #[cfg(target_arch = "x86_64")]
            Judge::Open => handler.open_legacy(call),
            #[cfg(target_arch = "x86_64")]
            Judge::Creat => handler.creat(call),
            #[cfg(target_arch = "x86_64")]
            Judge::Link => handler.link_legacy(call),
            Judge::Linkat => handler.linkat(call),
            Judge::Signal => handler.signal(call),
            Judge::NewNamespace => handler.new_namespace(call),
            Judge::TerminalIoctl => handler.terminal_ioctl(call),
            Judge::Denied => handler.denied(call),
            Judge::Swap => handler.swap(call),
        }
    }
}

/// One entry of the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Route {
    /// The syscall number on this architecture.
    pub(super) nr: i64,
    /// The route applies only to calls whose argument passes this test.
    pub(super) when: Option<ArgTest>,
    /// What happens to a matching call.
    pub(super) then: Then,
    /// Why.
    pub(super) reason: &'static str,
}

impl Route {
    const fn always(nr: i64, then: Then, reason: &'static str) -> Route {
        Route {
            nr,
            when: None,
            then,
            reason,
        }
    }

    const fn when(nr: i64, test: ArgTest, then: Then, reason: &'static str) -> Route {
        Route {
            nr,
            when: Some(test),
            then,
            reason,
        }
    }

    /// The filter rule this route compiles to.
    pub(super) fn rule(&self) -> Rule {
        let action = match self.then {
            Then::Allow => Action::Allow,
            Then::Errno(errno) => Action::Errno(errno),
            Then::Ask(_) => Action::Notify,
        };
        Rule {
            nr: self.nr,
            test: self.when,
            action,
        }
    }
}

/// `(arg & mask) == value` on the low 32 bits of argument `arg`.
const fn masked_eq(arg: u8, mask: u32, value: u32) -> ArgTest {
    ArgTest::MaskedEq { arg, mask, value }
}

/// `arg & mask != 0` on the low 32 bits of argument `arg`.
const fn any_bit(arg: u8, mask: u32) -> ArgTest {
    ArgTest::AnyBit { arg, mask }
}

const SIGNAL_PROBE: &str =
    "signal 0 only probes for existence, which within the PID namespace reveals nothing";
const SIGNAL: &str = "a signal may only reach a process of the sandbox (the PID namespace bounds \
                      it; the supervisor records one aimed elsewhere)";
const NEW_NAMESPACES: &str = "new namespaces are refused whatever the profile says: in a new user \
     namespace a process would hold every capability again (and could, say, chroot away from the \
     sandbox's root, which the supervisor relies on sharing with every process of the run)";
const TERMINAL: &str = "pushes input into a terminal, to be run by whoever reads it";
const OPEN: &str = "an open that could write is checked against the writable directories and \
     symlinks out of them; a read outside every grant, which Landlock refuses silently, is \
     recorded (reads of decoys and protected paths are seen through tripwires as well)";
const LINK: &str = "a hard link out of a writable directory would make a read-only file writable \
                    through a new name; the supervisor records it";
const EXEC: &str = "every execution is recorded (argv, the resolved file), and one from outside \
                    the executable directories refused (Landlock agrees where it can)";
const SWAP: &str = "a rename or symlink can make a path name another file: it is ordered after \
     the compiles that ended and the execs of produced programs already allowed (produced.rs), \
     and Landlock decides it";
// sbx-net: the private loopback and the sinkhole.
const NET: &str = "the network namespace is private (its own loopback only), so nothing outside \
                   is reached; the supervisor lets a run reach its own servers, answers any other \
                   TCP destination with its sinkhole, and records each attempt and its payload \
                   (a DNS query names its target, an HTTP request its host)";
const BIND: &str = "a port bound in the run's private namespace is reachable from the run alone; \
                    unix sockets are bounded by Landlock; a socket from outside it is refused";

/// The policy, in the order the filter tries it.
const ROUTES: &[Route] = &[
    Route::always(
        libc::SYS_clone3,
        Errno(libc::ENOSYS),
        "glibc tries clone3 first and falls back to clone on ENOSYS; clone3's flags live in \
         memory, where BPF cannot see them, so it is refused and clone's flags are checked instead",
    ),
    Route::when(
        libc::SYS_clone,
        any_bit(0, NS_FLAGS),
        Ask(J::NewNamespace),
        NEW_NAMESPACES,
    ),
    Route::when(
        libc::SYS_unshare,
        any_bit(0, NS_FLAGS),
        Ask(J::NewNamespace),
        NEW_NAMESPACES,
    ),
    Route::when(
        libc::SYS_ioctl,
        masked_eq(1, u32::MAX, libc::TIOCSTI as u32),
        Ask(J::TerminalIoctl),
        TERMINAL,
    ),
    Route::when(
        libc::SYS_ioctl,
        masked_eq(1, u32::MAX, libc::TIOCLINUX as u32),
        Ask(J::TerminalIoctl),
        TERMINAL,
    ),
    Route::when(
        libc::SYS_socketpair,
        masked_eq(1, 0xf, libc::SOCK_STREAM as u32),
        Allow,
        "stream socketpairs are plain local IPC",
    ),
    Route::when(
        libc::SYS_socketpair,
        masked_eq(1, 0xf, libc::SOCK_SEQPACKET as u32),
        Allow,
        "sequenced-packet pairs are connected as well (Rust's std spawns processes with one)",
    ),
    Route::always(
        libc::SYS_socketpair,
        Ask(J::SocketPair),
        "datagram socketpairs can address arbitrary unix sockets",
    ),
    // sbx-cli (issue 12, refused reads): every open reaches the supervisor, reads included.
    Route::always(libc::SYS_openat, Ask(J::Openat), OPEN),
    #[cfg(target_arch = "x86_64")]
    Route::always(libc::SYS_open, Ask(J::Open), OPEN),
    // end sbx-cli
    Route::when(
        libc::SYS_kill,
        masked_eq(1, u32::MAX, 0),
        Allow,
        SIGNAL_PROBE,
    ),
    Route::always(libc::SYS_kill, Ask(J::Signal), SIGNAL),
    Route::when(
        libc::SYS_tkill,
        masked_eq(1, u32::MAX, 0),
        Allow,
        SIGNAL_PROBE,
    ),
    Route::always(libc::SYS_tkill, Ask(J::Signal), SIGNAL),
    Route::when(
        libc::SYS_tgkill,
        masked_eq(2, u32::MAX, 0),
        Allow,
        SIGNAL_PROBE,
    ),
    Route::always(libc::SYS_tgkill, Ask(J::Signal), SIGNAL),
    Route::always(libc::SYS_rt_sigqueueinfo, Ask(J::Signal), SIGNAL),
    Route::always(libc::SYS_rt_tgsigqueueinfo, Ask(J::Signal), SIGNAL),
    Route::always(
        libc::SYS_socket,
        Ask(J::Socket),
        "raw, packet, unix datagram and unknown sockets are refused; internet ones recorded",
    ),
    Route::always(libc::SYS_connect, Ask(J::Connect), NET),
    Route::always(libc::SYS_bind, Ask(J::Bind), BIND),
    Route::always(libc::SYS_sendto, Ask(J::SendTo), NET),
    Route::always(libc::SYS_sendmsg, Ask(J::SendMsg), NET),
    Route::always(libc::SYS_sendmmsg, Ask(J::SendMsg), NET),
    Route::always(libc::SYS_execve, Ask(J::Execve), EXEC),
    Route::always(libc::SYS_execveat, Ask(J::Execveat), EXEC),
    Route::always(
        libc::SYS_openat2,
        Ask(J::Openat2),
        "its flags live in memory, where BPF cannot see whether it could write",
    ),
    Route::always(libc::SYS_linkat, Ask(J::Linkat), LINK),
    #[cfg(target_arch = "x86_64")]
    Route::always(
        libc::SYS_creat,
        Ask(J::Creat),
        "creat always opens to write",
    ),
    #[cfg(target_arch = "x86_64")]
    Route::always(libc::SYS_link, Ask(J::Link), LINK),
    // Produced programs (produced.rs): the syscalls that could swap one.
    Route::always(libc::SYS_renameat, Ask(J::Swap), SWAP),
    Route::always(libc::SYS_renameat2, Ask(J::Swap), SWAP),
    Route::always(libc::SYS_symlinkat, Ask(J::Swap), SWAP),
    #[cfg(target_arch = "x86_64")]
    Route::always(libc::SYS_rename, Ask(J::Swap), SWAP),
    #[cfg(target_arch = "x86_64")]
    Route::always(libc::SYS_symlink, Ask(J::Swap), SWAP),
];

/// Why a syscall the profile denies is routed to the supervisor.
const PROFILE_DENIES: &str =
    "the profile denies it (its reason is in the profile): refused with EPERM and recorded";

/// The routes of a run: the table, then a route for each syscall the profile denies (by number).
pub(super) fn routes(denied: impl Iterator<Item = i64>) -> impl Iterator<Item = Route> {
    ROUTES
        .iter()
        .copied()
        .chain(denied.map(|nr| Route::always(nr, Ask(J::Denied), PROFILE_DENIES)))
}

/// The supervisor's side of the table: which handler answers a notified syscall. Built once per
/// run; a lookup is a binary search over a few dozen numbers, without allocation.
pub(super) struct Dispatch {
    /// `(syscall number, handler)`, sorted by number, one entry per number.
    by_nr: Vec<(i64, Judge)>,
}

impl Dispatch {
    /// The dispatch of the table's routes, with each of the `denied` syscalls answered by
    /// [`Judge::Denied`] whatever route notified it (the profile's denial comes first).
    pub(super) fn new(denied: impl Iterator<Item = i64>) -> Dispatch {
        let mut by_nr: Vec<(i64, Judge)> = Vec::new();
        for route in routes(denied) {
            if let Ask(judge) = route.then {
                match by_nr.iter_mut().find(|(nr, _)| *nr == route.nr) {
                    Some(entry) if judge == J::Denied => entry.1 = judge,
                    Some(_) => {} // the table's first route for the number names its handler
                    None => by_nr.push((route.nr, judge)),
                }
            }
        }
        by_nr.sort_unstable_by_key(|(nr, _)| *nr);
        Dispatch { by_nr }
    }

    /// The handler for syscall `nr`, if any route notifies it.
    pub(super) fn judge(&self, nr: i64) -> Option<Judge> {
        self.by_nr
            .binary_search_by_key(&nr, |(n, _)| *n)
            .ok()
            .map(|i| self.by_nr[i].1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::syscall_name;
    use crate::sandbox::seccomp::Program;

    /// Every handler, written as a match so that a new [`Judge`] must be listed here.
    fn every_judge() -> Vec<Judge> {
        let all = [
            J::Socket,
            J::SocketPair,
            J::Connect,
            J::Bind,
            J::SendTo,
            J::SendMsg,
            J::Execve,
            J::Execveat,
            J::Openat,
            J::Openat2,
            #[cfg(target_arch = "x86_64")]
            J::Open,
            #[cfg(target_arch = "x86_64")]
            J::Creat,
            #[cfg(target_arch = "x86_64")]
            J::Link,
            J::Linkat,
            J::Signal,
            J::NewNamespace,
            J::TerminalIoctl,
            J::Denied,
            J::Swap,
        ];
        for judge in all {
            match judge {
                J::Socket
                | J::SocketPair
                | J::Connect
                | J::Bind
                | J::SendTo
                | J::SendMsg
                | J::Execve
                | J::Execveat
                | J::Openat
                | J::Openat2
                | J::Linkat
                | J::Signal
                | J::NewNamespace
                | J::TerminalIoctl
                | J::Denied
                | J::Swap => {}
                #[cfg(target_arch = "x86_64")]
                J::Open | J::Creat | J::Link => {}
            }
        }
        all.to_vec()
    }

    /// Syscalls a profile might deny, some routed by the table already.
    fn sample_denied() -> Vec<i64> {
        vec![
            libc::SYS_ptrace,
            libc::SYS_bpf,
            libc::SYS_connect,
            libc::SYS_kill,
        ]
    }

    /// Arguments that pass `test`, and arguments that fail it.
    fn arguments_for(test: ArgTest) -> [[u64; 6]; 2] {
        let mut pass = [0u64; 6];
        let mut fail = [0u64; 6];
        match test {
            ArgTest::MaskedEq { arg, mask, value } => {
                pass[usize::from(arg)] = u64::from(value);
                fail[usize::from(arg)] = u64::from(!value & mask);
            }
            ArgTest::AnyBit { arg, mask } => pass[usize::from(arg)] = u64::from(mask),
        }
        [pass, fail]
    }

    /// What the table says for a call: the first route whose number and test match.
    fn first_match(routes: &[Route], nr: i64, args: &[u64; 6]) -> Option<Then> {
        routes
            .iter()
            .find(|r| {
                r.nr == nr
                    && r.when.is_none_or(|test| match test {
                        ArgTest::MaskedEq { arg, mask, value } => {
                            args[usize::from(arg)] as u32 & mask == value
                        }
                        ArgTest::AnyBit { arg, mask } => args[usize::from(arg)] as u32 & mask != 0,
                    })
            })
            .map(|r| r.then)
    }

    #[test]
    fn every_notified_call_has_a_handler() {
        let routes: Vec<Route> = routes(sample_denied().into_iter()).collect();
        let rules: Vec<Rule> = routes.iter().map(Route::rule).collect();
        let program = Program::compile(&rules).unwrap();
        let dispatch = Dispatch::new(sample_denied().into_iter());
        // Arguments that pass and fail every test of the table, plus none and all bits.
        let mut samples = vec![[0u64; 6], [u64::MAX; 6]];
        for test in routes.iter().filter_map(|r| r.when) {
            samples.extend(arguments_for(test));
        }
        let mut notified = 0;
        for nr in 0..1024 {
            for args in &samples {
                let action = program.evaluate(nr, args);
                // The compiled program does what the table says...
                let expected = first_match(&routes, nr, args).map_or(Action::Allow, |then| {
                    Route {
                        nr,
                        when: None,
                        then,
                        reason: "",
                    }
                    .rule()
                    .action
                });
                assert_eq!(action, Some(expected), "syscall {nr} with {args:x?}");
                // ...and whatever it asks about, a handler answers.
                if action == Some(Action::Notify) {
                    notified += 1;
                    let Some(Ask(judge)) = first_match(&routes, nr, args) else {
                        panic!("syscall {nr} is notified by no route that asks");
                    };
                    let dispatched = dispatch.judge(nr);
                    assert!(
                        dispatched.is_some(),
                        "syscall {nr} is notified without a handler"
                    );
                    if !sample_denied().contains(&nr) {
                        assert_eq!(dispatched, Some(judge), "syscall {nr}");
                    }
                }
            }
        }
        assert!(notified > 20, "only {notified} notified calls were tried");
    }

    #[test]
    fn a_syscall_has_one_handler() {
        for route in ROUTES {
            let Ask(judge) = route.then else { continue };
            for other in ROUTES.iter().filter(|r| r.nr == route.nr) {
                if let Ask(other) = other.then {
                    assert_eq!(judge, other, "syscall {} has two handlers", route.nr);
                }
            }
        }
    }

    #[test]
    fn every_handler_is_routed() {
        for judge in every_judge() {
            let routed = routes(sample_denied().into_iter()).any(|r| r.then == Ask(judge));
            assert!(routed, "{judge:?} answers no route");
        }
    }

    #[test]
    fn every_route_is_named_and_has_a_reason() {
        for route in ROUTES {
            assert!(
                syscall_name(route.nr).is_some(),
                "syscall {} is not in the kernel table",
                route.nr
            );
            assert!(route.reason.len() > 10, "{route:?} needs a reason");
        }
    }

    #[test]
    fn the_profile_denial_comes_first() {
        let dispatch = Dispatch::new(sample_denied().into_iter());
        assert_eq!(dispatch.judge(libc::SYS_connect), Some(J::Denied));
        assert_eq!(dispatch.judge(libc::SYS_ptrace), Some(J::Denied));
        assert_eq!(dispatch.judge(libc::SYS_bind), Some(J::Bind));
        assert_eq!(dispatch.judge(libc::SYS_getpid), None);
        let plain = Dispatch::new(std::iter::empty());
        assert_eq!(plain.judge(libc::SYS_connect), Some(J::Connect));
        assert_eq!(plain.judge(libc::SYS_ptrace), None);
    }
}
