//! Temporary: timing of generated SQL against hand-written SQL.

use std::str::FromStr;
use std::time::Instant;

use pitcrew_filter::ast::{Aggregate, Count, CountOp, Occurrence, Segment, Test, Window};
use pitcrew_filter::sql::{Dialect, members};
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{AssertSqlSafe, Connection};

use super::tree::*;

const CONTACTS: i64 = 200_000;
const EVENTS: i64 = 4_000_000;

fn setup_sql(pg: bool) -> String {
    let series_c = if pg {
        format!("SELECT i FROM generate_series(1, {CONTACTS}) AS s(i)")
    } else {
        format!("WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {CONTACTS}) SELECT i FROM s")
    };
    let series_e = if pg {
        format!("SELECT i FROM generate_series(1, {EVENTS}) AS s(i)")
    } else {
        format!("WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {EVENTS}) SELECT i FROM s")
    };
    let rnd = |n: i64| if pg { format!("floor(random() * {n})::bigint") } else { format!("abs(random() % {n})") };
    let data = if pg {
        format!("jsonb_build_object('country', (ARRAY['DE','AT','FR','US','GB','IT','ES','NL','PL','SE'])[1 + {}], 'score', {}, 'vip', random() < 0.1)", rnd(10), rnd(100))
    } else {
        format!("json_object('country', CASE {} WHEN 0 THEN 'DE' WHEN 1 THEN 'AT' WHEN 2 THEN 'FR' WHEN 3 THEN 'US' WHEN 4 THEN 'GB' WHEN 5 THEN 'IT' WHEN 6 THEN 'ES' WHEN 7 THEN 'NL' WHEN 8 THEN 'PL' ELSE 'SE' END, 'score', {}, 'vip', json(CASE WHEN {} = 0 THEN 'true' ELSE 'false' END))", rnd(10), rnd(100), rnd(10))
    };
    let props = if pg {
        format!("jsonb_build_object('amount', {}, 'sku', 'S' || {})", rnd(200), rnd(50))
    } else {
        format!("json_object('amount', {}, 'sku', 'S' || {})", rnd(200), rnd(50))
    };
    // Names skewed: E0 most common.
    let name = format!("'E' || ({} % 30)", if pg { format!("floor(power(random(), 2) * 30)::int") } else { format!("abs(random() % 30) * abs(random() % 30) / 30") });
    format!(
        "INSERT INTO workspaces (id, slug, name, created_at) VALUES (1, 'one', 'One', 0);
         INSERT INTO contacts (id, workspace_id, email, data, created_at, updated_at)
           SELECT i, 1, 'c' || i || '@x.io', {data}, {NOW} - {} * 1000, {NOW} FROM ({series_c}) AS t;
         INSERT INTO events (workspace_id, source_id, contact_id, message_id, type, name, at, received_at, properties)
           SELECT 1, 1, 1 + {}, 'm' || i, 'track', {name}, {NOW} - {}, 0, {props} FROM ({series_e}) AS t;
         ANALYZE;",
        rnd(365 * 86400),
        rnd(CONTACTS),
        rnd(365 * DAY),
    )
}

fn cases() -> Vec<(&'static str, Segment, String)> {
    let lo30 = NOW - 30 * DAY;
    vec![
        (
            "did E5 in last 30 days",
            people(did("E5", Count::ONCE, last_days(30), None)),
            format!("SELECT c.id FROM contacts c WHERE c.workspace_id = 1 AND c.id IN (SELECT contact_id FROM events WHERE workspace_id = 1 AND name = 'E5' AND at >= {lo30} AND at <= {NOW})"),
        ),
        (
            "did not E5 in last 30 days",
            people(did("E5", Count::NEVER, last_days(30), None)),
            format!("SELECT c.id FROM contacts c WHERE c.workspace_id = 1 AND NOT EXISTS (SELECT 1 FROM events e WHERE e.workspace_id = 1 AND e.contact_id = c.id AND name = 'E5' AND at >= {lo30} AND at <= {NOW})"),
        ),
        (
            "did E0 at least 3 times",
            people(did("E0", Count { op: CountOp::AtLeast, times: 3 }, Window::Ever, None)),
            "SELECT c.id FROM contacts c WHERE c.workspace_id = 1 AND c.id IN (SELECT contact_id FROM events WHERE workspace_id = 1 AND name = 'E0' GROUP BY contact_id HAVING COUNT(*) >= 3)".into(),
        ),
        (
            "did E20 at least 2 times in last 30 days",
            people(did("E20", Count { op: CountOp::AtLeast, times: 2 }, last_days(30), None)),
            format!("SELECT c.id FROM contacts c WHERE c.workspace_id = 1 AND c.id IN (SELECT contact_id FROM events WHERE workspace_id = 1 AND name = 'E20' AND at >= {lo30} AND at <= {NOW} GROUP BY contact_id HAVING COUNT(*) >= 2)"),
        ),
        (
            "country is DE",
            people(field("country", is(text("DE")))),
            "SELECT c.id FROM contacts c WHERE c.workspace_id = 1 AND json_extract(c.data, '$.country') = 'DE'".into(),
        ),
        (
            "sum of amount in E3 > 500",
            people(aggregate(Aggregate::Sum, "amount", "E3", Test::Gt { value: num(500.0) })),
            "SELECT c.id FROM contacts c WHERE c.workspace_id = 1 AND c.id IN (SELECT contact_id FROM events WHERE workspace_id = 1 AND name = 'E3' GROUP BY contact_id HAVING SUM(json_extract(properties, '$.amount')) > 500)".into(),
        ),
        (
            "first E10 within last 30 days",
            people(occurrence(Occurrence::First, "E10", Test::WithinLast { amount: days(30) })),
            format!("SELECT c.id FROM contacts c WHERE c.workspace_id = 1 AND c.id IN (SELECT contact_id FROM events WHERE workspace_id = 1 AND name = 'E10' GROUP BY contact_id HAVING MIN(at) BETWEEN {lo30} AND {NOW})"),
        ),
        (
            "did E1 then E2 within 1 day",
            people(sequence("E1", "E2", false, days(1), Window::Ever)),
            "SELECT c.id FROM contacts c WHERE c.workspace_id = 1 AND EXISTS (SELECT 1 FROM events a JOIN events b ON b.workspace_id = 1 AND b.contact_id = a.contact_id AND b.name = 'E2' AND b.at > a.at AND b.at <= a.at + 86400000 WHERE a.workspace_id = 1 AND a.contact_id = c.id AND a.name = 'E1')".into(),
        ),
        (
            "did E5 where amount > 150 in last 30 days",
            people(did("E5", Count::ONCE, last_days(30), Some(field("amount", Test::Gt { value: num(150.0) })))),
            format!("SELECT c.id FROM contacts c WHERE c.workspace_id = 1 AND c.id IN (SELECT contact_id FROM events WHERE workspace_id = 1 AND name = 'E5' AND at >= {lo30} AND at <= {NOW} AND json_extract(properties, '$.amount') > 150)"),
        ),
    ]
}

fn pg_hand(sql: &str) -> String {
    sql.replace("json_extract(c.data, '$.country')", "c.data->>'country'")
        .replace("json_extract(properties, '$.amount')", "(properties->>'amount')::float8")
}

#[tokio::test]
#[ignore]
async fn bench_generated_against_hand_written() {
    // SQLite
    let path = "/tmp/filter_bench.db";
    let fresh = !std::path::Path::new(path).exists();
    let opts = SqliteConnectOptions::from_str(&format!("sqlite://{path}")).unwrap().create_if_missing(true);
    let mut lite = SqliteConnection::connect_with(&opts).await.unwrap();
    if fresh {
        for m in super::run::SQLITE_MIGRATIONS {
            sqlx::raw_sql(AssertSqlSafe(m)).execute(&mut lite).await.unwrap();
        }
        let t = Instant::now();
        sqlx::raw_sql(AssertSqlSafe(setup_sql(false))).execute(&mut lite).await.unwrap();
        eprintln!("sqlite seeded in {:?}", t.elapsed());
    }
    for (name, seg, hand) in cases() {
        let ours = members(&seg, &schema(), &clock(), Dialect::Sqlite, 1).unwrap();
        let t = Instant::now();
        let a: Vec<(i64,)> = sqlx::query_as(AssertSqlSafe(ours.clone())).fetch_all(&mut lite).await.unwrap();
        let ta = t.elapsed();
        let t = Instant::now();
        let b: Vec<(i64,)> = sqlx::query_as(AssertSqlSafe(hand.clone())).fetch_all(&mut lite).await.unwrap();
        let tb = t.elapsed();
        eprintln!("sqlite {name}: ours {ta:?} ({}) hand {tb:?} ({}) ratio {:.2}", a.len(), b.len(), ta.as_secs_f64() / tb.as_secs_f64());
    }
    // PostgreSQL
    let opts = PgConnectOptions::from_str("postgres://postgres@127.0.0.1:5432/test").unwrap().options([("search_path", "filter_bench")]);
    let mut pg = PgConnection::connect_with(&opts).await.unwrap();
    let exists: Option<(String,)> = sqlx::query_as("SELECT nspname::text FROM pg_namespace WHERE nspname = 'filter_bench'").fetch_optional(&mut pg).await.unwrap();
    if exists.is_none() {
        let mut setup = "CREATE SCHEMA filter_bench;".to_string();
        for m in super::run::POSTGRES_MIGRATIONS {
            setup.push_str(m);
        }
        sqlx::raw_sql(AssertSqlSafe(setup)).execute(&mut pg).await.unwrap();
        let t = Instant::now();
        sqlx::raw_sql(AssertSqlSafe(setup_sql(true))).execute(&mut pg).await.unwrap();
        eprintln!("pg seeded in {:?}", t.elapsed());
    }
    for (name, seg, hand) in cases() {
        let ours = members(&seg, &schema(), &clock(), Dialect::Postgres, 1).unwrap();
        let hand = pg_hand(&hand);
        let t = Instant::now();
        let a: Vec<(i64,)> = sqlx::query_as(AssertSqlSafe(ours.clone())).fetch_all(&mut pg).await.unwrap();
        let ta = t.elapsed();
        let t = Instant::now();
        let b: Vec<(i64,)> = sqlx::query_as(AssertSqlSafe(hand.clone())).fetch_all(&mut pg).await.unwrap();
        let tb = t.elapsed();
        eprintln!("pg {name}: ours {ta:?} ({}) hand {tb:?} ({}) ratio {:.2}", a.len(), b.len(), ta.as_secs_f64() / tb.as_secs_f64());
    }
}
