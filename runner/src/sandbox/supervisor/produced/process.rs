//! What `/proc` and the kernel say about the processes of a run, for `produced.rs`: which
//! program a process runs, its parent, whether another thread could change its memory, and
//! whether a notification is still pending.

use std::fs;
use std::os::unix::fs::MetadataExt;

use super::super::inside::tgid;
use super::super::Call;

/// `(device, inode)` of the program host process `pid` runs.
pub(super) fn exe_identity(pid: i32) -> Option<(u64, u64)> {
    fs::metadata(format!("/proc/{pid}/exe"))
        .ok()
        .map(|m| (m.dev(), m.ino()))
}

/// A number from `/proc/<pid>/status` (host pids).
fn status_number(pid: i32, field: &str) -> Option<i32> {
    let text = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}

/// Whether host process `pid` is `ancestor` or descends from it.
pub(super) fn descends_from(pid: i32, ancestor: i32) -> bool {
    let mut pid = tgid(pid);
    for _ in 0..64 {
        if pid == ancestor {
            return true;
        }
        match status_number(pid, "PPid:") {
            Some(parent) if parent > 1 => pid = parent,
            _ => return false,
        }
    }
    false
}

/// Whether another thread could change the memory of host thread `tid` while it waits in
/// `execve`: it has sibling threads, or it shares its memory with a parent (a `vfork` or
/// `posix_spawn` child) that has more than one thread.
pub(super) fn shares_path_memory(tid: i32) -> bool {
    let pid = tgid(tid);
    if status_number(pid, "Threads:").is_none_or(|n| n != 1) {
        return true;
    }
    let Some(parent) = status_number(pid, "PPid:") else {
        return true;
    };
    // kcmp(pid1, pid2, KCMP_VM, 0, 0) is 0 when both use the same memory.
    const KCMP_VM: libc::c_long = 1;
    // SAFETY: kcmp compares two processes' resources; it reads nothing from our memory.
    let same = unsafe {
        libc::syscall(
            libc::SYS_kcmp,
            libc::c_long::from(pid),
            libc::c_long::from(parent),
            KCMP_VM,
            0,
            0,
        )
    };
    match same {
        0 => status_number(parent, "Threads:").is_none_or(|n| n != 1),
        r if r > 0 => false,
        _ => true, // kcmp unavailable: assume the worst
    }
}

/// Whether the notification `call` answers is still pending (its process has not died and
/// been replaced by another with the same pid).
pub(super) fn notification_valid(call: &Call) -> bool {
    let mut id = call.id;
    // SAFETY: ID_VALID reads a u64 notification id from the pointer.
    let r = unsafe {
        libc::ioctl(
            call.listener,
            libc::SECCOMP_IOCTL_NOTIF_ID_VALID,
            &mut id as *mut u64,
        )
    };
    r == 0 || call.listener < 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_vfork_child_of_a_single_threaded_parent_cannot_be_raced() {
        // This test process has several threads (the harness's): a child sharing its memory
        // could have its path changed under it; a forked child cannot.
        let me = std::process::id() as i32;
        let threads = status_number(me, "Threads:").unwrap();
        assert_eq!(shares_path_memory(me), threads != 1);
    }
}
