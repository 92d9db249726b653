//! The crate's call graph: every function and method of the crate, the calls between them
//! (paths, `Self::f`, `self.f()`, method names, calls inside macro arguments), and which of them
//! call a foreign function (declared in an `extern` block of the crate, or exported by a
//! `*-sys`/`links` dependency or `libc`) directly or through other functions of the crate.
//!
//! Method calls on receivers other than `self` are matched by name (no type inference), which
//! over-approximates; names that `std` types use everywhere (`len`, `push`, ...) are not linked.

use std::collections::{BTreeSet, HashMap};

use syn::punctuated::Punctuated;
use syn::visit::Visit;
use syn::{ImplItem, Item, Token};

use crate::model::{segs, CrateModel, DefId, DefKind, ImplRef, Ns, Res};
use crate::source::ModId;
use crate::types::{self, self_def};

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
pub(crate) struct FnNode {
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
pub(crate) struct CallGraph {
    /// Every function and method.
    pub nodes: Vec<FnNode>,
    /// For each node that reaches FFI: the callee it reaches it through (`None` when direct).
    pub reach: Vec<Option<Option<usize>>>,
}

impl CallGraph {
    /// Whether a node reaches a foreign function.
    pub(crate) fn reaches(&self, n: usize) -> bool {
        self.reach[n].is_some()
    }

    /// How a node reaches FFI, e.g. ``calls `ffi::BZ2_bzCompress` via `compress_inner` ``.
    pub(crate) fn explain(&self, mut n: usize) -> String {
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
pub(crate) fn call_graph(model: &CrateModel, ffi_crates: &BTreeSet<String>) -> CallGraph {
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
