//! Hard links planted before the run: a write-intent open, in a writable directory, of a
//! regular file that has other names. Landlock decides a write by the path, not by the file:
//! a link made outside the sandbox before the run (by an earlier, unsandboxed step) from a
//! write directory to a file outside every write directory (`OUT_DIR/x` naming `~/.bashrc`)
//! would let the run write that file. The run itself cannot make such a link (`fs.rs` refuses a
//! link whose file lies outside the write directories, and Landlock refuses it anyway: a link
//! may not give its file rights it lacks, `LANDLOCK_ACCESS_FS_REFER`), so an open of a file with
//! other names that the run did not link itself is refused and recorded, wherever the other
//! names are (the supervisor cannot list them).
//!
//! Builds do not do this: linkers unlink their output before writing it, rustc writes archives
//! and metadata to a temporary file that it renames, and rustc's incremental cache deletes a
//! file shared with a previous session rather than truncating it; links the run makes itself
//! (`ln a b` in `OUT_DIR`, then a write to `b`) are remembered and allowed.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Mutex;

use super::{Answer, Call, Handler};
use crate::events::{Decision, Event, Kind};

/// The files (device, inode) the run gave another name itself.
#[derive(Default)]
pub(super) struct OwnLinks(Mutex<HashSet<(u64, u64)>>);

/// Most files remembered; beyond, a write to one more file the run linked is refused.
const MAX_OWN_LINKS: usize = 65_536;

impl Handler {
    /// Notes that the run is about to give file `target` (inside view) another name within
    /// its write directories.
    pub(super) fn note_own_link(&self, call: &Call, target: &Path) {
        if let Some(st) = self.stat_inside(call, target) {
            if let Ok(mut own) = self.own_links.0.lock() {
                if own.len() < MAX_OWN_LINKS {
                    own.insert((st.st_dev, st.st_ino));
                }
            }
        }
    }

    /// A write-intent open of `path` (named so), landing on `target` inside a write directory:
    /// refused and recorded if `target` is a regular file with other names the run did not
    /// give it.
    pub(super) fn planted_link(&self, call: &Call, path: &Path, target: &Path) -> Option<Answer> {
        let st = self.stat_inside(call, target)?;
        if st.st_mode & libc::S_IFMT != libc::S_IFREG || st.st_nlink < 2 {
            return None;
        }
        let own = self
            .own_links
            .0
            .lock()
            .map(|own| own.contains(&(st.st_dev, st.st_ino)))
            .unwrap_or(false);
        if own {
            return None;
        }
        let mut event = Event::new(Kind::Fs, "write", Decision::Denied)
            .with("path", path.to_string_lossy())
            .with("links", st.st_nlink)
            .with(
                "reason",
                "a hard link the run did not make: the file has other names, possibly outside \
                 the writable directories",
            );
        if target != path {
            event = event.with("resolved", target.to_string_lossy());
        }
        self.record(call, event);
        Some(Answer::Deny(libc::EACCES))
    }
}
