//! The artifacts libFuzzer saves (`crash-*`, `leak-*`, `timeout-*`, `oom-*`) and which of them
//! a campaign reproduces: fork mode saves every crashing input, mostly the same bugs again, and
//! each reproduction is a sandboxed run.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

/// Most artifacts of one target reproduced per campaign.
const MAX_TRIAGED: usize = 12;

/// Fork mode saves every crashing input, mostly the same bugs again, and each reproduction is
/// a sandboxed run: keep at most [`MAX_TRIAGED`], taken in turn from each kind libFuzzer
/// named (`crash-`, `leak-`, `timeout-`, `oom-`), smallest first within a kind.
pub(super) fn pick_for_triage(artifacts: Vec<PathBuf>) -> Vec<PathBuf> {
    let mut groups: BTreeMap<String, Vec<(u64, PathBuf)>> = BTreeMap::new();
    for a in artifacts {
        let kind = a
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.split('-').next())
            .unwrap_or("")
            .to_owned();
        let size = fs::metadata(&a).map_or(u64::MAX, |m| m.len());
        groups.entry(kind).or_default().push((size, a));
    }
    for g in groups.values_mut() {
        g.sort();
        g.reverse(); // pop() takes the smallest
    }
    let mut picked = Vec::new();
    while picked.len() < MAX_TRIAGED && groups.values().any(|g| !g.is_empty()) {
        for g in groups.values_mut() {
            if let Some((_, a)) = g.pop() {
                if picked.len() < MAX_TRIAGED {
                    picked.push(a);
                }
            }
        }
    }
    picked
}

/// The artifacts libFuzzer saved in `dir` (`crash-*`, `leak-*`, `timeout-*`, `oom-*`), sorted.
pub(super) fn artifacts_in(dir: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                        ["crash-", "leak-", "timeout-", "oom-"]
                            .iter()
                            .any(|k| n.starts_with(k))
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn triage_takes_every_kind_smallest_first() {
        let dir = tempfile::tempdir().unwrap();
        let mut all = Vec::new();
        for i in 0..20 {
            let p = dir.path().join(format!("crash-{i:02}"));
            fs::write(&p, vec![b'x'; 100 - i]).unwrap();
            all.push(p);
        }
        let leak = dir.path().join("leak-1");
        fs::write(&leak, b"y").unwrap();
        all.push(leak.clone());
        let picked = pick_for_triage(all);
        assert_eq!(picked.len(), MAX_TRIAGED);
        assert!(picked.contains(&leak));
        assert!(
            picked.contains(&dir.path().join("crash-19")),
            "smallest crash first"
        );
    }
}
