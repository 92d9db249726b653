//! Discovery of **format crates**: crates that implement `serde::Deserializer` (through `serde`,
//! `serde::de` or `serde_core`) for a type of their own. For such a crate this module finds
//!
//! - its entry points: public safe functions generic over a `Deserialize`/`DeserializeOwned`
//!   result whose only other argument is the input (`from_str`, `from_slice`, `from_reader`,
//!   `deserialize`, ...), whatever they are called;
//! - the constructors of its `Deserializer` types that take the input (`Deserializer::from_str`,
//!   `Deserializer::new(reader)`), with whether the trait is implemented for `&mut D` or `D`;
//! - its own dynamic value type (a public, non-generic Deserialize type named `Value`);
//! - its serializers to text and to bytes (public functions generic over `T: Serialize` taking
//!   `&T` and returning a `String` or `Vec<u8>`), for a round-trip check.
//!
//! Entry points that take more than the input (options, seeds) are kept with the reason they get
//! no target.

use std::collections::{BTreeSet, HashMap};

use syn::{FnArg, ReturnType, Type};

use crate::args::{classify, is_deserialize_bound, param_bounds, Bounds, Input};
use crate::callgraph::CallGraph;
use crate::deser::DeserItem;
use crate::model::{segs, CrateModel, DefId, Ns, Res};
use crate::types::{self, self_def, show_ty};

/// How an entry point returns the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ret {
    /// `Result<T, _>` (or an alias ending in `Result`).
    Result,
    /// `Option<T>`.
    Option,
    /// `T` itself.
    Plain,
}

/// How a target reaches the crate's deserializer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryCall {
    /// A generic function: its public path and how it returns `T`.
    Fn(String, Ret),
    /// A `Deserializer` constructor: its public path, whether the constructor returns a
    /// `Result`/`Option` (`Some(Ret)`) or the deserializer itself, and whether
    /// `serde::Deserializer` is implemented for `&mut D` (`true`) or `D`.
    Ctor(String, Ret, bool),
}

/// One entry point of a format crate.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The public path (`toml::from_str`, `toml::Deserializer::new`).
    pub item: String,
    /// The function's name (for finding example inputs).
    pub fn_name: String,
    /// The call and the input it takes, or why there is no target.
    pub plan: Result<(EntryCall, Input), String>,
    /// Source file.
    pub file: std::path::PathBuf,
    /// Line.
    pub line: usize,
}

/// A format crate's discoveries.
#[derive(Debug, Clone, Default)]
pub struct FormatCrate {
    /// The types `serde::Deserializer` is implemented for (public paths, or internal ones).
    pub deserializers: Vec<String>,
    /// Entry points, with or without a plan.
    pub entries: Vec<Entry>,
    /// The crate's own dynamic value type (`toml::Value`), when it has one.
    pub value_type: Option<String>,
    /// Whether that value type is also `Serialize` (the round trip then uses it).
    pub value_serializes: bool,
    /// A serializer to text (`toml::to_string`).
    pub to_text: Option<String>,
    /// A serializer to bytes (`rmp_serde::to_vec`).
    pub to_bytes: Option<String>,
    /// Call-graph nodes covered here (the parse family leaves them out).
    pub covered: BTreeSet<usize>,
}

/// Whether `path`, written in module `m`, names serde's `Deserializer` trait.
fn is_serde_deserializer(model: &CrateModel, m: usize, path: &syn::Path) -> bool {
    if path
        .segments
        .last()
        .is_none_or(|s| s.ident != "Deserializer")
    {
        return false;
    }
    match model.resolve(m, &segs(path), Ns::Type) {
        Some(Res::External(v)) => v.len() == 1 || matches!(v[0].as_str(), "serde" | "serde_core"),
        // Imported by a glob (`use serde::de::*`): the name alone.
        None => true,
        _ => false,
    }
}

fn returns_of(sig: &syn::Signature, wanted: &dyn Fn(&Type) -> bool) -> Option<Ret> {
    let ReturnType::Type(_, ty) = &sig.output else {
        return None;
    };
    if wanted(ty) {
        return Some(Ret::Plain);
    }
    let (id, args) = crate::types::last_segment(ty)?;
    let first = args.first()?;
    if !wanted(first) {
        return None;
    }
    if id == "Option" {
        Some(Ret::Option)
    } else if id.to_string().ends_with("Result") {
        Some(Ret::Result)
    } else {
        None
    }
}

/// Finds the format crate's entry points; `None` when the crate implements no `Deserializer`.
pub(crate) fn discover(
    model: &CrateModel,
    graph: &CallGraph,
    deser: &[DeserItem],
) -> Option<FormatCrate> {
    // Types the trait is implemented for, and whether for `&mut D`.
    let mut de_types: HashMap<DefId, bool> = HashMap::new();
    for &r in &model.impls {
        let imp = model.impl_item(r);
        let Some((_, trait_path, _)) = &imp.trait_ else {
            continue;
        };
        if !is_serde_deserializer(model, r.module, trait_path) {
            continue;
        }
        let (ty, by_ref) = match &*imp.self_ty {
            Type::Reference(rf) if rf.mutability.is_some() => (&*rf.elem, true),
            t => (t, false),
        };
        if let Some(d) = self_def(model, r.module, ty) {
            let e = de_types.entry(d).or_insert(by_ref);
            *e |= by_ref;
        }
    }
    if de_types.is_empty() {
        return None;
    }
    let mut fc = FormatCrate::default();
    let mut de_list: Vec<(&DefId, &bool)> = de_types.iter().collect();
    de_list.sort();
    fc.deserializers = de_list
        .iter()
        .map(|(&d, _)| {
            model
                .public_path(d)
                .unwrap_or_else(|| model.internal_path(d))
        })
        .collect();
    for (n, node) in graph.nodes.iter().enumerate() {
        if !node.is_pub || node.sig.unsafety.is_some() || node.trait_name.is_some() {
            continue;
        }
        let line = node.sig.ident.span().start().line;
        let file = model.tree.modules[node.module].file.clone();
        let generics: Vec<&syn::Generics> = match node.imp {
            Some((r, _)) => vec![&node.sig.generics, &model.impl_item(r).generics],
            None => vec![&node.sig.generics],
        };
        let bounds = param_bounds(&generics);
        // A generic entry point: `fn from_str<T: DeserializeOwned>(s: &str) -> Result<T>`.
        if let Some(d) = node.free {
            let de_params: Vec<&String> = bounds
                .iter()
                .filter(|(_, b)| is_deserialize_bound(b))
                .map(|(k, _)| k)
                .collect();
            if let Some(t) = de_params.first() {
                fc.covered.insert(n);
                let Some(path) = model.public_path(d) else {
                    continue;
                };
                let is_t = |ty: &Type| types::is_named(ty, t);
                let plan = match returns_of(&node.sig, &is_t) {
                    None => Err("does not return the deserialized value".to_string()),
                    Some(ret) => single_input(model, node.module, &node.sig, &bounds)
                        .map(|i| (EntryCall::Fn(path.clone(), ret), i)),
                };
                fc.entries.push(Entry {
                    item: path,
                    fn_name: node.name.clone(),
                    plan,
                    file,
                    line,
                });
                continue;
            }
            // A serializer: `fn to_string<T: Serialize>(value: &T) -> Result<String>`.
            let ser = bounds
                .iter()
                .any(|(_, b)| b.iter().any(|x| x.name() == "Serialize"));
            if ser && node.sig.inputs.len() == 1 {
                let Some(path) = model.public_path(d) else {
                    continue;
                };
                let text = |ty: &Type| types::is_named(ty, "String");
                let bytes = |ty: &Type| types::is_vec_of(ty, "u8");
                let shorter =
                    |old: &Option<String>| old.as_ref().is_none_or(|o| path.len() < o.len());
                if returns_of(&node.sig, &text).is_some_and(|r| r != Ret::Option)
                    && shorter(&fc.to_text)
                {
                    fc.to_text = Some(path.clone());
                } else if returns_of(&node.sig, &bytes).is_some_and(|r| r != Ret::Option)
                    && shorter(&fc.to_bytes)
                {
                    fc.to_bytes = Some(path.clone());
                }
            }
            continue;
        }
        // A constructor of a Deserializer type taking the input.
        let Some((r, Some(t))) = node.imp else {
            continue;
        };
        let Some(&by_ref) = de_types.get(&t) else {
            continue;
        };
        if node.sig.receiver().is_some() {
            continue;
        }
        let name = &model.defs[t].name;
        let is_self = |ty: &Type| {
            crate::types::last_segment(ty)
                .is_some_and(|(id, _)| id == "Self" || id == name.as_str())
        };
        let Some(ret) = returns_of(&node.sig, &is_self) else {
            continue;
        };
        fc.covered.insert(n);
        let Some(tp) = model.public_path(t) else {
            continue;
        };
        let item = format!("{tp}::{}", node.name);
        let plan = if model.impl_item(r).generics.type_params().next().is_some()
            && !matches!(
                single_input(model, node.module, &node.sig, &bounds),
                Ok(Input::Reader)
            ) {
            Err("a constructor of a generic deserializer that does not take a reader".to_string())
        } else {
            single_input(model, node.module, &node.sig, &bounds)
                .map(|i| (EntryCall::Ctor(item.clone(), ret, by_ref), i))
        };
        fc.entries.push(Entry {
            item,
            fn_name: node.name.clone(),
            plan,
            file,
            line,
        });
    }
    fc.entries
        .sort_by(|a, b| (&a.file, a.line, &a.item).cmp(&(&b.file, b.line, &b.item)));
    let value = deser
        .iter()
        .filter(|d| d.skip.is_none() && d.instances.len() == 1)
        .filter(|d| {
            d.public_path
                .as_deref()
                .is_some_and(|p| p.ends_with("::Value"))
        })
        .min_by_key(|d| d.public_path.as_ref().map_or(0, String::len));
    fc.value_type = value.and_then(|d| d.public_path.clone());
    fc.value_serializes = value.is_some_and(|d| d.serialize);
    Some(fc)
}

/// The one input argument of a signature, or why it has none or more than one argument.
fn single_input(
    model: &CrateModel,
    m: usize,
    sig: &syn::Signature,
    bounds: &Bounds,
) -> Result<Input, String> {
    let typed: Vec<&syn::PatType> = sig
        .inputs
        .iter()
        .filter_map(|a| match a {
            FnArg::Typed(pt) => Some(pt),
            FnArg::Receiver(_) => None,
        })
        .collect();
    let [pt] = typed.as_slice() else {
        let shown: Vec<String> = typed.iter().map(|pt| show_ty(&pt.ty)).collect();
        return Err(format!(
            "takes {} arguments ({}), not just the input",
            typed.len(),
            shown.join(", ")
        ));
    };
    classify(model, m, &pt.ty, bounds, 0)
        .ok()
        .as_ref()
        .and_then(Input::of)
        .ok_or_else(|| {
            format!(
                "its argument `{}` is not text, bytes or a reader",
                show_ty(&pt.ty)
            )
        })
}
