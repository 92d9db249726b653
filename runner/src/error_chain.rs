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
}
