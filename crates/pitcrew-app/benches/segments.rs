//! Audience counts at scale: the SQL pitcrew compiles from a segment
//! definition against the same question written by hand as plain SQL, on the
//! same data in the same run, on SQLite and (when reachable) PostgreSQL.
//!
//! ```sh
//! cargo bench -p pitcrew-app --bench segments                    # 1,000,000 contacts, 20,000,000 events, 50,000 accounts
//! cargo bench -p pitcrew-app --bench segments -- 20000 400000    # contacts, events
//! cargo bench -p pitcrew-app --bench segments -- --sqlite-only   # or --postgres-only, --explain, --stats, --keep
//! ```
//!
//! Data, generated inside each database by set-based SQL from the row number
//! alone, so both engines hold identical rows: one account per 20 contacts
//! (industry, plan, employees, country); contacts with a skewed country mix,
//! a lifecycle stage, a lead score, a signup date and, for 80 %, an account
//! (a few accounts are very large); events spread over the last 365 days in
//! arrival order, with a long tail over people (a few have thousands, most
//! a handful, a quarter none), names drawn
//! from thirteen with realistic frequencies (`Page Viewed` common, `Order
//! Completed` rare) and properties such as `amount`, `plan`, `campaign`.
//! Then the secondary indexes of the migrations are built and the statistics
//! gathered, as a long-running installation would have them.
//!
//! Measured: for each definition, the wall time of a COUNT of its members —
//! checking and compiling the definition plus running pitcrew's SQL — beside
//! the time of the hand-written SQL a competent analyst would write for the
//! same question. Every definition and query runs once to warm up (and both
//! counts must be equal, or the benchmark stops), then the median of 5 timed
//! runs (3 when a warm-up took over 5 s) is printed with the ratio
//! pitcrew / hand-written: below 1 pitcrew is faster.

use std::time::{Duration, Instant};

use pitcrew_app::record::{NewField, create_field, list_fields};
use pitcrew_app::{Actor, Db, admin, ingest};
use pitcrew_core::record::{FieldType, ObjectKind, PicklistOption};
use pitcrew_filter::schema::EventInfo;
use pitcrew_filter::sql::Dialect;
use pitcrew_filter::{Clock, Schema, Segment};
use pitcrew_store::{Engine, params};
use serde_json::{Value, json};

/// 2026-06-01T00:00:00Z: every relative window resolves from here.
const NOW: i64 = 1_780_272_000_000;
const DAY: i64 = 86_400_000;
const YEAR: i64 = 365 * DAY;
/// The modulus of the row-number hash (2^31 − 1, prime).
const P: i64 = 2_147_483_647;
/// Rows per generating statement and transaction.
const CHUNK: i64 = 1_000_000;
/// A warm-up slower than this gets 3 timed runs instead of 5.
const SLOW: Duration = Duration::from_secs(5);

// ---- the data's shape ---------------------------------------------------------
// Weights are per thousand; whatever a list leaves over is "no value".

const COUNTRIES: &[(&str, u32)] = &[
    ("US", 300),
    ("DE", 110),
    ("GB", 100),
    ("FR", 70),
    ("CA", 50),
    ("NL", 40),
    ("ES", 35),
    ("IT", 35),
    ("AU", 30),
    ("IN", 30),
    ("BR", 25),
    ("SE", 20),
    ("CH", 20),
    ("JP", 20),
    ("PL", 15),
    ("AT", 15),
    ("BE", 15),
    ("DK", 10),
    ("IE", 10),
    ("NO", 10),
];
const STAGES: &[(&str, u32)] = &[
    ("subscriber", 250),
    ("lead", 300),
    ("mql", 150),
    ("sal", 50),
    ("sql", 50),
    ("opportunity", 50),
    ("customer", 120),
    ("other", 30),
];
const FIRST_NAMES: &[(&str, u32)] = &[
    ("Anna", 100),
    ("Ben", 100),
    ("Chloé", 80),
    ("David", 100),
    ("Elif", 70),
    ("Farah", 70),
    ("Georg", 80),
    ("Hana", 80),
    ("Ivan", 80),
    ("Jules", 80),
    ("Kofi", 80),
    ("Lena", 80),
];
const JOB_TITLES: &[(&str, u32)] = &[
    ("Marketing Manager", 80),
    ("Head of Marketing", 30),
    ("CMO", 10),
    ("Product Manager", 80),
    ("Software Engineer", 200),
    ("Sales Manager", 100),
    ("Account Executive", 100),
    ("CEO", 50),
    ("Founder", 50),
    ("Data Analyst", 100),
    ("Designer", 80),
    ("Operations Manager", 70),
    ("HR Manager", 50),
];
const INDUSTRIES: &[(&str, u32)] = &[
    ("software", 250),
    ("financial_services", 120),
    ("healthcare", 100),
    ("manufacturing", 120),
    ("retail", 100),
    ("education", 60),
    ("media", 50),
    ("telecommunications", 40),
    ("energy", 40),
    ("public_sector", 40),
    ("other", 80),
];
const PLANS: &[(&str, u32)] = &[
    ("free", 450),
    ("starter", 300),
    ("pro", 180),
    ("enterprise", 70),
];
const ORDER_PLANS: &[(&str, u32)] = &[("starter", 600), ("pro", 300), ("enterprise", 100)];
const EVENTS: &[(&str, u32)] = &[
    ("Page Viewed", 450),
    ("Email Opened", 150),
    ("Feature Used", 120),
    ("Signed In", 80),
    ("Email Clicked", 70),
    ("Form Submitted", 30),
    ("Invite Sent", 25),
    ("Signed Up", 20),
    ("Webinar Registered", 15),
    ("Order Completed", 12),
    ("Trial Started", 10),
    ("Subscription Cancelled", 10),
    ("Demo Requested", 8),
];
const PATHS: &[(&str, u32)] = &[
    ("/", 300),
    ("/pricing", 150),
    ("/features", 150),
    ("/blog", 200),
    ("/docs", 150),
    ("/customers", 50),
];

// ---- command line -------------------------------------------------------------

struct Options {
    contacts: i64,
    events: i64,
    sqlite: bool,
    postgres: bool,
    /// Print each query's plan after the table.
    explain: bool,
    /// Print how the generated data is distributed.
    stats: bool,
    /// Leave the databases in place afterwards, for queries by hand.
    keep: bool,
}

/// `[CONTACTS] [EVENTS]` and flags; cargo's own `--bench` is ignored.
/// `PITCREW_BENCH_ENGINE=sqlite|postgres` picks one engine too.
fn options() -> Options {
    let mut numbers = Vec::new();
    let engine = std::env::var("PITCREW_BENCH_ENGINE").unwrap_or_default();
    let mut o = Options {
        contacts: 1_000_000,
        events: 20_000_000,
        sqlite: engine != "postgres",
        postgres: engine != "sqlite",
        explain: false,
        stats: false,
        keep: false,
    };
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--sqlite-only" => o.postgres = false,
            "--postgres-only" => o.sqlite = false,
            "--explain" => o.explain = true,
            "--stats" => o.stats = true,
            "--keep" => o.keep = true,
            a if a.starts_with("--") => {}
            a => numbers.push(
                a.replace('_', "")
                    .parse::<i64>()
                    .expect("CONTACTS and EVENTS are whole numbers"),
            ),
        }
    }
    if let Some(&c) = numbers.first() {
        o.contacts = c;
    }
    if let Some(&e) = numbers.get(1) {
        o.events = e;
    }
    assert!(o.contacts >= 100, "at least 100 contacts");
    o
}

// ---- generating SQL -------------------------------------------------------------

/// A pseudo-random integer in `0..P` from the integer SQL expression `n`:
/// an affine step and two squarings modulo a prime, in 64-bit integer
/// arithmetic that SQLite and PostgreSQL compute identically.
fn rnd(n: &str, salt: i64) -> String {
    let x0 = format!("(({n} * 2654435761 + {}) % {P})", salt * 1_000_003 + 1);
    let x1 = format!("(({x0} * {x0}) % {P})");
    let x2 = format!("(({x1} * 48271 + {}) % {P})", salt * 7);
    format!("(({x2} * {x2}) % {P})")
}

/// `x` (an integer in `0..1000`) mapped onto weighted text values.
fn weighted(x: &str, choices: &[(&str, u32)]) -> String {
    let mut sql = String::from("CASE");
    let mut upto = 0;
    for (value, weight) in choices {
        upto += weight;
        sql.push_str(&format!(" WHEN {x} < {upto} THEN '{value}'"));
    }
    sql.push_str(" END");
    sql
}

/// A skewed pick of `1..=size` from the random column `r`: rank
/// `size · u²` with `u` uniform, so low ranks are chosen far more often,
/// spread over the ids by a multiplier coprime with `size`.
fn skewed(r: &str, size: i64, spread_over: i64) -> String {
    let m = coprime(spread_over);
    format!(
        "(1 + (((({r} % 1000000) * ({r} % 1000000) / 1000) * {size} / 1000000000) * {m}) % {spread_over})"
    )
}

fn coprime(n: i64) -> i64 {
    let gcd = |mut a: i64, mut b: i64| {
        while b != 0 {
            (a, b) = (b, a % b);
        }
        a
    };
    [999_983, 1_000_003, 7_919, 104_729]
        .into_iter()
        .find(|&m| gcd(m, n) == 1)
        .unwrap_or(1)
}

/// A JSON object from `(key, SQL expression)` pairs; keys whose value is
/// NULL are left out, as pitcrew stores "no value".
fn object(engine: Engine, pairs: &[(&str, String)]) -> String {
    let args = pairs
        .iter()
        .map(|(k, v)| format!("'{k}', {v}"))
        .collect::<Vec<_>>()
        .join(", ");
    match engine {
        Engine::Sqlite => format!("json_patch('{{}}', json_object({args}))"),
        Engine::Postgres => format!("jsonb_strip_nulls(jsonb_build_object({args}))"),
    }
}

/// `(SELECT n, r1, …, rk …) AS g`: row numbers `lo..=hi` with `k` random
/// columns computed once per row (OFFSET 0 keeps both planners from
/// inlining the subquery and recomputing each column where it is used).
fn randoms(engine: Engine, lo: i64, hi: i64, k: i64) -> String {
    let cols = (1..=k)
        .map(|i| format!("{} AS r{i}", rnd("s.n", i)))
        .collect::<Vec<_>>()
        .join(", ");
    match engine {
        Engine::Sqlite => format!(
            "(SELECT s.n, {cols} FROM (WITH RECURSIVE c(n) AS (SELECT {lo} UNION ALL SELECT n + 1 FROM c WHERE n < {hi}) SELECT n FROM c) AS s LIMIT -1 OFFSET 0)"
        ),
        Engine::Postgres => format!(
            "(SELECT s.n, {cols} FROM generate_series({lo}::bigint, {hi}::bigint) AS s(n) OFFSET 0)"
        ),
    }
}

fn no_inline(engine: Engine) -> &'static str {
    match engine {
        Engine::Sqlite => "LIMIT -1 OFFSET 0",
        Engine::Postgres => "OFFSET 0",
    }
}

fn accounts_sql(engine: Engine, ws: i64, lo: i64, hi: i64) -> String {
    let employees = "CASE WHEN g.r3 % 1000 < 350 THEN 1 + g.r4 % 10 \
         WHEN g.r3 % 1000 < 600 THEN 11 + g.r4 % 40 \
         WHEN g.r3 % 1000 < 800 THEN 51 + g.r4 % 150 \
         WHEN g.r3 % 1000 < 920 THEN 201 + g.r4 % 800 \
         WHEN g.r3 % 1000 < 980 THEN 1001 + g.r4 % 4000 \
         ELSE 5001 + g.r4 % 45000 END";
    let data = object(
        engine,
        &[
            ("name", "'Company ' || g.n".into()),
            ("domain", "'company' || g.n || '.example'".into()),
            ("industry", weighted("g.r1 % 1000", INDUSTRIES)),
            ("country", weighted("g.r2 % 1000", COUNTRIES)),
            ("employees", employees.into()),
            ("plan", weighted("g.r5 % 1000", PLANS)),
        ],
    );
    format!(
        "INSERT INTO accounts (id, workspace_id, external_id, search, data, created_at, updated_at) \
         SELECT g.n, {ws}, 'acct-' || g.n, 'company ' || g.n, {data}, {NOW} - (g.r6 % 1500) * {DAY}, {NOW} - (g.r6 % 1500) * {DAY} \
         FROM {} AS g",
        randoms(engine, lo, hi, 6)
    )
}

fn contacts_sql(engine: Engine, ws: i64, accounts: i64, lo: i64, hi: i64) -> String {
    let signup_days = "(1 + g.r5 % 1095)";
    let signup_date = match engine {
        Engine::Sqlite => format!("date('2026-06-01', '-' || {signup_days} || ' days')"),
        Engine::Postgres => {
            format!("to_char(DATE '2026-06-01' - {signup_days}::int, 'YYYY-MM-DD')")
        }
    };
    let created = format!("{NOW} - {signup_days} * {DAY} + g.r9 % {DAY}");
    let data = object(
        engine,
        &[
            ("first_name", weighted("g.r6 % 1000", FIRST_NAMES)),
            ("last_name", "'Last' || g.n".into()),
            ("job_title", weighted("g.r7 % 1000", JOB_TITLES)),
            ("country", weighted("g.r1 % 1000", COUNTRIES)),
            ("lifecycle_stage", weighted("g.r3 % 1000", STAGES)),
            (
                "lead_score",
                "CASE WHEN g.r4 % 10 = 0 THEN NULL ELSE (g.r4 / 10) % 101 END".into(),
            ),
            ("signup_date", signup_date),
        ],
    );
    let account = format!(
        "CASE WHEN g.r2 % 100 < 80 THEN {} END",
        skewed("g.r8", accounts, accounts)
    );
    format!(
        "INSERT INTO contacts (id, workspace_id, external_id, email, account_id, search, data, created_at, updated_at) \
         SELECT g.n, {ws}, 'user-' || g.n, 'person' || g.n || '@example.com', {account}, 'person' || g.n || '@example.com', {data}, {created}, {created} \
         FROM {} AS g",
        randoms(engine, lo, hi, 9)
    )
}

fn events_sql(engine: Engine, ws: i64, source: i64, o: &Options, lo: i64, hi: i64) -> String {
    let empty = match engine {
        Engine::Sqlite => "'{}'",
        Engine::Postgres => "'{}'::jsonb",
    };
    let amount = "CASE WHEN g.r3 % 20 = 0 THEN 500 + g.r4 % 4500 ELSE 5 + g.r4 % 495 END";
    let plan = weighted("g.r5 % 1000", ORDER_PLANS);
    let properties = format!(
        "CASE g.name \
         WHEN 'Page Viewed' THEN {} \
         WHEN 'Order Completed' THEN {} \
         WHEN 'Signed Up' THEN {} WHEN 'Trial Started' THEN {} \
         WHEN 'Email Opened' THEN {} WHEN 'Email Clicked' THEN {} \
         WHEN 'Feature Used' THEN {} \
         ELSE {empty} END",
        object(engine, &[("path", weighted("g.r3 % 1000", PATHS))]),
        object(
            engine,
            &[
                ("amount", amount.into()),
                ("plan", plan.clone()),
                ("currency", "'USD'".into())
            ]
        ),
        object(engine, &[("plan", plan.clone())]),
        object(engine, &[("plan", plan)]),
        object(engine, &[("campaign", "'spring-' || (g.r3 % 12)".into())]),
        object(engine, &[("campaign", "'spring-' || (g.r3 % 12)".into())]),
        object(engine, &[("feature", "'feature-' || (g.r3 % 30)".into())]),
    );
    // A quarter of the people never send an event: ranks cover three quarters of the ids.
    let tracked = (o.contacts * 3 / 4).max(1);
    let contact = skewed("g.r2", tracked, o.contacts);
    // Arrival order: row n happens n/EVENTS of the way through the year.
    let at = format!("{NOW} - {YEAR} + (g.n - 1) * {YEAR} / {}", o.events);
    format!(
        "INSERT INTO events (id, workspace_id, source_id, contact_id, message_id, type, name, at, received_at, properties) \
         SELECT g.n, {ws}, {source}, {contact}, 'm' || g.n, CASE g.name WHEN 'Page Viewed' THEN 'page' ELSE 'track' END, g.name, {at}, {at}, {properties} \
         FROM (SELECT r.*, {} AS name FROM {} AS r {}) AS g",
        weighted("r.r1 % 1000", EVENTS),
        randoms(engine, lo, hi, 5),
        no_inline(engine)
    )
}

// ---- loading ------------------------------------------------------------------

/// The secondary indexes of `table` as the migrations made them, dropped so
/// the bulk load appends rows and the indexes are built once, sorted.
async fn drop_indexes(db: &Db, table: &str) -> Vec<String> {
    let sql = match db.engine() {
        Engine::Sqlite => {
            "SELECT name AS name, sql AS def FROM sqlite_master WHERE type = 'index' AND tbl_name = $1 AND sql IS NOT NULL"
        }
        Engine::Postgres => {
            "SELECT indexname AS name, indexdef AS def FROM pg_indexes WHERE schemaname = current_schema() AND tablename = $1 \
             AND indexname NOT IN (SELECT conname FROM pg_constraint)"
        }
    };
    let rows = db.fetch_all(sql, params![table]).await.expect("indexes");
    let mut defs = Vec::new();
    for row in rows {
        let name = row.text("name").expect("name");
        defs.push(row.text("def").expect("definition"));
        db.execute(&format!("DROP INDEX {name}"), vec![])
            .await
            .expect("drop index");
    }
    defs
}

/// One generating statement in its own transaction; on PostgreSQL without
/// per-row foreign-key triggers (the rows are consistent by construction).
async fn load(db: &Db, sql: &str) {
    let mut tx = db.begin().await.expect("begin");
    if db.engine() == Engine::Postgres {
        tx.execute("SET LOCAL session_replication_role = replica", vec![])
            .await
            .expect("replication role");
        tx.execute("SET LOCAL synchronous_commit = off", vec![])
            .await
            .expect("synchronous commit");
    }
    tx.execute(sql, vec![]).await.expect("generate rows");
    tx.commit().await.expect("commit");
}

async fn build_indexes(db: &Db, defs: &[String]) {
    for def in defs {
        let mut tx = db.begin().await.expect("begin");
        if db.engine() == Engine::Postgres {
            tx.execute("SET LOCAL maintenance_work_mem = '1GB'", vec![])
                .await
                .expect("maintenance memory");
        }
        tx.execute(def, vec![]).await.expect("create index");
        tx.commit().await.expect("commit");
    }
}

fn field(object: ObjectKind, key: &str, label: &str, field_type: FieldType) -> NewField {
    NewField {
        object,
        key: key.into(),
        label: label.into(),
        field_type,
        required: false,
        default: None,
        options: Vec::new(),
    }
}

fn secs(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

/// Generate the workspace's data; returns the workspace id.
async fn generate(db: &Db, label: &str, o: &Options) -> i64 {
    let started = Instant::now();
    let ws = admin::create_workspace(db, "bench", "Bench", NOW)
        .await
        .expect("workspace")
        .id;
    let system = Actor::system(ws);
    let plan = NewField {
        options: PLANS
            .iter()
            .map(|(v, _)| PicklistOption::new(v, v))
            .collect(),
        ..field(ObjectKind::Account, "plan", "Plan", FieldType::Picklist)
    };
    for f in [
        field(
            ObjectKind::Contact,
            "lead_score",
            "Lead score",
            FieldType::Number,
        ),
        field(
            ObjectKind::Contact,
            "signup_date",
            "Signup date",
            FieldType::Date,
        ),
        plan,
    ] {
        create_field(db, &system, f, NOW).await.expect("field");
    }
    let source = ingest::create_source(db, &system, "Website", NOW)
        .await
        .expect("source")
        .source
        .id;
    let engine = db.engine();
    let accounts = (o.contacts / 20).max(1);
    let mut indexes = drop_indexes(db, "contacts").await;
    indexes.extend(drop_indexes(db, "events").await);

    load(db, &accounts_sql(engine, ws, 1, accounts)).await;
    for lo in (1..=o.contacts).step_by(CHUNK as usize) {
        let hi = (lo + CHUNK - 1).min(o.contacts);
        load(db, &contacts_sql(engine, ws, accounts, lo, hi)).await;
    }
    let people = started.elapsed();
    println!(
        "{label:<11} generated {accounts} accounts and {} contacts in {}",
        o.contacts,
        secs(people)
    );
    for lo in (1..=o.events).step_by(CHUNK as usize) {
        let hi = (lo + CHUNK - 1).min(o.events);
        load(db, &events_sql(engine, ws, source, o, lo, hi)).await;
    }
    let events = started.elapsed();
    println!(
        "{label:<11} generated {} events in {}",
        o.events,
        secs(events - people)
    );
    build_indexes(db, &indexes).await;
    let indexed = started.elapsed();
    println!(
        "{label:<11} built {} indexes in {}",
        indexes.len(),
        secs(indexed - events)
    );
    let analyze = match engine {
        Engine::Sqlite => "ANALYZE",
        Engine::Postgres => "VACUUM ANALYZE",
    };
    db.execute(analyze, vec![]).await.expect("analyze");
    println!(
        "{label:<11} {analyze} in {}; data ready in {}",
        secs(started.elapsed() - indexed),
        secs(started.elapsed())
    );
    ws
}

/// How the generated data is spread, to judge its realism.
async fn stats(db: &Db, label: &str, ws: i64) {
    let per_person = format!(
        "SELECT COUNT(*) AS people, COALESCE(MAX(k), 0) AS most, COALESCE(SUM(CASE WHEN k >= 100 THEN 1 ELSE 0 END), 0) AS heavy \
         FROM (SELECT contact_id, COUNT(*) AS k FROM events WHERE workspace_id = {ws} GROUP BY contact_id) AS t"
    );
    let row = db.fetch_one(&per_person, vec![]).await.expect("stats");
    println!(
        "{label:<11} people with events: {}, most events of one person: {}, people with 100 or more: {}",
        row.int("people").expect("people"),
        row.int("most").expect("most"),
        row.int("heavy").expect("heavy")
    );
    let names = format!(
        "SELECT name AS name, COUNT(*) AS n FROM events WHERE workspace_id = {ws} GROUP BY name ORDER BY COUNT(*) DESC"
    );
    let rows = db.fetch_all(&names, vec![]).await.expect("names");
    let names = rows
        .iter()
        .map(|r| {
            format!(
                "{} {}",
                r.text("name").expect("name"),
                r.int("n").expect("n")
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    println!("{label:<11} events by name: {names}");
}

// ---- the definitions and their hand-written twins -----------------------------

/// Builds the hand-written SQL for one engine and workspace.
struct Hand {
    engine: Engine,
    ws: i64,
}

impl Hand {
    /// A JSON member as text.
    fn text(&self, col: &str, key: &str) -> String {
        match self.engine {
            Engine::Sqlite => format!("json_extract({col}, '$.{key}')"),
            Engine::Postgres => format!("({col}->>'{key}')"),
        }
    }

    /// A JSON member as a number.
    fn num(&self, col: &str, key: &str) -> String {
        match self.engine {
            Engine::Sqlite => format!("json_extract({col}, '$.{key}')"),
            Engine::Postgres => format!("({col}->>'{key}')::numeric"),
        }
    }

    /// Case-insensitive LIKE.
    fn ilike(&self) -> &'static str {
        match self.engine {
            Engine::Sqlite => "LIKE",
            Engine::Postgres => "ILIKE",
        }
    }
}

fn ago(days: i64) -> i64 {
    NOW - days * DAY
}

struct Case {
    name: &'static str,
    definition: Value,
    hand: fn(&Hand) -> String,
}

fn last(days: u32) -> Value {
    json!({"window": "last", "amount": {"amount": days, "unit": "days"}})
}

fn did(event: &str, op: &str, times: u32, window: Value) -> Value {
    json!({"kind": "did", "event": event, "count": {"op": op, "times": times}, "window": window})
}

fn test_field(field: &str, test: Value) -> Value {
    json!({"kind": "field", "field": field, "test": test})
}

fn people(condition: Value) -> Value {
    json!({"subject": "people", "where": condition})
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "field",
            definition: people(json!({"kind": "all", "of": [
                test_field("country", json!({"op": "in", "values": ["DE", "AT", "CH"]})),
                test_field("lifecycle_stage", json!({"op": "in", "values": ["mql", "sql"]})),
                test_field("lead_score", json!({"op": "gte", "value": 50})),
            ]})),
            hand: |h| {
                format!(
                    "SELECT COUNT(*) FROM contacts WHERE workspace_id = {} AND {} IN ('DE', 'AT', 'CH') AND {} IN ('mql', 'sql') AND {} >= 50",
                    h.ws,
                    h.text("data", "country"),
                    h.text("data", "lifecycle_stage"),
                    h.num("data", "lead_score")
                )
            },
        },
        Case {
            name: "field text+date",
            definition: people(json!({"kind": "all", "of": [
                test_field("job_title", json!({"op": "contains", "value": "marketing"})),
                test_field("signup_date", json!({"op": "within_last", "amount": {"amount": 90, "unit": "days"}})),
            ]})),
            hand: |h| {
                format!(
                    "SELECT COUNT(*) FROM contacts WHERE workspace_id = {} AND {} {} '%marketing%' AND {} >= '2026-03-03'",
                    h.ws,
                    h.text("data", "job_title"),
                    h.ilike(),
                    h.text("data", "signup_date")
                )
            },
        },
        Case {
            name: "did in window",
            definition: people(did("Order Completed", "at_least", 1, last(30))),
            hand: |h| {
                format!(
                    "SELECT COUNT(DISTINCT contact_id) FROM events WHERE workspace_id = {} AND name = 'Order Completed' AND at >= {}",
                    h.ws,
                    ago(30)
                )
            },
        },
        Case {
            name: "did 10+ times",
            definition: people(did("Page Viewed", "at_least", 10, last(30))),
            hand: |h| {
                format!(
                    "SELECT COUNT(*) FROM (SELECT contact_id FROM events WHERE workspace_id = {} AND name = 'Page Viewed' AND at >= {} \
                     GROUP BY contact_id HAVING COUNT(*) >= 10) AS t",
                    h.ws,
                    ago(30)
                )
            },
        },
        Case {
            name: "did where prop",
            definition: people(json!({
                "kind": "did", "event": "Order Completed", "count": {"op": "at_least", "times": 1},
                "window": last(90),
                "where": test_field("amount", json!({"op": "gt", "value": 1000})),
            })),
            hand: |h| {
                format!(
                    "SELECT COUNT(DISTINCT contact_id) FROM events WHERE workspace_id = {} AND name = 'Order Completed' AND at >= {} AND {} > 1000",
                    h.ws,
                    ago(90),
                    h.num("properties", "amount")
                )
            },
        },
        Case {
            name: "field + did not",
            definition: people(json!({"kind": "all", "of": [
                test_field("lifecycle_stage", json!({"op": "is", "value": "customer"})),
                did("Signed In", "exactly", 0, last(30)),
            ]})),
            hand: |h| {
                format!(
                    "SELECT COUNT(*) FROM contacts c WHERE c.workspace_id = {} AND {} = 'customer' \
                     AND NOT EXISTS (SELECT 1 FROM events e WHERE e.workspace_id = c.workspace_id AND e.contact_id = c.id \
                     AND e.name = 'Signed In' AND e.at >= {})",
                    h.ws,
                    h.text("c.data", "lifecycle_stage"),
                    ago(30)
                )
            },
        },
        Case {
            name: "sequence",
            definition: people(json!({
                "kind": "sequence", "first": "Trial Started", "then": "Order Completed", "negated": false,
                "within": {"amount": 14, "unit": "days"}, "window": last(180),
            })),
            hand: |h| {
                format!(
                    "SELECT COUNT(DISTINCT a.contact_id) FROM events a JOIN events b ON b.workspace_id = a.workspace_id \
                     AND b.contact_id = a.contact_id AND b.name = 'Order Completed' AND b.at > a.at AND b.at <= a.at + {} \
                     WHERE a.workspace_id = {} AND a.name = 'Trial Started' AND a.at >= {}",
                    14 * DAY,
                    h.ws,
                    ago(180)
                )
            },
        },
        Case {
            name: "sequence then not",
            definition: people(json!({
                "kind": "sequence", "first": "Demo Requested", "then": "Order Completed", "negated": true,
                "within": {"amount": 30, "unit": "days"}, "window": last(365),
            })),
            hand: |h| {
                format!(
                    "SELECT COUNT(DISTINCT a.contact_id) FROM events a WHERE a.workspace_id = {} AND a.name = 'Demo Requested' \
                     AND a.at >= {} AND a.at <= {} AND NOT EXISTS (SELECT 1 FROM events b WHERE b.workspace_id = a.workspace_id \
                     AND b.contact_id = a.contact_id AND b.name = 'Order Completed' AND b.at > a.at AND b.at <= a.at + {})",
                    h.ws,
                    ago(365),
                    ago(30),
                    30 * DAY
                )
            },
        },
        Case {
            name: "account",
            definition: people(
                json!({"kind": "account", "condition": {"kind": "all", "of": [
                    test_field("plan", json!({"op": "is", "value": "enterprise"})),
                    test_field("employees", json!({"op": "gte", "value": 1000})),
                ]}}),
            ),
            hand: |h| {
                format!(
                    "SELECT COUNT(*) FROM contacts c JOIN accounts a ON a.workspace_id = c.workspace_id AND a.id = c.account_id \
                     WHERE c.workspace_id = {} AND {} = 'enterprise' AND {} >= 1000",
                    h.ws,
                    h.text("a.data", "plan"),
                    h.num("a.data", "employees")
                )
            },
        },
        Case {
            name: "accounts: members did",
            definition: json!({"subject": "accounts", "where": {"kind": "all", "of": [
                test_field("industry", json!({"op": "is", "value": "software"})),
                {"kind": "members", "quantifier": "any", "condition": did("Order Completed", "at_least", 1, last(90))},
            ]}}),
            hand: |h| {
                format!(
                    "SELECT COUNT(DISTINCT c.account_id) FROM events e \
                     JOIN contacts c ON c.workspace_id = e.workspace_id AND c.id = e.contact_id \
                     JOIN accounts a ON a.workspace_id = c.workspace_id AND a.id = c.account_id \
                     WHERE e.workspace_id = {} AND e.name = 'Order Completed' AND e.at >= {} AND {} = 'software'",
                    h.ws,
                    ago(90),
                    h.text("a.data", "industry")
                )
            },
        },
        Case {
            name: "nested",
            definition: people(json!({"kind": "all", "of": [
                {"kind": "any", "of": [
                    test_field("country", json!({"op": "in", "values": ["US", "GB"]})),
                    test_field("lead_score", json!({"op": "gt", "value": 80})),
                ]},
                {"kind": "account", "condition":
                    test_field("industry", json!({"op": "in", "values": ["software", "financial_services"]}))},
                did("Webinar Registered", "at_least", 1, last(60)),
                {"kind": "not", "condition": test_field("lifecycle_stage", json!({"op": "is", "value": "customer"}))},
            ]})),
            hand: |h| {
                format!(
                    "SELECT COUNT(*) FROM contacts c JOIN accounts a ON a.workspace_id = c.workspace_id AND a.id = c.account_id \
                     WHERE c.workspace_id = {} AND ({} IN ('US', 'GB') OR {} > 80) \
                     AND {} IN ('software', 'financial_services') AND {} <> 'customer' \
                     AND EXISTS (SELECT 1 FROM events e WHERE e.workspace_id = c.workspace_id AND e.contact_id = c.id \
                     AND e.name = 'Webinar Registered' AND e.at >= {})",
                    h.ws,
                    h.text("c.data", "country"),
                    h.num("c.data", "lead_score"),
                    h.text("a.data", "industry"),
                    h.text("c.data", "lifecycle_stage"),
                    ago(60)
                )
            },
        },
        Case {
            name: "aggregate sum",
            definition: people(json!({
                "kind": "aggregate", "function": "sum", "property": "amount", "event": "Order Completed",
                "window": last(365), "test": {"op": "gt", "value": 1000},
            })),
            hand: |h| {
                format!(
                    "SELECT COUNT(*) FROM (SELECT contact_id FROM events WHERE workspace_id = {} AND name = 'Order Completed' AND at >= {} \
                     GROUP BY contact_id HAVING SUM({}) > 1000) AS t",
                    h.ws,
                    ago(365),
                    h.num("properties", "amount")
                )
            },
        },
        Case {
            name: "aggregate distinct",
            definition: people(json!({
                "kind": "aggregate", "function": "distinct_count", "property": "campaign", "event": "Email Clicked",
                "window": last(90), "test": {"op": "gte", "value": 3},
            })),
            hand: |h| {
                format!(
                    "SELECT COUNT(*) FROM (SELECT contact_id FROM events WHERE workspace_id = {} AND name = 'Email Clicked' AND at >= {} \
                     GROUP BY contact_id HAVING COUNT(DISTINCT {}) >= 3) AS t",
                    h.ws,
                    ago(90),
                    h.text("properties", "campaign")
                )
            },
        },
        Case {
            name: "first occurrence",
            definition: people(json!({
                "kind": "occurrence", "which": "first", "event": "Signed Up",
                "test": {"op": "within_last", "amount": {"amount": 30, "unit": "days"}},
            })),
            hand: |h| {
                format!(
                    "SELECT COUNT(*) FROM (SELECT contact_id FROM events WHERE workspace_id = {} AND name = 'Signed Up' \
                     GROUP BY contact_id HAVING MIN(at) >= {}) AS t",
                    h.ws,
                    ago(30)
                )
            },
        },
        Case {
            name: "last occurrence",
            definition: people(json!({
                "kind": "occurrence", "which": "last", "event": "Signed In",
                "test": {"op": "more_than_ago", "amount": {"amount": 90, "unit": "days"}},
            })),
            hand: |h| {
                format!(
                    "SELECT COUNT(*) FROM (SELECT contact_id FROM events WHERE workspace_id = {} AND name = 'Signed In' \
                     GROUP BY contact_id HAVING MAX(at) < {}) AS t",
                    h.ws,
                    ago(90)
                )
            },
        },
    ]
}

// ---- measuring ----------------------------------------------------------------

/// The workspace's vocabulary, as the checker and compiler see it.
async fn schema(db: &Db, ws: i64) -> Schema {
    let system = Actor::system(ws);
    let fields = |object| list_fields(db, &system, Some(object));
    let events = [
        ("Page Viewed", &["path"][..]),
        ("Order Completed", &["amount", "plan", "currency"][..]),
        ("Signed Up", &["plan"][..]),
        ("Trial Started", &["plan"][..]),
        ("Email Opened", &["campaign"][..]),
        ("Email Clicked", &["campaign"][..]),
        ("Feature Used", &["feature"][..]),
    ];
    Schema {
        contact_fields: fields(ObjectKind::Contact).await.expect("contact fields"),
        account_fields: fields(ObjectKind::Account).await.expect("account fields"),
        events: EVENTS
            .iter()
            .map(|(name, _)| EventInfo {
                name: (*name).into(),
                property_keys: events
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, keys)| keys.iter().map(|k| (*k).to_string()).collect())
                    .unwrap_or_default(),
            })
            .collect(),
        ..Schema::default()
    }
}

/// Check and compile a definition into its COUNT query.
fn compile(definition: &Value, schema: &Schema, dialect: Dialect, ws: i64) -> String {
    let segment: Segment = serde_json::from_value(definition.clone()).expect("definition");
    let checked = pitcrew_filter::check(&segment, schema, None)
        .unwrap_or_else(|p| panic!("the definition does not check: {p:?}"));
    pitcrew_filter::sql::count(&checked.segment, schema, &Clock::utc(NOW), dialect, ws)
        .unwrap_or_else(|p| panic!("the definition does not compile: {p}"))
}

async fn run_count(db: &Db, sql: &str) -> i64 {
    db.fetch_one(
        &format!("SELECT ({}) AS n", sql.trim().trim_end_matches(';')),
        vec![],
    )
    .await
    .unwrap_or_else(|e| panic!("{e}\n{sql}"))
    .int("n")
    .expect("count")
}

/// Check, compile and count: what a user waits for.
async fn time_pitcrew(
    db: &Db,
    case: &Case,
    schema: &Schema,
    dialect: Dialect,
    ws: i64,
) -> (i64, Duration) {
    let started = Instant::now();
    let sql = compile(&case.definition, schema, dialect, ws);
    (run_count(db, &sql).await, started.elapsed())
}

async fn time_sql(db: &Db, sql: &str) -> (i64, Duration) {
    let started = Instant::now();
    (run_count(db, sql).await, started.elapsed())
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The query's plan, one line per step.
async fn plan(db: &Db, sql: &str) -> Vec<String> {
    let (prefix, col) = match db.engine() {
        Engine::Sqlite => ("EXPLAIN QUERY PLAN", "detail"),
        Engine::Postgres => ("EXPLAIN", "QUERY PLAN"),
    };
    db.fetch_all(&format!("{prefix} {sql}"), vec![])
        .await
        .expect("explain")
        .iter()
        .map(|r| r.text(col).expect("plan line"))
        .collect()
}

async fn measure(db: &Db, label: &str, ws: i64, o: &Options) {
    let schema = schema(db, ws).await;
    let dialect = match db.engine() {
        Engine::Sqlite => Dialect::Sqlite,
        Engine::Postgres => Dialect::Postgres,
    };
    let hand = Hand {
        engine: db.engine(),
        ws,
    };
    println!(
        "{:<11} {:<22} {:>9} {:>12} {:>12} {:>7}",
        "engine", "definition", "count", "pitcrew ms", "hand ms", "ratio"
    );
    let mut explained = Vec::new();
    for case in cases() {
        let hand_sql = (case.hand)(&hand);
        let (count, warm_p) = time_pitcrew(db, &case, &schema, dialect, ws).await;
        let (expected, warm_h) = time_sql(db, &hand_sql).await;
        assert_eq!(
            count,
            expected,
            "{label} `{}`: pitcrew counts {count}, the hand-written SQL {expected}\n{}\n{hand_sql}",
            case.name,
            compile(&case.definition, &schema, dialect, ws)
        );
        let runs = if warm_p.max(warm_h) > SLOW { 3 } else { 5 };
        let (mut tp, mut th) = (Vec::new(), Vec::new());
        for _ in 0..runs {
            tp.push(time_pitcrew(db, &case, &schema, dialect, ws).await.1);
            th.push(time_sql(db, &hand_sql).await.1);
        }
        let (p, h) = (median(tp), median(th));
        println!(
            "{label:<11} {:<22} {count:>9} {:>12.1} {:>12.1} {:>7.2}",
            case.name,
            ms(p),
            ms(h),
            p.as_secs_f64() / h.as_secs_f64()
        );
        if o.explain {
            explained.push((
                case.name,
                compile(&case.definition, &schema, dialect, ws),
                hand_sql,
            ));
        }
    }
    for (name, pitcrew_sql, hand_sql) in explained {
        println!("\n{label} `{name}`\n  pitcrew: {pitcrew_sql}");
        for line in plan(db, &pitcrew_sql).await {
            println!("    {line}");
        }
        println!("  hand: {hand_sql}");
        for line in plan(db, &hand_sql).await {
            println!("    {line}");
        }
    }
}

async fn run(db: &Db, label: &str, o: &Options) {
    let ws = generate(db, label, o).await;
    if o.stats {
        stats(db, label, ws).await;
    }
    measure(db, label, ws, o).await;
}

/// Close the database and remove it, or with `--keep` say where it stays.
async fn finish(t: pitcrew_testkit::TestDb, o: &Options) {
    if o.keep {
        let sql = match t.engine() {
            Engine::Sqlite => "SELECT file AS place FROM pragma_database_list WHERE name = 'main'",
            Engine::Postgres => "SELECT current_schema() AS place",
        };
        let row = t.db.fetch_one(sql, vec![]).await.expect("location");
        println!("kept: {}", row.text("place").expect("place"));
        t.db.close().await;
        // Skipping the cleanup leaves the file or schema behind.
        std::mem::forget(t);
        return;
    }
    t.db.close().await;
}

fn main() {
    let o = options();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        println!(
            "pitcrew segments: {} contacts, {} accounts, {} events; COUNT per definition, median of 5 runs (3 when slower than {} s)",
            o.contacts,
            (o.contacts / 20).max(1),
            o.events,
            SLOW.as_secs()
        );
        if o.sqlite {
            let sqlite = pitcrew_testkit::sqlite().await;
            run(&sqlite.db, "SQLite", &o).await;
            finish(sqlite, &o).await;
        }
        if o.postgres {
            match pitcrew_testkit::postgres().await {
                Some(pg) => {
                    run(&pg.db, "PostgreSQL", &o).await;
                    finish(pg, &o).await;
                }
                None => println!("PostgreSQL  not reachable; skipped"),
            }
        }
    });
}
