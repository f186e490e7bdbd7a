//! The type-checker: every problem with its code, message, path and span;
//! literals normalised as stored values are; what a definition uses.

use pitcrew_core::record::builtin::{account_fields, contact_fields};
use pitcrew_core::record::{FieldDef, FieldType, ObjectKind, PicklistOption};
use pitcrew_filter::ast::{Literal, Span, Subject, Test};
use pitcrew_filter::schema::{EventInfo, SegmentInfo};
use pitcrew_filter::{Checked, Condition, Problem, Schema, Segment, check, from_json};
use serde_json::{Value, json};

/// A workspace: the built-in fields plus a few custom ones, some events
/// with their properties, three saved segments and two topics.
pub fn schema() -> Schema {
    let custom = |key: &str, label: &str, field_type: FieldType| FieldDef {
        object: ObjectKind::Contact,
        key: key.into(),
        label: label.into(),
        field_type,
        required: false,
        default: None,
        options: Vec::new(),
        builtin: false,
        read_only: false,
    };
    let mut contacts = contact_fields();
    contacts.extend([
        custom("lead_score", "Lead score", FieldType::Number),
        custom("renewal_date", "Renewal date", FieldType::Date),
        custom("last_login", "Last login", FieldType::Datetime),
        FieldDef {
            options: vec![
                PicklistOption::new("analytics", "Analytics"),
                PicklistOption::new("automation", "Marketing automation"),
                PicklistOption::new("crm", "CRM"),
            ],
            ..custom("interests", "Interests", FieldType::MultiPicklist)
        },
        custom("vip", "VIP", FieldType::Boolean),
    ]);
    let event = |name: &str, keys: &[&str]| EventInfo {
        name: name.into(),
        property_keys: keys.iter().map(|k| k.to_string()).collect(),
    };
    let engaged = segment(json!({"subject": "people", "where":
        {"kind": "did", "event": "Webinar Attended", "count": {"op": "at_least", "times": 1},
         "window": {"window": "ever"}}}));
    let key_accounts = segment(json!({"subject": "accounts", "where":
        {"kind": "field", "field": "employees", "test": {"op": "gte", "value": 1000}}}));
    Schema {
        contact_fields: contacts,
        account_fields: account_fields(),
        events: vec![
            event("Webinar Attended", &["webinar", "duration"]),
            event("Order Completed", &["amount", "currency", "plan"]),
            event("Signed Up", &["source"]),
            event("Email Clicked", &[]),
        ],
        segments: vec![
            SegmentInfo {
                id: 1,
                name: "Engaged".into(),
                subject: Subject::People,
                definition: Some(engaged),
            },
            SegmentInfo {
                id: 2,
                name: "Employees".into(),
                subject: Subject::People,
                definition: None,
            },
            SegmentInfo {
                id: 3,
                name: "Key accounts".into(),
                subject: Subject::Accounts,
                definition: Some(key_accounts),
            },
        ],
        topics: vec!["Newsletter".into(), "Product updates".into()],
    }
}

/// A tree from its JSON form.
fn segment(form: Value) -> Segment {
    from_json(&form.to_string()).expect("valid JSON form")
}

fn people(condition: Value) -> Segment {
    segment(json!({"subject": "people", "where": condition}))
}

fn accounts(condition: Value) -> Segment {
    segment(json!({"subject": "accounts", "where": condition}))
}

fn field(key: &str, test: Value) -> Value {
    json!({"kind": "field", "field": key, "test": test})
}

fn did(event: &str) -> Value {
    json!({"kind": "did", "event": event, "count": {"op": "at_least", "times": 1},
           "window": {"window": "ever"}})
}

fn did_where(event: &str, filter: Value) -> Value {
    json!({"kind": "did", "event": event, "count": {"op": "at_least", "times": 1},
           "window": {"window": "ever"}, "where": filter})
}

fn all(of: Vec<Value>) -> Value {
    json!({"kind": "all", "of": of})
}

fn passes(segment: &Segment) -> Checked {
    match check(segment, &schema(), None) {
        Ok(checked) => checked,
        Err(problems) => panic!("expected no problems, got {problems:#?}"),
    }
}

fn problems(segment: &Segment) -> Vec<Problem> {
    check(segment, &schema(), None).expect_err("expected problems")
}

/// The one problem the checker finds, as (code, message, path).
fn problem(segment: &Segment) -> (&'static str, String, String) {
    let found = problems(segment);
    assert_eq!(found.len(), 1, "expected exactly one problem: {found:#?}");
    let p = &found[0];
    (p.code, p.message.clone(), p.path.clone())
}

/// The one warning on a tree that passes, as (code, message, path).
fn warning(segment: &Segment) -> (&'static str, String, String) {
    let checked = passes(segment);
    assert_eq!(
        checked.warnings.len(),
        1,
        "expected exactly one warning: {:#?}",
        checked.warnings
    );
    let w = &checked.warnings[0];
    (w.code, w.message.clone(), w.path.clone())
}

fn expect(code: &'static str, message: &str, path: &str) -> (&'static str, String, String) {
    (code, message.to_string(), path.to_string())
}

/// The normalised test of the only condition, a field test.
fn checked_test(segment: &Segment) -> Test {
    match passes(segment).segment.condition {
        Condition::Field { test, .. } => test,
        other => panic!("expected a field test, got {other:?}"),
    }
}

fn text(s: &str) -> Literal {
    Literal::Text(s.into())
}

/// Where the parser would have put the node: the second line of a text.
fn span() -> Span {
    Span {
        start: 20,
        end: 41,
        line: 2,
        column: 3,
    }
}

fn span_of(problem: &Problem) -> (usize, usize, u32, u32) {
    let s = problem.span.expect("the problem has a span");
    (s.start, s.end, s.line, s.column)
}

// ----- scopes -----

#[test]
fn an_event_in_accounts_scope_points_to_any_member() {
    let seg = accounts(all(vec![
        field("employees", json!({"op": "gt", "value": 10})),
        did("Webinar Attended"),
    ]));
    assert_eq!(
        problem(&seg),
        expect(
            "scope_invalid",
            "events belong to people; use `any member where did …`",
            "/where/of/1"
        )
    );
}

#[test]
fn members_in_people_scope_point_to_account_where() {
    let seg = people(json!({"kind": "members", "quantifier": "any",
        "condition": field("vip", json!({"op": "is", "value": true}))}));
    assert_eq!(
        problem(&seg),
        expect(
            "scope_invalid",
            "members belong to accounts; use `account where any member where …`",
            "/where"
        )
    );
}

#[test]
fn consent_in_accounts_scope_points_to_any_member() {
    let seg = accounts(json!({"kind": "consent", "state": "subscribed", "topic": "Newsletter"}));
    assert_eq!(
        problem(&seg),
        expect(
            "scope_invalid",
            "consent belongs to people; use `any member where subscribed to …`",
            "/where"
        )
    );
}

#[test]
fn account_where_inside_accounts_scope_is_refused() {
    let seg = accounts(json!({"kind": "account",
        "condition": field("employees", json!({"op": "gt", "value": 10}))}));
    assert_eq!(
        problem(&seg),
        expect(
            "scope_invalid",
            "this condition is already about accounts; write the account's condition without `account where`",
            "/where"
        )
    );
}

#[test]
fn only_property_tests_go_inside_an_events_where() {
    let seg = people(did_where(
        "Order Completed",
        all(vec![
            field("amount", json!({"op": "gt", "value": 100})),
            json!({"kind": "in_segment", "segment": "Employees"}),
        ]),
    ));
    assert_eq!(
        problem(&seg),
        expect(
            "scope_invalid",
            "only property tests and all/any/none/not can go inside an event's `where`; move this condition outside the event's `where`",
            "/where/where/of/1"
        )
    );
}

#[test]
fn account_and_member_conditions_nest_both_ways() {
    let seg = people(json!({"kind": "account", "condition":
        {"kind": "members", "quantifier": "no", "condition":
            field("vip", json!({"op": "is", "value": true}))}}));
    let checked = passes(&seg);
    assert!(checked.uses.contact_fields.contains("vip"));
}

// ----- fields -----

#[test]
fn an_unknown_field_suggests_the_closest_and_carries_its_span() {
    let seg = Segment {
        subject: Subject::People,
        condition: Condition::All {
            of: vec![Condition::Field {
                field: "contry".into(),
                test: Test::Is { value: text("DE") },
                span: span(),
            }],
            span: Span::default(),
        },
    };
    let found = problems(&seg);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].code, "field_unknown");
    assert_eq!(
        found[0].message,
        "`contry` is not a contact field; did you mean `country`?"
    );
    assert_eq!(found[0].path, "/where/of/0/field");
    assert_eq!(span_of(&found[0]), (20, 41, 2, 3));
}

#[test]
fn an_account_field_in_people_scope_points_to_account_where() {
    let seg = people(field("employees", json!({"op": "gt", "value": 50})));
    assert_eq!(
        problem(&seg),
        expect(
            "field_unknown",
            "`employees` is not a contact field but an account field; write `account where employees …`",
            "/where/field"
        )
    );
}

#[test]
fn a_field_nobody_has_says_to_create_it() {
    let seg = accounts(field("budget", json!({"op": "exists"})));
    assert_eq!(
        problem(&seg),
        expect(
            "field_unknown",
            "`budget` is not an account field; check the spelling, or create the field first",
            "/where/field"
        )
    );
}

#[test]
fn a_test_that_does_not_fit_the_type_lists_those_that_do() {
    let seg = accounts(field("employees", json!({"op": "contains", "value": "5"})));
    assert_eq!(
        problem(&seg),
        expect(
            "operator_invalid",
            "`contains` does not apply to `employees`, a number; the tests that apply are: is, is not, >, >=, <, <=, between, in, not in, exists, is empty",
            "/where/test/op"
        )
    );
}

#[test]
fn is_on_a_multi_picklist_suggests_has_any_of() {
    let seg = people(field("interests", json!({"op": "is", "value": "crm"})));
    assert_eq!(
        problem(&seg),
        expect(
            "operator_invalid",
            "`is` does not apply to `interests`, a multi-picklist; use `has any of`; the tests that apply are: has any of, has all of, has none of, exists, is empty",
            "/where/test/op"
        )
    );
}

#[test]
fn relative_times_do_not_apply_to_text() {
    let seg = people(field(
        "first_name",
        json!({"op": "within_last", "amount": {"amount": 3, "unit": "days"}}),
    ));
    assert_eq!(problem(&seg).0, "operator_invalid");
}

#[test]
fn a_number_written_as_text_says_how_to_write_it() {
    let seg = accounts(field("employees", json!({"op": "gt", "value": "50"})));
    assert_eq!(
        problem(&seg),
        expect(
            "value_type",
            "`employees` is a number; write a number such as 50, not \"50\"",
            "/where/test/value"
        )
    );
}

#[test]
fn a_boolean_written_as_text_is_refused() {
    let seg = people(field("vip", json!({"op": "is", "value": "yes"})));
    assert_eq!(
        problem(&seg),
        expect(
            "value_type",
            "`vip` is a yes/no field; write true or false, not \"yes\"",
            "/where/test/value"
        )
    );
}

#[test]
fn a_number_for_a_country_is_refused_at_its_place_in_the_list() {
    let seg = people(field("country", json!({"op": "in", "values": ["DE", 49]})));
    assert_eq!(
        problem(&seg),
        expect(
            "value_type",
            "`country` is a country; write a country name or code in double quotes, such as \"DE\", not 49",
            "/where/test/values/1"
        )
    );
}

#[test]
fn an_unknown_country_says_what_is_accepted() {
    let seg = people(field("country", json!({"op": "is", "value": "Narnia"})));
    assert_eq!(
        problem(&seg),
        expect(
            "value_invalid",
            "`country`: `Narnia` is not a country pitcrew recognises; use its name or ISO code, e.g. Germany or DE",
            "/where/test/value"
        )
    );
}

#[test]
fn a_picklist_typo_suggests_the_value_and_lists_them() {
    let seg = people(field(
        "lifecycle_stage",
        json!({"op": "is", "value": "custmer"}),
    ));
    assert_eq!(
        problem(&seg),
        expect(
            "value_invalid",
            "`custmer` is not a value of `lifecycle_stage`; did you mean `customer`? the values are: subscriber, lead, mql, sal, sql, opportunity, customer, other",
            "/where/test/value"
        )
    );
}

#[test]
fn a_multi_picklist_value_that_is_no_option_is_refused() {
    let seg = people(field(
        "interests",
        json!({"op": "has_any", "values": ["crm", "seo"]}),
    ));
    assert_eq!(
        problem(&seg),
        expect(
            "value_invalid",
            "`seo` is not a value of `interests`; the values are: analytics, automation, crm",
            "/where/test/values/1"
        )
    );
}

#[test]
fn an_empty_value_points_to_is_empty() {
    let seg = people(field("job_title", json!({"op": "is", "value": "  "})));
    assert_eq!(
        problem(&seg),
        expect(
            "value_invalid",
            "an empty value never matches; to find records without `job_title`, write `job_title is empty`",
            "/where/test/value"
        )
    );
}

#[test]
fn a_malformed_email_literal_says_what_is_wrong() {
    let seg = people(field(
        "email",
        json!({"op": "is", "value": "ada.example.com"}),
    ));
    assert_eq!(
        problem(&seg),
        expect(
            "value_invalid",
            "`email`: `ada.example.com` is not a valid email address: it has no @",
            "/where/test/value"
        )
    );
}

#[test]
fn an_impossible_date_is_refused() {
    let seg = people(field(
        "renewal_date",
        json!({"op": "lt", "value": "2026-02-30"}),
    ));
    assert_eq!(
        problem(&seg),
        expect(
            "date_invalid",
            "`2026-02-30` is not a date; write it as YYYY-MM-DD, such as \"2026-03-31\"",
            "/where/test/value"
        )
    );
}

#[test]
fn a_datetime_literal_must_be_a_date_or_an_instant() {
    let seg = people(field(
        "last_login",
        json!({"op": "gt", "value": "yesterday"}),
    ));
    assert_eq!(
        problem(&seg),
        expect(
            "date_invalid",
            "`yesterday` is neither a date nor a date and time; write a date as YYYY-MM-DD, such as \"2026-03-31\", or an RFC 3339 instant with a time zone, such as \"2026-03-31T09:30:00Z\"",
            "/where/test/value"
        )
    );
}

#[test]
fn a_range_that_runs_backwards_is_refused() {
    let seg = people(field(
        "lead_score",
        json!({"op": "between", "low": 100, "high": 10}),
    ));
    assert_eq!(
        problem(&seg),
        expect(
            "range_invalid",
            "the range runs backwards: 100 comes after 10; write `between 10 and 100`",
            "/where/test"
        )
    );
}

#[test]
fn a_date_range_that_runs_backwards_is_refused() {
    let seg = people(field(
        "renewal_date",
        json!({"op": "between", "low": "2026-12-31", "high": "2026-01-01"}),
    ));
    assert_eq!(problem(&seg).0, "range_invalid");
}

#[test]
fn a_zero_length_of_time_is_refused() {
    let seg = people(field(
        "last_login",
        json!({"op": "within_last", "amount": {"amount": 0, "unit": "days"}}),
    ));
    assert_eq!(
        problem(&seg),
        expect(
            "duration_invalid",
            "`0 days` is no time at all; write at least `1 day`",
            "/where/test/amount/amount"
        )
    );
}

#[test]
fn anniversaries_look_at_most_a_year_ahead() {
    let seg = people(field(
        "renewal_date",
        json!({"op": "anniversary_within_next", "days": 400}),
    ));
    assert_eq!(
        problem(&seg),
        expect(
            "duration_invalid",
            "`anniversary within next` looks at most 366 days ahead; write a number of days from 0 to 366, not 400",
            "/where/test/days"
        )
    );
    let today = people(field(
        "renewal_date",
        json!({"op": "anniversary_within_next", "days": 0}),
    ));
    passes(&today);
}

// ----- patterns -----

#[test]
fn a_pattern_that_does_not_compile_is_invalid() {
    let seg = people(field("email", json!({"op": "matches", "pattern": "(ab"})));
    assert_eq!(
        problem(&seg),
        expect(
            "pattern_invalid",
            "`(ab` is not a valid pattern: unclosed group",
            "/where/test/pattern"
        )
    );
}

#[test]
fn a_long_pattern_is_invalid() {
    let seg = people(field(
        "email",
        json!({"op": "matches", "pattern": "a".repeat(257)}),
    ));
    assert_eq!(
        problem(&seg),
        expect(
            "pattern_invalid",
            "the pattern is longer than 256 characters; shorten it",
            "/where/test/pattern"
        )
    );
}

#[test]
fn a_digit_class_escape_says_what_to_write_instead() {
    let seg = people(field(
        "phone",
        json!({"op": "matches", "pattern": "^\\+49\\d+"}),
    ));
    assert_eq!(
        problem(&seg),
        expect(
            "pattern_unsupported",
            "`\\d` is not supported; write `[0-9]` for a digit",
            "/where/test/pattern"
        )
    );
}

#[test]
fn flags_and_look_around_are_unsupported() {
    let seg = people(field(
        "company",
        json!({"op": "matches", "pattern": "(?i)acme"}),
    ));
    assert_eq!(
        problem(&seg),
        expect(
            "pattern_unsupported",
            "`(?` is not supported: no flags, non-capturing groups or look-around; use plain parentheses `( … )`, and write both cases where case should not matter, such as `[Nn]ews`",
            "/where/test/pattern"
        )
    );
}

#[test]
fn posix_classes_and_huge_counts_are_unsupported() {
    let posix = people(field(
        "company",
        json!({"op": "matches", "pattern": "[[:alpha:]]+"}),
    ));
    assert_eq!(
        problem(&posix),
        expect(
            "pattern_unsupported",
            "POSIX classes such as `[[:alpha:]]` are not supported; list the ranges instead, such as `[A-Za-z]`",
            "/where/test/pattern"
        )
    );
    let counted = people(field(
        "company",
        json!({"op": "matches", "pattern": "a{2,1001}"}),
    ));
    assert_eq!(
        problem(&counted),
        expect(
            "pattern_unsupported",
            "`{2,1001}` repeats more than 255 times; use a count of at most 255",
            "/where/test/pattern"
        )
    );
}

#[test]
fn escaped_punctuation_in_a_pattern_is_fine() {
    passes(&people(field(
        "email",
        json!({"op": "matches", "pattern": "@(acme|example)\\.(com|de)$"}),
    )));
}

// ----- event properties -----

#[test]
fn a_property_compared_with_text_and_a_number_in_one_list_is_refused() {
    let seg = people(did_where(
        "Order Completed",
        field("plan", json!({"op": "in", "values": ["pro", 3]})),
    ));
    assert_eq!(
        problem(&seg),
        expect(
            "value_type",
            "the values of `in` must all be of one type: \"pro\" is text but 3 is a number; write them all as text",
            "/where/where/test/values/1"
        )
    );
}

#[test]
fn ordering_a_property_needs_a_number() {
    let seg = people(did_where(
        "Order Completed",
        field("amount", json!({"op": "gt", "value": "100"})),
    ));
    assert_eq!(
        problem(&seg),
        expect(
            "value_type",
            "`>` compares numbers; write a number such as 100, not \"100\"",
            "/where/where/test/value"
        )
    );
}

#[test]
fn relative_times_do_not_apply_to_properties() {
    let seg = people(did_where(
        "Order Completed",
        field("plan", json!({"op": "has_any", "values": ["pro"]})),
    ));
    assert_eq!(
        problem(&seg),
        expect(
            "operator_invalid",
            "`has any of` does not apply to the event property `plan`; the tests that apply are: is, is not, contains, does not contain, starts with, ends with, matches, in, not in, exists, is empty, >, >=, <, <=, between",
            "/where/where/test/op"
        )
    );
}

#[test]
fn an_unseen_property_is_a_warning_with_a_suggestion() {
    let seg = people(did_where(
        "Order Completed",
        field("amont", json!({"op": "gt", "value": 100})),
    ));
    assert_eq!(
        warning(&seg),
        expect(
            "property_unknown",
            "no `amont` property has been seen on `Order Completed` events yet; did you mean `amount`?",
            "/where/where/field"
        )
    );
}

#[test]
fn property_tests_keep_their_literals_as_written() {
    let seg = people(did_where(
        "Order Completed",
        field("currency", json!({"op": "is", "value": "eur"})),
    ));
    let checked = passes(&seg);
    assert_eq!(checked.segment, seg);
}

// ----- events -----

#[test]
fn an_unseen_event_is_a_warning_with_a_suggestion() {
    let seg = people(did("Webinar Atended"));
    assert_eq!(
        warning(&seg),
        expect(
            "event_unknown",
            "no `Webinar Atended` event has been seen yet; did you mean `Webinar Attended`?",
            "/where/event"
        )
    );
}

#[test]
fn a_window_date_must_be_a_date_or_an_instant() {
    let seg = people(json!({"kind": "did", "event": "Signed Up",
        "count": {"op": "at_least", "times": 1},
        "window": {"window": "since", "from": "last monday"}}));
    assert_eq!(
        problem(&seg),
        expect(
            "date_invalid",
            "`last monday` is neither a date nor a date and time; write a date as YYYY-MM-DD, such as \"2026-03-31\", or an RFC 3339 instant with a time zone, such as \"2026-03-31T09:30:00Z\"",
            "/where/window/from"
        )
    );
}

#[test]
fn a_window_that_runs_backwards_is_refused() {
    let seg = people(json!({"kind": "did", "event": "Signed Up",
        "count": {"op": "at_least", "times": 1},
        "window": {"window": "between", "from": "2026-03-01", "to": "2026-01-01"}}));
    assert_eq!(
        problem(&seg),
        expect(
            "window_invalid",
            "the window runs backwards: it starts at `2026-03-01` and ends at `2026-01-01`; put the earlier time first",
            "/where/window"
        )
    );
}

#[test]
fn a_window_of_no_time_is_refused() {
    let seg = people(json!({"kind": "did", "event": "Signed Up",
        "count": {"op": "at_least", "times": 1},
        "window": {"window": "last", "amount": {"amount": 0, "unit": "weeks"}}}));
    assert_eq!(
        problem(&seg),
        expect(
            "duration_invalid",
            "`0 weeks` is no time at all; write at least `1 week`",
            "/where/window/amount/amount"
        )
    );
}

#[test]
fn window_instants_are_normalised() {
    let seg = people(json!({"kind": "did", "event": "Signed Up",
        "count": {"op": "at_least", "times": 1},
        "window": {"window": "between", "from": "2026-01-01T10:00:00+01:00", "to": "2026-02-01"}}));
    let checked = passes(&seg);
    let Condition::Did { window, .. } = checked.segment.condition else {
        panic!("expected did");
    };
    assert_eq!(
        window,
        pitcrew_filter::ast::Window::Between {
            from: "2026-01-01T09:00:00.000Z".into(),
            to: "2026-02-01".into()
        }
    );
}

#[test]
fn an_aggregate_is_compared_with_numbers_only() {
    let aggregate = |test: Value| {
        people(
            json!({"kind": "aggregate", "function": "sum", "property": "amount",
            "event": "Order Completed", "window": {"window": "ever"}, "test": test}),
        )
    };
    assert_eq!(
        problem(&aggregate(json!({"op": "contains", "value": "1"}))),
        expect(
            "operator_invalid",
            "`contains` does not apply to `sum of amount`, a number; the tests that apply are: is, is not, >, >=, <, <=, between",
            "/where/test/op"
        )
    );
    assert_eq!(
        problem(&aggregate(json!({"op": "gte", "value": "100"}))),
        expect(
            "value_type",
            "`sum of amount` is a number; write a number such as 100, not \"100\"",
            "/where/test/value"
        )
    );
    passes(&aggregate(json!({"op": "between", "low": 10, "high": 100})));
}

#[test]
fn an_aggregate_of_an_unseen_property_is_a_warning() {
    let seg = people(
        json!({"kind": "aggregate", "function": "average", "property": "total",
        "event": "Order Completed", "window": {"window": "ever"},
        "test": {"op": "gt", "value": 10}}),
    );
    assert_eq!(
        warning(&seg),
        expect(
            "property_unknown",
            "no `total` property has been seen on `Order Completed` events yet; the properties seen are: amount, currency, plan",
            "/where/property"
        )
    );
}

#[test]
fn an_occurrence_takes_time_tests_and_normalises_instants() {
    let occurrence = |test: Value| {
        people(json!({"kind": "occurrence", "which": "first", "event": "Signed Up", "test": test}))
    };
    assert_eq!(
        problem(&occurrence(json!({"op": "contains", "value": "2026"}))),
        expect(
            "operator_invalid",
            "`contains` does not apply to `first \"Signed Up\"`, a point in time; the tests that apply are: within last, more than … ago, within next, is, is not, >, >=, <, <=, between",
            "/where/test/op"
        )
    );
    assert_eq!(
        problem(&occurrence(json!({"op": "gt", "value": 5}))),
        expect(
            "value_type",
            "`first \"Signed Up\"` is a point in time; write a date such as \"2026-03-31\" or an instant such as \"2026-03-31T09:30:00Z\", not 5",
            "/where/test/value"
        )
    );
    let checked = passes(&occurrence(
        json!({"op": "lt", "value": "2026-03-01T10:30:00+01:00"}),
    ));
    let Condition::Occurrence { test, .. } = checked.segment.condition else {
        panic!("expected occurrence");
    };
    assert_eq!(
        test,
        Test::Lt {
            value: text("2026-03-01T09:30:00.000Z")
        }
    );
}

#[test]
fn a_sequence_needs_some_time_to_follow_up() {
    let seg = people(
        json!({"kind": "sequence", "first": "Signed Up", "then": "Order Completed",
        "negated": true, "within": {"amount": 0, "unit": "hours"}, "window": {"window": "ever"}}),
    );
    assert_eq!(
        problem(&seg),
        expect(
            "duration_invalid",
            "`0 hours` is no time at all; write at least `1 hour`",
            "/where/within/amount"
        )
    );
}

// ----- segments -----

#[test]
fn an_unknown_segment_suggests_the_closest() {
    let seg = people(json!({"kind": "in_segment", "segment": "Employes"}));
    assert_eq!(
        problem(&seg),
        expect(
            "segment_unknown",
            "there is no segment named `Employes`; did you mean `Employees`?",
            "/where/segment"
        )
    );
}

#[test]
fn an_accounts_segment_in_people_scope_points_to_account_where() {
    let seg = people(json!({"kind": "in_segment", "segment": "Key accounts"}));
    assert_eq!(
        problem(&seg),
        expect(
            "segment_subject",
            "`Key accounts` is a segment of accounts, but this condition is about people; write `account where in segment \"Key accounts\"`",
            "/where/segment"
        )
    );
}

#[test]
fn a_people_segment_in_accounts_scope_points_to_any_member() {
    let seg = accounts(json!({"kind": "not", "condition":
        {"kind": "in_segment", "segment": "Employees"}}));
    assert_eq!(
        problem(&seg),
        expect(
            "segment_subject",
            "`Employees` is a segment of people, but this condition is about accounts; write `any member where in segment \"Employees\"`",
            "/where/condition/segment"
        )
    );
}

#[test]
fn a_segment_cannot_include_itself() {
    let seg = people(json!({"kind": "in_segment", "segment": "Engaged"}));
    let found = check(&seg, &schema(), Some("Engaged")).expect_err("a cycle");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].code, "segment_cycle");
    assert_eq!(
        found[0].message,
        "`Engaged` → `Engaged`: a segment cannot include itself, directly or through other segments; remove `in segment \"Engaged\"`"
    );
    assert_eq!(found[0].path, "/where/segment");
}

#[test]
fn a_cycle_through_saved_segments_is_shown() {
    let mut schema = schema();
    schema.segments.push(SegmentInfo {
        id: 4,
        name: "Champions".into(),
        subject: Subject::People,
        definition: Some(people(all(vec![
            json!({"kind": "in_segment", "segment": "Employees"}),
            json!({"kind": "not", "condition": {"kind": "in_segment", "segment": "Fans"}}),
        ]))),
    });
    schema.segments.push(SegmentInfo {
        id: 5,
        name: "Fans".into(),
        subject: Subject::People,
        definition: Some(people(json!({"kind": "in_segment", "segment": "Engaged"}))),
    });
    let seg = people(all(vec![
        did("Signed Up"),
        json!({"kind": "in_segment", "segment": "Champions"}),
    ]));
    let found = check(&seg, &schema, Some("Engaged")).expect_err("a cycle");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].code, "segment_cycle");
    assert_eq!(
        found[0].message,
        "`Engaged` → `Champions` → `Fans` → `Engaged`: a segment cannot include itself, directly or through other segments; remove `in segment \"Champions\"`"
    );
    assert_eq!(found[0].path, "/where/of/1/segment");
    // Saved under another name, the same definition is fine.
    assert!(check(&seg, &schema, Some("Loyal")).is_ok());
}

// ----- consent -----

#[test]
fn an_unknown_topic_suggests_the_closest() {
    let seg = people(json!({"kind": "consent", "state": "subscribed", "topic": "Newsleter"}));
    assert_eq!(
        problem(&seg),
        expect(
            "topic_unknown",
            "there is no subscription topic `Newsleter`; did you mean `Newsletter`?",
            "/where/topic"
        )
    );
}

#[test]
fn a_workspace_without_topics_says_so() {
    let seg = people(json!({"kind": "consent", "state": "unsubscribed", "topic": "Events"}));
    let schema = Schema {
        topics: Vec::new(),
        ..schema()
    };
    let found = check(&seg, &schema, None).expect_err("no topics");
    assert_eq!(found[0].code, "topic_unknown");
    assert_eq!(
        found[0].message,
        "there is no subscription topic `Events`; this workspace has no subscription topics yet, so create one first"
    );
}

#[test]
fn an_unknown_channel_lists_the_channels() {
    let seg = people(json!({"kind": "consent", "state": "subscribed",
        "topic": "Newsletter", "channel": "fax"}));
    assert_eq!(
        problem(&seg),
        expect(
            "channel_unknown",
            "`fax` is not a channel; the channels are: email, sms, push",
            "/where/channel"
        )
    );
}

// ----- depth and collecting -----

/// `levels` conditions, each inside the one before, built directly (the
/// JSON reader refuses such depths on its own).
fn nested(levels: usize) -> Segment {
    let mut node = Condition::Field {
        field: "vip".into(),
        test: Test::Is {
            value: Literal::Bool(true),
        },
        span: Span::default(),
    };
    for _ in 1..levels {
        node = Condition::Not {
            condition: Box::new(node),
            span: Span::default(),
        };
    }
    Segment {
        subject: Subject::People,
        condition: node,
    }
}

#[test]
fn nesting_deeper_than_64_is_refused_once() {
    let found = problems(&nested(70));
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].code, "too_deep");
    assert_eq!(
        found[0].message,
        "conditions are nested more than 64 levels deep; flatten the groups, or save part of the condition as a segment and use `in segment`"
    );
    assert_eq!(found[0].path, format!("/where{}", "/condition".repeat(64)));
}

#[test]
fn sixty_four_levels_are_fine() {
    passes(&nested(64));
}

#[test]
fn every_problem_is_reported_not_just_the_first() {
    let seg = people(all(vec![
        field("contry", json!({"op": "is", "value": "DE"})),
        field("lead_score", json!({"op": "gt", "value": "high"})),
        json!({"kind": "in_segment", "segment": "Nobody"}),
        json!({"kind": "consent", "state": "subscribed", "topic": "Newsletter", "channel": "fax"}),
    ]));
    let codes: Vec<(&str, String)> = problems(&seg)
        .into_iter()
        .map(|p| (p.code, p.path))
        .collect();
    assert_eq!(
        codes,
        vec![
            ("field_unknown", "/where/of/0/field".to_string()),
            ("value_type", "/where/of/1/test/value".to_string()),
            ("segment_unknown", "/where/of/2/segment".to_string()),
            ("channel_unknown", "/where/of/3/channel".to_string()),
        ]
    );
}

#[test]
fn warnings_do_not_stop_a_definition() {
    let seg = people(all(vec![
        did("Demo Requested"),
        did_where("Webinar Attended", field("topic", json!({"op": "exists"}))),
    ]));
    let checked = passes(&seg);
    let codes: Vec<&str> = checked.warnings.iter().map(|w| w.code).collect();
    assert_eq!(codes, ["event_unknown", "property_unknown"]);
}

// ----- normalisation -----

#[test]
fn a_country_name_becomes_its_iso_code() {
    let seg = people(field(
        "country",
        json!({"op": "in", "values": ["germany", "Austria"]}),
    ));
    assert_eq!(
        checked_test(&seg),
        Test::In {
            values: vec![text("DE"), text("AT")]
        }
    );
}

#[test]
fn a_picklist_label_becomes_its_value() {
    let seg = people(field(
        "lifecycle_stage",
        json!({"op": "is_not", "value": "Marketing qualified lead"}),
    ));
    assert_eq!(checked_test(&seg), Test::IsNot { value: text("mql") });
}

#[test]
fn an_email_is_lowercased_but_contains_keeps_its_text() {
    let is = people(field(
        "email",
        json!({"op": "is", "value": " Ada@Example.COM"}),
    ));
    assert_eq!(
        checked_test(&is),
        Test::Is {
            value: text("ada@example.com")
        }
    );
    let contains = people(field(
        "email",
        json!({"op": "ends_with", "value": "@Example.COM"}),
    ));
    assert_eq!(
        checked_test(&contains),
        Test::EndsWith {
            value: "@Example.COM".into()
        }
    );
}

#[test]
fn phones_and_web_addresses_are_stored_forms() {
    let phone = people(field(
        "phone",
        json!({"op": "is", "value": "+49 (0)30 123456"}),
    ));
    assert_eq!(
        checked_test(&phone),
        Test::Is {
            value: text("+4930123456")
        }
    );
    let site = accounts(field(
        "website",
        json!({"op": "is", "value": "Example.com/Pricing"}),
    ));
    assert_eq!(
        checked_test(&site),
        Test::Is {
            value: text("https://example.com/Pricing")
        }
    );
}

#[test]
fn multi_picklist_labels_become_values() {
    let seg = people(field(
        "interests",
        json!({"op": "has_all", "values": ["Marketing automation", "CRM"]}),
    ));
    assert_eq!(
        checked_test(&seg),
        Test::HasAll {
            values: vec!["automation".into(), "crm".into()]
        }
    );
}

#[test]
fn datetime_literals_keep_dates_and_canonicalise_instants() {
    let seg = people(field(
        "last_login",
        json!({"op": "between", "low": "2026-01-01", "high": "2026-02-28T23:30:00-02:00"}),
    ));
    assert_eq!(
        checked_test(&seg),
        Test::Between {
            low: text("2026-01-01"),
            high: text("2026-03-01T01:30:00.000Z")
        }
    );
}

#[test]
fn spans_survive_normalisation() {
    let seg = Segment {
        subject: Subject::People,
        condition: Condition::Field {
            field: "country".into(),
            test: Test::Is {
                value: text("germany"),
            },
            span: span(),
        },
    };
    let checked = passes(&seg);
    assert_eq!(checked.segment.condition.span().line, 2);
    assert_eq!(checked.segment.condition.span().start, 20);
}

// ----- uses -----

#[test]
fn everything_a_definition_uses_is_recorded() {
    let seg = people(all(vec![
        field("lifecycle_stage", json!({"op": "is", "value": "mql"})),
        json!({"kind": "account", "condition": field("industry", json!({"op": "exists"}))}),
        did("Webinar Attended"),
        json!({"kind": "sequence", "first": "Signed Up", "then": "Order Completed",
            "negated": false, "within": {"amount": 1, "unit": "days"}, "window": {"window": "ever"}}),
        json!({"kind": "in_segment", "segment": "Engaged"}),
        json!({"kind": "consent", "state": "subscribed", "topic": "Newsletter", "channel": "email"}),
    ]));
    let uses = passes(&seg).uses;
    let names = |set: &std::collections::BTreeSet<String>| set.iter().cloned().collect::<Vec<_>>();
    assert_eq!(names(&uses.contact_fields), ["lifecycle_stage"]);
    assert_eq!(names(&uses.account_fields), ["industry"]);
    assert_eq!(
        names(&uses.events),
        ["Order Completed", "Signed Up", "Webinar Attended"]
    );
    assert_eq!(names(&uses.segments), ["Engaged"]);
    assert_eq!(names(&uses.topics), ["Newsletter"]);
}
