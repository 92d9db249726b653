//! The sandbox child: everything that happens between `clone(2)` and the command's `execve`.
//!
//! The supervisor may be multi-threaded, and `clone` copies only the calling thread, so a lock
//! (malloc's, stdout's) held by another thread at that instant stays held forever in the child.
//! Everything here therefore runs on data the supervisor prepared ([`ChildPlan`]) and makes raw
//! syscalls only: no allocation, no locks, no panics. Failures are reported to the supervisor
//! as a fixed-size [`Message`] over the control socket, and the child `_exit`s. That is why
//! this file calls `libc` directly rather than `nix`: no wrapper's allocation or error
//! conversion can sneak in, and each call is visibly a single system call.
//!
//! Two processes run here. The first (PID 1 of the new PID namespace, "init") finishes the
//! namespace setup, forks the command process, reaps every orphan until the command exits, and
//! reports the command's wait status; when it exits the kernel kills whatever is left in the
//! namespace. The second (the command) drops capabilities, sets `no_new_privs`, enforces
//! Landlock, installs the seccomp filter, hands the listener to the supervisor and `execve`s.
//! Init is not itself filtered, but the command cannot reach it: `ptrace` and
//! `process_vm_*` are refused by seccomp, and Landlock scopes ptrace and signals to its domain.

use std::ffi::CString;
use std::os::fd::{AsRawFd, RawFd};

use super::landlock::PreparedRuleset;
use super::limits::Rlimits;
use super::namespaces::CompiledPlan;
use super::seccomp::Program;
use super::LayerStatus;

/// Which setup step a child failure happened in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub(crate) enum Step {
    WaitForGo = 1,
    IdMaps = 2,
    Mount = 3,
    Hostname = 4,
    Rlimit = 5,
    Chdir = 6,
    Fork = 7,
    DropCaps = 8,
    NoNewPrivs = 9,
    Landlock = 10,
    Seccomp = 11,
    SendListener = 12,
    Exec = 13,
    Cgroup = 14,
    Network = 15,
}

impl Step {
    /// Decodes a step number from the wire.
    pub(crate) fn from_u32(v: u32) -> Option<Step> {
        use Step::*;
        [
            WaitForGo,
            IdMaps,
            Mount,
            Hostname,
            Rlimit,
            Chdir,
            Fork,
            DropCaps,
            NoNewPrivs,
            Landlock,
            Seccomp,
            SendListener,
            Exec,
            Cgroup,
            Network,
        ]
        .into_iter()
        .find(|s| *s as u32 == v)
    }

    /// What the step does, for error messages.
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Step::WaitForGo => "waiting for the supervisor",
            Step::Cgroup => "joining the run's cgroups",
            Step::IdMaps => "writing the user namespace's uid/gid maps",
            Step::Mount => "building the mount namespace",
            Step::Hostname => "setting the sandbox hostname",
            Step::Rlimit => "setting resource limits",
            Step::Chdir => "entering the working directory",
            Step::Fork => "starting the command process",
            Step::DropCaps => "dropping capabilities",
            Step::NoNewPrivs => "setting no_new_privs",
            Step::Landlock => "enforcing Landlock",
            Step::Seccomp => "installing the seccomp filter",
            Step::SendListener => "handing the seccomp listener to the supervisor",
            Step::Exec => "executing the command",
            Step::Network => "bringing up the private loopback and the sinkhole",
        }
    }
}

/// The fixed-size messages on the control socket (child to supervisor).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Message {
    /// Setup failed at `step` (with a step-specific `detail`, e.g. the mount index) with `errno`.
    Failed { step: u32, detail: u32, errno: i32 },
    /// The filter is installed as descriptor `listener` in the sender, which waits for an
    /// acknowledgement (any message) before it closes it and `sinkhole` (the sinkhole's
    /// listening socket in the run's network namespace, or -1). `landlock` is the layer's
    /// status.
    Ready {
        landlock: u32,
        listener: i32,
        sinkhole: i32,
    },
    /// The command ended with wait status `status`; `survivors` processes were still running.
    Exited { status: i32, survivors: u32 },
}

const TAG_FAILED: u32 = 1;
const TAG_READY: u32 = 2;
const TAG_EXITED: u32 = 3;
/// Size of every message on the wire.
pub(crate) const MESSAGE_LEN: usize = 16;

impl Message {
    /// Encodes into the 16-byte wire form.
    pub(crate) fn encode(self) -> [u8; MESSAGE_LEN] {
        let (tag, a, b, c) = match self {
            Message::Failed {
                step,
                detail,
                errno,
            } => (TAG_FAILED, step, detail, errno as u32),
            Message::Ready {
                landlock,
                listener,
                sinkhole,
            } => (TAG_READY, landlock, listener as u32, sinkhole as u32),
            Message::Exited { status, survivors } => (TAG_EXITED, status as u32, survivors, 0),
        };
        let mut out = [0u8; MESSAGE_LEN];
        out[0..4].copy_from_slice(&tag.to_ne_bytes());
        out[4..8].copy_from_slice(&a.to_ne_bytes());
        out[8..12].copy_from_slice(&b.to_ne_bytes());
        out[12..16].copy_from_slice(&c.to_ne_bytes());
        out
    }

    /// Decodes the wire form.
    pub(crate) fn decode(bytes: &[u8]) -> Option<Message> {
        if bytes.len() != MESSAGE_LEN {
            return None;
        }
        let word = |i: usize| u32::from_ne_bytes(bytes[i..i + 4].try_into().unwrap_or([0; 4]));
        match word(0) {
            TAG_FAILED => Some(Message::Failed {
                step: word(4),
                detail: word(8),
                errno: word(12) as i32,
            }),
            TAG_READY => Some(Message::Ready {
                landlock: word(4),
                listener: word(8) as i32,
                sinkhole: word(12) as i32,
            }),
            TAG_EXITED => Some(Message::Exited {
                status: word(4) as i32,
                survivors: word(8),
            }),
            _ => None,
        }
    }
}

/// Everything the child needs, prepared by the supervisor.
pub(crate) struct ChildPlan {
    /// `/proc/self/uid_map` and `gid_map` contents, when a user namespace is created.
    pub id_maps: Option<(CString, CString)>,
    pub mounts: Option<CompiledPlan>,
    pub set_hostname: bool,
    /// Whether the run has its own network namespace: then init brings its loopback up and
    /// opens the sinkhole's listener there.
    pub network: bool,
    /// Whether this process is PID 1 of its own namespace (then leftovers are counted, and
    /// killed by the kernel when it exits).
    pub pid_namespace: bool,
    pub rlimits: Rlimits,
    /// Open `tasks` files of the run's cgroups (cgroup v1), through which init moves itself
    /// before anything else: a thread moving itself takes no global lock, where moving another
    /// process waits for an RCU grace period (about 10 ms) on every run.
    pub join_cgroups: Vec<RawFd>,
    pub cwd: CString,
    pub landlock: Option<PreparedRuleset>,
    pub seccomp: Program,
    pub program: CString,
    pub argv: Vec<CString>,
    pub envp: Vec<CString>,
    /// The child's end of the control socket.
    pub control: RawFd,
    /// Descriptors (besides 0, 1, 2) the command inherits, e.g. a jobserver's.
    pub keep_fds: Vec<RawFd>,
    /// Descriptors to put in place of stdin, stdout and stderr.
    pub stdio: [Option<RawFd>; 3],
}

fn errno() -> i32 {
    std::io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO)
}

/// Sends with `write(2)`, which the seccomp filter does not route to the supervisor (`send`
/// and `sendmsg` it does, and the supervisor may not be listening yet).
fn send(control: RawFd, message: Message) {
    let bytes = message.encode();
    // SAFETY: `bytes` is valid for its length.
    unsafe { libc::write(control, bytes.as_ptr().cast(), bytes.len()) };
}

/// Waits for one message from the supervisor; false if it went away.
fn wait_for_supervisor(control: RawFd) -> bool {
    let mut buf = [0u8; MESSAGE_LEN];
    // SAFETY: `buf` is writable for its length.
    unsafe { libc::read(control, buf.as_mut_ptr().cast(), buf.len()) > 0 }
}

fn fail(control: RawFd, step: Step, detail: u32, errno: i32) -> ! {
    send(
        control,
        Message::Failed {
            step: step as u32,
            detail,
            errno,
        },
    );
    // SAFETY: terminating the child without unwinding or running atexit handlers.
    unsafe { libc::_exit(127) }
}

fn write_file(path: &std::ffi::CStr, data: &[u8]) -> Result<(), i32> {
    // SAFETY: valid C string; descriptor closed below.
    let fd = unsafe { libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(errno());
    }
    // SAFETY: `data` valid for its length; fd is ours.
    let n = unsafe { libc::write(fd, data.as_ptr().cast(), data.len()) };
    let result = if n == data.len() as isize {
        Ok(())
    } else {
        Err(errno())
    };
    // SAFETY: closing our own descriptor.
    unsafe { libc::close(fd) };
    result
}

impl ChildPlan {
    /// Runs in the cloned child (PID 1 of the new PID namespace). Never returns.
    pub(crate) fn run_init(mut self) -> ! {
        let control = self.control;
        for (i, &tasks) in self.join_cgroups.iter().enumerate() {
            // "0": the writing thread itself (init is single-threaded, so the whole process).
            // SAFETY: writing one byte from a static buffer to our own descriptor.
            if unsafe { libc::write(tasks, b"0".as_ptr().cast(), 1) } != 1 {
                fail(control, Step::Cgroup, i as u32, errno());
            }
            // SAFETY: closing our own descriptor; nothing after this may use it.
            unsafe { libc::close(tasks) };
        }
        if let Some((uid_map, gid_map)) = &self.id_maps {
            let steps: [(&std::ffi::CStr, &[u8]); 3] = [
                (c"/proc/self/setgroups", b"deny"),
                (c"/proc/self/uid_map", uid_map.as_bytes()),
                (c"/proc/self/gid_map", gid_map.as_bytes()),
            ];
            for (i, (path, data)) in steps.iter().enumerate() {
                if let Err(e) = write_file(path, data) {
                    fail(control, Step::IdMaps, i as u32, e);
                }
            }
        }
        if let Some(mounts) = &self.mounts {
            if let Err(f) = mounts.apply() {
                fail(control, Step::Mount, f.index as u32, f.errno);
            }
        }
        if self.set_hostname {
            let name = b"airlock";
            // SAFETY: `name` valid for its length.
            if unsafe { libc::sethostname(name.as_ptr().cast(), name.len()) } != 0 {
                fail(control, Step::Hostname, 0, errno());
            }
        }
        let sinkhole = if self.network {
            if let Err(e) = super::namespaces::loopback_up() {
                fail(control, Step::Network, 0, e);
            }
            match super::sinkhole::listen_in_child() {
                Ok(fd) => fd,
                Err(e) => fail(control, Step::Network, 1, e),
            }
        } else {
            -1
        };
        if let Err((resource, e)) = self.rlimits.apply() {
            fail(control, Step::Rlimit, resource, e);
        }
        // SAFETY: valid C string.
        if unsafe { libc::chdir(self.cwd.as_ptr()) } != 0 {
            // SAFETY: as above.
            unsafe { libc::chdir(c"/".as_ptr()) };
        }
        // Where init could not join a cgroup itself (cgroup v2), the supervisor moves it while
        // it sets up the namespaces (the move waits for an RCU grace period); nothing may fork
        // before it is done.
        if !wait_for_supervisor(control) {
            fail(control, Step::WaitForGo, 0, errno());
        }
        // A raw clone, like fork(2) but without glibc's atfork handlers (which take locks).
        // SAFETY: no CLONE_VM: the child gets a copy-on-write copy of this stack.
        let pid =
            unsafe { libc::syscall(libc::SYS_clone, libc::SIGCHLD as libc::c_ulong, 0, 0, 0, 0) };
        if pid < 0 {
            fail(control, Step::Fork, 0, errno());
        }
        if pid == 0 {
            let landlock = self.landlock.take();
            self.run_command(landlock, sinkhole);
        }
        self.landlock = None;
        if sinkhole >= 0 {
            // The command process has its copy, for the supervisor to take.
            // SAFETY: closing our own descriptor; init never uses it again.
            unsafe { libc::close(sinkhole) };
        }
        let command = pid as libc::pid_t;
        // Reap everything until the command itself exits.
        let status = loop {
            let mut status = 0;
            // SAFETY: `status` is writable.
            let reaped = unsafe { libc::waitpid(-1, &mut status, 0) };
            if reaped == command {
                break status;
            }
            if reaped < 0 && errno() != libc::EINTR {
                break 0x7f00; // no children left: report exit 127
            }
        };
        // Anyone still alive is killed when we exit; count them for the report.
        let survivors = if self.pid_namespace {
            count_other_processes()
        } else {
            0
        };
        send(control, Message::Exited { status, survivors });
        // SAFETY: leaving without unwinding.
        unsafe { libc::_exit(0) }
    }

    fn run_command(&self, landlock: Option<PreparedRuleset>, sinkhole: RawFd) -> ! {
        let control = self.control;
        // SAFETY: resetting signal state inherited from the supervisor (which ignores SIGPIPE).
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
            for sig in 1..32 {
                if sig != libc::SIGKILL && sig != libc::SIGSTOP {
                    libc::signal(sig, libc::SIG_DFL);
                }
            }
        }
        for (target, source) in self.stdio.iter().enumerate() {
            if let Some(fd) = source {
                // SAFETY: duplicating a descriptor the supervisor keeps open for the run.
                if unsafe { libc::dup2(*fd, target as i32) } < 0 {
                    fail(control, Step::Exec, 0, errno());
                }
            }
        }
        if let Err(e) = drop_capabilities() {
            fail(control, Step::DropCaps, 0, e);
        }
        // SAFETY: plain prctl on ourselves.
        if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
            fail(control, Step::NoNewPrivs, 0, errno());
        }
        let landlock_status = match landlock {
            None => LayerStatus::NotEnforced,
            Some(ruleset) => match ruleset
                .grant_read_in_child(c"/proc")
                .and_then(|()| ruleset.restrict_self())
            {
                Ok(status) => status,
                Err(errno) => fail(control, Step::Landlock, 0, errno),
            },
        };
        let listener = match self.seccomp.install() {
            Ok(fd) => fd,
            Err(e) => fail(
                control,
                Step::Seccomp,
                0,
                e.raw_os_error().unwrap_or(libc::EIO),
            ),
        };
        // The supervisor copies the listener out of this process with pidfd_getfd(2), then
        // acknowledges; only then may it be closed.
        send(
            control,
            Message::Ready {
                landlock: landlock_status as u32,
                listener: listener.as_raw_fd(),
                sinkhole,
            },
        );
        if !wait_for_supervisor(control) {
            fail(control, Step::SendListener, 0, libc::EPIPE);
        }
        drop(listener);
        if sinkhole >= 0 {
            // SAFETY: the supervisor holds its own copy now; the command never sees this one.
            unsafe { libc::close(sinkhole) };
        }
        mark_inherited_fds_cloexec(&self.keep_fds);

        let mut argv_ptrs = [std::ptr::null::<libc::c_char>(); MAX_ARGS];
        let mut envp_ptrs = [std::ptr::null::<libc::c_char>(); MAX_ENV];
        for (slot, arg) in argv_ptrs.iter_mut().zip(self.argv.iter()) {
            *slot = arg.as_ptr();
        }
        for (slot, var) in envp_ptrs.iter_mut().zip(self.envp.iter()) {
            *slot = var.as_ptr();
        }
        argv_ptrs[self.argv.len().min(MAX_ARGS - 1)] = std::ptr::null();
        envp_ptrs[self.envp.len().min(MAX_ENV - 1)] = std::ptr::null();
        // SAFETY: NULL-terminated arrays of valid C strings, kept alive by `self`.
        unsafe {
            libc::execve(
                self.program.as_ptr(),
                argv_ptrs.as_ptr(),
                envp_ptrs.as_ptr(),
            )
        };
        fail(control, Step::Exec, 0, errno())
    }
}

/// Most arguments and environment entries passed to the command (checked by the supervisor).
pub(crate) const MAX_ARGS: usize = 4096;
/// See [`MAX_ARGS`].
pub(crate) const MAX_ENV: usize = 4096;

/// Drops every capability: bounding set, ambient set, then effective/permitted/inheritable, and
/// locks the securebits so that an `execve` as uid 0 cannot regain them.
///
/// Raw `prctl`/`capset` rather than the `caps` crate, whose calls build `HashSet`s: this runs
/// in the forked child, where allocation is off limits.
fn drop_capabilities() -> Result<(), i32> {
    for cap in 0..64 {
        // SAFETY: plain prctl; EINVAL for capabilities this kernel does not know is expected.
        let r = unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap, 0, 0, 0) };
        if r != 0 && errno() != libc::EINVAL {
            return Err(errno());
        }
    }
    // SAFETY: plain prctl.
    if unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL,
            0,
            0,
            0,
        )
    } != 0
    {
        return Err(errno());
    }
    // SECBIT_NOROOT | SECBIT_NO_SETUID_FIXUP | SECBIT_KEEP_CAPS_LOCKED | SECBIT_NO_CAP_AMBIENT_RAISE,
    // each with its lock bit.
    let securebits: libc::c_ulong = 0x01 | 0x02 | 0x04 | 0x08 | 0x20 | 0x40 | 0x80;
    // SAFETY: plain prctl.
    if unsafe { libc::prctl(libc::PR_SET_SECUREBITS, securebits, 0, 0, 0) } != 0 {
        return Err(errno());
    }
    #[repr(C)]
    struct CapHeader {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    #[derive(Clone, Copy)]
    struct CapData {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    let header = CapHeader {
        version: 0x2008_0522, // _LINUX_CAPABILITY_VERSION_3
        pid: 0,
    };
    let data = [CapData {
        effective: 0,
        permitted: 0,
        inheritable: 0,
    }; 2];
    // SAFETY: header and two data structs, as version 3 expects.
    if unsafe { libc::syscall(libc::SYS_capset, &header, data.as_ptr()) } != 0 {
        return Err(errno());
    }
    Ok(())
}

/// Marks every descriptor from 3 up close-on-exec, except those in `keep`. (The control socket
/// is among them: it must stay open until the exec succeeds, to report a failed exec.)
fn mark_inherited_fds_cloexec(keep: &[RawFd]) {
    let mut start: u32 = 3;
    let mut sorted = [i32::MAX; 64];
    let n = keep.len().min(sorted.len());
    sorted[..n].copy_from_slice(&keep[..n]);
    sorted[..n].sort_unstable();
    for &fd in &sorted[..n] {
        let fd = fd as u32;
        if fd >= start {
            if fd > start {
                // SAFETY: close_range with CLOSE_RANGE_CLOEXEC only sets flags.
                unsafe {
                    libc::syscall(
                        libc::SYS_close_range,
                        start,
                        fd - 1,
                        libc::CLOSE_RANGE_CLOEXEC,
                    )
                };
            }
            // SAFETY: clearing FD_CLOEXEC on a descriptor the caller asked to pass on.
            unsafe { libc::fcntl(fd as i32, libc::F_SETFD, 0) };
            start = fd + 1;
        }
    }
    // SAFETY: as above.
    unsafe {
        libc::syscall(
            libc::SYS_close_range,
            start,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
}

/// Counts the processes other than ourselves in our PID namespace, by listing `/proc` (which is
/// this namespace's procfs) with a stack buffer.
fn count_other_processes() -> u32 {
    // SAFETY: valid C string.
    let fd = unsafe {
        libc::open(
            c"/proc".as_ptr(),
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return 0;
    }
    let mut count = 0u32;
    let mut buf = [0u8; 4096];
    loop {
        // SAFETY: `buf` is writable for its length.
        let n = unsafe { libc::syscall(libc::SYS_getdents64, fd, buf.as_mut_ptr(), buf.len()) };
        if n <= 0 {
            break;
        }
        let mut off = 0usize;
        while off < n as usize {
            // struct linux_dirent64 { u64 ino; i64 off; u16 reclen; u8 type; char name[]; }
            let reclen = u16::from_ne_bytes([buf[off + 16], buf[off + 17]]) as usize;
            let name = &buf[off + 19..off + reclen];
            let digits = name.iter().take_while(|b| b.is_ascii_digit()).count();
            let is_pid = digits > 0 && name.get(digits) == Some(&0);
            if is_pid && !(digits == 1 && name[0] == b'1') {
                count += 1;
            }
            off += reclen;
        }
    }
    // SAFETY: closing our own descriptor.
    unsafe { libc::close(fd) };
    count
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip() {
        for m in [
            Message::Failed {
                step: Step::Mount as u32,
                detail: 3,
                errno: libc::EPERM,
            },
            Message::Ready {
                landlock: 0,
                listener: 5,
                sinkhole: -1,
            },
            Message::Exited {
                status: 0x0900,
                survivors: 2,
            },
        ] {
            assert_eq!(Message::decode(&m.encode()), Some(m));
        }
        assert_eq!(Message::decode(&[0; 3]), None);
        assert_eq!(Step::from_u32(Step::Exec as u32), Some(Step::Exec));
    }
}
