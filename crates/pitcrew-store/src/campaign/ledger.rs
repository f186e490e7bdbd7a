//! The send ledger: one row per person in a broadcast's audience with the
//! decision made for them. The sender claims rows in small batches
//! (`queued` → `sending`, committed before anything goes on the wire) and
//! settles each with its outcome, so after a crash the only rows whose fate
//! is unknown are those still `sending`, which become `uncertain`.

use std::collections::HashMap;

use crate::{Conn, Engine, Param, Row, StoreError, params};

/// Ids per statement when a list of ids is bound as parameters.
const IDS_PER_STATEMENT: usize = 500;

/// A ledger row about to be written when sending starts.
#[derive(Debug, Clone)]
pub struct NewRecipient {
    pub contact_id: i64,
    pub email: String,
    pub state: &'static str,
    pub reason: &'static str,
    pub detail: String,
    pub not_before: i64,
}

/// A ledger row as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    pub contact_id: i64,
    pub email: String,
    pub state: String,
    pub reason: String,
    pub detail: String,
    pub not_before: i64,
    pub message_id: Option<String>,
    pub attempts: i64,
    pub updated_at: i64,
    pub sent_at: Option<i64>,
}

/// How a claimed row ended.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub contact_id: i64,
    pub state: &'static str,
    pub reason: &'static str,
    pub detail: String,
    pub message_id: Option<String>,
    pub sent_at: Option<i64>,
    /// For a row put back to wait (`queued` or `deferred`): when it may go.
    pub not_before: i64,
}

const COLUMNS: &str = "contact_id, email, state, reason, detail, not_before, message_id, attempts, updated_at, sent_at";

fn recipient(r: &Row) -> Result<Recipient, StoreError> {
    Ok(Recipient {
        contact_id: r.int("contact_id")?,
        email: r.text("email")?,
        state: r.text("state")?,
        reason: r.text("reason")?,
        detail: r.text("detail")?,
        not_before: r.int("not_before")?,
        message_id: r.opt_text("message_id")?,
        attempts: r.int("attempts")?,
        updated_at: r.int("updated_at")?,
        sent_at: r.opt_int("sent_at")?,
    })
}

const INSERT_COLUMNS: usize = 9;
/// Rows per INSERT. SQLite finds each numbered parameter's name by walking
/// the statement's list of them, so binding costs grow with the square of
/// the parameters in one statement: at 500 rows (4,500 parameters) binding
/// outweighed the writing. A hundred rows keep statements few and binding
/// cheap, and the same text each time lets the prepared statement be reused.
const ROWS_PER_INSERT: usize = 100;

/// Write the ledger rows of a broadcast, many per statement.
pub async fn insert_recipients(
    mut c: Conn<'_>,
    ws: i64,
    broadcast_id: i64,
    rows: &[NewRecipient],
    now: i64,
) -> Result<(), StoreError> {
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        let mut values = Vec::with_capacity(chunk.len());
        let mut p = Vec::with_capacity(chunk.len() * INSERT_COLUMNS);
        for (i, r) in chunk.iter().enumerate() {
            let base = i * INSERT_COLUMNS;
            let holes: Vec<String> = (1..=INSERT_COLUMNS)
                .map(|k| format!("${}", base + k))
                .collect();
            values.push(format!("({})", holes.join(", ")));
            p.extend(params![
                ws,
                broadcast_id,
                r.contact_id,
                r.email.as_str(),
                r.state,
                r.reason,
                r.detail.as_str(),
                r.not_before,
                now
            ]);
        }
        c.execute(
            &format!(
                "INSERT INTO broadcast_recipients (workspace_id, broadcast_id, contact_id, email, state, reason, detail, not_before, updated_at) VALUES {}",
                values.join(", ")
            ),
            p,
        )
        .await?;
    }
    Ok(())
}

/// Take up to `limit` rows that may go now (`queued`, or `deferred` whose
/// time has come) and mark them `sending`. Call inside a transaction and
/// commit before sending: the mark is what makes a crash visible.
pub async fn claim(
    mut c: Conn<'_>,
    ws: i64,
    broadcast_id: i64,
    now: i64,
    limit: i64,
) -> Result<Vec<Recipient>, StoreError> {
    // One state at a time, so each pick walks the state index in order
    // instead of reading and sorting every waiting row: queued people
    // first, then those whose quiet hours have ended.
    let mut claimed = claim_in(c.reborrow(), ws, broadcast_id, "queued", now, limit).await?;
    let left = limit - claimed.len() as i64;
    if left > 0 {
        claimed.extend(claim_in(c, ws, broadcast_id, "deferred", now, left).await?);
    }
    Ok(claimed)
}

async fn claim_in(
    mut c: Conn<'_>,
    ws: i64,
    broadcast_id: i64,
    state: &str,
    now: i64,
    limit: i64,
) -> Result<Vec<Recipient>, StoreError> {
    let skip_locked = if c.engine() == Engine::Postgres {
        " FOR UPDATE SKIP LOCKED"
    } else {
        ""
    };
    c.fetch_all(
        &format!(
            // The pick is a CTE so it runs once: as a plain `IN (SELECT … LIMIT)`,
            // PostgreSQL may re-run it and mark more rows than the limit.
            "WITH picked AS (SELECT contact_id FROM broadcast_recipients WHERE workspace_id = $1 AND broadcast_id = $2 \
               AND state = $5 AND not_before <= $3 ORDER BY not_before, contact_id LIMIT $4{skip_locked}) \
             UPDATE broadcast_recipients SET state = 'sending', attempts = attempts + 1, updated_at = $3 \
             WHERE workspace_id = $1 AND broadcast_id = $2 AND contact_id IN (SELECT contact_id FROM picked) \
             RETURNING {COLUMNS}"
        ),
        params![ws, broadcast_id, now, limit, state],
    )
    .await?
    .iter()
    .map(recipient)
    .collect()
}

/// Record how claimed rows ended. Only rows still `sending` change, so a
/// row settled twice (or recovered as uncertain meanwhile) is not rewritten.
/// The claim counted an attempt; a row deferred or skipped before it went
/// on the wire gives it back, so `attempts` counts hand-overs to the server
/// (which the retry backoff and its limit rest on).
pub async fn settle(
    mut c: Conn<'_>,
    ws: i64,
    broadcast_id: i64,
    outcomes: &[Outcome],
    now: i64,
) -> Result<(), StoreError> {
    for o in outcomes {
        c.execute(
            "UPDATE broadcast_recipients SET state = $4, reason = $5, detail = $6, message_id = COALESCE($7, message_id), sent_at = $8, \
             not_before = $9, updated_at = $10, attempts = CASE WHEN $4 IN ('deferred', 'skipped') THEN attempts - 1 ELSE attempts END \
             WHERE workspace_id = $1 AND broadcast_id = $2 AND contact_id = $3 AND state = 'sending'",
            params![
                ws,
                broadcast_id,
                o.contact_id,
                o.state,
                o.reason,
                o.detail.as_str(),
                o.message_id.clone(),
                o.sent_at,
                o.not_before,
                now
            ],
        )
        .await?;
    }
    Ok(())
}

/// After the sender stopped without settling: rows still `sending` may or
/// may not have gone out, so they become `uncertain` and are never re-sent
/// on their own. Returns how many.
pub async fn recover_in_flight(
    mut c: Conn<'_>,
    ws: i64,
    broadcast_id: i64,
    now: i64,
) -> Result<u64, StoreError> {
    c.execute(
        "UPDATE broadcast_recipients SET state = 'uncertain', detail = 'the sender stopped while handing this message over; it may or may not have been delivered', \
         updated_at = $3 WHERE workspace_id = $1 AND broadcast_id = $2 AND state = 'sending'",
        params![ws, broadcast_id, now],
    )
    .await
}

/// Rows waiting to go are skipped as cancelled. Returns how many.
pub async fn cancel_waiting(
    mut c: Conn<'_>,
    ws: i64,
    broadcast_id: i64,
    now: i64,
) -> Result<u64, StoreError> {
    c.execute(
        "UPDATE broadcast_recipients SET state = 'skipped', reason = 'cancelled', updated_at = $3 \
         WHERE workspace_id = $1 AND broadcast_id = $2 AND state IN ('queued', 'deferred')",
        params![ws, broadcast_id, now],
    )
    .await
}

/// How many rows still wait or are in flight, and the earliest time a
/// waiting row may go.
pub async fn pending(
    mut c: Conn<'_>,
    ws: i64,
    broadcast_id: i64,
) -> Result<(i64, Option<i64>), StoreError> {
    let row = c
        .fetch_one(
            "SELECT COUNT(*) AS n, MIN(CASE WHEN state <> 'sending' THEN not_before END) AS next FROM broadcast_recipients \
             WHERE workspace_id = $1 AND broadcast_id = $2 AND state IN ('queued', 'deferred', 'sending')",
            params![ws, broadcast_id],
        )
        .await?;
    Ok((row.int("n")?, row.opt_int("next")?))
}

/// One person's row: the decision log entry.
pub async fn recipient_of(
    mut c: Conn<'_>,
    ws: i64,
    broadcast_id: i64,
    contact_id: i64,
) -> Result<Option<Recipient>, StoreError> {
    let row = c
        .fetch_optional(
            &format!(
                "SELECT {COLUMNS} FROM broadcast_recipients WHERE workspace_id = $1 AND broadcast_id = $2 AND contact_id = $3"
            ),
            params![ws, broadcast_id, contact_id],
        )
        .await?;
    row.as_ref().map(recipient).transpose()
}

/// A page of rows in contact order, optionally in one state.
pub async fn list_recipients(
    mut c: Conn<'_>,
    ws: i64,
    broadcast_id: i64,
    state: Option<&str>,
    after: i64,
    limit: i64,
) -> Result<Vec<Recipient>, StoreError> {
    let mut p = params![ws, broadcast_id, after, limit];
    let filter = match state {
        Some(s) => {
            p.push(Param::from(s));
            " AND state = $5"
        }
        None => "",
    };
    c.fetch_all(
        &format!(
            "SELECT {COLUMNS} FROM broadcast_recipients WHERE workspace_id = $1 AND broadcast_id = $2 AND contact_id > $3{filter} \
             ORDER BY contact_id LIMIT $4"
        ),
        p,
    )
    .await?
    .iter()
    .map(recipient)
    .collect()
}

/// Rows per state and reason: (state, reason, count).
pub async fn state_counts(
    mut c: Conn<'_>,
    ws: i64,
    broadcast_id: i64,
) -> Result<Vec<(String, String, i64)>, StoreError> {
    c.fetch_all(
        "SELECT state, reason, COUNT(*) AS n FROM broadcast_recipients WHERE workspace_id = $1 AND broadcast_id = $2 \
         GROUP BY state, reason ORDER BY state, reason",
        params![ws, broadcast_id],
    )
    .await?
    .iter()
    .map(|r| Ok((r.text("state")?, r.text("reason")?, r.int("n")?)))
    .collect()
}

/// Emails the SMTP server accepted per time bucket of `bucket_ms`, oldest
/// first: (bucket start, count). For the results chart.
pub async fn sent_series(
    mut c: Conn<'_>,
    ws: i64,
    broadcast_id: i64,
    bucket_ms: i64,
) -> Result<Vec<(i64, i64)>, StoreError> {
    let bucket_ms = bucket_ms.max(1);
    c.fetch_all(
        &format!(
            "SELECT (sent_at / {bucket_ms}) * {bucket_ms} AS bucket, COUNT(*) AS n FROM broadcast_recipients \
             WHERE workspace_id = $1 AND broadcast_id = $2 AND state = 'sent' AND sent_at IS NOT NULL \
             GROUP BY bucket ORDER BY bucket"
        ),
        params![ws, broadcast_id],
    )
    .await?
    .iter()
    .map(|r| Ok((r.int("bucket")?, r.int("n")?)))
    .collect()
}

/// Marketing emails per person, for some people, from other broadcasts
/// that count against a frequency cap: sent since `since`, or on their way
/// (waiting, in flight, uncertain). People with none are absent.
pub async fn recent_sends(
    mut c: Conn<'_>,
    ws: i64,
    except_broadcast: i64,
    since: i64,
    contact_ids: &[i64],
) -> Result<HashMap<i64, i64>, StoreError> {
    let mut found = HashMap::new();
    for chunk in contact_ids.chunks(IDS_PER_STATEMENT) {
        let mut p = params![ws, except_broadcast, since];
        p.extend(chunk.iter().map(|id| Param::Int(*id)));
        let holes: Vec<String> = (0..chunk.len()).map(|i| format!("${}", i + 4)).collect();
        let sql = format!(
            "SELECT contact_id, COUNT(*) AS n FROM broadcast_recipients WHERE workspace_id = $1 AND contact_id IN ({}) \
             AND broadcast_id <> $2 AND ((state = 'sent' AND sent_at >= $3) OR state IN ('queued', 'deferred', 'sending', 'uncertain')) \
             GROUP BY contact_id",
            holes.join(", ")
        );
        for r in c.fetch_all(&sql, p).await? {
            found.insert(r.int("contact_id")?, r.int("n")?);
        }
    }
    Ok(found)
}

/// Messages a provider accepted since `since`, across the workspace's
/// broadcasts (a restarted sender keeps honouring the hourly limit).
pub async fn sent_through_provider(
    mut c: Conn<'_>,
    ws: i64,
    provider_id: i64,
    since: i64,
) -> Result<i64, StoreError> {
    let row = c
        .fetch_one(
            "SELECT COUNT(*) AS n FROM broadcast_recipients r JOIN broadcasts b ON b.workspace_id = r.workspace_id AND b.id = r.broadcast_id \
             WHERE r.workspace_id = $1 AND b.provider_id = $2 AND r.state = 'sent' AND r.sent_at >= $3",
            params![ws, provider_id, since],
        )
        .await?;
    row.int("n")
}

/// The broadcast and person a sent message belongs to, by its Message-ID.
pub async fn by_message_id(
    mut c: Conn<'_>,
    ws: i64,
    message_id: &str,
) -> Result<Option<(i64, Recipient)>, StoreError> {
    let row = c
        .fetch_optional(
            &format!(
                "SELECT broadcast_id, {COLUMNS} FROM broadcast_recipients WHERE workspace_id = $1 AND message_id = $2"
            ),
            params![ws, message_id],
        )
        .await?;
    match row {
        Some(r) => Ok(Some((r.int("broadcast_id")?, recipient(&r)?))),
        None => Ok(None),
    }
}

/// The most recent broadcast sent to an address, for a bounce that names
/// only the recipient.
pub async fn last_sent_to(
    mut c: Conn<'_>,
    ws: i64,
    email: &str,
) -> Result<Option<(i64, Recipient)>, StoreError> {
    let row = c
        .fetch_optional(
            &format!(
                "SELECT broadcast_id, {COLUMNS} FROM broadcast_recipients WHERE workspace_id = $1 AND email = $2 AND state = 'sent' \
                 ORDER BY sent_at DESC LIMIT 1"
            ),
            params![ws, email],
        )
        .await?;
    match row {
        Some(r) => Ok(Some((r.int("broadcast_id")?, recipient(&r)?))),
        None => Ok(None),
    }
}
