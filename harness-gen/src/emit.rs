//! Emission of the cargo-fuzz project: `Cargo.toml`, one `fuzz_targets/<name>.rs` per target
//! (commented like a hand-written one), `dicts/<name>.dict`, `corpus/<name>/` seeds and
//! `targets.json`. Templates are plain `format!` strings, as in cargo-fuzz's own `templates.rs`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use heck::ToUpperCamelCase;

use crate::deser::{DeserItem, How, Instance};
use crate::error::GenError;
use crate::ffi::{Call, FfiItem, FfiPlan, Receiver, Returns};
use crate::formats::{Entry, EntryCall, FormatCrate, Ret};
use crate::mining::Mined;
use crate::parsers::{Input, ParseCall, ParseItem};
use crate::{LibFuzzerOptions, TargetKind, TargetRecord, TargetStatus};

/// A serde format the crate under test depends on, and how to feed bytes through it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatDep {
    /// The format's name in `targets.json` (`toml`, `bincode`, ...).
    pub format: String,
    /// The dependency line for the fuzz project's `Cargo.toml` (right-hand side).
    pub dependency: String,
    /// The package name (the dependency key).
    pub package: String,
    /// The resolved major version (bincode 1 and 2 differ).
    pub major: u64,
}

/// The serde formats generated targets know how to drive (the package names).
pub const KNOWN_FORMATS: &[&str] = &[
    "toml",
    "serde_yaml",
    "bincode",
    "ciborium",
    "serde_cbor",
    "rmp-serde",
    "postcard",
    "ron",
    "serde_urlencoded",
];

/// A package whose items are fuzzed: how the fuzz project depends on it.
#[derive(Debug, Clone)]
pub struct CrateDep {
    /// The package name.
    pub package: String,
    /// The name code uses (`lib` target name).
    pub code_name: String,
    /// The package directory.
    pub dir: PathBuf,
    /// Features enabled in the analysed build (passed on with default features off).
    pub features: Vec<String>,
    /// For a crates.io package, its exact version: the fuzz project then depends on it by
    /// version, so that it is the same crate the serde formats depend on (a path dependency on
    /// registry sources would be a second, distinct copy).
    pub registry_version: Option<String>,
}

/// One generated (or skipped) target with its files.
#[derive(Debug, Clone)]
pub struct Emitted {
    /// The `targets.json` record.
    pub record: TargetRecord,
    /// The target's source, when built.
    pub source: Option<String>,
    /// Dictionary entries (raw bytes: binary formats have non-UTF-8 tokens).
    pub dict: Vec<Vec<u8>>,
    /// Seed inputs.
    pub seeds: Vec<Vec<u8>>,
}

/// `demo::config::Server<u32>` → `config_server_u32` (the crate's name dropped everywhere).
pub fn target_stem(item: &str) -> String {
    let krate = item.split("::").next().unwrap_or_default();
    let mut parts: Vec<&str> = item.split("::").collect();
    if parts.len() > 1 {
        parts.remove(0);
    }
    let joined = parts
        .join("_")
        .replace(&format!("<{krate}_"), "<")
        .replace(&format!(" {krate}_"), " ");
    let mut out = String::new();
    let mut prev_lower = false;
    for ch in joined.chars() {
        if ch.is_ascii_alphanumeric() {
            if ch.is_ascii_uppercase() && prev_lower {
                out.push('_');
            }
            prev_lower = ch.is_ascii_lowercase() || ch.is_ascii_digit();
            out.push(ch.to_ascii_lowercase());
        } else {
            if !out.ends_with('_') {
                out.push('_');
            }
            prev_lower = false;
        }
    }
    out.trim_matches('_').to_string()
}

/// Builds the target for one Deserialize instance (or the skipped record). `mined` holds the
/// crate's lexer tokens and nesting seeds, used for hand-written impls.
pub fn deser_target(
    name: String,
    package: &str,
    item: &DeserItem,
    inst: Option<&Instance>,
    formats: &[FormatDep],
    mined: &Mined,
    crate_root: &Path,
) -> Emitted {
    let usable: Vec<&FormatDep> = formats
        .iter()
        .filter(|f| !(item.borrowed && owned_only(f)))
        .collect();
    let mut format = vec!["json".to_string()];
    format.extend(usable.iter().map(|f| f.format.clone()));
    let format = format.join("+");
    let shown = item
        .public_path
        .clone()
        .unwrap_or_else(|| item.internal_path.clone());
    let (Some(inst), None) = (inst, &item.skip) else {
        return Emitted {
            record: TargetRecord {
                name,
                package: package.into(),
                kind: TargetKind::Deserialize,
                item: shown,
                format,
                status: TargetStatus::Skipped,
                reason: item.skip.clone(),
                libfuzzer: None,
            },
            source: None,
            dict: Vec::new(),
            seeds: Vec::new(),
        };
    };
    let ty = &inst.ty;
    let rel = item
        .file
        .strip_prefix(crate_root)
        .unwrap_or(&item.file)
        .display()
        .to_string();
    let origin = match item.how {
        How::Derive => "`#[derive(Deserialize)]`",
        How::Manual => "a hand-written `impl Deserialize`",
    };
    let mut src = String::new();
    let _ = writeln!(
        src,
        "//! Fuzz target `{name}`: feeds arbitrary bytes to the `Deserialize` impl of `{ty}`"
    );
    let _ = writeln!(src, "//! ({origin} at {rel}:{}).", item.line);
    if let Some(via) = &inst.via {
        let _ = writeln!(
            src,
            "//! The type is generic; this instance is the one {via} names."
        );
    }
    let _ = writeln!(src, "//!");
    let _ = writeln!(
        src,
        "//! Formats: {} (JSON always; the others are the serde formats the crate depends on).",
        format.replace('+', ", ")
    );
    let roundtrip = item.serialize && item.partial_eq && item.roundtrip_blockers.is_empty();
    if roundtrip {
        let _ = writeln!(src, "//! The type is also `Serialize` + `PartialEq`, so a JSON round trip must give back an equal value.");
    } else if item.serialize && item.partial_eq {
        let blockers: Vec<&str> = item.roundtrip_blockers.iter().map(String::as_str).collect();
        let _ = writeln!(
            src,
            "//! No round-trip equality check: {}.",
            blockers.join("; ")
        );
    }
    let _ = writeln!(src, "//!");
    let _ = writeln!(src, "//! Rejecting malformed input with an error is correct behaviour and returns early; a panic");
    let _ = writeln!(
        src,
        "//! inside the crate, a stack overflow (the input runs on a reduced stack so that unbounded"
    );
    let _ = writeln!(
        src,
        "//! recursion shows), a runaway allocation, a hang or a round-trip mismatch is a finding."
    );
    let _ = writeln!(src, "//! Generated by `cargo airlock gen`.");
    let _ = writeln!(src);
    entry_prelude(&mut src);
    let _ = writeln!(src, "fn one(data: &[u8]) {{");
    let _ = writeln!(
        src,
        "    // JSON: any bytes, valid or not, must come back as Ok or Err, never as a panic."
    );
    if roundtrip {
        let _ = writeln!(
            src,
            "    if let Ok(value) = serde_json::from_slice::<{ty}>(data) {{"
        );
        let _ = writeln!(
            src,
            "        // What the crate writes it must read back, as an equal value."
        );
        let _ = writeln!(
            src,
            "        if let Ok(text) = serde_json::to_string(&value) {{"
        );
        let _ = writeln!(
            src,
            "            let again = serde_json::from_str::<{ty}>(&text)"
        );
        let _ = writeln!(src, "                .unwrap_or_else(|e| panic!(\"own JSON output {{text:?}} does not parse back: {{e}}\"));");
        let _ = writeln!(
            src,
            "            assert!(value == again, \"JSON round trip changed the value: {{text}}\");"
        );
        let _ = writeln!(src, "        }}");
        let _ = writeln!(src, "    }}");
    } else {
        let _ = writeln!(src, "    let _ = serde_json::from_slice::<{ty}>(data);");
    }
    for f in &usable {
        src.push_str(&format_call(f, ty));
    }
    let _ = writeln!(src, "}}");
    let mut dict: Vec<String> = Vec::new();
    for w in &item.words {
        dict.push(w.clone());
        dict.push(format!("\"{w}\""));
    }
    if !dict.is_empty() || item.how == How::Derive {
        dict.extend(
            [
                "{", "}", "[", "]", ":", ",", "null", "true", "false", "\"\"",
            ]
            .map(String::from),
        );
    }
    // Integer bounds stand alone: JSON, TOML and YAML all write numbers unquoted.
    dict.extend(item.numbers.iter().cloned());
    let mut seeds: Vec<Vec<u8>> = item
        .seeds
        .iter()
        .filter_map(|v| serde_json::to_vec(v).ok())
        .collect();
    if item.how == How::Manual {
        // A hand-written impl often parses a string with the crate's own lexer: its tokens go
        // into the dictionary, and its nested brackets into seeds, as JSON strings.
        for token in &mined.tokens {
            if let Ok(t) = std::str::from_utf8(token) {
                if !dict.iter().any(|d| d == t) {
                    dict.push(t.to_owned());
                }
            }
        }
        for nested in &mined.nested {
            if let Ok(text) = std::str::from_utf8(nested) {
                seeds.extend(serde_json::to_vec(text).ok());
            }
        }
    }
    Emitted {
        record: TargetRecord {
            name,
            package: package.into(),
            kind: TargetKind::Deserialize,
            item: ty.clone(),
            format,
            status: TargetStatus::Built,
            reason: None,
            libfuzzer: Some(DESER_LIBFUZZER),
        },
        source: Some(src),
        dict: dict.into_iter().map(String::into_bytes).collect(),
        seeds,
    }
}

/// Formats whose deserializers require `DeserializeOwned` (cannot borrow from the input).
fn owned_only(f: &FormatDep) -> bool {
    f.package == "ciborium" || (f.package == "bincode" && f.major >= 2)
}

fn format_call(f: &FormatDep, ty: &str) -> String {
    let krate = f.package.replace('-', "_");
    match (f.package.as_str(), f.major) {
        ("toml", _) => format!(
            "    // TOML is text: only UTF-8 input can be TOML.\n    if let Ok(text) = std::str::from_utf8(data) {{\n        let _ = {krate}::from_str::<{ty}>(text);\n    }}\n"
        ),
        ("bincode", 0 | 1) => format!(
            "    // bincode: a size limit keeps a forged length prefix from being an out-of-memory \"finding\".\n    {{\n        use {krate}::Options as _;\n        let _ = {krate}::DefaultOptions::new()\n            .with_fixint_encoding()\n            .allow_trailing_bytes()\n            .with_limit(1 << 20)\n            .deserialize::<{ty}>(data);\n    }}\n"
        ),
        ("bincode", _) => format!(
            "    // bincode 2 (serde mode): a size limit keeps a forged length prefix from being an OOM \"finding\".\n    let _ = {krate}::serde::decode_from_slice::<{ty}, _>(\n        data,\n        {krate}::config::standard().with_limit::<{{ 1 << 20 }}>(),\n    );\n"
        ),
        ("ciborium", _) => format!("    // CBOR.\n    let _ = {krate}::from_reader::<{ty}, _>(data);\n"),
        ("serde_cbor", _) => format!("    // CBOR.\n    let _ = {krate}::from_slice::<{ty}>(data);\n"),
        ("serde_yaml", _) => format!("    // YAML.\n    let _ = {krate}::from_slice::<{ty}>(data);\n"),
        ("rmp-serde", _) => format!("    // MessagePack.\n    let _ = {krate}::from_slice::<{ty}>(data);\n"),
        ("postcard", _) => format!("    // postcard.\n    let _ = {krate}::from_bytes::<{ty}>(data);\n"),
        ("ron", _) => format!("    // RON.\n    let _ = {krate}::de::from_bytes::<{ty}>(data);\n"),
        ("serde_urlencoded", _) => format!("    // URL-encoded forms.\n    let _ = {krate}::from_bytes::<{ty}>(data);\n"),
        _ => String::new(),
    }
}

/// Builds the target for one FFI item (or the skipped record).
pub fn ffi_target(name: String, package: &str, item: &FfiItem, crate_root: &Path) -> Emitted {
    let record = |status, reason| TargetRecord {
        name: name.clone(),
        package: package.into(),
        kind: TargetKind::Ffi,
        item: item.item.clone(),
        format: "arbitrary".into(),
        status,
        reason,
        libfuzzer: None,
    };
    let plan = match &item.plan {
        Ok(p) => p,
        Err(reason) => {
            return Emitted {
                record: record(TargetStatus::Skipped, Some(reason.clone())),
                source: None,
                dict: vec![],
                seeds: vec![],
            };
        }
    };
    let rel = item
        .file
        .strip_prefix(crate_root)
        .unwrap_or(&item.file)
        .display()
        .to_string();
    let mut src = String::new();
    match plan {
        FfiPlan::Free { call } => {
            let _ = writeln!(
                src,
                "//! Fuzz target `{name}`: calls `{}` ({rel}:{}) with arguments built by",
                item.item, item.line
            );
            let _ = writeln!(
                src,
                "//! `arbitrary` from the fuzzer's bytes. It is safe to call and {}, so no",
                item.why
            );
            let _ = writeln!(src, "//! input may make it crash, corrupt memory or abort.");
            let _ = writeln!(src, "//! Generated by `cargo airlock gen`.");
            let _ = writeln!(src);
            let _ = writeln!(src, "#![no_main]");
            let _ = writeln!(src);
            let _ = writeln!(src, "use libfuzzer_sys::fuzz_target;");
            let _ = writeln!(src);
            let names: Vec<&str> = call
                .args
                .iter()
                .filter(|a| a.kind.field_type().is_some())
                .map(|a| a.name.as_str())
                .collect();
            let (setup, args) = build_args(&call.args, "return;");
            if names.is_empty() {
                let _ = writeln!(src, "fuzz_target!(|_data: &[u8]| {{");
                let _ = writeln!(
                    src,
                    "    // No argument comes from the input: each run makes the same call."
                );
            } else {
                let _ = writeln!(src, "/// The arguments of one call.");
                let _ = writeln!(src, "#[derive(Debug, arbitrary::Arbitrary)]");
                src.push_str(&struct_def("Input", &call.args, ""));
                let _ = writeln!(src);
                let _ = writeln!(src, "fuzz_target!(|input: Input| {{");
                let _ = writeln!(src, "    let Input {{ {} }} = &input;", names.join(", "));
            }
            for s in setup {
                let _ = writeln!(src, "    {s}");
            }
            let _ = writeln!(src, "    let _ = {}({});", call.callee, args.join(", "));
            let _ = writeln!(src, "}});");
        }
        FfiPlan::Sequence { ty, ctors, ops } => {
            let _ = writeln!(src, "//! Fuzz target `{name}`: builds a `{ty}` ({rel}:{}) with one of its constructors,", item.line);
            let _ = writeln!(src, "//! applies an arbitrary sequence of its methods, then drops it. The type wraps FFI");
            let _ = writeln!(
                src,
                "//! ({}), so every safe sequence of calls must leave the foreign state valid.",
                item.why
            );
            let _ = writeln!(src, "//! Generated by `cargo airlock gen`.");
            let _ = writeln!(src);
            let _ = writeln!(src, "#![no_main]");
            let _ = writeln!(src);
            let _ = writeln!(src, "use libfuzzer_sys::fuzz_target;");
            let _ = writeln!(src);
            let _ = writeln!(src, "/// How the value is constructed.");
            let _ = writeln!(src, "#[derive(Debug, arbitrary::Arbitrary)]");
            src.push_str(&enum_def("Ctor", ctors));
            if !ops.is_empty() {
                let _ = writeln!(src);
                let _ = writeln!(src, "/// One method call on the value.");
                let _ = writeln!(src, "#[derive(Debug, arbitrary::Arbitrary)]");
                src.push_str(&enum_def("Op", ops));
            }
            let _ = writeln!(src);
            let _ = writeln!(src, "/// A constructor and the calls to make afterwards.");
            let _ = writeln!(src, "#[derive(Debug, arbitrary::Arbitrary)]");
            if ops.is_empty() {
                let _ = writeln!(src, "struct Input {{\n    ctor: Ctor,\n}}");
            } else {
                let _ = writeln!(
                    src,
                    "struct Input {{\n    ctor: Ctor,\n    ops: Vec<Op>,\n}}"
                );
            }
            let _ = writeln!(src);
            let _ = writeln!(src, "fuzz_target!(|input: Input| {{");
            let mutable = if ops.is_empty() { "" } else { "mut " };
            let _ = writeln!(
                src,
                "    let {mutable}value: Option<{ty}> = match &input.ctor {{"
            );
            for c in ctors {
                let _ = writeln!(src, "        {} => {{", pattern("Ctor", c));
                let (setup, args) = build_args(&c.args, "return;");
                for s in setup {
                    let _ = writeln!(src, "            {s}");
                }
                let call = format!("{}({})", c.callee, args.join(", "));
                let _ = writeln!(src, "            {}", wrap_self(c.returns, &call));
                let _ = writeln!(src, "        }}");
            }
            let _ = writeln!(src, "    }};");
            if !ops.is_empty() {
                let _ = writeln!(src, "    for op in &input.ops {{");
                let _ = writeln!(src, "        match op {{");
                for op in ops {
                    let _ = writeln!(src, "            {} => {{", pattern("Op", op));
                    let take = if op.receiver == Receiver::Value {
                        "value.take()"
                    } else {
                        "value.as_mut()"
                    };
                    let _ = writeln!(
                        src,
                        "                let Some(v) = {take} else {{ break }};"
                    );
                    let (setup, args) = build_args(&op.args, "continue;");
                    for s in setup {
                        let _ = writeln!(src, "                {s}");
                    }
                    let call = if op.callee.contains("::") {
                        let mut all = vec!["v".to_string()];
                        all.extend(args);
                        format!("{}({})", op.callee, all.join(", "))
                    } else {
                        format!("v.{}({})", op.callee, args.join(", "))
                    };
                    if op.receiver == Receiver::Value && op.returns != Returns::Other {
                        let _ = writeln!(
                            src,
                            "                value = {};",
                            wrap_self(op.returns, &call)
                        );
                    } else {
                        let _ = writeln!(src, "                let _ = {call};");
                    }
                    let _ = writeln!(src, "            }}");
                }
                let _ = writeln!(src, "        }}");
                let _ = writeln!(src, "    }}");
            }
            let _ = writeln!(src, "    // Dropping runs the destructor (usually an FFI free) on whatever state the calls left.");
            let _ = writeln!(src, "    drop(value);");
            let _ = writeln!(src, "}});");
        }
    }
    Emitted {
        record: record(TargetStatus::Built, None),
        source: Some(src),
        dict: vec![],
        seeds: vec![],
    }
}

/// Main-thread stack (RLIMIT_STACK) of Deserialize, format and parse targets under the `fuzz`
/// profile (sandbox-profiles/fuzz.toml must say the same). On the main thread's 8 MiB stack a recursive-descent parser without a depth limit needs far
/// deeper nesting than short inputs reach; on 2 MiB, a few thousand levels (fewer with the large
/// frames of ASan builds) already overflow, while parsers with a depth limit (64 to 1024 levels
/// in real crates) stay within it.
pub const ENTRY_STACK_BYTES: usize = 2 << 20;

/// `-max_len` for format and parse targets: room for nesting deep enough to overflow
/// [`ENTRY_STACK_BYTES`] with frames of 128 bytes or more.
pub const ENTRY_MAX_LEN: usize = 16 * 1024;

/// libFuzzer options of format and parse targets: long inputs, available from the start.
pub const ENTRY_LIBFUZZER: LibFuzzerOptions = LibFuzzerOptions {
    max_len: Some(ENTRY_MAX_LEN),
    len_control: Some(0),
};

/// `-max_len` for Deserialize targets: JSON documents of a type are short, and serde's own
/// formats limit nesting; a hand-written parser inside an impl (a string parsed recursively)
/// overflows [`ENTRY_STACK_BYTES`] within this length when its frames take 512 bytes or more,
/// as they do in ASan builds of anything but the smallest functions.
pub const DESER_MAX_LEN: usize = 4096;

/// libFuzzer options of Deserialize targets: inputs up to [`DESER_MAX_LEN`], available from
/// the start (nesting grows by copying parts of an input, which a slowly growing length limit
/// holds back).
pub const DESER_LIBFUZZER: LibFuzzerOptions = LibFuzzerOptions {
    max_len: Some(DESER_MAX_LEN),
    len_control: Some(0),
};

/// The part every Deserialize, format and parse target shares: each input runs once, on the
/// main thread, whose stack cargo-airlock's `fuzz` profile caps at [`ENTRY_STACK_BYTES`]
/// (`RLIMIT_STACK`), so that unbounded recursion overflows at the nesting a short input reaches
/// while libFuzzer's stack-depth coverage (measured on this thread) rewards deeper nesting.
/// A second run on a small-stack worker thread would do the same at a quarter of the speed.
fn entry_prelude(src: &mut String) {
    src.push_str(
        r#"#![no_main]

use libfuzzer_sys::fuzz_target;

"#,
    );
    let _ = writeln!(
        src,
        "// `cargo airlock fuzz` runs this target with a {} MiB main-thread stack (RLIMIT_STACK), so",
        ENTRY_STACK_BYTES >> 20
    );
    let _ = writeln!(
        src,
        "// that unbounded recursion overflows at the nesting a short input reaches; with plain"
    );
    let _ = writeln!(
        src,
        "// `cargo fuzz run`, set `ulimit -s {}` first for the same effect.",
        ENTRY_STACK_BYTES >> 10
    );
    src.push_str("fuzz_target!(|data: &[u8]| one(data));");
}

/// Binds `text` when the input must be UTF-8.
fn bind_text(src: &mut String) {
    let _ = writeln!(
        src,
        "    // The entry point takes text: only UTF-8 input can reach it."
    );
    let _ = writeln!(src, "    let Ok(text) = std::str::from_utf8(data) else {{");
    let _ = writeln!(src, "        return;");
    let _ = writeln!(src, "    }};");
}

/// The argument expression that feeds a serializer's output `out` back to an entry point
/// taking `input`; `None` when the kinds do not fit (bytes into a text entry point).
fn feed_back(input: Input, out_is_text: bool) -> Option<&'static str> {
    Some(match (input, out_is_text) {
        (Input::Str, true) => "&out",
        (Input::String, true) => "out.clone()",
        (Input::Str | Input::String, false) => return None,
        (Input::Bytes, true) => "out.as_bytes()",
        (Input::Bytes, false) => "&out[..]",
        (Input::VecU8, true) => "out.clone().into_bytes()",
        (Input::VecU8, false) => "out.clone()",
        (Input::Reader, true) => "std::io::Cursor::new(out.as_bytes())",
        (Input::Reader, false) => "std::io::Cursor::new(&out[..])",
    })
}

/// Builds the target for one entry point of a format crate (or the skipped record).
pub fn format_target(
    name: String,
    package: &str,
    fc: &FormatCrate,
    entry: &Entry,
    mined: &Mined,
    crate_root: &Path,
) -> Emitted {
    let mut record = TargetRecord {
        name: name.clone(),
        package: package.into(),
        kind: TargetKind::Format,
        item: entry.item.clone(),
        format: package.into(),
        status: TargetStatus::Skipped,
        reason: None,
        libfuzzer: None,
    };
    let (call, input) = match &entry.plan {
        Ok(p) => p.clone(),
        Err(reason) => {
            record.reason = Some(reason.clone());
            return Emitted {
                record,
                source: None,
                dict: vec![],
                seeds: vec![],
            };
        }
    };
    let rel = entry
        .file
        .strip_prefix(crate_root)
        .unwrap_or(&entry.file)
        .display()
        .to_string();
    let mut values = vec!["serde_json::Value".to_string()];
    values.extend(fc.value_type.clone());
    let serializer = match (&call, input.is_text()) {
        (EntryCall::Fn(..), true) => fc.to_text.as_ref().map(|s| (s, true)),
        (EntryCall::Fn(..), false) => fc
            .to_bytes
            .as_ref()
            .map(|s| (s, false))
            .or_else(|| fc.to_text.as_ref().map(|s| (s, true))),
        (EntryCall::Ctor(..), _) => None,
    };
    // The round trip goes through the crate's own value type when it can be written, else JSON's.
    let round_ty = if fc.value_serializes {
        values.last().cloned().unwrap_or_default()
    } else {
        values[0].clone()
    };
    let mut src = String::new();
    let _ = writeln!(
        src,
        "//! Fuzz target `{name}`: feeds the input through `{}` ({rel}:{}), an entry point",
        entry.item, entry.line
    );
    let _ = writeln!(
        src,
        "//! of the format crate `{package}` (it implements `serde::Deserializer` for {}),",
        fc.deserializers
            .iter()
            .map(|d| format!("`{d}`"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let _ = writeln!(
        src,
        "//! into {}.",
        values
            .iter()
            .map(|v| format!("`{v}`"))
            .collect::<Vec<_>>()
            .join(" and ")
    );
    if let Some((ser, _)) = serializer {
        let _ = writeln!(src, "//! The crate also serializes (`{ser}`): what it writes from a `{round_ty}` it must read back,");
        let _ = writeln!(src, "//! and writing that again must give the same output.");
    }
    let _ = writeln!(src, "//!");
    let _ = writeln!(src, "//! Rejecting malformed input with an error is correct; a panic, a stack overflow (the input");
    let _ = writeln!(
        src,
        "//! runs on a reduced stack so that unbounded recursion shows), an allocation the input"
    );
    let _ = writeln!(
        src,
        "//! size does not justify, a hang or a round-trip failure is a finding."
    );
    let _ = writeln!(src, "//! Generated by `cargo airlock gen`.");
    let _ = writeln!(src);
    entry_prelude(&mut src);
    let _ = writeln!(src, "fn one(data: &[u8]) {{");
    if input.is_text() {
        bind_text(&mut src);
    }
    let arg = input.expr();
    for v in &values {
        let _ = writeln!(src, "    // Into `{v}`.");
        match &call {
            EntryCall::Fn(path, ret) => {
                let annotated = match ret {
                    Ret::Result => format!("Result<{v}, _>"),
                    Ret::Option => format!("Option<{v}>"),
                    Ret::Plain => v.clone(),
                };
                let round = *v == round_ty && serializer.is_some();
                if !round {
                    let _ = writeln!(src, "    let _: {annotated} = {path}({arg});");
                    continue;
                }
                let Some((ser, out_text)) = serializer else {
                    continue;
                };
                let Some(back) = feed_back(input, out_text) else {
                    let _ = writeln!(src, "    let _: {annotated} = {path}({arg});");
                    continue;
                };
                let _ = writeln!(src, "    let parsed: {annotated} = {path}({arg});");
                let bind = match ret {
                    Ret::Result => "if let Ok(value) = parsed {",
                    Ret::Option => "if let Some(value) = parsed {",
                    Ret::Plain => "{\n        let value = parsed;",
                };
                let _ = writeln!(src, "    {bind}");
                let _ = writeln!(src, "        // Values the crate cannot write are not a finding; what it writes it must read.");
                let _ = writeln!(src, "        if let Ok(out) = {ser}(&value) {{");
                let again = match ret {
                    Ret::Result => format!("let again: {v} = match {path}({back}) {{\n                Ok(v) => v,\n                Err(_) => panic!(\"own output {{out:?}} does not parse back\"),\n            }};"),
                    Ret::Option => format!("let again: {v} = match {path}({back}) {{\n                Some(v) => v,\n                None => panic!(\"own output {{out:?}} does not parse back\"),\n            }};"),
                    Ret::Plain => format!("let again: {v} = {path}({back});"),
                };
                let _ = writeln!(src, "            {again}");
                let _ = writeln!(src, "            // Compared as written, not with `==`: NaN and map order make value equality unreliable.");
                let _ = writeln!(src, "            match {ser}(&again) {{");
                let _ = writeln!(src, "                Ok(out2) => assert!(out == out2, \"round trip is not stable: {{out:?}} became {{out2:?}}\"),");
                let _ = writeln!(src, "                Err(_) => panic!(\"a value read back from {{out:?}} cannot be written again\"),");
                let _ = writeln!(src, "            }}");
                let _ = writeln!(src, "        }}");
                let _ = writeln!(src, "    }}");
            }
            EntryCall::Ctor(path, ret, by_ref) => {
                let (m, pass) = if *by_ref {
                    ("mut ", "&mut de")
                } else {
                    ("", "de")
                };
                let _ = writeln!(src, "    {{");
                match ret {
                    Ret::Plain => {
                        let _ = writeln!(src, "        let {m}de = {path}({arg});");
                    }
                    Ret::Result => {
                        let _ = writeln!(src, "        let Ok({m}de) = {path}({arg}) else {{\n            return;\n        }};");
                    }
                    Ret::Option => {
                        let _ = writeln!(src, "        let Some({m}de) = {path}({arg}) else {{\n            return;\n        }};");
                    }
                }
                let _ = writeln!(
                    src,
                    "        let _ = <{v} as serde::Deserialize>::deserialize({pass});"
                );
                let _ = writeln!(src, "    }}");
            }
        }
    }
    let _ = writeln!(src, "}}");
    let mut names: Vec<&str> = fc.entries.iter().map(|e| e.fn_name.as_str()).collect();
    names.sort();
    names.dedup();
    let mut seeds = mined.seeds_for(&names, input.is_text());
    seeds.extend(mined.nested.iter().cloned());
    record.status = TargetStatus::Built;
    record.libfuzzer = Some(ENTRY_LIBFUZZER);
    Emitted {
        record,
        source: Some(src),
        dict: mined.tokens.iter().cloned().collect(),
        seeds,
    }
}

/// Builds the target for one parse entry point (or the skipped record).
pub fn parse_target(
    name: String,
    package: &str,
    item: &ParseItem,
    mined: &Mined,
    crate_root: &Path,
) -> Emitted {
    let mut record = TargetRecord {
        name: name.clone(),
        package: package.into(),
        kind: TargetKind::Parse,
        item: item.item.clone(),
        format: "bytes".into(),
        status: TargetStatus::Skipped,
        reason: None,
        libfuzzer: None,
    };
    let (call, input) = match &item.plan {
        Ok(p) => p.clone(),
        Err(reason) => {
            record.reason = Some(reason.clone());
            return Emitted {
                record,
                source: None,
                dict: vec![],
                seeds: vec![],
            };
        }
    };
    record.format = input.word().into();
    let rel = item
        .file
        .strip_prefix(crate_root)
        .unwrap_or(&item.file)
        .display()
        .to_string();
    let arg = input.expr();
    let (what, call_expr) = match &call {
        ParseCall::Fn(path) => (format!("`{path}`"), format!("{path}({arg})")),
        ParseCall::FromStr(ty) => (
            format!("the `FromStr` impl of `{ty}`"),
            format!("{arg}.parse::<{ty}>()"),
        ),
        ParseCall::TryFrom(ty, a) => (
            format!("the `TryFrom<{a}>` impl of `{ty}`"),
            format!("<{ty} as std::convert::TryFrom<{a}>>::try_from({arg})"),
        ),
    };
    let mut src = String::new();
    let _ = writeln!(
        src,
        "//! Fuzz target `{name}`: feeds the input to {what} ({rel}:{}),",
        item.line
    );
    let _ = writeln!(
        src,
        "//! a hand-written parse entry point, as {}.",
        match input {
            Input::Bytes => "bytes",
            Input::VecU8 => "an owned `Vec<u8>`",
            Input::Str => "`&str` (UTF-8 inputs only)",
            Input::String => "an owned `String` (UTF-8 inputs only)",
            Input::Reader => "a reader over the bytes",
        }
    );
    let _ = writeln!(src, "//!");
    let _ = writeln!(
        src,
        "//! Returning an error is correct; a panic, a stack overflow (the input runs on a reduced"
    );
    let _ = writeln!(src, "//! stack so that unbounded recursion shows), a runaway allocation or a hang is a finding.");
    let _ = writeln!(src, "//! Generated by `cargo airlock gen`.");
    let _ = writeln!(src);
    entry_prelude(&mut src);
    let _ = writeln!(src, "fn one(data: &[u8]) {{");
    if input.is_text() {
        bind_text(&mut src);
    }
    let _ = writeln!(src, "    let _ = {call_expr};");
    let _ = writeln!(src, "}}");
    let names: Vec<&str> = match &call {
        ParseCall::FromStr(_) => vec!["parse", "from_str"],
        _ => vec![item.fn_name.as_str()],
    };
    let mut seeds = mined.seeds_for(&names, input.is_text());
    seeds.extend(mined.nested.iter().cloned());
    record.status = TargetStatus::Built;
    record.libfuzzer = Some(ENTRY_LIBFUZZER);
    Emitted {
        record,
        source: Some(src),
        dict: mined.tokens.iter().cloned().collect(),
        seeds,
    }
}

fn wrap_self(returns: Returns, call: &str) -> String {
    match returns {
        Returns::SelfPlain | Returns::Other => format!("Some({call})"),
        Returns::SelfResult => format!("{call}.ok()"),
        Returns::SelfOption => call.to_string(),
    }
}

fn build_args(args: &[crate::ffi::Arg], bail: &str) -> (Vec<String>, Vec<String>) {
    let mut setup = Vec::new();
    let mut exprs = Vec::new();
    for a in args {
        let (s, e) = a.kind.build(&a.name, bail);
        setup.extend(s);
        exprs.push(e);
    }
    (setup, exprs)
}

fn struct_def(name: &str, args: &[crate::ffi::Arg], indent: &str) -> String {
    let mut s = format!("{indent}struct {name} {{\n");
    for a in args {
        if let Some(t) = a.kind.field_type() {
            let _ = writeln!(s, "{indent}    {}: {t},", a.name);
        }
    }
    s.push_str(&format!("{indent}}}\n"));
    s
}

fn variant_name(c: &Call) -> String {
    c.name.to_upper_camel_case()
}

fn enum_def(name: &str, calls: &[Call]) -> String {
    let mut s = format!("enum {name} {{\n");
    for c in calls {
        let fields: Vec<String> = c
            .args
            .iter()
            .filter_map(|a| a.kind.field_type().map(|t| format!("{}: {t}", a.name)))
            .collect();
        let _ = writeln!(
            s,
            "    /// `{}`",
            if c.callee.contains("::") && c.receiver == Receiver::None {
                c.callee.clone()
            } else {
                c.callee
                    .rsplit("::")
                    .next()
                    .unwrap_or(&c.callee)
                    .to_string()
            }
        );
        if fields.is_empty() {
            let _ = writeln!(s, "    {},", variant_name(c));
        } else {
            let _ = writeln!(s, "    {} {{ {} }},", variant_name(c), fields.join(", "));
        }
    }
    s.push_str("}\n");
    s
}

fn pattern(enum_name: &str, c: &Call) -> String {
    let names: Vec<&str> = c
        .args
        .iter()
        .filter(|a| a.kind.field_type().is_some())
        .map(|a| a.name.as_str())
        .collect();
    if names.is_empty() {
        format!("{enum_name}::{}", variant_name(c))
    } else {
        format!(
            "{enum_name}::{} {{ {} }}",
            variant_name(c),
            names.join(", ")
        )
    }
}

/// Quotes one libFuzzer dictionary entry.
fn dict_entry(s: &[u8]) -> String {
    let mut out = String::from("\"");
    for &b in s {
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02X}")),
        }
    }
    out.push('"');
    out
}

/// Writes the whole project into `out`. Previously generated targets and dictionaries are
/// replaced; corpus directories (which may hold a campaign's findings) are only added to.
pub fn write_project(
    out: &Path,
    crates: &[CrateDep],
    formats: &[FormatDep],
    targets: &[Emitted],
) -> Result<(), GenError> {
    let mkdir = |p: &Path| -> Result<(), GenError> {
        std::fs::create_dir_all(p).map_err(|source| GenError::Write {
            path: p.to_path_buf(),
            source,
        })
    };
    mkdir(out)?;
    // Every file of the project, written at the end in one go.
    let mut files: Vec<(PathBuf, Vec<u8>)> = Vec::new();
    let out_abs = std::path::absolute(out).unwrap_or_else(|_| out.to_path_buf());
    let mut toml = String::new();
    let names: Vec<&str> = crates.iter().map(|c| c.package.as_str()).collect();
    let _ = writeln!(
        toml,
        "# Fuzz targets for {} generated by `cargo airlock gen`.",
        names.join(", ")
    );
    let _ = writeln!(toml, "# A plain cargo-fuzz project: `cargo fuzz run <target>` works, and so does `cargo airlock fuzz`.");
    let _ = writeln!(toml, "# Regenerate rather than edit; targets.json lists every target and every item without one.");
    let _ = writeln!(toml);
    let _ = writeln!(toml, "[package]");
    let _ = writeln!(
        toml,
        "name = \"{}-airlock-fuzz\"",
        crates
            .first()
            .map(|c| c.package.as_str())
            .unwrap_or("crate")
    );
    let _ = writeln!(toml, "version = \"0.0.0\"");
    let _ = writeln!(toml, "publish = false");
    let _ = writeln!(toml, "edition = \"2021\"");
    let _ = writeln!(toml);
    let _ = writeln!(toml, "[package.metadata]");
    let _ = writeln!(toml, "cargo-fuzz = true");
    let _ = writeln!(toml);
    let _ = writeln!(toml, "[dependencies]");
    let mut deps: BTreeMap<String, String> = BTreeMap::new();
    for c in crates {
        let dir = relative(&out_abs, &c.dir);
        let feats: Vec<String> = c.features.iter().map(|f| format!("{f:?}")).collect();
        let source = match &c.registry_version {
            Some(v) => format!("version = \"={v}\""),
            None => format!("path = {:?}", dir.display().to_string()),
        };
        deps.insert(
            c.package.clone(),
            format!(
                "{{ {source}, default-features = false, features = [{}] }}",
                feats.join(", ")
            ),
        );
    }
    for (k, v) in [
        ("libfuzzer-sys", "\"0.4\""),
        ("arbitrary", "{ version = \"1\", features = [\"derive\"] }"),
        ("serde_json", "\"1\""),
    ] {
        deps.entry(k.into()).or_insert_with(|| v.into());
    }
    // Deserializer constructors are driven through the `serde::Deserialize` trait.
    if targets.iter().any(|t| t.record.kind == TargetKind::Format) {
        let (k, v) = ("serde", "\"1\"");
        deps.entry(k.into()).or_insert_with(|| v.into());
    }
    for f in formats {
        deps.entry(f.package.clone())
            .or_insert_with(|| f.dependency.clone());
    }
    for (k, v) in &deps {
        let _ = writeln!(toml, "{k} = {v}");
    }
    let _ = writeln!(toml);
    let _ = writeln!(
        toml,
        "# Its own workspace: building the fuzz targets never involves the crate's workspace."
    );
    let _ = writeln!(toml, "[workspace]");
    let _ = writeln!(toml, "members = [\".\"]");
    let _ = writeln!(toml);
    let _ = writeln!(toml, "[profile.release]");
    let _ = writeln!(toml, "debug = 1");
    for t in targets.iter().filter(|t| t.source.is_some()) {
        let n = &t.record.name;
        let _ = writeln!(toml);
        let _ = writeln!(toml, "[[bin]]");
        let _ = writeln!(toml, "name = \"{n}\"");
        let _ = writeln!(toml, "path = \"fuzz_targets/{n}.rs\"");
        let _ = writeln!(toml, "test = false");
        let _ = writeln!(toml, "doc = false");
        let _ = writeln!(toml, "bench = false");
    }
    files.push((out.join("Cargo.toml"), toml.into_bytes()));
    files.push((
        out.join(".gitignore"),
        b"target\ncorpus\nartifacts\ncoverage\n".to_vec(),
    ));
    let mut dirs = vec![out.join("fuzz_targets"), out.join("dicts")];
    for t in targets {
        let Some(src) = &t.source else { continue };
        let n = &t.record.name;
        files.push((
            out.join("fuzz_targets").join(format!("{n}.rs")),
            src.clone().into_bytes(),
        ));
        if !t.dict.is_empty() {
            let what = match t.record.kind {
                TargetKind::Deserialize => "names from the type's serde shape",
                _ => "tokens from the crate's lexer and literals",
            };
            let mut d = format!("# libFuzzer dictionary for `{n}`: {what}.\n");
            for (i, e) in t.dict.iter().enumerate() {
                let _ = writeln!(d, "kw{}={}", i + 1, dict_entry(e));
            }
            files.push((out.join("dicts").join(format!("{n}.dict")), d.into_bytes()));
        }
        if !t.seeds.is_empty() {
            let dir = out.join("corpus").join(n);
            // Deserialize seeds are JSON; format and parse seeds are the format's own bytes.
            let ext = if t.record.kind == TargetKind::Deserialize {
                ".json"
            } else {
                ""
            };
            for (i, s) in t.seeds.iter().enumerate() {
                files.push((dir.join(format!("seed-{}{ext}", i + 1)), s.clone()));
            }
            dirs.push(dir);
        }
    }
    for d in &dirs {
        mkdir(d)?;
    }
    remove_stale(out, &files)?;
    write_all(files)
}

/// Removes targets and dictionaries of a previous run that this run does not write. Corpus
/// directories are left alone: they may hold a campaign's inputs.
fn remove_stale(out: &Path, files: &[(PathBuf, Vec<u8>)]) -> Result<(), GenError> {
    let keep: std::collections::HashSet<&Path> = files.iter().map(|(p, _)| p.as_path()).collect();
    for sub in ["fuzz_targets", "dicts"] {
        let dir = out.join(sub);
        let entries = std::fs::read_dir(&dir).map_err(|source| GenError::Write {
            path: dir.clone(),
            source,
        })?;
        for e in entries.flatten() {
            let p = e.path();
            if p.extension().is_some_and(|x| x == "rs" || x == "dict")
                && !keep.contains(p.as_path())
            {
                std::fs::remove_file(&p).map_err(|source| GenError::Write {
                    path: p.clone(),
                    source,
                })?;
            }
        }
    }
    Ok(())
}

/// Writes files whose content changed, on two threads: creating thousands of small files is the
/// slowest part of emission on most filesystems.
fn write_all(files: Vec<(PathBuf, Vec<u8>)>) -> Result<(), GenError> {
    let write = |chunk: &[(PathBuf, Vec<u8>)]| -> Result<(), GenError> {
        for (p, text) in chunk {
            if std::fs::read(p).is_ok_and(|old| &old == text) {
                continue;
            }
            std::fs::write(p, text).map_err(|source| GenError::Write {
                path: p.clone(),
                source,
            })?;
        }
        Ok(())
    };
    let (a, b) = files.split_at(files.len() / 2);
    std::thread::scope(|scope| {
        let other = scope.spawn(|| write(b));
        let mine = write(a);
        let theirs = other.join().unwrap_or_else(|_| {
            Err(GenError::Write {
                path: PathBuf::new(),
                source: std::io::Error::other("writer thread panicked"),
            })
        });
        mine.and(theirs)
    })
}

/// Writes `targets.json`.
pub fn write_manifest(out: &Path, records: &[TargetRecord]) -> Result<PathBuf, GenError> {
    let path = out.join("targets.json");
    let mut text = serde_json::to_string_pretty(records).map_err(|e| GenError::Write {
        path: path.clone(),
        source: std::io::Error::other(e),
    })?;
    text.push('\n');
    std::fs::write(&path, text).map_err(|source| GenError::Write {
        path: path.clone(),
        source,
    })?;
    Ok(path)
}

/// `to` relative to `from` when they share a prefix (so the project can move with the crate),
/// else `to` itself.
fn relative(from: &Path, to: &Path) -> PathBuf {
    let to = std::path::absolute(to).unwrap_or_else(|_| to.to_path_buf());
    let a: Vec<_> = from.components().collect();
    let b: Vec<_> = to.components().collect();
    let common = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    if common <= 1 {
        return to;
    }
    let mut p = PathBuf::new();
    for _ in common..a.len() {
        p.push("..");
    }
    for c in &b[common..] {
        p.push(c);
    }
    if p.as_os_str().is_empty() {
        p.push(".");
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stems() {
        assert_eq!(
            target_stem("demo::config::ServerOptions"),
            "config_server_options"
        );
        assert_eq!(target_stem("demo::Wrapper<u32>"), "wrapper_u32");
        assert_eq!(
            target_stem("demo::Enc<std::io::Cursor<Vec<u8>>>"),
            "enc_std_io_cursor_vec_u8"
        );
    }

    #[test]
    fn dict_quoting() {
        assert_eq!(dict_entry(b"\"a\\b\n"), r#""\"a\\b\x0A""#);
    }

    #[test]
    fn relative_paths() {
        assert_eq!(
            relative(Path::new("/w/crate/fuzz"), Path::new("/w/crate")),
            PathBuf::from("..")
        );
        assert_eq!(
            relative(Path::new("/w/out"), Path::new("/w/crate")),
            PathBuf::from("../crate")
        );
    }
}
