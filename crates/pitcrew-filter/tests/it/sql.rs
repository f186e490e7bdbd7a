//! The SQL compiler: the generated SQL for both engines, the quoting of
//! awkward text, and (in `run`) every node kind executed on SQLite and
//! PostgreSQL against the same data with the members the semantics demand.

mod run;
mod tree;

use pitcrew_filter::ast::{
    Aggregate, Count, CountOp, Literal, Occurrence, Quantifier, Segment, Test, Window,
};
use pitcrew_filter::sql::{Dialect, condition, count, members};
use tree::*;

const BOTH: [Dialect; 2] = [Dialect::Sqlite, Dialect::Postgres];

fn sql(segment: &Segment, dialect: Dialect) -> String {
    members(segment, &schema(), &clock(), dialect, 1).expect("compiles")
}

fn problem(segment: &Segment) -> &'static str {
    members(segment, &schema(), &clock(), Dialect::Sqlite, 1)
        .expect_err("refused")
        .code
}

#[test]
fn a_text_field_test_guards_against_a_missing_value_on_sqlite() {
    let s = people(field("country", is(text("DE"))));
    assert_eq!(
        sql(&s, Dialect::Sqlite),
        "SELECT c0.id FROM contacts AS c0 WHERE c0.workspace_id = 1 AND \
         (json_extract(c0.data, '$.\"country\"') IS NOT NULL AND json_extract(c0.data, '$.\"country\"') = 'DE')"
    );
}

#[test]
fn a_negated_text_field_test_is_not_of_the_positive_test_on_postgres() {
    let s = people(field("country", Test::IsNot { value: text("DE") }));
    assert_eq!(
        sql(&s, Dialect::Postgres),
        "SELECT c0.id FROM contacts AS c0 WHERE c0.workspace_id = 1 AND \
         NOT (c0.data->>'country' IS NOT NULL AND c0.data->>'country' = 'DE')"
    );
}

#[test]
fn count_selects_the_number_of_members() {
    let s = accounts(field("employees", Test::Gt { value: num(100.0) }));
    assert_eq!(
        count(&s, &schema(), &clock(), Dialect::Postgres, 7).expect("compiles"),
        "SELECT COUNT(*) AS n FROM accounts AS a0 WHERE a0.workspace_id = 7 AND \
         (a0.data->>'employees' IS NOT NULL AND (a0.data->>'employees')::float8 > 100)"
    );
}

#[test]
fn did_at_least_once_is_an_exists_on_postgres_and_an_in_set_on_sqlite() {
    let s = people(did("Order Completed", Count::ONCE, last_days(30), None));
    let lo = NOW - 30 * DAY;
    assert_eq!(
        sql(&s, Dialect::Postgres),
        format!(
            "SELECT c0.id FROM contacts AS c0 WHERE c0.workspace_id = 1 AND \
             EXISTS (SELECT 1 FROM events AS e1 WHERE e1.workspace_id = 1 AND e1.contact_id = c0.id \
             AND e1.name = 'Order Completed' AND e1.at BETWEEN {lo} AND {NOW})"
        )
    );
    assert_eq!(
        sql(&s, Dialect::Sqlite),
        format!(
            "SELECT c0.id FROM contacts AS c0 WHERE c0.workspace_id = 1 AND \
             c0.id IN (SELECT e1.contact_id FROM events AS e1 WHERE e1.workspace_id = 1 AND e1.contact_id IS NOT NULL \
             AND e1.name = 'Order Completed' AND e1.at BETWEEN {lo} AND {NOW})"
        )
    );
}

#[test]
fn did_at_least_n_times_groups_the_events_per_person() {
    let filter = field("amount", Test::Gt { value: num(10.0) });
    let s = people(did(
        "Order Completed",
        Count {
            op: CountOp::AtLeast,
            times: 3,
        },
        Window::Ever,
        Some(filter),
    ));
    assert_eq!(
        sql(&s, Dialect::Sqlite),
        "SELECT c0.id FROM contacts AS c0 WHERE c0.workspace_id = 1 AND \
         c0.id IN (SELECT e1.contact_id FROM events AS e1 WHERE e1.workspace_id = 1 AND e1.contact_id IS NOT NULL \
         AND e1.name = 'Order Completed' AND CASE WHEN json_type(e1.properties, '$.\"amount\"') IN ('integer', 'real') \
         THEN CAST(json_extract(e1.properties, '$.\"amount\"') AS REAL) > 10 ELSE FALSE END \
         GROUP BY +e1.contact_id HAVING COUNT(*) >= 3)"
    );
    assert_eq!(
        sql(&s, Dialect::Postgres),
        "SELECT c0.id FROM contacts AS c0 WHERE c0.workspace_id = 1 AND \
         EXISTS (SELECT 1 FROM (SELECT e1.contact_id FROM events AS e1 WHERE e1.workspace_id = 1 AND e1.contact_id IS NOT NULL \
         AND e1.name = 'Order Completed' AND CASE WHEN jsonb_typeof(e1.properties->'amount') = 'number' \
         THEN (e1.properties->>'amount')::float8 > 10 ELSE FALSE END \
         GROUP BY e1.contact_id HAVING COUNT(*) >= 3) AS e1_by_contact WHERE e1_by_contact.contact_id = c0.id)"
    );
}

#[test]
fn did_not_is_the_complement_of_did() {
    let s = people(did("Signed Up", Count::NEVER, Window::Ever, None));
    assert!(sql(&s, Dialect::Postgres).ends_with(
        "AND NOT EXISTS (SELECT 1 FROM events AS e1 WHERE e1.workspace_id = 1 AND e1.contact_id = c0.id AND e1.name = 'Signed Up')"
    ));
    assert!(sql(&s, Dialect::Sqlite).ends_with(
        "AND c0.id NOT IN (SELECT e1.contact_id FROM events AS e1 WHERE e1.workspace_id = 1 AND e1.contact_id IS NOT NULL AND e1.name = 'Signed Up')"
    ));
}

#[test]
fn at_most_n_times_is_everyone_but_those_with_more() {
    let s = people(did(
        "X",
        Count {
            op: CountOp::AtMost,
            times: 2,
        },
        Window::Ever,
        None,
    ));
    let lite = sql(&s, Dialect::Sqlite);
    assert!(
        lite.contains("AND c0.id NOT IN (SELECT e1.contact_id FROM events AS e1"),
        "{lite}"
    );
    assert!(
        lite.ends_with("GROUP BY +e1.contact_id HAVING COUNT(*) > 2)"),
        "{lite}"
    );
    let pg = sql(&s, Dialect::Postgres);
    assert!(
        pg.contains("AND NOT EXISTS (SELECT 1 FROM (SELECT e1.contact_id"),
        "{pg}"
    );
    assert!(pg.contains("HAVING COUNT(*) > 2) AS e1_by_contact"), "{pg}");
    let exactly = people(did(
        "X",
        Count {
            op: CountOp::Exactly,
            times: 2,
        },
        Window::Ever,
        None,
    ));
    assert!(sql(&exactly, Dialect::Sqlite).ends_with("HAVING COUNT(*) = 2)"));
}

#[test]
fn account_and_members_nest_with_their_own_aliases() {
    let s = people(account(members_where(
        Quantifier::All,
        field("country", is(text("DE"))),
    )));
    assert_eq!(
        sql(&s, Dialect::Postgres),
        "SELECT c0.id FROM contacts AS c0 WHERE c0.workspace_id = 1 AND \
         EXISTS (SELECT 1 FROM accounts AS a1 WHERE a1.workspace_id = 1 AND a1.id = c0.account_id AND \
         NOT EXISTS (SELECT 1 FROM contacts AS c2 WHERE c2.workspace_id = 1 AND c2.account_id = a1.id AND \
         NOT (c2.data->>'country' IS NOT NULL AND c2.data->>'country' = 'DE')))"
    );
}

#[test]
fn a_static_list_is_a_lookup_of_its_stored_members() {
    let s = people(in_segment("Employees"));
    assert!(sql(&s, Dialect::Postgres).ends_with(
        "EXISTS (SELECT 1 FROM segment_members AS sm1 WHERE sm1.workspace_id = 1 AND sm1.member_id = c0.id AND sm1.segment_id = 7)"
    ));
    assert!(sql(&s, Dialect::Sqlite).ends_with(
        "c0.id IN (SELECT sm1.member_id FROM segment_members AS sm1 WHERE sm1.workspace_id = 1 AND sm1.segment_id = 7)"
    ));
}

#[test]
fn a_dynamic_segment_is_inlined_on_the_same_record() {
    let s = people(in_segment("German VIPs"));
    let out = sql(&s, Dialect::Postgres);
    assert!(out.contains("c0.data->>'country' = 'DE'"), "{out}");
    assert!(out.contains("(c0.data->'vip') = 'true'::jsonb"), "{out}");
    assert!(!out.contains("segment_members"), "{out}");
}

#[test]
fn a_segment_that_refers_to_itself_is_refused_not_overflowed() {
    let s = people(in_segment("Loop A"));
    assert_eq!(problem(&s), "segment_cycle");
}

#[test]
fn unknown_fields_and_segments_are_problems() {
    let p = members(
        &people(all(vec![
            field("country", Test::Exists),
            field("nope", Test::Exists),
        ])),
        &schema(),
        &clock(),
        Dialect::Sqlite,
        1,
    )
    .expect_err("refused");
    assert_eq!(p.code, "field_unknown");
    assert_eq!(p.path, "/where/of/1");
    assert_eq!(problem(&people(in_segment("Nope"))), "segment_unknown");
}

#[test]
fn a_problem_inside_a_referenced_segment_is_reported_at_the_reference() {
    let s = people(all(vec![
        field("country", Test::Exists),
        in_segment("Broken"),
    ]));
    let p = members(&s, &schema(), &clock(), Dialect::Postgres, 1).expect_err("refused");
    assert_eq!(p.code, "field_unknown");
    assert_eq!(p.path, "/where/of/1");
    assert!(
        p.message.starts_with("in segment \"Broken\": "),
        "{}",
        p.message
    );
}

#[test]
fn nodes_out_of_their_scope_are_problems() {
    assert_eq!(
        problem(&accounts(did("X", Count::ONCE, Window::Ever, None))),
        "node_out_of_scope"
    );
    assert_eq!(
        problem(&people(members_where(Quantifier::Any, all(vec![])))),
        "node_out_of_scope"
    );
}

#[test]
fn consent_reads_the_current_state_per_topic_and_channel() {
    let s = people(subscribed("Newsletter", Some("email")));
    assert!(sql(&s, Dialect::Postgres).ends_with(
        "EXISTS (SELECT 1 FROM consent_state AS cs1 WHERE cs1.workspace_id = 1 AND cs1.contact_id = c0.id \
         AND cs1.topic = 'Newsletter' AND cs1.channel = 'email' AND cs1.subscribed)"
    ));
    assert!(sql(&s, Dialect::Sqlite).ends_with(
        "c0.id IN (SELECT cs1.contact_id FROM consent_state AS cs1 WHERE cs1.workspace_id = 1 \
         AND cs1.topic = 'Newsletter' AND cs1.channel = 'email' AND cs1.subscribed)"
    ));
}

#[test]
fn contains_ignores_ascii_case_only_on_postgres() {
    let s = people(field(
        "first_name",
        Test::Contains {
            value: "MÜller".into(),
        },
    ));
    assert!(sql(&s, Dialect::Postgres).contains(
        "translate(c0.data->>'first_name', 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz') LIKE '%mÜller%' ESCAPE E'\\\\'"
    ));
    assert!(
        sql(&s, Dialect::Sqlite)
            .contains("json_extract(c0.data, '$.\"first_name\"') LIKE '%MÜller%' ESCAPE '\\'")
    );
}

#[test]
fn matches_lets_dot_match_a_line_break_on_both_engines() {
    let s = people(field(
        "first_name",
        Test::Matches {
            pattern: "^a.b$".into(),
        },
    ));
    assert!(sql(&s, Dialect::Sqlite).contains("REGEXP '(?s)^a.b$'"));
    assert!(sql(&s, Dialect::Postgres).contains("c0.data->>'first_name' ~ '^a.b$'"));
}

#[test]
fn nasty_text_is_escaped_for_each_engine() {
    let nasty = "O'Brien \\ \"50%_\" \n ';DROP TABLE contacts;--";
    let s = people(field("first_name", is(text(nasty))));
    let lite = sql(&s, Dialect::Sqlite);
    assert!(
        lite.contains("= 'O''Brien \\ \"50%_\" \n '';DROP TABLE contacts;--'"),
        "{lite}"
    );
    let pg = sql(&s, Dialect::Postgres);
    assert!(
        pg.contains("= E'O\\'Brien \\\\ \"50%_\" \\n \\';DROP TABLE contacts;--'"),
        "{pg}"
    );
}

#[test]
fn nasty_like_needles_escape_their_wildcards() {
    let s = people(field(
        "first_name",
        Test::StartsWith {
            value: "50%_\\'".into(),
        },
    ));
    assert!(sql(&s, Dialect::Sqlite).contains("LIKE '50\\%\\_\\\\''%' ESCAPE '\\'"));
    assert!(sql(&s, Dialect::Postgres).contains("LIKE E'50\\\\%\\\\_\\\\\\\\\\'%' ESCAPE E'\\\\'"));
}

#[test]
fn a_nul_character_in_text_is_refused() {
    assert_eq!(
        problem(&people(field("first_name", is(text("a\0b"))))),
        "text_invalid"
    );
    assert_eq!(
        problem(&people(did("a\0", Count::ONCE, Window::Ever, None))),
        "text_invalid"
    );
}

#[test]
fn awkward_property_keys_are_quoted_in_paths() {
    let filter = field("we\"ird\\key'", Test::Exists);
    let s = people(did("X", Count::ONCE, Window::Ever, Some(filter)));
    assert!(
        sql(&s, Dialect::Sqlite)
            .contains("json_extract(e1.properties, '$.\"we\\\"ird\\\\key''\"') IS NOT NULL")
    );
    assert!(
        sql(&s, Dialect::Postgres).contains("e1.properties->>E'we\"ird\\\\key\\'' IS NOT NULL")
    );
}

#[test]
fn event_property_tests_match_only_json_of_the_literals_type() {
    let filter = any(vec![
        field("plan", is(text("pro"))),
        field("coupon", is(Literal::Bool(true))),
    ]);
    let s = people(did("X", Count::ONCE, Window::Ever, Some(filter)));
    let pg = sql(&s, Dialect::Postgres);
    assert!(pg.contains("CASE WHEN jsonb_typeof(e1.properties->'plan') = 'string' THEN e1.properties->>'plan' = 'pro' ELSE FALSE END"), "{pg}");
    assert!(pg.contains("CASE WHEN jsonb_typeof(e1.properties->'coupon') = 'boolean' THEN (e1.properties->'coupon') = 'true'::jsonb ELSE FALSE END"), "{pg}");
    let lite = sql(&s, Dialect::Sqlite);
    assert!(
        lite.contains("CASE WHEN json_type(e1.properties, '$.\"plan\"') = 'text' THEN"),
        "{lite}"
    );
    assert!(lite.contains("CASE WHEN json_type(e1.properties, '$.\"coupon\"') IN ('true', 'false') THEN json_extract(e1.properties, '$.\"coupon\"') = 1 ELSE FALSE END"), "{lite}");
}

#[test]
fn multi_picklists_test_array_membership() {
    let s = people(field(
        "interests",
        Test::HasAny {
            values: vec!["golf".into(), "chess".into()],
        },
    ));
    assert!(sql(&s, Dialect::Postgres).ends_with(
        "CASE WHEN jsonb_typeof(c0.data->'interests') = 'array' THEN (c0.data->'interests') ?| ARRAY['chess', 'golf'] ELSE FALSE END"
    ));
    assert!(sql(&s, Dialect::Sqlite).ends_with(
        "CASE WHEN json_type(c0.data, '$.\"interests\"') = 'array' THEN EXISTS (SELECT 1 FROM json_each(c0.data, '$.\"interests\"') AS j1 WHERE j1.value IN ('chess', 'golf')) ELSE FALSE END"
    ));
}

#[test]
fn datetime_columns_compare_milliseconds_and_datetime_fields_compare_text() {
    let s = people(all(vec![
        field(
            "created_at",
            Test::Gte {
                value: text("2026-01-01"),
            },
        ),
        field(
            "trial_ends_at",
            Test::Lt {
                value: text("2026-01-01"),
            },
        ),
    ]));
    let out = sql(&s, Dialect::Sqlite);
    assert!(out.contains("c0.created_at >= 1767225600000"), "{out}");
    assert!(
        out.contains("json_extract(c0.data, '$.\"trial_ends_at\"') <= '2025-12-31T23:59:59.999Z'"),
        "{out}"
    );
}

#[test]
fn date_windows_use_the_clocks_time_zone() {
    let clock = pitcrew_filter::Clock::new(
        NOW,
        pitcrew_filter::time::zone("Europe/Berlin").expect("zone"),
    );
    let s = people(did(
        "X",
        Count::ONCE,
        Window::Between {
            from: "2026-01-01".into(),
            to: "2026-01-31".into(),
        },
        None,
    ));
    let out = members(&s, &schema(), &clock, Dialect::Sqlite, 1).expect("compiles");
    // 2025-12-31T23:00:00.000Z to 2026-01-31T22:59:59.999Z
    assert!(
        out.contains("e1.at BETWEEN 1767222000000 AND 1769900399999"),
        "{out}"
    );
}

#[test]
fn aggregates_test_each_persons_group_of_events() {
    let avg = people(aggregate(
        Aggregate::Average,
        "amount",
        "Order Completed",
        Test::Gt { value: num(5.0) },
    ));
    let out = sql(&avg, Dialect::Postgres);
    assert!(out.contains(
        "GROUP BY e1.contact_id HAVING COALESCE(AVG(CASE WHEN jsonb_typeof(e1.properties->'amount') = 'number' \
         THEN (e1.properties->>'amount')::float8 END) > 5.000000005, FALSE)"
    ), "{out}");
    let distinct = people(aggregate(
        Aggregate::DistinctCount,
        "sku",
        "Order Completed",
        is(num(2.0)),
    ));
    let out = sql(&distinct, Dialect::Sqlite);
    assert!(out.contains(
        "HAVING COUNT(DISTINCT CASE WHEN json_type(e1.properties, '$.\"sku\"') IN ('text', 'integer', 'real') \
         THEN json_extract(e1.properties, '$.\"sku\"') END) = 2)"
    ), "{out}");
}

#[test]
fn a_sum_that_holds_for_nothing_includes_people_without_the_event() {
    // A sum over no events is 0, and 0 < 20: people without orders belong.
    let s = people(aggregate(
        Aggregate::Sum,
        "amount",
        "Order Completed",
        Test::Lt { value: num(20.0) },
    ));
    let out = sql(&s, Dialect::Sqlite);
    assert!(
        out.contains("AND c0.id NOT IN (SELECT e1.contact_id FROM events AS e1"),
        "{out}"
    );
    assert!(out.ends_with(
        "HAVING NOT (COALESCE(SUM(CASE WHEN json_type(e1.properties, '$.\"amount\"') IN ('integer', 'real') \
         THEN CAST(json_extract(e1.properties, '$.\"amount\"') AS REAL) END), 0) < 19.99999998))"
    ), "{out}");
    let more = people(aggregate(
        Aggregate::Sum,
        "amount",
        "Order Completed",
        Test::Gt { value: num(20.0) },
    ));
    assert!(
        sql(&more, Dialect::Postgres).contains("AND EXISTS (SELECT 1 FROM (SELECT e1.contact_id")
    );
}

#[test]
fn first_and_last_are_the_earliest_and_latest_time_per_person() {
    let first = people(occurrence(
        Occurrence::First,
        "Signed Up",
        Test::WithinLast { amount: days(30) },
    ));
    assert_eq!(
        sql(&first, Dialect::Sqlite),
        format!(
            "SELECT c0.id FROM contacts AS c0 WHERE c0.workspace_id = 1 AND \
             c0.id IN (SELECT e1.contact_id FROM events AS e1 WHERE e1.workspace_id = 1 AND e1.contact_id IS NOT NULL \
             AND e1.name = 'Signed Up' GROUP BY +e1.contact_id HAVING MIN(e1.at) BETWEEN {} AND {NOW})",
            NOW - 30 * DAY
        )
    );
    let last = people(occurrence(
        Occurrence::Last,
        "Signed Up",
        Test::IsNot {
            value: text("2026-01-01"),
        },
    ));
    let out = sql(&last, Dialect::Postgres);
    assert!(
        out.contains("AND NOT EXISTS (SELECT 1 FROM (SELECT e1.contact_id"),
        "{out}"
    );
    assert!(
        out.contains("HAVING MAX(e1.at) BETWEEN 1767225600000 AND 1767311999999)"),
        "{out}"
    );
}

#[test]
fn a_sequence_looks_for_the_follow_up_after_each_first_event() {
    let s = people(sequence(
        "Trial Started",
        "Trial Converted",
        true,
        days(1),
        last_days(7),
    ));
    assert_eq!(
        sql(&s, Dialect::Postgres),
        format!(
            "SELECT c0.id FROM contacts AS c0 WHERE c0.workspace_id = 1 AND \
             EXISTS (SELECT 1 FROM events AS e1 WHERE e1.workspace_id = 1 AND e1.contact_id = c0.id AND e1.name = 'Trial Started' \
             AND e1.at BETWEEN {} AND {} AND NOT EXISTS (SELECT 1 FROM events AS e2 WHERE e2.workspace_id = 1 \
             AND e2.contact_id = e1.contact_id AND e2.name = 'Trial Converted' AND e2.at > e1.at AND e2.at <= e1.at + 86400000))",
            NOW - 7 * DAY,
            NOW - DAY
        )
    );
}

#[test]
fn empty_groups_are_constants() {
    assert!(sql(&people(all(vec![])), Dialect::Sqlite).ends_with("WHERE c0.workspace_id = 1"));
    assert!(sql(&people(any(vec![])), Dialect::Sqlite).ends_with("AND FALSE"));
    assert!(sql(&people(none(vec![])), Dialect::Postgres).ends_with("WHERE c0.workspace_id = 1"));
}

#[test]
fn an_or_is_parenthesised_where_it_is_composed() {
    let s = people(any(vec![
        field("country", Test::Exists),
        field("email", Test::Exists),
    ]));
    let out = condition(&s, &schema(), &clock(), Dialect::Sqlite, 1, "c").expect("compiles");
    assert_eq!(
        out,
        "(json_extract(c.data, '$.\"country\"') IS NOT NULL OR c.email IS NOT NULL)"
    );
    assert!(sql(&s, Dialect::Sqlite).ends_with("c0.workspace_id = 1 AND (json_extract(c0.data, '$.\"country\"') IS NOT NULL OR c0.email IS NOT NULL)"));
}

#[test]
fn a_callers_alias_must_be_a_plain_name_and_is_never_reused() {
    let s = people(did("X", Count::ONCE, Window::Ever, None));
    let p = condition(&s, &schema(), &clock(), Dialect::Sqlite, 1, "c; DROP").expect_err("refused");
    assert_eq!(p.code, "alias_invalid");
    let out = condition(&s, &schema(), &clock(), Dialect::Postgres, 1, "e1").expect("compiles");
    assert!(
        out.contains("FROM events AS e2 WHERE e2.workspace_id = 1 AND e2.contact_id = e1.id"),
        "{out}"
    );
}

#[test]
fn every_subquery_filters_on_the_workspace() {
    for (s, _) in run::cases() {
        for d in BOTH {
            let out = members(&s, &schema(), &clock(), d, 42).expect("compiles");
            let froms = out.matches(" FROM ").count()
                - out.matches("FROM json_each").count()
                - out.matches("SELECT 1 FROM (SELECT").count();
            let filters = out.matches(".workspace_id = 42").count();
            assert_eq!(froms, filters, "{out}");
        }
    }
}
