//! Deep-nesting seeds: inputs that repeat a format's opening token until they fill the target's
//! `-max_len` (`[` and `{"a":` in JSON, `a=[` and `a={a=` in TOML, `- ` in YAML, `(` in RON, and
//! for hand-written impls that parse a string, a JSON string of each opening bracket). An
//! unbounded recursive parser overflows the reduced stack the `fuzz` profile sets at a depth
//! such an input reaches; mutating a short seed one byte at a time never gets there within a
//! campaign, and libFuzzer's stack-depth signal then rewards what is kept.

/// One deep seed: `prefix`, `open` repeated, `suffix`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Opener {
    prefix: String,
    open: String,
    suffix: String,
}

/// An opener without a suffix: a recursive parser descends while it reads, before it sees
/// that the input ends early.
fn open(prefix: impl Into<String>, open: impl Into<String>) -> Opener {
    Opener {
        prefix: prefix.into(),
        open: open.into(),
        suffix: String::new(),
    }
}

/// The opening tokens of the formats and impls a target reads, each with the text that must
/// precede the first one (a TOML key) and at most once each.
fn openers(packages: &[&str], key: &str, manual: bool, brackets: &[u8]) -> Vec<Opener> {
    let mut out: Vec<Opener> = vec![open("", "["), open("", format!("{{{}:", json_str(key)))];
    for p in packages {
        match *p {
            "toml" => {
                out.push(open(format!("{key}="), "["));
                out.push(open(format!("{key}="), format!("{{{key}=")));
            }
            "serde_yaml" => {
                out.push(open("", "- "));
                out.push(open("", format!("{{{key}: ")));
            }
            "ron" => out.push(open("", "(")),
            _ => {}
        }
    }
    if manual {
        // A string the impl parses itself: a whole JSON string (the JSON layer reads it to its
        // end before the impl sees it).
        let mut chars: Vec<u8> = b"([{<".to_vec();
        chars.extend(
            brackets
                .iter()
                .filter(|b| !chars.contains(b))
                .copied()
                .collect::<Vec<_>>(),
        );
        for c in chars {
            if c.is_ascii_graphic() && c != b'"' && c != b'\\' {
                out.push(Opener {
                    prefix: "\"".into(),
                    open: (c as char).to_string(),
                    suffix: "\"".into(),
                });
            }
        }
    }
    let mut seen = std::collections::HashSet::new();
    out.retain(|o| seen.insert(o.clone()));
    out
}

/// `key` as a JSON string.
fn json_str(key: &str) -> String {
    serde_json::to_string(key).unwrap_or_else(|_| "\"a\"".into())
}

/// Seeds nesting every opener as deep as `max_len` bytes allow. `packages` are the serde
/// formats the target reads besides JSON, `key` a field name of the type (for formats whose
/// nesting needs one), `manual` whether the impl is hand-written (and may parse a string with
/// its own recursive parser) and `brackets` the opening brackets of the crate's own lexer.
pub(crate) fn deep_seeds(
    packages: &[&str],
    key: &str,
    manual: bool,
    brackets: &[u8],
    max_len: usize,
) -> Vec<Vec<u8>> {
    openers(packages, key, manual, brackets)
        .into_iter()
        .map(|o| {
            let mut s = o.prefix.into_bytes();
            while s.len() + o.open.len() + o.suffix.len() <= max_len {
                s.extend_from_slice(o.open.as_bytes());
            }
            s.extend_from_slice(o.suffix.as_bytes());
            s
        })
        .collect()
}

/// Whether a target reads a format or impl that may recurse without a limit, so that its
/// `-max_len` is raised for deep nesting (JSON alone is read by `serde_json`, which stops at
/// 128 levels).
pub(crate) fn recursive(packages: &[&str], manual: bool) -> bool {
    manual
        || packages
            .iter()
            .any(|p| matches!(*p, "toml" | "serde_yaml" | "ron"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_fill_max_len_with_each_opener() {
        let seeds = deep_seeds(&["toml", "serde_yaml"], "name", false, &[], 4096);
        let texts: Vec<String> = seeds
            .iter()
            .map(|s| String::from_utf8(s.clone()).expect("utf-8"))
            .collect();
        for (prefix, open) in [
            ("[[[[", "["),
            ("{\"name\":{\"name\":", "{\"name\":"),
            ("name=[[[", "["),
            ("name={name={name=", "{name="),
            ("- - - ", "- "),
        ] {
            let seed = texts
                .iter()
                .find(|t| t.starts_with(prefix))
                .unwrap_or_else(|| panic!("no seed starts with {prefix:?}: {texts:?}"));
            assert!(seed.len() <= 4096 && seed.len() + open.len() > 4096);
            assert!(seed.matches(open).count() > 4096 / (open.len() + 5));
        }
        assert!(!recursive(&[], false));
        assert!(recursive(&["toml"], false));
    }

    #[test]
    fn hand_written_impls_get_bracket_strings() {
        let seeds = deep_seeds(&[], "a", true, b"(|", 100);
        let texts: Vec<String> = seeds
            .iter()
            .map(|s| String::from_utf8(s.clone()).expect("utf-8"))
            .collect();
        let parens = texts
            .iter()
            .find(|t| t.starts_with("\"(((("))
            .expect("a string of parentheses");
        // A complete JSON string, as long as allowed.
        assert!(parens.ends_with("(\"") && parens.len() == 100);
        let inner: String = serde_json::from_str(parens).expect("valid JSON");
        assert_eq!(inner, "(".repeat(98));
        assert!(texts.iter().any(|t| t.starts_with("\"<<<<")));
        assert!(texts.iter().any(|t| t.starts_with("\"||||")));
        assert!(recursive(&[], true));
    }
}
