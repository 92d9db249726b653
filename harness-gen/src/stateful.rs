//! **Stateful parsers** and calls with more than the input: a constructor that builds a value from
//! text, bytes or a reader (`Reader::from_str(text)`, returning `Self`, `Result<Self, _>` or
//! `Option<Self>`) and what drives that value afterwards ([`Drive`]: exhausting it when it is an
//! `Iterator`, else its `&mut self` methods that return `Result`/`Option`, the `read_*`/`next*`/
//! `parse*` family first, until an error, `None` or an end event); and the arguments of a call
//! besides its input ([`Slot`]): plain values chosen by `arbitrary` and simple generated
//! closures for `Fn`/`FnMut`/`FnOnce` parameters.

use syn::{FnArg, ReturnType, Type};

use crate::args::{classify, is_size_like, param_bounds, ArgKind, Bound, Bounds, SIZE_TYPES};
use crate::callgraph::CallGraph;
use crate::model::{segs, CrateModel, DefId, ImplRef, Ns, Res};
use crate::source::ModId;
use crate::types::{self, self_def};

/// At most this many methods take part in the `arbitrary`-chosen call sequence of a driven value.
const MAX_DRIVE_METHODS: usize = 8;

/// One argument of the call a parse target makes, in the callee's parameter order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Slot {
    /// The fuzzer's input (as the target's [`Input`](crate::args::Input) says).
    Input,
    /// A plain value chosen by `arbitrary` (an integer, a bool, a small string...).
    Value(ArgKind),
    /// A generated closure, as written (`|_| true`, `|x| x`, `|_| None`).
    Closure(String),
}

/// How a constructor returns its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wrap {
    /// `Self`.
    Plain,
    /// `Result<Self, _>`.
    Result,
    /// `Option<Self>`.
    Option,
}

/// One `&mut self` method that drives a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriveMethod {
    /// The method's name.
    pub name: String,
    /// Its arguments besides the receiver, chosen by `arbitrary` for each call.
    pub args: Vec<ArgKind>,
    /// `Some` when it returns an `Option` (the loop ends on `None`), else a `Result` (ends on
    /// `Err`).
    pub option: bool,
    /// A pattern for the end event of its success value (`quick_xml::events::Event::Eof`), when
    /// that value is a public enum of the crate with an `Eof` variant (or a unit `End`).
    pub end: Option<String>,
}

/// What a target does with a value built from the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Drive {
    /// The value is an `Iterator`: exhaust it (bounded).
    Iterator,
    /// Call these methods repeatedly (bounded), the first one when no choice is left.
    Methods(Vec<DriveMethod>),
}

/// Whether `ty` names the type `t` (`Self` or its name).
fn is_self(model: &CrateModel, t: DefId, ty: &Type) -> bool {
    types::is_named(ty, "Self") || types::is_named(ty, &model.defs[t].name)
}

/// How a constructor of `t` returns it, if it does.
pub(crate) fn ctor_wrap(model: &CrateModel, t: DefId, sig: &syn::Signature) -> Option<Wrap> {
    let ReturnType::Type(_, ty) = &sig.output else {
        return None;
    };
    if is_self(model, t, ty) {
        return Some(Wrap::Plain);
    }
    let (id, args) = types::last_segment(ty)?;
    let first = args.first()?;
    if !is_self(model, t, first) {
        return None;
    }
    if id == "Option" {
        Some(Wrap::Option)
    } else if id.to_string().ends_with("Result") {
        Some(Wrap::Result)
    } else {
        None
    }
}

/// The parenthesized `Fn`/`FnMut`/`FnOnce` bound among `bounds`, if any.
fn fn_bound(bounds: &[Bound]) -> Option<&syn::ParenthesizedGenericArguments> {
    bounds.iter().find_map(|b| {
        let last = b.0.segments.last()?;
        match (&last.arguments, last.ident.to_string().as_str()) {
            (syn::PathArguments::Parenthesized(p), "Fn" | "FnMut" | "FnOnce") => Some(p),
            _ => None,
        }
    })
}

/// A simple closure for a closure parameter: `|_| true` for predicates, `|_| {}` for callbacks,
/// the identity when it returns what it takes, `|_| None` for an `Option`, else a default.
fn closure(p: &syn::ParenthesizedGenericArguments) -> String {
    let params = vec!["_"; p.inputs.len()].join(", ");
    let body = match &p.output {
        ReturnType::Default => "{}".to_string(),
        ReturnType::Type(_, ty) if types::is_named(ty, "bool") => "true".into(),
        ReturnType::Type(_, ty)
            if p.inputs.len() == 1 && types::show_ty(ty) == types::show_ty(&p.inputs[0]) =>
        {
            return "|x| x".into();
        }
        ReturnType::Type(_, ty)
            if types::last_segment(ty).is_some_and(|(id, _)| id == "Option") =>
        {
            "None".into()
        }
        ReturnType::Type(..) => "Default::default()".into(),
    };
    format!("|{params}| {body}")
}

/// Classifies an argument that is not the input: a closure or a plain value, or why neither.
pub(crate) fn extra_slot(
    pt: &syn::PatType,
    bounds: &Bounds,
    kind: Result<ArgKind, String>,
) -> Result<Slot, String> {
    let fn_bounds: Option<Vec<Bound>> = match &*pt.ty {
        Type::ImplTrait(it) => Some(
            it.bounds
                .iter()
                .filter_map(|b| match b {
                    syn::TypeParamBound::Trait(t) => Some(Bound(t.path.clone())),
                    _ => None,
                })
                .collect(),
        ),
        Type::Path(tp) => tp
            .path
            .get_ident()
            .and_then(|id| bounds.get(&id.to_string()).cloned()),
        _ => None,
    };
    if let Some(p) = fn_bounds.as_deref().and_then(fn_bound) {
        return Ok(Slot::Closure(closure(p)));
    }
    let kind = kind?;
    let name = match &*pt.pat {
        syn::Pat::Ident(pi) => pi.ident.to_string(),
        _ => String::new(),
    };
    Ok(Slot::Value(match kind {
        ArgKind::Prim(p) if SIZE_TYPES.contains(&p.as_str()) && is_size_like(&name) => {
            ArgKind::Size(p)
        }
        k => k,
    }))
}

/// The end-event pattern for a method's success type: a public crate enum with an `Eof` or
/// `End` variant.
fn end_pattern(model: &CrateModel, m: ModId, sig: &syn::Signature) -> Option<String> {
    let ReturnType::Type(_, ty) = &sig.output else {
        return None;
    };
    let (_, args) = types::last_segment(ty)?;
    let Type::Path(tp) = args.first()? else {
        return None;
    };
    let Some(Res::Def(d)) = model.resolve(m, &segs(&tp.path), Ns::Type) else {
        return None;
    };
    let syn::Item::Enum(e) = model.item(d) else {
        return None;
    };
    let public = model.public_path(d)?;
    // `Eof` always means the end of the input; `End` and its kin only as a unit variant (an
    // `End(name)` is an end tag).
    let v = e.variants.iter().find(|v| v.ident == "Eof").or_else(|| {
        e.variants.iter().find(|v| {
            matches!(v.fields, syn::Fields::Unit)
                && ["End", "EndOfInput", "EndOfFile", "EndOfStream"]
                    .iter()
                    .any(|n| v.ident == n)
        })
    })?;
    let rest = match v.fields {
        syn::Fields::Unit => "",
        syn::Fields::Named(_) => " { .. }",
        syn::Fields::Unnamed(_) => "(..)",
    };
    Some(format!("{public}::{}{rest}", v.ident))
}

/// An expression that builds a value of `t` without input: its public `new()` without
/// arguments, else its `Default` (derived or implemented).
pub(crate) fn plain_value(model: &CrateModel, graph: &CallGraph, t: DefId) -> Option<String> {
    let public = model.public_path(t)?;
    let generic = |g: &syn::Generics| g.type_params().next().is_some();
    let new = graph.nodes.iter().any(|n| {
        n.name == "new"
            && n.is_pub
            && n.trait_name.is_none()
            && n.sig.inputs.is_empty()
            && n.sig.unsafety.is_none()
            && !generic(&n.sig.generics)
            && matches!(n.imp, Some((r, Some(d))) if d == t && !generic(&model.impl_item(r).generics))
            && ctor_wrap(model, t, &n.sig) == Some(Wrap::Plain)
    });
    if new {
        return Some(format!("{public}::new()"));
    }
    let derived = types::generics_of(model.item(t)).is_some_and(|g| !generic(g))
        && item_attrs(model.item(t)).iter().any(|a| {
            a.path().is_ident("derive")
                && a.parse_args_with(
                    syn::punctuated::Punctuated::<syn::Path, syn::Token![,]>::parse_terminated,
                )
                .is_ok_and(|ps| ps.iter().any(|p| p.is_ident("Default")))
        });
    let implemented = model.impls.iter().any(|&r| {
        let imp = model.impl_item(r);
        !generic(&imp.generics)
            && imp
                .trait_
                .as_ref()
                .and_then(|(_, p, _)| p.segments.last())
                .is_some_and(|s| s.ident == "Default")
            && self_def(model, r.module, &imp.self_ty) == Some(t)
    });
    (derived || implemented).then(|| format!("<{public} as Default>::default()"))
}

fn item_attrs(item: &syn::Item) -> &[syn::Attribute] {
    match item {
        syn::Item::Struct(s) => &s.attrs,
        syn::Item::Enum(e) => &e.attrs,
        _ => &[],
    }
}

/// Whether the read/next/parse family names a method (driven first).
fn preferred(name: &str) -> bool {
    ["read", "next", "parse"]
        .iter()
        .any(|p| name.starts_with(p))
}

/// What a constructor fixes one type parameter of its type to.
#[derive(Debug, Clone)]
pub(crate) enum InstanceArg {
    /// The reader the target builds from the input (`Reader::from_reader(R)` with `R` a
    /// `Cursor` over the bytes): it reads, buffers and seeks.
    Reader,
    /// A type written in the constructor's impl (`Reader<&'a [u8]>`).
    Ty(Box<Type>),
    /// Unknown.
    Unknown,
}

/// The trait names a parameter may be bound by and still take `arg`.
fn satisfies(arg: &InstanceArg, bounds: &[Bound]) -> Option<bool> {
    let trivial = |n: &str| matches!(n, "Sized" | "Send" | "Sync" | "Unpin" | "Debug");
    let reads = |n: &str| matches!(n, "Read" | "BufRead");
    let names: Vec<String> = bounds.iter().map(Bound::name).collect();
    if names.iter().all(|n| trivial(n)) {
        return Some(true);
    }
    match arg {
        InstanceArg::Reader => Some(names.iter().all(|n| trivial(n) || reads(n) || n == "Seek")),
        InstanceArg::Ty(t) if is_byte_slice(t) => {
            Some(names.iter().all(|n| trivial(n) || reads(n)))
        }
        InstanceArg::Ty(_) => Some(false),
        InstanceArg::Unknown => None,
    }
}

/// Whether `ty` is `&[u8]` (which reads and buffers).
fn is_byte_slice(ty: &Type) -> bool {
    matches!(ty, Type::Reference(r) if r.mutability.is_none()
        && matches!(&*r.elem, Type::Slice(s) if types::is_named(&s.elem, "u8")))
}

/// A type as written without its lifetimes (`&'a [u8]` and `&[u8]` are one instance).
fn without_lifetimes(ty: &Type) -> String {
    let shown = types::show_ty(ty);
    let mut out = String::new();
    let mut chars = shown.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\'' {
            while chars
                .peek()
                .is_some_and(|c| c.is_alphanumeric() || *c == '_')
            {
                chars.next();
            }
            while chars.peek() == Some(&' ') {
                chars.next();
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// What the constructor in impl `ctor` fixes each type argument of its type to: the types its
/// impl writes, and `reader` (an impl type parameter the target instantiates with a reader over
/// the input).
pub(crate) fn instance(
    model: &CrateModel,
    ctor: ImplRef,
    reader: Option<&str>,
) -> Vec<InstanceArg> {
    let imp = model.impl_item(ctor);
    let params: Vec<String> = imp
        .generics
        .type_params()
        .map(|p| p.ident.to_string())
        .collect();
    let Some((_, args)) = types::last_segment(&imp.self_ty) else {
        return vec![];
    };
    args.into_iter()
        .map(|a| match a {
            Type::Path(tp)
                if tp
                    .path
                    .get_ident()
                    .is_some_and(|id| params.contains(&id.to_string())) =>
            {
                if tp
                    .path
                    .get_ident()
                    .is_some_and(|id| Some(id.to_string().as_str()) == reader)
                {
                    InstanceArg::Reader
                } else {
                    InstanceArg::Unknown
                }
            }
            other => InstanceArg::Ty(Box::new(other.clone())),
        })
        .collect()
}

/// Whether impl `r` applies to the instance: `Some(true)` when it does, `Some(false)` when it
/// cannot, `None` when it is not known.
fn applies(model: &CrateModel, r: ImplRef, inst: &[InstanceArg]) -> Option<bool> {
    let imp = model.impl_item(r);
    let params: Vec<String> = imp
        .generics
        .type_params()
        .map(|p| p.ident.to_string())
        .collect();
    let bounds = param_bounds(&[&imp.generics]);
    let Some((_, args)) = types::last_segment(&imp.self_ty) else {
        return Some(params.is_empty());
    };
    let mut known = true;
    for (i, a) in args.into_iter().enumerate() {
        let arg = inst.get(i).unwrap_or(&InstanceArg::Unknown);
        let param = match a {
            Type::Path(tp) => tp
                .path
                .get_ident()
                .map(|id| id.to_string())
                .filter(|id| params.contains(id)),
            _ => None,
        };
        let ok = match (param, arg) {
            (Some(p), arg) => satisfies(arg, bounds.get(&p).map_or(&[][..], Vec::as_slice)),
            (None, InstanceArg::Ty(t)) => Some(without_lifetimes(t) == without_lifetimes(a)),
            (None, InstanceArg::Reader) => Some(false),
            (None, InstanceArg::Unknown) => None,
        };
        match ok {
            Some(false) => return Some(false),
            None => known = false,
            Some(true) => {}
        }
    }
    known.then_some(true)
}

/// The impl type parameter a constructor's argument `ty` is, when the target can instantiate it
/// with a reader over the input: a parameter without bounds here (`impl<R> Reader<R> { fn
/// from_reader(reader: R) }`) that another impl of the type bounds by `Read`/`BufRead` (`impl<R:
/// BufRead> Reader<R>`), so the methods that drive the value read from it.
pub(crate) fn reader_param(
    model: &CrateModel,
    t: DefId,
    ctor: ImplRef,
    ty: &Type,
) -> Option<String> {
    let Type::Path(tp) = ty else { return None };
    let name = tp.path.get_ident()?.to_string();
    let imp = model.impl_item(ctor);
    if !imp.generics.type_params().any(|p| p.ident == name)
        || param_bounds(&[&imp.generics])
            .get(&name)
            .is_some_and(|b| !b.is_empty())
    {
        return None;
    }
    let (_, args) = types::last_segment(&imp.self_ty)?;
    let pos = args.iter().position(|a| types::is_named(a, &name))?;
    let read_elsewhere = model.impls.iter().any(|&r| {
        let other = model.impl_item(r);
        if other.trait_.is_some() || self_def(model, r.module, &other.self_ty) != Some(t) {
            return false;
        }
        let Some((_, oargs)) = types::last_segment(&other.self_ty) else {
            return false;
        };
        let Some(Type::Path(op)) = oargs.get(pos) else {
            return false;
        };
        let Some(oid) = op.path.get_ident() else {
            return false;
        };
        param_bounds(&[&other.generics])
            .get(&oid.to_string())
            .is_some_and(|b| {
                b.iter()
                    .any(|b| matches!(b.name().as_str(), "Read" | "BufRead"))
            })
    });
    read_elsewhere.then_some(name)
}

/// What drives a value of `t` built from the input (the instance `inst` its constructor
/// returns), or why nothing can.
pub(crate) fn drive(
    model: &CrateModel,
    graph: &CallGraph,
    t: DefId,
    inst: &[InstanceArg],
) -> Result<Drive, String> {
    let iterator = model.impls.iter().any(|&r| {
        let imp = model.impl_item(r);
        imp.trait_
            .as_ref()
            .and_then(|(_, p, _)| p.segments.last())
            .is_some_and(|s| s.ident == "Iterator")
            && self_def(model, r.module, &imp.self_ty) == Some(t)
    });
    if iterator {
        return Ok(Drive::Iterator);
    }
    // Methods of impls that apply to the instance the constructor returns first.
    let mut plain = Vec::new();
    let mut generic = Vec::new();
    for node in &graph.nodes {
        let Some((r, Some(d))) = node.imp else {
            continue;
        };
        if d != t
            || node.trait_name.is_some()
            || !node.is_pub
            || node.sig.unsafety.is_some()
            || node.sig.asyncness.is_some()
            || node.sig.generics.type_params().next().is_some()
        {
            continue;
        }
        let Some(FnArg::Receiver(rc)) = node.sig.inputs.first() else {
            continue;
        };
        if rc.reference.is_none() || rc.mutability.is_none() {
            continue;
        }
        let ReturnType::Type(_, ret) = &node.sig.output else {
            continue;
        };
        let option = match types::last_segment(ret) {
            Some((id, _)) if id == "Option" => true,
            Some((id, _)) if id.to_string().ends_with("Result") => false,
            _ => continue,
        };
        let imp = model.impl_item(r);
        let bounds = param_bounds(&[&node.sig.generics, &imp.generics]);
        let mut args = Vec::new();
        let mut ok = true;
        for a in node.sig.inputs.iter().skip(1) {
            let FnArg::Typed(pt) = a else { continue };
            match classify(model, node.module, &pt.ty, &bounds, 0) {
                Ok(ArgKind::Reader | ArgKind::Writer) | Err(_) => ok = false,
                Ok(k) => args.push(k),
            }
        }
        if !ok {
            continue;
        }
        let m = DriveMethod {
            name: node.name.clone(),
            args,
            option,
            end: end_pattern(model, node.module, &node.sig),
        };
        // An impl that applies to the constructor's instance (`impl<R: BufRead> Reader<R>` to a
        // `Reader<&[u8]>`); an impl not known to apply only when no other method does.
        match applies(model, r, inst) {
            Some(false) => {}
            Some(true) => plain.push(m),
            None => generic.push(m),
        }
    }
    let mut methods = if plain.is_empty() { generic } else { plain };
    methods.sort_by_key(|m| (!preferred(&m.name), m.args.len(), m.name.clone()));
    methods.dedup_by(|a, b| a.name == b.name);
    methods.truncate(MAX_DRIVE_METHODS);
    if methods.is_empty() {
        return Err(format!(
            "returns `{}`, which is no `Iterator` and has no public `&mut self` method returning \
             `Result` or `Option` to drive it",
            model.defs[t].name
        ));
    }
    Ok(Drive::Methods(methods))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closures_follow_the_bound() {
        let p = |s: &str| -> syn::ParenthesizedGenericArguments {
            let bound: syn::TraitBound = syn::parse_str(s).expect("bound");
            match &bound.path.segments.last().expect("segment").arguments {
                syn::PathArguments::Parenthesized(p) => p.clone(),
                _ => panic!("not parenthesized"),
            }
        };
        assert_eq!(closure(&p("FnMut(&str) -> bool")), "|_| true");
        assert_eq!(closure(&p("Fn(u8)")), "|_| {}");
        assert_eq!(closure(&p("Fn(String) -> String")), "|x| x");
        assert_eq!(closure(&p("FnMut(&str) -> Option<&'a str>")), "|_| None");
        assert_eq!(
            closure(&p("FnOnce(u8, u8) -> u32")),
            "|_, _| Default::default()"
        );
        assert!(preferred("read_event") && preferred("next_token") && !preferred("reset"));
    }
}
