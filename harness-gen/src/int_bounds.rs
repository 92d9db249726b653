//! Boundary values of the integer types a Deserialize type's fields use: the dictionary words
//! and seed values that take a fuzzer straight to the edges where arithmetic on deserialized
//! numbers overflows, divides by zero or wraps (`u8` fields: `255`, `256`, `128`, ...).
//!
//! Mutating digits one at a time rarely turns a `1` into `200` in two fields at once; a
//! dictionary word or a seed at the bound does it in one step.

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

    /// The largest value as a JSON number (clamped to 64 bits).
    pub(crate) fn max_json(&self) -> Value {
        let v = u64::try_from(self.max).unwrap_or(u64::MAX);
        Value::from(v)
    }
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
}
