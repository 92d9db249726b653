//! The Landlock layer: filesystem rules (read, write, execute beneath given paths), TCP bind and
//! connect refused outright where the run has no network namespace of its own (in its own, the
//! namespace bounds them: only the run's private loopback is there), and (ABI >= 6)
//! abstract-socket and signal scoping.
//!
//! The ABI is pinned by the profile, never detected at runtime (rust-landlock's advice): a newer
//! kernel then still enforces exactly what the profile was written for. The ruleset is built in
//! the supervisor, before the sandbox child exists, and enforced by the child with
//! [`PreparedRuleset::restrict_self`].

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::PathBuf;

use landlock::{
    Access, AccessFs, AccessNet, BitFlags, CompatLevel, Compatible, PathBeneath, PathFd,
    PathFdError, Ruleset, RulesetAttr, RulesetCreated, RulesetCreatedAttr, RulesetStatus, Scope,
    ABI,
};

use super::LayerStatus;

/// What kind of access a rule grants beneath its path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grant {
    /// Read files and list directories.
    Read,
    /// Read, plus create, write, truncate, remove, rename and link (no devices).
    Write,
    /// Read, plus execute.
    Exec,
    /// Write, plus execute: the one place where the two meet, and never a default. Only an
    /// `airlock.toml` `exec-out-dir` exception asks for it (autoconf runs the `./conftest` it
    /// links in `OUT_DIR`).
    WriteExec,
}

impl Grant {
    /// Whether the grant lets the sandbox change files beneath its path.
    pub fn writable(self) -> bool {
        matches!(self, Grant::Write | Grant::WriteExec)
    }

    /// Whether the grant lets the sandbox execute files beneath its path.
    pub fn executable(self) -> bool {
        matches!(self, Grant::Exec | Grant::WriteExec)
    }
}

/// One filesystem rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FsRule {
    /// The file or directory the rule covers (and everything beneath it).
    pub path: PathBuf,
    /// What is allowed there.
    pub grant: Grant,
}

/// Errors preparing or enforcing the ruleset.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LandlockError {
    /// The kernel lacks Landlock, or the ABI the profile requires.
    #[error("Landlock ABI {required} is required but this kernel offers {}", available.map_or("no Landlock".to_string(), |a| format!("ABI {a}")))]
    Unsupported {
        /// The ABI the profile pins.
        required: u8,
        /// The kernel's ABI, if it has Landlock.
        available: Option<u8>,
    },
    /// A rule's path could not be opened.
    #[error("cannot open {} for a Landlock rule", path.display())]
    OpenPath {
        /// The rule's path.
        path: PathBuf,
        /// Why it could not be opened.
        #[source]
        source: io::Error,
    },
    /// The ruleset's descriptor could not be duplicated for the rules the child adds.
    #[error("duplicating the Landlock ruleset's descriptor failed")]
    CloneRuleset {
        /// Why the duplication failed.
        #[source]
        source: io::Error,
    },
    /// The ruleset could not be built.
    #[error("building the Landlock ruleset failed")]
    Ruleset(#[from] landlock::RulesetError),
}

/// The Landlock ABI of the running kernel, or `None` without Landlock.
pub fn kernel_abi() -> Option<u8> {
    // SAFETY: LANDLOCK_CREATE_RULESET_VERSION with a null attribute only queries the version.
    let v = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<libc::c_void>(),
            0usize,
            1u32, // LANDLOCK_CREATE_RULESET_VERSION
        )
    };
    u8::try_from(v).ok().filter(|v| *v > 0)
}

fn abi(version: u8) -> ABI {
    ABI::from(i32::from(version))
}

fn access_for(grant: Grant, abi: ABI, is_dir: bool) -> BitFlags<AccessFs> {
    let read = AccessFs::ReadFile | AccessFs::ReadDir;
    let write = read
        | AccessFs::WriteFile
        | AccessFs::Truncate
        | AccessFs::MakeReg
        | AccessFs::MakeDir
        | AccessFs::MakeSym
        | AccessFs::MakeSock
        | AccessFs::MakeFifo
        | AccessFs::RemoveFile
        | AccessFs::RemoveDir
        | AccessFs::Refer
        | AccessFs::IoctlDev;
    let wanted = match grant {
        Grant::Read => read,
        Grant::Write => write,
        Grant::Exec => read | AccessFs::Execute,
        Grant::WriteExec => write | AccessFs::Execute,
    };
    let mut access = wanted & AccessFs::from_all(abi);
    if !is_dir {
        access &= AccessFs::from_file(abi);
    }
    access
}

/// A ruleset built and ready for a child to enforce on itself.
#[derive(Debug)]
pub struct PreparedRuleset {
    ruleset: RulesetCreated,
    /// A second descriptor of the same ruleset, for rules the child adds itself.
    raw: Option<OwnedFd>,
}

impl PreparedRuleset {
    /// Builds the ruleset for `rules` at the pinned `abi_version`. With `required`, a kernel
    /// that cannot enforce every right of that ABI is an error. With `refuse_tcp`, every TCP
    /// bind and connect is refused (for a run without a network namespace of its own).
    pub fn build(
        abi_version: u8,
        rules: &[FsRule],
        required: bool,
        refuse_tcp: bool,
    ) -> Result<PreparedRuleset, LandlockError> {
        let kernel = kernel_abi();
        if required && kernel.is_none_or(|k| k < abi_version) {
            return Err(LandlockError::Unsupported {
                required: abi_version,
                available: kernel,
            });
        }
        let abi = abi(abi_version);
        let level = if required {
            CompatLevel::HardRequirement
        } else {
            CompatLevel::BestEffort
        };
        let mut ruleset = Ruleset::default()
            .set_compatibility(level)
            .handle_access(AccessFs::from_all(abi))?;
        if abi_version >= 4 && refuse_tcp {
            // Handled with no rule added: every TCP bind and connect is refused.
            ruleset = ruleset.handle_access(AccessNet::from_all(abi))?;
        }
        if abi_version >= 6 {
            ruleset = ruleset.scope(Scope::from_all(abi))?;
        }
        let mut created = ruleset.create()?;
        for rule in rules {
            let fd = PathFd::new(&rule.path).map_err(|e| LandlockError::OpenPath {
                path: rule.path.clone(),
                // The crate's own error repeats its source in its message: keep the source.
                source: match e {
                    PathFdError::OpenCall { source, .. } => source,
                    other => io::Error::other(other),
                },
            })?;
            let is_dir = rule.path.is_dir();
            created =
                created.add_rule(PathBeneath::new(fd, access_for(rule.grant, abi, is_dir)))?;
        }
        let raw: Option<OwnedFd> = created
            .try_clone()
            .map_err(|source| LandlockError::CloneRuleset { source })?
            .into();
        Ok(PreparedRuleset {
            ruleset: created,
            raw,
        })
    }

    /// Grants read access beneath `path`, from the sandbox child: for filesystems that only
    /// exist there, like the fresh procfs of its PID namespace. Raw syscalls only.
    pub fn grant_read_in_child(&self, path: &CStr) -> Result<(), i32> {
        let Some(ruleset) = &self.raw else {
            return Ok(()); // Landlock not enforced: nothing to add to
        };
        // SAFETY: valid C string; the descriptor is closed below.
        let fd = unsafe { libc::open(path.as_ptr(), libc::O_PATH | libc::O_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error()
                .raw_os_error()
                .unwrap_or(libc::EIO));
        }
        // struct landlock_path_beneath_attr { __u64 allowed_access; __s32 parent_fd; } packed.
        #[repr(C, packed)]
        struct PathBeneathAttr {
            allowed_access: u64,
            parent_fd: i32,
        }
        const READ_FILE: u64 = 1 << 2;
        const READ_DIR: u64 = 1 << 3;
        let attr = PathBeneathAttr {
            allowed_access: READ_FILE | READ_DIR,
            parent_fd: fd,
        };
        // SAFETY: LANDLOCK_RULE_PATH_BENEATH (1) with a valid attribute struct.
        let r = unsafe {
            libc::syscall(
                libc::SYS_landlock_add_rule,
                ruleset.as_raw_fd(),
                1u32,
                &attr as *const PathBeneathAttr,
                0u32,
            )
        };
        let result = if r == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error()
                .raw_os_error()
                .unwrap_or(libc::EIO))
        };
        // SAFETY: closing our own descriptor.
        unsafe { libc::close(fd) };
        result
    }

    /// Enforces the ruleset on the calling thread (and everything it later runs). Sets
    /// `no_new_privs`. Meant for the sandbox child, right before `execve`: a failure is its
    /// errno, found without allocating.
    pub fn restrict_self(self) -> Result<LayerStatus, i32> {
        let status = self
            .ruleset
            .restrict_self()
            .map_err(|e| *landlock::Errno::from(e))?;
        Ok(match status.ruleset {
            RulesetStatus::FullyEnforced => LayerStatus::Full,
            RulesetStatus::PartiallyEnforced => LayerStatus::Partial,
            RulesetStatus::NotEnforced => LayerStatus::NotEnforced,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_write_exec_grants_both_write_and_execute() {
        let v7 = abi(7);
        let both = access_for(Grant::WriteExec, v7, true);
        assert!(both.contains(AccessFs::Execute) && both.contains(AccessFs::WriteFile));
        assert!(!access_for(Grant::Write, v7, true).contains(AccessFs::Execute));
        assert!(!access_for(Grant::Exec, v7, true).contains(AccessFs::WriteFile));
        assert!(Grant::WriteExec.writable() && Grant::WriteExec.executable());
        assert!(!Grant::Write.executable() && !Grant::Exec.writable());
    }

    /// A sandboxed process cannot give a read-only file a name in a write directory (which
    /// would make it writable there): Landlock refuses the link itself (`EXDEV`), whatever
    /// the supervisor says; a link within the write directory is made.
    #[test]
    fn landlock_refuses_a_link_from_a_read_only_tree_into_a_write_dir() {
        use std::os::unix::ffi::OsStringExt;
        if kernel_abi().is_none_or(|v| v < 2) {
            eprintln!("skipped: Landlock with the refer right (ABI 2) is not available");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let (ro, rw) = (dir.path().join("ro"), dir.path().join("rw"));
        std::fs::create_dir(&ro).unwrap();
        std::fs::create_dir(&rw).unwrap();
        std::fs::write(ro.join("file"), "x").unwrap();
        std::fs::write(rw.join("own"), "x").unwrap();
        let rules = [
            FsRule {
                path: ro.clone(),
                grant: Grant::Read,
            },
            FsRule {
                path: rw.clone(),
                grant: Grant::Write,
            },
        ];
        let ruleset = PreparedRuleset::build(7, &rules, false, false).unwrap();
        let c =
            |p: std::path::PathBuf| std::ffi::CString::new(p.into_os_string().into_vec()).unwrap();
        let (file, across, own, within) = (
            c(ro.join("file")),
            c(rw.join("across")),
            c(rw.join("own")),
            c(rw.join("within")),
        );
        // SAFETY: the child only makes raw syscalls on prepared C strings and `_exit`s.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0);
        if pid == 0 {
            let code = match ruleset.restrict_self() {
                Ok(_) => {
                    // SAFETY: link(2) on valid C strings.
                    let refused = unsafe { libc::link(file.as_ptr(), across.as_ptr()) } == -1
                        && io::Error::last_os_error().raw_os_error() == Some(libc::EXDEV);
                    // SAFETY: as above.
                    let made = unsafe { libc::link(own.as_ptr(), within.as_ptr()) } == 0;
                    i32::from(refused) * 10 + i32::from(made)
                }
                Err(_) => 100,
            };
            // SAFETY: ending the forked child without running destructors.
            unsafe { libc::_exit(code) };
        }
        let mut status = 0;
        // SAFETY: waiting for our own child.
        unsafe { libc::waitpid(pid, &mut status, 0) };
        assert!(libc::WIFEXITED(status));
        assert_eq!(
            libc::WEXITSTATUS(status),
            11,
            "10: refused across, 1: made within"
        );
        assert!(!rw.join("across").exists());
    }
}
