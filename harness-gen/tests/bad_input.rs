//! Bad input: no manifest, no library, an unknown package and an unparsable crate root are
//! errors naming the input (the CLI turns them into exit code 2); an unparsable or missing module
//! file is skipped with a warning while the rest of the crate is still analysed.

use std::path::{Path, PathBuf};

use harness_gen::{generate, GenError, GenOptions, TargetStatus};

fn fixture(case: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/gen")
        .join(case)
        .join("Cargo.toml")
}

fn run(
    manifest: PathBuf,
    packages: &[&str],
) -> (tempfile::TempDir, Result<harness_gen::GenSummary, GenError>) {
    let out = tempfile::tempdir().expect("tempdir");
    let r = generate(&GenOptions {
        manifest_path: Some(manifest),
        packages: packages.iter().map(|s| s.to_string()).collect(),
        out_dir: out.path().join("fuzz"),
        compile_check: false,
        target_dir: None,
    });
    (out, r)
}

#[test]
fn no_manifest() {
    let (_d, r) = run(PathBuf::from("/nonexistent/airlock/Cargo.toml"), &[]);
    let err = r.expect_err("no manifest is an error");
    assert!(matches!(err, GenError::Metadata { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("/nonexistent/airlock/Cargo.toml"), "{msg}");
}

#[test]
fn package_without_library() {
    let (_d, r) = run(fixture("bad_no_lib"), &[]);
    let err = r.expect_err("a binary-only package is an error");
    assert!(
        matches!(err, GenError::NoLibrary { ref name, .. } if name == "bad_no_lib"),
        "{err:?}"
    );
    assert!(err.to_string().contains("has no library target"), "{err}");
}

#[test]
fn unknown_package() {
    let (_d, r) = run(fixture("bad_module"), &["no-such-crate"]);
    let err = r.expect_err("unknown -p is an error");
    assert!(
        matches!(err, GenError::UnknownPackage { ref name, .. } if name == "no-such-crate"),
        "{err:?}"
    );
}

#[test]
fn a_misspelt_package_gets_the_closest_names() {
    let (_d, r) = run(fixture("bad_module"), &["bad_modul"]);
    let err = r.expect_err("unknown -p is an error").to_string();
    assert!(err.contains("did you mean `bad_module`?"), "{err}");
    let (_d, r) = run(fixture("bad_module"), &["serd"]);
    let err = r.expect_err("unknown -p is an error").to_string();
    assert!(err.contains("did you mean `serde`"), "{err}");
}

#[test]
fn a_version_the_graph_lacks_names_the_versions_it_has() {
    let (_d, r) = run(fixture("bad_module"), &["bad_module@9.9.9"]);
    let err = r.expect_err("unknown version is an error");
    let GenError::UnknownPackage { versions, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(versions, &["0.1.0"]);
    assert!(
        err.to_string().contains("the graph has `bad_module@0.1.0`"),
        "{err}"
    );
}

#[test]
fn a_stranger_says_a_project_depending_on_it_is_needed() {
    let (_d, r) = run(fixture("bad_module"), &["zzzzqqqq"]);
    let err = r.expect_err("unknown -p is an error").to_string();
    assert!(
        err.contains("needs a project that depends on the crate"),
        "{err}"
    );
}

#[test]
fn unparsable_crate_root() {
    let (_d, r) = run(fixture("bad_root"), &[]);
    let err = r.expect_err("an unparsable root is an error");
    let GenError::ParseSource { path, line, .. } = &err else {
        panic!("{err:?}")
    };
    assert!(path.ends_with("bad_root/src/lib.rs"), "{path:?}");
    assert!(*line >= 2, "line {line}");
    assert!(err.to_string().contains("does not parse as Rust"), "{err}");
}

#[test]
fn unparsable_and_missing_modules_are_skipped() {
    let (_d, r) = run(fixture("bad_module"), &[]);
    let summary = r.expect("the rest of the crate is analysed");
    assert_eq!(summary.warnings.len(), 2, "{:#?}", summary.warnings);
    assert!(
        summary
            .warnings
            .iter()
            .any(|w| w.contains("broken.rs") && w.contains("does not parse")),
        "{:#?}",
        summary.warnings
    );
    assert!(
        summary
            .warnings
            .iter()
            .any(|w| w.contains("missing") && w.contains("has no file")),
        "{:#?}",
        summary.warnings
    );
    let good: Vec<_> = summary
        .targets
        .iter()
        .filter(|t| t.item == "bad_module::Good")
        .collect();
    // Its byte-level target and its shaped one.
    assert_eq!(good.len(), 2, "{good:#?}");
    assert!(good.iter().all(|t| t.status == TargetStatus::Generated));
}

#[test]
fn default_selection_passes_over_binaries() {
    let (_d, r) = run(fixture("workspace"), &[]);
    let summary = r.expect("the library member is analysed");
    assert_eq!(summary.packages.len(), 1);
    assert_eq!(summary.packages[0].0, "lib_member");
    assert!(
        summary
            .warnings
            .iter()
            .any(|w| w.contains("bin_member") && w.contains("no library")),
        "{:#?}",
        summary.warnings
    );
    let source = std::fs::read_to_string(summary.out_dir.join("fuzz_targets/de_request.rs"))
        .expect("target");
    assert!(
        source.contains("No round-trip equality check: `Option<Option<_>>`"),
        "{source}"
    );
}

/// `-p` may name several packages, dependencies included (sources from the registry cache);
/// target names then carry the crate's name.
#[test]
fn several_packages_including_a_registry_dependency() {
    let (_d, r) = run(fixture("workspace"), &["lib_member", "serde_json"]);
    let summary = r.expect("both packages are analysed");
    let names: Vec<&str> = summary.packages.iter().map(|p| p.0.as_str()).collect();
    assert_eq!(names, ["lib_member", "serde_json"]);
    assert!(
        summary
            .targets
            .iter()
            .any(|t| t.name == "lib_member_de_request"),
        "{:#?}",
        summary.targets
    );
    assert!(
        summary
            .targets
            .iter()
            .any(|t| t.package == "serde_json" && t.name.starts_with("serde_json_de_")),
        "{:#?}",
        summary.targets
    );
    let toml = std::fs::read_to_string(summary.out_dir.join("Cargo.toml")).expect("Cargo.toml");
    assert!(
        toml.contains("lib_member = { path = ") && toml.contains("serde_json = { version = \"="),
        "{toml}"
    );
}

/// The error and its causes, as the CLI prints them with `{:#}`.
fn chain(err: &GenError) -> Vec<String> {
    let mut out = vec![err.to_string()];
    let mut cause = std::error::Error::source(err);
    while let Some(c) = cause {
        out.push(c.to_string());
        cause = c.source();
    }
    out
}

/// No error prints its cause in its own message and again as its source.
#[test]
fn errors_say_their_cause_once() {
    let (_d, r) = run(fixture("bad_root"), &[]);
    let parse = chain(&r.expect_err("an unparsable root is an error"));
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("a-file");
    std::fs::write(&file, "").expect("write");
    let write = generate(&GenOptions {
        manifest_path: Some(fixture("internally_tagged")),
        packages: vec![],
        out_dir: file.join("fuzz"),
        compile_check: false,
        target_dir: None,
    })
    .expect_err("a project under a regular file cannot be written");
    assert!(matches!(write, GenError::Write { .. }), "{write:?}");
    let write = chain(&write);
    for c in [parse, write] {
        assert!(c.len() >= 2, "the cause is a source: {c:?}");
        for (i, outer) in c.iter().enumerate() {
            for inner in &c[i + 1..] {
                assert!(!outer.contains(inner.as_str()), "repeated: {c:?}");
            }
        }
    }
}
