//! An error and its causes as one line of text, for the places that keep an error as words
//! rather than as a value (run records, a report's `errors`, the wrapper's stderr). Error types
//! of this crate return their cause from `source()` and never repeat it in their own message,
//! so the chain is where the cause is read.

use std::error::Error;

/// `err`'s message followed by each of its causes, separated by `: ` (as anyhow's `{:#}`).
pub(crate) fn error_chain(err: &dyn Error) -> String {
    let mut text = err.to_string();
    let mut cause = err.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("reading /x")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn the_chain_names_every_cause_once() {
        let err = Outer(std::io::Error::from_raw_os_error(libc::ENOENT));
        let text = error_chain(&err);
        assert!(
            text.starts_with("reading /x: No such file or directory"),
            "{text}"
        );
        assert_eq!(text.matches("No such file").count(), 1, "{text}");
    }

    /// Whether some error of the chain prints its own cause in its message.
    fn repeats(err: &dyn Error) -> Option<String> {
        let mut level: Option<&dyn Error> = Some(err);
        while let Some(e) = level {
            if let Some(cause) = e.source() {
                if e.to_string().contains(&cause.to_string()) {
                    return Some(error_chain(err));
                }
            }
            level = e.source();
        }
        None
    }

    #[test]
    fn no_error_of_build_fuzz_report_or_profile_repeats_its_cause() {
        use crate::build::BuildError;
        use crate::fuzz::FuzzError;
        use crate::profile::ProfileError;
        use crate::report::ReportError;
        use std::path::PathBuf;

        let io = || std::io::Error::from_raw_os_error(libc::EACCES);
        let path = || PathBuf::from("/w/x");
        let json_err = serde_json::from_str::<serde_json::Value>("{").unwrap_err();
        let report = |source| ReportError::Write {
            path: path(),
            source,
        };
        let errors: Vec<Box<dyn Error>> = vec![
            Box::new(BuildError::Metadata {
                path: path(),
                source: crate::build::MetadataError(cargo_metadata::Error::Io(io())),
            }),
            Box::new(BuildError::ConfigRead {
                path: path(),
                source: io(),
            }),
            Box::new(BuildError::Session {
                step: "creating".into(),
                path: path(),
                source: io(),
            }),
            Box::new(BuildError::LauncherStep {
                script: path(),
                step: "capturing the script's output",
                source: io(),
            }),
            Box::new(BuildError::WrapperStep {
                step: "running rustc".into(),
                source: io(),
            }),
            Box::new(BuildError::Cargo {
                command: "cargo build".into(),
                source: io(),
            }),
            Box::new(BuildError::Report(report(io()))),
            Box::new(FuzzError::NoProject {
                dir: path(),
                source: io(),
            }),
            Box::new(FuzzError::Spawn {
                what: "cargo".into(),
                source: io(),
            }),
            Box::new(FuzzError::Write {
                path: path(),
                source: io(),
            }),
            Box::new(FuzzError::ExportOut {
                path: path(),
                source: io(),
            }),
            Box::new(FuzzError::Vetting(BuildError::Cargo {
                command: "cargo build".into(),
                source: io(),
            })),
            Box::new(ReportError::Read {
                path: path(),
                source: io(),
            }),
            Box::new(ReportError::Parse {
                path: path(),
                source: json_err,
            }),
            Box::new(ProfileError::Read {
                path: path(),
                source: io(),
            }),
        ];
        for err in &errors {
            assert_eq!(repeats(err.as_ref()), None, "{err:?}");
            let chain = error_chain(err.as_ref());
            assert!(chain.matches("os error 13").count() <= 1, "{chain}");
        }
    }
}
