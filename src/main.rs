//! `cargo-airlock`: parse the command line into a mode, dispatch to `runner` or `harness-gen`, and
//! turn the outcome into an exit code: 0 clean, 1 findings, 2 could not do the job.

mod cli;
mod cmd;
mod outcome;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};
use crate::outcome::Outcome;

fn main() -> ExitCode {
    if let Some(code) = hidden_role() {
        return code;
    }
    let cli = Cli::parse_from(cli::normalized_args());
    let result = match cli.command {
        Command::Doctor(args) => cmd::doctor::run(args),
        Command::Sandbox(args) => cmd::sandbox::run(args),
        Command::Gen(args) => cmd::gen::run(args),
        Command::Fuzz(args) => cmd::fuzz::run(args),
        Command::Repro(args) => cmd::repro::run(args),
        Command::Build(args) => cmd::build::run(args),
        Command::Test(args) => cmd::test::run(args),
        Command::Report(args) => cmd::report::run(args),
        Command::Vet(args) => cmd::vet::run(args),
    };
    match result {
        Ok(outcome) => outcome.exit_code(),
        Err(err) => {
            eprintln!("cargo-airlock: error: {err:#}");
            Outcome::Error.exit_code()
        }
    }
}

/// The roles `cargo airlock build` and `test` give this binary inside cargo: the build-script
/// launcher (`cargo-airlock __build-script REAL ARGS..`), the test runner (cargo's
/// `target.<host>.runner`: `cargo-airlock __test-runner PROGRAM ARGS..`), rustdoc (`RUSTDOC`,
/// through a shim: `cargo-airlock __rustdoc REAL ARGS..`) and the rustc wrapper
/// (`RUSTC_WRAPPER`, inside a vetting session: `cargo-airlock RUSTC ARGS..`). None for an
/// ordinary command line.
fn hidden_role() -> Option<ExitCode> {
    let mut args = std::env::args_os();
    let _self = args.next();
    let first = args.next();
    let code = if first.as_deref() == Some(std::ffi::OsStr::new("__build-script")) {
        let real = std::path::PathBuf::from(args.next().unwrap_or_default());
        let rest: Vec<_> = args.collect();
        runner::build::run_build_script(&real, &rest)
    } else if first.as_deref() == Some(std::ffi::OsStr::new(runner::test_run::TEST_RUNNER_ROLE)) {
        let program = std::path::PathBuf::from(args.next().unwrap_or_default());
        let rest: Vec<_> = args.collect();
        return Some(match runner::test_run::run_test_runner(&program, &rest) {
            Ok(code) => ExitCode::from(u8::try_from(code.clamp(0, 255)).unwrap_or(101)),
            Err(err) => {
                eprintln!("cargo-airlock: error: {:#}", anyhow::Error::new(err));
                ExitCode::from(101)
            }
        });
    } else if first.as_deref() == Some(std::ffi::OsStr::new(runner::test_run::RUSTDOC_ROLE)) {
        let real = args.next().unwrap_or_default();
        let rest: Vec<_> = args.collect();
        return Some(match runner::test_run::run_rustdoc(&real, &rest) {
            Ok(code) => ExitCode::from(u8::try_from(code.clamp(0, 255)).unwrap_or(101)),
            Err(err) => {
                eprintln!("cargo-airlock: error: {:#}", anyhow::Error::new(err));
                ExitCode::from(101)
            }
        });
    } else if std::env::var_os(runner::build::SESSION_VAR).is_some() && first.is_some() {
        let mut argv: Vec<_> = first.into_iter().collect();
        argv.extend(args);
        runner::build::run_rustc_wrapper(argv)
    } else {
        return None;
    };
    Some(match code {
        Ok(code) => ExitCode::from(u8::try_from(code.clamp(0, 255)).unwrap_or(101)),
        Err(err) => {
            eprintln!("cargo-airlock: error: {:#}", anyhow::Error::new(err));
            ExitCode::from(101)
        }
    })
}
