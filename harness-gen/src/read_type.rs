//! The type a field's `deserialize_with` (or `with`) function actually reads from the input,
//! which is often narrower than the field's own type (`mask: u64` read through a function that
//! deserializes a `u8` and shifts by it). Seeds, dictionaries and shaped inputs follow it, so
//! that they hold values the function accepts and the edges where its arithmetic breaks.

use syn::visit::Visit;
use syn::{Expr, Type};

use crate::model::{segs, CrateModel, DefKind, Ns, Res};
use crate::serde_attrs::{de_str, Val};
use crate::source::ModId;

/// The type the field's custom deserialize function reads, with the module it is written in,
/// when the function is the crate's own and its body shows it: `T::deserialize(d)`,
/// `<T as Deserialize>::deserialize(d)`, `let x: T = Deserialize::deserialize(d)?`, or a
/// `d.deserialize_u8(..)`-style call. `None` when the field has no such function or the body
/// does not say.
pub(crate) fn custom_read_type(
    model: &CrateModel,
    m: ModId,
    fkv: &[(String, Val)],
) -> Option<(ModId, Type)> {
    let path = de_str(fkv, "deserialize_with")
        .or_else(|| de_str(fkv, "with").map(|w| format!("{w}::deserialize")))?;
    let path: syn::Path = syn::parse_str(&path).ok()?;
    let Some(Res::Def(d)) = model.resolve(m, &segs(&path), Ns::Value) else {
        return None;
    };
    if model.defs[d].kind != DefKind::Fn {
        return None;
    }
    let syn::Item::Fn(f) = model.item(d) else {
        return None;
    };
    let mut finder = Finder(None);
    finder.visit_block(&f.block);
    finder.0.map(|ty| (model.defs[d].module, ty))
}

/// Finds the first type a function body deserializes.
struct Finder(Option<Type>);

/// `deserialize_u8` and friends: the primitive each `Deserializer` method reads.
fn primitive_of(method: &str) -> Option<&'static str> {
    Some(match method {
        "deserialize_bool" => "bool",
        "deserialize_i8" => "i8",
        "deserialize_i16" => "i16",
        "deserialize_i32" => "i32",
        "deserialize_i64" => "i64",
        "deserialize_i128" => "i128",
        "deserialize_u8" => "u8",
        "deserialize_u16" => "u16",
        "deserialize_u32" => "u32",
        "deserialize_u64" => "u64",
        "deserialize_u128" => "u128",
        "deserialize_f32" => "f32",
        "deserialize_f64" => "f64",
        "deserialize_char" => "char",
        "deserialize_str" | "deserialize_string" => "String",
        _ => return None,
    })
}

/// Whether a call's function path is `deserialize` on a type (`T::deserialize`,
/// `<T as Deserialize>::deserialize`), returning that type.
fn deserialized_type(func: &Expr) -> Option<Type> {
    let Expr::Path(p) = func else { return None };
    let last = p.path.segments.last()?;
    if last.ident != "deserialize" {
        return None;
    }
    if let Some(q) = &p.qself {
        return Some((*q.ty).clone());
    }
    let n = p.path.segments.len();
    if n < 2 {
        return None;
    }
    let owner = &p.path.segments[n - 2];
    // `Deserialize::deserialize(d)` names the trait, not the type.
    if owner.ident == "Deserialize" {
        return None;
    }
    let mut ty_path = p.path.clone();
    ty_path.segments.pop();
    ty_path.segments.pop_punct();
    Some(Type::Path(syn::TypePath {
        qself: None,
        path: ty_path,
    }))
}

/// Whether an expression (through `?`, `.map_err(..)` and the like) calls the trait's own
/// `Deserialize::deserialize`, whose type comes from the binding.
fn calls_trait_deserialize(e: &Expr) -> bool {
    match e {
        Expr::Try(t) => calls_trait_deserialize(&t.expr),
        Expr::MethodCall(m) => calls_trait_deserialize(&m.receiver),
        Expr::Call(c) => {
            let Expr::Path(p) = &*c.func else {
                return false;
            };
            let n = p.path.segments.len();
            n >= 2
                && p.path.segments[n - 1].ident == "deserialize"
                && p.path.segments[n - 2].ident == "Deserialize"
        }
        _ => false,
    }
}

impl<'ast> Visit<'ast> for Finder {
    fn visit_local(&mut self, l: &'ast syn::Local) {
        if self.0.is_some() {
            return;
        }
        if let (syn::Pat::Type(pt), Some(init)) = (&l.pat, &l.init) {
            if calls_trait_deserialize(&init.expr) {
                self.0 = Some((*pt.ty).clone());
                return;
            }
        }
        syn::visit::visit_local(self, l);
    }

    fn visit_expr_call(&mut self, c: &'ast syn::ExprCall) {
        if self.0.is_some() {
            return;
        }
        if let Some(ty) = deserialized_type(&c.func) {
            self.0 = Some(ty);
            return;
        }
        syn::visit::visit_expr_call(self, c);
    }

    fn visit_expr_method_call(&mut self, c: &'ast syn::ExprMethodCall) {
        if self.0.is_some() {
            return;
        }
        if let Some(p) = primitive_of(&c.method.to_string()) {
            self.0 = syn::parse_str(p).ok();
            return;
        }
        syn::visit::visit_expr_method_call(self, c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serde_attrs::serde_kv;

    fn read_types(src: &str) -> Vec<Option<String>> {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("lib.rs");
        std::fs::write(&path, src).expect("write");
        let tree = crate::source::load(&path, &crate::cfg::CfgEnv::with_features([] as [&str; 0]))
            .expect("loads");
        let model = CrateModel::build("demo", tree, false);
        let d = model.defs.iter().position(|d| d.name == "Op").expect("Op");
        let syn::Item::Struct(s) = model.item(d) else {
            panic!("struct")
        };
        s.fields
            .iter()
            .map(|f| {
                custom_read_type(&model, model.defs[d].module, &serde_kv(&f.attrs)).map(|(_, t)| {
                    quote::ToTokens::to_token_stream(&t)
                        .to_string()
                        .replace(' ', "")
                })
            })
            .collect()
    }

    #[test]
    fn follows_each_way_a_function_reads() {
        let got = read_types(
            r#"
            use serde::{Deserialize, Deserializer};
            pub struct Op {
                #[serde(deserialize_with = "bits")] pub mask: u64,
                #[serde(deserialize_with = "qualified")] pub a: u64,
                #[serde(deserialize_with = "annotated")] pub b: u64,
                #[serde(with = "as_text")] pub c: u64,
                #[serde(deserialize_with = "by_method")] pub d: i64,
                pub plain: u64,
                #[serde(deserialize_with = "elsewhere::f")] pub e: u64,
            }
            fn bits<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
                let bits = u8::deserialize(d)?;
                Ok(1u64 << bits)
            }
            fn qualified<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
                <u16 as Deserialize>::deserialize(d).map(u64::from)
            }
            fn annotated<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
                let v: i32 = Deserialize::deserialize(d)?;
                Ok(v as u64)
            }
            mod as_text {
                pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
                    let s = String::deserialize(d)?;
                    s.parse().map_err(serde::de::Error::custom)
                }
            }
            fn by_method<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
                d.deserialize_i8(V)
            }
            "#,
        );
        assert_eq!(
            got,
            [
                Some("u8".to_string()),
                Some("u16".to_string()),
                Some("i32".to_string()),
                Some("String".to_string()),
                Some("i8".to_string()),
                None,
                None,
            ]
        );
    }
}
