//! Data in through the Segment Spec: write keys per source, and turning a
//! batch of messages into people, accounts and events in one transaction.
//!
//! Identity rules: a `userId` names one person for good; an `anonymousId`
//! follows its visitor until they identify, when the anonymous profile folds
//! into the identified one; two different `userId`s are never merged except
//! by an explicit `alias`; an email shared with an older, unidentified
//! record (an imported lead, say) folds the newer profile into it. Every
//! merge is recorded with the ids that moved and the message that caused it.

use std::collections::{BTreeSet, HashMap, HashSet};

use pitcrew_core::admin::{Action, ObjectType};
use pitcrew_core::event::{
    EventType, Merge, Message, MessageError, MessageType, Source, UndeclaredTrait, traits_to_fields,
};
use pitcrew_core::record::{FieldDef, Mode, ObjectKind, validate_record};
use pitcrew_store::event::{self as repo, EventTypeSeen, NewEvent, NewMerge};
use pitcrew_store::record::{self as records, Identity, Lookup};
use pitcrew_store::{Db, Tx};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::secret::{random_hex, sha256_hex};
use crate::{Actor, AppError};

/// What every write key starts with.
pub const WRITE_KEY_PREFIX: &str = "pcw_";
/// Most merges one person may absorb; past it something is merging strangers.
pub const MAX_MERGES_PER_PERSON: i64 = 100;

const USER_ID: &str = "user_id";
const ANONYMOUS_ID: &str = "anonymous_id";

// ---- sources ------------------------------------------------------------------

/// A new source: the write key appears here once and is never shown again.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CreatedSource {
    pub source: Source,
    /// Give this to the SDK as its write key.
    pub write_key: String,
}

pub async fn create_source(
    db: &Db,
    actor: &Actor,
    name: &str,
    now: i64,
) -> Result<CreatedSource, AppError> {
    actor.require(Action::ManageSources)?;
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(AppError::invalid(
            "source_name_invalid",
            "name",
            "give the source a name of 1 to 100 characters, e.g. \"Website\"",
        ));
    }
    let key = format!("{WRITE_KEY_PREFIX}{}", random_hex(24));
    let prefix: String = key.chars().take(WRITE_KEY_PREFIX.len() + 8).collect();
    let mut tx = db.begin().await?;
    let source = repo::create_source(
        tx.conn(),
        actor.workspace_id,
        name,
        &prefix,
        &sha256_hex(&key),
        now,
    )
    .await?;
    actor
        .log(
            &mut tx,
            "create",
            ObjectType::Source,
            source.id,
            json!({"before": {}, "after": {"name": name, "prefix": prefix}}),
            now,
        )
        .await?;
    tx.commit().await?;
    Ok(CreatedSource {
        source,
        write_key: key,
    })
}

pub async fn list_sources(db: &Db, actor: &Actor) -> Result<Vec<Source>, AppError> {
    actor.require(Action::ManageSources)?;
    Ok(repo::list_sources(db.conn(), actor.workspace_id).await?)
}

pub async fn revoke_source(db: &Db, actor: &Actor, id: i64, now: i64) -> Result<(), AppError> {
    actor.require(Action::ManageSources)?;
    let mut tx = db.begin().await?;
    let source = repo::get_source(tx.conn(), actor.workspace_id, id)
        .await?
        .ok_or_else(|| {
            AppError::not_found(
                "source_not_found",
                format!("there is no source {id} in this workspace"),
            )
        })?;
    if source.revoked_at.is_some() {
        return Ok(());
    }
    repo::revoke_source(tx.conn(), actor.workspace_id, id, now).await?;
    actor
        .log(
            &mut tx,
            "delete",
            ObjectType::Source,
            id,
            json!({"before": {"name": source.name}, "after": {}}),
            now,
        )
        .await?;
    tx.commit().await?;
    Ok(())
}

/// The source a write key belongs to, if it is live.
#[derive(Debug, Clone)]
pub struct Sender {
    pub workspace_id: i64,
    pub source: Source,
}

pub async fn sender(db: &Db, write_key: &str) -> Result<Option<Sender>, AppError> {
    if !write_key.starts_with(WRITE_KEY_PREFIX) {
        return Ok(None);
    }
    Ok(repo::source_by_key(db.conn(), &sha256_hex(write_key))
        .await?
        .map(|(workspace_id, source)| Sender {
            workspace_id,
            source,
        }))
}

// ---- settings -----------------------------------------------------------------

/// What happens to a trait the data model has no field for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum UnknownTraits {
    /// Keep it on the record as an undeclared trait.
    #[default]
    Keep,
    /// Refuse it (the message is still stored) and say so in the response.
    Reject,
}

/// Settings of a workspace that shape data coming in.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IngestSettings {
    #[serde(default)]
    pub unknown_traits: UnknownTraits,
}

impl IngestSettings {
    /// Read from the workspace's settings, which hold other areas' keys too.
    fn from_stored(stored: &Map<String, Value>) -> IngestSettings {
        let unknown_traits = stored
            .get("unknown_traits")
            .and_then(|v| serde_json::from_value(v.clone()).ok())
            .unwrap_or_default();
        IngestSettings { unknown_traits }
    }
}

pub async fn settings(db: &Db, actor: &Actor) -> Result<IngestSettings, AppError> {
    actor.require(Action::ReadRecords)?;
    let stored = repo::workspace_settings(db.conn(), actor.workspace_id).await?;
    Ok(IngestSettings::from_stored(&stored))
}

pub async fn set_settings(
    db: &Db,
    actor: &Actor,
    new: IngestSettings,
    now: i64,
) -> Result<IngestSettings, AppError> {
    actor.require(Action::ManageSources)?;
    let mut tx = db.begin().await?;
    let mut stored = repo::workspace_settings(tx.conn(), actor.workspace_id).await?;
    let before = Value::Object(stored.clone());
    if let Value::Object(m) = serde_json::to_value(&new).unwrap_or_default() {
        stored.extend(m);
    }
    repo::set_workspace_settings(tx.conn(), actor.workspace_id, &stored).await?;
    actor
        .log(
            &mut tx,
            "update",
            ObjectType::Workspace,
            actor.workspace_id,
            json!({"before": before, "after": stored}),
            now,
        )
        .await?;
    tx.commit().await?;
    Ok(new)
}

// ---- reading what came in ---------------------------------------------------------

pub async fn timeline(
    db: &Db,
    actor: &Actor,
    contact_id: i64,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<pitcrew_core::event::Event>, AppError> {
    crate::record::get_record(db, actor, ObjectKind::Contact, contact_id).await?;
    if !(1..=500).contains(&limit) {
        return Err(AppError::invalid(
            "limit_invalid",
            "limit",
            "limit must be between 1 and 500",
        ));
    }
    Ok(repo::timeline(db.conn(), actor.workspace_id, contact_id, before, limit).await?)
}

/// How a person is known: the ids that point at them and the merges behind them.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Identities {
    /// `[{"kind": "user_id" | "anonymous_id", "value": "..."}]`
    pub ids: Vec<IdentityValue>,
    pub merges: Vec<Merge>,
    /// Traits sent for fields the data model does not have.
    #[schema(value_type = Object)]
    pub undeclared_traits: Map<String, Value>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct IdentityValue {
    pub kind: String,
    pub value: String,
}

pub async fn identities(db: &Db, actor: &Actor, contact_id: i64) -> Result<Identities, AppError> {
    crate::record::get_record(db, actor, ObjectKind::Contact, contact_id).await?;
    let ws = actor.workspace_id;
    let ids = repo::identities_of(db.conn(), ws, contact_id)
        .await?
        .into_iter()
        .map(|(kind, value)| IdentityValue { kind, value })
        .collect();
    Ok(Identities {
        ids,
        merges: repo::merges_of(db.conn(), ws, contact_id).await?,
        undeclared_traits: repo::traits_of(db.conn(), ws, "contacts", contact_id).await?,
    })
}

pub async fn event_types(db: &Db, actor: &Actor) -> Result<Vec<EventType>, AppError> {
    actor.require(Action::ReadRecords)?;
    Ok(repo::event_types(db.conn(), actor.workspace_id).await?)
}

pub async fn undeclared_traits(db: &Db, actor: &Actor) -> Result<Vec<UndeclaredTrait>, AppError> {
    actor.require(Action::ReadRecords)?;
    Ok(repo::undeclared_traits(db.conn(), actor.workspace_id).await?)
}

// ---- ingestion --------------------------------------------------------------------

/// A message of a request that was not stored, or stored with a caveat.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ItemProblem {
    /// Position in the batch (0 for a single call).
    pub index: usize,
    pub code: String,
    pub message: String,
}

/// What became of a request's messages.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct IngestReport {
    /// Messages stored now.
    pub accepted: usize,
    /// Messages this source had already delivered (same `messageId`), skipped.
    pub duplicates: usize,
    /// Messages refused, with why.
    pub rejected: Vec<ItemProblem>,
    /// Stored messages of which a part was refused (e.g. an invalid trait).
    pub warnings: Vec<ItemProblem>,
}

/// Per-request state: what the database said about ids and people, so a
/// batch asks once per id, not once per message.
struct Resolver {
    ws: i64,
    now: i64,
    ids: HashMap<(&'static str, String), i64>,
    /// Each person's external id (`None` = anonymous so far).
    known: HashMap<i64, Option<String>>,
    contact_fields: Vec<FieldDef>,
    account_fields: Vec<FieldDef>,
    settings: IngestSettings,
    /// Losers of merges made during this request, and who absorbed them.
    merged: HashMap<i64, i64>,
    /// Ids looked up in advance and found nowhere.
    absent: HashSet<(&'static str, String)>,
}

impl Resolver {
    /// Look up every id of a request in a few queries, so a new person does
    /// not cost a lookup per id.
    async fn preload(
        &mut self,
        tx: &mut Tx,
        messages: &[(usize, Message)],
    ) -> Result<(), AppError> {
        let mut wanted: HashMap<&'static str, BTreeSet<String>> = HashMap::new();
        for (_, m) in messages {
            wanted.entry(USER_ID).or_default().extend(m.user_id.clone());
            wanted
                .entry(ANONYMOUS_ID)
                .or_default()
                .extend(m.anonymous_id.clone());
        }
        for (kind, values) in wanted {
            let values: Vec<String> = values.into_iter().collect();
            let mut found = repo::find_identities(tx.conn(), self.ws, kind, &values).await?;
            if kind == USER_ID {
                let missing: Vec<String> = values
                    .iter()
                    .filter(|v| !found.contains_key(*v))
                    .cloned()
                    .collect();
                for (user, contact) in
                    repo::contacts_by_external_id(tx.conn(), self.ws, &missing).await?
                {
                    repo::bind_identity(tx.conn(), self.ws, USER_ID, &user, contact, self.now)
                        .await?;
                    self.known.insert(contact, Some(user.clone()));
                    found.insert(user, contact);
                }
            }
            for v in values {
                match found.get(&v) {
                    Some(c) => {
                        self.ids.insert((kind, v), *c);
                    }
                    None => {
                        self.absent.insert((kind, v));
                    }
                }
            }
        }
        Ok(())
    }
}

impl Resolver {
    async fn find(
        &mut self,
        tx: &mut Tx,
        kind: &'static str,
        value: &str,
    ) -> Result<Option<i64>, AppError> {
        let key = (kind, value.to_string());
        if let Some(id) = self.ids.get(&key) {
            return Ok(Some(*id));
        }
        if self.absent.contains(&key) {
            return Ok(None);
        }
        let mut found = repo::find_identity(tx.conn(), self.ws, kind, value).await?;
        if found.is_none() && kind == USER_ID {
            // A record created by import or the API with this external id is the same person.
            if let Some(r) = records::find_record(
                tx.conn(),
                self.ws,
                ObjectKind::Contact,
                &Lookup::ExternalId(value.to_string()),
            )
            .await?
            {
                repo::bind_identity(tx.conn(), self.ws, USER_ID, value, r.id, self.now).await?;
                self.known.insert(r.id, r.external_id);
                found = Some(r.id);
            }
        }
        if let Some(id) = found {
            self.ids.insert((kind, value.to_string()), id);
        }
        Ok(found)
    }

    async fn bind(
        &mut self,
        tx: &mut Tx,
        kind: &'static str,
        value: &str,
        contact: i64,
    ) -> Result<(), AppError> {
        repo::bind_identity(tx.conn(), self.ws, kind, value, contact, self.now).await?;
        self.ids.insert((kind, value.to_string()), contact);
        Ok(())
    }

    async fn external_id(&mut self, tx: &mut Tx, contact: i64) -> Result<Option<String>, AppError> {
        if let Some(x) = self.known.get(&contact) {
            return Ok(x.clone());
        }
        let x = records::get_record(tx.conn(), self.ws, ObjectKind::Contact, contact, false)
            .await?
            .and_then(|r| r.external_id);
        self.known.insert(contact, x.clone());
        Ok(x)
    }

    async fn create(&mut self, tx: &mut Tx, external_id: Option<&str>) -> Result<i64, AppError> {
        let identity = Identity {
            external_id: external_id.map(str::to_string),
            account_id: None,
        };
        let r = records::insert_record(
            tx.conn(),
            self.ws,
            ObjectKind::Contact,
            &identity,
            &Map::new(),
            self.now,
        )
        .await?;
        self.known.insert(r.id, r.external_id);
        Ok(r.id)
    }

    /// The person a message is about, creating or merging as the rules say.
    /// The outer error is the database's (the request fails and is retried);
    /// the inner one refuses only this message.
    async fn person(
        &mut self,
        tx: &mut Tx,
        m: &Message,
    ) -> Result<Result<i64, MessageError>, AppError> {
        let by_anon = match &m.anonymous_id {
            Some(a) => self.find(tx, ANONYMOUS_ID, a).await?,
            None => None,
        };
        let Some(user) = &m.user_id else {
            let target = match by_anon {
                Some(c) => c,
                None => self.create(tx, None).await?,
            };
            if let (Some(a), None) = (&m.anonymous_id, by_anon) {
                self.bind(tx, ANONYMOUS_ID, a, target).await?;
            }
            return Ok(Ok(target));
        };
        let by_user = self.find(tx, USER_ID, user).await?;
        let anon_is_anonymous = match by_anon {
            Some(c) => self.external_id(tx, c).await?.is_none(),
            None => false,
        };
        let target = match (by_user, by_anon) {
            (Some(c), _) => c,
            // The visitor identifies: their anonymous profile becomes theirs.
            (None, Some(c)) if anon_is_anonymous => {
                self.adopt(tx, c, user).await?;
                c
            }
            (None, _) => self.create(tx, Some(user)).await?,
        };
        if by_user != Some(target) {
            self.bind(tx, USER_ID, user, target).await?;
        }
        match (by_anon, &m.anonymous_id) {
            (None, Some(a)) => self.bind(tx, ANONYMOUS_ID, a, target).await?,
            (Some(c), _) if c != target && anon_is_anonymous => {
                if let Err(e) = self.merge(tx, target, c, "identify", &m.message_id).await? {
                    return Ok(Err(e));
                }
            }
            // Same person, or a device shared with another identified person: leave it.
            _ => {}
        }
        Ok(Ok(target))
    }

    /// Give an anonymous profile the user id it now identifies with.
    async fn adopt(&mut self, tx: &mut Tx, contact: i64, user: &str) -> Result<(), AppError> {
        if let Some(r) =
            records::get_record(tx.conn(), self.ws, ObjectKind::Contact, contact, true).await?
        {
            let identity = Identity {
                external_id: Some(user.to_string()),
                account_id: r.account_id,
            };
            records::update_record(
                tx.conn(),
                self.ws,
                ObjectKind::Contact,
                contact,
                &identity,
                &r.fields,
                self.now,
            )
            .await?;
            self.known.insert(contact, Some(user.to_string()));
        }
        Ok(())
    }

    /// Fold `loser` into `winner`: ids, events and earlier merges move; the
    /// winner's values win, the loser's fill the gaps; the loser is deleted.
    async fn merge(
        &mut self,
        tx: &mut Tx,
        winner: i64,
        loser: i64,
        reason: &str,
        message_id: &str,
    ) -> Result<Result<(), MessageError>, AppError> {
        if repo::merge_count(tx.conn(), self.ws, winner).await? >= MAX_MERGES_PER_PERSON {
            return Ok(Err(MessageError {
                code: "merge_limit",
                message: format!(
                    "contact {winner} has already absorbed {MAX_MERGES_PER_PERSON} profiles; this merge was not made — check the ids this source sends"
                ),
            }));
        }
        let ws = self.ws;
        let (Some(w), Some(l)) = (
            records::get_record(tx.conn(), ws, ObjectKind::Contact, winner, true).await?,
            records::get_record(tx.conn(), ws, ObjectKind::Contact, loser, true).await?,
        ) else {
            return Ok(Ok(()));
        };
        let mut moved: Vec<Value> = repo::identities_of(tx.conn(), ws, loser)
            .await?
            .into_iter()
            .map(|(kind, value)| json!({"kind": kind, "value": value}))
            .collect();
        if let Some(x) = &l.external_id {
            moved.push(json!({"kind": "external_id", "value": x}));
        }
        let mut fields = l.fields.clone();
        fields.extend(w.fields.clone());
        let identity = Identity {
            external_id: w.external_id.clone().or(l.external_id.clone()),
            account_id: w.account_id.or(l.account_id),
        };
        let loser_traits = repo::traits_of(tx.conn(), ws, "contacts", loser).await?;
        repo::repoint_person(tx.conn(), ws, loser, winner).await?;
        records::delete_record(tx.conn(), ws, ObjectKind::Contact, loser).await?;
        records::update_record(
            tx.conn(),
            ws,
            ObjectKind::Contact,
            winner,
            &identity,
            &fields,
            self.now,
        )
        .await?;
        if !loser_traits.is_empty() {
            let mut traits = loser_traits;
            traits.extend(repo::traits_of(tx.conn(), ws, "contacts", winner).await?);
            repo::keep_traits(tx.conn(), ws, "contacts", winner, &traits).await?;
        }
        repo::record_merge(
            tx.conn(),
            ws,
            NewMerge {
                winner_id: winner,
                loser_id: loser,
                reason,
                identities: Value::Array(moved),
                message_id: Some(message_id),
            },
            self.now,
        )
        .await?;
        for id in self.ids.values_mut().filter(|id| **id == loser) {
            *id = winner;
        }
        self.known.remove(&loser);
        self.known.insert(winner, identity.external_id);
        self.merged.insert(loser, winner);
        Ok(Ok(()))
    }

    /// `alias`: `previousId` and `userId` are one person.
    async fn alias(
        &mut self,
        tx: &mut Tx,
        m: &Message,
    ) -> Result<Result<i64, MessageError>, AppError> {
        let (Some(previous), Some(user)) = (&m.previous_id, &m.user_id) else {
            return Ok(Err(MessageError {
                code: "alias_ids_missing",
                message: "an alias needs previousId and userId".into(),
            }));
        };
        let prev = match self.find(tx, USER_ID, previous).await? {
            Some(c) => Some(c),
            None => self.find(tx, ANONYMOUS_ID, previous).await?,
        };
        let current = self.find(tx, USER_ID, user).await?;
        let target = match (current, prev) {
            (Some(c), Some(p)) if c != p => {
                if let Err(e) = self.merge(tx, c, p, "alias", &m.message_id).await? {
                    return Ok(Err(e));
                }
                c
            }
            (Some(c), _) => c,
            (None, Some(p)) => {
                if self.external_id(tx, p).await?.is_none() {
                    self.adopt(tx, p, user).await?;
                }
                p
            }
            (None, None) => self.create(tx, Some(user)).await?,
        };
        self.bind(tx, USER_ID, user, target).await?;
        if prev.is_none() {
            self.bind(tx, ANONYMOUS_ID, previous, target).await?;
        }
        Ok(Ok(target))
    }

    /// Apply `identify` traits to a person; problems become warnings.
    async fn identify(
        &mut self,
        tx: &mut Tx,
        contact: i64,
        m: &Message,
        warn: &mut Vec<(&'static str, String)>,
    ) -> Result<i64, AppError> {
        let (known, unknown) = traits_to_fields(&m.traits, &self.contact_fields);
        let mut contact = contact;
        if let Some(email) = known.get("email").and_then(Value::as_str)
            && let Ok(email) = pitcrew_core::record::value::normalize_email(email)
            && let Some(other) = records::find_record(
                tx.conn(),
                self.ws,
                ObjectKind::Contact,
                &Lookup::Email(email.clone()),
            )
            .await?
            && other.id != contact
        {
            let mine = self.external_id(tx, contact).await?;
            match (&other.external_id, &mine) {
                // One of them is not identified: the same person, found by email. The older record stays.
                (None, _) | (_, None) => {
                    let (winner, loser) = if other.id < contact { (other.id, contact) } else { (contact, other.id) };
                    match self.merge(tx, winner, loser, "email", &m.message_id).await? {
                        Ok(()) => contact = winner,
                        Err(e) => warn.push((e.code, e.message)),
                    }
                }
                _ => warn.push((
                    "email_taken",
                    format!("{email} belongs to another identified person (contact {}); the email was not changed", other.id),
                )),
            }
        }
        self.apply_traits(tx, ObjectKind::Contact, contact, known, unknown, warn)
            .await?;
        Ok(contact)
    }

    /// Validate known traits against the data model and store them; keep or
    /// refuse unknown ones per the workspace setting.
    async fn apply_traits(
        &mut self,
        tx: &mut Tx,
        object: ObjectKind,
        id: i64,
        mut known: Map<String, Value>,
        unknown: Map<String, Value>,
        warn: &mut Vec<(&'static str, String)>,
    ) -> Result<(), AppError> {
        let ws = self.ws;
        let Some(existing) = records::get_record(tx.conn(), ws, object, id, true).await? else {
            return Ok(());
        };
        let fields = match object {
            ObjectKind::Contact => &self.contact_fields,
            ObjectKind::Account => &self.account_fields,
        };
        // An email another person holds stays theirs (identify has already
        // merged or warned); the rest of the traits still apply.
        if object == ObjectKind::Contact
            && let Some(Value::String(email)) = known.get("email")
        {
            let lookup = Lookup::Email(email.trim().to_lowercase());
            let taken = records::find_record(tx.conn(), ws, object, &lookup).await?;
            if taken.is_some_and(|t| t.id != id) {
                known.remove("email");
            }
        }
        let changes = match validate_record(fields, &known, Some(&existing.fields), Mode::Update) {
            Ok(c) => c,
            Err(issues) => {
                for i in &issues {
                    known.remove(&i.field);
                    warn.push((
                        "trait_invalid",
                        format!("trait `{}` was not stored: {}", i.field, i.message),
                    ));
                }
                validate_record(fields, &known, Some(&existing.fields), Mode::Update)
                    .unwrap_or_default()
            }
        };
        let mut updated = existing.fields.clone();
        for (k, v) in changes {
            if v.is_null() {
                updated.remove(&k);
            } else {
                updated.insert(k, v);
            }
        }
        if updated != existing.fields {
            let identity = Identity {
                external_id: existing.external_id.clone(),
                account_id: existing.account_id,
            };
            records::update_record(tx.conn(), ws, object, id, &identity, &updated, self.now)
                .await?;
        }
        if unknown.is_empty() {
            return Ok(());
        }
        let keep = self.settings.unknown_traits == UnknownTraits::Keep;
        for (k, v) in &unknown {
            repo::note_undeclared_trait(tx.conn(), ws, object.as_str(), k, keep, v, self.now)
                .await?;
        }
        let table = if object == ObjectKind::Contact {
            "contacts"
        } else {
            "accounts"
        };
        if keep {
            repo::keep_traits(tx.conn(), ws, table, id, &unknown).await?;
        } else {
            let keys: Vec<&str> = unknown.keys().map(String::as_str).collect();
            warn.push((
                "trait_unknown",
                format!("no field for trait(s) {}; they were not stored — add fields to the data model, or set unknown_traits to keep", keys.join(", ")),
            ));
        }
        Ok(())
    }

    /// `group`: create or update the account and link the person to it.
    async fn group(
        &mut self,
        tx: &mut Tx,
        contact: i64,
        m: &Message,
        warn: &mut Vec<(&'static str, String)>,
    ) -> Result<(), AppError> {
        let ws = self.ws;
        let Some(group_id) = &m.group_id else {
            return Ok(());
        };
        let (mut known, unknown) = traits_to_fields(&m.traits, &self.account_fields);
        let account = match records::find_record(
            tx.conn(),
            ws,
            ObjectKind::Account,
            &Lookup::ExternalId(group_id.clone()),
        )
        .await?
        {
            Some(a) => a.id,
            None => {
                // An account needs a name; the group id stands in until a trait gives one.
                let name = known
                    .remove("name")
                    .unwrap_or_else(|| Value::String(group_id.clone()));
                let input: Map<String, Value> = [("name".to_string(), name)].into_iter().collect();
                let values = match validate_record(&self.account_fields, &input, None, Mode::Create)
                {
                    Ok(v) => v,
                    Err(_) => [("name".to_string(), Value::String(group_id.clone()))]
                        .into_iter()
                        .collect(),
                };
                let identity = Identity {
                    external_id: Some(group_id.clone()),
                    account_id: None,
                };
                records::insert_record(
                    tx.conn(),
                    ws,
                    ObjectKind::Account,
                    &identity,
                    &values,
                    self.now,
                )
                .await?
                .id
            }
        };
        self.apply_traits(tx, ObjectKind::Account, account, known, unknown, warn)
            .await?;
        if let Some(r) =
            records::get_record(tx.conn(), ws, ObjectKind::Contact, contact, true).await?
            && r.account_id != Some(account)
        {
            let identity = Identity {
                external_id: r.external_id.clone(),
                account_id: Some(account),
            };
            records::update_record(
                tx.conn(),
                ws,
                ObjectKind::Contact,
                contact,
                &identity,
                &r.fields,
                self.now,
            )
            .await?;
        }
        Ok(())
    }
}

/// Store a request's messages: every valid one lands (or is recognised as a
/// duplicate), every invalid one is reported with its position. All of it
/// commits together before the caller answers, so an answer means stored.
pub async fn ingest(
    db: &Db,
    sender: &Sender,
    messages: Vec<pitcrew_core::event::Checked>,
    now: i64,
) -> Result<IngestReport, AppError> {
    let ws = sender.workspace_id;
    let mut report = IngestReport::default();
    let mut valid = Vec::new();
    for (index, m) in messages {
        match m {
            Ok(m) => valid.push((index, m)),
            Err(e) => report.rejected.push(ItemProblem {
                index,
                code: e.code.into(),
                message: e.message,
            }),
        }
    }
    if valid.is_empty() {
        return Ok(report);
    }
    let mut tx = db.begin().await?;
    let ids: Vec<String> = valid.iter().map(|(_, m)| m.message_id.clone()).collect();
    let mut seen = repo::known_message_ids(tx.conn(), ws, sender.source.id, &ids).await?;
    let settings_map = repo::workspace_settings(tx.conn(), ws).await?;
    let mut r = Resolver {
        ws,
        now,
        ids: HashMap::new(),
        known: HashMap::new(),
        contact_fields: records::list_fields(tx.conn(), ws, Some(ObjectKind::Contact)).await?,
        account_fields: records::list_fields(tx.conn(), ws, Some(ObjectKind::Account)).await?,
        settings: IngestSettings::from_stored(&settings_map),
        merged: HashMap::new(),
        absent: HashSet::new(),
    };
    r.preload(&mut tx, &valid).await?;
    let mut events = Vec::with_capacity(valid.len());
    let mut catalogue: HashMap<(MessageType, String), EventTypeSeen> = HashMap::new();
    let mut last_seen: HashMap<i64, i64> = HashMap::new();
    for (index, m) in valid {
        if !seen.insert(m.message_id.clone()) {
            report.duplicates += 1;
            continue;
        }
        let mut warn = Vec::new();
        let person = match m.kind {
            MessageType::Alias => r.alias(&mut tx, &m).await?,
            _ => r.person(&mut tx, &m).await?,
        };
        let contact = match person {
            Ok(c) => c,
            Err(e) => {
                report.rejected.push(ItemProblem {
                    index,
                    code: e.code.into(),
                    message: e.message,
                });
                continue;
            }
        };
        let contact = match m.kind {
            MessageType::Identify => r.identify(&mut tx, contact, &m, &mut warn).await?,
            MessageType::Group => {
                r.group(&mut tx, contact, &m, &mut warn).await?;
                contact
            }
            _ => contact,
        };
        for (code, message) in warn {
            report.warnings.push(ItemProblem {
                index,
                code: code.into(),
                message,
            });
        }
        let entry = catalogue
            .entry((m.kind, m.name.clone()))
            .or_insert_with(|| EventTypeSeen {
                kind: m.kind,
                name: m.name.clone(),
                count: 0,
                first: m.at,
                last: m.at,
                property_keys: BTreeSet::new(),
            });
        entry.count += 1;
        entry.first = entry.first.min(m.at);
        entry.last = entry.last.max(m.at);
        entry.property_keys.extend(m.properties.keys().cloned());
        let latest = last_seen.entry(contact).or_insert(m.at);
        *latest = (*latest).max(m.at);
        events.push(NewEvent {
            source_id: sender.source.id,
            contact_id: Some(contact),
            message_id: m.message_id,
            kind: m.kind,
            name: m.name,
            at: m.at,
            received_at: m.received_at,
            user_id: m.user_id,
            anonymous_id: m.anonymous_id.or(m.previous_id),
            properties: Value::Object(m.properties),
            context: Value::Object(m.context),
        });
    }
    // A merge later in the batch may have folded an earlier message's person away.
    for e in &mut events {
        if let Some(c) = e.contact_id {
            e.contact_id = Some(r.current(c));
        }
    }
    let stored = repo::insert_events(tx.conn(), ws, &events).await?;
    // Another request may have delivered the same message meanwhile.
    report.duplicates += events.len() - usize::try_from(stored).unwrap_or(events.len());
    report.accepted = usize::try_from(stored).unwrap_or_default();
    let seen: Vec<EventTypeSeen> = catalogue.into_values().collect();
    repo::note_event_types(tx.conn(), ws, &seen).await?;
    let mut latest: HashMap<i64, i64> = HashMap::new();
    for (contact, at) in last_seen {
        let at_most = latest.entry(r.current(contact)).or_insert(at);
        *at_most = (*at_most).max(at);
    }
    let latest: Vec<(i64, i64)> = latest.into_iter().collect();
    repo::touch_last_seen(tx.conn(), ws, &latest).await?;
    tx.commit().await?;
    Ok(report)
}

impl Resolver {
    /// Where a person went if they were merged away during this request.
    fn current(&self, mut contact: i64) -> i64 {
        while let Some(winner) = self.merged.get(&contact) {
            contact = *winner;
        }
        contact
    }
}
