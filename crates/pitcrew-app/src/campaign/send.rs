//! The sender: works through each sending broadcast's ledger so every
//! person gets at most one copy. A batch is claimed (`queued` → `sending`)
//! and committed before anything goes on the wire, then each row is
//! settled with its outcome. If the process dies in between, the rows
//! still `sending` become `uncertain` at the next start — reported, never
//! silently re-sent. One process at a time holds the sender lease.
//!
//! Just before sending, consent, suppression and quiet hours are checked
//! again, so an unsubscribe during a long send takes effect at once.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pitcrew_core::campaign::guardrail::SendingRules;
use pitcrew_core::campaign::quiet::contact_zone;
use pitcrew_core::campaign::{
    BroadcastStatus, RecipientState, Security, SkipReason, SuppressionReason,
};
use pitcrew_core::record::ObjectKind;
use pitcrew_store::audience::PageStart;
use pitcrew_store::campaign::broadcast as repo;
use pitcrew_store::campaign::ledger::{self, Outcome, Recipient};
use pitcrew_store::record::StoredRecord;
use pitcrew_store::{Db, Lease};
use serde_json::{Map, Value, json};
use tokio::task::JoinSet;

use super::broadcast::{Content, broadcast_or_404, consented, status_of};
use super::message::{self, DkimKey, Outgoing};
use super::provider::{dkim_of, link_key, rules_of, stored_provider};
use super::render::{self, LinkPolicy, Personal, Prepared};
use super::smtp::{Mailer, SendError, SmtpConfig};
use super::token::{self, Claims, Purpose};
use crate::{Actor, AppError};

/// Arbitrary constant naming the sender's lease on PostgreSQL.
const SENDER_LEASE: i64 = 0x7365_6e64_6572;

/// Tries before a temporarily failing message is given up as failed.
const MAX_ATTEMPTS: i64 = 5;

/// A clock the sender reads at its edges (tests fix it).
pub type ClockFn = Arc<dyn Fn() -> i64 + Send + Sync>;

/// What one pass over a broadcast did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    pub sent: u64,
    pub failed: u64,
    pub skipped: u64,
    pub deferred: u64,
    pub retried: u64,
    /// Whether the broadcast has nothing left and is now `sent`.
    pub finished: bool,
}

/// What the sender keeps per broadcast while it sends.
struct Prepared_ {
    content: Content,
    prepared: Prepared,
    rules: SendingRules,
    dkim: Option<DkimKey>,
    link_key: Vec<u8>,
    mailer: Arc<Mailer>,
    concurrency: i64,
}

/// Mailers per (workspace, provider), with the settings each was made
/// from: a provider whose settings changed (an admin fixing a refused
/// login) gets a new mailer.
type Mailers = HashMap<(i64, i64), (SmtpConfig, Arc<Mailer>)>;

/// The sender of one process.
pub struct Sender {
    db: Db,
    clock: ClockFn,
    ready: Mutex<HashMap<(i64, i64), Arc<Prepared_>>>,
    mailers: Mutex<Mailers>,
    /// People per batch per connection: rows in flight at a crash are at
    /// most this times the provider's concurrency.
    per_connection: i64,
    /// Set when `run` is asked to stop: no new batch is claimed.
    stopping: AtomicBool,
}

impl Sender {
    pub fn new(db: Db, clock: ClockFn) -> Sender {
        Sender {
            db,
            clock,
            ready: Mutex::new(HashMap::new()),
            mailers: Mutex::new(HashMap::new()),
            per_connection: 4,
            stopping: AtomicBool::new(false),
        }
    }

    fn now(&self) -> i64 {
        (self.clock)()
    }

    /// Take the sender lease (waiting while another process holds it),
    /// settle what a previous run left in flight, then work due broadcasts
    /// every `interval` until `stop` resolves. Once it has, no new batch is
    /// claimed, and the batch on the wire is sent and settled before `run`
    /// returns, so a graceful stop leaves nothing uncertain.
    pub async fn run(self: Arc<Self>, interval: Duration, stop: impl Future<Output = ()>) {
        tokio::pin!(stop);
        let _lease: Lease = loop {
            match self.db.try_lease(SENDER_LEASE).await {
                Ok(Some(lease)) => break lease,
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "the sender could not ask for its lease"),
            }
            tokio::select! {
                _ = &mut stop => return,
                _ = tokio::time::sleep(interval * 5) => {}
            }
        };
        let recovered = match self.recover().await {
            Ok(n) => n,
            Err(e) => {
                tracing::error!(error = %e.message, "the sender could not settle messages left in flight");
                0
            }
        };
        tracing::info!(
            recovered_as_uncertain = recovered,
            "the sender holds its lease and is sending"
        );
        loop {
            let tick = self.tick();
            tokio::pin!(tick);
            let ticked = tokio::select! {
                r = &mut tick => r,
                _ = &mut stop => {
                    // The tick ends at its next claim; the batch on the wire still settles.
                    self.stopping.store(true, Ordering::SeqCst);
                    if let Err(e) = tick.await {
                        tracing::error!(code = e.code, error = %e.message, "sending failed while stopping");
                    }
                    return;
                }
            };
            if let Err(e) = ticked {
                tracing::error!(code = e.code, error = %e.message, "sending failed; retrying");
            }
            tokio::select! {
                _ = &mut stop => return,
                _ = tokio::time::sleep(interval) => {}
            }
        }
    }

    /// Rows a previous run left `sending` become `uncertain`. Call only
    /// while holding the lease (`run` does).
    pub async fn recover(&self) -> Result<u64, AppError> {
        let now = self.now();
        let mut n = 0;
        for (ws, id, _) in repo::due_broadcasts(self.db.conn(), i64::MIN).await? {
            n += ledger::recover_in_flight(self.db.conn(), ws, id, now).await?;
        }
        for (ws, id) in repo::paused_broadcasts(self.db.conn()).await? {
            n += ledger::recover_in_flight(self.db.conn(), ws, id, now).await?;
        }
        if n > 0 {
            tracing::warn!(
                messages = n,
                "messages were in flight when the sender last stopped; marked uncertain, not re-sent"
            );
        }
        Ok(n)
    }

    /// Begin scheduled broadcasts that are due, then work each sending one
    /// until nothing more can go now.
    pub async fn tick(&self) -> Result<(), AppError> {
        for (ws, id, status) in repo::due_broadcasts(self.db.conn(), self.now()).await? {
            if self.stopping.load(Ordering::SeqCst) {
                break;
            }
            if status == BroadcastStatus::Scheduled.as_str() {
                super::broadcast::begin_scheduled(&self.db, ws, id, self.now()).await?;
            }
            self.work(ws, id).await?;
        }
        Ok(())
    }

    /// Send a broadcast's waiting people until none can go now (the rest
    /// wait for quiet hours or a retry), it is paused or cancelled, or the
    /// sender is stopping.
    pub async fn work(&self, ws: i64, id: i64) -> Result<Progress, AppError> {
        let mut total = Progress::default();
        loop {
            if self.stopping.load(Ordering::SeqCst) {
                return Ok(total);
            }
            let b = broadcast_or_404(self.db.conn(), ws, id, false).await?;
            if status_of(&b) != BroadcastStatus::Sending {
                self.forget(ws, id);
                return Ok(total);
            }
            let ready = self.ready(ws, id).await?;
            let step = self.batch(ws, id, &ready).await?;
            total.sent += step.sent;
            total.failed += step.failed;
            total.skipped += step.skipped;
            total.deferred += step.deferred;
            total.retried += step.retried;
            if step == Progress::default() {
                let (pending, _) = ledger::pending(self.db.conn(), ws, id).await?;
                if pending == 0 {
                    let mut tx = self.db.begin().await?;
                    if repo::set_status(tx.conn(), ws, id, &["sending"], "sent", self.now()).await?
                    {
                        Actor::system(ws)
                            .log(
                                &mut tx,
                                "finish",
                                pitcrew_core::admin::ObjectType::Broadcast,
                                id,
                                json!({}),
                                self.now(),
                            )
                            .await?;
                    }
                    tx.commit().await?;
                    self.forget(ws, id);
                    total.finished = true;
                }
                return Ok(total);
            }
        }
    }

    fn forget(&self, ws: i64, id: i64) {
        if let Ok(mut m) = self.ready.lock() {
            m.remove(&(ws, id));
        }
    }

    /// The broadcast's frozen content, prepared once, with its keys and mailer.
    async fn ready(&self, ws: i64, id: i64) -> Result<Arc<Prepared_>, AppError> {
        if let Some(r) = self
            .ready
            .lock()
            .ok()
            .and_then(|m| m.get(&(ws, id)).cloned())
        {
            return Ok(r);
        }
        let b = broadcast_or_404(self.db.conn(), ws, id, false).await?;
        let content: Content = b
            .content
            .clone()
            .and_then(|v| serde_json::from_value(v).ok())
            .ok_or_else(|| {
                AppError::internal(format!(
                    "broadcast {id} is sending but has no frozen content"
                ))
            })?;
        let prepared = render::prepare(
            &content.subject,
            content.format,
            &content.body,
            &content.text_body,
        )
        .map_err(|e| {
            AppError::internal(format!("broadcast {id}'s template no longer renders: {e}"))
        })?;
        let rules = rules_of(self.db.conn(), ws).await?;
        let dkim = match dkim_of(self.db.conn(), ws).await? {
            Some(d) => Some(
                DkimKey::new(&d.domain, &d.selector, &d.private_key).map_err(|e| {
                    AppError::internal(format!("the workspace's DKIM key is unusable: {e}"))
                })?,
            ),
            None => None,
        };
        let link_key = link_key(self.db.conn(), ws, self.now()).await?;
        let provider = stored_provider(self.db.conn(), ws, content.provider_id).await?;
        let mailer = self.mailer(ws, &provider).await?;
        let ready = Arc::new(Prepared_ {
            content,
            prepared,
            rules,
            dkim,
            link_key,
            mailer,
            concurrency: provider.concurrency.max(1),
        });
        if let Ok(mut m) = self.ready.lock() {
            m.insert((ws, id), ready.clone());
        }
        Ok(ready)
    }

    async fn mailer(
        &self,
        ws: i64,
        p: &pitcrew_store::campaign::provider::StoredProvider,
    ) -> Result<Arc<Mailer>, AppError> {
        let cfg = smtp_config(p);
        if let Some(m) = self.mailers.lock().ok().and_then(|m| {
            m.get(&(ws, p.id))
                .filter(|(made_from, _)| *made_from == cfg)
                .map(|(_, mailer)| mailer.clone())
        }) {
            return Ok(m);
        }
        let hour_ago = self.now() - 3_600_000;
        let sent = ledger::sent_through_provider(self.db.conn(), ws, p.id, hour_ago).await?;
        let mailer = Mailer::with_history(&cfg, u32::try_from(sent).unwrap_or(u32::MAX))
            .map_err(|e| AppError::invalid(e.code(), "provider_id", e.to_string()))?;
        let mailer = Arc::new(mailer);
        if let Ok(mut m) = self.mailers.lock() {
            m.insert((ws, p.id), (cfg, mailer.clone()));
        }
        Ok(mailer)
    }

    /// Claim, check again, render, send and settle one batch.
    async fn batch(&self, ws: i64, id: i64, ready: &Arc<Prepared_>) -> Result<Progress, AppError> {
        let now = self.now();
        let limit = self.per_connection * ready.concurrency;
        let mut tx = self.db.begin().await?;
        let claimed = ledger::claim(tx.conn(), ws, id, now, limit).await?;
        tx.commit().await?;
        if claimed.is_empty() {
            return Ok(Progress::default());
        }
        let mut progress = Progress::default();
        let mut outcomes = Vec::with_capacity(claimed.len());
        let mut people = self.people(ws, &claimed).await?;
        let ids: Vec<i64> = claimed.iter().map(|r| r.contact_id).collect();
        let emails: Vec<String> = claimed.iter().map(|r| r.email.clone()).collect();
        let topic = ready.content.topic.as_str();
        let consent =
            pitcrew_store::campaign::consent::choices_for(self.db.conn(), ws, topic, "email", &ids)
                .await?;
        let suppressed: HashMap<String, SuppressionReason> =
            super::suppression::suppressed_among(self.db.conn(), ws, Some(topic), &emails).await?;
        let workspace_zone = crate::audience::zone_of(self.db.conn(), ws).await?;
        let mut sends = JoinSet::new();
        for r in claimed {
            let Some((fields, account)) = people.remove(&r.contact_id) else {
                outcomes.push(skip(&r, SkipReason::NoEmail, "the contact was deleted"));
                progress.skipped += 1;
                continue;
            };
            let country = fields.get("country").and_then(Value::as_str);
            if let Some(reason) = suppressed.get(&r.email) {
                let why = SkipReason::for_suppression(*reason);
                outcomes.push(skip(&r, why, "suppressed after the broadcast started"));
                progress.skipped += 1;
                continue;
            }
            if !consented(&consent, &ready.rules, r.contact_id, country) {
                outcomes.push(skip(
                    &r,
                    SkipReason::NoConsent,
                    "opted out after the broadcast started",
                ));
                progress.skipped += 1;
                continue;
            }
            let zone = contact_zone(
                fields.get("timezone").and_then(Value::as_str),
                country,
                &workspace_zone,
            );
            if let Some(until) = ready
                .rules
                .quiet_hours
                .and_then(|q| q.defer_until(now, &zone))
            {
                outcomes.push(Outcome {
                    contact_id: r.contact_id,
                    state: RecipientState::Deferred.as_str(),
                    reason: "",
                    detail: format!(
                        "quiet hours in {} until {}",
                        zone.iana_name().unwrap_or("their time zone"),
                        pitcrew_core::time::format_ms(until)
                    ),
                    message_id: None,
                    sent_at: None,
                    not_before: until,
                });
                progress.deferred += 1;
                continue;
            }
            // Rendering and signing are most of an email's CPU: they run
            // on the blocking pool, so a batch uses every core and the
            // async workers stay free for requests.
            let ready = ready.clone();
            sends.spawn(async move {
                let composed = tokio::task::spawn_blocking({
                    let (r, ready) = (r.clone(), ready.clone());
                    move || {
                        let outgoing = compose(ws, id, &r, &fields, account.as_ref(), &ready)?;
                        let email = message::build(&outgoing, ready.dkim.as_ref())
                            .map_err(|e| e.to_string())?;
                        Ok::<_, String>((outgoing.message_id, email))
                    }
                })
                .await
                .unwrap_or_else(|e| Err(format!("rendering stopped: {e}")));
                let sent = match composed {
                    Ok((message_id, email)) => Ok((message_id, ready.mailer.send(&email).await)),
                    Err(why) => Err(why),
                };
                (r, sent)
            });
        }
        let mut config_error = None;
        while let Some(joined) = sends.join_next().await {
            let (r, sent) =
                joined.map_err(|e| AppError::internal(format!("a send task failed: {e}")))?;
            let (message_id, result) = match sent {
                Ok(sent) => sent,
                Err(why) => {
                    outcomes.push(skip(&r, SkipReason::RenderFailed, &why));
                    progress.skipped += 1;
                    continue;
                }
            };
            let done = self.now();
            outcomes.push(match result {
                Ok(()) => {
                    progress.sent += 1;
                    Outcome {
                        contact_id: r.contact_id,
                        state: RecipientState::Sent.as_str(),
                        reason: "",
                        detail: String::new(),
                        message_id: Some(message_id),
                        sent_at: Some(done),
                        not_before: 0,
                    }
                }
                Err(SendError::Permanent(why)) => {
                    progress.failed += 1;
                    Outcome {
                        contact_id: r.contact_id,
                        state: RecipientState::Failed.as_str(),
                        reason: "",
                        detail: why,
                        message_id: Some(message_id),
                        sent_at: None,
                        not_before: 0,
                    }
                }
                Err(e) => {
                    if let SendError::Config(why) = &e {
                        config_error = Some(why.clone());
                    }
                    retry(&r, &e.to_string(), done, &mut progress)
                }
            });
        }
        let mut tx = self.db.begin().await?;
        ledger::settle(tx.conn(), ws, id, &outcomes, self.now()).await?;
        if let Some(why) = config_error {
            // Nothing gets through until an admin fixes the provider: pause rather than burn retries.
            if repo::set_status(tx.conn(), ws, id, &["sending"], "paused", self.now()).await? {
                Actor::system(ws)
                    .log(
                        &mut tx,
                        "paused",
                        pitcrew_core::admin::ObjectType::Broadcast,
                        id,
                        json!({"reason": format!("the SMTP settings do not work: {why}")}),
                        self.now(),
                    )
                    .await?;
            }
        }
        tx.commit().await?;
        Ok(progress)
    }

    /// Fields and account fields of the claimed people, by contact id.
    async fn people(
        &self,
        ws: i64,
        claimed: &[Recipient],
    ) -> Result<HashMap<i64, (Map<String, Value>, Option<Map<String, Value>>)>, AppError> {
        let ids: Vec<String> = claimed.iter().map(|r| r.contact_id.to_string()).collect();
        let contacts = records(&self.db, ws, ObjectKind::Contact, &ids).await?;
        let account_ids: Vec<String> = contacts
            .iter()
            .filter_map(|c| c.account_id.map(|a| a.to_string()))
            .collect();
        let accounts: HashMap<i64, Map<String, Value>> =
            records(&self.db, ws, ObjectKind::Account, &account_ids)
                .await?
                .into_iter()
                .map(|a| (a.id, a.fields))
                .collect();
        Ok(contacts
            .into_iter()
            .map(|c| {
                let account = c.account_id.and_then(|a| accounts.get(&a).cloned());
                (c.id, (c.fields, account))
            })
            .collect())
    }
}

/// Records by id (ids are integers written into the query).
async fn records(
    db: &Db,
    ws: i64,
    object: ObjectKind,
    ids: &[String],
) -> Result<Vec<StoredRecord>, AppError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(pitcrew_store::audience::member_page(
        db.conn(),
        ws,
        object,
        &ids.join(", "),
        PageStart::After(0),
        ids.len() as i64,
    )
    .await?)
}

fn skip(r: &Recipient, reason: SkipReason, detail: &str) -> Outcome {
    Outcome {
        contact_id: r.contact_id,
        state: RecipientState::Skipped.as_str(),
        reason: reason.as_str(),
        detail: detail.to_string(),
        message_id: None,
        sent_at: None,
        not_before: 0,
    }
}

/// A temporary failure goes back to the queue with a growing wait, and
/// fails for good after `MAX_ATTEMPTS` tries.
fn retry(r: &Recipient, why: &str, now: i64, progress: &mut Progress) -> Outcome {
    if r.attempts >= MAX_ATTEMPTS {
        progress.failed += 1;
        return Outcome {
            contact_id: r.contact_id,
            state: RecipientState::Failed.as_str(),
            reason: "",
            detail: format!("gave up after {} tries: {why}", r.attempts),
            message_id: None,
            sent_at: None,
            not_before: 0,
        };
    }
    progress.retried += 1;
    let wait_minutes = [1, 5, 15, 60][usize::try_from(r.attempts - 1).unwrap_or(0).min(3)];
    Outcome {
        contact_id: r.contact_id,
        state: RecipientState::Queued.as_str(),
        reason: "",
        detail: format!("try {} failed: {why}", r.attempts),
        message_id: None,
        sent_at: None,
        not_before: now + wait_minutes * 60_000,
    }
}

/// The links a message carries for one person.
pub(crate) struct PersonLinks {
    pub unsubscribe_url: String,
    pub preferences_url: String,
    pub unsubscribe_mailto: Option<String>,
}

pub(crate) fn person_links(
    key: &[u8],
    content: &Content,
    ws: i64,
    broadcast_id: i64,
    contact_id: i64,
) -> PersonLinks {
    let claims = Claims {
        workspace_id: ws,
        broadcast_id,
        contact_id,
        url: None,
    };
    let t = token::sign(key, Purpose::Unsubscribe, &claims);
    let base = &content.public_url;
    PersonLinks {
        unsubscribe_url: format!("{base}/u/{t}"),
        preferences_url: format!("{base}/u/{t}/preferences"),
        unsubscribe_mailto: (!content.unsubscribe_mailbox.is_empty()).then(|| {
            format!(
                "mailto:{}?subject=unsubscribe%20{t}",
                content.unsubscribe_mailbox
            )
        }),
    }
}

/// Render one person's email.
fn compose(
    ws: i64,
    id: i64,
    r: &Recipient,
    fields: &Map<String, Value>,
    account: Option<&Map<String, Value>>,
    ready: &Prepared_,
) -> Result<Outgoing, String> {
    let c = &ready.content;
    let links = person_links(&ready.link_key, c, ws, id, r.contact_id);
    let personal = personal(fields, account, c, &links);
    let key = &ready.link_key;
    let track = move |url: &str| {
        // A link too long to carry in a token is left as written, untracked.
        if url.len() > token::MAX_URL_LEN {
            return url.to_string();
        }
        let claims = Claims {
            workspace_id: ws,
            broadcast_id: id,
            contact_id: r.contact_id,
            url: Some(url.to_string()),
        };
        format!(
            "{}/t/c/{}",
            c.public_url,
            token::sign(key, Purpose::Click, &claims)
        )
    };
    let pixel = format!(
        "{}/t/o/{}",
        c.public_url,
        token::sign(
            key,
            Purpose::Open,
            &Claims {
                workspace_id: ws,
                broadcast_id: id,
                contact_id: r.contact_id,
                url: None
            }
        )
    );
    let policy = LinkPolicy {
        utm: &c.utm,
        track: c.tracking.then_some(&track as &dyn Fn(&str) -> String),
        open_pixel: c.tracking.then_some(pixel.as_str()),
    };
    let rendered = ready
        .prepared
        .render(&personal, &policy)
        .map_err(|e| e.to_string())?;
    let domain = c
        .from_email
        .rsplit_once('@')
        .map_or("localhost", |(_, d)| d);
    Ok(Outgoing {
        from_name: c.from_name.clone(),
        from_email: c.from_email.clone(),
        reply_to: (!c.reply_to.is_empty()).then(|| c.reply_to.clone()),
        to: r.email.clone(),
        subject: rendered.subject,
        html: rendered.html,
        text: rendered.text,
        message_id: message::message_id(domain),
        unsubscribe_url: links.unsubscribe_url,
        unsubscribe_mailto: links.unsubscribe_mailto,
        feedback_id: Some(format!("b{id}:w{ws}:pitcrew")),
    })
}

/// What a template sees of one person.
pub(crate) fn personal(
    fields: &Map<String, Value>,
    account: Option<&Map<String, Value>>,
    c: &Content,
    links: &PersonLinks,
) -> Personal {
    super::template::personal_for(
        fields,
        account,
        &c.postal_address,
        &links.unsubscribe_url,
        &links.preferences_url,
    )
}

/// One person's template variables, for the pre-launch sample.
pub(crate) async fn personal_of(
    db: &Db,
    ws: i64,
    contact_id: i64,
    c: &Content,
) -> Result<Personal, AppError> {
    let key = link_key(db.conn(), ws, crate::now_ms()).await?;
    let contacts = records(db, ws, ObjectKind::Contact, &[contact_id.to_string()]).await?;
    let Some(contact) = contacts.into_iter().next() else {
        return Err(AppError::not_found(
            "contact_not_found",
            format!("there is no contact {contact_id}"),
        ));
    };
    let account = match contact.account_id {
        Some(a) => records(db, ws, ObjectKind::Account, &[a.to_string()])
            .await?
            .into_iter()
            .next()
            .map(|a| a.fields),
        None => None,
    };
    let links = person_links(&key, c, ws, 0, contact_id);
    Ok(personal(&contact.fields, account.as_ref(), c, &links))
}

/// The SMTP settings of a stored provider.
pub(crate) fn smtp_config(p: &pitcrew_store::campaign::provider::StoredProvider) -> SmtpConfig {
    SmtpConfig {
        host: p.host.clone(),
        port: u16::try_from(p.port).unwrap_or(587),
        security: Security::parse(&p.security).unwrap_or(Security::Starttls),
        username: p.username.clone(),
        password: p.password.clone(),
        verify_tls: p.verify_tls,
        per_second: u32::try_from(p.per_second).unwrap_or(1),
        per_hour: u32::try_from(p.per_hour).unwrap_or(0),
        concurrency: u32::try_from(p.concurrency).unwrap_or(1).max(1),
    }
}

/// A test email: a template rendered as one contact and sent to a few
/// addresses through a provider, outside any broadcast and its ledger.
#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TestSend {
    /// Up to 10 addresses to send the test to.
    pub to: Vec<String>,
    /// The contact whose fields personalise it.
    pub contact_id: i64,
    pub subject: String,
    pub from_name: String,
    pub from_email: String,
    pub provider_id: i64,
}

/// Where a test email went.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct TestSent {
    pub sent: Vec<String>,
}

const TEST_RECIPIENTS: usize = 10;

pub async fn test_send(
    db: &Db,
    actor: &Actor,
    template_id: i64,
    t: TestSend,
    now: i64,
) -> Result<TestSent, AppError> {
    actor.require(pitcrew_core::admin::Action::ManageCampaigns)?;
    let ws = actor.workspace_id;
    if t.to.is_empty() || t.to.len() > TEST_RECIPIENTS {
        return Err(AppError::invalid(
            "test_recipients_invalid",
            "to",
            format!("list 1 to {TEST_RECIPIENTS} addresses to send the test to"),
        ));
    }
    for (i, a) in t.to.iter().enumerate() {
        if !pitcrew_core::campaign::is_sendable_address(a.trim()) {
            return Err(AppError::invalid(
                "email_invalid",
                &format!("to[{i}]"),
                format!("`{a}` is not an email address"),
            ));
        }
    }
    if !pitcrew_core::campaign::is_sendable_address(t.from_email.trim()) {
        return Err(AppError::invalid(
            "email_invalid",
            "from_email",
            "give the From address the test is sent from",
        ));
    }
    let rendered =
        super::template::preview_template(db, actor, template_id, t.contact_id, &t.subject, now)
            .await?;
    let provider = stored_provider(db.conn(), ws, t.provider_id)
        .await
        .map_err(|e| e.at("provider_id"))?;
    let dkim = match dkim_of(db.conn(), ws).await? {
        Some(d) => DkimKey::new(&d.domain, &d.selector, &d.private_key).ok(),
        None => None,
    };
    let mailer = Mailer::new(&smtp_config(&provider))
        .map_err(|e| AppError::invalid(e.code(), "provider_id", e.to_string()))?;
    let rules = rules_of(db.conn(), ws).await?;
    let base = rules.public_url.trim_end_matches('/');
    let domain = t
        .from_email
        .rsplit_once('@')
        .map_or("localhost", |(_, d)| d);
    let mut sent = Vec::new();
    for to in &t.to {
        let outgoing = Outgoing {
            from_name: t.from_name.clone(),
            from_email: t.from_email.trim().to_string(),
            reply_to: None,
            to: to.trim().to_string(),
            subject: format!("[Test] {}", rendered.subject),
            html: rendered.html.clone(),
            text: rendered.text.clone(),
            message_id: message::message_id(domain),
            unsubscribe_url: format!("{base}/unsubscribe"),
            unsubscribe_mailto: None,
            feedback_id: None,
        };
        let msg = message::build(&outgoing, dkim.as_ref())
            .map_err(|e| AppError::invalid(e.code(), e.field(), e.to_string()))?;
        mailer.send(&msg).await.map_err(|e| {
            AppError::new(crate::ErrorKind::Conflict, e.code(), e.to_string()).at("provider_id")
        })?;
        sent.push(outgoing.to);
    }
    mailer.shutdown().await;
    Ok(TestSent { sent })
}
