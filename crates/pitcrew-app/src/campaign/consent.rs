//! The consent ledger: subscription topics, every opt-in and opt-out with
//! its purpose, legal basis, source and the exact wording shown, and each
//! person's current choice derived from it in the same transaction.
//!
//! Members record choices through `record_consent`; pitcrew itself records
//! unsubscribes and complaints through `record_system_consent` and
//! `opt_out_everything`, inside the transaction of the request or bounce
//! that carries them.

use pitcrew_core::admin::{Action, ObjectType};
use pitcrew_core::campaign::consent::{ConsentSource, LegalBasis};
use pitcrew_core::record::FieldIssue;
use pitcrew_core::suggest;
use pitcrew_core::time::{format_ms, parse_instant};
use pitcrew_filter::schema::CHANNELS;
use pitcrew_store::campaign::consent::{self as repo, NewConsentRecord, TopicReferences};
use pitcrew_store::{Conn, Db};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::audience::User;
use crate::names::{clean_description, clean_name};
use crate::{Actor, AppError, ErrorKind};

/// The channel a choice is about when none is given.
pub const DEFAULT_CHANNEL: &str = "email";
/// The purpose a choice is about when none is given.
pub const DEFAULT_PURPOSE: &str = "marketing";
/// Who the ledger says recorded a choice pitcrew wrote itself (an
/// unsubscribe link, the preference center, a complaint).
pub const SYSTEM_ACTOR: &str = "system";

const MAX_PURPOSE: usize = 100;
/// Long enough for a full consent paragraph with its privacy notice.
const MAX_WORDING: usize = 10_000;
const MAX_WORDING_VERSION: usize = 100;

// ---- shapes in and out -------------------------------------------------------------

/// A subscription topic, such as "Newsletter".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Topic {
    pub id: i64,
    /// How segments (`subscribed to "Newsletter"`), consent and suppressions refer to it.
    pub name: String,
    pub description: String,
    pub created_at: String,
}

/// Changes to a topic; absent members stay as they are.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TopicPatch {
    pub name: Option<String>,
    pub description: Option<String>,
}

fn default_channel() -> String {
    DEFAULT_CHANNEL.into()
}

fn default_purpose() -> String {
    DEFAULT_PURPOSE.into()
}

/// One opt-in or opt-out, as a form, the API or a member reports it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentInput {
    /// The topic's name, such as "Newsletter".
    pub topic: String,
    /// `email` unless given.
    #[serde(default = "default_channel")]
    pub channel: String,
    /// `true` for an opt-in, `false` for an opt-out.
    pub subscribed: bool,
    /// What the data is used for; `marketing` unless given.
    #[serde(default = "default_purpose")]
    pub purpose: String,
    /// Required for an opt-in. For an opt-out, the basis withdrawn; when
    /// absent, the basis of the person's current opt-in (or `consent`).
    #[serde(default)]
    pub legal_basis: Option<LegalBasis>,
    pub source: ConsentSource,
    /// The exact text the person was shown. Required for an opt-in under
    /// `consent`: the law asks for proof of what was agreed to.
    #[serde(default)]
    pub wording: String,
    /// Which version of the wording or privacy policy it was.
    #[serde(default)]
    pub wording_version: String,
    /// The email whose link led to the choice.
    #[serde(default)]
    pub broadcast_id: Option<i64>,
    /// When the person made the choice (RFC 3339); now unless given. A
    /// choice older than the one already held is kept in the history but
    /// does not change the current state.
    #[serde(default)]
    pub at: Option<String>,
}

impl ConsentInput {
    /// An opt-in by email for marketing.
    pub fn opt_in(
        topic: &str,
        legal_basis: LegalBasis,
        source: ConsentSource,
        wording: &str,
    ) -> ConsentInput {
        ConsentInput {
            subscribed: true,
            legal_basis: Some(legal_basis),
            wording: wording.into(),
            ..ConsentInput::opt_out(topic, source)
        }
    }

    /// An opt-out by email from marketing.
    pub fn opt_out(topic: &str, source: ConsentSource) -> ConsentInput {
        ConsentInput {
            topic: topic.into(),
            channel: default_channel(),
            subscribed: false,
            purpose: default_purpose(),
            legal_basis: None,
            source,
            wording: String::new(),
            wording_version: String::new(),
            broadcast_id: None,
            at: None,
        }
    }
}

/// One row of the consent ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
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
    #[serde(skip_serializing_if = "Option::is_none")]
    pub broadcast_id: Option<i64>,
    /// Who recorded it: a member's email, `token:<name>` or `system`.
    pub by: String,
    /// When the person made the choice.
    pub at: String,
}

/// A person's current choice for one topic on one channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct TopicConsent {
    pub topic: String,
    pub channel: String,
    pub subscribed: bool,
    /// The basis of the opt-in, or the basis withdrawn by an opt-out.
    pub legal_basis: LegalBasis,
    /// When the person made the choice.
    pub at: String,
}

fn topic_out(t: repo::Topic) -> Topic {
    Topic {
        id: t.id,
        name: t.name,
        description: t.description,
        created_at: format_ms(t.created_at),
    }
}

fn record_out(r: repo::ConsentRecord) -> ConsentRecord {
    ConsentRecord {
        id: r.id,
        contact_id: r.contact_id,
        topic: r.topic,
        channel: r.channel,
        subscribed: r.subscribed,
        purpose: r.purpose,
        legal_basis: r.legal_basis,
        source: r.source,
        wording: r.wording,
        wording_version: r.wording_version,
        broadcast_id: r.broadcast_id,
        by: r.actor,
        at: format_ms(r.at),
    }
}

// ---- errors ------------------------------------------------------------------------

fn topic_not_found(id: i64) -> AppError {
    AppError::not_found(
        "topic_not_found",
        format!("there is no topic with id {id} in this workspace; list topics to find it"),
    )
}

fn contact_not_found(id: i64) -> AppError {
    AppError::not_found(
        "contact_not_found",
        format!("there is no contact with id {id} in this workspace"),
    )
}

/// A topic name that names no topic, with the nearest one when it looks like a typo.
pub(crate) fn topic_unknown(name: &str, topics: &[String], field: &str) -> AppError {
    let unknown = format!("there is no subscription topic \"{name}\"");
    let message = match suggest::closest(name, topics.iter().map(String::as_str)) {
        Some(near) => format!("{unknown}; did you mean \"{near}\"?"),
        None if topics.is_empty() => {
            format!("{unknown}; this workspace has no topics yet, so create one first")
        }
        None => format!("{unknown}; the topics are: {}", topics.join(", ")),
    };
    AppError::invalid("topic_unknown", field, message)
}

/// The name of an existing topic, exactly as stored; `topic_unknown` otherwise.
pub(crate) async fn known_topic(
    c: Conn<'_>,
    ws: i64,
    name: &str,
    field: &str,
) -> Result<String, AppError> {
    let name = name.trim();
    let topics: Vec<String> = repo::list_topics(c, ws)
        .await?
        .into_iter()
        .map(|t| t.name)
        .collect();
    if topics.iter().any(|t| t == name) {
        return Ok(name.to_string());
    }
    Err(topic_unknown(name, &topics, field))
}

/// A rename or delete refused because stored data refers to the topic by name.
fn topic_in_use(name: &str, doing: &str, users: &[User], refs: TopicReferences) -> AppError {
    let mut parts: Vec<String> = users
        .iter()
        .map(|u| format!("{} \"{}\"", u.owner_type, u.name))
        .collect();
    let counted = [
        (refs.consent_records, "consent_records", "consent record"),
        (
            (refs.consent_states - refs.consent_records).max(0),
            "consent_states",
            "current choice",
        ),
        (refs.suppressions, "suppressions", "suppression"),
        (refs.broadcasts, "broadcasts", "broadcast"),
    ];
    for (n, _, word) in counted.iter().filter(|(n, _, _)| *n > 0) {
        parts.push(format!("{n} {word}{}", if *n == 1 { "" } else { "s" }));
    }
    let advice = if users.is_empty() {
        "consent is kept as proof, so a topic with consent history keeps its name; change its description instead, or create a new topic".to_string()
    } else {
        format!(
            "change the segments to stop using it, then {doing}; consent history, suppressions and broadcasts also keep a topic's name"
        )
    };
    let mut err = AppError::new(
        ErrorKind::Conflict,
        "topic_in_use",
        format!("topic \"{name}\" is used by {}; {advice}", parts.join(", ")),
    );
    err.details = users
        .iter()
        .map(|u| FieldIssue {
            code: "topic_in_use",
            field: u.owner_type.clone(),
            value: Some(json!({ "id": u.id, "name": u.name })),
            message: format!("{} \"{}\" (id {}) uses it", u.owner_type, u.name, u.id),
        })
        .chain(
            counted
                .iter()
                .filter(|(n, _, _)| *n > 0)
                .map(|(n, field, word)| FieldIssue {
                    code: "topic_in_use",
                    field: (*field).to_string(),
                    value: Some(json!(n)),
                    message: format!("{n} {word}(s) name it"),
                }),
        )
        .collect();
    err
}

// ---- topics --------------------------------------------------------------------------

fn clean_topic_name(name: &str) -> Result<String, AppError> {
    clean_name(name, "topic_name_invalid", "topic", "Newsletter")
}

/// Refuse a name another topic has, ignoring case: "newsletter" next to
/// "Newsletter" would only confuse the people choosing between them.
async fn refuse_taken(
    c: Conn<'_>,
    ws: i64,
    name: &str,
    except: Option<i64>,
) -> Result<(), AppError> {
    let lower = name.to_lowercase();
    let clash = repo::list_topics(c, ws)
        .await?
        .into_iter()
        .find(|t| Some(t.id) != except && t.name.to_lowercase() == lower);
    match clash {
        Some(t) => Err(AppError::conflict(
            "topic_exists",
            "name",
            format!(
                "there is already a topic \"{}\" (id {}); choose another name or use that one",
                t.name, t.id
            ),
        )),
        None => Ok(()),
    }
}

fn topic_audit(t: &repo::Topic) -> Value {
    json!({"name": t.name, "description": t.description})
}

/// Create a subscription topic people can opt in to and segments can ask about.
pub async fn create_topic(
    db: &Db,
    actor: &Actor,
    name: &str,
    description: &str,
    now: i64,
) -> Result<Topic, AppError> {
    actor.require(Action::ManageConsent)?;
    let name = clean_topic_name(name)?;
    let description = clean_description(description, "topic_description_invalid")?;
    let ws = actor.workspace_id;
    let mut tx = db.begin().await?;
    refuse_taken(tx.conn(), ws, &name, None).await?;
    let topic = repo::create_topic(tx.conn(), ws, &name, &description, now).await?;
    actor
        .log(
            &mut tx,
            "create",
            ObjectType::Topic,
            topic.id,
            json!({"before": {}, "after": topic_audit(&topic)}),
            now,
        )
        .await?;
    tx.commit().await?;
    Ok(topic_out(topic))
}

/// Every topic of the workspace, by name.
pub async fn list_topics(db: &Db, actor: &Actor) -> Result<Vec<Topic>, AppError> {
    actor.require(Action::ReadRecords)?;
    Ok(repo::list_topics(db.conn(), actor.workspace_id)
        .await?
        .into_iter()
        .map(topic_out)
        .collect())
}

pub async fn get_topic(db: &Db, actor: &Actor, id: i64) -> Result<Topic, AppError> {
    actor.require(Action::ReadRecords)?;
    repo::get_topic(db.conn(), actor.workspace_id, id, false)
        .await?
        .map(topic_out)
        .ok_or_else(|| topic_not_found(id))
}

/// Whatever refers to a topic by its name: saved segments, and counts of
/// consent rows, suppressions and broadcasts.
async fn references(
    c: &mut Conn<'_>,
    ws: i64,
    name: &str,
) -> Result<(Vec<User>, TopicReferences), AppError> {
    let users = pitcrew_store::audience::dependents(c.reborrow(), ws, "topic", name)
        .await?
        .into_iter()
        .map(|d| User {
            name: d.name.unwrap_or_else(|| format!("#{}", d.owner_id)),
            owner_type: d.owner_type,
            id: d.owner_id,
        })
        .collect();
    let refs = repo::topic_references(c.reborrow(), ws, name).await?;
    Ok((users, refs))
}

/// Change a topic's description, or its name while nothing refers to it by
/// that name yet (`topic_in_use` otherwise).
pub async fn update_topic(
    db: &Db,
    actor: &Actor,
    id: i64,
    patch: TopicPatch,
    now: i64,
) -> Result<Topic, AppError> {
    actor.require(Action::ManageConsent)?;
    let ws = actor.workspace_id;
    let name = patch.name.as_deref().map(clean_topic_name).transpose()?;
    let description = patch
        .description
        .as_deref()
        .map(|d| clean_description(d, "topic_description_invalid"))
        .transpose()?;
    let mut tx = db.begin().await?;
    let before = repo::get_topic(tx.conn(), ws, id, true)
        .await?
        .ok_or_else(|| topic_not_found(id))?;
    let name = name.unwrap_or_else(|| before.name.clone());
    let description = description.unwrap_or_else(|| before.description.clone());
    if name != before.name {
        refuse_taken(tx.conn(), ws, &name, Some(id)).await?;
        let (users, refs) = references(&mut tx.conn(), ws, &before.name).await?;
        if !users.is_empty() || !refs.is_empty() {
            return Err(topic_in_use(&before.name, "rename it", &users, refs).at("name"));
        }
    }
    let after = repo::update_topic(tx.conn(), ws, id, &name, &description)
        .await?
        .ok_or_else(|| topic_not_found(id))?;
    if after != before {
        actor
            .log(
                &mut tx,
                "update",
                ObjectType::Topic,
                id,
                json!({"before": topic_audit(&before), "after": topic_audit(&after)}),
                now,
            )
            .await?;
    }
    tx.commit().await?;
    Ok(topic_out(after))
}

/// Delete a topic nothing refers to (`topic_in_use` otherwise: consent
/// history is kept as proof, so a topic with any stays).
pub async fn delete_topic(db: &Db, actor: &Actor, id: i64, now: i64) -> Result<(), AppError> {
    actor.require(Action::ManageConsent)?;
    let ws = actor.workspace_id;
    let mut tx = db.begin().await?;
    let before = repo::get_topic(tx.conn(), ws, id, true)
        .await?
        .ok_or_else(|| topic_not_found(id))?;
    let (users, refs) = references(&mut tx.conn(), ws, &before.name).await?;
    if !users.is_empty() || !refs.is_empty() {
        return Err(topic_in_use(&before.name, "delete it", &users, refs));
    }
    repo::delete_topic(tx.conn(), ws, id).await?;
    actor
        .log(
            &mut tx,
            "delete",
            ObjectType::Topic,
            id,
            json!({"before": topic_audit(&before), "after": {}}),
            now,
        )
        .await?;
    tx.commit().await?;
    Ok(())
}

// ---- recording choices ----------------------------------------------------------------

/// A choice checked and ready for the ledger.
struct Checked {
    input: ConsentInput,
    legal_basis: LegalBasis,
    at: i64,
}

fn bounded(value: &str, max: usize, code: &'static str, field: &str) -> Result<(), AppError> {
    if value.chars().count() > max {
        return Err(AppError::invalid(
            code,
            field,
            format!("`{field}` is longer than {max} characters; shorten it"),
        ));
    }
    Ok(())
}

fn check_channel(channel: &str) -> Result<String, AppError> {
    let channel = channel.trim().to_ascii_lowercase();
    if CHANNELS.contains(&channel.as_str()) {
        return Ok(channel);
    }
    let near = suggest::closest(&channel, CHANNELS.iter().copied())
        .map(|c| format!("did you mean `{c}`? "))
        .unwrap_or_default();
    Err(AppError::invalid(
        "channel_unknown",
        "channel",
        format!(
            "`{channel}` is not a channel; {near}the channels are: {}",
            CHANNELS.join(", ")
        ),
    ))
}

/// When the choice was made: `at` if given (never after `now`), else `now`.
fn choice_time(at: Option<&str>, now: i64) -> Result<i64, AppError> {
    let Some(text) = at.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(now);
    };
    let ms = parse_instant(text)
        .map_err(|why| {
            AppError::invalid(
                "consent_time_invalid",
                "at",
                format!(
                    "`{text}` is not a time ({why}); write it as RFC 3339, e.g. 2026-01-31T09:30:00Z"
                ),
            )
        })?
        .as_millisecond();
    if ms > now {
        return Err(AppError::invalid(
            "consent_time_invalid",
            "at",
            format!(
                "`{text}` is in the future; give the time the person made the choice, or leave it out for now"
            ),
        ));
    }
    Ok(ms)
}

/// Check a choice against the workspace: the topic, channel, contact and
/// broadcast exist, the opt-in names its basis and, under `consent`, the
/// wording. An opt-out without a basis withdraws the current one.
async fn check(
    mut c: Conn<'_>,
    ws: i64,
    contact_id: i64,
    mut input: ConsentInput,
    now: i64,
) -> Result<Checked, AppError> {
    input.topic = known_topic(c.reborrow(), ws, &input.topic, "topic").await?;
    input.channel = check_channel(&input.channel)?;
    input.purpose = input.purpose.trim().to_string();
    if input.purpose.is_empty() {
        input.purpose = default_purpose();
    }
    bounded(&input.purpose, MAX_PURPOSE, "purpose_invalid", "purpose")?;
    bounded(
        &input.wording,
        MAX_WORDING,
        "consent_wording_too_long",
        "wording",
    )?;
    input.wording_version = input.wording_version.trim().to_string();
    bounded(
        &input.wording_version,
        MAX_WORDING_VERSION,
        "wording_version_invalid",
        "wording_version",
    )?;
    let at = choice_time(input.at.as_deref(), now)?;
    if !repo::contact_exists(c.reborrow(), ws, contact_id).await? {
        return Err(contact_not_found(contact_id));
    }
    if let Some(b) = input.broadcast_id
        && !repo::broadcast_exists(c.reborrow(), ws, b).await?
    {
        return Err(AppError::invalid(
            "broadcast_not_found",
            "broadcast_id",
            format!("there is no broadcast with id {b} in this workspace"),
        ));
    }
    let legal_basis = match (input.subscribed, input.legal_basis) {
        (true, None) => {
            return Err(AppError::invalid(
                "legal_basis_required",
                "legal_basis",
                format!(
                    "an opt-in needs the legal basis it is held under; one of {}",
                    LegalBasis::choices()
                ),
            ));
        }
        (_, Some(basis)) => basis,
        (false, None) => repo::consent_state(c, ws, contact_id)
            .await?
            .into_iter()
            .find(|s| s.topic == input.topic && s.channel == input.channel)
            .map_or(LegalBasis::Consent, |s| s.legal_basis),
    };
    if input.subscribed && legal_basis == LegalBasis::Consent && input.wording.trim().is_empty() {
        return Err(AppError::invalid(
            "consent_wording_required",
            "wording",
            "an opt-in under consent needs the exact wording the person agreed to (the checkbox text or the form's notice); give it in `wording`",
        ));
    }
    Ok(Checked {
        input,
        legal_basis,
        at,
    })
}

async fn append(
    c: Conn<'_>,
    ws: i64,
    contact_id: i64,
    checked: &Checked,
    by: &str,
) -> Result<repo::Appended, AppError> {
    let i = &checked.input;
    let new = NewConsentRecord {
        topic: &i.topic,
        channel: &i.channel,
        subscribed: i.subscribed,
        purpose: &i.purpose,
        legal_basis: checked.legal_basis,
        source: i.source,
        wording: &i.wording,
        wording_version: &i.wording_version,
        broadcast_id: i.broadcast_id,
        actor: by,
        at: checked.at,
    };
    Ok(repo::append_consent(c, ws, contact_id, &new).await?)
}

/// Record a person's opt-in or opt-out for a topic: appended to the ledger,
/// the current state brought in step (unless a newer choice is held), and
/// the audit entry written, in one transaction.
pub async fn record_consent(
    db: &Db,
    actor: &Actor,
    contact_id: i64,
    input: ConsentInput,
    now: i64,
) -> Result<ConsentRecord, AppError> {
    actor.require(Action::ManageConsent)?;
    let ws = actor.workspace_id;
    let mut tx = db.begin().await?;
    let checked = check(tx.conn(), ws, contact_id, input, now).await?;
    let appended = append(tx.conn(), ws, contact_id, &checked, &actor.label).await?;
    let r = &appended.record;
    actor
        .log(
            &mut tx,
            if r.subscribed { "opt_in" } else { "opt_out" },
            ObjectType::Consent,
            contact_id,
            json!({
                "record_id": r.id,
                "contact_id": contact_id,
                "topic": r.topic,
                "channel": r.channel,
                "subscribed": r.subscribed,
                "purpose": r.purpose,
                "legal_basis": r.legal_basis,
                "source": r.source,
                "wording_version": r.wording_version,
                "at": format_ms(r.at),
                "current": appended.current,
            }),
            now,
        )
        .await?;
    tx.commit().await?;
    Ok(record_out(appended.record))
}

/// Record a choice pitcrew received itself — an unsubscribe link, the
/// preference center, a complaint — inside the caller's transaction, with
/// no member behind it (the ledger names `system`; the ledger row is the
/// record, so no audit entry is written). Checked like `record_consent`.
/// An opt-out for a topic the person is already opted out of on that
/// channel writes nothing and returns `None`, so a repeated unsubscribe
/// request is harmless.
pub async fn record_system_consent(
    mut c: Conn<'_>,
    ws: i64,
    contact_id: i64,
    input: ConsentInput,
    now: i64,
) -> Result<Option<ConsentRecord>, AppError> {
    let checked = check(c.reborrow(), ws, contact_id, input, now).await?;
    if !checked.input.subscribed {
        let held = repo::consent_state(c.reborrow(), ws, contact_id).await?;
        let already = held.iter().any(|s| {
            s.topic == checked.input.topic && s.channel == checked.input.channel && !s.subscribed
        });
        if already {
            return Ok(None);
        }
    }
    let appended = append(c, ws, contact_id, &checked, SYSTEM_ACTOR).await?;
    Ok(Some(record_out(appended.record)))
}

/// Opt a person out of every topic on one channel ("unsubscribe from
/// everything"), inside the caller's transaction, with no member behind it.
/// Each opt-out withdraws the basis the person's opt-in was held under
/// (`consent` where none was). Topics the person is already opted out of
/// are left alone, so repeating the request writes nothing. Returns the
/// records written.
pub async fn opt_out_everything(
    c: Conn<'_>,
    ws: i64,
    contact_id: i64,
    channel: &str,
    source: ConsentSource,
    broadcast_id: Option<i64>,
    now: i64,
) -> Result<Vec<ConsentRecord>, AppError> {
    let request = OptOutAll {
        channel,
        source,
        broadcast_id,
        by: SYSTEM_ACTOR,
        now,
    };
    opt_out_all(c, ws, contact_id, &request).await
}

/// An "unsubscribe from everything" request and who records it.
struct OptOutAll<'a> {
    channel: &'a str,
    source: ConsentSource,
    broadcast_id: Option<i64>,
    by: &'a str,
    now: i64,
}

async fn opt_out_all(
    mut c: Conn<'_>,
    ws: i64,
    contact_id: i64,
    request: &OptOutAll<'_>,
) -> Result<Vec<ConsentRecord>, AppError> {
    let channel = check_channel(request.channel)?;
    if !repo::contact_exists(c.reborrow(), ws, contact_id).await? {
        return Err(contact_not_found(contact_id));
    }
    let held = repo::consent_state(c.reborrow(), ws, contact_id).await?;
    let mut written = Vec::new();
    for topic in repo::list_topics(c.reborrow(), ws).await? {
        let current = held
            .iter()
            .find(|s| s.topic == topic.name && s.channel == channel);
        if current.is_some_and(|s| !s.subscribed) {
            continue;
        }
        let new = NewConsentRecord {
            topic: &topic.name,
            channel: &channel,
            subscribed: false,
            purpose: DEFAULT_PURPOSE,
            legal_basis: current.map_or(LegalBasis::Consent, |s| s.legal_basis),
            source: request.source,
            wording: "",
            wording_version: "",
            broadcast_id: request.broadcast_id,
            actor: request.by,
            at: request.now,
        };
        let appended = repo::append_consent(c.reborrow(), ws, contact_id, &new).await?;
        written.push(record_out(appended.record));
    }
    Ok(written)
}

/// Opt a person out of every topic on one channel, as a member recording
/// the person's request (by email, phone or in person). One audit entry
/// lists the topics. Returns the records written; none when the person was
/// already opted out of everything.
pub async fn unsubscribe_everything(
    db: &Db,
    actor: &Actor,
    contact_id: i64,
    channel: &str,
    source: ConsentSource,
    now: i64,
) -> Result<Vec<ConsentRecord>, AppError> {
    actor.require(Action::ManageConsent)?;
    let ws = actor.workspace_id;
    let mut tx = db.begin().await?;
    let request = OptOutAll {
        channel,
        source,
        broadcast_id: None,
        by: &actor.label,
        now,
    };
    let written = opt_out_all(tx.conn(), ws, contact_id, &request).await?;
    if !written.is_empty() {
        let topics: Vec<&str> = written.iter().map(|r| r.topic.as_str()).collect();
        let ids: Vec<i64> = written.iter().map(|r| r.id).collect();
        let channel = written[0].channel.as_str();
        actor
            .log(
                &mut tx,
                "opt_out_all",
                ObjectType::Consent,
                contact_id,
                json!({"contact_id": contact_id, "channel": channel, "source": source, "topics": topics, "records": ids}),
                now,
            )
            .await?;
    }
    tx.commit().await?;
    Ok(written)
}

// ---- reading ---------------------------------------------------------------------------------

async fn require_contact(db: &Db, ws: i64, contact_id: i64) -> Result<(), AppError> {
    if repo::contact_exists(db.conn(), ws, contact_id).await? {
        return Ok(());
    }
    Err(contact_not_found(contact_id))
}

/// Every opt-in and opt-out of a person, newest first.
pub async fn consent_history(
    db: &Db,
    actor: &Actor,
    contact_id: i64,
) -> Result<Vec<ConsentRecord>, AppError> {
    actor.require(Action::ReadRecords)?;
    let ws = actor.workspace_id;
    require_contact(db, ws, contact_id).await?;
    Ok(repo::consent_history(db.conn(), ws, contact_id)
        .await?
        .into_iter()
        .map(record_out)
        .collect())
}

/// A person's current choices, by topic and channel.
pub async fn consent_state(
    db: &Db,
    actor: &Actor,
    contact_id: i64,
) -> Result<Vec<TopicConsent>, AppError> {
    actor.require(Action::ReadRecords)?;
    let ws = actor.workspace_id;
    require_contact(db, ws, contact_id).await?;
    Ok(repo::consent_state(db.conn(), ws, contact_id)
        .await?
        .into_iter()
        .map(|s| TopicConsent {
            topic: s.topic,
            channel: s.channel,
            subscribed: s.subscribed,
            legal_basis: s.legal_basis,
            at: format_ms(s.at),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_choice_time_defaults_to_now_and_never_lies_ahead() {
        let now = 1_767_225_600_000;
        assert_eq!(choice_time(None, now).ok(), Some(now));
        assert_eq!(choice_time(Some("  "), now).ok(), Some(now));
        assert_eq!(
            choice_time(Some("2025-12-31T23:00:00Z"), now).ok(),
            Some(now - 3_600_000)
        );
        let ahead = choice_time(Some("2026-01-01T00:00:01Z"), now);
        assert_eq!(
            ahead.map_err(|e| e.code).err(),
            Some("consent_time_invalid")
        );
        let garbled = choice_time(Some("yesterday"), now);
        assert_eq!(
            garbled.map_err(|e| e.code).err(),
            Some("consent_time_invalid")
        );
    }

    #[test]
    fn channels_are_checked_with_a_suggestion() {
        assert_eq!(check_channel(" Email ").ok().as_deref(), Some("email"));
        let e = check_channel("emial").err();
        assert!(e.is_some_and(|e| e.code == "channel_unknown" && e.message.contains("`email`")));
    }

    #[test]
    fn an_unknown_topic_suggests_the_nearest() {
        let topics = vec!["Newsletter".to_string(), "Product updates".to_string()];
        let e = topic_unknown("Newsleter", &topics, "topic");
        assert_eq!(e.code, "topic_unknown");
        assert!(
            e.message.contains("did you mean \"Newsletter\""),
            "{}",
            e.message
        );
    }
}
