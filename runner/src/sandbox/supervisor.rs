//! The supervisor: receives the seccomp notifications of a sandboxed process tree, decodes each
//! attempt (addresses, DNS names, argv, paths), records it as an [`Event`], and answers.
//!
//! Answers follow one rule: **deny** freely (a denial is safe whatever the process does to its
//! memory meanwhile), and **continue** only where a kernel rule bounds the outcome anyway
//! (Landlock for paths and executions, the empty network namespace for sockets, the PID
//! namespace for signals). A log entry never stands in for a check.
//!
//! [`filter_rules`] and [`Handler::handle`] are two halves of one policy: every syscall the
//! filter routes here has a branch below.

use std::collections::{HashMap, HashSet};
use std::ffi::{CString, OsStr};
use std::fs;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Mutex, OnceLock};

use super::decode::{self, SockAddr};
use super::decoys::DecoySet;
use super::procmem::{read_cstring, read_exec, read_mem, read_u64};
use super::seccomp::{syscall_name, syscall_number, Action, ArgTest, Rule};
use crate::events::{Decision, Event, EventLog, Kind};
use crate::profile::Profile;

/// `open` flags that can change a file: `O_WRONLY | O_RDWR | O_CREAT | O_TRUNC`.
const WRITE_INTENT: u32 = (libc::O_WRONLY | libc::O_RDWR | libc::O_CREAT | libc::O_TRUNC) as u32;

const NS_FLAGS: u32 = (libc::CLONE_NEWUSER
    | libc::CLONE_NEWNS
    | libc::CLONE_NEWPID
    | libc::CLONE_NEWNET
    | libc::CLONE_NEWIPC
    | libc::CLONE_NEWUTS
    | libc::CLONE_NEWCGROUP
    | 0x80) as u32; // CLONE_NEWTIME

/// The filter rules that route syscalls to [`Handler::handle`].
pub fn filter_rules(profile: &Profile) -> Vec<Rule> {
    use Action::{Allow, Errno, Notify};
    let mut rules = Vec::new();
    // glibc tries clone3 first and falls back to clone on ENOSYS; clone3's flags live in memory,
    // where BPF cannot see them, so it is refused and clone's flags are checked instead.
    rules.push(Rule::always(libc::SYS_clone3, Errno(libc::ENOSYS)));
    // New namespaces are refused whatever the profile says: in a new user namespace a process
    // would hold every capability again (and could, say, chroot away from the sandbox's root,
    // which the supervisor relies on sharing with every process of the run).
    for nr in [libc::SYS_clone, libc::SYS_unshare] {
        rules.push(Rule::when(
            nr,
            ArgTest::AnyBit {
                arg: 0,
                mask: NS_FLAGS,
            },
            Notify,
        ));
    }
    for request in [libc::TIOCSTI, libc::TIOCLINUX] {
        rules.push(Rule::when(
            libc::SYS_ioctl,
            ArgTest::MaskedEq {
                arg: 1,
                mask: u32::MAX,
                value: request as u32,
            },
            Notify,
        ));
    }
    // Stream socketpairs are plain local IPC; datagram ones can address arbitrary unix sockets.
    rules.push(Rule::when(
        libc::SYS_socketpair,
        ArgTest::MaskedEq {
            arg: 1,
            mask: 0xf,
            value: libc::SOCK_STREAM as u32,
        },
        Allow,
    ));
    // Sequenced-packet pairs are connected as well (Rust's std spawns processes with one).
    rules.push(Rule::when(
        libc::SYS_socketpair,
        ArgTest::MaskedEq {
            arg: 1,
            mask: 0xf,
            value: libc::SOCK_SEQPACKET as u32,
        },
        Allow,
    ));
    rules.push(Rule::always(libc::SYS_socketpair, Notify));
    // Only opens that could write reach the supervisor; reads are Landlock's alone, and reads
    // of secrets are seen through tripwires (see tripwire.rs) at no cost to ordinary opens.
    rules.push(Rule::when(
        libc::SYS_openat,
        ArgTest::AnyBit {
            arg: 2,
            mask: WRITE_INTENT,
        },
        Notify,
    ));
    #[cfg(target_arch = "x86_64")]
    rules.push(Rule::when(
        libc::SYS_open,
        ArgTest::AnyBit {
            arg: 1,
            mask: WRITE_INTENT,
        },
        Notify,
    ));
    // Signal 0 only probes for existence; within the PID namespace that reveals nothing.
    for (nr, sig_arg) in [
        (libc::SYS_kill, 1u8),
        (libc::SYS_tkill, 1),
        (libc::SYS_tgkill, 2),
    ] {
        rules.push(Rule::when(
            nr,
            ArgTest::MaskedEq {
                arg: sig_arg,
                mask: u32::MAX,
                value: 0,
            },
            Allow,
        ));
        rules.push(Rule::always(nr, Notify));
    }
    for nr in [
        libc::SYS_rt_sigqueueinfo,
        libc::SYS_rt_tgsigqueueinfo,
        libc::SYS_socket,
        libc::SYS_connect,
        libc::SYS_bind,
        libc::SYS_sendto,
        libc::SYS_sendmsg,
        libc::SYS_sendmmsg,
        libc::SYS_execve,
        libc::SYS_execveat,
        libc::SYS_openat2,
        libc::SYS_linkat,
    ] {
        rules.push(Rule::always(nr, Notify));
    }
    #[cfg(target_arch = "x86_64")]
    for nr in [libc::SYS_creat, libc::SYS_link] {
        rules.push(Rule::always(nr, Notify));
    }
    for denied in &profile.deny_syscalls {
        if let Some(nr) = syscall_number(&denied.name) {
            rules.push(Rule::always(nr, Notify));
        }
    }
    rules
}

/// The answer to one notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// Let the kernel carry out the syscall (bounded by its other rules).
    Continue,
    /// Fail it with this errno.
    Deny(i32),
    /// Do not carry it out; return this value as if it had succeeded.
    Pretend(i64),
}

/// What the handler knows about the run.
pub struct Context {
    pub log: EventLog,
    pub decoys: Option<DecoyView>,
    /// Protected paths (inside view): opens beneath them are refused and recorded.
    pub protect: Vec<PathBuf>,
    /// Every path the profile grants (inside view); a deeper grant beats a shallower protect.
    pub grants: Vec<PathBuf>,
    /// Granted paths (inside view) and whether each is writable; the deepest region containing
    /// a path decides.
    pub write_regions: Vec<(PathBuf, bool)>,
    /// Paths beneath which execution is granted (inside view).
    pub exec_dirs: Vec<PathBuf>,
    /// Those of `exec_dirs` that are writable too (an explicit write-and-execute grant): an
    /// exec from one is marked `writable_dir` in its event.
    pub write_exec_dirs: Vec<PathBuf>,
    pub network_tools: Vec<String>,
    pub denied: HashMap<i64, String>,
    /// Host PID of the sandbox's init, for looking into its namespaces.
    pub init_pid: AtomicI32,
    /// Whether Landlock enforces the execute rights (set once the command reports it): then
    /// an exec is answered before its event is worked out.
    pub landlock_exec: AtomicBool,
}

/// The decoy home as the sandbox sees it.
pub struct DecoyView {
    pub set: DecoySet,
    /// Where the decoy home appears inside the sandbox.
    pub home_inside: PathBuf,
    /// The real home the decoy hides (its files are protected).
    pub real_home: Option<PathBuf>,
    /// Where the decoy home lives on the host.
    pub home_host: PathBuf,
}

/// Decodes and answers notifications.
pub struct Handler {
    ctx: Context,
    decoy_reads: Mutex<HashSet<(String, i32)>>,
    /// UDP sockets whose connect we pretended to carry out: (tgid, fd) -> address.
    pretend_connected: Mutex<HashMap<(i32, RawFd), String>>,
    pids: Mutex<HashMap<i32, i32>>,
    /// The sandbox's PID namespace (opened on first use), for translating host pids.
    pid_namespace: OnceLock<Option<OwnedFd>>,
    /// The sandbox's root directory (opened on first use), shared by every process of the run.
    sandbox_root: OnceLock<Option<OwnedFd>>,
    /// Exec attempts already answered, whose events are still to be worked out.
    pending_execs: Mutex<Vec<ExecAttempt>>,
}

/// An exec the supervisor has decoded: everything its event needs once the process has gone on.
struct ExecAttempt {
    /// The process, as the sandbox numbers it.
    pid: i32,
    /// The process, as the host numbers it.
    host_pid: i32,
    /// The path asked for, as given, and the arguments.
    path: String,
    argv: Vec<String>,
    file: ExecFile,
}

/// The file an exec names.
enum ExecFile {
    /// Opened (`O_PATH`) while the process waited: for paths the sandbox could change (in a
    /// writable directory, or through `/proc`), so that removing or replacing the file after
    /// the answer changes nothing. `None`: no such file.
    Opened(Option<OwnedFd>),
    /// To be opened once the process has gone on: a path outside every writable directory,
    /// which the sandbox cannot change (unless the host itself keeps a symlink there into a
    /// writable directory: then the file could be swapped in the meantime, and Landlock still
    /// decides the exec). `None`: a path that could not be made absolute.
    Deferred(Option<PathBuf>),
}

/// `/proc/<pid>/root`: the root directory of process `pid`, through which the supervisor looks
/// at paths as that process sees them (while the process exists).
fn proc_root(pid: i32) -> PathBuf {
    PathBuf::from(format!("/proc/{pid}/root"))
}

/// A notification's target: host pid and syscall arguments.
#[derive(Debug, Clone, Copy)]
pub struct Call {
    pub pid: i32,
    pub nr: i64,
    pub args: [u64; 6],
}

impl Handler {
    pub fn new(ctx: Context) -> Handler {
        Handler {
            ctx,
            decoy_reads: Mutex::new(HashSet::new()),
            pretend_connected: Mutex::new(HashMap::new()),
            pids: Mutex::new(HashMap::new()),
            pid_namespace: OnceLock::new(),
            sandbox_root: OnceLock::new(),
            pending_execs: Mutex::new(Vec::new()),
        }
    }

    /// The run's context.
    pub fn context(&self) -> &Context {
        &self.ctx
    }

    fn record(&self, call: &Call, event: Event) {
        self.record_by(self.inner_pid(call.pid), event);
    }

    /// Records `event` of the process the sandbox numbers `pid`.
    fn record_by(&self, pid: i32, event: Event) {
        self.ctx.log.record(event.by(pid));
    }

    /// The in-sandbox pid of host pid `host`, cached: a run's host pids are not reused while
    /// it lasts, short of wrapping the host's whole pid space.
    fn inner_pid(&self, host: i32) -> i32 {
        if let Some(pid) = self.pids.lock().ok().and_then(|m| m.get(&host).copied()) {
            return pid;
        }
        let pid = self.translate_pid(host).unwrap_or_else(|| inner_pid(host));
        if let Ok(mut m) = self.pids.lock() {
            m.insert(host, pid);
        }
        pid
    }

    /// `host` as the sandbox's PID namespace numbers it, by one `NS_GET_PID_IN_PIDNS` ioctl
    /// (Linux 6.0+) on the namespace's descriptor: a fraction of the cost of reading
    /// `/proc/<pid>/status`, on the path every exec notification takes.
    fn translate_pid(&self, host: i32) -> Option<i32> {
        let ns = self.pid_namespace.get_or_init(|| {
            let init = self.ctx.init_pid.load(Ordering::Relaxed);
            (init > 0)
                .then(|| fs::File::open(format!("/proc/{init}/ns/pid")).ok())
                .flatten()
                .map(OwnedFd::from)
        });
        // _IOR(NSIO = 0xb7, 0x8, int) from <linux/nsfs.h>; libc does not define it.
        const NS_GET_PID_IN_PIDNS: libc::c_ulong = 0x8004_b708;
        let fd = ns.as_ref()?.as_raw_fd();
        // SAFETY: the ioctl takes the pid by value and returns the translation.
        let pid = unsafe { libc::ioctl(fd, NS_GET_PID_IN_PIDNS, host as libc::c_ulong) };
        (pid > 0).then_some(pid)
    }

    /// Decides one notification.
    pub fn handle(&self, call: &Call) -> Answer {
        let nr = call.nr;
        if let Some(name) = self.ctx.denied.get(&nr) {
            self.record(
                call,
                Event::new(Kind::Syscall, name.as_str(), Decision::Denied)
                    .with("args", format_args_hex(&call.args[..3])),
            );
            return Answer::Deny(libc::EPERM);
        }
        match nr {
            n if n == libc::SYS_socket => self.socket(call),
            n if n == libc::SYS_socketpair => {
                let protocol = decode::protocol(call.args[0] as i32, call.args[1] as i32);
                self.record(
                    call,
                    Event::new(Kind::Net, "socket", Decision::Denied)
                        .with("protocol", protocol)
                        .with("pair", true),
                );
                Answer::Deny(libc::EACCES)
            }
            n if n == libc::SYS_connect => self.connect(call),
            n if n == libc::SYS_bind => self.bind(call),
            n if n == libc::SYS_sendto => {
                let addr = self.sockaddr_at(call.pid, call.args[4], call.args[5]);
                self.send(
                    call,
                    call.args[0] as RawFd,
                    addr,
                    call.args[1],
                    call.args[2],
                )
            }
            n if n == libc::SYS_sendmsg => self.sendmsg(call, call.args[1]),
            n if n == libc::SYS_sendmmsg => self.sendmsg(call, call.args[1]),
            n if n == libc::SYS_execve => {
                self.exec(call, libc::AT_FDCWD, call.args[0], call.args[1], 0)
            }
            n if n == libc::SYS_execveat => self.exec(
                call,
                call.args[0] as i32,
                call.args[1],
                call.args[2],
                call.args[4] as i32,
            ),
            n if n == libc::SYS_openat => {
                self.open(call, call.args[0] as i32, call.args[1], call.args[2] as i32)
            }
            n if n == libc::SYS_openat2 => {
                // struct open_how { u64 flags; u64 mode; u64 resolve; }
                let flags = read_u64(call.pid, call.args[2]).unwrap_or(0) as i32;
                self.open(call, call.args[0] as i32, call.args[1], flags)
            }
            #[cfg(target_arch = "x86_64")]
            n if n == libc::SYS_open => {
                self.open(call, libc::AT_FDCWD, call.args[0], call.args[1] as i32)
            }
            #[cfg(target_arch = "x86_64")]
            n if n == libc::SYS_creat => self.open(
                call,
                libc::AT_FDCWD,
                call.args[0],
                libc::O_CREAT | libc::O_WRONLY | libc::O_TRUNC,
            ),
            #[cfg(target_arch = "x86_64")]
            n if n == libc::SYS_link => self.link(
                call,
                libc::AT_FDCWD,
                call.args[0],
                libc::AT_FDCWD,
                call.args[1],
            ),
            n if n == libc::SYS_linkat => self.link(
                call,
                call.args[0] as i32,
                call.args[1],
                call.args[2] as i32,
                call.args[3],
            ),
            n if n == libc::SYS_kill
                || n == libc::SYS_tkill
                || n == libc::SYS_tgkill
                || n == libc::SYS_rt_sigqueueinfo
                || n == libc::SYS_rt_tgsigqueueinfo =>
            {
                self.signal(call)
            }
            n if n == libc::SYS_clone || n == libc::SYS_unshare => {
                let name = if n == libc::SYS_clone {
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
            n if n == libc::SYS_ioctl => {
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
            other => {
                // A syscall the filter routes here but no branch handles: refuse, loudly.
                let name = syscall_name(other).unwrap_or("unknown");
                self.record(
                    call,
                    Event::new(Kind::Syscall, name, Decision::Denied).with("nr", other),
                );
                Answer::Deny(libc::ENOSYS)
            }
        }
    }

    fn socket(&self, call: &Call) -> Answer {
        let domain = call.args[0] as i32;
        let sock_type = call.args[1] as i32;
        let base = sock_type & 0xf;
        let protocol = decode::protocol(domain, sock_type);
        let (answer, event) = match (domain, base) {
            (libc::AF_UNIX, libc::SOCK_STREAM) | (libc::AF_NETLINK, _) => (Answer::Continue, false),
            (libc::AF_INET | libc::AF_INET6, libc::SOCK_STREAM | libc::SOCK_DGRAM) => {
                // Harmless in an empty network namespace; recorded because builds rarely need it.
                (Answer::Continue, true)
            }
            (libc::AF_UNIX, _) => (Answer::Deny(libc::EACCES), true),
            (_, libc::SOCK_RAW) => (Answer::Deny(libc::EPERM), true),
            _ => (Answer::Deny(libc::EAFNOSUPPORT), true),
        };
        if event {
            let decision = if answer == Answer::Continue {
                Decision::Allowed
            } else {
                Decision::Denied
            };
            self.record(
                call,
                Event::new(Kind::Net, "socket", decision)
                    .with("protocol", protocol)
                    .with("domain", decode::domain_name(domain)),
            );
        }
        answer
    }

    fn sockaddr_at(&self, pid: i32, addr: u64, len: u64) -> Option<SockAddr> {
        if addr == 0 || len == 0 {
            return None;
        }
        let mut buf = vec![0u8; (len as usize).min(128)];
        let n = read_mem(pid, addr, &mut buf).ok()?;
        decode::sockaddr(&buf[..n])
    }

    fn connect(&self, call: &Call) -> Answer {
        let addr = self.sockaddr_at(call.pid, call.args[1], call.args[2]);
        let (domain, sock_type) = socket_kind(call.pid, call.args[0] as RawFd).unwrap_or((-1, -1));
        let Some(addr) = addr else {
            return Answer::Deny(libc::EFAULT);
        };
        if addr == SockAddr::Unspec {
            return Answer::Continue; // dissolves an association; reaches nothing
        }
        if let SockAddr::UnixPath(p) = &addr {
            if QUIET_UNIX_SOCKETS.contains(&p.as_str()) {
                // glibc asks nscd on every user lookup; refusing is normal, not a finding.
                return Answer::Deny(libc::ENOENT);
            }
        }
        let protocol = if domain >= 0 {
            decode::protocol(domain, sock_type)
        } else if addr.is_unix() {
            "unix".into()
        } else {
            "unknown".into()
        };
        self.record(
            call,
            Event::new(Kind::Net, "connect", Decision::Denied)
                .with("address", addr.to_string())
                .with("protocol", protocol.as_str()),
        );
        if addr.is_inet() && sock_type & 0xf == libc::SOCK_DGRAM {
            // A UDP "connection" only sets a default destination. Pretending it worked lets the
            // payload show itself in the send that follows (a DNS query names its target);
            // that send is refused.
            if let Ok(mut map) = self.pretend_connected.lock() {
                map.insert((tgid(call.pid), call.args[0] as RawFd), addr.to_string());
            }
            return Answer::Pretend(0);
        }
        if addr.is_inet() {
            Answer::Deny(libc::ECONNREFUSED)
        } else {
            Answer::Deny(libc::EACCES)
        }
    }

    fn bind(&self, call: &Call) -> Answer {
        let Some(addr) = self.sockaddr_at(call.pid, call.args[1], call.args[2]) else {
            return Answer::Deny(libc::EFAULT);
        };
        if addr.is_unix() {
            // Pathname sockets need Landlock's make-socket right (write dirs only); abstract
            // names live in our own network namespace.
            self.record(
                call,
                Event::new(Kind::Net, "bind", Decision::Allowed).with("address", addr.to_string()),
            );
            return Answer::Continue;
        }
        self.record(
            call,
            Event::new(Kind::Net, "bind", Decision::Denied).with("address", addr.to_string()),
        );
        Answer::Deny(libc::EACCES)
    }

    fn sendmsg(&self, call: &Call, msghdr: u64) -> Answer {
        // struct msghdr { void *name; u32 namelen; iovec *iov; size_t iovlen; ... }
        let mut hdr = [0u8; 32];
        if read_mem(call.pid, msghdr, &mut hdr).ok() != Some(32) {
            return Answer::Deny(libc::EFAULT);
        }
        let word = |i: usize| u64::from_ne_bytes(hdr[i..i + 8].try_into().unwrap_or([0; 8]));
        let name = word(0);
        let namelen = u64::from(u32::from_ne_bytes(hdr[8..12].try_into().unwrap_or([0; 4])));
        let iov = word(16);
        let iovlen = word(24);
        let addr = self.sockaddr_at(call.pid, name, namelen);
        let (base, len) = if iovlen > 0 {
            let mut v = [0u8; 16];
            match read_mem(call.pid, iov, &mut v) {
                Ok(16) => (
                    u64::from_ne_bytes(v[0..8].try_into().unwrap_or([0; 8])),
                    u64::from_ne_bytes(v[8..16].try_into().unwrap_or([0; 8])),
                ),
                _ => (0, 0),
            }
        } else {
            (0, 0)
        };
        self.send(call, call.args[0] as RawFd, addr, base, len)
    }

    fn send(&self, call: &Call, fd: RawFd, addr: Option<SockAddr>, buf: u64, len: u64) -> Answer {
        let (domain, sock_type) = socket_kind(call.pid, fd).unwrap_or((-1, -1));
        let inet = addr.as_ref().is_some_and(SockAddr::is_inet)
            || domain == libc::AF_INET
            || domain == libc::AF_INET6;
        let unix_named = matches!(
            addr,
            Some(SockAddr::UnixPath(_) | SockAddr::UnixAbstract(_))
        );
        if !inet && !unix_named {
            return Answer::Continue; // local IPC on a socketpair or an accepted connection
        }
        let mut payload = vec![0u8; (len as usize).min(4096)];
        let n = if buf != 0 {
            read_mem(call.pid, buf, &mut payload).unwrap_or(0)
        } else {
            0
        };
        payload.truncate(n);
        let address = addr.map(|a| a.to_string()).unwrap_or_else(|| {
            self.pretend_connected
                .lock()
                .ok()
                .and_then(|map| map.get(&(tgid(call.pid), fd)).cloned())
                .unwrap_or_else(|| "connected".to_owned())
        });
        let protocol = if domain >= 0 {
            decode::protocol(domain, sock_type)
        } else {
            "unknown".into()
        };
        if let Some(query) = decode::dns_query(&payload) {
            self.record(
                call,
                Event::new(Kind::Net, "dns", Decision::Denied)
                    .with("query", query.as_str())
                    .with("address", address.as_str())
                    .with("protocol", protocol.as_str()),
            );
        } else {
            self.record(
                call,
                Event::new(Kind::Net, "send", Decision::Denied)
                    .with("address", address.as_str())
                    .with("protocol", protocol.as_str())
                    .with("bytes", len),
            );
        }
        if let Some(view) = &self.ctx.decoys {
            for decoy in view.set.found_in(&payload) {
                self.record(
                    call,
                    Event::new(Kind::Leak, "decoy-output", Decision::Flagged)
                        .with("decoy", decoy.name.as_str())
                        .with("location", format!("network:{address}")),
                );
            }
        }
        Answer::Deny(if inet {
            libc::ECONNREFUSED
        } else {
            libc::EACCES
        })
    }

    fn exec(&self, call: &Call, dirfd: i32, path_ptr: u64, argv_ptr: u64, flags: i32) -> Answer {
        let (path, argv) = read_exec(call.pid, path_ptr, argv_ptr);
        let path = path.unwrap_or_default();
        let path_text = String::from_utf8_lossy(&path).into_owned();
        let fileless = flags & libc::AT_EMPTY_PATH != 0 && path.is_empty()
            || is_fd_path(&path_text)
            || dirfd != libc::AT_FDCWD && path.is_empty();
        if fileless {
            let target = if dirfd >= 0 {
                fd_target(call.pid, dirfd).unwrap_or_default()
            } else {
                fd_target_from_path(call.pid, &path_text).unwrap_or_default()
            };
            let event = Event::new(Kind::Exec, "exec", Decision::Denied)
                .with("path", path_text.as_str())
                .with("argv", argv)
                .with("fileless", true)
                .with("target", target);
            self.record(call, event);
            return Answer::Deny(libc::EACCES);
        }
        let pid = self.inner_pid(call.pid);
        let absolute = absolute(call.pid, dirfd, OsStr::new(&path_text));
        let file = match absolute {
            Some(p) if p.starts_with("/proc") => {
                ExecFile::Opened(self.open_inside(call.pid, &proc_self(&p, pid)))
            }
            Some(p) if self.writable(&p) => ExecFile::Opened(self.open_inside(call.pid, &p)),
            other => ExecFile::Deferred(other),
        };
        let attempt = ExecAttempt {
            pid,
            host_pid: call.pid,
            path: path_text,
            argv,
            file,
        };
        if self.ctx.landlock_exec.load(Ordering::Relaxed) {
            // Landlock's execute right decides in the kernel, so the process may go on at once;
            // the event (which predicts Landlock's answer) is worked out after the answer is
            // sent (see ExecFile for why that cannot be fooled by changing the file).
            if let Ok(mut pending) = self.pending_execs.lock() {
                pending.push(attempt);
                return Answer::Continue;
            }
        }
        self.judge_exec(attempt)
    }

    /// The sandbox's root directory: `/proc/<init>/root`, opened once, through which the
    /// supervisor looks at paths as the sandbox sees them (without a `/proc/<pid>` lookup on
    /// every write-intent open). Every process of a run has this root: none can change it (`chroot` needs a capability no sandboxed process has,
    /// and new user namespaces, where one could gain it, are refused by the filter whatever the
    /// profile says; `pivot_root` needs another, and Landlock forbids it besides).
    fn sandbox_root(&self) -> Option<RawFd> {
        self.sandbox_root
            .get_or_init(|| {
                let init = self.ctx.init_pid.load(Ordering::Relaxed);
                (init > 0)
                    .then(|| open_path(&proc_root(init), libc::O_DIRECTORY))
                    .flatten()
            })
            .as_ref()
            .map(AsRawFd::as_raw_fd)
    }

    /// Opens (`O_PATH`) the file that absolute `path` names inside the sandbox, its symlinks
    /// resolved there (absolute ones against the sandbox's root): one `openat2` with
    /// `RESOLVE_IN_ROOT`. Where that cannot go (Linux < 5.6; the magic links of `/proc`, which
    /// `RESOLVE_IN_ROOT` refuses), a walk through `/proc/<pid>/root`. `None` if there is no
    /// such file.
    fn open_inside(&self, pid: i32, path: &Path) -> Option<OwnedFd> {
        if let Some(root) = self.sandbox_root().filter(|_| !path.starts_with("/proc")) {
            match openat2_in_root(root, path) {
                Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => {}
                result => return result.ok(),
            }
        }
        let root = proc_root(pid);
        let resolved = resolve_inside(&root, path);
        open_path(&join_inside(&root, &resolved), libc::O_NOFOLLOW)
    }

    /// Records the exec attempts answered since the last call (see [`Handler::exec`]).
    pub fn finish_pending(&self) {
        let pending = match self.pending_execs.lock() {
            Ok(mut p) => std::mem::take(&mut *p),
            Err(_) => return,
        };
        for attempt in pending {
            self.judge_exec(attempt);
        }
    }

    /// Predicts Landlock's answer to an exec, records it, and answers the same way.
    fn judge_exec(&self, attempt: ExecAttempt) -> Answer {
        let ExecAttempt {
            pid,
            host_pid,
            path,
            argv,
            file,
        } = attempt;
        let file = match file {
            ExecFile::Opened(file) => file,
            ExecFile::Deferred(p) => p.and_then(|p| self.open_inside(host_pid, &p)),
        };
        let program = Path::new(&path)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let network_tool = self.ctx.network_tools.contains(&program);
        let mut event = Event::new(Kind::Exec, "exec", Decision::Allowed)
            .with("path", path.as_str())
            .with("argv", argv);
        let Some(resolved) = file.as_ref().and_then(path_of) else {
            // execvp probing each PATH entry: the kernel answers ENOENT. Only a missing network
            // tool is worth a line (the attempt says what the payload wanted).
            if network_tool {
                self.record_by(pid, event.with("network_tool", true).with("found", false));
            }
            return Answer::Continue;
        };
        if !self.ctx.exec_dirs.iter().any(|d| resolved.starts_with(d)) {
            event.decision = Decision::Denied;
            event = event
                .with("resolved", resolved.to_string_lossy())
                .with("reason", "not beneath an executable directory");
            self.record_by(pid, event);
            return Answer::Deny(libc::EACCES);
        }
        if network_tool {
            event = event.with("network_tool", true);
        }
        if self
            .ctx
            .write_exec_dirs
            .iter()
            .any(|d| resolved.starts_with(d))
        {
            event = event
                .with("resolved", resolved.to_string_lossy())
                .with("writable_dir", true);
        }
        self.record_by(pid, event);
        Answer::Continue
    }

    fn open(&self, call: &Call, dirfd: i32, path_ptr: u64, flags: i32) -> Answer {
        let Some(raw) = read_cstring(call.pid, path_ptr) else {
            return Answer::Continue; // the kernel will answer EFAULT itself
        };
        let Some(path) = absolute(call.pid, dirfd, OsStr::from_bytes(&raw)) else {
            return Answer::Continue;
        };
        let write_intent =
            flags & (libc::O_WRONLY | libc::O_RDWR | libc::O_CREAT | libc::O_TRUNC) != 0;

        if let Some(view) = &self.ctx.decoys {
            if let Ok(rel) = path.strip_prefix(&view.home_inside) {
                if let Some(decoy) = view.set.by_file(rel) {
                    self.note_decoy_read(call, &decoy.name, &path);
                    return if write_intent {
                        Answer::Deny(libc::EACCES)
                    } else {
                        Answer::Continue
                    };
                }
            }
        }
        if path == Path::new(NO_TERMINAL) && write_intent {
            // Every bash opens its controlling terminal at startup (`check_dev_tty`) and goes on
            // without one. The sandbox offers none: answer as the kernel does for a process
            // without a controlling terminal, and keep bash's startup out of the findings.
            return Answer::Deny(libc::ENXIO);
        }
        if self.is_protected(&path) {
            // Invisible or masked anyway; recorded when there is something real to protect.
            if self.exists_on_host(&path) {
                self.record(
                    call,
                    Event::new(
                        Kind::Fs,
                        if write_intent { "write" } else { "read" },
                        Decision::Denied,
                    )
                    .with("path", path.to_string_lossy())
                    .with("reason", "protected path"),
                );
            }
            return Answer::Deny(libc::EACCES);
        }
        if write_intent {
            // Reopening an inherited pipe (cargo's jobserver) through /dev/fd grants nothing new.
            let raw_text = String::from_utf8_lossy(&raw);
            if is_fd_path(&raw_text)
                && fd_target_from_path(call.pid, &raw_text).is_some_and(|t| t.starts_with("pipe:"))
            {
                return Answer::Continue;
            }
            if !self.writable(&path) {
                let action = if flags & libc::O_CREAT != 0 && !self.exists_inside(call, &path) {
                    "create"
                } else {
                    "write"
                };
                self.record(
                    call,
                    Event::new(Kind::Fs, action, Decision::Denied)
                        .with("path", path.to_string_lossy()),
                );
                return Answer::Deny(libc::EACCES);
            }
            if flags & libc::O_NOFOLLOW == 0 {
                if let Some(target) = self.symlink_escape(call, &path) {
                    self.record(
                        call,
                        Event::new(Kind::Fs, "write", Decision::Denied)
                            .with("path", path.to_string_lossy())
                            .with("via_symlink", target.to_string_lossy()),
                    );
                    return Answer::Deny(libc::EACCES);
                }
            }
        }
        // Landlock decides the rest.
        Answer::Continue
    }

    fn link(&self, call: &Call, olddir: i32, old_ptr: u64, newdir: i32, new_ptr: u64) -> Answer {
        let old = read_cstring(call.pid, old_ptr)
            .and_then(|raw| absolute(call.pid, olddir, OsStr::from_bytes(&raw)));
        let new = read_cstring(call.pid, new_ptr)
            .and_then(|raw| absolute(call.pid, newdir, OsStr::from_bytes(&raw)));
        let (Some(old), Some(new)) = (old, new) else {
            return Answer::Continue;
        };
        if self.writable(&old) && self.writable(&new) {
            return Answer::Continue; // Landlock's refer right governs links within write dirs
        }
        self.record(
            call,
            Event::new(Kind::Fs, "link", Decision::Denied)
                .with("path", new.to_string_lossy())
                .with("target", old.to_string_lossy()),
        );
        Answer::Deny(libc::EXDEV)
    }

    fn signal(&self, call: &Call) -> Answer {
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

    fn note_decoy_read(&self, call: &Call, decoy: &str, path: &Path) {
        let pid = self.inner_pid(call.pid);
        let fresh = self
            .decoy_reads
            .lock()
            .map(|mut seen| seen.insert((decoy.to_owned(), pid)))
            .unwrap_or(true);
        if fresh {
            self.record(
                call,
                Event::new(Kind::Leak, "decoy-read", Decision::Flagged)
                    .with("decoy", decoy)
                    .with("location", path.to_string_lossy()),
            );
        }
    }

    /// Records the opening of a tripwire over a protected path (seen by inotify).
    pub fn note_protected_read(&self, path: &Path) {
        let key = format!("protected:{}", path.display());
        let fresh = self
            .decoy_reads
            .lock()
            .map(|mut seen| seen.insert((key, 0)))
            .unwrap_or(true);
        if fresh {
            self.ctx.log.record(
                Event::new(Kind::Fs, "read", Decision::Denied)
                    .with("path", path.to_string_lossy())
                    .with(
                        "reason",
                        "protected path: the sandbox saw an empty stand-in",
                    ),
            );
        }
    }

    /// Records a decoy read that inotify saw and no open notification explained.
    pub fn note_decoy_read_unattributed(&self, decoy: &str, location: &Path) {
        let seen = self
            .decoy_reads
            .lock()
            .map(|seen| seen.iter().any(|(d, _)| d == decoy))
            .unwrap_or(false);
        if !seen {
            if let Ok(mut s) = self.decoy_reads.lock() {
                s.insert((decoy.to_owned(), 0));
            }
            self.ctx.log.record(
                Event::new(Kind::Leak, "decoy-read", Decision::Flagged)
                    .with("decoy", decoy)
                    .with("location", location.to_string_lossy()),
            );
        }
    }

    fn writable(&self, path: &Path) -> bool {
        self.ctx
            .write_regions
            .iter()
            .filter(|(region, _)| path.starts_with(region))
            .max_by_key(|(region, _)| region.components().count())
            .is_some_and(|(_, writable)| *writable)
    }

    fn is_protected(&self, path: &Path) -> bool {
        let deepest = |list: &[PathBuf]| {
            list.iter()
                .filter(|p| path.starts_with(p))
                .map(|p| p.components().count())
                .max()
        };
        match (deepest(&self.ctx.protect), deepest(&self.ctx.grants)) {
            (Some(p), Some(g)) => p > g,
            (Some(_), None) => true,
            _ => false,
        }
    }

    fn exists_on_host(&self, path: &Path) -> bool {
        fs::symlink_metadata(path).is_ok()
    }

    fn exists_inside(&self, call: &Call, path: &Path) -> bool {
        match self.sandbox_root() {
            Some(root) => {
                let Some(c) = relative_cstring(path) else {
                    return false;
                };
                // SAFETY: `st` is a zeroed struct we own; the path is a C string.
                unsafe {
                    let mut st: libc::stat = std::mem::zeroed();
                    libc::fstatat(root, c.as_ptr(), &mut st, libc::AT_SYMLINK_NOFOLLOW) == 0
                }
            }
            None => fs::symlink_metadata(join_inside(&proc_root(call.pid), path)).is_ok(),
        }
    }

    fn pid_exists_inside(&self, pid: i32) -> bool {
        let init = self.ctx.init_pid.load(Ordering::Relaxed);
        Path::new(&format!("/proc/{init}/root/proc/{pid}")).exists()
    }

    /// If `path` (inside a write dir) is a symlink whose target lies outside every write dir,
    /// that target.
    fn symlink_escape(&self, call: &Call, path: &Path) -> Option<PathBuf> {
        let link = match self.sandbox_root() {
            Some(root) => {
                let c = relative_cstring(path)?;
                let mut buf = [0u8; libc::PATH_MAX as usize];
                // SAFETY: `buf` is writable for its length; the path is a C string.
                let n = unsafe {
                    libc::readlinkat(root, c.as_ptr(), buf.as_mut_ptr().cast(), buf.len())
                };
                PathBuf::from(OsStr::from_bytes(&buf[..usize::try_from(n).ok()?]))
            }
            None => fs::read_link(join_inside(&proc_root(call.pid), path)).ok()?,
        };
        let target = normalize(&path.parent().unwrap_or(Path::new("/")).join(link));
        (!self.writable(&target)).then_some(target)
    }
}

/// The controlling terminal, whose opening is refused without an event (see `Handler::open`).
const NO_TERMINAL: &str = "/dev/tty";

/// Unix sockets that libc itself tries, refused without an event.
const QUIET_UNIX_SOCKETS: &[&str] = &["/var/run/nscd/socket", "/run/nscd/socket"];

/// Resolves symlinks in `path` as a process whose root directory is reachable at `root` sees
/// it (`/proc/<pid>/root` or a descriptor of it), with absolute link targets restarted at that
/// root. Unresolvable tails are kept as they are.
fn resolve_inside(root: &Path, path: &Path) -> PathBuf {
    let mut resolved = PathBuf::from("/");
    let mut pending: Vec<std::ffi::OsString> = path
        .components()
        .rev()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_owned()),
            Component::ParentDir => Some("..".into()),
            _ => None,
        })
        .collect();
    let mut hops = 0;
    while let Some(part) = pending.pop() {
        if part == ".." {
            resolved.pop();
            continue;
        }
        let candidate = resolved.join(&part);
        match fs::read_link(join_inside(root, &candidate)) {
            Ok(target) if hops < 40 => {
                hops += 1;
                if target.is_absolute() {
                    resolved = PathBuf::from("/");
                }
                for c in target.components().rev() {
                    match c {
                        Component::Normal(n) => pending.push(n.to_owned()),
                        Component::ParentDir => pending.push("..".into()),
                        _ => {}
                    }
                }
            }
            _ => resolved = candidate,
        }
    }
    resolved
}

fn join_inside(root: &Path, path: &Path) -> PathBuf {
    root.join(path.strip_prefix("/").unwrap_or(path))
}

/// `path` with a leading `/proc/self` or `/proc/thread-self` naming process `pid` instead (the
/// supervisor looking through the sandbox's `/proc` is not the process asking).
fn proc_self(path: &Path, pid: i32) -> PathBuf {
    for alias in ["/proc/self", "/proc/thread-self"] {
        if let Ok(rest) = path.strip_prefix(alias) {
            return Path::new("/proc").join(pid.to_string()).join(rest);
        }
    }
    path.to_owned()
}

/// Opens `path` with `O_PATH | O_CLOEXEC | extra`.
fn open_path(path: &Path, extra: i32) -> Option<OwnedFd> {
    let c = CString::new(path.as_os_str().as_bytes()).ok()?;
    // SAFETY: valid C string; the descriptor is owned below.
    let fd = unsafe { libc::open(c.as_ptr(), libc::O_PATH | libc::O_CLOEXEC | extra) };
    // SAFETY: the kernel just returned it.
    (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Absolute `path` relative to the root (`.` for `/`), for the `*at` calls on the sandbox's
/// root directory.
fn relative_cstring(path: &Path) -> Option<CString> {
    let relative = path.strip_prefix("/").unwrap_or(path);
    let bytes = relative.as_os_str().as_bytes();
    CString::new(if bytes.is_empty() { b"." } else { bytes }).ok()
}

/// `openat2(root, path, O_PATH, RESOLVE_IN_ROOT)`: `path` resolved as if `root` were `/`.
fn openat2_in_root(root: RawFd, path: &Path) -> io::Result<OwnedFd> {
    /// `struct open_how` from <linux/openat2.h>.
    #[repr(C)]
    struct OpenHow {
        flags: u64,
        mode: u64,
        resolve: u64,
    }
    const RESOLVE_IN_ROOT: u64 = 0x10;
    let c = relative_cstring(path).ok_or_else(|| io::Error::from_raw_os_error(libc::EINVAL))?;
    let how = OpenHow {
        flags: (libc::O_PATH | libc::O_CLOEXEC) as u64,
        mode: 0,
        resolve: RESOLVE_IN_ROOT,
    };
    // SAFETY: `how` is the struct openat2 expects, of the size passed; the path is a C string.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            root,
            c.as_ptr(),
            &how as *const OpenHow,
            std::mem::size_of::<OpenHow>(),
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just returned it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// The path of an open file as its own mount namespace names it (what the sandbox sees), even
/// once it has been removed.
fn path_of(file: &OwnedFd) -> Option<PathBuf> {
    let link = fs::read_link(format!("/proc/self/fd/{}", file.as_raw_fd())).ok()?;
    let bytes = link.as_os_str().as_bytes();
    let bytes = bytes.strip_suffix(b" (deleted)").unwrap_or(bytes);
    Some(PathBuf::from(OsStr::from_bytes(bytes)))
}

fn format_args_hex(args: &[u64]) -> Vec<String> {
    args.iter().map(|a| format!("{a:#x}")).collect()
}

fn is_fd_path(path: &str) -> bool {
    path.starts_with("/dev/fd/")
        || path.starts_with("/proc/self/fd/")
        || path.starts_with("/proc/thread-self/fd/")
        || (path.starts_with("/proc/") && path.contains("/fd/"))
}

fn fd_target(pid: i32, fd: i32) -> Option<String> {
    fs::read_link(format!("/proc/{pid}/fd/{fd}"))
        .ok()
        .map(|p| p.to_string_lossy().into_owned())
}

fn fd_target_from_path(pid: i32, path: &str) -> Option<String> {
    let fd: i32 = path.rsplit('/').next()?.parse().ok()?;
    fd_target(pid, fd)
}

/// The thread-group (process) id of thread `tid`, which owns the descriptor table.
fn tgid(tid: i32) -> i32 {
    status_field(tid, "Tgid:").unwrap_or(tid)
}

fn status_field(pid: i32, field: &str) -> Option<i32> {
    use std::io::Read;
    // One read into a stack buffer: /proc/<pid>/status is generated whole on open anyway.
    let mut buf = [0u8; 4096];
    let mut file = fs::File::open(format!("/proc/{pid}/status")).ok()?;
    let n = file.read(&mut buf).ok()?;
    std::str::from_utf8(&buf[..n])
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().last()?.parse().ok())
}

/// The pid of host process `pid` as seen inside its own PID namespace (0 if unknown).
pub fn inner_pid(pid: i32) -> i32 {
    status_field(pid, "NSpid:").unwrap_or(0)
}

/// Lexically normalizes an absolute path (`.` and `..` resolved without touching the disk).
pub fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for c in path.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(n) => out.push(n),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    out
}

/// The absolute, normalized form of `path` as the process `pid` sees it, relative to `dirfd`.
fn absolute(pid: i32, dirfd: i32, path: &OsStr) -> Option<PathBuf> {
    let p = Path::new(path);
    if p.is_absolute() {
        return Some(normalize(p));
    }
    let base = if dirfd == libc::AT_FDCWD {
        fs::read_link(format!("/proc/{pid}/cwd")).ok()?
    } else {
        fs::read_link(format!("/proc/{pid}/fd/{dirfd}")).ok()?
    };
    Some(normalize(&base.join(p)))
}

/// Domain and type of socket `fd` in process `pid`, through a duplicate taken with
/// `pidfd_getfd` (the type decides how a UDP connect is answered).
fn socket_kind(pid: i32, fd: RawFd) -> Option<(i32, i32)> {
    // SAFETY: pidfd_open on a pid; the descriptor is owned below.
    let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if pidfd < 0 {
        return None;
    }
    // SAFETY: the kernel just gave us this descriptor.
    let pidfd = unsafe { OwnedFd::from_raw_fd(pidfd as i32) };
    // SAFETY: pidfd_getfd duplicates the target's descriptor into ours.
    let dup = unsafe { libc::syscall(libc::SYS_pidfd_getfd, pidfd.as_raw_fd(), fd, 0) };
    if dup < 0 {
        return None;
    }
    // SAFETY: as above.
    let dup = unsafe { OwnedFd::from_raw_fd(dup as i32) };
    let get = |opt: i32| -> Option<i32> {
        let mut value: i32 = 0;
        let mut len = std::mem::size_of::<i32>() as libc::socklen_t;
        // SAFETY: value/len describe a writable int.
        let r = unsafe {
            libc::getsockopt(
                dup.as_raw_fd(),
                libc::SOL_SOCKET,
                opt,
                (&mut value as *mut i32).cast(),
                &mut len,
            )
        };
        (r == 0).then_some(value)
    };
    Some((get(libc::SO_DOMAIN)?, get(libc::SO_TYPE)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_resolves_dots() {
        assert_eq!(normalize(Path::new("/a/./b/../c")), PathBuf::from("/a/c"));
        assert_eq!(normalize(Path::new("/../x")), PathBuf::from("/x"));
    }

    #[test]
    fn fd_paths_are_recognized() {
        assert!(is_fd_path("/proc/self/fd/3"));
        assert!(is_fd_path("/dev/fd/7"));
        assert!(is_fd_path("/proc/42/fd/3"));
        assert!(!is_fd_path("/usr/bin/cc"));
    }
}
