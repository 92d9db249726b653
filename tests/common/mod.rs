//! Helpers shared by the test targets (`integration`, `fuzz_campaign`, `fuzz_build`), each of
//! which includes this file with `#[path]`; not every target uses every helper.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The binary under test.
pub(crate) fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_cargo-airlock")
}

/// A fixture under `tests/fixtures/` (`rel` is e.g. `build`, `fuzz/planted`,
/// `sandbox/attacks.c`).
pub(crate) fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
}

/// Copies a fixture tree to `dst`, leaving out `target/` directories.
pub(crate) fn copy_tree(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).unwrap();
    for e in std::fs::read_dir(src).unwrap().flatten() {
        let to = dst.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            if e.file_name() != "target" {
                copy_tree(&e.path(), &to);
            }
        } else {
            std::fs::copy(e.path(), &to).unwrap();
        }
    }
}

/// `cargo airlock gen --no-compile` for the crate of `manifest` into `out`; panics with gen's
/// stderr if it fails.
pub(crate) fn gen_project(manifest: &Path, out: &Path) {
    let gen = Command::new(bin())
        .args(["gen", "--no-compile", "--manifest-path"])
        .arg(manifest)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap();
    assert!(
        gen.status.success(),
        "gen failed: {}",
        String::from_utf8_lossy(&gen.stderr)
    );
}
