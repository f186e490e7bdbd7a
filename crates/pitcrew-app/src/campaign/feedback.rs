//! What comes back after sending: opens and clicks (signed links), one-click
//! unsubscribes and the preference center, and bounce and complaint reports.
//! Each becomes a message event for the broadcast's results, an event on the
//! person's timeline (so segments can use it), and — for unsubscribes,
//! complaints and bounces — a consent-ledger record or a suppression, at once.
//!
//! Tracking, unsubscribe and preference requests come from people without an
//! account: the signed token is the only credential, and a bad one learns
//! nothing about the workspace.

use std::collections::{BTreeMap, BTreeSet};

use pitcrew_core::admin::Action;
use pitcrew_core::campaign::consent::ConsentSource;
use pitcrew_core::campaign::{MessageEventKind, SuppressionReason, normalise_address};
use pitcrew_core::event::MessageType;
use pitcrew_store::campaign::broadcast as repo;
use pitcrew_store::campaign::ledger;
use pitcrew_store::event::{EventTypeSeen, NewEvent};
use pitcrew_store::{Conn, Db};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::bounce::{self, ReportKind};
use super::consent::{self as consent_app, ConsentInput};
use super::provider::{link_key, rules_of};
use super::suppression::{self, SuppressOutcome, SuppressionEntry, SuppressionSource};
use super::token::{self, Claims, Purpose};
use crate::{Actor, AppError};

/// Events on a person's timeline, as segments name them.
pub const EMAIL_OPENED: &str = "Email Opened";
pub const EMAIL_CLICKED: &str = "Email Link Clicked";
pub const EMAIL_UNSUBSCRIBED: &str = "Email Unsubscribed";
pub const EMAIL_BOUNCED: &str = "Email Bounced";
pub const EMAIL_COMPLAINED: &str = "Email Marked as Spam";

/// Timeline events pitcrew writes itself carry this source id.
const OWN_SOURCE: i64 = 0;

fn link_invalid() -> AppError {
    AppError::not_found(
        "link_invalid",
        "this link is not valid: it may have been cut short or changed; open it again from the email",
    )
}

/// Check a token against its workspace's key.
async fn verify(db: &Db, purpose: Purpose, t: &str, now: i64) -> Result<Claims, AppError> {
    let ws = token::workspace_of(t).ok_or_else(link_invalid)?;
    if pitcrew_store::admin::workspace_by_id(db.conn(), ws)
        .await?
        .is_some()
    {
        let key = link_key(db.conn(), ws, now).await?;
        if let Some(c) = token::verify(&key, purpose, t) {
            return Ok(c);
        }
    }
    Err(link_invalid())
}

/// Record a message event and the matching timeline event.
async fn record(
    mut c: Conn<'_>,
    claims: &Claims,
    kind: MessageEventKind,
    event: &str,
    detail: &str,
    now: i64,
) -> Result<(), AppError> {
    let ws = claims.workspace_id;
    repo::insert_message_event(
        c.reborrow(),
        ws,
        claims.broadcast_id,
        claims.contact_id,
        kind.as_str(),
        detail,
        now,
    )
    .await?;
    let mut properties = json!({"broadcast_id": claims.broadcast_id});
    if !detail.is_empty() {
        properties["detail"] = Value::String(detail.to_string());
    }
    if let Some(url) = &claims.url {
        properties["url"] = Value::String(url.clone());
    }
    let e = NewEvent {
        source_id: OWN_SOURCE,
        contact_id: Some(claims.contact_id),
        message_id: format!("pitcrew-{}", crate::secret::random_hex(12)),
        kind: MessageType::Track,
        name: event.to_string(),
        at: now,
        received_at: now,
        user_id: None,
        anonymous_id: None,
        properties: properties.clone(),
        context: json!({}),
    };
    pitcrew_store::event::insert_events(c.reborrow(), ws, std::slice::from_ref(&e)).await?;
    let keys: BTreeSet<String> = properties
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    let seen = EventTypeSeen {
        kind: MessageType::Track,
        name: event.to_string(),
        count: 1,
        first: now,
        last: now,
        property_keys: keys,
    };
    pitcrew_store::event::note_event_types(c, ws, &[seen]).await?;
    Ok(())
}

/// Whether the person and broadcast of a token still exist (a deleted
/// contact's links stop counting).
async fn still_there(db: &Db, c: &Claims) -> Result<bool, AppError> {
    Ok(
        ledger::recipient_of(db.conn(), c.workspace_id, c.broadcast_id, c.contact_id)
            .await?
            .is_some(),
    )
}

/// An open pixel was fetched.
pub async fn open(db: &Db, t: &str, now: i64) -> Result<(), AppError> {
    let claims = verify(db, Purpose::Open, t, now).await?;
    if !still_there(db, &claims).await? {
        return Ok(());
    }
    let mut tx = db.begin().await?;
    record(
        tx.conn(),
        &claims,
        MessageEventKind::Opened,
        EMAIL_OPENED,
        "",
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// A tracked link was followed: record it and answer where to go.
pub async fn click(db: &Db, t: &str, now: i64) -> Result<String, AppError> {
    let claims = verify(db, Purpose::Click, t, now).await?;
    let url = claims.url.clone().ok_or_else(link_invalid)?;
    if still_there(db, &claims).await? {
        let mut tx = db.begin().await?;
        record(
            tx.conn(),
            &claims,
            MessageEventKind::Clicked,
            EMAIL_CLICKED,
            &url,
            now,
        )
        .await?;
        tx.commit().await?;
    }
    Ok(url)
}

/// What an unsubscribe did.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Unsubscribed {
    /// The topic the person left.
    pub topic: String,
    /// False when they had already left it (the request changed nothing).
    pub changed: bool,
}

async fn topic_of(db: &Db, c: &Claims) -> Result<String, AppError> {
    let b = repo::get_broadcast(db.conn(), c.workspace_id, c.broadcast_id, false)
        .await?
        .ok_or_else(link_invalid)?;
    Ok(b.topic)
}

/// One-click unsubscribe (RFC 8058): opt the person out of the broadcast's
/// topic at once. Repeating it changes nothing.
pub async fn unsubscribe(
    db: &Db,
    t: &str,
    source: ConsentSource,
    now: i64,
) -> Result<Unsubscribed, AppError> {
    let claims = verify(db, Purpose::Unsubscribe, t, now).await?;
    unsubscribe_claims(db, &claims, source, now).await
}

async fn unsubscribe_claims(
    db: &Db,
    claims: &Claims,
    source: ConsentSource,
    now: i64,
) -> Result<Unsubscribed, AppError> {
    let topic = topic_of(db, claims).await?;
    let mut tx = db.begin().await?;
    let input = ConsentInput {
        broadcast_id: Some(claims.broadcast_id),
        ..ConsentInput::opt_out(&topic, source)
    };
    let written = consent_app::record_system_consent(
        tx.conn(),
        claims.workspace_id,
        claims.contact_id,
        input,
        now,
    )
    .await?;
    let changed = written.is_some();
    if changed {
        record(
            tx.conn(),
            claims,
            MessageEventKind::Unsubscribed,
            EMAIL_UNSUBSCRIBED,
            &topic,
            now,
        )
        .await?;
    }
    tx.commit().await?;
    Ok(Unsubscribed { topic, changed })
}

/// What the preference center shows a person.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Preferences {
    /// The address, partly hidden (`an…@example.com`).
    pub email: String,
    /// The topic of the email the link came from.
    pub from_topic: String,
    pub topics: Vec<TopicChoice>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TopicChoice {
    pub name: String,
    pub description: String,
    pub subscribed: bool,
}

fn masked(email: &str) -> String {
    match email.split_once('@') {
        Some((local, domain)) => {
            let shown: String = local.chars().take(2).collect();
            format!("{shown}…@{domain}")
        }
        None => "…".into(),
    }
}

pub async fn preferences(db: &Db, t: &str, now: i64) -> Result<Preferences, AppError> {
    let claims = verify(db, Purpose::Unsubscribe, t, now).await?;
    let ws = claims.workspace_id;
    let from_topic = topic_of(db, &claims).await?;
    let r = ledger::recipient_of(db.conn(), ws, claims.broadcast_id, claims.contact_id)
        .await?
        .ok_or_else(link_invalid)?;
    let held =
        pitcrew_store::campaign::consent::consent_state(db.conn(), ws, claims.contact_id).await?;
    let topics = pitcrew_store::campaign::consent::list_topics(db.conn(), ws)
        .await?
        .into_iter()
        .map(|t| TopicChoice {
            subscribed: held
                .iter()
                .any(|s| s.topic == t.name && s.channel == "email" && s.subscribed),
            name: t.name,
            description: t.description,
        })
        .collect();
    Ok(Preferences {
        email: masked(&r.email),
        from_topic,
        topics,
    })
}

/// The wording shown on the hosted preference center, recorded with each
/// opt-in made there.
pub const PREFERENCES_WORDING: &str = "Choose the emails you want to receive. You can change this at any time from any of our emails.";
pub const PREFERENCES_VERSION: &str = "preference-center-1";

/// The person's choices on the preference center: opt in to the topics
/// listed, out of every other one (`everything_off` leaves all).
pub async fn set_preferences(
    db: &Db,
    t: &str,
    subscribed: &[String],
    now: i64,
) -> Result<Preferences, AppError> {
    let claims = verify(db, Purpose::Unsubscribe, t, now).await?;
    let ws = claims.workspace_id;
    let wanted: BTreeSet<&str> = subscribed.iter().map(String::as_str).collect();
    let current = preferences(db, t, now).await?;
    let mut tx = db.begin().await?;
    for topic in &current.topics {
        let want = wanted.contains(topic.name.as_str());
        if want == topic.subscribed {
            continue;
        }
        let input = if want {
            ConsentInput {
                wording_version: PREFERENCES_VERSION.into(),
                broadcast_id: Some(claims.broadcast_id),
                ..ConsentInput::opt_in(
                    &topic.name,
                    pitcrew_core::campaign::consent::LegalBasis::Consent,
                    ConsentSource::PreferenceCenter,
                    PREFERENCES_WORDING,
                )
            }
        } else {
            ConsentInput {
                broadcast_id: Some(claims.broadcast_id),
                ..ConsentInput::opt_out(&topic.name, ConsentSource::PreferenceCenter)
            }
        };
        consent_app::record_system_consent(tx.conn(), ws, claims.contact_id, input, now).await?;
        if !want {
            record(
                tx.conn(),
                &claims,
                MessageEventKind::Unsubscribed,
                EMAIL_UNSUBSCRIBED,
                &topic.name,
                now,
            )
            .await?;
        }
    }
    tx.commit().await?;
    preferences(db, t, now).await
}

// ---- bounce and complaint reports ------------------------------------------------------

/// What a batch of reports did.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct ReportSummary {
    /// Messages read from the upload.
    pub messages: i64,
    pub hard_bounces: i64,
    pub soft_bounces: i64,
    pub complaints: i64,
    pub unsubscribes: i64,
    /// Addresses suppressed by these reports.
    pub suppressed: i64,
    /// Messages that were not reports, or named no message of ours.
    pub problems: Vec<ReportProblem>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ReportProblem {
    /// The message's position: 1 for the first in the upload.
    pub message: i64,
    /// The line of the upload where the message starts.
    pub line: i64,
    pub reason: String,
}

/// Read delivery status notifications (RFC 3464), feedback reports
/// (RFC 5965) and emailed unsubscribe requests from one message or a
/// mailbox file, and act on each: hard bounces and complaints suppress at
/// once, soft bounces after the workspace's limit in a row.
pub async fn ingest_reports(
    db: &Db,
    actor: &Actor,
    raw: &[u8],
    now: i64,
) -> Result<ReportSummary, AppError> {
    actor.require(Action::ManageConsent)?;
    let ws = actor.workspace_id;
    let rules = rules_of(db.conn(), ws).await?;
    let mut summary = ReportSummary::default();
    for (i, m) in bounce::split_mailbox(raw).into_iter().enumerate() {
        summary.messages += 1;
        let position = (i + 1) as i64;
        let problem = |reason: String| ReportProblem {
            message: position,
            line: m.line as i64,
            reason,
        };
        let reports = match bounce::parse_report(m.raw) {
            Ok(r) => r,
            Err(e) => {
                summary.problems.push(problem(e.to_string()));
                continue;
            }
        };
        for report in reports {
            if report.kind == ReportKind::Unsubscribe {
                let claims = report
                    .token
                    .as_deref()
                    .and_then(token::workspace_of)
                    .filter(|w| *w == ws)
                    .and(report.token.as_deref());
                let Some(t) = claims else {
                    summary.problems.push(problem(
                        "an unsubscribe request without a valid link token of this workspace"
                            .into(),
                    ));
                    continue;
                };
                match unsubscribe(db, t, ConsentSource::UnsubscribeLink, now).await {
                    Ok(_) => summary.unsubscribes += 1,
                    Err(e) => summary.problems.push(problem(e.message)),
                }
                continue;
            }
            let found = match &report.message_id {
                Some(id) => ledger::by_message_id(db.conn(), ws, id).await?,
                None => None,
            };
            let found = match (found, &report.recipient) {
                (Some(f), _) => Some(f),
                (None, Some(r)) => {
                    ledger::last_sent_to(db.conn(), ws, &normalise_address(r)).await?
                }
                (None, None) => None,
            };
            let Some((broadcast_id, r)) = found else {
                summary.problems.push(problem(format!(
                    "names no message sent from this workspace (Message-ID {}, recipient {})",
                    report.message_id.as_deref().unwrap_or("absent"),
                    report.recipient.as_deref().unwrap_or("absent")
                )));
                continue;
            };
            let claims = Claims {
                workspace_id: ws,
                broadcast_id,
                contact_id: r.contact_id,
                url: None,
            };
            let detail = [report.status.as_deref(), report.diagnostic.as_deref()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ");
            let mut tx = db.begin().await?;
            match report.kind {
                ReportKind::HardBounce => {
                    summary.hard_bounces += 1;
                    let entry = SuppressionEntry {
                        email: &r.email,
                        topic: None,
                        reason: SuppressionReason::HardBounce,
                        source: SuppressionSource::Bounce,
                        note: &detail,
                    };
                    // An address already held (a repeated report) was not suppressed by this one.
                    if suppression::suppress(tx.conn(), ws, entry, now).await?
                        != SuppressOutcome::Unchanged
                    {
                        summary.suppressed += 1;
                    }
                    record(
                        tx.conn(),
                        &claims,
                        MessageEventKind::Bounced,
                        EMAIL_BOUNCED,
                        &detail,
                        now,
                    )
                    .await?;
                }
                ReportKind::SoftBounce => {
                    summary.soft_bounces += 1;
                    let limit = i64::from(rules.soft_bounce_limit);
                    if suppression::note_soft_bounce(tx.conn(), ws, &r.email, limit, now).await? {
                        summary.suppressed += 1;
                    }
                    record(
                        tx.conn(),
                        &claims,
                        MessageEventKind::SoftBounced,
                        EMAIL_BOUNCED,
                        &detail,
                        now,
                    )
                    .await?;
                }
                ReportKind::Complaint => {
                    summary.complaints += 1;
                    let entry = SuppressionEntry {
                        email: &r.email,
                        topic: None,
                        reason: SuppressionReason::Complaint,
                        source: SuppressionSource::Complaint,
                        note: &detail,
                    };
                    if suppression::suppress(tx.conn(), ws, entry, now).await?
                        != SuppressOutcome::Unchanged
                    {
                        summary.suppressed += 1;
                    }
                    // A spam report objects to all direct marketing, not one topic.
                    consent_app::opt_out_everything(
                        tx.conn(),
                        ws,
                        r.contact_id,
                        "email",
                        ConsentSource::Complaint,
                        Some(broadcast_id),
                        now,
                    )
                    .await?;
                    record(
                        tx.conn(),
                        &claims,
                        MessageEventKind::Complained,
                        EMAIL_COMPLAINED,
                        &detail,
                        now,
                    )
                    .await?;
                }
                ReportKind::Unsubscribe => {}
            }
            tx.commit().await?;
        }
    }
    Ok(summary)
}

/// Opens, clicks and the rest per broadcast and kind, for tests and reports.
pub async fn event_counts(
    db: &Db,
    actor: &Actor,
    broadcast_id: i64,
) -> Result<BTreeMap<String, i64>, AppError> {
    actor.require(Action::ReadRecords)?;
    Ok(
        repo::message_event_counts(db.conn(), actor.workspace_id, broadcast_id)
            .await?
            .into_iter()
            .map(|(k, total, _)| (k, total))
            .collect(),
    )
}
