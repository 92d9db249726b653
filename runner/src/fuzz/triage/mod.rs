//! Crash triage: classify what a fuzz target printed when it crashed (ASan, LeakSanitizer,
//! libFuzzer, Rust panics, glibc aborts), extract its frames, and compute the signature that
//! deduplicates findings: the kind plus the top frames inside the crate under test
//! (`signature`); then unite the findings that show one hang or one recursion (`cluster`).

mod cluster;
mod signature;

use crate::report::Frame;

pub(crate) use cluster::{merge_findings, same_defect};
pub(crate) use signature::{finding_id, signature, site};

/// What a crash output says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Crash {
    /// `panic`, `stack-overflow`, `oom`, `timeout`, `leak`, `abort`, `segv`, `asan:<type>`.
    pub kind: String,
    /// The panic message, the sanitizer's summary line, or libFuzzer's.
    pub message: String,
    /// Frames, innermost first, runtime frames removed.
    pub frames: Vec<Frame>,
}

/// Frames from these prefixes are the fuzzing machinery, the standard library or serde, never
/// the crate under test.
const RUNTIME_PREFIXES: &[&str] = &[
    "std::",
    "core::",
    "alloc::",
    "<alloc::",
    "<core::",
    "<std::",
    "rust_begin_unwind",
    "rust_panic",
    "__rust",
    "__sanitizer",
    "__asan",
    "__interceptor",
    "__lsan",
    "fuzzer::",
    "LLVMFuzzer",
    "libfuzzer_sys::",
    "rust_fuzzer_test_input",
    "serde::",
    "<serde::",
    "serde_json::",
    "<serde_json::",
    "<&mut serde_json::",
    "__libc",
    "abort",
    "raise",
    "gsignal",
    "_start",
    "main",
    "malloc",
    "calloc",
    "realloc",
    "free",
    "operator new",
    "panic_abort::",
    "__GI_",
    "__pthread",
    "pthread_kill",
    "__restore_rt",
    "__fortify_fail",
    "__stack_chk_fail",
    "__chk_fail",
    "<libfuzzer_sys::",
    "backtrace::",
    "<backtrace::",
    "__cxa",
    "_Unwind",
    "__memcpy",
    "__memmove",
    "memcpy",
    "memmove",
    "<serde::de::",
    "rust_oom",
];

fn is_runtime(function: &str) -> bool {
    RUNTIME_PREFIXES.iter().any(|p| function.starts_with(p))
        || function.contains("{{closure}}") && function.starts_with("fuzz_")
}

/// Removes a trailing `::h0123456789abcdef` Rust hash.
fn strip_hash(function: &str) -> String {
    match function.rfind("::h") {
        Some(i)
            if function.len() - i == 19
                && function[i + 3..].bytes().all(|b| b.is_ascii_hexdigit()) =>
        {
            function[..i].to_owned()
        }
        _ => function.to_owned(),
    }
}

/// Parses `    #3 0x55d5c1 in func /path/file.rs:12:5` (ASan/libFuzzer) frames.
fn sanitizer_frames(output: &str) -> Vec<Frame> {
    let mut frames = Vec::new();
    for line in output.lines() {
        let t = line.trim_start();
        if !t.starts_with('#') {
            continue;
        }
        let Some((_, rest)) = t.split_once(" in ") else {
            continue;
        };
        // "func /path:1:2", "func /path" (no line for this address) or "func (/lib/x.so+0x12)"
        let (function, location) = match rest.rfind(' ') {
            Some(i)
                if (rest[i + 1..].contains(':') || rest[i + 1..].starts_with('/'))
                    && !rest[i + 1..].starts_with('(') =>
            {
                (&rest[..i], Some(rest[i + 1..].to_owned()))
            }
            _ => (rest.split(" (").next().unwrap_or(rest), None),
        };
        frames.push(Frame {
            function: strip_hash(function.trim()),
            location,
        });
    }
    frames
}

/// Parses Rust's own backtrace format (`  12: planted::f\n at ./src/lib.rs:3:5`).
fn rust_frames(output: &str) -> Vec<Frame> {
    let mut frames: Vec<Frame> = Vec::new();
    for line in output.lines() {
        let t = line.trim_start();
        if let Some(at) = t.strip_prefix("at ") {
            if let Some(last) = frames.last_mut() {
                last.location.get_or_insert_with(|| at.to_owned());
            }
            continue;
        }
        if let Some((num, func)) = t.split_once(": ") {
            if !num.is_empty() && num.bytes().all(|b| b.is_ascii_digit()) {
                frames.push(Frame {
                    function: strip_hash(func.trim()),
                    location: None,
                });
            }
        }
    }
    frames
}

fn panic_message(output: &str) -> Option<String> {
    let start = output.find("panicked at ")?;
    let after = &output[start..];
    let mut lines = after.lines();
    let first = lines.next()?;
    // Rust >= 1.73: "panicked at src/lib.rs:1:2:\nmessage"
    if first.trim_end().ends_with(':') {
        let msg = lines.next().unwrap_or("").trim();
        return Some(format!(
            "{msg} ({})",
            first
                .trim_start_matches("panicked at ")
                .trim_end_matches(':')
        ));
    }
    Some(first.trim_start_matches("panicked at ").to_owned())
}

/// Classifies a crash from the combined output of a reproduction run. `None` when the output
/// shows no crash at all (the input no longer reproduces).
pub(super) fn classify(output: &str) -> Option<Crash> {
    let sanitizer_line = output.lines().find(|l| {
        l.contains("ERROR: AddressSanitizer:")
            || l.contains("ERROR: LeakSanitizer:")
            || l.contains("ERROR: libFuzzer:")
    });
    let panic = panic_message(output);
    let mut frames = sanitizer_frames(output);
    if frames.is_empty() {
        frames = rust_frames(output);
    }
    frames.retain(|f| !is_runtime(&f.function));

    let (kind, message) = if let Some(msg) = panic {
        // An allocation sized by the input is one bug whichever way it fails: an OOM, or
        // Rust's "capacity overflow" when the size does not even fit.
        let kind = if (msg.contains("memory allocation") && msg.contains("failed"))
            || msg.starts_with("capacity overflow")
        {
            "oom"
        } else {
            "panic"
        };
        (kind.to_owned(), msg)
    } else if let Some(line) = sanitizer_line {
        let summary = line
            .split("ERROR: ")
            .nth(1)
            .unwrap_or(line)
            .trim()
            .to_owned();
        let kind = if summary.starts_with("AddressSanitizer: stack-overflow") {
            "stack-overflow".to_owned()
        } else if summary.starts_with("AddressSanitizer: SEGV") {
            "segv".to_owned()
        } else if summary.starts_with("AddressSanitizer: ABRT") {
            "abort".to_owned()
        } else if summary.starts_with("LeakSanitizer") {
            "leak".to_owned()
        } else if summary.starts_with("libFuzzer: out-of-memory")
            || summary.starts_with("AddressSanitizer: out of memory")
            || summary.contains("allocation-size-too-big")
            || summary.contains("requested allocation size")
        {
            "oom".to_owned()
        } else if summary.starts_with("libFuzzer: timeout") {
            "timeout".to_owned()
        } else if summary.starts_with("libFuzzer: deadly signal") {
            "abort".to_owned()
        } else if let Some(rest) = summary.strip_prefix("AddressSanitizer: ") {
            let ty = rest.split_whitespace().next().unwrap_or("unknown");
            let ty = match ty {
                "attempting" => rest.split_whitespace().nth(1).unwrap_or("unknown"),
                other => other,
            };
            format!("asan:{}", ty.trim_end_matches(':'))
        } else {
            "abort".to_owned()
        };
        let message = output
            .lines()
            .find(|l| {
                l.contains("stack smashing detected")
                    || l.contains("buffer overflow detected")
                    || l.starts_with("free(): ")
                    || l.contains("double free")
            })
            .map(|l| l.trim().to_owned())
            .unwrap_or(summary);
        (kind, message)
    } else if output.contains("ALARM: working on the last Unit") {
        ("timeout".to_owned(), "libFuzzer: timeout".to_owned())
    } else {
        return None;
    };
    Some(Crash {
        kind,
        message,
        frames,
    })
}

/// A deduplication key for an input's bytes (FNV-1a, 64 bits, and the length).
pub(crate) fn input_key(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("input:{h:016x}:{}", bytes.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    const PANIC: &str = "INFO: Running with entropic power schedule (0xFF, 100).
thread '<unnamed>' panicked at src/lib.rs:29:46:
minor version is numeric: ParseIntError { kind: InvalidDigit }
note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace
==1234== ERROR: libFuzzer: deadly signal
    #0 0x5606 in __sanitizer_print_stack_trace /rustc/llvm/compiler-rt/lib/asan/asan_stack.cpp:87:3
    #1 0x5607 in fuzzer::PrintStackTrace() /cargo/libfuzzer/FuzzerUtil.cpp:210:38
    #5 0x5608 in std::process::abort::h0123456789abcdef /rustc/library/std/src/process.rs:2400:5
    #9 0x5609 in core::result::unwrap_failed::h1111111111111111 /rustc/library/core/src/result.rs:1700:5
    #10 0x560a in <planted::Version as serde::de::Deserialize>::deserialize::V::visit_str::h2222222222222222 /work/planted/src/lib.rs:29:46
    #11 0x560b in serde_json::de::from_slice::h3333333333333333 /cargo/serde_json/src/de.rs:2600:5
    #12 0x560c in de_version::_::__libfuzzer_sys_run::h4444444444444444 /tmp/fuzz/fuzz_targets/de_version.rs:16:13
";

    #[test]
    fn rust_panic_through_libfuzzer() {
        let crash = classify(PANIC).unwrap();
        assert_eq!(crash.kind, "panic");
        assert!(
            crash.message.starts_with("minor version is numeric"),
            "{}",
            crash.message
        );
        assert!(crash.message.contains("src/lib.rs:29:46"));
        let sig = signature(&crash, "planted", None);
        assert_eq!(
            sig,
            "panic|<planted::Version as serde::de::Deserialize>::deserialize::V::visit_str"
        );
        assert_eq!(finding_id(&sig), finding_id(&sig.clone()));
        assert!(finding_id(&sig).starts_with('F'));
    }

    #[test]
    fn asan_kinds() {
        let segv = "==7==ERROR: AddressSanitizer: SEGV on unknown address 0x000000000008 (pc 0x1 bp 0x2 sp 0x3 T0)\n    #0 0x55 in table_lookup /work/cffi/c/table.c:20:19\n    #1 0x56 in cffi::lookup::habcdefabcdefabcd /work/cffi/src/lib.rs:25:14\n";
        let c = classify(segv).unwrap();
        assert_eq!(c.kind, "segv");
        assert_eq!(
            signature(&c, "cffi", Some("/work/cffi")),
            "segv|table_lookup|cffi::lookup"
        );
        let df = "==7==ERROR: AddressSanitizer: attempting double-free on 0x602000000010 in thread T0:\n    #0 0x1 in free\n    #1 0x2 in session_free /work/cffi/c/table.c:60:5\n";
        assert_eq!(classify(df).unwrap().kind, "asan:double-free");
        let hbo = "==7==ERROR: AddressSanitizer: heap-buffer-overflow on address 0x1\n";
        assert_eq!(classify(hbo).unwrap().kind, "asan:heap-buffer-overflow");
        let so = "==7==ERROR: AddressSanitizer: stack-overflow on address 0x7ffd (pc 0x1 bp 0x2 sp 0x3 T0)\n    #0 0x1 in planted::parse_group::h0123456789abcdef /w/src/lib.rs:90:5\n";
        let c = classify(so).unwrap();
        assert_eq!(c.kind, "stack-overflow");
        assert_eq!(c.frames[0].function, "planted::parse_group");
    }

    #[test]
    fn libfuzzer_kinds() {
        let oom = "==9== ERROR: libFuzzer: out-of-memory (malloc(4294967296))\n   To change the out-of-memory limit use -rss_limit_mb=<N>\n";
        let c = classify(oom).unwrap();
        assert_eq!(c.kind, "oom");
        assert!(c.message.contains("malloc(4294967296)"));
        let timeout = "ALARM: working on the last Unit for 11 seconds\n==9== ERROR: libFuzzer: timeout after 11 seconds\n";
        assert_eq!(classify(timeout).unwrap().kind, "timeout");
        let leak = "==9==ERROR: LeakSanitizer: detected memory leaks\n\nDirect leak of 64 byte(s) in 1 object(s) allocated from:\n    #0 0x1 in malloc\n    #1 0x2 in session_new /w/c/table.c:40:14\n";
        let c = classify(leak).unwrap();
        assert_eq!(c.kind, "leak");
        assert_eq!(c.frames[0].function, "session_new");
        let smash = "*** stack smashing detected ***: terminated\n==9== ERROR: libFuzzer: deadly signal\n    #7 0x1 in name_normalize /w/cffi/c/table.c:30:1\n";
        let c = classify(smash).unwrap();
        assert_eq!(c.kind, "abort");
        assert!(c.message.contains("stack smashing"));
    }

    #[test]
    fn allocation_failures_are_one_kind() {
        let asan = "==9==ERROR: AddressSanitizer: out of memory: allocator is trying to allocate 0x57e8cb1346 bytes\n";
        assert_eq!(classify(asan).unwrap().kind, "oom");
        let cap = "thread '<unnamed>' panicked at /rustc/x/library/alloc/src/raw_vec/mod.rs:28:5:\ncapacity overflow\n==9== ERROR: libFuzzer: deadly signal\n";
        assert_eq!(classify(cap).unwrap().kind, "oom");
    }

    #[test]
    fn clean_output_is_no_crash() {
        assert!(
            classify("INFO: Running with entropic power schedule\nExecuted crash-1 in 0 ms\n")
                .is_none()
        );
    }

    /// A libFuzzer malloc-limit report: frames of the allocation, innermost first.
    #[test]
    fn hashes_are_stripped() {
        assert_eq!(strip_hash("a::b::h0123456789abcdef"), "a::b");
        assert_eq!(strip_hash("a::hello"), "a::hello");
    }

    #[test]
    fn one_input_is_one_key() {
        let laughs = b"a0: &a0 [x, x]\na1: &a1 [*a0, *a0]\n";
        let written = format!("a0: &a0 [x, x]\na1: &a1 [{0}, {0}]\n", "*a0");
        assert_eq!(input_key(laughs), input_key(written.as_bytes()));
        assert_ne!(
            input_key(laughs),
            input_key(b"a0: &a0 [x, y]\na1: &a1 [*a0, *a0]\n")
        );
        assert_ne!(input_key(b""), input_key(b"\0"));
    }
}
