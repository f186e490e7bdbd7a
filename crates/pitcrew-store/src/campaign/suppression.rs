//! Suppression lists and soft-bounce counts: addresses that must not be
//! mailed, for every topic (`topic` empty) or for one, and how many
//! temporary failures each address has had in a row. Addresses arrive
//! already normalised; which reason outranks which is decided by the caller.

use pitcrew_core::campaign::SuppressionReason;

use crate::{Conn, Engine, Param, Row, StoreError, like_pattern, params};

/// Addresses per statement when a list of addresses is bound as parameters.
const PER_STATEMENT: usize = 500;

/// One address on a suppression list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suppression {
    pub email: String,
    /// Empty for every topic.
    pub topic: String,
    pub reason: SuppressionReason,
    pub note: String,
    /// What put it there, such as `admin`, `import` or `bounce`.
    pub source: String,
    pub created_at: i64,
}

/// An address about to be put on a suppression list.
#[derive(Debug, Clone, Copy)]
pub struct NewSuppression<'a> {
    pub email: &'a str,
    /// Empty for every topic.
    pub topic: &'a str,
    pub reason: SuppressionReason,
    pub note: &'a str,
    pub source: &'a str,
    pub created_at: i64,
}

const COLUMNS: &str = "email, topic, reason, note, source, created_at";

fn reason(row: &Row) -> Result<SuppressionReason, StoreError> {
    let text = row.text("reason")?;
    SuppressionReason::parse(&text)
        .ok_or_else(|| StoreError::Corrupt(format!("reason: unknown reason `{text}`")))
}

fn suppression(row: &Row) -> Result<Suppression, StoreError> {
    Ok(Suppression {
        email: row.text("email")?,
        topic: row.text("topic")?,
        reason: reason(row)?,
        note: row.text("note")?,
        source: row.text("source")?,
        created_at: row.int("created_at")?,
    })
}

fn holes(first: usize, n: usize) -> String {
    (0..n)
        .map(|i| format!("${}", first + i))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Read one suppression; `lock` holds it against concurrent writers until
/// the transaction ends (PostgreSQL; SQLite transactions already serialise).
pub async fn get_suppression(
    mut c: Conn<'_>,
    ws: i64,
    email: &str,
    topic: &str,
    lock: bool,
) -> Result<Option<Suppression>, StoreError> {
    let lock = if lock && c.engine() == Engine::Postgres {
        " FOR UPDATE"
    } else {
        ""
    };
    c.fetch_optional(
        &format!(
            "SELECT {COLUMNS} FROM suppressions WHERE workspace_id = $1 AND email = $2 AND topic = $3{lock}"
        ),
        params![ws, email, topic],
    )
    .await?
    .map(|r| suppression(&r))
    .transpose()
}

/// Insert the rows whose address and topic are not suppressed yet; rows
/// already there are left as they are. Returns the `(email, topic)` pairs
/// inserted.
pub async fn insert_missing(
    mut c: Conn<'_>,
    ws: i64,
    rows: &[NewSuppression<'_>],
) -> Result<Vec<(String, String)>, StoreError> {
    let mut inserted = Vec::new();
    // Six values per row and one for the workspace stay far below both engines' limits.
    for chunk in rows.chunks(PER_STATEMENT) {
        let mut p = params![ws];
        let mut values = Vec::with_capacity(chunk.len());
        for r in chunk {
            let at = p.len() + 1;
            values.push(format!("($1, {})", holes(at, 6)));
            p.extend([
                Param::from(r.email),
                Param::from(r.topic),
                Param::from(r.reason.as_str()),
                Param::from(r.note),
                Param::from(r.source),
                Param::from(r.created_at),
            ]);
        }
        let sql = format!(
            "INSERT INTO suppressions (workspace_id, email, topic, reason, note, source, created_at) VALUES {} \
             ON CONFLICT (workspace_id, email, topic) DO NOTHING RETURNING email, topic",
            values.join(", ")
        );
        for r in c.fetch_all(&sql, p).await? {
            inserted.push((r.text("email")?, r.text("topic")?));
        }
    }
    Ok(inserted)
}

/// Give an existing suppression a new reason, note and source (its
/// creation time stays). Returns whether it existed.
pub async fn replace_reason(
    mut c: Conn<'_>,
    ws: i64,
    new: &NewSuppression<'_>,
) -> Result<bool, StoreError> {
    let n = c
        .execute(
            "UPDATE suppressions SET reason = $4, note = $5, source = $6 WHERE workspace_id = $1 AND email = $2 AND topic = $3",
            params![
                ws,
                new.email,
                new.topic,
                new.reason.as_str(),
                new.note,
                new.source
            ],
        )
        .await?;
    Ok(n > 0)
}

/// Take an address off a list; returns the row removed.
pub async fn delete_suppression(
    mut c: Conn<'_>,
    ws: i64,
    email: &str,
    topic: &str,
) -> Result<Option<Suppression>, StoreError> {
    c.fetch_optional(
        &format!(
            "DELETE FROM suppressions WHERE workspace_id = $1 AND email = $2 AND topic = $3 RETURNING {COLUMNS}"
        ),
        params![ws, email, topic],
    )
    .await?
    .map(|r| suppression(&r))
    .transpose()
}

/// Every suppression of the given addresses, whatever its topic.
pub async fn suppressions_of(
    mut c: Conn<'_>,
    ws: i64,
    emails: &[String],
) -> Result<Vec<Suppression>, StoreError> {
    let mut found = Vec::new();
    for chunk in emails.chunks(PER_STATEMENT) {
        let mut p = params![ws];
        p.extend(chunk.iter().map(Param::from));
        let sql = format!(
            "SELECT {COLUMNS} FROM suppressions WHERE workspace_id = $1 AND email IN ({})",
            holes(2, chunk.len())
        );
        for r in c.fetch_all(&sql, p).await? {
            found.push(suppression(&r)?);
        }
    }
    Ok(found)
}

/// Which suppressions a listing or export shows.
#[derive(Debug, Clone, Default)]
pub struct SuppressionFilter {
    pub reason: Option<SuppressionReason>,
    /// Only rows of this topic; the empty string selects rows for every topic.
    pub topic: Option<String>,
    /// Case-insensitive text found in the address.
    pub search: Option<String>,
}

/// The `WHERE` clause of a filter, with its parameters after the workspace.
fn filter_clause(f: &SuppressionFilter) -> (String, Vec<Param>) {
    let mut sql = "workspace_id = $1".to_string();
    let mut p = Vec::new();
    if let Some(r) = f.reason {
        p.push(Param::from(r.as_str()));
        sql.push_str(&format!(" AND reason = ${}", p.len() + 1));
    }
    if let Some(t) = &f.topic {
        p.push(Param::from(t));
        sql.push_str(&format!(" AND topic = ${}", p.len() + 1));
    }
    if let Some(s) = f.search.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        p.push(Param::Text(like_pattern(s)));
        sql.push_str(&format!(" AND email LIKE ${} ESCAPE '\\'", p.len() + 1));
    }
    (sql, p)
}

/// A page of suppressions in address and topic order, after the
/// `(email, topic)` pair given.
pub async fn list_suppressions(
    mut c: Conn<'_>,
    ws: i64,
    filter: &SuppressionFilter,
    after: Option<(&str, &str)>,
    limit: i64,
) -> Result<Vec<Suppression>, StoreError> {
    let (mut clause, extra) = filter_clause(filter);
    let mut p = params![ws];
    p.extend(extra);
    if let Some((email, topic)) = after {
        let n = p.len();
        clause.push_str(&format!(
            " AND (email > ${a} OR (email = ${a} AND topic > ${b}))",
            a = n + 1,
            b = n + 2
        ));
        p.extend([Param::from(email), Param::from(topic)]);
    }
    p.push(Param::Int(limit));
    let sql = format!(
        "SELECT {COLUMNS} FROM suppressions WHERE {clause} ORDER BY email, topic LIMIT ${}",
        p.len()
    );
    c.fetch_all(&sql, p)
        .await?
        .iter()
        .map(suppression)
        .collect()
}

/// How many suppressions a filter selects.
pub async fn count_suppressions(
    mut c: Conn<'_>,
    ws: i64,
    filter: &SuppressionFilter,
) -> Result<i64, StoreError> {
    let (clause, extra) = filter_clause(filter);
    let mut p = params![ws];
    p.extend(extra);
    c.fetch_one(
        &format!("SELECT COUNT(*) AS n FROM suppressions WHERE {clause}"),
        p,
    )
    .await?
    .int("n")
}

/// Every suppression that keeps mail about `topic` from an address: the
/// rows for every topic and that topic's own, as `(email, reason)`. An
/// empty `topic` reads the rows for every topic only.
pub async fn suppressed_for(
    mut c: Conn<'_>,
    ws: i64,
    topic: &str,
) -> Result<Vec<(String, SuppressionReason)>, StoreError> {
    c.fetch_all(
        "SELECT email, reason FROM suppressions WHERE workspace_id = $1 AND (topic = '' OR topic = $2)",
        params![ws, topic],
    )
    .await?
    .iter()
    .map(|r| Ok((r.text("email")?, reason(r)?)))
    .collect()
}

// ---- soft bounces -------------------------------------------------------------------

/// Count one more temporary failure for an address; returns how many it
/// has had in a row now.
pub async fn add_soft_bounce(
    mut c: Conn<'_>,
    ws: i64,
    email: &str,
    now: i64,
) -> Result<i64, StoreError> {
    c.fetch_one(
        "INSERT INTO soft_bounces (workspace_id, email, in_a_row, last_at) VALUES ($1, $2, 1, $3) \
         ON CONFLICT (workspace_id, email) DO UPDATE SET in_a_row = soft_bounces.in_a_row + 1, last_at = excluded.last_at \
         RETURNING in_a_row",
        params![ws, email, now],
    )
    .await?
    .int("in_a_row")
}

/// Forget an address's temporary failures; returns whether it had any.
pub async fn clear_soft_bounces(mut c: Conn<'_>, ws: i64, email: &str) -> Result<bool, StoreError> {
    let n = c
        .execute(
            "DELETE FROM soft_bounces WHERE workspace_id = $1 AND email = $2",
            params![ws, email],
        )
        .await?;
    Ok(n > 0)
}

/// Temporary failures in a row for an address (0 when none).
pub async fn soft_bounces(mut c: Conn<'_>, ws: i64, email: &str) -> Result<i64, StoreError> {
    Ok(c.fetch_optional(
        "SELECT in_a_row FROM soft_bounces WHERE workspace_id = $1 AND email = $2",
        params![ws, email],
    )
    .await?
    .map(|r| r.int("in_a_row"))
    .transpose()?
    .unwrap_or(0))
}

// ---- contacts' addresses ----------------------------------------------------------------

/// A page of contacts' addresses as `(contact id, email)`, in id order after
/// `after_id`; contacts without an address are left out.
pub async fn contact_addresses(
    mut c: Conn<'_>,
    ws: i64,
    after_id: i64,
    limit: i64,
) -> Result<Vec<(i64, String)>, StoreError> {
    c.fetch_all(
        "SELECT id, email FROM contacts WHERE workspace_id = $1 AND id > $2 AND email IS NOT NULL ORDER BY id LIMIT $3",
        params![ws, after_id, limit],
    )
    .await?
    .iter()
    .map(|r| Ok((r.int("id")?, r.text("email")?)))
    .collect()
}
