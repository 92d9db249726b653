//! The rustc wrapper (`RUSTC_WRAPPER` points at cargo-airlock during a vetting build). For each
//! rustc invocation cargo makes, it:
//!
//! - runs rustc unchanged (by `exec`) when nothing third-party runs inside it;
//! - after linking a build script (`--crate-name build_script_build`), moves the binary into an
//!   `airlock-real/` directory and puts a launcher script in its place, so that cargo's later
//!   run of the script goes through [`super::launcher`];
//! - when the invocation loads proc macros (`--extern NAME=PATH.so`), runs rustc itself in the
//!   sandbox (phase `proc-macro`): reads limited to the crate's sources, the target directory
//!   and the toolchain; writes limited to a private output directory whose files are moved to
//!   cargo's `--out-dir` as rustc announces them (cargo's pipelining waits for the `.rmeta`)
//!   and when it exits. Incremental compilation is turned off for such invocations, since its
//!   cache is shared between crates.
//! - notes which `lib*.so` file is which proc-macro package when it compiles one.

use std::ffi::{OsStr, OsString};
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::directives;
use super::graph::Package;
use super::launcher::{cargo_variable, STRIPPED};
use super::session::{RunRecord, Session};
use super::tee::Tee;
use super::{load_profile, BuildError};
use crate::error_chain::error_chain;
use crate::events::Phase;
use crate::sandbox::{self, SandboxConfig};

/// The parts of a rustc command line the wrapper cares about.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct RustcArgs {
    pub crate_name: Option<String>,
    pub crate_types: Vec<String>,
    pub out_dir: Option<PathBuf>,
    pub extra_filename: String,
    /// `--extern` paths ending in `.so` (proc macros).
    pub proc_macros: Vec<PathBuf>,
    /// `-L` directories.
    pub search: Vec<PathBuf>,
}

impl RustcArgs {
    /// Reads the arguments (after the rustc path).
    pub(crate) fn parse(args: &[OsString]) -> RustcArgs {
        let mut out = RustcArgs::default();
        let mut i = 0;
        while i < args.len() {
            let a = args[i].to_string_lossy().into_owned();
            let next = args.get(i + 1).map(|v| v.to_string_lossy().into_owned());
            // (flag, value, arguments consumed)
            let (flag, value, step) = match a.split_once('=') {
                Some((f, v)) if f.starts_with("--") => (f.to_owned(), Some(v.to_owned()), 1),
                _ if [
                    "--crate-name",
                    "--crate-type",
                    "--out-dir",
                    "--extern",
                    "-C",
                    "-L",
                ]
                .contains(&a.as_str()) =>
                {
                    (a.clone(), next, 2)
                }
                _ if a.starts_with("-C") || a.starts_with("-L") => {
                    (a[..2].to_owned(), Some(a[2..].to_owned()), 1)
                }
                _ => (a.clone(), None, 1),
            };
            if let Some(v) = value {
                match flag.as_str() {
                    "--crate-name" => out.crate_name = Some(v),
                    "--crate-type" => out.crate_types.extend(v.split(',').map(str::to_owned)),
                    "--out-dir" => out.out_dir = Some(PathBuf::from(v)),
                    "--extern" => {
                        if let Some((_, path)) = v.split_once('=') {
                            if path.ends_with(".so") {
                                out.proc_macros.push(PathBuf::from(path));
                            }
                        }
                    }
                    "-C" => {
                        if let Some(x) = v.strip_prefix("extra-filename=") {
                            out.extra_filename = x.to_owned();
                        }
                    }
                    "-L" => {
                        let path = v.split_once('=').map_or(v.as_str(), |(_, p)| p);
                        out.search.push(PathBuf::from(path));
                    }
                    _ => {}
                }
            }
            i += step;
        }
        out
    }

    /// Whether this invocation links a build script: cargo names the crate after the script's
    /// file (`build_script_build` for `build.rs`, `build_script_main` for `build/main.rs`) and
    /// puts it in a directory of `<target>/<profile>/build/`.
    pub(super) fn is_build_script(&self) -> bool {
        self.crate_name
            .as_deref()
            .is_some_and(|n| n.starts_with("build_script_"))
            && self.crate_types.iter().any(|t| t == "bin")
            && self
                .out_dir
                .as_deref()
                .and_then(Path::parent)
                .and_then(Path::file_name)
                .is_some_and(|n| n == "build")
    }
}

/// The value of codegen option `-C name=value` (or `-Cname=value`) at position `i`.
fn codegen(args: &[OsString], i: usize, name: &str) -> Option<String> {
    let a = args.get(i)?.to_string_lossy();
    let opt = if a == "-C" {
        args.get(i + 1)?.to_string_lossy().into_owned()
    } else {
        a.strip_prefix("-C")?.to_owned()
    };
    opt.strip_prefix(name)?.strip_prefix('=').map(str::to_owned)
}

/// Entry point: `argv` is `[rustc, args..]` as cargo passed it to the wrapper.
pub fn run(argv: Vec<OsString>) -> Result<i32, BuildError> {
    let Some((rustc, args)) = argv.split_first() else {
        return Err(BuildError::Wrapper {
            reason: "called without a rustc path; cargo-airlock's rustc wrapper only runs inside `cargo airlock build`".into(),
        });
    };
    let parsed = RustcArgs::parse(args);
    let session = match Session::from_env() {
        Ok(s) => s,
        // Not inside a vetting build (or the session is gone): behave like plain rustc.
        Err(_) => return Err(exec(rustc, args, &[])),
    };
    let package = current_package(&session);
    // Loader and tool variables a build script set with `rustc-env` are flagged, and not given
    // to rustc.
    let blocked = package
        .as_ref()
        .map(|p| blocked_env(&session, p))
        .unwrap_or_default();

    if parsed.crate_types.iter().any(|t| t == "proc-macro") {
        if let (Some(name), Some(p)) = (&parsed.crate_name, &package) {
            session.note_macro(&format!("lib{name}{}.so", parsed.extra_filename), p);
        }
    }
    let mut macros: Vec<Package> = parsed
        .proc_macros
        .iter()
        .filter_map(|p| p.file_name())
        .filter_map(|f| session.macro_package(&f.to_string_lossy()).cloned())
        .collect();
    // rustc also loads the proc macros of the crates it loads, however deep (their
    // constructors run even though nothing here expands them): a compilation downstream of a
    // compiled proc macro runs sandboxed too.
    if let Some(p) = &package {
        let compiled = session.compiled_macro_ids();
        for m in session.info.graph.reachable_proc_macros(&p.id) {
            if compiled.contains(&m.id) && !macros.iter().any(|d| d.id == m.id) {
                macros.push(m.clone());
            }
        }
    }
    let code = if !macros.is_empty() {
        sandboxed(
            &session,
            rustc,
            args,
            &parsed,
            package.as_ref(),
            &macros,
            &blocked,
        )?
    } else if parsed.is_build_script() {
        let mut cmd = Command::new(rustc);
        for name in &blocked {
            cmd.env_remove(name);
        }
        cmd.args(args)
            .status()
            .map_err(|source| BuildError::WrapperStep {
                step: format!("running {}", Path::new(rustc).display()),
                source,
            })?
            .code()
            .unwrap_or(101)
    } else {
        return Err(exec(rustc, args, &blocked));
    };
    if code == 0 && parsed.is_build_script() {
        if let Some(out_dir) = &parsed.out_dir {
            let name = parsed.crate_name.as_deref().unwrap_or("build_script_build");
            install_launcher(&session, out_dir, name, &parsed.extra_filename)?;
        }
    }
    Ok(code)
}

/// Replaces this process with rustc; returns only on failure.
fn exec(rustc: &OsStr, args: &[OsString], blocked: &[String]) -> BuildError {
    let mut cmd = Command::new(rustc);
    for name in blocked {
        cmd.env_remove(name);
    }
    let source = cmd.args(args).exec();
    BuildError::WrapperStep {
        step: format!("executing {}", Path::new(rustc).display()),
        source,
    }
}

/// What a sandboxed compiler of `package` (rustc loading proc macros, rustdoc collecting doc
/// tests) sees of this process's variables: cargo's and what the crate's build script set with
/// `rustc-env` (`OUT_DIR` and `env!` values the sources need), except those in `blocked` and
/// the session's own.
pub(crate) fn compile_env(
    session: &Session,
    package: Option<&Package>,
    blocked: &[String],
) -> Vec<(OsString, OsString)> {
    let script_env: Vec<String> = package
        .map(|p| {
            session
                .records()
                .iter()
                .filter(|r| r.phase == Phase::BuildScript && r.package_ids.contains(&p.id))
                .flat_map(|r| directives::rustc_env(&r.directives))
                .map(|(k, _)| k)
                .collect()
        })
        .unwrap_or_default();
    std::env::vars_os()
        .filter(|(k, _)| {
            let k = k.to_string_lossy();
            (cargo_variable(&k) || script_env.iter().any(|s| *s == k))
                && !blocked.iter().any(|b| *b == k)
        })
        .filter(|(k, _)| !STRIPPED.iter().any(|s| k == *s))
        .collect()
}

/// The variables `package`'s build script set with a flagged `rustc-env` directive.
pub(crate) fn blocked_env(session: &Session, package: &Package) -> Vec<String> {
    session
        .records()
        .iter()
        .filter(|r| r.phase == Phase::BuildScript && r.package_ids.contains(&package.id))
        .flat_map(|r| &r.directives)
        .filter(|d| d.key == "rustc-env" && d.flagged.is_some())
        .filter_map(|d| d.value.split_once('=').map(|(k, _)| k.to_owned()))
        .collect()
}

/// The package cargo is compiling (from the variables cargo sets for rustc and rustdoc).
fn current_package(session: &Session) -> Option<Package> {
    let name = std::env::var("CARGO_PKG_NAME").ok()?;
    let version = std::env::var("CARGO_PKG_VERSION").ok()?;
    let dir = std::env::var_os("CARGO_MANIFEST_DIR")?;
    session
        .info
        .graph
        .find(&name, &version, Path::new(&dir))
        .cloned()
}

fn shell_quote(p: &Path) -> String {
    format!("'{}'", p.to_string_lossy().replace('\'', r"'\''"))
}

/// Moves the linked build script aside and writes the launcher in its place.
fn install_launcher(
    session: &Session,
    out_dir: &Path,
    crate_name: &str,
    extra: &str,
) -> Result<(), BuildError> {
    let linked = out_dir.join(format!("{crate_name}{extra}"));
    if !linked.is_file() {
        return Ok(());
    }
    let step = |what: &str, path: &Path| {
        let what = what.to_owned();
        let path = path.to_owned();
        move |source: std::io::Error| BuildError::WrapperStep {
            step: format!("{what} {}", path.display()),
            source,
        }
    };
    let real_dir = out_dir.join("airlock-real");
    fs::create_dir_all(&real_dir).map_err(step("creating", &real_dir))?;
    let real = real_dir.join("build-script-build");
    fs::rename(&linked, &real).map_err(step("moving the build script to", &real))?;
    let script = format!(
        "#!/bin/sh\n# cargo-airlock: runs the real build script in the sandbox.\nexec {} __build-script {} \"$@\"\n",
        shell_quote(&session.info.airlock_bin),
        shell_quote(&real)
    );
    fs::write(&linked, script).map_err(step("writing the launcher", &linked))?;
    fs::set_permissions(&linked, fs::Permissions::from_mode(0o755))
        .map_err(step("making the launcher executable:", &linked))?;
    Ok(())
}

/// Runs rustc in the sandbox on behalf of the proc macros it loads.
fn sandboxed(
    session: &Session,
    rustc: &OsStr,
    args: &[OsString],
    parsed: &RustcArgs,
    package: Option<&Package>,
    macros: &[Package],
    blocked: &[String],
) -> Result<i32, BuildError> {
    let out_dir = parsed.out_dir.clone().ok_or_else(|| BuildError::Wrapper {
        reason: "a rustc invocation that loads proc macros has no --out-dir".into(),
    })?;
    let private = out_dir.join(format!(
        ".airlock-{}{}",
        parsed.crate_name.as_deref().unwrap_or("crate"),
        parsed.extra_filename
    ));
    let _ = fs::remove_dir_all(&private);
    fs::create_dir_all(&private).map_err(|source| BuildError::WrapperStep {
        step: format!("creating {}", private.display()),
        source,
    })?;

    // The command line, with outputs redirected and incremental compilation off.
    let mut command = vec![rustc.to_owned()];
    let mut i = 0;
    while i < args.len() {
        let a = args[i].to_string_lossy();
        if a == "--out-dir" {
            command.push(args[i].clone());
            command.push(private.clone().into_os_string());
            i += 2;
            continue;
        }
        if a.starts_with("--out-dir=") {
            command.push(format!("--out-dir={}", private.display()).into());
            i += 1;
            continue;
        }
        if codegen(args, i, "incremental").is_some() {
            i += if a == "-C" { 2 } else { 1 };
            continue;
        }
        command.push(args[i].clone());
        i += 1;
    }

    let labels: Vec<String> = macros.iter().map(Package::label).collect();
    let label = labels.join(", ");
    let consumer = package.map(Package::label);
    let exception = macros
        .iter()
        .find_map(|m| session.exception(&m.name))
        .cloned()
        .unwrap_or_default();
    let profile_name = exception
        .profile
        .clone()
        .unwrap_or_else(|| session.info.profile.clone());
    let mut config = SandboxConfig::new(load_profile(&profile_name)?, command);
    config
        .env
        .retain(|(k, _)| !STRIPPED.iter().any(|s| k == *s));
    config.env_set = compile_env(session, package, blocked);
    if let Ok(cwd) = std::env::current_dir() {
        config.cwd = cwd;
    }
    config.phase = Phase::ProcMacro;
    config.krate = label.clone();
    config.allow_degraded = session.info.allow_degraded;
    if let Some(dir) = std::env::var_os("CARGO_MANIFEST_DIR") {
        config.extra_read.push(PathBuf::from(dir));
    }
    config.extra_read.push(session.info.build_target.clone());
    for dir in &parsed.search {
        if dir.is_absolute()
            && dir.is_dir()
            && !config.extra_read.iter().any(|r| dir.starts_with(r))
        {
            config.extra_read.push(dir.clone());
        }
    }
    config.extra_read.extend(exception.read.iter().cloned());
    config.extra_write.push(private.clone());
    config.extra_write.extend(exception.write.iter().cloned());
    config.extra_exec.extend(exception.exec.iter().cloned());
    if let Some(flags) = std::env::var_os("CARGO_MAKEFLAGS") {
        config.keep_fds = super::launcher::jobserver_fds(&flags.to_string_lossy());
    }

    let _mark = session.running(&format!(
        "{label} (expanding in {})",
        consumer.as_deref().unwrap_or("?")
    ));
    // Cargo starts dependents as soon as rustc announces the .rmeta: put it in place first.
    let (from, to) = (private.clone(), out_dir.clone());
    let rewrite = Box::new(move |line: Vec<u8>| -> Vec<u8> {
        if !line.windows(10).any(|w| w == b"\"artifact\"") {
            return line;
        }
        let text = String::from_utf8_lossy(&line).into_owned();
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(text.trim()) {
            if let Some(path) = v
                .get("artifact")
                .and_then(|a| a.as_str())
                .map(PathBuf::from)
            {
                if let (Ok(rel), Some(name)) = (path.strip_prefix(&from), path.file_name()) {
                    let dest = to.join(rel);
                    let _ = fs::copy(&path, &dest).or_else(|_| fs::copy(&path, to.join(name)));
                }
            }
        }
        text.replace(&*from.to_string_lossy(), &to.to_string_lossy())
            .into_bytes()
    });
    let tee = Tee::start(2, Some(rewrite)).map_err(|source| BuildError::WrapperStep {
        step: "capturing rustc's messages".into(),
        source,
    })?;
    let result = sandbox::run(&config);
    drop(tee.finish());
    let moved = move_outputs(&private, &out_dir);
    let _ = fs::remove_dir_all(&private);

    let mut record = RunRecord {
        consumer,
        ..RunRecord::new(
            macros.iter().map(|m| m.id.clone()).collect(),
            label.clone(),
            Phase::ProcMacro,
            // `exec-out-dir` concerns the build script only: rustc has no OUT_DIR to run from.
            exception
                .granted()
                .into_iter()
                .filter(|g| g.kind != super::config::EXEC_OUT_DIR)
                .collect(),
        )
    };
    let code = match result {
        Ok(outcome) => record.ran(outcome),
        Err(err) => record.could_not_run(&format!("rustc for the proc macros {label}"), &err),
    };
    if let Err(e) = moved {
        let e = error_chain(&e);
        eprintln!("cargo-airlock: {e}");
        record.error.get_or_insert(e);
    }
    session.write_record(&record, &private.to_string_lossy())?;
    Ok(code)
}

/// Moves every file rustc wrote into `private` to `out_dir`, rewriting dep-info paths.
fn move_outputs(private: &Path, out_dir: &Path) -> Result<(), BuildError> {
    let entries = fs::read_dir(private).map_err(|source| BuildError::WrapperStep {
        step: format!("reading {}", private.display()),
        source,
    })?;
    for entry in entries.flatten() {
        let from = entry.path();
        let to = out_dir.join(entry.file_name());
        if from.extension() == Some(OsStr::new("d")) {
            if let Ok(text) = fs::read(&from) {
                let old = private.as_os_str().as_bytes();
                let new = out_dir.as_os_str().as_bytes();
                let fixed = replace_bytes(&text, old, new);
                let _ = fs::write(&from, fixed);
            }
        }
        fs::rename(&from, &to).map_err(|source| BuildError::WrapperStep {
            step: format!("moving {} to {}", from.display(), to.display()),
            source,
        })?;
    }
    Ok(())
}

fn replace_bytes(text: &[u8], old: &[u8], new: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        if !old.is_empty() && text[i..].starts_with(old) {
            out.extend_from_slice(new);
            i += old.len();
        } else {
            out.push(text[i]);
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    #[test]
    fn reads_what_cargo_passes() {
        let a = RustcArgs::parse(&args(&[
            "--crate-name",
            "build_script_build",
            "--edition=2021",
            "build.rs",
            "--crate-type",
            "bin",
            "-C",
            "extra-filename=-abc",
            "--out-dir",
            "/t/build/x-abc",
            "-C",
            "incremental=/t/inc",
            "-L",
            "dependency=/t/deps",
            "--extern",
            "serde_derive=/t/deps/libserde_derive-1.so",
            "--extern",
            "serde=/t/deps/libserde-2.rlib",
            "-Lnative=/usr/lib",
        ]));
        assert!(a.is_build_script());
        assert_eq!(a.extra_filename, "-abc");
        assert_eq!(a.out_dir.as_deref(), Some(Path::new("/t/build/x-abc")));
        assert_eq!(
            a.proc_macros,
            [PathBuf::from("/t/deps/libserde_derive-1.so")]
        );
        assert_eq!(
            a.search,
            [PathBuf::from("/t/deps"), PathBuf::from("/usr/lib")]
        );
        let b = RustcArgs::parse(&args(&[
            "--crate-name",
            "foo",
            "--crate-type",
            "lib",
            "-Cextra-filename=-9",
        ]));
        assert!(!b.is_build_script());
        assert_eq!(b.extra_filename, "-9");
    }

    #[test]
    fn build_scripts_at_other_paths_are_recognized() {
        let main = RustcArgs::parse(&args(&[
            "--crate-name",
            "build_script_main",
            "build/main.rs",
            "--crate-type",
            "bin",
            "--out-dir",
            "/t/debug/build/openssl-sys-1",
        ]));
        assert!(main.is_build_script());
        let bin = RustcArgs::parse(&args(&[
            "--crate-name",
            "build_script_tool",
            "--crate-type",
            "bin",
            "--out-dir",
            "/t/debug/deps",
        ]));
        assert!(
            !bin.is_build_script(),
            "a bin named build_script_* is not a build script"
        );
    }

    #[test]
    fn dep_info_paths_are_rewritten() {
        assert_eq!(
            replace_bytes(b"/p/x.rmeta: src/lib.rs /p/y", b"/p", b"/out"),
            b"/out/x.rmeta: src/lib.rs /out/y"
        );
    }
}
