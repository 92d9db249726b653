//! Dictionary tokens mined from a package's **C and C++ sources** (the code behind its FFI
//! wrappers), which the Rust-side [`mining`](crate::mining) does not read: string literals,
//! character literals, numeric literals (as text, and magic numbers as bytes), and runs of
//! adjacent character comparisons (`p[0] == 'R' && p[1] == ':'` gives `R:`). Without clang the
//! C code is not instrumented, so libFuzzer sees none of its comparisons: these tokens are how
//! inputs get past its prefix checks.

use std::collections::BTreeSet;
use std::path::Path;

/// Extensions of C and C++ sources and headers.
const C_EXTENSIONS: &[&str] = &["c", "h", "cc", "cpp", "cxx", "hpp", "hh", "hxx"];

/// Most files read, bytes read, and tokens kept per package.
const MAX_FILES: usize = 400;
const MAX_BYTES: u64 = 4 << 20;
const MAX_TOKENS: usize = 256;

/// The longest literal kept as a token.
const MAX_TOKEN_LEN: usize = 64;

/// Directories never searched for sources.
const SKIP_DIRS: &[&str] = &[
    "target", ".git", "tests", "test", "examples", "benches", "docs",
];

/// The tokens of every C/C++ file under `dir` (a package's directory), in a stable order.
pub(crate) fn mine_dir(dir: &Path) -> Vec<Vec<u8>> {
    let mut files = Vec::new();
    collect(dir, 0, &mut files);
    files.sort();
    files.truncate(MAX_FILES);
    let mut tokens = BTreeSet::new();
    let mut budget = MAX_BYTES;
    for f in files {
        let Ok(meta) = std::fs::metadata(&f) else {
            continue;
        };
        if meta.len() > budget {
            continue;
        }
        budget -= meta.len();
        if let Ok(bytes) = std::fs::read(&f) {
            tokens.extend(mine_source(&String::from_utf8_lossy(&bytes)));
        }
    }
    tokens.into_iter().take(MAX_TOKENS).collect()
}

fn collect(dir: &Path, depth: usize, out: &mut Vec<std::path::PathBuf>) {
    if depth > 8 || out.len() >= MAX_FILES * 4 {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        let Ok(ft) = e.file_type() else { continue };
        if ft.is_dir() {
            let name = e.file_name();
            if !SKIP_DIRS.iter().any(|s| name == *s) {
                collect(&p, depth + 1, out);
            }
        } else if ft.is_file()
            && p.extension()
                .and_then(|x| x.to_str())
                .is_some_and(|x| C_EXTENSIONS.contains(&x))
        {
            out.push(p);
        }
    }
}

/// A token of C source, as far as mining needs one.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Str(Vec<u8>),
    Char(u8),
    Num(u64, bool),
    Ident,
    Punct(&'static str),
    Other,
}

/// Decodes one escape after a backslash at `s[i]`; returns the byte and the next index.
fn escape(s: &[u8], i: usize) -> (u8, usize) {
    let Some(&c) = s.get(i) else {
        return (b'\\', i);
    };
    match c {
        b'n' => (b'\n', i + 1),
        b't' => (b'\t', i + 1),
        b'r' => (b'\r', i + 1),
        b'0'..=b'7' => {
            let mut v: u32 = 0;
            let mut j = i;
            while j < s.len() && j < i + 3 && (b'0'..=b'7').contains(&s[j]) {
                v = v * 8 + u32::from(s[j] - b'0');
                j += 1;
            }
            ((v & 0xff) as u8, j)
        }
        b'x' => {
            let mut v: u32 = 0;
            let mut j = i + 1;
            while j < s.len() && j < i + 3 && s[j].is_ascii_hexdigit() {
                v = v * 16 + (s[j] as char).to_digit(16).unwrap_or(0);
                j += 1;
            }
            ((v & 0xff) as u8, j)
        }
        other => (other, i + 1),
    }
}

/// Splits C source into the tokens mining looks at (comments and preprocessor includes
/// dropped).
fn lex(src: &str) -> Vec<Tok> {
    let s = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < s.len() {
        let c = s[i];
        if c.is_ascii_whitespace() {
            i += 1;
        } else if s[i..].starts_with(b"//") {
            while i < s.len() && s[i] != b'\n' {
                i += 1;
            }
        } else if s[i..].starts_with(b"/*") {
            i += 2;
            while i < s.len() && !s[i..].starts_with(b"*/") {
                i += 1;
            }
            i += 2;
        } else if s[i..].starts_with(b"#include") {
            while i < s.len() && s[i] != b'\n' {
                i += 1;
            }
        } else if c == b'"' || c == b'\'' {
            let mut lit = Vec::new();
            i += 1;
            while i < s.len() && s[i] != c && s[i] != b'\n' {
                if s[i] == b'\\' {
                    let (b, next) = escape(s, i + 1);
                    lit.push(b);
                    i = next;
                } else {
                    lit.push(s[i]);
                    i += 1;
                }
            }
            i += 1;
            out.push(match (c, lit.as_slice()) {
                (b'"', _) => Tok::Str(lit),
                (_, [b]) => Tok::Char(*b),
                _ => Tok::Other,
            });
        } else if c.is_ascii_digit() {
            let start = i;
            while i < s.len() && (s[i].is_ascii_alphanumeric() || s[i] == b'.') {
                i += 1;
            }
            let text = &src[start..i];
            let digits = text.trim_end_matches(['u', 'U', 'l', 'L']);
            let parsed = match digits.strip_prefix("0x").or(digits.strip_prefix("0X")) {
                Some(hex) => u64::from_str_radix(hex, 16).ok().map(|v| (v, true)),
                None => digits.parse::<u64>().ok().map(|v| (v, false)),
            };
            out.push(parsed.map_or(Tok::Other, |(v, hex)| Tok::Num(v, hex)));
        } else if c.is_ascii_alphabetic() || c == b'_' {
            while i < s.len() && (s[i].is_ascii_alphanumeric() || s[i] == b'_') {
                i += 1;
            }
            out.push(Tok::Ident);
        } else {
            let two = ["==", "&&", "!="]
                .into_iter()
                .find(|p| s[i..].starts_with(p.as_bytes()));
            match two {
                Some(p) => {
                    out.push(Tok::Punct(p));
                    i += 2;
                }
                None => {
                    out.push(match c {
                        b'[' => Tok::Punct("["),
                        b']' => Tok::Punct("]"),
                        _ => Tok::Other,
                    });
                    i += 1;
                }
            }
        }
    }
    out
}

/// The tokens of one C/C++ source text.
pub(crate) fn mine_source(src: &str) -> BTreeSet<Vec<u8>> {
    let toks = lex(src);
    let mut out = BTreeSet::new();
    // Runs of `x[i] == 'c'` joined by `&&`, by index.
    let mut run: Vec<(u64, u8)> = Vec::new();
    let flush = |run: &mut Vec<(u64, u8)>, out: &mut BTreeSet<Vec<u8>>| {
        run.sort();
        run.dedup_by_key(|(i, _)| *i);
        if run.len() > 1 && run.windows(2).all(|w| w[1].0 == w[0].0 + 1) {
            out.insert(run.iter().map(|(_, c)| *c).collect());
        }
        run.clear();
    };
    let mut k = 0;
    while k < toks.len() {
        match &toks[k] {
            Tok::Str(s) if !s.is_empty() && s.len() <= MAX_TOKEN_LEN && !s.contains(&b'%') => {
                out.insert(s.clone());
            }
            Tok::Char(c) if *c != 0 => {
                out.insert(vec![*c]);
            }
            Tok::Num(v, hex) if *v >= 10 => {
                out.insert(v.to_string().into_bytes());
                // A hexadecimal constant of 2 to 4 bytes is likely a magic number.
                if *hex && *v > 0xff && *v <= u64::from(u32::MAX) {
                    let width = if *v > 0xffff { 4 } else { 2 };
                    let le = v.to_le_bytes()[..width].to_vec();
                    let mut be = le.clone();
                    be.reverse();
                    out.insert(le);
                    out.insert(be);
                }
            }
            _ => {}
        }
        // `[ i ] == 'c'`
        if let [Tok::Punct("["), Tok::Num(i, _), Tok::Punct("]"), Tok::Punct("=="), Tok::Char(c), rest @ ..] =
            &toks[k..toks.len().min(k + 6)]
        {
            run.push((*i, *c));
            if *c != 0 {
                out.insert(vec![*c]);
            }
            k += 5;
            if !matches!(rest.first(), Some(Tok::Punct("&&"))) {
                flush(&mut run, &mut out);
            }
            continue;
        }
        if !matches!(toks[k], Tok::Punct("&&") | Tok::Ident) {
            flush(&mut run, &mut out);
        }
        k += 1;
    }
    flush(&mut run, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_and_prefix_checks_become_tokens() {
        let src = r#"
            #include <string.h>
            /* "not this" */
            static const char *MAGIC = "HDR\x01";
            int check(const char *p, size_t len) {
                // 'q' in a comment
                if (len > 2 && p[0] == 'R' && p[1] == ':' && p[2] == '/') return 0x1f8b;
                if (p[5] == 'z') return 4096;
                return memcmp(p, "%d items", 3) == '\n';
            }
        "#;
        let t = mine_source(src);
        let has = |b: &[u8]| t.contains(b);
        assert!(has(b"HDR\x01"), "{t:?}");
        assert!(has(b"R:/"), "{t:?}");
        assert!(has(b"R") && has(b":") && has(b"z") && has(b"\n"));
        assert!(has(b"4096") && has(b"8075"));
        assert!(has(&[0x8b, 0x1f]) && has(&[0x1f, 0x8b]));
        assert!(!has(b"not this") && !has(b"q") && !has(b"string.h"));
        // Format strings say nothing about the input.
        assert!(!has(b"%d items"));
        // A lone comparison is no run.
        assert!(!t.iter().any(|x| x.len() == 2 && x[0] == b'z'));
    }

    #[test]
    fn a_package_directory_is_searched_for_c_sources() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("c")).expect("mkdir");
        std::fs::create_dir_all(dir.path().join("target")).expect("mkdir");
        std::fs::write(
            dir.path().join("c/x.c"),
            "int f(char *p) { return p[0]=='A'&&p[1]=='B'; }",
        )
        .expect("write");
        std::fs::write(dir.path().join("target/y.c"), "char *s = \"skipped\";").expect("write");
        let t = mine_dir(dir.path());
        assert!(t.contains(&b"AB".to_vec()), "{t:?}");
        assert!(!t.contains(&b"skipped".to_vec()));
    }
}
