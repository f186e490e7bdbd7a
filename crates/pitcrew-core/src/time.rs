//! Instants as pitcrew stores and shows them: UTC epoch milliseconds in
//! columns, RFC 3339 UTC with milliseconds wherever people or JSON see them.

use jiff::Timestamp;
use jiff::tz::TimeZone;

/// `2026-11-23T10:15:00.000Z` for an instant in epoch milliseconds.
pub fn format_ms(ms: i64) -> String {
    let ts = Timestamp::from_millisecond(ms).unwrap_or(Timestamp::UNIX_EPOCH);
    format_timestamp(ts)
}

/// The canonical text of an instant: fixed width, so text order is time order.
pub fn format_timestamp(ts: Timestamp) -> String {
    let dt = ts.to_zoned(TimeZone::UTC).datetime();
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        dt.year(),
        dt.month(),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second(),
        dt.subsec_nanosecond() / 1_000_000
    )
}

/// Parse RFC 3339 text (an offset is required) or a bare date (midnight UTC).
pub fn parse_instant(s: &str) -> Result<Timestamp, String> {
    let s = s.trim();
    if let Ok(ts) = s.parse::<Timestamp>() {
        return Ok(ts);
    }
    if let Ok(date) = s.parse::<jiff::civil::Date>()
        && s.len() == 10
    {
        return date
            .to_zoned(TimeZone::UTC)
            .map(|z| z.timestamp())
            .map_err(|e| e.to_string());
    }
    Err(format!(
        "`{s}` is not a date and time pitcrew can read; write it as RFC 3339 with a time zone, e.g. 2026-03-01T09:30:00Z or 2026-03-01T10:30:00+01:00"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_format_fixed_width_in_utc() {
        assert_eq!(format_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format_ms(1_795_000_000_123), "2026-11-18T11:06:40.123Z");
    }

    #[test]
    fn offsets_are_converted_to_utc() {
        let ts = parse_instant("2026-03-01T10:30:00+01:00").expect("valid");
        assert_eq!(format_timestamp(ts), "2026-03-01T09:30:00.000Z");
    }

    #[test]
    fn a_time_without_zone_is_refused_with_an_example() {
        let err = parse_instant("2026-03-01 10:30").expect_err("no zone");
        assert!(err.contains("RFC 3339"), "{err}");
    }

    #[test]
    fn a_bare_date_is_midnight_utc() {
        let ts = parse_instant("2026-03-01").expect("valid");
        assert_eq!(format_timestamp(ts), "2026-03-01T00:00:00.000Z");
    }
}
