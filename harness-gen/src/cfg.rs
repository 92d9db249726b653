//! Conditional compilation: evaluates `#[cfg(..)]` predicates against a package's enabled features
//! and the host target, and expands `#[cfg_attr(..)]` into the attributes it stands for.
//!
//! The generated fuzz project is built for the host, so target keys (`unix`, `target_os`,
//! `target_feature`, ...) take the values `rustc --print cfg` gives for the host (`$RUSTC` when
//! set), read once per process. Predicates are evaluated with cargo's own cfg model
//! (`cargo_platform::CfgExpr`). `fuzzing` and `debug_assertions` are on because cargo-fuzz builds
//! with both; `test`, `doc` and any custom cfg a build script might set are off, as rustc treats
//! an unset cfg.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use cargo_platform::{Cfg, CfgExpr, Ident};
use syn::punctuated::Punctuated;
use syn::{Attribute, Expr, Lit, Meta, Token};

/// What `cfg` predicates are evaluated against: the package's enabled features plus the host.
#[derive(Debug, Clone, Default)]
pub(crate) struct CfgEnv {
    /// Features enabled for the package (as `cargo metadata` resolved them, `default` included).
    pub features: BTreeSet<String>,
}

impl CfgEnv {
    /// A cfg environment with these features enabled.
    pub(crate) fn with_features<I, S>(features: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        CfgEnv {
            features: features.into_iter().map(Into::into).collect(),
        }
    }

    /// Evaluates one predicate (`feature = "x"`, `all(..)`, `not(unix)`, ...). A predicate that
    /// is not valid cfg syntax is false.
    pub(crate) fn eval(&self, meta: &Meta) -> bool {
        expr(meta).is_some_and(|e| self.matches(&e))
    }

    /// Whether `e` holds for the package's features and the host's cfg values.
    fn matches(&self, e: &CfgExpr) -> bool {
        match e {
            CfgExpr::Not(inner) => !self.matches(inner),
            CfgExpr::All(all) => all.iter().all(|e| self.matches(e)),
            CfgExpr::Any(any) => any.iter().any(|e| self.matches(e)),
            CfgExpr::Value(Cfg::KeyPair(key, value)) if *key == "feature" => {
                self.features.contains(value)
            }
            CfgExpr::Value(cfg) => host_cfg().contains(cfg),
            CfgExpr::True => true,
            CfgExpr::False => false,
        }
    }

    /// Whether every `#[cfg(..)]` among these (already `cfg_attr`-expanded) attributes holds.
    pub(crate) fn enabled(&self, attrs: &[Attribute]) -> bool {
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
    pub(crate) fn expand_attrs(&self, attrs: &mut Vec<Attribute>) {
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

/// A `cfg` predicate as cargo's cfg model, read structurally from the attribute's syntax.
fn expr(meta: &Meta) -> Option<CfgExpr> {
    let ident = |path: &syn::Path| -> Option<Ident> {
        let id = path.get_ident()?.to_string();
        Some(match id.strip_prefix("r#") {
            Some(name) => Ident {
                name: name.to_owned(),
                raw: true,
            },
            None => Ident {
                name: id,
                raw: false,
            },
        })
    };
    Some(match meta {
        Meta::Path(path) => match ident(path)? {
            id if id == "true" => CfgExpr::True,
            id if id == "false" => CfgExpr::False,
            id => CfgExpr::Value(Cfg::Name(id)),
        },
        Meta::NameValue(nv) => CfgExpr::Value(Cfg::KeyPair(ident(&nv.path)?, str_lit(&nv.value)?)),
        Meta::List(list) => {
            let args = list
                .parse_args_with(Punctuated::<Meta, Token![,]>::parse_terminated)
                .ok()?;
            let args: Option<Vec<CfgExpr>> = args.iter().map(expr).collect();
            let mut args = args?;
            match ident(&list.path)?.as_str() {
                "all" => CfgExpr::All(args),
                "any" => CfgExpr::Any(args),
                "not" if args.len() == 1 => CfgExpr::Not(Box::new(args.remove(0))),
                _ => return None,
            }
        }
    })
}

/// The host's cfg values as a cargo-fuzz build sees them: `rustc --print cfg`, plus `fuzzing`
/// and `debug_assertions`. Where rustc cannot be run, the values this generator was compiled
/// with for the target's family, OS, architecture, pointer width and endianness.
fn host_cfg() -> &'static [Cfg] {
    static HOST: OnceLock<Vec<Cfg>> = OnceLock::new();
    HOST.get_or_init(|| {
        let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
        let printed = std::process::Command::new(rustc)
            .args(["--print", "cfg"])
            .stderr(std::process::Stdio::null())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned());
        let mut cfgs: Vec<Cfg> = match printed {
            Some(text) => text.lines().filter_map(|l| l.parse().ok()).collect(),
            None => compiled_host(),
        };
        for flag in ["fuzzing", "debug_assertions"] {
            let cfg = Cfg::Name(Ident {
                name: flag.into(),
                raw: false,
            });
            if !cfgs.contains(&cfg) {
                cfgs.push(cfg);
            }
        }
        cfgs
    })
}

/// The main cfg values of the platform this generator was compiled for, when rustc is not there
/// to say.
fn compiled_host() -> Vec<Cfg> {
    let name = |n: &str| Ident {
        name: n.into(),
        raw: false,
    };
    let mut cfgs = vec![
        Cfg::Name(name(std::env::consts::FAMILY)),
        Cfg::KeyPair(name("target_family"), std::env::consts::FAMILY.into()),
        Cfg::KeyPair(name("target_os"), std::env::consts::OS.into()),
        Cfg::KeyPair(name("target_arch"), std::env::consts::ARCH.into()),
        Cfg::KeyPair(name("target_pointer_width"), usize::BITS.to_string()),
        Cfg::KeyPair(name("panic"), "unwind".into()),
    ];
    let endian = if cfg!(target_endian = "little") {
        "little"
    } else {
        "big"
    };
    cfgs.push(Cfg::KeyPair(name("target_endian"), endian.into()));
    cfgs
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
        assert!(!env.eval(&meta("not(unix, windows)")), "not cfg syntax");
    }

    #[test]
    fn host_values_come_from_rustc() {
        let env = CfgEnv::default();
        assert_eq!(
            env.eval(&meta(r#"target_arch = "x86_64""#)),
            cfg!(target_arch = "x86_64")
        );
        assert_eq!(
            env.eval(&meta(r#"target_pointer_width = "64""#)),
            cfg!(target_pointer_width = "64")
        );
        assert_eq!(
            env.eval(&meta(r#"target_env = "gnu""#)),
            cfg!(target_env = "gnu")
        );
        assert!(env.eval(&meta(r#"any(target_has_atomic = "ptr", windows)"#)));
        assert!(env.eval(&meta(r#"panic = "unwind""#)));
        assert!(!env.eval(&meta("doc")));
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
