//! The rustdoc role: what cargo runs as `RUSTDOC` during `cargo airlock test`
//! (`cargo-airlock __rustdoc REAL ARGS..`, through a shim script in the session directory,
//! [`super::hook`]). rustdoc expands the crate's macros while it collects doc tests and
//! compiles each doc test itself, so every proc macro the crate or a doc test uses runs inside
//! rustdoc: a `rustdoc --test` runs REAL (the rustdoc cargo would have used) in the sandbox,
//! phase `test`, entry `doctest`, attributed to the package whose doc tests run (from
//! `CARGO_PKG_NAME`/`CARGO_PKG_VERSION`/`CARGO_MANIFEST_DIR`). Any other rustdoc invocation
//! (`cargo doc`, a version query) is REAL unchanged, by `exec`.
//!
//! A sandboxed process cannot start a second sandbox, so rustdoc does not hand its doc-test
//! programs to the test runner: `--test-runtool`/`--test-runtool-arg` (older: `--runtool`) are
//! dropped, and rustdoc runs the programs itself inside its own run, where the same supervisor
//! observes them. What the run may do: what a proc-macro rustc may (the package, the workspace
//! and the target directory readable, cargo's and the build script's variables) plus what a
//! test program may (the test profile's bait, the target directory's `tmp` writable, its
//! profile directory executable); its `TMPDIR` is a directory of its own under the target
//! directory from which only programs that a compiler or linker of the same run produced (the
//! doc-test programs rustdoc linked) may run. The run's exit status is rustdoc's, so cargo
//! sees the same pass or fail, and the run is one test run of the package (`doctest`).

use std::ffi::{OsStr, OsString};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::hook::TEST_TMP_SUBDIR;
use super::{record, TestError};
use crate::build::intercept::{blocked_env, compile_env, RustcArgs};
use crate::build::session::Session;
use crate::events::{Event, Kind, Phase};
use crate::runtime::{self, RuntimeRun, TEST_PROFILE};

/// The entry name of a rustdoc run (its doc tests).
const ENTRY: &str = "doctest";

/// Runs rustdoc `real` with `args` as cargo asked: in the sandbox when it runs doc tests,
/// else unchanged. Returns the exit code for cargo.
pub fn run(real: &OsStr, args: &[OsString]) -> Result<i32, TestError> {
    if !args.iter().any(|a| a == "--test") {
        let program = resolve(real).unwrap_or_else(|| real.into());
        let source = Command::new(program).args(args).exec();
        return Err(TestError::Rustdoc {
            step: format!("executing {}", Path::new(real).display()),
            source,
        });
    }
    let session = Session::from_env()?;
    let settings = session
        .info
        .test
        .clone()
        .ok_or(TestError::NotATestSession)?;
    let program = resolve(real).ok_or_else(|| TestError::Rustdoc {
        step: format!("finding {} on PATH", Path::new(real).display()),
        source: std::io::ErrorKind::NotFound.into(),
    })?;
    let record::TestedPackage {
        name,
        label,
        manifest_dir,
        package,
    } = record::TestedPackage::from_cargo(&session, &program)?;
    let target = &session.info.build_target;
    let _mark = session.running(&format!("{label} {ENTRY}"));

    let args = without_runtool(args);
    let parsed = RustcArgs::parse(&args);
    let tmp = target.join(TEST_TMP_SUBDIR).join(format!(
        "{}-{}",
        parsed.crate_name.as_deref().unwrap_or(&name),
        std::process::id()
    ));
    std::fs::create_dir_all(&tmp).map_err(|source| TestError::Rustdoc {
        step: format!("creating {}", tmp.display()),
        source,
    })?;
    let target_tmp = target.join("tmp");
    let _ = std::fs::create_dir_all(&target_tmp);
    // The sandbox's own run directory belongs in the host's temporary directory.
    match &settings.host_tmpdir {
        Some(dir) => std::env::set_var("TMPDIR", dir),
        None => std::env::remove_var("TMPDIR"),
    }

    let mut run = RuntimeRun::new(&program, Phase::Test, &label, &manifest_dir);
    run.args = args;
    run.entry = Some(ENTRY.to_owned());
    let cwd = std::env::current_dir().ok();
    run.read = vec![target.clone()];
    run.read.extend(cwd.iter().cloned());
    for dir in &parsed.search {
        if dir.is_absolute() && dir.is_dir() && !run.read.iter().any(|r| dir.starts_with(r)) {
            run.read.push(dir.clone());
        }
    }
    run.cwd = cwd;
    // The profile directories (`<target>/debug` for `-L dependency=<target>/debug/deps`),
    // where the crate's binaries are, as for a test program.
    run.exec = parsed
        .search
        .iter()
        .filter(|d| d.starts_with(target) && d.file_name().is_some_and(|f| f == "deps"))
        .filter_map(|d| d.parent().map(Path::to_owned))
        .collect();
    run.exec.dedup();
    run.write = vec![target_tmp];
    run.write_exec = vec![tmp.clone()];
    let blocked = package
        .as_ref()
        .map(|p| blocked_env(&session, p))
        .unwrap_or_default();
    run.env_set = compile_env(&session, package.as_ref(), &blocked);
    run.env_set
        .push(("TMPDIR".into(), tmp.clone().into_os_string()));
    run.timeout = Some(Duration::from_millis(settings.timeout_ms));
    run.allow_degraded = session.info.allow_degraded;
    run.profile = (settings.profile != TEST_PROFILE).then(|| settings.profile.clone());
    run.scan_output = true;

    let mut record = record::test_record(package.as_ref(), &label, ENTRY, &program);
    let ran = runtime::run(&run);
    let _ = std::fs::remove_dir_all(&tmp);
    if let Ok(outcome) = &ran {
        if outcome.termination.exit_code() == 0 && !ran_anything(&outcome.events, &tmp) {
            // No doc tests, nothing notable: no test run, as a crate without doc tests had
            // none before.
            return Ok(0);
        }
    }
    let code = record::finish(&mut record, ran, &format!("the doc tests of {label}"));
    record::write(&session, &record, program.as_os_str(), &run.args)?;
    Ok(code)
}

/// Whether a rustdoc run did anything worth a test run of its own: a notable event, or a
/// program started from its temporary directory `tmp` (a doc test ran).
fn ran_anything(events: &[Event], tmp: &Path) -> bool {
    events.iter().any(|e| {
        e.is_notable()
            || (e.kind == Kind::Exec
                && ["path", "resolved"].iter().any(|k| {
                    e.detail
                        .get(*k)
                        .and_then(|v| v.as_str())
                        .is_some_and(|p| Path::new(p).starts_with(tmp))
                }))
    })
}

/// `args` without rustdoc's runtool options (`--test-runtool T`, `--test-runtool-arg A`, the
/// older `--runtool`/`--runtool-arg`, and their `=` forms): rustdoc runs the doc-test
/// programs itself, inside its sandboxed run.
fn without_runtool(args: &[OsString]) -> Vec<OsString> {
    const OPTIONS: [&str; 4] = [
        "--test-runtool",
        "--test-runtool-arg",
        "--runtool",
        "--runtool-arg",
    ];
    let mut out = Vec::with_capacity(args.len());
    let mut i = 0;
    while i < args.len() {
        let a = args[i].to_string_lossy();
        if OPTIONS.contains(&a.as_ref()) {
            i += 2;
            continue;
        }
        if OPTIONS
            .iter()
            .any(|o| a.strip_prefix(o).is_some_and(|rest| rest.starts_with('=')))
        {
            i += 1;
            continue;
        }
        out.push(args[i].clone());
        i += 1;
    }
    out
}

/// Where rustdoc `name` is: a path as given; a bare name under rustup (cargo's children have
/// `RUSTUP_HOME` and `RUSTUP_TOOLCHAIN`) the toolchain's own copy, which is what cargo itself
/// runs and what rustup's proxy on PATH would start after resolving the same toolchain (the
/// proxy inside the sandbox cost every doc-test run some 8 ms of CPU and 25 ms of wall time);
/// else the first on PATH.
fn resolve(name: &OsStr) -> Option<PathBuf> {
    let path = Path::new(name);
    if path.components().count() > 1 {
        return Some(std::path::absolute(path).unwrap_or_else(|_| path.to_owned()));
    }
    let toolchain = std::env::var_os("RUSTUP_TOOLCHAIN").filter(|t| !t.is_empty());
    let home = std::env::var_os("RUSTUP_HOME").filter(|h| !h.is_empty());
    if let (Some(toolchain), Some(home)) = (toolchain, home) {
        // A custom toolchain may be named by its directory.
        let dir = if Path::new(&toolchain).is_absolute() {
            PathBuf::from(toolchain)
        } else {
            Path::new(&home).join("toolchains").join(toolchain)
        };
        let direct = dir.join("bin").join(name);
        if direct.is_file() {
            return Some(direct);
        }
    }
    let search = std::env::var_os("PATH")?;
    std::env::split_paths(&search)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    #[test]
    fn the_runtool_options_are_dropped_and_nothing_else() {
        let args = os(&[
            "--crate-name",
            "p",
            "--test",
            "src/lib.rs",
            "--test-runtool",
            "/bin/cargo-airlock",
            "--test-runtool-arg",
            "__test-runner",
            "--runtool=x",
            "--runtool-arg",
            "y",
            "--test-args",
            "--quiet",
        ]);
        assert_eq!(
            without_runtool(&args),
            os(&[
                "--crate-name",
                "p",
                "--test",
                "src/lib.rs",
                "--test-args",
                "--quiet"
            ])
        );
    }

    #[test]
    fn a_bare_name_is_found_on_path() {
        assert_eq!(
            resolve(OsStr::new("/x/rustdoc")),
            Some(PathBuf::from("/x/rustdoc"))
        );
        let sh = resolve(OsStr::new("sh")).expect("sh on PATH");
        assert!(sh.is_absolute() && sh.ends_with("sh"), "{}", sh.display());
        assert_eq!(resolve(OsStr::new("no-such-program-airlock")), None);
    }

    #[test]
    fn a_run_without_doc_tests_or_findings_did_nothing() {
        let tmp = Path::new("/t/airlock-rustdoc-tmp/p-1");
        let exec = |path: &str| {
            Event::new(Kind::Exec, "exec", crate::events::Decision::Allowed).with("path", path)
        };
        assert!(!ran_anything(&[exec("/usr/bin/rustdoc")], tmp));
        assert!(ran_anything(
            &[exec("/t/airlock-rustdoc-tmp/p-1/rustdoctestX/rust_out")],
            tmp
        ));
        let denied = Event::new(Kind::Net, "connect", crate::events::Decision::Denied);
        assert!(ran_anything(&[denied], tmp));
    }
}
