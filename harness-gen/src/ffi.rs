//! FFI target plans: for every safe public function or type whose code reaches a foreign function
//! (see [`callgraph`](crate::callgraph)), how a target calls it with arguments built by
//! `arbitrary` (see [`args`](crate::args)): one call of a free function, or a value built by a
//! constructor and driven by a sequence of method calls.

use std::collections::BTreeSet;

use quote::ToTokens;
use syn::{FnArg, ImplItem, Item, ReturnType, Type};

use crate::args::{
    classify, is_size_like, kind_for_bounds, param_bounds, ArgKind, Bound, Bounds, SIZE_TYPES,
};
use crate::callgraph::CallGraph;
use crate::model::{CrateModel, DefId};
use crate::source::ModId;
use crate::types::{self, self_def};

/// One argument of a planned call: the input field's name and how it is built.
#[derive(Debug, Clone)]
pub struct Arg {
    /// The field name (the parameter's name where it has one).
    pub name: String,
    /// How it is built.
    pub kind: ArgKind,
}

/// How a method takes its receiver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Receiver {
    /// No receiver: an associated or free function.
    None,
    /// `&self` or `&mut self`.
    Borrow,
    /// `self` by value.
    Value,
}

/// What a call returns, as far as the harness cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Returns {
    /// Anything else: dropped.
    Other,
    /// `Self`.
    SelfPlain,
    /// `Result<Self, _>`.
    SelfResult,
    /// `Option<Self>`.
    SelfOption,
}

/// One call the harness makes.
#[derive(Debug, Clone)]
pub struct Call {
    /// The function's name (becomes an enum variant name in sequence harnesses).
    pub name: String,
    /// The callee as the fuzz crate writes it (`demo::compress`, `demo::Enc::<Vec<u8>>::new`,
    /// `std::io::Write::write_all`).
    pub callee: String,
    /// Arguments after the receiver.
    pub args: Vec<Arg>,
    /// How the receiver is taken.
    pub receiver: Receiver,
    /// What it returns.
    pub returns: Returns,
}

/// A planned FFI target.
#[derive(Debug, Clone)]
pub enum FfiPlan {
    /// One call of a free (or associated) function with arbitrary arguments.
    Free {
        /// The call.
        call: Call,
    },
    /// A value built by a constructor, driven by a sequence of method calls, then dropped.
    Sequence {
        /// The instantiated type (`demo::Enc<Vec<u8>>`).
        ty: String,
        /// Constructors.
        ctors: Vec<Call>,
        /// Operations.
        ops: Vec<Call>,
    },
}

/// A discovered FFI wrapper: a target plan or the reason there is none.
#[derive(Debug, Clone)]
pub struct FfiItem {
    /// The public path (or crate-internal path when not public).
    pub item: String,
    /// How it reaches FFI.
    pub why: String,
    /// The plan, or why no target can be built.
    pub plan: Result<FfiPlan, String>,
    /// Source file.
    pub file: std::path::PathBuf,
    /// Line of the item.
    pub line: usize,
}

fn arg_name(pat: &syn::Pat, i: usize, used: &mut BTreeSet<String>) -> String {
    let mut name = match pat {
        syn::Pat::Ident(pi) => pi
            .ident
            .to_string()
            .trim_start_matches("r#")
            .trim_start_matches('_')
            .to_string(),
        _ => String::new(),
    };
    if name.is_empty()
        || matches!(
            name.as_str(),
            "input" | "value" | "v" | "op" | "ops" | "ctor" | "self"
        )
    {
        name = format!("arg{i}");
    }
    while !used.insert(name.clone()) {
        name.push('_');
    }
    name
}

/// Plans the arguments of a signature (after the receiver).
fn plan_args(
    model: &CrateModel,
    m: ModId,
    sig: &syn::Signature,
    bounds: &Bounds,
    used: &mut BTreeSet<String>,
) -> Result<(Receiver, Vec<Arg>), String> {
    if sig.asyncness.is_some() {
        return Err("async fn (needs an executor)".into());
    }
    if sig.variadic.is_some() {
        return Err("variadic".into());
    }
    let mut receiver = Receiver::None;
    let mut args = Vec::new();
    for (i, input) in sig.inputs.iter().enumerate() {
        match input {
            FnArg::Receiver(r) => {
                if r.colon_token.is_some() {
                    return Err(format!(
                        "receiver `{}` is not `self`, `&self` or `&mut self`",
                        r.ty.to_token_stream()
                    ));
                }
                receiver = if r.reference.is_some() {
                    Receiver::Borrow
                } else {
                    Receiver::Value
                };
            }
            FnArg::Typed(pt) => {
                let kind = classify(model, m, &pt.ty, bounds, 0).map_err(|e| {
                    format!(
                        "argument `{}: {}`: {e}",
                        pt.pat.to_token_stream(),
                        pt.ty.to_token_stream()
                    )
                })?;
                let name = arg_name(&pt.pat, i, used);
                let kind = match kind {
                    ArgKind::Prim(p) if is_size_like(&name) && SIZE_TYPES.contains(&p.as_str()) => {
                        ArgKind::Size(p)
                    }
                    k => k,
                };
                args.push(Arg { name, kind });
            }
        }
    }
    Ok((receiver, args))
}

fn returns_of(sig: &syn::Signature, type_name: &str) -> Returns {
    let ReturnType::Type(_, ty) = &sig.output else {
        return Returns::Other;
    };
    let is_self =
        |t: &Type| types::last_segment(t).is_some_and(|(id, _)| id == "Self" || id == type_name);
    if is_self(ty) {
        return Returns::SelfPlain;
    }
    match types::last_segment(ty) {
        Some((id, args)) if id == "Result" && args.first().is_some_and(|a| is_self(a)) => {
            Returns::SelfResult
        }
        Some((id, args)) if id == "Option" && args.first().is_some_and(|a| is_self(a)) => {
            Returns::SelfOption
        }
        _ => Returns::Other,
    }
}

/// Plans a target for every safe public function or type whose code reaches FFI.
pub(crate) fn plan(model: &CrateModel, graph: &CallGraph) -> Vec<FfiItem> {
    let mut out = Vec::new();
    let mut types_done: BTreeSet<DefId> = BTreeSet::new();
    for (n, node) in graph.nodes.iter().enumerate() {
        if !graph.reaches(n) || node.sig.unsafety.is_some() {
            continue;
        }
        let line = node.sig.ident.span().start().line;
        let file = model.tree.modules[node.module].file.clone();
        match (node.free, node.imp) {
            (Some(d), _) => {
                if !node.is_pub {
                    continue;
                }
                let why = graph.explain(n);
                let Some(item) = model.public_path(d) else {
                    out.push(FfiItem {
                        item: model.internal_path(d),
                        why,
                        plan: Err("not reachable from the crate's public API".into()),
                        file,
                        line,
                    });
                    continue;
                };
                let bounds = param_bounds(&[&node.sig.generics]);
                let plan = plan_args(model, node.module, &node.sig, &bounds, &mut BTreeSet::new())
                    .map(|(_, args)| FfiPlan::Free {
                        call: Call {
                            name: node.name.clone(),
                            callee: item.clone(),
                            args,
                            receiver: Receiver::None,
                            returns: Returns::Other,
                        },
                    });
                out.push(FfiItem {
                    item,
                    why,
                    plan,
                    file,
                    line,
                });
            }
            (None, Some((_, Some(t)))) if types_done.insert(t) => {
                out.extend(plan_type(model, graph, t));
            }
            _ => {}
        }
    }
    out.sort_by(|a, b| (&a.file, a.line, &a.item).cmp(&(&b.file, b.line, &b.item)));
    out
}

/// Plans the sequence harness of a type with FFI-backed methods, plus free-style targets for its
/// FFI-backed associated functions that do not construct it.
fn plan_type(model: &CrateModel, graph: &CallGraph, t: DefId) -> Vec<FfiItem> {
    let mut out = Vec::new();
    let def = &model.defs[t];
    let file = model.tree.modules[def.module].file.clone();
    let line = match model.item(t) {
        Item::Struct(s) => s.ident.span().start().line,
        Item::Enum(e) => e.ident.span().start().line,
        _ => 0,
    };
    let methods: Vec<usize> = graph
        .nodes
        .iter()
        .enumerate()
        .filter(|(_, node)| matches!(node.imp, Some((_, Some(x))) if x == t))
        .map(|(i, _)| i)
        .collect();
    let why = methods
        .iter()
        .find(|&&i| graph.reaches(i))
        .map(|&i| format!("`{}` {}", graph.nodes[i].label, graph.explain(i)))
        .unwrap_or_default();
    let Some(public) = model.public_path(t) else {
        out.push(FfiItem {
            item: model.internal_path(t),
            why,
            plan: Err("not reachable from the crate's public API".into()),
            file,
            line,
        });
        return out;
    };
    // Instantiate the type's parameters: writers become Vec<u8>, readers Cursor<Vec<u8>>.
    let generics = match model.item(t) {
        Item::Struct(s) => s.generics.clone(),
        Item::Enum(e) => e.generics.clone(),
        _ => syn::Generics::default(),
    };
    // Bounds from the type and its inherent impls; trait impls (`impl<W: Read + Write> Read for
    // Enc<W>`) add requirements only for that trait.
    let mut all_generics = vec![generics.clone()];
    for &i in &methods {
        if let (Some((r, _)), None) = (graph.nodes[i].imp, &graph.nodes[i].trait_name) {
            all_generics.push(model.impl_item(r).generics.clone());
        }
    }
    let refs: Vec<&syn::Generics> = all_generics.iter().collect();
    let type_bounds = param_bounds(&refs);
    let mut inst = Vec::new();
    let mut unbuildable = None;
    for p in generics.type_params() {
        let name = p.ident.to_string();
        match type_bounds.get(&name).and_then(|b| kind_for_bounds(b)) {
            Some(ArgKind::Writer) => inst.push("Vec<u8>".to_string()),
            Some(ArgKind::Reader) => inst.push("std::io::Cursor<Vec<u8>>".to_string()),
            _ => unbuildable = Some(name),
        }
    }
    if generics.const_params().next().is_some() {
        unbuildable = Some("a const parameter".into());
    }
    let ty = if inst.is_empty() {
        public.clone()
    } else {
        format!("{public}<{}>", inst.join(", "))
    };
    let ty_expr = if inst.is_empty() {
        public.clone()
    } else {
        format!("{public}::<{}>", inst.join(", "))
    };
    let type_name = def.name.clone();
    let mut ctors = Vec::new();
    let mut ops = Vec::new();
    let mut excluded: Vec<String> = Vec::new();
    let mut used_names = BTreeSet::new();
    for &i in &methods {
        let node = &graph.nodes[i];
        let Some((r, _)) = node.imp else { continue };
        let imp = model.impl_item(r);
        if node.trait_name.is_some() || !node.is_pub || node.sig.unsafety.is_some() {
            continue;
        }
        // Only impls over the type's own parameters apply to the instance we build.
        if !impl_is_generic_over_params(&imp.self_ty) {
            excluded.push(format!(
                "`{}` (impl for a specific instantiation)",
                node.name
            ));
            continue;
        }
        let mut bounds = param_bounds(&[&generics, &imp.generics, &node.sig.generics]);
        for (p, k) in generics.type_params().zip(inst.iter()) {
            bounds.insert(
                p.ident.to_string(),
                vec![Bound::named(if k.starts_with("Vec") {
                    "Write"
                } else {
                    "Read"
                })],
            );
        }
        let mut used = BTreeSet::new();
        let planned = plan_args(model, r.module, &node.sig, &bounds, &mut used);
        let returns = returns_of(&node.sig, &type_name);
        match planned {
            Ok((Receiver::None, args)) if returns != Returns::Other => {
                ctors.push(Call {
                    name: node.name.clone(),
                    callee: format!("{ty_expr}::{}", node.name),
                    args,
                    receiver: Receiver::None,
                    returns,
                });
            }
            Ok((Receiver::None, args)) => {
                if graph.reaches(i) {
                    let item = format!("{public}::{}", node.name);
                    let plan = if inst.is_empty() {
                        Ok(FfiPlan::Free {
                            call: Call {
                                name: node.name.clone(),
                                callee: item.clone(),
                                args,
                                receiver: Receiver::None,
                                returns: Returns::Other,
                            },
                        })
                    } else {
                        Err("associated function of a generic type".into())
                    };
                    out.push(FfiItem {
                        item,
                        why: graph.explain(i),
                        plan,
                        file: file.clone(),
                        line: node.sig.ident.span().start().line,
                    });
                }
            }
            Ok((receiver, args)) => {
                if ops.len() < 32 && used_names.insert(node.name.clone()) {
                    ops.push(Call {
                        name: node.name.clone(),
                        callee: node.name.clone(),
                        args,
                        receiver,
                        returns,
                    });
                }
            }
            Err(e) => {
                excluded.push(format!("`{}` ({e})", node.name));
                if graph.reaches(i) {
                    out.push(FfiItem {
                        item: format!("{public}::{}", node.name),
                        why: graph.explain(i),
                        plan: Err(e),
                        file: file.clone(),
                        line: node.sig.ident.span().start().line,
                    });
                }
            }
        }
    }
    // std::io traits implemented by the type become operations too.
    for &r in &model.impls {
        let imp = model.impl_item(r);
        let Some((_, tp, _)) = &imp.trait_ else {
            continue;
        };
        if self_def(model, r.module, &imp.self_ty) != Some(t)
            || !impl_is_generic_over_params(&imp.self_ty)
        {
            continue;
        }
        // The impl's own bounds must hold for the instance (`impl<W: Read + Write> Read for
        // Enc<W>` does not apply to `Enc<Vec<u8>>`).
        let impl_bounds = param_bounds(&[&imp.generics]);
        let holds = generics.type_params().zip(inst.iter()).all(|(p, chosen)| {
            let Some(kind) = impl_bounds
                .get(&p.ident.to_string())
                .map(|b| kind_for_bounds(b))
            else {
                return true;
            };
            matches!(
                (kind, chosen.starts_with("Vec")),
                (Some(ArgKind::Writer), _) | (Some(ArgKind::Reader), false)
            )
        });
        if !holds {
            continue;
        }
        match tp.segments.last().map(|s| s.ident.to_string()).as_deref() {
            Some("Write")
                if imp
                    .items
                    .iter()
                    .any(|i| matches!(i, ImplItem::Fn(f) if f.sig.ident == "write")) =>
            {
                ops.push(Call {
                    name: "write_all".into(),
                    callee: "std::io::Write::write_all".into(),
                    args: vec![Arg {
                        name: "data".into(),
                        kind: ArgKind::Bytes,
                    }],
                    receiver: Receiver::Borrow,
                    returns: Returns::Other,
                });
                ops.push(Call {
                    name: "flush".into(),
                    callee: "std::io::Write::flush".into(),
                    args: vec![],
                    receiver: Receiver::Borrow,
                    returns: Returns::Other,
                });
            }
            Some("Read")
                if imp
                    .items
                    .iter()
                    .any(|i| matches!(i, ImplItem::Fn(f) if f.sig.ident == "read")) =>
            {
                ops.push(Call {
                    name: "read".into(),
                    callee: "std::io::Read::read".into(),
                    args: vec![Arg {
                        name: "buf".into(),
                        kind: ArgKind::BytesMut,
                    }],
                    receiver: Receiver::Borrow,
                    returns: Returns::Other,
                });
            }
            _ => {}
        }
    }
    let plan = if let Some(p) = unbuildable {
        Err(format!(
            "generic over `{p}`, which has no bound we can instantiate (io::Read / io::Write)"
        ))
    } else if ctors.is_empty() {
        let mut reason = "no public constructor (an associated function returning `Self`, `Result<Self, _>` or `Option<Self>`) with arguments we can build".to_string();
        if !excluded.is_empty() {
            reason.push_str(&format!("; not buildable: {}", excluded.join(", ")));
        }
        Err(reason)
    } else {
        Ok(FfiPlan::Sequence { ty, ctors, ops })
    };
    out.insert(
        0,
        FfiItem {
            item: public,
            why,
            plan,
            file,
            line,
        },
    );
    out
}

/// Whether an impl's self type passes only parameters (`Enc<W>`, `Dec<'a, R>`), not concrete
/// types (`Dec<'static, BufReader<R>>`).
fn impl_is_generic_over_params(ty: &Type) -> bool {
    let Some((_, args)) = types::last_segment(ty) else {
        return true;
    };
    args.iter()
        .all(|a| matches!(a, Type::Path(tp) if tp.path.get_ident().is_some()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn analyse(src: &str, ffi_crates: &[&str]) -> Vec<FfiItem> {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("lib.rs");
        std::fs::write(&path, src).expect("write");
        let tree = crate::source::load(&path, &crate::cfg::CfgEnv::default()).expect("loads");
        let model = CrateModel::build("demo", tree, false);
        let crates = ffi_crates.iter().map(|s| s.to_string()).collect();
        plan(&model, &crate::callgraph::call_graph(&model, &crates))
    }

    #[test]
    fn reaches_ffi_through_helpers_macros_and_sys_crates() {
        let items = analyse(
            r#"
            extern "C" { fn c_fn(x: i32) -> i32; }
            use mylib_sys as ffi;
            fn helper(x: i32) -> i32 { unsafe { c_fn(x) } }
            fn in_macro(x: i32) { assert!(helper(x) >= 0); }
            pub fn direct(x: i32) -> i32 { unsafe { c_fn(x) } }
            pub fn via_helper(x: i32) -> i32 { helper(x) }
            pub fn via_macro(x: i32) { in_macro(x) }
            pub fn via_sys(data: &[u8]) -> u32 { unsafe { ffi::crc(data.as_ptr(), data.len()) } }
            pub fn pure(x: i32) -> i32 { x + 1 }
            pub unsafe fn not_safe(x: i32) -> i32 { c_fn(x) }
            mod private { pub fn hidden(x: i32) -> i32 { super::helper(x) } }
            "#,
            &["mylib_sys"],
        );
        let got: Vec<(&str, bool)> = items
            .iter()
            .map(|i| (i.item.as_str(), i.plan.is_ok()))
            .collect();
        assert_eq!(
            got,
            [
                ("demo::direct", true),
                ("demo::via_helper", true),
                ("demo::via_macro", true),
                ("demo::via_sys", true),
                ("crate::private::hidden", false),
            ]
        );
        assert_eq!(items[1].why, "calls `c_fn` via `helper`");
    }

    #[test]
    fn argument_kinds() {
        let items = analyse(
            r#"
            extern "C" { fn f(); }
            pub fn all(a: &[u8], b: &mut [u8], c: &str, d: Option<&[u8]>, e: (u8, bool), g: &std::ffi::CStr, h: Vec<u8>, i: impl AsRef<[u8]>) { unsafe { f() } }
            pub fn path(p: &std::path::Path) { unsafe { f() } }
            "#,
            &[],
        );
        let Ok(FfiPlan::Free { call }) = &items[0].plan else {
            panic!("{:?}", items[0].plan)
        };
        let kinds: Vec<&ArgKind> = call.args.iter().map(|a| &a.kind).collect();
        assert_eq!(
            kinds,
            [
                &ArgKind::Bytes,
                &ArgKind::BytesMut,
                &ArgKind::Str,
                &ArgKind::OptBytes,
                &ArgKind::Tuple(vec![
                    ArgKind::Prim("u8".into()),
                    ArgKind::Prim("bool".into())
                ]),
                &ArgKind::CStr,
                &ArgKind::VecU8,
                &ArgKind::AsRefBytes,
            ]
        );
        assert!(items[1]
            .plan
            .as_ref()
            .is_err_and(|e| e.contains("filesystem path")));
    }
}
