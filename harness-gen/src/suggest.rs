//! "Did you mean": the names closest to a misspelt one, by edit distance, for the errors that
//! name a crate the input does not have (`gen -p tomll`, an `airlock.toml` exception).

/// Up to `max` of `candidates` within a few edits of `name` (a third of its length, at least
/// one; `-` and `_` count as the same), closest first, then by name; no duplicates.
pub fn closest<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
    max: usize,
) -> Vec<&'a str> {
    let norm = |s: &str| s.to_ascii_lowercase().replace('_', "-");
    let wanted = norm(name);
    let limit = (wanted.chars().count() / 3).max(1);
    let mut scored: Vec<(usize, &str)> = candidates
        .into_iter()
        .map(|c| (distance(&wanted, &norm(c)), c))
        .filter(|(d, _)| *d <= limit)
        .collect();
    scored.sort();
    scored.dedup_by(|a, b| a.1 == b.1);
    scored.into_iter().take(max).map(|(_, c)| c).collect()
}

/// The Levenshtein distance between `a` and `b`, by characters.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn misspellings_find_the_crate_and_strangers_find_nothing() {
        let names = [
            "toml",
            "serde",
            "tikv-jemalloc-sys",
            "tikv-jemallocator",
            "libc",
        ];
        assert_eq!(closest("tomll", names, 3), ["toml"]);
        assert_eq!(
            closest("tikv-jemaloc-sys", names, 3),
            ["tikv-jemalloc-sys", "tikv-jemallocator"]
        );
        assert_eq!(
            closest("tikv_jemalloc_sys", names, 1),
            ["tikv-jemalloc-sys"]
        );
        assert!(closest("zstd", names, 3).is_empty());
        assert_eq!(distance("kitten", "sitting"), 3);
    }
}
