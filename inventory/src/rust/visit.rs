//! The syn walk over one parsed file: capabilities from paths, `use` trees, `unsafe`, `extern`
//! blocks and attributes; string literals, constant-evaluated expressions and macro bodies run
//! through the string analysis, with the context (test code, handed to a process, read as an
//! environment variable) that decides levels.

use std::collections::HashMap;
use std::path::Path;

use syn::spanned::Spanned;
use syn::visit::{self, Visit};
use syn::Expr;

use super::consteval::{self, Ev, Scope, Val};
use super::paths::{self, flatten_use, EXEC_CALLS, LIBC_NET, NET_CRATES, SOCKET_ITEMS};
use crate::code::SignalCode;
use crate::collect::Collector;
use crate::files::File;
use crate::model::{CapabilityKind, Level, Signal};
use crate::text::{self, StrContext};

/// Scans a parsed file.
pub(crate) fn scan(root: &Path, file: &File, text: &str, ast: &syn::File, out: &mut Collector) {
    let consts = consteval::file_consts(ast);
    let mut imports = paths::Imports::default();
    imports.visit_file(ast);
    // `Command` is std's (or tokio's) when the file imports it from a `process` module.
    let command_imported = imports.process_command || text.contains("process::*");
    let mut v = FileVisitor {
        root,
        file,
        out,
        consts,
        locals: Vec::new(),
        test_depth: usize::from(file.test),
        composite: 0,
        command_imported,
        process_seen: false,
        env_read: false,
        env_candidates: Vec::new(),
        net_seen: false,
        bare_ips: Vec::new(),
    };
    v.visit_file(ast);
    for (line, mut f) in std::mem::take(&mut v.bare_ips) {
        if v.net_seen || v.process_seen {
            f.level = Level::Warn;
            f.reason
                .push_str(", in a file that uses the network or starts programs");
        }
        v.out.finding(f, &file.rel, line, None);
    }
    if v.env_read {
        for (line, name) in std::mem::take(&mut v.env_candidates) {
            let Some((level, what)) = text::secret_env_name(&name) else {
                continue;
            };
            // A name in a file that reads variables is information (a config crate lists
            // `CARGO_REGISTRY_TOKEN`); a fragment (`_TOKEN`, `AWS_`) is a pattern matched over
            // every variable, which is how thieves collect them.
            let fragment = name.starts_with('_') || name == "AWS_";
            let level = if fragment { level } else { Level::Info };
            v.out.signal(Signal {
                code: SignalCode::SecretEnv,
                level,
                path: file.rel.clone(),
                line,
                text: name.clone(),
                reason: if fragment {
                    format!("`{name}` matches the names of variables that hold {what}, in a file that reads environment variables")
                } else {
                    format!("`{name}` names a variable that holds {what}, in a file that reads environment variables")
                },
            });
        }
    }
}

pub(super) struct FileVisitor<'a> {
    pub(super) root: &'a Path,
    pub(super) file: &'a File,
    pub(super) out: &'a mut Collector,
    pub(super) consts: HashMap<String, Ev>,
    pub(super) locals: Vec<HashMap<String, Ev>>,
    /// Inside test code (a test file, `#[cfg(test)]` or `#[test]`) when non-zero.
    pub(super) test_depth: usize,
    /// Inside an expression already evaluated as assembled when non-zero.
    pub(super) composite: usize,
    pub(super) command_imported: bool,
    /// A process capability was recorded in this file (so `.arg(..)` feeds a program).
    pub(super) process_seen: bool,
    pub(super) env_read: bool,
    pub(super) env_candidates: Vec<(usize, String)>,
    /// A net capability was recorded in this file.
    pub(super) net_seen: bool,
    /// Public IPv4 addresses without a port, raised to warn when the file uses the network.
    pub(super) bare_ips: Vec<(usize, text::Finding)>,
}

/// The 1-based line where `span` starts.
pub(super) fn line_of(span: proc_macro2::Span) -> usize {
    span.start().line
}

impl FileVisitor<'_> {
    pub(super) fn ctx(&self) -> StrContext {
        StrContext {
            test: self.test_depth > 0,
            process: false,
            env_read: false,
        }
    }

    fn scope(&self) -> Scope<'_> {
        Scope {
            consts: &self.consts,
            locals: &self.locals,
        }
    }

    pub(super) fn cap(&mut self, kind: CapabilityKind, line: usize, text: impl Into<String>) {
        self.process_seen |= kind == CapabilityKind::Process;
        self.net_seen |= kind == CapabilityKind::Net;
        self.out.capability(kind, &self.file.rel, line, text);
    }

    fn classify(&self, segs: &[String]) -> Option<(CapabilityKind, Option<String>)> {
        paths::classify(segs, self.command_imported)
    }

    /// Runs the string analysis over `s` at `line`.
    pub(super) fn string(&mut self, s: &str, line: usize, ctx: StrContext, how: Option<&str>) {
        for f in text::analyze(s, ctx) {
            if f.reason.starts_with(text::BARE_IP) {
                self.bare_ips.push((line, f));
            } else {
                self.out.finding(f, &self.file.rel, line, how);
            }
        }
        if let Some((decoded, enc)) = text::decode(s) {
            let hidden = text::worth_hiding(&decoded, ctx);
            if !hidden.is_empty() {
                let from = how.map_or(String::new(), |h| format!(" (assembled from {h})"));
                let (level, top) = text::encoded_level(&hidden, ctx.test);
                self.out.signal(Signal {
                    code: SignalCode::EncodedString,
                    level,
                    path: self.file.rel.clone(),
                    line,
                    text: text::shorten(&decoded),
                    reason: format!("{enc} string{from} decodes to: {}", top.reason),
                });
                for f in hidden {
                    if f.level > Level::Info {
                        self.out.finding(
                            f,
                            &self.file.rel,
                            line,
                            Some(&format!("decoded from {enc}")),
                        );
                    }
                }
            }
        }
        if text::secret_env_name(s).is_some() {
            self.env_candidates.push((line, s.to_owned()));
        }
    }

    /// An assembled value (several fragments joined): analysed as a whole, and raised as an
    /// encoded string when the whole says what no fragment says alone.
    fn assembled(&mut self, ev: &Ev, line: usize, ctx: StrContext) {
        let Some(s) = ev.as_str() else {
            return;
        };
        let how = format!("{} fragments joined by {}", ev.frags, ev.how);
        let found = text::analyze(s, ctx);
        let serious = found.iter().any(|f| f.level > Level::Info);
        if serious && ev.how != "`format!` of literals" {
            self.out.signal(Signal {
                code: SignalCode::EncodedString,
                level: if ctx.test { Level::Info } else { Level::Warn },
                path: self.file.rel.clone(),
                line,
                text: text::shorten(s),
                reason: format!(
                    "{how} form: {}",
                    found
                        .iter()
                        .find(|f| f.level > Level::Info)
                        .map_or("", |f| f.reason.as_str())
                ),
            });
        }
        self.string(s, line, ctx, Some(&how));
    }

    /// Arguments handed to a process: each value analysed with `process` set.
    fn process_args<'e>(&mut self, args: impl Iterator<Item = &'e Expr>, line: usize) {
        let mut ctx = self.ctx();
        ctx.process = true;
        for a in args {
            let Some(ev) = self.scope().eval(a) else {
                continue;
            };
            let values = match ev.val {
                Val::Str(s) => vec![s],
                Val::List(l) => l,
            };
            for v in values {
                for f in text::analyze(&v, ctx) {
                    self.out.finding(f, &self.file.rel, line, None);
                }
            }
        }
    }
}

impl<'ast> Visit<'ast> for FileVisitor<'_> {
    fn visit_attribute(&mut self, _attr: &'ast syn::Attribute) {
        // Attributes are handled by `attributes` on their items; doc comments are not code.
    }

    fn visit_item_fn(&mut self, i: &'ast syn::ItemFn) {
        let test = self.attributes(&i.attrs);
        if i.sig.unsafety.is_some() {
            self.cap(
                CapabilityKind::Unsafe,
                line_of(i.sig.fn_token.span),
                format!("unsafe fn {}", i.sig.ident),
            );
        }
        self.test_depth += usize::from(test);
        visit::visit_item_fn(self, i);
        self.test_depth -= usize::from(test);
    }

    fn visit_impl_item_fn(&mut self, i: &'ast syn::ImplItemFn) {
        let test = self.attributes(&i.attrs);
        if i.sig.unsafety.is_some() {
            self.cap(
                CapabilityKind::Unsafe,
                line_of(i.sig.fn_token.span),
                format!("unsafe fn {}", i.sig.ident),
            );
        }
        self.test_depth += usize::from(test);
        visit::visit_impl_item_fn(self, i);
        self.test_depth -= usize::from(test);
    }

    fn visit_item_mod(&mut self, i: &'ast syn::ItemMod) {
        let test = self.attributes(&i.attrs);
        self.test_depth += usize::from(test);
        visit::visit_item_mod(self, i);
        self.test_depth -= usize::from(test);
    }

    fn visit_item_static(&mut self, i: &'ast syn::ItemStatic) {
        self.attributes(&i.attrs);
        visit::visit_item_static(self, i);
    }

    fn visit_item_const(&mut self, i: &'ast syn::ItemConst) {
        self.attributes(&i.attrs);
        visit::visit_item_const(self, i);
    }

    fn visit_item_impl(&mut self, i: &'ast syn::ItemImpl) {
        self.attributes(&i.attrs);
        if i.unsafety.is_some() {
            self.cap(
                CapabilityKind::Unsafe,
                line_of(i.impl_token.span),
                "unsafe impl",
            );
        }
        visit::visit_item_impl(self, i);
    }

    fn visit_item_trait(&mut self, i: &'ast syn::ItemTrait) {
        if i.unsafety.is_some() {
            self.cap(
                CapabilityKind::Unsafe,
                line_of(i.trait_token.span),
                format!("unsafe trait {}", i.ident),
            );
        }
        visit::visit_item_trait(self, i);
    }

    fn visit_item_foreign_mod(&mut self, i: &'ast syn::ItemForeignMod) {
        self.attributes(&i.attrs);
        let abi = i
            .abi
            .name
            .as_ref()
            .map_or("C".to_owned(), syn::LitStr::value);
        let names: Vec<String> = i
            .items
            .iter()
            .filter_map(|it| match it {
                syn::ForeignItem::Fn(f) => Some(f.sig.ident.to_string()),
                syn::ForeignItem::Static(s) => Some(s.ident.to_string()),
                _ => None,
            })
            .collect();
        let shown: Vec<&str> = names.iter().take(5).map(String::as_str).collect();
        let more = if names.len() > 5 {
            format!(", +{}", names.len() - 5)
        } else {
            String::new()
        };
        self.cap(
            CapabilityKind::Ffi,
            line_of(i.abi.extern_token.span),
            format!("extern \"{abi}\" {{ {}{more} }}", shown.join(", ")),
        );
        for it in &i.items {
            if let syn::ForeignItem::Fn(f) = it {
                let name = f.sig.ident.to_string();
                if EXEC_CALLS.contains(&name.as_str()) {
                    self.cap(
                        CapabilityKind::Process,
                        line_of(f.sig.ident.span()),
                        format!("extern fn {name}"),
                    );
                }
                if LIBC_NET.contains(&name.as_str()) {
                    self.cap(
                        CapabilityKind::Net,
                        line_of(f.sig.ident.span()),
                        format!("extern fn {name}"),
                    );
                }
            }
        }
        visit::visit_item_foreign_mod(self, i);
    }

    fn visit_expr_unsafe(&mut self, e: &'ast syn::ExprUnsafe) {
        self.cap(
            CapabilityKind::Unsafe,
            line_of(e.unsafe_token.span),
            "unsafe block",
        );
        visit::visit_expr_unsafe(self, e);
    }

    fn visit_item_use(&mut self, u: &'ast syn::ItemUse) {
        let line = line_of(u.use_token.span);
        for path in flatten_use(&u.tree) {
            if let Some((kind, detail)) = self.classify(&path) {
                self.cap(kind, line, format!("use {}", path.join("::")));
                if let Some(d) = detail {
                    self.out.detail(kind, &d);
                }
            }
            if path
                .first()
                .is_some_and(|f| NET_CRATES.contains(&f.as_str()))
                && path.len() == 1
            {
                self.cap(CapabilityKind::Net, line, format!("use {}", path[0]));
                self.out.detail(CapabilityKind::Net, &path[0]);
            }
        }
    }

    fn visit_item_extern_crate(&mut self, i: &'ast syn::ItemExternCrate) {
        let name = i.ident.to_string();
        if NET_CRATES.contains(&name.as_str()) {
            self.cap(
                CapabilityKind::Net,
                line_of(i.extern_token.span),
                format!("extern crate {name}"),
            );
            self.out.detail(CapabilityKind::Net, &name);
        }
    }

    fn visit_path(&mut self, p: &'ast syn::Path) {
        if p.segments.len() > 1
            || p.segments
                .first()
                .is_some_and(|s| SOCKET_ITEMS.contains(&s.ident.to_string().as_str()))
        {
            let segs: Vec<String> = p.segments.iter().map(|s| s.ident.to_string()).collect();
            if let Some((kind, detail)) = self.classify(&segs) {
                self.cap(kind, line_of(p.span()), segs.join("::"));
                if let Some(d) = detail {
                    self.out.detail(kind, &d);
                }
                if kind == CapabilityKind::Env {
                    self.env_read = true;
                }
            }
        }
        visit::visit_path(self, p);
    }

    fn visit_expr_call(&mut self, c: &'ast syn::ExprCall) {
        if let Expr::Path(f) = &*c.func {
            let segs: Vec<String> = f
                .path
                .segments
                .iter()
                .map(|s| s.ident.to_string())
                .collect();
            let line = line_of(f.path.span());
            match self.classify(&segs).map(|(k, _)| k) {
                Some(CapabilityKind::Env) => {
                    if let Some(var) = c.args.first().and_then(|a| self.scope().eval(a)) {
                        if let Some(var) = var.as_str() {
                            self.out.detail(CapabilityKind::Env, var);
                            let ctx = StrContext {
                                env_read: true,
                                ..self.ctx()
                            };
                            for f in text::analyze(var, ctx) {
                                self.out.finding(f, &self.file.rel, line, None);
                            }
                        }
                    }
                }
                Some(CapabilityKind::Process) => {
                    if let Some(prog) = c
                        .args
                        .first()
                        .and_then(|a| self.scope().eval(a))
                        .and_then(|e| e.as_str().map(str::to_owned))
                    {
                        self.out.detail(CapabilityKind::Process, &prog);
                    }
                    self.process_args(c.args.iter(), line);
                }
                Some(CapabilityKind::Fs) => {
                    if let Some(path) = c
                        .args
                        .first()
                        .and_then(|a| self.scope().eval(a))
                        .and_then(|e| e.as_str().map(str::to_owned))
                    {
                        // Paths the crate does not own: absolute, home-relative, or climbing out.
                        let outside = path.starts_with('/')
                            || path.starts_with('~')
                            || path.starts_with('\\')
                            || path.get(1..3) == Some(":\\")
                            || path.split(['/', '\\']).any(|c| c == "..");
                        let detail = if outside {
                            format!("{path} (outside the crate)")
                        } else {
                            path
                        };
                        self.out.detail(CapabilityKind::Fs, &detail);
                    }
                }
                _ => {}
            }
        }
        visit::visit_expr_call(self, c);
    }

    fn visit_expr_method_call(&mut self, m: &'ast syn::ExprMethodCall) {
        let method = m.method.to_string();
        let line = line_of(m.method.span());
        match method.as_str() {
            "arg" | "args" | "raw_arg"
                if self.command_imported || self.process_seen || builds_command(&m.receiver) =>
            {
                self.process_args(m.args.iter(), line);
            }
            "push_str" | "push" => {
                if let (Expr::Path(p), Some(arg)) = (&*m.receiver, m.args.first()) {
                    if let Some(name) = p.path.get_ident().map(ToString::to_string) {
                        let add = self.scope().eval(arg);
                        if let Some(local) =
                            self.locals.iter_mut().rev().find_map(|s| s.get_mut(&name))
                        {
                            match (&mut local.val, add.as_ref().and_then(Ev::as_str)) {
                                (Val::Str(s), Some(a)) => {
                                    s.push_str(a);
                                    local.frags += 1;
                                    local.how = "`push_str` of fragments";
                                }
                                (Val::List(l), Some(a)) => l.push(a.to_owned()),
                                _ => {}
                            }
                        }
                    }
                }
            }
            _ => {}
        }
        visit::visit_expr_method_call(self, m);
    }

    fn visit_block(&mut self, b: &'ast syn::Block) {
        self.locals.push(HashMap::new());
        visit::visit_block(self, b);
        let scope = self.locals.pop().unwrap_or_default();
        for ev in scope.values() {
            if ev.how == "`push_str` of fragments" {
                let line = line_of(b.brace_token.span.close());
                let ctx = self.ctx();
                self.assembled(ev, line, ctx);
            }
        }
    }

    fn visit_local(&mut self, l: &'ast syn::Local) {
        visit::visit_local(self, l);
        let name = match &l.pat {
            syn::Pat::Ident(i) => Some(i.ident.to_string()),
            syn::Pat::Type(t) => match &*t.pat {
                syn::Pat::Ident(i) => Some(i.ident.to_string()),
                _ => None,
            },
            _ => None,
        };
        if let (Some(name), Some(init)) = (name, &l.init) {
            let value = match &*init.expr {
                Expr::Call(c)
                    if c.args.is_empty()
                        && matches!(&*c.func, Expr::Path(p) if p.path.segments.last().is_some_and(|s| s.ident == "new")) =>
                {
                    Some(Ev {
                        val: Val::Str(String::new()),
                        frags: 0,
                        how: "an empty string",
                    })
                }
                e => self.scope().eval(e),
            };
            if let (Some(v), Some(scope)) = (value, self.locals.last_mut()) {
                scope.insert(name, v);
            }
        }
    }

    fn visit_expr(&mut self, e: &'ast Expr) {
        let candidate =
            match e {
                Expr::Binary(b) => matches!(b.op, syn::BinOp::Add(_)),
                Expr::Macro(m) => m.mac.path.segments.last().is_some_and(|s| {
                    s.ident == "concat" || s.ident == "format" || s.ident == "vec"
                }),
                Expr::MethodCall(_) | Expr::Call(_) | Expr::Array(_) => true,
                _ => false,
            };
        if self.composite == 0 && candidate {
            if let Some(ev) = self.scope().eval(e) {
                if ev.frags >= 2 && ev.as_str().is_some() {
                    let ctx = self.ctx();
                    self.assembled(&ev, line_of(e.span()), ctx);
                    self.composite += 1;
                    visit::visit_expr(self, e);
                    self.composite -= 1;
                    return;
                }
                if let Val::List(parts) = &ev.val {
                    // An array of fragments: its concatenation may decode to something.
                    if parts.len() >= 2 {
                        let joined = Ev {
                            val: Val::Str(parts.concat()),
                            frags: ev.frags,
                            how: "an array of fragments",
                        };
                        let line = line_of(e.span());
                        let ctx = self.ctx();
                        if let Some((decoded, _)) = text::decode(&parts.concat()) {
                            if !text::worth_hiding(&decoded, ctx).is_empty() {
                                self.assembled(&joined, line, ctx);
                            }
                        }
                    }
                }
            }
        }
        visit::visit_expr(self, e);
    }

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        self.macro_body(mac);
    }

    fn visit_lit_str(&mut self, l: &'ast syn::LitStr) {
        let ctx = self.ctx();
        self.string(&l.value(), line_of(l.span()), ctx, None);
    }

    fn visit_lit_byte_str(&mut self, l: &'ast syn::LitByteStr) {
        if let Ok(s) = String::from_utf8(l.value()) {
            let ctx = self.ctx();
            self.string(&s, line_of(l.span()), ctx, None);
        }
    }
}

/// Whether a method chain starts from `Command::new(..)` under any path
/// (`std::process::Command::new("cmd").arg(..)`): its `.arg`s feed a program even before the
/// visitor has seen the `Command::new` call itself (the receiver is visited after the method).
fn builds_command(mut receiver: &Expr) -> bool {
    loop {
        match receiver {
            Expr::MethodCall(m) => receiver = &m.receiver,
            Expr::Paren(p) => receiver = &p.expr,
            Expr::Call(c) => {
                let Expr::Path(f) = &*c.func else {
                    return false;
                };
                let segments: Vec<String> = f
                    .path
                    .segments
                    .iter()
                    .map(|s| s.ident.to_string())
                    .collect();
                return segments.ends_with(&["Command".to_owned(), "new".to_owned()]);
            }
            _ => return false,
        }
    }
}
