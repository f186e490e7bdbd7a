//! The condition tree: one typed value that the text form, the JSON form, the
//! SQL compiler, the in-memory evaluator and explain all share.
//!
//! Spans record where a node came from in the text form. They are location
//! metadata, never meaning: two trees that differ only in spans are equal,
//! and spans are absent from the JSON form.

use serde::{Deserialize, Serialize};

/// Where a node sits in the text it was parsed from.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct Span {
    /// Byte offsets into the source, end exclusive.
    pub start: usize,
    pub end: usize,
    /// 1-based line and column (in characters) of `start`.
    pub line: u32,
    pub column: u32,
}

impl PartialEq for Span {
    /// Spans never take part in equality: see the module doc.
    fn eq(&self, _: &Span) -> bool {
        true
    }
}

/// Whom a segment selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Subject {
    People,
    Accounts,
}

impl Subject {
    pub fn as_str(self) -> &'static str {
        match self {
            Subject::People => "people",
            Subject::Accounts => "accounts",
        }
    }

    pub fn parse(s: &str) -> Option<Subject> {
        match s {
            "people" => Some(Subject::People),
            "accounts" => Some(Subject::Accounts),
            _ => None,
        }
    }
}

/// A whole audience definition: `people where …` or `accounts where …`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Segment {
    pub subject: Subject,
    #[serde(rename = "where")]
    pub condition: Condition,
}

/// One node of the tree.
///
/// Which nodes are allowed depends on the scope the checker is in: people
/// (contact fields, events, consent, `account where`, people segments),
/// accounts (account fields, member quantifiers, account segments) or an
/// event's properties (property tests and the grouping nodes only).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Condition {
    /// True when every child is true (true when there are none).
    All {
        of: Vec<Condition>,
        #[serde(skip)]
        span: Span,
    },
    /// True when at least one child is true (false when there are none).
    Any {
        of: Vec<Condition>,
        #[serde(skip)]
        span: Span,
    },
    /// True when no child is true.
    None {
        of: Vec<Condition>,
        #[serde(skip)]
        span: Span,
    },
    Not {
        condition: Box<Condition>,
        #[serde(skip)]
        span: Span,
    },
    /// A test on a field of the record in scope, or on an event property
    /// inside an event's `where`.
    Field {
        field: String,
        test: Test,
        #[serde(skip)]
        span: Span,
    },
    /// `did "Name" [count] [window] [where …]`; `did not` is `exactly 0 times`.
    Did {
        event: String,
        count: Count,
        window: Window,
        #[serde(default, rename = "where", skip_serializing_if = "Option::is_none")]
        filter: Option<Box<Condition>>,
        #[serde(skip)]
        span: Span,
    },
    /// `sum of amount in "Order Completed" [window] > 100 [where …]`.
    Aggregate {
        function: Aggregate,
        property: String,
        event: String,
        window: Window,
        test: Test,
        #[serde(default, rename = "where", skip_serializing_if = "Option::is_none")]
        filter: Option<Box<Condition>>,
        #[serde(skip)]
        span: Span,
    },
    /// `first "Signed Up" within last 30 days`, `last "Email Clicked" more
    /// than 30 days ago`. False for someone who never did the event.
    Occurrence {
        which: Occurrence,
        event: String,
        test: Test,
        #[serde(default, rename = "where", skip_serializing_if = "Option::is_none")]
        filter: Option<Box<Condition>>,
        #[serde(skip)]
        span: Span,
    },
    /// `did "A" then "B" within 1 day [window]` and `… then not "B" …`.
    /// The window applies to A. "Then" means strictly later. For `then not`,
    /// only an A whose follow-up period has fully passed by `now` counts.
    Sequence {
        first: String,
        then: String,
        negated: bool,
        within: Duration,
        window: Window,
        #[serde(skip)]
        span: Span,
    },
    /// `in segment "Employees"`; `not in segment` is `Not` of this.
    InSegment {
        segment: String,
        #[serde(skip)]
        span: Span,
    },
    /// `subscribed to "Newsletter" [via email]`, `unsubscribed from …`.
    /// Someone with no recorded choice for the topic is neither.
    Consent {
        state: ConsentState,
        topic: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        channel: Option<String>,
        #[serde(skip)]
        span: Span,
    },
    /// People only: `account where …` (false for people with no account).
    Account {
        condition: Box<Condition>,
        #[serde(skip)]
        span: Span,
    },
    /// Accounts only: `any member where …`, `all members where …` (true for
    /// an account with no members), `no member where …`.
    Members {
        quantifier: Quantifier,
        condition: Box<Condition>,
        #[serde(skip)]
        span: Span,
    },
}

impl Condition {
    pub fn span(&self) -> Span {
        match self {
            Condition::All { span, .. }
            | Condition::Any { span, .. }
            | Condition::None { span, .. }
            | Condition::Not { span, .. }
            | Condition::Field { span, .. }
            | Condition::Did { span, .. }
            | Condition::Aggregate { span, .. }
            | Condition::Occurrence { span, .. }
            | Condition::Sequence { span, .. }
            | Condition::InSegment { span, .. }
            | Condition::Consent { span, .. }
            | Condition::Account { span, .. }
            | Condition::Members { span, .. } => *span,
        }
    }
}

/// What a field or property is compared with.
///
/// Meaning, shared by every evaluator:
/// - A positive test (`is`, `contains`, `>` …) is false when the value is
///   missing; `is not`, `does not contain`, `not in` and `has none of` are
///   exactly the negation of their positive test, so they are true for a
///   missing value. `exists` is true when a value is present, `is empty`
///   when it is not.
/// - `contains`, `starts with` and `ends with` ignore the case of ASCII
///   letters (A–Z); `is` and `in` compare the stored, normalised value
///   exactly (the checker normalises literals the same way values are
///   normalised on the way in, so `country is "germany"` means `"DE"`).
/// - `matches` uses a bounded regular-expression subset that means the same
///   on every engine; `.` also matches a line break.
/// - Relative times are resolved from the explicit `now`; date fields use
///   the calendar day of `now` in the explicit time zone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Test {
    Is {
        value: Literal,
    },
    IsNot {
        value: Literal,
    },
    Contains {
        value: String,
    },
    NotContains {
        value: String,
    },
    StartsWith {
        value: String,
    },
    EndsWith {
        value: String,
    },
    Matches {
        pattern: String,
    },
    In {
        values: Vec<Literal>,
    },
    NotIn {
        values: Vec<Literal>,
    },
    Exists,
    IsEmpty,
    Gt {
        value: Literal,
    },
    Gte {
        value: Literal,
    },
    Lt {
        value: Literal,
    },
    Lte {
        value: Literal,
    },
    /// Inclusive at both ends.
    Between {
        low: Literal,
        high: Literal,
    },
    /// Date and datetime: from `now - amount` up to `now`.
    WithinLast {
        amount: Duration,
    },
    /// Date and datetime: before `now - amount`.
    MoreThanAgo {
        amount: Duration,
    },
    /// Date and datetime: from `now` up to `now + amount`.
    WithinNext {
        amount: Duration,
    },
    /// Date and datetime: the month and day fall within the next `days` days
    /// (today included); a 29 February counts on 28 February in other years.
    AnniversaryWithinNext {
        days: u32,
    },
    /// Multi-picklist: at least one of the values is chosen.
    HasAny {
        values: Vec<String>,
    },
    /// Multi-picklist: every one of the values is chosen.
    HasAll {
        values: Vec<String>,
    },
    /// Multi-picklist: none of the values is chosen.
    HasNone {
        values: Vec<String>,
    },
}

/// How close a sum or an average must come to a number to count as equal
/// to it, relative to the number (and absolute below 1).
pub const SUM_TOLERANCE: f64 = 1e-9;

impl Test {
    /// The test a sum or an average is put to, and whether its result is
    /// negated: sums of fractions such as 0.1 + 0.2 come out a hair off in
    /// binary floating point, and each engine adds in its own order, so
    /// comparisons allow [`SUM_TOLERANCE`]. `is 0.6` becomes `between
    /// 0.6 - ε and 0.6 + ε`; `is not` is its negation; `>` and `<` move
    /// their bound by ε away from the value. Every evaluator goes through
    /// here so they agree.
    pub fn tolerant(&self) -> (Test, bool) {
        let eps = |v: f64| SUM_TOLERANCE * v.abs().max(1.0);
        let num = |l: &Literal| match l {
            Literal::Number(n) => Some(*n),
            _ => None,
        };
        let lit = Literal::Number;
        let widened = |v: f64| Test::Between {
            low: lit(v - eps(v)),
            high: lit(v + eps(v)),
        };
        match self {
            Test::Is { value } => match num(value) {
                Some(v) => (widened(v), false),
                None => (self.clone(), false),
            },
            Test::IsNot { value } => match num(value) {
                Some(v) => (widened(v), true),
                None => (self.clone(), false),
            },
            Test::Gt { value } => match num(value) {
                Some(v) => (
                    Test::Gt {
                        value: lit(v + eps(v)),
                    },
                    false,
                ),
                None => (self.clone(), false),
            },
            Test::Gte { value } => match num(value) {
                Some(v) => (
                    Test::Gte {
                        value: lit(v - eps(v)),
                    },
                    false,
                ),
                None => (self.clone(), false),
            },
            Test::Lt { value } => match num(value) {
                Some(v) => (
                    Test::Lt {
                        value: lit(v - eps(v)),
                    },
                    false,
                ),
                None => (self.clone(), false),
            },
            Test::Lte { value } => match num(value) {
                Some(v) => (
                    Test::Lte {
                        value: lit(v + eps(v)),
                    },
                    false,
                ),
                None => (self.clone(), false),
            },
            Test::Between { low, high } => match (num(low), num(high)) {
                (Some(l), Some(h)) => (
                    Test::Between {
                        low: lit(l - eps(l)),
                        high: lit(h + eps(h)),
                    },
                    false,
                ),
                _ => (self.clone(), false),
            },
            _ => (self.clone(), false),
        }
    }
}

/// A literal value in a test.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Literal {
    Bool(bool),
    Number(f64),
    Text(String),
}

/// How many times an event must have happened in its window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub struct Count {
    pub op: CountOp,
    pub times: u32,
}

impl Count {
    /// `did "X"`: at least once.
    pub const ONCE: Count = Count {
        op: CountOp::AtLeast,
        times: 1,
    };
    /// `did not "X"`: exactly zero times.
    pub const NEVER: Count = Count {
        op: CountOp::Exactly,
        times: 0,
    };

    pub fn holds(self, n: u64) -> bool {
        let times = u64::from(self.times);
        match self.op {
            CountOp::AtLeast => n >= times,
            CountOp::AtMost => n <= times,
            CountOp::Exactly => n == times,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CountOp {
    AtLeast,
    AtMost,
    Exactly,
}

/// When events count. Dates are `YYYY-MM-DD` (whole days in the time zone)
/// or RFC 3339 instants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "window", rename_all = "snake_case", deny_unknown_fields)]
pub enum Window {
    Ever,
    /// From `now - amount` up to and including `now`.
    Last {
        amount: Duration,
    },
    /// Both ends included (a date `to` includes that whole day).
    Between {
        from: String,
        to: String,
    },
    /// From `from` onwards.
    Since {
        from: String,
    },
}

/// A length of time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Duration {
    pub amount: u32,
    pub unit: Unit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    Minutes,
    Hours,
    Days,
    Weeks,
}

impl Unit {
    pub fn millis(self) -> i64 {
        match self {
            Unit::Minutes => 60_000,
            Unit::Hours => 3_600_000,
            Unit::Days => 86_400_000,
            Unit::Weeks => 7 * 86_400_000,
        }
    }

    /// The word for `n` of this unit: `1 day`, `2 days`.
    pub fn word(self, n: u32) -> &'static str {
        match (self, n == 1) {
            (Unit::Minutes, true) => "minute",
            (Unit::Minutes, false) => "minutes",
            (Unit::Hours, true) => "hour",
            (Unit::Hours, false) => "hours",
            (Unit::Days, true) => "day",
            (Unit::Days, false) => "days",
            (Unit::Weeks, true) => "week",
            (Unit::Weeks, false) => "weeks",
        }
    }
}

impl Duration {
    pub fn millis(self) -> i64 {
        i64::from(self.amount) * self.unit.millis()
    }

    /// Whole calendar days, for date fields (minutes and hours round up).
    pub fn days(self) -> i64 {
        let ms = self.millis();
        (ms + 86_400_000 - 1) / 86_400_000
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Aggregate {
    Sum,
    Average,
    Min,
    Max,
    DistinctCount,
}

impl Aggregate {
    /// Sums and averages add floating-point numbers; see [`Test::tolerant`].
    pub fn is_tolerant(self) -> bool {
        matches!(self, Aggregate::Sum | Aggregate::Average)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Aggregate::Sum => "sum",
            Aggregate::Average => "average",
            Aggregate::Min => "min",
            Aggregate::Max => "max",
            Aggregate::DistinctCount => "distinct count",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Occurrence {
    First,
    Last,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsentState {
    Subscribed,
    Unsubscribed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Quantifier {
    Any,
    All,
    No,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn holds(test: &Test, x: f64) -> bool {
        let (t, negated) = test.tolerant();
        let n = |l: &Literal| match l {
            Literal::Number(n) => *n,
            _ => f64::NAN,
        };
        let v = match &t {
            Test::Between { low, high } => n(low) <= x && x <= n(high),
            Test::Gt { value } => x > n(value),
            Test::Lt { value } => x < n(value),
            _ => false,
        };
        v != negated
    }

    #[test]
    fn a_sum_of_fractions_equals_the_number_a_marketer_wrote() {
        let sum = 0.1 + 0.2 + 0.3; // 0.6000000000000001 in binary floating point
        let six_tenths = Literal::Number(0.6);
        assert!(holds(
            &Test::Is {
                value: six_tenths.clone()
            },
            sum
        ));
        assert!(!holds(
            &Test::IsNot {
                value: six_tenths.clone()
            },
            sum
        ));
        assert!(!holds(
            &Test::Gt {
                value: six_tenths.clone()
            },
            sum
        ));
        assert!(!holds(&Test::Lt { value: six_tenths }, 0.6 - 1e-17));
        assert!(holds(
            &Test::Gt {
                value: Literal::Number(0.6)
            },
            0.61
        ));
    }
}
