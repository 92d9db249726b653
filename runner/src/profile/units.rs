//! The units of a profile's limits: durations (`90s`, `15m`, `2h`, `500ms`, through
//! `humantime`) and sizes in bytes (`2GiB`, `512MiB`), and the limits' defaults.

use std::time::Duration;

/// Largest file a sandboxed process may write unless the profile says otherwise.
pub const DEFAULT_FILE_SIZE: u64 = 2 << 30;
/// Processes at once unless the profile says otherwise.
pub const DEFAULT_PROCESSES: u64 = 1024;

/// Parses a positive duration: `humantime`'s spellings (`90s`, `15m`, `15min`, `2h`, `500ms`,
/// `1h 30m`), or a bare number of seconds (`90`, `0.5`).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let duration = match text.parse::<f64>() {
        Ok(seconds) if seconds.is_finite() && seconds > 0.0 => Duration::from_secs_f64(seconds),
        Ok(_) => return Err(format!("duration `{text}` must be positive")),
        Err(_) => humantime::parse_duration(text)
            .map_err(|e| format!("`{text}` is not a duration (e.g. 90s, 15m, 2h): {e}"))?,
    };
    if duration.is_zero() {
        return Err(format!("duration `{text}` must be positive"));
    }
    Ok(duration)
}

/// Parses `2GiB`, `512MiB`, `64KiB`, `1G`, or a bare number of bytes.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a size (e.g. 2GiB, 512MiB)"))?;
    let factor: u64 = match unit.trim() {
        "" | "B" => 1,
        "K" | "KiB" | "k" => 1 << 10,
        "M" | "MiB" => 1 << 20,
        "G" | "GiB" => 1 << 30,
        "T" | "TiB" => 1 << 40,
        other => {
            return Err(format!(
                "unknown size unit `{other}` in `{text}` (KiB, MiB, GiB)"
            ))
        }
    };
    value
        .checked_mul(factor)
        .ok_or_else(|| format!("size `{text}` is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_durations() {
        assert_eq!(parse_size("2GiB").unwrap(), 2 << 30);
        assert_eq!(parse_size("512MiB").unwrap(), 512 << 20);
        assert!(parse_size("lots").is_err());
        assert_eq!(parse_duration("15m").unwrap(), Duration::from_secs(900));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert!(parse_duration("0s").is_err());
        assert_eq!(parse_duration("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("90").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("15min").unwrap(), Duration::from_secs(900));
        assert_eq!(parse_duration("24h").unwrap(), Duration::from_secs(86_400));
        assert!(parse_duration("2MiB").is_err(), "a size is not a duration");
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("-5").is_err());
    }
}
