//! The probe project (vet's `probe` phase): a plain cargo package beside the fuzz project
//! (stable toolchain, no sanitizers) with one binary, [`PROBE_BIN`], whose entries are the
//! planned probes of [`crate::probe`]. `probe --list` prints the entries; `probe ENTRY
//! [--call-timeout-ms N]` makes that entry's calls: one when it takes no input, else
//! [`ARGUMENT_SETS`] argument sets built with `arbitrary` from a deterministic byte stream
//! (splitmix64 seeded by the entry's name and the set's number; the first set is empty, so every
//! value starts at its zero) plus the crate's seeds, each call under `catch_unwind` (a panic is
//! counted) on a worker thread the main thread waits for at most the call timeout (a call that
//! overruns it is counted and ends the entry). Its last line on stdout is a JSON summary:
//! `{"entry":..,"calls":..,"panics":..,"timeouts":..,"unbuilt":..}` (`unbuilt`: argument sets
//! `arbitrary` could not build a value from, or a constructor that returned no value).
//!
//! The project's `Cargo.toml` depends on the crate by path (with its resolved features,
//! default features off) and on `arbitrary`; `Cargo.lock` starts as a copy of the workspace's;
//! `probes.json` ([`ProbeManifest`]) lists the entries and the public functions skipped.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::error::GenError;
use crate::probe::{
    self, PlannedEntry, ProbeEntry, ProbeManifest, ProbeOptions, ProbeSlot, Receiver,
    ARGUMENT_SETS, PROBE_BIN,
};
use crate::stateful::Wrap;
use crate::{callgraph, cfg, model, source, workspace};

/// Writes the probe project of `opts.package` into `opts.out_dir` and returns its manifest.
pub fn generate_probes(opts: &ProbeOptions) -> Result<ProbeManifest, GenError> {
    let selection = workspace::select(
        opts.manifest_path.as_deref(),
        std::slice::from_ref(&opts.package),
    )?;
    let Some(p) = selection.packages.first() else {
        return Err(GenError::NoLibrary {
            name: opts.package.clone(),
            manifest: selection.workspace_root.join("Cargo.toml"),
        });
    };
    let cfg = cfg::CfgEnv::with_features(p.features.iter().cloned());
    let tree = source::load(&p.root, &cfg)?;
    let model = model::CrateModel::build(&p.code_name, tree, p.edition_2015);
    let graph = callgraph::call_graph(&model, &p.ffi_crates);
    let mut plan = probe::plan(&model, &graph);
    let crate_dir = p.manifest.parent().map(PathBuf::from).unwrap_or_default();
    let sources: Vec<PathBuf> = model
        .tree
        .modules
        .iter()
        .map(|m| m.file.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    plan.entries.retain(|e| {
        let excluded = opts.exclude.iter().find(|x| x.item == e.name);
        if let Some(x) = excluded {
            plan.skipped.push(x.clone());
        }
        excluded.is_none()
    });
    plan.skipped.sort_by(|a, b| a.item.cmp(&b.item));
    probe::add_seeds(&mut plan.entries, &crate_dir, &sources);
    let out = &opts.out_dir;
    let write = |path: PathBuf, data: &[u8]| -> Result<(), GenError> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|source| GenError::Write {
                path: parent.to_owned(),
                source,
            })?;
        }
        std::fs::write(&path, data).map_err(|source| GenError::Write { path, source })
    };
    let out_abs = std::path::absolute(out).unwrap_or_else(|_| out.clone());
    write(
        out.join("Cargo.toml"),
        cargo_toml(&p.name, &p.version, &out_abs, &crate_dir, &p.features).as_bytes(),
    )?;
    write(
        out.join("src/main.rs"),
        source_text(&p.name, &p.version, &plan.entries).as_bytes(),
    )?;
    let lock = selection.workspace_root.join("Cargo.lock");
    let probe_lock = out.join("Cargo.lock");
    if lock.is_file() && !probe_lock.exists() {
        std::fs::copy(&lock, &probe_lock).map_err(|source| GenError::Write {
            path: probe_lock.clone(),
            source,
        })?;
    }
    let manifest = ProbeManifest {
        package: p.name.clone(),
        version: p.version.clone(),
        binary: PROBE_BIN.to_owned(),
        entries: plan
            .entries
            .iter()
            .map(|e| ProbeEntry {
                name: e.name.clone(),
                item: e.item.clone(),
                constructor: e.receiver.as_ref().map(constructor_name),
                inputs: e
                    .receiver
                    .iter()
                    .flat_map(|r| r.inputs.iter().cloned())
                    .chain(e.inputs.iter().cloned())
                    .collect(),
                calls: e.calls(),
            })
            .collect(),
        skipped: plan.skipped,
    };
    let json = serde_json::to_vec_pretty(&manifest).map_err(|e| GenError::Write {
        path: ProbeManifest::path_in(out),
        source: std::io::Error::other(e),
    })?;
    write(ProbeManifest::path_in(out), &json)?;
    Ok(manifest)
}

/// How `probes.json` names a receiver's constructor: its path (`demo::T::new`, `Default`).
fn constructor_name(r: &Receiver) -> String {
    match &r.args {
        Some(_) => r.ctor.clone(),
        None => r.ctor.trim_end_matches("()").to_owned(),
    }
}

/// The project's `Cargo.toml`, values written by the `toml` crate.
fn cargo_toml(
    name: &str,
    version: &str,
    out_abs: &Path,
    crate_dir: &Path,
    features: &[String],
) -> String {
    let mut dep = toml::Table::new();
    let path = pathdiff(out_abs, crate_dir);
    dep.insert("path".into(), path.display().to_string().into());
    dep.insert("default-features".into(), false.into());
    dep.insert(
        "features".into(),
        toml::Value::Array(features.iter().map(|f| f.clone().into()).collect()),
    );
    let mut deps = toml::Table::new();
    deps.insert(name.into(), toml::Value::Table(dep));
    deps.insert("arbitrary".into(), "1".into());
    let mut package = toml::Table::new();
    package.insert("name".into(), format!("{name}-airlock-probe").into());
    package.insert("version".into(), "0.0.0".into());
    package.insert("edition".into(), "2021".into());
    package.insert("publish".into(), false.into());
    let mut bin = toml::Table::new();
    bin.insert("name".into(), PROBE_BIN.into());
    bin.insert("path".into(), "src/main.rs".into());
    let mut doc = toml::Table::new();
    doc.insert("package".into(), toml::Value::Table(package));
    doc.insert(
        "bin".into(),
        toml::Value::Array(vec![toml::Value::Table(bin)]),
    );
    doc.insert("dependencies".into(), toml::Value::Table(deps));
    doc.insert("workspace".into(), toml::Value::Table(toml::Table::new()));
    format!(
        "# Probes of {name} {version} generated by cargo-airlock (vet's `probe` phase).\n\
         # `probe --list` prints the entries, `probe ENTRY` calls one; probes.json lists them.\n\n{}",
        toml::to_string(&doc).unwrap_or_default()
    )
}

/// `to` relative to `from` when they share a root, else `to` itself.
fn pathdiff(from: &Path, to: &Path) -> PathBuf {
    let to = std::path::absolute(to).unwrap_or_else(|_| to.to_owned());
    let common = from
        .components()
        .zip(to.components())
        .take_while(|(a, b)| a == b)
        .count();
    if common <= 1 {
        return to;
    }
    let mut out = PathBuf::new();
    for _ in from.components().skip(common) {
        out.push("..");
    }
    for c in to.components().skip(common) {
        out.push(c);
    }
    out
}

/// The binary's source.
pub(crate) fn source_text(name: &str, version: &str, entries: &[PlannedEntry]) -> String {
    let mut src = String::new();
    let _ = writeln!(
        src,
        "//! Probes of {name} {version}, generated by cargo-airlock (vet's `probe` phase): every"
    );
    src.push_str(&PRELUDE.replace("@SETS@", &ARGUMENT_SETS.to_string()));
    src.push_str("const ENTRIES: &[Entry] = &[\n");
    for (i, e) in entries.iter().enumerate() {
        let seeds = if e.seeds.is_empty() {
            "&[]".to_owned()
        } else {
            format!(
                "&[{}]",
                e.seeds
                    .iter()
                    .map(|s| byte_string(s))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        let _ = writeln!(
            src,
            "    Entry {{\n        name: {:?},\n        takes_input: {},\n        call: e{i},\n        seeds: {seeds},\n    }},",
            e.name,
            !e.takes_no_input()
        );
    }
    src.push_str("];\n");
    for (i, e) in entries.iter().enumerate() {
        entry_fn(&mut src, i, e);
    }
    src
}

/// A byte string literal.
fn byte_string(bytes: &[u8]) -> String {
    let mut out = String::from("b\"");
    for &b in bytes {
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            0x20..=0x7e => out.push(b as char),
            _ => {
                let _ = write!(out, "\\x{b:02x}");
            }
        }
    }
    out.push('"');
    out
}

/// One input field: its type when it reads from the byte stream.
fn field_type(slot: &ProbeSlot) -> Option<String> {
    match slot {
        ProbeSlot::Kind(k) | ProbeSlot::Ref(k) => k.field_type(),
        ProbeSlot::Path { .. } => Some("String".into()),
        ProbeSlot::Closure(_) => None,
    }
}

/// The statements that build each argument and the argument expressions.
fn build_args(
    slots: &[(String, &ProbeSlot)],
    last_field: Option<&str>,
    stmts: &mut Vec<String>,
) -> Vec<String> {
    let mut exprs = Vec::new();
    for (var, slot) in slots {
        if let Some(ty) = field_type(slot) {
            let read = if last_field == Some(var.as_str()) {
                format!("<{ty} as Arbitrary>::arbitrary_take_rest(u)?")
            } else {
                "u.arbitrary()?".to_owned()
            };
            stmts.push(format!("let {var}_value: {ty} = {read};"));
            stmts.push(format!("let {var} = &{var}_value;"));
        }
        match slot {
            ProbeSlot::Kind(k) => {
                let (pre, expr) = k.build(var, "return Ok(());");
                stmts.extend(pre);
                exprs.push(expr);
            }
            ProbeSlot::Ref(k) => {
                let (pre, expr) = k.build(var, "return Ok(());");
                stmts.extend(pre);
                exprs.push(format!("&{expr}"));
            }
            ProbeSlot::Path { owned: false } => {
                exprs.push(format!("std::path::Path::new({var}.as_str())"));
            }
            ProbeSlot::Path { owned: true } => {
                exprs.push(format!("std::path::PathBuf::from({var})"));
            }
            ProbeSlot::Closure(c) => exprs.push(c.clone()),
        }
    }
    exprs
}

/// `fn eN(data: &[u8])`: builds the receiver and the arguments, and makes the call.
fn entry_fn(src: &mut String, i: usize, e: &PlannedEntry) {
    let ctor_slots: Vec<(String, &ProbeSlot)> = e
        .receiver
        .iter()
        .flat_map(|r| r.args.iter().flatten())
        .enumerate()
        .map(|(j, s)| (format!("c{j}"), s))
        .collect();
    let arg_slots: Vec<(String, &ProbeSlot)> = e
        .args
        .iter()
        .enumerate()
        .map(|(j, s)| (format!("a{j}"), s))
        .collect();
    let last_field = ctor_slots
        .iter()
        .chain(&arg_slots)
        .rev()
        .find(|(_, s)| field_type(s).is_some())
        .map(|(v, _)| v.clone());
    let mut stmts = Vec::new();
    if last_field.is_some() {
        stmts.push("let mut u = Unstructured::new(data);".to_owned());
    }
    let call = match &e.receiver {
        Some(r) => {
            let ctor_exprs = build_args(&ctor_slots, last_field.as_deref(), &mut stmts);
            let made = match &r.args {
                Some(_) => format!("{}({})", r.ctor, ctor_exprs.join(", ")),
                None => r.ctor.clone(),
            };
            stmts.push(match r.wrap {
                Wrap::Plain => format!("let mut recv = {made};"),
                Wrap::Result => {
                    format!("let Ok(mut recv) = {made} else {{\n    return Err(NO_VALUE);\n}};")
                }
                Wrap::Option => {
                    format!("let Some(mut recv) = {made} else {{\n    return Err(NO_VALUE);\n}};")
                }
            });
            let exprs = build_args(&arg_slots, last_field.as_deref(), &mut stmts);
            call_stmt(&format!("recv.{}", e.callee), &exprs)
        }
        None => {
            let exprs = build_args(&arg_slots, last_field.as_deref(), &mut stmts);
            call_stmt(&e.callee, &exprs)
        }
    };
    stmts.push(call);
    // An iterator's or a future's code runs only when it is driven.
    stmts.push("drive!(returned);".to_owned());
    let param = if last_field.is_some() {
        "data"
    } else {
        "_data"
    };
    let _ = writeln!(src, "\n/// `{}`.", e.item);
    let _ = writeln!(src, "fn e{i}({param}: &[u8]) -> arbitrary::Result<()> {{");
    for s in stmts {
        super::target::push_indented(src, "    ", &s);
    }
    src.push_str("    Ok(())\n}\n");
}

/// `let returned = callee(args);` as rustfmt lays it out at the entry function's indent: on
/// one line when it fits, else the call on the next line when that fits, else one argument per
/// line. ([`entry_fn`] then drives what it returned.)
fn call_stmt(callee: &str, args: &[String]) -> String {
    const LET: &str = "let returned =";
    let rhs = format!("{callee}({});", args.join(", "));
    let width = super::target::MAX_WIDTH;
    if format!("    {LET} {rhs}").len() <= width || args.is_empty() {
        return format!("{LET} {rhs}");
    }
    if rhs.len() + 8 <= width {
        return format!("{LET}\n    {rhs}");
    }
    let mut out = format!("{LET} {callee}(\n");
    for a in args {
        let _ = writeln!(out, "    {a},");
    }
    out.push_str(");");
    out
}

/// The fixed part of the binary (after the first line of its doc): the entry table's type,
/// `main`, the byte stream and the loop that makes the calls; `@SETS@` is [`ARGUMENT_SETS`].
const PRELUDE: &str = include_str!("probe_main.rs.txt");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_strings_escape_what_rust_needs() {
        assert_eq!(byte_string(b"a\"b\\\n\xff"), "b\"a\\\"b\\\\\\x0a\\xff\"");
    }

    #[test]
    fn the_crate_is_a_relative_path_dependency_with_its_features() {
        let text = cargo_toml(
            "demo",
            "1.0.0",
            Path::new("/c/scratch/probe"),
            Path::new("/c/src/demo-1.0.0"),
            &["std".into()],
        );
        let doc: toml::Table = toml::from_str(&text).unwrap();
        let dep = &doc["dependencies"]["demo"];
        assert_eq!(dep["path"].as_str(), Some("../../src/demo-1.0.0"));
        assert_eq!(dep["default-features"].as_bool(), Some(false));
        assert_eq!(doc["bin"][0]["name"].as_str(), Some(PROBE_BIN));
        assert!(doc.contains_key("workspace"));
    }
}

#[cfg(test)]
mod project_tests {
    use super::*;

    #[test]
    fn a_project_is_written_for_a_workspace_member() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("demo/src")).unwrap();
        std::fs::write(
            root.join("demo/Cargo.toml"),
            "[package]\nname = \"demo\"\nversion = \"0.3.0\"\nedition = \"2021\"\n[workspace]\n",
        )
        .unwrap();
        std::fs::write(
            root.join("demo/src/lib.rs"),
            r#"
pub fn run() {}
pub fn greet(name: &str) -> String { format!("hi {name}") }
pub fn pair(a: u8, b: Option<String>, p: &std::path::Path) {}
pub fn with_a_rather_long_name_for_a_function(first_path: &std::path::Path, second: Option<String>) {}
pub fn with_a_rather_long_name_and_many_arguments(first_path: &std::path::Path, second: Option<String>, third: &str) {}
pub struct Updater { n: u32 }
impl Updater {
    pub fn new() -> Self { Updater { n: 0 } }
    pub fn run(&mut self) { self.n += 1; }
}
pub struct Conn;
impl Conn {
    pub fn open(addr: &str) -> Option<Conn> { Some(Conn) }
    pub fn send(self, data: &[u8], retries: u32) {}
}
pub unsafe fn raw() {}
"#,
        )
        .unwrap();
        let out = root.join("probe");
        let manifest = generate_probes(&ProbeOptions {
            manifest_path: Some(root.join("demo/Cargo.toml")),
            package: "demo".into(),
            out_dir: out.clone(),
            exclude: vec![],
        })
        .unwrap();
        let names: Vec<&str> = manifest.entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "demo::Conn::open",
                "demo::Conn::send",
                "demo::Updater::new",
                "demo::Updater::run",
                "demo::greet",
                "demo::pair",
                "demo::run",
                "demo::with_a_rather_long_name_and_many_arguments",
                "demo::with_a_rather_long_name_for_a_function"
            ]
        );
        assert_eq!(manifest.skipped[0].item, "demo::raw");
        assert_eq!(ProbeManifest::read(&out).unwrap(), manifest);
        let send = &manifest.entries[1];
        assert_eq!(send.constructor.as_deref(), Some("demo::Conn::open"));
        assert_eq!(send.inputs, ["&str", "&[u8]", "u32"]);
        let src = std::fs::read_to_string(out.join("src/main.rs")).unwrap();
        syn::parse_file(&src).unwrap_or_else(|e| panic!("{e}\n{src}"));
        // Laid out as rustfmt lays it out, like every generated target.
        let rustfmt = std::env::var_os("RUSTFMT").unwrap_or_else(|| "rustfmt".into());
        let output = std::process::Command::new(rustfmt)
            .args(["--check", "--edition", "2021"])
            .arg(out.join("src/main.rs"))
            .output()
            .expect("rustfmt runs (install it with `rustup component add rustfmt`)");
        assert!(
            output.status.success(),
            "the probe source is not rustfmt-formatted:\n{}",
            String::from_utf8_lossy(&output.stdout)
        );
    }
}
