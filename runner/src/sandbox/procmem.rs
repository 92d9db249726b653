//! Reading the memory of a process stopped in a seccomp notification: the strings and arrays
//! its syscall arguments point to, through `process_vm_readv`.
//!
//! These reads sit on the path every `execve` takes (the process waits for its answer while
//! its argv is read), so they are batched: one read for up to 32 argument pointers and one for
//! the strings they point to, where reading each string alone would cost a syscall apiece
//! (a compiler invocation has dozens of arguments). Each read is one `process_vm_readv`
//! through nix, into buffers on the stack.

use std::io::{self, IoSliceMut};

use nix::sys::uio::{process_vm_readv, RemoteIoVec};
use nix::unistd::Pid;

const PAGE: u64 = 4096;

/// Longest string read from a process (paths, arguments).
pub(crate) const MAX_STRING: usize = 4096;

/// Most argv entries recorded.
pub(crate) const MAX_ARGS: usize = 256;

/// Reads `buf.len()` bytes (or fewer, up to a fault) at `addr` in process `pid`, a page at a
/// time so that a string ending just before an unmapped page still reads.
pub(crate) fn read_mem(pid: i32, addr: u64, buf: &mut [u8]) -> io::Result<usize> {
    let mut done = 0usize;
    while done < buf.len() {
        let at = addr + done as u64;
        let chunk = window(at, buf.len() - done);
        let local = &mut [IoSliceMut::new(&mut buf[done..done + chunk])];
        let remote = [RemoteIoVec {
            base: at as usize,
            len: chunk,
        }];
        match process_vm_readv(Pid::from_raw(pid), local, &remote) {
            Ok(n) if n > 0 => done += n,
            Ok(_) if done == 0 => return Err(io::ErrorKind::UnexpectedEof.into()),
            Err(e) if done == 0 => return Err(e.into()),
            _ => break,
        }
    }
    Ok(done)
}

/// Reads a native-endian `u64` at `addr`.
pub(crate) fn read_u64(pid: i32, addr: u64) -> Option<u64> {
    let mut b = [0u8; 8];
    (read_mem(pid, addr, &mut b).ok()? == 8).then(|| u64::from_ne_bytes(b))
}

/// Reads a NUL-terminated string at `addr` in process `pid` (at most [`MAX_STRING`] bytes).
pub(crate) fn read_cstring(pid: i32, addr: u64) -> Option<Vec<u8>> {
    if addr == 0 {
        return None;
    }
    let mut out = Vec::new();
    let mut at = addr;
    while out.len() < MAX_STRING {
        let mut chunk = [0u8; 256];
        let n = read_mem(pid, at, &mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        if let Some(end) = chunk[..n].iter().position(|&b| b == 0) {
            out.extend_from_slice(&chunk[..end]);
            return Some(out);
        }
        out.extend_from_slice(&chunk[..n]);
        at += n as u64;
    }
    Some(out)
}

/// Pointers fetched per read (most argv arrays need one).
const BATCH: usize = 32;
/// Bytes of each string fetched in the batched read; longer strings are finished one by one.
const WINDOW: usize = 256;

/// Reads an argv-style array of string pointers at `addr` (at most [`MAX_ARGS`] entries),
/// stopping at the NULL pointer or the first unreadable entry.
pub(crate) fn read_argv(pid: i32, addr: u64) -> Vec<String> {
    read_argv_after(pid, addr, None)
}

/// What an `execve` asks for: its path and argv. Two reads for most execs: the path and the
/// first pointers of argv together, then the argument strings.
pub(crate) fn read_exec(
    pid: i32,
    path_addr: u64,
    argv_addr: u64,
) -> (Option<Vec<u8>>, Vec<String>) {
    let path_len = window(path_addr, WINDOW);
    let argv_len = window(argv_addr, BATCH * 8);
    if path_addr == 0 || argv_addr == 0 {
        return (read_cstring(pid, path_addr), read_argv(pid, argv_addr));
    }
    let mut path_buf = [0u8; WINDOW];
    let mut argv_buf = [0u8; BATCH * 8];
    let remote = [
        RemoteIoVec {
            base: path_addr as usize,
            len: path_len,
        },
        RemoteIoVec {
            base: argv_addr as usize,
            len: argv_len,
        },
    ];
    let read = {
        let local = &mut [
            IoSliceMut::new(&mut path_buf[..path_len]),
            IoSliceMut::new(&mut argv_buf[..argv_len]),
        ];
        process_vm_readv(Pid::from_raw(pid), local, &remote).unwrap_or(0)
    };
    let path = match path_buf[..path_len].iter().position(|&b| b == 0) {
        Some(end) if read >= path_len => Some(path_buf[..end].to_vec()),
        _ => read_cstring(pid, path_addr),
    };
    let argv = if read == path_len + argv_len {
        read_argv_after(pid, argv_addr, Some(&argv_buf[..argv_len]))
    } else {
        read_argv(pid, argv_addr)
    };
    (path, argv)
}

/// Bytes from `addr` to the end of its page, at most `max`.
fn window(addr: u64, max: usize) -> usize {
    ((PAGE - addr % PAGE) as usize).min(max)
}

/// [`read_argv`], with the bytes of the array's start already read (`first`, a whole number of
/// pointers ending at a page end or after [`BATCH`] pointers).
fn read_argv_after(pid: i32, addr: u64, mut first: Option<&[u8]>) -> Vec<String> {
    let mut args = Vec::new();
    if addr == 0 {
        return args;
    }
    while args.len() < MAX_ARGS {
        let mut raw = [0u8; BATCH * 8];
        let n = match first.take() {
            Some(bytes) => {
                raw[..bytes.len()].copy_from_slice(bytes);
                bytes.len()
            }
            None => match read_mem(pid, addr + args.len() as u64 * 8, &mut raw) {
                Ok(n) => n,
                Err(_) => break,
            },
        };
        let mut ptrs = [0u64; BATCH];
        let mut count = 0;
        for chunk in raw[..n - n % 8].chunks_exact(8) {
            let ptr = u64::from_ne_bytes(chunk.try_into().unwrap_or([0; 8]));
            if ptr == 0 || args.len() + count == MAX_ARGS {
                break;
            }
            ptrs[count] = ptr;
            count += 1;
        }
        // A NULL met, or no whole pointer read (no progress: a misaligned array at a fault).
        let ended = count < n / 8 || count == 0;
        for s in read_strings(pid, &ptrs[..count]) {
            match s {
                Some(s) => args.push(String::from_utf8_lossy(&s).into_owned()),
                None => return args,
            }
        }
        if ended {
            break;
        }
    }
    args
}

/// The NUL-terminated strings at `ptrs` (at most [`BATCH`]), read with one `process_vm_readv`
/// of a window of each: a window ends at its page's end, so an unmapped page stops the read
/// only where it begins. Strings the window does not hold whole are read one by one.
fn read_strings(pid: i32, ptrs: &[u64]) -> Vec<Option<Vec<u8>>> {
    let mut bufs = [[0u8; WINDOW]; BATCH];
    let mut remote = [RemoteIoVec { base: 0, len: 0 }; BATCH];
    let mut lens = [0usize; BATCH];
    for (i, &ptr) in ptrs.iter().enumerate() {
        lens[i] = window(ptr, WINDOW);
        remote[i] = RemoteIoVec {
            base: ptr as usize,
            len: lens[i],
        };
    }
    let count = ptrs.len();
    let read = {
        let mut next = 0;
        let mut local = bufs.each_mut().map(|buf| {
            let len = lens[next];
            next += 1;
            IoSliceMut::new(&mut buf[..len])
        });
        process_vm_readv(Pid::from_raw(pid), &mut local[..count], &remote[..count]).unwrap_or(0)
    };
    let mut left = read;
    ptrs.iter()
        .enumerate()
        .map(|(i, &ptr)| {
            let whole = left >= lens[i];
            left = left.saturating_sub(lens[i]);
            let window = &bufs[i][..lens[i]];
            match window.iter().position(|&b| b == 0) {
                Some(end) if whole => Some(window[..end].to_vec()),
                _ => read_cstring(pid, ptr),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CString;

    fn own() -> i32 {
        std::process::id() as i32
    }

    #[test]
    fn reads_a_string_and_an_argv() {
        let s = CString::new("hello sandbox").unwrap();
        assert_eq!(
            read_cstring(own(), s.as_ptr() as u64).unwrap(),
            b"hello sandbox".to_vec()
        );
        let args = [s.as_ptr(), std::ptr::null()];
        assert_eq!(
            read_argv(own(), args.as_ptr() as u64),
            vec!["hello sandbox".to_string()]
        );
        assert!(read_argv(own(), 0).is_empty());
    }

    #[test]
    fn argv_spans_batches_and_is_capped() {
        let words: Vec<CString> = (0..300)
            .map(|i| CString::new(format!("arg{i}")).unwrap())
            .collect();
        let mut ptrs: Vec<*const libc::c_char> = words.iter().map(|w| w.as_ptr()).collect();
        ptrs.push(std::ptr::null());
        let read = read_argv(own(), ptrs[250..].as_ptr() as u64);
        assert_eq!(read.len(), 50);
        assert_eq!(read[0], "arg250");
        assert_eq!(read[49], "arg299");
        let read = read_argv(own(), ptrs.as_ptr() as u64);
        assert_eq!(read.len(), MAX_ARGS);
        assert_eq!(read[40], "arg40");
        // Exactly one batch, then the NULL at the start of the next.
        let read = read_argv(own(), ptrs[268..].as_ptr() as u64);
        assert_eq!(read.len(), 32);
    }

    #[test]
    fn long_strings_and_strings_across_pages_read_whole() {
        // A string longer than the window, and one that crosses a page boundary.
        let long = CString::new("x".repeat(3000)).unwrap();
        let mut page = vec![b'y'; 3 * PAGE as usize];
        let base = page.as_ptr() as u64;
        let cross = (PAGE - base % PAGE) as usize + PAGE as usize - 10;
        page[cross + 20] = 0;
        let cross_ptr = page[cross..].as_ptr().cast::<libc::c_char>();
        let args = [long.as_ptr(), cross_ptr, std::ptr::null()];
        let read = read_argv(own(), args.as_ptr() as u64);
        assert_eq!(read.len(), 2);
        assert_eq!(read[0].len(), 3000);
        assert_eq!(read[1], "y".repeat(20));
    }

    #[test]
    fn an_exec_reads_its_path_and_argv_together() {
        let path = CString::new("/usr/bin/cc").unwrap();
        let words: Vec<CString> = (0..40)
            .map(|i| CString::new(format!("-Dflag{i}")).unwrap())
            .collect();
        let mut ptrs: Vec<*const libc::c_char> = words.iter().map(|w| w.as_ptr()).collect();
        ptrs.push(std::ptr::null());
        let (p, argv) = read_exec(own(), path.as_ptr() as u64, ptrs.as_ptr() as u64);
        assert_eq!(p.unwrap(), b"/usr/bin/cc");
        assert_eq!(argv.len(), 40);
        assert_eq!(argv[39], "-Dflag39");
        // An argv array that starts just before a page end, so its first read is short.
        let mut page = vec![0u64; 3 * PAGE as usize / 8];
        let base = page.as_ptr() as u64;
        let start = ((PAGE - base % PAGE) / 8) as usize + PAGE as usize / 8 - 2;
        for (i, w) in words.iter().take(5).enumerate() {
            page[start + i] = w.as_ptr() as u64;
        }
        let at = page[start..].as_ptr() as u64;
        let (_, argv) = read_exec(own(), path.as_ptr() as u64, at);
        assert_eq!(
            argv,
            vec!["-Dflag0", "-Dflag1", "-Dflag2", "-Dflag3", "-Dflag4"]
        );
        // A NULL path or argv.
        let (p, argv) = read_exec(own(), 0, ptrs.as_ptr() as u64);
        assert!(p.is_none());
        assert_eq!(argv.len(), 40);
        assert!(read_exec(own(), path.as_ptr() as u64, 0).1.is_empty());
    }

    #[test]
    fn a_misaligned_argv_at_a_fault_ends() {
        // Pointers that run up to an unmapped page, misaligned so the last read is 3 bytes.
        let len = 2 * PAGE as usize;
        // SAFETY: anonymous mapping of two pages; the second is unmapped again below.
        let map = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert_ne!(map, libc::MAP_FAILED);
        // SAFETY: unmapping the second page of our own mapping.
        unsafe { libc::munmap(map.cast::<u8>().add(PAGE as usize).cast(), PAGE as usize) };
        let word = CString::new("w").unwrap();
        let start = map as u64 + PAGE - 3 - 8;
        // SAFETY: the 8 bytes at `start` lie in the mapped page.
        unsafe { std::ptr::write_unaligned(start as *mut u64, word.as_ptr() as u64) };
        assert_eq!(read_argv(own(), start), vec!["w"]);
        // SAFETY: the first page is still ours.
        unsafe { libc::munmap(map, PAGE as usize) };
    }

    #[test]
    fn an_unreadable_pointer_ends_the_argv() {
        let a = CString::new("first").unwrap();
        let bogus = 8 as *const libc::c_char; // the zero page is never mapped
        let args = [a.as_ptr(), bogus, a.as_ptr(), std::ptr::null()];
        assert_eq!(read_argv(own(), args.as_ptr() as u64), vec!["first"]);
    }
}
