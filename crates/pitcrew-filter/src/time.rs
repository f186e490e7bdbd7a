//! Turning relative times ("within last 30 days", "in last 90 days",
//! anniversaries) into concrete bounds from an explicit `now` and time zone.
//!
//! Every evaluator resolves times here and nowhere else, so the SQL compiler
//! and the in-memory evaluator cannot disagree about where a window starts.

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use pitcrew_core::time::format_timestamp;

use crate::ast::{Duration, Literal, Test, Window};

/// The moment and place a condition is evaluated in.
#[derive(Debug, Clone)]
pub struct Clock {
    /// UTC epoch milliseconds.
    pub now: i64,
    pub tz: TimeZone,
}

/// Concrete bounds of a time test, inclusive at both ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimeRange {
    /// For date fields: canonical `YYYY-MM-DD` strings.
    Dates {
        low: Option<String>,
        high: Option<String>,
    },
    /// For datetimes and event times: UTC epoch milliseconds.
    Instants { low: Option<i64>, high: Option<i64> },
    /// Anniversaries: the `MM-DD` strings that match.
    MonthDays(Vec<String>),
}

impl Clock {
    pub fn new(now: i64, tz: TimeZone) -> Clock {
        Clock { now, tz }
    }

    /// A clock in UTC.
    pub fn utc(now: i64) -> Clock {
        Clock::new(now, TimeZone::UTC)
    }

    /// The calendar day of `now` in the clock's time zone.
    pub fn today(&self) -> Date {
        self.date_of(self.now)
    }

    fn date_of(&self, ms: i64) -> Date {
        let ts = Timestamp::from_millisecond(ms).unwrap_or(Timestamp::UNIX_EPOCH);
        ts.to_zoned(self.tz.clone()).date()
    }

    /// Milliseconds of the first instant of `date` in the clock's zone.
    pub fn start_of(&self, date: Date) -> i64 {
        date.to_zoned(self.tz.clone())
            .map(|z| z.timestamp().as_millisecond())
            .unwrap_or(0)
    }

    /// Milliseconds of the last instant of `date` in the clock's zone.
    pub fn end_of(&self, date: Date) -> i64 {
        match date.tomorrow() {
            Ok(next) => self.start_of(next) - 1,
            Err(_) => i64::MAX,
        }
    }

    /// A date (`YYYY-MM-DD`, whole day in the zone) or an RFC 3339 instant as
    /// milliseconds; `end` picks the last instant of a whole day.
    pub fn instant(&self, text: &str, end: bool) -> Result<i64, String> {
        if let Ok(date) = text.parse::<Date>()
            && text.len() == 10
        {
            return Ok(if end {
                self.end_of(date)
            } else {
                self.start_of(date)
            });
        }
        pitcrew_core::time::parse_instant(text).map(|ts| ts.as_millisecond())
    }

    /// The inclusive bounds of an event window, in milliseconds.
    pub fn window(&self, window: &Window) -> Result<(Option<i64>, Option<i64>), String> {
        Ok(match window {
            Window::Ever => (None, None),
            Window::Last { amount } => (
                Some(self.now.saturating_sub(amount.millis())),
                Some(self.now),
            ),
            Window::Between { from, to } => (
                Some(self.instant(from, false)?),
                Some(self.instant(to, true)?),
            ),
            Window::Since { from } => (Some(self.instant(from, false)?), None),
        })
    }

    /// Bounds for a relative time test on a date field (`date == true`) or
    /// on an instant; `None` for tests that are not relative.
    pub fn relative(&self, test: &Test, date: bool) -> Option<TimeRange> {
        match test {
            Test::WithinLast { amount } => Some(self.span(*amount, date, Direction::Past)),
            Test::WithinNext { amount } => Some(self.span(*amount, date, Direction::Future)),
            Test::MoreThanAgo { amount } => Some(self.span(*amount, date, Direction::Before)),
            Test::AnniversaryWithinNext { days } => {
                Some(TimeRange::MonthDays(self.month_days(*days)))
            }
            _ => None,
        }
    }

    /// Inclusive millisecond bounds of a comparison on an instant (`is`,
    /// `>`, `>=`, `<`, `<=`, `between` with a date or an RFC 3339 literal).
    /// A date stands for its whole day: `is "2026-01-01"` is that day,
    /// `after "2026-01-01"` starts the next day. `None` for other tests or
    /// a literal that is not a time.
    pub fn instant_range(&self, test: &Test) -> Option<(Option<i64>, Option<i64>)> {
        let at = |l: &Literal, end: bool| match l {
            Literal::Text(s) => self.instant(s, end).ok(),
            _ => None,
        };
        Some(match test {
            Test::Is { value } | Test::IsNot { value } => {
                (Some(at(value, false)?), Some(at(value, true)?))
            }
            Test::Gt { value } => (Some(at(value, true)?.saturating_add(1)), None),
            Test::Gte { value } => (Some(at(value, false)?), None),
            Test::Lt { value } => (None, Some(at(value, false)?.saturating_sub(1))),
            Test::Lte { value } => (None, Some(at(value, true)?)),
            Test::Between { low, high } => (Some(at(low, false)?), Some(at(high, true)?)),
            _ => return None,
        })
    }

    fn span(&self, amount: Duration, date: bool, dir: Direction) -> TimeRange {
        if date {
            let today = self.today();
            let shift = |days: i64| {
                today
                    .checked_add(jiff::Span::new().days(days))
                    .unwrap_or(today)
                    .to_string()
            };
            let days = amount.days();
            let (low, high) = match dir {
                Direction::Past => (Some(shift(-days)), Some(today.to_string())),
                Direction::Future => (Some(today.to_string()), Some(shift(days))),
                Direction::Before => (None, Some(shift(-days - 1))),
            };
            TimeRange::Dates { low, high }
        } else {
            let ms = amount.millis();
            let (low, high) = match dir {
                Direction::Past => (Some(self.now.saturating_sub(ms)), Some(self.now)),
                Direction::Future => (Some(self.now), Some(self.now.saturating_add(ms))),
                Direction::Before => (None, Some(self.now.saturating_sub(ms) - 1)),
            };
            TimeRange::Instants { low, high }
        }
    }

    /// `MM-DD` of today and the next `days` days; 29 February counts on
    /// 28 February in a year without one.
    pub fn month_days(&self, days: u32) -> Vec<String> {
        let today = self.today();
        let mut out = Vec::new();
        for i in 0..=i64::from(days.min(366)) {
            let Ok(d) = today.checked_add(jiff::Span::new().days(i)) else {
                break;
            };
            let md = format!("{:02}-{:02}", d.month(), d.day());
            if !out.contains(&md) {
                out.push(md);
            }
            if d.month() == 2
                && d.day() == 28
                && !d.in_leap_year()
                && !out.iter().any(|m| m == "02-29")
            {
                out.push("02-29".into());
            }
        }
        out.sort();
        out
    }
}

enum Direction {
    Past,
    Future,
    Before,
}

/// The canonical text of an instant given in milliseconds.
pub fn canonical_instant(ms: i64) -> String {
    format_timestamp(Timestamp::from_millisecond(ms).unwrap_or(Timestamp::UNIX_EPOCH))
}

/// A time-zone name (IANA, such as `Europe/Berlin`) or `UTC`.
pub fn zone(name: &str) -> Result<TimeZone, String> {
    TimeZone::get(name).map_err(|_| {
        format!("`{name}` is not a time zone; use an IANA name such as `Europe/Berlin` or `UTC`")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ast::Unit;

    fn clock() -> Clock {
        // 2026-03-01T12:00:00Z
        Clock::new(1_772_366_400_000, zone("Europe/Berlin").expect("zone"))
    }

    #[test]
    fn within_last_days_on_a_date_field_uses_the_local_calendar() {
        let r = clock().relative(
            &Test::WithinLast {
                amount: Duration {
                    amount: 30,
                    unit: Unit::Days,
                },
            },
            true,
        );
        assert_eq!(
            r,
            Some(TimeRange::Dates {
                low: Some("2026-01-30".into()),
                high: Some("2026-03-01".into())
            })
        );
    }

    #[test]
    fn a_leap_day_anniversary_falls_on_the_28th_in_other_years() {
        let c = Clock::new(1_771_804_800_000, TimeZone::UTC); // 2026-02-23
        let days = c.month_days(7);
        assert!(days.contains(&"02-28".to_string()));
        assert!(days.contains(&"02-29".to_string()));
        assert!(days.contains(&"03-02".to_string()));
        assert!(!days.contains(&"03-03".to_string()));
    }

    #[test]
    fn a_date_window_covers_whole_local_days() {
        let c = clock();
        let (lo, hi) = c
            .window(&Window::Between {
                from: "2026-01-01".into(),
                to: "2026-01-31".into(),
            })
            .expect("window");
        assert_eq!(
            canonical_instant(lo.expect("lo")),
            "2025-12-31T23:00:00.000Z"
        );
        assert_eq!(
            canonical_instant(hi.expect("hi")),
            "2026-01-31T22:59:59.999Z"
        );
    }
}
