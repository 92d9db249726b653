//! **Probes**: which public functions and methods of a crate a generated program can call, and
//! how (vet's `probe` phase). Callable means: a free function or an associated function (`new`,
//! `with_capacity`, `open`...) whose arguments `arbitrary` can build, and a method (`&self`,
//! `&mut self`, `self`) of a public, non-generic type that has a constructor the probe can call
//! (`Default`, a public `new()`, else a `new`-style function with arguments it can build).
//! Arguments are what `args::classify` builds for fuzz targets (integers, `bool`,
//! `char`, floats, text, bytes, slices and vectors of primitives, options, tuples, the crate's
//! unit enums and types with a `new` of primitives, readers and writers), closures for
//! `Fn` parameters (`stateful::extra_slot`), and paths (`&Path`, `PathBuf`,
//! `impl AsRef<Path>`), which fuzz targets refuse but a sandboxed probe may use.
//!
//! Every public function seen is either an entry of the plan or a [`ProbeSkip`] saying why not;
//! trait methods are not entries (their callers are generic code). `emit::probe` turns
//! the plan into the probe project; [`ProbeManifest`] (`probes.json`) is what the runner reads.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use syn::{FnArg, Type};

use crate::args::{classify, param_bounds, ArgKind, Bound, Bounds};
use crate::callgraph::{CallGraph, FnNode};
use crate::error::GenError;
use crate::model::CrateModel;
use crate::source::ModId;
use crate::stateful::{ctor_wrap, extra_slot, plain_value, Slot, Wrap};
use crate::types::{self, show_ty};

/// The manifest's file name in the probe project.
pub const PROBES_FILE: &str = "probes.json";

/// The probe binary's name (`probe --list`, `probe ENTRY`).
pub const PROBE_BIN: &str = "probe";

/// Argument sets built from the deterministic byte stream for each entry that takes input.
pub const ARGUMENT_SETS: usize = 64;

/// What `generate_probes` should do.
#[derive(Debug, Clone, Default)]
pub struct ProbeOptions {
    /// The manifest of a workspace whose dependency graph holds the crate (`None`: the current
    /// directory's).
    pub manifest_path: Option<PathBuf>,
    /// The crate to probe: `name` or `name@version`, a member or any dependency.
    pub package: String,
    /// Where the probe project is written.
    pub out_dir: PathBuf,
    /// Entries to leave out (by name), with the reason `probes.json` gives (for example that
    /// a previous build of the project could not compile their calls).
    pub exclude: Vec<ProbeSkip>,
}

/// One entry of the probe binary: an item and how many calls it makes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ProbeEntry {
    /// The name `probe ENTRY` takes: the item's public path (`logs_update::run`,
    /// `progress::Updater::run`), with `#2` after a repeated one.
    pub name: String,
    /// The item's public path.
    pub item: String,
    /// The receiver's constructor, for a method (`progress::Updater::new`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub constructor: Option<String>,
    /// The argument types as written (the constructor's first).
    pub inputs: Vec<String>,
    /// Calls the entry makes: one when it takes no input (every call would be the same), else
    /// [`ARGUMENT_SETS`] plus its seeds.
    pub calls: usize,
}

/// A public function without an entry, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ProbeSkip {
    /// The item's public path.
    pub item: String,
    /// Why no probe calls it.
    pub reason: String,
}

/// `probes.json`: the entries of the probe binary and the public functions without one.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ProbeManifest {
    /// The probed package.
    pub package: String,
    /// Its version.
    pub version: String,
    /// The binary's name inside the project ([`PROBE_BIN`]).
    pub binary: String,
    /// Entries in the binary's order.
    pub entries: Vec<ProbeEntry>,
    /// Public functions and methods without an entry.
    pub skipped: Vec<ProbeSkip>,
}

impl ProbeManifest {
    /// `probes.json` in the project `dir`.
    pub fn path_in(dir: &Path) -> PathBuf {
        dir.join(PROBES_FILE)
    }

    /// Reads `probes.json` from the project `dir`.
    pub fn read(dir: &Path) -> Result<ProbeManifest, GenError> {
        let path = Self::path_in(dir);
        let text = std::fs::read(&path).map_err(|source| GenError::ReadSource {
            path: path.clone(),
            source,
        })?;
        serde_json::from_slice(&text).map_err(|e| GenError::ReadSource {
            path,
            source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
        })
    }
}

/// How one argument of a probed call is built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ProbeSlot {
    /// As fuzz targets build it.
    Kind(ArgKind),
    /// A reference to one of the crate's own types built by value (`&Version` from
    /// `Version::new(..)`, a unit enum's variant).
    Ref(ArgKind),
    /// A path from an arbitrary string: `&Path` (borrowed) or `PathBuf` (owned; also for
    /// `impl AsRef<Path>`).
    Path {
        /// `PathBuf` rather than `&Path`.
        owned: bool,
    },
    /// A generated closure, as written.
    Closure(String),
}

/// How a method's receiver is made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Receiver {
    /// The constructor's path (`demo::T::new`) or, for a zero-argument one, the whole expression
    /// (`<demo::T as Default>::default()`, when `args` is None).
    pub ctor: String,
    /// The constructor's arguments; None when `ctor` is a complete expression.
    pub args: Option<Vec<ProbeSlot>>,
    /// How it returns the value.
    pub wrap: Wrap,
    /// Its argument types as written.
    pub inputs: Vec<String>,
}

/// One planned entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PlannedEntry {
    /// The entry's name (the item path, made unique).
    pub name: String,
    /// The item's public path.
    pub item: String,
    /// The function's own name (seeds are mined by it).
    pub fn_name: String,
    /// The receiver, for a method.
    pub receiver: Option<Receiver>,
    /// The callee's path for a function, the method's name for a method.
    pub callee: String,
    /// Its arguments (besides the receiver).
    pub args: Vec<ProbeSlot>,
    /// Its argument types as written.
    pub inputs: Vec<String>,
    /// Raw inputs for an entry whose one input is text or bytes (from the crate's tests,
    /// examples and docs, as parse targets get them).
    pub seeds: Vec<Vec<u8>>,
}

impl PlannedEntry {
    /// Whether every call would be the same (nothing is built from the byte stream).
    pub(crate) fn takes_no_input(&self) -> bool {
        let receiver = self.receiver.iter().flat_map(|r| r.args.iter().flatten());
        !receiver.chain(&self.args).any(ProbeSlot::takes_input)
    }

    /// The calls the entry makes.
    pub(crate) fn calls(&self) -> usize {
        if self.takes_no_input() {
            1
        } else {
            ARGUMENT_SETS + self.seeds.len()
        }
    }

    /// The one text or bytes input seeds can stand for, when that is all the entry takes.
    fn seedable(&self) -> Option<bool> {
        if self.receiver.as_ref().is_some_and(|r| r.args.is_some()) || self.args.len() != 1 {
            return None;
        }
        match &self.args[0] {
            ProbeSlot::Kind(ArgKind::Str | ArgKind::String | ArgKind::AsRefStr) => Some(true),
            ProbeSlot::Kind(ArgKind::Bytes | ArgKind::VecU8 | ArgKind::AsRefBytes) => Some(false),
            _ => None,
        }
    }
}

impl ProbeSlot {
    /// Whether the slot reads from the byte stream.
    pub(crate) fn takes_input(&self) -> bool {
        match self {
            ProbeSlot::Kind(k) | ProbeSlot::Ref(k) => k.field_type().is_some(),
            ProbeSlot::Path { .. } => true,
            ProbeSlot::Closure(_) => false,
        }
    }
}

/// The plan: entries and the public functions skipped.
#[derive(Debug, Clone, Default)]
pub(crate) struct Plan {
    pub entries: Vec<PlannedEntry>,
    pub skipped: Vec<ProbeSkip>,
}

/// Plans the probes of a crate.
pub(crate) fn plan(model: &CrateModel, graph: &CallGraph) -> Plan {
    let mut out = Plan::default();
    let mut ctors: HashMap<usize, Result<Receiver, String>> = HashMap::new();
    let mut names: BTreeSet<String> = BTreeSet::new();
    for node in &graph.nodes {
        let Some((item, owner)) = public_item(model, node) else {
            continue;
        };
        let receiver = match node.sig.inputs.first() {
            Some(FnArg::Receiver(rc)) => Some(rc),
            _ => None,
        };
        let planned = check(model, node).and_then(|args| {
            let receiver = match (receiver, owner) {
                (Some(rc), Some(t)) => {
                    if rc.colon_token.is_some() {
                        return Err(format!(
                            "its receiver `self: {}` is not one a probe builds",
                            show_ty(&rc.ty)
                        ));
                    }
                    let r = ctors
                        .entry(t)
                        .or_insert_with(|| constructor(model, graph, t))
                        .clone()?;
                    Some(r)
                }
                _ => None,
            };
            let inputs = node
                .sig
                .inputs
                .iter()
                .filter_map(|a| match a {
                    FnArg::Typed(pt) => Some(show_ty(&pt.ty)),
                    FnArg::Receiver(_) => None,
                })
                .collect();
            let callee = if receiver.is_some() {
                node.name.clone()
            } else {
                item.clone()
            };
            Ok(PlannedEntry {
                name: String::new(),
                item: item.clone(),
                fn_name: node.name.clone(),
                receiver,
                callee,
                args,
                inputs,
                seeds: Vec::new(),
            })
        });
        match planned {
            Ok(mut e) => {
                let mut name = item.clone();
                let mut n = 2;
                while !names.insert(name.clone()) {
                    name = format!("{item}#{n}");
                    n += 1;
                }
                e.name = name;
                out.entries.push(e);
            }
            Err(reason) => out.skipped.push(ProbeSkip { item, reason }),
        }
    }
    out.entries.sort_by(|a, b| a.name.cmp(&b.name));
    out.skipped.sort_by(|a, b| a.item.cmp(&b.item));
    out
}

/// The public path of a free function or of an inherent method of a public type (with the
/// type's definition), or None when it is not public API (private, a trait method).
fn public_item(model: &CrateModel, node: &FnNode) -> Option<(String, Option<usize>)> {
    if node.trait_name.is_some() || !node.is_pub {
        return None;
    }
    if let Some(d) = node.free {
        return Some((model.public_path(d)?, None));
    }
    let (_, Some(t)) = node.imp? else {
        return None;
    };
    Some((format!("{}::{}", model.public_path(t)?, node.name), Some(t)))
}

/// The arguments of a function (besides its receiver), or why a probe cannot call it.
fn check(model: &CrateModel, node: &FnNode) -> Result<Vec<ProbeSlot>, String> {
    let sig = &node.sig;
    if sig.unsafety.is_some() {
        return Err("unsafe: calling it is the caller's contract".into());
    }
    if sig.variadic.is_some() {
        return Err("variadic".into());
    }
    let mut generics = vec![&sig.generics];
    if let Some((r, _)) = node.imp {
        let imp = model.impl_item(r);
        if imp.generics.type_params().next().is_some() {
            return Err(format!(
                "a method of the generic type `{}`",
                show_ty(&imp.self_ty)
            ));
        }
        generics.push(&imp.generics);
    }
    if sig.generics.const_params().next().is_some() {
        return Err("takes a const generic parameter".into());
    }
    let bounds = param_bounds(&generics);
    let mut args = Vec::new();
    for a in &sig.inputs {
        let FnArg::Typed(pt) = a else { continue };
        let slot = slot(model, node.module, pt, &bounds).map_err(|why| {
            let name = match &*pt.pat {
                syn::Pat::Ident(pi) => pi.ident.to_string(),
                _ => "_".to_owned(),
            };
            format!("argument `{name}`: {why}")
        })?;
        args.push(slot);
    }
    for p in sig.generics.type_params() {
        let used = sig.inputs.iter().any(|a| match a {
            FnArg::Typed(pt) => types::inner_paths(&pt.ty)
                .iter()
                .any(|q| q.is_ident(&p.ident)),
            FnArg::Receiver(_) => false,
        });
        if !used {
            return Err(format!("generic `{}` is fixed by no argument", p.ident));
        }
    }
    Ok(args)
}

/// How one argument is built, or why it cannot be.
fn slot(
    model: &CrateModel,
    m: ModId,
    pt: &syn::PatType,
    bounds: &Bounds,
) -> Result<ProbeSlot, String> {
    if let Some(owned) = path_arg(&pt.ty, bounds) {
        return Ok(ProbeSlot::Path { owned });
    }
    if let Type::Reference(r) = &*pt.ty {
        if r.mutability.is_none() {
            if let Ok(k @ (ArgKind::Ctor(..) | ArgKind::UnitEnum(_))) =
                classify(model, m, &r.elem, bounds, 1)
            {
                return Ok(ProbeSlot::Ref(k));
            }
        }
    }
    match extra_slot(pt, bounds, classify(model, m, &pt.ty, bounds, 0))? {
        Slot::Value(k) => Ok(ProbeSlot::Kind(k)),
        Slot::Closure(c) => Ok(ProbeSlot::Closure(c)),
        Slot::Input => Err("no value for it".into()),
    }
}

/// `Some(owned)` when `ty` takes a filesystem path: `&Path`, `PathBuf`, `impl AsRef<Path>`,
/// `impl Into<PathBuf>` or a type parameter bound so.
fn path_arg(ty: &Type, bounds: &Bounds) -> Option<bool> {
    let path_bound = |b: &Bound| {
        let (name, text) = (b.name(), b.to_string());
        (name == "AsRef" && text.ends_with("Path>"))
            || (name == "Into" && text.ends_with("PathBuf>"))
    };
    match ty {
        Type::Reference(r) if r.mutability.is_none() => {
            types::last_segment(&r.elem).and_then(|(id, _)| (id == "Path").then_some(false))
        }
        Type::ImplTrait(it) => it
            .bounds
            .iter()
            .any(|b| matches!(b, syn::TypeParamBound::Trait(t) if path_bound(&Bound(t.path.clone()))))
            .then_some(true),
        Type::Path(tp) if tp.qself.is_none() => {
            if let Some(b) = tp.path.get_ident().and_then(|id| bounds.get(&id.to_string())) {
                return b.iter().any(path_bound).then_some(true);
            }
            types::last_segment(ty).and_then(|(id, _)| (id == "PathBuf").then_some(true))
        }
        _ => None,
    }
}

/// How a value of the public type `t` is made for its methods: `Default` or a public `new()`,
/// else a public non-generic associated function returning it (`new` first, then the one with
/// the fewest arguments) whose arguments a probe can build.
fn constructor(model: &CrateModel, graph: &CallGraph, t: usize) -> Result<Receiver, String> {
    let name = &model.defs[t].name;
    if types::generics_of(model.item(t)).is_some_and(|g| g.type_params().next().is_some()) {
        return Err(format!("a method of the generic type `{name}`"));
    }
    if let Some(expr) = plain_value(model, graph, t) {
        return Ok(Receiver {
            ctor: expr,
            args: None,
            wrap: Wrap::Plain,
            inputs: Vec::new(),
        });
    }
    let public = model
        .public_path(t)
        .ok_or_else(|| format!("`{name}` is not public"))?;
    let mut found: Vec<(bool, usize, String, Receiver)> = Vec::new();
    for node in &graph.nodes {
        if !matches!(node.imp, Some((_, Some(d))) if d == t)
            || node.trait_name.is_some()
            || !node.is_pub
            || matches!(node.sig.inputs.first(), Some(FnArg::Receiver(_)))
            || node.sig.generics.type_params().next().is_some()
        {
            continue;
        }
        let Some(wrap) = ctor_wrap(model, t, &node.sig) else {
            continue;
        };
        let Ok(args) = check(model, node) else {
            continue;
        };
        let inputs = node
            .sig
            .inputs
            .iter()
            .filter_map(|a| match a {
                FnArg::Typed(pt) => Some(show_ty(&pt.ty)),
                FnArg::Receiver(_) => None,
            })
            .collect();
        found.push((
            node.name != "new",
            args.len(),
            node.name.clone(),
            Receiver {
                ctor: format!("{public}::{}", node.name),
                args: Some(args),
                wrap,
                inputs,
            },
        ));
    }
    found.sort_by(|a, b| (a.0, a.1, &a.2).cmp(&(b.0, b.1, &b.2)));
    found.into_iter().next().map(|f| f.3).ok_or_else(|| {
        format!(
            "`{name}` has no constructor a probe can call (no `Default`, no public function \
             returning it with arguments a probe can build)"
        )
    })
}

/// Adds the crate's mined example inputs to the entries whose one input is text or bytes.
pub(crate) fn add_seeds(entries: &mut [PlannedEntry], crate_dir: &Path, sources: &[PathBuf]) {
    let names: BTreeSet<String> = entries
        .iter()
        .filter(|e| e.seedable().is_some())
        .map(|e| e.fn_name.clone())
        .collect();
    if names.is_empty() {
        return;
    }
    let mined = crate::mining::mine(crate_dir, sources, &names);
    for e in entries.iter_mut() {
        if let Some(text) = e.seedable() {
            e.seeds = mined.seeds_for(&[e.fn_name.as_str()], text);
            e.seeds.retain(|s| s.len() <= MAX_SEED_LEN);
        }
    }
}

/// Seeds longer than this are left out of the generated source.
const MAX_SEED_LEN: usize = 4096;

#[cfg(test)]
mod tests;
