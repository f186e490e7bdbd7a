//! What a test means on one stored value: how a value is read for its type,
//! the two-valued rules for missing values and negations, and every
//! comparison. Field tests, event properties, aggregates and first/last
//! occurrences all end here.

use std::borrow::Cow;

use pitcrew_core::record::{FieldDef, FieldType};
use serde_json::Value;

use crate::ast::{Literal, Test};
use crate::time::{Clock, TimeRange, canonical_instant};

use super::pattern;

/// How a value is read and compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// Text, email, phone, URL, picklist and country: JSON strings.
    Text,
    Number,
    Bool,
    /// `YYYY-MM-DD` strings.
    Date,
    /// Canonical RFC 3339 strings, compared as text.
    Datetime,
    /// `created_at` and `updated_at`: instants kept as milliseconds.
    Stamp,
    /// Multi-picklists: arrays of strings.
    Multi,
    /// Nothing to compare with (an event property under `exists`).
    Untyped,
}

impl Kind {
    pub(super) fn of_field(def: &FieldDef) -> Kind {
        match def.field_type {
            FieldType::Text
            | FieldType::Email
            | FieldType::Phone
            | FieldType::Url
            | FieldType::Picklist
            | FieldType::Country => Kind::Text,
            FieldType::Number => Kind::Number,
            FieldType::Boolean => Kind::Bool,
            FieldType::Date => Kind::Date,
            FieldType::Datetime if matches!(def.key.as_str(), "created_at" | "updated_at") => {
                Kind::Stamp
            }
            FieldType::Datetime => Kind::Datetime,
            FieldType::MultiPicklist => Kind::Multi,
        }
    }

    /// An event property has no declared type: the literal decides which
    /// JSON values can match.
    pub(super) fn of_test(test: &Test) -> Kind {
        match test {
            Test::Is { value }
            | Test::IsNot { value }
            | Test::Gt { value }
            | Test::Gte { value }
            | Test::Lt { value }
            | Test::Lte { value }
            | Test::Between { low: value, .. } => Kind::of_literal(value),
            Test::In { values } | Test::NotIn { values } => {
                values.first().map_or(Kind::Untyped, Kind::of_literal)
            }
            Test::Contains { .. }
            | Test::NotContains { .. }
            | Test::StartsWith { .. }
            | Test::EndsWith { .. }
            | Test::Matches { .. } => Kind::Text,
            Test::HasAny { .. } | Test::HasAll { .. } | Test::HasNone { .. } => Kind::Multi,
            Test::Exists
            | Test::IsEmpty
            | Test::WithinLast { .. }
            | Test::MoreThanAgo { .. }
            | Test::WithinNext { .. }
            | Test::AnniversaryWithinNext { .. } => Kind::Untyped,
        }
    }

    fn of_literal(literal: &Literal) -> Kind {
        match literal {
            Literal::Bool(_) => Kind::Bool,
            Literal::Number(_) => Kind::Number,
            Literal::Text(_) => Kind::Text,
        }
    }

    /// The kind of value it expects, for explanations.
    pub(super) fn noun(self) -> &'static str {
        match self {
            Kind::Text => "text",
            Kind::Number => "a number",
            Kind::Bool => "true or false",
            Kind::Date => "a date",
            Kind::Datetime | Kind::Stamp => "a date and time",
            Kind::Multi => "a list of choices",
            Kind::Untyped => "a value",
        }
    }
}

/// A stored value as its kind reads it.
#[derive(Debug, Clone)]
pub(super) enum Read<'a> {
    /// No key, JSON null, or an empty multi-picklist.
    Missing,
    /// Present, but not of the kind the test compares (never matches a
    /// positive test).
    Other,
    Value(Val<'a>),
}

#[derive(Debug, Clone)]
pub(super) enum Val<'a> {
    Text(&'a str),
    Number(f64),
    Bool(bool),
    Date(&'a str),
    Time(Time<'a>),
    Multi(&'a [Value]),
}

/// An instant as it is stored: canonical text in `data`, milliseconds in a
/// column or on an event.
#[derive(Debug, Clone, Copy)]
pub(super) enum Time<'a> {
    Text(&'a str),
    Ms(i64),
}

impl<'a> Time<'a> {
    /// Inclusive bounds; text is compared with the bounds' canonical text so
    /// that it orders exactly as the stored column does.
    fn within(self, low: Option<i64>, high: Option<i64>) -> bool {
        match self {
            Time::Ms(t) => low.is_none_or(|l| t >= l) && high.is_none_or(|h| t <= h),
            Time::Text(s) => {
                low.is_none_or(|l| s >= canonical_instant(l).as_str())
                    && high.is_none_or(|h| s <= canonical_instant(h).as_str())
            }
        }
    }

    /// The canonical text, for text tests and explanations.
    pub(super) fn text(self) -> Cow<'a, str> {
        match self {
            Time::Text(s) => Cow::Borrowed(s),
            Time::Ms(t) => Cow::Owned(canonical_instant(t)),
        }
    }
}

pub(super) fn read(kind: Kind, stored: Option<&Value>) -> Read<'_> {
    let Some(v) = stored.filter(|v| !v.is_null()) else {
        return Read::Missing;
    };
    let val = match (kind, v) {
        (Kind::Multi, Value::Array(items)) if items.is_empty() => return Read::Missing,
        (Kind::Multi, Value::Array(items)) => Val::Multi(items),
        (Kind::Text, Value::String(s)) => Val::Text(s),
        (Kind::Number, Value::Number(n)) => match n.as_f64() {
            Some(x) => Val::Number(x),
            None => return Read::Other,
        },
        (Kind::Bool, Value::Bool(b)) => Val::Bool(*b),
        (Kind::Date, Value::String(s)) => Val::Date(s),
        (Kind::Datetime, Value::String(s)) => Val::Time(Time::Text(s)),
        (Kind::Stamp, Value::String(s)) => match pitcrew_core::time::parse_instant(s) {
            Ok(ts) => Val::Time(Time::Ms(ts.as_millisecond())),
            Err(_) => return Read::Other,
        },
        _ => return Read::Other,
    };
    Read::Value(val)
}

/// Tests that are exactly the negation of a positive test.
pub(super) fn negates(test: &Test) -> bool {
    matches!(
        test,
        Test::IsNot { .. }
            | Test::NotContains { .. }
            | Test::NotIn { .. }
            | Test::HasNone { .. }
            | Test::IsEmpty
    )
}

/// Two-valued: a positive test is false without a value, and a negation is
/// the negation of its positive test.
pub(super) fn holds(read: &Read<'_>, test: &Test, clock: &Clock) -> bool {
    positive(read, test, clock) != negates(test)
}

/// A test on an aggregate (`None` when there was nothing to aggregate).
pub(super) fn holds_number(value: Option<f64>, test: &Test, clock: &Clock) -> bool {
    holds(&number_read(value), test, clock)
}

pub(super) fn number_read<'a>(value: Option<f64>) -> Read<'a> {
    value.map_or(Read::Missing, |x| Read::Value(Val::Number(x)))
}

/// A time test on an event time (`None` when the event never happened).
pub(super) fn holds_instant(at: Option<i64>, test: &Test, clock: &Clock) -> bool {
    holds(&instant_read(at), test, clock)
}

pub(super) fn instant_read<'a>(at: Option<i64>) -> Read<'a> {
    at.map_or(Read::Missing, |t| Read::Value(Val::Time(Time::Ms(t))))
}

/// The positive test behind `test` (`is` for `is not`, `exists` for
/// `is empty` …).
fn positive(read: &Read<'_>, test: &Test, clock: &Clock) -> bool {
    match test {
        Test::Exists | Test::IsEmpty => return !matches!(read, Read::Missing),
        // Every one of no values is chosen, whatever is stored.
        Test::HasAll { values } if values.is_empty() => return true,
        _ => {}
    }
    let Read::Value(val) = read else {
        return false;
    };
    match val {
        Val::Text(s) => on_text(s, test),
        Val::Number(x) => on_number(*x, test),
        Val::Bool(b) => on_bool(*b, test),
        Val::Date(s) => on_date(s, test, clock),
        Val::Time(t) => on_time(*t, test, clock),
        Val::Multi(items) => on_multi(items, test),
    }
}

fn text_literal(l: &Literal) -> Option<&str> {
    match l {
        Literal::Text(t) => Some(t),
        _ => None,
    }
}

fn on_text(s: &str, test: &Test) -> bool {
    let lit = text_literal;
    match test {
        Test::Is { value } | Test::IsNot { value } => lit(value) == Some(s),
        Test::In { values } | Test::NotIn { values } => values.iter().any(|l| lit(l) == Some(s)),
        Test::Contains { value } | Test::NotContains { value } => contains_ascii(s, value),
        Test::StartsWith { value } => starts_with_ascii(s, value),
        Test::EndsWith { value } => ends_with_ascii(s, value),
        Test::Matches { pattern } => pattern::is_match(pattern, s),
        Test::Gt { value } => lit(value).is_some_and(|l| s > l),
        Test::Gte { value } => lit(value).is_some_and(|l| s >= l),
        Test::Lt { value } => lit(value).is_some_and(|l| s < l),
        Test::Lte { value } => lit(value).is_some_and(|l| s <= l),
        Test::Between { low, high } => match (lit(low), lit(high)) {
            (Some(l), Some(h)) => l <= s && s <= h,
            _ => false,
        },
        _ => false,
    }
}

fn on_number(x: f64, test: &Test) -> bool {
    let lit = |l: &Literal| match l {
        Literal::Number(n) => Some(*n),
        _ => None,
    };
    match test {
        Test::Is { value } | Test::IsNot { value } => lit(value) == Some(x),
        Test::In { values } | Test::NotIn { values } => values.iter().any(|l| lit(l) == Some(x)),
        Test::Gt { value } => lit(value).is_some_and(|n| x > n),
        Test::Gte { value } => lit(value).is_some_and(|n| x >= n),
        Test::Lt { value } => lit(value).is_some_and(|n| x < n),
        Test::Lte { value } => lit(value).is_some_and(|n| x <= n),
        Test::Between { low, high } => match (lit(low), lit(high)) {
            (Some(l), Some(h)) => l <= x && x <= h,
            _ => false,
        },
        _ => false,
    }
}

fn on_bool(b: bool, test: &Test) -> bool {
    let is = |l: &Literal| matches!(l, Literal::Bool(v) if *v == b);
    match test {
        Test::Is { value } | Test::IsNot { value } => is(value),
        Test::In { values } | Test::NotIn { values } => values.iter().any(is),
        _ => false,
    }
}

/// Dates compare as `YYYY-MM-DD` text; relative tests resolve to dates in
/// the clock's time zone.
fn on_date(s: &str, test: &Test, clock: &Clock) -> bool {
    if !is_relative(test) {
        return on_text(s, test);
    }
    match clock.relative(test, true) {
        Some(TimeRange::Dates { low, high }) => {
            low.as_deref().is_none_or(|l| s >= l) && high.as_deref().is_none_or(|h| s <= h)
        }
        Some(TimeRange::MonthDays(days)) => days.contains(&month_day(s)),
        Some(TimeRange::Instants { .. }) | None => false,
    }
}

fn on_time(t: Time<'_>, test: &Test, clock: &Clock) -> bool {
    match test {
        Test::Is { .. }
        | Test::IsNot { .. }
        | Test::Gt { .. }
        | Test::Gte { .. }
        | Test::Lt { .. }
        | Test::Lte { .. }
        | Test::Between { .. } => clock
            .instant_range(test)
            .is_some_and(|(low, high)| t.within(low, high)),
        Test::In { values } | Test::NotIn { values } => values.iter().any(|l| {
            clock
                .instant_range(&Test::Is { value: l.clone() })
                .is_some_and(|(low, high)| t.within(low, high))
        }),
        Test::WithinLast { .. }
        | Test::MoreThanAgo { .. }
        | Test::WithinNext { .. }
        | Test::AnniversaryWithinNext { .. } => match clock.relative(test, false) {
            Some(TimeRange::Instants { low, high }) => t.within(low, high),
            Some(TimeRange::MonthDays(days)) => days.contains(&month_day(&t.text())),
            Some(TimeRange::Dates { .. }) | None => false,
        },
        _ => on_text(&t.text(), test),
    }
}

fn on_multi(items: &[Value], test: &Test) -> bool {
    let chosen = |v: &String| items.iter().any(|i| i.as_str() == Some(v.as_str()));
    match test {
        Test::HasAny { values } | Test::HasNone { values } => values.iter().any(chosen),
        Test::HasAll { values } => values.iter().all(chosen),
        _ => false,
    }
}

pub(super) fn is_relative(test: &Test) -> bool {
    matches!(
        test,
        Test::WithinLast { .. }
            | Test::MoreThanAgo { .. }
            | Test::WithinNext { .. }
            | Test::AnniversaryWithinNext { .. }
    )
}

/// The `MM-DD` part of a date or canonical instant (characters 6 to 10).
pub(super) fn month_day(s: &str) -> String {
    s.chars().skip(5).take(5).collect()
}

// ASCII-only case folding works byte by byte: it never touches the bytes of
// other characters, and a whole UTF-8 needle can only match on character
// boundaries.

fn contains_ascii(haystack: &str, needle: &str) -> bool {
    let (h, n) = (haystack.as_bytes(), needle.as_bytes());
    n.is_empty() || h.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n))
}

fn starts_with_ascii(haystack: &str, needle: &str) -> bool {
    let (h, n) = (haystack.as_bytes(), needle.as_bytes());
    h.len() >= n.len() && h[..n.len()].eq_ignore_ascii_case(n)
}

fn ends_with_ascii(haystack: &str, needle: &str) -> bool {
    let (h, n) = (haystack.as_bytes(), needle.as_bytes());
    h.len() >= n.len() && h[h.len() - n.len()..].eq_ignore_ascii_case(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_folding_leaves_other_letters_alone() {
        assert!(contains_ascii("Müller GmbH", "gmbh"));
        assert!(!contains_ascii("MÜLLER", "müller"));
        assert!(starts_with_ascii("Straße", "STRA"));
        assert!(ends_with_ascii("ACME.io", ".IO"));
        assert!(contains_ascii("anything", ""));
        assert!(!ends_with_ascii("a", "ab"));
    }

    #[test]
    fn month_day_is_the_sixth_to_tenth_character() {
        assert_eq!(month_day("1992-02-29"), "02-29");
        assert_eq!(month_day("2026-01-02T03:04:05.000Z"), "01-02");
        assert_eq!(month_day("abc"), "");
    }
}
