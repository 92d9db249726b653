//! Capturing a standard stream of this process while a sandboxed run writes to it: the stream's
//! descriptor is pointed at a pipe, and a thread copies what arrives to the original stream (line
//! by line, through an optional rewrite) and keeps a copy. The sandbox engine passes stdio
//! through unchanged, so this is how a launcher sees a build script's directives and the wrapper
//! sees rustc's artifact notifications.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::thread::JoinHandle;

/// Rewrites one line (with its newline, if it had one) before it is forwarded.
pub(crate) type Rewrite = Box<dyn FnMut(Vec<u8>) -> Vec<u8> + Send>;

/// A stream being captured.
pub(crate) struct Tee {
    target: RawFd,
    saved: OwnedFd,
    thread: Option<JoinHandle<Vec<u8>>>,
}

fn dup(fd: RawFd) -> io::Result<OwnedFd> {
    // SAFETY: F_DUPFD_CLOEXEC on a descriptor we were handed; the result is owned below.
    let r = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 3) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just returned it.
    Ok(unsafe { OwnedFd::from_raw_fd(r) })
}

impl Tee {
    /// Starts capturing descriptor `target` (1 or 2).
    pub(crate) fn start(target: RawFd, mut rewrite: Option<Rewrite>) -> io::Result<Tee> {
        let saved = dup(target)?;
        let forward = dup(saved.as_raw_fd())?;
        let mut fds = [0; 2];
        // SAFETY: `fds` has room for two descriptors.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: the kernel just created both.
        let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        // SAFETY: dup2 onto a standard descriptor of ours; the copy is not close-on-exec, so
        // the sandboxed command inherits it.
        if unsafe { libc::dup2(write.as_raw_fd(), target) } < 0 {
            return Err(io::Error::last_os_error());
        }
        drop(write);
        let thread = std::thread::Builder::new()
            .name("airlock-tee".into())
            .spawn(move || {
                let mut out = File::from(forward);
                let mut reader = BufReader::new(File::from(read));
                let mut captured = Vec::new();
                loop {
                    let mut line = Vec::new();
                    match reader.read_until(b'\n', &mut line) {
                        Ok(0) | Err(_) => break,
                        Ok(_) => {}
                    }
                    captured.extend_from_slice(&line);
                    let line = match rewrite.as_mut() {
                        Some(f) => f(line),
                        None => line,
                    };
                    let _ = out.write_all(&line);
                    let _ = out.flush();
                }
                captured
            })?;
        Ok(Tee {
            target,
            saved,
            thread: Some(thread),
        })
    }

    /// Restores the stream and returns everything that was written to it.
    pub(crate) fn finish(mut self) -> Vec<u8> {
        self.restore();
        self.thread
            .take()
            .and_then(|t| t.join().ok())
            .unwrap_or_default()
    }

    fn restore(&mut self) {
        // SAFETY: puts the saved descriptor back; this closes our copy of the pipe's write end.
        unsafe { libc::dup2(self.saved.as_raw_fd(), self.target) };
    }
}

impl Drop for Tee {
    fn drop(&mut self) {
        if let Some(t) = self.thread.take() {
            self.restore();
            let _ = t.join();
        }
    }
}
