//! `cargo airlock sandbox` as a user runs it (issue 12): the README's and `--help`'s examples
//! from a temporary directory, `--no-cwd`, `--fail-on-events`; and the filesystem attempts that
//! must leave an event with the path as resolved (writes through a symlinked directory, hard
//! links, a refused read, a repository's hooks) and a decoy passed on a command line. Each test
//! asserts that the side effect did not happen and that the event carries what it should.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

use crate::support::{attacks, bin, is_root};

/// `cargo airlock sandbox ARGS` run from `dir`.
fn sandbox_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(bin())
        .arg("sandbox")
        .args(args)
        .current_dir(dir)
        .env_remove("RUST_BACKTRACE")
        .output()
        .expect("cargo-airlock runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The events of an events file, parsed.
fn events(path: &Path) -> Vec<serde_json::Value> {
    fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("every event line is JSON"))
        .collect()
}

airtest!(readme_script_example_runs_from_a_temporary_directory, |s| {
    let d = s.dir.path();
    fs::write(
        d.join("install.sh"),
        "echo installing; echo payload > /etc/airlock-installed 2>/dev/null; echo done\n",
    )
    .unwrap();
    let out = sandbox_in(
        d,
        &[
            "--timeout",
            "30s",
            "--events",
            "events.jsonl",
            "--",
            "sh",
            "./install.sh",
        ],
    );
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("installing") && stdout.contains("done"),
        "{stdout}\n{stderr}"
    );
    assert!(!Path::new("/etc/airlock-installed").exists());
    let events = events(&d.join("events.jsonl"));
    assert!(
        events.iter().any(|e| e["kind"] == "fs"
            && e["decision"] == "denied"
            && e["detail"]["path"] == "/etc/airlock-installed"),
        "{events:#?}"
    );
});

airtest!(a_relative_program_runs_from_a_temporary_directory, |s| {
    let d = s.dir.path();
    let prog = d.join("prog");
    fs::write(&prog, "#!/bin/sh\necho prog ran with \"$1\"\n").unwrap();
    fs::set_permissions(&prog, fs::Permissions::from_mode(0o755)).unwrap();
    let out = sandbox_in(d, &["--", "./prog", "arg"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("prog ran with arg"));
    // A program that is not there is one clear error, its cause said once.
    let out = sandbox_in(d, &["--", "./missing-prog"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.matches("missing-prog").count(), 1, "{stderr}");
    assert!(stderr.contains("does not exist"), "{stderr}");
});

airtest!(help_example_compiles_from_a_temporary_directory, |s| {
    let d = s.dir.path();
    fs::write(
        d.join("hello.c"),
        "#include <stdio.h>\nint main(void) { puts(\"hello\"); return 0; }\n",
    )
    .unwrap();
    let help = text(&sandbox_in(d, &["--help"]).stdout);
    let example = "--write ./out --events events.jsonl -- sh -c 'cc -o out/hello hello.c'";
    assert!(help.contains(example), "{help}");
    let out = sandbox_in(
        d,
        &[
            "--write",
            "./out",
            "--events",
            "events.jsonl",
            "--",
            "sh",
            "-c",
            "cc -o out/hello hello.c",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let hello = Command::new(d.join("out/hello")).output().unwrap();
    assert_eq!(text(&hello.stdout), "hello\n");
});

airtest!(
    no_cwd_hides_the_working_directory_and_says_how_to_show_it,
    |s| {
        let d = s.dir.path();
        fs::write(d.join("script.sh"), "echo visible\n").unwrap();
        let out = sandbox_in(d, &["--no-cwd", "--", "sh", "./script.sh"]);
        let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
        assert_ne!(out.status.code(), Some(0), "{stdout}\n{stderr}");
        assert!(!stdout.contains("visible"), "{stdout}");
        assert!(
            stderr.contains("`./script.sh` exists here but the sandbox hides it; pass --read"),
            "{stderr}"
        );
        let out = sandbox_in(d, &["--", "sh", "./script.sh"]);
        assert!(
            text(&out.stdout).contains("visible"),
            "{}",
            text(&out.stderr)
        );
    }
);

airtest!(fail_on_events_exits_1_only_when_something_was_denied, |s| {
    let d = s.dir.path();
    let victim = s.path("victim/x");
    let write = format!("echo x > {}; exit 0", victim.display());
    let quiet = sandbox_in(d, &["--fail-on-events", "--", "sh", "-c", "exit 0"]);
    assert_eq!(quiet.status.code(), Some(0), "{}", text(&quiet.stderr));
    let noisy = sandbox_in(d, &["--fail-on-events", "--", "sh", "-c", &write]);
    let stderr = text(&noisy.stderr);
    assert_eq!(noisy.status.code(), Some(1), "{stderr}");
    assert!(!victim.exists(), "the write went through");
    assert!(stderr.contains("DENIED fs/create"), "{stderr}");
    // Without the flag, the command's own status.
    let plain = sandbox_in(d, &["--", "sh", "-c", &write]);
    assert_eq!(plain.status.code(), Some(0), "{}", text(&plain.stderr));
});

airtest!(
    writes_through_a_symlinked_directory_record_where_they_land,
    |s| {
        let victim = s.path("victim");
        let target = victim.join("profile");
        fs::write(&target, "original").unwrap();
        std::os::unix::fs::symlink(&victim, s.out().join("dir")).unwrap();
        let through = s.out().join("dir/profile");
        let run = s.attack(&[], &["write", through.to_str().unwrap()]);
        run.refused();
        assert_eq!(fs::read_to_string(&target).unwrap(), "original");
        let e = run.expect("fs", "write", "denied", "path", "out/dir/profile");
        assert_eq!(
            e["detail"]["via_symlink"].as_str(),
            Some(target.to_str().unwrap()),
            "{e}"
        );
    }
);

airtest!(
    hard_links_through_a_symlinked_directory_record_the_file,
    |s| {
        let victim = s.path("victim");
        let target = victim.join("config");
        fs::write(&target, "original").unwrap();
        std::os::unix::fs::symlink(&victim, s.out().join("dir")).unwrap();
        let link = s.out().join("hl");
        let via = s.out().join("dir/config");
        let run = s.attack(
            &[],
            &["hard-link", via.to_str().unwrap(), link.to_str().unwrap()],
        );
        run.refused();
        assert!(!link.exists(), "the hard link was made");
        assert_eq!(fs::read_to_string(&target).unwrap(), "original");
        let e = run.expect("fs", "link", "denied", "path", "out/hl");
        assert_eq!(
            e["detail"]["target"].as_str(),
            Some(target.to_str().unwrap()),
            "{e}"
        );
    }
);

airtest!(a_read_landlock_refuses_is_recorded, |s| {
    // A directory outside the private /tmp and every grant, which the sandbox sees but may not
    // read, and any user may create: beneath /var/tmp.
    let outside = tempfile::Builder::new()
        .prefix(&format!("airlock-{}-", s.name))
        .tempdir_in("/var/tmp")
        .unwrap();
    fs::set_permissions(outside.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let secret = outside.path().join("secret.txt");
    fs::write(&secret, "NOT-FOR-THE-SANDBOX").unwrap();
    fs::set_permissions(&secret, fs::Permissions::from_mode(0o644)).unwrap();
    let run = s.attack(&[], &["read", secret.to_str().unwrap()]);
    assert!(
        !run.stdout.contains("NOT-FOR-THE-SANDBOX"),
        "{}",
        run.stdout
    );
    run.refused();
    let e = run.expect("fs", "read", "denied", "path", secret.to_str().unwrap());
    assert_eq!(e["detail"]["reason"], "outside the granted paths", "{e}");
    assert!(e["pid"].as_i64().unwrap() > 0, "{e}");
});

airtest!(a_write_into_the_repository_hooks_is_recorded, |s| {
    let hooks = s.path(".git/hooks");
    fs::create_dir_all(&hooks).unwrap();
    let hook = hooks.join("pre-commit");
    let run = s.attack(&[], &["write", ".git/hooks/pre-commit"]);
    run.refused();
    assert!(!hook.exists(), "a hook was planted");
    run.expect("fs", "create", "denied", "path", ".git/hooks/pre-commit");
});

airtest!(a_decoy_on_a_command_line_is_a_leak, |s| {
    // The decoy token variable, passed to a program's argv (as to `curl -d`).
    let fixture = attacks().to_str().unwrap().to_owned();
    let script = format!("{fixture} read \"$GITHUB_TOKEN\"; exit 0");
    let run = s.sandbox(&[], &["sh", "-c", &script]);
    let e = run.expect("leak", "decoy-output", "flagged", "decoy", "GITHUB_TOKEN");
    assert_eq!(
        e["detail"]["location"].as_str(),
        Some(format!("exec:{fixture}").as_str()),
        "{e}"
    );
    assert!(
        run.stderr.contains("FLAGGED leak/decoy-output"),
        "{}",
        run.stderr
    );
});

airtest!(a_decoy_moved_into_another_variable_is_a_leak, |s| {
    // Every child inherits the decoy variables as planted: that alone is no leak.
    let quiet = s.sandbox(&[], &["sh", "-c", "/bin/true"]);
    assert!(
        quiet.find("leak", "decoy-output").is_empty(),
        "{:#?}",
        quiet.events
    );
    let run = s.sandbox(&[], &["sh", "-c", "LEAK=\"$GITHUB_TOKEN\" /bin/true"]);
    let e = run.expect("leak", "decoy-output", "flagged", "decoy", "GITHUB_TOKEN");
    assert_eq!(e["detail"]["location"], "exec-env:/bin/true", "{e}");
});

airtest!(
    a_decoy_read_through_a_symlink_is_seen_by_its_tripwire,
    |s| {
        // The open names a path in the private /tmp, which the open handler lets through as it
        // stands; the kernel follows the symlink into the decoy home, and the decoy's tripwire
        // (watched on a thread of its own while the supervisor waits for notifications) sees it.
        let run = s.sandbox(
            &[],
            &[
                "sh",
                "-c",
                "ln -s ~/.aws/credentials /tmp/innocent && cat /tmp/innocent > /dev/null",
            ],
        );
        assert_eq!(run.code, 0, "{}", run.stderr);
        let e = run.expect("leak", "decoy-read", "flagged", "decoy", "aws-credentials");
        assert!(
            e["detail"]["location"]
                .as_str()
                .is_some_and(|l| l.ends_with(".aws/credentials")),
            "{e}"
        );
    }
);

airtest!(
    a_host_file_under_tmp_masked_by_the_private_tmp_is_recorded,
    |s| {
        // A file of the host's /tmp, which the sandbox's private /tmp hides: the open fails as if
        // there were no such file, and the attempt is recorded with the path (never the content).
        let host = tempfile::Builder::new()
            .prefix(&format!("airlock-{}-", s.name))
            .tempfile_in("/tmp")
            .unwrap();
        fs::write(host.path(), "HOST-TMP-SECRET").unwrap();
        fs::set_permissions(host.path(), fs::Permissions::from_mode(0o644)).unwrap();
        let path = host.path().to_str().unwrap();
        let run = s.attack(&[], &["read", path]);
        assert!(!run.stdout.contains("HOST-TMP-SECRET"), "{}", run.stdout);
        run.refused();
        let e = run.expect("fs", "read", "denied", "path", path);
        assert_eq!(e["detail"]["path"], path, "{e}");
        assert_eq!(e["detail"]["reason"], "masked by the private /tmp", "{e}");
        assert!(
            !run.events
                .iter()
                .any(|e| e.to_string().contains("HOST-TMP-SECRET")),
            "{:#?}",
            run.events
        );
        // The run's own temporary files are no event, nor is a name that exists nowhere.
        let own = s.sandbox(
            &[],
            &[
                "sh",
                "-c",
                "echo x > /tmp/own && cat /tmp/own /tmp/airlock-nowhere-at-all 2>/dev/null; exit 0",
            ],
        );
        assert!(own.find("fs", "read").is_empty(), "{:#?}", own.events);
    }
);

/// The `airlock-run-*` directory that appears in `base` within 20 s.
fn run_dir_in(base: &Path) -> std::path::PathBuf {
    for _ in 0..400 {
        let found = fs::read_dir(base).ok().and_then(|entries| {
            entries.flatten().map(|e| e.path()).find(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("airlock-run-"))
            })
        });
        if let Some(dir) = found {
            return dir;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("no run directory appeared in {}", base.display());
}

airtest!(a_host_read_of_a_stand_in_is_not_the_runs, |s| {
    // A home with one entry: the run shows an empty stand-in for it, watched for opens (inotify
    // unprivileged, which names no opener). A host process walking the run's directory (a
    // `find /`, a backup) must not make an event of the run; a read from inside still does.
    let home = s.path("home");
    fs::create_dir(&home).unwrap();
    fs::write(home.join("notes-stand-in.txt"), "REAL NOTES").unwrap();
    // The run's small files go to XDG_RUNTIME_DIR when it is a tmpfs: one of the test's own,
    // so the run's directory is found without guessing.
    let runtime = tempfile::Builder::new()
        .prefix("airlock-xdg-")
        .tempdir_in("/dev/shm")
        .unwrap();
    let events_file = s.path("events.jsonl");
    let started = s.out().join("started");
    let script = format!("touch {} && sleep 2 && exit 0", started.to_str().unwrap());
    let mut child = Command::new(bin())
        .args(["sandbox", "--events"])
        .arg(&events_file)
        .arg("--write")
        .arg(s.out())
        .args(["--", "sh", "-c", &script])
        .current_dir(s.dir.path())
        .env("HOME", &home)
        .env("XDG_RUNTIME_DIR", runtime.path())
        .spawn()
        .expect("cargo-airlock runs");
    let run_dir = run_dir_in(runtime.path());
    for _ in 0..400 {
        if started.exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(started.exists(), "the command never started");
    // The host's read: refused by the directory's mode for the run's own user; root gets
    // through, and fanotify tells its open from the run's.
    let stand_in = run_dir.join("home/notes-stand-in.txt");
    let read = fs::read(&stand_in);
    assert!(child.wait().unwrap().success());
    let host_walk = events(&events_file);
    assert!(
        !host_walk
            .iter()
            .any(|e| e.to_string().contains("notes-stand-in.txt")),
        "a host read made an event of the run: {host_walk:#?}"
    );
    if is_root() {
        assert_eq!(read.unwrap(), b"", "a stand-in, never the content");
    } else {
        assert_eq!(
            read.unwrap_err().kind(),
            std::io::ErrorKind::PermissionDenied,
            "the run's directory is reachable from the host"
        );
    }
    // From inside: the stand-in's read is the run's.
    let output = Command::new(bin())
        .args(["sandbox", "--events"])
        .arg(&events_file)
        .args(["--", "sh", "-c", "cat ~/notes-stand-in.txt; exit 0"])
        .current_dir(s.dir.path())
        .env("HOME", &home)
        .env("XDG_RUNTIME_DIR", runtime.path())
        .output()
        .expect("cargo-airlock runs");
    assert!(!text(&output.stdout).contains("REAL NOTES"));
    let inside = events(&events_file);
    assert!(
        inside.iter().any(|e| e["kind"] == "fs"
            && e["action"] == "read"
            && e["decision"] == "denied"
            && e["detail"]["path"]
                .as_str()
                .is_some_and(|p| p.ends_with("home/notes-stand-in.txt"))),
        "{inside:#?}\n{}",
        text(&output.stderr)
    );
});

airtest!(
    a_write_through_a_hard_link_planted_before_the_run_is_refused,
    |s| {
        // An earlier, unsandboxed step left `out/planted` as a second name of a file outside every
        // write directory. Landlock would judge the write by the path (in `out/`, writable).
        let victim = s.path("victim/profile");
        fs::write(&victim, "original").unwrap();
        let planted = s.out().join("planted");
        fs::hard_link(&victim, &planted).unwrap();
        let run = s.attack(&[], &["write", planted.to_str().unwrap()]);
        run.refused();
        assert_eq!(fs::read_to_string(&victim).unwrap(), "original");
        let e = run.expect("fs", "write", "denied", "path", "out/planted");
        assert_eq!(e["detail"]["links"], 2, "{e}");
        // A link the run makes itself within its write directory, then writes: no event.
        let own = s.sandbox(
            &[],
            &[
                "sh",
                "-c",
                &format!(
                    "cd {} && echo a > first && ln first second && echo b >> second && cat first",
                    s.out().to_str().unwrap()
                ),
            ],
        );
        assert_eq!(own.code, 0, "{}", own.stderr);
        assert!(own.stdout.contains('b'), "{}", own.stdout);
        assert!(own.find("fs", "write").is_empty(), "{:#?}", own.events);
    }
);
