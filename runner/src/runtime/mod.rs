//! The crate's own code run observed: test binaries, doc tests and examples (`cargo airlock
//! test`, vet's `test` phase), programs that link a crate and start (vet's `load`), and probes
//! of its public functions (vet's `probe`). Every one of them is a [`RuntimeRun`]: one program
//! under the `test` profile (`sandbox-profiles/test.toml`), with the package it belongs to
//! readable and its working directory, the program's own directory executable, the directories
//! it may write, the decoy home and variables, CI variables set, and the run's private loopback
//! (a port a process of the same run bound is reachable; anything else is denied and recorded).
//!
//! This module only says how such a run is sandboxed and attributed; which programs run, and
//! what their events mean for a verdict, belong to the commands that start them.

use std::ffi::OsString;
use std::os::fd::RawFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::events::Phase;
use crate::profile::{Placeholders, Profile, ProfileError};
use crate::sandbox::{self, RunOutcome, SandboxConfig, SandboxError};

mod output;

/// The built-in profile run-time code runs under.
pub const TEST_PROFILE: &str = "test";

/// Errors of a run-time run: the profile could not be loaded, or the sandbox could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RuntimeError {
    /// The profile could not be loaded.
    #[error(transparent)]
    Profile(#[from] ProfileError),
    /// The program's standard output or error could not be captured for scanning.
    #[error("cannot capture the output of {}", program.display())]
    Capture {
        /// The program.
        program: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The sandbox could not run the program.
    #[error("cannot run {} in the sandbox", program.display())]
    Sandbox {
        /// The program.
        program: PathBuf,
        /// Why.
        #[source]
        source: SandboxError,
    },
}

/// One program of the crate's own code to run observed.
#[derive(Debug, Clone)]
pub struct RuntimeRun {
    /// The program (a test binary, a load program, a probe binary).
    pub program: PathBuf,
    /// Its arguments.
    pub args: Vec<OsString>,
    /// `test`, `load` or `probe`.
    pub phase: Phase,
    /// `name version` of the crate the run is attributed to.
    pub krate: String,
    /// The entry point the run exercises (a probe's function path, a test binary's name):
    /// stamped on every event of the run.
    pub entry: Option<String>,
    /// The package the code belongs to: readable, and the working directory unless `cwd` says
    /// otherwise.
    pub package_dir: PathBuf,
    /// The working directory (the package's directory if None).
    pub cwd: Option<PathBuf>,
    /// Further readable directories (the target directory, fixtures).
    pub read: Vec<PathBuf>,
    /// Further executable paths besides the program's own directory (e.g. the target
    /// directory's binaries that integration tests start through `CARGO_BIN_EXE_*`).
    pub exec: Vec<PathBuf>,
    /// Writable directories (the target directory's `tmp`, a private scratch); nothing in them
    /// runs.
    pub write: Vec<PathBuf>,
    /// Variables set inside on top of what the profile passes (never secrets).
    pub env_set: Vec<(OsString, OsString)>,
    /// Overrides the profile's timeout (10 minutes).
    pub timeout: Option<Duration>,
    /// Run with the layers this kernel has, recording what is missing.
    pub allow_degraded: bool,
    /// Replacements for stdin, stdout and stderr (descriptors the caller keeps open for the
    /// run); None inherits the caller's.
    pub stdio: [Option<RawFd>; 3],
    /// A profile to use instead of the built-in `test` one (`--profile`).
    pub profile: Option<String>,
    /// Plant a decoy `.env` in the working directory (only when the caller owns it: a private
    /// directory of the run, as vet's `load` and `probe` runs have).
    pub decoy_dotenv: bool,
    /// Writable directories whose files may also run (rustdoc's temporary directory, where it
    /// links the doc-test programs that it, and a merged doc-test program itself, start from
    /// several threads at once: the check that lets only what a compiler of the run produced
    /// run from a write directory refuses such callers). Everything else stays non-executable.
    pub write_exec: Vec<PathBuf>,
    /// Search what the run writes to the standard streams it inherits (not those `stdio`
    /// replaces) for the run's decoy values, passing it through unchanged: a hit is a
    /// `leak/decoy-output` event naming the stream (a secret printed to a CI log is out).
    pub scan_output: bool,
}

impl RuntimeRun {
    /// A run of `program` in phase `phase`, attributed to `krate`, belonging to the package in
    /// `package_dir`, with nothing else granted.
    pub fn new(program: &Path, phase: Phase, krate: &str, package_dir: &Path) -> RuntimeRun {
        RuntimeRun {
            program: program.to_owned(),
            args: Vec::new(),
            phase,
            krate: krate.to_owned(),
            entry: None,
            package_dir: package_dir.to_owned(),
            cwd: None,
            read: Vec::new(),
            exec: Vec::new(),
            write: Vec::new(),
            env_set: Vec::new(),
            timeout: None,
            allow_degraded: false,
            stdio: [None; 3],
            profile: None,
            decoy_dotenv: false,
            write_exec: Vec::new(),
            scan_output: false,
        }
    }

    /// The sandbox configuration of this run.
    pub fn config(&self) -> Result<SandboxConfig, RuntimeError> {
        let profile = Profile::load(
            self.profile.as_deref().unwrap_or(TEST_PROFILE),
            &Placeholders::from_env(),
        )?;
        let mut command = vec![self.program.as_os_str().to_owned()];
        command.extend(self.args.iter().cloned());
        let mut config = SandboxConfig::new(profile, command);
        config.phase = self.phase;
        config.krate.clone_from(&self.krate);
        let program_dir = self.program.parent().unwrap_or(Path::new("/")).to_owned();
        config.extra_exec = std::iter::once(program_dir)
            .chain(self.exec.iter().cloned())
            .collect();
        config.extra_read = std::iter::once(self.package_dir.clone())
            .chain(self.read.iter().cloned())
            .collect();
        config.extra_write.clone_from(&self.write);
        config.cwd = self.cwd.clone().unwrap_or_else(|| self.package_dir.clone());
        config.env_set.clone_from(&self.env_set);
        config.timeout = self.timeout;
        config.allow_degraded = self.allow_degraded;
        config.stdio = self.stdio;
        config.decoy_dotenv = self.decoy_dotenv;
        config.extra_write_exec.clone_from(&self.write_exec);
        Ok(config)
    }
}

/// Runs `run` in the sandbox and returns what it attempted, every event stamped with the run's
/// entry point.
pub fn run(run: &RuntimeRun) -> Result<RunOutcome, RuntimeError> {
    let config = run.config()?;
    let watch = if run.scan_output {
        output::Watch::start(&run.stdio).map_err(|source| RuntimeError::Capture {
            program: run.program.clone(),
            source,
        })?
    } else {
        output::Watch::none()
    };
    let result = sandbox::run(&config);
    let printed = watch.finish();
    let mut outcome = result.map_err(|source| RuntimeError::Sandbox {
        program: run.program.clone(),
        source,
    })?;
    if let Some(decoys) = &outcome.decoys {
        let leaks = output::decoy_events(decoys, &printed, run.phase, &run.krate);
        outcome.events.extend(leaks);
    }
    if let Some(entry) = &run.entry {
        for event in &mut outcome.events {
            event.entry.get_or_insert_with(|| entry.clone());
        }
    }
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_package_is_read_and_the_working_directory_and_the_program_runs_from_its_dir() {
        let run = RuntimeRun {
            write: vec![PathBuf::from("/t/target/tmp")],
            read: vec![PathBuf::from("/t/target")],
            ..RuntimeRun::new(
                Path::new("/t/target/debug/deps/p-1234"),
                Phase::Test,
                "p 0.1.0",
                Path::new("/src/p"),
            )
        };
        let config = run.config().unwrap();
        assert_eq!(config.profile.name, TEST_PROFILE);
        assert_eq!(config.phase, Phase::Test);
        assert_eq!(config.krate, "p 0.1.0");
        assert_eq!(config.cwd, Path::new("/src/p"));
        assert_eq!(
            config.extra_read,
            [PathBuf::from("/src/p"), PathBuf::from("/t/target")]
        );
        assert_eq!(config.extra_exec, [PathBuf::from("/t/target/debug/deps")]);
        assert_eq!(config.extra_write, [PathBuf::from("/t/target/tmp")]);
        assert!(config.extra_write_exec.is_empty() && config.produced_exec.is_empty());
        assert!(!config.decoy_dotenv, "a .env only where asked");
        let owned = RuntimeRun {
            decoy_dotenv: true,
            ..run
        };
        assert!(owned.config().unwrap().decoy_dotenv);
    }

    #[test]
    fn the_test_profile_sets_ci_variables_and_passes_run_time_ones() {
        let profile = Profile::load(TEST_PROFILE, &Placeholders::from_env()).unwrap();
        assert_eq!(
            profile.env.set.get("GITLAB_CI").map(String::as_str),
            Some("true")
        );
        for var in ["CARGO_MANIFEST_DIR", "RUST_TEST_THREADS", "LD_LIBRARY_PATH"] {
            assert!(profile.env.passes(var), "{var} must reach a test");
        }
        assert!(!profile.env.passes("OUT_DIR"), "a build-script variable");
    }
}
