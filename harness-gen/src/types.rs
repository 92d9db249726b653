//! Rendering types found in the crate's sources as code the generated fuzz crate can write:
//! crate items by their public path, `std` items by their full path, primitives and prelude names
//! as they are. A type that cannot be named from outside the crate does not render.

use std::collections::HashMap;

use quote::ToTokens;
use syn::{GenericArgument, Item, PathArguments, Type};

use crate::model::{segs, CrateModel, DefId, DefKind, Ns, Res};
use crate::source::ModId;

/// Primitive types and names the prelude brings into scope.
pub(crate) const PRELUDE_TYPES: &[&str] = &[
    "bool", "char", "str", "u8", "u16", "u32", "u64", "u128", "usize", "i8", "i16", "i32", "i64",
    "i128", "isize", "f32", "f64", "String", "Vec", "Option", "Box", "Result",
];

/// Generic parameters bound to concrete types (already rendered).
pub(crate) type Subst = HashMap<String, String>;

/// Renders `ty`, written in module `m`, for use outside the crate; `None` if some part of it
/// cannot be named there (a private type, another crate's type, `impl Trait`, ...).
pub(crate) fn render(model: &CrateModel, m: ModId, ty: &Type, subst: &Subst) -> Option<String> {
    Some(match ty {
        Type::Path(tp) if tp.qself.is_none() => {
            let path = &tp.path;
            if path.segments.len() == 1 {
                let name = path.segments[0].ident.to_string();
                if let Some(s) = subst.get(&name) {
                    return Some(s.clone());
                }
            }
            let args = render_args(model, m, &path.segments.last()?.arguments, subst)?;
            let base = render_path(model, m, path)?;
            format!("{base}{args}")
        }
        Type::Reference(r) => {
            let inner = render(model, m, &r.elem, subst)?;
            if r.mutability.is_some() {
                format!("&mut {inner}")
            } else {
                format!("&{inner}")
            }
        }
        Type::Slice(s) => format!("[{}]", render(model, m, &s.elem, subst)?),
        Type::Array(a) => {
            let len = a.len.to_token_stream().to_string();
            if !len.chars().all(|c| c.is_ascii_digit() || c == '_') {
                return None;
            }
            format!("[{}; {len}]", render(model, m, &a.elem, subst)?)
        }
        Type::Tuple(t) => {
            let parts: Option<Vec<String>> =
                t.elems.iter().map(|e| render(model, m, e, subst)).collect();
            let parts = parts?;
            if parts.len() == 1 {
                format!("({},)", parts[0])
            } else {
                format!("({})", parts.join(", "))
            }
        }
        Type::Paren(p) => render(model, m, &p.elem, subst)?,
        Type::Group(g) => render(model, m, &g.elem, subst)?,
        _ => return None,
    })
}

/// Renders the path part of a type path (no generic arguments).
fn render_path(model: &CrateModel, m: ModId, path: &syn::Path) -> Option<String> {
    let s = segs(path);
    if s.len() == 1 && model.lookup(m, &s[0], Ns::Type, 0).is_none() {
        return PRELUDE_TYPES.contains(&s[0].as_str()).then(|| s[0].clone());
    }
    match model.resolve(m, &s, Ns::Type)? {
        Res::Def(d) => model.public_path(d),
        Res::External(v)
            if matches!(
                v.first().map(String::as_str),
                Some("std" | "core" | "alloc")
            ) =>
        {
            Some(if v[0] == "std" {
                v.join("::")
            } else {
                format!("std::{}", v[1..].join("::"))
            })
        }
        _ => None,
    }
}

fn render_args(
    model: &CrateModel,
    m: ModId,
    args: &PathArguments,
    subst: &Subst,
) -> Option<String> {
    match args {
        PathArguments::None => Some(String::new()),
        PathArguments::AngleBracketed(ab) => {
            let mut out = Vec::new();
            for arg in &ab.args {
                match arg {
                    GenericArgument::Lifetime(_) => {}
                    GenericArgument::Type(t) => out.push(render(model, m, t, subst)?),
                    GenericArgument::Const(c) => out.push(c.to_token_stream().to_string()),
                    _ => return None,
                }
            }
            Some(if out.is_empty() {
                String::new()
            } else {
                format!("<{}>", out.join(", "))
            })
        }
        PathArguments::Parenthesized(_) => None,
    }
}

/// The last path segment's name of a type path, and its type arguments.
pub(crate) fn last_segment(ty: &Type) -> Option<(&syn::Ident, Vec<&Type>)> {
    let Type::Path(tp) = ty else { return None };
    let last = tp.path.segments.last()?;
    let args = match &last.arguments {
        PathArguments::AngleBracketed(ab) => ab
            .args
            .iter()
            .filter_map(|a| match a {
                GenericArgument::Type(t) => Some(t),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    Some((&last.ident, args))
}

/// Whether a type mentions `f32` or `f64` anywhere (itself, its arguments, referents, elements).
pub(crate) fn mentions_float(ty: &Type) -> bool {
    inner_paths(ty)
        .iter()
        .flat_map(|p| &p.segments)
        .any(|s| s.ident == "f32" || s.ident == "f64")
}

/// Whether `ty` is the plain name `name` (`u8`, `str`, `String`, `Self`): a path of one segment
/// without arguments, compared by identifier.
pub(crate) fn is_named(ty: &Type, name: &str) -> bool {
    match ty {
        Type::Path(tp) if tp.qself.is_none() => tp.path.get_ident().is_some_and(|id| id == name),
        Type::Group(g) => is_named(&g.elem, name),
        Type::Paren(p) => is_named(&p.elem, name),
        _ => false,
    }
}

/// Whether `ty` is `Vec<elem>` (by its last segment, so `std::vec::Vec<u8>` too).
pub(crate) fn is_vec_of(ty: &Type, elem: &str) -> bool {
    last_segment(ty)
        .is_some_and(|(id, args)| id == "Vec" && args.len() == 1 && is_named(args[0], elem))
}

/// Every type path mentioned inside `ty` (itself, its arguments, referents, elements).
pub(crate) fn inner_paths(ty: &Type) -> Vec<&syn::Path> {
    struct V<'a>(Vec<&'a syn::Path>);
    impl<'a> syn::visit::Visit<'a> for V<'a> {
        fn visit_type_path(&mut self, tp: &'a syn::TypePath) {
            self.0.push(&tp.path);
            syn::visit::visit_type_path(self, tp);
        }
    }
    let mut v = V(Vec::new());
    syn::visit::Visit::visit_type(&mut v, ty);
    v.0
}

/// The crate type an impl's self type names.
pub(crate) fn self_def(model: &CrateModel, m: ModId, ty: &Type) -> Option<DefId> {
    let Type::Path(tp) = ty else { return None };
    match model.resolve(m, &segs(&tp.path), Ns::Type)? {
        Res::Def(d)
            if matches!(
                model.defs[d].kind,
                DefKind::Struct | DefKind::Enum | DefKind::Union
            ) =>
        {
            Some(d)
        }
        _ => None,
    }
}

/// A type as source text, compactly (`&'de str`, `Vec<u8>`), for reasons in `targets.json`.
pub(crate) fn show_ty(ty: &Type) -> String {
    ty.to_token_stream()
        .to_string()
        .replace("& ", "&")
        .replace(" <", "<")
        .replace("< ", "<")
        .replace(" >", ">")
        .replace(" ,", ",")
        .replace(" :: ", "::")
        .replace("[ ", "[")
        .replace(" ]", "]")
}

/// The generics of a struct, enum or union.
pub(crate) fn generics_of(item: &Item) -> Option<&syn::Generics> {
    match item {
        Item::Struct(s) => Some(&s.generics),
        Item::Enum(e) => Some(&e.generics),
        Item::Union(u) => Some(&u.generics),
        _ => None,
    }
}
