//! Rust sources: every `.rs` file is parsed with syn (whatever `cfg` guards it, so code compiled
//! only on another platform is seen), then walked by [`visit::FileVisitor`] for capabilities and
//! signals (`paths` says what a path names, `macros` handles macro bodies and attributes,
//! `consteval` assembles strings). A file that does not parse gets a `parse-error` signal and the text scan.

mod consteval;
mod macros;
mod paths;
mod visit;

use std::path::Path;

use crate::code::SignalCode;
use crate::collect::Collector;
use crate::files::File;
use crate::model::{Level, Signal};
use crate::native;

/// Bracket nesting beyond which a file is not handed to syn: parsing and walking recurse per
/// level, and a package must not be able to overflow the scanner's stack. Real code stays far
/// below (generated tables reach a few dozen).
pub(crate) const MAX_NESTING: usize = 256;
/// Operators in one expression beyond which a file is not handed to syn (each nests the
/// expression tree one level deeper).
pub(crate) const MAX_CHAIN: usize = 20_000;

/// Parses and scans one `.rs` file.
pub(crate) fn scan_file(root: &Path, file: &File, out: &mut Collector) {
    let Some(text) = native::read_text(file, out) else {
        return;
    };
    let (depth, chain) = shape(&text);
    if depth > MAX_NESTING || chain > MAX_CHAIN {
        out.files.rust_unparsed += 1;
        out.signal(Signal {
            code: SignalCode::ParseError,
            level: Level::Info,
            path: file.rel.clone(),
            line: 0,
            text: format!("nesting depth {depth}, operator chain {chain}"),
            reason: format!("brackets nest deeper than {MAX_NESTING} or operators chain longer than {MAX_CHAIN}: not parsed (guards the scanner's stack); scanned as text"),
        });
        native::scan_text(file, &text, out);
        return;
    }
    match syn::parse_file(&text) {
        Ok(ast) => visit::scan(root, file, &text, &ast, out),
        Err(e) => {
            out.files.rust_unparsed += 1;
            let at = e.span().start();
            out.signal(Signal {
                code: SignalCode::ParseError,
                level: Level::Info,
                path: file.rel.clone(),
                line: at.line,
                text: crate::text::shorten(&e.to_string()),
                reason: "not valid Rust for syn (a fixture, a template or a newer syntax); scanned as text".into(),
            });
            native::scan_text(file, &text, out);
        }
    }
}

/// How deep a parse of `text` would recurse: the deepest nesting of `(`, `[`, `{`, and the
/// longest run of operators (`+ - * / % ^ | & . ?`) between statement and item separators
/// (`;`, `,`, braces), which syn turns into one left-deep expression. Comments and string
/// literals are skipped.
fn shape(text: &str) -> (usize, usize) {
    let b = text.as_bytes();
    let (mut depth, mut max_depth, mut run, mut max_run) = (0usize, 0usize, 0usize, 0usize);
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i + 1 < b.len() && !(b[i] == b'*' && b[i + 1] == b'/') {
                    i += 1;
                }
                i += 1;
            }
            b'"' => {
                // A raw string's opening `r#"` ends with this quote: skip to `"` plus its hashes.
                let hashes = b[..i].iter().rev().take_while(|&&c| c == b'#').count();
                let raw = i > hashes && b[i - hashes - 1] == b'r';
                i += 1;
                while i < b.len() {
                    if !raw && b[i] == b'\\' {
                        i += 2;
                        continue;
                    }
                    if b[i] == b'"'
                        && b[i + 1..]
                            .iter()
                            .take(hashes)
                            .filter(|&&c| c == b'#')
                            .count()
                            == if raw { hashes } else { 0 }
                    {
                        i += if raw { hashes } else { 0 };
                        break;
                    }
                    i += 1;
                }
            }
            b'(' | b'[' | b'{' => {
                depth += 1;
                max_depth = max_depth.max(depth);
                if b[i] == b'{' {
                    run = 0;
                }
            }
            b')' | b']' => depth = depth.saturating_sub(1),
            b'}' => {
                depth = depth.saturating_sub(1);
                run = 0;
            }
            b';' | b',' => run = 0,
            b'+' | b'-' | b'*' | b'/' | b'%' | b'^' | b'|' | b'&' | b'.' | b'?' => {
                run += 1;
                max_run = max_run.max(run);
            }
            _ => {}
        }
        i += 1;
    }
    (max_depth, max_run)
}

#[cfg(test)]
mod tests {
    use super::shape;

    #[test]
    fn shape_skips_comments_and_strings() {
        assert_eq!(shape("fn f() { (a + b) }"), (2, 1));
        assert_eq!(shape("// ((((( + + +\nfn f() {}"), (1, 0));
        assert_eq!(
            shape(r##"let s = "((( - - -"; let r = r"\"; let t = r#"a"b(("#;"##),
            (0, 0)
        );
        assert_eq!(shape("/* ((( */ x"), (0, 0));
        assert_eq!(shape("a.b().c().d()"), (1, 3));
    }
}
