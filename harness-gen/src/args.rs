//! Argument classification: how a generated target can build a value of a parameter's type from
//! the fuzzer's bytes ([`ArgKind`], with `arbitrary` for FFI targets), and which kinds are an
//! untrusted input handed over whole ([`Input`], for format and parse entry points). Types are
//! matched structurally (path segments and identifiers), never as rendered strings.

use std::collections::HashMap;

use quote::ToTokens;
use syn::punctuated::Punctuated;
use syn::{FnArg, ImplItem, Item, ReturnType, Token, Type};

use crate::model::{segs, CrateModel, DefId, Ns, Res};
use crate::source::ModId;
use crate::types::{self, self_def};

/// input field by reference (`let Input { a, .. } = &input;`), so every expression below reads a
/// `&FieldType`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArgKind {
    /// An integer, float, `bool` or `char`, passed by value.
    Prim(String),
    /// `&[u8]` from a `Vec<u8>`.
    Bytes,
    /// `&mut [u8]`: an output buffer whose length comes from a `u16`.
    BytesMut,
    /// `Vec<u8>` by value.
    VecU8,
    /// `&mut Vec<u8>`: a buffer starting with arbitrary contents.
    VecMut,
    /// `&[T]` of a primitive `T`, from a `Vec<T>`.
    Slice(String),
    /// `Vec<T>` of a primitive `T`, by value.
    VecOf(String),
    /// An unsigned size, capacity or count (by its parameter's name), kept below 64 KiB so that
    /// an allocation failure for an absurd request is not reported as a finding.
    Size(String),
    /// `&str` from a `String`.
    Str,
    /// `String` by value.
    String,
    /// `&CStr` from bytes (inputs with an interior NUL are skipped).
    CStr,
    /// `CString` from bytes.
    CString,
    /// `Option<&[u8]>`.
    OptBytes,
    /// `Option<&str>`.
    OptStr,
    /// `Option<T>` of a by-value kind.
    Opt(Box<ArgKind>),
    /// A tuple of by-value kinds.
    Tuple(Vec<ArgKind>),
    /// A crate type built with its public `new` from primitives: the type's path and argument
    /// kinds.
    Ctor(String, Vec<ArgKind>),
    /// A crate enum of unit variants, picked by index: the variants' paths.
    UnitEnum(Vec<String>),
    /// A generic `R: Read`/`BufRead` argument: a `Cursor<Vec<u8>>`.
    Reader,
    /// A generic `W: Write` argument: an empty `Vec<u8>`.
    Writer,
    /// `impl AsRef<[u8]>` (or a type parameter with that bound): a `&Vec<u8>`.
    AsRefBytes,
    /// `impl AsRef<str>`: a `&String`.
    AsRefStr,
}

/// One trait bound on a type parameter (`std::io::Read`, `AsRef<[u8]>`), kept as syntax and
/// matched by its segments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Bound(pub syn::Path);

impl Bound {
    /// A bound naming a trait by its bare name (`Read`).
    pub(crate) fn named(name: &str) -> Bound {
        let id = syn::Ident::new(name, proc_macro2::Span::call_site());
        Bound(id.into())
    }

    /// The trait's name: the last segment's identifier (`Read`, `AsRef`, `Deserialize`).
    pub(crate) fn name(&self) -> String {
        self.0
            .segments
            .last()
            .map(|s| s.ident.to_string())
            .unwrap_or_default()
    }

    /// Whether the bound is `trait_name<T>` with one type argument `T` that `arg` accepts.
    fn takes(&self, trait_name: &str, arg: impl Fn(&Type) -> bool) -> bool {
        let Some(last) = self.0.segments.last() else {
            return false;
        };
        let syn::PathArguments::AngleBracketed(ab) = &last.arguments else {
            return false;
        };
        let types: Vec<&Type> = ab
            .args
            .iter()
            .filter_map(|a| match a {
                syn::GenericArgument::Type(t) => Some(t),
                _ => None,
            })
            .collect();
        last.ident == trait_name && types.len() == 1 && arg(types[0])
    }
}

impl std::fmt::Display for Bound {
    /// The bound as reasons in `targets.json` show it: its tokens without spaces.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.to_token_stream().to_string().replace(' ', ""))
    }
}

/// The trait bounds of each type parameter, by the parameter's name.
pub(crate) type Bounds = HashMap<String, Vec<Bound>>;

/// The bounds written for type parameters: in generics and where clauses.
pub(crate) fn param_bounds(generics: &[&syn::Generics]) -> Bounds {
    let mut out: Bounds = HashMap::new();
    let mut add = |name: String, bounds: &Punctuated<syn::TypeParamBound, Token![+]>| {
        for b in bounds {
            if let syn::TypeParamBound::Trait(t) = b {
                out.entry(name.clone())
                    .or_default()
                    .push(Bound(t.path.clone()));
            }
        }
    };
    for g in generics {
        for p in g.type_params() {
            add(p.ident.to_string(), &p.bounds);
        }
        if let Some(w) = &g.where_clause {
            for pred in &w.predicates {
                if let syn::WherePredicate::Type(pt) = pred {
                    if let Type::Path(tp) = &pt.bounded_ty {
                        if let Some(id) = tp.path.get_ident() {
                            add(id.to_string(), &pt.bounds);
                        }
                    }
                }
            }
        }
    }
    out
}

/// What a generic parameter with these bounds can be instantiated with.
pub(crate) fn kind_for_bounds(bounds: &[Bound]) -> Option<ArgKind> {
    let names: Vec<String> = bounds.iter().map(Bound::name).collect();
    let allowed = |n: &str| matches!(n, "Send" | "Sync" | "Unpin" | "Sized" | "Debug");
    let io = |n: &str| matches!(n, "Read" | "BufRead" | "Write" | "Seek");
    if names.iter().any(|n| io(n)) && names.iter().all(|n| io(n) || allowed(n)) {
        // `Vec<u8>` writes; `Cursor<Vec<u8>>` reads, writes, seeks and buffers.
        let reads = names
            .iter()
            .any(|n| n == "Read" || n == "BufRead" || n == "Seek");
        return Some(if reads {
            ArgKind::Reader
        } else {
            ArgKind::Writer
        });
    }
    let bytes = |t: &Type| matches!(t, Type::Slice(s) if types::is_named(&s.elem, "u8"));
    if bounds.iter().any(|b| b.takes("AsRef", bytes)) {
        return Some(ArgKind::AsRefBytes);
    }
    if bounds
        .iter()
        .any(|b| b.takes("Into", |t| types::is_vec_of(t, "u8")))
    {
        return Some(ArgKind::VecU8);
    }
    if bounds
        .iter()
        .any(|b| b.takes("AsRef", |t| types::is_named(t, "str")))
    {
        return Some(ArgKind::AsRefStr);
    }
    if bounds
        .iter()
        .any(|b| b.takes("Into", |t| types::is_named(t, "String")))
    {
        return Some(ArgKind::String);
    }
    None
}

/// Unsigned types a size argument may have.
pub(crate) const SIZE_TYPES: &[&str] = &[
    "usize",
    "u64",
    "u32",
    "std::os::raw::c_ulong",
    "std::os::raw::c_uint",
];

/// Whether a parameter name says it is a size, capacity or count.
pub(crate) fn is_size_like(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    ["cap", "size", "len", "count", "capacity", "bound"]
        .iter()
        .any(|w| n.contains(w))
        || n == "n"
}

/// Classifies one argument type, or says why it cannot be built.
pub(crate) fn classify(
    model: &CrateModel,
    m: ModId,
    ty: &Type,
    bounds: &Bounds,
    depth: usize,
) -> Result<ArgKind, String> {
    let text = || ty.to_token_stream().to_string();
    if depth > 3 {
        return Err(format!("`{}` is nested too deeply", text()));
    }
    match ty {
        Type::Reference(r) => {
            let inner = &*r.elem;
            let mutable = r.mutability.is_some();
            if let Type::Slice(s) = inner {
                if types::is_named(&s.elem, "u8") {
                    return Ok(if mutable {
                        ArgKind::BytesMut
                    } else {
                        ArgKind::Bytes
                    });
                }
                if !mutable {
                    if let Ok(ArgKind::Prim(p)) = classify(model, m, &s.elem, bounds, depth + 1) {
                        return Ok(ArgKind::Slice(p));
                    }
                }
            }
            let name = types::last_segment(inner).map(|(id, args)| (id.to_string(), args));
            return match (name, mutable) {
                (Some((n, _)), false) if n == "str" => Ok(ArgKind::Str),
                (Some((n, _)), false) if n == "CStr" => Ok(ArgKind::CStr),
                (Some(_), true) if types::is_vec_of(inner, "u8") => Ok(ArgKind::VecMut),
                (Some((n, _)), _) if n == "Path" => {
                    Err("takes a filesystem path (fuzzing it would touch real files)".into())
                }
                _ => Err(format!("no `arbitrary` construction for `{}`", text())),
            };
        }
        Type::Tuple(t) => {
            if t.elems.is_empty() {
                return Ok(ArgKind::Tuple(vec![]));
            }
            let parts: Result<Vec<ArgKind>, String> = t
                .elems
                .iter()
                .map(|e| classify(model, m, e, bounds, depth + 1))
                .collect();
            let parts = parts?;
            if parts.iter().all(by_value) {
                return Ok(ArgKind::Tuple(parts));
            }
            return Err(format!("tuple `{}` holds borrowed parts", text()));
        }
        Type::ImplTrait(it) => {
            let b: Vec<Bound> = it
                .bounds
                .iter()
                .filter_map(|b| match b {
                    syn::TypeParamBound::Trait(t) => Some(Bound(t.path.clone())),
                    _ => None,
                })
                .collect();
            return kind_for_bounds(&b)
                .ok_or_else(|| format!("no `arbitrary` construction for `{}`", text()));
        }
        Type::Ptr(_) => return Err("takes a raw pointer".into()),
        Type::Paren(p) => return classify(model, m, &p.elem, bounds, depth),
        _ => {}
    }
    let Some((ident, args)) = types::last_segment(ty) else {
        return Err(format!("no `arbitrary` construction for `{}`", text()));
    };
    let name = ident.to_string();
    if let Some(b) = bounds.get(&name) {
        return kind_for_bounds(b).ok_or_else(|| {
            format!(
                "generic `{name}: {}` has no instance we can build",
                b.iter()
                    .map(Bound::to_string)
                    .collect::<Vec<_>>()
                    .join(" + ")
            )
        });
    }
    match name.as_str() {
        "u8" | "u16" | "u32" | "u64" | "u128" | "usize" | "i8" | "i16" | "i32" | "i64" | "i128"
        | "isize" | "f32" | "f64" | "bool" | "char" | "c_int" | "c_uint" | "c_long" | "c_ulong"
        | "c_char" | "c_uchar" | "c_short" | "c_ushort" | "size_t" | "c_double" | "c_float" => {
            let rendered = if name.starts_with("c_") || name == "size_t" {
                format!(
                    "std::os::raw::{}",
                    if name == "size_t" {
                        "c_ulong"
                    } else {
                        name.as_str()
                    }
                )
            } else {
                name.clone()
            };
            return Ok(ArgKind::Prim(rendered));
        }
        "String" => return Ok(ArgKind::String),
        "CString" => return Ok(ArgKind::CString),
        "Vec" if types::is_vec_of(ty, "u8") => return Ok(ArgKind::VecU8),
        "Vec" if args.len() == 1 => {
            if let Ok(ArgKind::Prim(p)) = classify(model, m, args[0], bounds, depth + 1) {
                return Ok(ArgKind::VecOf(p));
            }
        }
        "Option" if args.len() == 1 => {
            if let Type::Reference(r) = args[0] {
                if r.mutability.is_none() {
                    match classify(model, m, args[0], bounds, depth + 1)? {
                        ArgKind::Bytes => return Ok(ArgKind::OptBytes),
                        ArgKind::Str => return Ok(ArgKind::OptStr),
                        _ => {}
                    }
                }
                return Err(format!("no `arbitrary` construction for `{}`", text()));
            }
            let inner = classify(model, m, args[0], bounds, depth + 1)?;
            return if by_value(&inner) {
                Ok(ArgKind::Opt(Box::new(inner)))
            } else {
                Err(format!("no `arbitrary` construction for `{}`", text()))
            };
        }
        _ => {}
    }
    // A crate type: a unit-only enum, or a type with a public `new` taking primitives.
    let Type::Path(tp) = ty else {
        return Err(format!("no `arbitrary` construction for `{}`", text()));
    };
    if let Some(Res::Def(d)) = model.resolve(m, &segs(&tp.path), Ns::Type) {
        let Some(public) = model.public_path(d) else {
            return Err(format!("`{}` is not public", text()));
        };
        if let Item::Enum(e) = model.item(d) {
            if !e.variants.is_empty()
                && e.variants
                    .iter()
                    .all(|v| matches!(v.fields, syn::Fields::Unit))
                && e.generics.params.is_empty()
            {
                return Ok(ArgKind::UnitEnum(
                    e.variants
                        .iter()
                        .map(|v| format!("{public}::{}", v.ident))
                        .collect(),
                ));
            }
        }
        if let Some(args) = simple_new(model, d) {
            return Ok(ArgKind::Ctor(public, args));
        }
        return Err(format!(
            "`{}` has no public `new` taking primitives",
            text()
        ));
    }
    Err(format!("no `arbitrary` construction for `{}`", text()))
}

fn by_value(k: &ArgKind) -> bool {
    match k {
        ArgKind::Prim(_) | ArgKind::VecU8 | ArgKind::String | ArgKind::VecOf(_) => true,
        ArgKind::Opt(i) => by_value(i),
        ArgKind::Tuple(p) => p.iter().all(by_value),
        _ => false,
    }
}

/// The primitive argument kinds of `T::new` when it is public, safe, not generic and returns
/// `Self` directly.
fn simple_new(model: &CrateModel, d: DefId) -> Option<Vec<ArgKind>> {
    for &r in &model.impls {
        let imp = model.impl_item(r);
        if imp.trait_.is_some()
            || !imp.generics.params.is_empty()
            || self_def(model, r.module, &imp.self_ty) != Some(d)
        {
            continue;
        }
        for ii in &imp.items {
            let ImplItem::Fn(f) = ii else { continue };
            if f.sig.ident != "new"
                || !matches!(f.vis, syn::Visibility::Public(_))
                || f.sig.unsafety.is_some()
                || !f.sig.generics.params.is_empty()
            {
                continue;
            }
            let ReturnType::Type(_, ret) = &f.sig.output else {
                continue;
            };
            if !types::is_named(ret, "Self") && !types::is_named(ret, &model.defs[d].name) {
                continue;
            }
            let mut kinds = Vec::new();
            for a in &f.sig.inputs {
                let FnArg::Typed(pt) = a else { return None };
                match classify(model, r.module, &pt.ty, &HashMap::new(), 3) {
                    Ok(k @ ArgKind::Prim(_)) => kinds.push(k),
                    _ => return None,
                }
            }
            return Some(kinds);
        }
    }
    None
}

/// How a target hands the fuzzer's bytes to the function under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    /// `&[u8]` (or `impl AsRef<[u8]>`): the bytes themselves.
    Bytes,
    /// `Vec<u8>`: an owned copy.
    VecU8,
    /// `&str` (or `impl AsRef<str>`): the bytes when they are UTF-8.
    Str,
    /// `String`: an owned copy of the UTF-8 text.
    String,
    /// A generic `Read`/`BufRead`: a `Cursor` over the bytes.
    Reader,
}

impl Input {
    /// The input kind of an argument kind, if it is one.
    pub fn of(kind: &ArgKind) -> Option<Input> {
        Some(match kind {
            ArgKind::Bytes | ArgKind::AsRefBytes => Input::Bytes,
            ArgKind::VecU8 => Input::VecU8,
            ArgKind::Str | ArgKind::AsRefStr => Input::Str,
            ArgKind::String => Input::String,
            ArgKind::Reader => Input::Reader,
            _ => return None,
        })
    }

    /// Whether the input must be UTF-8 text.
    pub fn is_text(self) -> bool {
        matches!(self, Input::Str | Input::String)
    }

    /// The argument expression; text inputs read a `text: &str` bound by the target first.
    pub fn expr(self) -> &'static str {
        match self {
            Input::Bytes => "data",
            Input::VecU8 => "data.to_vec()",
            Input::Str => "text",
            Input::String => "text.to_owned()",
            Input::Reader => "std::io::Cursor::new(data)",
        }
    }

    /// A word for target names and docs.
    pub fn word(self) -> &'static str {
        match self {
            Input::Bytes | Input::VecU8 => "bytes",
            Input::Str | Input::String => "str",
            Input::Reader => "reader",
        }
    }
}

/// Whether a type parameter's bounds make it a `Deserialize` result (a format entry point).
pub(crate) fn is_deserialize_bound(bounds: &[Bound]) -> bool {
    bounds
        .iter()
        .any(|b| matches!(b.name().as_str(), "Deserialize" | "DeserializeOwned"))
}
