//! The record a test run leaves in the session: one shape for a test program's run (the test
//! runner) and a `rustdoc --test` run (the rustdoc role), so the report reads them alike.

use std::ffi::{OsStr, OsString};
use std::path::Path;

use crate::build::graph::Package;
use crate::build::session::{RunRecord, Session};
use crate::build::BuildError;
use crate::error_chain::error_chain;
use crate::events::Phase;
use crate::runtime::RuntimeError;
use crate::sandbox::RunOutcome;

/// The exit code cargo gets for a program that could not run in the sandbox (as for a test
/// that failed).
const COULD_NOT_RUN: i32 = 101;

/// The record of a test-phase run of `program` for `package` (`label`: `name version`), its
/// entry `entry`, before it ran.
pub(super) fn test_record(
    package: Option<&Package>,
    label: &str,
    entry: &str,
    program: &Path,
) -> RunRecord {
    let mut record = RunRecord::new(
        package.iter().map(|p| p.id.clone()).collect(),
        label.to_owned(),
        Phase::Test,
        Vec::new(),
    );
    record.entry = Some(entry.to_owned());
    record.program = Some(program.to_owned());
    record
}

/// Fills `record` with how the run ended and returns the exit code for cargo: the program's,
/// or [`COULD_NOT_RUN`] after saying on stderr why `what` (`the test program X of P`) could
/// not run in the sandbox.
pub(super) fn finish(
    record: &mut RunRecord,
    ran: Result<RunOutcome, RuntimeError>,
    what: &str,
) -> i32 {
    match ran {
        Ok(outcome) => {
            let code = outcome.termination.exit_code();
            record.exit_code = Some(code);
            record.duration_ms = u64::try_from(outcome.duration.as_millis()).unwrap_or(u64::MAX);
            record.events = outcome.events;
            record.layers = serde_json::to_value(&outcome.layers).ok();
            code
        }
        Err(err) => {
            let err = error_chain(&err);
            eprintln!("cargo-airlock: {what} could not run in the sandbox: {err}");
            record.error = Some(err);
            COULD_NOT_RUN
        }
    }
}

/// Writes `record` into the session under the unit `program` + `args` (one record per
/// distinct command).
pub(super) fn write(
    session: &Session,
    record: &RunRecord,
    program: &OsStr,
    args: &[OsString],
) -> Result<(), BuildError> {
    let mut unit = program.to_owned();
    for a in args {
        unit.push("\0");
        unit.push(a);
    }
    session.write_record(record, &unit.to_string_lossy())?;
    Ok(())
}
