//! Reading `#[serde(..)]` attributes: the keys discovery needs for dictionaries, seeds and the
//! round-trip decision (renames and `rename_all`, aliases, tags, `skip`, `flatten`, `default`,
//! `from`/`try_from`, ...), and serde's own case conversion rules.

use syn::{Attribute, Expr, Lit};

/// The value of one `serde` key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Val {
    /// A bare flag such as `untagged` or `skip`.
    Flag,
    /// `key = "text"`.
    Str(String),
    /// `key(serialize = "a", deserialize = "b")`, as `(side, text)` pairs.
    Sides(Vec<(String, String)>),
    /// Anything else (`default = some_path` written without quotes, ...).
    Other,
}

/// All `key`/value pairs of every `#[serde(..)]` attribute, in order. Malformed attributes are
/// ignored: serde itself would reject them, and the compile check reports that.
pub(crate) fn serde_kv(attrs: &[Attribute]) -> Vec<(String, Val)> {
    let mut out = Vec::new();
    for attr in attrs.iter().filter(|a| a.path().is_ident("serde")) {
        let _ = attr.parse_nested_meta(|meta| {
            let key = meta
                .path
                .get_ident()
                .map(ToString::to_string)
                .unwrap_or_default();
            if meta.input.peek(syn::Token![=]) {
                let expr: Expr = meta.value()?.parse()?;
                match expr {
                    Expr::Lit(syn::ExprLit {
                        lit: Lit::Str(s), ..
                    }) => out.push((key, Val::Str(s.value()))),
                    _ => out.push((key, Val::Other)),
                }
            } else if meta.input.peek(syn::token::Paren) {
                let mut sides = Vec::new();
                meta.parse_nested_meta(|inner| {
                    let side = inner
                        .path
                        .get_ident()
                        .map(ToString::to_string)
                        .unwrap_or_default();
                    if inner.input.peek(syn::Token![=]) {
                        let expr: Expr = inner.value()?.parse()?;
                        if let Expr::Lit(syn::ExprLit {
                            lit: Lit::Str(s), ..
                        }) = expr
                        {
                            sides.push((side, s.value()));
                        }
                    }
                    Ok(())
                })?;
                out.push((key, Val::Sides(sides)));
            } else {
                out.push((key, Val::Flag));
            }
            Ok(())
        });
    }
    out
}

/// The deserialize-side text of a key (`rename = "x"` or `rename(deserialize = "x")`).
pub(crate) fn de_str(kv: &[(String, Val)], key: &str) -> Option<String> {
    kv.iter().rev().find_map(|(k, v)| match v {
        Val::Str(s) if k == key => Some(s.clone()),
        Val::Sides(sides) if k == key => sides
            .iter()
            .find(|(side, _)| side == "deserialize")
            .map(|(_, s)| s.clone()),
        _ => None,
    })
}

/// Every value given to a key (for `alias`, which may repeat).
pub(crate) fn all_str(kv: &[(String, Val)], key: &str) -> Vec<String> {
    kv.iter()
        .filter_map(|(k, v)| match v {
            Val::Str(s) if k == key => Some(s.clone()),
            _ => None,
        })
        .collect()
}

/// Whether a key is present in any form.
pub(crate) fn has(kv: &[(String, Val)], key: &str) -> bool {
    kv.iter().any(|(k, _)| k == key)
}

/// serde's `rename_all` rules. Written out rather than taken from a case-conversion crate because
/// serde's rules differ from the common ones (`HTTPServer` in snake_case is `h_t_t_p_server`), and
/// dictionaries and seeds must match what serde derives exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RenameRule {
    /// `lowercase`
    Lower,
    /// `UPPERCASE`
    Upper,
    /// `PascalCase`
    Pascal,
    /// `camelCase`
    Camel,
    /// `snake_case`
    Snake,
    /// `SCREAMING_SNAKE_CASE`
    ScreamingSnake,
    /// `kebab-case`
    Kebab,
    /// `SCREAMING-KEBAB-CASE`
    ScreamingKebab,
}

impl RenameRule {
    /// Parses the name serde accepts.
    pub(crate) fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "lowercase" => RenameRule::Lower,
            "UPPERCASE" => RenameRule::Upper,
            "PascalCase" => RenameRule::Pascal,
            "camelCase" => RenameRule::Camel,
            "snake_case" => RenameRule::Snake,
            "SCREAMING_SNAKE_CASE" => RenameRule::ScreamingSnake,
            "kebab-case" => RenameRule::Kebab,
            "SCREAMING-KEBAB-CASE" => RenameRule::ScreamingKebab,
            _ => return None,
        })
    }

    /// Applies the rule to a variant name (written in PascalCase).
    pub(crate) fn variant(self, name: &str) -> String {
        match self {
            RenameRule::Pascal => name.to_string(),
            RenameRule::Lower => name.to_ascii_lowercase(),
            RenameRule::Upper => name.to_ascii_uppercase(),
            RenameRule::Camel => {
                let mut c = name.chars();
                c.next()
                    .map(|f| f.to_ascii_lowercase().to_string() + c.as_str())
                    .unwrap_or_default()
            }
            RenameRule::Snake => {
                let mut s = String::new();
                for (i, ch) in name.char_indices() {
                    if i > 0 && ch.is_uppercase() {
                        s.push('_');
                    }
                    s.push(ch.to_ascii_lowercase());
                }
                s
            }
            RenameRule::ScreamingSnake => RenameRule::Snake.variant(name).to_ascii_uppercase(),
            RenameRule::Kebab => RenameRule::Snake.variant(name).replace('_', "-"),
            RenameRule::ScreamingKebab => {
                RenameRule::ScreamingSnake.variant(name).replace('_', "-")
            }
        }
    }

    /// Applies the rule to a field name (written in snake_case).
    pub(crate) fn field(self, name: &str) -> String {
        match self {
            RenameRule::Lower | RenameRule::Snake => name.to_string(),
            RenameRule::Upper | RenameRule::ScreamingSnake => name.to_ascii_uppercase(),
            RenameRule::Pascal => {
                let mut s = String::new();
                let mut cap = true;
                for ch in name.chars() {
                    if ch == '_' {
                        cap = true;
                    } else if cap {
                        s.push(ch.to_ascii_uppercase());
                        cap = false;
                    } else {
                        s.push(ch);
                    }
                }
                s
            }
            RenameRule::Camel => {
                let p = RenameRule::Pascal.field(name);
                let mut c = p.chars();
                c.next()
                    .map(|f| f.to_ascii_lowercase().to_string() + c.as_str())
                    .unwrap_or_default()
            }
            RenameRule::Kebab => name.replace('_', "-"),
            RenameRule::ScreamingKebab => name.to_ascii_uppercase().replace('_', "-"),
        }
    }
}

/// The `rename_all` rule (deserialize side) among these keys.
pub(crate) fn rename_all(kv: &[(String, Val)], key: &str) -> Option<RenameRule> {
    de_str(kv, key).and_then(|s| RenameRule::parse(&s))
}

/// An identifier as serde names it (`r#type` is `type`).
pub(crate) fn ident_name(id: &syn::Ident) -> String {
    let s = id.to_string();
    s.strip_prefix("r#").map(str::to_string).unwrap_or(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rename_rules_match_serde() {
        assert_eq!(RenameRule::Snake.variant("HTTPServer"), "h_t_t_p_server");
        assert_eq!(RenameRule::Kebab.variant("VeryTasty"), "very-tasty");
        assert_eq!(RenameRule::Camel.field("very_tasty"), "veryTasty");
        assert_eq!(RenameRule::Pascal.field("very_tasty"), "VeryTasty");
        assert_eq!(RenameRule::ScreamingKebab.field("a_b"), "A-B");
    }

    #[test]
    fn reads_keys_in_all_forms() {
        let s: syn::ItemStruct = syn::parse_quote! {
            struct S {
                #[serde(rename(serialize = "s", deserialize = "d"), alias = "x", alias = "y", default, with = "m")]
                pub f: u8,
            }
        };
        let f = s.fields.iter().next().expect("one field");
        let kv = serde_kv(&f.attrs);
        assert_eq!(de_str(&kv, "rename").as_deref(), Some("d"));
        assert_eq!(all_str(&kv, "alias"), ["x", "y"]);
        assert!(has(&kv, "default"));
        assert_eq!(de_str(&kv, "with").as_deref(), Some("m"));
    }
}
