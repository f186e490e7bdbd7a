//! The text form: parsing, printing, round trips and syntax errors.

use pitcrew_filter::ast::{
    Aggregate, Condition, ConsentState, Count, CountOp, Duration, Literal, Occurrence, Quantifier,
    Segment, Span, Subject, Test, Unit, Window,
};
use pitcrew_filter::{
    Problem, condition_text, from_json, from_json_value, parse, to_json, to_text,
};
use proptest::prelude::*;

// ---- building trees ----

fn sp() -> Span {
    Span::default()
}

fn people(condition: Condition) -> Segment {
    Segment {
        subject: Subject::People,
        condition,
    }
}

fn all(of: Vec<Condition>) -> Condition {
    Condition::All { of, span: sp() }
}

fn not(c: Condition) -> Condition {
    Condition::Not {
        condition: Box::new(c),
        span: sp(),
    }
}

fn field(name: &str, test: Test) -> Condition {
    Condition::Field {
        field: name.into(),
        test,
        span: sp(),
    }
}

fn txt(s: &str) -> Literal {
    Literal::Text(s.into())
}

fn days(amount: u32) -> Duration {
    Duration {
        amount,
        unit: Unit::Days,
    }
}

fn did(event: &str, count: Count, window: Window) -> Condition {
    Condition::Did {
        event: event.into(),
        count,
        window,
        filter: None,
        span: sp(),
    }
}

fn in_segment(name: &str) -> Condition {
    Condition::InSegment {
        segment: name.into(),
        span: sp(),
    }
}

fn is(value: Literal) -> Test {
    Test::Is { value }
}

/// Both forms read back into the same tree, the JSON form both as a value
/// and as text.
fn assert_round_trip(segment: &Segment) {
    assert_tree_round_trip(segment);
    let json = to_json(segment).to_string();
    assert_eq!(from_json(&json).as_ref(), Ok(segment), "JSON form: {json}");
}

/// The text form and the JSON value read back into the same tree. (Reading
/// JSON text may round a number with 17 significant digits by one unit in
/// the last place, so random numbers are only checked through the value.)
fn assert_tree_round_trip(segment: &Segment) {
    let text = to_text(segment);
    assert_eq!(parse(&text).as_ref(), Ok(segment), "text form:\n{text}");
    assert_eq!(from_json_value(to_json(segment)).as_ref(), Ok(segment));
}

/// The only problem parsing `text` gives.
fn problem(text: &str) -> Problem {
    let problems = parse(text).expect_err("a syntax error");
    assert_eq!(problems.len(), 1, "{problems:#?}");
    problems.into_iter().next().expect("one problem")
}

/// `(code, message, line, column)` of a problem, for one-line assertions.
fn summary(p: &Problem) -> (&'static str, String, u32, u32) {
    let span = p.span.expect("a span");
    (p.code, p.message.clone(), span.line, span.column)
}

const ISSUE_EXAMPLE: &str = r#"people where all of:
  country in ["DE", "AT", "CH"]
  lifecycle_stage is "mql"
  did "Webinar Attended" at least 2 times in last 90 days
  last "Email Clicked" more than 30 days ago
  not in segment "Employees""#;

fn issue_tree() -> Segment {
    people(all(vec![
        field(
            "country",
            Test::In {
                values: vec![txt("DE"), txt("AT"), txt("CH")],
            },
        ),
        field("lifecycle_stage", is(txt("mql"))),
        did(
            "Webinar Attended",
            Count {
                op: CountOp::AtLeast,
                times: 2,
            },
            Window::Last { amount: days(90) },
        ),
        Condition::Occurrence {
            which: Occurrence::Last,
            event: "Email Clicked".into(),
            test: Test::MoreThanAgo { amount: days(30) },
            filter: None,
            span: sp(),
        },
        not(in_segment("Employees")),
    ]))
}

// ---- the example and the canonical form ----

#[test]
fn the_issue_example_parses_to_the_expected_tree() {
    assert_eq!(parse(ISSUE_EXAMPLE), Ok(issue_tree()));
}

#[test]
fn the_issue_example_is_its_own_canonical_text() {
    assert_eq!(to_text(&issue_tree()), ISSUE_EXAMPLE);
}

#[test]
fn every_node_records_where_it_was_written() {
    let segment = parse(ISSUE_EXAMPLE).expect("parses");
    let Condition::All { of, span } = &segment.condition else {
        panic!("a group");
    };
    assert_eq!((span.line, span.column, span.start), (1, 14, 13));
    assert_eq!(span.end, ISSUE_EXAMPLE.len());
    let did = of[2].span();
    assert_eq!((did.line, did.column), (4, 3));
    let line = "did \"Webinar Attended\" at least 2 times in last 90 days";
    assert_eq!(&ISSUE_EXAMPLE[did.start..did.end], line);
    let Condition::Not { condition, span } = &of[4] else {
        panic!("not");
    };
    assert_eq!((span.line, span.column), (6, 3));
    assert_eq!((condition.span().line, condition.span().column), (6, 7));
    assert_eq!(
        &ISSUE_EXAMPLE[condition.span().start..condition.span().end],
        "in segment \"Employees\""
    );
}

#[test]
fn the_subject_defaults_to_people_and_the_printer_always_writes_it() {
    let segment = parse("country is \"DE\"").expect("parses");
    assert_eq!(segment, people(field("country", is(txt("DE")))));
    assert_eq!(to_text(&segment), "people where country is \"DE\"");
}

#[test]
fn accounts_is_a_subject() {
    let segment = parse("accounts where any member where title contains \"CTO\"").expect("parses");
    assert_eq!(segment.subject, Subject::Accounts);
    assert_round_trip(&segment);
}

#[test]
fn an_empty_group_prints_inline() {
    let segment = people(Condition::Any {
        of: vec![],
        span: sp(),
    });
    assert_eq!(to_text(&segment), "people where any of ()");
    assert_round_trip(&segment);
}

#[test]
fn parentheses_group_inline_and_ignore_line_breaks() {
    let inline = parse(r#"all of (country is "DE", any of (score > 5, vip is true))"#);
    let spread =
        parse("all of (\n  country is \"DE\",\n  any of (\n score > 5,\nvip is true\n  )\n)");
    let expected = people(all(vec![
        field("country", is(txt("DE"))),
        Condition::Any {
            of: vec![
                field(
                    "score",
                    Test::Gt {
                        value: Literal::Number(5.0),
                    },
                ),
                field("vip", is(Literal::Bool(true))),
            ],
            span: sp(),
        },
    ]));
    assert_eq!(inline, Ok(expected.clone()));
    assert_eq!(spread, Ok(expected));
}

#[test]
fn comments_blank_lines_and_a_condition_on_the_next_line_are_allowed() {
    let text = "# Marketing qualified leads in DACH\npeople where\nall of:   # every one of these\n\n  country in [\"DE\", \"AT\", \"CH\"]\n  # not employees\n  not in segment \"Employees\"\n";
    assert_eq!(
        parse(text),
        Ok(people(all(vec![
            field(
                "country",
                Test::In {
                    values: vec![txt("DE"), txt("AT"), txt("CH")]
                }
            ),
            not(in_segment("Employees")),
        ])))
    );
}

#[test]
fn nested_blocks_end_at_the_first_line_indented_no_more_than_their_opener() {
    let text = "people where any of:\n    all of:\n        a is 1\n        b is 2\n    c is 3\n";
    let number = |n: f64| is(Literal::Number(n));
    assert_eq!(
        parse(text),
        Ok(people(Condition::Any {
            of: vec![
                all(vec![field("a", number(1.0)), field("b", number(2.0))]),
                field("c", number(3.0)),
            ],
            span: sp(),
        }))
    );
}

#[test]
fn a_block_under_an_event_filter_is_indented_from_the_line_that_opens_it() {
    let segment = people(all(vec![
        Condition::Did {
            event: "Order Completed".into(),
            count: Count::ONCE,
            window: Window::Ever,
            filter: Some(Box::new(Condition::Any {
                of: vec![
                    field(
                        "amount",
                        Test::Gt {
                            value: Literal::Number(100.0),
                        },
                    ),
                    field("coupon", Test::Exists),
                ],
                span: sp(),
            })),
            span: sp(),
        },
        field("country", is(txt("DE"))),
    ]));
    let expected = "people where all of:\n  did \"Order Completed\" where any of:\n    amount > 100\n    coupon exists\n  country is \"DE\"";
    assert_eq!(to_text(&segment), expected);
    assert_round_trip(&segment);
}

#[test]
fn condition_text_writes_one_node() {
    assert_eq!(
        condition_text(&field("lifecycle_stage", is(txt("mql")))),
        "lifecycle_stage is \"mql\""
    );
    assert_eq!(
        condition_text(&not(in_segment("Employees"))),
        "not in segment \"Employees\""
    );
    assert_eq!(
        condition_text(&all(vec![
            field("a", Test::Exists),
            field("b", Test::IsEmpty)
        ])),
        "all of:\n  a exists\n  b is empty"
    );
}

// ---- keywords as names ----

#[test]
fn a_field_named_like_a_keyword_is_a_field_when_a_test_follows() {
    for name in [
        "last", "account", "status", "did", "in", "not", "first", "sum", "all",
    ] {
        let source = format!("{name} is \"x\"");
        assert_eq!(
            parse(&source),
            Ok(people(field(name, is(txt("x"))))),
            "{source}"
        );
    }
    assert_eq!(
        parse("not not in [\"a\"]"),
        Ok(people(field(
            "not",
            Test::NotIn {
                values: vec![txt("a")]
            }
        )))
    );
}

#[test]
fn a_keyword_followed_by_an_event_starts_its_own_form() {
    let segment = parse("last \"Email Clicked\" within last 7 days").expect("parses");
    assert!(matches!(segment.condition, Condition::Occurrence { .. }));
}

#[test]
fn the_printer_quotes_keyword_and_unusual_names_so_they_read_back() {
    for name in [
        "last",
        "account",
        "in",
        "not",
        "where",
        "true",
        "address.city",
        "",
        "größe",
        "a b",
    ] {
        let segment = people(field(name, Test::Exists));
        let text = to_text(&segment);
        assert!(text.contains(&format!("\"{name}\" exists")), "{text}");
        assert_round_trip(&segment);
    }
    let plain = people(field("status", Test::Exists));
    assert_eq!(to_text(&plain), "people where status exists");
}

#[test]
fn texts_with_quotes_backslashes_and_line_breaks_are_escaped() {
    let segment = people(field("note", is(txt("say \"hi\"\\\n\tok"))));
    assert_eq!(
        to_text(&segment),
        r#"people where note is "say \"hi\"\\\n\tok""#
    );
    assert_round_trip(&segment);
}

// ---- round trips of every node kind and every test ----

fn every_test() -> Vec<Test> {
    let n = |v: f64| Literal::Number(v);
    vec![
        Test::Is { value: txt("mql") },
        Test::Is { value: n(2.0) },
        Test::Is {
            value: Literal::Bool(false),
        },
        Test::IsNot { value: txt("lead") },
        Test::Contains {
            value: "acme".into(),
        },
        Test::NotContains {
            value: "test".into(),
        },
        Test::StartsWith {
            value: "+49".into(),
        },
        Test::EndsWith {
            value: "@acme.com".into(),
        },
        Test::Matches {
            pattern: "^[a-z]+\\d$".into(),
        },
        Test::In {
            values: vec![txt("DE"), n(-1.5), Literal::Bool(true)],
        },
        Test::In { values: vec![] },
        Test::NotIn {
            values: vec![txt("US")],
        },
        Test::Exists,
        Test::IsEmpty,
        Test::Gt { value: n(0.5) },
        Test::Gt {
            value: txt("2026-01-01"),
        },
        Test::Gte { value: n(10.0) },
        Test::Gte {
            value: txt("2026-01-01"),
        },
        Test::Lt { value: n(-3.0) },
        Test::Lt {
            value: txt("2026-01-01T10:00:00Z"),
        },
        Test::Lte { value: n(1e21) },
        Test::Between {
            low: n(1.0),
            high: n(5.0),
        },
        Test::Between {
            low: txt("2026-01-01"),
            high: txt("2026-01-31"),
        },
        Test::WithinLast { amount: days(30) },
        Test::MoreThanAgo {
            amount: Duration {
                amount: 1,
                unit: Unit::Hours,
            },
        },
        Test::WithinNext {
            amount: Duration {
                amount: 2,
                unit: Unit::Weeks,
            },
        },
        Test::WithinLast {
            amount: Duration {
                amount: 90,
                unit: Unit::Minutes,
            },
        },
        Test::AnniversaryWithinNext { days: 7 },
        Test::AnniversaryWithinNext { days: 1 },
        Test::HasAny {
            values: vec!["a".into(), "b".into()],
        },
        Test::HasAll {
            values: vec!["a".into()],
        },
        Test::HasNone { values: vec![] },
    ]
}

#[test]
fn every_test_round_trips_on_a_field() {
    for test in every_test() {
        assert_round_trip(&people(field("f", test)));
    }
}

#[test]
fn every_test_round_trips_on_an_aggregate_and_an_occurrence() {
    for test in every_test() {
        for window in every_window() {
            assert_round_trip(&people(Condition::Aggregate {
                function: Aggregate::Sum,
                property: "amount".into(),
                event: "Order Completed".into(),
                window,
                test: test.clone(),
                filter: None,
                span: sp(),
            }));
        }
        assert_round_trip(&people(Condition::Occurrence {
            which: Occurrence::First,
            event: "Signed Up".into(),
            test,
            filter: Some(Box::new(field("plan", is(txt("pro"))))),
            span: sp(),
        }));
    }
}

fn every_window() -> Vec<Window> {
    vec![
        Window::Ever,
        Window::Last { amount: days(90) },
        Window::Between {
            from: "2026-01-01".into(),
            to: "2026-01-31".into(),
        },
        Window::Since {
            from: "2026-01-01".into(),
        },
    ]
}

fn every_node() -> Vec<Condition> {
    let filter = Some(Box::new(field(
        "amount",
        Test::Gt {
            value: Literal::Number(100.0),
        },
    )));
    let mut nodes = vec![
        all(vec![field("a", Test::Exists)]),
        Condition::Any {
            of: vec![field("a", Test::Exists), field("b", Test::IsEmpty)],
            span: sp(),
        },
        Condition::None {
            of: vec![field("a", Test::Exists)],
            span: sp(),
        },
        not(field("a", Test::Exists)),
        not(not(all(vec![]))),
        field("a", Test::Exists),
        Condition::Sequence {
            first: "Trial Started".into(),
            then: "Subscribed".into(),
            negated: false,
            within: days(14),
            window: Window::Ever,
            span: sp(),
        },
        in_segment("Employees"),
        Condition::Account {
            condition: Box::new(field("industry", is(txt("SaaS")))),
            span: sp(),
        },
    ];
    for op in [CountOp::AtLeast, CountOp::AtMost, CountOp::Exactly] {
        for times in [0, 1, 3] {
            for window in every_window() {
                nodes.push(Condition::Did {
                    event: "Webinar Attended".into(),
                    count: Count { op, times },
                    window,
                    filter: filter.clone(),
                    span: sp(),
                });
            }
        }
    }
    for window in every_window() {
        nodes.push(Condition::Sequence {
            first: "Cart Viewed".into(),
            then: "Order Completed".into(),
            negated: true,
            within: Duration {
                amount: 1,
                unit: Unit::Hours,
            },
            window,
            span: sp(),
        });
    }
    for function in [
        Aggregate::Sum,
        Aggregate::Average,
        Aggregate::Min,
        Aggregate::Max,
        Aggregate::DistinctCount,
    ] {
        nodes.push(Condition::Aggregate {
            function,
            property: "amount".into(),
            event: "Order Completed".into(),
            window: Window::Last { amount: days(30) },
            test: Test::Gte {
                value: Literal::Number(2.0),
            },
            filter: filter.clone(),
            span: sp(),
        });
    }
    for which in [Occurrence::First, Occurrence::Last] {
        nodes.push(Condition::Occurrence {
            which,
            event: "Email Clicked".into(),
            test: Test::WithinLast { amount: days(7) },
            filter: None,
            span: sp(),
        });
    }
    for state in [ConsentState::Subscribed, ConsentState::Unsubscribed] {
        for channel in [None, Some("email"), Some("in-app"), Some("")] {
            nodes.push(Condition::Consent {
                state,
                topic: "Newsletter".into(),
                channel: channel.map(Into::into),
                span: sp(),
            });
        }
    }
    for quantifier in [Quantifier::Any, Quantifier::All, Quantifier::No] {
        nodes.push(Condition::Members {
            quantifier,
            condition: Box::new(field(
                "title",
                Test::Contains {
                    value: "CTO".into(),
                },
            )),
            span: sp(),
        });
    }
    nodes
}

#[test]
fn every_node_kind_round_trips_alone_in_a_block_and_in_a_filter() {
    for node in every_node() {
        assert_round_trip(&people(node.clone()));
        assert_round_trip(&people(all(vec![node.clone(), field("z", Test::Exists)])));
        assert_round_trip(&people(not(node.clone())));
        assert_round_trip(&Segment {
            subject: Subject::Accounts,
            condition: Condition::Members {
                quantifier: Quantifier::Any,
                condition: Box::new(node.clone()),
                span: sp(),
            },
        });
        assert_round_trip(&people(Condition::Did {
            event: "E".into(),
            count: Count::ONCE,
            window: Window::Ever,
            filter: Some(Box::new(node)),
            span: sp(),
        }));
    }
}

#[test]
fn canonical_texts_of_each_kind() {
    let cases = [
        (
            did("Signed Up", Count::NEVER, Window::Ever),
            "did not \"Signed Up\"",
        ),
        (
            did(
                "Webinar Attended",
                Count {
                    op: CountOp::Exactly,
                    times: 1,
                },
                Window::Since {
                    from: "2026-01-01".into(),
                },
            ),
            "did \"Webinar Attended\" exactly 1 time since \"2026-01-01\"",
        ),
        (
            Condition::Sequence {
                first: "Cart Viewed".into(),
                then: "Order Completed".into(),
                negated: true,
                within: Duration {
                    amount: 1,
                    unit: Unit::Days,
                },
                window: Window::Last { amount: days(30) },
                span: sp(),
            },
            "did \"Cart Viewed\" then not \"Order Completed\" within 1 day in last 30 days",
        ),
        (
            Condition::Aggregate {
                function: Aggregate::DistinctCount,
                property: "sku".into(),
                event: "Order Completed".into(),
                window: Window::Between {
                    from: "2026-01-01".into(),
                    to: "2026-03-31".into(),
                },
                test: Test::Gt {
                    value: Literal::Number(3.0),
                },
                filter: None,
                span: sp(),
            },
            "distinct count of sku in \"Order Completed\" between \"2026-01-01\" and \"2026-03-31\" > 3",
        ),
        (
            Condition::Consent {
                state: ConsentState::Unsubscribed,
                topic: "Newsletter".into(),
                channel: Some("email".into()),
                span: sp(),
            },
            "unsubscribed from \"Newsletter\" via email",
        ),
        (
            Condition::Account {
                condition: Box::new(field(
                    "employees",
                    Test::Gte {
                        value: Literal::Number(50.0),
                    },
                )),
                span: sp(),
            },
            "account where employees >= 50",
        ),
        (
            Condition::Members {
                quantifier: Quantifier::All,
                condition: Box::new(field(
                    "email",
                    Test::EndsWith {
                        value: "@acme.com".into(),
                    },
                )),
                span: sp(),
            },
            "all members where email ends with \"@acme.com\"",
        ),
        (
            field("birthday", Test::AnniversaryWithinNext { days: 7 }),
            "birthday anniversary within next 7 days",
        ),
        (
            field(
                "signed_up_at",
                Test::Lt {
                    value: txt("2026-01-01"),
                },
            ),
            "signed_up_at before \"2026-01-01\"",
        ),
    ];
    for (node, expected) in cases {
        assert_eq!(condition_text(&node), expected);
        assert_round_trip(&people(node));
    }
}

#[test]
fn did_exactly_zero_times_is_did_not() {
    let segment = parse("did \"Signed Up\" exactly 0 times in last 7 days").expect("parses");
    assert_eq!(
        segment,
        people(did(
            "Signed Up",
            Count::NEVER,
            Window::Last { amount: days(7) }
        ))
    );
    assert_eq!(
        to_text(&segment),
        "people where did not \"Signed Up\" in last 7 days"
    );
}

#[test]
fn the_default_count_and_window_may_be_written_out() {
    let written = parse("did \"X\" at least 1 time ever").expect("parses");
    assert_eq!(written, people(did("X", Count::ONCE, Window::Ever)));
    assert_eq!(to_text(&written), "people where did \"X\"");
}

#[test]
fn an_aggregate_between_is_its_window_only_when_a_test_follows() {
    let parsed = |t: &str| match parse(t).expect("parses").condition {
        Condition::Aggregate { window, test, .. } => (window, test),
        other => panic!("{other:?}"),
    };
    let (window, test) = parsed(r#"max of at in "Login" between "2026-01-01" and "2026-02-01""#);
    assert_eq!(window, Window::Ever);
    assert!(matches!(test, Test::Between { .. }));
    let (window, test) =
        parsed(r#"max of at in "Login" between "2026-01-01" and "2026-02-01" exists"#);
    assert!(matches!(window, Window::Between { .. }));
    assert_eq!(test, Test::Exists);
}

#[test]
fn before_and_after_mean_less_and_greater_than() {
    assert_eq!(
        parse("n before 3"),
        Ok(people(field(
            "n",
            Test::Lt {
                value: Literal::Number(3.0)
            }
        )))
    );
    assert_eq!(
        parse("d after \"2026-01-01\""),
        Ok(people(field(
            "d",
            Test::Gt {
                value: txt("2026-01-01")
            }
        )))
    );
}

// ---- problems ----

#[test]
fn an_unexpected_token_says_what_was_expected_and_what_was_found() {
    let p =
        problem("people where all of:\n  country is \"DE\"\n  did \"X\" at least 2\n  a exists");
    assert_eq!(
        summary(&p),
        (
            "syntax",
            "expected `times` after the number, found the end of the line".into(),
            3,
            21
        )
    );
    let p = problem("people where country is DE");
    assert_eq!(
        summary(&p),
        (
            "syntax",
            "expected a value after `is`, found `DE`; write a text in double quotes, as in \"DE\""
                .into(),
            1,
            25
        )
    );
}

#[test]
fn a_mistyped_keyword_gets_a_suggestion() {
    let p = problem("people where all of:\n  country contians \"DE\"");
    assert_eq!(
        summary(&p),
        (
            "syntax",
            "unknown word `contians`; did you mean `contains`?".into(),
            2,
            11
        )
    );
    let p = problem("dd \"Signed Up\"");
    assert_eq!(
        summary(&p),
        (
            "syntax",
            "unknown word `dd`; did you mean `did`?".into(),
            1,
            1
        )
    );
    let p = problem("did \"X\" in lst 30 days");
    assert_eq!(
        summary(&p),
        (
            "syntax",
            "unknown word `lst`; did you mean `last`?".into(),
            1,
            12
        )
    );
}

#[test]
fn a_mistyped_word_after_a_condition_gets_a_suggestion() {
    let p = problem("all of:\n  did \"X\" wher amount > 5");
    assert_eq!(
        summary(&p),
        (
            "syntax",
            "unknown word `wher`; did you mean `where`?".into(),
            2,
            11
        )
    );
}

#[test]
fn a_field_named_like_a_keyword_with_a_mistyped_test_gets_a_suggestion() {
    let p = problem("account contians \"acme\"");
    assert_eq!(
        summary(&p),
        (
            "syntax",
            "unknown word `contians`; did you mean `contains`?".into(),
            1,
            9
        )
    );
}

#[test]
fn an_unknown_name_is_not_corrected_into_a_keyword() {
    let p = problem("country \"DE\"");
    assert_eq!(
        summary(&p),
        (
            "syntax",
            "expected a test such as `is`, `contains`, `in` or `exists` after `country`, found the text \"DE\"".into(),
            1,
            9
        )
    );
}

#[test]
fn equals_signs_point_to_is() {
    let p = problem("country = \"DE\"");
    assert_eq!(p.code, "syntax");
    assert_eq!(
        p.message,
        "unexpected `=`; to compare, write `is`, as in `country is \"DE\"`"
    );
    assert_eq!((p.span.map(|s| (s.line, s.column))), Some((1, 9)));
}

#[test]
fn did_not_with_a_count_is_a_syntax_error() {
    let p = problem("did not \"X\" at least 2 times");
    assert_eq!(
        summary(&p),
        (
            "syntax",
            "`did not` already means zero times and takes no count; remove `not` to give a count"
                .into(),
            1,
            13
        )
    );
}

#[test]
fn junk_after_the_condition_is_reported() {
    let p = problem("people where all of:\n  a exists\nb exists");
    assert_eq!(
        summary(&p),
        (
            "syntax",
            "expected the end of the text, found `b`; to combine conditions, list them under `all of:`".into(),
            3,
            1
        )
    );
}

#[test]
fn an_empty_text_expects_a_condition() {
    let p = problem("  # nothing here\n");
    assert_eq!(p.code, "syntax");
    assert_eq!(p.message, "expected a condition, found the end of the text");
}

#[test]
fn an_unterminated_text_points_at_its_opening_quote() {
    let p = problem("people where all of:\n  country is \"DE\n  a exists");
    assert_eq!(
        summary(&p),
        (
            "string_unterminated",
            "this text has no closing `\"`; a text must end on the line it starts on".into(),
            2,
            14
        )
    );
}

#[test]
fn an_unknown_escape_is_reported() {
    let p = problem(r#"name is "a\qb""#);
    assert_eq!(
        summary(&p),
        (
            "string_escape_invalid",
            "`\\q` is not an escape; use `\\\"`, `\\\\`, `\\n` or `\\t` inside a text".into(),
            1,
            11
        )
    );
}

#[test]
fn a_malformed_number_is_reported() {
    let p = problem("score > 1.2.3");
    assert_eq!(
        summary(&p),
        (
            "number_invalid",
            "`1.2.3` is not a number; numbers look like `42`, `-7` or `0.5`".into(),
            1,
            9
        )
    );
    let p = problem("é is 1");
    assert_eq!(p.code, "syntax");
}

#[test]
fn a_count_must_be_a_whole_number() {
    let p = problem("did \"X\" at least 2.5 times");
    assert_eq!(
        summary(&p),
        (
            "number_invalid",
            "expected a number of times after the count: a whole number from 0 to 4294967295, found `2.5`".into(),
            1,
            18
        )
    );
}

#[test]
fn a_block_must_be_indented_more_than_its_opener() {
    let p = problem("people where all of:\na exists");
    assert_eq!(
        summary(&p),
        (
            "indent_invalid",
            "expected the lines under `all of:` to be indented more than line 1, found a line indented 0 spaces".into(),
            2,
            1
        )
    );
}

#[test]
fn a_line_indented_more_than_its_block_is_reported() {
    let p = problem("all of:\n  a exists\n    b exists");
    assert_eq!(
        summary(&p),
        (
            "indent_invalid",
            "this line is indented 4 spaces, more than the line above it in the same block (2); only a line ending in `:` opens a deeper block".into(),
            3,
            5
        )
    );
}

#[test]
fn a_line_that_lines_up_with_no_block_is_reported() {
    let p = problem("all of:\n    a exists\n  b exists");
    assert_eq!(
        summary(&p),
        (
            "indent_invalid",
            "this line is indented 2 spaces, which lines up with no block; indent it 4 spaces to continue the block above".into(),
            3,
            3
        )
    );
}

#[test]
fn tabs_in_indentation_are_reported() {
    let p = problem("all of:\n\ta exists");
    assert_eq!(
        summary(&p),
        (
            "indent_invalid",
            "a tab in the indentation; indent lines with spaces".into(),
            2,
            1
        )
    );
}

#[test]
fn a_block_inside_parentheses_is_reported() {
    let p = problem("all of (any of:\n  a exists)");
    assert_eq!(
        summary(&p),
        (
            "syntax",
            "expected a new, indented line after `any of:`, found `a`".into(),
            2,
            3
        )
    );
}

#[test]
fn every_broken_line_of_a_block_is_reported() {
    let problems =
        parse("all of:\n  a is\n  b exists\n  c iz 3\n  d exists").expect_err("two broken lines");
    let at: Vec<_> = problems
        .iter()
        .map(|p| (p.code, p.span.map(|s| s.line)))
        .collect();
    assert_eq!(at, vec![("syntax", Some(2)), ("syntax", Some(4))]);
    assert_eq!(problems[1].message, "unknown word `iz`; did you mean `is`?");
}

#[test]
fn nesting_deeper_than_64_is_too_deep() {
    assert!(parse(&format!("{}a exists", "not ".repeat(63))).is_ok());
    let p = problem(&format!("{}a exists", "not ".repeat(64)));
    assert_eq!(
        summary(&p),
        (
            "too_deep",
            "conditions are nested more than 64 deep here; flatten the condition".into(),
            1,
            257
        )
    );
    let parens = format!(
        "{}a exists{}",
        "all of (".repeat(100_000),
        ")".repeat(100_000)
    );
    assert_eq!(
        parse(&parens[..60_000]).expect_err("deep")[0].code,
        "too_deep"
    );
}

#[test]
fn a_text_longer_than_64_kib_is_too_long() {
    let text = format!("a in [{}\"x\"]", "\"x\",\n".repeat(20_000));
    let p = problem(&text);
    assert_eq!(
        summary(&p),
        (
            "too_long",
            format!(
                "the condition is {} bytes long; the limit is 65536 bytes (64 KiB)",
                text.len()
            ),
            13_107,
            1
        )
    );
}

#[test]
fn a_json_problem_names_the_member_and_what_it_accepts() {
    let text = r#"{"subject":"people","where":{"kind":"all","of":[
        {"kind":"field","field":"a","test":{"op":"exists"}},
        {"kind":"field","field":"b","test":{"op":"exists"}},
        {"kind":"field","field":"c","test":{"op":"is_about"}}]}}"#;
    let problems = from_json(text).expect_err("unknown op");
    assert_eq!(problems.len(), 1);
    let p = &problems[0];
    assert_eq!(p.code, "json_invalid");
    assert_eq!(p.path, "/where/of/2/test/op");
    assert!(
        p.message
            .starts_with("unknown op `is_about`; expected one of `is`, `is_not`, `contains`"),
        "{}",
        p.message
    );
    assert_eq!(p.span, None);
}

#[test]
fn a_json_problem_inside_a_node_names_the_member() {
    let text = r#"{"subject":"people","where":{"kind":"did","event":"X",
        "count":{"op":"at_least","times":-1},"window":{"window":"ever"}}}"#;
    let p = &from_json(text).expect_err("negative count")[0];
    assert_eq!(p.path, "/where/count/times");
    assert!(p.message.contains("-1"), "{}", p.message);
}

#[test]
fn a_json_problem_names_a_missing_member_and_the_members_there_are() {
    let p = &from_json(r#"{"subject":"people","where":{"kind":"did","event":"X"}}"#)
        .expect_err("no count")[0];
    assert_eq!(p.path, "/where");
    assert_eq!(
        p.message,
        "missing member `count` in a `did` condition, which has `kind`, `event`, `count`, `window` and `where` (optional)"
    );
}

#[test]
fn malformed_json_is_json_invalid() {
    let p = &from_json("{\"subject\": ").expect_err("cut short")[0];
    assert_eq!(p.code, "json_invalid");
    assert!(
        p.message.starts_with("the JSON is not well-formed"),
        "{}",
        p.message
    );
}

#[test]
fn json_nested_deeper_than_64_is_too_deep() {
    let mut value = serde_json::json!({"kind": "field", "field": "a", "test": {"op": "exists"}});
    for _ in 0..64 {
        value = serde_json::json!({"kind": "not", "condition": value});
    }
    let p = &from_json_value(serde_json::json!({"subject": "people", "where": value}))
        .expect_err("too deep")[0];
    assert_eq!(p.code, "too_deep");
    assert_eq!(p.path, format!("/where{}", "/condition".repeat(64)));
}

#[test]
fn a_tree_nested_64_deep_round_trips() {
    let mut deepest = field(
        "a",
        Test::In {
            values: vec![txt("x")],
        },
    );
    for _ in 1..64 {
        deepest = all(vec![deepest]);
    }
    let segment = people(deepest);
    assert_tree_round_trip(&segment);
}

#[test]
fn json_text_nested_beyond_what_the_reader_follows_is_too_deep() {
    let text = format!("{}{}", "[".repeat(200), "]".repeat(200));
    let p = &from_json(&text).expect_err("too deep")[0];
    assert_eq!(p.code, "too_deep");
    assert_eq!(
        p.message,
        "the JSON nests more than 128 arrays and objects deep; flatten the condition"
    );
}

// ---- properties ----

const SAMPLES: &[&str] = &[
    ISSUE_EXAMPLE,
    "accounts where any of:\n  any member where title contains \"CTO\"\n  account_tier in [1, 2]\n  no member where did not \"Login\" in last 30 days",
    "people where all of:\n  did \"Order Completed\" at most 3 times between \"2026-01-01\" and \"2026-02-01\" where any of:\n    amount > 100.5\n    coupon is empty\n  sum of amount in \"Order Completed\" since \"2026-01-01\" >= 500 where currency is \"EUR\"\n  did \"Cart Viewed\" then not \"Order Completed\" within 2 hours\n  subscribed to \"Newsletter\" via email\n  none of ()\n  birthday anniversary within next 7 days\n  tags has any of [\"a\", \"b\"]",
    "all of (not \"last\" is \"x\", first \"Signed Up\" within last 3 weeks, name matches \"^a\\\\d\")",
];

/// A character or a short piece of the language, for mutations.
fn fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<char>().prop_map(String::from),
        prop::sample::select(vec![
            "\n",
            "  ",
            "\t",
            "\"",
            "\\",
            ":",
            "(",
            ")",
            "[",
            "]",
            ",",
            "#",
            "-",
            ".",
            "all of",
            "not ",
            "did ",
            "where ",
            "is ",
            "in ",
            "1",
            "9999999999",
            "\"x\"",
            "\n    ",
        ])
        .prop_map(String::from),
    ]
}

/// `text` with a piece cut out at `at` and `insert` put in its place.
fn mutate(text: &str, at: usize, cut: usize, insert: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let at = at % (chars.len() + 1);
    let end = (at + cut).min(chars.len());
    let mut out: String = chars[..at].iter().collect();
    out.push_str(insert);
    out.extend(&chars[end..]);
    out
}

/// When a text parses, its canonical text reads back into the same tree.
fn assert_canonical_round_trip(text: &str) {
    if let Ok(segment) = parse(text) {
        let printed = to_text(&segment);
        assert_eq!(
            parse(&printed),
            Ok(segment),
            "from:\n{text}\nprinted:\n{printed}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_text_never_panics(text in "(?s).{0,200}") {
        assert_canonical_round_trip(&text);
    }

    #[test]
    fn random_words_of_the_language_never_panic(
        words in prop::collection::vec(fragment(), 0..40)
    ) {
        assert_canonical_round_trip(&words.concat());
    }

    #[test]
    fn mutated_valid_texts_never_panic(
        sample in prop::sample::select(SAMPLES),
        edits in prop::collection::vec((any::<usize>(), 0usize..4, fragment()), 1..4),
    ) {
        let mut text = sample.to_string();
        for (at, cut, insert) in &edits {
            text = mutate(&text, *at, *cut, insert);
        }
        assert_canonical_round_trip(&text);
    }

    #[test]
    fn every_tree_round_trips_through_both_forms(segment in segment()) {
        assert_tree_round_trip(&segment);
    }
}

// ---- random trees ----

fn string() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Za-z _-]{0,10}",
        "(?s).{0,8}",
        Just("2026-01-01".to_string()),
    ]
}

fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Za-z_][A-Za-z0-9_]{0,8}",
        prop::sample::select(vec![
            "last", "first", "account", "in", "not", "did", "all", "any", "no", "is", "where",
            "true", "between", "days", "people", "sum", "exists",
        ])
        .prop_map(String::from),
        "(?s).{0,6}",
    ]
}

fn literal() -> impl Strategy<Value = Literal> {
    prop_oneof![
        any::<bool>().prop_map(Literal::Bool),
        any::<f64>()
            .prop_filter("finite", |n| n.is_finite())
            .prop_map(Literal::Number),
        (-1000i32..1000).prop_map(|n| Literal::Number(f64::from(n) / 4.0)),
        string().prop_map(Literal::Text),
    ]
}

fn duration() -> impl Strategy<Value = Duration> {
    (
        any::<u32>(),
        prop::sample::select(vec![Unit::Minutes, Unit::Hours, Unit::Days, Unit::Weeks]),
    )
        .prop_map(|(amount, unit)| Duration { amount, unit })
}

fn window() -> impl Strategy<Value = Window> {
    prop_oneof![
        Just(Window::Ever),
        duration().prop_map(|amount| Window::Last { amount }),
        (string(), string()).prop_map(|(from, to)| Window::Between { from, to }),
        string().prop_map(|from| Window::Since { from }),
    ]
}

fn test_strategy() -> impl Strategy<Value = Test> {
    let lits = || prop::collection::vec(literal(), 0..3);
    let texts = || prop::collection::vec(string(), 0..3);
    prop_oneof![
        literal().prop_map(|value| Test::Is { value }),
        literal().prop_map(|value| Test::IsNot { value }),
        string().prop_map(|value| Test::Contains { value }),
        string().prop_map(|value| Test::NotContains { value }),
        string().prop_map(|value| Test::StartsWith { value }),
        string().prop_map(|value| Test::EndsWith { value }),
        string().prop_map(|pattern| Test::Matches { pattern }),
        lits().prop_map(|values| Test::In { values }),
        lits().prop_map(|values| Test::NotIn { values }),
        Just(Test::Exists),
        Just(Test::IsEmpty),
        literal().prop_map(|value| Test::Gt { value }),
        literal().prop_map(|value| Test::Gte { value }),
        literal().prop_map(|value| Test::Lt { value }),
        literal().prop_map(|value| Test::Lte { value }),
        (literal(), literal()).prop_map(|(low, high)| Test::Between { low, high }),
        duration().prop_map(|amount| Test::WithinLast { amount }),
        duration().prop_map(|amount| Test::MoreThanAgo { amount }),
        duration().prop_map(|amount| Test::WithinNext { amount }),
        any::<u32>().prop_map(|days| Test::AnniversaryWithinNext { days }),
        texts().prop_map(|values| Test::HasAny { values }),
        texts().prop_map(|values| Test::HasAll { values }),
        texts().prop_map(|values| Test::HasNone { values }),
    ]
}

fn count() -> impl Strategy<Value = Count> {
    (
        prop::sample::select(vec![CountOp::AtLeast, CountOp::AtMost, CountOp::Exactly]),
        prop_oneof![0u32..4, any::<u32>()],
    )
        .prop_map(|(op, times)| Count { op, times })
}

fn leaf() -> impl Strategy<Value = Condition> {
    prop_oneof![
        (name(), test_strategy()).prop_map(|(field, test)| Condition::Field {
            field,
            test,
            span: sp()
        }),
        (string(), count(), window()).prop_map(|(event, count, window)| Condition::Did {
            event,
            count,
            window,
            filter: None,
            span: sp()
        }),
        (
            prop::sample::select(vec![
                Aggregate::Sum,
                Aggregate::Average,
                Aggregate::Min,
                Aggregate::Max,
                Aggregate::DistinctCount
            ]),
            name(),
            string(),
            window(),
            test_strategy()
        )
            .prop_map(|(function, property, event, window, test)| {
                Condition::Aggregate {
                    function,
                    property,
                    event,
                    window,
                    test,
                    filter: None,
                    span: sp(),
                }
            }),
        (any::<bool>(), string(), test_strategy()).prop_map(|(first, event, test)| {
            Condition::Occurrence {
                which: if first {
                    Occurrence::First
                } else {
                    Occurrence::Last
                },
                event,
                test,
                filter: None,
                span: sp(),
            }
        }),
        (string(), string(), any::<bool>(), duration(), window()).prop_map(
            |(first, then, negated, within, window)| Condition::Sequence {
                first,
                then,
                negated,
                within,
                window,
                span: sp()
            }
        ),
        string().prop_map(|segment| Condition::InSegment {
            segment,
            span: sp()
        }),
        (any::<bool>(), string(), prop::option::of(name())).prop_map(
            |(subscribed, topic, channel)| Condition::Consent {
                state: if subscribed {
                    ConsentState::Subscribed
                } else {
                    ConsentState::Unsubscribed
                },
                topic,
                channel,
                span: sp()
            }
        ),
    ]
}

fn condition() -> impl Strategy<Value = Condition> {
    leaf().prop_recursive(5, 40, 4, |inner| {
        let children = || prop::collection::vec(inner.clone(), 0..4);
        let boxed = || inner.clone().prop_map(Box::new);
        prop_oneof![
            children().prop_map(|of| Condition::All { of, span: sp() }),
            children().prop_map(|of| Condition::Any { of, span: sp() }),
            children().prop_map(|of| Condition::None { of, span: sp() }),
            boxed().prop_map(|condition| Condition::Not {
                condition,
                span: sp()
            }),
            boxed().prop_map(|condition| Condition::Account {
                condition,
                span: sp()
            }),
            (
                prop::sample::select(vec![Quantifier::Any, Quantifier::All, Quantifier::No]),
                boxed()
            )
                .prop_map(|(quantifier, condition)| Condition::Members {
                    quantifier,
                    condition,
                    span: sp()
                }),
            (string(), count(), window(), boxed()).prop_map(|(event, count, window, filter)| {
                Condition::Did {
                    event,
                    count,
                    window,
                    filter: Some(filter),
                    span: sp(),
                }
            }),
            (name(), string(), test_strategy(), boxed()).prop_map(
                |(property, event, test, filter)| Condition::Aggregate {
                    function: Aggregate::Average,
                    property,
                    event,
                    window: Window::Ever,
                    test,
                    filter: Some(filter),
                    span: sp(),
                }
            ),
            (string(), test_strategy(), boxed()).prop_map(|(event, test, filter)| {
                Condition::Occurrence {
                    which: Occurrence::Last,
                    event,
                    test,
                    filter: Some(filter),
                    span: sp(),
                }
            }),
        ]
    })
}

fn segment() -> impl Strategy<Value = Segment> {
    (any::<bool>(), condition()).prop_map(|(people, condition)| Segment {
        subject: if people {
            Subject::People
        } else {
            Subject::Accounts
        },
        condition,
    })
}
