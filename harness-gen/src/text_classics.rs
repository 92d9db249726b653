//! The classic strings every text field is tried with: the empty string, multi-byte UTF-8 of 2, 3
//! and 4 bytes (where slicing at a byte index lands inside a character), a combining mark, NUL,
//! and a long string; plus their JSON escapes, a lone surrogate escape (`\ud800`, which JSON
//! allows and UTF-8 cannot hold), as dictionary words.
//!
//! Byte-level mutation of ASCII seeds almost never produces a valid multi-byte sequence, so the
//! char-boundary panics of `&s[..n]` stay out of reach without them.

/// The classic strings, in the order shaped inputs pick them; the long one last.
pub(crate) fn texts() -> Vec<String> {
    vec![
        String::new(),
        "\u{e9}".into(),
        "\u{20ac}".into(),
        "\u{1F980}".into(),
        "a\u{1F980}".into(),
        "ab\u{20ac}".into(),
        "e\u{301}".into(),
        "\u{0}".into(),
        "\u{feff}".into(),
        long_text(),
    ]
}

/// What [`long_text`] repeats: ASCII and multi-byte characters of every width.
pub(crate) const LONG_UNIT: &str = "a\u{e9}\u{20ac}\u{1F980}";

/// How often [`long_text`] repeats [`LONG_UNIT`].
pub(crate) const LONG_REPEAT: usize = 205;

/// A long string of mixed ASCII and multi-byte characters (2 KiB).
pub(crate) fn long_text() -> String {
    LONG_UNIT.repeat(LONG_REPEAT)
}

/// Dictionary words for text fields: the raw multi-byte characters and their JSON `\u` escapes,
/// a lone surrogate escape and NUL.
pub(crate) fn words() -> Vec<String> {
    [
        "\u{e9}",
        "\u{20ac}",
        "\u{1F980}",
        "\u{301}",
        "\\u00e9",
        "\\u20ac",
        "\\ud83e\\udd80",
        "\\u0301",
        "\\ud800",
        "\\udfff",
        "\\u0000",
        "\"\\ud800\"",
    ]
    .map(String::from)
    .to_vec()
}

/// The string a seed of each kind gives text fields (see [`crate::serde_shape::Fill`]).
pub(crate) fn seed_text(kind: usize) -> String {
    match kind {
        0 => String::new(),
        1 => "\u{0}".into(),
        2 => long_text(),
        _ => "a\u{1F980}".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_byte_of_every_width() {
        let t = texts();
        for width in 2..=4 {
            assert!(
                t.iter().any(|s| s.chars().any(|c| c.len_utf8() == width)),
                "no {width}-byte character in {t:?}"
            );
        }
        assert!(t.iter().any(String::is_empty));
        assert!(t.iter().any(|s| s.len() > 1024));
        // Slicing the first three bytes cuts a character in two.
        assert!(t.iter().any(|s| s.len() > 3 && !s.is_char_boundary(3)));
    }

    #[test]
    fn words_hold_escapes_json_reads() {
        let w = words();
        let lone: Result<String, _> = serde_json::from_str(&w[w.len() - 1]);
        // A lone surrogate is valid JSON text that no Rust string can hold.
        assert!(lone.is_err());
        let e: String = serde_json::from_str("\"\\u00e9\"").expect("escape");
        assert_eq!(e, "\u{e9}");
        assert!(w.iter().any(|x| x == "\\u0000"));
    }
}
