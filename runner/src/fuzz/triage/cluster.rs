//! One finding per hang and per recursion, where one report alone cannot say which defect it
//! shows: libFuzzer's alarm stops a hang wherever in its loop the thread happens to be, and a
//! stack overflow shows only the branches of the recursion that its input nested. [`Hang`] and
//! [`Recursion`] are what one report says; [`merge_findings`] unites the findings of a campaign
//! (or of merged reports) that show one hang or one recursion.

use std::collections::BTreeMap;

use super::signature::{crate_frames, key_frames, without_generics};
use crate::report::{Finding, Frame};

/// What a `timeout` report says about its loop, from its key frames (innermost first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Hang {
    /// The innermost frame: where the alarm caught the thread.
    inner: String,
    /// The frames below the entry point (the outermost frame), innermost first: empty when
    /// the alarm caught the thread in the entry point itself.
    below: Vec<String>,
}

impl Hang {
    /// The hang of key frames (innermost first); `None` without frames.
    pub(crate) fn of(frames: &[String]) -> Option<Hang> {
        let inner = frames.first()?.clone();
        Some(Hang {
            inner,
            below: frames[..frames.len() - 1].to_vec(),
        })
    }

    /// Whether two reports show one hang: the innermost frame of one is among the frames of
    /// the other below its entry point, either way round (or both were caught in one function).
    /// Below the entry point only: two loops reached from one entry point (`parse -> value ->
    /// skip_ws`, `parse -> value -> string`) both have it, and stay two.
    pub(crate) fn same(&self, other: &Hang) -> bool {
        self.inner == other.inner
            || other.below.contains(&self.inner)
            || self.below.contains(&other.inner)
    }
}

/// What a `stack-overflow` report says about its recursion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Recursion {
    /// The functions every level of the recursion calls, by name (empty when no function
    /// repeats: a frame too large for the stack, not a recursion).
    levels: Vec<String>,
    /// The one that names it: of `levels`, the outermost, where the recursion was entered (the
    /// function that dispatches to every branch kind, `value` of `value -> array -> value` and
    /// `value -> inline_table -> value`); without levels, the innermost frame.
    pub(crate) hub: String,
}

impl Recursion {
    /// The recursion of frames (innermost first); `None` without frames.
    ///
    /// Every function of every level appears once per level, give or take the innermost level
    /// the stack ran out in: the levels are the functions within one of the highest count (at
    /// least two), and the hub is the one whose outermost frame is outermost. When the report
    /// shows where the recursion was entered, that is where it was entered. A deep recursion
    /// fills the 255 return addresses ASan prints first; the window then ends on a whole
    /// address, whose function is a real one with its inlined callees printed inside it: so
    /// toml's `array` and `inline_table`, inlined into `value`, leave `value` last. Where
    /// several real functions take turns in a level, the window's edge may fall on either:
    /// [`Recursion::same`] unites those reports.
    pub(crate) fn of(frames: &[String]) -> Option<Recursion> {
        let innermost = frames.first()?.clone();
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for f in frames {
            *counts.entry(f).or_default() += 1;
        }
        let most = counts.values().copied().max().unwrap_or(0);
        if most < 2 {
            return Some(Recursion {
                levels: Vec::new(),
                hub: innermost,
            });
        }
        let levels: Vec<String> = counts
            .iter()
            .filter(|(_, &n)| n >= 2 && n + 1 >= most)
            .map(|(f, _)| (*f).to_owned())
            .collect();
        let outermost = |f: &String| frames.iter().rposition(|g| g == f).unwrap_or(0);
        let hub = levels.iter().max_by_key(|f| outermost(f)).cloned();
        Some(Recursion {
            hub: hub.unwrap_or(innermost),
            levels,
        })
    }

    /// Whether two reports show one recursion: one function is in every level of both (one
    /// missing depth limit reached through two branch kinds, `[[[[` and `{x={x=`). Two
    /// recursions with no function in common stay two.
    pub(crate) fn same(&self, other: &Recursion) -> bool {
        self.hub == other.hub || self.levels.iter().any(|f| other.levels.contains(f))
    }
}

/// The frames a stack overflow is keyed by: the crate's own when one of them repeats; else every
/// non-runtime frame when one of those does (the recursion is a dependency's, reached through
/// the crate: `yaml_rust`'s under `serde_yaml`); else the usual key frames.
pub(crate) fn recursion_frames(
    frames: &[Frame],
    crate_name: &str,
    crate_dir: Option<&str>,
) -> Vec<String> {
    let repeats = |fs: &[String]| {
        let mut sorted = fs.to_vec();
        sorted.sort();
        sorted.windows(2).any(|w| w[0] == w[1])
    };
    let own: Vec<String> = crate_frames(frames, crate_name, crate_dir)
        .iter()
        .map(|f| without_generics(&f.function))
        .collect();
    if repeats(&own) {
        return own;
    }
    let all: Vec<String> = frames
        .iter()
        .map(|f| without_generics(&f.function))
        .collect();
    if repeats(&all) {
        return all;
    }
    key_frames(frames, crate_name, crate_dir)
}

/// What one finding shows, as far as merging goes.
enum Shape {
    Hang(Hang),
    Recursion(Recursion),
}

impl Shape {
    fn of(f: &Finding, crate_name: &str, crate_dir: Option<&str>) -> Option<Shape> {
        match f.kind.as_str() {
            "timeout" => Hang::of(&key_frames(&f.frames, crate_name, crate_dir)).map(Shape::Hang),
            "stack-overflow" => Recursion::of(&recursion_frames(&f.frames, crate_name, crate_dir))
                .map(Shape::Recursion),
            _ => None,
        }
    }

    fn same(&self, other: &Shape) -> bool {
        match (self, other) {
            (Shape::Hang(a), Shape::Hang(b)) => a.same(b),
            (Shape::Recursion(a), Shape::Recursion(b)) => a.same(b),
            _ => false,
        }
    }
}

/// Whether findings `a` and `b` show one defect: the same signature, or one hang or one
/// recursion of one crate ([`Hang::same`], [`Recursion::same`]). A campaign compared with its
/// baseline asks this, so that a hang the alarm caught elsewhere this time, or a recursion cut
/// at another level, is `known` rather than `new` plus `fixed`.
pub(crate) fn same_defect<F>(a: &Finding, b: &Finding, crate_of: F) -> bool
where
    F: Fn(&Finding) -> Option<(String, Option<String>)>,
{
    if a.signature == b.signature {
        return true;
    }
    if a.kind != b.kind {
        return false;
    }
    let shape = |f: &Finding| {
        let (krate, dir) = crate_of(f)?;
        Some((krate.clone(), Shape::of(f, &krate, dir.as_deref())?))
    };
    match (shape(a), shape(b)) {
        (Some((ka, sa)), Some((kb, sb))) => ka == kb && sa.same(&sb),
        _ => false,
    }
}

/// Unites the findings that show one hang ([`Hang::same`]) or one recursion
/// ([`Recursion::same`]) in one crate, transitively: of each group the first finding stays, with
/// the others' targets added to its `also_reached_by` (and the earliest `found_after_secs` of
/// its own target); a group is `known` when any of it was. `crate_of` names a finding's crate
/// and source directory (`None`: the finding is left alone); `fixed` findings are left alone
/// too. Returns the findings removed, in their order.
pub(crate) fn merge_findings<F>(findings: &mut Vec<Finding>, crate_of: F) -> Vec<Finding>
where
    F: Fn(&Finding) -> Option<(String, Option<String>)>,
{
    let shapes: Vec<Option<(String, Shape)>> = findings
        .iter()
        .map(|f| {
            if f.status == "fixed" {
                return None;
            }
            let (krate, dir) = crate_of(f)?;
            let shape = Shape::of(f, &krate, dir.as_deref())?;
            Some((krate, shape))
        })
        .collect();
    // Union-find over the findings; each group's root is its first member.
    let mut root: Vec<usize> = (0..findings.len()).collect();
    fn find(root: &mut [usize], mut i: usize) -> usize {
        while root[i] != i {
            root[i] = root[root[i]];
            i = root[i];
        }
        i
    }
    for i in 0..findings.len() {
        for j in i + 1..findings.len() {
            let (Some((ka, a)), Some((kb, b))) = (&shapes[i], &shapes[j]) else {
                continue;
            };
            if ka == kb && findings[i].kind == findings[j].kind && a.same(b) {
                let (ri, rj) = (find(&mut root, i), find(&mut root, j));
                let (lo, hi) = (ri.min(rj), ri.max(rj));
                root[hi] = lo;
            }
        }
    }
    let groups: Vec<usize> = (0..findings.len()).map(|i| find(&mut root, i)).collect();
    let mut kept = Vec::new();
    let mut removed = Vec::new();
    for (i, f) in std::mem::take(findings).into_iter().enumerate() {
        if groups[i] == i {
            kept.push((i, f));
        } else {
            removed.push((groups[i], f));
        }
    }
    for (group, other) in &removed {
        if let Some((_, k)) = kept.iter_mut().find(|(i, _)| i == group) {
            absorb(k, other);
        }
    }
    *findings = kept.into_iter().map(|(_, f)| f).collect();
    removed.into_iter().map(|(_, f)| f).collect()
}

/// Adds `other`, one more report of `kept`'s defect, to `kept`.
fn absorb(kept: &mut Finding, other: &Finding) {
    if other.target == kept.target {
        kept.found_after_secs = match (kept.found_after_secs, other.found_after_secs) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
    for t in std::iter::once(&other.target).chain(&other.also_reached_by) {
        if *t != kept.target && !kept.also_reached_by.contains(t) {
            kept.also_reached_by.push(t.clone());
        }
    }
    if other.status == "known" {
        kept.status = "known".into();
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::fuzz::triage::{classify, signature};

    /// A libFuzzer timeout report: the alarm's own frames, the crate's frames (innermost first),
    /// the target's closure and libFuzzer's loop.
    fn timeout(target: &str, frames: &[&str]) -> String {
        let mut out = "ALARM: working on the last Unit for 11 seconds\n       and the timeout value is 10 (use -timeout=N to change)\n==31== ERROR: libFuzzer: timeout after 11 seconds\n".to_string();
        out.push_str("    #0 0x55d4 in __sanitizer_print_stack_trace /rustc/llvm/compiler-rt/lib/asan/asan_stack.cpp:87:3\n");
        out.push_str(
            "    #1 0x55d5 in fuzzer::PrintStackTrace() /cargo/libfuzzer/FuzzerUtil.cpp:210:5\n",
        );
        out.push_str("    #2 0x55d6 in fuzzer::Fuzzer::AlarmCallback() /cargo/libfuzzer/FuzzerLoop.cpp:304:5\n");
        out.push_str("    #3 0x7f12 (/lib/x86_64-linux-gnu/libc.so.6+0x4251f)\n");
        let mut n = 4;
        for f in frames {
            out.push_str(&format!(
                "    #{n} 0x{n:x} in {f}::h0123456789abcdef /w/hp/src/lib.rs:{}:9\n",
                20 + n
            ));
            n += 1;
        }
        out.push_str(&format!("    #{n} 0x66 in {target}::_::__libfuzzer_sys_run::h1111111111111111 /tmp/p/fuzz_targets/{target}.rs:16:13\n"));
        out.push_str(&format!(
            "    #{} 0x67 in rust_fuzzer_test_input /cargo/libfuzzer-sys/src/lib.rs:276:60\n",
            n + 1
        ));
        out.push_str(&format!(
            "    #{} 0x68 in LLVMFuzzerTestOneInput /cargo/libfuzzer-sys/src/lib.rs:59:5\n",
            n + 2
        ));
        out
    }

    fn finding(target: &str, report: &str, krate: &str) -> Finding {
        let crash = classify(report).unwrap();
        let sig = signature(&crash, krate, None);
        Finding {
            id: super::super::finding_id(&sig),
            target: target.into(),
            kind: crash.kind,
            signature: sig,
            message: crash.message,
            frames: crash.frames,
            reproducer: PathBuf::from(format!("/r/{target}")),
            minimized: false,
            status: "new".into(),
            repro: String::new(),
            found_after_secs: Some(30),
            also_reached_by: vec![],
        }
    }

    /// Merges findings that are all of crate `hp` (or of the crate their target names before
    /// `:`), and says what is left: each kept finding's target and others.
    fn merged(mut findings: Vec<Finding>) -> Vec<(String, Vec<String>)> {
        merge_findings(&mut findings, |f| {
            let krate = f.target.split_once(':').map_or("hp", |(k, _)| k);
            Some((krate.to_owned(), None))
        });
        findings
            .into_iter()
            .map(|f| (f.target, f.also_reached_by))
            .collect()
    }

    #[test]
    fn one_loop_reached_through_two_entry_points_is_one_timeout() {
        // handparse: `count` calls `parse`, whose loop never advances.
        let found = merged(vec![
            finding("parse_parse", &timeout("parse_parse", &["hp::parse"]), "hp"),
            finding(
                "parse_count",
                &timeout("parse_count", &["hp::parse", "hp::count"]),
                "hp",
            ),
        ]);
        assert_eq!(found, [("parse_parse".into(), vec!["parse_count".into()])]);
        // Caught in `peek` under `skip_ws` once, in `skip_ws` itself the other time.
        let found = merged(vec![
            finding(
                "parse_parse",
                &timeout("parse_parse", &["hp::peek", "hp::skip_ws", "hp::parse"]),
                "hp",
            ),
            finding(
                "parse_count",
                &timeout("parse_count", &["hp::skip_ws", "hp::count"]),
                "hp",
            ),
        ]);
        assert_eq!(found, [("parse_parse".into(), vec!["parse_count".into()])]);
        // Either way round.
        let found = merged(vec![
            finding(
                "parse_count",
                &timeout("parse_count", &["hp::skip_ws", "hp::count"]),
                "hp",
            ),
            finding(
                "parse_parse",
                &timeout("parse_parse", &["hp::peek", "hp::skip_ws", "hp::parse"]),
                "hp",
            ),
        ]);
        assert_eq!(found, [("parse_count".into(), vec!["parse_parse".into()])]);
    }

    #[test]
    fn two_loops_below_one_entry_point_are_two_timeouts() {
        let a = finding(
            "parse_parse",
            &timeout("parse_parse", &["hp::skip_ws", "hp::value", "hp::parse"]),
            "hp",
        );
        let b = finding(
            "parse_doc",
            &timeout("parse_doc", &["hp::string", "hp::value", "hp::parse"]),
            "hp",
        );
        assert_ne!(a.signature, b.signature);
        assert_eq!(merged(vec![a.clone(), b.clone()]).len(), 2);
        // The entry point alone ties nothing: a hang caught in `parse` itself and one in `peek`.
        let c = finding("parse_parse", &timeout("parse_parse", &["hp::parse"]), "hp");
        assert_eq!(merged(vec![c.clone(), a.clone()]).len(), 2);
        // Nor do the same function names in another crate, or another kind.
        let mut other_crate = finding("zz:parse", &timeout("parse", &["zz::parse"]), "zz");
        other_crate.frames = c.frames.clone();
        assert_eq!(merged(vec![c.clone(), other_crate]).len(), 2);
        let mut panic = c.clone();
        panic.kind = "panic".into();
        assert_eq!(merged(vec![c, panic]).len(), 2);
    }

    #[test]
    fn the_union_is_transitive_and_keeps_the_first() {
        // a ~ b (skip_ws under count), b ~ c (skip_ws under load), a and c apart on their own.
        let a = finding(
            "t_parse",
            &timeout("t_parse", &["hp::peek", "hp::skip_ws", "hp::parse"]),
            "hp",
        );
        let b = finding(
            "t_count",
            &timeout("t_count", &["hp::skip_ws", "hp::count"]),
            "hp",
        );
        let c = finding(
            "t_load",
            &timeout("t_load", &["hp::is_space", "hp::skip_ws", "hp::load"]),
            "hp",
        );
        assert_eq!(merged(vec![a.clone(), c.clone()]).len(), 2);
        let mut d = finding(
            "t_parse",
            &timeout("t_parse", &["hp::skip_ws", "hp::parse"]),
            "hp",
        );
        d.found_after_secs = Some(4);
        let mut fixed = a.clone();
        fixed.status = "fixed".into();
        let mut all = vec![a, fixed, c, b, d];
        let removed = merge_findings(&mut all, |_| Some(("hp".into(), None)));
        let removed: Vec<&str> = removed.iter().map(|f| f.target.as_str()).collect();
        assert_eq!(removed, ["t_load", "t_count", "t_parse"]);
        assert_eq!(all.len(), 2, "{all:#?}");
        assert_eq!(all[0].also_reached_by, ["t_load", "t_count"]);
        assert_eq!(
            all[0].found_after_secs,
            Some(4),
            "earliest of its own target"
        );
        assert_eq!(
            all[1].status, "fixed",
            "a baseline's fixed finding stays as it was"
        );
        // A finding whose crate is unknown is left alone.
        let mut two = vec![all[0].clone(), all[0].clone()];
        assert!(merge_findings(&mut two, |_| None).is_empty());
        assert_eq!(two.len(), 2);
    }

    /// An ASan stack-overflow report of toml 0.5's parser, as printed: `value` calls `array` for
    /// `[` and `inline_table` for `{`, both inlined into it (printed at `value`'s return
    /// address, inside it), and both call `value` again. ASan prints 255 return addresses at
    /// most, so for a deep recursion the entry (`toml::de::from_str`) shows only when `entry`
    /// is set. Without `inlined`, every function has its own address.
    fn toml_overflow(brackets: &[&str], entry: bool, inlined: bool) -> String {
        let de = |f: &str| format!("<toml::de::Deserializer>::{f}");
        // One entry per return address: its frames, inlined ones first.
        let mut addresses: Vec<Vec<String>> = vec![
            vec!["<toml::tokens::Tokenizer>::next".into()],
            vec!["<toml::tokens::Tokenizer>::peek".into(), de("eat_spanned")],
        ];
        for b in brackets {
            if inlined {
                addresses.push(vec![de(b), de("value")]);
            } else {
                addresses.extend([vec![de(b)], vec![de("value")]]);
            }
        }
        if entry {
            for f in ["line", "tables"] {
                addresses.push(vec![de(f)]);
            }
            addresses.push(vec![
                "<&mut toml::de::Deserializer as serde::de::Deserializer>::deserialize_any::<serde::de::impls::PhantomVisitor>".into(),
            ]);
            addresses.push(vec!["toml::de::from_str::<toml::value::Value>".into()]);
        } else {
            addresses.truncate(255);
        }
        let mut out = "==41==ERROR: AddressSanitizer: stack-overflow on address 0x7ffc4f1b2ff8 (pc 0x556869c11e96 bp 0x7ffc4f1b3830 sp 0x7ffc4f1b3000 T0)\n    #0 0x556869c11e96 in __asan_memcpy /rustc/llvm/src/llvm-project/compiler-rt/lib/asan/asan_interceptors_memintrinsics.cpp:65:3\n".to_string();
        let mut n = 1;
        for (a, frames) in addresses.iter().enumerate() {
            for f in frames {
                out.push_str(&format!(
                    "    #{n} 0x5568{a:08x} in {f} /root/.cache/cargo-airlock/fuzz/crates-io/toml-0.5.11/crate/src/de.rs:{}:30\n",
                    1700 + n % 7
                ));
                n += 1;
            }
        }
        out.push_str("\nSUMMARY: AddressSanitizer: stack-overflow /rustc/llvm/src/llvm-project/compiler-rt/lib/asan/asan_interceptors_memintrinsics.cpp:65:3 in __asan_memcpy\n");
        out
    }

    #[test]
    fn one_recursion_through_two_bracket_kinds_is_one_stack_overflow() {
        let arrays = ["array"; 400];
        let tables = ["inline_table"; 400];
        let mixed: Vec<&str> = (0..400)
            .map(|i| if i % 2 == 0 { "array" } else { "inline_table" })
            .collect();
        // Entered in view, or cut off at a return address of `value` (into which the other two
        // are inlined): each is keyed by `value`.
        let sig = |r: &str| signature(&classify(r).unwrap(), "toml", None);
        for b in [&arrays[..], &tables[..], &mixed[..]] {
            for (entry, inlined) in [(true, true), (true, false), (false, true)] {
                assert_eq!(
                    sig(&toml_overflow(b, entry, inlined)),
                    "stack-overflow|<toml::de::Deserializer>::value",
                    "entry {entry}, inlined {inlined}"
                );
            }
        }
        // Cut off in a level of separate functions, the window's edge falls on `array` in one
        // report, `inline_table` in the other: the keys differ, the finding is one.
        let cut_arrays = finding(
            "fmt_from_str",
            &toml_overflow(&arrays, false, false),
            "toml",
        );
        let cut_tables = finding("parse_value", &toml_overflow(&tables, false, false), "toml");
        let cut_mixed = finding(
            "fmt_from_slice",
            &toml_overflow(&mixed, false, false),
            "toml",
        );
        assert_eq!(
            cut_arrays.signature,
            "stack-overflow|<toml::de::Deserializer>::array"
        );
        assert_eq!(
            cut_tables.signature,
            "stack-overflow|<toml::de::Deserializer>::inline_table"
        );
        let mut all = vec![cut_arrays, cut_tables, cut_mixed];
        let removed = merge_findings(&mut all, |_| Some(("toml".into(), None)));
        assert_eq!(removed.len(), 2);
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].target, "fmt_from_str");
        assert_eq!(all[0].also_reached_by, ["parse_value", "fmt_from_slice"]);
    }

    #[test]
    fn two_unrelated_recursions_are_two_stack_overflows() {
        let report = |f: &str| {
            let mut out = "==7==ERROR: AddressSanitizer: stack-overflow on address 0x7ffd (pc 0x1 bp 0x2 sp 0x3 T0)\n".to_string();
            for n in 0..255 {
                out.push_str(&format!(
                    "    #{n} 0x{n:x} in {f}::h0123456789abcdef /w/hp/src/lib.rs:9:5\n"
                ));
            }
            out
        };
        let a = finding("t_comment", &report("hp::skip_comment"), "hp");
        let b = finding("t_group", &report("hp::parse_group"), "hp");
        assert_eq!(a.signature, "stack-overflow|hp::skip_comment");
        assert_eq!(merged(vec![a, b]).len(), 2);
        // A frame too large for the stack, no recursion: the function it ran out in.
        let one = "==7==ERROR: AddressSanitizer: stack-overflow on address 0x7ffd (pc 0x1 bp 0x2 sp 0x3 T0)\n    #0 0x1 in hp::big_table /w/hp/src/lib.rs:9:5\n    #1 0x2 in hp::parse /w/hp/src/lib.rs:30:5\n";
        let c = finding("t_parse", one, "hp");
        assert_eq!(c.signature, "stack-overflow|hp::big_table");
        let d = finding("t_parse", &one.replace("big_table", "huge_buffer"), "hp");
        assert_eq!(merged(vec![c, d]).len(), 2, "a common caller ties nothing");
    }

    #[test]
    fn a_dependency_recursion_is_keyed_by_its_own_frames() {
        // serde_yaml 0.8 loads the document through yaml-rust, whose parser recurses.
        let mut out = "==7==ERROR: AddressSanitizer: stack-overflow on address 0x7ffd (pc 0x1 bp 0x2 sp 0x3 T0)\n    #0 0x1 in <serde_yaml::de::Loader as yaml_rust::parser::MarkedEventReceiver>::on_event /r/serde_yaml-0.8.26/src/de.rs:60:9\n".to_string();
        for n in 1..250 {
            let f = if n % 2 == 0 {
                "load_node"
            } else {
                "load_block_sequence"
            };
            out.push_str(&format!("    #{n} 0x{n:x} in yaml_rust::parser::Parser::{f}::<serde_yaml::de::Loader> /r/yaml-rust-0.4.5/src/parser.rs:{}:13\n", 200 + n % 2));
        }
        let crash = classify(&out).unwrap();
        assert_eq!(
            signature(&crash, "serde_yaml", None),
            "stack-overflow|yaml_rust::parser::Parser::load_block_sequence"
        );
        let by = |entry: &str| {
            let mut c = crash.clone();
            c.frames.push(Frame {
                function: entry.into(),
                location: Some("/r/serde_yaml-0.8.26/src/de.rs:90:5".into()),
            });
            c
        };
        // The entry into serde_yaml is no level of the recursion: both entries key alike.
        assert_eq!(
            signature(&by("serde_yaml::de::from_str::<V>"), "serde_yaml", None),
            signature(&by("serde_yaml::de::from_slice::<V>"), "serde_yaml", None)
        );
    }
}
