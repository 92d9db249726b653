//! Instrumented builds of fuzz targets: the one place that runs cargo for fuzzing, with
//! cargo-fuzz's flags, so `cargo fuzz run` and `cargo airlock fuzz` build the same thing.

use std::path::PathBuf;
use std::process::Command;

use super::project::FuzzProject;
use super::FuzzError;

/// How the targets are instrumented, for the report.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Instrumentation {
    pub toolchain: String,
    pub triple: String,
    pub sanitizer: String,
    /// Whether C code compiled by `cc` is instrumented too (needs clang).
    pub c_instrumented: bool,
}

/// The rustc flags cargo-fuzz uses (its `BuildOptions` defaults with `--sanitizer address`).
pub fn rustflags() -> String {
    [
        // Edge coverage with inline 8-bit counters and a PC table: libFuzzer's feedback.
        "-Cpasses=sancov-module",
        "-Cllvm-args=-sanitizer-coverage-level=4",
        "-Cllvm-args=-sanitizer-coverage-inline-8bit-counters",
        "-Cllvm-args=-sanitizer-coverage-pc-table",
        // Comparison operands feed libFuzzer's value profile and dictionary.
        "-Cllvm-args=-sanitizer-coverage-trace-compares",
        // Stack depth becomes a coverage feature, so inputs that nest deeper are kept and
        // unbounded recursion surfaces within minutes (cargo-fuzz does not enable this).
        "-Cllvm-args=-sanitizer-coverage-stack-depth",
        "--cfg",
        "fuzzing",
        "-Zsanitizer=address",
        "-Cdebug-assertions",
        "-Coverflow-checks",
        // Frame pointers make ASan's fast unwinder reliable.
        "-Cforce-frame-pointers=yes",
    ]
    .join(" ")
}

/// The nightly toolchain's version, or an error naming the fix.
pub fn nightly_version() -> Result<String, FuzzError> {
    let out = Command::new("cargo")
        .args(["+nightly", "--version"])
        .output();
    match out {
        Ok(o) if o.status.success() => Ok(String::from_utf8_lossy(&o.stdout).trim().to_owned()),
        _ => Err(FuzzError::NoNightly),
    }
}

/// The host target triple (`rustc -vV`).
pub fn host_triple() -> Result<String, FuzzError> {
    let out = Command::new("rustc")
        .args(["+nightly", "-vV"])
        .output()
        .map_err(|_| FuzzError::NoNightly)?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: ").map(str::to_owned))
        .ok_or(FuzzError::NoNightly)
}

fn clang() -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|d| d.join("clang"))
        .find(|p| p.is_file())
}

/// A prepared build.
pub struct FuzzBuild {
    pub instrumentation: Instrumentation,
    /// Extra environment (e.g. a `RUSTC_WRAPPER` that sandboxes build scripts).
    pub env: Vec<(String, String)>,
}

impl FuzzBuild {
    /// Checks the toolchain and decides the instrumentation.
    pub fn prepare() -> Result<FuzzBuild, FuzzError> {
        let toolchain = nightly_version()?;
        let triple = host_triple()?;
        Ok(FuzzBuild {
            instrumentation: Instrumentation {
                toolchain,
                triple,
                sanitizer: "address".into(),
                c_instrumented: clang().is_some(),
            },
            env: Vec::new(),
        })
    }

    /// The cargo command that builds `targets` (all when empty) of `project`.
    pub fn command(&self, project: &FuzzProject, targets: &[&str]) -> Command {
        let mut cmd = Command::new("cargo");
        cmd.arg("+nightly")
            .arg("build")
            .arg("--release")
            .arg("--manifest-path")
            .arg(project.manifest())
            // An explicit --target keeps build scripts and proc macros uninstrumented.
            .arg("--target")
            .arg(&self.instrumentation.triple)
            .arg("--target-dir")
            .arg(project.target_dir());
        if targets.is_empty() {
            cmd.arg("--bins");
        }
        for t in targets {
            cmd.arg("--bin").arg(t);
        }
        cmd.env("RUSTFLAGS", rustflags())
            // Limited debuginfo: full function paths in frames (line tables alone give bare
            // names), without the cost of variable info.
            .env("CARGO_PROFILE_RELEASE_DEBUG", "limited")
            .env("CARGO_TERM_COLOR", "never");
        if let Some(clang) = clang() {
            cmd.env("CC", &clang)
                .env("CFLAGS", "-fsanitize=address,fuzzer-no-link -g");
        }
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }

    /// Builds `targets`; on failure, builds them one by one so each failing target is named.
    /// Returns the targets that failed, with cargo's first error line.
    pub fn build(
        &self,
        project: &FuzzProject,
        targets: &[&str],
    ) -> Result<Vec<(String, String)>, FuzzError> {
        let run = |names: &[&str]| -> Result<(bool, String), FuzzError> {
            let mut cmd = self.command(project, names);
            let out = cmd.output().map_err(|source| FuzzError::Spawn {
                what: format!("{cmd:?}"),
                source,
            })?;
            Ok((
                out.status.success(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            ))
        };
        let (ok, _) = run(targets)?;
        if ok {
            return Ok(Vec::new());
        }
        let mut failed = Vec::new();
        for t in targets {
            let (ok, stderr) = run(&[t])?;
            if !ok {
                let first = stderr
                    .lines()
                    .find(|l| l.starts_with("error"))
                    .unwrap_or("the build failed")
                    .to_owned();
                failed.push(((*t).to_owned(), first));
            }
        }
        Ok(failed)
    }
}
