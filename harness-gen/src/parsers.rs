//! Discovery of **parse entry points**: public safe functions and associated functions that take
//! untrusted input (`&str`, `&[u8]`, `String`, `Vec<u8>`, a reader) and return a `Result` or
//! `Option`; constructors that build a value from such input and return `Self` (or a
//! `Result`/`Option` of it), whose value the target then drives ([`stateful`](crate::stateful));
//! `FromStr` impls; and `TryFrom<&[u8]>`/`TryFrom<&str>` impls (and their owned
//! `Vec<u8>`/`String` forms). Arguments besides the input are plain values chosen by `arbitrary`
//! or generated closures. Functions that are format entry points (generic over a `Deserialize`
//! result, see [`formats`](crate::formats)) or that reach FFI (the FFI family fuzzes those) are
//! left out.
//!
//! Candidates that cannot get a target are kept with the reason: an argument besides the input
//! that cannot be built, a method that needs a receiver, a result that is neither `Result` nor
//! `Option` (nor a value that can be driven), a generic impl, no public path. Pure getters
//! (`&self` and nothing else) and `&mut self` methods without input of a type that has a parse
//! target are listed as skipped too, so the report says why they were not fuzzed on their own.

use std::collections::BTreeSet;

use syn::{FnArg, ReturnType, Type};

use crate::args::{classify, is_deserialize_bound, param_bounds, Input};
use crate::callgraph::CallGraph;
use crate::model::{CrateModel, DefId};
use crate::naming::target_stem;
use crate::stateful::{self, ctor_wrap, extra_slot, Drive, Slot, Wrap};
use crate::types::{self, self_def, show_ty};

/// What a parse target calls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseCall {
    /// A free or associated function: its public path.
    Fn(String),
    /// `text.parse::<T>()`: the type's public path.
    FromStr(String),
    /// `<T as TryFrom<A>>::try_from(x)`: the type's public path and `A` as written.
    TryFrom(String, String),
    /// `value.method(x)` on a value built without input (`T::new()`, `T::default()`).
    Method {
        /// The expression that builds the value.
        build: String,
        /// The method's name.
        method: String,
        /// Whether the method takes `&mut self` or `self` (the value is bound `mut`).
        mutable: bool,
    },
}

/// A discovered parse entry point.
#[derive(Debug, Clone)]
pub struct ParseItem {
    /// The public path shown in `targets.json` (`demo::parse`, `demo::Version as FromStr`).
    pub item: String,
    /// Target name stem (`parse`, `version_from_str`).
    pub stem: String,
    /// The call and how the input is passed, or why there is no target.
    pub plan: Result<(ParseCall, Input), String>,
    /// The call's arguments in order when it takes more than the input (empty: the input alone).
    pub args: Vec<Slot>,
    /// For a constructor: how it returns its value and what drives the value afterwards.
    pub drive: Option<(Wrap, Drive)>,
    /// The function's name, for finding example inputs (`parse`, `from_str`, `try_from`).
    pub fn_name: String,
    /// Source file.
    pub file: std::path::PathBuf,
    /// Line.
    pub line: usize,
}

/// Whether a return type is a `Result` (any alias ending in `Result`) or an `Option`.
fn fallible(sig: &syn::Signature) -> Result<(), String> {
    let ReturnType::Type(_, ty) = &sig.output else {
        return Err("returns nothing: not a parser".into());
    };
    match crate::types::last_segment(ty) {
        Some((id, _)) if id.to_string().ends_with("Result") || id == "Option" => Ok(()),
        _ => Err(format!(
            "returns `{}`, not a `Result` or `Option`: not a parser",
            show_ty(ty)
        )),
    }
}

/// Finds the parse entry points. `exclude` are functions the format family already covers
/// (by node index in `graph`).
pub(crate) fn discover(
    model: &CrateModel,
    graph: &CallGraph,
    exclude: &BTreeSet<usize>,
) -> Vec<ParseItem> {
    let mut out = Vec::new();
    let mut parsed_types: BTreeSet<DefId> = BTreeSet::new();
    let mut getters: Vec<(DefId, usize)> = Vec::new();
    for (n, node) in graph.nodes.iter().enumerate() {
        if exclude.contains(&n)
            || node.trait_name.is_some()
            || !node.is_pub
            || node.sig.unsafety.is_some()
            || graph.reaches(n)
        {
            continue;
        }
        let generics: Vec<&syn::Generics> = match node.imp {
            Some((r, _)) => vec![&node.sig.generics, &model.impl_item(r).generics],
            None => vec![&node.sig.generics],
        };
        let bounds = param_bounds(&generics);
        if bounds.values().any(|b| is_deserialize_bound(b)) {
            continue;
        }
        let mut receiver = false;
        let mut inputs = Vec::new();
        let mut others = Vec::new();
        let mut slots = Vec::new();
        // An impl type parameter instantiated with a reader over the input (`from_reader(R)`).
        let mut reader: Option<String> = None;
        for a in &node.sig.inputs {
            match a {
                FnArg::Receiver(_) => receiver = true,
                FnArg::Typed(pt) => {
                    let mut kind = classify(model, node.module, &pt.ty, &bounds, 0);
                    if let (Err(_), Some((r, Some(t))), true) = (&kind, node.imp, inputs.is_empty())
                    {
                        if let Some(p) = stateful::reader_param(model, t, r, &pt.ty) {
                            reader = Some(p);
                            kind = Ok(crate::args::ArgKind::Reader);
                        }
                    }
                    match kind.as_ref().ok().and_then(Input::of) {
                        Some(i) if inputs.is_empty() => {
                            inputs.push(i);
                            slots.push(Ok(Slot::Input));
                        }
                        _ => {
                            others.push(show_ty(&pt.ty));
                            slots.push(extra_slot(pt, &bounds, kind).map_err(|why| {
                                format!("takes `{}` besides the input: {why}", show_ty(&pt.ty))
                            }));
                        }
                    }
                }
            }
        }
        let line = node.sig.ident.span().start().line;
        let file = model.tree.modules[node.module].file.clone();
        if inputs.is_empty() {
            if receiver && others.is_empty() {
                if let Some((_, Some(t))) = node.imp {
                    getters.push((t, n));
                }
            }
            continue;
        }
        let (item, stem) = match (node.free, node.imp) {
            (Some(d), _) => match model.public_path(d) {
                Some(p) => (p.clone(), target_stem(&p)),
                None => continue,
            },
            (None, Some((r, Some(t)))) => {
                let Some(tp) = model.public_path(t) else {
                    continue;
                };
                // A generic impl's associated function has an instance only when the input fixes
                // every type parameter (a constructor from a reader).
                let fixed = |p: &syn::TypeParam| reader.as_deref().is_some_and(|r| p.ident == r);
                if !model.impl_item(r).generics.type_params().all(fixed) {
                    out.push(ParseItem {
                        item: format!("{tp}::{}", node.name),
                        stem: target_stem(&format!("{tp}::{}", node.name)),
                        plan: Err(
                            "an associated function of a generic impl (no instance chosen)".into(),
                        ),
                        args: vec![],
                        drive: None,
                        fn_name: node.name.clone(),
                        file,
                        line,
                    });
                    continue;
                }
                let p = format!("{tp}::{}", node.name);
                (p.clone(), target_stem(&p))
            }
            _ => continue,
        };
        let slots: Result<Vec<Slot>, String> = slots.into_iter().collect();
        // A constructor of the method's own type: the target drives the value it returns.
        let ctor = match node.imp {
            Some((r, Some(t))) if !receiver => ctor_wrap(model, t, &node.sig).map(|w| (t, r, w)),
            _ => None,
        };
        let mut drive = None;
        let plan = if receiver {
            // A method fed the input (`parse(&mut self, buf)`): on a value built without input.
            let t = node.imp.and_then(|(_, t)| t);
            match t.and_then(|t| stateful::plain_value(model, graph, t)) {
                Some(build) if slots.is_ok() && node.sig.asyncness.is_none() => {
                    let mutable = matches!(
                        node.sig.inputs.first(),
                        Some(FnArg::Receiver(r)) if r.reference.is_none() || r.mutability.is_some()
                    );
                    fallible(&node.sig).map(|()| {
                        (
                            ParseCall::Method {
                                build,
                                method: node.name.clone(),
                                mutable,
                            },
                            inputs[0],
                        )
                    })
                }
                Some(_) => Err(slots
                    .as_ref()
                    .err()
                    .cloned()
                    .unwrap_or_else(|| "async fn (needs an executor)".into())),
                None => Err(
                    "a method: needs a value to call it on, and the type has no `new()` \
                     without arguments nor a `Default` (fuzz the constructor instead)"
                        .into(),
                ),
            }
        } else if node.sig.asyncness.is_some() {
            Err("async fn (needs an executor)".into())
        } else if node
            .sig
            .generics
            .type_params()
            .any(|p| !bounds.contains_key(&p.ident.to_string()))
        {
            Err("a type parameter without bounds (no instance chosen)".into())
        } else if let Err(why) = &slots {
            Err(why.clone())
        } else if let Some((t, r, wrap)) = ctor {
            // A fallible constructor of a value with nothing to drive is fuzzed as a parser.
            let inst = stateful::instance(model, r, reader.as_deref());
            match (stateful::drive(model, graph, t, &inst), wrap) {
                (Ok(d), _) => {
                    drive = Some((wrap, d));
                    Ok((ParseCall::Fn(item.clone()), inputs[0]))
                }
                (Err(why), Wrap::Plain) => Err(why),
                (Err(_), _) => Ok((ParseCall::Fn(item.clone()), inputs[0])),
            }
        } else {
            fallible(&node.sig).map(|()| (ParseCall::Fn(item.clone()), inputs[0]))
        };
        let args = match slots {
            Ok(s) if s.len() > 1 => s,
            _ => vec![],
        };
        if plan.is_ok() {
            if let Some((_, Some(t))) = node.imp {
                parsed_types.insert(t);
            }
        }
        out.push(ParseItem {
            item,
            stem,
            plan,
            args,
            drive,
            fn_name: node.name.clone(),
            file,
            line,
        });
    }
    for &r in &model.impls {
        let imp = model.impl_item(r);
        let Some((_, trait_path, _)) = &imp.trait_ else {
            continue;
        };
        let Some(last) = trait_path.segments.last() else {
            continue;
        };
        let trait_name = last.ident.to_string();
        if trait_name != "FromStr" && trait_name != "TryFrom" {
            continue;
        }
        let Some(t) = self_def(model, r.module, &imp.self_ty) else {
            continue;
        };
        let Some(tp) = model.public_path(t) else {
            continue;
        };
        let file = model.tree.modules[r.module].file.clone();
        let line = last.ident.span().start().line;
        let generic = imp.generics.type_params().next().is_some();
        if trait_name == "FromStr" {
            let plan = if generic {
                Err("`FromStr` for a generic type (no instance chosen)".into())
            } else {
                Ok((ParseCall::FromStr(tp.clone()), Input::Str))
            };
            if plan.is_ok() {
                parsed_types.insert(t);
            }
            out.push(ParseItem {
                item: format!("{tp} as FromStr"),
                stem: format!("{}_from_str", target_stem(&tp)),
                plan,
                args: vec![],
                drive: None,
                fn_name: "parse".into(),
                file,
                line,
            });
            continue;
        }
        let syn::PathArguments::AngleBracketed(ab) = &last.arguments else {
            continue;
        };
        let Some(syn::GenericArgument::Type(arg)) = ab.args.first() else {
            continue;
        };
        let input = match arg {
            Type::Reference(rf) if rf.mutability.is_none() => match &*rf.elem {
                Type::Slice(s) if types::is_named(&s.elem, "u8") => Some((Input::Bytes, "&[u8]")),
                e if types::is_named(e, "str") => Some((Input::Str, "&str")),
                _ => None,
            },
            other if types::is_vec_of(other, "u8") => Some((Input::VecU8, "Vec<u8>")),
            other if types::is_named(other, "String") => Some((Input::String, "String")),
            _ => None,
        };
        let Some((input, written)) = input else {
            continue;
        };
        let plan = if generic {
            Err("`TryFrom` for a generic type (no instance chosen)".into())
        } else {
            Ok((ParseCall::TryFrom(tp.clone(), written.into()), input))
        };
        if plan.is_ok() {
            parsed_types.insert(t);
        }
        out.push(ParseItem {
            item: format!("{tp} as TryFrom<{written}>"),
            stem: format!("{}_try_from_{}", target_stem(&tp), input.word()),
            plan,
            args: vec![],
            drive: None,
            fn_name: "try_from".into(),
            file,
            line,
        });
    }
    for (t, n) in getters {
        if !parsed_types.contains(&t) {
            continue;
        }
        let node = &graph.nodes[n];
        let Some(tp) = model.public_path(t) else {
            continue;
        };
        let item = format!("{tp}::{}", node.name);
        out.push(ParseItem {
            stem: target_stem(&item),
            item,
            plan: Err(match node.sig.inputs.first() {
                Some(FnArg::Receiver(r))
                    if r.mutability.is_some() && fallible(&node.sig).is_ok() =>
                {
                    "a `&mut self` method without input: the targets of the type's constructors \
                     drive it"
                        .into()
                }
                Some(FnArg::Receiver(r)) if r.mutability.is_some() => {
                    "takes only `&mut self`: no input to fuzz".into()
                }
                _ => "a pure getter (takes only `&self`): no input to fuzz".into(),
            }),
            args: vec![],
            drive: None,
            fn_name: node.name.clone(),
            file: model.tree.modules[node.module].file.clone(),
            line: node.sig.ident.span().start().line,
        });
    }
    out.sort_by(|a, b| (&a.file, a.line, &a.item).cmp(&(&b.file, b.line, &b.item)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_show_compactly_and_bounds_are_recognised() {
        let ty: Type = syn::parse_str("&'de [u8]").expect("type");
        assert_eq!(show_ty(&ty), "&'de [u8]");
        let ty: Type = syn::parse_str("Option < Vec < u8 > >").expect("type");
        assert_eq!(show_ty(&ty), "Option<Vec<u8>>");
        let bound = |s: &str| crate::args::Bound(syn::parse_str(s).expect("path"));
        assert!(is_deserialize_bound(&[bound(
            "serde::de::Deserialize<'de>"
        )]));
        assert!(is_deserialize_bound(&[bound("DeserializeOwned")]));
        assert!(!is_deserialize_bound(&[bound("Serialize"), bound("Read")]));
        let b = bound("std::convert::AsRef<[u8]>");
        assert_eq!(b.to_string(), "std::convert::AsRef<[u8]>");
        assert_eq!(
            crate::args::kind_for_bounds(&[b]),
            Some(crate::args::ArgKind::AsRefBytes)
        );
        assert_eq!(
            crate::args::kind_for_bounds(&[bound("Into<String>"), bound("Send")]),
            Some(crate::args::ArgKind::String)
        );
    }
}
