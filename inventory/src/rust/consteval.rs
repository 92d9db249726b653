//! Constant evaluation of string expressions, the way an obfuscated payload assembles them:
//! literals, `+` concatenation, `concat!`, `format!` of literals, arrays of fragments `.concat()`
//! or `.join(..)`, `.replace(..)`, `.chars().rev()`, byte arrays turned into strings, and
//! references to `const`/`static` items and to local `let` bindings (including `push_str`).
//! Anything else (a function call, a variable of unknown value) makes the expression opaque.

use std::collections::HashMap;

use syn::visit::Visit;
use syn::{Expr, Lit};

/// Longest string built by evaluation (a bigger one is opaque).
const MAX_EVAL: usize = 64 * 1024;

/// A value of a string expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Val {
    /// A string.
    Str(String),
    /// A list of strings (an array or `vec!` of fragments).
    List(Vec<String>),
}

/// An evaluated expression: its value, how many literal fragments went into it, and how they
/// were joined (for a reason text).
#[derive(Debug, Clone)]
pub(crate) struct Ev {
    pub val: Val,
    pub frags: usize,
    pub how: &'static str,
}

impl Ev {
    fn lit(s: String) -> Ev {
        Ev {
            val: Val::Str(s),
            frags: 1,
            how: "literal",
        }
    }

    /// The string value, if it is one.
    pub(crate) fn as_str(&self) -> Option<&str> {
        match &self.val {
            Val::Str(s) => Some(s),
            Val::List(_) => None,
        }
    }
}

/// Names in scope: constants of the file and local bindings of the enclosing blocks.
pub(crate) struct Scope<'a> {
    pub consts: &'a HashMap<String, Ev>,
    pub locals: &'a [HashMap<String, Ev>],
}

impl Scope<'_> {
    fn lookup(&self, name: &str) -> Option<&Ev> {
        self.locals
            .iter()
            .rev()
            .find_map(|s| s.get(name))
            .or_else(|| self.consts.get(name))
    }

    /// Evaluates `e`, or `None` when it is not a constant string (list) expression.
    pub(crate) fn eval(&self, e: &Expr) -> Option<Ev> {
        let ev = self.eval_inner(e)?;
        let len = match &ev.val {
            Val::Str(s) => s.len(),
            Val::List(l) => l.iter().map(String::len).sum(),
        };
        (len <= MAX_EVAL).then_some(ev)
    }

    fn eval_inner(&self, e: &Expr) -> Option<Ev> {
        match e {
            Expr::Lit(l) => lit(&l.lit).map(Ev::lit),
            Expr::Paren(p) => self.eval(&p.expr),
            Expr::Group(g) => self.eval(&g.expr),
            Expr::Reference(r) => self.eval(&r.expr),
            Expr::Path(p) => {
                let last = p.path.segments.last()?.ident.to_string();
                self.lookup(&last).cloned()
            }
            Expr::Binary(b) if matches!(b.op, syn::BinOp::Add(_)) => {
                let l = self.eval(&b.left)?;
                let r = self.eval(&b.right)?;
                Some(Ev {
                    val: Val::Str(format!("{}{}", l.as_str()?, r.as_str()?)),
                    frags: l.frags + r.frags,
                    how: "`+` concatenation",
                })
            }
            Expr::Array(a) => self.list(a.elems.iter()),
            Expr::Macro(m) => self.eval_macro(&m.mac),
            Expr::MethodCall(m) => self.eval_method(m),
            Expr::Call(c) => {
                let Expr::Path(f) = &*c.func else {
                    return None;
                };
                let name = f.path.segments.last()?.ident.to_string();
                match name.as_str() {
                    "from" | "from_utf8" | "from_utf8_lossy" | "from_utf8_unchecked" | "new"
                        if c.args.len() == 1 =>
                    {
                        let ev = self.eval(c.args.first()?)?;
                        ev.as_str()?;
                        Some(ev)
                    }
                    _ => None,
                }
            }
            _ => None,
        }
    }

    /// A list of fragments, or a byte array (`[104, 116, ..]`) as a string.
    fn list<'e>(&self, elems: impl Iterator<Item = &'e Expr>) -> Option<Ev> {
        let elems: Vec<&Expr> = elems.collect();
        if elems.len() >= 4
            && elems
                .iter()
                .all(|e| matches!(e, Expr::Lit(l) if matches!(l.lit, Lit::Int(_))))
        {
            let bytes: Vec<u8> = elems
                .iter()
                .map(|e| match e {
                    Expr::Lit(syn::ExprLit {
                        lit: Lit::Int(i), ..
                    }) => i.base10_parse::<u8>().ok(),
                    _ => None,
                })
                .collect::<Option<_>>()?;
            let s = String::from_utf8(bytes).ok()?;
            if !s.chars().all(|c| !c.is_control() || c == '\n' || c == '\t') {
                return None;
            }
            return Some(Ev {
                val: Val::Str(s),
                frags: elems.len(),
                how: "a byte array",
            });
        }
        let mut out = Vec::with_capacity(elems.len());
        let mut frags = 0;
        for e in elems {
            let ev = self.eval(e)?;
            frags += ev.frags;
            out.push(ev.as_str()?.to_owned());
        }
        Some(Ev {
            val: Val::List(out),
            frags,
            how: "an array of fragments",
        })
    }

    fn eval_method(&self, m: &syn::ExprMethodCall) -> Option<Ev> {
        let method = m.method.to_string();
        match method.as_str() {
            "to_string" | "to_owned" | "into" | "as_str" | "clone" | "as_bytes" | "to_vec"
            | "as_ref" | "borrow" | "trim" | "unwrap" | "iter" | "into_iter" | "chars"
            | "bytes" | "collect" | "cloned" | "copied" => self.eval(&m.receiver),
            "rev" => {
                let ev = self.eval(&m.receiver)?;
                let s: String = ev.as_str()?.chars().rev().collect();
                Some(Ev {
                    val: Val::Str(s),
                    frags: ev.frags.max(2),
                    how: "a reversed string",
                })
            }
            "concat" | "join" => {
                let ev = self.eval(&m.receiver)?;
                let Val::List(parts) = ev.val else {
                    return None;
                };
                let sep = match m.args.first() {
                    Some(a) => self.eval(a)?.as_str()?.to_owned(),
                    None => String::new(),
                };
                Some(Ev {
                    val: Val::Str(parts.join(&sep)),
                    frags: ev.frags,
                    how: if method == "concat" {
                        "`.concat()` of fragments"
                    } else {
                        "`.join()` of fragments"
                    },
                })
            }
            "replace" | "replacen" if m.args.len() >= 2 => {
                let ev = self.eval(&m.receiver)?;
                let from = self.eval(&m.args[0])?;
                let to = self.eval(&m.args[1])?;
                let from = from.as_str()?;
                if from.is_empty() {
                    return None;
                }
                Some(Ev {
                    val: Val::Str(ev.as_str()?.replace(from, to.as_str()?)),
                    frags: ev.frags.max(2),
                    how: "`.replace()`",
                })
            }
            _ => None,
        }
    }

    fn eval_macro(&self, mac: &syn::Macro) -> Option<Ev> {
        let name = mac.path.segments.last()?.ident.to_string();
        let args = mac
            .parse_body_with(syn::punctuated::Punctuated::<Expr, syn::Token![,]>::parse_terminated)
            .ok()?;
        match name.as_str() {
            "concat" => {
                let mut s = String::new();
                let mut frags = 0;
                for a in &args {
                    let ev = self.eval(a)?;
                    frags += ev.frags;
                    s.push_str(ev.as_str()?);
                }
                Some(Ev {
                    val: Val::Str(s),
                    frags,
                    how: "`concat!`",
                })
            }
            "format" => {
                let mut it = args.iter();
                let fmt = self.eval(it.next()?)?;
                let fmt = fmt.as_str()?.to_owned();
                let mut positional = Vec::new();
                let mut named = HashMap::new();
                for a in it {
                    if let Expr::Assign(asg) = a {
                        let Expr::Path(p) = &*asg.left else {
                            return None;
                        };
                        named.insert(
                            p.path.get_ident()?.to_string(),
                            self.eval(&asg.right)?.as_str()?.to_owned(),
                        );
                    } else {
                        positional.push(self.eval(a)?.as_str()?.to_owned());
                    }
                }
                let s = self.format(&fmt, &positional, &named)?;
                Some(Ev {
                    val: Val::Str(s),
                    frags: 1 + positional.len() + named.len(),
                    how: "`format!` of literals",
                })
            }
            "vec" => self.list(args.iter()),
            _ => None,
        }
    }

    /// Renders a format string whose arguments are all known (`{}`, `{0}`, `{name}`, with any
    /// format spec ignored).
    fn format(
        &self,
        fmt: &str,
        positional: &[String],
        named: &HashMap<String, String>,
    ) -> Option<String> {
        let mut out = String::new();
        let mut next = 0;
        let mut chars = fmt.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '{' if chars.peek() == Some(&'{') => {
                    chars.next();
                    out.push('{');
                }
                '}' if chars.peek() == Some(&'}') => {
                    chars.next();
                    out.push('}');
                }
                '{' => {
                    let mut spec = String::new();
                    for c in chars.by_ref() {
                        if c == '}' {
                            break;
                        }
                        spec.push(c);
                    }
                    let arg = spec.split(':').next().unwrap_or("");
                    let value = if arg.is_empty() {
                        next += 1;
                        positional.get(next - 1)?.clone()
                    } else if let Ok(i) = arg.parse::<usize>() {
                        positional.get(i)?.clone()
                    } else if let Some(v) = named.get(arg) {
                        v.clone()
                    } else {
                        self.lookup(arg)?.as_str()?.to_owned()
                    };
                    out.push_str(&value);
                }
                c => out.push(c),
            }
        }
        Some(out)
    }
}

/// The string value of a literal (strings, byte strings that are UTF-8, chars, integers).
pub(crate) fn lit(l: &Lit) -> Option<String> {
    match l {
        Lit::Str(s) => Some(s.value()),
        Lit::ByteStr(b) => String::from_utf8(b.value()).ok(),
        Lit::CStr(c) => c.value().into_string().ok(),
        Lit::Char(c) => Some(c.value().to_string()),
        Lit::Int(i) => Some(i.base10_digits().to_owned()),
        _ => None,
    }
}

/// The file's `const` and `static` items with constant string values, by name (resolved in two
/// rounds so a constant may refer to one defined further down).
pub(crate) fn file_consts(ast: &syn::File) -> HashMap<String, Ev> {
    #[derive(Default)]
    struct Items<'ast>(Vec<(String, &'ast Expr)>);
    impl<'ast> Visit<'ast> for Items<'ast> {
        fn visit_item_const(&mut self, i: &'ast syn::ItemConst) {
            self.0.push((i.ident.to_string(), &i.expr));
        }
        fn visit_item_static(&mut self, i: &'ast syn::ItemStatic) {
            self.0.push((i.ident.to_string(), &i.expr));
        }
        fn visit_impl_item_const(&mut self, i: &'ast syn::ImplItemConst) {
            self.0.push((i.ident.to_string(), &i.expr));
        }
    }
    let mut items = Items::default();
    items.visit_file(ast);
    let mut consts = HashMap::new();
    for _round in 0..2 {
        for (name, expr) in &items.0 {
            if consts.contains_key(name) {
                continue;
            }
            let scope = Scope {
                consts: &consts,
                locals: &[],
            };
            if let Some(ev) = scope.eval(expr) {
                consts.insert(name.clone(), ev);
            }
        }
    }
    consts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(src: &str) -> Option<String> {
        let e: Expr = syn::parse_str(src).unwrap();
        let consts = HashMap::from([("HOST".to_owned(), Ev::lit("evil.test".into()))]);
        let scope = Scope {
            consts: &consts,
            locals: &[],
        };
        scope.eval(&e).and_then(|ev| ev.as_str().map(str::to_owned))
    }

    #[test]
    fn assembles_strings() {
        assert_eq!(eval(r#"concat!("ht", "tp", 1)"#).as_deref(), Some("http1"));
        assert_eq!(
            eval(r#""a".to_string() + "b" + &HOST"#).as_deref(),
            Some("abevil.test")
        );
        assert_eq!(
            eval(r#"format!("{}://{HOST}:{port}", "https", port = 8)"#).as_deref(),
            Some("https://evil.test:8")
        );
        assert_eq!(eval(r#"["a", "b", "c"].concat()"#).as_deref(), Some("abc"));
        assert_eq!(eval(r#"vec!["a", "b"].join(".")"#).as_deref(), Some("a.b"));
        assert_eq!(
            eval(r#"String::from_utf8(vec![104, 116, 116, 112]).unwrap()"#).as_deref(),
            Some("http")
        );
        assert_eq!(
            eval(r#""lave".chars().rev().collect::<String>()"#).as_deref(),
            Some("eval")
        );
        assert_eq!(eval(r#"x + "b""#), None);
        assert_eq!(eval(r#"format!("{}", f())"#), None);
    }
}
