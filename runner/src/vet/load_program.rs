//! vet's load program: a program that links the vetted crate, and what its build script links,
//! and does nothing else, so that running it fires the static constructors a real program
//! that depends on the crate would run before `main`.
//!
//! What the linker keeps decides what fires, so the program is linked on purpose:
//! - `extern crate LIB;` puts the crate into the program's crate graph. rustc then keeps every
//!   `#[used]` static of its rlib (Rust constructors: `#[link_section = ".init_array"]`
//!   statics, the `ctor` crate) through the synthetic object it adds to every link. A
//!   dependency declared but never named would not be linked at all.
//! - A static library the crate's build script builds (`cargo:rustc-link-lib=static=NAME`)
//!   contributes only the archive members something references: a C file holding nothing but
//!   an `__attribute__((constructor))` would be dropped. Its archives (those in the build's
//!   target directory, read from the directives cargo recorded in `build/*/output`) are passed
//!   again between `--whole-archive` and `--no-whole-archive`, with
//!   `--allow-multiple-definition` for the members the ordinary link already pulled in.
//!   When that link fails (a member needs a library the crate never links), the program is
//!   linked as a dependent would link it, and the note says which constructors may be missed.
//!
//! The program is compiled against the build phase's artifacts (the rlibs in
//! `<target>/airlock/build-target/debug/deps`, found through cargo's dep-info so that the
//! vetted version is the one linked). rustc runs in the sandbox too: loading an rlib loads the
//! crates it depends on, and rustc `dlopen`s the proc macros among them, whose static
//! constructors then run inside rustc.

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The program's source: the crate linked, nothing run (a raw identifier, so that a library
/// named like a keyword links too).
fn source(lib: &str) -> String {
    format!(
        "// Written by `cargo airlock vet`: a program that links the vetted crate and starts, so\n\
         // that its static constructors run (the `load` phase).\n\
         extern crate r#{lib};\n\nfn main() {{}}\n"
    )
}

/// Why no load program could be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum LoadError {
    /// The build phase left no rlib of the crate.
    #[error(
        "the build phase left no library of {name} in {} (did it compile?)",
        deps.display()
    )]
    NoRlib {
        /// The package name.
        name: String,
        /// The directory searched.
        deps: PathBuf,
    },
    /// A file of the program could not be written.
    #[error("cannot write {}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// rustc could not be started.
    #[error("cannot run `{rustc}`")]
    Rustc {
        /// The compiler.
        rustc: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// rustc did not say where its sysroot is.
    #[error("`{rustc} --print sysroot` did not name a compiler")]
    Sysroot {
        /// The compiler asked.
        rustc: String,
    },
    /// The sandboxed rustc could not run.
    #[error("cannot run rustc in the sandbox")]
    Sandbox {
        /// Why.
        #[source]
        source: crate::runtime::RuntimeError,
    },
    /// rustc ran and the program did not link.
    #[error("the load program did not link: {errors}")]
    Link {
        /// rustc's first error lines.
        errors: String,
    },
}

/// What a crate offers to link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Library {
    /// A library target, by its crate name (`my_crate`).
    Lib(String),
    /// A proc macro: it runs in the compiler, never in a program.
    ProcMacro,
    /// No Rust library (binaries only, or only a C-compatible library).
    None,
}

/// The library target of the package in `dir` named `package`, read from its manifest (a
/// published manifest names it; else cargo's default: `src/lib.rs`, the name with `_`).
pub(crate) fn library(dir: &Path, package: &str) -> Library {
    let manifest: Option<toml::Table> = fs::read_to_string(dir.join("Cargo.toml"))
        .ok()
        .and_then(|t| toml::from_str(&t).ok());
    let lib = manifest.as_ref().and_then(|m| m.get("lib"));
    let flag = |key: &str| {
        lib.and_then(|l| l.get(key))
            .and_then(toml::Value::as_bool)
            .unwrap_or(false)
    };
    if flag("proc-macro") || flag("proc_macro") {
        return Library::ProcMacro;
    }
    // `crate-type = ["cdylib"]` alone: no rlib for a Rust program to link.
    let types = lib
        .and_then(|l| l.get("crate-type").or_else(|| l.get("crate_type")))
        .and_then(toml::Value::as_array);
    if let Some(types) = types {
        let rust = ["lib", "rlib", "dylib"];
        if !types
            .iter()
            .any(|t| t.as_str().is_some_and(|t| rust.contains(&t)))
        {
            return Library::None;
        }
    }
    let declared = lib.is_some();
    let autolib = manifest
        .as_ref()
        .and_then(|m| m.get("package"))
        .and_then(|p| p.get("autolib"))
        .and_then(toml::Value::as_bool)
        .unwrap_or(true);
    let discovered = autolib && dir.join("src/lib.rs").is_file();
    if !(declared || discovered) {
        return Library::None;
    }
    let name = lib
        .and_then(|l| l.get("name"))
        .and_then(toml::Value::as_str)
        .map_or_else(|| package.replace('-', "_"), str::to_owned);
    Library::Lib(name)
}

/// The build phase's artifacts a load program of one crate links.
#[derive(Debug, Clone)]
pub(crate) struct Artifacts {
    /// `<target>/debug/deps`: every rlib of the graph.
    pub deps: PathBuf,
    /// The crate's rlib.
    pub rlib: PathBuf,
    /// Every native search path the graph's build scripts printed (as cargo passes them to
    /// every dependent), with its kind (`native=`, `all=`, ...).
    pub search: Vec<String>,
    /// Directories among those that hold dynamic libraries (for the loader at run time).
    pub dylib_dirs: Vec<PathBuf>,
    /// The static libraries the crate's own build script built and linked.
    pub static_libs: Vec<PathBuf>,
}

/// Finds the artifacts of `name` `version` (library `lib`) under `profile_dir`
/// (`<target>/debug` of the build phase).
pub(crate) fn artifacts(
    profile_dir: &Path,
    name: &str,
    version: &str,
    lib: &str,
) -> Result<Artifacts, LoadError> {
    let deps = profile_dir.join("deps");
    let rlib = find_rlib(&deps, name, version, lib).ok_or_else(|| LoadError::NoRlib {
        name: name.to_owned(),
        deps: deps.clone(),
    })?;
    let mut search = Vec::new();
    let mut dylib_dirs = Vec::new();
    let mut static_libs = Vec::new();
    let builds = fs::read_dir(profile_dir.join("build"))
        .into_iter()
        .flatten()
        .flatten();
    for entry in builds {
        let Ok(output) = fs::read_to_string(entry.path().join("output")) else {
            continue;
        };
        let directives = parse_directives(&output);
        for (kind, dir) in &directives.search {
            let arg = format!("{kind}={}", dir.display());
            if !search.contains(&arg) {
                search.push(arg);
            }
            let has_dylib = fs::read_dir(dir)
                .into_iter()
                .flatten()
                .flatten()
                .any(|e| e.file_name().to_string_lossy().contains(".so"));
            if has_dylib && dir.starts_with(profile_dir) && !dylib_dirs.contains(dir) {
                dylib_dirs.push(dir.clone());
            }
        }
        if !is_build_dir_of(&entry.file_name().to_string_lossy(), name) {
            continue;
        }
        for (kind, lib_name) in &directives.libs {
            if !matches!(kind.as_deref(), None | Some("static")) {
                continue;
            }
            let file = format!("lib{lib_name}.a");
            let found = directives
                .search
                .iter()
                .map(|(_, dir)| dir.join(&file))
                .find(|p| p.is_file());
            // Only archives the build made: a system library is linked as any program links it.
            if let Some(a) = found.filter(|p| p.starts_with(profile_dir)) {
                let shared = a.with_file_name(format!("lib{lib_name}.so"));
                if (kind.is_some() || !shared.exists()) && !static_libs.contains(&a) {
                    static_libs.push(a);
                }
            }
        }
    }
    Ok(Artifacts {
        deps,
        rlib,
        search,
        dylib_dirs,
        static_libs,
    })
}

/// Whether `dir` (a directory name under `build/`) is one of package `name`'s:
/// `NAME-<16 hex digits>`.
fn is_build_dir_of(dir: &str, name: &str) -> bool {
    dir.strip_prefix(name)
        .and_then(|rest| rest.strip_prefix('-'))
        .is_some_and(|hash| hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The rlib of `lib` in `deps` built from `name-version`: cargo's dep-info (`LIB-HASH.d`)
/// lists the sources each rlib was built from, whose paths hold `name-version/` for a registry
/// crate. Failing that, the only `libLIB-*.rlib` there is.
fn find_rlib(deps: &Path, name: &str, version: &str, lib: &str) -> Option<PathBuf> {
    let prefix = format!("lib{lib}-");
    let candidates: Vec<PathBuf> = fs::read_dir(deps)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.extension().is_some_and(|e| e == "rlib")
                && p.file_name()
                    .is_some_and(|f| f.to_string_lossy().starts_with(&prefix))
        })
        .collect();
    let marker = format!("{name}-{version}/");
    let built_from_it = |rlib: &Path| {
        let stem = rlib.file_stem()?.to_string_lossy().into_owned();
        let info =
            fs::read_to_string(deps.join(format!("{}.d", stem.strip_prefix("lib")?))).ok()?;
        Some(info.contains(&marker))
    };
    candidates
        .iter()
        .find(|p| built_from_it(p) == Some(true))
        .cloned()
        .or_else(|| match candidates.as_slice() {
            [only] => Some(only.clone()),
            _ => None,
        })
}

/// The link directives of one build script's output, as cargo reads them.
#[derive(Debug, Default, PartialEq, Eq)]
struct LinkDirectives {
    /// `rustc-link-search=[KIND=]PATH`: (kind, path); kind `all` when none.
    search: Vec<(String, PathBuf)>,
    /// `rustc-link-lib=[KIND[:MODIFIERS]=]NAME[:RENAME]`: (kind, name).
    libs: Vec<(Option<String>, String)>,
}

fn parse_directives(output: &str) -> LinkDirectives {
    let mut d = LinkDirectives::default();
    for line in output.lines().map(str::trim) {
        let Some(rest) = line
            .strip_prefix("cargo::")
            .or_else(|| line.strip_prefix("cargo:"))
        else {
            continue;
        };
        let Some((key, value)) = rest.split_once('=') else {
            continue;
        };
        match key {
            "rustc-link-search" => {
                let (kind, path) = match value.split_once('=') {
                    Some((k, p)) => (k.to_owned(), p),
                    None => ("all".to_owned(), value),
                };
                d.search.push((kind, PathBuf::from(path)));
            }
            "rustc-link-lib" => {
                let (kind, lib) = match value.split_once('=') {
                    Some((k, l)) => (Some(k.split(':').next().unwrap_or(k).to_owned()), l),
                    None => (None, value),
                };
                let lib = lib.split(':').next().unwrap_or(lib);
                d.libs.push((kind, lib.to_owned()));
            }
            _ => {}
        }
    }
    d
}

/// A load program, linked.
#[derive(Debug, Clone)]
pub(crate) struct LoadProgram {
    /// The executable.
    pub binary: PathBuf,
    /// The static libraries linked whole.
    pub whole: Vec<PathBuf>,
    /// What the link could not do (the archives could not be linked whole).
    pub note: Option<String>,
}

/// How one rustc invocation ended: whether it succeeded, and its messages (stderr).
#[derive(Debug, Clone)]
pub(crate) struct Compiled {
    /// rustc exited 0.
    pub success: bool,
    /// What it printed on stderr.
    pub stderr: String,
}

/// Where the load program lives under `dir`: its source, and the directory its executable is
/// linked into.
pub(crate) fn layout(dir: &Path) -> (PathBuf, PathBuf) {
    (dir.join("load.rs"), dir.join("bin"))
}

/// rustc's arguments to link the program `src` of `lib` into `binary` from `artifacts`, with
/// the archives `whole` linked whole.
fn rustc_args(
    src: &Path,
    binary: &Path,
    lib: &str,
    artifacts: &Artifacts,
    whole: &[PathBuf],
) -> Vec<OsString> {
    let mut args: Vec<OsString> = [
        "--edition",
        "2021",
        "--crate-type",
        "bin",
        "--crate-name",
        "airlock_load",
        "-C",
        "debuginfo=0",
    ]
    .iter()
    .map(OsString::from)
    .collect();
    args.push(src.into());
    args.push("-o".into());
    args.push(binary.into());
    args.push("-L".into());
    args.push(format!("dependency={}", artifacts.deps.display()).into());
    args.push("--extern".into());
    args.push(format!("{lib}={}", artifacts.rlib.display()).into());
    for s in &artifacts.search {
        args.push("-L".into());
        args.push(s.into());
    }
    if !whole.is_empty() {
        // A member the ordinary link pulled in is pulled in again: the first copy wins.
        for a in [
            "link-arg=-Wl,--allow-multiple-definition".to_owned(),
            "link-arg=-Wl,--whole-archive".to_owned(),
        ]
        .into_iter()
        .chain(whole.iter().map(|a| format!("link-arg={}", a.display())))
        .chain(["link-arg=-Wl,--no-whole-archive".to_owned()])
        {
            args.push("-C".into());
            args.push(a.into());
        }
    }
    args
}

/// Writes the load program of `lib` into `dir` (see [`layout`]) and links it from
/// `artifacts`; `rustc` runs one rustc invocation with the arguments given (in the sandbox:
/// loading the crate's rlib loads its dependencies, proc macros included, whose static
/// constructors run inside rustc).
pub(crate) fn link(
    dir: &Path,
    lib: &str,
    artifacts: &Artifacts,
    rustc: &mut dyn FnMut(&[OsString]) -> Result<Compiled, LoadError>,
) -> Result<LoadProgram, LoadError> {
    let (src, bin_dir) = layout(dir);
    let write = |path: &Path, r: std::io::Result<()>| {
        r.map_err(|source| LoadError::Write {
            path: path.to_owned(),
            source,
        })
    };
    write(&bin_dir, fs::create_dir_all(&bin_dir))?;
    write(&src, fs::write(&src, source(lib)))?;
    let binary = bin_dir.join("airlock-load");
    let mut attempt = |whole: &[PathBuf]| -> Result<(), LoadError> {
        let out = rustc(&rustc_args(&src, &binary, lib, artifacts, whole))?;
        if out.success {
            return Ok(());
        }
        let errors = link_errors(&out.stderr);
        Err(LoadError::Link {
            errors: if errors.is_empty() {
                "rustc failed and said nothing".to_owned()
            } else {
                errors.join("; ")
            },
        })
    };
    match attempt(&artifacts.static_libs) {
        Ok(()) => Ok(LoadProgram {
            binary,
            whole: artifacts.static_libs.clone(),
            note: None,
        }),
        Err(LoadError::Link { errors }) if !artifacts.static_libs.is_empty() => {
            attempt(&[])?;
            Ok(LoadProgram {
                binary,
                whole: Vec::new(),
                note: Some(format!(
                    "the build script's static libraries could not be linked whole ({errors}): \
                     constructors in their unreferenced members did not run"
                )),
            })
        }
        Err(e) => Err(e),
    }
}

/// The lines of rustc's output that say why a link failed: its errors, and the linker's own
/// words (rustc prints them as notes), at most six.
fn link_errors(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .map(|l| l.trim().trim_start_matches("= note:").trim())
        .filter(|l| {
            (l.starts_with("error") && !l.starts_with("error: aborting"))
                || l.contains("ld: ")
                || l.contains("undefined reference")
        })
        .take(6)
        .collect()
}

/// The compiler itself (not a rustup proxy, which would need rustup's state inside the
/// sandbox): `<sysroot>/bin/rustc` of the compiler cargo uses (`$RUSTC`, else `rustc`), asked
/// from `dir` so that a toolchain file there is honoured. Printing the sysroot loads no crate.
pub(crate) fn real_rustc(dir: &Path) -> Result<PathBuf, LoadError> {
    let rustc = std::env::var_os("RUSTC")
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| "rustc".into());
    let shown = Path::new(&rustc).display().to_string();
    let out = Command::new(&rustc)
        .args(["--print", "sysroot"])
        .current_dir(dir)
        .output()
        .map_err(|source| LoadError::Rustc {
            rustc: shown.clone(),
            source,
        })?;
    let sysroot = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let real = Path::new(&sysroot).join("bin/rustc");
    if out.status.success() && real.is_file() {
        Ok(real)
    } else {
        Err(LoadError::Sysroot { rustc: shown })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_directives_parse_as_cargo_reads_them() {
        let d = parse_directives(
            "cargo:rustc-link-search=native=/t/out\n  cargo::rustc-link-lib=static:+whole-archive=ctor\n\
             cargo:rustc-link-lib=z\ncargo:rustc-link-search=/x\ncargo:rerun-if-changed=a.c\n\
             cargo:rustc-link-lib=dylib=ssl:ssl3\n",
        );
        assert_eq!(
            d.search,
            [
                ("native".to_owned(), PathBuf::from("/t/out")),
                ("all".to_owned(), PathBuf::from("/x"))
            ]
        );
        assert_eq!(
            d.libs,
            [
                (Some("static".to_owned()), "ctor".to_owned()),
                (None, "z".to_owned()),
                (Some("dylib".to_owned()), "ssl".to_owned())
            ]
        );
    }

    #[test]
    fn link_errors_keep_the_linkers_words() {
        let stderr = "error: linking with `cc` failed: exit status: 1\n  |\n  = note: \"cc\" \"-m64\"\n                        = note: /usr/bin/ld: cannot find -lgone: No such file or directory\n                                = note: rust-lld: error: unable to find library -lother\n          \
                      collect2: error: ld returned 1 exit status\n\nerror: aborting due to 1 previous error\n";
        assert_eq!(
            link_errors(stderr),
            [
                "error: linking with `cc` failed: exit status: 1",
                "/usr/bin/ld: cannot find -lgone: No such file or directory",
                "rust-lld: error: unable to find library -lother",
            ]
        );
    }

    #[test]
    fn the_library_is_read_from_the_manifest() {
        let dir = tempfile::tempdir().unwrap();
        let manifest = |text: &str| fs::write(dir.path().join("Cargo.toml"), text).unwrap();
        manifest("[package]\nname = \"my-crate\"\n");
        assert_eq!(library(dir.path(), "my-crate"), Library::None);
        fs::create_dir(dir.path().join("src")).unwrap();
        fs::write(dir.path().join("src/lib.rs"), "").unwrap();
        assert_eq!(
            library(dir.path(), "my-crate"),
            Library::Lib("my_crate".into())
        );
        manifest("[package]\nname = \"my-crate\"\n[lib]\nname = \"other\"\npath = \"x.rs\"\n");
        assert_eq!(
            library(dir.path(), "my-crate"),
            Library::Lib("other".into())
        );
        manifest("[package]\nname = \"m\"\n[lib]\nproc-macro = true\n");
        assert_eq!(library(dir.path(), "m"), Library::ProcMacro);
        manifest("[package]\nname = \"m\"\n[lib]\ncrate-type = [\"cdylib\"]\n");
        assert_eq!(library(dir.path(), "m"), Library::None);
        manifest("[package]\nname = \"m\"\n[lib]\ncrate-type = [\"cdylib\", \"rlib\"]\n");
        assert_eq!(library(dir.path(), "m"), Library::Lib("m".into()));
    }

    #[test]
    fn the_rlib_of_the_vetted_version_is_found_through_dep_info() {
        let dir = tempfile::tempdir().unwrap();
        let deps = dir.path();
        for (hash, version) in [("1111222233334444", "1.0.0"), ("aaaabbbbccccdddd", "2.0.0")] {
            fs::write(deps.join(format!("libfoo-{hash}.rlib")), "").unwrap();
            fs::write(
                deps.join(format!("foo-{hash}.d")),
                format!("/r/foo-{version}/src/lib.rs:\n"),
            )
            .unwrap();
        }
        assert_eq!(
            find_rlib(deps, "foo", "2.0.0", "foo"),
            Some(deps.join("libfoo-aaaabbbbccccdddd.rlib"))
        );
        assert_eq!(find_rlib(deps, "foo", "3.0.0", "foo"), None, "ambiguous");
        assert_eq!(find_rlib(deps, "bar", "1.0.0", "bar"), None);
        assert!(is_build_dir_of("foo-46084d4c8e36e6e1", "foo"));
        assert!(!is_build_dir_of("foo-bar-46084d4c8e36e6e1", "foo"));
    }
}
