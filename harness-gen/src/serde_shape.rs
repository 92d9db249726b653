//! The serde shape of a Deserialize type, followed through the crate types its fields name:
//! the dictionary words it reads (field, variant and tag names, with renames and aliases), the
//! integer boundary values of its fields, the reasons a JSON round trip may change a value
//! ([`Walker`]), and valid JSON seed values honouring renames, tags and `default` ([`Seeder`]).
//! A field read through `deserialize_with` is followed to the type the function reads
//! ([`crate::read_type`]).

use std::collections::{BTreeSet, HashSet};

use serde_json::{json, Map, Value};
use syn::{Fields, Item, Type};

use crate::int_bounds;
use crate::model::{segs, CrateModel, DefId, DefKind, Ns, Res};
use crate::serde_attrs::{all_str, de_str, has, ident_name, rename_all, serde_kv};
use crate::source::ModId;
use crate::types::{self, generics_of, render, Subst};

/// Walks a type and the crate types its fields name, collecting dictionary words and reasons a
/// round trip may legitimately change the value.
pub(crate) struct Walker<'a> {
    pub(crate) model: &'a CrateModel,
    /// Field, variant and tag names.
    pub(crate) words: BTreeSet<String>,
    /// Integer boundary values of the fields.
    pub(crate) numbers: BTreeSet<String>,
    /// Whether some field holds text (so the text classics belong in the dictionary).
    pub(crate) text: bool,
    /// Reasons a JSON round trip may legitimately change the value.
    pub(crate) blockers: BTreeSet<String>,
    pub(crate) visited: HashSet<DefId>,
}

impl Walker<'_> {
    pub(crate) fn walk_def(&mut self, d: DefId, depth: usize) {
        if depth > 8 || !self.visited.insert(d) {
            return;
        }
        let model = self.model;
        let m = model.defs[d].module;
        let item = model.item(d);
        let kv = serde_kv(crate::source::item_attrs(item));
        for key in ["tag", "content"] {
            if let Some(t) = de_str(&kv, key) {
                self.words.insert(t);
            }
        }
        if has(&kv, "untagged") {
            self.blockers
                .insert("an untagged enum can read its own output as another variant".into());
        }
        if has(&kv, "from") || has(&kv, "try_from") {
            if !has(&kv, "into") {
                self.blockers
                    .insert("`from`/`try_from` without `into` serializes another shape".into());
            }
            for key in ["from", "try_from"] {
                if let Some(src) = de_str(&kv, key) {
                    if let Ok(ty) = syn::parse_str::<Type>(&src) {
                        self.walk_type(m, &ty, depth + 1);
                    }
                }
            }
        }
        let rule = rename_all(&kv, "rename_all");
        match item {
            Item::Struct(s) => self.walk_fields(m, &s.fields, rule, depth),
            Item::Enum(e) => {
                let fields_rule = rename_all(&kv, "rename_all_fields");
                for v in &e.variants {
                    let vkv = serde_kv(&v.attrs);
                    if has(&vkv, "skip") || has(&vkv, "skip_deserializing") {
                        continue;
                    }
                    let name = ident_name(&v.ident);
                    self.words.insert(
                        de_str(&vkv, "rename")
                            .unwrap_or_else(|| rule.map_or(name.clone(), |r| r.variant(&name))),
                    );
                    self.words.extend(all_str(&vkv, "alias"));
                    let vrule = rename_all(&vkv, "rename_all").or(fields_rule);
                    self.walk_fields(m, &v.fields, vrule, depth);
                }
            }
            _ => {}
        }
    }

    fn walk_fields(
        &mut self,
        m: ModId,
        fields: &Fields,
        rule: Option<crate::serde_attrs::RenameRule>,
        depth: usize,
    ) {
        for f in fields {
            let fkv = serde_kv(&f.attrs);
            if has(&fkv, "skip") || has(&fkv, "skip_deserializing") {
                continue;
            }
            if has(&fkv, "skip_serializing") {
                self.blockers
                    .insert("a `skip_serializing` field is read but never written".into());
            }
            if has(&fkv, "flatten") {
                self.blockers
                    .insert("`flatten` can move unknown keys between fields".into());
            }
            if (has(&fkv, "deserialize_with") && !has(&fkv, "serialize_with"))
                || has(&fkv, "serialize_with") && !has(&fkv, "deserialize_with")
            {
                self.blockers
                    .insert("a field has a one-sided `deserialize_with`/`serialize_with`".into());
            }
            if types::mentions_float(&f.ty) {
                self.blockers.insert(
                    "floating-point fields (NaN is not equal to itself, and JSON has no NaN)"
                        .into(),
                );
            }
            if let Some(id) = &f.ident {
                let name = ident_name(id);
                self.words.insert(
                    de_str(&fkv, "rename")
                        .unwrap_or_else(|| rule.map_or(name.clone(), |r| r.field(&name))),
                );
                self.words.extend(all_str(&fkv, "alias"));
            }
            if let Some((rm, read)) = crate::read_type::custom_read_type(self.model, m, &fkv) {
                self.walk_type(rm, &read, depth + 1);
            }
            self.walk_type(m, &f.ty, depth + 1);
        }
    }

    fn walk_type(&mut self, m: ModId, ty: &Type, depth: usize) {
        if types::mentions_float(ty) {
            self.blockers.insert(
                "floating-point fields (NaN is not equal to itself, and JSON has no NaN)".into(),
            );
        }
        // `Some(None)` and `Some(())` are written as `null`, which reads back as `None`.
        let text = quote::ToTokens::to_token_stream(ty)
            .to_string()
            .replace(' ', "");
        if text.contains("Option<Option<") || text.contains("Option<()>") {
            self.blockers
                .insert("`Option<Option<_>>` or `Option<()>` writes `Some(None)` as `null`".into());
        }
        for path in types::inner_paths(ty) {
            if let Some(range) = path
                .segments
                .last()
                .and_then(|s| int_bounds::int_range(&s.ident.to_string()))
            {
                self.numbers.extend(range.words());
                self.numbers.extend(int_bounds::classic_words());
                continue;
            }
            if path.segments.last().is_some_and(|s| {
                matches!(
                    s.ident.to_string().as_str(),
                    "String" | "str" | "char" | "PathBuf" | "OsString"
                )
            }) {
                self.text = true;
                continue;
            }
            let mut bare = path.clone();
            if let Some(last) = bare.segments.last_mut() {
                last.arguments = syn::PathArguments::None;
            }
            if let Some(Res::Def(d)) = self.model.resolve(m, &segs(&bare), Ns::Type) {
                if matches!(self.model.defs[d].kind, DefKind::Struct | DefKind::Enum) {
                    self.walk_def(d, depth);
                }
            }
        }
    }
}

/// What value a seed gives every integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fill {
    /// `1`: valid for every integer type, `NonZero*` included.
    One,
    /// The type's minimum.
    Min,
    /// The type's maximum.
    Max,
    /// The bit width `64` (or the type's maximum, if smaller): the shift that overflows.
    Width,
}

impl Fill {
    /// The string this seed gives text fields ([`crate::text_classics::seed_text`]).
    fn text(self) -> String {
        crate::text_classics::seed_text(match self {
            Fill::One => 0,
            Fill::Min => 1,
            Fill::Max => 2,
            Fill::Width => 3,
        })
    }
}

/// Builds valid JSON values from a type's shape, honouring renames, tags and `default`.
pub(crate) struct Seeder<'a> {
    pub(crate) model: &'a CrateModel,
    pub(crate) depth: usize,
    pub(crate) fill: Fill,
}

impl Seeder<'_> {
    /// Seeds for a type: one per variant for enums (up to `max`), one for structs.
    pub(crate) fn seeds_of_def(&mut self, d: DefId, subst: &Subst, max: usize) -> Vec<Value> {
        if self.depth > 6 {
            return Vec::new();
        }
        self.depth += 1;
        let out = self.seeds_inner(d, subst, max);
        self.depth -= 1;
        out
    }

    fn seeds_inner(&mut self, d: DefId, subst: &Subst, max: usize) -> Vec<Value> {
        let model = self.model;
        let m = model.defs[d].module;
        let item = model.item(d);
        let kv = serde_kv(crate::source::item_attrs(item));
        for key in ["try_from", "from"] {
            if let Some(src) = de_str(&kv, key) {
                return syn::parse_str::<Type>(&src)
                    .ok()
                    .and_then(|ty| self.seed_type(m, &ty, subst))
                    .into_iter()
                    .collect();
            }
        }
        let rule = rename_all(&kv, "rename_all");
        match item {
            Item::Struct(s) => {
                if has(&kv, "transparent") {
                    return s
                        .fields
                        .iter()
                        .next()
                        .and_then(|f| self.seed_type(m, &f.ty, subst))
                        .into_iter()
                        .collect();
                }
                self.seed_fields(m, &s.fields, rule, subst)
                    .into_iter()
                    .collect()
            }
            Item::Enum(e) => {
                let tag = de_str(&kv, "tag");
                let content = de_str(&kv, "content");
                let untagged = has(&kv, "untagged");
                let fields_rule = rename_all(&kv, "rename_all_fields");
                let mut out = Vec::new();
                for v in &e.variants {
                    if out.len() >= max {
                        break;
                    }
                    let vkv = serde_kv(&v.attrs);
                    if has(&vkv, "skip") || has(&vkv, "skip_deserializing") || has(&vkv, "other") {
                        continue;
                    }
                    let raw = ident_name(&v.ident);
                    let name = de_str(&vkv, "rename")
                        .unwrap_or_else(|| rule.map_or(raw.clone(), |r| r.variant(&raw)));
                    let vrule = rename_all(&vkv, "rename_all").or(fields_rule);
                    let Some(body) = self.seed_fields(m, &v.fields, vrule, subst) else {
                        continue;
                    };
                    let is_unit = matches!(v.fields, Fields::Unit);
                    let seed = match (&tag, &content, untagged) {
                        (_, _, true) => body,
                        (Some(t), Some(c), _) => {
                            if is_unit {
                                json!({ t.as_str(): name })
                            } else {
                                json!({ t.as_str(): name, c.as_str(): body })
                            }
                        }
                        (Some(t), None, _) => match body {
                            Value::Object(mut map) => {
                                map.insert(t.clone(), Value::String(name));
                                Value::Object(map)
                            }
                            Value::Null if is_unit => json!({ t.as_str(): name }),
                            _ => continue,
                        },
                        (None, _, _) => {
                            if is_unit {
                                Value::String(name)
                            } else {
                                json!({ name: body })
                            }
                        }
                    };
                    out.push(seed);
                }
                out
            }
            _ => Vec::new(),
        }
    }

    fn seed_fields(
        &mut self,
        m: ModId,
        fields: &Fields,
        rule: Option<crate::serde_attrs::RenameRule>,
        subst: &Subst,
    ) -> Option<Value> {
        match fields {
            Fields::Unit => Some(Value::Null),
            Fields::Unnamed(u) if u.unnamed.len() == 1 => {
                self.seed_type(m, &u.unnamed[0].ty, subst)
            }
            Fields::Unnamed(u) => u
                .unnamed
                .iter()
                .map(|f| self.seed_type(m, &f.ty, subst))
                .collect::<Option<Vec<_>>>()
                .map(Value::Array),
            Fields::Named(n) => {
                let mut map = Map::new();
                for f in &n.named {
                    let fkv = serde_kv(&f.attrs);
                    if has(&fkv, "skip") || has(&fkv, "skip_deserializing") {
                        continue;
                    }
                    let optional = has(&fkv, "default");
                    let custom = has(&fkv, "deserialize_with") || has(&fkv, "with");
                    let value = if custom {
                        // What the function reads, where the crate's source says.
                        crate::read_type::custom_read_type(self.model, m, &fkv)
                            .and_then(|(rm, ty)| self.seed_type(rm, &ty, subst))
                    } else {
                        self.seed_type(m, &f.ty, subst)
                    };
                    let Some(id) = &f.ident else { continue };
                    let raw = ident_name(id);
                    let key = de_str(&fkv, "rename")
                        .unwrap_or_else(|| rule.map_or(raw.clone(), |r| r.field(&raw)));
                    match value {
                        Some(Value::Object(inner)) if has(&fkv, "flatten") => map.extend(inner),
                        Some(v) => {
                            map.insert(key, v);
                        }
                        None if optional => {}
                        None => return None,
                    }
                }
                Some(Value::Object(map))
            }
        }
    }

    fn seed_type(&mut self, m: ModId, ty: &Type, subst: &Subst) -> Option<Value> {
        match ty {
            Type::Reference(r) => return self.seed_type(m, &r.elem, subst),
            Type::Paren(p) => return self.seed_type(m, &p.elem, subst),
            Type::Tuple(t) => {
                return t
                    .elems
                    .iter()
                    .map(|e| self.seed_type(m, e, subst))
                    .collect::<Option<Vec<_>>>()
                    .map(Value::Array);
            }
            Type::Slice(_) => return Some(json!([])),
            Type::Array(a) => {
                let n: usize = quote::ToTokens::to_token_stream(&a.len)
                    .to_string()
                    .parse()
                    .ok()?;
                let one = self.seed_type(m, &a.elem, subst)?;
                return Some(Value::Array(vec![one; n.min(64)]));
            }
            _ => {}
        }
        let (ident, args) = types::last_segment(ty)?;
        let name = ident.to_string();
        if let Some(concrete) = subst.get(&name) {
            let ty: Type = syn::parse_str(concrete).ok()?;
            return self.seed_type(m, &ty, &Subst::new());
        }
        if let Some(range) = int_bounds::int_range(&name) {
            return Some(match self.fill {
                Fill::One => json!(1),
                Fill::Min => range.min_json(),
                Fill::Max => range.max_json(),
                Fill::Width => range.width_json(),
            });
        }
        Some(match name.as_str() {
            "f32" | "f64" => json!(0.5),
            "bool" => json!(false),
            "char" => json!(self.fill.text().chars().next().unwrap_or('a')),
            "String" | "str" | "PathBuf" | "Path" | "OsString" => Value::String(self.fill.text()),
            "Cow" => return args.last().and_then(|t| self.seed_type(m, t, subst)),
            "Vec" | "VecDeque" | "HashSet" | "BTreeSet" | "LinkedList" | "BinaryHeap" => json!([]),
            "HashMap" | "BTreeMap" | "IndexMap" => json!({}),
            "Option" => Value::Null,
            "Box" | "Rc" | "Arc" | "Cell" | "RefCell" | "Mutex" | "RwLock" | "Wrapping"
            | "Reverse" => {
                return args.first().and_then(|t| self.seed_type(m, t, subst));
            }
            "PhantomData" => Value::Null,
            _ => {
                let Type::Path(tp) = ty else { return None };
                let mut bare = tp.path.clone();
                if let Some(last) = bare.segments.last_mut() {
                    last.arguments = syn::PathArguments::None;
                }
                let Some(Res::Def(d)) = self.model.resolve(m, &segs(&bare), Ns::Type) else {
                    return None;
                };
                if !matches!(self.model.defs[d].kind, DefKind::Struct | DefKind::Enum) {
                    return None;
                }
                // Bind the nested type's own parameters to the arguments written here.
                let mut inner = Subst::new();
                if let Some(g) = generics_of(self.model.item(d)) {
                    for (p, a) in g.type_params().zip(args.iter()) {
                        if let Some(r) = render(self.model, m, a, subst) {
                            inner.insert(p.ident.to_string(), r);
                        }
                    }
                }
                return self.seeds_of_def(d, &inner, 1).into_iter().next();
            }
        })
    }
}
