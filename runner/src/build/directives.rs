//! Build-script directives: parsed from the script's stdout exactly as cargo parses them (each
//! line trimmed, `cargo::KEY=VALUE` and the old `cargo:KEY=VALUE` forms, unknown old-style keys
//! being metadata), then judged: the ones that change how the final program is linked or what
//! environment rustc runs with are flagged, each with its reason.

use std::path::{Path, PathBuf};

#[cfg(test)]
use crate::events::Decision;
use crate::report::Directive;

/// Keys cargo reserves in the old `cargo:` syntax; anything else there is metadata.
const RESERVED: &[&str] = &[
    "rerun-if-changed",
    "rerun-if-env-changed",
    "rustc-link-lib",
    "rustc-link-search",
    "rustc-link-arg-cdylib",
    "rustc-cdylib-link-arg",
    "rustc-link-arg-bins",
    "rustc-link-arg-bin",
    "rustc-link-arg-tests",
    "rustc-link-arg-benches",
    "rustc-link-arg-examples",
    "rustc-link-arg",
    "rustc-flags",
    "rustc-cfg",
    "rustc-check-cfg",
    "rustc-env",
    "warning",
    "error",
    "metadata",
];

/// Library directories of the system: linking from them is what `-sys` crates are for.
pub(super) const SYSTEM_LIB_DIRS: &[&str] = &[
    "/usr/lib",
    "/usr/lib64",
    "/usr/lib32",
    "/lib",
    "/lib64",
    "/lib32",
    "/usr/local/lib",
    "/usr/local/lib64",
];

/// Variables that `rustc-env` must not set: they change what the loader, rustc or the linker
/// do for the compilation of the crate (cargo sets `rustc-env` in rustc's own environment).
const DANGEROUS_ENV: &[&str] = &[
    "LD_PRELOAD",
    "LD_LIBRARY_PATH",
    "LD_AUDIT",
    "LD_BIND_NOW",
    "LD_DEBUG",
    "LD_PROFILE",
    "GCONV_PATH",
    "PATH",
    "RUSTC",
    "RUSTC_WRAPPER",
    "RUSTC_WORKSPACE_WRAPPER",
    "RUSTC_LINKER",
    "RUSTC_BOOTSTRAP",
    "RUSTFLAGS",
    "CARGO_ENCODED_RUSTFLAGS",
    "RUSTDOC",
    "RUSTDOCFLAGS",
    "CC",
    "CXX",
    "AR",
    "LD",
    "LINKER",
    "CFLAGS",
    "LDFLAGS",
    "PKG_CONFIG_PATH",
    "SSL_CERT_FILE",
    "GIT_SSH_COMMAND",
    "PYTHONPATH",
];

/// What a directive is judged against.
#[derive(Debug, Clone, Default)]
pub(super) struct Context {
    /// The script's `OUT_DIR`.
    pub out_dir: PathBuf,
}

/// Parses `stdout` as cargo does and flags what matters.
pub(super) fn parse(stdout: &[u8], ctx: &Context) -> Vec<Directive> {
    let mut found = Vec::new();
    for (i, raw) in stdout.split(|b| *b == b'\n').enumerate() {
        let Ok(raw) = std::str::from_utf8(raw) else {
            continue;
        };
        let line = raw.trim();
        let (data, new_syntax) = if let Some(d) = line.strip_prefix("cargo::") {
            (d, true)
        } else if let Some(d) = line.strip_prefix("cargo:") {
            (d, false)
        } else {
            continue;
        };
        let Some((key, value)) = data.split_once('=') else {
            continue;
        };
        let (key, value) = if new_syntax || RESERVED.contains(&key) {
            if key == "metadata" {
                ("metadata", value)
            } else {
                (key, value)
            }
        } else {
            // Old syntax, unreserved key: `cargo:KEY=VALUE` is metadata `KEY=VALUE`.
            ("metadata", data)
        };
        let mut d = Directive {
            key: key.to_owned(),
            value: value.to_owned(),
            line: raw.trim_end_matches('\r').to_owned(),
            line_no: i + 1,
            new_syntax,
            flagged: None,
        };
        d.flagged = judge(&d, ctx);
        if d.flagged.is_none() && raw.len() != raw.trim_start().len() && d.key != "warning" {
            d.flagged = Some(
                "indented: hidden among ordinary output, but cargo obeys it all the same".into(),
            );
        }
        found.push(d);
    }
    found
}

fn judge(d: &Directive, ctx: &Context) -> Option<String> {
    let v = d.value.as_str();
    match d.key.as_str() {
        "rustc-link-search" => {
            let path = v.split_once('=').map_or(v, |(kind, p)| {
                if ["native", "crate", "dependency", "framework", "all"].contains(&kind) {
                    p
                } else {
                    v
                }
            });
            outside(path, ctx).map(|why| format!("link search path {why}"))
        }
        "rustc-flags" => {
            let mut words = v.split_whitespace().peekable();
            while let Some(w) = words.next() {
                let path = if w == "-L" {
                    words.next().unwrap_or("")
                } else if let Some(p) = w.strip_prefix("-L") {
                    p
                } else {
                    continue;
                };
                let path = path.split_once('=').map_or(path, |(_, p)| p);
                if let Some(why) = outside(path, ctx) {
                    return Some(format!("link search path in rustc-flags {why}"));
                }
            }
            None
        }
        "rustc-link-lib" => {
            let (kind, name) = v.split_once('=').unwrap_or(("", v));
            let name = name.split(':').next().unwrap_or(name);
            if kind.split(':').next() == Some("static") && !static_lib_in(&ctx.out_dir, name) {
                Some(format!(
                    "links static library `{name}` that the script did not build in OUT_DIR (a prebuilt archive is linked into the program)"
                ))
            } else {
                None
            }
        }
        k if k.starts_with("rustc-link-arg") || k == "rustc-cdylib-link-arg" => {
            let arg = if k == "rustc-link-arg-bin" {
                v.split_once('=').map_or(v, |(_, a)| a)
            } else {
                v
            };
            link_arg(arg, ctx)
        }
        "rustc-env" => {
            let name = v.split_once('=').map_or(v, |(n, _)| n);
            if DANGEROUS_ENV.contains(&name)
                || name.starts_with("LD_")
                || name.starts_with("DYLD_")
                || name.starts_with("RUSTC_")
            {
                Some(format!(
                    "sets `{name}` for rustc and the linker: loader or tool variables change what runs during the build"
                ))
            } else {
                None
            }
        }
        _ => None,
    }
}

/// Why a link argument is worth a look, if it is.
fn link_arg(arg: &str, ctx: &Context) -> Option<String> {
    for word in arg.split([',', ' ']).filter(|w| !w.is_empty()) {
        let w = word.trim_start_matches("-Wl");
        if w.contains("rpath") || w.contains("-R") && w.starts_with("-R") {
            return Some(format!(
                "`{arg}` sets a runtime library search path (rpath)"
            ));
        }
        if w.starts_with("--wrap") || w.starts_with("-wrap") || w.starts_with("--defsym") {
            return Some(format!("`{arg}` redirects symbols at link time"));
        }
        if w == "-T"
            || w.starts_with("--script")
            || w.starts_with("-T") && w.len() > 2
            || w.ends_with(".ld")
            || w.ends_with(".lds")
        {
            return Some(format!("`{arg}` uses a linker script"));
        }
        if w.starts_with("-fuse-ld")
            || w.starts_with("-B")
            || w.starts_with("--plugin")
            || w.starts_with("-plugin")
        {
            return Some(format!(
                "`{arg}` substitutes the linker or loads a linker plugin"
            ));
        }
        if w.starts_with("--dynamic-linker") || w.starts_with("-dynamic-linker") {
            return Some(format!("`{arg}` changes the program's interpreter"));
        }
        if w.starts_with('@') {
            return Some(format!("`{arg}` reads more linker arguments from a file"));
        }
        if w.starts_with("-z") && arg.contains("execstack") {
            return Some(format!("`{arg}` makes the stack executable"));
        }
        let path = w.strip_prefix("-L").unwrap_or(w);
        if path.starts_with('/') {
            if let Some(why) = outside(path, ctx) {
                return Some(format!("link argument `{arg}` names a path {why}"));
            }
        }
    }
    None
}

/// Why `path` is outside OUT_DIR and the system library directories (None when it is inside).
fn outside(path: &str, ctx: &Context) -> Option<String> {
    let p = Path::new(path);
    let norm = normalize(p);
    let out = normalize(&ctx.out_dir);
    if !ctx.out_dir.as_os_str().is_empty() && norm.starts_with(&out) {
        return None;
    }
    if SYSTEM_LIB_DIRS.iter().any(|d| norm.starts_with(d)) {
        return None;
    }
    Some(format!(
        "`{path}` is outside OUT_DIR ({}) and the system library directories",
        ctx.out_dir.display()
    ))
}

/// `..` and `.` resolved lexically (a path need not exist to be judged).
fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// Whether `lib{name}.a` exists somewhere beneath `out_dir`.
fn static_lib_in(out_dir: &Path, name: &str) -> bool {
    let file = format!("lib{name}.a");
    let mut stack = vec![out_dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let Ok(t) = e.file_type() else { continue };
            if t.is_dir() {
                stack.push(e.path());
            } else if e.file_name().to_string_lossy() == file {
                return true;
            }
        }
    }
    false
}

/// The `rustc-env` variables among `directives`, as (name, value).
pub(super) fn rustc_env(directives: &[Directive]) -> Vec<(String, String)> {
    directives
        .iter()
        .filter(|d| d.key == "rustc-env")
        .filter_map(|d| d.value.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(dir: &Path) -> Context {
        Context {
            out_dir: dir.to_owned(),
        }
    }

    #[test]
    fn parses_like_cargo() {
        let out = b"hello\ncargo:rustc-cfg=has_x\ncargo::rustc-check-cfg=cfg(has_x)\ncargo:root=/x\n  cargo:warning=indented warning\nnot cargo:rustc-cfg=y\ncargo:rerun-if-changed=build.rs\r\n";
        let d = parse(out, &ctx(Path::new("/t/out")));
        let keys: Vec<_> = d
            .iter()
            .map(|d| (d.key.as_str(), d.value.as_str()))
            .collect();
        assert_eq!(
            keys,
            [
                ("rustc-cfg", "has_x"),
                ("rustc-check-cfg", "cfg(has_x)"),
                ("metadata", "root=/x"),
                ("warning", "indented warning"),
                ("rerun-if-changed", "build.rs"),
            ]
        );
        assert!(d.iter().all(|d| d.flagged.is_none()), "{d:#?}");
        assert!(d[1].new_syntax && !d[0].new_syntax);
        assert_eq!(d[0].line_no, 2);
    }

    #[test]
    fn flags_link_paths_outside_out_dir() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        std::fs::create_dir_all(out.join("lib")).unwrap();
        std::fs::write(out.join("lib/libz.a"), b"!<arch>\n").unwrap();
        let text = format!(
            "cargo:rustc-link-search=native={o}/lib\ncargo:rustc-link-search=native=/usr/lib/x86_64-linux-gnu\ncargo:rustc-link-lib=static=z\ncargo:rustc-link-search=native=/home/u/evil\ncargo:rustc-link-lib=static=evil\ncargo:rustc-link-search={o}/../../other/out\n",
            o = out.display()
        );
        let d = parse(text.as_bytes(), &ctx(&out));
        let flagged: Vec<_> = d
            .iter()
            .filter(|d| d.flagged.is_some())
            .map(|d| d.line_no)
            .collect();
        assert_eq!(flagged, [4, 5, 6], "{d:#?}");
    }

    #[test]
    fn flags_link_args_and_env() {
        let c = ctx(Path::new("/t/out"));
        for line in [
            "cargo:rustc-link-arg=-Wl,-rpath,/tmp/x",
            "cargo:rustc-link-arg=-Wl,--wrap=malloc",
            "cargo::rustc-link-arg-bins=-Tevil.ld",
            "cargo:rustc-link-arg=-fuse-ld=/tmp/ld",
            "cargo:rustc-env=LD_PRELOAD=/tmp/x.so",
            "cargo:rustc-env=RUSTC_WRAPPER=/tmp/w",
            "  cargo:rustc-cfg=sneaky",
        ] {
            let d = parse(line.as_bytes(), &c);
            assert!(d[0].flagged.is_some(), "{line} not flagged");
            assert_eq!(d[0].event().unwrap().decision, Decision::Flagged);
        }
        for line in [
            "cargo:rustc-link-arg=-Wl,--as-needed",
            "cargo:rustc-env=VERSION_STRING=1.2",
            "cargo:rustc-link-lib=dylib=ssl",
            "cargo:rustc-link-arg=/t/out/obj.o",
        ] {
            assert!(
                parse(line.as_bytes(), &c)[0].flagged.is_none(),
                "{line} flagged"
            );
        }
    }
}
