//! The build-script launcher: what cargo really runs when it thinks it runs a build script. The
//! wrapper put a two-line shell script in place of the linked `build-script-build`; it calls
//! `cargo-airlock __build-script REAL ARGS..`, which lands here. The real script runs under the
//! sandbox with the crate's grants (read its sources, the build's target directory and the
//! `DEP_*` directories; write its `OUT_DIR`; execute its own binary, the profile's tools, and
//! from its `OUT_DIR` what a compiler or linker of the same run produced there (autoconf's
//! `./conftest`; anything written there under an `exec-out-dir` exception), cargo's jobserver
//! passed through. Its stdout goes to cargo unchanged and is parsed for directives; the run is
//! recorded in the session. A script that fails after the sandbox refused to run a program
//! from its `OUT_DIR` gets a hint naming the `airlock.toml` lines that would allow it.

use std::ffi::OsString;
use std::os::fd::RawFd;
use std::path::{Path, PathBuf};

use super::config::EXEC_OUT_DIR;
use super::directives;
use super::session::{RunRecord, Session};
use super::tee::Tee;
use super::{load_profile, BuildError};
use crate::events::{Decision, Event, Kind, Phase};
use crate::report::Directive;
use crate::sandbox::{self, SandboxConfig};

/// Variables that never reach a sandboxed run from the launcher's environment: our own hooks
/// (a build script probing `RUSTC_WRAPPER` would call back into cargo-airlock).
pub(super) const STRIPPED: &[&str] = &[
    "RUSTC_WRAPPER",
    "RUSTC_WORKSPACE_WRAPPER",
    super::session::SESSION_VAR,
];

/// Whether a cargo-set variable should reach the sandboxed process as it is.
pub(super) fn cargo_variable(name: &str) -> bool {
    let secret = ["TOKEN", "CREDENTIAL", "PASSWORD", "SECRET"]
        .iter()
        .any(|s| name.contains(s))
        || name.starts_with("CARGO_REGISTRY")
        || name.starts_with("CARGO_REGISTRIES")
        || name.starts_with("CARGO_HTTP");
    !secret
        && (name.starts_with("CARGO_")
            || name.starts_with("DEP_")
            || [
                "OUT_DIR",
                "TARGET",
                "HOST",
                "NUM_JOBS",
                "OPT_LEVEL",
                "DEBUG",
                "PROFILE",
                "RUSTC",
                "RUSTDOC",
                "RUSTC_LINKER",
            ]
            .contains(&name))
}

/// The jobserver descriptors named by `CARGO_MAKEFLAGS` (`--jobserver-auth=R,W` or the older
/// `--jobserver-fds=R,W`), if they are open here. A `fifo:PATH` jobserver needs no descriptors
/// but is not reachable inside the sandbox; the script then falls back to `NUM_JOBS`.
pub(super) fn jobserver_fds(makeflags: &str) -> Vec<RawFd> {
    let mut fds = Vec::new();
    for word in makeflags.split_whitespace() {
        let Some(v) = word
            .strip_prefix("--jobserver-auth=")
            .or_else(|| word.strip_prefix("--jobserver-fds="))
        else {
            continue;
        };
        if let Some((r, w)) = v.split_once(',') {
            for fd in [r, w] {
                if let Ok(fd) = fd.parse::<RawFd>() {
                    // SAFETY: F_GETFD only inspects our descriptor table.
                    let open = unsafe { libc::fcntl(fd, libc::F_GETFD) } >= 0;
                    if fd > 2 && open && !fds.contains(&fd) {
                        fds.push(fd);
                    }
                }
            }
        }
    }
    fds
}

fn var(name: &str) -> Option<OsString> {
    std::env::var_os(name).filter(|v| !v.is_empty())
}

/// Runs the real build script `real` with `args` in the sandbox; returns the exit code for
/// cargo.
pub fn run(real: &Path, args: &[OsString]) -> Result<i32, BuildError> {
    let session = Session::from_env()?;
    let missing = |name: &'static str| BuildError::Launcher {
        script: real.to_owned(),
        reason: format!("cargo did not set {name}"),
    };
    let name = var("CARGO_PKG_NAME").ok_or_else(|| missing("CARGO_PKG_NAME"))?;
    let version = var("CARGO_PKG_VERSION").ok_or_else(|| missing("CARGO_PKG_VERSION"))?;
    let manifest_dir =
        PathBuf::from(var("CARGO_MANIFEST_DIR").ok_or_else(|| missing("CARGO_MANIFEST_DIR"))?);
    let out_dir = PathBuf::from(var("OUT_DIR").ok_or_else(|| missing("OUT_DIR"))?);
    let (name, version) = (
        name.to_string_lossy().into_owned(),
        version.to_string_lossy().into_owned(),
    );
    let package = session
        .info
        .graph
        .find(&name, &version, &manifest_dir)
        .cloned();
    let label = format!("{name} {version}");
    let exception = session.exception(&name).cloned().unwrap_or_default();
    let _mark = session.running(&label);

    let profile_name = exception
        .profile
        .clone()
        .unwrap_or_else(|| session.info.profile.clone());
    let profile = load_profile(&profile_name)?;
    let mut command = vec![real.as_os_str().to_owned()];
    command.extend(args.iter().cloned());
    let mut config = SandboxConfig::new(profile, command);
    config
        .env
        .retain(|(k, _)| !STRIPPED.iter().any(|s| k == *s));
    config.env_set = std::env::vars_os()
        .filter(|(k, _)| cargo_variable(&k.to_string_lossy()))
        .filter(|(k, _)| !STRIPPED.iter().any(|s| k == *s))
        .collect();
    config.env_set.extend(
        session
            .info
            .script_env
            .iter()
            .map(|(k, v)| (OsString::from(k), OsString::from(v))),
    );
    config.cwd = manifest_dir.clone();
    config.phase = Phase::BuildScript;
    config.krate = label.clone();
    config.allow_degraded = session.info.allow_degraded;
    config.extra_read.push(manifest_dir.clone());
    config.extra_read.push(session.info.build_target.clone());
    for (k, v) in std::env::vars_os() {
        let path = Path::new(&v);
        if k.to_string_lossy().starts_with("DEP_")
            && path.is_absolute()
            && path.is_dir()
            && !config.extra_read.iter().any(|r| path.starts_with(r))
        {
            config.extra_read.push(path.to_owned());
        }
    }
    config.extra_read.extend(exception.read.iter().cloned());
    if exception.exec_out_dir {
        config.extra_write_exec.push(out_dir.clone());
    } else {
        config.produced_exec.push(out_dir.clone());
        config.produced_sources.push(manifest_dir.clone());
    }
    config.extra_write.extend(exception.write.iter().cloned());
    if let Some(dir) = real.parent() {
        config.extra_exec.push(dir.to_owned());
    }
    config.extra_exec.extend(exception.exec.iter().cloned());
    if let Some(flags) = std::env::var_os("CARGO_MAKEFLAGS") {
        config.keep_fds = jobserver_fds(&flags.to_string_lossy());
    }

    let tee = Tee::start(1, None).map_err(|source| BuildError::LauncherStep {
        script: real.to_owned(),
        step: "capturing the script's output",
        source,
    })?;
    let result = sandbox::run(&config);
    let stdout = tee.finish();
    let unit = out_dir.to_string_lossy().into_owned();

    let mut record = RunRecord::new(
        package.iter().map(|p| p.id.clone()).collect(),
        label.clone(),
        Phase::BuildScript,
        exception.granted(),
    );
    let code = match result {
        Ok(outcome) => {
            let code = outcome.termination.exit_code();
            if code != 0 && !exception.exec_out_dir {
                record.hint = out_dir_exec_hint(&name, &outcome.events, &out_dir);
                if let Some(hint) = &record.hint {
                    eprintln!("cargo-airlock: {hint}");
                }
            }
            let directives = directives::parse(&stdout, &directives::Context { out_dir });
            let mut events = directive_events(&directives, &label);
            if let Some(decoys) = &outcome.decoys {
                for decoy in decoys.found_in(&stdout) {
                    let mut e = Event::new(Kind::Leak, "decoy-output", Decision::Flagged)
                        .with("decoy", decoy.name.as_str())
                        .with("location", "build-script stdout (directives)");
                    e.krate.clone_from(&label);
                    e.phase = Phase::BuildScript;
                    events.push(e);
                }
            }
            record.ran(outcome);
            record.events.extend(events);
            record.directives = directives;
            code
        }
        Err(err) => record.could_not_run(&format!("the build script of {label}"), &err),
    };
    session.write_record(&record, &unit)?;
    Ok(code)
}

/// For a build script that failed: if the sandbox refused to execute a program from the
/// script's `OUT_DIR` (autoconf's `./conftest`), says so and names the `airlock.toml` lines
/// that would allow it. Fileless executions never qualify: no exception allows them.
pub(super) fn out_dir_exec_hint(name: &str, events: &[Event], out_dir: &Path) -> Option<String> {
    let out_dir = std::fs::canonicalize(out_dir).unwrap_or_else(|_| out_dir.to_owned());
    let refused = events.iter().find_map(|e| {
        if e.kind != Kind::Exec
            || e.decision != Decision::Denied
            || e.detail.get("fileless").is_some_and(|v| v == true)
        {
            return None;
        }
        let path = e.detail.get("resolved")?.as_str()?;
        Path::new(path).starts_with(&out_dir).then_some(path)
    })?;
    Some(format!(
        "the build script of {name} failed after the sandbox refused to execute {refused}, a \
         file in its OUT_DIR that no compiler or linker of the build produced (or that changed \
         after it did): by default only those may run from there. If {name} must run what it \
         writes itself, allow it in airlock.toml at the workspace root: `[crate.{name}]` with \
         `{EXEC_OUT_DIR} = true`"
    ))
}

/// The `directive` events of the flagged directives, attributed to `label`.
pub(super) fn directive_events(directives: &[Directive], label: &str) -> Vec<Event> {
    directives
        .iter()
        .filter_map(Directive::event)
        .map(|mut e| {
            e.krate = label.to_owned();
            e.phase = Phase::BuildScript;
            e
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobserver_fds_are_parsed_and_checked() {
        // 0-2 are never taken, and a closed descriptor is skipped.
        assert!(jobserver_fds("-j --jobserver-fds=1,2 --jobserver-auth=1,2").is_empty());
        assert!(jobserver_fds("-j --jobserver-auth=fifo:/tmp/x").is_empty());
        let f = std::fs::File::open("/dev/null").unwrap();
        let fd = std::os::fd::AsRawFd::as_raw_fd(&f);
        assert_eq!(
            jobserver_fds(&format!("-j --jobserver-auth={fd},9999")),
            [fd]
        );
    }

    #[test]
    fn a_refused_exec_from_out_dir_gets_a_hint_and_nothing_else_does() {
        let out = tempfile::tempdir().unwrap();
        let out_dir = std::fs::canonicalize(out.path()).unwrap();
        let denied = |resolved: &Path| {
            Event::new(Kind::Exec, "exec", Decision::Denied)
                .with("path", "./conftest")
                .with("resolved", resolved.to_string_lossy())
        };
        let conftest = out_dir.join("build/conftest");
        let hint = out_dir_exec_hint("jm-sys", &[denied(&conftest)], &out_dir).unwrap();
        assert!(
            hint.contains("[crate.jm-sys]")
                && hint.contains("exec-out-dir = true")
                && hint.contains(&*conftest.to_string_lossy()),
            "{hint}"
        );
        // Elsewhere, fileless, or allowed: no hint.
        assert!(out_dir_exec_hint("x", &[denied(Path::new("/tmp/conftest"))], &out_dir).is_none());
        let fileless = denied(&conftest).with("fileless", true);
        assert!(out_dir_exec_hint("x", &[fileless], &out_dir).is_none());
        let mut allowed = denied(&conftest);
        allowed.decision = Decision::Allowed;
        assert!(out_dir_exec_hint("x", &[allowed], &out_dir).is_none());
    }

    #[test]
    fn secrets_are_not_cargo_variables() {
        assert!(cargo_variable("CARGO_PKG_NAME"));
        assert!(cargo_variable("DEP_Z_INCLUDE"));
        assert!(cargo_variable("OUT_DIR"));
        assert!(!cargo_variable("CARGO_REGISTRY_TOKEN"));
        assert!(!cargo_variable("CARGO_REGISTRIES_X_TOKEN"));
        assert!(!cargo_variable("HOME"));
    }
}
