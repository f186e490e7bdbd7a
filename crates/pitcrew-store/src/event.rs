//! Data in: sources and write keys, events, the identities that point at a
//! person, merges, and the catalogues of event types and undeclared traits.

use std::collections::{BTreeSet, HashMap, HashSet};

use pitcrew_core::event::{Event, EventType, Merge, MessageType, Source, UndeclaredTrait};
use pitcrew_core::time::format_ms;
use serde_json::{Map, Value};

use crate::{Conn, Engine, Param, Row, StoreError, params};

// ---- sources ------------------------------------------------------------

fn source(row: &Row) -> Result<Source, StoreError> {
    Ok(Source {
        id: row.int("id")?,
        name: row.text("name")?,
        prefix: row.text("write_key_prefix")?,
        created_at: format_ms(row.int("created_at")?),
        revoked_at: row.opt_int("revoked_at")?.map(format_ms),
    })
}

const SOURCE_SELECT: &str =
    "SELECT id, workspace_id, name, write_key_prefix, created_at, revoked_at FROM sources";

pub async fn create_source(
    mut c: Conn<'_>,
    ws: i64,
    name: &str,
    prefix: &str,
    key_hash: &str,
    now: i64,
) -> Result<Source, StoreError> {
    let row = c
        .fetch_one(
            "INSERT INTO sources (workspace_id, name, write_key_prefix, write_key_hash, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id, workspace_id, name, write_key_prefix, created_at, revoked_at",
            params![ws, name, prefix, key_hash, now],
        )
        .await?;
    source(&row)
}

pub async fn list_sources(mut c: Conn<'_>, ws: i64) -> Result<Vec<Source>, StoreError> {
    c.fetch_all(
        &format!("{SOURCE_SELECT} WHERE workspace_id = $1 ORDER BY id"),
        params![ws],
    )
    .await?
    .iter()
    .map(source)
    .collect()
}

pub async fn get_source(mut c: Conn<'_>, ws: i64, id: i64) -> Result<Option<Source>, StoreError> {
    c.fetch_optional(
        &format!("{SOURCE_SELECT} WHERE workspace_id = $1 AND id = $2"),
        params![ws, id],
    )
    .await?
    .map(|r| source(&r))
    .transpose()
}

pub async fn revoke_source(mut c: Conn<'_>, ws: i64, id: i64, now: i64) -> Result<(), StoreError> {
    c.execute(
        "UPDATE sources SET revoked_at = $3 WHERE workspace_id = $1 AND id = $2 AND revoked_at IS NULL",
        params![ws, id, now],
    )
    .await?;
    Ok(())
}

/// The live source behind a write key's hash, with its workspace.
pub async fn source_by_key(
    mut c: Conn<'_>,
    key_hash: &str,
) -> Result<Option<(i64, Source)>, StoreError> {
    let row = c
        .fetch_optional(
            &format!("{SOURCE_SELECT} WHERE write_key_hash = $1 AND revoked_at IS NULL"),
            params![key_hash],
        )
        .await?;
    row.map(|r| Ok((r.int("workspace_id")?, source(&r)?)))
        .transpose()
}

// ---- identities and merges ------------------------------------------------

/// The person an id points at.
pub async fn find_identity(
    mut c: Conn<'_>,
    ws: i64,
    kind: &str,
    value: &str,
) -> Result<Option<i64>, StoreError> {
    c.fetch_optional(
        "SELECT contact_id FROM identities WHERE workspace_id = $1 AND kind = $2 AND value = $3",
        params![ws, kind, value],
    )
    .await?
    .map(|r| r.int("contact_id"))
    .transpose()
}

/// The people these ids of one kind point at, in one query per few hundred ids.
pub async fn find_identities(
    c: Conn<'_>,
    ws: i64,
    kind: &str,
    values: &[String],
) -> Result<HashMap<String, i64>, StoreError> {
    let sql = "SELECT value AS k, contact_id AS v FROM identities WHERE workspace_id = $1 AND kind = $2 AND value IN";
    let rows = rows_in(c, sql, params![ws, kind], values).await?;
    rows.iter()
        .map(|r| Ok((r.text("k")?, r.int("v")?)))
        .collect()
}

/// Contacts by external id, for ids not yet recorded as identities.
pub async fn contacts_by_external_id(
    c: Conn<'_>,
    ws: i64,
    values: &[String],
) -> Result<HashMap<String, i64>, StoreError> {
    let sql =
        "SELECT external_id AS k, id AS v FROM contacts WHERE workspace_id = $1 AND external_id IN";
    let rows = rows_in(c, sql, params![ws], values).await?;
    rows.iter()
        .map(|r| Ok((r.text("k")?, r.int("v")?)))
        .collect()
}

/// Rows of `sql` (ending in `IN`) for every value, a few hundred values per
/// statement; `fixed` are the parameters before the list.
async fn rows_in(
    mut c: Conn<'_>,
    sql: &str,
    fixed: Vec<Param>,
    values: &[String],
) -> Result<Vec<Row>, StoreError> {
    let mut rows = Vec::new();
    for chunk in values.chunks(500) {
        let first = fixed.len() + 1;
        let holes: Vec<String> = (0..chunk.len())
            .map(|i| format!("${}", first + i))
            .collect();
        let mut p = fixed.clone();
        p.extend(chunk.iter().map(|v| Param::Text(v.clone())));
        rows.extend(
            c.fetch_all(&format!("{sql} ({})", holes.join(", ")), p)
                .await?,
        );
    }
    Ok(rows)
}

/// Point an id at a person, unless it already points somewhere.
pub async fn bind_identity(
    mut c: Conn<'_>,
    ws: i64,
    kind: &str,
    value: &str,
    contact_id: i64,
    now: i64,
) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO identities (workspace_id, kind, value, contact_id, created_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
        params![ws, kind, value, contact_id, now],
    )
    .await?;
    Ok(())
}

/// Every id pointing at a person, as `(kind, value)`.
pub async fn identities_of(
    mut c: Conn<'_>,
    ws: i64,
    contact_id: i64,
) -> Result<Vec<(String, String)>, StoreError> {
    c.fetch_all(
        "SELECT kind, value FROM identities WHERE workspace_id = $1 AND contact_id = $2 ORDER BY kind, value",
        params![ws, contact_id],
    )
    .await?
    .iter()
    .map(|r| Ok((r.text("kind")?, r.text("value")?)))
    .collect()
}

/// Move everything that points at `from` — ids, events, earlier merges — to `to`.
pub async fn repoint_person(
    mut c: Conn<'_>,
    ws: i64,
    from: i64,
    to: i64,
) -> Result<(), StoreError> {
    for sql in [
        "UPDATE identities SET contact_id = $3 WHERE workspace_id = $1 AND contact_id = $2",
        "UPDATE events SET contact_id = $3 WHERE workspace_id = $1 AND contact_id = $2",
        "UPDATE merges SET winner_id = $3 WHERE workspace_id = $1 AND winner_id = $2",
    ] {
        c.execute(sql, params![ws, from, to]).await?;
    }
    Ok(())
}

/// A merge about to be recorded.
pub struct NewMerge<'a> {
    pub winner_id: i64,
    pub loser_id: i64,
    pub reason: &'a str,
    pub identities: Value,
    pub message_id: Option<&'a str>,
}

pub async fn record_merge(
    mut c: Conn<'_>,
    ws: i64,
    m: NewMerge<'_>,
    now: i64,
) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO merges (workspace_id, winner_id, loser_id, reason, identities, message_id, at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        params![ws, m.winner_id, m.loser_id, m.reason, m.identities, m.message_id, now],
    )
    .await?;
    Ok(())
}

pub async fn merges_of(
    mut c: Conn<'_>,
    ws: i64,
    contact_id: i64,
) -> Result<Vec<Merge>, StoreError> {
    c.fetch_all(
        "SELECT id, winner_id, loser_id, reason, identities, message_id, at FROM merges WHERE workspace_id = $1 AND winner_id = $2 ORDER BY id",
        params![ws, contact_id],
    )
    .await?
    .iter()
    .map(|r| {
        Ok(Merge {
            id: r.int("id")?,
            winner_id: r.int("winner_id")?,
            loser_id: r.int("loser_id")?,
            reason: r.text("reason")?,
            identities: r.json("identities")?,
            message_id: r.opt_text("message_id")?,
            at: format_ms(r.int("at")?),
        })
    })
    .collect()
}

pub async fn merge_count(mut c: Conn<'_>, ws: i64, contact_id: i64) -> Result<i64, StoreError> {
    c.fetch_one(
        "SELECT COUNT(*) AS n FROM merges WHERE workspace_id = $1 AND winner_id = $2",
        params![ws, contact_id],
    )
    .await?
    .int("n")
}

// ---- events ---------------------------------------------------------------

/// An event about to be stored.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub source_id: i64,
    pub contact_id: Option<i64>,
    pub message_id: String,
    pub kind: MessageType,
    pub name: String,
    pub at: i64,
    pub received_at: i64,
    pub user_id: Option<String>,
    pub anonymous_id: Option<String>,
    pub properties: Value,
    pub context: Value,
}

/// Which of these message ids a source has already delivered.
pub async fn known_message_ids(
    c: Conn<'_>,
    ws: i64,
    source_id: i64,
    ids: &[String],
) -> Result<HashSet<String>, StoreError> {
    let sql = "SELECT message_id FROM events WHERE workspace_id = $1 AND source_id = $2 AND message_id IN";
    let rows = rows_in(c, sql, params![ws, source_id], ids).await?;
    rows.iter().map(|r| r.text("message_id")).collect()
}

const EVENT_COLUMNS: usize = 12;

/// Append events, many rows per statement. A message id the source already
/// delivered is skipped, so a retried request stores nothing twice.
pub async fn insert_events(
    mut c: Conn<'_>,
    ws: i64,
    events: &[NewEvent],
) -> Result<u64, StoreError> {
    let mut stored = 0;
    for chunk in events.chunks(400) {
        let mut values = Vec::with_capacity(chunk.len());
        let mut p = Vec::with_capacity(chunk.len() * EVENT_COLUMNS);
        for (i, e) in chunk.iter().enumerate() {
            let base = i * EVENT_COLUMNS;
            let holes: Vec<String> = (1..=EVENT_COLUMNS)
                .map(|k| format!("${}", base + k))
                .collect();
            values.push(format!("({})", holes.join(", ")));
            p.extend(params![
                ws,
                e.source_id,
                e.contact_id,
                e.message_id.as_str(),
                e.kind.as_str(),
                e.name.as_str(),
                e.at,
                e.received_at,
                e.user_id.clone(),
                e.anonymous_id.clone(),
                e.properties.clone(),
                e.context.clone(),
            ]);
        }
        stored += c
            .execute(
                &format!(
                    "INSERT INTO events (workspace_id, source_id, contact_id, message_id, type, name, at, received_at, user_id, anonymous_id, properties, context) VALUES {} ON CONFLICT DO NOTHING",
                    values.join(", ")
                ),
                p,
            )
            .await?;
    }
    Ok(stored)
}

fn event(row: &Row) -> Result<Event, StoreError> {
    let kind = row.text("type")?;
    let as_map = |v: Value| match v {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    Ok(Event {
        id: row.int("id")?,
        kind: MessageType::parse(&kind)
            .ok_or_else(|| StoreError::Corrupt(format!("event type `{kind}`")))?,
        name: row.text("name")?,
        at: format_ms(row.int("at")?),
        received_at: format_ms(row.int("received_at")?),
        source_id: row.int("source_id")?,
        message_id: row.text("message_id")?,
        user_id: row.opt_text("user_id")?,
        anonymous_id: row.opt_text("anonymous_id")?,
        properties: as_map(row.json("properties")?),
        context: as_map(row.json("context")?),
    })
}

/// A person's events, newest first, before an optional event id.
pub async fn timeline(
    mut c: Conn<'_>,
    ws: i64,
    contact_id: i64,
    before_id: Option<i64>,
    limit: i64,
) -> Result<Vec<Event>, StoreError> {
    c.fetch_all(
        "SELECT id, type, name, at, received_at, source_id, message_id, user_id, anonymous_id, properties, context FROM events \
         WHERE workspace_id = $1 AND contact_id = $2 AND ($3 IS NULL OR id < $3) ORDER BY at DESC, id DESC LIMIT $4",
        params![ws, contact_id, before_id, limit],
    )
    .await?
    .iter()
    .map(event)
    .collect()
}

/// What one batch adds to the catalogue for one kind of event.
#[derive(Debug, Clone)]
pub struct EventTypeSeen {
    pub kind: MessageType,
    pub name: String,
    pub count: i64,
    pub first: i64,
    pub last: i64,
    pub property_keys: BTreeSet<String>,
}

pub async fn note_event_types(
    mut c: Conn<'_>,
    ws: i64,
    seen: &[EventTypeSeen],
) -> Result<(), StoreError> {
    let (least, greatest) = match c.engine() {
        Engine::Sqlite => ("min", "max"),
        Engine::Postgres => ("LEAST", "GREATEST"),
    };
    for s in seen {
        let existing = c
            .fetch_optional(
                "SELECT property_keys FROM event_types WHERE workspace_id = $1 AND type = $2 AND name = $3",
                params![ws, s.kind.as_str(), s.name.as_str()],
            )
            .await?;
        let mut keys = s.property_keys.clone();
        if let Some(r) = existing
            && let Value::Array(old) = r.json("property_keys")?
        {
            keys.extend(
                old.into_iter()
                    .filter_map(|v| v.as_str().map(str::to_string)),
            );
        }
        let keys = Value::Array(keys.into_iter().map(Value::String).collect());
        c.execute(
            &format!(
                "INSERT INTO event_types (workspace_id, type, name, count, first_seen, last_seen, property_keys) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                 ON CONFLICT (workspace_id, type, name) DO UPDATE SET count = event_types.count + excluded.count, \
                 first_seen = {least}(event_types.first_seen, excluded.first_seen), last_seen = {greatest}(event_types.last_seen, excluded.last_seen), \
                 property_keys = excluded.property_keys"
            ),
            params![ws, s.kind.as_str(), s.name.as_str(), s.count, s.first, s.last, keys],
        )
        .await?;
    }
    Ok(())
}

pub async fn event_types(mut c: Conn<'_>, ws: i64) -> Result<Vec<EventType>, StoreError> {
    c.fetch_all(
        "SELECT type, name, count, first_seen, last_seen, property_keys FROM event_types WHERE workspace_id = $1 ORDER BY count DESC, type, name",
        params![ws],
    )
    .await?
    .iter()
    .map(|r| {
        let kind = r.text("type")?;
        let keys = match r.json("property_keys")? {
            Value::Array(a) => a.into_iter().filter_map(|v| v.as_str().map(str::to_string)).collect(),
            _ => Vec::new(),
        };
        Ok(EventType {
            kind: MessageType::parse(&kind).ok_or_else(|| StoreError::Corrupt(format!("event type `{kind}`")))?,
            name: r.text("name")?,
            count: r.int("count")?,
            first_seen: format_ms(r.int("first_seen")?),
            last_seen: format_ms(r.int("last_seen")?),
            property_keys: keys,
        })
    })
    .collect()
}

/// Note when people were last active: `(contact, at)` pairs, each applied
/// only if later than what is known. One statement per few hundred people.
pub async fn touch_last_seen(
    mut c: Conn<'_>,
    ws: i64,
    seen: &[(i64, i64)],
) -> Result<(), StoreError> {
    for chunk in seen.chunks(500) {
        let values: Vec<String> = (0..chunk.len())
            .map(|i| format!("(${}, ${})", 2 * i + 2, 2 * i + 3))
            .collect();
        let mut p = params![ws];
        for (contact, at) in chunk {
            p.extend(params![*contact, *at]);
        }
        c.execute(
            &format!(
                "WITH seen (id, at) AS (VALUES {}) UPDATE contacts SET last_seen_at = seen.at FROM seen \
                 WHERE contacts.workspace_id = $1 AND contacts.id = seen.id AND (contacts.last_seen_at IS NULL OR contacts.last_seen_at < seen.at)",
                values.join(", ")
            ),
            p,
        )
        .await?;
    }
    Ok(())
}

// ---- undeclared traits ------------------------------------------------------

pub async fn note_undeclared_trait(
    mut c: Conn<'_>,
    ws: i64,
    object: &str,
    key: &str,
    kept: bool,
    value: &Value,
    now: i64,
) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO undeclared_traits (workspace_id, object, key, count, kept, first_seen, last_seen, last_value) VALUES ($1, $2, $3, 1, $4, $5, $5, $6) \
         ON CONFLICT (workspace_id, object, key) DO UPDATE SET count = undeclared_traits.count + 1, kept = excluded.kept, last_seen = excluded.last_seen, last_value = excluded.last_value",
        params![ws, object, key, kept, now, value.clone()],
    )
    .await?;
    Ok(())
}

pub async fn undeclared_traits(
    mut c: Conn<'_>,
    ws: i64,
) -> Result<Vec<UndeclaredTrait>, StoreError> {
    c.fetch_all(
        "SELECT object, key, count, kept, first_seen, last_seen, last_value FROM undeclared_traits WHERE workspace_id = $1 ORDER BY object, count DESC, key",
        params![ws],
    )
    .await?
    .iter()
    .map(|r| {
        Ok(UndeclaredTrait {
            object: r.text("object")?,
            key: r.text("key")?,
            count: r.int("count")?,
            kept: r.bool("kept")?,
            first_seen: format_ms(r.int("first_seen")?),
            last_seen: format_ms(r.int("last_seen")?),
            last_value: r.json("last_value")?,
        })
    })
    .collect()
}

/// Merge `traits` into the undeclared traits kept on a record.
pub async fn keep_traits(
    mut c: Conn<'_>,
    ws: i64,
    table: &str,
    id: i64,
    traits: &Map<String, Value>,
) -> Result<(), StoreError> {
    let row = c
        .fetch_optional(
            &format!("SELECT traits FROM {table} WHERE workspace_id = $1 AND id = $2"),
            params![ws, id],
        )
        .await?;
    let mut kept = match row.map(|r| r.json("traits")).transpose()? {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    };
    kept.extend(traits.clone());
    c.execute(
        &format!("UPDATE {table} SET traits = $3 WHERE workspace_id = $1 AND id = $2"),
        params![ws, id, Value::Object(kept)],
    )
    .await?;
    Ok(())
}

/// The undeclared traits kept on a record.
pub async fn traits_of(
    mut c: Conn<'_>,
    ws: i64,
    table: &str,
    id: i64,
) -> Result<Map<String, Value>, StoreError> {
    let row = c
        .fetch_optional(
            &format!("SELECT traits FROM {table} WHERE workspace_id = $1 AND id = $2"),
            params![ws, id],
        )
        .await?;
    Ok(match row.map(|r| r.json("traits")).transpose()? {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    })
}

/// Workspace settings as stored (a JSON object).
pub async fn workspace_settings(
    mut c: Conn<'_>,
    ws: i64,
) -> Result<Map<String, Value>, StoreError> {
    let row = c
        .fetch_one("SELECT settings FROM workspaces WHERE id = $1", params![ws])
        .await?;
    Ok(match row.json("settings")? {
        Value::Object(m) => m,
        _ => Map::new(),
    })
}

pub async fn set_workspace_settings(
    mut c: Conn<'_>,
    ws: i64,
    settings: &Map<String, Value>,
) -> Result<(), StoreError> {
    c.execute(
        "UPDATE workspaces SET settings = $2 WHERE id = $1",
        params![ws, Value::Object(settings.clone())],
    )
    .await?;
    Ok(())
}
