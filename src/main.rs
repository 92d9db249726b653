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
    let cli = Cli::parse_from(cli::normalized_args());
    let result = match cli.command {
        Command::Doctor(args) => cmd::doctor::run(args),
        Command::Sandbox(args) => cmd::sandbox::run(args),
        Command::Gen(args) => cmd::gen::run(args),
        Command::Fuzz(args) => cmd::fuzz::run(args),
        Command::Repro(args) => cmd::repro::run(args),
    };
    match result {
        Ok(outcome) => outcome.exit_code(),
        Err(err) => {
            eprintln!("cargo-airlock: error: {err:#}");
            Outcome::Error.exit_code()
        }
    }
}
