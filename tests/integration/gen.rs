//! `cargo airlock gen` as a new user meets it: `--no-compile` says its targets are generated,
//! not built; `-p` with a misspelt name or a version the graph lacks names what the graph has;
//! and `report --help` names only the commands that write reports.

use std::process::Command;

use serde_json::Value;

use crate::common::{copy_tree, fixture};
use crate::support::bin;

fn airlock(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(bin()).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn gen_without_the_compile_check_writes_generated_targets() {
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("crate");
    copy_tree(&fixture("gen/internally_tagged"), &ws);
    let out = dir.path().join("fuzz");
    let manifest = ws.join("Cargo.toml");
    let (code, _, err) = airlock(&[
        "gen",
        "--no-compile",
        "--manifest-path",
        manifest.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let targets: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("targets.json")).unwrap()).unwrap();
    let statuses: Vec<&str> = targets
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["status"] != "skipped")
        .map(|t| t["status"].as_str().unwrap())
        .collect();
    assert!(!statuses.is_empty(), "{targets:#}");
    assert!(statuses.iter().all(|s| *s == "generated"), "{targets:#}");
    let line = format!("gen: {} generated (not compiled", statuses.len());
    assert!(err.contains(&line), "{err}");
    assert!(!err.contains(" built"), "{err}");
}

#[test]
fn gen_p_names_the_closest_packages_and_the_versions_the_graph_has() {
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("crate");
    copy_tree(&fixture("gen/bad_module"), &ws);
    let manifest = ws.join("Cargo.toml");
    let manifest = manifest.to_str().unwrap();
    let out = dir.path().join("fuzz");
    let out = out.to_str().unwrap();
    let gen = |p: &str| {
        airlock(&[
            "gen",
            "--no-compile",
            "--manifest-path",
            manifest,
            "--out",
            out,
            "-p",
            p,
        ])
    };

    let (code, _, err) = gen("serdde");
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("did you mean `serde`?"), "{err}");

    let (code, _, err) = gen("bad_module@7.0.0");
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("the graph has `bad_module@0.1.0`"), "{err}");

    let (code, _, err) = gen("no-crate-of-this-name-anywhere");
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("needs a project that depends on the crate"),
        "{err}"
    );
}

#[test]
fn report_help_names_the_commands_that_write_reports() {
    let (code, out, _) = airlock(&["report", "--help"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("target/airlock/build") && out.contains("target/airlock/fuzz"),
        "{out}"
    );
    // Only commands that exist are named (`vet` is not one of them yet).
    let (_, top, _) = airlock(&["--help"]);
    for command in ["vet", "test"] {
        if !top
            .lines()
            .any(|l| l.trim_start().starts_with(&format!("{command} ")))
        {
            assert!(
                !out.split(|c: char| !c.is_alphanumeric())
                    .any(|w| w == command),
                "{command} in:\n{out}"
            );
        }
    }
}
