//! `cargo airlock sandbox` as a user runs it (issue 12): the README's and `--help`'s examples
//! from a temporary directory, `--no-cwd`, `--fail-on-events`; and the filesystem attempts that
//! must leave an event with the path as resolved (writes through a symlinked directory, hard
//! links, a refused read, a repository's hooks) and a decoy passed on a command line. Each test
//! asserts that the side effect did not happen and that the event carries what it should.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

use crate::support::{attacks, bin};

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
