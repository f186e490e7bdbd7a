//! Queries behind the data health report.
//!
//! Row checks (missing values, values outside a picklist, role-based
//! addresses, inactivity) are SQL conditions counted together in one pass
//! over a workspace's records; duplicate groups are SQL `GROUP BY`s over a
//! normalised key; values that need the Rust rules of `pitcrew-core` are read
//! in pages of ids (keyset pagination), so nothing here holds every record.
//!
//! Text is compared after the same tidying on both engines: tabs and line
//! breaks become spaces, runs of spaces shrink to one, ends are trimmed, and
//! A–Z fold to a–z (SQLite's `lower` folds only ASCII, so PostgreSQL lowers
//! under the "C" collation, which does the same, to give identical answers).

use pitcrew_core::record::ObjectKind;
use serde_json::{Map, Value};

use crate::{Conn, Engine, Param, StoreError, json_text, params};

/// One condition a record may meet, evaluated in SQL.
#[derive(Debug, Clone, PartialEq)]
pub enum RowCheck {
    /// The field has no value: absent, null, blank text or an empty list.
    /// For contacts, `email` reads the email column.
    Missing { key: String },
    /// The field has a value that is not exactly one of `options` (for a
    /// multi-picklist: a list whose every item is one of them).
    OutsideOptions {
        key: String,
        multi: bool,
        options: Vec<String>,
    },
    /// A contact whose address's local part (before `@`, ignoring a `+tag`)
    /// is one of `locals` (given in lowercase).
    RoleBasedEmail { locals: Vec<String> },
    /// Nothing happened since `before` (epoch ms): for contacts the later of
    /// their last event and last change, for accounts their last change.
    Inactive { before: i64 },
}

/// What makes two records look like the same one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DuplicateKey {
    /// Contacts with the same tidied email address.
    ContactEmail,
    /// Contacts with the same tidied full name at the same tidied company.
    ContactNameCompany,
    /// Accounts with the same tidied name.
    AccountName,
    /// Accounts with the same domain, ignoring a scheme, `www.` and a final `/`.
    AccountDomain,
}

/// A record as the value checks read it: the email column and the JSON values.
#[derive(Debug, Clone, PartialEq)]
pub struct ScannedRecord {
    pub id: i64,
    pub email: Option<String>,
    pub data: Map<String, Value>,
}

fn table(object: ObjectKind) -> &'static str {
    match object {
        ObjectKind::Contact => "contacts",
        ObjectKind::Account => "accounts",
    }
}

/// Parameters of one statement; `$1` is always the workspace id.
struct Binds(Vec<Param>);

impl Binds {
    fn new(ws: i64) -> Binds {
        Binds(params![ws])
    }

    /// Add a parameter and return its placeholder.
    fn push(&mut self, p: Param) -> String {
        self.0.push(p);
        format!("${}", self.0.len())
    }
}

/// `expr` with A–Z folded to a–z, identically on both engines.
fn fold(engine: Engine, expr: &str) -> String {
    match engine {
        Engine::Sqlite => format!("lower({expr})"),
        // The "C" collation folds A–Z only, as SQLite does.
        Engine::Postgres => format!("lower(({expr}) COLLATE \"C\")"),
    }
}

/// `expr` as comparable text: whitespace made spaces, runs shrunk, trimmed,
/// folded; SQL NULL becomes ''.
fn tidy(engine: Engine, expr: &str) -> String {
    let chr = match engine {
        Engine::Sqlite => "char",
        Engine::Postgres => "chr",
    };
    let mut s = format!("COALESCE({expr}, '')");
    for code in [9, 10, 13] {
        s = format!("replace({s}, {chr}({code}), ' ')");
    }
    // Each pass halves a run of spaces: four passes shrink runs of up to 16.
    for _ in 0..4 {
        s = format!("replace({s}, '  ', ' ')");
    }
    fold(engine, &format!("trim({s})"))
}

/// SQL reading a JSON member with its JSON type kept.
fn json_member(engine: Engine, key: &str) -> String {
    match engine {
        Engine::Sqlite => format!("(data -> '$.{key}')"),
        Engine::Postgres => format!("(data -> '{key}')"),
    }
}

/// The JSON type name of a member ('null' when absent), per engine; text
/// is 'text' on SQLite and 'string' on PostgreSQL.
fn json_kind(engine: Engine, key: &str) -> String {
    match engine {
        Engine::Sqlite => format!("COALESCE(json_type(data, '$.{key}'), 'null')"),
        Engine::Postgres => format!("COALESCE(jsonb_typeof(data -> '{key}'), 'null')"),
    }
}

fn text_kind(engine: Engine) -> &'static str {
    match engine {
        Engine::Sqlite => "'text'",
        Engine::Postgres => "'string'",
    }
}

fn array_len(engine: Engine, key: &str) -> String {
    match engine {
        Engine::Sqlite => format!("json_array_length(data, '$.{key}')"),
        Engine::Postgres => format!("jsonb_array_length(data -> '{key}')"),
    }
}

/// Truth values as each engine writes them inside CASE.
fn truth(engine: Engine, b: bool) -> &'static str {
    match (engine, b) {
        (Engine::Sqlite, true) => "1",
        (Engine::Sqlite, false) => "0",
        (Engine::Postgres, true) => "TRUE",
        (Engine::Postgres, false) => "FALSE",
    }
}

/// SQL for a record's last activity (epoch ms).
fn activity(engine: Engine, object: ObjectKind) -> &'static str {
    match (engine, object) {
        (_, ObjectKind::Account) => "updated_at",
        (Engine::Sqlite, ObjectKind::Contact) => {
            "MAX(COALESCE(last_seen_at, updated_at), updated_at)"
        }
        (Engine::Postgres, ObjectKind::Contact) => "GREATEST(last_seen_at, updated_at)",
    }
}

/// The local part of the email column, folded, without a `+tag`.
fn email_local(engine: Engine) -> String {
    let email = fold(engine, "trim(email)");
    match engine {
        Engine::Sqlite => {
            let local = format!("substr({email}, 1, instr({email}, '@') - 1)");
            format!(
                "(CASE WHEN instr({local}, '+') > 0 THEN substr({local}, 1, instr({local}, '+') - 1) ELSE {local} END)"
            )
        }
        Engine::Postgres => format!("split_part(split_part({email}, '@', 1), '+', 1)"),
    }
}

/// The SQL condition of `check`; its parameters go into `b`.
fn condition(engine: Engine, object: ObjectKind, check: &RowCheck, b: &mut Binds) -> String {
    let (t, f) = (truth(engine, true), truth(engine, false));
    match check {
        RowCheck::Missing { key } if object == ObjectKind::Contact && key == "email" => {
            "(email IS NULL OR trim(email) = '')".to_string()
        }
        RowCheck::Missing { key } => {
            let text = json_text(engine, "data", key);
            format!(
                "(CASE {kind} WHEN 'null' THEN {t} WHEN {tk} THEN trim({text}) = '' WHEN 'array' THEN {len} = 0 ELSE {f} END)",
                kind = json_kind(engine, key),
                tk = text_kind(engine),
                len = array_len(engine, key),
            )
        }
        RowCheck::OutsideOptions {
            key,
            multi,
            options,
        } => {
            let list = b.push(Param::Json(Value::from(options.clone())));
            let text = json_text(engine, "data", key);
            let value = json_member(engine, key);
            let kind = json_kind(engine, key);
            let tk = text_kind(engine);
            let len = array_len(engine, key);
            let (not_an_option, bad_item) = match engine {
                Engine::Sqlite => (
                    format!("{text} NOT IN (SELECT value FROM json_each({list}))"),
                    format!(
                        "EXISTS (SELECT 1 FROM json_each(data, '$.{key}') AS item WHERE item.type <> 'text' OR item.value NOT IN (SELECT value FROM json_each({list})))"
                    ),
                ),
                Engine::Postgres => (
                    format!("NOT ({list} ? {text})"),
                    format!(
                        "EXISTS (SELECT 1 FROM jsonb_array_elements({value}) AS item(v) WHERE jsonb_typeof(item.v) <> 'string' OR NOT ({list} ? (item.v #>> '{{}}')))"
                    ),
                ),
            };
            // A blank value is missing, not outside; a value of the wrong shape is outside.
            let (on_text, on_array) = if *multi {
                (format!("trim({text}) <> ''"), bad_item)
            } else {
                (
                    format!("(trim({text}) <> '' AND {not_an_option})"),
                    format!("{len} > 0"),
                )
            };
            format!(
                "(CASE {kind} WHEN 'null' THEN {f} WHEN {tk} THEN {on_text} WHEN 'array' THEN {on_array} ELSE {t} END)"
            )
        }
        RowCheck::RoleBasedEmail { locals } => {
            if object != ObjectKind::Contact {
                return f.to_string();
            }
            let list = b.push(Param::Json(Value::from(locals.clone())));
            let local = email_local(engine);
            let members = match engine {
                Engine::Sqlite => format!("SELECT value FROM json_each({list})"),
                Engine::Postgres => format!("SELECT jsonb_array_elements_text({list})"),
            };
            let at = match engine {
                Engine::Sqlite => "instr(email, '@')",
                Engine::Postgres => "strpos(email, '@')",
            };
            format!("(email IS NOT NULL AND {at} > 1 AND {local} IN ({members}))")
        }
        RowCheck::Inactive { before } => {
            let cutoff = b.push(Param::Int(*before));
            format!("({} < {cutoff})", activity(engine, object))
        }
    }
}

/// How many records the workspace has, and how many meet each check, in
/// one pass over the table.
pub async fn count_row_checks(
    mut c: Conn<'_>,
    ws: i64,
    object: ObjectKind,
    checks: &[RowCheck],
) -> Result<(i64, Vec<i64>), StoreError> {
    let engine = c.engine();
    let mut b = Binds::new(ws);
    let mut columns = vec!["COUNT(*) AS total".to_string()];
    for (i, check) in checks.iter().enumerate() {
        let cond = condition(engine, object, check, &mut b);
        columns.push(format!(
            "CAST(COALESCE(SUM(CASE WHEN {cond} THEN 1 ELSE 0 END), 0) AS BIGINT) AS c{i}"
        ));
    }
    let sql = format!(
        "SELECT {} FROM {} WHERE workspace_id = $1",
        columns.join(", "),
        table(object)
    );
    let row = c.fetch_one(&sql, b.0).await?;
    let counts = (0..checks.len())
        .map(|i| row.int(&format!("c{i}")))
        .collect::<Result<_, _>>()?;
    Ok((row.int("total")?, counts))
}

/// The first `limit` records (by id) that meet `check`, each with the value
/// that made it: the field's JSON value, the email, or the last activity in
/// epoch ms (`Null` for a missing value).
pub async fn row_check_matches(
    mut c: Conn<'_>,
    ws: i64,
    object: ObjectKind,
    check: &RowCheck,
    limit: i64,
) -> Result<Vec<(i64, Value)>, StoreError> {
    let engine = c.engine();
    let mut b = Binds::new(ws);
    let cond = condition(engine, object, check, &mut b);
    let shown = match check {
        RowCheck::Missing { .. } => "NULL".to_string(),
        RowCheck::OutsideOptions { key, .. } => json_member(engine, key),
        RowCheck::RoleBasedEmail { .. } if object == ObjectKind::Contact => "email".to_string(),
        RowCheck::RoleBasedEmail { .. } => "NULL".to_string(),
        RowCheck::Inactive { .. } => activity(engine, object).to_string(),
    };
    let n = b.push(Param::Int(limit));
    let sql = format!(
        "SELECT id, {shown} AS shown FROM {} WHERE workspace_id = $1 AND {cond} ORDER BY id LIMIT {n}",
        table(object)
    );
    c.fetch_all(&sql, b.0)
        .await?
        .iter()
        .map(|r| {
            let shown = match check {
                RowCheck::Missing { .. } => Value::Null,
                RowCheck::OutsideOptions { .. } => r.json("shown")?,
                RowCheck::RoleBasedEmail { .. } => {
                    r.opt_text("shown")?.map_or(Value::Null, Value::from)
                }
                RowCheck::Inactive { .. } => Value::from(r.int("shown")?),
            };
            Ok((r.int("id")?, shown))
        })
        .collect()
}

/// `SELECT id, k` of every record of the workspace with its duplicate key
/// (NULL or '' when it has none), as a subquery.
fn keyed(engine: Engine, key: DuplicateKey) -> String {
    let field = |k: &str| json_text(engine, "data", k);
    match key {
        DuplicateKey::ContactEmail => format!(
            "SELECT id, {} AS k FROM contacts WHERE workspace_id = $1",
            tidy(engine, "email")
        ),
        DuplicateKey::ContactNameCompany => {
            let name = tidy(
                engine,
                &format!(
                    "COALESCE({}, '') || ' ' || COALESCE({}, '')",
                    field("first_name"),
                    field("last_name")
                ),
            );
            let company = tidy(engine, &field("company"));
            format!(
                "SELECT id, CASE WHEN n = '' OR co = '' THEN NULL ELSE n || ' · ' || co END AS k \
                 FROM (SELECT id, {name} AS n, {company} AS co FROM contacts WHERE workspace_id = $1) AS parts"
            )
        }
        DuplicateKey::AccountName => format!(
            "SELECT id, {} AS k FROM accounts WHERE workspace_id = $1",
            tidy(engine, &field("name"))
        ),
        DuplicateKey::AccountDomain => {
            let domain = tidy(engine, &field("domain"));
            format!(
                "SELECT id, rtrim(CASE WHEN substr(s, 1, 4) = 'www.' THEN substr(s, 5) ELSE s END, '/') AS k \
                 FROM (SELECT id, replace(replace({domain}, 'https://', ''), 'http://', '') AS s \
                 FROM accounts WHERE workspace_id = $1) AS parts"
            )
        }
    }
}

/// Records that share their key with at least one other record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Duplicates {
    /// How many records are in a group, in all.
    pub records: i64,
    /// How many groups there are, in all.
    pub groups: i64,
    /// The first `limit` of those records as (key, id), group by group:
    /// groups in order of their lowest id, ids ascending within one.
    pub members: Vec<(String, i64)>,
}

/// The duplicate groups of `key`, in one statement: each record's key is
/// computed once (a materialised CTE; inlined, both engines would evaluate
/// the long key expression once per reference).
pub async fn duplicates(
    mut c: Conn<'_>,
    ws: i64,
    key: DuplicateKey,
    limit: i64,
) -> Result<Duplicates, StoreError> {
    let keyed = keyed(c.engine(), key);
    // At least one row whenever there are duplicates, so the totals come back.
    let rows = limit.max(1);
    let sql = format!(
        "WITH keyed AS MATERIALIZED ({keyed}), \
         g AS MATERIALIZED (SELECT k, COUNT(*) AS n, MIN(id) AS first FROM keyed \
         WHERE k IS NOT NULL AND k <> '' GROUP BY k HAVING COUNT(*) > 1) \
         SELECT r.k AS k, r.id AS id, (SELECT COUNT(*) FROM g) AS groups, \
         (SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT) FROM g) AS records \
         FROM g JOIN keyed AS r ON r.k = g.k ORDER BY g.first, r.id LIMIT $2"
    );
    let found = c.fetch_all(&sql, params![ws, rows]).await?;
    let mut out = Duplicates::default();
    if let Some(first) = found.first() {
        out.records = first.int("records")?;
        out.groups = first.int("groups")?;
    }
    out.members = found
        .iter()
        .take(usize::try_from(limit).unwrap_or(0))
        .map(|r| Ok((r.text("k")?, r.int("id")?)))
        .collect::<Result<_, StoreError>>()?;
    Ok(out)
}

/// Up to `limit` records with an id above `after`, in id order: one page of
/// a scan that reads a workspace without holding all of it.
pub async fn scan_records(
    mut c: Conn<'_>,
    ws: i64,
    object: ObjectKind,
    after: i64,
    limit: i64,
) -> Result<Vec<ScannedRecord>, StoreError> {
    let email = match object {
        ObjectKind::Contact => "email",
        ObjectKind::Account => "NULL AS email",
    };
    let sql = format!(
        "SELECT id, {email}, data FROM {} WHERE workspace_id = $1 AND id > $2 ORDER BY id LIMIT $3",
        table(object)
    );
    c.fetch_all(&sql, params![ws, after, limit])
        .await?
        .iter()
        .map(|r| {
            let data = match r.json("data")? {
                Value::Object(m) => m,
                _ => Map::new(),
            };
            Ok(ScannedRecord {
                id: r.int("id")?,
                email: r.opt_text("email")?,
                data,
            })
        })
        .collect()
}
