//! Snapshot tests: `generate` on each fixture crate in `tests/fixtures/gen/`, every generated file
//! snapshotted with insta; and one end-to-end compile check of generated projects.

use std::path::{Path, PathBuf};

use harness_gen::{generate, GenOptions, TargetStatus};

fn fixture(case: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/gen")
        .join(case)
        .join("Cargo.toml")
}

/// Generates the project for `case` into a temporary directory and returns it with the summary.
fn gen(case: &str, compile_check: bool) -> (tempfile::TempDir, harness_gen::GenSummary) {
    let out = tempfile::tempdir().expect("tempdir");
    let target_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/gen-fixtures");
    let summary = generate(&GenOptions {
        manifest_path: Some(fixture(case)),
        packages: vec![],
        out_dir: out.path().to_path_buf(),
        compile_check,
        target_dir: Some(target_dir),
    })
    .unwrap_or_else(|e| panic!("gen {case}: {e}"));
    (out, summary)
}

/// All generated files (not target/), as `path` → text with the machine-specific crate path
/// redacted.
fn files(root: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).expect("read_dir").flatten() {
            let p = e.path();
            let rel = p
                .strip_prefix(root)
                .expect("under root")
                .display()
                .to_string();
            if rel == "target" || rel == "Cargo.lock" {
                continue;
            }
            if p.is_dir() {
                stack.push(p);
            } else {
                // Seeds of binary formats are not UTF-8: snapshot them lossily.
                let text = String::from_utf8_lossy(&std::fs::read(&p).expect("read")).into_owned();
                let text = text
                    .lines()
                    .map(|l| match l.find("{ path = \"") {
                        Some(i) => {
                            let rest = &l[i + 10..];
                            let end = rest.find('"').map_or(0, |e| e);
                            format!("{}{{ path = \"[crate]{}", &l[..i], &rest[end..])
                        }
                        None => l.to_string(),
                    })
                    .collect::<Vec<_>>()
                    .join("\n");
                out.push((rel, text));
            }
        }
    }
    out.sort();
    out
}

/// Every generated target is formatted as rustfmt formats it (`rustfmt --check`).
fn assert_formatted(case: &str, out: &Path) {
    let dir = out.join("fuzz_targets");
    let mut sources: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("fuzz_targets")
        .flatten()
        .map(|e| e.path())
        .collect();
    sources.sort();
    assert!(!sources.is_empty(), "{case}: no targets");
    let rustfmt = std::env::var_os("RUSTFMT").unwrap_or_else(|| "rustfmt".into());
    let output = std::process::Command::new(rustfmt)
        .args(["--check", "--edition", "2021"])
        .args(&sources)
        .output()
        .expect("rustfmt runs (install it with `rustup component add rustfmt`)");
    assert!(
        output.status.success(),
        "{case}: generated targets are not rustfmt-formatted:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn snapshot_case(case: &str) {
    let (out, summary) = gen(case, false);
    assert_formatted(case, out.path());
    for (rel, text) in files(out.path()) {
        let name = format!("{case}__{}", rel.replace(['/', '.'], "_"));
        insta::assert_snapshot!(name, text);
    }
    assert!(
        summary.warnings.is_empty(),
        "{case}: {:?}",
        summary.warnings
    );
}

#[test]
fn reexport_rename() {
    snapshot_case("reexport_rename");
}

#[test]
fn cfg_attr_feature() {
    snapshot_case("cfg_attr_feature");
}

#[test]
fn manual_visitor() {
    snapshot_case("manual_visitor");
}

#[test]
fn try_from_with() {
    snapshot_case("try_from_with");
}

#[test]
fn internally_tagged() {
    snapshot_case("internally_tagged");
}

#[test]
fn generic_alias() {
    snapshot_case("generic_alias");
}

#[test]
fn macro_generated() {
    snapshot_case("macro_generated");
}

#[test]
fn formats() {
    snapshot_case("formats");
}

#[test]
fn formats_bincode2() {
    snapshot_case("formats_bincode2");
}

#[test]
fn format_crate() {
    snapshot_case("format_crate");
}

#[test]
fn ffi_free() {
    snapshot_case("ffi_free");
}

/// Stateful parsers: a reader driven by several methods, an iterator, a constructor with an extra
/// argument, closures, and a constructor with nothing to drive.
#[test]
fn stateful() {
    snapshot_case("stateful");
}

#[test]
fn ffi_type() {
    snapshot_case("ffi_type");
}

/// The generated projects really build with `cargo build` on stable: every `built` target of
/// these fixtures stays `built` after the compile check.
#[test]
fn generated_projects_compile() {
    for case in [
        "internally_tagged",
        "ffi_type",
        "ffi_free",
        "generic_alias",
        "formats",
        "formats_bincode2",
        "macro_generated",
        "format_crate",
        "stateful",
    ] {
        let (_out, summary) = gen(case, true);
        let failed: Vec<_> = summary
            .targets
            .iter()
            .filter(|t| t.status == TargetStatus::Failed)
            .map(|t| format!("{}: {}", t.name, t.reason.as_deref().unwrap_or("")))
            .collect();
        assert!(failed.is_empty(), "{case}: {failed:#?}");
        assert!(summary.counts.built > 0, "{case}: nothing built");
    }
}

/// One target that does not compile is marked `failed` with the compiler's first error, and
/// the others still build.
#[test]
fn a_broken_target_fails_alone() {
    let (out, summary) = gen("internally_tagged", false);
    let mut records = summary.targets.clone();
    let broken = out.path().join("fuzz_targets/de_body.rs");
    let text = std::fs::read_to_string(&broken).expect("generated target");
    std::fs::write(
        &broken,
        text.replace(
            "fn one(data: &[u8]) {",
            "fn one(data: &[u8]) {\n    let _: u8 = \"not a number\";",
        ),
    )
    .expect("rewrite");
    let target_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/gen-fixtures");
    harness_gen::compile::check(out.path(), Some(&target_dir), &mut records).expect("check runs");
    let body = records
        .iter()
        .find(|r| r.name == "de_body")
        .expect("de_body");
    assert_eq!(body.status, TargetStatus::Failed);
    let reason = body.reason.as_deref().unwrap_or_default();
    assert!(
        reason.contains("error[E0308]") && reason.contains("de_body.rs"),
        "{reason}"
    );
    let message = records
        .iter()
        .find(|r| r.name == "de_message")
        .expect("de_message");
    assert_eq!(message.status, TargetStatus::Built, "{:?}", message.reason);
}
