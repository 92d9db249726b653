//! What every generator produces ([`Emitted`]: a `targets.json` record with its source,
//! dictionary and seeds) and the parts the Deserialize, format and parse targets share: the
//! prelude that runs each input on the main thread under the stack of [`STACK_BYTES`], and the
//! libFuzzer options they need.

use std::fmt::Write as _;
use std::path::Path;

use crate::targets::{LibFuzzerOptions, TargetRecord, STACK_BYTES};

/// One generated (or skipped) target with its files.
#[derive(Debug, Clone)]
pub(crate) struct Emitted {
    /// The `targets.json` record.
    pub record: TargetRecord,
    /// The target's source, when built.
    pub source: Option<String>,
    /// Dictionary entries (raw bytes: binary formats have non-UTF-8 tokens).
    pub dict: Vec<Vec<u8>>,
    /// Seed inputs.
    pub seeds: Vec<Vec<u8>>,
}

/// `-max_len` for format and parse targets: room for nesting deep enough to overflow
/// [`STACK_BYTES`] with frames of 128 bytes or more.
pub(super) const ENTRY_MAX_LEN: usize = 16 * 1024;

/// libFuzzer options of format and parse targets: long inputs, available from the start.
pub(super) const ENTRY_LIBFUZZER: LibFuzzerOptions = LibFuzzerOptions {
    max_len: Some(ENTRY_MAX_LEN),
    len_control: Some(0),
};

/// `-max_len` for Deserialize targets: JSON documents of a type are short, and serde's own
/// formats limit nesting; a hand-written parser inside an impl (a string parsed recursively)
/// overflows [`STACK_BYTES`] within this length when its frames take 512 bytes or more,
/// as they do in ASan builds of anything but the smallest functions.
pub(super) const DESER_MAX_LEN: usize = 4096;

/// libFuzzer options of Deserialize targets: inputs up to [`DESER_MAX_LEN`], available from
/// the start (nesting grows by copying parts of an input, which a slowly growing length limit
/// holds back).
pub(super) const DESER_LIBFUZZER: LibFuzzerOptions = LibFuzzerOptions {
    max_len: Some(DESER_MAX_LEN),
    len_control: Some(0),
};

/// The part every Deserialize, format and parse target shares: each input runs once, on the
/// main thread, whose stack `cargo airlock fuzz` caps at [`STACK_BYTES`] (`RLIMIT_STACK`, from
/// the target's `stack_bytes` in `targets.json`), so that unbounded recursion overflows at the
/// nesting a short input reaches while libFuzzer's stack-depth coverage (measured on this
/// thread) rewards deeper nesting. A second run on a small-stack worker thread would do the same
/// at a quarter of the speed.
pub(crate) fn entry_prelude(src: &mut String) {
    src.push_str(
        r#"#![no_main]

use libfuzzer_sys::fuzz_target;

"#,
    );
    let _ = writeln!(
        src,
        "// `cargo airlock fuzz` runs this target with a {} MiB main-thread stack (RLIMIT_STACK), so",
        STACK_BYTES >> 20
    );
    let _ = writeln!(
        src,
        "// that unbounded recursion overflows at the nesting a short input reaches; with plain"
    );
    let _ = writeln!(
        src,
        "// `cargo fuzz run`, set `ulimit -s {}` first for the same effect.",
        STACK_BYTES >> 10
    );
    src.push_str("fuzz_target!(|data: &[u8]| one(data));\n\n");
}

/// Binds `text` when the input must be UTF-8.
pub(crate) fn bind_text(src: &mut String) {
    let _ = writeln!(
        src,
        "    // The entry point takes text: only UTF-8 input can reach it."
    );
    let _ = writeln!(src, "    let Ok(text) = std::str::from_utf8(data) else {{");
    let _ = writeln!(src, "        return;");
    let _ = writeln!(src, "    }};");
}

/// `file` relative to the crate's directory, as target docs cite it.
pub(crate) fn cited(file: &Path, crate_root: &Path) -> String {
    file.strip_prefix(crate_root)
        .unwrap_or(file)
        .display()
        .to_string()
}

/// rustfmt's default line width, which generated sources keep to.
pub(crate) const MAX_WIDTH: usize = 100;

/// Writes the lines of `text` (statements, possibly several lines each) at `indent`, as rustfmt
/// lays out statements: every line indented, blank lines kept blank.
pub(crate) fn push_indented(src: &mut String, indent: &str, text: &str) {
    for line in text.lines() {
        if line.is_empty() {
            src.push('\n');
        } else {
            let _ = writeln!(src, "{indent}{line}");
        }
    }
}

/// `let {lhs} = {rhs};` at `indent`, on one line when it fits in [`MAX_WIDTH`], else with the
/// right-hand side on the next line, one level deeper (as rustfmt breaks a long `let`).
pub(crate) fn let_stmt(src: &mut String, indent: &str, lhs: &str, rhs: &str) {
    let one = format!("{indent}let {lhs} = {rhs};");
    if one.len() <= MAX_WIDTH {
        let _ = writeln!(src, "{one}");
    } else {
        let _ = writeln!(src, "{indent}let {lhs} =\n{indent}    {rhs};");
    }
}
