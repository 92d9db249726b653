//! One instrumented target binary run in the sandbox with the `fuzz` profile: a libFuzzer run
//! of the campaign, the rerun of one input that classifies a crash, and `repro` (rebuild, then
//! rerun).

use std::ffi::OsString;
use std::fs;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::instrumented_build::{FuzzBuild, Vetting};
use super::libfuzzer::libfuzzer_limits;
use super::project::FuzzProject;
use super::triage::{self, Crash};
use super::{write_err, FuzzError};
use crate::events::{Event, Phase};
use crate::profile::{Placeholders, Profile};
use crate::sandbox::{self, SandboxConfig};

/// The profile fuzz targets run under.
pub const FUZZ_PROFILE: &str = "fuzz";

/// One instrumented target binary and how its runs are sandboxed.
pub(super) struct TargetRun<'a> {
    pub binary: &'a Path,
    /// The crate under test (events are attributed to it).
    pub krate: &'a str,
    pub allow_degraded: bool,
    /// The main-thread stack the generator recorded for the target (`stack_bytes`).
    pub stack_bytes: u64,
}

impl TargetRun<'_> {
    /// The target's name (its binary's file name): the `entry` of its events.
    pub(super) fn target_name(&self) -> String {
        self.binary
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    /// Runs the binary with `args` in the sandbox, stdout and stderr into `log`.
    pub(super) fn run(
        &self,
        args: Vec<OsString>,
        read: Vec<PathBuf>,
        write: Vec<PathBuf>,
        log: &Path,
        timeout: Duration,
    ) -> Result<(sandbox::RunOutcome, String), FuzzError> {
        let (binary, krate, allow_degraded) = (self.binary, self.krate, self.allow_degraded);
        let mut profile = Profile::load(FUZZ_PROFILE, &Placeholders::from_env())?;
        // The stack comes from targets.json (harness_gen::targets::STACK_BYTES), not the profile.
        profile.limits.stack = Some(self.stack_bytes);
        let mut command = vec![binary.as_os_str().to_owned()];
        command.extend(args);
        let mut config = SandboxConfig::new(profile, command);
        config.phase = Phase::Fuzz;
        config.krate = krate.to_owned();
        config.extra_exec = vec![binary.parent().unwrap_or(Path::new("/")).to_owned()];
        config.extra_read = read;
        config.extra_write = write.clone();
        config.cwd = write.first().cloned().unwrap_or_else(|| PathBuf::from("/"));
        config.timeout = Some(timeout);
        config.allow_degraded = allow_degraded;
        let mut env = vec![
            (
                "ASAN_OPTIONS",
                "detect_leaks=1:symbolize=1:handle_abort=1:handle_segv=1:detect_odr_violation=0:allocator_may_return_null=0".to_owned(),
            ),
            ("RUST_BACKTRACE", "0".to_owned()),
        ];
        for candidate in ["/usr/bin/llvm-symbolizer", "/usr/local/bin/llvm-symbolizer"] {
            if Path::new(candidate).is_file() {
                env.push(("ASAN_SYMBOLIZER_PATH", candidate.to_owned()));
                break;
            }
        }
        config.env_set = env.into_iter().map(|(k, v)| (k.into(), v.into())).collect();
        let file = fs::File::create(log).map_err(write_err(log))?;
        let null = fs::File::open("/dev/null").map_err(write_err(Path::new("/dev/null")))?;
        config.stdio = [
            Some(null.as_raw_fd()),
            Some(file.as_raw_fd()),
            Some(file.as_raw_fd()),
        ];
        let mut outcome = sandbox::run(&config)?;
        drop(file);
        let target = self.target_name();
        for e in &mut outcome.events {
            e.entry.get_or_insert_with(|| target.clone());
        }
        let text = fs::read(log)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        Ok((outcome, text))
    }

    /// Runs the binary on `input` once and classifies what happened.
    pub(super) fn rerun(
        &self,
        input: &Path,
        log: &Path,
        input_timeout: Duration,
        rss_limit_mb: u64,
    ) -> Result<Reproduction, FuzzError> {
        let mut args = libfuzzer_limits(input_timeout, rss_limit_mb);
        args.push(input.as_os_str().to_owned());
        let scratch = log.parent().unwrap_or(Path::new("/tmp")).to_owned();
        let (outcome, output) = self.run(
            args,
            vec![input.parent().unwrap_or(Path::new("/")).to_owned()],
            vec![scratch],
            log,
            input_timeout * 3 + Duration::from_secs(30),
        )?;
        Ok(Reproduction {
            crash: triage::classify(&output),
            output,
            events: outcome.events,
        })
    }
}

/// What a reproduction run showed.
#[derive(Debug, Clone)]
pub struct Reproduction {
    /// The crash, or `None` when the input no longer crashes.
    pub crash: Option<Crash>,
    /// Everything the target printed.
    pub output: String,
    /// What the run attempted in the sandbox (phase `fuzz`).
    pub events: Vec<Event>,
}

/// Rebuilds `target` of the project in `dir` (a no-op when fresh; build scripts sandboxed as
/// `vetting` says) and reruns `input`; `say` hears of sandboxed runs that need a look.
pub fn reproduce(
    dir: &Path,
    target: &str,
    input: &Path,
    scratch: &Path,
    vetting: Vetting,
    say: fn(&str),
) -> Result<(Reproduction, String), FuzzError> {
    let project = FuzzProject::open(dir)?;
    let record = project
        .targets
        .iter()
        .find(|t| t.name == target)
        .ok_or_else(|| FuzzError::UnknownTarget(vec![target.to_owned()]))?;
    let allow_degraded = vetting.allow_degraded;
    let build = FuzzBuild::prepare(vetting)?;
    let built = build.build(&project, &[target], scratch, &say)?;
    if let Some((_, err)) = built.failed.first() {
        return Err(FuzzError::BuildFailed(err.clone()));
    }
    let (krate, crate_dir) = project.crate_of(record);
    let binary = project.binary(&build.instrumentation.triple, target);
    let log = scratch.join(format!("repro-{target}.log"));
    let runner = TargetRun {
        binary: &binary,
        krate: &krate,
        allow_degraded,
        stack_bytes: record.stack(),
    };
    let rep = runner.rerun(input, &log, Duration::from_secs(10), 2048)?;
    let sig = rep
        .crash
        .as_ref()
        .map(|c| triage::signature(c, &krate, crate_dir.as_deref().and_then(Path::to_str)))
        .unwrap_or_default();
    Ok((rep, sig))
}
