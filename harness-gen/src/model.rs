//! The crate model: every named item of the module tree, every `use`, every `impl`, name
//! resolution within the crate, and each item's **public path** (the shortest way a user of the
//! crate can name it: `pub mod` chains, `pub use` re-exports with renames and globs).
//!
//! Resolution follows the 2018 rules closely enough for discovery: a path starts at `crate`,
//! `self`, `super`, `::extern`, or a name in scope (local items, child modules, named imports,
//! then glob imports); a first segment nothing in scope defines is taken to be an extern crate.
//! Macro-generated items are not seen.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use syn::{Item, UseTree, Visibility};

use crate::source::{ModId, ModuleTree};

/// Index of a [`Def`] in [`CrateModel::defs`].
pub(crate) type DefId = usize;

/// What kind of item a definition is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DefKind {
    /// `struct`
    Struct,
    /// `enum`
    Enum,
    /// `union`
    Union,
    /// `type X = ..;`
    TypeAlias,
    /// `fn`
    Fn,
    /// a `fn` declared in an `extern` block
    ForeignFn,
    /// `trait`
    Trait,
    /// `const` or `static`
    Value,
}

impl DefKind {
    fn is_type(self) -> bool {
        matches!(
            self,
            DefKind::Struct | DefKind::Enum | DefKind::Union | DefKind::TypeAlias | DefKind::Trait
        )
    }
}

/// One named item.
#[derive(Debug, Clone)]
pub(crate) struct Def {
    /// The module that defines it.
    pub module: ModId,
    /// Its name.
    pub name: String,
    /// What it is.
    pub kind: DefKind,
    /// Declared plain `pub`.
    pub is_pub: bool,
    /// Index into the module's items (for a foreign fn: the `extern` block).
    pub item: usize,
}

/// One imported name (or glob) from a `use` item or an `extern crate`.
#[derive(Debug, Clone)]
pub(crate) struct UseEntry {
    /// The module the `use` is in.
    pub module: ModId,
    /// Declared plain `pub`.
    pub is_pub: bool,
    /// The path as written; a leading `::` is the segment `"::"`.
    pub path: Vec<String>,
    /// The name it binds; `None` for a glob.
    pub alias: Option<String>,
}

/// An `impl` block, by position.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ImplRef {
    /// The module it is written in.
    pub module: ModId,
    /// Index into the module's items.
    pub item: usize,
}

/// What a path resolves to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Res {
    /// A module of this crate.
    Module(ModId),
    /// An item of this crate (a path that goes on past it, e.g. to a variant, stops here).
    Def(DefId),
    /// Something in another crate, by its full path (first segment is the crate).
    External(Vec<String>),
}

/// Which namespace a lookup prefers when a name is both a type and a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ns {
    /// Types, traits, modules.
    Type,
    /// Functions, constants, statics.
    Value,
}

/// The analysed crate.
#[derive(Debug)]
pub(crate) struct CrateModel {
    /// The crate's name as code refers to it (the lib name, `-` replaced by `_`).
    pub crate_name: String,
    /// The module tree.
    pub tree: ModuleTree,
    /// Every named item.
    pub defs: Vec<Def>,
    /// Every import.
    pub uses: Vec<UseEntry>,
    /// Every impl block.
    pub impls: Vec<ImplRef>,
    /// The public path of each item reachable from outside, segments from the crate name on.
    pub public: HashMap<DefId, Vec<String>>,
    by_module: Vec<BTreeMap<String, Vec<DefId>>>,
    uses_by_module: Vec<Vec<usize>>,
}

impl CrateModel {
    /// Indexes the tree and computes public paths. In a 2015-edition crate `use` paths start at
    /// the crate root.
    pub(crate) fn build(crate_name: &str, tree: ModuleTree, edition_2015: bool) -> Self {
        let mut model = CrateModel {
            crate_name: crate_name.to_string(),
            defs: Vec::new(),
            uses: Vec::new(),
            impls: Vec::new(),
            public: HashMap::new(),
            by_module: vec![BTreeMap::new(); tree.modules.len()],
            uses_by_module: vec![Vec::new(); tree.modules.len()],
            tree,
        };
        model.index(edition_2015);
        model.compute_public_paths();
        model
    }

    fn index(&mut self, edition_2015: bool) {
        for (mid, module) in self.tree.modules.iter().enumerate() {
            for (idx, item) in module.items.iter().enumerate() {
                let mut push = |name: String, kind: DefKind, vis: &Visibility| {
                    let id = self.defs.len();
                    self.defs.push(Def {
                        module: mid,
                        name: name.clone(),
                        kind,
                        is_pub: is_pub(vis),
                        item: idx,
                    });
                    self.by_module[mid].entry(name).or_default().push(id);
                };
                match item {
                    Item::Struct(s) => push(s.ident.to_string(), DefKind::Struct, &s.vis),
                    Item::Enum(e) => push(e.ident.to_string(), DefKind::Enum, &e.vis),
                    Item::Union(u) => push(u.ident.to_string(), DefKind::Union, &u.vis),
                    Item::Type(t) => push(t.ident.to_string(), DefKind::TypeAlias, &t.vis),
                    Item::Fn(f) => push(f.sig.ident.to_string(), DefKind::Fn, &f.vis),
                    Item::Trait(t) => push(t.ident.to_string(), DefKind::Trait, &t.vis),
                    Item::Const(c) => push(c.ident.to_string(), DefKind::Value, &c.vis),
                    Item::Static(s) => push(s.ident.to_string(), DefKind::Value, &s.vis),
                    Item::ForeignMod(fm) => {
                        for fi in &fm.items {
                            if let syn::ForeignItem::Fn(f) = fi {
                                push(f.sig.ident.to_string(), DefKind::ForeignFn, &f.vis);
                            }
                        }
                    }
                    Item::Impl(_) => self.impls.push(ImplRef {
                        module: mid,
                        item: idx,
                    }),
                    Item::Use(u) => {
                        let mut out = Vec::new();
                        flatten_use(&u.tree, Vec::new(), u.leading_colon.is_some(), &mut out);
                        for (mut path, alias) in out {
                            if edition_2015 {
                                match path.first().map(String::as_str) {
                                    Some("::") => path[0] = "$root".into(),
                                    Some("crate" | "self" | "super") => {}
                                    _ => path.insert(0, "$root".into()),
                                }
                            }
                            self.uses_by_module[mid].push(self.uses.len());
                            self.uses.push(UseEntry {
                                module: mid,
                                is_pub: is_pub(&u.vis),
                                path,
                                alias,
                            });
                        }
                    }
                    Item::ExternCrate(ec) => {
                        let alias = match &ec.rename {
                            Some((_, id)) => id.to_string(),
                            None => ec.ident.to_string(),
                        };
                        if alias != "_" {
                            self.uses_by_module[mid].push(self.uses.len());
                            self.uses.push(UseEntry {
                                module: mid,
                                is_pub: is_pub(&ec.vis),
                                path: vec!["::".into(), ec.ident.to_string()],
                                alias: Some(alias),
                            });
                        }
                    }
                    _ => {}
                }
            }
        }
    }

    /// The syn item of a definition.
    pub(crate) fn item(&self, def: DefId) -> &Item {
        let d = &self.defs[def];
        &self.tree.modules[d.module].items[d.item]
    }

    /// The impl block behind an [`ImplRef`].
    pub(crate) fn impl_item(&self, r: ImplRef) -> &syn::ItemImpl {
        match &self.tree.modules[r.module].items[r.item] {
            Item::Impl(i) => i,
            _ => unreachable!("ImplRef always points at an impl item"),
        }
    }

    /// The public path of a definition as `a::b::C`, if it has one.
    pub(crate) fn public_path(&self, def: DefId) -> Option<String> {
        self.public.get(&def).map(|p| p.join("::"))
    }

    /// The crate-internal path of a definition (`crate::m::Name`), for messages.
    pub(crate) fn internal_path(&self, def: DefId) -> String {
        let d = &self.defs[def];
        let mut p = vec!["crate".to_string()];
        p.extend(self.tree.path_of(d.module));
        p.push(d.name.clone());
        p.join("::")
    }

    /// Resolves a path written in module `m`.
    pub(crate) fn resolve(&self, m: ModId, segs: &[String], ns: Ns) -> Option<Res> {
        self.resolve_depth(m, segs, ns, 0)
    }

    fn resolve_depth(&self, m: ModId, segs: &[String], ns: Ns, depth: usize) -> Option<Res> {
        if depth > 24 || segs.is_empty() {
            return None;
        }
        let (mut cur, rest) = match segs[0].as_str() {
            "crate" => (Res::Module(0), &segs[1..]),
            "self" => (Res::Module(m), &segs[1..]),
            "super" => {
                let mut cur = m;
                let mut i = 0;
                while segs.get(i).is_some_and(|s| s == "super") {
                    cur = self.tree.modules[cur].parent?;
                    i += 1;
                }
                (Res::Module(cur), &segs[i..])
            }
            "::" => return Some(Res::External(segs[1..].to_vec())),
            // A 2015-edition `use` path: the crate root first, else an extern crate.
            "$root" => {
                let first = segs.get(1)?;
                let first_ns = if segs.len() == 2 { ns } else { Ns::Type };
                match self.lookup(0, first, first_ns, depth + 1) {
                    Some(r) => (r, &segs[2..]),
                    None => return Some(Res::External(segs[1..].to_vec())),
                }
            }
            "Self" => return None,
            first => {
                let last_ns = if segs.len() == 1 { ns } else { Ns::Type };
                match self.lookup(m, first, last_ns, depth + 1) {
                    Some(r) => (r, &segs[1..]),
                    None => return Some(Res::External(segs.to_vec())),
                }
            }
        };
        for (i, seg) in rest.iter().enumerate() {
            let seg_ns = if i + 1 == rest.len() { ns } else { Ns::Type };
            cur = match cur {
                Res::Module(mm) => self.lookup(mm, seg, seg_ns, depth + 1)?,
                Res::Def(_) => return Some(cur),
                Res::External(mut v) => {
                    v.push(seg.clone());
                    Res::External(v)
                }
            };
        }
        Some(cur)
    }

    /// Looks a name up in a module's scope: child modules, items, named imports, glob imports.
    pub(crate) fn lookup(&self, m: ModId, name: &str, ns: Ns, depth: usize) -> Option<Res> {
        if depth > 24 {
            return None;
        }
        if ns == Ns::Type {
            if let Some(&c) = self.tree.modules[m].children.get(name) {
                return Some(Res::Module(c));
            }
        }
        if let Some(ids) = self.by_module[m].get(name) {
            let pick = ids
                .iter()
                .find(|&&d| self.defs[d].kind.is_type() == (ns == Ns::Type))
                .or_else(|| ids.first());
            if let Some(&d) = pick {
                return Some(Res::Def(d));
            }
        }
        if ns == Ns::Value {
            if let Some(&c) = self.tree.modules[m].children.get(name) {
                return Some(Res::Module(c));
            }
        }
        for &u in &self.uses_by_module[m] {
            let entry = &self.uses[u];
            if entry.alias.as_deref() == Some(name) {
                // Resolve the import from its own module, but never through itself.
                if entry.path.len() == 1 && entry.path[0] == name {
                    return Some(Res::External(entry.path.clone()));
                }
                return self.resolve_depth(m, &entry.path, ns, depth + 1);
            }
        }
        for &u in &self.uses_by_module[m] {
            let entry = &self.uses[u];
            if entry.alias.is_none() {
                match self.resolve_depth(m, &entry.path, Ns::Type, depth + 1) {
                    Some(Res::Module(t)) if t != m => {
                        if let Some(r) = self.lookup(t, name, ns, depth + 1) {
                            return Some(r);
                        }
                    }
                    _ => {}
                }
            }
        }
        None
    }

    /// Breadth-first walk of what the crate root exposes: public items of public modules, public
    /// re-exports (named, renamed, glob). Each item keeps the shortest path found.
    fn compute_public_paths(&mut self) {
        const MAX_VISITS: usize = 20_000;
        let mut queue: VecDeque<(ModId, Vec<String>)> = VecDeque::new();
        let mut seen: HashSet<(ModId, Vec<String>)> = HashSet::new();
        queue.push_back((0, vec![self.crate_name.clone()]));
        let mut public: HashMap<DefId, Vec<String>> = HashMap::new();
        let offer = |public: &mut HashMap<DefId, Vec<String>>, d: DefId, p: Vec<String>| {
            let better = public.get(&d).is_none_or(|old| p.len() < old.len());
            if better {
                public.insert(d, p);
            }
        };
        let mut visits = 0;
        while let Some((m, prefix)) = queue.pop_front() {
            if !seen.insert((m, prefix.clone())) {
                continue;
            }
            visits += 1;
            if visits > MAX_VISITS {
                break;
            }
            for (name, &c) in &self.tree.modules[m].children {
                if self.tree.modules[c].is_pub {
                    let mut p = prefix.clone();
                    p.push(name.clone());
                    queue.push_back((c, p));
                }
            }
            for ids in self.by_module[m].values() {
                for &d in ids {
                    if self.defs[d].is_pub {
                        let mut p = prefix.clone();
                        p.push(self.defs[d].name.clone());
                        offer(&mut public, d, p);
                    }
                }
            }
            for &u in &self.uses_by_module[m] {
                let entry = &self.uses[u];
                if !entry.is_pub {
                    continue;
                }
                match &entry.alias {
                    Some(alias) => {
                        let mut p = prefix.clone();
                        p.push(alias.clone());
                        for ns in [Ns::Type, Ns::Value] {
                            match self.resolve(m, &entry.path, ns) {
                                Some(Res::Module(t)) => queue.push_back((t, p.clone())),
                                Some(Res::Def(d)) => offer(&mut public, d, p.clone()),
                                _ => {}
                            }
                        }
                    }
                    None => {
                        if let Some(Res::Module(t)) = self.resolve(m, &entry.path, Ns::Type) {
                            // A glob re-export exposes t's public names under this prefix; process
                            // it before longer prefixes so the shortest path wins.
                            queue.push_front((t, prefix.clone()));
                        }
                    }
                }
            }
        }
        self.public = public;
    }
}

fn is_pub(vis: &Visibility) -> bool {
    matches!(vis, Visibility::Public(_))
}

fn flatten_use(
    tree: &UseTree,
    mut prefix: Vec<String>,
    leading: bool,
    out: &mut Vec<(Vec<String>, Option<String>)>,
) {
    if leading && prefix.is_empty() {
        prefix.push("::".into());
    }
    match tree {
        UseTree::Path(p) => {
            prefix.push(p.ident.to_string());
            flatten_use(&p.tree, prefix, false, out);
        }
        UseTree::Name(n) => {
            let name = n.ident.to_string();
            if name == "self" {
                if let Some(last) = prefix.last().cloned() {
                    out.push((prefix, Some(last)));
                }
            } else {
                prefix.push(name.clone());
                out.push((prefix, Some(name)));
            }
        }
        UseTree::Rename(r) => {
            let name = r.ident.to_string();
            if name != "self" {
                prefix.push(name);
            }
            let alias = r.rename.to_string();
            if alias != "_" {
                out.push((prefix, Some(alias)));
            }
        }
        UseTree::Glob(_) => out.push((prefix, None)),
        UseTree::Group(g) => {
            for t in &g.items {
                flatten_use(t, prefix.clone(), false, out);
            }
        }
    }
}

/// The segments of a path as strings.
pub(crate) fn segs(path: &syn::Path) -> Vec<String> {
    let mut v = Vec::with_capacity(path.segments.len() + 1);
    if path.leading_colon.is_some() {
        v.push("::".to_string());
    }
    v.extend(path.segments.iter().map(|s| s.ident.to_string()));
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::Module;

    fn model(files: &[(&str, &str)]) -> CrateModel {
        // Builds a tree from inline modules: the first entry is the root, the others are
        // `mod name { .. }` items appended to it.
        let mut root = String::from(files[0].1);
        for (name, body) in &files[1..] {
            root.push_str(&format!("\nmod {name} {{ {body} }}\n"));
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("lib.rs");
        std::fs::write(&path, root).expect("write");
        let tree = crate::source::load(&path, &crate::cfg::CfgEnv::default()).expect("loads");
        let _: &Vec<Module> = &tree.modules;
        CrateModel::build("demo", tree, false)
    }

    fn public_of(m: &CrateModel, name: &str) -> Option<String> {
        let d = m.defs.iter().position(|d| d.name == name)?;
        m.public_path(d)
    }

    #[test]
    fn rename_out_of_private_module() {
        let m = model(&[
            (
                "",
                "pub use inner::Thing as Renamed; pub mod open { pub struct Open; struct Hidden; }",
            ),
            ("inner", "pub struct Thing; pub struct NotExported;"),
        ]);
        assert_eq!(public_of(&m, "Thing").as_deref(), Some("demo::Renamed"));
        assert_eq!(public_of(&m, "NotExported"), None);
        assert_eq!(public_of(&m, "Open").as_deref(), Some("demo::open::Open"));
        assert_eq!(public_of(&m, "Hidden"), None);
    }

    #[test]
    fn globs_and_chains_pick_shortest() {
        let m = model(&[
            ("", "pub mod a; pub use self::b::*;"),
            ("a", "pub mod deep { pub struct Deep; } pub use self::deep::Deep;"),
            ("b", "pub struct FromGlob; pub(crate) struct CrateOnly; pub use super::a::deep::Deep as AlsoDeep;"),
        ]);
        assert_eq!(public_of(&m, "FromGlob").as_deref(), Some("demo::FromGlob"));
        assert_eq!(public_of(&m, "CrateOnly"), None);
        assert_eq!(public_of(&m, "Deep").as_deref(), Some("demo::AlsoDeep"));
    }

    #[test]
    fn resolution_through_imports() {
        let m = model(&[
            ("", "use self::x::Y as Z; mod helper {} "),
            ("x", "pub struct Y; use serde::de::Deserialize;"),
        ]);
        let z = m.resolve(0, &["Z".into()], Ns::Type);
        assert!(matches!(z, Some(Res::Def(d)) if m.defs[d].name == "Y"));
        let x = m.tree.modules[0].children["x"];
        assert_eq!(
            m.resolve(x, &["Deserialize".into()], Ns::Type),
            Some(Res::External(vec![
                "serde".into(),
                "de".into(),
                "Deserialize".into()
            ]))
        );
    }
}
