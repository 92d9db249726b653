//! Text scan of what is not parsed as Rust: C, C++ and assembly sources, scripts, and `.rs`
//! files syn could not parse. Looks for static constructors, calls of C that reach the network
//! or start programs (the `net` and `process` capabilities of native code), download cradles,
//! and runs the string analysis over quoted strings (and over whole lines of scripts).
//!
//! A constructor in shipped native code is a `warn` signal when the package's own code (Rust
//! or native, outside its build script and tests) also opens sockets or starts programs, and
//! `info` otherwise ([`crate::collect::Collector::finish`] decides, once the whole package is
//! read): allocators and runtimes (jemalloc's `.CRT$XCU` initializer) declare constructors
//! that do neither, and vet's `load` phase runs every constructor and watches what it does.

use crate::code::SignalCode;
use crate::collect::{Collector, NATIVE_CONSTRUCTOR};
use crate::files::{File, Kind};
use crate::model::{CapabilityKind, Level, Signal};
use crate::text::{self, StrContext};

/// Bytes of a text file scanned; the rest is reported as not scanned.
pub(crate) const MAX_TEXT_SCAN: u64 = 8 << 20;

/// Scans one native source or script.
pub(crate) fn scan_file(_root: &std::path::Path, file: &File, out: &mut Collector) {
    let Some(text) = read_text(file, out) else {
        return;
    };
    scan_text(file, &text, out);
}

/// Reads a text file, or records why it was not scanned.
pub(crate) fn read_text(file: &File, out: &mut Collector) -> Option<String> {
    if file.size > MAX_TEXT_SCAN {
        out.signal(Signal {
            code: SignalCode::NotScanned,
            level: Level::Info,
            path: file.rel.clone(),
            line: 0,
            text: String::new(),
            reason: format!(
                "{} bytes, over the text-scan limit of {MAX_TEXT_SCAN}",
                file.size
            ),
        });
        return None;
    }
    match std::fs::read(&file.abs) {
        Ok(bytes) => Some(String::from_utf8_lossy(&bytes).into_owned()),
        Err(e) => {
            out.signal(Signal {
                code: SignalCode::NotScanned,
                level: Level::Info,
                path: file.rel.clone(),
                line: 0,
                text: String::new(),
                reason: format!("could not be read: {e}"),
            });
            None
        }
    }
}

/// Scans `text` as the contents of `file` (a native source, a script, or unparsable Rust).
pub(crate) fn scan_text(file: &File, text: &str, out: &mut Collector) {
    let script = file.kind == Kind::Script;
    let ctx = StrContext {
        test: file.test,
        process: false,
        env_read: false,
    };
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        if line.len() > 4096 {
            continue;
        }
        if file.kind == Kind::Native {
            if let Some(what) = constructor(line) {
                out.signal(Signal {
                    code: SignalCode::StaticConstructor,
                    level: Level::Warn,
                    path: file.rel.clone(),
                    line: n,
                    text: text::shorten(line.trim()),
                    reason: format!("{NATIVE_CONSTRUCTOR} {what}: it runs when the library is loaded, before main"),
                });
            }
            if let Some((kind, call)) = reaching_call(line) {
                out.capability(kind, &file.rel, n, line.trim());
                out.detail(kind, call);
            }
        }
        if script {
            if let Some(f) = text::script_download(line) {
                out.finding(f, &file.rel, n, None);
            }
            for f in text::analyze(line, ctx) {
                out.finding(f, &file.rel, n, None);
            }
        }
        for s in quoted(line) {
            if !script {
                for f in text::analyze(s, ctx) {
                    out.finding(f, &file.rel, n, None);
                }
            }
            if let Some((decoded, how)) = text::decode(s) {
                let hidden = text::worth_hiding(&decoded, ctx);
                if !hidden.is_empty() {
                    let (level, top) = text::encoded_level(&hidden, file.test);
                    out.signal(Signal {
                        code: SignalCode::EncodedString,
                        level,
                        path: file.rel.clone(),
                        line: n,
                        text: text::shorten(&decoded),
                        reason: format!("{how} string decodes to: {}", top.reason),
                    });
                }
            }
        }
    }
}

/// C functions that reach the network, and those that start programs or load code.
const NET_CALLS: &[&str] = &[
    "socket",
    "connect",
    "getaddrinfo",
    "gethostbyname",
    "WSAStartup",
    "InternetOpenA",
    "InternetOpenW",
    "URLDownloadToFileA",
    "URLDownloadToFileW",
    "curl_easy_perform",
];
const PROCESS_CALLS: &[&str] = &[
    "execve",
    "execv",
    "execvp",
    "execvpe",
    "execl",
    "execlp",
    "execle",
    "system",
    "popen",
    "fork",
    "vfork",
    "posix_spawn",
    "posix_spawnp",
    "dlopen",
    "LoadLibraryA",
    "LoadLibraryW",
    "LoadLibraryExA",
    "LoadLibraryExW",
    "CreateProcessA",
    "CreateProcessW",
    "WinExec",
    "ShellExecuteA",
    "ShellExecuteW",
    "ShellExecuteExA",
    "ShellExecuteExW",
];

/// The first call on a line of C/C++ that reaches the network or starts a program (an
/// identifier of [`NET_CALLS`] or [`PROCESS_CALLS`] followed by `(`), outside comments.
fn reaching_call(line: &str) -> Option<(CapabilityKind, &'static str)> {
    let t = line.trim_start();
    if t.starts_with("//") || t.starts_with("/*") || t.starts_with('*') || t.starts_with('#') {
        return None;
    }
    let bytes = line.as_bytes();
    let ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let lists = [
        (CapabilityKind::Net, NET_CALLS),
        (CapabilityKind::Process, PROCESS_CALLS),
    ];
    for (kind, calls) in lists {
        for call in calls {
            let mut from = 0;
            while let Some(at) = line[from..].find(call).map(|i| i + from) {
                let end = at + call.len();
                from = end;
                if at > 0 && ident(bytes[at - 1]) || end < bytes.len() && ident(bytes[end]) {
                    continue;
                }
                if line[end..].trim_start().starts_with('(') {
                    return Some((kind, call));
                }
            }
        }
    }
    None
}

/// What constructor a line of C/C++/assembly declares, if any.
fn constructor(line: &str) -> Option<&'static str> {
    let compact: String = line
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_lowercase();
    if compact.starts_with("//")
        || compact.starts_with("/*")
        || compact.starts_with('*')
        || compact.starts_with('#')
            && !compact.starts_with("#define")
            && !compact.starts_with("#pragma")
    {
        return None;
    }
    if compact.contains("__attribute__((constructor")
        || compact.contains("__attribute__((__constructor__")
    {
        return Some("`__attribute__((constructor))`");
    }
    if compact.contains("#pragmainit")
        || compact.contains("#pragmasection(\".crt$xc")
        || compact.contains("allocate(\".crt$xc")
        || compact.contains(".crt$xcu")
    {
        return Some("a `.CRT$XC*` initializer");
    }
    let lower = line.to_ascii_lowercase();
    for section in [".init_array", ".ctors"] {
        if let Some(at) = lower.find(section) {
            let before = lower[..at].chars().next_back();
            let after = lower[at + section.len()..].chars().next();
            if before.is_none_or(|c| !c.is_ascii_alphanumeric() && c != '_')
                && after.is_none_or(|c| !c.is_ascii_alphanumeric() && c != '_')
            {
                return Some(if section == ".ctors" {
                    "a `.ctors` section"
                } else {
                    "an `.init_array` section"
                });
            }
        }
    }
    None
}

/// The contents of the double-quoted strings of a line (escapes kept as written).
fn quoted(line: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let bytes = line.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'"' {
            let start = i + 1;
            let mut j = start;
            while j < bytes.len() && bytes[j] != b'"' {
                if bytes[j] == b'\\' {
                    j += 1;
                }
                j += 1;
            }
            if j <= bytes.len() && j > start {
                if let Some(s) = line.get(start..j.min(bytes.len())) {
                    out.push(s);
                }
            }
            i = j + 1;
        } else {
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constructors() {
        assert!(constructor("static void f(void) __attribute__ ((constructor));").is_some());
        assert!(constructor("  .section .init_array,\"aw\"").is_some());
        assert!(constructor("// __attribute__((constructor)) is not used").is_none());
        assert!(constructor("int vectors_ctors = 0;").is_none());
    }

    #[test]
    fn quoted_strings() {
        assert_eq!(quoted(r#"f("a\"b", "c")"#), [r#"a\"b"#, "c"]);
        assert!(quoted("no strings").is_empty());
    }
}
