//! A small `macro_rules!` expander for item-level invocations, so that types and impls a crate
//! generates with its own macros (`serde_impl!(Bytes, ..)`, `crate_root!()`) are seen.
//!
//! It handles rules whose matchers are literal tokens and `$name:fragment` captures (`ident`,
//! `ty`, `path`, `expr`, `tt`, `literal`, `lifetime`, `vis`, `block`, `item`, `pat`, `meta`),
//! tried in order like rustc does. Rules with repetitions (`$(..)*`) are not expanded: the
//! invocation is left as it is, as before. Writing this by hand because no crate expands
//! `macro_rules!` outside the compiler; the subset covers the common "impl this for that" macros.

use std::collections::HashMap;

use proc_macro2::{Delimiter, Group, Ident, TokenStream, TokenTree};
use quote::ToTokens;
use syn::ext::IdentExt;
use syn::parse::{ParseStream, Parser};
use syn::Item;

/// One rule: matcher and transcriber.
#[derive(Debug, Clone)]
pub(crate) struct Rule {
    matcher: TokenStream,
    body: TokenStream,
}

impl Rule {
    /// Whether this expander can apply the rule: no repetition in its matcher.
    pub(crate) fn supported(&self) -> bool {
        fn has_repetition(ts: &TokenStream) -> bool {
            let toks: Vec<TokenTree> = ts.clone().into_iter().collect();
            toks.iter().enumerate().any(|(i, t)| match t {
                TokenTree::Punct(p) if p.as_char() == '$' => {
                    matches!(toks.get(i + 1), Some(TokenTree::Group(_)))
                }
                TokenTree::Group(g) => has_repetition(&g.stream()),
                _ => false,
            })
        }
        !has_repetition(&self.matcher)
    }
}

/// Reads the rules of a `macro_rules! name { .. }` item; `None` if it is not one or its rules do
/// not parse.
pub(crate) fn definition(item: &syn::ItemMacro) -> Option<(String, Vec<Rule>)> {
    if !item.mac.path.is_ident("macro_rules") {
        return None;
    }
    let name = item.ident.as_ref()?.to_string();
    let parser = |input: ParseStream<'_>| {
        let mut rules = Vec::new();
        while !input.is_empty() {
            let TokenTree::Group(matcher) = input.parse::<TokenTree>()? else {
                return Err(input.error("expected a matcher group"));
            };
            input.parse::<syn::Token![=>]>()?;
            let TokenTree::Group(body) = input.parse::<TokenTree>()? else {
                return Err(input.error("expected a transcriber group"));
            };
            if input.peek(syn::Token![;]) {
                input.parse::<syn::Token![;]>()?;
            }
            rules.push(Rule {
                matcher: matcher.stream(),
                body: body.stream(),
            });
        }
        Ok(rules)
    };
    parser
        .parse2(item.mac.tokens.clone())
        .ok()
        .map(|r| (name, r))
}

/// Expands an invocation with the first rule that matches; `None` when none does (or the
/// matching rule uses what this expander does not support), or the result is not items.
pub(crate) fn expand(rules: &[Rule], input: &TokenStream) -> Option<Vec<Item>> {
    for rule in rules {
        let mut caps = HashMap::new();
        let matched = (|stream: ParseStream<'_>| {
            match_stream(stream, &rule.matcher, &mut caps)?;
            if stream.is_empty() {
                Ok(())
            } else {
                Err(stream.error("unmatched tokens"))
            }
        })
        .parse2(input.clone());
        if matched.is_err() {
            continue;
        }
        let body = transcribe(&rule.body, &caps)?;
        let items = (|stream: ParseStream<'_>| {
            let mut v = Vec::new();
            while !stream.is_empty() {
                v.push(stream.parse::<Item>()?);
            }
            Ok(v)
        })
        .parse2(body);
        return items.ok();
    }
    None
}

fn match_stream(
    input: ParseStream<'_>,
    matcher: &TokenStream,
    caps: &mut HashMap<String, TokenStream>,
) -> syn::Result<()> {
    let toks: Vec<TokenTree> = matcher.clone().into_iter().collect();
    let mut i = 0;
    while i < toks.len() {
        match &toks[i] {
            TokenTree::Punct(p) if p.as_char() == '$' => {
                let (
                    Some(TokenTree::Ident(name)),
                    Some(TokenTree::Punct(colon)),
                    Some(TokenTree::Ident(frag)),
                ) = (toks.get(i + 1), toks.get(i + 2), toks.get(i + 3))
                else {
                    return Err(input.error("unsupported matcher (repetition)"));
                };
                if colon.as_char() != ':' {
                    return Err(input.error("unsupported matcher"));
                }
                let captured = fragment(input, &frag.to_string())?;
                caps.insert(name.to_string(), captured);
                i += 4;
            }
            TokenTree::Group(g) => {
                let content;
                match g.delimiter() {
                    Delimiter::Parenthesis => {
                        syn::parenthesized!(content in input);
                    }
                    Delimiter::Brace => {
                        syn::braced!(content in input);
                    }
                    Delimiter::Bracket => {
                        syn::bracketed!(content in input);
                    }
                    Delimiter::None => return Err(input.error("invisible group")),
                }
                match_stream(&content, &g.stream(), caps)?;
                if !content.is_empty() {
                    return Err(content.error("unmatched tokens"));
                }
                i += 1;
            }
            expected => {
                let got: TokenTree = input.parse()?;
                if got.to_string() != expected.to_string() {
                    return Err(syn::Error::new(got.span(), "token mismatch"));
                }
                i += 1;
            }
        }
    }
    Ok(())
}

fn fragment(input: ParseStream<'_>, kind: &str) -> syn::Result<TokenStream> {
    Ok(match kind {
        "ident" => Ident::parse_any(input)?.into_token_stream(),
        "ty" => input.parse::<syn::Type>()?.into_token_stream(),
        "path" => input.parse::<syn::Path>()?.into_token_stream(),
        "expr" => input.parse::<syn::Expr>()?.into_token_stream(),
        "tt" => input.parse::<TokenTree>()?.into_token_stream(),
        "literal" => input.parse::<syn::Lit>()?.into_token_stream(),
        "lifetime" => input.parse::<syn::Lifetime>()?.into_token_stream(),
        "vis" => input.parse::<syn::Visibility>()?.into_token_stream(),
        "block" => input.parse::<syn::Block>()?.into_token_stream(),
        "item" => input.parse::<Item>()?.into_token_stream(),
        "pat" => syn::Pat::parse_single(input)?.into_token_stream(),
        "meta" => input.parse::<syn::Meta>()?.into_token_stream(),
        _ => return Err(input.error("unsupported fragment")),
    })
}

/// Substitutes captures into a transcriber; `None` for repetitions or unknown variables.
fn transcribe(body: &TokenStream, caps: &HashMap<String, TokenStream>) -> Option<TokenStream> {
    let mut out = TokenStream::new();
    let mut iter = body.clone().into_iter().peekable();
    while let Some(tt) = iter.next() {
        match tt {
            TokenTree::Punct(p) if p.as_char() == '$' => match iter.next()? {
                TokenTree::Ident(name) if name == "crate" => {
                    out.extend([TokenTree::Ident(Ident::new("crate", name.span()))]);
                }
                TokenTree::Ident(name) => match caps.get(&name.to_string()) {
                    Some(captured) => out.extend(captured.clone()),
                    // Not ours: a nested `macro_rules!` in the body keeps its own `$x`.
                    None => out.extend([TokenTree::Punct(p), TokenTree::Ident(name)]),
                },
                // A repetition over our captures is not supported; one that mentions none of
                // them belongs to a nested macro and is kept as written.
                TokenTree::Group(g) if !mentions_any(&g.stream(), caps) => {
                    out.extend([TokenTree::Punct(p), TokenTree::Group(g)]);
                }
                _ => return None,
            },
            TokenTree::Group(g) => {
                let mut ng = Group::new(g.delimiter(), transcribe(&g.stream(), caps)?);
                ng.set_span(g.span());
                out.extend([TokenTree::Group(ng)]);
            }
            other => out.extend([other]),
        }
    }
    Some(out)
}

/// Whether a token stream uses `$name` for one of the captures.
fn mentions_any(stream: &TokenStream, caps: &HashMap<String, TokenStream>) -> bool {
    let toks: Vec<TokenTree> = stream.clone().into_iter().collect();
    toks.iter().enumerate().any(|(i, t)| match t {
        TokenTree::Punct(p) if p.as_char() == '$' => {
            matches!(toks.get(i + 1), Some(TokenTree::Ident(n)) if caps.contains_key(&n.to_string()))
        }
        TokenTree::Group(g) => mentions_any(&g.stream(), caps),
        _ => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(src: &str) -> Vec<Rule> {
        let item: syn::ItemMacro = syn::parse_str(src).expect("macro parses");
        definition(&item).expect("is macro_rules").1
    }

    #[test]
    fn expands_captures_and_crate() {
        let r = rules(
            "macro_rules! de_impl { ($ty:ident, $v:ident) => { impl<'de> serde::Deserialize<'de> for $ty { fn f() { $crate::x($v) } } }; }",
        );
        let items = expand(&r, &quote::quote!(Bytes, BytesVisitor)).expect("expands");
        let text = items[0].to_token_stream().to_string();
        assert!(text.contains("for Bytes"), "{text}");
        assert!(text.contains("crate :: x (BytesVisitor)"), "{text}");
    }

    #[test]
    fn tries_rules_in_order_and_gives_up_on_repetitions() {
        let r = rules("macro_rules! m { (one $t:ty) => { pub struct One(pub $t); }; (two) => { pub struct Two; }; }");
        let two = expand(&r, &quote::quote!(two)).expect("second rule");
        assert_eq!(two[0].to_token_stream().to_string(), "pub struct Two ;");
        let one = expand(&r, &quote::quote!(one Vec<u8>)).expect("first rule");
        assert!(one[0].to_token_stream().to_string().contains("Vec < u8 >"));
        let rep = rules("macro_rules! r { ($($t:ident),*) => { $(pub struct $t;)* }; }");
        assert!(expand(&rep, &quote::quote!(A, B)).is_none());
    }
}
