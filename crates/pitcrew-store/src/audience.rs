//! Audiences: saved segments and their versions, static-list members, what
//! saved definitions depend on, and the facts about one person or account
//! (consent included) that a condition is evaluated on.
//!
//! Definitions are stored as the filter language's JSON form; this module
//! never reads them. Member queries arrive as SQL text built by the filter
//! compiler (every value inline); the functions here wrap and run them.

use std::collections::{BTreeSet, HashMap};

use pitcrew_core::record::ObjectKind;
use serde_json::{Map, Value};

use crate::record::{StoredRecord, select, stored, table};
use crate::{Conn, Param, Row, StoreError, params};

/// Ids per statement when a list of ids is bound as parameters.
const IDS_PER_STATEMENT: usize = 500;

// ---- segments ---------------------------------------------------------------

/// A saved segment as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSegment {
    pub id: i64,
    pub name: String,
    pub description: String,
    /// `people` or `accounts`.
    pub subject: String,
    /// `dynamic` (a saved condition) or `static` (a list of members).
    pub kind: String,
    /// The condition in its JSON form; `None` for a static list.
    pub definition: Option<String>,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A segment about to be saved.
#[derive(Debug, Clone, Copy)]
pub struct NewSegment<'a> {
    pub name: &'a str,
    pub description: &'a str,
    pub subject: &'a str,
    pub kind: &'a str,
    pub definition: Option<&'a str>,
}

/// What changes in a new version of a segment.
#[derive(Debug, Clone, Copy)]
pub struct SegmentChange<'a> {
    pub name: &'a str,
    pub description: &'a str,
    pub definition: Option<&'a str>,
}

/// One saved version of a segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredVersion {
    pub version: i64,
    pub name: String,
    pub definition: Option<String>,
    /// Who saved it: a member's email, `token:<name>` or `system`.
    pub actor: String,
    pub at: i64,
}

const SEGMENT_COLUMNS: &str =
    "id, name, description, subject, kind, definition, version, created_at, updated_at";

fn segment(row: &Row) -> Result<StoredSegment, StoreError> {
    Ok(StoredSegment {
        id: row.int("id")?,
        name: row.text("name")?,
        description: row.text("description")?,
        subject: row.text("subject")?,
        kind: row.text("kind")?,
        definition: row.opt_text("definition")?,
        version: row.int("version")?,
        created_at: row.int("created_at")?,
        updated_at: row.int("updated_at")?,
    })
}

async fn insert_version(
    mut c: Conn<'_>,
    ws: i64,
    s: &StoredSegment,
    actor: &str,
    now: i64,
) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO segment_versions (workspace_id, segment_id, version, name, definition, actor, at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        params![ws, s.id, s.version, s.name.as_str(), s.definition.clone(), actor, now],
    )
    .await?;
    Ok(())
}

/// Save a new segment as version 1.
pub async fn insert_segment(
    mut c: Conn<'_>,
    ws: i64,
    new: NewSegment<'_>,
    actor: &str,
    now: i64,
) -> Result<StoredSegment, StoreError> {
    let row = c
        .fetch_one(
            &format!(
                "INSERT INTO segments (workspace_id, name, description, subject, kind, definition, version, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $7) RETURNING {SEGMENT_COLUMNS}"
            ),
            params![ws, new.name, new.description, new.subject, new.kind, new.definition, now],
        )
        .await?;
    let saved = segment(&row)?;
    insert_version(c, ws, &saved, actor, now).await?;
    Ok(saved)
}

/// Save the next version of a segment; `None` when it does not exist.
pub async fn update_segment(
    mut c: Conn<'_>,
    ws: i64,
    id: i64,
    change: SegmentChange<'_>,
    actor: &str,
    now: i64,
) -> Result<Option<StoredSegment>, StoreError> {
    let row = c
        .fetch_optional(
            &format!(
                "UPDATE segments SET name = $3, description = $4, definition = $5, version = version + 1, updated_at = $6 \
                 WHERE workspace_id = $1 AND id = $2 RETURNING {SEGMENT_COLUMNS}"
            ),
            params![ws, id, change.name, change.description, change.definition, now],
        )
        .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let saved = segment(&row)?;
    insert_version(c, ws, &saved, actor, now).await?;
    Ok(Some(saved))
}

/// Read one segment; `lock` holds it against concurrent writers until the
/// transaction ends (PostgreSQL; SQLite transactions already serialise).
pub async fn get_segment(
    mut c: Conn<'_>,
    ws: i64,
    id: i64,
    lock: bool,
) -> Result<Option<StoredSegment>, StoreError> {
    let lock = if lock && c.engine() == crate::Engine::Postgres {
        " FOR UPDATE"
    } else {
        ""
    };
    c.fetch_optional(
        &format!(
            "SELECT {SEGMENT_COLUMNS} FROM segments WHERE workspace_id = $1 AND id = $2{lock}"
        ),
        params![ws, id],
    )
    .await?
    .map(|r| segment(&r))
    .transpose()
}

pub async fn segment_by_name(
    mut c: Conn<'_>,
    ws: i64,
    name: &str,
) -> Result<Option<StoredSegment>, StoreError> {
    c.fetch_optional(
        &format!("SELECT {SEGMENT_COLUMNS} FROM segments WHERE workspace_id = $1 AND name = $2"),
        params![ws, name],
    )
    .await?
    .map(|r| segment(&r))
    .transpose()
}

/// Every segment of a workspace, by name.
pub async fn list_segments(mut c: Conn<'_>, ws: i64) -> Result<Vec<StoredSegment>, StoreError> {
    c.fetch_all(
        &format!(
            "SELECT {SEGMENT_COLUMNS} FROM segments WHERE workspace_id = $1 ORDER BY name, id"
        ),
        params![ws],
    )
    .await?
    .iter()
    .map(segment)
    .collect()
}

/// Delete a segment with its versions, members and the dependencies it
/// owns. Returns whether it existed.
pub async fn delete_segment(mut c: Conn<'_>, ws: i64, id: i64) -> Result<bool, StoreError> {
    for sql in [
        "DELETE FROM segment_versions WHERE workspace_id = $1 AND segment_id = $2",
        "DELETE FROM segment_members WHERE workspace_id = $1 AND segment_id = $2",
        "DELETE FROM dependencies WHERE workspace_id = $1 AND owner_type = 'segment' AND owner_id = $2",
    ] {
        c.execute(sql, params![ws, id]).await?;
    }
    let n = c
        .execute(
            "DELETE FROM segments WHERE workspace_id = $1 AND id = $2",
            params![ws, id],
        )
        .await?;
    Ok(n > 0)
}

/// Every version of a segment, newest first.
pub async fn segment_versions(
    mut c: Conn<'_>,
    ws: i64,
    id: i64,
) -> Result<Vec<StoredVersion>, StoreError> {
    c.fetch_all(
        "SELECT version, name, definition, actor, at FROM segment_versions WHERE workspace_id = $1 AND segment_id = $2 ORDER BY version DESC",
        params![ws, id],
    )
    .await?
    .iter()
    .map(|r| {
        Ok(StoredVersion {
            version: r.int("version")?,
            name: r.text("name")?,
            definition: r.opt_text("definition")?,
            actor: r.text("actor")?,
            at: r.int("at")?,
        })
    })
    .collect()
}

// ---- static-list members --------------------------------------------------------

/// What adding ids to a list did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Added {
    /// Ids that became members now.
    pub added: Vec<i64>,
    /// Ids that were members already.
    pub already: Vec<i64>,
    /// Ids with no contact (or account) in this workspace; ignored.
    pub unknown: Vec<i64>,
}

fn holes(first: usize, n: usize) -> String {
    (0..n)
        .map(|i| format!("${}", first + i))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Which of `ids` exist as records of `object` in the workspace.
pub async fn existing_ids(
    mut c: Conn<'_>,
    ws: i64,
    object: ObjectKind,
    ids: &[i64],
) -> Result<BTreeSet<i64>, StoreError> {
    let mut found = BTreeSet::new();
    for chunk in ids.chunks(IDS_PER_STATEMENT) {
        let mut p = params![ws];
        p.extend(chunk.iter().map(|id| Param::Int(*id)));
        let sql = format!(
            "SELECT id FROM {} WHERE workspace_id = $1 AND id IN ({})",
            table(object),
            holes(2, chunk.len())
        );
        for r in c.fetch_all(&sql, p).await? {
            found.insert(r.int("id")?);
        }
    }
    Ok(found)
}

/// Which of `ids` are members of the list already.
async fn member_ids_among(
    mut c: Conn<'_>,
    ws: i64,
    segment_id: i64,
    ids: &[i64],
) -> Result<BTreeSet<i64>, StoreError> {
    let mut found = BTreeSet::new();
    for chunk in ids.chunks(IDS_PER_STATEMENT) {
        let mut p = params![ws, segment_id];
        p.extend(chunk.iter().map(|id| Param::Int(*id)));
        let sql = format!(
            "SELECT member_id FROM segment_members WHERE workspace_id = $1 AND segment_id = $2 AND member_id IN ({})",
            holes(3, chunk.len())
        );
        for r in c.fetch_all(&sql, p).await? {
            found.insert(r.int("member_id")?);
        }
    }
    Ok(found)
}

/// Put records on a static list. Ids of records not in the workspace are
/// left out and reported; ids already on the list stay as they were.
pub async fn add_members(
    mut c: Conn<'_>,
    ws: i64,
    segment_id: i64,
    object: ObjectKind,
    ids: &[i64],
    now: i64,
) -> Result<Added, StoreError> {
    let wanted: Vec<i64> = ids
        .iter()
        .copied()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let existing = existing_ids(c.reborrow(), ws, object, &wanted).await?;
    let known: Vec<i64> = existing.iter().copied().collect();
    let already = member_ids_among(c.reborrow(), ws, segment_id, &known).await?;
    let added: Vec<i64> = known
        .iter()
        .copied()
        .filter(|id| !already.contains(id))
        .collect();
    for chunk in added.chunks(IDS_PER_STATEMENT) {
        let rows: Vec<String> = (0..chunk.len())
            .map(|i| format!("($1, $2, ${}, $3)", i + 4))
            .collect();
        let mut p = params![ws, segment_id, now];
        p.extend(chunk.iter().map(|id| Param::Int(*id)));
        c.execute(
            &format!(
                "INSERT INTO segment_members (workspace_id, segment_id, member_id, added_at) VALUES {} ON CONFLICT DO NOTHING",
                rows.join(", ")
            ),
            p,
        )
        .await?;
    }
    Ok(Added {
        added,
        already: already.into_iter().collect(),
        unknown: wanted
            .into_iter()
            .filter(|id| !existing.contains(id))
            .collect(),
    })
}

/// Take ids off a static list; returns the ids that were on it.
pub async fn remove_members(
    mut c: Conn<'_>,
    ws: i64,
    segment_id: i64,
    ids: &[i64],
) -> Result<Vec<i64>, StoreError> {
    let wanted: Vec<i64> = ids
        .iter()
        .copied()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let present = member_ids_among(c.reborrow(), ws, segment_id, &wanted).await?;
    let present: Vec<i64> = present.into_iter().collect();
    for chunk in present.chunks(IDS_PER_STATEMENT) {
        let mut p = params![ws, segment_id];
        p.extend(chunk.iter().map(|id| Param::Int(*id)));
        c.execute(
            &format!(
                "DELETE FROM segment_members WHERE workspace_id = $1 AND segment_id = $2 AND member_id IN ({})",
                holes(3, chunk.len())
            ),
            p,
        )
        .await?;
    }
    Ok(present)
}

/// Remove every member of a static list; returns how many there were.
pub async fn clear_members(mut c: Conn<'_>, ws: i64, segment_id: i64) -> Result<u64, StoreError> {
    c.execute(
        "DELETE FROM segment_members WHERE workspace_id = $1 AND segment_id = $2",
        params![ws, segment_id],
    )
    .await
}

/// Put every record selected by `ids_sql` (a query returning an `id`
/// column, such as the filter compiler's member query) on a static list.
/// Returns how many became members now.
pub async fn snapshot_members(
    mut c: Conn<'_>,
    ws: i64,
    segment_id: i64,
    ids_sql: &str,
    now: i64,
) -> Result<u64, StoreError> {
    // `WHERE true` keeps SQLite from reading `ON CONFLICT` as part of the SELECT.
    c.execute(
        &format!(
            "INSERT INTO segment_members (workspace_id, segment_id, member_id, added_at) \
             SELECT $1, $2, q.id, $3 FROM ({ids_sql}) q WHERE true ON CONFLICT DO NOTHING"
        ),
        params![ws, segment_id, now],
    )
    .await
}

/// The member query of a static list, in the same shape as the filter
/// compiler's: one `id` column, every value inline. Members whose record
/// has since been deleted are left out.
pub fn list_members_sql(ws: i64, segment_id: i64, object: ObjectKind) -> String {
    format!(
        "SELECT m.member_id AS id FROM segment_members m WHERE m.workspace_id = {ws} AND m.segment_id = {segment_id} \
         AND m.member_id IN (SELECT id FROM {} WHERE workspace_id = {ws})",
        table(object)
    )
}

/// A page of a static list's members as `(member id, added at)`, in id order
/// after `after_id`.
pub async fn list_members(
    mut c: Conn<'_>,
    ws: i64,
    segment_id: i64,
    after_id: i64,
    limit: i64,
) -> Result<Vec<(i64, i64)>, StoreError> {
    c.fetch_all(
        "SELECT member_id, added_at FROM segment_members WHERE workspace_id = $1 AND segment_id = $2 AND member_id > $3 ORDER BY member_id LIMIT $4",
        params![ws, segment_id, after_id, limit],
    )
    .await?
    .iter()
    .map(|r| Ok((r.int("member_id")?, r.int("added_at")?)))
    .collect()
}

/// Record ids by a text column that identifies them, for turning a file's
/// rows into list members. Values that match nothing are absent from the
/// answer; accounts have no email, so nothing matches by email.
pub async fn ids_by(
    mut c: Conn<'_>,
    ws: i64,
    object: ObjectKind,
    by: MemberKey,
    values: &[String],
) -> Result<HashMap<String, i64>, StoreError> {
    let column = match (by, object) {
        (MemberKey::Email, ObjectKind::Account) => return Ok(HashMap::new()),
        (MemberKey::Email, ObjectKind::Contact) => "email",
        (MemberKey::ExternalId, _) => "external_id",
    };
    let mut found = HashMap::new();
    for chunk in values.chunks(IDS_PER_STATEMENT) {
        let mut p = params![ws];
        p.extend(chunk.iter().map(|v| Param::Text(v.clone())));
        let sql = format!(
            "SELECT id, {column} AS k FROM {} WHERE workspace_id = $1 AND {column} IN ({})",
            table(object),
            holes(2, chunk.len())
        );
        for r in c.fetch_all(&sql, p).await? {
            found.insert(r.text("k")?, r.int("id")?);
        }
    }
    Ok(found)
}

/// A text column that identifies a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberKey {
    Email,
    ExternalId,
}

// ---- running member queries ---------------------------------------------------------

/// Run a counting query (one row, one column) and return its number.
pub async fn run_count(mut c: Conn<'_>, count_sql: &str) -> Result<i64, StoreError> {
    c.fetch_one(&format!("SELECT ({count_sql}) AS n"), Vec::new())
        .await?
        .int("n")
}

/// How many records of `object` the member query selects.
pub async fn count_members(
    mut c: Conn<'_>,
    ws: i64,
    object: ObjectKind,
    ids_sql: &str,
) -> Result<i64, StoreError> {
    c.fetch_one(
        &format!(
            "SELECT COUNT(*) AS n FROM {} WHERE workspace_id = $1 AND id IN ({ids_sql})",
            table(object)
        ),
        params![ws],
    )
    .await?
    .int("n")
}

/// Every id the member query selects, in id order.
pub async fn member_ids(mut c: Conn<'_>, ids_sql: &str) -> Result<Vec<i64>, StoreError> {
    c.fetch_all(
        &format!("SELECT q.id AS id FROM ({ids_sql}) q ORDER BY q.id"),
        Vec::new(),
    )
    .await?
    .iter()
    .map(|r| r.int("id"))
    .collect()
}

/// Where a page of members starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageStart {
    /// Skip this many members (for a preview a person pages through).
    Offset(i64),
    /// Members with an id above this one (for walking all of them).
    After(i64),
}

/// A page of the records the member query selects, in id order.
pub async fn member_page(
    mut c: Conn<'_>,
    ws: i64,
    object: ObjectKind,
    ids_sql: &str,
    start: PageStart,
    limit: i64,
) -> Result<Vec<StoredRecord>, StoreError> {
    let (tail, p) = match start {
        PageStart::Offset(n) => ("ORDER BY id LIMIT $2 OFFSET $3", params![ws, limit, n]),
        PageStart::After(id) => ("AND id > $3 ORDER BY id LIMIT $2", params![ws, limit, id]),
    };
    let sql = format!(
        "{} WHERE workspace_id = $1 AND id IN ({ids_sql}) {tail}",
        select(object)
    );
    c.fetch_all(&sql, p)
        .await?
        .iter()
        .map(|r| stored(object, r))
        .collect()
}

// ---- dependencies ----------------------------------------------------------------

/// Something that uses a field, event, segment or topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dependent {
    /// `segment` (more kinds of owner will follow).
    pub owner_type: String,
    pub owner_id: i64,
    /// The owner's name, when it has one.
    pub name: Option<String>,
}

/// Record what an owner uses, replacing what was recorded before.
/// `uses` holds `(kind, target)` pairs: kind is `field_contact`,
/// `field_account`, `event`, `segment` or `topic`.
pub async fn replace_dependencies(
    mut c: Conn<'_>,
    ws: i64,
    owner_type: &str,
    owner_id: i64,
    uses: &[(String, String)],
) -> Result<(), StoreError> {
    c.execute(
        "DELETE FROM dependencies WHERE workspace_id = $1 AND owner_type = $2 AND owner_id = $3",
        params![ws, owner_type, owner_id],
    )
    .await?;
    let unique: BTreeSet<&(String, String)> = uses.iter().collect();
    for (kind, target) in unique {
        c.execute(
            "INSERT INTO dependencies (workspace_id, owner_type, owner_id, kind, target) VALUES ($1, $2, $3, $4, $5)",
            params![ws, owner_type, owner_id, kind.as_str(), target.as_str()],
        )
        .await?;
    }
    Ok(())
}

/// Everything that uses `target` of `kind`, by owner type and name.
pub async fn dependents(
    mut c: Conn<'_>,
    ws: i64,
    kind: &str,
    target: &str,
) -> Result<Vec<Dependent>, StoreError> {
    c.fetch_all(
        "SELECT d.owner_type, d.owner_id, s.name FROM dependencies d \
         LEFT JOIN segments s ON d.owner_type = 'segment' AND s.workspace_id = d.workspace_id AND s.id = d.owner_id \
         WHERE d.workspace_id = $1 AND d.kind = $2 AND d.target = $3 ORDER BY d.owner_type, s.name, d.owner_id",
        params![ws, kind, target],
    )
    .await?
    .iter()
    .map(|r| {
        Ok(Dependent {
            owner_type: r.text("owner_type")?,
            owner_id: r.int("owner_id")?,
            name: r.opt_text("name")?,
        })
    })
    .collect()
}

// ---- consent facts -------------------------------------------------------------------
// Topics, the consent ledger and writing consent live in `campaign::consent`.

/// A person's current choice for one topic on one channel, as a condition sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consent {
    pub topic: String,
    pub channel: String,
    pub subscribed: bool,
    pub at: i64,
}

fn consent(r: &Row) -> Result<Consent, StoreError> {
    Ok(Consent {
        topic: r.text("topic")?,
        channel: r.text("channel")?,
        subscribed: r.bool("subscribed")?,
        at: r.int("at")?,
    })
}

// ---- facts for evaluating one record -------------------------------------------------

/// One event of a person, as a condition sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct EventFact {
    pub name: String,
    /// UTC epoch milliseconds.
    pub at: i64,
    pub properties: Map<String, Value>,
}

/// Everything a condition can ask about one person.
#[derive(Debug, Clone, PartialEq)]
pub struct ContactFacts {
    pub record: StoredRecord,
    /// The person's account, when they have one.
    pub account: Option<Box<AccountFacts>>,
    /// Every event of the person, oldest first.
    pub events: Vec<EventFact>,
    /// Ids of the static people lists the person is on.
    pub lists: BTreeSet<i64>,
    pub consent: Vec<Consent>,
}

/// Everything a condition can ask about one account.
#[derive(Debug, Clone, PartialEq)]
pub struct AccountFacts {
    pub record: StoredRecord,
    /// The account's people; empty unless asked for.
    pub members: Vec<ContactFacts>,
    /// Ids of the static account lists the account is on.
    pub lists: BTreeSet<i64>,
}

/// Whose facts to read: one person, or every person of an account.
#[derive(Debug, Clone, Copy)]
enum People {
    One(i64),
    OfAccount(i64),
}

impl People {
    fn id(self) -> i64 {
        match self {
            People::One(id) | People::OfAccount(id) => id,
        }
    }

    /// A condition on `column` (a contact id) selecting these people; `$1`
    /// is the workspace and `$2` the id.
    fn filter(self, column: &str) -> String {
        match self {
            People::One(_) => format!("{column} = $2"),
            People::OfAccount(_) => format!(
                "{column} IN (SELECT id FROM contacts WHERE workspace_id = $1 AND account_id = $2)"
            ),
        }
    }
}

/// Records, events, lists and consent of some people, in four queries.
async fn people_facts(
    mut c: Conn<'_>,
    ws: i64,
    who: People,
) -> Result<Vec<ContactFacts>, StoreError> {
    let p = || params![ws, who.id()];
    let records = c
        .fetch_all(
            &format!(
                "{} WHERE workspace_id = $1 AND {} ORDER BY id",
                select(ObjectKind::Contact),
                match who {
                    People::One(_) => "id = $2",
                    People::OfAccount(_) => "account_id = $2",
                }
            ),
            p(),
        )
        .await?;
    let mut facts: Vec<ContactFacts> = Vec::with_capacity(records.len());
    let mut index = HashMap::new();
    for r in &records {
        let record = stored(ObjectKind::Contact, r)?;
        index.insert(record.id, facts.len());
        facts.push(ContactFacts {
            record,
            account: None,
            events: Vec::new(),
            lists: BTreeSet::new(),
            consent: Vec::new(),
        });
    }
    if facts.is_empty() {
        return Ok(facts);
    }
    let events = c
        .fetch_all(
            &format!(
                "SELECT contact_id, name, at, properties FROM events WHERE workspace_id = $1 AND {} ORDER BY at, id",
                who.filter("contact_id")
            ),
            p(),
        )
        .await?;
    for r in &events {
        let Some(i) = r.opt_int("contact_id")?.and_then(|id| index.get(&id)) else {
            continue;
        };
        let properties = match r.json("properties")? {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        facts[*i].events.push(EventFact {
            name: r.text("name")?,
            at: r.int("at")?,
            properties,
        });
    }
    let lists = c
        .fetch_all(
            &format!(
                "SELECT m.member_id, m.segment_id FROM segment_members m \
                 JOIN segments s ON s.workspace_id = m.workspace_id AND s.id = m.segment_id AND s.subject = 'people' \
                 WHERE m.workspace_id = $1 AND {}",
                who.filter("m.member_id")
            ),
            p(),
        )
        .await?;
    for r in &lists {
        if let Some(i) = index.get(&r.int("member_id")?) {
            facts[*i].lists.insert(r.int("segment_id")?);
        }
    }
    let consents = c
        .fetch_all(
            &format!(
                "SELECT contact_id, topic, channel, subscribed, at FROM consent_state WHERE workspace_id = $1 AND {} ORDER BY topic, channel",
                who.filter("contact_id")
            ),
            p(),
        )
        .await?;
    for r in &consents {
        if let Some(i) = index.get(&r.int("contact_id")?) {
            facts[*i].consent.push(consent(r)?);
        }
    }
    Ok(facts)
}

/// The static account lists an account is on.
async fn account_lists(mut c: Conn<'_>, ws: i64, id: i64) -> Result<BTreeSet<i64>, StoreError> {
    c.fetch_all(
        "SELECT m.segment_id FROM segment_members m \
         JOIN segments s ON s.workspace_id = m.workspace_id AND s.id = m.segment_id AND s.subject = 'accounts' \
         WHERE m.workspace_id = $1 AND m.member_id = $2",
        params![ws, id],
    )
    .await?
    .iter()
    .map(|r| r.int("segment_id"))
    .collect()
}

/// Everything about one account; `with_members` also reads its people
/// (with their events, lists and consent).
pub async fn account_facts(
    mut c: Conn<'_>,
    ws: i64,
    id: i64,
    with_members: bool,
) -> Result<Option<AccountFacts>, StoreError> {
    let Some(row) = c
        .fetch_optional(
            &format!(
                "{} WHERE workspace_id = $1 AND id = $2",
                select(ObjectKind::Account)
            ),
            params![ws, id],
        )
        .await?
    else {
        return Ok(None);
    };
    let record = stored(ObjectKind::Account, &row)?;
    let lists = account_lists(c.reborrow(), ws, id).await?;
    let members = if with_members {
        people_facts(c, ws, People::OfAccount(id)).await?
    } else {
        Vec::new()
    };
    Ok(Some(AccountFacts {
        record,
        members,
        lists,
    }))
}

/// Everything about one person, with their account; `account_members`
/// also reads the people of that account.
pub async fn contact_facts(
    mut c: Conn<'_>,
    ws: i64,
    id: i64,
    account_members: bool,
) -> Result<Option<ContactFacts>, StoreError> {
    let Some(mut facts) = people_facts(c.reborrow(), ws, People::One(id))
        .await?
        .into_iter()
        .next()
    else {
        return Ok(None);
    };
    if let Some(account_id) = facts.record.account_id {
        facts.account = account_facts(c, ws, account_id, account_members)
            .await?
            .map(Box::new);
    }
    Ok(Some(facts))
}
