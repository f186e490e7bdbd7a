//! Broadcasts and their message events (deliveries, bounces, opens,
//! clicks, unsubscribes, complaints), with the counts a results page needs.

use serde_json::{Map, Value};

use crate::{Conn, Param, Row, StoreError, params};

/// A broadcast as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredBroadcast {
    pub id: i64,
    pub name: String,
    pub template_id: Option<i64>,
    pub subject: String,
    pub from_name: String,
    pub from_email: String,
    pub reply_to: String,
    pub topic: String,
    pub segments: Vec<i64>,
    pub exclusions: Vec<i64>,
    pub provider_id: Option<i64>,
    pub tracking: bool,
    pub utm: Map<String, Value>,
    pub status: String,
    pub scheduled_at: Option<i64>,
    pub approved_by: Option<String>,
    pub approved_at: Option<i64>,
    /// What is sent, frozen when sending starts.
    pub content: Option<Value>,
    /// People in the audience when sending started.
    pub audience: Option<i64>,
    pub created_by: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
}

/// The editable settings of a broadcast.
#[derive(Debug, Clone)]
pub struct BroadcastRow<'a> {
    pub name: &'a str,
    pub template_id: Option<i64>,
    pub subject: &'a str,
    pub from_name: &'a str,
    pub from_email: &'a str,
    pub reply_to: &'a str,
    pub topic: &'a str,
    pub segments: &'a [i64],
    pub exclusions: &'a [i64],
    pub provider_id: Option<i64>,
    pub tracking: bool,
    pub utm: &'a Map<String, Value>,
    pub scheduled_at: Option<i64>,
}

const COLUMNS: &str = "id, name, template_id, subject, from_name, from_email, reply_to, topic, segments, exclusions, provider_id, tracking, utm, status, \
     scheduled_at, approved_by, approved_at, content, audience, created_by, created_at, updated_at, started_at, finished_at";

fn ids(v: Value, col: &str) -> Result<Vec<i64>, StoreError> {
    serde_json::from_value(v).map_err(|e| StoreError::Corrupt(format!("{col}: {e}")))
}

fn broadcast(r: &Row) -> Result<StoredBroadcast, StoreError> {
    let utm = match r.json("utm")? {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    let content = match r.json("content")? {
        Value::Null => None,
        v => Some(v),
    };
    Ok(StoredBroadcast {
        id: r.int("id")?,
        name: r.text("name")?,
        template_id: r.opt_int("template_id")?,
        subject: r.text("subject")?,
        from_name: r.text("from_name")?,
        from_email: r.text("from_email")?,
        reply_to: r.text("reply_to")?,
        topic: r.text("topic")?,
        segments: ids(r.json("segments")?, "segments")?,
        exclusions: ids(r.json("exclusions")?, "exclusions")?,
        provider_id: r.opt_int("provider_id")?,
        tracking: r.bool("tracking")?,
        utm,
        status: r.text("status")?,
        scheduled_at: r.opt_int("scheduled_at")?,
        approved_by: r.opt_text("approved_by")?,
        approved_at: r.opt_int("approved_at")?,
        content,
        audience: r.opt_int("audience")?,
        created_by: r.text("created_by")?,
        created_at: r.int("created_at")?,
        updated_at: r.int("updated_at")?,
        started_at: r.opt_int("started_at")?,
        finished_at: r.opt_int("finished_at")?,
    })
}

fn row_params(b: &BroadcastRow<'_>) -> Vec<Param> {
    params![
        b.name,
        b.template_id,
        b.subject,
        b.from_name,
        b.from_email,
        b.reply_to,
        b.topic,
        Value::from(b.segments.to_vec()),
        Value::from(b.exclusions.to_vec()),
        b.provider_id,
        b.tracking,
        Value::Object(b.utm.clone()),
        b.scheduled_at,
    ]
}

/// Save a new draft broadcast.
pub async fn insert_broadcast(
    mut c: Conn<'_>,
    ws: i64,
    b: &BroadcastRow<'_>,
    created_by: &str,
    now: i64,
) -> Result<StoredBroadcast, StoreError> {
    let mut p = params![ws];
    p.extend(row_params(b));
    p.extend(params![created_by, now]);
    let row = c
        .fetch_one(
            &format!(
                "INSERT INTO broadcasts (workspace_id, name, template_id, subject, from_name, from_email, reply_to, topic, segments, exclusions, \
                 provider_id, tracking, utm, scheduled_at, status, created_by, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, 'draft', $15, $16, $16) RETURNING {COLUMNS}"
            ),
            p,
        )
        .await?;
    broadcast(&row)
}

/// Replace a broadcast's settings; an approval given before is withdrawn,
/// since it approved something else.
pub async fn update_broadcast(
    mut c: Conn<'_>,
    ws: i64,
    id: i64,
    b: &BroadcastRow<'_>,
    now: i64,
) -> Result<Option<StoredBroadcast>, StoreError> {
    let mut p = params![ws, id];
    p.extend(row_params(b));
    p.push(Param::Int(now));
    let row = c
        .fetch_optional(
            &format!(
                "UPDATE broadcasts SET name = $3, template_id = $4, subject = $5, from_name = $6, from_email = $7, reply_to = $8, topic = $9, \
                 segments = $10, exclusions = $11, provider_id = $12, tracking = $13, utm = $14, scheduled_at = $15, \
                 approved_by = NULL, approved_at = NULL, updated_at = $16 WHERE workspace_id = $1 AND id = $2 RETURNING {COLUMNS}"
            ),
            p,
        )
        .await?;
    row.as_ref().map(broadcast).transpose()
}

/// A broadcast; with `lock`, the row is locked for the transaction on
/// PostgreSQL (SQLite's transactions already hold the write lock).
pub async fn get_broadcast(
    mut c: Conn<'_>,
    ws: i64,
    id: i64,
    lock: bool,
) -> Result<Option<StoredBroadcast>, StoreError> {
    let lock = if lock && c.engine() == crate::Engine::Postgres {
        " FOR UPDATE"
    } else {
        ""
    };
    let row = c
        .fetch_optional(
            &format!("SELECT {COLUMNS} FROM broadcasts WHERE workspace_id = $1 AND id = $2{lock}"),
            params![ws, id],
        )
        .await?;
    row.as_ref().map(broadcast).transpose()
}

/// Broadcasts newest first, optionally only those in one status.
pub async fn list_broadcasts(
    mut c: Conn<'_>,
    ws: i64,
    status: Option<&str>,
) -> Result<Vec<StoredBroadcast>, StoreError> {
    let rows = match status {
        Some(s) => {
            c.fetch_all(
                &format!("SELECT {COLUMNS} FROM broadcasts WHERE workspace_id = $1 AND status = $2 ORDER BY id DESC"),
                params![ws, s],
            )
            .await?
        }
        None => {
            c.fetch_all(
                &format!("SELECT {COLUMNS} FROM broadcasts WHERE workspace_id = $1 ORDER BY id DESC"),
                params![ws],
            )
            .await?
        }
    };
    rows.iter().map(broadcast).collect()
}

pub async fn delete_broadcast(mut c: Conn<'_>, ws: i64, id: i64) -> Result<bool, StoreError> {
    let n = c
        .execute(
            "DELETE FROM broadcasts WHERE workspace_id = $1 AND id = $2 AND status = 'draft'",
            params![ws, id],
        )
        .await?;
    Ok(n > 0)
}

pub async fn set_approval(
    mut c: Conn<'_>,
    ws: i64,
    id: i64,
    by: Option<&str>,
    at: Option<i64>,
) -> Result<(), StoreError> {
    c.execute(
        "UPDATE broadcasts SET approved_by = $3, approved_at = $4 WHERE workspace_id = $1 AND id = $2",
        params![ws, id, by, at],
    )
    .await?;
    Ok(())
}

/// Move a broadcast to `status`; only when it is still in `from` (so two
/// callers racing cannot both move it). Returns whether it moved.
pub async fn set_status(
    mut c: Conn<'_>,
    ws: i64,
    id: i64,
    from: &[&str],
    status: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let mut p = params![ws, id, status, now];
    let holes: Vec<String> = from
        .iter()
        .enumerate()
        .map(|(i, s)| {
            p.push(Param::from(*s));
            format!("${}", i + 5)
        })
        .collect();
    let finished = if matches!(status, "sent" | "cancelled") {
        ", finished_at = $4"
    } else {
        ""
    };
    let n = c
        .execute(
            &format!(
                "UPDATE broadcasts SET status = $3, updated_at = $4{finished} WHERE workspace_id = $1 AND id = $2 AND status IN ({})",
                holes.join(", ")
            ),
            p,
        )
        .await?;
    Ok(n > 0)
}

/// Record what sending starts with: the frozen content, the audience size,
/// and the start time.
pub async fn mark_started(
    mut c: Conn<'_>,
    ws: i64,
    id: i64,
    content: &Value,
    audience: i64,
    now: i64,
) -> Result<(), StoreError> {
    c.execute(
        "UPDATE broadcasts SET status = 'sending', content = $3, audience = $4, started_at = $5, updated_at = $5 WHERE workspace_id = $1 AND id = $2",
        params![ws, id, content.clone(), audience, now],
    )
    .await?;
    Ok(())
}

/// Scheduled broadcasts whose time has come, across workspaces, and
/// broadcasts that are sending: what the sender should work on.
pub async fn due_broadcasts(
    mut c: Conn<'_>,
    now: i64,
) -> Result<Vec<(i64, i64, String)>, StoreError> {
    c.fetch_all(
        "SELECT workspace_id, id, status FROM broadcasts WHERE status = 'sending' OR (status = 'scheduled' AND scheduled_at <= $1) ORDER BY id",
        params![now],
    )
    .await?
    .iter()
    .map(|r| Ok((r.int("workspace_id")?, r.int("id")?, r.text("status")?)))
    .collect()
}

/// Paused broadcasts across workspaces: (workspace, id).
pub async fn paused_broadcasts(mut c: Conn<'_>) -> Result<Vec<(i64, i64)>, StoreError> {
    c.fetch_all(
        "SELECT workspace_id, id FROM broadcasts WHERE status = 'paused' ORDER BY id",
        params![],
    )
    .await?
    .iter()
    .map(|r| Ok((r.int("workspace_id")?, r.int("id")?)))
    .collect()
}

/// Whether the workspace has ever started sending a broadcast.
pub async fn has_sent_before(mut c: Conn<'_>, ws: i64, except: i64) -> Result<bool, StoreError> {
    let row = c
        .fetch_optional(
            "SELECT id FROM broadcasts WHERE workspace_id = $1 AND id <> $2 AND started_at IS NOT NULL LIMIT 1",
            params![ws, except],
        )
        .await?;
    Ok(row.is_some())
}

// ---- message events ---------------------------------------------------------------

/// Record what happened to a sent message.
pub async fn insert_message_event(
    mut c: Conn<'_>,
    ws: i64,
    broadcast_id: i64,
    contact_id: i64,
    kind: &str,
    detail: &str,
    at: i64,
) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO message_events (workspace_id, broadcast_id, contact_id, kind, detail, at) VALUES ($1, $2, $3, $4, $5, $6)",
        params![ws, broadcast_id, contact_id, kind, detail, at],
    )
    .await?;
    Ok(())
}

/// Per kind of message event: (kind, total, unique people).
pub async fn message_event_counts(
    mut c: Conn<'_>,
    ws: i64,
    broadcast_id: i64,
) -> Result<Vec<(String, i64, i64)>, StoreError> {
    c.fetch_all(
        "SELECT kind, COUNT(*) AS total, COUNT(DISTINCT contact_id) AS people FROM message_events \
         WHERE workspace_id = $1 AND broadcast_id = $2 GROUP BY kind ORDER BY kind",
        params![ws, broadcast_id],
    )
    .await?
    .iter()
    .map(|r| Ok((r.text("kind")?, r.int("total")?, r.int("people")?)))
    .collect()
}

/// Message events bucketed by `bucket_ms` from the first: (bucket start, kind, count).
pub async fn message_event_series(
    mut c: Conn<'_>,
    ws: i64,
    broadcast_id: i64,
    bucket_ms: i64,
) -> Result<Vec<(i64, String, i64)>, StoreError> {
    let bucket_ms = bucket_ms.max(1);
    c.fetch_all(
        &format!(
            "SELECT (at / {bucket_ms}) * {bucket_ms} AS bucket, kind, COUNT(*) AS n FROM message_events \
             WHERE workspace_id = $1 AND broadcast_id = $2 GROUP BY bucket, kind ORDER BY bucket, kind"
        ),
        params![ws, broadcast_id],
    )
    .await?
    .iter()
    .map(|r| Ok((r.int("bucket")?, r.text("kind")?, r.int("n")?)))
    .collect()
}

/// What happened to one person's message, oldest first: (kind, detail, at).
pub async fn message_events_of(
    mut c: Conn<'_>,
    ws: i64,
    broadcast_id: i64,
    contact_id: i64,
) -> Result<Vec<(String, String, i64)>, StoreError> {
    c.fetch_all(
        "SELECT kind, detail, at FROM message_events WHERE workspace_id = $1 AND broadcast_id = $2 AND contact_id = $3 ORDER BY at, id",
        params![ws, broadcast_id, contact_id],
    )
    .await?
    .iter()
    .map(|r| Ok((r.text("kind")?, r.text("detail")?, r.int("at")?)))
    .collect()
}
