//! Every node kind executed on SQLite and PostgreSQL against one small
//! workspace (and a second one whose rows must never show up), checked
//! against the members the semantics demand.

use std::str::FromStr;

use pitcrew_filter::ast::{
    Aggregate, Condition, ConsentState, Count, CountOp, Literal, Occurrence, Quantifier, Segment,
    Test, Window,
};
use pitcrew_filter::sql::{Dialect, condition, count, members};
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{AssertSqlSafe, Connection, Row};

use super::tree::*;

const SQLITE_MIGRATIONS: [&str; 4] = [
    include_str!("../../../../pitcrew-store/migrations/sqlite/0001_record.sql"),
    include_str!("../../../../pitcrew-store/migrations/sqlite/0002_events.sql"),
    include_str!("../../../../pitcrew-store/migrations/sqlite/0003_imports.sql"),
    include_str!("../../../../pitcrew-store/migrations/sqlite/0004_audiences.sql"),
];

const POSTGRES_MIGRATIONS: [&str; 4] = [
    include_str!("../../../../pitcrew-store/migrations/postgres/0001_record.sql"),
    include_str!("../../../../pitcrew-store/migrations/postgres/0002_events.sql"),
    include_str!("../../../../pitcrew-store/migrations/postgres/0003_imports.sql"),
    include_str!("../../../../pitcrew-store/migrations/postgres/0004_audiences.sql"),
];

/// Ann (1, account Acme, German VIP, orders, converted her trial), Bob (2,
/// account Tiny, Austrian, one order, trial not converted, on the
/// Employees list), Émile (3, no email, no account, no events). Workspace 2
/// holds a near copy of Ann (4) and rows pointing at workspace 1's ids.
fn seed() -> String {
    let ago = |days: i64| NOW - days * DAY;
    let bob_created = clock()
        .instant("2024-03-03T08:00:00Z", false)
        .expect("instant");
    let ann = r#"{"first_name":"Ann","country":"DE","score":42.5,"vip":true,"birthday":"1990-03-05","trial_ends_at":"2026-03-10T00:00:00.000Z","interests":["golf","chess"],"nickname":"O'Brien \\ 50%_x"}"#
        .replace('\'', "''");
    let bob = r#"{"first_name":"Bob","country":"AT","score":7,"vip":false,"birthday":"1985-12-24","interests":[],"nickname":"bobby\nnewline"}"#;
    let emile = r#"{"first_name":"Émile","country":null,"job_title":"CEO"}"#;
    let mut sql = format!(
        "INSERT INTO workspaces (id, slug, name, created_at) VALUES (1, 'one', 'One', 0), (2, 'two', 'Two', 0);
         INSERT INTO accounts (id, workspace_id, data, created_at, updated_at) VALUES
           (1, 1, '{{\"name\":\"Acme\",\"employees\":250,\"industry\":\"software\",\"tags\":[\"enterprise\",\"eu\"]}}', {a50}, {a50}),
           (2, 1, '{{\"name\":\"Tiny\",\"employees\":5}}', {a50}, {a50}),
           (3, 2, '{{\"name\":\"Other\",\"employees\":999}}', {a50}, {a50}),
           (5, 1, '{{\"name\":\"Empty Co\"}}', {a50}, {a50});
         INSERT INTO contacts (id, workspace_id, email, account_id, data, created_at, updated_at) VALUES
           (1, 1, 'ann@acme.com', 1, '{ann}', {a10}, {a1}),
           (2, 1, 'bob@tiny.io', 2, '{bob}', {bob_created}, {a1}),
           (3, 1, NULL, NULL, '{emile}', {a1}, {a1}),
           (4, 2, 'ann@other.com', 3, '{ann}', {a10}, {a1});
         INSERT INTO consent_state (workspace_id, contact_id, topic, channel, subscribed, at) VALUES
           (1, 1, 'Newsletter', 'email', TRUE, 0),
           (1, 1, 'Newsletter', 'sms', FALSE, 0),
           (1, 2, 'Newsletter', 'email', FALSE, 0),
           (2, 3, 'Newsletter', 'email', TRUE, 0);
         INSERT INTO segment_members (workspace_id, segment_id, member_id, added_at) VALUES
           (1, 7, 2, 0), (2, 7, 3, 0), (1, 8, 1, 0), (2, 8, 2, 0);",
        a50 = ago(50),
        a10 = ago(10),
        a1 = ago(1),
    );
    let events: [(i64, Option<i64>, &str, i64, &str); 16] = [
        (
            1,
            Some(1),
            "Order Completed",
            ago(1),
            r#"{"amount":100,"sku":"A","coupon":true}"#,
        ),
        (
            1,
            Some(1),
            "Order Completed",
            ago(2),
            r#"{"amount":50.5,"sku":"B"}"#,
        ),
        (
            1,
            Some(1),
            "Order Completed",
            ago(40),
            r#"{"amount":"n/a","sku":1}"#,
        ),
        (1, Some(1), "Signed Up", ago(100), "{}"),
        (1, Some(1), "Trial Started", ago(20), "{}"),
        (1, Some(1), "Trial Converted", ago(20) + 3_600_000, "{}"),
        (
            1,
            Some(2),
            "Order Completed",
            ago(5),
            r#"{"amount":10,"sku":"A"}"#,
        ),
        (1, Some(2), "Signed Up", ago(3), "{}"),
        (1, Some(2), "Trial Started", ago(10), "{}"),
        (1, None, "Order Completed", ago(1), r#"{"amount":1000}"#),
        (
            2,
            Some(4),
            "Order Completed",
            ago(1),
            r#"{"amount":5000,"sku":"A"}"#,
        ),
        (
            2,
            Some(4),
            "Order Completed",
            ago(1),
            r#"{"amount":5000,"sku":"C"}"#,
        ),
        (
            2,
            Some(4),
            "Order Completed",
            ago(1),
            r#"{"amount":5000,"sku":"D"}"#,
        ),
        (2, Some(4), "Signed Up", ago(1), "{}"),
        (
            2,
            Some(3),
            "Order Completed",
            ago(1),
            r#"{"amount":5000,"sku":"A"}"#,
        ),
        (2, Some(2), "Trial Converted", ago(10) + 1000, "{}"),
    ];
    sql.push_str(
        "\nINSERT INTO events (workspace_id, source_id, contact_id, message_id, type, name, at, received_at, properties) VALUES ",
    );
    let rows: Vec<String> = events
        .iter()
        .enumerate()
        .map(|(i, (ws, contact, name, at, props))| {
            let contact = contact.map_or("NULL".to_string(), |c| c.to_string());
            format!("({ws}, 1, {contact}, 'm{i}', 'track', '{name}', {at}, {at}, '{props}')")
        })
        .collect();
    sql.push_str(&rows.join(", "));
    sql.push(';');
    sql
}

fn at_least(times: u32) -> Count {
    Count {
        op: CountOp::AtLeast,
        times,
    }
}

fn exactly(times: u32) -> Count {
    Count {
        op: CountOp::Exactly,
        times,
    }
}

fn at_most(times: u32) -> Count {
    Count {
        op: CountOp::AtMost,
        times,
    }
}

fn gt(n: f64) -> Test {
    Test::Gt { value: num(n) }
}

fn strs(values: &[&str]) -> Vec<String> {
    values.iter().map(|s| s.to_string()).collect()
}

/// Trees over every node kind and test, with workspace 1's members.
pub fn cases() -> Vec<(Segment, Vec<i64>)> {
    let oc = "Order Completed";
    let orders = |filter: Condition| did(oc, Count::ONCE, Window::Ever, Some(filter));
    let p = |c: Condition, ids: &[i64]| (people(c), ids.to_vec());
    let a = |c: Condition, ids: &[i64]| (accounts(c), ids.to_vec());
    vec![
        // Text fields.
        p(field("country", is(text("DE"))), &[1]),
        p(field("country", Test::IsNot { value: text("DE") }), &[2, 3]),
        p(
            field(
                "country",
                Test::In {
                    values: vec![text("DE"), text("AT")],
                },
            ),
            &[1, 2],
        ),
        p(
            field(
                "country",
                Test::NotIn {
                    values: vec![text("DE"), text("AT")],
                },
            ),
            &[3],
        ),
        p(field("country", Test::In { values: vec![] }), &[]),
        p(field("country", Test::Exists), &[1, 2]),
        p(field("country", Test::IsEmpty), &[3]),
        p(
            field(
                "first_name",
                Test::Contains {
                    value: "MIL".into(),
                },
            ),
            &[3],
        ),
        p(
            field(
                "first_name",
                Test::Contains {
                    value: "émile".into(),
                },
            ),
            &[],
        ),
        p(
            field("first_name", Test::StartsWith { value: "an".into() }),
            &[1],
        ),
        p(
            field("first_name", Test::EndsWith { value: "OB".into() }),
            &[2],
        ),
        p(
            field(
                "nickname",
                Test::Contains {
                    value: "50%_".into(),
                },
            ),
            &[1],
        ),
        p(
            field(
                "nickname",
                Test::Contains {
                    value: "50%x".into(),
                },
            ),
            &[],
        ),
        p(
            field(
                "nickname",
                Test::Contains {
                    value: "\\ 5".into(),
                },
            ),
            &[1],
        ),
        p(
            field(
                "nickname",
                Test::Contains {
                    value: "o'b".into(),
                },
            ),
            &[1],
        ),
        p(
            field(
                "nickname",
                Test::NotContains {
                    value: "BOB".into(),
                },
            ),
            &[1, 3],
        ),
        p(
            field(
                "nickname",
                Test::Matches {
                    pattern: "y.n".into(),
                },
            ),
            &[2],
        ),
        p(
            field(
                "nickname",
                Test::Matches {
                    pattern: "^O'B".into(),
                },
            ),
            &[1],
        ),
        p(field("email", is(text("ann@acme.com"))), &[1]),
        p(
            field(
                "email",
                Test::EndsWith {
                    value: ".IO".into(),
                },
            ),
            &[2],
        ),
        p(field("email", Test::IsEmpty), &[3]),
        // Numbers and booleans.
        p(field("score", gt(10.0)), &[1]),
        p(field("score", Test::Gte { value: num(7.0) }), &[1, 2]),
        p(field("score", Test::Lt { value: num(42.5) }), &[2]),
        p(field("score", Test::Lte { value: num(7.0) }), &[2]),
        p(
            field(
                "score",
                Test::Between {
                    low: num(7.0),
                    high: num(42.5),
                },
            ),
            &[1, 2],
        ),
        p(field("score", is(num(7.0))), &[2]),
        p(field("score", Test::IsNot { value: num(7.0) }), &[1, 3]),
        p(
            field(
                "score",
                Test::In {
                    values: vec![num(7.0), num(42.5)],
                },
            ),
            &[1, 2],
        ),
        p(field("vip", is(Literal::Bool(true))), &[1]),
        p(field("vip", is(Literal::Bool(false))), &[2]),
        p(
            field(
                "vip",
                Test::IsNot {
                    value: Literal::Bool(true),
                },
            ),
            &[2, 3],
        ),
        p(field("vip", Test::Exists), &[1, 2]),
        // Dates and times.
        p(field("birthday", is(text("1990-03-05"))), &[1]),
        p(
            field(
                "birthday",
                Test::Gt {
                    value: text("1989-01-01"),
                },
            ),
            &[1],
        ),
        p(
            field("birthday", Test::AnniversaryWithinNext { days: 7 }),
            &[1],
        ),
        p(
            field("birthday", Test::WithinLast { amount: days(30) }),
            &[],
        ),
        p(
            field("birthday", Test::MoreThanAgo { amount: days(30) }),
            &[1, 2],
        ),
        p(
            field("trial_ends_at", Test::WithinNext { amount: days(14) }),
            &[1],
        ),
        p(field("trial_ends_at", is(text("2026-03-10"))), &[1]),
        p(
            field(
                "trial_ends_at",
                Test::Gt {
                    value: text("2026-03-10"),
                },
            ),
            &[],
        ),
        p(
            field(
                "trial_ends_at",
                Test::Gte {
                    value: text("2026-03-10T00:00:00Z"),
                },
            ),
            &[1],
        ),
        p(
            field(
                "trial_ends_at",
                Test::IsNot {
                    value: text("2026-03-10"),
                },
            ),
            &[2, 3],
        ),
        p(
            field("created_at", Test::WithinLast { amount: days(30) }),
            &[1, 3],
        ),
        p(
            field("created_at", Test::MoreThanAgo { amount: days(365) }),
            &[2],
        ),
        p(
            field("created_at", Test::AnniversaryWithinNext { days: 7 }),
            &[2],
        ),
        p(
            field(
                "created_at",
                Test::Between {
                    low: text("2024-01-01"),
                    high: text("2024-12-31"),
                },
            ),
            &[2],
        ),
        p(
            field(
                "created_at",
                Test::In {
                    values: vec![text("2024-03-03"), text("2020-01-01")],
                },
            ),
            &[2],
        ),
        // Multi-picklists.
        p(
            field(
                "interests",
                Test::HasAny {
                    values: strs(&["golf", "tennis"]),
                },
            ),
            &[1],
        ),
        p(
            field(
                "interests",
                Test::HasAll {
                    values: strs(&["golf", "chess"]),
                },
            ),
            &[1],
        ),
        p(
            field(
                "interests",
                Test::HasAll {
                    values: strs(&["golf", "tennis"]),
                },
            ),
            &[],
        ),
        p(
            field("interests", Test::HasAll { values: vec![] }),
            &[1, 2, 3],
        ),
        p(
            field(
                "interests",
                Test::HasNone {
                    values: strs(&["golf"]),
                },
            ),
            &[2, 3],
        ),
        p(field("interests", Test::Exists), &[1]),
        p(field("interests", Test::IsEmpty), &[2, 3]),
        // Did, with counts, windows and property filters.
        p(did(oc, Count::ONCE, Window::Ever, None), &[1, 2]),
        p(did(oc, Count::NEVER, Window::Ever, None), &[3]),
        p(did(oc, at_least(3), Window::Ever, None), &[1]),
        p(did(oc, at_least(2), last_days(30), None), &[1]),
        p(did(oc, exactly(1), Window::Ever, None), &[2]),
        p(did(oc, at_most(1), Window::Ever, None), &[2, 3]),
        p(did(oc, at_least(0), Window::Ever, None), &[1, 2, 3]),
        p(
            did(
                oc,
                Count::ONCE,
                Window::Between {
                    from: "2026-02-20".into(),
                    to: "2026-02-27".into(),
                },
                None,
            ),
            &[1, 2],
        ),
        p(
            did(
                oc,
                Count::ONCE,
                Window::Since {
                    from: "2026-02-28".into(),
                },
                None,
            ),
            &[1],
        ),
        p(orders(field("sku", is(text("A")))), &[1, 2]),
        p(orders(field("amount", gt(60.0))), &[1]),
        p(
            orders(field("amount", Test::IsNot { value: num(100.0) })),
            &[1, 2],
        ),
        p(
            orders(field(
                "amount",
                Test::Between {
                    low: num(50.0),
                    high: num(60.0),
                },
            )),
            &[1],
        ),
        p(orders(field("coupon", is(Literal::Bool(true)))), &[1]),
        p(orders(field("sku", is(num(1.0)))), &[1]),
        p(
            orders(field(
                "sku",
                Test::In {
                    values: vec![text("B"), text("C")],
                },
            )),
            &[1],
        ),
        p(
            orders(field("sku", Test::Contains { value: "b".into() })),
            &[1],
        ),
        p(
            orders(field(
                "sku",
                Test::Matches {
                    pattern: "^[AB]$".into(),
                },
            )),
            &[1, 2],
        ),
        p(orders(field("coupon", Test::Exists)), &[1]),
        p(
            did(
                oc,
                exactly(0),
                Window::Ever,
                Some(field("coupon", Test::IsEmpty)),
            ),
            &[3],
        ),
        p(
            orders(not(any(vec![
                field("sku", is(text("A"))),
                field("sku", is(text("B"))),
            ]))),
            &[1],
        ),
        // Aggregates.
        p(aggregate(Aggregate::Sum, "amount", oc, gt(100.0)), &[1]),
        p(
            aggregate(Aggregate::Sum, "amount", oc, Test::Lt { value: num(20.0) }),
            &[2, 3],
        ),
        p(
            aggregate(Aggregate::Average, "amount", oc, is(num(75.25))),
            &[1],
        ),
        p(
            aggregate(Aggregate::Average, "amount", oc, gt(5.0)),
            &[1, 2],
        ),
        p(
            aggregate(
                Aggregate::Average,
                "amount",
                oc,
                Test::IsNot { value: num(75.25) },
            ),
            &[2, 3],
        ),
        p(
            aggregate(Aggregate::Min, "amount", oc, Test::Lt { value: num(20.0) }),
            &[2],
        ),
        p(
            aggregate(
                Aggregate::Max,
                "amount",
                oc,
                Test::Gte { value: num(100.0) },
            ),
            &[1],
        ),
        p(
            aggregate(Aggregate::DistinctCount, "sku", oc, is(num(3.0))),
            &[1],
        ),
        p(
            aggregate(
                Aggregate::DistinctCount,
                "sku",
                oc,
                Test::Gte { value: num(1.0) },
            ),
            &[1, 2],
        ),
        p(
            aggregate(Aggregate::DistinctCount, "sku", oc, is(num(0.0))),
            &[3],
        ),
        // First and last.
        p(
            occurrence(
                Occurrence::First,
                "Signed Up",
                Test::WithinLast { amount: days(30) },
            ),
            &[2],
        ),
        p(
            occurrence(Occurrence::Last, oc, Test::MoreThanAgo { amount: days(3) }),
            &[2],
        ),
        p(
            occurrence(Occurrence::First, oc, is(text("2026-01-20"))),
            &[1],
        ),
        p(
            occurrence(
                Occurrence::First,
                oc,
                Test::IsNot {
                    value: text("2026-01-20"),
                },
            ),
            &[2, 3],
        ),
        p(
            occurrence(
                Occurrence::Last,
                oc,
                Test::Between {
                    low: text("2026-02-24"),
                    high: text("2026-02-25"),
                },
            ),
            &[2],
        ),
        p(
            Condition::Occurrence {
                which: Occurrence::First,
                event: oc.into(),
                test: Test::WithinLast { amount: days(7) },
                filter: Some(Box::new(field("sku", is(text("B"))))),
                span: Default::default(),
            },
            &[1],
        ),
        // Sequences.
        p(
            sequence(
                "Trial Started",
                "Trial Converted",
                false,
                days(1),
                Window::Ever,
            ),
            &[1],
        ),
        p(
            sequence(
                "Trial Started",
                "Trial Converted",
                true,
                days(1),
                Window::Ever,
            ),
            &[2],
        ),
        p(
            sequence(
                "Trial Started",
                "Trial Converted",
                true,
                days(1),
                last_days(15),
            ),
            &[2],
        ),
        p(
            sequence(
                "Trial Started",
                "Trial Converted",
                true,
                days(1),
                last_days(5),
            ),
            &[],
        ),
        p(
            sequence(
                "Trial Started",
                "Trial Converted",
                true,
                days(30),
                Window::Ever,
            ),
            &[],
        ),
        // Segments.
        p(in_segment("Employees"), &[2]),
        p(in_segment("Germans"), &[1]),
        p(not(in_segment("Germans")), &[2, 3]),
        p(in_segment("German VIPs"), &[1]),
        // Consent.
        p(subscribed("Newsletter", None), &[1]),
        p(subscribed("Newsletter", Some("email")), &[1]),
        p(subscribed("Newsletter", Some("sms")), &[]),
        p(
            consent(ConsentState::Unsubscribed, "Newsletter", None),
            &[1, 2],
        ),
        p(
            consent(ConsentState::Unsubscribed, "Newsletter", Some("email")),
            &[2],
        ),
        // The person's account.
        p(account(field("employees", gt(100.0))), &[1]),
        p(account(field("industry", is(text("software")))), &[1]),
        p(not(account(field("employees", gt(100.0)))), &[2, 3]),
        p(
            account(field(
                "tags",
                Test::HasAny {
                    values: strs(&["eu"]),
                },
            )),
            &[1],
        ),
        p(account(in_segment("Key accounts")), &[1]),
        p(
            account(members_where(
                Quantifier::All,
                field("country", is(text("DE"))),
            )),
            &[1],
        ),
        p(
            account(members_where(
                Quantifier::No,
                field("vip", is(Literal::Bool(true))),
            )),
            &[2],
        ),
        p(account(all(vec![])), &[1, 2]),
        // Groups.
        p(all(vec![]), &[1, 2, 3]),
        p(any(vec![]), &[]),
        p(
            none(vec![
                field("country", is(text("DE"))),
                field("vip", is(Literal::Bool(false))),
            ]),
            &[3],
        ),
        p(
            any(vec![
                field("country", is(text("AT"))),
                all(vec![field("vip", Test::Exists), field("score", gt(40.0))]),
            ]),
            &[1, 2],
        ),
        p(not(not(field("country", is(text("DE"))))), &[1]),
        // Accounts.
        a(field("employees", gt(100.0)), &[1]),
        a(field("name", Test::StartsWith { value: "ac".into() }), &[1]),
        a(
            field(
                "tags",
                Test::HasAll {
                    values: strs(&["eu", "enterprise"]),
                },
            ),
            &[1],
        ),
        a(
            field("created_at", Test::WithinLast { amount: days(60) }),
            &[1, 2, 5],
        ),
        a(
            members_where(Quantifier::Any, did(oc, at_least(2), Window::Ever, None)),
            &[1],
        ),
        a(
            members_where(Quantifier::All, field("score", gt(5.0))),
            &[1, 2, 5],
        ),
        a(
            members_where(Quantifier::All, field("country", is(text("DE")))),
            &[1, 5],
        ),
        a(
            members_where(Quantifier::No, field("vip", is(Literal::Bool(true)))),
            &[2, 5],
        ),
        a(
            members_where(Quantifier::Any, field("vip", Test::Exists)),
            &[1, 2],
        ),
        a(in_segment("Key accounts"), &[1]),
        a(in_segment("Big"), &[1]),
        a(not(in_segment("Big")), &[2, 5]),
    ]
}

/// One engine with the migrated tables and the seed.
enum Engine {
    Sqlite(SqliteConnection),
    Postgres(PgConnection, String),
}

impl Engine {
    fn dialect(&self) -> Dialect {
        match self {
            Engine::Sqlite(_) => Dialect::Sqlite,
            Engine::Postgres(..) => Dialect::Postgres,
        }
    }

    async fn sqlite() -> Engine {
        let opts = SqliteConnectOptions::from_str("sqlite::memory:")
            .expect("options")
            .with_regexp();
        let mut conn = SqliteConnection::connect_with(&opts)
            .await
            .expect("open SQLite");
        for m in SQLITE_MIGRATIONS {
            sqlx::raw_sql(AssertSqlSafe(m))
                .execute(&mut conn)
                .await
                .expect("migrate");
        }
        sqlx::raw_sql(AssertSqlSafe(seed()))
            .execute(&mut conn)
            .await
            .expect("seed");
        Engine::Sqlite(conn)
    }

    /// A schema of its own, or `None` when PostgreSQL cannot be reached
    /// outside CI.
    async fn postgres() -> Option<Engine> {
        let url = std::env::var("PITCREW_TEST_POSTGRES")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
        let schema = format!(
            "filter_sql_{}_{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or_default()
        );
        let opts = PgConnectOptions::from_str(&url)
            .expect("URL")
            .options([("search_path", schema.as_str())]);
        let mut conn = match PgConnection::connect_with(&opts).await {
            Ok(c) => c,
            Err(e) if std::env::var("CI").is_err() => {
                eprintln!("note: PostgreSQL at {url} is unreachable ({e}); skipping its half");
                return None;
            }
            Err(e) => panic!("PostgreSQL at {url} is unreachable: {e}"),
        };
        let mut setup = format!("CREATE SCHEMA {schema};");
        for m in POSTGRES_MIGRATIONS {
            setup.push_str(m);
        }
        setup.push_str(&seed());
        sqlx::raw_sql(AssertSqlSafe(setup))
            .execute(&mut conn)
            .await
            .expect("migrate and seed");
        Some(Engine::Postgres(conn, schema))
    }

    async fn ids(&mut self, sql: &str) -> Result<Vec<i64>, String> {
        let rows = match self {
            Engine::Sqlite(c) => sqlx::query(AssertSqlSafe(sql))
                .fetch_all(c)
                .await
                .map_err(|e| e.to_string())?
                .iter()
                .map(|r| r.try_get::<i64, _>(0))
                .collect::<Result<Vec<_>, _>>(),
            Engine::Postgres(c, _) => sqlx::query(AssertSqlSafe(sql))
                .fetch_all(c)
                .await
                .map_err(|e| e.to_string())?
                .iter()
                .map(|r| r.try_get::<i64, _>(0))
                .collect::<Result<Vec<_>, _>>(),
        };
        let mut ids = rows.map_err(|e| e.to_string())?;
        ids.sort_unstable();
        Ok(ids)
    }

    async fn close(self) {
        if let Engine::Postgres(mut c, schema) = self {
            let _ = sqlx::raw_sql(AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
                .execute(&mut c)
                .await;
            let _ = c.close().await;
        }
    }
}

async fn engines() -> Vec<Engine> {
    let mut all = vec![Engine::sqlite().await];
    all.extend(Engine::postgres().await);
    all
}

/// What went wrong for one case on one engine, if anything.
async fn check(engine: &mut Engine, segment: &Segment, expected: &[i64]) -> Option<String> {
    let d = engine.dialect();
    let (schema, clock) = (schema(), clock());
    let listed = match members(segment, &schema, &clock, d, 1) {
        Ok(sql) => sql,
        Err(p) => return Some(format!("{d:?}: {p}\n  {segment:?}")),
    };
    let got = match engine.ids(&listed).await {
        Ok(ids) => ids,
        Err(e) => return Some(format!("{d:?}: {e}\n  {listed}")),
    };
    if got != expected {
        return Some(format!("{d:?}: got {got:?}, want {expected:?}\n  {listed}"));
    }
    let counted = count(segment, &schema, &clock, d, 1).expect("count compiles");
    let n = engine.ids(&counted).await.unwrap_or_default();
    if n != [expected.len() as i64] {
        return Some(format!(
            "{d:?}: count {n:?}, want {}\n  {counted}",
            expected.len()
        ));
    }
    // The composable form gives the same members under a caller's alias.
    let (table, alias) = match segment.subject {
        pitcrew_filter::Subject::People => ("contacts", "p"),
        pitcrew_filter::Subject::Accounts => ("accounts", "x"),
    };
    let expr = condition(segment, &schema, &clock, d, 1, alias).expect("condition compiles");
    let composed = format!(
        "SELECT {alias}.id FROM {table} AS {alias} WHERE {alias}.workspace_id = 1 AND ({expr}) ORDER BY {alias}.id"
    );
    match engine.ids(&composed).await {
        Ok(ids) if ids == expected => None,
        other => Some(format!(
            "{d:?}: composed {other:?}, want {expected:?}\n  {composed}"
        )),
    }
}

#[tokio::test]
async fn every_node_kind_selects_the_same_members_on_both_engines() {
    let mut failures = Vec::new();
    for mut engine in engines().await {
        for (segment, expected) in cases() {
            if let Some(f) = check(&mut engine, &segment, &expected).await {
                failures.push(f);
            }
        }
        engine.close().await;
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[tokio::test]
async fn no_condition_is_ever_null_on_either_engine() {
    // Two-valued fragments are what make `NOT` exact: a NULL would drop the
    // record from both a condition and its negation.
    let mut failures = Vec::new();
    for mut engine in engines().await {
        let d = engine.dialect();
        for (segment, _) in cases() {
            let (table, alias) = match segment.subject {
                pitcrew_filter::Subject::People => ("contacts", "p"),
                pitcrew_filter::Subject::Accounts => ("accounts", "x"),
            };
            let expr = condition(&segment, &schema(), &clock(), d, 1, alias).expect("compiles");
            let probe = format!("SELECT {alias}.id FROM {table} AS {alias} WHERE ({expr}) IS NULL");
            match engine.ids(&probe).await {
                Ok(ids) if ids.is_empty() => {}
                other => failures.push(format!("{d:?}: {other:?}\n  {probe}")),
            }
        }
        engine.close().await;
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[tokio::test]
async fn nasty_text_round_trips_through_both_engines() {
    let nasty = [
        "O'Brien",
        "back\\slash",
        "\"quoted\"",
        "50%_off",
        "line\nbreak\ttab",
        "'; DROP TABLE contacts; --",
        "\\'",
        "Émile ünïcödé 🚀",
    ];
    let mut failures = Vec::new();
    for mut engine in engines().await {
        let d = engine.dialect();
        for s in nasty {
            // The literal is compiled into SQL and read back by the engine.
            let tree = people(field("first_name", is(text(s))));
            let sql = members(&tree, &schema(), &clock(), d, 1).expect("compiles");
            let probe = sql.replacen(
                "SELECT c0.id FROM contacts AS c0 WHERE c0.workspace_id = 1 AND ",
                "SELECT 1 WHERE ",
                1,
            );
            let needle = probe
                .rsplit_once(" = ")
                .map(|(_, lit)| lit.trim_end_matches(')').to_string())
                .unwrap_or_default();
            let echo = format!("SELECT {needle}");
            let got: Result<String, String> = match &mut engine {
                Engine::Sqlite(c) => sqlx::query_scalar(AssertSqlSafe(echo.clone()))
                    .fetch_one(c)
                    .await
                    .map_err(|e| e.to_string()),
                Engine::Postgres(c, _) => {
                    sqlx::query_scalar(AssertSqlSafe(format!("{echo}::text")))
                        .fetch_one(c)
                        .await
                        .map_err(|e| e.to_string())
                }
            };
            if got.as_deref() != Ok(s) {
                failures.push(format!("{d:?}: {s:?} came back as {got:?} from {echo}"));
            }
            // And it runs as a whole condition.
            if let Err(e) = engine.ids(&sql).await {
                failures.push(format!("{d:?}: {e}\n  {sql}"));
            }
            // Also as a contains needle, which must find itself inside a value.
            let like = people(field("first_name", Test::Contains { value: s.into() }));
            let sql = members(&like, &schema(), &clock(), d, 1).expect("compiles");
            if let Err(e) = engine.ids(&sql).await {
                failures.push(format!("{d:?}: {e}\n  {sql}"));
            }
        }
        engine.close().await;
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[tokio::test]
async fn awkward_property_keys_are_found_on_both_engines() {
    let key = "we\"ird\\key's";
    let props = serde_json::json!({ key: "yes" })
        .to_string()
        .replace('\'', "''");
    let mut failures = Vec::new();
    for mut engine in engines().await {
        let d = engine.dialect();
        let insert = format!(
            "INSERT INTO events (workspace_id, source_id, contact_id, message_id, type, name, at, received_at, properties) \
             VALUES (1, 1, 3, 'awkward', 'track', 'Awkward', 0, 0, '{props}')"
        );
        let inserted = match &mut engine {
            Engine::Sqlite(c) => sqlx::raw_sql(AssertSqlSafe(insert))
                .execute(c)
                .await
                .map(|_| ()),
            Engine::Postgres(c, _) => sqlx::raw_sql(AssertSqlSafe(insert))
                .execute(c)
                .await
                .map(|_| ()),
        };
        inserted.expect("insert");
        let tree = people(did(
            "Awkward",
            Count::ONCE,
            Window::Ever,
            Some(field(key, is(text("yes")))),
        ));
        let sql = members(&tree, &schema(), &clock(), d, 1).expect("compiles");
        match engine.ids(&sql).await {
            Ok(ids) if ids == [3] => {}
            other => failures.push(format!("{d:?}: {other:?}\n  {sql}")),
        }
        engine.close().await;
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
