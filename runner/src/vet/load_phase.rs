//! vet's `load` phase: the vetted crate linked into a program that starts and does nothing
//! else ([`load_program`](super::load_program)), run in the sandbox (`runtime::run`, phase
//! `load`, entry `load`) so that its static constructors, Rust and C alike, run as they would
//! before the `main` of any program that depends on it. The run starts in a private directory
//! of the scratch workspace, writable and holding a decoy `.env`, with the decoy home, tokens,
//! private keys and CI variables of every run-time phase.
//!
//! What the run attempts is the crate's: its events join the crate's entry in the report
//! (`crates[]`, phase `load`), and each kind of notable event is a reason against it. A crate
//! without a library (binaries only, or a proc macro) has nothing a program links; a program
//! that does not link is a failed phase with rustc's errors.

use std::ffi::OsString;
use std::fs;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::time::Duration;

use super::load_program::{self, Compiled, Library, LoadError};
use super::pipeline::{Phase, Pipeline};
use super::verdict;
use crate::error_chain::error_chain;
use crate::events::{Event, Phase as EventPhase};
use crate::report::Verdict;
use crate::runtime::{self, RuntimeRun};
use crate::sandbox::Termination;

/// How long a load program may run (or `--time`, if shorter): it only starts, so anything
/// longer is a constructor that does not return.
pub(crate) const LOAD_TIMEOUT: Duration = Duration::from_secs(30);

/// The shortest a load program is given, whatever `--time` says.
const MIN_LOAD_TIMEOUT: Duration = Duration::from_secs(5);

impl Pipeline<'_> {
    /// Links the crate into the load program and runs it.
    pub(super) fn load(&mut self, i: usize) -> Result<String, String> {
        if !self.opts.phases.contains(Phase::Build) {
            return Err(
                "the load program links what the build phase built: select `build` too".to_owned(),
            );
        }
        let u = self.unpacked(i)?;
        let lib = match load_program::library(&u.dir, &u.name) {
            Library::Lib(lib) => lib,
            Library::ProcMacro => return Ok("a proc macro: no program links it".to_owned()),
            Library::None => return Ok("no Rust library: no program links it".to_owned()),
        };
        let ws = self.scratch(&u)?;
        let Some(target) = &self.crates[i].build_target else {
            return Err("the build phase built nothing this program could link".to_owned());
        };
        // The build phase's output (host profile `debug`).
        let profile_dir = target.join("debug");
        let version = u.version.to_string();
        let artifacts = load_program::artifacts(&profile_dir, &u.name, &version, &lib)
            .map_err(|e| error_chain(&e))?;
        let dir = ws.load_dir();
        let krate = format!("{} {}", u.name, u.version);
        let rustc = load_program::real_rustc(&ws.dir).map_err(|e| error_chain(&e))?;
        let mut link_events = Vec::new();
        let mut sandboxed_rustc = |args: &[OsString]| {
            let (compiled, events) =
                self.rustc_in_sandbox(&rustc, args, &dir, &profile_dir, &krate, &u.dir)?;
            // What the link attempted beyond compiling (a proc macro's constructor in rustc).
            link_events.extend(events.into_iter().filter(Event::is_notable));
            Ok(compiled)
        };
        let linked = load_program::link(&dir, &lib, &artifacts, &mut sandboxed_rustc);
        let link_reasons = verdict::runtime_reasons(&krate, Phase::Load, &link_events);
        self.attribute(&u.name, &version, std::mem::take(&mut link_events));
        self.crates[i].reasons.extend(link_reasons);
        let program = linked.map_err(|e| error_chain(&e))?;
        if let Some(note) = &program.note {
            self.notes.push(format!("{krate}: {note}"));
        }

        // A private working directory, fresh for every run.
        let cwd = dir.join("run");
        let io = |what: &str, path: &Path, e: std::io::Error| {
            format!("cannot {what} {}: {e}", path.display())
        };
        if cwd.exists() {
            fs::remove_dir_all(&cwd).map_err(|e| io("clear", &cwd, e))?;
        }
        fs::create_dir_all(&cwd).map_err(|e| io("create", &cwd, e))?;
        let log_path = dir.join("output.log");
        let log = fs::File::create(&log_path).map_err(|e| io("create", &log_path, e))?;
        let null =
            fs::File::open("/dev/null").map_err(|e| io("open", Path::new("/dev/null"), e))?;
        let mut env_set = Vec::new();
        if !artifacts.dylib_dirs.is_empty() {
            let joined = std::env::join_paths(&artifacts.dylib_dirs)
                .map_err(|e| format!("cannot pass the library path: {e}"))?;
            env_set.push(("LD_LIBRARY_PATH".into(), joined));
        }
        let timeout = LOAD_TIMEOUT.min(self.opts.time).max(MIN_LOAD_TIMEOUT);
        let run = RuntimeRun {
            entry: Some("load".to_owned()),
            cwd: Some(cwd.clone()),
            read: vec![profile_dir],
            write: vec![cwd],
            env_set,
            timeout: Some(timeout),
            allow_degraded: self.opts.allow_degraded,
            stdio: [
                Some(null.as_raw_fd()),
                Some(log.as_raw_fd()),
                Some(log.as_raw_fd()),
            ],
            decoy_dotenv: true,
            ..RuntimeRun::new(&program.binary, EventPhase::Load, &krate, &u.dir)
        };
        let outcome = runtime::run(&run).map_err(|e| error_chain(&e))?;
        drop((log, null));

        let reasons = verdict::runtime_reasons(&krate, Phase::Load, &outcome.events);
        self.attribute(&u.name, &version, outcome.events);
        let ended = match outcome.termination {
            Termination::Exited { code: 0 } => "started and exited".to_owned(),
            Termination::TimedOut => {
                format!("did not return within {}s (stopped)", timeout.as_secs())
            }
            other => format!(
                "ended with {} (its output: {})",
                other.exit_code(),
                log_path.display()
            ),
        };
        let linked = match program.whole.len() {
            0 => String::new(),
            n => format!(
                " with {n} static librar{} linked whole",
                if n == 1 { "y" } else { "ies" }
            ),
        };
        let judged = match reasons.len() {
            0 => "clean".to_owned(),
            n => format!("{n} reason{} against it", if n == 1 { "" } else { "s" }),
        };
        self.crates[i].reasons.extend(reasons);
        Ok(format!("the load program{linked} {ended}: {judged}"))
    }

    /// Runs `rustc args` in the sandbox (the profile of the build's runs, phase `load`, entry
    /// `link`) from `dir`, reading the build's artifacts in `profile_dir` and writing only the
    /// program's directory; returns how it ended and what it attempted. Native search paths
    /// outside the target directory are not granted (a build script names them; the profile's
    /// system directories are readable anyway): a library only found there fails the link.
    fn rustc_in_sandbox(
        &self,
        rustc: &Path,
        args: &[OsString],
        dir: &Path,
        profile_dir: &Path,
        krate: &str,
        package_dir: &Path,
    ) -> Result<(Compiled, Vec<Event>), LoadError> {
        let (_, bin_dir) = load_program::layout(dir);
        let stderr_path = dir.join("rustc.log");
        let write_err = |source| LoadError::Write {
            path: stderr_path.clone(),
            source,
        };
        let stderr = fs::File::create(&stderr_path).map_err(write_err)?;
        let null = fs::File::open("/dev/null").map_err(write_err)?;
        let run = RuntimeRun {
            args: args.to_vec(),
            entry: Some("link".to_owned()),
            cwd: Some(dir.to_owned()),
            read: vec![profile_dir.to_owned(), dir.to_owned()],
            write: vec![bin_dir],
            allow_degraded: self.opts.allow_degraded,
            stdio: [
                Some(null.as_raw_fd()),
                Some(null.as_raw_fd()),
                Some(stderr.as_raw_fd()),
            ],
            profile: Some(self.opts.profile.clone()),
            ..RuntimeRun::new(rustc, EventPhase::Load, krate, package_dir)
        };
        let outcome = runtime::run(&run).map_err(|source| LoadError::Sandbox { source })?;
        drop((stderr, null));
        let compiled = Compiled {
            success: outcome.termination == Termination::Exited { code: 0 },
            stderr: fs::read_to_string(&stderr_path).unwrap_or_default(),
        };
        Ok((compiled, outcome.events))
    }

    /// Adds a run's `events` to the report entry of `name` `version` (its `crates[]` entry of
    /// the build phase), which each notable event makes suspicious.
    fn attribute(&mut self, name: &str, version: &str, events: Vec<Event>) {
        let Some(c) = self
            .built
            .iter_mut()
            .find(|c| c.name == name && c.version == version)
        else {
            return;
        };
        for e in events.iter().filter(|e| e.is_notable()) {
            let code = e.code();
            if !c.reasons.contains(&code) {
                c.reasons.push(code);
            }
            c.verdict = Verdict::Suspicious;
        }
        c.events.extend(events);
    }
}
