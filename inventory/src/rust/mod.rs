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

/// Parses and scans one `.rs` file.
pub(crate) fn scan_file(root: &Path, file: &File, out: &mut Collector) {
    let Some(text) = native::read_text(file, out) else {
        return;
    };
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
