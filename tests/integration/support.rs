//! Shared scaffolding: the `airtest!` macro, a scratch directory per test, the compiled attack
//! fixture, and a runner for `cargo airlock sandbox` that parses the events it wrote.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::Value;

/// Declares a test that gets a fresh [`Scene`].
macro_rules! airtest {
    ($name:ident, |$scene:ident| $body:block) => {
        #[test]
        fn $name() {
            #[allow(unused_mut)]
            let mut $scene = $crate::support::Scene::new(stringify!($name));
            $body
        }
    };
}

pub(crate) use crate::common::bin;

/// The attack fixture (`tests/fixtures/sandbox/attacks.c`), compiled once per test run into a
/// directory the sandbox may execute from, removed when the test process exits.
pub(crate) fn attacks() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    /// Runs at `exit(3)`, after the harness's last test (statics are never dropped).
    extern "C" fn remove_fixture_dir() {
        if let Some(dir) = DIR.get() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
    BIN.get_or_init(|| {
        let dir = DIR.get_or_init(|| {
            tempfile::Builder::new()
                .prefix("airlock-fixture-")
                .tempdir()
                .expect("tempdir")
                .keep()
        });
        // SAFETY: registers a function without arguments that only removes a directory.
        unsafe { libc::atexit(remove_fixture_dir) };
        // Readable by an unprivileged test user too.
        let _ = std::fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(0o755));
        let out = dir.join("attacks");
        let src = crate::common::fixture("sandbox/attacks.c");
        let status = Command::new("cc")
            .args(["-O1", "-o"])
            .arg(&out)
            .arg(&src)
            .status()
            .expect("cc runs");
        assert!(status.success(), "compiling the attack fixture failed");
        out
    })
}

/// A scratch directory with `out/` (writable in the sandbox) and `victim/` (the test's own
/// files, outside every write dir).
pub(crate) struct Scene {
    /// The test's name.
    pub name: String,
    pub dir: tempfile::TempDir,
}

/// What one sandbox run produced.
#[derive(Debug)]
pub(crate) struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub events: Vec<Value>,
}

impl Scene {
    pub(crate) fn new(name: &str) -> Scene {
        let dir = tempfile::Builder::new()
            .prefix(&format!("airlock-{name}-"))
            .tempdir()
            .expect("tempdir");
        let _ = std::fs::set_permissions(
            dir.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        );
        for sub in ["out", "victim"] {
            std::fs::create_dir(dir.path().join(sub)).unwrap();
        }
        Scene {
            name: name.to_owned(),
            dir,
        }
    }

    pub(crate) fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub(crate) fn out(&self) -> PathBuf {
        self.path("out")
    }

    /// `cargo airlock sandbox --write out --exec <fixture dir> [extra..] -- cmd..`.
    pub(crate) fn sandbox(&self, extra: &[&str], cmd: &[&str]) -> Run {
        self.sandbox_env(extra, cmd, &[])
    }

    /// Like [`Scene::sandbox`], with extra environment for the airlock process itself.
    pub(crate) fn sandbox_env(&self, extra: &[&str], cmd: &[&str], env: &[(&str, &str)]) -> Run {
        let events = self.path("events.jsonl");
        let fixture_dir = attacks().parent().unwrap();
        let mut command = Command::new(bin());
        command
            .arg("sandbox")
            .arg("--events")
            .arg(&events)
            .arg("--write")
            .arg(self.out())
            .arg("--exec")
            .arg(fixture_dir)
            .args(extra)
            .arg("--")
            .args(cmd)
            .current_dir(self.dir.path());
        for (k, v) in env {
            command.env(k, v);
        }
        let output = command.output().expect("cargo-airlock runs");
        let events = std::fs::read_to_string(&events)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).expect("every event line is JSON"))
            .collect();
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            events,
        }
    }

    /// Runs the attack fixture with `args` in the sandbox.
    pub(crate) fn attack(&self, extra: &[&str], args: &[&str]) -> Run {
        let fixture = attacks().to_str().unwrap().to_owned();
        let mut cmd = vec![fixture.as_str()];
        cmd.extend_from_slice(args);
        self.sandbox(extra, &cmd)
    }
}

impl Run {
    /// The events with this kind and action.
    pub(crate) fn find(&self, kind: &str, action: &str) -> Vec<&Value> {
        self.events
            .iter()
            .filter(|e| e["kind"] == kind && e["action"] == action)
            .collect()
    }

    /// Asserts that an event of `kind`/`action` with `decision` was recorded whose detail
    /// `key` contains `needle`, and returns it.
    #[track_caller]
    pub(crate) fn expect(
        &self,
        kind: &str,
        action: &str,
        decision: &str,
        key: &str,
        needle: &str,
    ) -> &Value {
        self.events
            .iter()
            .find(|e| {
                e["kind"] == kind
                    && e["action"] == action
                    && e["decision"] == decision
                    && e["detail"][key]
                        .as_str()
                        .map_or_else(|| e["detail"][key].to_string().contains(needle), |s| s.contains(needle))
            })
            .unwrap_or_else(|| {
                panic!(
                    "no {kind}/{action} {decision} event with {key} ~ {needle:?}\nevents: {:#?}\nstdout: {}\nstderr: {}",
                    self.events, self.stdout, self.stderr
                )
            })
    }

    /// Asserts the fixture reported its attempt as refused.
    #[track_caller]
    pub(crate) fn refused(&self) {
        assert!(
            self.stdout.contains("refused") && !self.stdout.contains("succeeded"),
            "the attempt was not refused:\nstdout: {}\nstderr: {}",
            self.stdout,
            self.stderr
        );
    }
}

/// Whether the tests run as root (some limits differ; see the sandbox tests).
pub(crate) fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .map(|v| v.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}
