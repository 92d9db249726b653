//! Example inputs and dictionary tokens mined from a crate's own code, for format and parse
//! targets:
//!
//! - **seeds**: the literal arguments of calls to an entry point (`from_str(r#"..."#)`,
//!   `parse(b"...")`, `parse(&[0x01, 0x02])`, `"1.2".parse()`) and the literals bound by `let` in
//!   the same function, found in `tests/`, `examples/` and `benches/`, in the crate's sources
//!   (unit tests) and in the code blocks of their doc comments;
//! - **tokens**: what the crate's lexer compares input against: byte and char literals that are
//!   punctuation (`b'['`, `'&'`), short string literals without spaces (`"true"`, `"!!binary"`),
//!   and byte-sized integer literals in match patterns (`0x80..=0x9f`, the major-type bytes of
//!   binary formats);
//! - **nesting seeds**: for every bracket pair the lexer knows, an input nested 32 deep, so that
//!   depth-related coverage has somewhere to start.
//!
//! This is a textual approximation (no type information): a seed may belong to another function
//! of the same name, which costs nothing but a wasted corpus entry.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use syn::visit::Visit;

/// Most seeds kept per function name; most tokens kept per crate.
const MAX_SEEDS: usize = 48;
const MAX_TOKENS: usize = 160;
/// Largest seed kept, in bytes.
const MAX_SEED_LEN: usize = 32 * 1024;
/// Largest test or example file read.
const MAX_FILE_LEN: u64 = 512 * 1024;

/// What was mined.
#[derive(Debug, Clone, Default)]
pub struct Mined {
    /// Example inputs by the called function's name (`from_str`, `parse`).
    pub seeds: BTreeMap<String, Vec<Vec<u8>>>,
    /// Dictionary tokens.
    pub tokens: BTreeSet<Vec<u8>>,
    /// Deeply nested inputs built from the bracket pairs the lexer uses.
    pub nested: Vec<Vec<u8>>,
}

impl Mined {
    /// The opening brackets of the lexer's bracket pairs (those [`Mined::nested`] nests).
    pub fn brackets(&self) -> Vec<u8> {
        self.nested
            .iter()
            .filter_map(|n| n.first().copied())
            .collect()
    }

    /// The seeds for calls named any of `names`, text-only when `text`.
    pub fn seeds_for(&self, names: &[&str], text: bool) -> Vec<Vec<u8>> {
        let mut out: Vec<Vec<u8>> = Vec::new();
        for n in names {
            for s in self.seeds.get(*n).into_iter().flatten() {
                if (!text || std::str::from_utf8(s).is_ok())
                    && !out.contains(s)
                    && out.len() < MAX_SEEDS
                {
                    out.push(s.clone());
                }
            }
        }
        out
    }
}

/// Mines `crate_dir` (tests, examples, benches) and the crate's source files `sources` (doc
/// comments and lexer literals) for the functions named in `names`.
pub(crate) fn mine(crate_dir: &Path, sources: &[PathBuf], names: &BTreeSet<String>) -> Mined {
    let mut mined = Mined::default();
    let mut calls = Calls {
        names,
        seeds: &mut mined.seeds,
    };
    let mut files = Vec::new();
    for sub in ["tests", "examples", "benches"] {
        collect_rs(&crate_dir.join(sub), &mut files, 0);
    }
    for f in &files {
        if let Some(parsed) = read_small(f).and_then(|t| syn::parse_file(&t).ok()) {
            calls.visit_file(&parsed);
        }
    }
    let mut lexer = Lexer::default();
    for f in sources {
        let Some(text) = read_small(f) else { continue };
        for block in doc_code_blocks(&text) {
            if let Ok(stmts) = syn::parse_str::<syn::Block>(&format!("{{\n{block}\n}}")) {
                calls.visit_block(&stmts);
            }
        }
        if let Ok(parsed) = syn::parse_file(&text) {
            lexer.visit_file(&parsed);
            // Unit tests inside the sources call the entry points too.
            calls.visit_file(&parsed);
        }
    }
    mined.tokens = lexer.tokens.into_iter().take(MAX_TOKENS).collect();
    for (open, close) in [(b'[', b']'), (b'{', b'}'), (b'(', b')'), (b'<', b'>')] {
        if mined.tokens.contains(&vec![open]) && mined.tokens.contains(&vec![close]) {
            let mut s = vec![open; 32];
            s.extend(std::iter::repeat_n(close, 32));
            mined.nested.push(s);
        }
    }
    mined
}

fn read_small(p: &Path) -> Option<String> {
    let meta = std::fs::metadata(p).ok()?;
    if meta.len() > MAX_FILE_LEN {
        return None;
    }
    std::fs::read_to_string(p).ok()
}

fn collect_rs(dir: &Path, out: &mut Vec<PathBuf>, depth: usize) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() && depth < 3 {
            collect_rs(&p, out, depth + 1);
        } else if p.extension().is_some_and(|e| e == "rs") && out.len() < 400 {
            out.push(p);
        }
    }
}

/// The Rust code blocks of a file's `///` and `//!` comments, hidden `# ` lines included.
fn doc_code_blocks(text: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<(String, bool)> = None;
    for line in text.lines() {
        let t = line.trim_start();
        let Some(doc) = t.strip_prefix("///").or_else(|| t.strip_prefix("//!")) else {
            if let Some((b, true)) = current.take() {
                blocks.push(b);
            }
            continue;
        };
        let doc = doc.strip_prefix(' ').unwrap_or(doc);
        if let Some(info) = doc.trim_start().strip_prefix("```") {
            match current.take() {
                Some((b, rust)) => {
                    if rust {
                        blocks.push(b);
                    }
                }
                None => {
                    let info = info.trim();
                    let rust = info.is_empty()
                        || info.split(',').all(|w| {
                            matches!(
                                w.trim(),
                                "rust"
                                    | "no_run"
                                    | "should_panic"
                                    | "ignore"
                                    | "edition2018"
                                    | "edition2021"
                            )
                        });
                    current = Some((String::new(), rust));
                }
            }
            continue;
        }
        if let Some((b, _)) = current.as_mut() {
            let code = doc
                .strip_prefix("# ")
                .unwrap_or(if doc == "#" { "" } else { doc });
            b.push_str(code);
            b.push('\n');
        }
    }
    blocks
}

/// The bytes a literal expression stands for: a string, byte string, `&[..]`/`[..]` of integer
/// literals, or `vec![..]` is not followed (macros are opaque here).
fn literal_bytes(e: &syn::Expr) -> Option<Vec<u8>> {
    match e {
        syn::Expr::Lit(l) => match &l.lit {
            syn::Lit::Str(s) => Some(s.value().into_bytes()),
            syn::Lit::ByteStr(b) => Some(b.value()),
            _ => None,
        },
        syn::Expr::Reference(r) => literal_bytes(&r.expr),
        syn::Expr::Paren(p) => literal_bytes(&p.expr),
        syn::Expr::MethodCall(m)
            if matches!(
                m.method.to_string().as_str(),
                "as_bytes" | "to_string" | "to_owned" | "as_ref" | "into"
            ) =>
        {
            literal_bytes(&m.receiver)
        }
        syn::Expr::Array(a) => a
            .elems
            .iter()
            .map(|x| match x {
                syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Int(i),
                    ..
                }) => i.base10_parse::<u8>().ok(),
                syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Byte(b),
                    ..
                }) => Some(b.value()),
                _ => None,
            })
            .collect(),
        _ => None,
    }
}

struct Calls<'a> {
    names: &'a BTreeSet<String>,
    seeds: &'a mut BTreeMap<String, Vec<Vec<u8>>>,
}

impl Calls<'_> {
    fn add(&mut self, name: &str, bytes: Vec<u8>) {
        if bytes.is_empty() || bytes.len() > MAX_SEED_LEN {
            return;
        }
        let v = self.seeds.entry(name.to_string()).or_default();
        if v.len() < MAX_SEEDS && !v.contains(&bytes) {
            v.push(bytes);
        }
    }

    /// A function body: the calls in it, and its `let`-bound literals when it calls an entry.
    fn body(&mut self, block: &syn::Block) {
        struct Scan<'n> {
            names: &'n BTreeSet<String>,
            hits: Vec<(String, Vec<u8>)>,
            called: BTreeSet<String>,
            lets: Vec<Vec<u8>>,
        }
        impl<'ast> Visit<'ast> for Scan<'_> {
            fn visit_expr_call(&mut self, c: &'ast syn::ExprCall) {
                if let syn::Expr::Path(p) = &*c.func {
                    if let Some(last) = p.path.segments.last().map(|s| s.ident.to_string()) {
                        if self.names.contains(&last) {
                            self.called.insert(last.clone());
                            for a in &c.args {
                                if let Some(b) = literal_bytes(a) {
                                    self.hits.push((last.clone(), b));
                                }
                            }
                        }
                    }
                }
                syn::visit::visit_expr_call(self, c);
            }
            fn visit_expr_method_call(&mut self, c: &'ast syn::ExprMethodCall) {
                let name = c.method.to_string();
                if self.names.contains(&name) {
                    self.called.insert(name.clone());
                    // `"1.2.3".parse()`: the receiver is the input.
                    if name == "parse" {
                        if let Some(b) = literal_bytes(&c.receiver) {
                            self.hits.push((name.clone(), b));
                        }
                    }
                    for a in &c.args {
                        if let Some(b) = literal_bytes(a) {
                            self.hits.push((name.clone(), b));
                        }
                    }
                }
                syn::visit::visit_expr_method_call(self, c);
            }
            fn visit_local(&mut self, l: &'ast syn::Local) {
                if let Some(init) = &l.init {
                    if let Some(b) = literal_bytes(&init.expr) {
                        self.lets.push(b);
                    }
                }
                syn::visit::visit_local(self, l);
            }
            fn visit_macro(&mut self, mac: &'ast syn::Macro) {
                // `assert!(from_str("..").is_ok())` and friends: look inside.
                if let Ok(args) = mac.parse_body_with(
                    syn::punctuated::Punctuated::<syn::Expr, syn::Token![,]>::parse_terminated,
                ) {
                    for a in &args {
                        self.visit_expr(a);
                    }
                }
            }
        }
        let mut scan = Scan {
            names: self.names,
            hits: Vec::new(),
            called: BTreeSet::new(),
            lets: Vec::new(),
        };
        scan.visit_block(block);
        for (n, b) in scan.hits {
            self.add(&n, b);
        }
        for n in &scan.called {
            for b in &scan.lets {
                self.add(n, b.clone());
            }
        }
    }
}

impl<'ast> Visit<'ast> for Calls<'_> {
    fn visit_item_fn(&mut self, f: &'ast syn::ItemFn) {
        self.body(&f.block);
    }
    fn visit_impl_item_fn(&mut self, f: &'ast syn::ImplItemFn) {
        self.body(&f.block);
    }
    fn visit_block(&mut self, b: &'ast syn::Block) {
        // A doc-test block: statements and nested `fn main`.
        self.body(b);
        for s in &b.stmts {
            if let syn::Stmt::Item(syn::Item::Fn(f)) = s {
                self.body(&f.block);
            }
        }
    }
}

#[derive(Default)]
struct Lexer {
    tokens: BTreeSet<Vec<u8>>,
}

impl<'ast> Visit<'ast> for Lexer {
    fn visit_lit(&mut self, l: &'ast syn::Lit) {
        match l {
            syn::Lit::Byte(b) if b.value().is_ascii_punctuation() => {
                self.tokens.insert(vec![b.value()]);
            }
            syn::Lit::Char(c) if c.value().is_ascii_punctuation() => {
                self.tokens.insert(vec![c.value() as u8]);
            }
            syn::Lit::Str(s) => {
                let v = s.value();
                if (1..=16).contains(&v.len())
                    && !v.contains(char::is_whitespace)
                    && !v.contains('{')
                {
                    self.tokens.insert(v.into_bytes());
                }
            }
            syn::Lit::ByteStr(s) => {
                let v = s.value();
                if (1..=16).contains(&v.len()) {
                    self.tokens.insert(v);
                }
            }
            _ => {}
        }
    }
    fn visit_pat(&mut self, p: &'ast syn::Pat) {
        // Byte-valued integer patterns: `0x80 => ..`, `0xa0..=0xbf => ..`.
        let mut ints = Vec::new();
        match p {
            syn::Pat::Lit(syn::ExprLit {
                lit: syn::Lit::Int(i),
                ..
            }) => ints.push(i),
            syn::Pat::Range(r) => {
                for e in [&r.start, &r.end].into_iter().flatten() {
                    if let syn::Expr::Lit(syn::ExprLit {
                        lit: syn::Lit::Int(i),
                        ..
                    }) = &**e
                    {
                        ints.push(i);
                    }
                }
            }
            _ => {}
        }
        for i in ints {
            if i.to_string().starts_with("0x") {
                if let Ok(b) = i.base10_parse::<u8>() {
                    self.tokens.insert(vec![b]);
                }
            }
        }
        syn::visit::visit_pat(self, p);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doc_blocks_and_calls() {
        let src = "//! ```\n//! let v = demo::from_str(\"[1 2]\").unwrap();\n//! # let w = demo::parse(&[1, 2, 3]);\n//! ```\n//! ```text\n//! not code\n//! ```\nfn f() { match b { b'[' => {}, 0x9f => {}, _ => {} } }\n";
        let dir = tempfile::tempdir().expect("tempdir");
        let lib = dir.path().join("lib.rs");
        std::fs::write(&lib, src).expect("write");
        let names: BTreeSet<String> = ["from_str", "parse"].map(String::from).into();
        let m = mine(dir.path(), &[lib], &names);
        assert_eq!(m.seeds["from_str"], vec![b"[1 2]".to_vec()]);
        assert_eq!(m.seeds["parse"], vec![vec![1, 2, 3]]);
        assert!(m.tokens.contains(b"[".as_slice()));
        assert!(m.tokens.contains(&vec![0x9f]));
    }
}
