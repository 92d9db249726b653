//! Kernel facts this build knows, shared by the profile (which validates names and versions
//! against them) and the sandbox (which compiles them into its layers): the syscall names and
//! numbers of this architecture, and the newest Landlock ABI a profile may pin.
//!
//! A leaf: it imports nothing from the crate, so `profile` and `sandbox` both depend on it and
//! not on each other.

/// The newest Landlock ABI this build's profiles may pin (the one it was tested against).
pub(crate) const NEWEST_KNOWN_ABI: u8 = 7;

macro_rules! syscall_table {
    ($($name:ident),* $(,)?) => {
        /// Syscall names this build knows, with their numbers on this architecture.
        pub(crate) const SYSCALLS: &[(&str, i64)] = &[
            $((stringify!($name), libc::$name as i64),)*
        ];
    };
}

#[cfg(target_arch = "x86_64")]
syscall_table!(
    SYS_read,
    SYS_write,
    SYS_open,
    SYS_openat,
    SYS_openat2,
    SYS_creat,
    SYS_close,
    SYS_socket,
    SYS_socketpair,
    SYS_connect,
    SYS_bind,
    SYS_sendto,
    SYS_sendmsg,
    SYS_sendmmsg,
    SYS_listen,
    SYS_execve,
    SYS_execveat,
    SYS_link,
    SYS_linkat,
    SYS_symlink,
    SYS_symlinkat,
    SYS_rename,
    SYS_renameat,
    SYS_renameat2,
    SYS_kill,
    SYS_tkill,
    SYS_tgkill,
    SYS_rt_sigqueueinfo,
    SYS_rt_tgsigqueueinfo,
    SYS_pidfd_send_signal,
    SYS_pidfd_open,
    SYS_pidfd_getfd,
    SYS_ptrace,
    SYS_process_vm_readv,
    SYS_process_vm_writev,
    SYS_io_uring_setup,
    SYS_io_uring_enter,
    SYS_io_uring_register,
    SYS_bpf,
    SYS_perf_event_open,
    SYS_mount,
    SYS_umount2,
    SYS_pivot_root,
    SYS_move_mount,
    SYS_open_tree,
    SYS_fsopen,
    SYS_fsmount,
    SYS_fsconfig,
    SYS_fspick,
    SYS_mount_setattr,
    SYS_keyctl,
    SYS_add_key,
    SYS_request_key,
    SYS_kexec_load,
    SYS_kexec_file_load,
    SYS_userfaultfd,
    SYS_init_module,
    SYS_finit_module,
    SYS_delete_module,
    SYS_swapon,
    SYS_swapoff,
    SYS_reboot,
    SYS_setns,
    SYS_unshare,
    SYS_open_by_handle_at,
    SYS_name_to_handle_at,
    SYS_iopl,
    SYS_ioperm,
    SYS_quotactl,
    SYS_acct,
    SYS_settimeofday,
    SYS_clock_settime,
    SYS_clock_adjtime,
    SYS_adjtimex,
    SYS_syslog,
    SYS_vhangup,
    SYS_chroot,
    SYS_memfd_create,
    SYS_memfd_secret,
    SYS_ioctl,
    SYS_clone,
    SYS_clone3,
    SYS_fork,
    SYS_vfork,
    SYS_lookup_dcookie,
    SYS_process_madvise,
    SYS_kcmp,
    SYS_fanotify_init,
    SYS_landlock_create_ruleset,
    SYS_seccomp,
    SYS_personality,
    SYS_sethostname,
    SYS_setdomainname,
    SYS_mknod,
    SYS_mknodat,
    SYS_uselib,
    SYS_ustat,
    SYS_sysfs,
    SYS_nfsservctl,
    SYS_vmsplice,
    SYS_mbind,
    SYS_migrate_pages,
    SYS_move_pages,
    SYS_set_mempolicy,
);

#[cfg(target_arch = "aarch64")]
syscall_table!(
    SYS_read,
    SYS_write,
    SYS_openat,
    SYS_openat2,
    SYS_close,
    SYS_socket,
    SYS_socketpair,
    SYS_connect,
    SYS_bind,
    SYS_sendto,
    SYS_sendmsg,
    SYS_sendmmsg,
    SYS_listen,
    SYS_execve,
    SYS_execveat,
    SYS_linkat,
    SYS_symlinkat,
    SYS_renameat,
    SYS_renameat2,
    SYS_kill,
    SYS_tkill,
    SYS_tgkill,
    SYS_rt_sigqueueinfo,
    SYS_rt_tgsigqueueinfo,
    SYS_pidfd_send_signal,
    SYS_pidfd_open,
    SYS_pidfd_getfd,
    SYS_ptrace,
    SYS_process_vm_readv,
    SYS_process_vm_writev,
    SYS_io_uring_setup,
    SYS_io_uring_enter,
    SYS_io_uring_register,
    SYS_bpf,
    SYS_perf_event_open,
    SYS_mount,
    SYS_umount2,
    SYS_pivot_root,
    SYS_move_mount,
    SYS_open_tree,
    SYS_fsopen,
    SYS_fsmount,
    SYS_fsconfig,
    SYS_fspick,
    SYS_mount_setattr,
    SYS_keyctl,
    SYS_add_key,
    SYS_request_key,
    SYS_kexec_load,
    SYS_kexec_file_load,
    SYS_userfaultfd,
    SYS_init_module,
    SYS_finit_module,
    SYS_delete_module,
    SYS_swapon,
    SYS_swapoff,
    SYS_reboot,
    SYS_setns,
    SYS_unshare,
    SYS_open_by_handle_at,
    SYS_name_to_handle_at,
    SYS_quotactl,
    SYS_acct,
    SYS_settimeofday,
    SYS_clock_settime,
    SYS_clock_adjtime,
    SYS_adjtimex,
    SYS_syslog,
    SYS_vhangup,
    SYS_chroot,
    SYS_memfd_create,
    SYS_memfd_secret,
    SYS_ioctl,
    SYS_clone,
    SYS_clone3,
    SYS_lookup_dcookie,
    SYS_process_madvise,
    SYS_kcmp,
    SYS_fanotify_init,
    SYS_landlock_create_ruleset,
    SYS_seccomp,
    SYS_personality,
    SYS_sethostname,
    SYS_setdomainname,
    SYS_mknodat,
    SYS_vmsplice,
    SYS_mbind,
    SYS_migrate_pages,
    SYS_move_pages,
    SYS_set_mempolicy,
);

/// The number of syscall `name` (with or without a `SYS_` prefix) on this architecture.
pub(crate) fn syscall_number(name: &str) -> Option<i64> {
    let bare = name.strip_prefix("SYS_").unwrap_or(name);
    SYSCALLS
        .iter()
        .find(|(n, _)| &n[4..] == bare)
        .map(|(_, nr)| *nr)
}

/// The name of syscall `nr` on this architecture, without the `SYS_` prefix.
pub(crate) fn syscall_name(nr: i64) -> Option<&'static str> {
    SYSCALLS
        .iter()
        .find(|(_, n)| *n == nr)
        .map(|(name, _)| &name[4..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers_round_trip() {
        let nr = syscall_number("ptrace").unwrap();
        assert_eq!(nr, libc::SYS_ptrace);
        assert_eq!(syscall_name(nr), Some("ptrace"));
        assert_eq!(syscall_number("SYS_bpf"), Some(libc::SYS_bpf));
        assert_eq!(syscall_number("not_a_syscall"), None);
    }
}
