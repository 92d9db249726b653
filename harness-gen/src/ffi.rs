//! Discovery of safe public wrappers over FFI: every function and method of the crate, a call
//! graph between them (paths, `Self::f`, `self.f()`, method names, calls inside macro
//! arguments), the set that calls a foreign function (declared in an `extern` block of the crate,
//! or exported by a `*-sys`/`links` dependency or `libc`) directly or through other functions of
//! the crate, and for each public safe one a plan of how to build its arguments with `arbitrary`.
//!
//! Method calls on receivers other than `self` are matched by name (no type inference), which
//! over-approximates; names that `std` types use everywhere (`len`, `push`, ...) are not linked.

use std::collections::{BTreeSet, HashMap};

use quote::ToTokens;
use syn::punctuated::Punctuated;
use syn::visit::Visit;
use syn::{FnArg, ImplItem, Item, ReturnType, Token, Type};

use crate::deser::self_def;
use crate::model::{segs, CrateModel, DefId, DefKind, ImplRef, Ns, Res};
use crate::source::ModId;
use crate::types;

/// Method names too common in `std` to link a call to a crate method by name alone.
const COMMON_METHODS: &[&str] = &[
    "len",
    "is_empty",
    "push",
    "pop",
    "get",
    "get_mut",
    "insert",
    "remove",
    "clear",
    "iter",
    "iter_mut",
    "into_iter",
    "map",
    "and_then",
    "ok",
    "err",
    "unwrap",
    "expect",
    "clone",
    "into",
    "from",
    "as_ref",
    "as_mut",
    "as_ptr",
    "as_mut_ptr",
    "to_string",
    "to_owned",
    "fmt",
    "eq",
    "cmp",
    "partial_cmp",
    "hash",
    "next",
    "extend",
    "drop",
    "take",
    "replace",
    "contains",
    "with_capacity",
    "new",
    "default",
    "write",
    "read",
    "flush",
    "as_slice",
    "as_str",
    "lock",
    "borrow",
    "borrow_mut",
    "set_len",
    "reserve",
    "truncate",
    "resize",
    "copy_from_slice",
    "is_null",
    "is_some",
    "is_none",
    "unwrap_or",
    "unwrap_or_else",
    "map_err",
    "collect",
    "as_bytes",
    "to_vec",
    "min",
    "max",
];

/// One function or method of the crate.
#[derive(Debug, Clone)]
pub struct FnNode {
    /// The function's name.
    pub name: String,
    /// How messages name it: `name`, or `Type::name` for a method.
    pub label: String,
    /// The module it is written in.
    pub module: ModId,
    /// Its signature.
    pub sig: syn::Signature,
    /// Declared plain `pub`.
    pub is_pub: bool,
    /// For a free function: its definition.
    pub free: Option<DefId>,
    /// For a method: the impl block and the type it is for.
    pub imp: Option<(ImplRef, Option<DefId>)>,
    /// The trait a trait-impl method implements (last segment), if any.
    pub trait_name: Option<String>,
    /// The first foreign function called directly.
    pub direct: Option<String>,
    /// Callees.
    pub calls: BTreeSet<usize>,
}

/// The call graph with its FFI reachability.
#[derive(Debug)]
pub struct CallGraph {
    /// Every function and method.
    pub nodes: Vec<FnNode>,
    /// For each node that reaches FFI: the callee it reaches it through (`None` when direct).
    pub reach: Vec<Option<Option<usize>>>,
}

impl CallGraph {
    /// Whether a node reaches a foreign function.
    pub fn reaches(&self, n: usize) -> bool {
        self.reach[n].is_some()
    }

    /// How a node reaches FFI, e.g. ``calls `ffi::BZ2_bzCompress` via `compress_inner` ``.
    pub fn explain(&self, mut n: usize) -> String {
        let mut via = Vec::new();
        for _ in 0..6 {
            match self.reach[n] {
                Some(Some(next)) => {
                    via.push(format!("`{}`", self.nodes[next].label));
                    n = next;
                }
                Some(None) => break,
                None => return String::new(),
            }
        }
        let direct = self.nodes[n].direct.clone().unwrap_or_default();
        if via.is_empty() {
            format!("calls `{direct}`")
        } else {
            format!("calls `{direct}` via {}", via.join(" → "))
        }
    }
}

/// Builds the call graph. `ffi_crates` are the code names of dependencies whose functions are
/// foreign (`bzip2_sys`, `libc`, ...).
pub fn call_graph(model: &CrateModel, ffi_crates: &BTreeSet<String>) -> CallGraph {
    let mut nodes = Vec::new();
    let mut bodies: Vec<&syn::Block> = Vec::new();
    for (d, def) in model.defs.iter().enumerate() {
        if def.kind == DefKind::Fn {
            if let Item::Fn(f) = model.item(d) {
                nodes.push(FnNode {
                    name: def.name.clone(),
                    label: def.name.clone(),
                    module: def.module,
                    sig: f.sig.clone(),
                    is_pub: def.is_pub,
                    free: Some(d),
                    imp: None,
                    trait_name: None,
                    direct: None,
                    calls: BTreeSet::new(),
                });
                bodies.push(&f.block);
            }
        }
    }
    for &r in &model.impls {
        let imp = model.impl_item(r);
        let target = self_def(model, r.module, &imp.self_ty);
        let trait_name = imp
            .trait_
            .as_ref()
            .and_then(|(_, p, _)| p.segments.last().map(|s| s.ident.to_string()));
        for ii in &imp.items {
            if let ImplItem::Fn(f) = ii {
                nodes.push(FnNode {
                    name: f.sig.ident.to_string(),
                    label: match types::last_segment(&imp.self_ty) {
                        Some((id, _)) => format!("{id}::{}", f.sig.ident),
                        None => f.sig.ident.to_string(),
                    },
                    module: r.module,
                    sig: f.sig.clone(),
                    is_pub: matches!(f.vis, syn::Visibility::Public(_)) || trait_name.is_some(),
                    free: None,
                    imp: Some((r, target)),
                    trait_name: trait_name.clone(),
                    direct: None,
                    calls: BTreeSet::new(),
                });
                bodies.push(&f.block);
            }
        }
    }
    let mut by_free: HashMap<DefId, usize> = HashMap::new();
    let mut by_method: HashMap<(DefId, String), Vec<usize>> = HashMap::new();
    let mut by_name: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, n) in nodes.iter().enumerate() {
        if let Some(d) = n.free {
            by_free.insert(d, i);
        }
        if let Some((_, Some(t))) = n.imp {
            by_method.entry((t, n.name.clone())).or_default().push(i);
            by_name.entry(n.name.clone()).or_default().push(i);
        }
    }
    let glob_ffi: Vec<bool> = (0..model.tree.modules.len())
        .map(|m| {
            model.uses.iter().any(|u| {
                u.module == m
                    && u.alias.is_none()
                    && matches!(model.resolve(m, &u.path, Ns::Type), Some(Res::External(v)) if v.first().is_some_and(|c| ffi_crates.contains(c)))
            })
        })
        .collect();
    for i in 0..nodes.len() {
        let mut c = Collector {
            model,
            ffi_crates,
            module: nodes[i].module,
            self_ty: nodes[i].imp.and_then(|(_, t)| t),
            glob_ffi: glob_ffi[nodes[i].module],
            by_free: &by_free,
            by_method: &by_method,
            by_name: &by_name,
            calls: BTreeSet::new(),
            direct: None,
        };
        c.visit_block(bodies[i]);
        nodes[i].calls = c.calls;
        nodes[i].direct = c.direct;
    }
    let mut reach: Vec<Option<Option<usize>>> = nodes
        .iter()
        .map(|n| n.direct.as_ref().map(|_| None))
        .collect();
    loop {
        let mut changed = false;
        for i in 0..nodes.len() {
            if reach[i].is_some() {
                continue;
            }
            if let Some(&c) = nodes[i]
                .calls
                .iter()
                .find(|&&c| c != i && reach[c].is_some())
            {
                reach[i] = Some(Some(c));
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    CallGraph { nodes, reach }
}

struct Collector<'a> {
    model: &'a CrateModel,
    ffi_crates: &'a BTreeSet<String>,
    module: ModId,
    self_ty: Option<DefId>,
    glob_ffi: bool,
    by_free: &'a HashMap<DefId, usize>,
    by_method: &'a HashMap<(DefId, String), Vec<usize>>,
    by_name: &'a HashMap<String, Vec<usize>>,
    calls: BTreeSet<usize>,
    direct: Option<String>,
}

impl Collector<'_> {
    fn foreign(&mut self, name: String) {
        if self.direct.is_none() {
            self.direct = Some(name);
        }
    }

    fn methods_of(&mut self, t: DefId, name: &str) {
        if let Some(v) = self.by_method.get(&(t, name.to_string())) {
            self.calls.extend(v.iter().copied());
        }
    }

    fn call_path(&mut self, path: &syn::Path) {
        let s = segs(path);
        if s.len() == 2 && s[0] == "Self" {
            if let Some(t) = self.self_ty {
                self.methods_of(t, &s[1]);
            }
            return;
        }
        match self.model.resolve(self.module, &s, Ns::Value) {
            Some(Res::Def(d)) => match self.model.defs[d].kind {
                DefKind::Fn => {
                    if let Some(&n) = self.by_free.get(&d) {
                        self.calls.insert(n);
                    }
                }
                DefKind::ForeignFn => self.foreign(s.join("::")),
                DefKind::Struct | DefKind::Enum | DefKind::Union if s.len() >= 2 => {
                    self.methods_of(d, &s[s.len() - 1])
                }
                _ => {}
            },
            Some(Res::External(v)) => {
                if v.len() >= 2 && self.ffi_crates.contains(&v[0]) {
                    self.foreign(s.join("::"));
                } else if v.len() == 1
                    && self.glob_ffi
                    && !types::PRELUDE_TYPES.contains(&v[0].as_str())
                {
                    self.foreign(v[0].clone());
                }
            }
            _ => {}
        }
    }
}

impl<'ast> Visit<'ast> for Collector<'_> {
    fn visit_expr_call(&mut self, call: &'ast syn::ExprCall) {
        if let syn::Expr::Path(p) = &*call.func {
            if p.qself.is_none() {
                self.call_path(&p.path);
            }
        }
        syn::visit::visit_expr_call(self, call);
    }

    fn visit_expr_method_call(&mut self, call: &'ast syn::ExprMethodCall) {
        let name = call.method.to_string();
        let on_self = matches!(&*call.receiver, syn::Expr::Path(p) if p.path.is_ident("self"));
        match (on_self, self.self_ty) {
            (true, Some(t)) => self.methods_of(t, &name),
            _ if !COMMON_METHODS.contains(&name.as_str()) => {
                if let Some(v) = self.by_name.get(&name) {
                    self.calls.extend(v.iter().copied());
                }
            }
            _ => {}
        }
        syn::visit::visit_expr_method_call(self, call);
    }

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        if let Ok(args) = mac.parse_body_with(Punctuated::<syn::Expr, Token![,]>::parse_terminated)
        {
            for a in &args {
                self.visit_expr(a);
            }
        } else if let Ok(block) = mac
            .parse_body_with(|input: syn::parse::ParseStream<'_>| syn::Block::parse_within(input))
        {
            for stmt in &block {
                self.visit_stmt(stmt);
            }
        }
    }

    fn visit_item(&mut self, _: &'ast Item) {
        // Items nested in a body are not part of this function's calls.
    }
}

/// How the generated harness builds one argument from `arbitrary` input. The harness binds each
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

impl ArgKind {
    /// The type of the `arbitrary` input field, or `None` when the argument needs no input.
    pub fn field_type(&self) -> Option<String> {
        Some(match self {
            ArgKind::Prim(p) => p.clone(),
            ArgKind::Bytes
            | ArgKind::VecU8
            | ArgKind::VecMut
            | ArgKind::CStr
            | ArgKind::CString
            | ArgKind::Reader
            | ArgKind::AsRefBytes => "Vec<u8>".into(),
            ArgKind::BytesMut | ArgKind::Size(_) => "u16".into(),
            ArgKind::Str | ArgKind::String | ArgKind::AsRefStr => "String".into(),
            ArgKind::OptBytes => "Option<Vec<u8>>".into(),
            ArgKind::OptStr => "Option<String>".into(),
            ArgKind::Opt(inner) => format!("Option<{}>", inner.field_type()?),
            ArgKind::Tuple(parts) | ArgKind::Ctor(_, parts) => {
                let p: Option<Vec<String>> = parts.iter().map(ArgKind::field_type).collect();
                let p = p?;
                if p.len() == 1 {
                    format!("({},)", p[0])
                } else {
                    format!("({})", p.join(", "))
                }
            }
            ArgKind::UnitEnum(_) => "u8".into(),
            ArgKind::Slice(t) | ArgKind::VecOf(t) => format!("Vec<{t}>"),
            ArgKind::Writer => return None,
        })
    }

    /// Statements to run before the call (`bail` ends the case: `return` or `continue`) and the
    /// argument expression, for an input field bound as `name: &FieldType`.
    pub fn build(&self, name: &str, bail: &str) -> (Vec<String>, String) {
        match self {
            ArgKind::Prim(_) => (vec![], format!("*{name}")),
            ArgKind::Bytes | ArgKind::Str | ArgKind::AsRefBytes | ArgKind::AsRefStr | ArgKind::Slice(_) => {
                (vec![], name.to_string())
            }
            ArgKind::VecOf(_) => (vec![], format!("{name}.clone()")),
            ArgKind::Size(t) => (vec![], format!("{t}::from(*{name})")),
            ArgKind::BytesMut => (
                vec![format!("let mut {name} = vec![0u8; usize::from(*{name})];")],
                format!("&mut {name}"),
            ),
            ArgKind::VecU8 | ArgKind::String | ArgKind::Opt(_) | ArgKind::Tuple(_) => (vec![], format!("{name}.clone()")),
            ArgKind::VecMut => (vec![format!("let mut {name} = {name}.clone();")], format!("&mut {name}")),
            ArgKind::CStr | ArgKind::CString => (
                vec![
                    "// C strings cannot hold an interior NUL: such inputs are not interesting.".to_string(),
                    format!("let Ok({name}) = std::ffi::CString::new({name}.clone()) else {{ {bail} }};"),
                ],
                if *self == ArgKind::CStr { format!("&{name}") } else { name.to_string() },
            ),
            ArgKind::OptBytes | ArgKind::OptStr => (vec![], format!("{name}.as_deref()")),
            ArgKind::Ctor(path, parts) => {
                let args: Vec<String> = (0..parts.len()).map(|i| format!("{name}.{i}")).collect();
                (vec![], format!("{path}::new({})", args.join(", ")))
            }
            ArgKind::UnitEnum(variants) => {
                let mut arms: Vec<String> = variants
                    .iter()
                    .enumerate()
                    .take(variants.len().saturating_sub(1))
                    .map(|(i, v)| format!("{i} => {v},"))
                    .collect();
                arms.push(format!("_ => {},", variants.last().cloned().unwrap_or_default()));
                (
                    vec![format!(
                        "let {name} = match *{name} as usize % {} {{ {} }};",
                        variants.len(),
                        arms.join(" ")
                    )],
                    name.to_string(),
                )
            }
            ArgKind::Reader => (vec![], format!("std::io::Cursor::new({name}.clone())")),
            ArgKind::Writer => (vec![], "Vec::<u8>::new()".into()),
        }
    }
}

/// The bounds written for type parameters: in generics and where clauses.
pub fn param_bounds(generics: &[&syn::Generics]) -> HashMap<String, Vec<String>> {
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    let mut add = |name: String, bounds: &Punctuated<syn::TypeParamBound, Token![+]>| {
        for b in bounds {
            if let syn::TypeParamBound::Trait(t) = b {
                out.entry(name.clone())
                    .or_default()
                    .push(t.path.to_token_stream().to_string().replace(' ', ""));
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
pub fn kind_for_bounds(bounds: &[String]) -> Option<ArgKind> {
    let last = |b: &String| b.rsplit("::").next().unwrap_or(b).to_string();
    let names: Vec<String> = bounds.iter().map(last).collect();
    let allowed = |n: &str| matches!(n, "Send" | "Sync" | "Unpin" | "Sized" | "Debug" | "'static");
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
    if bounds.iter().any(|b| b.ends_with("AsRef<[u8]>")) {
        return Some(ArgKind::AsRefBytes);
    }
    if bounds.iter().any(|b| b.ends_with("Into<Vec<u8>>")) {
        return Some(ArgKind::VecU8);
    }
    if bounds.iter().any(|b| b.ends_with("AsRef<str>")) {
        return Some(ArgKind::AsRefStr);
    }
    if bounds.iter().any(|b| b.ends_with("Into<String>")) {
        return Some(ArgKind::String);
    }
    None
}

/// Unsigned types a size argument may have.
const SIZE_TYPES: &[&str] = &[
    "usize",
    "u64",
    "u32",
    "std::os::raw::c_ulong",
    "std::os::raw::c_uint",
];

/// Whether a parameter name says it is a size, capacity or count.
fn is_size_like(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    ["cap", "size", "len", "count", "capacity", "bound"]
        .iter()
        .any(|w| n.contains(w))
        || n == "n"
}

/// Classifies one argument type, or says why it cannot be built.
pub fn classify(
    model: &CrateModel,
    m: ModId,
    ty: &Type,
    bounds: &HashMap<String, Vec<String>>,
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
                if s.elem.to_token_stream().to_string() == "u8" {
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
                (Some((n, args)), true)
                    if n == "Vec"
                        && args.len() == 1
                        && args[0].to_token_stream().to_string() == "u8" =>
                {
                    Ok(ArgKind::VecMut)
                }
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
            let b: Vec<String> = it
                .bounds
                .iter()
                .filter_map(|b| match b {
                    syn::TypeParamBound::Trait(t) => {
                        Some(t.path.to_token_stream().to_string().replace(' ', ""))
                    }
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
                b.join(" + ")
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
        "Vec" if args.len() == 1 && args[0].to_token_stream().to_string() == "u8" => {
            return Ok(ArgKind::VecU8)
        }
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
            let ret = ret.to_token_stream().to_string();
            if ret != "Self" && ret != model.defs[d].name {
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
    bounds: &HashMap<String, Vec<String>>,
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
pub fn plan(model: &CrateModel, graph: &CallGraph) -> Vec<FfiItem> {
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
                vec![if k.starts_with("Vec") {
                    "Write".into()
                } else {
                    "Read".into()
                }],
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
        plan(&model, &call_graph(&model, &crates))
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
