//! Decoy values in what a process hands to another program: an exec's arguments and
//! environment. A payload that found a decoy token passes it on the command line of the tool
//! that sends it (`curl -d <token>`) or in a variable of its own; the send itself may never be
//! seen (the tool is missing, or it fails before connecting), so the exec is where the leak
//! shows. Recorded as `leak/decoy-output` with `location: exec:<program>` (argv) or
//! `exec-env:<program>` (environment).

use super::{Call, Handler};
use crate::events::{Decision, Event, Kind};
use crate::sandbox::procmem::{read_cstring, read_mem, MAX_ARGS};

impl Handler {
    /// Records each decoy whose value (in any encoding the matcher knows) appears in `argv` of
    /// an exec of `path` by the process of `call`, or in its environment other than as the
    /// variable the decoy was planted in (which every child inherits as it is).
    pub(super) fn note_decoys_in_exec(&self, call: &Call, path: &str, argv: &[String]) {
        let Some(view) = &self.ctx.decoys else {
            return;
        };
        // One pass over the arguments joined: the matcher runs once per exec.
        let joined = argv.join("\0");
        let found = view.set.found_in(joined.as_bytes());
        let envp = if call.nr == libc::SYS_execveat {
            call.args[3]
        } else {
            call.args[2]
        };
        // Every variable but the planted ones, as they were planted, joined for one pass: this
        // runs on every exec while the process waits.
        let planted = |kv: &[u8]| {
            let Some(eq) = kv.iter().position(|&b| b == b'=') else {
                return false;
            };
            let (k, v) = (&kv[..eq], &kv[eq + 1..]);
            view.set
                .env
                .iter()
                .any(|(pk, pv)| pk.as_bytes() == k && pv.as_bytes() == v)
        };
        let mut moved = Vec::new();
        for kv in read_env(call.pid, envp).iter().filter(|kv| !planted(kv)) {
            moved.extend_from_slice(kv);
            moved.push(0);
        }
        let in_env = view.set.found_in(&moved);
        if found.is_empty() && in_env.is_empty() || !call.still_pending() {
            return;
        }
        for (decoys, location) in [(found, "exec"), (in_env, "exec-env")] {
            for decoy in decoys {
                self.record(
                    call,
                    Event::new(Kind::Leak, "decoy-output", Decision::Flagged)
                        .with("decoy", decoy.name.as_str())
                        .with("location", format!("{location}:{path}")),
                );
            }
        }
    }
}

/// Pointers read at a time from an environment array.
const ENV_BATCH: usize = 32;

/// Strings closer together than this are read as one block.
const ENV_GAP: u64 = 4096;

/// Bytes read past the last string a block starts with (a longer one is read alone).
const ENV_TAIL: u64 = 1024;

/// The most bytes read as blocks for one environment; strings beyond are read alone.
const ENV_SPAN: u64 = 64 * 1024;

/// The strings of the environment array at `envp` in process `pid` (at most [`MAX_ARGS`]),
/// stopping at its NULL or the first unreadable pointer. An environment's strings lie in a few
/// clusters (a shell passes those it inherited where they arrived, on its stack, and those it
/// set from its heap), so each cluster is read as one block, a page per read, where one read of
/// a window of each string (as argv is read) would pin and copy every string's pages apart; a
/// string no block holds whole is read alone.
fn read_env(pid: i32, envp: u64) -> Vec<Vec<u8>> {
    let ptrs = env_pointers(pid, envp);
    let mut sorted = ptrs.clone();
    sorted.sort_unstable();
    sorted.dedup();
    let mut blocks: Vec<(u64, Vec<u8>)> = Vec::new();
    let mut budget = ENV_SPAN;
    let mut rest = sorted.as_slice();
    while let Some((&start, more)) = rest.split_first() {
        let mut end = start;
        let taken = more
            .iter()
            .take_while(|&&p| {
                let near = p - end <= ENV_GAP;
                if near {
                    end = p;
                }
                near
            })
            .count();
        rest = &more[taken..];
        let len = end - start + ENV_TAIL;
        if len <= budget {
            budget -= len;
            let mut block = vec![0u8; len as usize];
            let n = read_mem(pid, start, &mut block).unwrap_or(0);
            block.truncate(n);
            blocks.push((start, block));
        }
    }
    let held = |ptr: u64| {
        let (start, block) = &blocks[blocks.partition_point(|(s, _)| *s <= ptr).checked_sub(1)?];
        let tail = block.get(usize::try_from(ptr - start).ok()?..)?;
        let end = tail.iter().position(|&b| b == 0)?;
        Some(tail[..end].to_vec())
    };
    ptrs.iter()
        .map_while(|&ptr| held(ptr).or_else(|| read_cstring(pid, ptr)))
        .collect()
}

/// The pointers of the array at `envp` up to its NULL (at most [`MAX_ARGS`]), read
/// [`ENV_BATCH`] at a time.
fn env_pointers(pid: i32, envp: u64) -> Vec<u64> {
    let mut ptrs: Vec<u64> = Vec::new();
    while envp != 0 && ptrs.len() < MAX_ARGS {
        let mut raw = [0u8; ENV_BATCH * 8];
        let at = envp + ptrs.len() as u64 * 8;
        let Ok(n) = read_mem(pid, at, &mut raw) else {
            break;
        };
        let before = ptrs.len();
        let words = raw[..n - n % 8].chunks_exact(8);
        let mut ended = words.len() < ENV_BATCH;
        for word in words {
            let ptr = u64::from_ne_bytes(word.try_into().unwrap_or([0; 8]));
            if ptr == 0 || ptrs.len() == MAX_ARGS {
                ended = true;
                break;
            }
            ptrs.push(ptr);
        }
        if ended || ptrs.len() == before {
            break;
        }
    }
    ptrs
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CString;

    #[test]
    fn an_environment_reads_whole_in_clusters_and_alone() {
        // Strings together on the heap (one block), one on the stack (far away: a block of its
        // own), one longer than a block's tail (read alone).
        let together: Vec<CString> = (0..40)
            .map(|i| CString::new(format!("VAR{i}=value {i}")).unwrap())
            .collect();
        let on_stack = *b"STACK=here\0";
        let alone = CString::new(format!("LONG={}", "x".repeat(3 * ENV_TAIL as usize))).unwrap();
        let mut array: Vec<u64> = together.iter().map(|s| s.as_ptr() as u64).collect();
        array.push(on_stack.as_ptr() as u64);
        array.push(alone.as_ptr() as u64);
        array.push(0);
        let read = read_env(std::process::id() as i32, array.as_ptr() as u64);
        let mut expected: Vec<Vec<u8>> = together.iter().map(|s| s.as_bytes().to_vec()).collect();
        expected.push(b"STACK=here".to_vec());
        expected.push(alone.as_bytes().to_vec());
        assert_eq!(read, expected);
        // An array without strings, and none at all.
        assert!(read_env(std::process::id() as i32, [0u64].as_ptr() as u64).is_empty());
        assert!(read_env(std::process::id() as i32, 0).is_empty());
    }
}
