//! Conditional compilation: evaluates `#[cfg(..)]` predicates against a package's enabled features
//! and the host target, and expands `#[cfg_attr(..)]` into the attributes it stands for.
//!
//! The generated fuzz project is built for the host, so target keys (`unix`, `target_os`, ...)
//! take the values of the platform this generator was compiled for. `fuzzing` and
//! `debug_assertions` are on because cargo-fuzz builds with both; `test`, `doc` and any custom cfg
//! a build script might set are off, as rustc treats an unset cfg.

use std::collections::BTreeSet;

use syn::punctuated::Punctuated;
use syn::{Attribute, Expr, Lit, Meta, Token};

/// What `cfg` predicates are evaluated against: the package's enabled features plus the host.
#[derive(Debug, Clone, Default)]
pub struct CfgEnv {
    /// Features enabled for the package (as `cargo metadata` resolved them, `default` included).
    pub features: BTreeSet<String>,
}

impl CfgEnv {
    /// A cfg environment with these features enabled.
    pub fn with_features<I, S>(features: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        CfgEnv {
            features: features.into_iter().map(Into::into).collect(),
        }
    }

    /// Evaluates one predicate (`feature = "x"`, `all(..)`, `not(unix)`, ...).
    pub fn eval(&self, meta: &Meta) -> bool {
        match meta {
            Meta::Path(path) => path.get_ident().is_some_and(|id| flag(&id.to_string())),
            Meta::NameValue(nv) => {
                let Some(key) = nv.path.get_ident() else {
                    return false;
                };
                let Some(value) = str_lit(&nv.value) else {
                    return false;
                };
                self.key_value(&key.to_string(), &value)
            }
            Meta::List(list) => {
                let Some(op) = list.path.get_ident().map(ToString::to_string) else {
                    return false;
                };
                let Ok(args) =
                    list.parse_args_with(Punctuated::<Meta, Token![,]>::parse_terminated)
                else {
                    return false;
                };
                match op.as_str() {
                    "all" => args.iter().all(|m| self.eval(m)),
                    "any" => args.iter().any(|m| self.eval(m)),
                    "not" => args.len() == 1 && !self.eval(&args[0]),
                    _ => false,
                }
            }
        }
    }

    fn key_value(&self, key: &str, value: &str) -> bool {
        match key {
            "feature" => self.features.contains(value),
            "target_os" => value == std::env::consts::OS,
            "target_family" => value == std::env::consts::FAMILY,
            "target_arch" => value == std::env::consts::ARCH,
            "target_pointer_width" => value == usize::BITS.to_string(),
            "target_endian" => {
                value
                    == if cfg!(target_endian = "little") {
                        "little"
                    } else {
                        "big"
                    }
            }
            "target_env" => value == host_env(),
            "target_vendor" => {
                value == "unknown" || (value == "apple" && cfg!(target_vendor = "apple"))
            }
            "target_has_atomic" => matches!(value, "8" | "16" | "32" | "64" | "ptr"),
            "panic" => value == "unwind",
            _ => false,
        }
    }

    /// Whether every `#[cfg(..)]` among these (already `cfg_attr`-expanded) attributes holds.
    pub fn enabled(&self, attrs: &[Attribute]) -> bool {
        attrs
            .iter()
            .filter(|a| a.path().is_ident("cfg"))
            .all(|a| match &a.meta {
                Meta::List(list) => list.parse_args::<Meta>().is_ok_and(|m| self.eval(&m)),
                _ => false,
            })
    }

    /// Replaces every `#[cfg_attr(pred, a, b)]` by `#[a] #[b]` when `pred` holds (recursively), and
    /// drops it otherwise. A `cfg_attr` that does not parse is kept as written.
    pub fn expand_attrs(&self, attrs: &mut Vec<Attribute>) {
        if !attrs.iter().any(|a| a.path().is_ident("cfg_attr")) {
            return;
        }
        let mut out = Vec::with_capacity(attrs.len());
        for attr in attrs.drain(..) {
            self.expand_one(attr, &mut out, 0);
        }
        *attrs = out;
    }

    fn expand_one(&self, attr: Attribute, out: &mut Vec<Attribute>, depth: usize) {
        if !attr.path().is_ident("cfg_attr") || depth > 8 {
            out.push(attr);
            return;
        }
        let parsed = attr.parse_args_with(|input: syn::parse::ParseStream<'_>| {
            let pred: Meta = input.parse()?;
            input.parse::<Token![,]>()?;
            let rest = Punctuated::<Meta, Token![,]>::parse_terminated(input)?;
            Ok((pred, rest))
        });
        match parsed {
            Ok((pred, rest)) => {
                if self.eval(&pred) {
                    for meta in rest {
                        let inner = Attribute {
                            pound_token: attr.pound_token,
                            style: attr.style,
                            bracket_token: attr.bracket_token,
                            meta,
                        };
                        self.expand_one(inner, out, depth + 1);
                    }
                }
            }
            Err(_) => out.push(attr),
        }
    }
}

/// Boolean cfg flags of the host as seen by a cargo-fuzz build.
fn flag(name: &str) -> bool {
    match name {
        "unix" => cfg!(unix),
        "windows" => cfg!(windows),
        "debug_assertions" | "fuzzing" => true,
        _ => false,
    }
}

fn host_env() -> &'static str {
    if cfg!(target_env = "gnu") {
        "gnu"
    } else if cfg!(target_env = "musl") {
        "musl"
    } else if cfg!(target_env = "msvc") {
        "msvc"
    } else {
        ""
    }
}

/// The value of a string literal expression, if it is one.
pub(crate) fn str_lit(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Lit(syn::ExprLit {
            lit: Lit::Str(s), ..
        }) => Some(s.value()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(s: &str) -> Meta {
        syn::parse_str(s).expect("test predicate parses")
    }

    #[test]
    fn features_and_combinators() {
        let env = CfgEnv::with_features(["default", "serde"]);
        assert!(env.eval(&meta(r#"feature = "serde""#)));
        assert!(!env.eval(&meta(r#"feature = "std""#)));
        assert!(env.eval(&meta(r#"all(feature = "serde", not(feature = "std"))"#)));
        assert!(env.eval(&meta(r#"any(feature = "std", feature = "default")"#)));
        assert!(!env.eval(&meta("test")));
        assert!(env.eval(&meta("fuzzing")));
        assert_eq!(
            env.eval(&meta(r#"target_os = "linux""#)),
            cfg!(target_os = "linux")
        );
        assert!(!env.eval(&meta("some_build_script_cfg")));
    }

    #[test]
    fn cfg_attr_expands_nested() {
        let env = CfgEnv::with_features(["serde"]);
        let item: syn::ItemStruct = syn::parse_str(
            r#"#[cfg_attr(feature = "serde", derive(Deserialize), cfg_attr(unix, serde(deny_unknown_fields)))]
               #[cfg_attr(feature = "nope", derive(Serialize))]
               struct S;"#,
        )
        .expect("parses");
        let mut attrs = item.attrs;
        env.expand_attrs(&mut attrs);
        let rendered: Vec<String> = attrs
            .iter()
            .map(|a| quote::quote!(#a).to_string())
            .collect();
        let mut expected = vec!["# [derive (Deserialize)]".to_string()];
        if cfg!(unix) {
            expected.push("# [serde (deny_unknown_fields)]".to_string());
        }
        assert_eq!(rendered, expected);
    }
}
