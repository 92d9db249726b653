//! Shadow types: for a Deserialize type, Rust source of a type with the same serde shape (field
//! and variant names after renames, tags and content keys, untagged variants, flattening,
//! optional fields, the nesting of the crate's own types, what `deserialize_with`, `from` and
//! `try_from` actually read) whose leaves are wide (any integer of any width, any Unicode
//! string, any float, booleans, nulls) and that derives `Arbitrary`. The shaped target builds a
//! shadow from the fuzzer's bytes, turns it into a value of serde's data model and serializes
//! it with each format: every input is well formed, so it reaches the code that reads each
//! field instead of stopping at the parser.
//!
//! Each shadow type `S<n>` implements the target's `ToV` trait (defined in the fixed support
//! code, [`crate::emit::shaped`]); leaves are support types (`StrLeaf`, `AnyLeaf`, `Tree`) or
//! per-integer-type leaves `I<type>` that pick from the type's classics
//! ([`crate::int_bounds::IntRange::table`]).

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use syn::{Fields, Item, Type};

use crate::int_bounds::{self, Classic};
use crate::model::{segs, CrateModel, DefId, DefKind, Ns, Res};
use crate::serde_attrs::{de_str, has, ident_name, rename_all, serde_kv, RenameRule};
use crate::source::ModId;
use crate::types::{self, generics_of, render, Subst};

/// The generated shadow of one Deserialize instance.
#[derive(Debug, Clone)]
pub(crate) struct Shadow {
    /// The shadow type definitions and their `ToV` impls, rustfmt-formatted.
    pub items: String,
    /// The root shadow type.
    pub root: String,
    /// The integer leaves used: leaf type name to its table of classics.
    pub ints: BTreeMap<String, Vec<Classic>>,
}

/// How deep shadow definitions follow nested crate types; deeper ones become `AnyLeaf`.
const MAX_DEPTH: usize = 12;

/// The shadow of the definition `d` with its generic parameters bound by `subst`. A
/// hand-written impl (`manual`) has no derived shape: its shadow is the support's `Tree` (any
/// value, with the type's own words as keys and strings).
pub(crate) fn shadow_of(model: &CrateModel, d: DefId, manual: bool, subst: &Subst) -> Shadow {
    let mut g = Gen {
        model,
        memo: HashMap::new(),
        items: Vec::new(),
        ints: BTreeMap::new(),
    };
    let root = if manual {
        "Tree".to_string()
    } else {
        g.def(d, subst, 0)
    };
    Shadow {
        items: g.items.join("\n"),
        root,
        ints: g.ints,
    }
}

struct Gen<'a> {
    model: &'a CrateModel,
    /// Shadow names by definition and generic arguments.
    memo: HashMap<(DefId, String), String>,
    /// Generated items, in order of creation.
    items: Vec<String>,
    ints: BTreeMap<String, Vec<Classic>>,
}

/// One field of a shadow struct: its serde key (none for positional fields), its shadow type,
/// and whether it may be absent or is flattened into its parent.
struct FieldSh {
    key: Option<String>,
    ty: String,
    optional: bool,
    flatten: bool,
}

/// A Rust string literal.
fn lit(s: &str) -> String {
    format!("{s:?}")
}

impl Gen<'_> {
    /// The shadow type for a crate definition (generated on first use).
    fn def(&mut self, d: DefId, subst: &Subst, depth: usize) -> String {
        let mut key_args: Vec<_> = subst.iter().collect();
        key_args.sort();
        let key = (d, format!("{key_args:?}"));
        if let Some(n) = self.memo.get(&key) {
            return n.clone();
        }
        let name = format!("S{}", self.memo.len());
        self.memo.insert(key, name.clone());
        let model = self.model;
        let m = model.defs[d].module;
        let item = model.item(d);
        let shown = model
            .public_path(d)
            .unwrap_or_else(|| model.internal_path(d));
        let kv = serde_kv(crate::source::item_attrs(item));
        let doc = format!("/// The serde shape of `{shown}`.");
        // `from`/`try_from`: the input is the other type's shape.
        for k in ["try_from", "from"] {
            if let Some(src) = de_str(&kv, k) {
                let inner = match syn::parse_str::<Type>(&src) {
                    Ok(ty) => self.ty(m, &ty, subst, depth + 1),
                    Err(_) => "AnyLeaf".into(),
                };
                let doc = format!("/// `{shown}` is read as `{src}` (`{k}`).");
                self.newtype(&name, &doc, &inner);
                return name;
            }
        }
        let rule = rename_all(&kv, "rename_all");
        match item {
            Item::Struct(s) if has(&kv, "transparent") => {
                let inner = s
                    .fields
                    .iter()
                    .find(|f| {
                        let fkv = serde_kv(&f.attrs);
                        !has(&fkv, "skip") && !has(&fkv, "skip_deserializing")
                    })
                    .map_or_else(|| "()".to_string(), |f| self.ty(m, &f.ty, subst, depth + 1));
                self.newtype(&name, &doc, &inner);
            }
            Item::Struct(s) => {
                let fields = self.fields(m, &s.fields, rule, subst, depth);
                self.record(&name, &doc, &s.fields, &fields);
            }
            Item::Enum(e) => {
                let repr = if has(&kv, "untagged") {
                    "Repr::Untagged".to_string()
                } else {
                    match (de_str(&kv, "tag"), de_str(&kv, "content")) {
                        (Some(t), Some(c)) => format!("Repr::Adjacent({}, {})", lit(&t), lit(&c)),
                        (Some(t), None) => format!("Repr::Internal({})", lit(&t)),
                        _ => "Repr::External".to_string(),
                    }
                };
                let fields_rule = rename_all(&kv, "rename_all_fields");
                let mut arms: Vec<(String, String, bool)> = Vec::new();
                for v in &e.variants {
                    let vkv = serde_kv(&v.attrs);
                    if has(&vkv, "skip") || has(&vkv, "skip_deserializing") || has(&vkv, "other") {
                        continue;
                    }
                    let raw = ident_name(&v.ident);
                    let vname = de_str(&vkv, "rename")
                        .unwrap_or_else(|| rule.map_or(raw.clone(), |r| r.variant(&raw)));
                    let vrule = rename_all(&vkv, "rename_all").or(fields_rule);
                    let body = format!("{name}V{}", arms.len());
                    let fields = self.fields(m, &v.fields, vrule, subst, depth);
                    let vdoc = format!("/// The variant `{vname}` of `{shown}`.");
                    self.record(&body, &vdoc, &v.fields, &fields);
                    arms.push((vname, body, matches!(v.fields, Fields::Unit)));
                }
                self.enumeration(&name, &doc, &repr, &arms);
            }
            _ => self.newtype(&name, &doc, "AnyLeaf"),
        }
        name
    }

    fn fields(
        &mut self,
        m: ModId,
        fields: &Fields,
        rule: Option<RenameRule>,
        subst: &Subst,
        depth: usize,
    ) -> Vec<FieldSh> {
        let mut out = Vec::new();
        for f in fields {
            let fkv = serde_kv(&f.attrs);
            if has(&fkv, "skip") || has(&fkv, "skip_deserializing") {
                continue;
            }
            let custom = has(&fkv, "deserialize_with") || has(&fkv, "with");
            let ty = if custom {
                match crate::read_type::custom_read_type(self.model, m, &fkv) {
                    Some((rm, read)) => self.ty(rm, &read, subst, depth + 1),
                    None => "AnyLeaf".to_string(),
                }
            } else {
                self.ty(m, &f.ty, subst, depth + 1)
            };
            // serde fills a missing `Option` field with `None` unless a function reads it.
            let optional = has(&fkv, "default")
                || (!custom && types::last_segment(&f.ty).is_some_and(|(i, _)| i == "Option"));
            let key = f.ident.as_ref().map(|id| {
                let raw = ident_name(id);
                de_str(&fkv, "rename")
                    .unwrap_or_else(|| rule.map_or(raw.clone(), |r| r.field(&raw)))
            });
            out.push(FieldSh {
                key,
                ty,
                optional,
                flatten: has(&fkv, "flatten"),
            });
        }
        out
    }

    /// The shadow type of a field type.
    fn ty(&mut self, m: ModId, ty: &Type, subst: &Subst, depth: usize) -> String {
        match ty {
            Type::Reference(r) => return self.ty(m, &r.elem, subst, depth),
            Type::Paren(p) => return self.ty(m, &p.elem, subst, depth),
            Type::Group(g) => return self.ty(m, &g.elem, subst, depth),
            Type::Tuple(t) if t.elems.is_empty() => return "()".into(),
            Type::Tuple(t) if t.elems.len() <= 4 => {
                let parts: Vec<String> = t
                    .elems
                    .iter()
                    .map(|e| self.ty(m, e, subst, depth))
                    .collect();
                return if parts.len() == 1 {
                    format!("({},)", parts[0])
                } else {
                    format!("({})", parts.join(", "))
                };
            }
            Type::Slice(s) => return format!("Vec<{}>", self.ty(m, &s.elem, subst, depth)),
            Type::Array(a) => return format!("Vec<{}>", self.ty(m, &a.elem, subst, depth)),
            _ => {}
        }
        let Some((ident, args)) = types::last_segment(ty) else {
            return "AnyLeaf".into();
        };
        let name = ident.to_string();
        if let Some(concrete) = subst.get(&name) {
            return match syn::parse_str::<Type>(concrete) {
                Ok(t) => self.ty(m, &t, &Subst::new(), depth),
                Err(_) => "AnyLeaf".into(),
            };
        }
        if let Some(range) = int_bounds::int_range(&name) {
            let leaf = format!("I{name}");
            self.ints
                .entry(leaf.clone())
                .or_insert_with(|| range.table());
            return leaf;
        }
        let arg = |g: &mut Self, i: usize| -> String {
            args.get(i)
                .map_or_else(|| "AnyLeaf".to_string(), |t| g.ty(m, t, subst, depth))
        };
        match name.as_str() {
            "f32" | "f64" => "f64".into(),
            "bool" => "bool".into(),
            "char" => "char".into(),
            "String" | "str" | "PathBuf" | "Path" | "OsString" | "OsStr" => "StrLeaf".into(),
            "Cow" => {
                let last = args.len().saturating_sub(1);
                arg(self, last)
            }
            "Vec" | "VecDeque" | "HashSet" | "BTreeSet" | "LinkedList" | "BinaryHeap"
            | "SmallVec" | "IndexSet" => format!("Vec<{}>", arg(self, 0)),
            "HashMap" | "BTreeMap" | "IndexMap" => {
                format!("MapOf<{}, {}>", arg(self, 0), arg(self, 1))
            }
            "Option" => format!("Option<{}>", arg(self, 0)),
            "Box" | "Rc" | "Arc" | "Cell" | "RefCell" | "Mutex" | "RwLock" | "Wrapping"
            | "Reverse" | "Saturating" => arg(self, 0),
            "PhantomData" => "()".into(),
            _ => {
                let Type::Path(tp) = ty else {
                    return "AnyLeaf".into();
                };
                let mut bare = tp.path.clone();
                if let Some(last) = bare.segments.last_mut() {
                    last.arguments = syn::PathArguments::None;
                }
                let Some(Res::Def(d)) = self.model.resolve(m, &segs(&bare), Ns::Type) else {
                    return "AnyLeaf".into();
                };
                if !matches!(self.model.defs[d].kind, DefKind::Struct | DefKind::Enum)
                    || depth > MAX_DEPTH
                {
                    return "AnyLeaf".into();
                }
                // A hand-written impl reads what it likes: its fields say nothing.
                if self.manual(d) {
                    return "Nest<Tree>".into();
                }
                let mut inner = Subst::new();
                if let Some(g) = generics_of(self.model.item(d)) {
                    for (p, a) in g.type_params().zip(args.iter()) {
                        if let Some(r) = render(self.model, m, a, subst) {
                            inner.insert(p.ident.to_string(), r);
                        }
                    }
                }
                // `Nest` ends recursion when the input runs out or gets too deep.
                format!("Nest<{}>", self.def(d, &inner, depth))
            }
        }
    }

    /// Whether the crate implements `Deserialize` for `d` by hand.
    fn manual(&self, d: DefId) -> bool {
        self.model.impls.iter().any(|&r| {
            let imp = self.model.impl_item(r);
            imp.trait_.as_ref().is_some_and(|(_, p, _)| {
                p.segments.last().is_some_and(|s| s.ident == "Deserialize")
            }) && types::self_def(self.model, r.module, &imp.self_ty) == Some(d)
        })
    }

    fn newtype(&mut self, name: &str, doc: &str, inner: &str) {
        let mut s = String::new();
        let _ = writeln!(s, "{doc}");
        let _ = writeln!(s, "#[derive(Debug, Arbitrary)]");
        let _ = writeln!(s, "struct {name}({inner});");
        let _ = writeln!(s);
        let _ = writeln!(s, "impl ToV for {name} {{");
        let _ = writeln!(s, "    fn v(&self) -> V {{");
        let _ = writeln!(s, "        self.0.v()");
        let _ = writeln!(s, "    }}");
        let _ = writeln!(s, "}}");
        self.items.push(s);
    }

    /// A struct (or an enum variant's fields): a map for named fields, the value itself for a
    /// newtype, a sequence for a tuple, null for a unit.
    fn record(&mut self, name: &str, doc: &str, shape: &Fields, fields: &[FieldSh]) {
        let mut s = String::new();
        let _ = writeln!(s, "{doc}");
        let _ = writeln!(s, "#[derive(Debug, Arbitrary)]");
        if fields.is_empty() {
            let _ = writeln!(s, "struct {name};");
        } else {
            let _ = writeln!(s, "struct {name} {{");
            for (i, f) in fields.iter().enumerate() {
                if f.optional {
                    let _ = writeln!(s, "    f{i}: Option<{}>,", f.ty);
                } else {
                    let _ = writeln!(s, "    f{i}: {},", f.ty);
                }
            }
            let _ = writeln!(s, "}}");
        }
        let _ = writeln!(s);
        let _ = writeln!(s, "impl ToV for {name} {{");
        let _ = writeln!(s, "    fn v(&self) -> V {{");
        match shape {
            Fields::Unit => {
                let _ = writeln!(s, "        V::Null");
            }
            Fields::Unnamed(u) if u.unnamed.len() == 1 && fields.len() == 1 => {
                if fields[0].optional {
                    let _ = writeln!(s, "        self.f0.as_ref().map_or(V::Null, ToV::v)");
                } else {
                    let _ = writeln!(s, "        self.f0.v()");
                }
            }
            Fields::Unnamed(_) if fields.is_empty() => {
                let _ = writeln!(s, "        V::Seq(Vec::new())");
            }
            Fields::Named(_) if fields.is_empty() => {
                let _ = writeln!(s, "        V::Map(Vec::new())");
            }
            Fields::Unnamed(_) => {
                let _ = writeln!(s, "        let mut seq = Vec::new();");
                for i in 0..fields.len() {
                    let _ = writeln!(s, "        seq.push(self.f{i}.v());");
                }
                let _ = writeln!(s, "        V::Seq(seq)");
            }
            Fields::Named(_) => {
                let _ = writeln!(s, "        let mut map = Vec::new();");
                for (i, f) in fields.iter().enumerate() {
                    let key = lit(f.key.as_deref().unwrap_or_default());
                    let (open, close, indent, value) = if f.optional {
                        (
                            format!("        if let Some(x) = &self.f{i} {{\n"),
                            "        }\n",
                            "            ",
                            "x.v()".to_string(),
                        )
                    } else {
                        (String::new(), "", "        ", format!("self.f{i}.v()"))
                    };
                    s.push_str(&open);
                    if f.flatten {
                        let _ = writeln!(s, "{indent}flatten_into(&mut map, {value});");
                    } else {
                        let _ = writeln!(s, "{indent}map.push(({key}.to_string(), {value}));");
                    }
                    s.push_str(close);
                }
                let _ = writeln!(s, "        V::Map(map)");
            }
        }
        let _ = writeln!(s, "    }}");
        let _ = writeln!(s, "}}");
        self.items.push(s);
    }

    /// An enum: one variant per serde variant, each holding its fields' shadow, written in the
    /// enum's representation.
    fn enumeration(&mut self, name: &str, doc: &str, repr: &str, arms: &[(String, String, bool)]) {
        if arms.is_empty() {
            self.newtype(name, doc, "AnyLeaf");
            return;
        }
        let mut s = String::new();
        let _ = writeln!(s, "{doc}");
        let _ = writeln!(s, "#[derive(Debug, Arbitrary)]");
        let _ = writeln!(s, "enum {name} {{");
        for (i, (_, body, _)) in arms.iter().enumerate() {
            let _ = writeln!(s, "    V{i}({body}),");
        }
        let _ = writeln!(s, "}}");
        let _ = writeln!(s);
        let _ = writeln!(s, "impl ToV for {name} {{");
        let _ = writeln!(s, "    fn v(&self) -> V {{");
        let _ = writeln!(s, "        let repr = {repr};");
        let _ = writeln!(s, "        match self {{");
        for (i, (vname, _, unit)) in arms.iter().enumerate() {
            let _ = writeln!(s, "            {name}::V{i}(x) => {{");
            let _ = writeln!(s, "                let body = x.v();");
            let _ = writeln!(s, "                repr.wrap({}, body, {unit})", lit(vname));
            let _ = writeln!(s, "            }}");
        }
        let _ = writeln!(s, "        }}");
        let _ = writeln!(s, "    }}");
        let _ = writeln!(s, "}}");
        self.items.push(s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shadow of the type named `name` in `src`.
    fn shadow(src: &str, name: &str) -> Shadow {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("lib.rs");
        std::fs::write(&path, src).expect("write");
        let tree = crate::source::load(&path, &crate::cfg::CfgEnv::with_features(["serde"]))
            .expect("loads");
        let model = CrateModel::build("demo", tree, false);
        let items = crate::deser::discover(&model);
        let item = items
            .iter()
            .find(|i| i.internal_path.ends_with(name))
            .unwrap_or_else(|| panic!("{name} not discovered"));
        item.instances[0].shadow.clone().expect("a shadow")
    }

    #[test]
    fn names_tags_and_optional_fields_follow_serde() {
        let s = shadow(
            r#"
            use serde::Deserialize;
            #[derive(Deserialize)]
            #[serde(rename_all = "camelCase")]
            pub struct Config {
                pub max_items: u32,
                #[serde(rename = "label")] pub name: String,
                pub note: Option<String>,
                #[serde(default)] pub retries: u8,
                #[serde(skip)] pub cache: Vec<u8>,
                #[serde(flatten)] pub extra: Extra,
                pub kind: Kind,
                pub by_name: std::collections::HashMap<String, i64>,
            }
            #[derive(Deserialize)]
            pub struct Extra { pub level: i16 }
            #[derive(Deserialize)]
            #[serde(tag = "t", content = "c")]
            pub enum Kind { Unit, Pair(u8, char), Named { x: f64 } }
            "#,
            "Config",
        );
        assert_eq!(s.root, "S0");
        let src = &s.items;
        for want in [
            "map.push((\"maxItems\".to_string(), self.f0.v()));",
            "map.push((\"label\".to_string(), self.f1.v()));",
            // `Option` and `default` fields may be absent.
            "f2: Option<Option<StrLeaf>>,",
            "f3: Option<Iu8>,",
            "if let Some(x) = &self.f3 {",
            "flatten_into(&mut map, self.f4.v());",
            "f5: Nest<S2>,",
            "f6: MapOf<StrLeaf, Ii64>,",
            "let repr = Repr::Adjacent(\"t\", \"c\");",
            "repr.wrap(\"Pair\", body, false)",
            "repr.wrap(\"Unit\", body, true)",
            "seq.push(self.f1.v());",
            "f0: f64,",
        ] {
            assert!(src.contains(want), "missing {want:?} in\n{src}");
        }
        assert!(
            !src.contains("cache"),
            "a skipped field is not in the shape"
        );
        let leaves: Vec<&str> = s.ints.keys().map(String::as_str).collect();
        assert_eq!(leaves, ["Ii16", "Ii64", "Iu32", "Iu8"]);
        assert_eq!(s.ints["Iu8"][1], Classic::Pos(255));
    }

    #[test]
    fn conversions_and_custom_readers_give_the_type_actually_read() {
        let s = shadow(
            r#"
            use serde::{Deserialize, Deserializer};
            #[derive(Deserialize)]
            #[serde(try_from = "Raw")]
            pub struct Checked { pub total: u8 }
            #[derive(Deserialize)]
            struct Raw {
                #[serde(deserialize_with = "bits")] mask: u64,
                #[serde(deserialize_with = "opaque")] other: u64,
                next: Option<Box<Raw>>,
            }
            fn bits<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
                let b = u8::deserialize(d)?;
                Ok(1u64 << b)
            }
            fn opaque<'de, D: Deserializer<'de>>(_: D) -> Result<u64, D::Error> { Err(serde::de::Error::custom("opaque")) }
            "#,
            "Checked",
        );
        let src = &s.items;
        for want in [
            "/// `demo::Checked` is read as `Raw` (`try_from`).",
            "struct S0(Nest<S1>);",
            "f0: Iu8,",
            "f1: AnyLeaf,",
            // A recursive type refers to itself through `Nest`, which ends the recursion.
            "f2: Option<Option<Nest<S1>>>,",
        ] {
            assert!(src.contains(want), "missing {want:?} in\n{src}");
        }
        assert!(!s.ints.contains_key("Iu64"), "{:?}", s.ints.keys());
    }

    #[test]
    fn untagged_external_and_hand_written() {
        let s = shadow(
            r#"
            #[derive(serde::Deserialize)]
            #[serde(untagged)]
            pub enum Id { Num(u64), Text(String) }
            "#,
            "Id",
        );
        assert!(s.items.contains("let repr = Repr::Untagged;"));
        assert!(s.items.contains("self.f0.v()"));
        let s = shadow(
            r#"
            #[derive(serde::Deserialize)]
            pub enum Op { Start, Stop { at: (u16, bool) } }
            "#,
            "Op",
        );
        assert!(s.items.contains("let repr = Repr::External;"));
        assert!(s.items.contains("f0: (Iu16, bool),"));
        let s = shadow(
            r#"
            pub struct Hand;
            impl<'de> serde::Deserialize<'de> for Hand {
                fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> { serde::de::IgnoredAny::deserialize(d).map(|_| Hand) }
            }
            "#,
            "Hand",
        );
        assert_eq!(s.root, "Tree");
        assert!(s.items.is_empty());
        let s = shadow(
            r#"
            pub struct Hand;
            impl<'de> serde::Deserialize<'de> for Hand {
                fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> { serde::de::IgnoredAny::deserialize(d).map(|_| Hand) }
            }
            #[derive(serde::Deserialize)]
            pub struct Outer { pub hand: Hand }
            "#,
            "Outer",
        );
        assert!(s.items.contains("f0: Nest<Tree>,"), "{}", s.items);
    }
}
