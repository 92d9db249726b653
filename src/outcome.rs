//! What a command concluded, and the exit code that says so.

use std::process::ExitCode;

/// The verdict of one command, mapped to the exit codes every command shares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Nothing suspicious, no crash: exit 0.
    Clean,
    /// Something suspicious or a crash: exit 1.
    Findings,
    /// The tool could not do its job (bad input, build failure, sandbox unavailable): exit 2.
    Error,
    /// Pass a child's status through unchanged (`sandbox` exits with the command's status).
    Status(u8),
}

impl Outcome {
    /// The process exit code for this outcome.
    pub(crate) fn exit_code(self) -> ExitCode {
        match self {
            Outcome::Clean => ExitCode::from(0),
            Outcome::Findings => ExitCode::from(1),
            Outcome::Error => ExitCode::from(2),
            Outcome::Status(code) => ExitCode::from(code),
        }
    }
}
