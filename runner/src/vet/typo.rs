//! Names one typo away from a crate name, and which typo makes them: the candidates that
//! provenance looks up in the index (`-`/`_` swapped, removed or added; `-rs`, `rust-`, `-rust`
//! added or removed; a doubled character undoubled; one character deleted; two adjacent
//! characters swapped) and the same relation tested between two known names (a workspace's
//! lockfile names), where one character added is also recognised.

use std::collections::BTreeMap;

use super::registry::index::is_valid_crate_name;

/// Names shorter than this get no deletion or swap candidates: one typo from a three-letter
/// name is another real, unrelated name far more often than a squat.
pub const MIN_LEN_FOR_EDITS: usize = 4;

/// Suffixes and prefixes that name "the Rust version of" something.
const SUFFIXES: [&str; 4] = ["-rs", "_rs", "-rust", "_rust"];
const PREFIXES: [&str; 2] = ["rust-", "rust_"];

pub use crate::report::TypoRule;

/// The rule seen from the other name.
fn reversed(rule: TypoRule) -> TypoRule {
    use TypoRule as R;
    match rule {
        R::SeparatorRemoved => R::SeparatorAdded,
        R::SeparatorAdded => R::SeparatorRemoved,
        R::AffixRemoved => R::AffixAdded,
        R::AffixAdded => R::AffixRemoved,
        R::DoubledCharacter | R::CharacterDeleted => R::CharacterAdded,
        R::CharacterAdded => R::CharacterDeleted,
        R::SeparatorSwapped | R::AdjacentSwapped => rule,
    }
}

fn is_sep(c: char) -> bool {
    c == '-' || c == '_'
}

/// The names one typo from `name` (lower-cased, valid crate names, `name` itself excluded), each
/// with the first rule that produces it, sorted by name.
pub fn candidates(name: &str) -> BTreeMap<String, TypoRule> {
    let name = name.to_lowercase();
    let chars: Vec<char> = name.chars().collect();
    let mut out = BTreeMap::new();
    let mut add = |candidate: String, rule: TypoRule| {
        if candidate != name && is_valid_crate_name(&candidate) {
            out.entry(candidate).or_insert(rule);
        }
    };
    let with = |i: usize, c: Option<char>| -> String {
        chars
            .iter()
            .enumerate()
            .filter_map(|(j, &d)| if j == i { c } else { Some(d) })
            .collect()
    };

    // Separators: each one swapped, all swapped, each removed, all removed, one inserted.
    let seps: Vec<usize> = (0..chars.len()).filter(|&i| is_sep(chars[i])).collect();
    for &i in &seps {
        add(
            with(i, Some(if chars[i] == '-' { '_' } else { '-' })),
            TypoRule::SeparatorSwapped,
        );
    }
    add(name.replace('-', "_"), TypoRule::SeparatorSwapped);
    add(name.replace('_', "-"), TypoRule::SeparatorSwapped);
    for &i in &seps {
        add(with(i, None), TypoRule::SeparatorRemoved);
    }
    add(name.replace(is_sep, ""), TypoRule::SeparatorRemoved);
    for i in 1..chars.len() {
        if !is_sep(chars[i - 1]) && !is_sep(chars[i]) {
            for sep in ['-', '_'] {
                let (head, tail): (String, String) =
                    (chars[..i].iter().collect(), chars[i..].iter().collect());
                add(format!("{head}{sep}{tail}"), TypoRule::SeparatorAdded);
            }
        }
    }

    // Affixes.
    for suffix in SUFFIXES {
        match name.strip_suffix(suffix) {
            Some(stem) => add(stem.to_owned(), TypoRule::AffixRemoved),
            None => add(format!("{name}{suffix}"), TypoRule::AffixAdded),
        }
    }
    for prefix in PREFIXES {
        match name.strip_prefix(prefix) {
            Some(stem) => add(stem.to_owned(), TypoRule::AffixRemoved),
            None => add(format!("{prefix}{name}"), TypoRule::AffixAdded),
        }
    }

    if chars.len() >= MIN_LEN_FOR_EDITS {
        for i in 1..chars.len() {
            if chars[i] == chars[i - 1] {
                add(with(i, None), TypoRule::DoubledCharacter);
            }
        }
        for i in 0..chars.len() {
            add(with(i, None), TypoRule::CharacterDeleted);
        }
        for i in 1..chars.len() {
            if chars[i] != chars[i - 1] {
                let mut swapped = chars.clone();
                swapped.swap(i - 1, i);
                add(swapped.into_iter().collect(), TypoRule::AdjacentSwapped);
            }
        }
    }
    out
}

/// How `other` is one typo from `name`, if it is (either direction: `other` may be the longer).
pub fn relation(name: &str, other: &str) -> Option<TypoRule> {
    let other = other.to_lowercase();
    candidates(name).get(&other).copied().or_else(|| {
        candidates(&other)
            .get(&name.to_lowercase())
            .map(|r| reversed(*r))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_advisory_names_are_found() {
        let c = candidates("rustdecimal");
        assert_eq!(c.get("rust_decimal"), Some(&TypoRule::SeparatorAdded));
        assert_eq!(c.get("rust-decimal"), Some(&TypoRule::SeparatorAdded));
        let c = candidates("serde-rs");
        assert_eq!(c.get("serde"), Some(&TypoRule::AffixRemoved));
        assert_eq!(c.get("serde_rs"), Some(&TypoRule::SeparatorSwapped));
        assert_eq!(
            candidates("rust-time").get("time"),
            Some(&TypoRule::AffixRemoved)
        );
        assert_eq!(
            candidates("tokio").get("tokio-rs"),
            Some(&TypoRule::AffixAdded)
        );
        assert_eq!(
            candidates("serdde").get("serde"),
            Some(&TypoRule::DoubledCharacter)
        );
        assert_eq!(
            candidates("sedre").get("serde"),
            Some(&TypoRule::AdjacentSwapped)
        );
        assert_eq!(
            candidates("serdex").get("serde"),
            Some(&TypoRule::CharacterDeleted)
        );
    }

    #[test]
    fn candidates_are_few_dozen_valid_and_exclude_the_name() {
        for name in ["rustdecimal", "serde_json", "a", "libz-sys", "Rust_Decimal"] {
            let c = candidates(name);
            assert!(c.len() < 80, "{name}: {}", c.len());
            assert!(!c.contains_key(&name.to_lowercase()));
            assert!(c.keys().all(|k| is_valid_crate_name(k)), "{c:?}");
        }
        assert!(candidates("abc")
            .values()
            .all(|r| !matches!(r, TypoRule::CharacterDeleted | TypoRule::AdjacentSwapped)));
    }

    #[test]
    fn relation_works_both_ways() {
        assert_eq!(
            relation("rust_decimal", "rustdecimal"),
            Some(TypoRule::SeparatorRemoved)
        );
        assert_eq!(relation("serd", "serde"), Some(TypoRule::CharacterAdded));
        assert_eq!(relation("serde", "serd"), Some(TypoRule::CharacterDeleted));
        assert_eq!(relation("serde", "serde"), None);
        assert_eq!(relation("serde", "tokio"), None);
    }

    #[test]
    fn rule_names_are_unique_and_stable() {
        let names: Vec<&str> = TypoRule::ALL.iter().map(|r| r.as_str()).collect();
        assert_eq!(
            names,
            [
                "separator-swapped",
                "separator-removed",
                "separator-added",
                "affix-removed",
                "affix-added",
                "doubled-character",
                "character-deleted",
                "character-added",
                "adjacent-swapped",
            ]
        );
        for rule in TypoRule::ALL {
            assert_eq!(serde_json::to_value(rule).unwrap(), rule.as_str());
        }
    }
}
