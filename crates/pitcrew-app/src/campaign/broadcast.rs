//! Broadcasts: a message (template, subject, sender, topic) to segments
//! minus exclusion segments. Before anything is sent, the pre-launch
//! checks decide for every person whether they get it and why not; the
//! same decisions become the send ledger when sending starts, so what the
//! checks promise is what happens.

use std::collections::{BTreeMap, HashMap, HashSet};

use pitcrew_core::admin::{Action, ObjectType, Role};
use pitcrew_core::campaign::guardrail::{Check, CheckStatus, SendingRules, can_start};
use pitcrew_core::campaign::quiet::contact_zone;
use pitcrew_core::campaign::{
    BroadcastStatus, RecipientState, SkipReason, TemplateFormat, is_sendable_address,
    normalise_address,
};
use pitcrew_core::record::ObjectKind;
use pitcrew_core::time::{format_ms, parse_instant};
use pitcrew_store::audience::PageStart;
use pitcrew_store::campaign::broadcast::{self as repo, BroadcastRow, StoredBroadcast};
use pitcrew_store::campaign::consent::{self as consent_repo, CurrentConsent};
use pitcrew_store::campaign::ledger::{self, NewRecipient, Recipient};
use pitcrew_store::{Conn, Db, Tx};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::provider::rules_of;
use super::render::{self, Prepared};
use crate::{Actor, AppError};

/// People read per page when deciding who gets a broadcast.
const PLAN_PAGE: i64 = 2_000;

/// A broadcast as written by a marketer. Everything but the name may be
/// left for later; the pre-launch checks say what is still missing.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BroadcastInput {
    pub name: String,
    #[serde(default)]
    pub template_id: Option<i64>,
    #[serde(default)]
    pub subject: String,
    #[serde(default)]
    pub from_name: String,
    #[serde(default)]
    pub from_email: String,
    #[serde(default)]
    pub reply_to: String,
    /// The subscription topic: only people opted in to it are sent the email.
    #[serde(default)]
    pub topic: String,
    /// Segments of people to send to.
    #[serde(default)]
    pub segments: Vec<i64>,
    /// Segments of people never to send to.
    #[serde(default)]
    pub exclusions: Vec<i64>,
    #[serde(default)]
    pub provider_id: Option<i64>,
    /// Open and click tracking (default on).
    #[serde(default = "yes")]
    pub tracking: bool,
    /// UTM parameters added to every link, e.g. `{"utm_source": "newsletter",
    /// "utm_medium": "email", "utm_campaign": "spring-launch"}`.
    #[serde(default)]
    pub utm: BTreeMap<String, String>,
    /// When to send (RFC 3339); left out, it sends when started.
    #[serde(default)]
    pub scheduled_at: Option<String>,
}

fn yes() -> bool {
    true
}

/// A broadcast as shown.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Broadcast {
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
    pub utm: BTreeMap<String, String>,
    pub status: BroadcastStatus,
    pub scheduled_at: Option<String>,
    pub approved_by: Option<String>,
    pub approved_at: Option<String>,
    /// People in the audience when sending started.
    pub audience: Option<i64>,
    pub created_by: String,
    pub created_at: String,
    pub updated_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
}

fn view(b: &StoredBroadcast) -> Broadcast {
    Broadcast {
        id: b.id,
        name: b.name.clone(),
        template_id: b.template_id,
        subject: b.subject.clone(),
        from_name: b.from_name.clone(),
        from_email: b.from_email.clone(),
        reply_to: b.reply_to.clone(),
        topic: b.topic.clone(),
        segments: b.segments.clone(),
        exclusions: b.exclusions.clone(),
        provider_id: b.provider_id,
        tracking: b.tracking,
        utm: utm_of(b).into_iter().collect(),
        status: status_of(b),
        scheduled_at: b.scheduled_at.map(format_ms),
        approved_by: b.approved_by.clone(),
        approved_at: b.approved_at.map(format_ms),
        audience: b.audience,
        created_by: b.created_by.clone(),
        created_at: format_ms(b.created_at),
        updated_at: format_ms(b.updated_at),
        started_at: b.started_at.map(format_ms),
        finished_at: b.finished_at.map(format_ms),
    }
}

pub(crate) fn status_of(b: &StoredBroadcast) -> BroadcastStatus {
    BroadcastStatus::parse(&b.status).unwrap_or(BroadcastStatus::Draft)
}

pub(crate) fn utm_of(b: &StoredBroadcast) -> Vec<(String, String)> {
    b.utm
        .iter()
        .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
        .collect()
}

pub(crate) fn broadcast_not_found(id: i64) -> AppError {
    AppError::not_found(
        "broadcast_not_found",
        format!(
            "there is no broadcast {id} in this workspace; list them with GET /api/v1/broadcasts"
        ),
    )
}

pub(crate) async fn broadcast_or_404(
    c: Conn<'_>,
    ws: i64,
    id: i64,
    lock: bool,
) -> Result<StoredBroadcast, AppError> {
    repo::get_broadcast(c, ws, id, lock)
        .await?
        .ok_or_else(|| broadcast_not_found(id))
}

/// Check what a broadcast refers to exists, and the shape of its values.
/// Completeness is the pre-launch checks' job: a draft may be half done.
async fn validate(
    c: &mut Conn<'_>,
    ws: i64,
    b: &BroadcastInput,
) -> Result<(Map<String, Value>, Option<i64>), AppError> {
    crate::names::clean_name(
        &b.name,
        "broadcast_name_invalid",
        "broadcast",
        "Spring launch",
    )?;
    for (field, value) in [("from_email", &b.from_email), ("reply_to", &b.reply_to)] {
        if !value.trim().is_empty() && !is_sendable_address(value.trim()) {
            return Err(AppError::invalid(
                "email_invalid",
                field,
                format!("`{}` is not an email address", value.trim()),
            ));
        }
    }
    if b.subject.contains(['\r', '\n']) {
        return Err(AppError::invalid(
            "subject_invalid",
            "subject",
            "a subject is one line; remove the line breaks",
        ));
    }
    let mut utm = Map::new();
    for (k, v) in &b.utm {
        if !k.starts_with("utm_") || k.len() > 40 || v.trim().is_empty() {
            return Err(AppError::invalid(
                "utm_invalid",
                &format!("utm.{k}"),
                "UTM parameters are named utm_… (utm_source, utm_medium, utm_campaign, utm_content, utm_term) and have a value",
            ));
        }
        utm.insert(k.clone(), Value::String(v.trim().to_string()));
    }
    if let Some(t) = b.template_id
        && pitcrew_store::campaign::template::get_template(c.reborrow(), ws, t)
            .await?
            .is_none()
    {
        return Err(AppError::invalid(
            "template_not_found",
            "template_id",
            format!("there is no template {t} in this workspace"),
        ));
    }
    if let Some(p) = b.provider_id {
        super::provider::stored_provider(c.reborrow(), ws, p)
            .await
            .map_err(|e| e.at("provider_id"))?;
    }
    for (field, ids) in [("segments", &b.segments), ("exclusions", &b.exclusions)] {
        for id in ids {
            let found = pitcrew_store::audience::get_segment(c.reborrow(), ws, *id, false).await?;
            match found {
                None => {
                    return Err(AppError::invalid(
                        "segment_not_found",
                        field,
                        format!("there is no segment {id} in this workspace"),
                    ));
                }
                Some(s) if s.subject != "people" => {
                    return Err(AppError::invalid(
                        "segment_not_people",
                        field,
                        format!(
                            "segment \"{}\" selects accounts; an email goes to people",
                            s.name
                        ),
                    ));
                }
                Some(_) => {}
            }
        }
    }
    if !b.topic.trim().is_empty() {
        let topics = pitcrew_store::campaign::consent::list_topics(c.reborrow(), ws).await?;
        if !topics.iter().any(|t| t.name == b.topic.trim()) {
            let names: Vec<&str> = topics.iter().map(|t| t.name.as_str()).collect();
            let hint = pitcrew_core::suggest::closest(b.topic.trim(), names.iter().copied())
                .map(|s| format!("; did you mean \"{s}\"?"))
                .unwrap_or_default();
            return Err(AppError::invalid(
                "topic_unknown",
                "topic",
                format!("there is no topic \"{}\"{hint}", b.topic.trim()),
            ));
        }
    }
    let scheduled = match &b.scheduled_at {
        None => None,
        Some(s) => Some(
            parse_instant(s)
                .map_err(|e| AppError::invalid("scheduled_at_invalid", "scheduled_at", e))?
                .as_millisecond(),
        ),
    };
    Ok((utm, scheduled))
}

fn row<'a>(
    b: &'a BroadcastInput,
    utm: &'a Map<String, Value>,
    scheduled: Option<i64>,
) -> BroadcastRow<'a> {
    BroadcastRow {
        name: b.name.trim(),
        template_id: b.template_id,
        subject: b.subject.trim(),
        from_name: b.from_name.trim(),
        from_email: b.from_email.trim(),
        reply_to: b.reply_to.trim(),
        topic: b.topic.trim(),
        segments: &b.segments,
        exclusions: &b.exclusions,
        provider_id: b.provider_id,
        tracking: b.tracking,
        utm,
        scheduled_at: scheduled,
    }
}

fn audit_view(b: &StoredBroadcast) -> Value {
    serde_json::to_value(view(b)).unwrap_or_default()
}

pub async fn create_broadcast(
    db: &Db,
    actor: &Actor,
    input: BroadcastInput,
    now: i64,
) -> Result<Broadcast, AppError> {
    actor.require(Action::ManageCampaigns)?;
    let ws = actor.workspace_id;
    let mut tx = db.begin().await?;
    let (utm, scheduled) = validate(&mut tx.conn(), ws, &input).await?;
    let stored = repo::insert_broadcast(
        tx.conn(),
        ws,
        &row(&input, &utm, scheduled),
        &actor.label,
        now,
    )
    .await?;
    actor
        .log(
            &mut tx,
            "create",
            ObjectType::Broadcast,
            stored.id,
            json!({"before": {}, "after": audit_view(&stored)}),
            now,
        )
        .await?;
    tx.commit().await?;
    Ok(view(&stored))
}

/// Change a draft. Any approval is withdrawn: it approved something else.
pub async fn update_broadcast(
    db: &Db,
    actor: &Actor,
    id: i64,
    input: BroadcastInput,
    now: i64,
) -> Result<Broadcast, AppError> {
    actor.require(Action::ManageCampaigns)?;
    let ws = actor.workspace_id;
    let mut tx = db.begin().await?;
    let before = broadcast_or_404(tx.conn(), ws, id, true).await?;
    if !status_of(&before).editable() {
        return Err(AppError::conflict(
            "broadcast_not_editable",
            "status",
            format!(
                "the broadcast is {}; only a draft can be changed (unschedule it first, or duplicate it)",
                before.status
            ),
        ));
    }
    let (utm, scheduled) = validate(&mut tx.conn(), ws, &input).await?;
    let stored = repo::update_broadcast(tx.conn(), ws, id, &row(&input, &utm, scheduled), now)
        .await?
        .ok_or_else(|| broadcast_not_found(id))?;
    actor
        .log(
            &mut tx,
            "update",
            ObjectType::Broadcast,
            id,
            json!({"before": audit_view(&before), "after": audit_view(&stored)}),
            now,
        )
        .await?;
    tx.commit().await?;
    Ok(view(&stored))
}

pub async fn get_broadcast(db: &Db, actor: &Actor, id: i64) -> Result<Broadcast, AppError> {
    actor.require(Action::ReadRecords)?;
    Ok(view(
        &broadcast_or_404(db.conn(), actor.workspace_id, id, false).await?,
    ))
}

pub async fn list_broadcasts(
    db: &Db,
    actor: &Actor,
    status: Option<BroadcastStatus>,
) -> Result<Vec<Broadcast>, AppError> {
    actor.require(Action::ReadRecords)?;
    let all =
        repo::list_broadcasts(db.conn(), actor.workspace_id, status.map(|s| s.as_str())).await?;
    Ok(all.iter().map(view).collect())
}

pub async fn delete_broadcast(db: &Db, actor: &Actor, id: i64, now: i64) -> Result<(), AppError> {
    actor.require(Action::ManageCampaigns)?;
    let ws = actor.workspace_id;
    let mut tx = db.begin().await?;
    let before = broadcast_or_404(tx.conn(), ws, id, true).await?;
    if !repo::delete_broadcast(tx.conn(), ws, id).await? {
        return Err(AppError::conflict(
            "broadcast_not_editable",
            "status",
            format!(
                "the broadcast is {}; only a draft can be deleted (cancel it instead)",
                before.status
            ),
        ));
    }
    actor
        .log(
            &mut tx,
            "delete",
            ObjectType::Broadcast,
            id,
            json!({"before": audit_view(&before), "after": {}}),
            now,
        )
        .await?;
    tx.commit().await?;
    Ok(())
}

// ---- who gets it ----------------------------------------------------------------------

/// The content a broadcast sends, frozen when sending starts.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Content {
    pub subject: String,
    pub format: TemplateFormat,
    pub body: String,
    pub text_body: String,
    pub from_name: String,
    pub from_email: String,
    pub reply_to: String,
    pub topic: String,
    pub tracking: bool,
    pub utm: Vec<(String, String)>,
    pub provider_id: i64,
    pub postal_address: String,
    pub public_url: String,
    pub unsubscribe_mailbox: String,
}

/// What the decisions over an audience came to. The decisions themselves
/// go to the send ledger page by page as they are made (or nowhere, for
/// the checks alone), so a plan's memory does not grow with the audience.
#[derive(Debug, Default)]
pub(crate) struct Plan {
    pub audience: i64,
    pub skipped: BTreeMap<SkipReason, i64>,
    pub deferred: i64,
    /// A contact who would be sent the email, to render a sample for.
    pub sample: Option<i64>,
}

impl Plan {
    pub fn will_send(&self) -> i64 {
        self.audience - self.skipped.values().sum::<i64>()
    }
}

/// Decide for every person in the audience: send (now or after quiet
/// hours), or skip and why. Rules run in a fixed order and the first that
/// applies is the reason given: no address, invalid address, duplicate
/// address, bounced, suppressed, no consent, frequency cap.
///
/// The audience is read a page at a time, and consent, suppressions and
/// recent sends are looked up for that page's people only. With a
/// `writer` transaction, each page's decisions are written to the send
/// ledger in it before the next page is read.
pub(crate) async fn plan(
    db: &Db,
    ws: i64,
    b: &StoredBroadcast,
    rules: &SendingRules,
    now: i64,
    mut writer: Option<&mut Tx>,
) -> Result<Plan, AppError> {
    let ids_sql = crate::audience::audience_sql(db, ws, &b.segments, &b.exclusions, now).await?;
    let topic = b.topic.trim();
    let window_start = rules.frequency_cap.map(|cap| cap.window_start(now));
    let workspace_zone = crate::audience::zone_of(db.conn(), ws).await?;
    let mut plan = Plan::default();
    // Addresses already decided: a later person with the same one is a duplicate.
    let mut seen: HashSet<String> = HashSet::new();
    let mut rows: Vec<NewRecipient> = Vec::new();
    let mut after = 0;
    loop {
        let page = pitcrew_store::audience::member_page(
            db.conn(),
            ws,
            ObjectKind::Contact,
            &ids_sql,
            PageStart::After(after),
            PLAN_PAGE,
        )
        .await?;
        let Some(last) = page.last() else { break };
        after = last.id;
        let ids: Vec<i64> = page.iter().map(|p| p.id).collect();
        let emails: Vec<String> = page
            .iter()
            .map(|p| {
                p.fields
                    .get("email")
                    .and_then(Value::as_str)
                    .map(normalise_address)
                    .unwrap_or_default()
            })
            .collect();
        let addressed: Vec<String> = emails
            .iter()
            .filter(|e| is_sendable_address(e))
            .cloned()
            .collect();
        let consent = consent_repo::choices_for(db.conn(), ws, topic, "email", &ids).await?;
        let suppressed =
            super::suppression::suppressed_among(db.conn(), ws, Some(topic), &addressed).await?;
        let recent = match window_start {
            Some(since) => ledger::recent_sends(db.conn(), ws, b.id, since, &ids).await?,
            None => HashMap::new(),
        };
        for (person, email) in page.iter().zip(emails) {
            plan.audience += 1;
            let country = person.fields.get("country").and_then(Value::as_str);
            let skip = if email.is_empty() {
                Some(SkipReason::NoEmail)
            } else if !is_sendable_address(&email) {
                Some(SkipReason::InvalidEmail)
            } else if !seen.insert(email.clone()) {
                Some(SkipReason::DuplicateAddress)
            } else if let Some(reason) = suppressed.get(&email) {
                Some(SkipReason::for_suppression(*reason))
            } else if !consented(&consent, rules, person.id, country) {
                Some(SkipReason::NoConsent)
            } else if rules
                .frequency_cap
                .is_some_and(|cap| !cap.allows(recent.get(&person.id).copied().unwrap_or(0)))
            {
                Some(SkipReason::FrequencyCap)
            } else {
                None
            };
            let row = match skip {
                Some(reason) => {
                    *plan.skipped.entry(reason).or_default() += 1;
                    NewRecipient {
                        contact_id: person.id,
                        email,
                        state: RecipientState::Skipped.as_str(),
                        reason: reason.as_str(),
                        detail: String::new(),
                        not_before: 0,
                    }
                }
                None => {
                    plan.sample.get_or_insert(person.id);
                    let zone = contact_zone(
                        person.fields.get("timezone").and_then(Value::as_str),
                        country,
                        &workspace_zone,
                    );
                    let until = rules.quiet_hours.and_then(|q| q.defer_until(now, &zone));
                    if until.is_some() {
                        plan.deferred += 1;
                    }
                    NewRecipient {
                        contact_id: person.id,
                        email,
                        state: if until.is_some() {
                            RecipientState::Deferred.as_str()
                        } else {
                            RecipientState::Queued.as_str()
                        },
                        reason: "",
                        detail: until
                            .map(|t| {
                                format!(
                                    "quiet hours in {} until {}",
                                    zone.iana_name().unwrap_or("their time zone"),
                                    format_ms(t)
                                )
                            })
                            .unwrap_or_default(),
                        not_before: until.unwrap_or(0),
                    }
                }
            };
            if writer.is_some() {
                rows.push(row);
            }
        }
        if let Some(tx) = writer.as_deref_mut() {
            ledger::insert_recipients(tx.conn(), ws, b.id, &rows, now).await?;
            rows.clear();
        }
        if (page.len() as i64) < PLAN_PAGE {
            break;
        }
    }
    Ok(plan)
}

/// Whether a person's consent for the topic allows marketing email in
/// their country: the one consent rule, at planning and at sending.
/// `consent` holds current email-channel choices for the topic by contact
/// id (`consent::choices_for`).
pub(crate) fn consented(
    consent: &HashMap<i64, CurrentConsent>,
    rules: &SendingRules,
    contact_id: i64,
    country: Option<&str>,
) -> bool {
    consent
        .get(&contact_id)
        .is_some_and(|c| c.subscribed && rules.consent_policy.allows(country, c.legal_basis))
}

// ---- pre-launch checks ------------------------------------------------------------

/// The pre-launch list for a broadcast.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Prelaunch {
    pub checks: Vec<Check>,
    /// People in the segments minus the exclusions.
    pub audience: i64,
    /// People who would be sent the email now or after quiet hours.
    pub will_send: i64,
    /// Whether an admin's approval is needed (and not yet given).
    pub needs_approval: bool,
    /// Whether nothing blocks the start.
    pub can_start: bool,
}

/// The frozen content and its prepared template; blocking items are
/// pushed to `checks` when something is missing.
async fn content_of(
    db: &Db,
    ws: i64,
    b: &StoredBroadcast,
    rules: &SendingRules,
    checks: &mut Vec<Check>,
) -> Result<Option<(Content, Prepared)>, AppError> {
    use CheckStatus::{Blocking, Passed};
    let mut missing = false;
    let mut need = |ok: bool, code: &str, passed: String, blocking: &str| {
        if ok {
            checks.push(Check::new(code, Passed, passed));
        } else {
            missing = true;
            checks.push(Check::new(code, Blocking, blocking));
        }
    };
    need(
        !b.subject.trim().is_empty(),
        "subject",
        format!("Subject: \"{}\"", b.subject),
        "The subject is empty: write one.",
    );
    need(
        !b.from_email.is_empty(),
        "from",
        format!("From: {} <{}>", b.from_name, b.from_email),
        "No From address: set the sender's name and email address.",
    );
    need(
        !b.topic.is_empty(),
        "topic",
        format!(
            "Topic: {} — only people opted in to it are sent the email",
            b.topic
        ),
        "No topic: choose the subscription topic this email belongs to; consent is checked per topic.",
    );
    need(
        !b.segments.is_empty(),
        "segments",
        format!(
            "{} segment(s), {} exclusion(s)",
            b.segments.len(),
            b.exclusions.len()
        ),
        "No audience: choose at least one segment of people.",
    );
    need(
        b.provider_id.is_some(),
        "provider",
        "A sending provider is chosen".into(),
        "No sending provider: choose the SMTP server to send through.",
    );
    need(
        !rules.postal_address.trim().is_empty(),
        "postal_address_set",
        format!("Postal address: {}", rules.postal_address.trim()),
        "The workspace has no postal address: every commercial email must show one (set it in the sending settings).",
    );
    need(
        !rules.public_url.is_empty(),
        "public_url",
        format!("Links point at {}", rules.public_url),
        "The workspace has no public address for unsubscribe and tracking links: set public_url in the sending settings.",
    );
    let template = match b.template_id {
        Some(t) => pitcrew_store::campaign::template::get_template(db.conn(), ws, t).await?,
        None => None,
    };
    let Some(template) = template else {
        checks.push(Check::new(
            "template",
            Blocking,
            "No template: choose the email's template.",
        ));
        return Ok(None);
    };
    let format = TemplateFormat::parse(&template.format).unwrap_or(TemplateFormat::Html);
    let prepared = match render::prepare(&b.subject, format, &template.body, &template.text_body) {
        Ok(p) => p,
        Err(e) => {
            checks.push(Check::new(
                "template",
                Blocking,
                format!("The template does not render: {e}. Fix it in the template editor."),
            ));
            return Ok(None);
        }
    };
    checks.push(Check::new(
        "template",
        Passed,
        format!("Template \"{}\" renders", template.name),
    ));
    if missing {
        return Ok(None);
    }
    let content = Content {
        subject: b.subject.clone(),
        format,
        body: template.body,
        text_body: template.text_body,
        from_name: b.from_name.clone(),
        from_email: b.from_email.clone(),
        reply_to: b.reply_to.clone(),
        topic: b.topic.clone(),
        tracking: b.tracking,
        utm: utm_of(b),
        provider_id: b.provider_id.unwrap_or_default(),
        postal_address: rules.postal_address.trim().to_string(),
        public_url: rules.public_url.trim_end_matches('/').to_string(),
        unsubscribe_mailbox: rules.unsubscribe_mailbox.clone(),
    };
    Ok(Some((content, prepared)))
}

/// Template variables a broadcast may use at the top level.
const KNOWN_ROOTS: &[&str] = &[
    "contact",
    "account",
    "postal_address",
    "unsubscribe_url",
    "preferences_url",
];

fn content_checks(prepared: &Prepared, checks: &mut Vec<Check>) {
    use CheckStatus::{Blocking, Passed, Warning};
    let vars = prepared.variables();
    let uses = |name: &str| {
        vars.iter()
            .any(|v| v == name || v.starts_with(&format!("{name}.")))
    };
    checks.push(if uses("unsubscribe_url") {
        Check::new("unsubscribe_link", Passed, "The email has an unsubscribe link")
    } else {
        Check::new(
            "unsubscribe_link",
            Blocking,
            "The email has no unsubscribe link: add {{ unsubscribe_url }} to the template (e.g. <a href=\"{{ unsubscribe_url }}\">Unsubscribe</a>).",
        )
    });
    checks.push(if uses("postal_address") {
        Check::new("postal_address", Passed, "The email shows the postal address")
    } else {
        Check::new(
            "postal_address",
            Blocking,
            "The email does not show the sender's postal address: add {{ postal_address }} to the template's footer.",
        )
    });
    let unknown: Vec<&String> = vars
        .iter()
        .filter(|v| !KNOWN_ROOTS.contains(&v.split('.').next().unwrap_or_default()))
        .collect();
    if !unknown.is_empty() {
        checks.push(Check::new(
            "variables",
            Warning,
            format!(
                "The template uses {} which {} nothing and will show empty: use contact.…, account.…, postal_address, unsubscribe_url or preferences_url.",
                unknown.iter().map(|v| format!("`{v}`")).collect::<Vec<_>>().join(", "),
                if unknown.len() == 1 { "names" } else { "name" }
            ),
        ));
    }
}

/// Check the links of one rendered sample: valid, and tagged.
fn link_checks(html: &str, public_url: &str, checks: &mut Vec<Check>) {
    use CheckStatus::{Blocking, Passed, Warning};
    let links = render::links(html);
    let mut invalid = Vec::new();
    let mut untagged = Vec::new();
    for link in &links {
        if link.starts_with("mailto:") || link.starts_with("tel:") || link.starts_with('#') {
            continue;
        }
        if !public_url.is_empty() && link.starts_with(public_url) {
            continue;
        }
        match url::Url::parse(link) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {
                let keys: HashSet<String> = u.query_pairs().map(|(k, _)| k.into_owned()).collect();
                if !["utm_source", "utm_medium", "utm_campaign"]
                    .iter()
                    .all(|k| keys.contains(*k))
                {
                    untagged.push(link.clone());
                }
            }
            _ => invalid.push(link.clone()),
        }
    }
    checks.push(if invalid.is_empty() {
        Check::new(
            "links_valid",
            Passed,
            format!("{} link(s), all valid", links.len()),
        )
    } else {
        Check::new(
            "links_valid",
            Blocking,
            format!(
                "{} link(s) are not valid web addresses: {}. Fix them in the template.",
                invalid.len(),
                invalid.join(", ")
            ),
        )
        .with_count(invalid.len() as i64)
    });
    checks.push(if untagged.is_empty() {
        Check::new("links_tagged", Passed, "Every link carries utm_source, utm_medium and utm_campaign")
    } else {
        Check::new(
            "links_tagged",
            Warning,
            format!(
                "{} link(s) lack utm_source, utm_medium or utm_campaign, so visits will not be attributed: set the broadcast's UTM parameters.",
                untagged.len()
            ),
        )
        .with_count(untagged.len() as i64)
    });
}

fn audience_checks(plan: &Plan, checks: &mut Vec<Check>) {
    use CheckStatus::{Blocking, Passed, Warning};
    checks.push(
        Check::new(
            "audience",
            if plan.audience > 0 { Passed } else { Blocking },
            if plan.audience > 0 {
                format!("{} people in the audience", plan.audience)
            } else {
                "The segments select no one: check the segments and exclusions.".to_string()
            },
        )
        .with_count(plan.audience),
    );
    for reason in SkipReason::ALL {
        if matches!(reason, SkipReason::RenderFailed | SkipReason::Cancelled) {
            continue;
        }
        let n = plan.skipped.get(reason).copied().unwrap_or(0);
        let code = format!("excluded_{}", reason.as_str());
        let message = if n == 0 {
            format!("No one removed: {}", reason.explain())
        } else {
            format!("{n} removed: {}", reason.explain())
        };
        checks
            .push(Check::new(&code, if n == 0 { Passed } else { Warning }, message).with_count(n));
    }
    if plan.deferred > 0 {
        checks.push(
            Check::new(
                "quiet_hours",
                Warning,
                format!("{} people are in quiet hours now; they are sent the email when quiet hours end", plan.deferred),
            )
            .with_count(plan.deferred),
        );
    }
    let will = plan.will_send();
    checks.push(Check::new(
        "recipients",
        if will > 0 { Passed } else { Blocking },
        if will > 0 {
            format!("{will} people will be sent the email")
        } else {
            "No one would be sent the email: every person in the audience is removed by a rule above.".to_string()
        },
    )
    .with_count(will));
}

/// Everything checked before a start, with the plan and content when
/// they could be made.
pub(crate) struct Review {
    pub prelaunch: Prelaunch,
    pub plan: Option<Plan>,
    pub content: Option<Content>,
}

/// Run the pre-launch checks. With a `writer` transaction, the plan's
/// decisions are written to the send ledger in it as they are made; the
/// caller commits only if nothing blocks.
pub(crate) async fn review(
    db: &Db,
    ws: i64,
    b: &StoredBroadcast,
    now: i64,
    writer: Option<&mut Tx>,
) -> Result<Review, AppError> {
    let rules = rules_of(db.conn(), ws).await?;
    let mut checks = Vec::new();
    let content = content_of(db, ws, b, &rules, &mut checks).await?;
    let plan = if b.segments.is_empty() {
        None
    } else {
        Some(plan(db, ws, b, &rules, now, writer).await?)
    };
    if let Some(p) = &plan {
        audience_checks(p, &mut checks);
    }
    if let Some((c, prepared)) = &content {
        content_checks(prepared, &mut checks);
        if let Some(sample) = plan.as_ref().and_then(|p| p.sample) {
            let personal = super::send::personal_of(db, ws, sample, c).await?;
            let links = render::LinkPolicy {
                utm: &c.utm,
                track: None,
                open_pixel: None,
            };
            match prepared.render(&personal, &links) {
                Ok(r) => link_checks(&r.html, &c.public_url, &mut checks),
                Err(e) => checks.push(Check::new(
                    "sample_render",
                    CheckStatus::Blocking,
                    format!("The template fails for contact {sample}: {e}"),
                )),
            }
        }
    }
    if dkim_missing(db, ws).await? {
        checks.push(Check::new(
            "dkim",
            CheckStatus::Warning,
            "No DKIM key: mailbox providers reject or junk unsigned bulk email; add the workspace's key in the sending settings.",
        ));
    } else {
        checks.push(Check::new(
            "dkim",
            CheckStatus::Passed,
            "Emails are DKIM-signed",
        ));
    }
    let will_send = plan.as_ref().map_or(0, Plan::will_send);
    let first = !repo::has_sent_before(db.conn(), ws, b.id).await?;
    let large = will_send > rules.approval_threshold;
    let needs = first || large;
    let approved = b.approved_at.is_some();
    if needs {
        let why = match (first, large) {
            (true, true) => format!(
                "this is the workspace's first send and {will_send} people exceeds the approval threshold of {}",
                rules.approval_threshold
            ),
            (true, false) => "this is the workspace's first send".to_string(),
            _ => format!(
                "{will_send} people exceeds the approval threshold of {}",
                rules.approval_threshold
            ),
        };
        checks.push(if approved {
            Check::new(
                "approval",
                CheckStatus::Passed,
                format!(
                    "Approved by {} ({why})",
                    b.approved_by.clone().unwrap_or_default()
                ),
            )
        } else {
            Check::new(
                "approval",
                CheckStatus::Blocking,
                format!("Needs an admin's approval: {why}."),
            )
        });
    }
    let prelaunch = Prelaunch {
        can_start: can_start(&checks),
        audience: plan.as_ref().map_or(0, |p| p.audience),
        will_send,
        needs_approval: needs && !approved,
        checks,
    };
    Ok(Review {
        prelaunch,
        plan,
        content: content.map(|(c, _)| c),
    })
}

async fn dkim_missing(db: &Db, ws: i64) -> Result<bool, AppError> {
    Ok(super::provider::dkim_of(db.conn(), ws).await?.is_none())
}

/// The pre-launch list: what passed, what warns, what blocks the start.
pub async fn prelaunch(db: &Db, actor: &Actor, id: i64, now: i64) -> Result<Prelaunch, AppError> {
    actor.require(Action::ReadRecords)?;
    let b = broadcast_or_404(db.conn(), actor.workspace_id, id, false).await?;
    Ok(review(db, actor.workspace_id, &b, now, None)
        .await?
        .prelaunch)
}

// ---- approval and the life of a broadcast -------------------------------------------------

/// An admin signs off the broadcast as it is now.
pub async fn approve(db: &Db, actor: &Actor, id: i64, now: i64) -> Result<Broadcast, AppError> {
    actor.require(Action::ApproveBroadcasts)?;
    let ws = actor.workspace_id;
    let mut tx = db.begin().await?;
    let b = broadcast_or_404(tx.conn(), ws, id, true).await?;
    if !status_of(&b).editable() {
        return Err(AppError::conflict(
            "broadcast_not_editable",
            "status",
            format!("the broadcast is {}; only a draft is approved", b.status),
        ));
    }
    repo::set_approval(tx.conn(), ws, id, Some(&actor.label), Some(now)).await?;
    actor
        .log(
            &mut tx,
            "approve",
            ObjectType::Broadcast,
            id,
            json!({"approved_by": actor.label}),
            now,
        )
        .await?;
    tx.commit().await?;
    get_broadcast(db, actor, id).await
}

/// Start sending now, or at the scheduled time. Refused while any
/// pre-launch item blocks; the refusal lists them.
pub async fn start(db: &Db, actor: &Actor, id: i64, now: i64) -> Result<Broadcast, AppError> {
    actor.require(Action::ManageCampaigns)?;
    let ws = actor.workspace_id;
    let b = broadcast_or_404(db.conn(), ws, id, false).await?;
    if status_of(&b) != BroadcastStatus::Draft {
        return Err(AppError::conflict(
            "broadcast_not_draft",
            "status",
            format!("the broadcast is {}; only a draft can be started", b.status),
        ));
    }
    if b.scheduled_at.is_none_or(|t| t <= now) {
        begin(db, ws, id, &["draft"], Some(actor), now).await?;
        return get_broadcast(db, actor, id).await;
    }
    // Scheduled for later: checked now, planned again when its time comes.
    let review = review(db, ws, &b, now, None).await?;
    if !review.prelaunch.can_start {
        return Err(blocked(&review.prelaunch.checks));
    }
    let mut tx = db.begin().await?;
    if !repo::set_status(tx.conn(), ws, id, &["draft"], "scheduled", now).await? {
        return Err(raced(id));
    }
    actor
        .log(
            &mut tx,
            "schedule",
            ObjectType::Broadcast,
            id,
            json!({"scheduled_at": b.scheduled_at.map(format_ms)}),
            now,
        )
        .await?;
    tx.commit().await?;
    get_broadcast(db, actor, id).await
}

fn raced(id: i64) -> AppError {
    AppError::conflict(
        "broadcast_changed",
        "status",
        format!("broadcast {id} changed while starting; reload it and try again"),
    )
}

/// The refusal of a start, listing what blocks it.
fn blocked(checks: &[Check]) -> AppError {
    let blocking: Vec<&str> = checks
        .iter()
        .filter(|c| c.status == CheckStatus::Blocking)
        .map(|c| c.message.as_str())
        .collect();
    AppError::conflict(
        "broadcast_blocked",
        "checks",
        format!("the broadcast cannot start: {}", blocking.join(" ")),
    )
}

/// What an attempt to begin sending came to.
enum Begun {
    Started,
    /// Something blocks the start: the checks, with nothing changed.
    Blocked(Vec<Check>),
}

/// Move a broadcast from `from` to `sending`, or refuse with what blocks it.
pub(crate) async fn begin(
    db: &Db,
    ws: i64,
    id: i64,
    from: &[&str],
    actor: Option<&Actor>,
    now: i64,
) -> Result<(), AppError> {
    match try_begin(db, ws, id, from, actor, now).await? {
        Begun::Started => Ok(()),
        Begun::Blocked(checks) => Err(blocked(&checks)),
    }
}

/// In one transaction: take the broadcast from `from` to `sending`, run
/// the checks while their plan writes the send ledger page by page, freeze
/// the content and log the start. The plan runs once, and what the checks
/// counted is what the ledger holds. If anything blocks, the transaction
/// is rolled back: no ledger rows, no change of status.
async fn try_begin(
    db: &Db,
    ws: i64,
    id: i64,
    from: &[&str],
    actor: Option<&Actor>,
    now: i64,
) -> Result<Begun, AppError> {
    // The checks render a sample whose links are signed with the workspace's
    // link key. Made here if missing: inside the transaction, which holds
    // SQLite's write lock, the sample could not create it.
    super::provider::link_key(db.conn(), ws, now).await?;
    let mut tx = db.begin().await?;
    if !repo::set_status(tx.conn(), ws, id, from, "sending", now).await? {
        return Err(raced(id));
    }
    // Read again under the status change, so an edit made meanwhile (which
    // withdraws an approval) is what gets checked and frozen.
    let b = broadcast_or_404(tx.conn(), ws, id, false).await?;
    let review = review(db, ws, &b, now, Some(&mut tx)).await?;
    if !review.prelaunch.can_start {
        drop(tx);
        return Ok(Begun::Blocked(review.prelaunch.checks));
    }
    let (Some(content), Some(plan)) = (review.content, review.plan) else {
        return Err(AppError::conflict(
            "broadcast_blocked",
            "checks",
            "the broadcast cannot start: its content or audience is incomplete",
        ));
    };
    let frozen = serde_json::to_value(&content).map_err(|e| AppError::internal(e.to_string()))?;
    repo::mark_started(tx.conn(), ws, id, &frozen, plan.audience, now).await?;
    let summary = json!({
        "audience": plan.audience,
        "will_send": plan.will_send(),
        "skipped": plan.skipped.iter().map(|(k, v)| (k.as_str().to_string(), json!(v))).collect::<Map<String, Value>>(),
    });
    let system = Actor::system(ws);
    actor
        .unwrap_or(&system)
        .log(&mut tx, "start", ObjectType::Broadcast, id, summary, now)
        .await?;
    tx.commit().await?;
    Ok(Begun::Started)
}

/// A scheduled broadcast whose time has come: re-check, then begin. If
/// something now blocks, it goes back to draft with the reason in the audit log.
pub(crate) async fn begin_scheduled(db: &Db, ws: i64, id: i64, now: i64) -> Result<(), AppError> {
    let b = broadcast_or_404(db.conn(), ws, id, false).await?;
    if status_of(&b) != BroadcastStatus::Scheduled {
        return Ok(());
    }
    let Begun::Blocked(checks) = try_begin(db, ws, id, &["scheduled"], None, now).await? else {
        return Ok(());
    };
    let mut tx = db.begin().await?;
    repo::set_status(tx.conn(), ws, id, &["scheduled"], "draft", now).await?;
    let blocking: Vec<&Check> = checks
        .iter()
        .filter(|c| c.status == CheckStatus::Blocking)
        .collect();
    Actor::system(ws)
        .log(
            &mut tx,
            "unschedule",
            ObjectType::Broadcast,
            id,
            json!({"blocking": blocking}),
            now,
        )
        .await?;
    tx.commit().await?;
    Ok(())
}

async fn move_status(
    db: &Db,
    actor: &Actor,
    id: i64,
    from: &[&str],
    to: BroadcastStatus,
    verb: &str,
    now: i64,
) -> Result<Broadcast, AppError> {
    actor.require(Action::ManageCampaigns)?;
    let ws = actor.workspace_id;
    let mut tx = db.begin().await?;
    let b = broadcast_or_404(tx.conn(), ws, id, true).await?;
    if !repo::set_status(tx.conn(), ws, id, from, to.as_str(), now).await? {
        return Err(AppError::conflict(
            "broadcast_status_conflict",
            "status",
            format!(
                "the broadcast is {}; it can be {verb} only when {}",
                b.status,
                from.join(" or ")
            ),
        ));
    }
    if to == BroadcastStatus::Cancelled {
        ledger::cancel_waiting(tx.conn(), ws, id, now).await?;
    }
    actor
        .log(
            &mut tx,
            verb,
            ObjectType::Broadcast,
            id,
            json!({"before": b.status, "after": to.as_str()}),
            now,
        )
        .await?;
    tx.commit().await?;
    get_broadcast(db, actor, id).await
}

/// Stop taking new recipients; messages in flight finish.
pub async fn pause(db: &Db, actor: &Actor, id: i64, now: i64) -> Result<Broadcast, AppError> {
    move_status(
        db,
        actor,
        id,
        &["sending"],
        BroadcastStatus::Paused,
        "paused",
        now,
    )
    .await
}

pub async fn resume(db: &Db, actor: &Actor, id: i64, now: i64) -> Result<Broadcast, AppError> {
    move_status(
        db,
        actor,
        id,
        &["paused"],
        BroadcastStatus::Sending,
        "resumed",
        now,
    )
    .await
}

/// Stop for good: everyone still waiting is skipped as cancelled. A
/// scheduled broadcast goes back to draft instead, keeping its content.
pub async fn cancel(db: &Db, actor: &Actor, id: i64, now: i64) -> Result<Broadcast, AppError> {
    let b = broadcast_or_404(db.conn(), actor.workspace_id, id, false).await?;
    if status_of(&b) == BroadcastStatus::Scheduled {
        return move_status(
            db,
            actor,
            id,
            &["scheduled"],
            BroadcastStatus::Draft,
            "unscheduled",
            now,
        )
        .await;
    }
    move_status(
        db,
        actor,
        id,
        &["sending", "paused"],
        BroadcastStatus::Cancelled,
        "cancelled",
        now,
    )
    .await
}

// ---- decision log and results ------------------------------------------------------

/// Why one person did or did not get a broadcast, and what happened after.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Decision {
    pub contact_id: i64,
    pub email: String,
    pub state: RecipientState,
    /// For a skipped person: the rule that removed them.
    pub reason: Option<SkipReason>,
    /// The decision in words.
    pub explanation: String,
    pub message_id: Option<String>,
    pub sent_at: Option<String>,
    pub attempts: i64,
    /// Deliveries, bounces, opens, clicks, unsubscribes, complaints.
    pub events: Vec<MessageEvent>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MessageEvent {
    pub kind: String,
    pub detail: String,
    pub at: String,
}

fn explain(r: &Recipient) -> (RecipientState, Option<SkipReason>, String) {
    let state = RecipientState::parse(&r.state).unwrap_or(RecipientState::Queued);
    let reason = SkipReason::parse(&r.reason);
    let text = match state {
        // A row back in the queue after a failed try keeps why, and when it goes next.
        RecipientState::Queued if !r.detail.is_empty() => format!(
            "waiting to be tried again at {}: {}",
            format_ms(r.not_before),
            r.detail
        ),
        RecipientState::Queued => "waiting for its turn to be sent".to_string(),
        RecipientState::Deferred => format!("waiting: {}", r.detail),
        RecipientState::Sending => "being handed to the SMTP server now".to_string(),
        RecipientState::Sent => format!(
            "sent: the SMTP server accepted it{}",
            r.sent_at
                .map(|t| format!(" at {}", format_ms(t)))
                .unwrap_or_default()
        ),
        RecipientState::Failed => format!("not sent: the SMTP server refused it ({})", r.detail),
        RecipientState::Skipped => {
            format!(
                "not sent: {}",
                reason.map_or(r.reason.as_str(), |x| x.explain())
            ) + &if r.detail.is_empty() {
                String::new()
            } else {
                format!(" ({})", r.detail)
            }
        }
        RecipientState::Uncertain => format!("unknown: {}", r.detail),
    };
    (state, reason, text)
}

pub async fn decision(
    db: &Db,
    actor: &Actor,
    id: i64,
    contact_id: i64,
) -> Result<Decision, AppError> {
    actor.require(Action::ReadRecords)?;
    let ws = actor.workspace_id;
    let b = broadcast_or_404(db.conn(), ws, id, false).await?;
    let Some(r) = ledger::recipient_of(db.conn(), ws, id, contact_id).await? else {
        let why = if b.started_at.is_none() {
            "the broadcast has not started; see its pre-launch checks for who would be sent it"
        } else {
            "the contact was not in the broadcast's audience when it started"
        };
        return Err(AppError::not_found(
            "recipient_not_found",
            format!("contact {contact_id} has no decision in broadcast {id}: {why}"),
        ));
    };
    let (state, reason, explanation) = explain(&r);
    let events = repo::message_events_of(db.conn(), ws, id, contact_id)
        .await?
        .into_iter()
        .map(|(kind, detail, at)| MessageEvent {
            kind,
            detail,
            at: format_ms(at),
        })
        .collect();
    Ok(Decision {
        contact_id,
        email: r.email.clone(),
        state,
        reason,
        explanation,
        message_id: r.message_id.clone(),
        sent_at: r.sent_at.map(format_ms),
        attempts: r.attempts,
        events,
    })
}

/// A page of decisions, in contact order.
pub async fn recipients(
    db: &Db,
    actor: &Actor,
    id: i64,
    state: Option<RecipientState>,
    after: i64,
    limit: i64,
) -> Result<Vec<Decision>, AppError> {
    actor.require(Action::ReadRecords)?;
    if !(1..=1000).contains(&limit) {
        return Err(AppError::invalid(
            "limit_invalid",
            "limit",
            "limit must be between 1 and 1000",
        ));
    }
    let ws = actor.workspace_id;
    broadcast_or_404(db.conn(), ws, id, false).await?;
    let rows =
        ledger::list_recipients(db.conn(), ws, id, state.map(|s| s.as_str()), after, limit).await?;
    Ok(rows
        .iter()
        .map(|r| {
            let (state, reason, explanation) = explain(r);
            Decision {
                contact_id: r.contact_id,
                email: r.email.clone(),
                state,
                reason,
                explanation,
                message_id: r.message_id.clone(),
                sent_at: r.sent_at.map(format_ms),
                attempts: r.attempts,
                events: Vec::new(),
            }
        })
        .collect())
}

/// A broadcast's results.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct Stats {
    pub audience: i64,
    pub queued: i64,
    pub sending: i64,
    pub sent: i64,
    /// Sent and not bounced.
    pub delivered: i64,
    pub failed: i64,
    pub uncertain: i64,
    pub bounced: i64,
    pub soft_bounced: i64,
    pub opened_unique: i64,
    pub opened_total: i64,
    pub clicked_unique: i64,
    pub clicked_total: i64,
    pub unsubscribed: i64,
    pub complaints: i64,
    /// Skipped people per reason.
    pub skipped: BTreeMap<String, i64>,
    /// Opens and clicks per hour since the start: (hour, kind, count).
    pub timeline: Vec<TimelinePoint>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TimelinePoint {
    pub at: String,
    pub kind: String,
    pub count: i64,
}

pub async fn stats(db: &Db, actor: &Actor, id: i64) -> Result<Stats, AppError> {
    actor.require(Action::ReadRecords)?;
    let ws = actor.workspace_id;
    let b = broadcast_or_404(db.conn(), ws, id, false).await?;
    let mut s = Stats {
        audience: b.audience.unwrap_or(0),
        ..Stats::default()
    };
    for (state, reason, n) in ledger::state_counts(db.conn(), ws, id).await? {
        match RecipientState::parse(&state) {
            Some(RecipientState::Queued | RecipientState::Deferred) => s.queued += n,
            Some(RecipientState::Sending) => s.sending += n,
            Some(RecipientState::Sent) => s.sent += n,
            Some(RecipientState::Failed) => s.failed += n,
            Some(RecipientState::Uncertain) => s.uncertain += n,
            Some(RecipientState::Skipped) => *s.skipped.entry(reason).or_default() += n,
            None => {}
        }
    }
    for (kind, total, people) in repo::message_event_counts(db.conn(), ws, id).await? {
        match pitcrew_core::campaign::MessageEventKind::parse(&kind) {
            Some(pitcrew_core::campaign::MessageEventKind::Bounced) => s.bounced = people,
            Some(pitcrew_core::campaign::MessageEventKind::SoftBounced) => s.soft_bounced = people,
            Some(pitcrew_core::campaign::MessageEventKind::Opened) => {
                s.opened_unique = people;
                s.opened_total = total;
            }
            Some(pitcrew_core::campaign::MessageEventKind::Clicked) => {
                s.clicked_unique = people;
                s.clicked_total = total;
            }
            Some(pitcrew_core::campaign::MessageEventKind::Unsubscribed) => s.unsubscribed = people,
            Some(pitcrew_core::campaign::MessageEventKind::Complained) => s.complaints = people,
            Some(pitcrew_core::campaign::MessageEventKind::Delivered) | None => {}
        }
    }
    s.delivered = (s.sent - s.bounced).max(0);
    s.timeline = repo::message_event_series(db.conn(), ws, id, 3_600_000)
        .await?
        .into_iter()
        .map(|(at, kind, count)| TimelinePoint {
            at: format_ms(at),
            kind,
            count,
        })
        .collect();
    Ok(s)
}

/// Emails sent per hour since the start, as timeline points of kind
/// `sent`, for charting beside the opens and clicks of [`stats`].
pub async fn sent_per_hour(
    db: &Db,
    actor: &Actor,
    id: i64,
) -> Result<Vec<TimelinePoint>, AppError> {
    actor.require(Action::ReadRecords)?;
    let ws = actor.workspace_id;
    broadcast_or_404(db.conn(), ws, id, false).await?;
    Ok(ledger::sent_series(db.conn(), ws, id, 3_600_000)
        .await?
        .into_iter()
        .map(|(at, count)| TimelinePoint {
            at: format_ms(at),
            kind: "sent".to_string(),
            count,
        })
        .collect())
}

/// Whether `role` may approve broadcasts (for the UI to show the button).
pub fn may_approve(role: Role) -> bool {
    role.can(Action::ApproveBroadcasts)
}
