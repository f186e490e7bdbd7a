//! A workspace's vocabulary, a fixed clock and short constructors for trees,
//! so each SQL test reads as the condition it is about.

use pitcrew_core::record::{FieldDef, FieldType, ObjectKind, builtin};
use pitcrew_filter::ast::{
    Aggregate, Condition, ConsentState, Count, Duration, Literal, Occurrence, Quantifier, Segment,
    Span, Subject, Test, Unit, Window,
};
use pitcrew_filter::schema::{Schema, SegmentInfo};
use pitcrew_filter::time::Clock;

/// 2026-03-01T12:00:00.000Z
pub const NOW: i64 = 1_772_366_400_000;
pub const DAY: i64 = 86_400_000;

pub fn clock() -> Clock {
    Clock::utc(NOW)
}

fn custom(object: ObjectKind, key: &str, field_type: FieldType) -> FieldDef {
    FieldDef {
        object,
        key: key.into(),
        label: key.into(),
        field_type,
        required: false,
        default: None,
        options: Vec::new(),
        builtin: false,
        read_only: false,
    }
}

fn segment(id: i64, name: &str, subject: Subject, condition: Option<Condition>) -> SegmentInfo {
    SegmentInfo {
        id,
        name: name.into(),
        subject,
        definition: condition.map(|condition| Segment { subject, condition }),
    }
}

pub fn schema() -> Schema {
    let c = ObjectKind::Contact;
    let a = ObjectKind::Account;
    let mut contact_fields = builtin::contact_fields();
    contact_fields.extend([
        custom(c, "score", FieldType::Number),
        custom(c, "vip", FieldType::Boolean),
        custom(c, "birthday", FieldType::Date),
        custom(c, "trial_ends_at", FieldType::Datetime),
        custom(c, "interests", FieldType::MultiPicklist),
        custom(c, "nickname", FieldType::Text),
    ]);
    let mut account_fields = builtin::account_fields();
    account_fields.extend([
        custom(a, "tags", FieldType::MultiPicklist),
        custom(a, "renewal", FieldType::Date),
    ]);
    Schema {
        contact_fields,
        account_fields,
        events: Vec::new(),
        segments: vec![
            segment(7, "Employees", Subject::People, None),
            segment(8, "Key accounts", Subject::Accounts, None),
            segment(
                9,
                "Germans",
                Subject::People,
                Some(field("country", is(text("DE")))),
            ),
            segment(
                10,
                "German VIPs",
                Subject::People,
                Some(all(vec![
                    in_segment("Germans"),
                    field("vip", is(Literal::Bool(true))),
                ])),
            ),
            segment(
                11,
                "Big",
                Subject::Accounts,
                Some(field("employees", Test::Gt { value: num(100.0) })),
            ),
            segment(12, "Loop A", Subject::People, Some(in_segment("Loop B"))),
            segment(
                13,
                "Loop B",
                Subject::People,
                Some(not(in_segment("Loop A"))),
            ),
            segment(
                14,
                "Broken",
                Subject::People,
                Some(field("gone", Test::Exists)),
            ),
        ],
        topics: vec!["Newsletter".into()],
    }
}

pub fn people(condition: Condition) -> Segment {
    Segment {
        subject: Subject::People,
        condition,
    }
}

pub fn accounts(condition: Condition) -> Segment {
    Segment {
        subject: Subject::Accounts,
        condition,
    }
}

pub fn text(s: &str) -> Literal {
    Literal::Text(s.into())
}

pub fn num(n: f64) -> Literal {
    Literal::Number(n)
}

pub fn is(value: Literal) -> Test {
    Test::Is { value }
}

pub fn days(amount: u32) -> Duration {
    Duration {
        amount,
        unit: Unit::Days,
    }
}

pub fn last_days(amount: u32) -> Window {
    Window::Last {
        amount: days(amount),
    }
}

pub fn field(key: &str, test: Test) -> Condition {
    Condition::Field {
        field: key.into(),
        test,
        span: Span::default(),
    }
}

pub fn all(of: Vec<Condition>) -> Condition {
    Condition::All {
        of,
        span: Span::default(),
    }
}

pub fn any(of: Vec<Condition>) -> Condition {
    Condition::Any {
        of,
        span: Span::default(),
    }
}

pub fn none(of: Vec<Condition>) -> Condition {
    Condition::None {
        of,
        span: Span::default(),
    }
}

pub fn not(condition: Condition) -> Condition {
    Condition::Not {
        condition: Box::new(condition),
        span: Span::default(),
    }
}

pub fn did(event: &str, count: Count, window: Window, filter: Option<Condition>) -> Condition {
    Condition::Did {
        event: event.into(),
        count,
        window,
        filter: filter.map(Box::new),
        span: Span::default(),
    }
}

pub fn aggregate(function: Aggregate, property: &str, event: &str, test: Test) -> Condition {
    Condition::Aggregate {
        function,
        property: property.into(),
        event: event.into(),
        window: Window::Ever,
        test,
        filter: None,
        span: Span::default(),
    }
}

pub fn occurrence(which: Occurrence, event: &str, test: Test) -> Condition {
    Condition::Occurrence {
        which,
        event: event.into(),
        test,
        filter: None,
        span: Span::default(),
    }
}

pub fn sequence(
    first: &str,
    then: &str,
    negated: bool,
    within: Duration,
    window: Window,
) -> Condition {
    Condition::Sequence {
        first: first.into(),
        then: then.into(),
        negated,
        within,
        window,
        span: Span::default(),
    }
}

pub fn in_segment(name: &str) -> Condition {
    Condition::InSegment {
        segment: name.into(),
        span: Span::default(),
    }
}

pub fn subscribed(topic: &str, channel: Option<&str>) -> Condition {
    consent(ConsentState::Subscribed, topic, channel)
}

pub fn consent(state: ConsentState, topic: &str, channel: Option<&str>) -> Condition {
    Condition::Consent {
        state,
        topic: topic.into(),
        channel: channel.map(Into::into),
        span: Span::default(),
    }
}

pub fn account(condition: Condition) -> Condition {
    Condition::Account {
        condition: Box::new(condition),
        span: Span::default(),
    }
}

pub fn members_where(quantifier: Quantifier, condition: Condition) -> Condition {
    Condition::Members {
        quantifier,
        condition: Box::new(condition),
        span: Span::default(),
    }
}
