//! The seccomp layer: a classic-BPF filter, installed with a user-notification listener, that
//! routes the syscalls the supervisor must see (network, exec, opens, links, signals) to it and
//! refuses the ones a build has no business making.
//!
//! Why by hand: no released pure-Rust crate supports `SECCOMP_RET_USER_NOTIF` (seccompiler 0.5
//! has no notify action; the `libseccomp` crate links the system libseccomp, which needs a `-dev`
//! package this project must not require). The program is small, straight-line and tested: every
//! rule is an equality on the syscall number, optionally followed by one masked test of one
//! argument, and the tests run the real filter in forked children. Raw `libc` for the same
//! reason: nix wraps neither `seccomp(2)` nor the BPF structures, and [`Program::install`] runs
//! in the allocation-free cloned child.
//!
//! Layout of the program:
//! 1. the architecture must be the one we were built for, else the process is killed (a 32-bit
//!    `int 0x80` entry would otherwise see different syscall numbers);
//! 2. on x86_64, the x32 ABI (`nr | 0x4000_0000`) is refused;
//! 3. one block per rule, in order; the first rule whose number matches decides;
//! 4. everything else is allowed (the kernel's other layers still apply).
//!
//! Every `Notify` rule leaves the decision to the supervisor, which may only answer
//! `continue` where another kernel rule (Landlock, the empty network namespace, the mount
//! namespace) bounds what the syscall can do: seccomp notification alone is not a boundary.
//!
//! This module only compiles and installs rules; which syscalls are routed where, and why, is
//! the policy table in `supervisor/policy.rs`, from which the supervisor's dispatch derives too.

use std::io;
use std::os::fd::{FromRawFd, OwnedFd};

/// Syscall names and numbers live with the other kernel facts; re-exported for the sandbox's
/// existing callers.
pub(crate) use crate::kernel::syscall_number;

/// What the filter does with a matching syscall.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    /// Let it through.
    Allow,
    /// Fail it with this errno, without asking the supervisor.
    Errno(i32),
    /// Ask the supervisor.
    Notify,
}

/// An optional test on one argument: the rule applies only when `(arg & mask) op value`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ArgTest {
    /// Low 32 bits of the argument, masked, equal `value`.
    MaskedEq { arg: u8, mask: u32, value: u32 },
    /// Low 32 bits of the argument, masked, are non-zero.
    AnyBit { arg: u8, mask: u32 },
}

/// One rule of the filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rule {
    pub nr: i64,
    pub test: Option<ArgTest>,
    pub action: Action,
}

impl Rule {
    /// A rule for every call of syscall `nr` (the policy table builds its rules directly; tests
    /// use this shorthand).
    #[cfg(test)]
    pub(crate) const fn always(nr: i64, action: Action) -> Rule {
        Rule {
            nr,
            test: None,
            action,
        }
    }

    /// A rule for calls of `nr` whose argument passes `test`.
    #[cfg(test)]
    pub(crate) const fn when(nr: i64, test: ArgTest, action: Action) -> Rule {
        Rule {
            nr,
            test: Some(test),
            action,
        }
    }
}

#[cfg(target_arch = "x86_64")]
const AUDIT_ARCH: u32 = 0xC000_003E; // AUDIT_ARCH_X86_64
#[cfg(target_arch = "aarch64")]
const AUDIT_ARCH: u32 = 0xC000_00B7; // AUDIT_ARCH_AARCH64

const RET_KILL_PROCESS: u32 = 0x8000_0000;
const RET_ERRNO: u32 = 0x0005_0000;
const RET_USER_NOTIF: u32 = 0x7fc0_0000;
const RET_ALLOW: u32 = 0x7fff_0000;

/// The kernel refuses filters longer than this (`BPF_MAXINSNS`); checked before `seccomp(2)`,
/// which would otherwise answer a bare `EINVAL`.
pub(crate) const BPF_MAX_LEN: usize = 4096;

// Offsets into `struct seccomp_data`.
const OFF_NR: u32 = 0;
const OFF_ARCH: u32 = 4;
const fn off_arg_low(arg: u8) -> u32 {
    // args start at 16, 8 bytes each; the low half comes first on little-endian machines.
    16 + 8 * arg as u32
}

const BPF_LD_W_ABS: u16 = (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16;
const BPF_JEQ_K: u16 = (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16;
const BPF_JGE_K: u16 = (libc::BPF_JMP | libc::BPF_JGE | libc::BPF_K) as u16;
const BPF_JSET_K: u16 = (libc::BPF_JMP | libc::BPF_JSET | libc::BPF_K) as u16;
const BPF_AND_K: u16 = (libc::BPF_ALU | libc::BPF_AND | libc::BPF_K) as u16;
const BPF_RET_K: u16 = (libc::BPF_RET | libc::BPF_K) as u16;

fn stmt(code: u16, k: u32) -> libc::sock_filter {
    libc::sock_filter {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}

fn jump(code: u16, k: u32, jt: u8, jf: u8) -> libc::sock_filter {
    libc::sock_filter { code, jt, jf, k }
}

fn ret(action: Action) -> libc::sock_filter {
    let k = match action {
        Action::Allow => RET_ALLOW,
        Action::Errno(e) => RET_ERRNO | (e as u32 & 0xffff),
        Action::Notify => RET_USER_NOTIF,
    };
    stmt(BPF_RET_K, k)
}

/// Errors building or installing the filter.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SeccompError {
    /// The program exceeds what the kernel accepts.
    #[error("seccomp program has {len} instructions; the kernel accepts at most {BPF_MAX_LEN}")]
    TooLong { len: usize },
    /// A syscall number does not fit a BPF comparison.
    #[error("syscall number {nr} is out of range")]
    BadNumber { nr: i64 },
}

/// A compiled filter, ready to install.
#[derive(Debug, Clone)]
pub(crate) struct Program {
    insns: Vec<libc::sock_filter>,
}

impl Program {
    /// Compiles `rules` (first match wins; anything unmatched is allowed).
    pub(crate) fn compile(rules: &[Rule]) -> Result<Program, SeccompError> {
        let mut insns = vec![
            stmt(BPF_LD_W_ABS, OFF_ARCH),
            jump(BPF_JEQ_K, AUDIT_ARCH, 1, 0),
            stmt(BPF_RET_K, RET_KILL_PROCESS),
            stmt(BPF_LD_W_ABS, OFF_NR),
        ];
        if cfg!(target_arch = "x86_64") {
            // x32 syscalls: same numbers plus __X32_SYSCALL_BIT; none has any business here.
            insns.push(jump(BPF_JGE_K, 0x4000_0000, 0, 1));
            insns.push(ret(Action::Errno(libc::ENOSYS)));
        }
        for rule in rules {
            let nr = u32::try_from(rule.nr).map_err(|_| SeccompError::BadNumber { nr: rule.nr })?;
            match rule.test {
                None => {
                    insns.push(jump(BPF_JEQ_K, nr, 0, 1));
                    insns.push(ret(rule.action));
                }
                Some(ArgTest::MaskedEq { arg, mask, value }) => {
                    // nr matches? then load arg, mask, compare; restore nr in A either way.
                    insns.push(jump(BPF_JEQ_K, nr, 0, 5));
                    insns.push(stmt(BPF_LD_W_ABS, off_arg_low(arg)));
                    insns.push(stmt(BPF_AND_K, mask));
                    insns.push(jump(BPF_JEQ_K, value, 0, 1));
                    insns.push(ret(rule.action));
                    insns.push(stmt(BPF_LD_W_ABS, OFF_NR));
                }
                Some(ArgTest::AnyBit { arg, mask }) => {
                    insns.push(jump(BPF_JEQ_K, nr, 0, 4));
                    insns.push(stmt(BPF_LD_W_ABS, off_arg_low(arg)));
                    insns.push(jump(BPF_JSET_K, mask, 0, 1));
                    insns.push(ret(rule.action));
                    insns.push(stmt(BPF_LD_W_ABS, OFF_NR));
                }
            }
        }
        insns.push(ret(Action::Allow));
        if insns.len() > BPF_MAX_LEN {
            return Err(SeccompError::TooLong { len: insns.len() });
        }
        Ok(Program { insns })
    }

    /// Installs the filter on the calling thread and returns the notification listener.
    ///
    /// Needs `no_new_privs` (or `CAP_SYS_ADMIN`). Async-signal-safe: no allocation, so it may run
    /// in a child forked from a multi-threaded process.
    pub(crate) fn install(&self) -> io::Result<OwnedFd> {
        let prog = libc::sock_fprog {
            len: self.insns.len() as u16,
            filter: self.insns.as_ptr().cast_mut(),
        };
        let flags =
            libc::SECCOMP_FILTER_FLAG_NEW_LISTENER | libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;
        // SAFETY: `prog` points at `self.insns`, which outlives the call; the kernel copies it.
        let mut fd = unsafe {
            libc::syscall(
                libc::SYS_seccomp,
                libc::SECCOMP_SET_MODE_FILTER,
                flags,
                &prog as *const libc::sock_fprog,
            )
        };
        if fd < 0 && io::Error::last_os_error().raw_os_error() == Some(libc::EINVAL) {
            // WAIT_KILLABLE_RECV needs Linux 5.19; without it a killed task may linger until
            // the supervisor answers, which it always does.
            // SAFETY: as above.
            fd = unsafe {
                libc::syscall(
                    libc::SYS_seccomp,
                    libc::SECCOMP_SET_MODE_FILTER,
                    libc::SECCOMP_FILTER_FLAG_NEW_LISTENER,
                    &prog as *const libc::sock_fprog,
                )
            };
        }
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: the kernel just returned this descriptor to us and nothing else owns it.
        Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
    }
}

/// Runs the program on a call, the way the kernel would on this architecture: what it
/// returns, or `None` for killing the process. For tests that check a compiled policy against
/// its table; it interprets only the instructions [`Program::compile`] emits.
#[cfg(test)]
impl Program {
    pub(crate) fn evaluate(&self, nr: i64, args: &[u64; 6]) -> Option<Action> {
        // struct seccomp_data { int nr; u32 arch; u64 instruction_pointer; u64 args[6]; }
        let mut data = [0u8; 64];
        data[0..4].copy_from_slice(&(nr as u32).to_ne_bytes());
        data[4..8].copy_from_slice(&AUDIT_ARCH.to_ne_bytes());
        for (i, a) in args.iter().enumerate() {
            data[16 + 8 * i..24 + 8 * i].copy_from_slice(&a.to_ne_bytes());
        }
        let word = |off: u32| {
            let off = off as usize;
            u32::from_ne_bytes(data[off..off + 4].try_into().unwrap())
        };
        let (mut acc, mut pc) = (0u32, 0usize);
        loop {
            let insn = self.insns[pc];
            pc += 1;
            let skip = |taken: bool| usize::from(if taken { insn.jt } else { insn.jf });
            match insn.code {
                BPF_LD_W_ABS => acc = word(insn.k),
                BPF_AND_K => acc &= insn.k,
                BPF_JEQ_K => pc += skip(acc == insn.k),
                BPF_JGE_K => pc += skip(acc >= insn.k),
                BPF_JSET_K => pc += skip(acc & insn.k != 0),
                BPF_RET_K => {
                    return match insn.k {
                        RET_KILL_PROCESS => None,
                        RET_ALLOW => Some(Action::Allow),
                        RET_USER_NOTIF => Some(Action::Notify),
                        k if k & 0xffff_0000 == RET_ERRNO => {
                            Some(Action::Errno((k & 0xffff) as i32))
                        }
                        k => panic!("unexpected return {k:#x}"),
                    };
                }
                code => panic!("instruction {code:#x} is not one compile emits"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `body` in a forked child with `rules` installed (no listener answering: a `Notify`
    /// rule would block, so tests here only use Allow/Errno) and returns its exit code.
    fn in_filtered_child(rules: &[Rule], body: fn() -> i32) -> i32 {
        let program = Program::compile(rules).unwrap();
        // SAFETY: the child only makes raw syscalls and `_exit`s; no allocation or locks.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0);
        if pid == 0 {
            // SAFETY: plain prctl on ourselves.
            unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) };
            let code = match program.install() {
                Ok(_listener) => body(),
                Err(_) => 100,
            };
            // SAFETY: terminating the forked child without running destructors.
            unsafe { libc::_exit(code) };
        }
        let mut status = 0;
        // SAFETY: waiting for our own child.
        unsafe { libc::waitpid(pid, &mut status, 0) };
        assert!(libc::WIFEXITED(status), "child died: {status:#x}");
        libc::WEXITSTATUS(status)
    }

    fn errno() -> i32 {
        io::Error::last_os_error().raw_os_error().unwrap_or(0)
    }

    #[test]
    fn errno_rule_refuses_and_others_pass() {
        let rules = [Rule::always(libc::SYS_getppid, Action::Errno(libc::EPERM))];
        let code = in_filtered_child(&rules, || {
            // SAFETY: raw syscalls without pointer arguments.
            let denied =
                unsafe { libc::syscall(libc::SYS_getppid) } == -1 && errno() == libc::EPERM;
            // SAFETY: as above.
            let allowed = unsafe { libc::syscall(libc::SYS_getpid) } > 0;
            i32::from(denied) * 10 + i32::from(allowed)
        });
        assert_eq!(code, 11);
    }

    #[test]
    fn argument_tests_select_calls() {
        // socketpair(AF_UNIX, SOCK_STREAM) allowed, any other type refused.
        let rules = [
            Rule::when(
                libc::SYS_socketpair,
                ArgTest::MaskedEq {
                    arg: 1,
                    mask: 0xf,
                    value: libc::SOCK_STREAM as u32,
                },
                Action::Allow,
            ),
            Rule::always(libc::SYS_socketpair, Action::Errno(libc::EACCES)),
            Rule::when(
                libc::SYS_ioctl,
                ArgTest::AnyBit {
                    arg: 1,
                    mask: 0x8000_0000,
                },
                Action::Errno(libc::ENOTTY),
            ),
        ];
        let code = in_filtered_child(&rules, || {
            let mut fds = [0; 2];
            // SAFETY: `fds` has room for the two descriptors.
            let stream = unsafe {
                libc::socketpair(
                    libc::AF_UNIX,
                    libc::SOCK_STREAM | libc::SOCK_CLOEXEC,
                    0,
                    fds.as_mut_ptr(),
                )
            } == 0;
            // SAFETY: as above.
            let dgram =
                unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_DGRAM, 0, fds.as_mut_ptr()) }
                    == -1
                    && errno() == libc::EACCES;
            i32::from(stream) * 10 + i32::from(dgram)
        });
        assert_eq!(code, 11);
    }

    #[test]
    fn length_is_checked_before_the_kernel() {
        let rules = vec![Rule::always(libc::SYS_getpid, Action::Allow); 3000];
        assert!(matches!(
            Program::compile(&rules),
            Err(SeccompError::TooLong { .. })
        ));
    }
}
