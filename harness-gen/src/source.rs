//! The module tree of one crate: reads the crate root, follows `mod` declarations (file modules,
//! `#[path]`, inline modules) the way rustc does, and keeps only what `cfg` enables, with every
//! `cfg_attr` already expanded. A module file that is missing or does not parse is skipped with a
//! warning; the rest of the crate is still analysed.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use syn::visit_mut::{self, VisitMut};
use syn::{Attribute, Item};

use crate::cfg::{str_lit, CfgEnv};
use crate::error::GenError;

/// Index of a module in [`ModuleTree::modules`]; the crate root is 0.
pub(crate) type ModId = usize;

/// One module of the crate, inline or from its own file.
#[derive(Debug)]
pub(crate) struct Module {
    /// The module's own name (`crate` for the root).
    pub name: String,
    /// The enclosing module, `None` for the crate root.
    pub parent: Option<ModId>,
    /// Whether the module is declared plain `pub` (not `pub(crate)`).
    pub is_pub: bool,
    /// The file the module's items come from.
    pub file: PathBuf,
    /// The module's items, minus nested `mod` items (those are [`Module::children`]).
    pub items: Vec<Item>,
    /// Nested modules by name.
    pub children: BTreeMap<String, ModId>,
    /// Where this module's `mod x;` declarations look for files (for macro expansions).
    dirs: Dirs,
    /// Nesting depth.
    depth: usize,
}

/// Something in the sources that was skipped, with the reason.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SourceWarning {
    /// The file concerned.
    pub path: PathBuf,
    /// What went wrong and what was skipped.
    pub message: String,
}

/// Every module of a crate reachable from its root under the given cfg.
#[derive(Debug)]
pub(crate) struct ModuleTree {
    /// Modules; index 0 is the crate root.
    pub modules: Vec<Module>,
    /// Files that were skipped.
    pub warnings: Vec<SourceWarning>,
    /// Number of source lines read (for progress and benchmarks).
    pub lines: usize,
}

impl ModuleTree {
    /// The crate-internal path of a module (`["a", "b"]` for `crate::a::b`).
    pub(crate) fn path_of(&self, mut id: ModId) -> Vec<String> {
        let mut out = Vec::new();
        while let Some(parent) = self.modules[id].parent {
            out.push(self.modules[id].name.clone());
            id = parent;
        }
        out.reverse();
        out
    }
}

/// Where `mod x;` and `#[path]` look for files, for the module being read.
#[derive(Debug, Clone)]
struct Dirs {
    /// Directory for `mod x;` (`x.rs` or `x/mod.rs`).
    child_dir: PathBuf,
    /// Directory a `#[path = ".."]` is relative to.
    path_attr_dir: PathBuf,
}

/// Reads the crate whose root file is `root` and every module reachable from it.
pub(crate) fn load(root: &Path, cfg: &CfgEnv) -> Result<ModuleTree, GenError> {
    let text = std::fs::read_to_string(root).map_err(|source| GenError::ReadSource {
        path: root.to_path_buf(),
        source,
    })?;
    let file = syn::parse_file(&text).map_err(|source| GenError::ParseSource {
        path: root.to_path_buf(),
        line: source.span().start().line,
        source,
    })?;
    let mut tree = ModuleTree {
        modules: Vec::new(),
        warnings: Vec::new(),
        lines: text.lines().count(),
    };
    let dir = root.parent().map(Path::to_path_buf).unwrap_or_default();
    let dirs = Dirs {
        child_dir: dir.clone(),
        path_attr_dir: dir,
    };
    add_module(
        &mut tree,
        cfg,
        "crate".into(),
        None,
        true,
        root,
        file.items,
        &dirs,
        0,
    );
    expand_macros(&mut tree, cfg);
    Ok(tree)
}

#[allow(clippy::too_many_arguments)] // one recursive step of the loader; a struct would only rename these
fn add_module(
    tree: &mut ModuleTree,
    cfg: &CfgEnv,
    name: String,
    parent: Option<ModId>,
    is_pub: bool,
    file: &Path,
    mut items: Vec<Item>,
    dirs: &Dirs,
    depth: usize,
) -> ModId {
    let id = tree.modules.len();
    let mut cleaner = CfgCleaner { cfg };
    items.retain_mut(|item| {
        cleaner.visit_item_mut(item);
        cfg.enabled(item_attrs(item))
    });
    tree.modules.push(Module {
        name,
        parent,
        is_pub,
        file: file.to_path_buf(),
        items: Vec::new(),
        children: BTreeMap::new(),
        dirs: dirs.clone(),
        depth,
    });
    let mut kept = Vec::with_capacity(items.len());
    for item in items {
        let Item::Mod(m) = item else {
            kept.push(item);
            continue;
        };
        if let Some((child_name, child)) = load_child(tree, cfg, id, m, file, dirs, depth) {
            tree.modules[id].children.insert(child_name, child);
        }
    }
    tree.modules[id].items = kept;
    id
}

/// Loads the module a `mod` item declares (inline or from its file) as a child of `id`.
fn load_child(
    tree: &mut ModuleTree,
    cfg: &CfgEnv,
    id: ModId,
    m: syn::ItemMod,
    file: &Path,
    dirs: &Dirs,
    depth: usize,
) -> Option<(String, ModId)> {
    {
        if depth > 64 {
            return None;
        }
        let child_name = m.ident.to_string();
        let child_pub = matches!(m.vis, syn::Visibility::Public(_));
        let path_attr = m
            .attrs
            .iter()
            .find(|a| a.path().is_ident("path"))
            .and_then(|a| match &a.meta {
                syn::Meta::NameValue(nv) => str_lit(&nv.value),
                _ => None,
            });
        let child = if let Some((_, content)) = m.content {
            // Inline module: `mod x;` inside it and `#[path]` both resolve under `<dir>/x/`.
            let child_dir = dirs.child_dir.join(&child_name);
            let child_dirs = Dirs {
                path_attr_dir: child_dir.clone(),
                child_dir,
            };
            Some(add_module(
                tree,
                cfg,
                child_name.clone(),
                Some(id),
                child_pub,
                file,
                content,
                &child_dirs,
                depth + 1,
            ))
        } else {
            let found = match &path_attr {
                Some(p) => {
                    let path = dirs.path_attr_dir.join(p);
                    // A file named by `#[path]` owns its directory, like a `mod.rs`.
                    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
                    Some((
                        path,
                        Dirs {
                            child_dir: dir.clone(),
                            path_attr_dir: dir,
                        },
                    ))
                }
                None => {
                    let flat = dirs.child_dir.join(format!("{child_name}.rs"));
                    let nested = dirs.child_dir.join(&child_name).join("mod.rs");
                    if flat.is_file() {
                        Some((
                            flat,
                            Dirs {
                                child_dir: dirs.child_dir.join(&child_name),
                                path_attr_dir: dirs.child_dir.clone(),
                            },
                        ))
                    } else if nested.is_file() {
                        let d = dirs.child_dir.join(&child_name);
                        Some((
                            nested,
                            Dirs {
                                child_dir: d.clone(),
                                path_attr_dir: d,
                            },
                        ))
                    } else {
                        tree.warnings.push(SourceWarning {
                            path: flat,
                            message: format!(
                                "module `{child_name}` declared in {} has no file ({child_name}.rs or {child_name}/mod.rs); skipped",
                                file.display()
                            ),
                        });
                        None
                    }
                }
            };
            found.and_then(|(path, child_dirs)| {
                let items = read_items(tree, &path)?;
                Some(add_module(
                    tree,
                    cfg,
                    child_name.clone(),
                    Some(id),
                    child_pub,
                    &path,
                    items,
                    &child_dirs,
                    depth + 1,
                ))
            })
        };
        child.map(|c| (child_name, c))
    }
}

/// Expands item-level invocations of the crate's own `macro_rules!` macros in place (see
/// [`crate::macros`]), a few rounds deep so that macros expanding to macro calls are followed.
/// Modules the expansions declare are loaded like any other.
fn expand_macros(tree: &mut ModuleTree, cfg: &CfgEnv) {
    const ROUNDS: usize = 4;
    // Modules to look at: all at first, then only those an expansion added items to.
    let mut todo: Vec<ModId> = (0..tree.modules.len()).collect();
    for _ in 0..ROUNDS {
        let mut defs: HashMap<String, Vec<crate::macros::Rule>> = HashMap::new();
        for module in &tree.modules {
            for item in &module.items {
                if let Item::Macro(m) = item {
                    if let Some((name, rules)) = crate::macros::definition(m) {
                        if rules.iter().any(crate::macros::Rule::supported) {
                            defs.entry(name).or_insert(rules);
                        }
                    }
                }
            }
        }
        if defs.is_empty() {
            return;
        }
        let mut changed = Vec::new();
        for id in todo {
            let wanted = tree.modules[id].items.iter().any(|i| {
                matches!(i, Item::Macro(m) if m.ident.is_none() && m.mac.path.get_ident().is_some_and(|n| defs.contains_key(&n.to_string())))
            });
            if !wanted {
                continue;
            }
            let items = std::mem::take(&mut tree.modules[id].items);
            let mut kept = Vec::with_capacity(items.len());
            for item in items {
                let expanded = match &item {
                    Item::Macro(m) if m.ident.is_none() => m
                        .mac
                        .path
                        .get_ident()
                        .and_then(|n| defs.get(&n.to_string()))
                        .and_then(|rules| crate::macros::expand(rules, &m.mac.tokens)),
                    _ => None,
                };
                let Some(mut new_items) = expanded else {
                    kept.push(item);
                    continue;
                };
                if changed.last() != Some(&id) {
                    changed.push(id);
                }
                let mut cleaner = CfgCleaner { cfg };
                new_items.retain_mut(|i| {
                    cleaner.visit_item_mut(i);
                    cfg.enabled(item_attrs(i))
                });
                for new in new_items {
                    match new {
                        Item::Mod(m) => {
                            let file = tree.modules[id].file.clone();
                            let dirs = tree.modules[id].dirs.clone();
                            let depth = tree.modules[id].depth;
                            if let Some((name, child)) =
                                load_child(tree, cfg, id, m, &file, &dirs, depth)
                            {
                                tree.modules[id].children.insert(name, child);
                            }
                        }
                        other => kept.push(other),
                    }
                }
            }
            tree.modules[id].items = kept;
        }
        if changed.is_empty() {
            return;
        }
        todo = changed;
    }
}

/// Reads and parses a module file, recording a warning instead of failing.
fn read_items(tree: &mut ModuleTree, path: &Path) -> Option<Vec<Item>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            tree.warnings.push(SourceWarning {
                path: path.to_path_buf(),
                message: format!("cannot read module file: {e}; skipped"),
            });
            return None;
        }
    };
    tree.lines += text.lines().count();
    match syn::parse_file(&text) {
        Ok(f) => Some(f.items),
        Err(e) => {
            let at = e.span().start();
            tree.warnings.push(SourceWarning {
                path: path.to_path_buf(),
                message: format!(
                    "does not parse ({} at line {}, column {}); module skipped",
                    explain_parse_error(&e),
                    at.line,
                    at.column + 1
                ),
            });
            None
        }
    }
}

/// syn's message, made readable where it is the lexer's terse one.
fn explain_parse_error(e: &syn::Error) -> String {
    let msg = e.to_string();
    if msg == "cannot parse string into token stream" {
        "invalid tokens: an unclosed delimiter, string or comment".to_string()
    } else {
        msg
    }
}

/// The attributes of any item.
pub(crate) fn item_attrs(item: &Item) -> &[Attribute] {
    match item {
        Item::Const(i) => &i.attrs,
        Item::Enum(i) => &i.attrs,
        Item::ExternCrate(i) => &i.attrs,
        Item::Fn(i) => &i.attrs,
        Item::ForeignMod(i) => &i.attrs,
        Item::Impl(i) => &i.attrs,
        Item::Macro(i) => &i.attrs,
        Item::Mod(i) => &i.attrs,
        Item::Static(i) => &i.attrs,
        Item::Struct(i) => &i.attrs,
        Item::Trait(i) => &i.attrs,
        Item::TraitAlias(i) => &i.attrs,
        Item::Type(i) => &i.attrs,
        Item::Union(i) => &i.attrs,
        Item::Use(i) => &i.attrs,
        _ => &[],
    }
}

/// Expands `cfg_attr` everywhere and removes what `cfg` disables: nested items, fields, variants,
/// impl and foreign items, statements.
struct CfgCleaner<'a> {
    cfg: &'a CfgEnv,
}

impl VisitMut for CfgCleaner<'_> {
    fn visit_attribute_mut(&mut self, _: &mut Attribute) {}

    fn visit_item_mut(&mut self, item: &mut Item) {
        if let Some(attrs) = item_attrs_mut(item) {
            self.cfg.expand_attrs(attrs);
        }
        match item {
            Item::Mod(m) => {
                if let Some((_, items)) = &mut m.content {
                    items.retain_mut(|i| {
                        self.visit_item_mut(i);
                        self.cfg.enabled(item_attrs(i))
                    });
                }
            }
            Item::Impl(i) => {
                i.items.retain_mut(|ii| {
                    let attrs = match ii {
                        syn::ImplItem::Fn(f) => &mut f.attrs,
                        syn::ImplItem::Const(c) => &mut c.attrs,
                        syn::ImplItem::Type(t) => &mut t.attrs,
                        syn::ImplItem::Macro(m) => &mut m.attrs,
                        _ => return true,
                    };
                    self.cfg.expand_attrs(attrs);
                    self.cfg.enabled(attrs)
                });
                visit_mut::visit_item_impl_mut(self, i);
            }
            Item::ForeignMod(f) => {
                f.items.retain_mut(|fi| {
                    let attrs = match fi {
                        syn::ForeignItem::Fn(f) => &mut f.attrs,
                        syn::ForeignItem::Static(s) => &mut s.attrs,
                        syn::ForeignItem::Type(t) => &mut t.attrs,
                        _ => return true,
                    };
                    self.cfg.expand_attrs(attrs);
                    self.cfg.enabled(attrs)
                });
            }
            _ => visit_mut::visit_item_mut(self, item),
        }
    }

    fn visit_fields_named_mut(&mut self, fields: &mut syn::FieldsNamed) {
        fields.named = std::mem::take(&mut fields.named)
            .into_iter()
            .filter_map(|mut f| {
                self.cfg.expand_attrs(&mut f.attrs);
                self.cfg.enabled(&f.attrs).then_some(f)
            })
            .collect();
    }

    fn visit_fields_unnamed_mut(&mut self, fields: &mut syn::FieldsUnnamed) {
        fields.unnamed = std::mem::take(&mut fields.unnamed)
            .into_iter()
            .filter_map(|mut f| {
                self.cfg.expand_attrs(&mut f.attrs);
                self.cfg.enabled(&f.attrs).then_some(f)
            })
            .collect();
    }

    fn visit_item_enum_mut(&mut self, e: &mut syn::ItemEnum) {
        e.variants = std::mem::take(&mut e.variants)
            .into_iter()
            .filter_map(|mut v| {
                self.cfg.expand_attrs(&mut v.attrs);
                if !self.cfg.enabled(&v.attrs) {
                    return None;
                }
                self.visit_fields_mut(&mut v.fields);
                Some(v)
            })
            .collect();
    }

    fn visit_block_mut(&mut self, block: &mut syn::Block) {
        block.stmts.retain_mut(|stmt| {
            let attrs = match stmt {
                syn::Stmt::Local(l) => &mut l.attrs,
                syn::Stmt::Item(i) => match item_attrs_mut(i) {
                    Some(a) => a,
                    None => return true,
                },
                syn::Stmt::Macro(m) => &mut m.attrs,
                syn::Stmt::Expr(..) => return true,
            };
            self.cfg.expand_attrs(attrs);
            self.cfg.enabled(attrs)
        });
        visit_mut::visit_block_mut(self, block);
    }
}

fn item_attrs_mut(item: &mut Item) -> Option<&mut Vec<Attribute>> {
    Some(match item {
        Item::Const(i) => &mut i.attrs,
        Item::Enum(i) => &mut i.attrs,
        Item::ExternCrate(i) => &mut i.attrs,
        Item::Fn(i) => &mut i.attrs,
        Item::ForeignMod(i) => &mut i.attrs,
        Item::Impl(i) => &mut i.attrs,
        Item::Macro(i) => &mut i.attrs,
        Item::Mod(i) => &mut i.attrs,
        Item::Static(i) => &mut i.attrs,
        Item::Struct(i) => &mut i.attrs,
        Item::Trait(i) => &mut i.attrs,
        Item::TraitAlias(i) => &mut i.attrs,
        Item::Type(i) => &mut i.attrs,
        Item::Union(i) => &mut i.attrs,
        Item::Use(i) => &mut i.attrs,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_mod_files_path_attributes_and_inline_modules() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        let files = [
            ("lib.rs", "mod a; #[path = \"other/x.rs\"] mod x; mod inline { mod nested; #[path = \"p.rs\"] mod p; } #[cfg(feature = \"off\")] mod gone;"),
            ("a.rs", "mod b;"),
            ("a/b.rs", "pub struct InB;"),
            ("other/x.rs", "mod y;"),
            ("other/y.rs", "pub struct InY;"),
            ("inline/nested.rs", "pub struct InNested;"),
            ("inline/p.rs", "pub struct InP;"),
        ];
        for (path, text) in files {
            let p = d.join(path);
            std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
            std::fs::write(p, text).expect("write");
        }
        let tree = load(&d.join("lib.rs"), &CfgEnv::default()).expect("loads");
        assert!(tree.warnings.is_empty(), "{:?}", tree.warnings);
        let mut got: Vec<(String, String)> = (0..tree.modules.len())
            .map(|m| {
                let file = tree.modules[m]
                    .file
                    .strip_prefix(d)
                    .expect("inside")
                    .display()
                    .to_string();
                (tree.path_of(m).join("::"), file)
            })
            .collect();
        got.sort();
        let want = [
            ("", "lib.rs"),
            ("a", "a.rs"),
            ("a::b", "a/b.rs"),
            ("inline", "lib.rs"),
            ("inline::nested", "inline/nested.rs"),
            ("inline::p", "inline/p.rs"),
            ("x", "other/x.rs"),
            ("x::y", "other/y.rs"),
        ];
        let want: Vec<(String, String)> = want
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        assert_eq!(got, want);
    }
}
