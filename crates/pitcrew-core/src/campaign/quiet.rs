//! Quiet hours and frequency caps: when a person may be emailed. Quiet
//! hours are read in the person's own time zone and defer a send to the
//! end of the quiet period rather than dropping it.

use jiff::civil::Time;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan, Zoned};
use serde::{Deserialize, Serialize};

/// A daily period, in local time, when no marketing email goes out, such
/// as 21:00–08:00. `start == end` means no quiet hours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct QuietHours {
    /// Minutes after local midnight when quiet begins (0–1439).
    pub start_minute: u16,
    /// Minutes after local midnight when quiet ends (0–1439).
    pub end_minute: u16,
}

impl QuietHours {
    pub fn is_valid(&self) -> bool {
        self.start_minute < 24 * 60 && self.end_minute < 24 * 60
    }

    fn quiet_at(&self, minute: u16) -> bool {
        let (s, e) = (self.start_minute, self.end_minute);
        if s == e {
            false
        } else if s < e {
            minute >= s && minute < e
        } else {
            minute >= s || minute < e
        }
    }

    /// `None` if `now_ms` is outside quiet hours in `tz`; otherwise the
    /// first instant (epoch ms) when quiet hours end there.
    pub fn defer_until(&self, now_ms: i64, tz: &TimeZone) -> Option<i64> {
        let now = Timestamp::from_millisecond(now_ms)
            .ok()?
            .to_zoned(tz.clone());
        let minute = (now.hour() as u16) * 60 + now.minute() as u16;
        if !self.quiet_at(minute) {
            return None;
        }
        let end = Time::new(
            (self.end_minute / 60) as i8,
            (self.end_minute % 60) as i8,
            0,
            0,
        )
        .ok()?;
        let mut day = now.date();
        if minute >= self.end_minute {
            day = day.checked_add(1.day()).ok()?;
        }
        // A wall time skipped by a clock change resolves forwards (jiff's compatible rule).
        let until: Zoned = day.to_datetime(end).to_zoned(tz.clone()).ok()?;
        Some(until.timestamp().as_millisecond())
    }
}

/// At most `max` marketing emails per person in any `days` days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FrequencyCap {
    pub max: u32,
    pub days: u32,
}

impl FrequencyCap {
    /// The start (epoch ms) of the window the cap counts sends in.
    pub fn window_start(&self, now_ms: i64) -> i64 {
        now_ms - i64::from(self.days) * 86_400_000
    }

    /// Whether one more email is allowed after `sent_in_window`.
    pub fn allows(&self, sent_in_window: i64) -> bool {
        sent_in_window < i64::from(self.max)
    }
}

/// A best guess of someone's time zone from their country, for quiet hours
/// when the contact has no `timezone` value: the zone where most of the
/// country's people live.
pub fn country_zone(country: &str) -> Option<&'static str> {
    let zone = match country.trim().to_ascii_uppercase().as_str() {
        "AT" => "Europe/Vienna",
        "AU" => "Australia/Sydney",
        "BE" => "Europe/Brussels",
        "BR" => "America/Sao_Paulo",
        "CA" => "America/Toronto",
        "CH" => "Europe/Zurich",
        "CN" => "Asia/Shanghai",
        "CZ" => "Europe/Prague",
        "DE" => "Europe/Berlin",
        "DK" => "Europe/Copenhagen",
        "ES" => "Europe/Madrid",
        "FI" => "Europe/Helsinki",
        "FR" => "Europe/Paris",
        "GB" => "Europe/London",
        "GR" => "Europe/Athens",
        "HK" => "Asia/Hong_Kong",
        "IE" => "Europe/Dublin",
        "IL" => "Asia/Jerusalem",
        "IN" => "Asia/Kolkata",
        "IT" => "Europe/Rome",
        "JP" => "Asia/Tokyo",
        "KR" => "Asia/Seoul",
        "MX" => "America/Mexico_City",
        "NL" => "Europe/Amsterdam",
        "NO" => "Europe/Oslo",
        "NZ" => "Pacific/Auckland",
        "PL" => "Europe/Warsaw",
        "PT" => "Europe/Lisbon",
        "SE" => "Europe/Stockholm",
        "SG" => "Asia/Singapore",
        "US" => "America/New_York",
        "ZA" => "Africa/Johannesburg",
        _ => return None,
    };
    Some(zone)
}

/// The zone for a contact: their own `timezone` value if it names a known
/// zone, else their country's, else the workspace's.
pub fn contact_zone(
    timezone: Option<&str>,
    country: Option<&str>,
    workspace: &TimeZone,
) -> TimeZone {
    timezone
        .and_then(|t| TimeZone::get(t.trim()).ok())
        .or_else(|| {
            country
                .and_then(country_zone)
                .and_then(|z| TimeZone::get(z).ok())
        })
        .unwrap_or_else(|| workspace.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(s: &str) -> i64 {
        s.parse::<Timestamp>().expect("instant").as_millisecond()
    }

    #[test]
    fn overnight_quiet_hours_defer_to_the_morning_in_local_time() {
        let q = QuietHours {
            start_minute: 21 * 60,
            end_minute: 8 * 60,
        };
        let berlin = TimeZone::get("Europe/Berlin").expect("zone");
        // 22:30 in Berlin (UTC+1 in January) → 08:00 next day Berlin.
        assert_eq!(
            q.defer_until(ms("2026-01-10T21:30:00Z"), &berlin),
            Some(ms("2026-01-11T07:00:00Z"))
        );
        // 06:00 Berlin → 08:00 the same day.
        assert_eq!(
            q.defer_until(ms("2026-01-10T05:00:00Z"), &berlin),
            Some(ms("2026-01-10T07:00:00Z"))
        );
        // Noon is fine; the end minute itself is not quiet.
        assert_eq!(q.defer_until(ms("2026-01-10T11:00:00Z"), &berlin), None);
        assert_eq!(q.defer_until(ms("2026-01-10T07:00:00Z"), &berlin), None);
    }

    #[test]
    fn equal_start_and_end_means_never_quiet() {
        let q = QuietHours {
            start_minute: 0,
            end_minute: 0,
        };
        assert_eq!(
            q.defer_until(ms("2026-01-10T03:00:00Z"), &TimeZone::UTC),
            None
        );
    }

    #[test]
    fn frequency_cap_counts_within_its_window() {
        let cap = FrequencyCap { max: 3, days: 7 };
        assert!(cap.allows(2));
        assert!(!cap.allows(3));
        assert_eq!(cap.window_start(7 * 86_400_000), 0);
    }

    #[test]
    fn contact_zone_prefers_own_then_country_then_workspace() {
        let ws = TimeZone::UTC;
        assert_eq!(
            contact_zone(Some("Asia/Tokyo"), Some("DE"), &ws).iana_name(),
            Some("Asia/Tokyo")
        );
        assert_eq!(
            contact_zone(Some("Mars/Base"), Some("de"), &ws).iana_name(),
            Some("Europe/Berlin")
        );
        assert_eq!(contact_zone(None, Some("ZZ"), &ws).iana_name(), Some("UTC"));
    }
}
