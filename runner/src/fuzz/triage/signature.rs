//! The signature that deduplicates findings: the kind of a crash plus the frames, inside the
//! crate under test, that identify the bug whatever the input's size, path or instance; and the
//! short id derived from it.

use super::cluster::{recursion_frames, Recursion};
use super::Crash;
use crate::report::Frame;

/// The frames that belong to the crate under test: function paths in `crate_name` (generic
/// arguments aside: `serde_json::from_slice::<krate::T>` is serde_json's code), or source
/// locations beneath `crate_dir`.
pub(super) fn crate_frames<'a>(
    frames: &'a [Frame],
    crate_name: &str,
    crate_dir: Option<&str>,
) -> Vec<&'a Frame> {
    let ident = crate_name.replace('-', "_");
    let needle = format!("{ident}::");
    frames
        .iter()
        .filter(|f| {
            let function = without_generics(&f.function);
            function.starts_with(&needle)
                || function.contains(&format!("<{needle}"))
                || function.contains(&format!(" {needle}"))
                || crate_dir
                    .is_some_and(|d| f.location.as_deref().is_some_and(|l| l.starts_with(d)))
        })
        .collect()
}

/// How many frames the signature keeps.
pub(super) const SIGNATURE_FRAMES: usize = 3;

/// A function name without its generic arguments: `<&mut x::De<R> as serde::Deserializer>
/// ::deserialize_any::<V>` becomes `<&mut x::De as serde::Deserializer>::deserialize_any`. The
/// same code instantiated for another reader or visitor is the same bug.
pub(super) fn without_generics(function: &str) -> String {
    let mut out = String::with_capacity(function.len());
    let mut depth = 0usize;
    let mut prev = ' ';
    for (i, c) in function.char_indices() {
        match c {
            // A `<` right after a name (or `::`) opens generic arguments; anywhere else (the
            // start, after `<`, `&`, `(` or a space) it opens a qualified path, which stays, as
            // does the `<impl Trait for T>` that names an impl block (`krate::_::<impl ..>`).
            '<' if depth > 0
                || ((prev.is_alphanumeric() || prev == '_' || prev == ':')
                    && !function[i + 1..].starts_with("impl ")) =>
            {
                if depth == 0 && out.ends_with("::") {
                    // A turbofish: `f::<T>::{closure#0}` becomes `f::{closure#0}`.
                    out.truncate(out.len() - 2);
                }
                depth += 1;
            }
            '>' if depth > 0 && prev != '-' => depth -= 1,
            _ if depth > 0 => {}
            _ => out.push(c),
        }
        prev = c;
    }
    out
}

/// The frames a signature is made of, innermost first, without generic arguments: those in the
/// crate under test, or, failing those, every non-runtime frame.
pub(super) fn key_frames(
    frames: &[Frame],
    crate_name: &str,
    crate_dir: Option<&str>,
) -> Vec<String> {
    let own = crate_frames(frames, crate_name, crate_dir);
    if own.is_empty() {
        frames
            .iter()
            .map(|f| without_generics(&f.function))
            .collect()
    } else {
        own.iter().map(|f| without_generics(&f.function)).collect()
    }
}

/// The deduplication key: the kind plus frames in the crate under test (or, failing those, the
/// non-runtime frames), without generic arguments. Which frames depends on the kind:
///
/// - `oom`: the innermost one, where the allocation sized by the input is made; the paths that
///   lead there (top level, inside a list, another entry point) are the same bug;
/// - `stack-overflow`: the hub of the recursion ([`Recursion`]): of the functions every level
///   of it calls, the outermost, where the recursion was entered, whichever function the stack
///   ran out in and whatever mix of branches (lists, maps, groups) the input nested; the
///   recursion may be a dependency's, reached through the crate;
/// - `timeout`: the innermost one, where the alarm caught the thread, and the outermost, where
///   the input entered the crate (the two loops of one entry point are two keys; where the one
///   loop was caught varies, which [`merge_findings`](super::merge_findings) allows for);
/// - anything else: the innermost [`SIGNATURE_FRAMES`], repeats of one function (recursion)
///   counted once.
pub(crate) fn signature(crash: &Crash, crate_name: &str, crate_dir: Option<&str>) -> String {
    let mut picked: Vec<String> = match crash.kind.as_str() {
        "oom" => key_frames(&crash.frames, crate_name, crate_dir)
            .into_iter()
            .take(1)
            .collect(),
        "stack-overflow" => Recursion::of(&recursion_frames(&crash.frames, crate_name, crate_dir))
            .map(|r| r.hub)
            .into_iter()
            .collect(),
        "timeout" => {
            let frames = key_frames(&crash.frames, crate_name, crate_dir);
            let mut ends: Vec<String> = frames
                .first()
                .into_iter()
                .chain(frames.last())
                .cloned()
                .collect();
            ends.dedup();
            ends
        }
        _ => {
            let mut top = key_frames(&crash.frames, crate_name, crate_dir);
            top.dedup();
            top.truncate(SIGNATURE_FRAMES);
            top
        }
    };
    picked.retain(|f| !f.is_empty());
    format!("{}|{}", crash.kind, picked.join("|"))
}

/// The fault site of a crash: the kind, the innermost frame in the crate under test (else the
/// innermost non-runtime frame), without generic arguments, and where the fault is: the panic's
/// location when it is outside the standard library (an `unwrap` or an index reports its
/// caller's line), else that frame's `file:line`. Two crashes with one site are one defect,
/// whatever the frames above it (another target, another caller, another instantiation of
/// the generic code around it). For stack overflows, allocation failures, hangs and leaks,
/// whose [`signature`] already names the one frame that identifies them, it is the signature.
pub(crate) fn site(crash: &Crash, crate_name: &str, crate_dir: Option<&str>) -> String {
    if matches!(
        crash.kind.as_str(),
        "oom" | "stack-overflow" | "timeout" | "leak"
    ) {
        return signature(crash, crate_name, crate_dir);
    }
    let own = crate_frames(&crash.frames, crate_name, crate_dir);
    let first = own.first().copied().or(crash.frames.first());
    let function = first.map(|f| without_generics(&f.function));
    let location = panic_location(&crash.message)
        .map(str::to_owned)
        .or_else(|| first.and_then(|f| f.location.as_deref()).map(file_line));
    format!(
        "{}|{}|{}",
        crash.kind,
        function.unwrap_or_default(),
        location.unwrap_or_default()
    )
}

/// The location a panic message ends with (`... (src/lib.rs:29:46)`, as triage writes it),
/// unless it is in the standard library.
fn panic_location(message: &str) -> Option<&str> {
    let inner = message.strip_suffix(')')?;
    let loc = &inner[inner.rfind(" (")? + 2..];
    let numbered = loc
        .rsplit(':')
        .take(2)
        .all(|n| n.bytes().all(|b| b.is_ascii_digit()));
    let std = loc.starts_with("/rustc/") || loc.contains("library/");
    (numbered && loc.contains(".rs:") && !std).then_some(loc)
}

/// `file:line` of a `file:line[:col]` location (columns differ between inlined copies).
fn file_line(location: &str) -> String {
    let mut parts: Vec<&str> = location.rsplitn(3, ':').collect();
    if parts.len() == 3
        && parts
            .iter()
            .take(2)
            .all(|p| p.bytes().all(|b| b.is_ascii_digit()))
    {
        parts.remove(0);
    }
    parts.reverse();
    parts.join(":")
}

/// A short stable id for a signature (FNV-1a, 32 bits, hex).
pub(crate) fn finding_id(signature: &str) -> String {
    let mut h: u32 = 0x811c_9dc5;
    for b in signature.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    format!("F{h:08x}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fuzz::triage::classify;

    fn oom_report(size: u64, frames: &[&str]) -> String {
        let mut out = format!("==9== ERROR: libFuzzer: out-of-memory (malloc({size}))\n");
        out.push_str("    #0 0x1 in __sanitizer_print_stack_trace /rustc/asan_stack.cpp:87:3\n");
        out.push_str(
            "    #1 0x2 in fuzzer::Fuzzer::HandleMalloc(unsigned long) /x/FuzzerLoop.cpp:131:18\n",
        );
        out.push_str("    #2 0x3 in Calloc /x/asan_malloc_linux.cpp:75:3\n");
        out.push_str("    #3 0x4 in <u8 as alloc::vec::spec_from_elem::SpecFromElem>::from_elem::<alloc::alloc::Global> /rustc/library/alloc/src/vec/spec_from_elem.rs:52:31\n");
        for (i, f) in frames.iter().enumerate() {
            out.push_str(&format!(
                "    #{} 0x{:x} in {f} /w/tlvfmt/src/lib.rs:{}:5\n",
                i + 4,
                i + 5,
                80 + i
            ));
        }
        out
    }

    #[test]
    fn one_allocation_site_is_one_oom_whatever_the_size_path_or_instance() {
        let any = |r: &str| {
            format!("<&mut tlvfmt::Deserializer<{r}> as serde_core::de::Deserializer>::deserialize_any::<<serde_json::value::Value as serde_core::de::Deserialize>::deserialize::ValueVisitor>")
        };
        let slice = any("&[u8]");
        let cursor = any("core::io::cursor::Cursor<&[u8]>");
        let next = "<tlvfmt::Items<&[u8]> as serde_core::de::SeqAccess>::next_element_seed::<core::marker::PhantomData<serde_json::value::Value>>";
        let reports = [
            // At the top level, through from_slice.
            oom_report(2147483655, &[&slice, "tlvfmt::from_reader::<&[u8], serde_json::value::Value>", "tlvfmt::from_slice::<serde_json::value::Value>"]),
            // Inside a list.
            oom_report(2885746688, &[&slice, next, &slice, "tlvfmt::from_reader::<&[u8], serde_json::value::Value>"]),
            // Another reader type, through another entry point.
            oom_report(4294967288, &[&cursor, "tlvfmt::from_reader::<core::io::cursor::Cursor<&[u8]>, serde_json::value::Value>"]),
        ];
        let sigs: Vec<String> = reports
            .iter()
            .map(|r| signature(&classify(r).unwrap(), "tlvfmt", None))
            .collect();
        assert_eq!(
            sigs[0],
            "oom|<&mut tlvfmt::Deserializer as serde_core::de::Deserializer>::deserialize_any"
        );
        assert!(sigs.iter().all(|s| *s == sigs[0]), "{sigs:#?}");
        // A different allocation site stays a different finding.
        let other = oom_report(1 << 32, &["tlvfmt::read_table", "tlvfmt::from_slice::<u8>"]);
        assert_ne!(
            signature(&classify(&other).unwrap(), "tlvfmt", None),
            sigs[0]
        );
    }

    #[test]
    fn a_recursion_is_one_stack_overflow_wherever_it_ran_out_and_whatever_it_nested() {
        let any = "<&mut nestfmt::De<&[u8]> as serde::Deserializer>::deserialize_any::<V>";
        let value =
            "<nestfmt::Value as serde::Deserialize>::deserialize::<&mut nestfmt::De<&[u8]>>";
        let seq = [
            "<nestfmt::Items<&[u8]> as serde::de::SeqAccess>::next_element_seed::<S>",
            "<<nestfmt::Value as serde::Deserialize>::deserialize::V as serde::de::Visitor>::visit_seq::<nestfmt::Items<&[u8]>>",
        ];
        let map = [
            "<nestfmt::Items<&[u8]> as serde::de::MapAccess>::next_key_seed::<S>",
            "<<nestfmt::Value as serde::Deserialize>::deserialize::V as serde::de::Visitor>::visit_map::<nestfmt::Items<&[u8]>>",
        ];
        // Levels innermost first: `lists[i]` says whether level i is a list or a map; the stack
        // runs out `skip` frames into the innermost level (a leaf `visit_str` first, maybe).
        // ASan prints at most `window` frames: the recursion's entry (`from_str` calls `value`)
        // shows only when the stack is shallow enough.
        let report = |lists: &[bool], leaf: bool, skip: usize, window: usize| {
            let mut frames: Vec<&str> = Vec::new();
            if leaf {
                frames.push("<<nestfmt::Value as serde::Deserialize>::deserialize::V as serde::de::Visitor>::visit_str::<E>");
            }
            frames.extend([any, value]);
            for &list in lists {
                frames.push("<core::marker::PhantomData<nestfmt::Value> as serde::de::DeserializeSeed>::deserialize::<D>");
                frames.extend(if list { seq } else { map });
                frames.extend([any, value]);
            }
            frames.push("nestfmt::from_str::<nestfmt::Value>");
            let mut out = "==7==ERROR: AddressSanitizer: stack-overflow on address 0x7ffd (pc 0x1 bp 0x2 sp 0x3 T2)\n".to_string();
            for (n, f) in frames.iter().skip(skip).take(window).enumerate() {
                out.push_str(&format!(
                    "    #{n} 0x{n:x} in {f} /w/nest/src/lib.rs:{}:1\n",
                    10 + n
                ));
            }
            signature(&classify(&out).unwrap(), "nestfmt", None)
        };
        let lists = [true; 300];
        let mixed: Vec<bool> = (0..300).map(|i| i % 3 == 0).collect();
        // The entry in view: the outermost function of every level, where it was entered.
        let all = usize::MAX;
        let expected = "stack-overflow|<nestfmt::Value as serde::Deserialize>::deserialize";
        assert_eq!(report(&lists, false, 0, all), expected);
        assert_eq!(report(&lists, true, 0, all), expected);
        assert_eq!(report(&lists, false, 3, all), expected);
        assert_eq!(report(&mixed, true, 0, all), expected);
        assert_eq!(report(&mixed, false, 4, all), expected);
        // The entry cut off (ASan's 255 addresses): the outermost level function in view, one
        // of every level's (`merge_findings` unites them).
        let levels = [
            "stack-overflow|<&mut nestfmt::De as serde::Deserializer>::deserialize_any",
            expected,
            "stack-overflow|<nestfmt::Items as serde::de::SeqAccess>::next_element_seed",
            "stack-overflow|<<nestfmt::Value as serde::Deserialize>::deserialize::V as serde::de::Visitor>::visit_seq",
        ];
        for skip in 0..6 {
            let cut = report(&lists, skip % 2 == 0, skip, 255);
            assert!(levels.contains(&cut.as_str()), "skip {skip}: {cut}");
            let cut = report(&mixed, skip % 2 == 1, skip, 255);
            assert!(levels[..2].contains(&cut.as_str()), "skip {skip}: {cut}");
        }
        // Another recursion is another finding.
        let other = "==7==ERROR: AddressSanitizer: stack-overflow on address 0x7ffd (pc 0x1 bp 0x2 sp 0x3 T2)\n    #0 0x1 in nestfmt::skip_comment /w/nest/src/lib.rs:5:1\n    #1 0x1 in nestfmt::skip_comment /w/nest/src/lib.rs:5:1\n";
        let other = signature(&classify(other).unwrap(), "nestfmt", None);
        assert_eq!(other, "stack-overflow|nestfmt::skip_comment");
        assert!(!levels.contains(&other.as_str()));
    }

    #[test]
    fn generic_arguments_are_dropped_qualified_paths_kept() {
        assert_eq!(
            without_generics("<<planted::Version as serde_core::de::Deserialize>::deserialize::V as serde_core::de::Visitor>::visit_str::<serde_json::error::Error>"),
            "<<planted::Version as serde_core::de::Deserialize>::deserialize::V as serde_core::de::Visitor>::visit_str"
        );
        assert_eq!(
            without_generics("x::apply::<fn(u8) -> u8, Vec<u8>>"),
            "x::apply"
        );
        assert_eq!(
            without_generics("<&mut [u8] as x::T<u8>>::f"),
            "<&mut [u8] as x::T>::f"
        );
        assert_eq!(
            without_generics("planted::parse_group"),
            "planted::parse_group"
        );
        assert_eq!(
            without_generics("<planted::Budget as serde_core::de::Deserialize>::deserialize::<&mut serde_json::de::Deserializer<serde_json::read::SliceRead>>::{closure#0}"),
            "<planted::Budget as serde_core::de::Deserialize>::deserialize::{closure#0}"
        );
        assert_eq!(
            without_generics("<planted::_::<impl serde::Deserialize<'de> for planted::Ratio>::deserialize::__Visitor as serde::de::Visitor>::visit_map::<A>"),
            "<planted::_::<impl serde::Deserialize for planted::Ratio>::deserialize::__Visitor as serde::de::Visitor>::visit_map"
        );
    }

    #[test]
    fn recursion_in_a_panic_counts_each_function_once() {
        let at = |depth: usize| {
            let mut out = "thread '<unnamed>' panicked at src/lib.rs:5:9:\nboom\n==1== ERROR: libFuzzer: deadly signal\n".to_string();
            for n in 0..depth {
                out.push_str(&format!(
                    "    #{n} 0x1 in deep::walk::h0123456789abcdef /w/src/lib.rs:5:9\n"
                ));
            }
            out.push_str(&format!(
                "    #{depth} 0x1 in deep::parse /w/src/lib.rs:9:5\n"
            ));
            out
        };
        let one = signature(&classify(&at(1)).unwrap(), "deep", None);
        assert_eq!(one, "panic|deep::walk|deep::parse");
        assert_eq!(signature(&classify(&at(5)).unwrap(), "deep", None), one);
    }

    #[test]
    fn a_frame_without_a_line_is_the_same_function() {
        let with_line = "==9== ERROR: libFuzzer: timeout after 11 seconds\n    #1 0x55 in handparse::parse /w/handparse/src/lib.rs:77:20\n    #2 0x56 in parse_parse::one /tmp/p/fuzz_targets/parse_parse.rs:70:13\n";
        let without = "==9== ERROR: libFuzzer: timeout after 11 seconds\n    #1 0x55 in handparse::parse /w/handparse/src/lib.rs\n    #2 0x56 in parse_parse::one /tmp/p/fuzz_targets/parse_parse.rs:70:13\n";
        let a = classify(with_line).unwrap();
        let b = classify(without).unwrap();
        assert_eq!(b.frames[0].function, "handparse::parse");
        assert_eq!(
            b.frames[0].location.as_deref(),
            Some("/w/handparse/src/lib.rs")
        );
        assert_eq!(
            signature(&a, "handparse", None),
            signature(&b, "handparse", None)
        );
    }

    #[test]
    fn one_unwrap_is_one_site_whatever_the_callers_or_instances() {
        // One `unwrap` on a `TryFromIntError`, reached through two entry points (two targets)
        // and two instantiations of the generic function around it.
        let report = |callers: &[&str], col: u32| {
            let mut out = "thread '<unnamed>' panicked at src/lib.rs:41:38:\ncalled `Result::unwrap()` on an `Err` value: TryFromIntError(())\n==1== ERROR: libFuzzer: deadly signal\n".to_string();
            out.push_str("    #0 0x1 in core::result::unwrap_failed /rustc/library/core/src/result.rs:1700:5\n");
            for (n, f) in callers.iter().enumerate() {
                out.push_str(&format!(
                    "    #{} 0x2 in {f} /w/ti/src/lib.rs:{}:{col}\n",
                    n + 1,
                    41 + 10 * n
                ));
            }
            classify(&out).unwrap()
        };
        let a = report(
            &[
                "ti::narrow::<u64>",
                "ti::read_header",
                "ti::parse",
                "parse_parse::one",
            ],
            38,
        );
        let b = report(
            &[
                "ti::narrow::<usize>",
                "ti::Reader::next_block",
                "<ti::Reader as core::iter::Iterator>::next",
            ],
            12,
        );
        // The frames above differ, so the signatures do; the site is the same.
        assert_ne!(signature(&a, "ti", None), signature(&b, "ti", None));
        assert_eq!(site(&a, "ti", None), site(&b, "ti", None));
        assert_eq!(site(&a, "ti", None), "panic|ti::narrow|src/lib.rs:41:38");
        // Another unwrap is another defect.
        let mut c = b.clone();
        c.message = c.message.replace("41:38", "57:9");
        assert_ne!(site(&c, "ti", None), site(&a, "ti", None));
        // Without a panic location, the innermost frame's line.
        let mut d = a.clone();
        d.kind = "segv".into();
        d.message = "AddressSanitizer: SEGV on unknown address".into();
        assert_eq!(site(&d, "ti", None), "segv|ti::narrow|/w/ti/src/lib.rs:41");
        assert_eq!(file_line("a.c:3"), "a.c:3");
        assert_eq!(
            panic_location("x (/rustc/library/core/src/str/mod.rs:1:2)"),
            None
        );
    }

    #[test]
    fn a_hang_is_one_timeout_wherever_the_alarm_caught_it() {
        let at = |inner: &[&str]| {
            let mut out = "ALARM: working on the last Unit for 11 seconds\n==9== ERROR: libFuzzer: timeout after 11 seconds\n".to_string();
            for (n, f) in inner
                .iter()
                .chain(["hp::parse", "parse_parse::one"].iter())
                .enumerate()
            {
                out.push_str(&format!(
                    "    #{n} 0x1 in {f} /w/hp/src/lib.rs:{}:1\n",
                    10 + n
                ));
            }
            signature(&classify(&out).unwrap(), "hp", None)
        };
        // Where the alarm caught the thread, and where the input entered: two loops of one
        // entry point are two keys; where in one loop the alarm fell is for `merge_findings`.
        assert_eq!(at(&[]), "timeout|hp::parse");
        assert_eq!(
            at(&["hp::peek", "hp::skip_ws"]),
            "timeout|hp::peek|hp::parse"
        );
        assert_ne!(
            at(&["hp::skip_ws", "hp::value"]),
            at(&["hp::string", "hp::value"])
        );
    }
}
