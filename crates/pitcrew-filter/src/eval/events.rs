//! Facts about a person's events: how many matched, an aggregate over a
//! property, the first or last time, and whether one event was (or was not)
//! followed by another. Explanations report the same facts the decision uses.

use std::collections::HashSet;

use crate::ast::{Aggregate, Occurrence};
use crate::schema::EventFact;

/// Inclusive window bounds; `None` is open.
pub(super) fn in_bounds(at: i64, (low, high): (Option<i64>, Option<i64>)) -> bool {
    low.is_none_or(|l| at >= l) && high.is_none_or(|h| at <= h)
}

pub(super) fn count<'e>(events: impl Iterator<Item = &'e EventFact>) -> u64 {
    u64::try_from(events.count()).unwrap_or(u64::MAX)
}

/// An aggregate and what it was computed from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Aggregated {
    /// `None` for an average, minimum or maximum of no numbers.
    pub value: Option<f64>,
    /// Matching events.
    pub events: u64,
    /// Values that took part (numbers; for a distinct count, numbers and
    /// strings).
    pub values: u64,
}

pub(super) fn aggregate<'e>(
    function: Aggregate,
    property: &str,
    events: impl Iterator<Item = &'e EventFact>,
) -> Aggregated {
    if function == Aggregate::DistinctCount {
        return distinct_count(property, events);
    }
    let (mut n, mut values, mut sum) = (0u64, 0u64, 0.0f64);
    let (mut min, mut max) = (None::<f64>, None::<f64>);
    for e in events {
        n += 1;
        let Some(x) = e.properties.get(property).and_then(number) else {
            continue;
        };
        values += 1;
        sum += x;
        min = Some(min.map_or(x, |m| m.min(x)));
        max = Some(max.map_or(x, |m| m.max(x)));
    }
    let value = match function {
        Aggregate::Sum => Some(sum),
        Aggregate::Average => (values > 0).then(|| sum / values as f64),
        Aggregate::Min => min,
        Aggregate::Max => max,
        Aggregate::DistinctCount => None,
    };
    Aggregated {
        value,
        events: n,
        values,
    }
}

/// Strings and numbers, never equal to each other; numbers compare by value,
/// so `1` and `1.0` are one value.
fn distinct_count<'e>(property: &str, events: impl Iterator<Item = &'e EventFact>) -> Aggregated {
    let mut numbers = HashSet::new();
    let mut strings = HashSet::new();
    let (mut n, mut values) = (0u64, 0u64);
    for e in events {
        n += 1;
        match e.properties.get(property) {
            Some(serde_json::Value::String(s)) => {
                strings.insert(s.as_str());
            }
            Some(v) => match number(v) {
                // Adding zero turns -0 into 0, which compare equal.
                Some(x) => {
                    numbers.insert((x + 0.0).to_bits());
                }
                None => continue,
            },
            None => continue,
        }
        values += 1;
    }
    Aggregated {
        value: Some((numbers.len() + strings.len()) as f64),
        events: n,
        values,
    }
}

fn number(v: &serde_json::Value) -> Option<f64> {
    v.as_number().and_then(serde_json::Number::as_f64)
}

/// The time of the first or last matching event.
pub(super) fn occurrence<'e>(
    which: Occurrence,
    events: impl Iterator<Item = &'e EventFact>,
) -> Option<i64> {
    let times = events.map(|e| e.at);
    match which {
        Occurrence::First => times.min(),
        Occurrence::Last => times.max(),
    }
}

/// What `did "A" then [not] "B" within …` found among the "A" events in the
/// window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) struct SequenceFacts {
    /// "A" events in the window.
    pub firsts: u64,
    /// Of those, followed by "B" in time; the first such pair.
    pub followed: u64,
    pub followed_example: Option<(i64, i64)>,
    /// Not followed, and the follow-up period is over; the first such "A".
    pub unfollowed: u64,
    pub unfollowed_example: Option<i64>,
    /// Not followed yet, but the follow-up period is still running.
    pub open: u64,
}

impl SequenceFacts {
    pub(super) fn holds(&self, negated: bool) -> bool {
        if negated {
            self.unfollowed > 0
        } else {
            self.followed > 0
        }
    }
}

/// "B" follows "A" when it is strictly later and at most `within` later.
pub(super) fn sequence(
    events: &[EventFact],
    first: &str,
    then: &str,
    within: i64,
    bounds: (Option<i64>, Option<i64>),
    now: i64,
) -> SequenceFacts {
    let mut thens: Vec<i64> = events
        .iter()
        .filter(|e| e.name == then)
        .map(|e| e.at)
        .collect();
    thens.sort_unstable();
    let mut facts = SequenceFacts::default();
    let firsts = events
        .iter()
        .filter(|e| e.name == first && in_bounds(e.at, bounds));
    for a in firsts {
        facts.firsts += 1;
        let end = a.at.saturating_add(within);
        let next = thens.partition_point(|&b| b <= a.at);
        match thens.get(next) {
            Some(&b) if b <= end => {
                facts.followed += 1;
                facts.followed_example.get_or_insert((a.at, b));
            }
            _ if end <= now => {
                facts.unfollowed += 1;
                facts.unfollowed_example.get_or_insert(a.at);
            }
            _ => facts.open += 1,
        }
    }
    facts
}
