//! The record a test run leaves in the session: one shape for a test program's run (the test
//! runner) and a `rustdoc --test` run (the rustdoc role), so the report reads them alike.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

use super::TestError;

use crate::build::graph::Package;
use crate::build::session::{RunRecord, Session};
use crate::build::BuildError;
use crate::events::Phase;
use crate::runtime::RuntimeError;
use crate::sandbox::RunOutcome;

/// The package whose test program cargo runs, as cargo names it to the program's runner and
/// to rustdoc (`CARGO_PKG_NAME`, `CARGO_PKG_VERSION`, `CARGO_MANIFEST_DIR`).
pub(super) struct TestedPackage {
    /// Its name.
    pub name: String,
    /// `name version`, the label its runs are reported under.
    pub label: String,
    /// Its directory.
    pub manifest_dir: PathBuf,
    /// It in the session's graph (None for a package the graph does not hold).
    pub package: Option<Package>,
}

impl TestedPackage {
    /// The package cargo names for `program`; an error naming the variable cargo did not set.
    pub(super) fn from_cargo(session: &Session, program: &Path) -> Result<Self, TestError> {
        let var = |name: &'static str| {
            std::env::var_os(name)
                .filter(|v| !v.is_empty())
                .ok_or_else(|| TestError::MissingVar {
                    program: program.to_owned(),
                    var: name,
                })
        };
        let name = var("CARGO_PKG_NAME")?.to_string_lossy().into_owned();
        let version = var("CARGO_PKG_VERSION")?.to_string_lossy().into_owned();
        let manifest_dir = PathBuf::from(var("CARGO_MANIFEST_DIR")?);
        let package = session
            .info
            .graph
            .find(&name, &version, &manifest_dir)
            .cloned();
        Ok(Self {
            label: format!("{name} {version}"),
            name,
            manifest_dir,
            package,
        })
    }
}

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

/// Fills `record` with how the run ended and returns the exit code for cargo (see
/// [`RunRecord::ran`] and [`RunRecord::could_not_run`]; `what` names the program).
pub(super) fn finish(
    record: &mut RunRecord,
    ran: Result<RunOutcome, RuntimeError>,
    what: &str,
) -> i32 {
    match ran {
        Ok(outcome) => record.ran(outcome),
        Err(err) => record.could_not_run(what, &err),
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
