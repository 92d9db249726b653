//! What this kernel supports, probed once per process: Landlock's ABI, seccomp user
//! notification, and the namespaces a run needs. `doctor` prints it; [`crate::sandbox::run`]
//! refuses to start without a layer unless `--allow-degraded` was given.

use std::sync::OnceLock;

use serde::Serialize;

use super::landlock;
use crate::profile::{Compatibility, Profile};

/// The kernel's support for each layer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Support {
    /// The kernel release (`uname -r`).
    pub kernel: String,
    /// `None` without Landlock.
    pub landlock_abi: Option<u8>,
    /// Seccomp filters with user notification (`SECCOMP_RET_USER_NOTIF`).
    pub seccomp_user_notif: bool,
    /// User, mount, PID, network, IPC and UTS namespaces can be created by this user.
    pub user_namespaces: bool,
    /// Whether this process runs as root.
    pub root: bool,
}

impl Support {
    /// The probed support (probed on first use).
    pub fn get() -> &'static Support {
        static SUPPORT: OnceLock<Support> = OnceLock::new();
        SUPPORT.get_or_init(Support::probe)
    }

    fn probe() -> Support {
        Support {
            kernel: kernel_release(),
            landlock_abi: landlock::kernel_abi(),
            seccomp_user_notif: seccomp_user_notif(),
            user_namespaces: namespaces_work(),
            root: nix::unistd::geteuid().is_root(),
        }
    }

    /// The layers the built-in `fuzz` profile needs that this kernel lacks.
    pub fn missing_for_fuzz(&self) -> Vec<String> {
        match Profile::load("fuzz", &crate::profile::Placeholders::from_env()) {
            Ok(profile) => self.missing_for(&profile),
            Err(e) => vec![e.to_string()],
        }
    }

    /// The layers `profile` needs that this kernel lacks, each with its fix.
    pub fn missing_for(&self, profile: &Profile) -> Vec<String> {
        let mut missing = Vec::new();
        match self.landlock_abi {
            None => missing.push(
                "Landlock is not available (enable CONFIG_SECURITY_LANDLOCK and add `landlock` to the `lsm=` boot parameter; Linux 5.13 or newer)".to_owned(),
            ),
            Some(abi) if abi < profile.landlock_abi && profile.compatibility == Compatibility::Required => {
                missing.push(format!(
                    "profile `{}` needs Landlock ABI {} but this kernel has ABI {abi} (upgrade the kernel, or use a profile with `compatibility = \"best-effort\"`)",
                    profile.name, profile.landlock_abi
                ))
            }
            Some(_) => {}
        }
        if !self.seccomp_user_notif {
            missing.push("seccomp user notification is not available (Linux 5.5 or newer with CONFIG_SECCOMP_FILTER)".to_owned());
        }
        if !self.user_namespaces {
            missing.push(
                "user namespaces cannot be created by this user (check `sysctl user.max_user_namespaces` and `kernel.unprivileged_userns_clone`, or AppArmor's `kernel.apparmor_restrict_unprivileged_userns`)".to_owned(),
            );
        }
        missing
    }
}

fn kernel_release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "unknown".to_owned())
}

/// Raw `seccomp(2)`: nix has no seccomp API.
fn seccomp_user_notif() -> bool {
    let action: u32 = libc::SECCOMP_RET_USER_NOTIF;
    // SAFETY: SECCOMP_GET_ACTION_AVAIL reads one u32.
    let r = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_GET_ACTION_AVAIL,
            0,
            &action as *const u32,
        )
    };
    r == 0
}

/// Whether this user can create the namespaces a run uses. Creating a user namespace is what
/// distributions restrict (sysctls, AppArmor); within one, this user may create the others, so
/// the probe clones a child into a new user namespace only and checks that the kernel has the
/// other kinds at all. (A probe child in every namespace would cost a network namespace,
/// about a millisecond, on every run.)
fn namespaces_work() -> bool {
    let kinds = ["mnt", "pid", "net", "ipc", "uts"];
    if !kinds
        .iter()
        .all(|k| std::path::Path::new("/proc/self/ns").join(k).exists())
    {
        return false;
    }
    let flags = libc::CLONE_NEWUSER | libc::SIGCHLD;
    // A raw fork-like clone: nix's clone runs a boxed closure on a stack the caller allocates,
    // and the probe child of a possibly multi-threaded process must not allocate.
    // SAFETY: fork-like clone; the child only calls _exit.
    let pid = unsafe { libc::syscall(libc::SYS_clone, flags as libc::c_ulong, 0, 0, 0, 0) };
    if pid < 0 {
        return false;
    }
    if pid == 0 {
        // SAFETY: leaving the probe child at once.
        unsafe { libc::_exit(0) };
    }
    let pid = nix::unistd::Pid::from_raw(pid as libc::pid_t);
    loop {
        match nix::sys::wait::waitpid(pid, None) {
            Err(nix::errno::Errno::EINTR) => continue,
            status => return matches!(status, Ok(nix::sys::wait::WaitStatus::Exited(_, 0))),
        }
    }
}
