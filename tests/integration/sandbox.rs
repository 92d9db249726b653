//! `cargo airlock sandbox` against a fixture that really attempts each class of escape. Every
//! test asserts both that the side effect did not happen and that the attempt was recorded.
//! Targets are only ever this machine: loopback listeners, sockets and files the test made,
//! processes the test started.

use std::fs;
use std::io::ErrorKind;
use std::net::{TcpListener, UdpSocket};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixListener};
use std::process::{Child, Command};
use std::time::Duration;

use crate::support::{attacks, is_root, Scene};

fn tcp_listener() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    (listener, port)
}

fn udp_listener() -> (UdpSocket, String) {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_nonblocking(true).unwrap();
    let port = socket.local_addr().unwrap().port().to_string();
    (socket, port)
}

fn assert_nothing_received(socket: &UdpSocket) {
    let mut buf = [0u8; 512];
    let err = socket
        .recv(&mut buf)
        .expect_err("a datagram reached the test's listener");
    assert_eq!(err.kind(), ErrorKind::WouldBlock);
}

/// A process outside the sandbox that the test owns.
struct Bystander(Child);

impl Bystander {
    fn start() -> Bystander {
        Bystander(Command::new("sleep").arg("30").spawn().unwrap())
    }
    fn pid(&self) -> String {
        self.0.id().to_string()
    }
    fn alive(&mut self) -> bool {
        self.0.try_wait().unwrap().is_none()
    }
}

impl Drop for Bystander {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

airtest!(tcp_connect_to_loopback_is_refused_and_recorded, |s| {
    let (listener, port) = tcp_listener();
    let run = s.attack(&[], &["tcp", "127.0.0.1", &port]);
    run.refused();
    assert!(
        listener.accept().is_err(),
        "a connection reached the test's listener"
    );
    let e = run.expect(
        "net",
        "connect",
        "denied",
        "address",
        &format!("127.0.0.1:{port}"),
    );
    assert_eq!(e["detail"]["protocol"], "tcp");
    assert!(e["pid"].as_i64().unwrap() > 0);
});

airtest!(udp_send_to_loopback_is_refused_and_recorded, |s| {
    let (socket, port) = udp_listener();
    let run = s.attack(&[], &["udp", "127.0.0.1", &port]);
    run.refused();
    assert_nothing_received(&socket);
    run.expect(
        "net",
        "send",
        "denied",
        "address",
        &format!("127.0.0.1:{port}"),
    );
});

airtest!(dns_query_name_is_recorded, |s| {
    let (socket, port) = udp_listener();
    let run = s.attack(&[], &["dns", "exfil.airlock.test", "127.0.0.1", &port]);
    run.refused();
    assert_nothing_received(&socket);
    let e = run.expect("net", "dns", "denied", "query", "exfil.airlock.test");
    assert_eq!(e["detail"]["address"], format!("127.0.0.1:{port}"));
});

airtest!(unix_socket_of_the_test_is_unreachable, |s| {
    let path = s.path("victim/test.sock");
    let listener = UnixListener::bind(&path).unwrap();
    listener.set_nonblocking(true).unwrap();
    // Make the socket's directory visible (read-only) so the kernel, not a missing path, refuses.
    let victim = s.path("victim");
    let run = s.attack(
        &["--read", victim.to_str().unwrap()],
        &["unix", path.to_str().unwrap()],
    );
    run.refused();
    assert!(
        listener.accept().is_err(),
        "a connection reached the test's socket"
    );
    run.expect(
        "net",
        "connect",
        "denied",
        "address",
        &format!("unix:{}", path.display()),
    );
});

airtest!(abstract_socket_is_unreachable, |s| {
    let name = format!("airlock-test-{}", std::process::id());
    let addr = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
    let listener = UnixListener::bind_addr(&addr).unwrap();
    listener.set_nonblocking(true).unwrap();
    let run = s.attack(&[], &["abstract", &name]);
    run.refused();
    assert!(
        listener.accept().is_err(),
        "a connection reached the abstract socket"
    );
    run.expect(
        "net",
        "connect",
        "denied",
        "address",
        &format!("unix-abstract:{name}"),
    );
});

airtest!(raw_syscall_connect_bypassing_libc_is_caught, |s| {
    let (listener, port) = tcp_listener();
    let run = s.attack(&[], &["raw-connect", "127.0.0.1", &port]);
    run.refused();
    assert!(listener.accept().is_err());
    run.expect(
        "net",
        "connect",
        "denied",
        "address",
        &format!("127.0.0.1:{port}"),
    );
});

airtest!(
    exec_of_a_program_written_into_a_writable_dir_is_refused,
    |s| {
        let out = s.out();
        let run = s.attack(&[], &["exec-written", out.to_str().unwrap()]);
        run.refused();
        assert!(
            !out.join("payload").exists(),
            "the fixture removed its payload"
        );
        // Each attempt is recorded with the file it named (so the file existed), although the
        // file may be gone before the supervisor writes the events down.
        for asked in ["out/payload", "/proc/self/cwd/payload"] {
            let e = run.expect("exec", "exec", "denied", "path", asked);
            assert!(
                e["detail"]["resolved"]
                    .as_str()
                    .is_some_and(|r| r.ends_with("out/payload")),
                "{e}"
            );
        }
    }
);

airtest!(a_new_user_namespace_is_refused_whatever_the_profile, |s| {
    // A profile that forgot `unshare` in its deny list: the filter refuses new namespaces
    // all the same.
    let profile = profile_with(
        &s,
        "no-unshare.toml",
        &[("name = \"unshare\"", "name = \"acct\"")],
    );
    let run = s.attack(&["--profile", &profile], &["unshare"]);
    run.refused();
    run.expect("syscall", "unshare", "denied", "reason", "new namespaces");
});

airtest!(fileless_exec_through_memfd_is_refused, |s| {
    let run = s.attack(&[], &["fileless"]);
    run.refused();
    let e = run.expect("exec", "exec", "denied", "fileless", "true");
    assert!(
        e["detail"]["target"]
            .as_str()
            .unwrap_or("")
            .contains("memfd"),
        "{e}"
    );
});

airtest!(
    the_terminal_is_absent_and_bash_starts_without_a_finding,
    |s| {
        // bash opens /dev/tty at every start; the sandbox answers as for a process without a
        // controlling terminal (ENXIO), so an autoconf build's many shells are not findings.
        let run = s.sandbox(
            &[],
            &[
                "bash",
                "-c",
                "if echo hi > /dev/tty; then echo reached; else echo refused; fi",
            ],
        );
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_eq!(run.stdout.trim(), "refused");
        assert!(
            run.stderr.contains("No such device or address"),
            "{}",
            run.stderr
        );
        assert!(
            run.events.iter().all(|e| e["decision"] == "allowed"),
            "{:#?}",
            run.events
        );
    }
);

airtest!(io_uring_is_refused, |s| {
    let run = s.attack(&[], &["io-uring"]);
    run.refused();
    run.expect("syscall", "io_uring_setup", "denied", "args", "0x4");
});

airtest!(
    ptrace_and_process_vm_of_an_outside_process_are_refused,
    |s| {
        let bystander = Bystander::start();
        let run = s.attack(&[], &["ptrace", &bystander.pid()]);
        run.refused();
        run.expect("syscall", "ptrace", "denied", "args", "0x");
        run.expect(
            "syscall",
            "process_vm_readv",
            "denied",
            "args",
            &format!("{:#x}", bystander.0.id()),
        );
    }
);

airtest!(signal_to_an_outside_process_is_refused, |s| {
    let mut bystander = Bystander::start();
    let run = s.attack(&[], &["kill", &bystander.pid()]);
    run.refused();
    assert!(
        bystander.alive(),
        "the signal reached a process outside the sandbox"
    );
    let e = run.expect("syscall", "kill", "denied", "reason", "no such process");
    assert_eq!(
        e["detail"]["pid"].as_i64(),
        Some(i64::from(bystander.0.id()))
    );
});

airtest!(decoy_ssh_key_is_served_and_its_read_recorded, |s| {
    let home = s.path("realhome");
    fs::create_dir_all(home.join(".ssh")).unwrap();
    fs::write(home.join(".ssh/id_rsa"), "REAL-PRIVATE-KEY").unwrap();
    let key = home.join(".ssh/id_rsa");
    let fixture = attacks().to_str().unwrap().to_owned();
    let run = s.sandbox_env(
        &[],
        &[&fixture, "read", key.to_str().unwrap()],
        &[("HOME", home.to_str().unwrap())],
    );
    assert!(
        !run.stdout.contains("REAL-PRIVATE-KEY"),
        "the real key leaked: {}",
        run.stdout
    );
    assert!(
        run.stdout.contains("AIRLOCK"),
        "the decoy was not served: {}",
        run.stdout
    );
    run.expect("leak", "decoy-read", "flagged", "decoy", "ssh-key");
});

airtest!(real_home_stand_in_is_unreadable, |s| {
    let home = s.path("realhome");
    fs::create_dir_all(&home).unwrap();
    fs::write(home.join("secret.txt"), "REAL-SECRET-VALUE").unwrap();
    let secret = home.join("secret.txt");
    let fixture = attacks().to_str().unwrap().to_owned();
    let run = s.sandbox_env(
        &[],
        &[&fixture, "read", secret.to_str().unwrap()],
        &[("HOME", home.to_str().unwrap())],
    );
    // The sandbox sees an empty stand-in where the real file is: the read "works", the secret
    // stays out, and the attempt is recorded.
    assert!(
        !run.stdout.contains("REAL-SECRET-VALUE"),
        "the real secret leaked: {}",
        run.stdout
    );
    run.expect("fs", "read", "denied", "path", "realhome/secret.txt");
});

airtest!(writes_outside_the_write_dirs_are_refused, |s| {
    let victim = s.path("victim");
    let target = victim.join("new.txt");
    let run = s.attack(
        &["--read", victim.to_str().unwrap()],
        &["write", target.to_str().unwrap()],
    );
    run.refused();
    assert!(!target.exists(), "a file appeared outside the write dirs");
    run.expect("fs", "create", "denied", "path", "victim/new.txt");
});

airtest!(
    writes_through_a_symlink_out_of_the_write_dir_are_refused,
    |s| {
        let victim = s.path("victim");
        let target = victim.join("target.txt");
        fs::write(&target, "original").unwrap();
        let link = s.out().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let run = s.attack(
            &["--read", victim.to_str().unwrap()],
            &["write", link.to_str().unwrap()],
        );
        run.refused();
        assert_eq!(fs::read_to_string(&target).unwrap(), "original");
        run.expect("fs", "write", "denied", "via_symlink", "victim/target.txt");
    }
);

airtest!(hard_links_out_of_the_write_dir_are_refused, |s| {
    let victim = s.path("victim");
    let target = victim.join("target.txt");
    fs::write(&target, "original").unwrap();
    let link = s.out().join("hl");
    let run = s.attack(
        &["--read", victim.to_str().unwrap()],
        &[
            "hard-link",
            target.to_str().unwrap(),
            link.to_str().unwrap(),
        ],
    );
    run.refused();
    assert!(!link.exists(), "the hard link was made");
    assert_eq!(fs::read_to_string(&target).unwrap(), "original");
    run.expect("fs", "link", "denied", "target", "victim/target.txt");
});

airtest!(nothing_outlives_the_run, |s| {
    let late = s.out().join("late.txt");
    let run = s.attack(&[], &["outlive", late.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    // The detached child writes its file 2 s after it starts: had the run waited for it, the
    // file would be there already.
    assert!(!late.exists(), "the run waited for the detached child");
    // Give a surviving child the time to write it.
    std::thread::sleep(Duration::from_millis(2500));
    assert!(
        !late.exists(),
        "a detached child survived the run and wrote its file"
    );
    run.expect("limit", "survivors", "denied", "processes", "1");
});

fn profile_with(s: &Scene, name: &str, replace: &[(&str, &str)]) -> String {
    let base = fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/sandbox-profiles/build.toml"
    ))
    .unwrap();
    let mut text = base;
    for (from, to) in replace {
        assert!(text.contains(from), "{from} not in the build profile");
        text = text.replace(from, to);
    }
    let path = s.path(name);
    fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

airtest!(memory_beyond_the_limit_is_refused, |s| {
    let profile = profile_with(
        &s,
        "lean.toml",
        &[("memory = \"unlimited\"", "memory = \"64MiB\"")],
    );
    let run = s.attack(&["--profile", &profile], &["memory", "512"]);
    assert!(
        !run.stdout.contains("succeeded"),
        "512 MiB were allocated under a 64 MiB limit: {}",
        run.stdout
    );
    if is_root() && runner::sandbox::memory_cgroup_possible() {
        // As root a memory cgroup caps the run: the hog is killed and the kill counted.
        assert_eq!(run.code, 137, "{}\n{}", run.stdout, run.stderr);
        let e = run.expect("limit", "memory", "denied", "limit", "67108864");
        assert!(e["detail"]["oom_kills"].as_u64().unwrap_or(0) >= 1, "{e}");
    } else {
        // Unprivileged (or where no memory cgroup can be made), RLIMIT_AS fails the allocation
        // inside the process.
        run.refused();
    }
});

airtest!(bounded_fork_bomb_is_contained, |s| {
    let profile = profile_with(&s, "small.toml", &[("processes = 1024", "processes = 48")]);
    let run = s.attack(&["--profile", &profile], &["fork-bomb", "200"]);
    assert!(
        run.stdout.contains("refused"),
        "{}\n{}",
        run.stdout,
        run.stderr
    );
    let refused: u32 = run
        .stdout
        .split("started, ")
        .nth(1)
        .and_then(|t| t.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap();
    assert!(
        refused > 100,
        "only {refused} forks refused: {}",
        run.stdout
    );
    // The bomb ended on its own, not at the profile's timeout.
    assert!(run.find("limit", "timeout").is_empty(), "{:#?}", run.events);
    let e = run.expect("limit", "processes", "denied", "limit", "48");
    if is_root() {
        // As root the pids cgroup enforces the cap and counts refusals exactly.
        assert!(
            e["detail"]["refused_forks"].as_u64().unwrap_or(0) > 100,
            "{e}"
        );
    } else {
        // Unprivileged, RLIMIT_NPROC enforces it; the supervisor saw the run at the limit.
        assert_eq!(e["detail"]["reached"].as_u64(), Some(48), "{e}");
    }
});

airtest!(oversized_file_is_cut_off, |s| {
    let profile = profile_with(
        &s,
        "small.toml",
        &[("file-size = \"2GiB\"", "file-size = \"1MiB\"")],
    );
    let big = s.out().join("big.bin");
    let run = s.attack(
        &["--profile", &profile],
        &["big-file", big.to_str().unwrap(), "4194304"],
    );
    assert_eq!(run.code, 128 + libc::SIGXFSZ, "{}", run.stderr);
    assert!(fs::metadata(&big).unwrap().len() <= 1 << 20);
    run.expect("limit", "file-size", "denied", "limit", "1048576");
});

airtest!(timeout_kills_the_whole_run, |s| {
    let run = s.attack(&["--timeout", "1s"], &["sleep", "30"]);
    // Killed, not finished: the fixture exits 0 after its sleep.
    assert_eq!(run.code, 128 + libc::SIGKILL, "{}", run.stderr);
    run.expect("limit", "timeout", "denied", "limit", "1s");
});

airtest!(cc_compiles_into_the_write_dir_and_is_logged, |s| {
    let src = s.path("victim/hello.c");
    fs::write(&src, "int main(void) { return 0; }\n").unwrap();
    let victim = s.path("victim");
    let out = s.out().join("hello");
    let run = s.sandbox(
        &["--read", victim.to_str().unwrap()],
        &["cc", "-o", out.to_str().unwrap(), src.to_str().unwrap()],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(out.exists());
    run.expect("exec", "exec", "allowed", "path", "/cc");
    // The compiler's own helpers ran too, each one recorded.
    assert!(
        run.find("exec", "exec").len() >= 3,
        "expected cc, cc1, as and ld to be recorded: {:#?}",
        run.events
    );
    assert!(
        !run.events.iter().any(|e| e["decision"] == "denied"),
        "{:#?}",
        run.events
    );
});

airtest!(sh_runs_a_script_and_is_logged, |s| {
    let script = s.path("victim/build.sh");
    let marker = s.out().join("marker");
    fs::write(&script, format!("echo scripted > {}\n", marker.display())).unwrap();
    let victim = s.path("victim");
    let run = s.sandbox(
        &["--read", victim.to_str().unwrap()],
        &["sh", script.to_str().unwrap()],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(fs::read_to_string(&marker).unwrap(), "scripted\n");
    let e = run.expect("exec", "exec", "allowed", "path", "/sh");
    assert!(e["detail"]["argv"][1]
        .as_str()
        .unwrap()
        .ends_with("build.sh"));
});

airtest!(capabilities_are_gone_and_filters_in_force, |s| {
    let run = s.attack(&[], &["caps"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    for line in [
        "CapEff:\t0000000000000000",
        "CapBnd:\t0000000000000000",
        "CapAmb:\t0000000000000000",
        "NoNewPrivs:\t1",
        "Seccomp:\t2",
    ] {
        assert!(
            run.stdout.contains(line),
            "missing {line:?} in\n{}",
            run.stdout
        );
    }
});

airtest!(exit_status_passes_through, |s| {
    let run = s.sandbox(&[], &["sh", "-c", "exit 7"]);
    assert_eq!(run.code, 7);
    let run = s.sandbox(&[], &["sh", "-c", "kill -TERM $$"]);
    assert_eq!(run.code, 128 + libc::SIGTERM);
});

airtest!(decoy_values_written_out_are_leaks, |s| {
    let stolen = s.out().join("stolen.txt");
    let run = s.sandbox(
        &[],
        &[
            "sh",
            "-c",
            &format!(
                "cat ~/.aws/credentials > {0}; echo \"$GITHUB_TOKEN\" >> {0}",
                stolen.display()
            ),
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    run.expect("leak", "decoy-read", "flagged", "decoy", "aws-credentials");
    run.expect(
        "leak",
        "decoy-output",
        "flagged",
        "decoy",
        "aws-credentials",
    );
    let e = run.expect(
        "leak",
        "decoy-output",
        "flagged",
        "decoy",
        "env:GITHUB_TOKEN",
    );
    assert!(e["detail"]["location"]
        .as_str()
        .unwrap()
        .ends_with("out/stolen.txt"));
});

airtest!(decoy_values_in_network_payloads_are_leaks, |s| {
    let (socket, port) = udp_listener();
    let run = s.attack(
        &[],
        &["udp-env", "CARGO_REGISTRY_TOKEN", "127.0.0.1", &port],
    );
    run.refused();
    assert_nothing_received(&socket);
    let e = run.expect(
        "leak",
        "decoy-output",
        "flagged",
        "decoy",
        "env:CARGO_REGISTRY_TOKEN",
    );
    assert_eq!(e["detail"]["location"], format!("network:127.0.0.1:{port}"));
});

airtest!(real_secrets_never_reach_the_sandbox, |s| {
    let run = s.sandbox_env(
        &[],
        &[
            "sh",
            "-c",
            "echo \"token=$GITHUB_TOKEN aws=$AWS_SECRET_ACCESS_KEY ci=$CI\"",
        ],
        &[
            ("GITHUB_TOKEN", "ghp_REALREALREAL"),
            ("AWS_SECRET_ACCESS_KEY", "REALAWSKEY"),
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        !run.stdout.contains("REALREALREAL") && !run.stdout.contains("REALAWSKEY"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("token=ghp_AIRLOCK") && run.stdout.contains("ci=true"),
        "{}",
        run.stdout
    );
});

airtest!(
    execs_of_missing_programs_fail_as_the_kernel_fails_them,
    |s| {
        // The supervisor answers these itself (see `missing_program` in supervisor/exec.rs): the
        // errors must be the kernel's, and a program found further down PATH must still run.
        let out = s.out();
        let script = s.path("victim/probe.sh");
        fs::write(
            &script,
            format!(
                "cd {out}\n\
             PATH=/nope-1:/nope-2 /usr/bin/env airlock-no-such-program; echo missing=$?\n\
             /usr/bin/env /etc/passwd/below-a-file; echo not-a-dir=$?\n\
             /usr/bin/env ./no-such-file; echo relative=$?\n\
             PATH=/nope-1:/nope-2:/usr/bin:/bin /usr/bin/env true; echo found=$?\n\
             PATH=/nope-1 /usr/bin/env curl http://127.0.0.1:9/; echo tool=$?\n",
                out = out.display()
            ),
        )
        .unwrap();
        let victim = s.path("victim");
        let run = s.sandbox(
            &["--read", victim.to_str().unwrap()],
            &["sh", script.to_str().unwrap()],
        );
        assert_eq!(run.code, 0, "{}", run.stderr);
        for line in [
            "missing=127",
            "not-a-dir=126",
            "relative=127",
            "found=0",
            "tool=127",
        ] {
            assert!(run.stdout.contains(line), "{line} in\n{}", run.stdout);
        }
        assert!(run.stderr.contains("Not a directory"), "{}", run.stderr);
        run.expect("exec", "exec", "allowed", "path", "/usr/bin/true");
        // A network tool that is not there is still judged in full: its attempt is recorded.
        let tool = run.expect("exec", "exec", "allowed", "path", "/nope-1/curl");
        assert_eq!(tool["detail"]["found"], false, "{tool:#}");
        // A missing program is not an event.
        assert!(
            run.find("exec", "exec")
                .iter()
                .all(|e| !e["detail"]["path"].as_str().unwrap().contains("no-such")),
            "{:#?}",
            run.events
        );
    }
);
