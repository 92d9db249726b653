//! cargo's runner hook for `cargo airlock test`: what the `cargo test` command gets so that
//! cargo runs every test program (test binaries, examples) through cargo-airlock's
//! `__test-runner` role, for the host and every target it builds for, and rustdoc through its
//! `__rustdoc` role (`RUSTDOC`, a shim script in the session directory), which runs doc tests
//! in the sandbox.

use std::ffi::OsString;
use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use crate::build::session::Session;
use crate::build::BuildError;

/// Makes `cmd` (a `cargo test` with the user's `args`) run every test program through
/// cargo-airlock's test runner: cargo's `target.<triple>.runner` (which cargo applies to doc
/// tests too) for the host, for every `--target` of `args` or `CARGO_BUILD_TARGET`, and for any
/// other target through `cfg(all())`, and a
/// `TMPDIR` under the target directory, where rustdoc writes its doc-test programs (the host's
/// `/tmp` is not what the sandbox shows).
pub(super) fn test_hook(
    cmd: &mut Command,
    session: &Session,
    args: &[OsString],
) -> Result<(), BuildError> {
    let known = session.info.test.as_ref().and_then(|t| t.host.clone());
    let host = match known {
        Some(host) => host,
        None => {
            rustc_identity()
                .map_err(|source| BuildError::HostTriple { source })?
                .host
        }
    };
    let tmp = session.info.build_target.join(TEST_TMP_SUBDIR);
    std::fs::create_dir_all(&tmp).map_err(|source| BuildError::Session {
        step: "creating".into(),
        path: tmp.clone(),
        source,
    })?;
    let runner = serde_json::json!([session.info.airlock_bin, TEST_RUNNER_ROLE]);
    let mut triples = vec![host];
    let from_env = std::env::var("CARGO_BUILD_TARGET").ok();
    for t in target_args(args).into_iter().chain(from_env) {
        if !triples.contains(&t) {
            triples.push(t);
        }
    }
    for triple in triples {
        cmd.arg("--config")
            .arg(format!("target.{triple}.runner={runner}"));
    }
    // Any other target (`build.target` of a configuration file) too, unless that file gives
    // it a runner of its own (cargo prefers a triple's table to a `cfg` one).
    cmd.arg("--config")
        .arg(format!("target.'cfg(all())'.runner={runner}"));
    cmd.env("TMPDIR", &tmp);
    // rustdoc through the rustdoc role, which sandboxes `rustdoc --test`.
    let real = std::env::var_os("RUSTDOC")
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| "rustdoc".into());
    let shim = session.dir.join("rustdoc");
    let script = format!(
        "#!/bin/sh\n# cargo-airlock: rustdoc's doc tests run in the sandbox.\nexec {} {RUSTDOC_ROLE} {} \"$@\"\n",
        shell_quote(&session.info.airlock_bin.to_string_lossy()),
        shell_quote(&real.to_string_lossy()),
    );
    let written = std::fs::write(&shim, script)
        .and_then(|()| std::fs::set_permissions(&shim, std::fs::Permissions::from_mode(0o755)));
    written.map_err(|source| BuildError::Session {
        step: "writing the rustdoc shim".into(),
        path: shim.clone(),
        source,
    })?;
    cmd.env("RUSTDOC", &shim);
    Ok(())
}

/// `text` quoted for `sh`.
fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// The `--target T` and `--target=T` values among cargo arguments `args` (up to a `--`).
fn target_args(args: &[OsString]) -> Vec<String> {
    let args: Vec<String> = args
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .take_while(|a| a != "--")
        .collect();
    let mut out = Vec::new();
    for (i, a) in args.iter().enumerate() {
        if a == "--target" {
            out.extend(args.get(i + 1).cloned());
        } else if let Some(t) = a.strip_prefix("--target=") {
            out.push(t.to_owned());
        }
    }
    out
}

/// The hidden first argument that makes cargo-airlock the rustdoc of a test session
/// (`cargo-airlock __rustdoc REAL ARGS..`), which the `RUSTDOC` shim passes.
pub const RUSTDOC_ROLE: &str = "__rustdoc";

/// The hidden first argument that makes cargo-airlock the test runner
/// (`cargo-airlock __test-runner PROGRAM ARGS..`).
pub const TEST_RUNNER_ROLE: &str = "__test-runner";

/// The directory under a test run's target directory that is cargo's `TMPDIR` (rustdoc's
/// doc-test programs are written there).
pub(crate) const TEST_TMP_SUBDIR: &str = "airlock-rustdoc-tmp";

/// What `rustc -vV` says of the toolchain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct RustcIdentity {
    /// The host triple (`host:`).
    pub host: String,
    /// The first line, as `rustc -V` prints it (`rustc 1.95.0 (59807616e 2026-04-14)`).
    pub version: String,
}

/// The host triple and version of the toolchain, from one `rustc -vV`.
pub(super) fn rustc_identity() -> std::io::Result<RustcIdentity> {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let out = Command::new(rustc).arg("-vV").output()?;
    parse_identity(&String::from_utf8_lossy(&out.stdout))
        .ok_or_else(|| std::io::Error::other("its output has no `host:` line"))
}

/// Reads `rustc -vV`'s output.
fn parse_identity(text: &str) -> Option<RustcIdentity> {
    let host = text
        .lines()
        .find_map(|l| l.strip_prefix("host: "))?
        .trim()
        .to_owned();
    let version = text.lines().next().unwrap_or_default().trim().to_owned();
    Some(RustcIdentity { host, version })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_target_of_the_cargo_arguments_gets_the_test_runner() {
        let args: Vec<OsString> = [
            "--target",
            "aarch64-unknown-linux-gnu",
            "--target=x86_64-unknown-linux-musl",
            "--",
            "--target",
            "not-cargos",
        ]
        .iter()
        .map(OsString::from)
        .collect();
        assert_eq!(
            target_args(&args),
            ["aarch64-unknown-linux-gnu", "x86_64-unknown-linux-musl"]
        );
        assert!(target_args(&[]).is_empty());
    }

    #[test]
    fn rustc_says_its_host_and_version() {
        let vv = "rustc 1.95.0 (59807616e 2026-04-14)\nbinary: rustc\nhost: x86_64-unknown-linux-gnu\nrelease: 1.95.0\n";
        assert_eq!(
            parse_identity(vv),
            Some(RustcIdentity {
                host: "x86_64-unknown-linux-gnu".into(),
                version: "rustc 1.95.0 (59807616e 2026-04-14)".into(),
            })
        );
        assert_eq!(parse_identity("rustc 1.95.0\n"), None);
    }
}
