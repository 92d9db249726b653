//! Deep-nesting seeds: inputs that repeat a format's opening token until they fill the target's
//! `-max_len`, written in each format's grammar (`[` and `{"a":` in JSON, `a=[` and `a={a=` in
//! TOML, `- `, `[` and `{a: ` in YAML, `(` and `(a:` in RON, `<a>` in XML, a one-element array
//! header in CBOR and MessagePack), and the crate's own opening brackets: raw for a target that
//! hands the input to the crate's parser, as a JSON string for a hand-written `Deserialize` impl
//! that parses a string. An unbounded recursive parser overflows the reduced stack the `fuzz`
//! profile sets at a depth such an input reaches; mutating a short seed one byte at a time never
//! gets there within a campaign, and libFuzzer's stack-depth signal then rewards what is kept.
//! Formats with references get an expansion seed too: YAML aliases of aliases ("billion laughs"),
//! which a loader that copies every alias expands exponentially.

/// One deep seed: `prefix`, `open` repeated, `suffix`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Opener {
    prefix: String,
    open: Vec<u8>,
    suffix: String,
}

/// An opener without a suffix: a recursive parser descends while it reads, before it sees
/// that the input ends early.
fn open(prefix: impl Into<String>, open: impl Into<String>) -> Opener {
    Opener {
        prefix: prefix.into(),
        open: open.into().into_bytes(),
        suffix: String::new(),
    }
}

/// The crate's own opening brackets (from its lexer), and how a target hands them over.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Brackets<'a> {
    /// None.
    None,
    /// As the input itself: a parse or format target feeds the bytes to the crate's parser.
    Raw(&'a [u8]),
    /// As one JSON string: a hand-written `Deserialize` impl parses a string it reads.
    JsonString(&'a [u8]),
}

/// A crate name as written in paths (`quick-xml` and `quick_xml` are one crate).
fn norm(package: &str) -> String {
    package.replace('-', "_")
}

/// YAML readers and writers.
const YAML: &[&str] = &[
    "serde_yaml",
    "yaml_rust",
    "yaml_rust2",
    "serde_yml",
    "saphyr",
    "saphyr_parser",
    "serde_norway",
];
/// XML readers.
const XML: &[&str] = &[
    "quick_xml",
    "serde_xml_rs",
    "xml_rs",
    "xml",
    "xmltree",
    "roxmltree",
    "minidom",
    "xmlparser",
];
/// TOML readers.
const TOML: &[&str] = &["toml", "toml_edit", "basic_toml", "taplo"];

/// The opening tokens of a format, by crate name, each with the text that must precede the first
/// one (a TOML key) and the key where the grammar needs one.
fn format_openers(package: &str, key: &str, out: &mut Vec<Opener>) {
    let p = norm(package);
    let p = p.as_str();
    if TOML.contains(&p) {
        out.push(open(format!("{key}="), "["));
        out.push(open(format!("{key}="), format!("{{{key}=")));
    } else if YAML.contains(&p) {
        // Block sequences nest by indentation alone; flow sequences and mappings by brackets.
        out.push(open("", "- "));
        out.push(open("", "["));
        out.push(open("", format!("{{{key}: ")));
    } else if XML.contains(&p) {
        out.push(open("", format!("<{key}>")));
    } else {
        match p {
            "ron" => {
                out.push(open("", "("));
                out.push(open("", format!("({key}:")));
            }
            "json5" | "serde_json5" | "serde_hjson" | "hjson" | "jsonc_parser" => {
                out.push(open("", format!("{{{key}:")));
            }
            "ciborium" | "serde_cbor" | "minicbor" | "cbor4ii" => out.push(Opener {
                prefix: String::new(),
                open: vec![0x81],
                suffix: String::new(),
            }),
            "rmp_serde" | "rmp" | "rmpv" => out.push(Opener {
                prefix: String::new(),
                open: vec![0x91],
                suffix: String::new(),
            }),
            _ => {}
        }
    }
}

/// JSON readers (and its supersets).
const JSON: &[&str] = &[
    "serde_json",
    "simd_json",
    "sonic_rs",
    "json",
    "json5",
    "serde_json5",
    "serde_hjson",
    "hjson",
    "jsonc_parser",
];

/// The opening tokens of the formats and impls a target reads (JSON's when `json`), each with
/// the text that must precede the first one (a TOML key) and at most once each.
fn openers(packages: &[&str], key: &str, brackets: Brackets<'_>, json: bool) -> Vec<Opener> {
    let mut out: Vec<Opener> = Vec::new();
    if json {
        out.push(open("", "["));
        out.push(open("", format!("{{{}:", json_str(key))));
    }
    for p in packages {
        format_openers(p, key, &mut out);
    }
    let (raw, list) = match brackets {
        Brackets::None => (true, &[][..]),
        Brackets::Raw(b) => (true, b),
        Brackets::JsonString(b) => (false, b),
    };
    if !raw {
        // A string the impl parses itself: a whole JSON string (the JSON layer reads it to its
        // end before the impl sees it).
        let mut chars: Vec<u8> = b"([{<".to_vec();
        chars.extend(
            list.iter()
                .filter(|b| !chars.contains(b))
                .copied()
                .collect::<Vec<_>>(),
        );
        for c in chars {
            if c.is_ascii_graphic() && c != b'"' && c != b'\\' {
                out.push(Opener {
                    prefix: "\"".into(),
                    open: vec![c],
                    suffix: "\"".into(),
                });
            }
        }
    } else {
        // The crate's own brackets, as its parser reads them.
        for &c in list {
            if c.is_ascii_graphic() {
                out.push(open("", (c as char).to_string()));
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

/// Seeds nesting every opener as deep as `max_len` bytes allow, for a `Deserialize` target:
/// `packages` are the formats the target reads besides JSON, `key` a field name of the type (for
/// formats whose nesting needs one) and `brackets` the opening brackets of the crate's own lexer
/// with how the target hands them over.
pub(crate) fn deep_seeds(
    packages: &[&str],
    key: &str,
    brackets: Brackets<'_>,
    max_len: usize,
) -> Vec<Vec<u8>> {
    fill(openers(packages, key, brackets, true), max_len)
}

/// Seeds nesting the openers of the crate under test as deep as `max_len` bytes allow, for a
/// target that hands the input to the crate's own parser (format and parse targets): the
/// grammar of the format the crate is, when it is a known one, and its lexer's brackets as they
/// are written.
pub(crate) fn entry_deep_seeds(package: &str, brackets: &[u8], max_len: usize) -> Vec<Vec<u8>> {
    let json = JSON.contains(&norm(package).as_str());
    fill(
        openers(&[package], "a", Brackets::Raw(brackets), json),
        max_len,
    )
}

/// Each opener repeated until the seed fills `max_len`.
fn fill(openers: Vec<Opener>, max_len: usize) -> Vec<Vec<u8>> {
    openers
        .into_iter()
        .map(|o| {
            let mut s = o.prefix.into_bytes();
            while s.len() + o.open.len() + o.suffix.len() <= max_len {
                s.extend_from_slice(&o.open);
            }
            s.extend_from_slice(o.suffix.as_bytes());
            s
        })
        .collect()
}

/// Seeds that expand through references when the crate under test is a format that has them
/// (YAML aliases): given to the targets of the format crate itself, whose loader decides how
/// aliases expand.
pub(crate) fn expansion_seeds(package: &str, key: &str) -> Vec<Vec<u8>> {
    if YAML.contains(&norm(package).as_str()) {
        vec![yaml_laughs(key)]
    } else {
        vec![]
    }
}

/// Nine levels of YAML anchors, each a list of ten aliases of the one before ("billion laughs",
/// 10^9 leaves once expanded): a loader that copies every alias runs out of memory or time, one
/// that shares or limits them reads it at once.
fn yaml_laughs(key: &str) -> Vec<u8> {
    let mut s = format!("{key}0: &{key}0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..9 {
        let refs = vec![format!("*{key}{}", i - 1); 10].join(", ");
        s.push_str(&format!("{key}{i}: &{key}{i} [{refs}]\n"));
    }
    s.into_bytes()
}

/// Whether a target reads a format or impl that may recurse without a limit, so that its
/// `-max_len` is raised for deep nesting (JSON alone is read by `serde_json`, which stops at
/// 128 levels).
pub(crate) fn recursive(packages: &[&str], manual: bool) -> bool {
    manual
        || packages.iter().any(|p| {
            let p = norm(p);
            YAML.contains(&p.as_str())
                || TOML.contains(&p.as_str())
                || XML.contains(&p.as_str())
                || p == "ron"
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_fill_max_len_with_each_opener() {
        let seeds = deep_seeds(&["toml", "serde_yaml"], "name", Brackets::None, 4096);
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
        let seeds = deep_seeds(&[], "a", Brackets::JsonString(b"(|"), 100);
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

    #[test]
    fn format_crates_get_their_own_grammar_and_raw_brackets() {
        let texts = |packages: &[&str], brackets| -> Vec<Vec<u8>> {
            deep_seeds(packages, "a", brackets, 1000)
        };
        let starts = |seeds: &[Vec<u8>], p: &[u8]| seeds.iter().any(|s| s.starts_with(p));
        let xml = texts(&["quick-xml"], Brackets::None);
        assert!(starts(&xml, b"<a><a><a>"));
        let ron = texts(&["ron"], Brackets::None);
        assert!(starts(&ron, b"(((") && starts(&ron, b"(a:(a:"));
        let yaml = texts(&["yaml-rust"], Brackets::None);
        assert!(starts(&yaml, b"- - - ") && starts(&yaml, b"{a: {a: "));
        let cbor = texts(&["serde_cbor"], Brackets::None);
        assert!(starts(&cbor, &[0x81, 0x81, 0x81]));
        // A parser's own brackets, as it reads them (not as a JSON string).
        let raw = entry_deep_seeds("parsec", b"(<", 1000);
        assert!(starts(&raw, b"((((") && starts(&raw, b"<<<<"));
        assert!(!raw.iter().any(|s| s.starts_with(b"\"")));
        // JSON's openers only for a JSON crate: a parser of another grammar gets its own.
        assert!(!starts(&raw, b"[[[["));
        assert!(starts(&entry_deep_seeds("json5", b"", 100), b"[[[["));
        let toml = entry_deep_seeds("toml", b"", 1000);
        assert!(starts(&toml, b"a=[[[[") && starts(&toml, b"a={a={a="));
        assert!(toml.iter().all(|s| s.len() <= 1000 && s.len() > 990));
        assert!(recursive(&["quick-xml"], false) && recursive(&["serde_yml"], false));
    }

    #[test]
    fn yaml_crates_get_aliases_of_aliases() {
        let seeds = expansion_seeds("serde_yaml", "k");
        let text = String::from_utf8(seeds[0].clone()).expect("utf-8");
        assert!(text.starts_with("k0: &k0 [x, x,"));
        assert!(text.contains("k8: &k8 [*k7, *k7,"));
        assert_eq!(text.matches("*k3").count(), 10);
        assert!(expansion_seeds("toml", "k").is_empty());
    }
}
