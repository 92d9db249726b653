//! One program run is one `exec` event: `Command::new("curl")` makes the child try every `PATH`
//! entry in turn (execvp), and the supervisor records each missing candidate of a network tool
//! (`"found": false`) before the one that is found (or none). When a run's events become a
//! crate's, each such burst (same pid, same argv, missing candidates then the last attempt) is
//! folded into its last attempt, with every path tried listed as `candidates`.

use std::collections::HashMap;

use crate::events::{Event, Kind};

/// The detail key listing the paths an exec attempt tried, in order.
pub(crate) const CANDIDATES: &str = "candidates";

/// Whether `e` is an exec attempt whose program was not found at its path.
fn missing(e: &Event) -> bool {
    e.kind == Kind::Exec && e.detail.get("found").is_some_and(|f| f == false)
}

/// `events` with each burst of exec candidates folded into one event (see the module doc);
/// every other event is kept as it is, in order.
pub(crate) fn fold(events: Vec<Event>) -> Vec<Event> {
    let mut out: Vec<Event> = Vec::with_capacity(events.len());
    // (pid, argv) of an open burst -> its event's index in `out`.
    let mut open: HashMap<(i32, String), usize> = HashMap::new();
    for e in events {
        if e.kind != Kind::Exec {
            out.push(e);
            continue;
        }
        let key = (
            e.pid,
            e.detail
                .get("argv")
                .map(ToString::to_string)
                .unwrap_or_default(),
        );
        let path = e.detail.get("path").cloned().unwrap_or_default();
        let still_missing = missing(&e);
        match open.get(&key).copied() {
            Some(i) => {
                let mut tried = match out[i].detail.remove(CANDIDATES) {
                    Some(serde_json::Value::Array(tried)) => tried,
                    _ => Vec::new(),
                };
                tried.push(path);
                let mut e = e;
                e.detail
                    .insert(CANDIDATES.to_owned(), serde_json::Value::Array(tried));
                out[i] = e;
                if !still_missing {
                    open.remove(&key);
                }
            }
            None if still_missing => {
                let mut e = e;
                e.detail
                    .insert(CANDIDATES.to_owned(), serde_json::Value::Array(vec![path]));
                open.insert(key, out.len());
                out.push(e);
            }
            None => out.push(e),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::Decision;

    fn exec(pid: i32, path: &str, argv: &[&str], found: bool) -> Event {
        let mut e = Event::new(Kind::Exec, "exec", Decision::Allowed)
            .with("path", path)
            .with("argv", argv.to_vec())
            .with(crate::events::NETWORK_TOOL, true);
        e.pid = pid;
        if !found {
            e = e.with("found", false);
        }
        e
    }

    #[test]
    fn a_path_search_is_one_event_listing_its_candidates() {
        let other = Event::new(Kind::Fs, "open-write", Decision::Denied);
        let events = vec![
            exec(7, "/home/u/.cargo/bin/curl", &["curl", "-s"], false),
            exec(9, "/usr/bin/cc", &["cc"], true),
            exec(7, "/usr/local/bin/curl", &["curl", "-s"], false),
            other.clone(),
            exec(7, "/usr/bin/curl", &["curl", "-s"], true),
            // Another process's search that finds nothing.
            exec(8, "/a/wget", &["wget"], false),
            exec(8, "/b/wget", &["wget"], false),
        ];
        let folded = fold(events);
        assert_eq!(folded.len(), 4, "{folded:#?}");
        let curl = &folded[0];
        assert_eq!(curl.detail_str("path"), Some("/usr/bin/curl"));
        assert!(curl.detail.get("found").is_none(), "found at last");
        assert_eq!(
            curl.detail[CANDIDATES],
            serde_json::json!([
                "/home/u/.cargo/bin/curl",
                "/usr/local/bin/curl",
                "/usr/bin/curl"
            ])
        );
        assert_eq!(folded[1].detail_str("path"), Some("/usr/bin/cc"));
        assert!(folded[1].detail.get(CANDIDATES).is_none());
        assert_eq!(folded[2].kind, Kind::Fs);
        let wget = &folded[3];
        assert_eq!(wget.detail["found"], false);
        assert_eq!(
            wget.detail[CANDIDATES],
            serde_json::json!(["/a/wget", "/b/wget"])
        );
    }

    #[test]
    fn a_second_run_of_the_same_program_is_its_own_event() {
        let folded = fold(vec![
            exec(7, "/usr/bin/curl", &["curl"], true),
            exec(7, "/usr/bin/curl", &["curl"], true),
        ]);
        assert_eq!(folded.len(), 2);
    }
}
