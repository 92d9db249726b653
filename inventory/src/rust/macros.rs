//! Macros and attributes of the syn walk: `env!`/`include_bytes!`, bodies of other macros
//! (parsed as expressions or items where possible, otherwise scanned for literals), and the
//! attributes that make test code, static constructors and foreign links.

use proc_macro2::{TokenStream, TokenTree};
use quote::ToTokens;
use syn::spanned::Spanned;
use syn::visit::Visit;
use syn::{Expr, Lit};

use super::visit::{line_of, FileVisitor};
use crate::binary;
use crate::code::SignalCode;
use crate::model::{CapabilityKind, Level, Signal};
use crate::text::{self, StrContext};

/// Link sections whose functions run at load time.
const CTOR_SECTIONS: &[&str] = &[
    ".init_array",
    ".ctors",
    ".CRT$XC",
    "__DATA,__mod_init_func",
    ".preinit_array",
];

/// Whether a token stream has `$` at its top level (a macro_rules pattern or transcriber).
pub(super) fn has_dollar(tokens: &TokenStream) -> bool {
    tokens
        .clone()
        .into_iter()
        .any(|t| matches!(t, TokenTree::Punct(p) if p.as_char() == '$'))
}

impl FileVisitor<'_> {
    /// `include_bytes!` of a file that is not text or an image.
    fn include_bytes(&mut self, lit: &syn::LitStr) {
        let line = line_of(lit.span());
        let rel = lit.value();
        let dir = self.file.abs.parent().unwrap_or(self.root);
        let target = dir.join(&rel);
        let Ok(canon) = target.canonicalize() else {
            return;
        };
        let inside = self.root.canonicalize().is_ok_and(|r| canon.starts_with(r));
        let mut head = Vec::new();
        if let Ok(f) = std::fs::File::open(&canon) {
            use std::io::Read;
            let _ = f.take(4096).read_to_end(&mut head);
        }
        let ext = rel.rsplit('.').next().unwrap_or("").to_ascii_lowercase();
        let kind = binary::classify(&head, &ext);
        let (level, why) = match kind {
            _ if !inside => (Level::Warn, "a file outside the package".to_owned()),
            None => return,
            Some(k) if k.is_code() => (
                Level::Warn,
                format!("{}: machine code embedded in the crate", k.describe()),
            ),
            Some(k) => (
                Level::Info,
                format!("{} (not text or an image)", k.describe()),
            ),
        };
        self.out.signal(Signal {
            code: SignalCode::IncludeBinary,
            level,
            path: self.file.rel.clone(),
            line,
            text: format!("include_bytes!(\"{rel}\")"),
            reason: format!("embeds `{rel}`, {why}"),
        });
    }

    /// Walks a macro invocation.
    pub(super) fn macro_body(&mut self, mac: &syn::Macro) {
        let name = mac
            .path
            .segments
            .last()
            .map(|s| s.ident.to_string())
            .unwrap_or_default();
        let line = line_of(mac.path.span());
        match name.as_str() {
            "env" | "option_env" => {
                self.env_read = true;
                if let Ok(lit) = mac.parse_body_with(|p: syn::parse::ParseStream| {
                    let l: syn::LitStr = p.parse()?;
                    let _: TokenStream = p.parse()?;
                    Ok(l)
                }) {
                    let var = lit.value();
                    self.cap(
                        CapabilityKind::Env,
                        line,
                        format!("{name}!(\"{var}\") (read at compile time)"),
                    );
                    self.out.detail(CapabilityKind::Env, &var);
                    let ctx = StrContext {
                        env_read: true,
                        ..self.ctx()
                    };
                    for f in text::analyze(&var, ctx) {
                        self.out.finding(f, &self.file.rel, line, None);
                    }
                }
                return;
            }
            "include_bytes" => {
                if let Ok(lit) = mac.parse_body::<syn::LitStr>() {
                    self.include_bytes(&lit);
                }
                return;
            }
            _ => {}
        }
        if name == "macro_rules" || has_dollar(&mac.tokens) {
            // A macro definition (or a body with `$` metavariables) never parses: literals only.
            self.tokens(mac.tokens.clone(), usize::MAX / 2);
        } else if let Ok(args) = mac
            .parse_body_with(syn::punctuated::Punctuated::<Expr, syn::Token![,]>::parse_terminated)
        {
            for a in &args {
                self.visit_expr(a);
            }
        } else {
            self.tokens(mac.tokens.clone(), 0);
        }
    }

    /// Literals of a token stream that is not parsed as expressions (macro_rules bodies,
    /// `quote!`, custom macros).
    fn tokens(&mut self, tokens: TokenStream, depth: usize) {
        // Item-wrapping macros (`cfg_if!`, `feature!`) hold items in their outer groups: those
        // are parsed and walked as items, so their paths count too.
        if depth <= 1 && !has_dollar(&tokens) {
            if let Ok(items) = syn::parse2::<syn::File>(tokens.clone()) {
                if !items.items.is_empty() {
                    self.visit_file(&items);
                    return;
                }
            }
        }
        let mut prev_pound = false;
        for tt in tokens {
            let pound = matches!(&tt, TokenTree::Punct(p) if p.as_char() == '#');
            match tt {
                TokenTree::Group(g) => {
                    // `#[doc = ".."]`: documentation, not code.
                    let doc = prev_pound
                        && matches!(g.stream().into_iter().next(), Some(TokenTree::Ident(i)) if i == "doc");
                    if !doc {
                        self.tokens(g.stream(), depth.saturating_add(1));
                    }
                }
                TokenTree::Literal(l) => {
                    let line = l.span().start().line;
                    if let Ok(Lit::Str(s)) = syn::parse2::<Lit>(TokenTree::Literal(l).into()) {
                        let value = s.value();
                        if CTOR_SECTIONS.iter().any(|c| value.starts_with(c)) {
                            self.out.signal(Signal {
                                code: SignalCode::StaticConstructor,
                                level: Level::Info,
                                path: self.file.rel.clone(),
                                line,
                                text: value.clone(),
                                reason: format!("macro body names the load-time section `{value}` (a constructor generated for the macro's users)"),
                            });
                        }
                        self.string(&value, line, self.ctx(), None);
                    }
                }
                _ => {}
            }
            prev_pound = pound;
        }
    }

    /// Signals and capabilities of attributes; whether they make the item test code.
    pub(super) fn attributes(&mut self, attrs: &[syn::Attribute]) -> bool {
        let mut test = false;
        for attr in attrs {
            let path = attr.path();
            let Some(last) = path.segments.last().map(|s| s.ident.to_string()) else {
                continue;
            };
            match last.as_str() {
                "doc" => {}
                "test" | "bench" => test = true,
                "cfg" => {
                    let t = attr.meta.to_token_stream().to_string();
                    if t.contains("test") && !t.contains("not (test") && !t.contains("not(test") {
                        test = true;
                    }
                }
                "ctor" | "dtor" => {
                    let line = line_of(attr.span());
                    self.out.signal(Signal {
                        code: SignalCode::StaticConstructor,
                        level: Level::Warn,
                        path: self.file.rel.clone(),
                        line,
                        text: format!("#[{last}]"),
                        reason: format!(
                            "`#[{last}]` runs this function when the binary is loaded, before main"
                        ),
                    });
                }
                "link_section" | "unsafe" => {
                    let t = attr.meta.to_token_stream().to_string();
                    if let Some(sec) = CTOR_SECTIONS.iter().find(|c| t.contains(*c)) {
                        self.out.signal(Signal {
                            code: SignalCode::StaticConstructor,
                            level: Level::Warn,
                            path: self.file.rel.clone(),
                            line: line_of(attr.span()),
                            text: text::shorten(&t),
                            reason: format!("`#[link_section = \"{sec}..\"]`: the loader calls this when the binary is loaded, before main"),
                        });
                    }
                }
                "link" => {
                    let t = attr.meta.to_token_stream().to_string();
                    self.cap(
                        CapabilityKind::Ffi,
                        line_of(attr.span()),
                        format!("#[{}]", text::shorten(&t)),
                    );
                }
                _ => {}
            }
        }
        test
    }
}
