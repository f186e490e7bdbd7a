//! The consent ledger and the consent state derived from it: subscription
//! topics, every opt-in and opt-out appended with the wording the person
//! saw, and each person's current choice per topic and channel, written in
//! the same transaction as the ledger row that decides it.

use std::collections::HashMap;

use pitcrew_core::campaign::consent::{ConsentSource, LegalBasis};

use crate::{Conn, Engine, Param, Row, StoreError, params};

/// Ids per statement when a list of ids is bound as parameters.
const IDS_PER_STATEMENT: usize = 500;

// ---- topics -----------------------------------------------------------------------

/// A subscription topic, such as "Newsletter". Its name is the key consent
/// rows, suppressions, broadcasts and segment conditions refer to it by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topic {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub created_at: i64,
}

const TOPIC_COLUMNS: &str = "id, name, description, created_at";

fn topic(row: &Row) -> Result<Topic, StoreError> {
    Ok(Topic {
        id: row.int("id")?,
        name: row.text("name")?,
        description: row.text("description")?,
        created_at: row.int("created_at")?,
    })
}

/// Every topic of a workspace, by name.
pub async fn list_topics(mut c: Conn<'_>, ws: i64) -> Result<Vec<Topic>, StoreError> {
    c.fetch_all(
        &format!("SELECT {TOPIC_COLUMNS} FROM topics WHERE workspace_id = $1 ORDER BY name, id"),
        params![ws],
    )
    .await?
    .iter()
    .map(topic)
    .collect()
}

/// Read one topic; `lock` holds it against concurrent writers until the
/// transaction ends (PostgreSQL; SQLite transactions already serialise).
pub async fn get_topic(
    mut c: Conn<'_>,
    ws: i64,
    id: i64,
    lock: bool,
) -> Result<Option<Topic>, StoreError> {
    let lock = if lock && c.engine() == Engine::Postgres {
        " FOR UPDATE"
    } else {
        ""
    };
    c.fetch_optional(
        &format!("SELECT {TOPIC_COLUMNS} FROM topics WHERE workspace_id = $1 AND id = $2{lock}"),
        params![ws, id],
    )
    .await?
    .map(|r| topic(&r))
    .transpose()
}

pub async fn topic_by_name(
    mut c: Conn<'_>,
    ws: i64,
    name: &str,
) -> Result<Option<Topic>, StoreError> {
    c.fetch_optional(
        &format!("SELECT {TOPIC_COLUMNS} FROM topics WHERE workspace_id = $1 AND name = $2"),
        params![ws, name],
    )
    .await?
    .map(|r| topic(&r))
    .transpose()
}

pub async fn create_topic(
    mut c: Conn<'_>,
    ws: i64,
    name: &str,
    description: &str,
    now: i64,
) -> Result<Topic, StoreError> {
    let row = c
        .fetch_one(
            &format!(
                "INSERT INTO topics (workspace_id, name, description, created_at) VALUES ($1, $2, $3, $4) RETURNING {TOPIC_COLUMNS}"
            ),
            params![ws, name, description, now],
        )
        .await?;
    topic(&row)
}

/// Change a topic's name and description; `None` when it does not exist.
pub async fn update_topic(
    mut c: Conn<'_>,
    ws: i64,
    id: i64,
    name: &str,
    description: &str,
) -> Result<Option<Topic>, StoreError> {
    c.fetch_optional(
        &format!(
            "UPDATE topics SET name = $3, description = $4 WHERE workspace_id = $1 AND id = $2 RETURNING {TOPIC_COLUMNS}"
        ),
        params![ws, id, name, description],
    )
    .await?
    .map(|r| topic(&r))
    .transpose()
}

/// Delete a topic; returns whether it existed.
pub async fn delete_topic(mut c: Conn<'_>, ws: i64, id: i64) -> Result<bool, StoreError> {
    let n = c
        .execute(
            "DELETE FROM topics WHERE workspace_id = $1 AND id = $2",
            params![ws, id],
        )
        .await?;
    Ok(n > 0)
}

/// How many stored rows refer to a topic by its name (saved segments are
/// found through `dependencies`, not counted here).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TopicReferences {
    pub consent_records: i64,
    /// Current choices; normally one per person and channel with records,
    /// counted as well because rows may have been written without a record.
    pub consent_states: i64,
    pub suppressions: i64,
    pub broadcasts: i64,
}

impl TopicReferences {
    pub fn is_empty(&self) -> bool {
        *self == TopicReferences::default()
    }
}

pub async fn topic_references(
    mut c: Conn<'_>,
    ws: i64,
    name: &str,
) -> Result<TopicReferences, StoreError> {
    let row = c
        .fetch_one(
            "SELECT \
             (SELECT COUNT(*) FROM consent_records WHERE workspace_id = $1 AND topic = $2) AS records, \
             (SELECT COUNT(*) FROM consent_state WHERE workspace_id = $1 AND topic = $2) AS states, \
             (SELECT COUNT(*) FROM suppressions WHERE workspace_id = $1 AND topic = $2) AS suppressions, \
             (SELECT COUNT(*) FROM broadcasts WHERE workspace_id = $1 AND topic = $2) AS broadcasts",
            params![ws, name],
        )
        .await?;
    Ok(TopicReferences {
        consent_records: row.int("records")?,
        consent_states: row.int("states")?,
        suppressions: row.int("suppressions")?,
        broadcasts: row.int("broadcasts")?,
    })
}

// ---- the ledger -------------------------------------------------------------------

/// One opt-in or opt-out about to be appended to the ledger.
#[derive(Debug, Clone, Copy)]
pub struct NewConsentRecord<'a> {
    pub topic: &'a str,
    pub channel: &'a str,
    pub subscribed: bool,
    /// What the data is used for, such as `marketing`.
    pub purpose: &'a str,
    /// The basis opted in under; for an opt-out, the basis withdrawn.
    pub legal_basis: LegalBasis,
    pub source: ConsentSource,
    /// The exact text the person was shown.
    pub wording: &'a str,
    pub wording_version: &'a str,
    /// The email whose link or complaint caused it.
    pub broadcast_id: Option<i64>,
    /// Who recorded it: a member's email, `token:<name>` or `system`.
    pub actor: &'a str,
    /// When the person made the choice (UTC epoch milliseconds).
    pub at: i64,
}

/// One row of the ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentRecord {
    pub id: i64,
    pub contact_id: i64,
    pub topic: String,
    pub channel: String,
    pub subscribed: bool,
    pub purpose: String,
    pub legal_basis: LegalBasis,
    pub source: ConsentSource,
    pub wording: String,
    pub wording_version: String,
    pub broadcast_id: Option<i64>,
    pub actor: String,
    pub at: i64,
}

const RECORD_COLUMNS: &str = "id, contact_id, topic, channel, subscribed, purpose, legal_basis, source, wording, wording_version, broadcast_id, actor, at";

fn legal_basis(row: &Row) -> Result<LegalBasis, StoreError> {
    let text = row.text("legal_basis")?;
    LegalBasis::parse(&text)
        .ok_or_else(|| StoreError::Corrupt(format!("legal_basis: unknown basis `{text}`")))
}

fn record(row: &Row) -> Result<ConsentRecord, StoreError> {
    let source = row.text("source")?;
    Ok(ConsentRecord {
        id: row.int("id")?,
        contact_id: row.int("contact_id")?,
        topic: row.text("topic")?,
        channel: row.text("channel")?,
        subscribed: row.bool("subscribed")?,
        purpose: row.text("purpose")?,
        legal_basis: legal_basis(row)?,
        source: ConsentSource::parse(&source)
            .ok_or_else(|| StoreError::Corrupt(format!("source: unknown source `{source}`")))?,
        wording: row.text("wording")?,
        wording_version: row.text("wording_version")?,
        broadcast_id: row.opt_int("broadcast_id")?,
        actor: row.text("actor")?,
        at: row.int("at")?,
    })
}

/// What appending a record did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appended {
    pub record: ConsentRecord,
    /// Whether the record is now the person's current choice. A record
    /// older than the choice already held is kept in the ledger but leaves
    /// the current choice alone.
    pub current: bool,
}

/// Append a record to the ledger and bring the person's current choice in
/// step with it, unless a newer choice (a later `at`) is already held;
/// between records with the same `at`, the one appended last wins. Run it
/// inside a transaction so the two writes stand or fall together.
pub async fn append_consent(
    mut c: Conn<'_>,
    ws: i64,
    contact_id: i64,
    new: &NewConsentRecord<'_>,
) -> Result<Appended, StoreError> {
    let row = c
        .fetch_one(
            &format!(
                "INSERT INTO consent_records (workspace_id, contact_id, topic, channel, subscribed, purpose, legal_basis, source, wording, wording_version, broadcast_id, actor, at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING {RECORD_COLUMNS}"
            ),
            params![
                ws,
                contact_id,
                new.topic,
                new.channel,
                new.subscribed,
                new.purpose,
                new.legal_basis.as_str(),
                new.source.as_str(),
                new.wording,
                new.wording_version,
                new.broadcast_id,
                new.actor,
                new.at,
            ],
        )
        .await?;
    let record = record(&row)?;
    let changed = c
        .execute(
            "INSERT INTO consent_state (workspace_id, contact_id, topic, channel, subscribed, legal_basis, at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (workspace_id, contact_id, topic, channel) DO UPDATE \
             SET subscribed = excluded.subscribed, legal_basis = excluded.legal_basis, at = excluded.at \
             WHERE consent_state.at <= excluded.at",
            params![
                ws,
                contact_id,
                new.topic,
                new.channel,
                new.subscribed,
                new.legal_basis.as_str(),
                new.at,
            ],
        )
        .await?;
    Ok(Appended {
        record,
        current: changed > 0,
    })
}

/// Every record of one person, newest first (by `at`, then by order of
/// recording).
pub async fn consent_history(
    mut c: Conn<'_>,
    ws: i64,
    contact_id: i64,
) -> Result<Vec<ConsentRecord>, StoreError> {
    c.fetch_all(
        &format!(
            "SELECT {RECORD_COLUMNS} FROM consent_records WHERE workspace_id = $1 AND contact_id = $2 ORDER BY at DESC, id DESC"
        ),
        params![ws, contact_id],
    )
    .await?
    .iter()
    .map(record)
    .collect()
}

// ---- current choices ----------------------------------------------------------------

/// A person's current choice for one topic on one channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrentConsent {
    pub contact_id: i64,
    pub topic: String,
    pub channel: String,
    pub subscribed: bool,
    pub legal_basis: LegalBasis,
    pub at: i64,
}

const STATE_COLUMNS: &str = "contact_id, topic, channel, subscribed, legal_basis, at";

fn current(row: &Row) -> Result<CurrentConsent, StoreError> {
    Ok(CurrentConsent {
        contact_id: row.int("contact_id")?,
        topic: row.text("topic")?,
        channel: row.text("channel")?,
        subscribed: row.bool("subscribed")?,
        legal_basis: legal_basis(row)?,
        at: row.int("at")?,
    })
}

/// One person's current choices, by topic and channel.
pub async fn consent_state(
    mut c: Conn<'_>,
    ws: i64,
    contact_id: i64,
) -> Result<Vec<CurrentConsent>, StoreError> {
    c.fetch_all(
        &format!(
            "SELECT {STATE_COLUMNS} FROM consent_state WHERE workspace_id = $1 AND contact_id = $2 ORDER BY topic, channel"
        ),
        params![ws, contact_id],
    )
    .await?
    .iter()
    .map(current)
    .collect()
}

/// The current choices of many people for one topic on one channel, by
/// contact id; people with no choice recorded are absent.
pub async fn choices_for(
    mut c: Conn<'_>,
    ws: i64,
    topic: &str,
    channel: &str,
    contact_ids: &[i64],
) -> Result<HashMap<i64, CurrentConsent>, StoreError> {
    let mut found = HashMap::new();
    for chunk in contact_ids.chunks(IDS_PER_STATEMENT) {
        let mut p = params![ws, topic, channel];
        p.extend(chunk.iter().map(|id| Param::Int(*id)));
        let holes: Vec<String> = (0..chunk.len()).map(|i| format!("${}", i + 4)).collect();
        let sql = format!(
            "SELECT {STATE_COLUMNS} FROM consent_state WHERE workspace_id = $1 AND topic = $2 AND channel = $3 AND contact_id IN ({})",
            holes.join(", ")
        );
        for r in c.fetch_all(&sql, p).await? {
            let choice = current(&r)?;
            found.insert(choice.contact_id, choice);
        }
    }
    Ok(found)
}

/// Whether a contact exists in the workspace.
pub async fn contact_exists(mut c: Conn<'_>, ws: i64, contact_id: i64) -> Result<bool, StoreError> {
    Ok(c.fetch_optional(
        "SELECT id FROM contacts WHERE workspace_id = $1 AND id = $2",
        params![ws, contact_id],
    )
    .await?
    .is_some())
}

/// Whether a broadcast exists in the workspace.
pub async fn broadcast_exists(
    mut c: Conn<'_>,
    ws: i64,
    broadcast_id: i64,
) -> Result<bool, StoreError> {
    Ok(c.fetch_optional(
        "SELECT id FROM broadcasts WHERE workspace_id = $1 AND id = $2",
        params![ws, broadcast_id],
    )
    .await?
    .is_some())
}
