//! Storage for CSV imports: the history of imports with their settings and
//! counts, the problems of the rows each one rejected (the downloadable
//! rejects report), and the batched reads and writes an import makes.

use pitcrew_core::record::ObjectKind;
use serde_json::{Map, Value};

use crate::record::{Identity, StoredRecord, search_text, select, split, stored, table};
use crate::{Conn, Engine, Param, Row, StoreError, audit, params};

/// Most rows one multi-row statement writes, per engine. Well under both
/// engines' limits on bound parameters; smaller on SQLite, where binding a
/// `$n` parameter looks its name up in a list (cost grows with the square
/// of the parameters per statement).
pub fn rows_per_statement(engine: Engine) -> usize {
    match engine {
        Engine::Sqlite => 100,
        Engine::Postgres => 500,
    }
}

/// An import about to start.
pub struct NewImport<'a> {
    pub object: ObjectKind,
    pub file_name: Option<&'a str>,
    pub mode: &'a str,
    pub match_by: &'a str,
    pub dry_run: bool,
    /// Mapping and dialect, as the import reports them.
    pub settings: Value,
    pub actor: &'a audit::Actor,
}

/// How many rows an import has read and what became of them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportCounts {
    pub rows: i64,
    pub created: i64,
    pub updated: i64,
    pub unchanged: i64,
    pub rejected: i64,
    /// Entries of the rejects report (a rejected row may have several).
    pub problems: i64,
}

/// An import as stored.
#[derive(Debug, Clone)]
pub struct StoredImport {
    pub id: i64,
    pub object: ObjectKind,
    pub file_name: Option<String>,
    pub mode: String,
    pub match_by: String,
    pub dry_run: bool,
    /// `running`, `done` or `failed`.
    pub status: String,
    pub settings: Value,
    pub counts: ImportCounts,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub actor: String,
    pub created_at: i64,
    pub finished_at: Option<i64>,
}

/// One problem of one rejected row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectRow {
    /// The physical line of the file where the row starts (1 is the header).
    pub line: i64,
    pub column: String,
    pub value: String,
    pub code: String,
    pub reason: String,
}

const IMPORT_SELECT: &str = "SELECT id, object, file_name, mode, match_by, dry_run, status, settings, rows_read, rows_created, rows_updated, rows_unchanged, rows_rejected, problems, error_code, error_message, actor, created_at, finished_at FROM imports";

fn stored_import(row: &Row) -> Result<StoredImport, StoreError> {
    let object = row.text("object")?;
    Ok(StoredImport {
        id: row.int("id")?,
        object: ObjectKind::parse(&object)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown object `{object}`")))?,
        file_name: row.opt_text("file_name")?,
        mode: row.text("mode")?,
        match_by: row.text("match_by")?,
        dry_run: row.bool("dry_run")?,
        status: row.text("status")?,
        settings: row.json("settings")?,
        counts: ImportCounts {
            rows: row.int("rows_read")?,
            created: row.int("rows_created")?,
            updated: row.int("rows_updated")?,
            unchanged: row.int("rows_unchanged")?,
            rejected: row.int("rows_rejected")?,
            problems: row.int("problems")?,
        },
        error_code: row.opt_text("error_code")?,
        error_message: row.opt_text("error_message")?,
        actor: row.text("actor")?,
        created_at: row.int("created_at")?,
        finished_at: row.opt_int("finished_at")?,
    })
}

/// Register an import as `running`; returns its id.
pub async fn create_import(
    mut c: Conn<'_>,
    ws: i64,
    new: &NewImport<'_>,
    now: i64,
) -> Result<i64, StoreError> {
    c.fetch_one(
        "INSERT INTO imports (workspace_id, object, file_name, mode, match_by, dry_run, status, settings, actor_user_id, actor_token_id, actor, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, 'running', $7, $8, $9, $10, $11, $11) RETURNING id",
        params![
            ws,
            new.object.as_str(),
            new.file_name,
            new.mode,
            new.match_by,
            new.dry_run,
            new.settings.clone(),
            new.actor.user_id,
            new.actor.token_id,
            new.actor.label.as_str(),
            now,
        ],
    )
    .await?
    .int("id")
}

/// Store an import's counts so far and, when `status` is not `running`, how it ended.
pub async fn save_counts(
    mut c: Conn<'_>,
    ws: i64,
    id: i64,
    counts: &ImportCounts,
    status: &str,
    error: Option<(&str, &str)>,
    now: i64,
) -> Result<(), StoreError> {
    let finished = (status != "running").then_some(now);
    c.execute(
        "UPDATE imports SET rows_read = $3, rows_created = $4, rows_updated = $5, rows_unchanged = $6, rows_rejected = $7, problems = $8, \
         status = $9, error_code = $10, error_message = $11, updated_at = $12, finished_at = $13 WHERE workspace_id = $1 AND id = $2",
        params![
            ws,
            id,
            counts.rows,
            counts.created,
            counts.updated,
            counts.unchanged,
            counts.rejected,
            counts.problems,
            status,
            error.map(|e| e.0),
            error.map(|e| e.1),
            now,
            finished,
        ],
    )
    .await?;
    Ok(())
}

pub async fn get_import(
    mut c: Conn<'_>,
    ws: i64,
    id: i64,
) -> Result<Option<StoredImport>, StoreError> {
    c.fetch_optional(
        &format!("{IMPORT_SELECT} WHERE workspace_id = $1 AND id = $2"),
        params![ws, id],
    )
    .await?
    .map(|r| stored_import(&r))
    .transpose()
}

/// Imports newest first, before an optional id.
pub async fn list_imports(
    mut c: Conn<'_>,
    ws: i64,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<StoredImport>, StoreError> {
    c.fetch_all(
        &format!(
            "{IMPORT_SELECT} WHERE workspace_id = $1 AND ($2 IS NULL OR id < $2) ORDER BY id DESC LIMIT $3"
        ),
        params![ws, before, limit],
    )
    .await?
    .iter()
    .map(stored_import)
    .collect()
}

/// Append problems to an import's rejects report, numbered from `first_seq`.
pub async fn insert_rejects(
    mut c: Conn<'_>,
    ws: i64,
    import_id: i64,
    first_seq: i64,
    rejects: &[RejectRow],
) -> Result<(), StoreError> {
    let mut seq = first_seq;
    let rows = rows_per_statement(c.engine());
    for chunk in rejects.chunks(rows) {
        let mut sql = String::from(
            "INSERT INTO import_rejects (workspace_id, import_id, seq, line, column_name, value, code, reason) VALUES ",
        );
        let mut p = params![ws, import_id];
        for (i, r) in chunk.iter().enumerate() {
            if i > 0 {
                sql.push_str(", ");
            }
            let n = p.len();
            sql.push_str(&format!(
                "($1, $2, ${}, ${}, ${}, ${}, ${}, ${})",
                n + 1,
                n + 2,
                n + 3,
                n + 4,
                n + 5,
                n + 6
            ));
            p.extend(params![
                seq,
                r.line,
                r.column.as_str(),
                r.value.as_str(),
                r.code.as_str(),
                r.reason.as_str(),
            ]);
            seq += 1;
        }
        c.execute(&sql, p).await?;
    }
    Ok(())
}

/// A page of an import's rejects report in file order: `(seq, problem)`.
pub async fn list_rejects(
    mut c: Conn<'_>,
    ws: i64,
    import_id: i64,
    after_seq: i64,
    limit: i64,
) -> Result<Vec<(i64, RejectRow)>, StoreError> {
    c.fetch_all(
        "SELECT seq, line, column_name, value, code, reason FROM import_rejects \
         WHERE workspace_id = $1 AND import_id = $2 AND seq > $3 ORDER BY seq LIMIT $4",
        params![ws, import_id, after_seq, limit],
    )
    .await?
    .iter()
    .map(|r| {
        Ok((
            r.int("seq")?,
            RejectRow {
                line: r.int("line")?,
                column: r.text("column_name")?,
                value: r.text("value")?,
                code: r.text("code")?,
                reason: r.text("reason")?,
            },
        ))
    })
    .collect()
}

/// `$a, $b, …` for `n` parameters after the first `after`.
fn placeholders(after: usize, n: usize) -> String {
    (after + 1..=after + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The records having any of `emails` (contacts) or `external_ids`. With
/// `lock`, PostgreSQL holds them against other writers until the
/// transaction ends (SQLite transactions already serialise writers).
pub async fn find_records(
    mut c: Conn<'_>,
    ws: i64,
    object: ObjectKind,
    emails: &[String],
    external_ids: &[String],
    lock: bool,
) -> Result<Vec<StoredRecord>, StoreError> {
    let emails = if object == ObjectKind::Contact {
        emails
    } else {
        &[]
    };
    if emails.is_empty() && external_ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut p = params![ws];
    let mut any = Vec::new();
    if !emails.is_empty() {
        any.push(format!(
            "email IN ({})",
            placeholders(p.len(), emails.len())
        ));
        p.extend(emails.iter().map(Param::from));
    }
    if !external_ids.is_empty() {
        any.push(format!(
            "external_id IN ({})",
            placeholders(p.len(), external_ids.len())
        ));
        p.extend(external_ids.iter().map(Param::from));
    }
    if c.engine() == Engine::Postgres {
        // A generic plan of `IN ($2, …, $501)` cannot tell the values are
        // few and unique, and scans the table once statistics lag behind a
        // bulk load; planning each time for the values sent uses the index.
        c.execute("SET LOCAL plan_cache_mode = force_custom_plan", vec![])
            .await?;
    }
    let lock = if lock && c.engine() == Engine::Postgres {
        " FOR UPDATE"
    } else {
        ""
    };
    let sql = format!(
        "{} WHERE workspace_id = $1 AND ({}){lock}",
        select(object),
        any.join(" OR ")
    );
    let rows = c.fetch_all(&sql, p).await?;
    if c.engine() == Engine::Postgres {
        // The writes that follow keep their cached plans.
        c.execute("SET LOCAL plan_cache_mode = auto", vec![])
            .await?;
    }
    rows.iter().map(|r| stored(object, r)).collect()
}

/// The ids of the accounts having any of `external_ids`: `(external id, id)`.
pub async fn account_ids(
    mut c: Conn<'_>,
    ws: i64,
    external_ids: &[String],
) -> Result<Vec<(String, i64)>, StoreError> {
    if external_ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut p = params![ws];
    let sql = format!(
        "SELECT id, external_id FROM accounts WHERE workspace_id = $1 AND external_id IN ({})",
        placeholders(1, external_ids.len())
    );
    p.extend(external_ids.iter().map(Param::from));
    c.fetch_all(&sql, p)
        .await?
        .iter()
        .map(|r| Ok((r.text("external_id")?, r.int("id")?)))
        .collect()
}

/// Insert many records with multi-row statements; values are already
/// validated. Returns how many were inserted.
pub async fn insert_records(
    mut c: Conn<'_>,
    ws: i64,
    object: ObjectKind,
    records: &[(Identity, Map<String, Value>)],
    now: i64,
) -> Result<u64, StoreError> {
    let columns = match object {
        ObjectKind::Contact => {
            "workspace_id, external_id, email, account_id, data, search, created_at, updated_at"
        }
        ObjectKind::Account => "workspace_id, external_id, data, search, created_at, updated_at",
    };
    let mut inserted = 0;
    let rows = rows_per_statement(c.engine());
    for chunk in records.chunks(rows) {
        let mut sql = format!("INSERT INTO {} ({columns}) VALUES ", table(object));
        let mut p = params![ws, now];
        for (i, (identity, fields)) in chunk.iter().enumerate() {
            if i > 0 {
                sql.push_str(", ");
            }
            let (email, data) = split(object, fields);
            let search = search_text(object, identity.external_id.as_deref(), fields);
            let n = p.len();
            match object {
                ObjectKind::Contact => {
                    sql.push_str(&format!(
                        "($1, ${}, ${}, ${}, ${}, ${}, $2, $2)",
                        n + 1,
                        n + 2,
                        n + 3,
                        n + 4,
                        n + 5
                    ));
                    p.extend(params![
                        identity.external_id.clone(),
                        email,
                        identity.account_id,
                        data,
                        search,
                    ]);
                }
                ObjectKind::Account => {
                    sql.push_str(&format!("($1, ${}, ${}, ${}, $2, $2)", n + 1, n + 2, n + 3));
                    p.extend(params![identity.external_id.clone(), data, search]);
                }
            }
        }
        inserted += c.execute(&sql, p).await?;
    }
    Ok(inserted)
}

/// Replace the identities and field values of many records with
/// multi-row statements (values already validated): `(id, identity, fields)`.
/// Returns how many were updated.
pub async fn update_records(
    mut c: Conn<'_>,
    ws: i64,
    object: ObjectKind,
    records: &[(i64, Identity, Map<String, Value>)],
    now: i64,
) -> Result<u64, StoreError> {
    let (columns, set) = match object {
        ObjectKind::Contact => (
            "id, external_id, email, account_id, data, search",
            "external_id = v.external_id, email = v.email, account_id = v.account_id, data = v.data, search = v.search",
        ),
        ObjectKind::Account => (
            "id, external_id, data, search",
            "external_id = v.external_id, data = v.data, search = v.search",
        ),
    };
    let t = table(object);
    let mut updated = 0;
    let rows = rows_per_statement(c.engine());
    for chunk in records.chunks(rows) {
        let mut values = Vec::with_capacity(chunk.len());
        let mut p = params![ws, now];
        for (id, identity, fields) in chunk {
            let (email, data) = split(object, fields);
            let search = search_text(object, identity.external_id.as_deref(), fields);
            let first = p.len() + 1;
            p.extend(params![*id, identity.external_id.clone()]);
            if object == ObjectKind::Contact {
                p.extend(params![email, identity.account_id]);
            }
            p.extend(params![data, search]);
            let row: Vec<String> = (first..=p.len()).map(|i| format!("${i}")).collect();
            values.push(format!("({})", row.join(", ")));
        }
        let sql = format!(
            "WITH v ({columns}) AS (VALUES {}) UPDATE {t} SET {set}, updated_at = $2 FROM v WHERE {t}.workspace_id = $1 AND {t}.id = v.id",
            values.join(", ")
        );
        updated += c.execute(&sql, p).await?;
    }
    Ok(updated)
}

/// Open a savepoint inside the current transaction: a dry run keeps one
/// transaction, with a savepoint to roll everything back to and one per
/// batch to undo a batch that lost a race. `name` is a fixed identifier.
pub async fn savepoint(mut c: Conn<'_>, name: &'static str) -> Result<(), StoreError> {
    c.execute(&format!("SAVEPOINT {name}"), vec![]).await?;
    Ok(())
}

/// Keep what was done since the savepoint `name`.
pub async fn release_savepoint(mut c: Conn<'_>, name: &'static str) -> Result<(), StoreError> {
    c.execute(&format!("RELEASE SAVEPOINT {name}"), vec![])
        .await?;
    Ok(())
}

/// Undo what was done since the savepoint `name`, and release it.
pub async fn rollback_to_savepoint(mut c: Conn<'_>, name: &'static str) -> Result<(), StoreError> {
    c.execute(&format!("ROLLBACK TO SAVEPOINT {name}"), vec![])
        .await?;
    c.execute(&format!("RELEASE SAVEPOINT {name}"), vec![])
        .await?;
    Ok(())
}
