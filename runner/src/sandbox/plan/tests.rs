//! Unit tests of the plan's decisions, on throwaway directory trees.

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};

use super::*;
use crate::profile::{Allowance, Placeholders};

/// A scratch tree: `host/` stands for the machine's directories, `run/` and `tmp/` for the
/// run's own, `home/` for the caller's real home.
struct Tree {
    dir: tempfile::TempDir,
}

impl Tree {
    fn new() -> Tree {
        let tree = Tree {
            dir: tempfile::tempdir().unwrap(),
        };
        for d in ["host/usr/bin", "host/etc/ssh", "host/work/out", "home/.ssh"] {
            fs::create_dir_all(tree.path(d)).unwrap();
        }
        fs::write(tree.path("host/etc/shadow"), "secret").unwrap();
        fs::write(tree.path("home/.ssh/id_ed25519"), "REAL KEY").unwrap();
        for d in ["run/home", "run/run", "run/shm", "tmp"] {
            fs::create_dir_all(tree.path(d)).unwrap();
        }
        tree
    }

    /// Canonical path of `rel` (the temporary directory may sit behind a symlink).
    fn path(&self, rel: &str) -> PathBuf {
        fs::canonicalize(self.dir.path())
            .unwrap()
            .join(rel.trim_end_matches('/'))
    }

    fn run_paths(&self) -> RunPaths {
        RunPaths::new(&self.path("run"), &self.path("tmp"))
    }

    /// A profile granting the tree's `host/` like a real one grants `/`: read `etc`, execute
    /// `usr/bin`, protect the home, `etc/shadow` and `etc/ssh`.
    fn profile(&self) -> Profile {
        let vars = Placeholders {
            home: self.path("home"),
            cargo_home: self.path("home/.cargo"),
            rustup_home: self.path("home/.rustup"),
        };
        let mut profile = Profile::load("build", &vars).unwrap();
        let allow = |rel: &str, optional: bool| Allowance {
            path: self.path(rel),
            reason: "test".into(),
            optional,
        };
        profile.read = vec![allow("host/etc", false), allow("host/nonexistent", true)];
        profile.exec = vec![allow("host/usr/bin", false)];
        profile.write = Vec::new();
        profile.protect = vec![
            allow("home", false),
            allow("host/etc/shadow", true),
            allow("host/etc/ssh", true),
            allow("host/etc/missing", true),
        ];
        profile
    }

    fn config(&self, env: &[(&str, &str)]) -> SandboxConfig {
        let mut config = SandboxConfig::new(self.profile(), vec!["sh".into()]);
        config.env = env
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect();
        config.cwd = self.path("host/work");
        config
    }
}

fn grant_of(rules: &[FsRule], path: &Path) -> Option<Grant> {
    rules.iter().find(|r| r.path == path).map(|r| r.grant)
}

#[test]
fn grants_come_from_the_profile_the_caller_and_the_run() {
    let t = Tree::new();
    let mut config = t.config(&[]);
    config.extra_write = vec![t.path("host/work/out")];
    let request = Request::resolve(&config).unwrap();
    let rules = grants(&config.profile, &request, &t.run_paths()).unwrap();
    assert_eq!(grant_of(&rules, &t.path("host/etc")), Some(Grant::Read));
    assert_eq!(grant_of(&rules, &t.path("host/usr/bin")), Some(Grant::Exec));
    assert_eq!(
        grant_of(&rules, &t.path("host/work/out")),
        Some(Grant::Write)
    );
    assert_eq!(grant_of(&rules, &t.path("tmp")), Some(Grant::Write));
    assert_eq!(grant_of(&rules, &t.path("run/shm")), Some(Grant::Write));
    assert_eq!(grant_of(&rules, &t.path("run/home")), Some(Grant::Read));
    assert_eq!(
        rules.len(),
        6,
        "the optional missing path is skipped: {rules:?}"
    );
    assert!(!rules.iter().any(|r| r.path.starts_with(t.path("home"))));
}

#[test]
fn a_missing_required_profile_path_is_an_error_naming_it() {
    let t = Tree::new();
    let mut config = t.config(&[]);
    config.profile.read[1].optional = false;
    let request = Request::resolve(&config).unwrap();
    match grants(&config.profile, &request, &t.run_paths()) {
        Err(SandboxError::Prepare { step, .. }) => {
            assert!(step.contains("host/nonexistent"), "{step}")
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn a_write_dir_beneath_an_executable_dir_is_refused() {
    let t = Tree::new();
    let mut config = t.config(&[]);
    fs::create_dir_all(t.path("host/usr/bin/out")).unwrap();
    config.extra_write = vec![t.path("host/usr/bin/out")];
    let request = Request::resolve(&config).unwrap();
    match grants(&config.profile, &request, &t.run_paths()) {
        Err(SandboxError::BadPath { path, reason, .. }) => {
            assert_eq!(path, t.path("host/usr/bin/out"));
            assert!(reason.contains("inside executable directory"), "{reason}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    // Write-and-execute is the one grant that may be both.
    config.extra_write.clear();
    config.extra_write_exec = vec![t.path("host/usr/bin/out")];
    let request = Request::resolve(&config).unwrap();
    assert!(grants(&config.profile, &request, &t.run_paths()).is_ok());
}

#[test]
fn caller_paths_must_exist_and_write_paths_be_directories() {
    let t = Tree::new();
    let mut config = t.config(&[]);
    config.extra_read = vec![t.path("host/absent")];
    match Request::resolve(&config) {
        Err(SandboxError::BadPath { flag, reason, .. }) => {
            assert_eq!(flag, "read");
            assert!(reason.contains("does not exist"), "{reason}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    config.extra_read.clear();
    config.extra_write = vec![t.path("host/etc/shadow")];
    match Request::resolve(&config) {
        Err(SandboxError::BadPath { reason, .. }) => assert_eq!(reason, "is not a directory"),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn the_decoy_home_covers_the_real_home_unless_a_grant_needs_it() {
    let t = Tree::new();
    let home = t.path("home");
    let decoy = t.path("run/home");
    let rule = |rel: &str, grant| FsRule {
        path: t.path(rel),
        grant,
    };
    // Nothing needs the real home: the decoy home is laid over it.
    let placed = Home::place(Some(&home), &[rule("host/etc", Grant::Read)], true, &decoy);
    assert_eq!(placed.inside, home);
    assert!(placed.over_real);
    // A read grant above the home does not need it either.
    let placed = Home::place(Some(&home), &[rule("", Grant::Read)], true, &decoy);
    assert!(placed.over_real);
    // A write grant above it, or a grant of the home itself, does.
    for rules in [[rule("", Grant::Write)], [rule("home", Grant::Read)]] {
        let placed = Home::place(Some(&home), &rules, true, &decoy);
        assert_eq!(placed.inside, PathBuf::from("/run/airlock/home"));
        assert!(!placed.over_real);
    }
    // No home, or `/`: beneath /run. Without namespaces: the decoy home's own path.
    let placed = Home::place(None, &[], true, &decoy);
    assert_eq!(placed.inside, PathBuf::from("/run/airlock/home"));
    let placed = Home::place(Some(Path::new("/")), &[], true, &decoy);
    assert!(!placed.over_real);
    let placed = Home::place(Some(&home), &[], false, &decoy);
    assert_eq!(placed.inside, decoy);
    assert!(!placed.over_real);
}

fn value<'a>(env: &'a [(OsString, OsString)], name: &str) -> Option<&'a str> {
    env.iter()
        .find(|(k, _)| k == name)
        .and_then(|(_, v)| v.to_str())
}

#[test]
fn the_environment_holds_decoys_and_ci_markers_never_real_secrets() {
    let t = Tree::new();
    let mut config = t.config(&[
        ("PATH", "/opt/bin:/usr/bin"),
        ("HOME", "/home/real"),
        ("TMPDIR", "/var/tmp/real"),
        ("GITHUB_TOKEN", "ghp_REAL"),
        ("AWS_SECRET_ACCESS_KEY", "REAL"),
        ("SSH_AUTH_SOCK", "/run/user/0/agent"),
        ("CARGO_PKG_NAME", "demo"),
        ("LC_ALL", "C"),
    ]);
    config.env_set = vec![("OUT_DIR".into(), "/out".into())];
    let home = Home {
        real: Some(PathBuf::from("/home/real")),
        inside: PathBuf::from("/home/real"),
        over_real: true,
    };
    let decoys = [("GITHUB_TOKEN".to_owned(), "ghp_AIRLOCK1".to_owned())];
    let env = environment(&config, &home, Path::new("/tmp"), &decoys).unwrap();
    assert_eq!(value(&env, "PATH"), Some("/opt/bin:/usr/bin"));
    assert_eq!(value(&env, "CARGO_PKG_NAME"), Some("demo"));
    assert_eq!(value(&env, "LC_ALL"), Some("C"));
    assert_eq!(value(&env, "HOME"), Some("/home/real"));
    assert_eq!(value(&env, "TMPDIR"), Some("/tmp"));
    assert_eq!(
        value(&env, "CI"),
        Some("true"),
        "the build profile's CI marker"
    );
    assert_eq!(value(&env, "OUT_DIR"), Some("/out"));
    assert_eq!(value(&env, "GITHUB_TOKEN"), Some("ghp_AIRLOCK1"));
    assert_eq!(value(&env, "AWS_SECRET_ACCESS_KEY"), None);
    assert_eq!(value(&env, "SSH_AUTH_SOCK"), None);
    for (k, _) in &env {
        assert_eq!(env.iter().filter(|(k2, _)| k2 == k).count(), 1, "{k:?}");
    }
    // Without a PATH from the caller, the default one.
    config.env.retain(|(k, _)| k != "PATH");
    let env = environment(&config, &home, Path::new("/tmp"), &[]).unwrap();
    assert_eq!(value(&env, "PATH"), Some(DEFAULT_PATH));
    assert_eq!(value(&env, "GITHUB_TOKEN"), None);
}

#[test]
fn the_program_is_found_in_the_inside_path() {
    let t = Tree::new();
    let tool = t.path("host/usr/bin/tool");
    fs::write(&tool, "#!/bin/sh\n").unwrap();
    let path_var = OsString::from(t.path("host/usr/bin"));
    assert!(matches!(
        resolve_program("tool".as_ref(), Some(&path_var)),
        Err(SandboxError::CommandNotFound { .. })
    ));
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&tool, fs::Permissions::from_mode(0o755)).unwrap();
    assert_eq!(
        resolve_program("tool".as_ref(), Some(&path_var)).unwrap(),
        tool
    );
    assert_eq!(
        resolve_program(tool.as_os_str(), None).unwrap(),
        tool,
        "a path is taken as it is"
    );
}

#[test]
fn protected_paths_beneath_a_grant_are_masked() {
    let t = Tree::new();
    let config = t.config(&[]);
    let request = Request::resolve(&config).unwrap();
    let rules = grants(&config.profile, &request, &t.run_paths()).unwrap();
    // The home is granted nowhere (nothing to mask); the missing path cannot be masked.
    assert_eq!(
        masked(&config.profile, &rules),
        vec![t.path("host/etc/shadow"), t.path("host/etc/ssh")]
    );
    // A protected path that holds a grant is left to the grant.
    let mut extra = rules.clone();
    extra.push(FsRule {
        path: t.path("host/etc/ssh"),
        grant: Grant::Read,
    });
    assert_eq!(
        masked(&config.profile, &extra),
        vec![t.path("host/etc/shadow")]
    );
}

#[test]
fn the_plan_lays_out_mounts_and_the_inside_view() {
    let t = Tree::new();
    let mut config = t.config(&[]);
    fs::create_dir_all(t.path("host/work/deps")).unwrap();
    config.extra_write = vec![t.path("host/work/out"), t.path("host/work/deps")];
    config.exec_map = vec![t.path("host/work/deps")];
    let request = Request::resolve(&config).unwrap();
    let paths = t.run_paths();
    let plan = Plan::new(&config, &request, &paths, true, Some(&t.path("home")), &[]).unwrap();
    assert_eq!(plan.home.inside, t.path("home"));
    assert!(plan.program.is_absolute() && plan.program.ends_with("sh"));
    let layout = plan.layout.as_ref().unwrap();
    let overlay = |target: &Path| layout.overlays.iter().find(|o| o.target == target);
    assert_eq!(
        overlay(Path::new("/tmp")).map(|o| &o.source),
        Some(&paths.private_tmp)
    );
    assert_eq!(
        overlay(&t.path("home")).map(|o| &o.source),
        Some(&paths.decoy_home)
    );
    let visible = |p: &Path| layout.visible.iter().find(|v| v.path == p).unwrap();
    assert_ne!(visible(&t.path("host/work/out")).attrs & attr::NOEXEC, 0);
    assert!(visible(&t.path("host/work/out")).self_bind);
    assert_eq!(
        visible(&t.path("host/work/deps")).attrs & attr::NOEXEC,
        0,
        "exec-map directories may be mapped executable"
    );
    assert_ne!(visible(&t.path("host/etc")).attrs & attr::RDONLY, 0);
    assert!(
        !visible(&t.path("host/work")).contents,
        "the cwd only exists"
    );
    assert!(
        !layout.visible.iter().any(|v| paths.owns(&v.path)),
        "the run's own directories appear through overlays only"
    );
    assert_eq!(layout.masks.len(), 2);
    // The supervisor's view: the private /tmp as /tmp, no decoy home among the grants, the
    // real home protected where the decoy home is not over it.
    assert!(plan.view.grants.contains(&PathBuf::from("/tmp")));
    assert!(!plan.view.grants.contains(&plan.home.inside));
    assert!(plan
        .view
        .write_regions
        .contains(&(t.path("host/work/out"), true)));
    assert_eq!(plan.view.exec_dirs, vec![t.path("host/usr/bin")]);
    assert_eq!(plan.view.protect.len(), config.profile.protect.len());
    let real = Path::new("/nonexistent-home");
    let elsewhere = Plan::new(&config, &request, &paths, true, Some(real), &[]).unwrap();
    assert_eq!(elsewhere.home.inside, PathBuf::from("/run/airlock/home"));
    assert_eq!(
        elsewhere.view.protect.last().map(PathBuf::as_path),
        Some(real)
    );
    // Without namespaces: no mounts, and TMPDIR is the private directory's host path.
    let flat = Plan::new(&config, &request, &paths, false, Some(&t.path("home")), &[]).unwrap();
    assert!(flat.layout.is_none());
    assert_eq!(value(&flat.env, "TMPDIR"), paths.private_tmp.to_str());
}

#[test]
fn a_produced_exec_dir_is_writable_executable_and_known_to_the_supervisor() {
    let t = Tree::new();
    let mut config = t.config(&[]);
    config.produced_exec = vec![t.path("host/work/out")];
    let request = Request::resolve(&config).unwrap();
    let paths = t.run_paths();
    let plan = Plan::new(&config, &request, &paths, true, Some(&t.path("home")), &[]).unwrap();
    // Landlock's execute right and a mount without noexec: the supervisor decides what runs.
    assert!(plan.rules.contains(&FsRule {
        path: t.path("host/work/out"),
        grant: Grant::WriteExec
    }));
    let layout = plan.layout.as_ref().unwrap();
    let out = layout
        .visible
        .iter()
        .find(|v| v.path == t.path("host/work/out"))
        .unwrap();
    assert_eq!(out.attrs & attr::NOEXEC, 0);
    assert_eq!(plan.view.produced_dirs, vec![t.path("host/work/out")]);
    assert!(plan.view.write_exec_dirs.contains(&t.path("host/work/out")));
    // A plain write directory stays noexec and is no produced directory.
    config.produced_exec.clear();
    config.extra_write = vec![t.path("host/work/out")];
    let request = Request::resolve(&config).unwrap();
    let plan = Plan::new(&config, &request, &paths, true, Some(&t.path("home")), &[]).unwrap();
    assert!(plan.view.produced_dirs.is_empty());
    let layout = plan.layout.as_ref().unwrap();
    let out = layout
        .visible
        .iter()
        .find(|v| v.path == t.path("host/work/out"))
        .unwrap();
    assert_ne!(out.attrs & attr::NOEXEC, 0);
}
