//! Import throughput against a plain multi-row INSERT of the same rows,
//! measured in the same run, on SQLite and (when reachable) PostgreSQL:
//!
//! ```sh
//! cargo bench -p pitcrew-app --bench import              # 100,000 rows
//! cargo bench -p pitcrew-app --bench import -- --rows 20000
//! ```
//!
//! For each engine it times, in fresh workspaces of one database:
//! - the baseline: the rows already in stored form, written by multi-row
//!   INSERTs of `BATCH_ROWS` rows per transaction — the floor cost of writing;
//! - `import_csv` of the file into an empty workspace (every row created);
//! - `import_csv` of the same people again with a changed job title (every
//!   row matched by email and updated).

use std::io::Cursor;
use std::time::{Duration, Instant};

use pitcrew_app::import::{BATCH_ROWS, ImportOptions, ImportSummary, Unobserved, import_csv};
use pitcrew_app::{Actor, Db, admin};
use pitcrew_core::record::ObjectKind;
use pitcrew_store::{Param, params};
use serde_json::json;

const NOW: i64 = 1_767_225_600_000;
const COUNTRIES: [(&str, &str); 4] = [
    ("DE", "Germany"),
    ("FR", "France"),
    ("US", "usa"),
    ("GB", "UK"),
];
const STAGES: [&str; 4] = ["lead", "MQL", "Customer", "subscriber"];

fn rows_wanted() -> usize {
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--rows" {
            return args
                .next()
                .and_then(|n| n.replace('_', "").parse().ok())
                .expect("--rows takes a number");
        }
    }
    std::env::var("PITCREW_BENCH_ROWS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(100_000)
}

/// A contact file as exported from a CRM: names, a country as people write
/// it, a phone in national format, a stage in any case.
fn file(rows: usize, title: &str) -> Vec<u8> {
    let mut csv =
        String::from("Email,First Name,Last Name,Country,Phone,Job Title,Lifecycle Stage\n");
    for i in 0..rows {
        let (_, country) = COUNTRIES[i % 4];
        let phone = match i % 4 {
            0 => format!("030 {:07}", i % 10_000_000),
            1 => format!(
                "01 {:02} {:02} {:02} {:02}",
                i % 90 + 10,
                i % 97,
                i % 89,
                i % 83
            ),
            2 => format!("(415) 555-{:04}", i % 10_000),
            _ => format!("020 7946 {:04}", i % 10_000),
        };
        csv.push_str(&format!(
            "Person.{i}@Example.com,First{i},Last{i},{country},{phone},{title},{}\n",
            STAGES[i % 4]
        ));
    }
    csv.into_bytes()
}

/// The same rows written by plain multi-row INSERTs: values already in
/// stored form, `BATCH_ROWS` rows per statement and transaction.
async fn baseline(db: &Db, ws: i64, rows: usize) -> Duration {
    let started = Instant::now();
    let mut i = 0;
    let per_statement = pitcrew_store::import::rows_per_statement(db.engine());
    while i < rows {
        let n = BATCH_ROWS.min(rows - i);
        let mut tx = db.begin().await.expect("begin");
        for from in (i..i + n).step_by(per_statement) {
            let to = (from + per_statement).min(i + n);
            insert_rows(&mut tx, ws, from, to).await;
        }
        tx.commit().await.expect("commit");
        i += n;
    }
    started.elapsed()
}

/// Rows `from..to` in one multi-row INSERT.
async fn insert_rows(tx: &mut pitcrew_store::Tx, ws: i64, from: usize, to: usize) {
    {
        let (i, n) = (from, to - from);
        let mut sql = String::from(
            "INSERT INTO contacts (workspace_id, email, data, search, created_at, updated_at) VALUES ",
        );
        let mut p = params![ws, NOW];
        for k in i..i + n {
            if k > i {
                sql.push_str(", ");
            }
            let at = p.len();
            sql.push_str(&format!(
                "($1, ${}, ${}, ${}, $2, $2)",
                at + 1,
                at + 2,
                at + 3
            ));
            let email = format!("person.{k}@example.com");
            let data = json!({
                "first_name": format!("First{k}"),
                "last_name": format!("Last{k}"),
                "country": COUNTRIES[k % 4].0,
                "phone": "+4930123456",
                "job_title": "Marketing Manager",
                "lifecycle_stage": STAGES[k % 4].to_lowercase(),
            });
            let search = format!("{email}\nfirst{k}\nlast{k}");
            p.extend([Param::Text(email), Param::Json(data), Param::Text(search)]);
        }
        tx.execute(&sql, p).await.expect("insert");
    }
}

async fn timed_import(db: &Db, actor: &Actor, csv: Vec<u8>) -> (ImportSummary, Duration) {
    let started = Instant::now();
    let summary = import_csv(
        db,
        actor,
        Box::new(Cursor::new(csv)),
        ImportOptions::new(ObjectKind::Contact),
        &mut Unobserved,
        NOW,
    )
    .await
    .expect("import");
    (summary, started.elapsed())
}

fn line(engine: &str, what: &str, rows: usize, took: Duration, base: Duration) {
    let secs = took.as_secs_f64();
    println!(
        "{engine:<11} {what:<36} {:>10.0} {:>8.2}s {:>9.2}",
        rows as f64 / secs,
        secs,
        base.as_secs_f64() / secs
    );
}

async fn run(engine: &str, db: &Db, rows: usize) {
    let ws = admin::create_workspace(db, "bench", "Bench", NOW)
        .await
        .expect("workspace");
    let floor = admin::create_workspace(db, "baseline", "Baseline", NOW)
        .await
        .expect("workspace");
    let system = Actor::system(ws.id);
    let base = baseline(db, floor.id, rows).await;
    line(engine, "baseline: multi-row INSERT", rows, base, base);
    let (created, took) = timed_import(db, &system, file(rows, "Marketing Manager")).await;
    assert_eq!(created.created as usize, rows, "{engine}: {created:?}");
    line(engine, "import: every row new", rows, took, base);
    let (updated, took) = timed_import(db, &system, file(rows, "Head of Marketing")).await;
    assert_eq!(updated.updated as usize, rows, "{engine}: {updated:?}");
    line(engine, "import again: every row updated", rows, took, base);
}

fn main() {
    let rows = rows_wanted();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let size = file(rows, "Marketing Manager").len();
        println!(
            "pitcrew import: {rows} contact rows ({:.1} MiB of CSV), {BATCH_ROWS} rows per transaction",
            size as f64 / (1024.0 * 1024.0)
        );
        println!(
            "{:<11} {:<36} {:>10} {:>9} {:>9}",
            "engine", "what", "rows/s", "time", "vs base"
        );
        let sqlite = pitcrew_testkit::sqlite().await;
        run("SQLite", &sqlite.db, rows).await;
        match pitcrew_testkit::postgres().await {
            Some(pg) => run("PostgreSQL", &pg.db, rows).await,
            None => println!("PostgreSQL  not reachable; skipped"),
        }
    });
}
