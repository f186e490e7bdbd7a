//! The in-memory evaluator and explanations.
//!
//! Every check goes through `holds`, which also explains the same tree and
//! requires each node of the explanation to carry the value the fast path
//! computes for that node.

use std::collections::BTreeSet;

use pitcrew_core::record::{FieldDef, FieldType, ObjectKind, builtin};
use pitcrew_filter::ast::{Condition, Segment, Subject};
use pitcrew_filter::eval::{Explanation, Facts, explain, matches};
use pitcrew_filter::schema::{ConsentFact, EventFact, Organisation, Person, Schema, SegmentInfo};
use pitcrew_filter::time::{Clock, zone};
use proptest::prelude::*;
use serde_json::{Value, json};

/// 2026-03-01T12:00:00.000Z
const NOW: i64 = 1_772_366_400_000;
const MINUTE: i64 = 60_000;
const HOUR: i64 = 3_600_000;
const DAY: i64 = 86_400_000;

// ---------------------------------------------------------------- fixtures

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

fn schema() -> Schema {
    use FieldType::*;
    use ObjectKind::{Account, Contact};
    let mut contact_fields = builtin::contact_fields();
    contact_fields.extend([
        custom(Contact, "score", Number),
        custom(Contact, "vip", Boolean),
        custom(Contact, "birthday", Date),
        custom(Contact, "last_login", Datetime),
        custom(Contact, "interests", MultiPicklist),
    ]);
    let mut account_fields = builtin::account_fields();
    account_fields.push(custom(Account, "tier", Picklist));
    let segment = |id, name: &str, subject, definition: Option<Value>| SegmentInfo {
        id,
        name: name.into(),
        subject,
        definition: definition.map(|c| Segment {
            subject,
            condition: cond(c),
        }),
    };
    Schema {
        contact_fields,
        account_fields,
        events: Vec::new(),
        segments: vec![
            segment(1, "Employees", Subject::People, None),
            segment(
                2,
                "Germans",
                Subject::People,
                Some(field("country", json!({"op": "is", "value": "DE"}))),
            ),
            segment(3, "Key accounts", Subject::Accounts, None),
            segment(
                4,
                "Loop",
                Subject::People,
                Some(json!({"kind": "in_segment", "segment": "Loop"})),
            ),
            segment(
                5,
                "Big",
                Subject::Accounts,
                Some(field("employees", json!({"op": "gt", "value": 1000}))),
            ),
        ],
        topics: vec!["Newsletter".into(), "Product news".into()],
    }
}

fn utc() -> Clock {
    Clock::utc(NOW)
}

fn berlin() -> Clock {
    Clock::new(NOW, zone("Europe/Berlin").expect("zone"))
}

/// A clock at the given instant, in UTC.
fn at(instant: &str) -> Clock {
    Clock::utc(ms(instant))
}

fn ms(instant: &str) -> i64 {
    pitcrew_core::time::parse_instant(instant)
        .expect("instant")
        .as_millisecond()
}

fn cond(v: Value) -> Condition {
    serde_json::from_value(v).expect("condition in JSON form")
}

fn field(key: &str, test: Value) -> Value {
    json!({"kind": "field", "field": key, "test": test})
}

fn person(fields: Value) -> Person {
    Person {
        id: 7,
        fields: fields.as_object().cloned().unwrap_or_default(),
        ..Person::default()
    }
}

fn org(id: i64, fields: Value, members: Vec<Person>) -> Organisation {
    Organisation {
        id,
        fields: fields.as_object().cloned().unwrap_or_default(),
        members,
        lists: BTreeSet::new(),
    }
}

fn event(name: &str, at: i64, properties: Value) -> EventFact {
    EventFact {
        name: name.into(),
        at,
        properties: properties.as_object().cloned().unwrap_or_default(),
    }
}

fn with_events(mut p: Person, events: Vec<EventFact>) -> Person {
    p.events = events;
    p
}

fn consent(topic: &str, channel: &str, subscribed: bool) -> ConsentFact {
    ConsentFact {
        topic: topic.into(),
        channel: channel.into(),
        subscribed,
    }
}

// ------------------------------------------------------------- evaluation

/// Membership by the fast path, after checking the explanation agrees.
fn holds_with(clock: &Clock, subject: Subject, facts: Facts<'_>, c: Value) -> bool {
    let schema = schema();
    let segment = Segment {
        subject,
        condition: cond(c),
    };
    let fast = matches(&segment, &schema, clock, facts);
    let told = explain(&segment, &schema, clock, facts);
    assert_agrees(&schema, clock, subject, facts, &segment.condition, &told);
    fast
}

fn holds(p: &Person, c: Value) -> bool {
    holds_with(&utc(), Subject::People, Facts::Person(p), c)
}

fn holds_at(clock: &Clock, p: &Person, c: Value) -> bool {
    holds_with(clock, Subject::People, Facts::Person(p), c)
}

fn account_holds(o: &Organisation, c: Value) -> bool {
    holds_with(&utc(), Subject::Accounts, Facts::Account(o), c)
}

fn explained(p: &Person, c: Value) -> Explanation {
    explain(
        &Segment {
            subject: Subject::People,
            condition: cond(c),
        },
        &schema(),
        &utc(),
        Facts::Person(p),
    )
}

/// Every node of the explanation has the value `matches` gives that node
/// on the record it applies to.
fn assert_agrees(
    schema: &Schema,
    clock: &Clock,
    subject: Subject,
    facts: Facts<'_>,
    c: &Condition,
    told: &Explanation,
) {
    let alone = Segment {
        subject,
        condition: c.clone(),
    };
    assert_eq!(
        matches(&alone, schema, clock, facts),
        told.value,
        "explain disagrees on `{}` ({})",
        told.condition,
        told.reason
    );
    assert!(
        !told.reason.is_empty(),
        "no reason for `{}`",
        told.condition
    );
    match c {
        Condition::All { of, .. } | Condition::Any { of, .. } | Condition::None { of, .. } => {
            assert_eq!(of.len(), told.children.len());
            for (child, t) in of.iter().zip(&told.children) {
                assert_agrees(schema, clock, subject, facts, child, t);
            }
        }
        Condition::Not { condition, .. } => {
            assert_agrees(schema, clock, subject, facts, condition, &told.children[0]);
        }
        Condition::Account { condition, .. } => {
            if let Facts::Person(p) = facts
                && let Some(o) = p.account.as_deref()
            {
                let (s, f) = (Subject::Accounts, Facts::Account(o));
                assert_agrees(schema, clock, s, f, condition, &told.children[0]);
            }
        }
        Condition::Members { condition, .. } => {
            if let Facts::Account(o) = facts {
                assert_eq!(o.members.len(), told.children.len());
                for (m, t) in o.members.iter().zip(&told.children) {
                    let (s, f) = (Subject::People, Facts::Person(m));
                    assert_agrees(schema, clock, s, f, condition, t);
                }
            }
        }
        Condition::InSegment { segment, .. } => {
            let def = schema.segment(segment).and_then(|s| s.definition.as_ref());
            if let (Some(def), [t]) = (def, told.children.as_slice()) {
                assert_agrees(schema, clock, subject, facts, &def.condition, t);
            }
        }
        _ => assert!(told.children.is_empty()),
    }
}

// ------------------------------------------------------------ field tests

#[test]
fn text_is_compares_the_stored_value_exactly() {
    let p = person(json!({"company": "Acme"}));
    assert!(holds(
        &p,
        field("company", json!({"op": "is", "value": "Acme"}))
    ));
    assert!(!holds(
        &p,
        field("company", json!({"op": "is", "value": "acme"}))
    ));
    assert!(holds(
        &p,
        field("company", json!({"op": "is_not", "value": "acme"}))
    ));
}

#[test]
fn a_missing_value_makes_positive_tests_false_and_their_negations_true() {
    for p in [person(json!({})), person(json!({"lifecycle_stage": null}))] {
        let pairs = [
            (
                json!({"op": "is", "value": "customer"}),
                json!({"op": "is_not", "value": "customer"}),
            ),
            (
                json!({"op": "in", "values": ["lead"]}),
                json!({"op": "not_in", "values": ["lead"]}),
            ),
            (
                json!({"op": "contains", "value": "c"}),
                json!({"op": "not_contains", "value": "c"}),
            ),
            (json!({"op": "exists"}), json!({"op": "is_empty"})),
        ];
        for (positive, negation) in pairs {
            assert!(!holds(&p, field("lifecycle_stage", positive)));
            assert!(holds(&p, field("lifecycle_stage", negation)));
        }
        assert!(!holds(
            &p,
            field("lifecycle_stage", json!({"op": "starts_with", "value": ""}))
        ));
        assert!(!holds(
            &p,
            field("lifecycle_stage", json!({"op": "matches", "pattern": ".*"}))
        ));
    }
}

#[test]
fn an_empty_string_is_a_value() {
    let p = person(json!({"company": ""}));
    assert!(holds(&p, field("company", json!({"op": "exists"}))));
    assert!(holds(
        &p,
        field("company", json!({"op": "contains", "value": ""}))
    ));
}

#[test]
fn contains_ignores_the_case_of_ascii_letters_only() {
    let p = person(json!({"job_title": "Head of ÄRGER"}));
    let test = |op: &str, v: &str| holds(&p, field("job_title", json!({"op": op, "value": v})));
    assert!(test("contains", "HEAD OF"));
    assert!(test("contains", "of Ä"));
    assert!(!test("contains", "ärger"));
    assert!(test("not_contains", "ärger"));
    assert!(test("starts_with", "head"));
    assert!(test("ends_with", "ÄRger"));
    assert!(!test("ends_with", "ärger"));
}

#[test]
fn contains_takes_percent_and_underscore_literally() {
    let p = person(json!({"company": "50% off_now"}));
    let test = |v: &str| holds(&p, field("company", json!({"op": "contains", "value": v})));
    assert!(test("0% O"));
    assert!(test("_"));
    assert!(!test("5_"));
    assert!(!test("%%"));
}

#[test]
fn matches_searches_anywhere_and_dot_matches_a_line_break() {
    let p = person(json!({"job_title": "Chief\nMarketing Officer"}));
    let test = |pat: &str| {
        holds(
            &p,
            field("job_title", json!({"op": "matches", "pattern": pat})),
        )
    };
    assert!(test("Marketing"));
    assert!(test("Chief.Marketing"));
    assert!(test("^Chief"));
    assert!(!test("^Marketing"));
    assert!(!test("chief"));
}

#[test]
fn a_pattern_that_does_not_compile_matches_nothing() {
    let p = person(json!({"job_title": "(("}));
    assert!(!holds(
        &p,
        field("job_title", json!({"op": "matches", "pattern": "(("}))
    ));
    let told = explained(
        &p,
        field("job_title", json!({"op": "matches", "pattern": "(("})),
    );
    assert!(
        told.reason.contains("not a valid pattern"),
        "{}",
        told.reason
    );
}

#[test]
fn in_needs_one_of_the_exact_values() {
    let p = person(json!({"country": "FR"}));
    let de_at_ch = json!(["DE", "AT", "CH"]);
    assert!(!holds(
        &p,
        field("country", json!({"op": "in", "values": de_at_ch}))
    ));
    assert!(holds(
        &p,
        field("country", json!({"op": "not_in", "values": de_at_ch}))
    ));
    assert!(holds(
        &p,
        field("country", json!({"op": "in", "values": ["AT", "FR"]}))
    ));
    assert!(!holds(
        &p,
        field("country", json!({"op": "in", "values": []}))
    ));
}

#[test]
fn numbers_compare_numerically() {
    let p = person(json!({"score": 10}));
    let test = |t: Value| holds(&p, field("score", t));
    assert!(test(json!({"op": "is", "value": 10.0})));
    assert!(test(json!({"op": "in", "values": [3, 10]})));
    assert!(test(json!({"op": "gt", "value": 9.5})));
    assert!(!test(json!({"op": "gt", "value": 10})));
    assert!(test(json!({"op": "gte", "value": 10})));
    assert!(test(json!({"op": "lt", "value": 10.5})));
    assert!(test(json!({"op": "lte", "value": 10})));
    assert!(test(json!({"op": "between", "low": 10, "high": 10})));
    assert!(!test(json!({"op": "between", "low": 11, "high": 20})));
}

#[test]
fn a_number_stored_as_text_is_not_a_number() {
    let p = person(json!({"score": "10"}));
    assert!(!holds(&p, field("score", json!({"op": "is", "value": 10}))));
    assert!(holds(
        &p,
        field("score", json!({"op": "is_not", "value": 10}))
    ));
    assert!(holds(&p, field("score", json!({"op": "exists"}))));
    let told = explained(&p, field("score", json!({"op": "gt", "value": 1})));
    assert_eq!(told.reason, r#"score is "10", which is not a number"#);
}

#[test]
fn booleans_compare_by_equality() {
    let yes = person(json!({"vip": true}));
    let none = person(json!({}));
    assert!(holds(
        &yes,
        field("vip", json!({"op": "is", "value": true}))
    ));
    assert!(!holds(
        &yes,
        field("vip", json!({"op": "is", "value": false}))
    ));
    assert!(!holds(
        &none,
        field("vip", json!({"op": "is", "value": false}))
    ));
    assert!(holds(
        &none,
        field("vip", json!({"op": "is_not", "value": true}))
    ));
}

#[test]
fn dates_compare_as_calendar_text() {
    let p = person(json!({"birthday": "1990-05-17"}));
    let test = |t: Value| holds(&p, field("birthday", t));
    assert!(test(json!({"op": "is", "value": "1990-05-17"})));
    assert!(test(json!({"op": "gt", "value": "1990-05-16"})));
    assert!(!test(json!({"op": "gt", "value": "1990-05-17"})));
    assert!(test(json!({"op": "lte", "value": "1990-05-17"})));
    assert!(test(
        json!({"op": "between", "low": "1990-01-01", "high": "1990-05-17"})
    ));
}

#[test]
fn a_date_within_last_counts_whole_days_in_the_clock_time_zone() {
    // 2026-03-01 in UTC; the first day in range is 2026-01-30.
    let within = json!({"op": "within_last", "amount": {"amount": 30, "unit": "days"}});
    let first_day = person(json!({"birthday": "2026-01-30"}));
    let day_before = person(json!({"birthday": "2026-01-29"}));
    assert!(holds(&first_day, field("birthday", within.clone())));
    assert!(!holds(&day_before, field("birthday", within.clone())));
    // At 23:30 UTC it is already 2 March in Berlin.
    let late = Clock::new(
        ms("2026-03-01T23:30:00Z"),
        zone("Europe/Berlin").expect("zone"),
    );
    let today_berlin = person(json!({"birthday": "2026-03-02"}));
    assert!(holds_at(
        &late,
        &today_berlin,
        field("birthday", within.clone())
    ));
    assert!(!holds_at(
        &at("2026-03-01T23:30:00Z"),
        &today_berlin,
        field("birthday", within)
    ));
}

#[test]
fn a_date_more_than_ago_excludes_the_boundary_day() {
    let ago = json!({"op": "more_than_ago", "amount": {"amount": 10, "unit": "days"}});
    assert!(!holds(
        &person(json!({"birthday": "2026-02-19"})),
        field("birthday", ago.clone())
    ));
    assert!(holds(
        &person(json!({"birthday": "2026-02-18"})),
        field("birthday", ago)
    ));
}

#[test]
fn a_29_february_anniversary_falls_on_28_february_in_common_years() {
    let leapling = person(json!({"birthday": "1992-02-29"}));
    let today_only = field(
        "birthday",
        json!({"op": "anniversary_within_next", "days": 0}),
    );
    assert!(holds_at(
        &at("2026-02-28T08:00:00Z"),
        &leapling,
        today_only.clone()
    ));
    assert!(!holds_at(
        &at("2026-02-27T08:00:00Z"),
        &leapling,
        today_only.clone()
    ));
    // In a leap year it falls on the day itself.
    assert!(!holds_at(
        &at("2028-02-28T08:00:00Z"),
        &leapling,
        today_only.clone()
    ));
    assert!(holds_at(&at("2028-02-29T08:00:00Z"), &leapling, today_only));
}

#[test]
fn an_anniversary_window_runs_across_the_new_year() {
    let p = person(json!({"birthday": "1980-01-02"}));
    let next = |days: u32| {
        field(
            "birthday",
            json!({"op": "anniversary_within_next", "days": days}),
        )
    };
    assert!(holds_at(&at("2026-12-30T12:00:00Z"), &p, next(3)));
    assert!(!holds_at(&at("2026-12-30T12:00:00Z"), &p, next(2)));
}

#[test]
fn a_datetime_anniversary_uses_the_stored_month_and_day() {
    let p = person(json!({"last_login": "2020-03-03T22:00:00.000Z"}));
    let next = |days: u32| {
        field(
            "last_login",
            json!({"op": "anniversary_within_next", "days": days}),
        )
    };
    assert!(holds(&p, next(2)));
    assert!(!holds(&p, next(1)));
}

#[test]
fn a_datetime_is_a_date_means_that_whole_day_in_the_clock_time_zone() {
    let p = person(json!({"last_login": "2026-01-31T23:30:00.000Z"}));
    let is_feb_1 = field("last_login", json!({"op": "is", "value": "2026-02-01"}));
    assert!(holds_at(&berlin(), &p, is_feb_1.clone()));
    assert!(!holds_at(&utc(), &p, is_feb_1.clone()));
    let is_not = field("last_login", json!({"op": "is_not", "value": "2026-02-01"}));
    assert!(holds_at(&utc(), &p, is_not.clone()));
    assert!(holds_at(&utc(), &person(json!({})), is_not));
}

#[test]
fn a_datetime_after_a_date_starts_the_next_day() {
    let test = |v: &str, t: Value| holds(&person(json!({"last_login": v})), field("last_login", t));
    let after = json!({"op": "gt", "value": "2026-02-01"});
    assert!(!test("2026-02-01T23:59:59.999Z", after.clone()));
    assert!(test("2026-02-02T00:00:00.000Z", after));
    let on_or_before = json!({"op": "lte", "value": "2026-02-01"});
    assert!(test("2026-02-01T23:59:59.999Z", on_or_before.clone()));
    let instant = json!({"op": "gte", "value": "2026-02-01T10:00:00.000Z"});
    assert!(test("2026-02-01T10:00:00.000Z", instant.clone()));
    assert!(!test("2026-02-01T09:59:59.999Z", instant));
}

#[test]
fn a_datetime_within_last_includes_the_exact_boundary_instant() {
    let within = field(
        "last_login",
        json!({"op": "within_last", "amount": {"amount": 30, "unit": "days"}}),
    );
    let edge = pitcrew_filter::time::canonical_instant(NOW - 30 * DAY);
    let just_before = pitcrew_filter::time::canonical_instant(NOW - 30 * DAY - 1);
    let just_after_now = pitcrew_filter::time::canonical_instant(NOW + 1);
    assert!(holds(&person(json!({"last_login": edge})), within.clone()));
    assert!(!holds(
        &person(json!({"last_login": just_before})),
        within.clone()
    ));
    assert!(!holds(
        &person(json!({"last_login": just_after_now})),
        within.clone()
    ));
    let next = field(
        "last_login",
        json!({"op": "within_next", "amount": {"amount": 2, "unit": "hours"}}),
    );
    let soon = pitcrew_filter::time::canonical_instant(NOW + 2 * HOUR);
    assert!(holds(&person(json!({"last_login": soon})), next));
}

#[test]
fn created_at_is_compared_as_an_instant() {
    let p = person(json!({"created_at": "2026-02-01T00:00:00.000Z"}));
    let within = |days: u32| {
        field(
            "created_at",
            json!({"op": "within_last", "amount": {"amount": days, "unit": "days"}}),
        )
    };
    assert!(holds(&p, within(29)));
    assert!(!holds(&p, within(28)));
    assert!(holds(
        &p,
        field("created_at", json!({"op": "is", "value": "2026-02-01"}))
    ));
    assert!(holds(
        &p,
        field("created_at", json!({"op": "lt", "value": "2026-02-02"}))
    ));
}

#[test]
fn a_multi_picklist_has_any_all_or_none_of_the_values() {
    let p = person(json!({"interests": ["golf", "wine"]}));
    let test = |op: &str, values: Value| {
        holds(&p, field("interests", json!({"op": op, "values": values})))
    };
    assert!(test("has_any", json!(["wine", "cars"])));
    assert!(!test("has_any", json!(["cars"])));
    assert!(test("has_all", json!(["wine", "golf"])));
    assert!(!test("has_all", json!(["wine", "cars"])));
    assert!(test("has_none", json!(["cars"])));
    assert!(!test("has_none", json!(["golf"])));
}

#[test]
fn an_empty_multi_picklist_is_no_value() {
    let p = person(json!({"interests": []}));
    assert!(!holds(&p, field("interests", json!({"op": "exists"}))));
    assert!(holds(&p, field("interests", json!({"op": "is_empty"}))));
    assert!(!holds(
        &p,
        field("interests", json!({"op": "has_any", "values": ["golf"]}))
    ));
    assert!(holds(
        &p,
        field("interests", json!({"op": "has_none", "values": ["golf"]}))
    ));
}

#[test]
fn has_all_of_no_values_is_true_and_has_any_of_no_values_is_false() {
    for p in [person(json!({"interests": ["golf"]})), person(json!({}))] {
        assert!(holds(
            &p,
            field("interests", json!({"op": "has_all", "values": []}))
        ));
        assert!(!holds(
            &p,
            field("interests", json!({"op": "has_any", "values": []}))
        ));
        assert!(holds(
            &p,
            field("interests", json!({"op": "has_none", "values": []}))
        ));
    }
}

#[test]
fn a_multi_picklist_matches_only_string_choices() {
    let p = person(json!({"interests": [1, "1"]}));
    assert!(holds(
        &p,
        field("interests", json!({"op": "has_any", "values": ["1"]}))
    ));
    let q = person(json!({"interests": [1]}));
    assert!(!holds(
        &q,
        field("interests", json!({"op": "has_any", "values": ["1"]}))
    ));
}

// ----------------------------------------------------------- group nodes

#[test]
fn all_of_nothing_is_true_and_any_of_nothing_is_false() {
    let p = person(json!({}));
    assert!(holds(&p, json!({"kind": "all", "of": []})));
    assert!(!holds(&p, json!({"kind": "any", "of": []})));
    assert!(holds(&p, json!({"kind": "none", "of": []})));
}

#[test]
fn none_is_true_when_no_child_is_true_and_not_negates() {
    let p = person(json!({"country": "DE"}));
    let de = field("country", json!({"op": "is", "value": "DE"}));
    let fr = field("country", json!({"op": "is", "value": "FR"}));
    assert!(holds(&p, json!({"kind": "none", "of": [fr.clone()]})));
    assert!(!holds(
        &p,
        json!({"kind": "none", "of": [fr.clone(), de.clone()]})
    ));
    assert!(holds(
        &p,
        json!({"kind": "all", "of": [de.clone(), {"kind": "not", "condition": fr}]})
    ));
    assert!(!holds(&p, json!({"kind": "not", "condition": de})));
}

// ---------------------------------------------------------------- events

fn did(event: &str, count: Value, window: Value) -> Value {
    json!({"kind": "did", "event": event, "count": count, "window": window})
}

fn last_days(n: u32) -> Value {
    json!({"window": "last", "amount": {"amount": n, "unit": "days"}})
}

fn ever() -> Value {
    json!({"window": "ever"})
}

fn at_least(n: u32) -> Value {
    json!({"op": "at_least", "times": n})
}

#[test]
fn did_counts_the_events_in_the_window() {
    let p = with_events(
        person(json!({})),
        vec![
            event("Webinar Attended", NOW - 10 * DAY, json!({})),
            event("Webinar Attended", NOW - 100 * DAY, json!({})),
            event("Page Viewed", NOW - DAY, json!({})),
        ],
    );
    assert!(!holds(
        &p,
        did("Webinar Attended", at_least(2), last_days(90))
    ));
    assert!(holds(&p, did("Webinar Attended", at_least(2), ever())));
    assert!(holds(
        &p,
        did(
            "Webinar Attended",
            json!({"op": "exactly", "times": 1}),
            last_days(90)
        )
    ));
    assert!(holds(
        &p,
        did(
            "Webinar Attended",
            json!({"op": "at_most", "times": 1}),
            last_days(90)
        )
    ));
    assert!(!holds(&p, did("webinar attended", at_least(1), ever())));
}

#[test]
fn did_not_means_exactly_zero_times() {
    let never = json!({"op": "exactly", "times": 0});
    let p = with_events(
        person(json!({})),
        vec![event("Email Bounced", NOW - 40 * DAY, json!({}))],
    );
    assert!(holds(
        &p,
        did("Email Bounced", never.clone(), last_days(30))
    ));
    assert!(!holds(
        &p,
        did("Email Bounced", never.clone(), last_days(40))
    ));
    assert!(holds(
        &person(json!({})),
        did("Email Bounced", never, ever())
    ));
}

#[test]
fn a_last_window_includes_both_boundary_instants() {
    let p = |at: i64| with_events(person(json!({})), vec![event("Visit", at, json!({}))]);
    let once = |at: i64| holds(&p(at), did("Visit", at_least(1), last_days(90)));
    assert!(once(NOW - 90 * DAY));
    assert!(once(NOW));
    assert!(!once(NOW - 90 * DAY - 1));
    assert!(!once(NOW + 1));
}

#[test]
fn a_between_window_of_dates_covers_whole_days_in_the_clock_time_zone() {
    let window = json!({"window": "between", "from": "2026-01-01", "to": "2026-01-31"});
    let p = |at: &str| with_events(person(json!({})), vec![event("Visit", ms(at), json!({}))]);
    let once = |at: &str| holds_at(&berlin(), &p(at), did("Visit", at_least(1), window.clone()));
    assert!(once("2025-12-31T23:00:00.000Z"));
    assert!(!once("2025-12-31T22:59:59.999Z"));
    assert!(once("2026-01-31T22:59:59.999Z"));
    assert!(!once("2026-01-31T23:00:00.000Z"));
}

#[test]
fn a_since_window_is_open_ended() {
    let window = json!({"window": "since", "from": "2026-02-01T00:00:00Z"});
    let p = with_events(
        person(json!({})),
        vec![
            event("Visit", ms("2026-02-01T00:00:00Z"), json!({})),
            event("Visit", NOW + 365 * DAY, json!({})),
            event("Visit", ms("2026-01-31T23:59:59.999Z"), json!({})),
        ],
    );
    assert!(holds(
        &p,
        did("Visit", json!({"op": "exactly", "times": 2}), window)
    ));
}

#[test]
fn huge_counts_do_not_overflow() {
    let p = with_events(person(json!({})), vec![event("Visit", NOW, json!({}))]);
    assert!(!holds(&p, did("Visit", at_least(u32::MAX), ever())));
    assert!(holds(
        &p,
        did("Visit", json!({"op": "at_most", "times": u32::MAX}), ever())
    ));
}

fn did_where(event: &str, filter: Value) -> Value {
    json!({"kind": "did", "event": event, "count": at_least(1), "window": ever(), "where": filter})
}

#[test]
fn did_where_counts_only_events_whose_properties_match() {
    let p = with_events(
        person(json!({})),
        vec![
            event(
                "Order Completed",
                NOW - DAY,
                json!({"amount": 80, "plan": "pro"}),
            ),
            event("Order Completed", NOW - 2 * DAY, json!({"amount": 120})),
        ],
    );
    let big = field("amount", json!({"op": "gt", "value": 100}));
    let two_big = json!({"kind": "did", "event": "Order Completed", "count": at_least(2),
        "window": ever(), "where": big.clone()});
    assert!(holds(&p, did_where("Order Completed", big)));
    assert!(!holds(&p, two_big));
    let both = json!({"kind": "all", "of": [
        field("amount", json!({"op": "lt", "value": 100})),
        field("plan", json!({"op": "starts_with", "value": "PR"}))]});
    assert!(holds(&p, did_where("Order Completed", both)));
    let neither = json!({"kind": "none", "of": [field("plan", json!({"op": "exists"}))]});
    assert!(holds(&p, did_where("Order Completed", neither)));
}

#[test]
fn a_property_test_matches_only_values_of_the_literal_type() {
    let p = |props: Value| with_events(person(json!({})), vec![event("Signed Up", NOW, props)]);
    let test = |props: Value, t: Value| holds(&p(props), did_where("Signed Up", field("k", t)));
    assert!(test(json!({"k": 5}), json!({"op": "is", "value": 5})));
    assert!(test(json!({"k": 5.0}), json!({"op": "is", "value": 5})));
    assert!(!test(json!({"k": "5"}), json!({"op": "is", "value": 5})));
    assert!(!test(json!({"k": "5"}), json!({"op": "gte", "value": 1})));
    assert!(test(json!({"k": "5"}), json!({"op": "is", "value": "5"})));
    assert!(!test(json!({"k": 5}), json!({"op": "is", "value": "5"})));
    assert!(!test(
        json!({"k": 5}),
        json!({"op": "contains", "value": "5"})
    ));
    assert!(test(json!({"k": true}), json!({"op": "is", "value": true})));
    assert!(!test(
        json!({"k": "true"}),
        json!({"op": "is", "value": true})
    ));
    assert!(test(json!({"k": 2}), json!({"op": "in", "values": [1, 2]})));
    assert!(!test(
        json!({"k": "2"}),
        json!({"op": "in", "values": [1, 2]})
    ));
    assert!(test(
        json!({"k": "b"}),
        json!({"op": "between", "low": "a", "high": "c"})
    ));
}

#[test]
fn a_property_negation_is_true_for_missing_and_other_typed_values() {
    let p = |props: Value| with_events(person(json!({})), vec![event("Signed Up", NOW, props)]);
    let test = |props: Value, t: Value| holds(&p(props), did_where("Signed Up", field("k", t)));
    assert!(test(json!({"k": "5"}), json!({"op": "is_not", "value": 5})));
    assert!(test(json!({}), json!({"op": "is_not", "value": 5})));
    assert!(test(
        json!({"k": null}),
        json!({"op": "not_in", "values": ["a"]})
    ));
    assert!(!test(json!({"k": null}), json!({"op": "exists"})));
    assert!(test(json!({"k": null}), json!({"op": "is_empty"})));
    assert!(test(json!({"k": [1]}), json!({"op": "exists"})));
}

// ------------------------------------------------------------ aggregates

fn aggregate(function: &str, window: Value, test: Value) -> Value {
    json!({"kind": "aggregate", "function": function, "property": "amount",
        "event": "Order Completed", "window": window, "test": test})
}

fn orders(amounts: &[Value]) -> Person {
    let events = amounts
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let props = if a.is_null() {
                json!({})
            } else {
                json!({"amount": a})
            };
            event("Order Completed", NOW - (i as i64 + 1) * HOUR, props)
        })
        .collect();
    with_events(person(json!({})), events)
}

#[test]
fn sum_adds_only_json_numbers() {
    let p = orders(&[
        json!(100),
        json!(50.5),
        json!("1000"),
        json!(true),
        Value::Null,
    ]);
    assert!(holds(
        &p,
        aggregate("sum", ever(), json!({"op": "is", "value": 150.5}))
    ));
    assert!(holds(
        &p,
        aggregate("min", ever(), json!({"op": "is", "value": 50.5}))
    ));
    assert!(holds(
        &p,
        aggregate("max", ever(), json!({"op": "is", "value": 100}))
    ));
    assert!(holds(
        &p,
        aggregate("average", ever(), json!({"op": "is", "value": 75.25}))
    ));
}

#[test]
fn aggregates_respect_the_window_and_the_where() {
    let p = orders(&[json!(10), json!(20), json!(30)]);
    let last_2h = json!({"window": "last", "amount": {"amount": 2, "unit": "hours"}});
    assert!(holds(
        &p,
        aggregate("sum", last_2h, json!({"op": "is", "value": 30}))
    ));
    let mut only_big = aggregate("sum", ever(), json!({"op": "is", "value": 50}));
    only_big["where"] = field("amount", json!({"op": "gte", "value": 20}));
    assert!(holds(&p, only_big));
}

#[test]
fn sum_over_no_events_is_zero() {
    let p = orders(&[]);
    assert!(holds(
        &p,
        aggregate("sum", ever(), json!({"op": "is", "value": 0}))
    ));
    assert!(holds(
        &p,
        aggregate("sum", ever(), json!({"op": "lt", "value": 1}))
    ));
}

#[test]
fn average_min_and_max_over_no_numbers_have_no_value() {
    for p in [orders(&[]), orders(&[json!("12")])] {
        for function in ["average", "min", "max"] {
            assert!(!holds(
                &p,
                aggregate(function, ever(), json!({"op": "lt", "value": 1}))
            ));
            assert!(!holds(
                &p,
                aggregate(function, ever(), json!({"op": "gte", "value": 1}))
            ));
            assert!(holds(
                &p,
                aggregate(function, ever(), json!({"op": "is_not", "value": 0}))
            ));
        }
    }
}

#[test]
fn distinct_count_treats_1_and_1_0_as_one_value_and_text_1_as_another() {
    let p = orders(&[
        json!(1),
        json!(1.0),
        json!("1"),
        json!("1"),
        json!(true),
        Value::Null,
    ]);
    assert!(holds(
        &p,
        aggregate("distinct_count", ever(), json!({"op": "is", "value": 2}))
    ));
}

#[test]
fn distinct_count_over_nothing_is_zero() {
    let p = orders(&[]);
    assert!(holds(
        &p,
        aggregate("distinct_count", ever(), json!({"op": "is", "value": 0}))
    ));
}

#[test]
fn average_is_computed_in_floating_point() {
    let p = orders(&[json!(1), json!(2)]);
    assert!(holds(
        &p,
        aggregate("average", ever(), json!({"op": "is", "value": 1.5}))
    ));
    assert!(holds(
        &p,
        aggregate(
            "average",
            ever(),
            json!({"op": "between", "low": 1.5, "high": 1.5})
        )
    ));
}

// ----------------------------------------------------------- occurrences

fn occurrence(which: &str, event: &str, test: Value) -> Value {
    json!({"kind": "occurrence", "which": which, "event": event, "test": test})
}

fn days_ago(n: u32) -> Value {
    json!({"op": "more_than_ago", "amount": {"amount": n, "unit": "days"}})
}

#[test]
fn last_occurrence_more_than_ago_uses_the_latest_event() {
    let p = with_events(
        person(json!({})),
        vec![
            event("Email Clicked", ms("2025-10-01T10:00:00Z"), json!({})),
            event("Email Clicked", ms("2026-01-03T10:00:00Z"), json!({})),
        ],
    );
    assert!(!holds(
        &p,
        occurrence("last", "Email Clicked", days_ago(90))
    ));
    assert!(holds(
        &p,
        occurrence("first", "Email Clicked", days_ago(90))
    ));
    assert!(holds(&p, occurrence("last", "Email Clicked", days_ago(30))));
}

#[test]
fn first_occurrence_within_last_includes_the_boundary_instant() {
    let within = json!({"op": "within_last", "amount": {"amount": 30, "unit": "minutes"}});
    let p = |at: i64| with_events(person(json!({})), vec![event("Signed Up", at, json!({}))]);
    assert!(holds(
        &p(NOW - 30 * MINUTE),
        occurrence("first", "Signed Up", within.clone())
    ));
    assert!(!holds(
        &p(NOW - 30 * MINUTE - 1),
        occurrence("first", "Signed Up", within)
    ));
}

#[test]
fn an_event_never_done_has_no_occurrence() {
    let p = person(json!({}));
    assert!(!holds(
        &p,
        occurrence("last", "Email Clicked", days_ago(30))
    ));
    let is_not = json!({"op": "is_not", "value": "2026-01-01"});
    assert!(holds(&p, occurrence("last", "Email Clicked", is_not)));
    let told = explained(&p, occurrence("last", "Email Clicked", days_ago(30)));
    assert_eq!(told.reason, r#"never did "Email Clicked""#);
}

#[test]
fn an_occurrence_compares_dates_as_whole_days() {
    let p = with_events(
        person(json!({})),
        vec![event("Signed Up", ms("2026-01-31T23:30:00Z"), json!({}))],
    );
    let on = occurrence(
        "first",
        "Signed Up",
        json!({"op": "is", "value": "2026-02-01"}),
    );
    assert!(holds_at(&berlin(), &p, on.clone()));
    assert!(!holds_at(&utc(), &p, on));
    let before = occurrence(
        "first",
        "Signed Up",
        json!({"op": "lt", "value": "2026-02-01"}),
    );
    assert!(holds_at(&utc(), &p, before));
}

#[test]
fn an_occurrence_ignores_windows_but_applies_its_where() {
    let p = with_events(
        person(json!({})),
        vec![
            event("Order Completed", NOW - 200 * DAY, json!({"amount": 500})),
            event("Order Completed", NOW - DAY, json!({"amount": 5})),
        ],
    );
    let mut big = occurrence("last", "Order Completed", days_ago(100));
    big["where"] = field("amount", json!({"op": "gt", "value": 100}));
    assert!(holds(&p, big));
}

// ------------------------------------------------------------- sequences

fn sequence(negated: bool, within: Value, window: Value) -> Value {
    json!({"kind": "sequence", "first": "Trial Started", "then": "Subscribed",
        "negated": negated, "within": within, "window": window})
}

fn one_day() -> Value {
    json!({"amount": 1, "unit": "days"})
}

fn trial_then(trial: i64, subscribed: &[i64]) -> Person {
    let mut events = vec![event("Trial Started", trial, json!({}))];
    events.extend(
        subscribed
            .iter()
            .map(|&at| event("Subscribed", at, json!({}))),
    );
    with_events(person(json!({})), events)
}

#[test]
fn then_needs_the_second_event_strictly_later_and_within_the_period() {
    let a = NOW - 10 * DAY;
    let then = sequence(false, one_day(), ever());
    assert!(!holds(&trial_then(a, &[a]), then.clone()));
    assert!(holds(&trial_then(a, &[a + 1]), then.clone()));
    assert!(holds(&trial_then(a, &[a + DAY]), then.clone()));
    assert!(!holds(&trial_then(a, &[a + DAY + 1]), then.clone()));
    assert!(!holds(&trial_then(a, &[a - 1]), then.clone()));
    assert!(holds(&trial_then(a, &[a - 1, a + DAY + 1, a + HOUR]), then));
}

#[test]
fn then_not_counts_only_a_first_event_whose_follow_up_period_has_passed() {
    let then_not = sequence(true, one_day(), ever());
    assert!(!holds(&trial_then(NOW - HOUR, &[]), then_not.clone()));
    assert!(holds(&trial_then(NOW - DAY, &[]), then_not.clone()));
    assert!(!holds(&trial_then(NOW - DAY + 1, &[]), then_not.clone()));
    assert!(!holds(
        &trial_then(NOW - 3 * DAY, &[NOW - 2 * DAY]),
        then_not.clone()
    ));
    assert!(holds(
        &trial_then(NOW - 3 * DAY, &[NOW - DAY]),
        then_not.clone()
    ));
    assert!(!holds(&person(json!({})), then_not));
}

#[test]
fn then_not_needs_only_one_unfollowed_first_event() {
    let mut p = trial_then(NOW - 5 * DAY, &[NOW - 5 * DAY + HOUR]);
    p.events
        .push(event("Trial Started", NOW - 3 * DAY, json!({})));
    assert!(holds(&p, sequence(true, one_day(), ever())));
    assert!(holds(&p, sequence(false, one_day(), ever())));
}

#[test]
fn a_sequence_window_applies_to_the_first_event_only() {
    let a = NOW - 2 * DAY - HOUR;
    let p = trial_then(a, &[NOW - HOUR]);
    let last_3_days = json!({"window": "last", "amount": {"amount": 3, "unit": "days"}});
    let within_2_days = json!({"amount": 2, "unit": "days"});
    assert!(holds(
        &p,
        sequence(false, within_2_days.clone(), last_3_days)
    ));
    assert!(!holds(&p, sequence(false, within_2_days, last_days(2))));
}

// -------------------------------------------- segments, consent, accounts

fn in_segment(name: &str) -> Value {
    json!({"kind": "in_segment", "segment": name})
}

#[test]
fn a_dynamic_segment_means_its_saved_condition() {
    assert!(holds(
        &person(json!({"country": "DE"})),
        in_segment("Germans")
    ));
    assert!(!holds(
        &person(json!({"country": "AT"})),
        in_segment("Germans")
    ));
    let told = explained(&person(json!({"country": "DE"})), in_segment("Germans"));
    assert_eq!(told.children.len(), 1);
    assert_eq!(told.children[0].reason, r#"country is "DE" — needs "DE""#);
}

#[test]
fn a_static_segment_means_being_on_the_list() {
    let mut p = person(json!({}));
    assert!(!holds(&p, in_segment("Employees")));
    p.lists.insert(1);
    assert!(holds(&p, in_segment("Employees")));
    let on_list_only = {
        let mut q = person(json!({"country": "FR"}));
        q.lists.insert(2);
        q
    };
    // A dynamic segment's id on the person's lists does not make them a member.
    assert!(!holds(&on_list_only, in_segment("Germans")));
}

#[test]
fn an_unknown_segment_is_false() {
    let p = person(json!({}));
    assert!(!holds(&p, in_segment("Nobody")));
    assert!(holds(
        &p,
        json!({"kind": "not", "condition": in_segment("Nobody")})
    ));
}

#[test]
fn a_segment_that_refers_to_itself_is_false_instead_of_looping() {
    let told = explained(&person(json!({})), in_segment("Loop"));
    assert!(!told.value);
    assert!(!holds(&person(json!({})), in_segment("Loop")));
    assert_eq!(
        told.children[0].reason,
        r#"segment "Loop" refers back to itself"#
    );
}

fn consent_node(state: &str, channel: Option<&str>) -> Value {
    let mut node = json!({"kind": "consent", "state": state, "topic": "Newsletter"});
    if let Some(c) = channel {
        node["channel"] = json!(c);
    }
    node
}

#[test]
fn consent_is_decided_per_channel() {
    let mut p = person(json!({}));
    p.consent = vec![
        consent("Newsletter", "email", true),
        consent("Newsletter", "sms", false),
        consent("Product news", "push", true),
    ];
    assert!(holds(&p, consent_node("subscribed", None)));
    assert!(holds(&p, consent_node("unsubscribed", None)));
    assert!(holds(&p, consent_node("subscribed", Some("email"))));
    assert!(!holds(&p, consent_node("unsubscribed", Some("email"))));
    assert!(!holds(&p, consent_node("subscribed", Some("sms"))));
    assert!(holds(&p, consent_node("unsubscribed", Some("sms"))));
    assert!(!holds(&p, consent_node("subscribed", Some("push"))));
}

#[test]
fn someone_with_no_recorded_choice_is_neither_subscribed_nor_unsubscribed() {
    let p = person(json!({}));
    assert!(!holds(&p, consent_node("subscribed", None)));
    assert!(!holds(&p, consent_node("unsubscribed", None)));
}

fn account_where(c: Value) -> Value {
    json!({"kind": "account", "condition": c})
}

#[test]
fn account_where_is_false_for_people_without_an_account() {
    let p = person(json!({}));
    assert!(!holds(&p, account_where(json!({"kind": "all", "of": []}))));
    let big = field("employees", json!({"op": "gt", "value": 100}));
    assert!(holds(
        &p,
        json!({"kind": "not", "condition": account_where(big)})
    ));
}

#[test]
fn account_where_tests_the_account_fields() {
    let mut p = person(json!({"country": "FR"}));
    p.account = Some(Box::new(org(
        40,
        json!({"country": "DE", "employees": 2500}),
        Vec::new(),
    )));
    assert!(holds(
        &p,
        account_where(field("country", json!({"op": "is", "value": "DE"})))
    ));
    assert!(holds(&p, account_where(in_segment("Big"))));
    assert!(!holds(&p, account_where(in_segment("Key accounts"))));
    p.account.as_mut().expect("account").lists.insert(3);
    assert!(holds(&p, account_where(in_segment("Key accounts"))));
}

fn members(quantifier: &str, c: Value) -> Value {
    json!({"kind": "members", "quantifier": quantifier, "condition": c})
}

#[test]
fn all_members_is_true_for_an_account_with_no_members() {
    let o = org(40, json!({}), Vec::new());
    let vip = field("vip", json!({"op": "is", "value": true}));
    assert!(account_holds(&o, members("all", vip.clone())));
    assert!(!account_holds(&o, members("any", vip.clone())));
    assert!(account_holds(&o, members("no", vip)));
}

#[test]
fn member_quantifiers_count_the_members_that_match() {
    let clicked = with_events(
        person(json!({"vip": true})),
        vec![event("Email Clicked", NOW, json!({}))],
    );
    let o = org(40, json!({}), vec![clicked, person(json!({"vip": false}))]);
    let vip = field("vip", json!({"op": "is", "value": true}));
    assert!(account_holds(&o, members("any", vip.clone())));
    assert!(!account_holds(&o, members("all", vip.clone())));
    assert!(!account_holds(&o, members("no", vip)));
    let clicks = did("Email Clicked", at_least(1), last_days(1));
    assert!(account_holds(&o, members("any", clicks)));
}

#[test]
fn an_account_segment_uses_account_lists() {
    let mut o = org(40, json!({"employees": 10}), Vec::new());
    assert!(!account_holds(&o, in_segment("Key accounts")));
    assert!(!account_holds(&o, in_segment("Big")));
    o.lists.insert(3);
    assert!(account_holds(&o, in_segment("Key accounts")));
}

#[test]
fn a_segment_of_the_other_subject_matches_nobody() {
    let p = person(json!({}));
    let o = org(1, json!({}), Vec::new());
    let seg = Segment {
        subject: Subject::Accounts,
        condition: cond(json!({"kind": "all", "of": []})),
    };
    assert!(!matches(&seg, &schema(), &utc(), Facts::Person(&p)));
    let told = explain(&seg, &schema(), &utc(), Facts::Person(&p));
    assert_eq!(told.reason, "this segment selects accounts, not people");
    assert!(account_holds(&o, json!({"kind": "all", "of": []})));
}

// ------------------------------------------------------------ explanations

#[test]
fn explain_gives_the_reasons_of_every_node_of_a_nested_tree() {
    let mut p = with_events(
        person(json!({"country": "FR"})),
        vec![
            event("Webinar Attended", NOW - 10 * DAY, json!({})),
            event("Email Clicked", ms("2026-01-03T10:00:00Z"), json!({})),
        ],
    );
    p.consent = vec![consent("Newsletter", "email", true)];
    let tree = json!({"kind": "all", "of": [
        field("country", json!({"op": "in", "values": ["DE", "AT", "CH"]})),
        {"kind": "any", "of": [
            did("Webinar Attended", at_least(2), last_days(90)),
            field("lifecycle_stage", json!({"op": "is", "value": "customer"})),
        ]},
        occurrence("last", "Email Clicked", days_ago(90)),
        consent_node("subscribed", Some("email")),
    ]});
    let leaf = |condition: &str, value: bool, reason: &str| Explanation {
        condition: condition.into(),
        value,
        reason: reason.into(),
        children: Vec::new(),
    };
    let did_text = r#"did "Webinar Attended" at least 2 times in last 90 days"#;
    let stage_text = r#"lifecycle_stage is "customer""#;
    let expected = Explanation {
        condition: [
            "all of:",
            r#"  country in ["DE", "AT", "CH"]"#,
            "  any of:",
            &format!("    {did_text}"),
            &format!("    {stage_text}"),
            r#"  last "Email Clicked" more than 90 days ago"#,
            r#"  subscribed to "Newsletter" via email"#,
        ]
        .join("\n"),
        value: false,
        reason: "1 of 4 true — needs all".into(),
        children: vec![
            leaf(
                r#"country in ["DE", "AT", "CH"]"#,
                false,
                r#"country is "FR" — needs one of "DE", "AT", "CH""#,
            ),
            Explanation {
                condition: format!("any of:\n  {did_text}\n  {stage_text}"),
                value: false,
                reason: "0 of 2 true — needs at least one".into(),
                children: vec![
                    leaf(
                        did_text,
                        false,
                        r#"did "Webinar Attended" 1 time in last 90 days — needs at least 2"#,
                    ),
                    leaf(stage_text, false, "no value for lifecycle_stage"),
                ],
            },
            leaf(
                r#"last "Email Clicked" more than 90 days ago"#,
                false,
                r#"last "Email Clicked" was 2026-01-03T10:00:00.000Z — needs before 2025-12-01T12:00:00.000Z"#,
            ),
            leaf(
                r#"subscribed to "Newsletter" via email"#,
                true,
                r#""Newsletter": email subscribed — needs subscribed"#,
            ),
        ],
    };
    assert_eq!(explained(&p, tree.clone()), expected);
    assert!(!holds(&p, tree));
}

#[test]
fn explain_words_events_aggregates_and_sequences() {
    let mut p = orders(&[json!(100), json!(50), json!("x")]);
    p.events
        .push(event("Trial Started", NOW - 2 * DAY, json!({})));
    let reason = |c: Value| explained(&p, c).reason;
    assert_eq!(
        reason(aggregate(
            "sum",
            last_days(1),
            json!({"op": "gt", "value": 100})
        )),
        r#"sum of amount in "Order Completed" in last 1 day is 150 (from 2 of 3 events with a number amount) — needs more than 100"#
    );
    assert_eq!(
        reason(aggregate(
            "average",
            last_days(1),
            json!({"op": "gt", "value": 100})
        )),
        r#"average of amount in "Order Completed" in last 1 day is 75 (from 2 of 3 events with a number amount) — needs more than 100"#
    );
    let mut big = aggregate("sum", ever(), json!({"op": "gt", "value": 60}));
    big["where"] = field("amount", json!({"op": "gt", "value": 60}));
    assert_eq!(
        reason(big),
        r#"sum of amount in "Order Completed" (only those meeting its where) is 100 (from 1 event) — needs more than 60"#
    );
    let mut refunds = aggregate("max", ever(), json!({"op": "gt", "value": 1}));
    refunds["event"] = json!("Refund Issued");
    assert_eq!(
        reason(refunds),
        r#"max of amount in "Refund Issued" has no value (from no events) — needs more than 1"#
    );
    assert_eq!(
        reason(sequence(true, one_day(), ever())),
        r#""Trial Started" at 2026-02-27T12:00:00.000Z was not followed by "Subscribed" within 1 day (1 of 1 "Trial Started" event unfollowed)"#
    );
    assert_eq!(
        reason(sequence(false, one_day(), last_days(1))),
        r#"did "Trial Started" 0 times in last 1 day"#
    );
}

#[test]
fn explain_words_accounts_and_members() {
    let o = org(
        40,
        json!({"employees": 12}),
        vec![person(json!({"vip": true})), person(json!({}))],
    );
    let told = explain(
        &Segment {
            subject: Subject::Accounts,
            condition: cond(members(
                "all",
                field("vip", json!({"op": "is", "value": true})),
            )),
        },
        &schema(),
        &utc(),
        Facts::Account(&o),
    );
    assert_eq!(told.condition, "all members where vip is true");
    assert_eq!(told.reason, "1 of 2 members matches — needs every one");
    assert_eq!(told.children[1].reason, "no value for vip");
    let lonely = explained(
        &person(json!({})),
        account_where(field("employees", json!({"op": "gt", "value": 10}))),
    );
    assert_eq!(lonely.reason, "has no account");
}

// ------------------------------------------------------- random trees

const FIELD_KEYS: &[&str] = &[
    "country",
    "company",
    "lifecycle_stage",
    "score",
    "vip",
    "birthday",
    "last_login",
    "created_at",
    "interests",
    "email",
    "employees",
    "tier",
];

fn value_pool() -> Vec<Value> {
    vec![
        json!("DE"),
        json!("FR"),
        json!("Acme Inc"),
        json!(""),
        json!("customer"),
        json!("1992-02-29"),
        json!("2026-03-01"),
        json!("2026-02-01"),
        json!("not a date"),
        json!("2026-03-01T11:00:00.000Z"),
        json!("2026-01-31T23:30:00.000Z"),
        json!("1969-12-31T23:59:59.999Z"),
        json!("9999-12-31T23:59:59.999Z"),
        json!(0),
        json!(10),
        json!(10.0),
        json!(-1.5),
        json!(1e300),
        json!(u64::MAX),
        json!(i64::MIN),
        json!(true),
        json!(false),
        Value::Null,
        json!([]),
        json!(["a"]),
        json!(["a", "b"]),
        json!([1, null, {"x": 1}]),
        json!({"nested": "object"}),
        json!("ßtraße\nÄ%_\\"),
    ]
}

fn at_pool() -> Vec<i64> {
    vec![
        NOW,
        NOW - 1,
        NOW + 1,
        NOW - HOUR,
        NOW - DAY,
        NOW - DAY - 1,
        NOW - 30 * DAY,
        NOW - 90 * DAY,
        NOW - 90 * DAY - 1,
        NOW - 400 * DAY,
        NOW + 2 * DAY,
        ms("2026-01-03T10:00:00Z"),
        0,
        i64::MIN,
        i64::MAX,
    ]
}

fn property_pool() -> Vec<Value> {
    vec![
        json!({}),
        json!({"amount": 150}),
        json!({"amount": 1}),
        json!({"amount": 1.0}),
        json!({"amount": "1"}),
        json!({"amount": null}),
        json!({"amount": -1e300, "plan": "pro"}),
        json!({"plan": "PRO", "amount": 50.5}),
        json!({"plan": ["pro"], "flag": true}),
        json!({"flag": "true"}),
    ]
}

const EVENT_NAMES: &[&str] = &[
    "Order Completed",
    "Trial Started",
    "Subscribed",
    "Email Clicked",
];

fn people_leaves() -> Vec<Condition> {
    let f = |k: &str, t: Value| field(k, t);
    let days = |n: u32| json!({"amount": n, "unit": "days"});
    let amount_gt = field("amount", json!({"op": "gt", "value": 100}));
    let plan_group = json!({"kind": "any", "of": [
        field("plan", json!({"op": "contains", "value": "r"})),
        {"kind": "not", "condition": field("flag", json!({"op": "is", "value": true}))}]});
    let mut leaves = vec![
        f("country", json!({"op": "is", "value": "DE"})),
        f("country", json!({"op": "in", "values": ["DE", "FR"]})),
        f("country", json!({"op": "not_in", "values": ["DE"]})),
        f("company", json!({"op": "contains", "value": "acme"})),
        f("company", json!({"op": "not_contains", "value": "%"})),
        f("company", json!({"op": "starts_with", "value": "AC"})),
        f("company", json!({"op": "ends_with", "value": "inc"})),
        f("company", json!({"op": "matches", "pattern": "^A.m"})),
        f("company", json!({"op": "matches", "pattern": "(("})),
        f("company", json!({"op": "gt", "value": "B"})),
        f(
            "lifecycle_stage",
            json!({"op": "is_not", "value": "customer"}),
        ),
        f("lifecycle_stage", json!({"op": "exists"})),
        f("lifecycle_stage", json!({"op": "is_empty"})),
        f("score", json!({"op": "is", "value": 10})),
        f("score", json!({"op": "is_not", "value": 10})),
        f("score", json!({"op": "between", "low": 0, "high": 10})),
        f("score", json!({"op": "lte", "value": 0})),
        f("score", json!({"op": "in", "values": [0, 10]})),
        f("score", json!({"op": "contains", "value": "1"})),
        f("vip", json!({"op": "is", "value": true})),
        f("vip", json!({"op": "is_not", "value": false})),
        f("birthday", json!({"op": "within_last", "amount": days(30)})),
        f(
            "birthday",
            json!({"op": "more_than_ago", "amount": days(10)}),
        ),
        f("birthday", json!({"op": "within_next", "amount": days(10)})),
        f(
            "birthday",
            json!({"op": "anniversary_within_next", "days": 7}),
        ),
        f(
            "birthday",
            json!({"op": "anniversary_within_next", "days": 400}),
        ),
        f("birthday", json!({"op": "gt", "value": "1990-01-01"})),
        f("birthday", json!({"op": "is", "value": "1992-02-29"})),
        f(
            "last_login",
            json!({"op": "within_last", "amount": days(1)}),
        ),
        f(
            "last_login",
            json!({"op": "within_next", "amount": {"amount": 4_000_000_000u32, "unit": "weeks"}}),
        ),
        f(
            "last_login",
            json!({"op": "more_than_ago", "amount": {"amount": u32::MAX, "unit": "weeks"}}),
        ),
        f("last_login", json!({"op": "is", "value": "2026-03-01"})),
        f("last_login", json!({"op": "is_not", "value": "2026-02-01"})),
        f(
            "last_login",
            json!({"op": "lt", "value": "2026-02-01T00:00:00.000Z"}),
        ),
        f(
            "last_login",
            json!({"op": "between", "low": "2026-01-01", "high": "2026-03-01"}),
        ),
        f(
            "last_login",
            json!({"op": "in", "values": ["2026-03-01", "2026-01-31"]}),
        ),
        f(
            "last_login",
            json!({"op": "anniversary_within_next", "days": 3}),
        ),
        f("last_login", json!({"op": "gt", "value": "garbage"})),
        f("last_login", json!({"op": "gt", "value": 5})),
        f(
            "created_at",
            json!({"op": "within_last", "amount": days(30)}),
        ),
        f("created_at", json!({"op": "gte", "value": "2026-01-01"})),
        f("created_at", json!({"op": "is_not", "value": "2026-03-01"})),
        f("interests", json!({"op": "has_any", "values": ["a", "c"]})),
        f("interests", json!({"op": "has_all", "values": ["a", "b"]})),
        f("interests", json!({"op": "has_all", "values": []})),
        f("interests", json!({"op": "has_none", "values": ["a"]})),
        f("interests", json!({"op": "exists"})),
        f("email", json!({"op": "ends_with", "value": "@acme.io"})),
        f("nope", json!({"op": "is", "value": "x"})),
        f("nope", json!({"op": "is_empty"})),
        did("Order Completed", at_least(1), ever()),
        did("Order Completed", at_least(2), last_days(30)),
        did(
            "Trial Started",
            json!({"op": "exactly", "times": 0}),
            last_days(90),
        ),
        did(
            "Subscribed",
            json!({"op": "at_most", "times": 1}),
            json!({"window": "between", "from": "2026-01-01", "to": "2026-03-01"}),
        ),
        did(
            "Email Clicked",
            at_least(1),
            json!({"window": "since", "from": "2026-01-03T10:00:00Z"}),
        ),
        did(
            "Email Clicked",
            at_least(1),
            json!({"window": "since", "from": "not a time"}),
        ),
        did_where("Order Completed", amount_gt.clone()),
        did_where("Order Completed", plan_group.clone()),
        did_where("Order Completed", field("amount", json!({"op": "exists"}))),
        did_where(
            "Order Completed",
            field("plan", json!({"op": "has_any", "values": ["pro"]})),
        ),
    ];
    for function in ["sum", "average", "min", "max", "distinct_count"] {
        leaves.push(aggregate(function, ever(), json!({"op": "gt", "value": 1})));
        leaves.push(aggregate(
            function,
            last_days(30),
            json!({"op": "is_not", "value": 1}),
        ));
        let mut filtered = aggregate(
            function,
            ever(),
            json!({"op": "between", "low": 0, "high": 2}),
        );
        filtered["where"] = plan_group.clone();
        leaves.push(filtered);
    }
    for which in ["first", "last"] {
        for event in ["Email Clicked", "Subscribed"] {
            leaves.push(occurrence(which, event, days_ago(30)));
            leaves.push(occurrence(
                which,
                event,
                json!({"op": "within_last", "amount": days(90)}),
            ));
            leaves.push(occurrence(
                which,
                event,
                json!({"op": "is_not", "value": "2026-01-03"}),
            ));
            leaves.push(occurrence(
                which,
                event,
                json!({"op": "gte", "value": "2026-01-03T10:00:00.000Z"}),
            ));
        }
        let mut filtered = occurrence(which, "Order Completed", days_ago(1));
        filtered["where"] = amount_gt.clone();
        leaves.push(filtered);
    }
    for negated in [false, true] {
        leaves.push(sequence(negated, one_day(), ever()));
        leaves.push(sequence(negated, days(30), last_days(90)));
        leaves.push(sequence(
            negated,
            json!({"amount": u32::MAX, "unit": "weeks"}),
            ever(),
        ));
        leaves.push(
            json!({"kind": "sequence", "first": "Subscribed", "then": "Subscribed",
            "negated": negated, "within": one_day(), "window": ever()}),
        );
    }
    for name in ["Employees", "Germans", "Loop", "Big", "Nobody"] {
        leaves.push(in_segment(name));
    }
    for state in ["subscribed", "unsubscribed"] {
        for channel in [None, Some("email"), Some("sms")] {
            leaves.push(consent_node(state, channel));
        }
    }
    leaves.push(account_where(field(
        "employees",
        json!({"op": "gt", "value": 100}),
    )));
    leaves.push(account_where(in_segment("Key accounts")));
    leaves.push(account_where(members(
        "any",
        field("vip", json!({"op": "is", "value": true})),
    )));
    leaves.push(account_where(members(
        "all",
        did("Order Completed", at_least(1), ever()),
    )));
    leaves.into_iter().map(cond).collect()
}

fn account_leaves() -> Vec<Condition> {
    let mut leaves = vec![
        field("employees", json!({"op": "gt", "value": 100})),
        field("employees", json!({"op": "is_not", "value": 10})),
        field("tier", json!({"op": "in", "values": ["DE", "gold"]})),
        field("country", json!({"op": "is", "value": "DE"})),
        field(
            "created_at",
            json!({"op": "within_last", "amount": {"amount": 1, "unit": "days"}}),
        ),
        in_segment("Key accounts"),
        in_segment("Big"),
        in_segment("Employees"),
    ];
    let people: Vec<Value> = people_leaves()
        .iter()
        .step_by(7)
        .map(|c| serde_json::to_value(c).expect("JSON form"))
        .collect();
    for quantifier in ["any", "all", "no"] {
        for c in &people {
            leaves.push(members(quantifier, c.clone()));
        }
    }
    leaves.into_iter().map(cond).collect()
}

fn tree(leaves: Vec<Condition>) -> impl Strategy<Value = Condition> {
    prop::sample::select(leaves).prop_recursive(4, 32, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(|of| Condition::All {
                of,
                span: Default::default()
            }),
            prop::collection::vec(inner.clone(), 0..4).prop_map(|of| Condition::Any {
                of,
                span: Default::default()
            }),
            prop::collection::vec(inner.clone(), 0..3).prop_map(|of| Condition::None {
                of,
                span: Default::default()
            }),
            inner.prop_map(|c| Condition::Not {
                condition: Box::new(c),
                span: Default::default()
            }),
        ]
    })
}

fn fields() -> impl Strategy<Value = serde_json::Map<String, Value>> {
    let pool = value_pool();
    prop::collection::vec((0..FIELD_KEYS.len(), 0..pool.len()), 0..10).prop_map(move |pairs| {
        pairs
            .into_iter()
            .map(|(k, v)| (FIELD_KEYS[k].to_owned(), pool[v].clone()))
            .collect()
    })
}

fn people() -> impl Strategy<Value = Person> {
    let (ats, props) = (at_pool(), property_pool());
    let events = prop::collection::vec((0..EVENT_NAMES.len(), 0..ats.len(), 0..props.len()), 0..8)
        .prop_map(move |picked| {
            picked
                .into_iter()
                .map(|(n, a, p)| event(EVENT_NAMES[n], ats[a], props[p].clone()))
                .collect::<Vec<_>>()
        });
    let consents =
        prop::collection::vec((0..2usize, 0..3usize, any::<bool>()), 0..4).prop_map(|picked| {
            picked
                .into_iter()
                .map(|(t, c, s)| {
                    consent(
                        ["Newsletter", "Product news"][t],
                        ["email", "sms", "push"][c],
                        s,
                    )
                })
                .collect::<Vec<_>>()
        });
    let lists = prop::collection::btree_set(prop::sample::select(vec![1i64, 2, 3, 5]), 0..3);
    (fields(), events, consents, lists).prop_map(|(fields, events, consent, lists)| Person {
        id: 7,
        fields,
        account: None,
        events,
        lists,
        consent,
    })
}

fn accounts() -> impl Strategy<Value = Organisation> {
    let lists = prop::collection::btree_set(prop::sample::select(vec![1i64, 3, 5]), 0..2);
    (fields(), prop::collection::vec(people(), 0..3), lists).prop_map(|(fields, members, lists)| {
        Organisation {
            id: 40,
            fields,
            members,
            lists,
        }
    })
}

fn people_with_accounts() -> impl Strategy<Value = Person> {
    (people(), prop::option::of(accounts())).prop_map(|(mut p, o)| {
        p.account = o.map(Box::new);
        p
    })
}

fn clocks() -> impl Strategy<Value = Clock> {
    prop::sample::select(vec![
        utc(),
        berlin(),
        at("2026-02-28T23:30:00Z"),
        Clock::new(
            ms("2028-02-28T23:30:00Z"),
            zone("Pacific/Kiritimati").expect("zone"),
        ),
    ])
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn explain_agrees_with_matches_on_every_node_of_random_people_trees(
        c in tree(people_leaves()),
        p in people_with_accounts(),
        clock in clocks(),
    ) {
        let schema = schema();
        let segment = Segment { subject: Subject::People, condition: c };
        let told = explain(&segment, &schema, &clock, Facts::Person(&p));
        assert_agrees(&schema, &clock, Subject::People, Facts::Person(&p), &segment.condition, &told);
    }

    #[test]
    fn explain_agrees_with_matches_on_every_node_of_random_account_trees(
        c in tree(account_leaves()),
        o in accounts(),
        clock in clocks(),
    ) {
        let schema = schema();
        let segment = Segment { subject: Subject::Accounts, condition: c };
        let told = explain(&segment, &schema, &clock, Facts::Account(&o));
        assert_agrees(&schema, &clock, Subject::Accounts, Facts::Account(&o), &segment.condition, &told);
    }

    #[test]
    fn a_negated_test_is_exactly_the_opposite_of_its_positive_test(
        key in prop::sample::select(FIELD_KEYS.to_vec()),
        pair in prop::sample::select(vec![
            (json!({"op": "is", "value": "DE"}), json!({"op": "is_not", "value": "DE"})),
            (json!({"op": "is", "value": 10}), json!({"op": "is_not", "value": 10})),
            (json!({"op": "is", "value": true}), json!({"op": "is_not", "value": true})),
            (json!({"op": "is", "value": "2026-03-01"}), json!({"op": "is_not", "value": "2026-03-01"})),
            (json!({"op": "contains", "value": "a"}), json!({"op": "not_contains", "value": "a"})),
            (json!({"op": "in", "values": ["DE", "a"]}), json!({"op": "not_in", "values": ["DE", "a"]})),
            (json!({"op": "has_any", "values": ["a"]}), json!({"op": "has_none", "values": ["a"]})),
            (json!({"op": "exists"}), json!({"op": "is_empty"})),
        ]),
        p in people(),
        clock in clocks(),
    ) {
        let positive = holds_at(&clock, &p, field(key, pair.0));
        let negation = holds_at(&clock, &p, field(key, pair.1));
        prop_assert_ne!(positive, negation);
    }
}
