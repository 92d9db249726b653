//! Discovery of `serde::Deserialize` types: derives in any import form (`Deserialize`,
//! `serde::Deserialize`, a renamed import, inside `cfg_attr`) and hand-written
//! `impl<'de> Deserialize<'de> for T` (through `serde`, `serde::de`, `::serde`, `serde_core`).
//! For each type it also works out what the emitter needs: the concrete instantiations of a
//! generic type, whether a JSON round trip can be checked, the dictionary words and JSON seeds.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::PathBuf;

use serde_json::Value;
use syn::punctuated::Punctuated;
use syn::visit::Visit;
use syn::{Item, Token, Type};

use crate::model::{segs, CrateModel, DefId, DefKind, ImplRef, Ns, Res};
use crate::serde_attrs::{has, serde_kv};
use crate::serde_shape::{Fill, Seeder, Walker};
use crate::source::ModId;
use crate::types::{self, generics_of, render, self_def, Subst};

/// How a type gets its `Deserialize` impl.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum How {
    /// `#[derive(Deserialize)]`
    Derive,
    /// A hand-written `impl Deserialize<'de> for T`.
    Manual,
}

/// One concrete type to fuzz (the type itself, or an instantiation of a generic one).
#[derive(Debug, Clone)]
pub struct Instance {
    /// The type as the fuzz crate writes it (`demo::Wrapper<u32>`).
    pub ty: String,
    /// Where the instantiation comes from, for generic types (`type alias demo::Meters`).
    pub via: Option<String>,
    /// Generic parameters bound for this instance.
    pub subst: Subst,
    /// The instance's shadow type, for the shaped target ([`crate::shadow`]).
    pub(crate) shadow: Option<crate::shadow::Shadow>,
}

/// A discovered Deserialize type.
#[derive(Debug, Clone)]
pub struct DeserItem {
    /// The type's definition.
    pub def: DefId,
    /// Derived or hand-written.
    pub how: How,
    /// The source file and line of the type.
    pub file: PathBuf,
    /// The line of the type's definition.
    pub line: usize,
    /// The public path, if the type is reachable.
    pub public_path: Option<String>,
    /// The crate-internal path (for messages when there is no public path).
    pub internal_path: String,
    /// Concrete instances to fuzz (empty when skipped).
    pub instances: Vec<Instance>,
    /// Why no target can be built, if so.
    pub skip: Option<String>,
    /// Also `Serialize`.
    pub serialize: bool,
    /// Also `PartialEq`.
    pub partial_eq: bool,
    /// Why a JSON round trip cannot be asserted for equality even though both traits exist.
    pub roundtrip_blockers: BTreeSet<String>,
    /// Has lifetime parameters (borrows from the input).
    pub borrowed: bool,
    /// Dictionary words: field, variant, tag names, renames, aliases, literals of manual impls.
    pub words: BTreeSet<String>,
    /// Dictionary words for the integer types the fields use: their bounds and the values just
    /// past them, as decimal text ([`crate::bounds`]).
    pub numbers: BTreeSet<String>,
    /// Whether some field holds text: the dictionary then gets the text classics
    /// ([`crate::text_classics`]).
    pub text: bool,
    /// Valid JSON inputs built from the type's shape.
    pub seeds: Vec<Value>,
}

/// Finds every Deserialize type of the crate.
pub(crate) fn discover(model: &CrateModel) -> Vec<DeserItem> {
    let mut derived: HashMap<DefId, (bool, bool, bool)> = HashMap::new();
    for (d, def) in model.defs.iter().enumerate() {
        if !matches!(def.kind, DefKind::Struct | DefKind::Enum | DefKind::Union) {
            continue;
        }
        let attrs = crate::source::item_attrs(model.item(d));
        let mut flags = (false, false, false);
        for attr in attrs.iter().filter(|a| a.path().is_ident("derive")) {
            let Ok(paths) =
                attr.parse_args_with(Punctuated::<syn::Path, Token![,]>::parse_terminated)
            else {
                continue;
            };
            for p in &paths {
                flags.0 |= is_serde_trait(model, def.module, p, "Deserialize");
                flags.1 |= is_serde_trait(model, def.module, p, "Serialize");
                flags.2 |= p.segments.last().is_some_and(|s| s.ident == "PartialEq");
            }
        }
        if flags != (false, false, false) {
            derived.insert(d, flags);
        }
    }
    let mut manual_de: Vec<(DefId, ImplRef)> = Vec::new();
    let mut manual_ser: HashSet<DefId> = HashSet::new();
    let mut manual_eq: HashSet<DefId> = HashSet::new();
    for &r in &model.impls {
        let imp = model.impl_item(r);
        let Some((_, trait_path, _)) = &imp.trait_ else {
            continue;
        };
        let Some(target) = self_def(model, r.module, &imp.self_ty) else {
            continue;
        };
        if is_serde_trait(model, r.module, trait_path, "Deserialize") {
            manual_de.push((target, r));
        } else if is_serde_trait(model, r.module, trait_path, "Serialize") {
            manual_ser.insert(target);
        } else if trait_path.segments.last().is_some_and(|s| {
            s.ident == "PartialEq" && matches!(s.arguments, syn::PathArguments::None)
        }) {
            manual_eq.insert(target);
        }
    }
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    let mention_index = std::cell::OnceCell::new();
    let candidates = derived
        .iter()
        .filter(|(_, f)| f.0)
        .map(|(&d, _)| (d, How::Derive))
        .chain(manual_de.iter().map(|&(d, _)| (d, How::Manual)));
    for (d, how) in candidates {
        if !seen.insert(d) {
            continue;
        }
        let flags = derived.get(&d).copied().unwrap_or_default();
        let serialize = flags.1 || manual_ser.contains(&d);
        let partial_eq = flags.2 || manual_eq.contains(&d);
        let all_impls: Vec<ImplRef> = manual_de
            .iter()
            .filter(|(t, _)| *t == d)
            .map(|&(_, r)| r)
            .collect();
        out.push(describe(
            model,
            d,
            how,
            serialize,
            partial_eq,
            &all_impls,
            &mention_index,
        ));
    }
    out.sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
    out
}

/// Whether `path`, written in module `m`, names serde's trait `name` (or its derive macro).
fn is_serde_trait(model: &CrateModel, m: ModId, path: &syn::Path, name: &str) -> bool {
    // Resolve first: `use serde::Deserialize as De; #[derive(De)]` names the trait too.
    match model.resolve(m, &segs(path), Ns::Type) {
        Some(Res::External(v)) => {
            v.last().is_some_and(|l| l == name)
                && (v.len() == 1
                    || matches!(v[0].as_str(), "serde" | "serde_core" | "serde_derive"))
        }
        // A name imported by a glob from serde does not resolve; a crate's own trait does.
        None => path.segments.last().is_some_and(|s| s.ident == name),
        // Inside serde itself, its own trait is the one.
        Some(Res::Def(d)) => {
            matches!(model.crate_name.as_str(), "serde" | "serde_core")
                && model.defs[d].kind == DefKind::Trait
                && model.defs[d].name == name
        }
        _ => false,
    }
}

fn describe(
    model: &CrateModel,
    d: DefId,
    how: How,
    serialize: bool,
    partial_eq: bool,
    manual_impls: &[ImplRef],
    mention_index: &std::cell::OnceCell<HashMap<DefId, Vec<Mention>>>,
) -> DeserItem {
    let def = &model.defs[d];
    let item = model.item(d);
    let generics = generics_of(item).cloned().unwrap_or_default();
    let line = match item {
        Item::Struct(s) => s.ident.span().start().line,
        Item::Enum(e) => e.ident.span().start().line,
        Item::Union(u) => u.ident.span().start().line,
        _ => 0,
    };
    let mut di = DeserItem {
        def: d,
        how,
        file: model.tree.modules[def.module].file.clone(),
        line,
        public_path: model.public_path(d),
        internal_path: model.internal_path(d),
        instances: Vec::new(),
        skip: None,
        serialize,
        partial_eq,
        roundtrip_blockers: BTreeSet::new(),
        borrowed: generics.lifetimes().next().is_some(),
        words: BTreeSet::new(),
        numbers: BTreeSet::new(),
        text: false,
        seeds: Vec::new(),
    };
    let kv = serde_kv(crate::source::item_attrs(item));
    if how == How::Derive && has(&kv, "remote") {
        di.skip = Some(
            "`#[serde(remote = ..)]` derives a deserialize function for another type, not `Deserialize` for this one".into(),
        );
        return di;
    }
    let Some(public) = di.public_path.clone() else {
        di.skip = Some(format!(
            "`{}` is not reachable from the crate's public API (no `pub` path or `pub use` names it)",
            di.internal_path
        ));
        return di;
    };
    let type_params: Vec<String> = generics
        .type_params()
        .map(|p| p.ident.to_string())
        .collect();
    let const_params: Vec<String> = generics
        .const_params()
        .map(|p| p.ident.to_string())
        .collect();
    if type_params.is_empty() && const_params.is_empty() {
        di.instances.push(Instance {
            ty: public,
            via: None,
            subst: Subst::new(),
            shadow: None,
        });
    } else {
        let mut params = type_params.clone();
        params.extend(const_params);
        // Hand-written impls for concrete instances (`impl Deserialize for DateTime<Utc>`) name
        // exactly the instances that are Deserialize.
        for &r in manual_impls {
            let imp = model.impl_item(r);
            let impl_params: Vec<String> = imp
                .generics
                .type_params()
                .map(|p| p.ident.to_string())
                .collect();
            let Some((_, args)) = types::last_segment(&imp.self_ty) else {
                continue;
            };
            let mentions_param = args.iter().any(|a| {
                types::inner_paths(a).iter().any(|p| {
                    p.get_ident()
                        .is_some_and(|id| impl_params.iter().any(|q| id == q))
                })
            });
            if args.is_empty() || mentions_param {
                continue;
            }
            let rendered: Option<Vec<String>> = args
                .iter()
                .map(|a| render(model, r.module, a, &Subst::new()))
                .collect();
            if let Some(rendered) = rendered {
                let ty = format!("{public}<{}>", rendered.join(", "));
                if !di.instances.iter().any(|i| i.ty == ty) {
                    di.instances.push(Instance {
                        ty,
                        via: Some("its hand-written `Deserialize` impl".into()),
                        subst: type_params.iter().cloned().zip(rendered).collect(),
                        shadow: None,
                    });
                }
            }
        }
        if di.instances.is_empty() {
            let index = mention_index.get_or_init(|| mentions(model));
            di.instances = instantiations(
                model,
                index.get(&d).map_or(&[], Vec::as_slice),
                &public,
                &params,
            );
        }
        if di.instances.is_empty() {
            di.skip = Some(format!(
                "generic over {}; the crate instantiates it nowhere with concrete public types (no type alias or field names one)",
                params.join(", ")
            ));
            return di;
        }
    }
    let mut walker = Walker {
        model,
        words: BTreeSet::new(),
        numbers: BTreeSet::new(),
        text: false,
        blockers: BTreeSet::new(),
        visited: HashSet::new(),
    };
    walker.walk_def(d, 0);
    for &r in manual_impls {
        collect_literals(model, r, &mut walker.words);
    }
    di.words = walker.words;
    di.numbers = walker.numbers;
    di.text = walker.text;
    di.roundtrip_blockers = walker.blockers;
    for inst in &mut di.instances {
        let manual = how == How::Manual;
        inst.shadow = Some(crate::shadow::shadow_of(model, d, manual, &inst.subst));
    }
    let subst = di.instances[0].subst.clone();
    if how == How::Derive {
        // Every integer at 1 and every string empty, then (where the type has integers or
        // text) all at their minimum, at their maximum and at the bit width 64, with text NUL,
        // long and multi-byte: boundary values are where arithmetic and slicing go wrong.
        for fill in [Fill::One, Fill::Min, Fill::Max, Fill::Width] {
            let mut seeder = Seeder {
                model,
                depth: 0,
                fill,
            };
            for seed in seeder.seeds_of_def(d, &subst, MAX_SEEDS) {
                if !di.seeds.contains(&seed) {
                    di.seeds.push(seed);
                }
            }
        }
    }
    di
}

/// Where the crate writes a generic type with arguments: in a type alias or a field type.
struct Mention {
    module: ModId,
    args: syn::AngleBracketedGenericArguments,
    via: String,
}

/// Every mention of a crate type with generic arguments, by type, aliases first. Built once per
/// crate: only paths with `<..>` arguments are resolved.
fn mentions(model: &CrateModel) -> HashMap<DefId, Vec<Mention>> {
    let mut out: HashMap<DefId, Vec<Mention>> = HashMap::new();
    let mut consider = |m: ModId, ty: &Type, via: &str| {
        for path in types::inner_paths(ty) {
            let Some(last) = path.segments.last() else {
                continue;
            };
            let syn::PathArguments::AngleBracketed(ab) = &last.arguments else {
                continue;
            };
            let mut bare = path.clone();
            if let Some(l) = bare.segments.last_mut() {
                l.arguments = syn::PathArguments::None;
            }
            if let Some(Res::Def(d)) = model.resolve(m, &segs(&bare), Ns::Type) {
                out.entry(d).or_default().push(Mention {
                    module: m,
                    args: ab.clone(),
                    via: via.to_string(),
                });
            }
        }
    };
    for (d, def) in model.defs.iter().enumerate() {
        if def.kind == DefKind::TypeAlias {
            if let Item::Type(t) = model.item(d) {
                if t.generics.params.is_empty() {
                    let name = model
                        .public_path(d)
                        .unwrap_or_else(|| model.internal_path(d));
                    consider(def.module, &t.ty, &format!("type alias `{name}`"));
                }
            }
        }
    }
    for (d, def) in model.defs.iter().enumerate() {
        if !matches!(def.kind, DefKind::Struct | DefKind::Enum) {
            continue;
        }
        let item = model.item(d);
        if generics_of(item).is_some_and(|g| g.type_params().next().is_some()) {
            continue;
        }
        let owner = model
            .public_path(d)
            .unwrap_or_else(|| model.internal_path(d));
        for f in item_fields(item) {
            consider(def.module, &f.ty, &format!("a field of `{owner}`"));
        }
    }
    out
}

/// Seeds per type at most (one per enum variant, in order): a small corpus is enough to start.
const MAX_SEEDS: usize = 4;

/// Concrete instantiations of a generic type that the crate itself writes in a type alias or a
/// field type. At most three, aliases first.
fn instantiations(
    model: &CrateModel,
    mentions: &[Mention],
    public: &str,
    params: &[String],
) -> Vec<Instance> {
    let mut out: Vec<Instance> = Vec::new();
    for mention in mentions {
        let m = mention.module;
        let rendered: Vec<Option<String>> = mention
            .args
            .args
            .iter()
            .filter_map(|a| match a {
                syn::GenericArgument::Type(t) => Some(render(model, m, t, &Subst::new())),
                syn::GenericArgument::Const(c) => {
                    Some(Some(quote::ToTokens::to_token_stream(c).to_string()))
                }
                _ => None,
            })
            .collect();
        if rendered.len() != params.len() || rendered.iter().any(Option::is_none) {
            continue;
        }
        let rendered: Vec<String> = rendered.into_iter().flatten().collect();
        let ty = format!("{public}<{}>", rendered.join(", "));
        if out.iter().any(|i| i.ty == ty) {
            continue;
        }
        let subst = params.iter().cloned().zip(rendered).collect();
        out.push(Instance {
            ty,
            via: Some(mention.via.clone()),
            subst,
            shadow: None,
        });
        if out.len() == 3 {
            break;
        }
    }
    out
}

fn item_fields(item: &Item) -> Vec<&syn::Field> {
    match item {
        Item::Struct(s) => s.fields.iter().collect(),
        Item::Enum(e) => e.variants.iter().flat_map(|v| v.fields.iter()).collect(),
        Item::Union(u) => u.fields.named.iter().collect(),
        _ => Vec::new(),
    }
}

/// String literals in a hand-written impl and in the `Visitor` impls of the same module: the field
/// and variant names a manual impl matches on.
fn collect_literals(model: &CrateModel, r: ImplRef, words: &mut BTreeSet<String>) {
    struct Lits<'a>(&'a mut BTreeSet<String>);
    impl<'ast> Visit<'ast> for Lits<'_> {
        fn visit_lit_str(&mut self, s: &'ast syn::LitStr) {
            let v = s.value();
            if !v.is_empty() && v.len() <= 64 && !v.contains('{') {
                self.0.insert(v);
            }
        }
        fn visit_macro(&mut self, m: &'ast syn::Macro) {
            if let Ok(args) =
                m.parse_body_with(Punctuated::<syn::Expr, Token![,]>::parse_terminated)
            {
                for a in &args {
                    self.visit_expr(a);
                }
            }
        }
    }
    let mut v = Lits(words);
    v.visit_item_impl(model.impl_item(r));
    for item in &model.tree.modules[r.module].items {
        match item {
            Item::Impl(i)
                if i.trait_.as_ref().is_some_and(|(_, p, _)| {
                    p.segments.last().is_some_and(|s| s.ident == "Visitor")
                }) =>
            {
                v.visit_item_impl(i)
            }
            Item::Const(c) => v.visit_item_const(c),
            Item::Static(s) => v.visit_item_static(s),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn analyse(src: &str) -> Vec<DeserItem> {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("lib.rs");
        std::fs::write(&path, src).expect("write");
        let tree = crate::source::load(&path, &crate::cfg::CfgEnv::with_features(["serde"]))
            .expect("loads");
        discover(&CrateModel::build("demo", tree, false))
    }

    fn found(items: &[DeserItem]) -> Vec<(String, How)> {
        let mut v: Vec<_> = items
            .iter()
            .map(|i| {
                (
                    i.public_path
                        .clone()
                        .unwrap_or_else(|| i.internal_path.clone()),
                    i.how,
                )
            })
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    #[test]
    fn derive_in_every_import_form() {
        let items = analyse(
            r#"
            use serde::Deserialize as De;
            use serde_derive::Deserialize as Derived;
            #[derive(De)] pub struct A;
            #[derive(serde::Deserialize)] pub struct B;
            #[derive(::serde::Deserialize)] pub struct C;
            #[derive(Derived)] pub struct D;
            #[cfg_attr(feature = "serde", derive(serde::Deserialize))] pub struct E;
            #[cfg_attr(feature = "other", derive(serde::Deserialize))] pub struct NotF;
            mod own { pub trait Deserialize {} }
            #[derive(Clone)] pub struct NotG;
            "#,
        );
        let names: Vec<String> = found(&items).into_iter().map(|(n, _)| n).collect();
        assert_eq!(
            names,
            ["demo::A", "demo::B", "demo::C", "demo::D", "demo::E"]
        );
    }

    #[test]
    fn manual_impls_in_every_path_form() {
        let items = analyse(
            r#"
            use serde::de;
            pub struct A; pub struct B; pub struct C; pub struct D; pub struct E; pub struct NotOwn;
            impl<'de> serde::Deserialize<'de> for A { }
            impl<'de> serde::de::Deserialize<'de> for B { }
            impl<'de> ::serde::Deserialize<'de> for C { }
            impl<'de> serde_core::Deserialize<'de> for D { }
            impl<'de> de::Deserialize<'de> for E { }
            mod own { pub trait Deserialize<'a> {} }
            impl<'de> own::Deserialize<'de> for NotOwn { }
            "#,
        );
        let got = found(&items);
        assert_eq!(got.len(), 5, "{got:?}");
        assert!(got.iter().all(|(_, h)| *h == How::Manual));
    }

    #[test]
    fn round_trip_blockers_and_tags() {
        let items = analyse(
            r#"
            #[derive(serde::Deserialize, serde::Serialize, PartialEq)]
            #[serde(tag = "kind", rename_all = "kebab-case")]
            pub enum Ev { StartedAt { at_ms: f64 }, Stopped }
            "#,
        );
        let ev = &items[0];
        assert!(ev.serialize && ev.partial_eq);
        assert!(ev
            .roundtrip_blockers
            .iter()
            .any(|b| b.contains("floating-point")));
        assert!(
            ev.words.contains("kind")
                && ev.words.contains("started-at")
                && ev.words.contains("at_ms")
        );
        assert_eq!(
            ev.seeds,
            vec![
                serde_json::json!({"kind": "started-at", "at_ms": 0.5}),
                serde_json::json!({"kind": "stopped"})
            ]
        );
    }
}
