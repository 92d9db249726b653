//! `cargo airlock sandbox`: run any command in the sandbox, stream its events, summarize them on
//! stderr, and exit with the command's own status (128 + signal when it was killed), or 1 when
//! `--fail-on-events` is given and anything was denied or flagged.
//!
//! Besides the profile, the command's program (found through `PATH` as a shell would) is
//! executable and its working directory readable (`--no-cwd` hides it); see
//! [`sandbox::command`].

use std::ffi::OsString;
use std::path::PathBuf;

use anyhow::Context;
use runner::events::{Decision, Event};
use runner::profile::{Placeholders, Profile, DEFAULT_PROFILE};
use runner::sandbox::command::CommandGrants;
use runner::sandbox::{self, SandboxConfig};

use crate::outcome::Outcome;

/// Arguments of `cargo airlock sandbox`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "The program and the working directory (read-only) are visible inside unless --no-cwd.\n\nExample:\n  cargo airlock sandbox --write ./out --events events.jsonl -- sh -c 'cc -o out/hello hello.c'"
)]
pub(crate) struct SandboxArgs {
    /// A built-in profile (build, strict, fuzz) or the path of a TOML profile.
    #[arg(long, default_value = DEFAULT_PROFILE, value_name = "P")]
    pub profile: String,
    /// Write every event as a JSON line to FILE.
    #[arg(long, value_name = "FILE")]
    pub events: Option<PathBuf>,
    /// Also allow reading beneath DIR.
    #[arg(long, value_name = "DIR")]
    pub read: Vec<PathBuf>,
    /// Also allow writing beneath DIR (it must exist; nothing in it can be executed).
    #[arg(long, value_name = "DIR")]
    pub write: Vec<PathBuf>,
    /// Also allow executing PATH (a file or a directory).
    #[arg(long, value_name = "PATH")]
    pub exec: Vec<PathBuf>,
    /// Kill the command and everything it started after D (e.g. 30s, 5m).
    #[arg(long, value_name = "D", value_parser = parse_duration)]
    pub timeout: Option<std::time::Duration>,
    /// Run even if this kernel lacks a sandbox layer (the summary says which).
    #[arg(long)]
    pub allow_degraded: bool,
    /// Hide the working directory (by default it is readable, read-only, protected paths
    /// inside it still masked).
    #[arg(long)]
    pub no_cwd: bool,
    /// Exit 1 when anything was denied or flagged (or a network tool ran), whatever the
    /// command's own status; for scripted "what would this do" checks.
    #[arg(long)]
    pub fail_on_events: bool,
    /// The command and its arguments.
    #[arg(last = true, value_name = "CMD")]
    pub command: Vec<OsString>,
}

fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    runner::profile::parse_duration(text)
}

/// Runs the command and reports.
pub(crate) fn run(args: SandboxArgs) -> anyhow::Result<Outcome> {
    if args.command.is_empty() {
        return Err(sandbox::SandboxError::NoCommand.into());
    }
    let profile = Profile::load(&args.profile, &Placeholders::from_env())?;
    let mut config = SandboxConfig::new(profile, args.command.clone());
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let grants = CommandGrants::new(
        &config.profile,
        &args.command[0],
        &config.cwd,
        std::env::var_os("PATH").as_deref(),
        home.as_deref(),
        !args.no_cwd,
    )?;
    if let Some(why) = &grants.cwd_withheld {
        eprintln!("airlock: the working directory is hidden: {why}");
    }
    config.extra_read = args.read;
    config.extra_write = args.write;
    config.extra_exec = args.exec;
    config.timeout = args.timeout;
    config.allow_degraded = args.allow_degraded;
    config.events_file = args.events.clone();
    grants.apply(&mut config);
    let outcome = sandbox::run(&config).context("cannot run the command in the sandbox")?;

    let program = args.command[0].to_string_lossy();
    let denied = outcome.events.iter().filter(|e| e.is_notable()).count();
    eprintln!(
        "airlock: `{program}` {} after {} ms; {} events, {denied} denied or flagged{}",
        match outcome.termination {
            sandbox::Termination::Exited { code } => format!("exited with {code}"),
            sandbox::Termination::Signaled { signal } => format!("was killed by signal {signal}"),
            sandbox::Termination::TimedOut => "timed out".to_owned(),
        },
        outcome.duration.as_millis(),
        outcome.events.len(),
        args.events
            .as_ref()
            .map(|p| format!(" (all in {})", p.display()))
            .unwrap_or_default(),
    );
    for event in outcome.events.iter().filter(|e| e.is_notable()).take(20) {
        eprintln!("  {}", one_line(event));
    }
    if denied > 20 {
        eprintln!("  ... and {} more", denied - 20);
    }
    if !outcome.layers.degraded.is_empty() {
        eprintln!(
            "airlock: DEGRADED run (--allow-degraded): missing {}",
            outcome.layers.degraded.join("; ")
        );
    }
    if let Some(err) = &outcome.events_file_error {
        eprintln!("airlock: warning: could not write every event to the events file: {err}");
    }
    let code = outcome.termination.exit_code();
    if code != 0 {
        for hidden in sandbox::command::hidden_arguments(&config) {
            eprintln!(
                "airlock: `{}` exists here but the sandbox hides it; pass {} to let the command read it",
                hidden.argument, hidden.flag
            );
        }
    }
    if args.fail_on_events && outcome.suspicious() {
        return Ok(Outcome::Findings);
    }
    Ok(Outcome::Status(
        u8::try_from(code.clamp(0, 255)).unwrap_or(255),
    ))
}

/// A short human rendering of an event.
pub(crate) fn one_line(e: &Event) -> String {
    let detail = ["address", "query", "path", "decoy", "limit", "pid"]
        .iter()
        .find_map(|k| e.detail.get(*k).map(|v| (k, v)))
        .map(|(k, v)| {
            format!(
                " {k}={}",
                v.as_str().map_or_else(|| v.to_string(), str::to_owned)
            )
        })
        .unwrap_or_default();
    let decision = match e.decision {
        Decision::Allowed if e.is_network_tool() => "NETWORK-TOOL",
        Decision::Allowed => "allowed",
        Decision::Denied => "DENIED",
        Decision::Flagged => "FLAGGED",
    };
    format!(
        "{decision} {}/{}{detail}{}",
        e.kind.as_str(),
        e.action,
        if e.pid > 0 {
            format!(" (pid {})", e.pid)
        } else {
            String::new()
        }
    )
}
