//! Boundary values of the integer types a Deserialize type's fields use: the dictionary words
//! and seed values that take a fuzzer straight to the edges where arithmetic on deserialized
//! numbers overflows, divides by zero or wraps (`u8` fields: `255`, `256`, `128`, ...).
//!
//! Mutating digits one at a time rarely turns a `1` into `200` in two fields at once; a
//! dictionary word or a seed at the bound does it in one step.
//!
//! Besides a type's own bounds, every integer field gets the classics ([`classics`]): `0`, `1`,
//! `-1`, the bit widths (`64` is the shift that overflows `1u64 << bits`), and every signed and
//! unsigned bound with the value one past it, whatever the field's type: a value is often
//! narrowed or widened after it is read.

use serde_json::Value;

/// The range of an integer type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IntRange {
    /// The smallest value (`1` for `NonZero*`).
    pub min: i128,
    /// The largest value.
    pub max: u128,
    /// Whether the type is signed.
    pub signed: bool,
}

/// The range of the integer type named `name` (the last path segment: `u8`, `NonZeroU32`,
/// `usize`, taken as 64 bits), or `None` when it is not an integer type.
pub(crate) fn int_range(name: &str) -> Option<IntRange> {
    let (signed, bits, nonzero) = match name {
        "u8" => (false, 8, false),
        "u16" => (false, 16, false),
        "u32" => (false, 32, false),
        "u64" | "usize" => (false, 64, false),
        "u128" => (false, 128, false),
        "i8" => (true, 8, false),
        "i16" => (true, 16, false),
        "i32" => (true, 32, false),
        "i64" | "isize" => (true, 64, false),
        "i128" => (true, 128, false),
        "NonZeroU8" => (false, 8, true),
        "NonZeroU16" => (false, 16, true),
        "NonZeroU32" => (false, 32, true),
        "NonZeroU64" | "NonZeroUsize" => (false, 64, true),
        "NonZeroU128" => (false, 128, true),
        "NonZeroI8" => (true, 8, true),
        "NonZeroI16" => (true, 16, true),
        "NonZeroI32" => (true, 32, true),
        "NonZeroI64" | "NonZeroIsize" => (true, 64, true),
        "NonZeroI128" => (true, 128, true),
        _ => return None,
    };
    let (min, max) = if signed {
        // `1 << 127` is already `i128::MIN`.
        let min = if bits == 128 {
            i128::MIN
        } else {
            -(1i128 << (bits - 1))
        };
        (min, (1u128 << (bits - 1)) - 1)
    } else {
        (
            0,
            if bits == 128 {
                u128::MAX
            } else {
                (1u128 << bits) - 1
            },
        )
    };
    Some(IntRange {
        min: if nonzero { 1 } else { min },
        max,
        signed,
    })
}

impl IntRange {
    /// Dictionary words, as decimal text: `0` and `-1`, both bounds, the values just past them,
    /// and the middle of the range (`127`/`128` for `u8`, where the sum of two values
    /// overflows).
    pub(crate) fn words(&self) -> Vec<String> {
        let mut w = vec!["0".to_string(), "-1".to_string()];
        w.push(self.max.to_string());
        w.push(self.max.checked_add(1).map_or_else(
            || format!("{}0", self.max), // one digit more than u128 can hold
            |v| v.to_string(),
        ));
        let half = self.max / 2;
        w.push(half.to_string());
        w.push((half + 1).to_string());
        if self.signed {
            w.push(self.min.to_string());
            w.push(
                self.min
                    .checked_sub(1)
                    .map_or_else(|| format!("{}0", self.min), |v| v.to_string()),
            );
        }
        w
    }

    /// The smallest value as a JSON number (clamped to what `serde_json` holds: 64 bits).
    pub(crate) fn min_json(&self) -> Value {
        let v = i64::try_from(self.min).unwrap_or(i64::MIN);
        Value::from(v)
    }

    /// The values a field read as this type is tried with first: its own bounds and the values
    /// past them, then the [`classics`] (a `u8` read into a `u64` field gets `255`, `256`, `64`
    /// and `65` before the `u64` bounds).
    pub(crate) fn table(&self) -> Vec<Classic> {
        let mut out = vec![Classic::of(self.min), Classic::Pos(self.max)];
        out.extend(self.max.checked_add(1).map(Classic::Pos));
        out.extend(self.min.checked_sub(1).map(Classic::of));
        out.extend(classics());
        let mut seen = std::collections::HashSet::new();
        out.retain(|c| seen.insert(*c));
        out
    }

    /// The bit width `64` where the type holds it (else its maximum): the shift amount that
    /// overflows a 64-bit shift, a seed value for every integer.
    pub(crate) fn width_json(&self) -> Value {
        Value::from(u64::try_from(self.max.min(64)).unwrap_or(64))
    }

    /// The largest value as a JSON number (clamped to 64 bits).
    pub(crate) fn max_json(&self) -> Value {
        let v = u64::try_from(self.max).unwrap_or(u64::MAX);
        Value::from(v)
    }
}

/// One classic integer value, signed or not (no single Rust integer holds both `-1` and
/// `u128::MAX`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Classic {
    /// A negative value.
    Neg(i128),
    /// Zero or a positive value.
    Pos(u128),
}

impl Classic {
    fn of(v: i128) -> Classic {
        u128::try_from(v).map_or(Classic::Neg(v), Classic::Pos)
    }

    /// The value as decimal text.
    pub(crate) fn text(self) -> String {
        match self {
            Classic::Neg(v) => v.to_string(),
            Classic::Pos(v) => v.to_string(),
        }
    }
}

/// The bit widths whose values are classics: shift amounts that reach or pass a width.
const BIT_WIDTHS: [u32; 11] = [7, 8, 15, 16, 31, 32, 63, 64, 65, 127, 128];

/// The classic integers, in a fixed order: `0`, `1`, `-1`, the bit widths, then for every width
/// of 8 to 128 bits its unsigned maximum and the value past it, its signed maximum and minimum
/// and the values past them (`255`, `256`, `127`, `128`, `-128`, `-129`, ...), as far as 128
/// bits can hold them.
pub(crate) fn classics() -> Vec<Classic> {
    let mut out: Vec<Classic> = vec![Classic::Pos(0), Classic::Pos(1), Classic::Neg(-1)];
    out.extend(BIT_WIDTHS.iter().map(|&b| Classic::Pos(u128::from(b))));
    for bits in [8u32, 16, 32, 64, 128] {
        let umax = u128::MAX >> (128 - bits);
        out.push(Classic::Pos(umax));
        out.extend(umax.checked_add(1).map(Classic::Pos));
        let smax = umax >> 1;
        out.push(Classic::Pos(smax));
        out.push(Classic::Pos(smax + 1));
        let smin = -(smax as i128) - 1;
        out.push(Classic::of(smin));
        out.extend(smin.checked_sub(1).map(Classic::Neg));
    }
    let mut seen = std::collections::HashSet::new();
    out.retain(|c| seen.insert(*c));
    out
}

/// The classics as dictionary words (decimal text).
pub(crate) fn classic_words() -> Vec<String> {
    classics().into_iter().map(Classic::text).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        let u8r = int_range("u8").unwrap();
        assert_eq!((u8r.min, u8r.max, u8r.signed), (0, 255, false));
        let i16r = int_range("i16").unwrap();
        assert_eq!((i16r.min, i16r.max), (-32768, 32767));
        assert_eq!(int_range("NonZeroU32").unwrap().min, 1);
        assert_eq!(int_range("i128").unwrap().min, i128::MIN);
        assert_eq!(int_range("u128").unwrap().max, u128::MAX);
        assert!(int_range("f32").is_none());
        assert!(int_range("String").is_none());
    }

    #[test]
    fn words_cover_both_edges_and_the_middle() {
        let w = int_range("u8").unwrap().words();
        for want in ["0", "-1", "255", "256", "127", "128"] {
            assert!(w.iter().any(|x| x == want), "{want} missing from {w:?}");
        }
        let w = int_range("i32").unwrap().words();
        for want in ["2147483647", "2147483648", "-2147483648", "-2147483649"] {
            assert!(w.iter().any(|x| x == want), "{want} missing from {w:?}");
        }
        let w = int_range("u128").unwrap().words();
        assert!(w.contains(&format!("{}0", u128::MAX)));
    }

    #[test]
    fn json_bounds_clamp_to_64_bits() {
        let r = int_range("u128").unwrap();
        assert_eq!(r.max_json(), Value::from(u64::MAX));
        let r = int_range("i8").unwrap();
        assert_eq!(r.min_json(), Value::from(-128));
        assert_eq!(r.max_json(), Value::from(127));
    }

    #[test]
    fn classics_hold_widths_and_every_bound_once() {
        let words = classic_words();
        for want in [
            "0",
            "1",
            "-1",
            "7",
            "8",
            "15",
            "16",
            "31",
            "32",
            "63",
            "64",
            "65",
            "127",
            "128",
            "255",
            "256",
            "65535",
            "65536",
            "-128",
            "-129",
            "32767",
            "-32769",
            "4294967296",
            "2147483648",
            "-2147483649",
            "18446744073709551615",
            "18446744073709551616",
            "-9223372036854775809",
        ] {
            assert!(
                words.iter().any(|w| w == want),
                "{want} missing from {words:?}"
            );
        }
        assert!(words.contains(&u128::MAX.to_string()));
        assert!(words.contains(&i128::MIN.to_string()));
        let unique: std::collections::HashSet<&String> = words.iter().collect();
        assert_eq!(unique.len(), words.len(), "duplicates in {words:?}");
    }

    #[test]
    fn a_type_table_starts_with_its_own_bounds() {
        let t = int_range("u8").unwrap().table();
        assert_eq!(
            &t[..3],
            &[Classic::Pos(0), Classic::Pos(255), Classic::Pos(256)]
        );
        assert!(t.contains(&Classic::Pos(64)));
        let t = int_range("i8").unwrap().table();
        assert_eq!(
            &t[..4],
            &[
                Classic::Neg(-128),
                Classic::Pos(127),
                Classic::Pos(128),
                Classic::Neg(-129)
            ]
        );
        assert_eq!(int_range("u8").unwrap().width_json(), Value::from(64));
    }
}
