//! The test runner: what cargo runs instead of each test binary, doc-test program and example
//! during `cargo airlock test` (`cargo-airlock __test-runner PROGRAM ARGS..`, set as cargo's
//! `target.<host>.runner`). It runs PROGRAM in the sandbox with [`crate::runtime`] (phase
//! `test`), attributed to the package cargo names in `CARGO_PKG_NAME`/`CARGO_PKG_VERSION`/
//! `CARGO_MANIFEST_DIR` (set for doc tests too), each event's `entry` the binary's name
//! without cargo's hash, or `doctest`. Grants: the package and the target directory readable,
//! the program's directory and the target directory's profile directory executable (what
//! `CARGO_BIN_EXE_*` names), the target directory's `tmp` (`CARGO_TARGET_TMPDIR`) writable,
//! plus the sandbox's private `/tmp`. Its stdio is cargo's, so the output stays visible; its
//! exit code is the program's, so cargo sees the same pass or fail. A program that could not
//! start exits 101 with a record saying why.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::hook::TEST_TMP_SUBDIR;
use super::{record, TestError};
use crate::build::session::Session;
use crate::events::Phase;
use crate::runtime::{self, RuntimeRun, TEST_PROFILE};

/// Runs test program `program` with `args` in the sandbox; returns the exit code for cargo.
pub fn run(program: &Path, args: &[OsString]) -> Result<i32, TestError> {
    let session = Session::from_env()?;
    let settings = session
        .info
        .test
        .clone()
        .ok_or(TestError::NotATestSession)?;
    let record::TestedPackage {
        label,
        manifest_dir,
        package,
        ..
    } = record::TestedPackage::from_cargo(&session, program)?;
    let target = &session.info.build_target;
    let entry = entry_name(program);
    let _mark = session.running(&format!("{label} {entry}"));

    // The sandbox's own run directory belongs in the host's temporary directory, not in the
    // one cargo was given for rustdoc.
    match &settings.host_tmpdir {
        Some(dir) => std::env::set_var("TMPDIR", dir),
        None => std::env::remove_var("TMPDIR"),
    }
    let target_tmp = target.join("tmp");
    let _ = std::fs::create_dir_all(&target_tmp);
    let mut run = RuntimeRun::new(program, Phase::Test, &label, &manifest_dir);
    run.args = args.to_vec();
    run.entry = Some(entry.clone());
    run.cwd = std::env::current_dir().ok();
    run.read = vec![target.clone()];
    run.exec = Some(profile_dir(program, target))
        .filter(|d| d.is_dir())
        .into_iter()
        .collect();
    run.write = vec![target_tmp];
    run.timeout = Some(Duration::from_millis(settings.timeout_ms));
    run.allow_degraded = session.info.allow_degraded;
    // rustdoc's doc-test programs find themselves and their test through these.
    run.env_set = std::env::vars_os()
        .filter(|(k, _)| {
            let k = k.to_string_lossy();
            k.starts_with("RUSTDOC_DOCTEST_") || k.starts_with("UNSTABLE_RUSTDOC_TEST_")
        })
        .collect();
    run.profile = (settings.profile != TEST_PROFILE).then(|| settings.profile.clone());
    run.scan_output = true;

    let mut record = record::test_record(package.as_ref(), &label, &entry, program);
    let what = format!("the test program {} of {label}", program.display());
    let code = record::finish(&mut record, runtime::run(&run), &what);
    record::write(&session, &record, program.as_os_str(), args)?;
    Ok(code)
}

/// The name a test program is reported under: `doctest` for rustdoc's programs, else the
/// file name without cargo's `-HASH` (`it` for `tests/it.rs`).
pub(crate) fn entry_name(program: &Path) -> String {
    let in_rustdoc_dir = program
        .parent()
        .and_then(Path::file_name)
        .is_some_and(|d| d.to_string_lossy().starts_with("rustdoctest"));
    let file = program
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    if in_rustdoc_dir || file == "rust_out" {
        return "doctest".to_owned();
    }
    match file.rsplit_once('-') {
        Some((stem, hash))
            if !stem.is_empty()
                && hash.len() == 16
                && hash.bytes().all(|b| b.is_ascii_hexdigit()) =>
        {
            stem.to_owned()
        }
        _ => file,
    }
}

/// The target directory's profile directory of `program` (`<target>/debug` for
/// `<target>/debug/deps/it-HASH`, `<target>/<triple>/release` for a cross build), where the
/// binaries that `CARGO_BIN_EXE_*` names are; `<target>/debug` for programs elsewhere (doc
/// tests).
fn profile_dir(program: &Path, target: &Path) -> PathBuf {
    let Ok(rel) = program.strip_prefix(target) else {
        return target.join("debug");
    };
    let parts: Vec<_> = rel.components().collect();
    match parts.as_slice() {
        [first, ..] if first.as_os_str() == TEST_TMP_SUBDIR => target.join("debug"),
        // <profile>/deps/NAME or <profile>/examples/NAME or <profile>/NAME
        [profile, dir, _] if dir.as_os_str() == "deps" || dir.as_os_str() == "examples" => {
            target.join(profile)
        }
        [profile, _] => target.join(profile),
        // <triple>/<profile>/...
        [triple, profile, ..] => target.join(triple).join(profile),
        _ => target.join("debug"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_programs_are_named_without_their_hash() {
        let t = Path::new("/t");
        assert_eq!(entry_name(&t.join("debug/deps/it-0123456789abcdef")), "it");
        assert_eq!(
            entry_name(&t.join("debug/deps/my-crate-0123456789abcdef")),
            "my-crate"
        );
        assert_eq!(entry_name(&t.join("debug/examples/demo")), "demo");
        assert_eq!(
            entry_name(&t.join("airlock-rustdoc-tmp/rustdoctestAbC/rust_out")),
            "doctest"
        );
        assert_eq!(entry_name(Path::new("/x/rustdoctest1/other")), "doctest");
        assert_eq!(entry_name(&t.join("debug/deps/it-xyz")), "it-xyz");
    }

    #[test]
    fn the_profile_directory_holds_the_crates_binaries() {
        let t = Path::new("/t");
        let dir = |p: &str| profile_dir(&t.join(p), t);
        assert_eq!(dir("debug/deps/it-0123456789abcdef"), t.join("debug"));
        assert_eq!(dir("release/examples/demo"), t.join("release"));
        assert_eq!(
            dir("x86_64-unknown-linux-gnu/debug/deps/it-0123456789abcdef"),
            t.join("x86_64-unknown-linux-gnu/debug")
        );
        assert_eq!(
            dir("airlock-rustdoc-tmp/rustdoctestAbC/rust_out"),
            t.join("debug")
        );
        assert_eq!(
            profile_dir(Path::new("/elsewhere/rust_out"), t),
            t.join("debug")
        );
    }
}
