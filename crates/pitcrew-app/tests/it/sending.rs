//! The rules around sending, end to end through a real SMTP server: the
//! frequency cap, quiet hours in each person's time zone, the consent
//! policy, the checks made again just before a message goes, retries of
//! temporary failures, pausing, cancelling and scheduling, approval, and
//! the pre-launch checks. Every case reads the decision log as a marketer
//! would.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use pitcrew_app::audience::{self, NewSegment, SegmentKind};
use pitcrew_app::campaign::broadcast::{self, Broadcast, BroadcastInput, Decision, Prelaunch};
use pitcrew_app::campaign::consent::{self, ConsentInput};
use pitcrew_app::campaign::provider::{self, ProviderInput};
use pitcrew_app::campaign::send::Sender;
use pitcrew_app::campaign::suppression;
use pitcrew_app::campaign::template::{self, TemplateInput};
use pitcrew_app::record::{NewField, create_field};
use pitcrew_app::{Actor, Db};
use pitcrew_core::admin::{Role, Workspace};
use pitcrew_core::campaign::consent::{ConsentSource, LegalBasis};
use pitcrew_core::campaign::guardrail::{CheckStatus, SendingRules};
use pitcrew_core::campaign::quiet::{FrequencyCap, QuietHours};
use pitcrew_core::campaign::{RecipientState, Security, SkipReason, SuppressionReason};
use pitcrew_core::time::{format_ms, parse_instant};
use pitcrew_store::record::StoredRecord;
use pitcrew_testkit::smtp::{Rejection, SmtpSink};
use serde_json::{Value, json};

use crate::{NOW, contact, member, new_workspace};

pub const PUBLIC: &str = "https://mail.acme.test";
pub const MINUTE: i64 = 60_000;
pub const HOUR: i64 = 60 * MINUTE;
pub const DAY: i64 = 24 * HOUR;

/// An email with one web link, the unsubscribe link and the postal address.
pub const BODY: &str = r#"<html><body>
<p>Hi {{ contact.first_name | default("there") }},</p>
<p>Our <a href="https://acme.test/spring?ref=mail">spring range</a> is here.</p>
<p><a href="{{ unsubscribe_url }}">Unsubscribe</a> · {{ postal_address }}</p>
</body></html>"#;

/// A workspace ready to send: rules, a provider pointing at the sink, the
/// topic "Newsletter", a template and an empty static list.
pub struct Setup {
    pub ws: Workspace,
    pub admin: Actor,
    pub marketer: Actor,
    pub list: i64,
    pub template: i64,
    pub provider: i64,
}

/// Sending rules with what every broadcast needs; tests change the rest.
pub fn rules() -> SendingRules {
    SendingRules {
        postal_address: "Acme GmbH, Hauptstr. 1, 10115 Berlin".into(),
        public_url: PUBLIC.into(),
        unsubscribe_mailbox: "unsubscribe@acme.test".into(),
        ..SendingRules::default()
    }
}

pub fn provider_input(sink: &SmtpSink) -> ProviderInput {
    ProviderInput {
        name: "Sink".into(),
        host: "127.0.0.1".into(),
        port: sink.port(),
        security: Security::None,
        verify_tls: true,
        username: String::new(),
        password: None,
        per_second: 1000,
        per_hour: 0,
        concurrency: 2,
    }
}

pub async fn setup(db: &Db, sink: &SmtpSink, rules: SendingRules) -> Setup {
    let ws = new_workspace(db, "acme").await;
    let admin = member(db, &ws, "admin@acme.test", Role::Admin).await;
    let marketer = member(db, &ws, "mia@acme.test", Role::Marketer).await;
    provider::set_sending_rules(db, &admin, rules, NOW)
        .await
        .expect("rules");
    let p = provider::create_provider(db, &admin, provider_input(sink), NOW)
        .await
        .expect("provider");
    consent::create_topic(db, &admin, "Newsletter", "Monthly news", NOW)
        .await
        .expect("topic");
    let t = new_template(db, &marketer, "Spring", BODY).await;
    let list = new_list(db, &marketer, "Spring list", Vec::new()).await;
    Setup {
        ws,
        admin,
        marketer,
        list,
        template: t,
        provider: p.id,
    }
}

pub async fn new_template(db: &Db, actor: &Actor, name: &str, body: &str) -> i64 {
    template::create_template(
        db,
        actor,
        TemplateInput {
            name: name.into(),
            format: "html".into(),
            body: body.into(),
            text_body: String::new(),
        },
        NOW,
    )
    .await
    .expect("template")
    .id
}

/// A static list holding `members`.
pub async fn new_list(db: &Db, actor: &Actor, name: &str, members: Vec<i64>) -> i64 {
    let list = audience::create_segment(
        db,
        actor,
        NewSegment {
            name: name.into(),
            description: String::new(),
            kind: SegmentKind::Static,
            subject: None,
            definition: None,
        },
        NOW,
    )
    .await
    .expect("list");
    if !members.is_empty() {
        audience::add_list_members(db, actor, list.id, members, NOW)
            .await
            .expect("members");
    }
    list.id
}

/// A custom text field on contacts.
pub async fn text_field(db: &Db, actor: &Actor, key: &str) {
    let new: NewField = serde_json::from_value(
        json!({"object": "contact", "key": key, "label": key, "type": "text"}),
    )
    .expect("field");
    create_field(db, actor, new, NOW).await.expect("field");
}

pub async fn opt_in(db: &Db, actor: &Actor, contact_id: i64, basis: LegalBasis) {
    consent::record_consent(
        db,
        actor,
        contact_id,
        ConsentInput::opt_in(
            "Newsletter",
            basis,
            ConsentSource::Form,
            "Send me the monthly newsletter",
        ),
        NOW,
    )
    .await
    .expect("opt in");
}

/// A contact opted in to the newsletter by explicit consent.
pub async fn subscriber(db: &Db, actor: &Actor, fields: Value) -> StoredRecord {
    let c = contact(db, actor, fields).await;
    opt_in(db, actor, c.id, LegalBasis::Consent).await;
    c
}

pub fn input(s: &Setup, list: i64) -> BroadcastInput {
    BroadcastInput {
        name: "Spring launch".into(),
        template_id: Some(s.template),
        subject: "Spring is here, {{ contact.first_name | default(\"friend\") }}".into(),
        from_name: "Acme".into(),
        from_email: "news@acme.test".into(),
        reply_to: String::new(),
        topic: "Newsletter".into(),
        segments: vec![list],
        exclusions: vec![],
        provider_id: Some(s.provider),
        tracking: true,
        utm: [
            ("utm_source", "newsletter"),
            ("utm_medium", "email"),
            ("utm_campaign", "spring"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect(),
        scheduled_at: None,
    }
}

/// Create, approve (as the admin) and start a broadcast at `now`.
pub async fn launch(db: &Db, s: &Setup, i: BroadcastInput, now: i64) -> Broadcast {
    let b = broadcast::create_broadcast(db, &s.marketer, i, now)
        .await
        .expect("create");
    broadcast::approve(db, &s.admin, b.id, now)
        .await
        .expect("approve");
    broadcast::start(db, &s.marketer, b.id, now)
        .await
        .expect("start")
}

/// The sender's clock, moved by the test.
#[derive(Clone)]
pub struct Clock(Arc<AtomicI64>);

impl Clock {
    pub fn at(ms: i64) -> Clock {
        Clock(Arc::new(AtomicI64::new(ms)))
    }

    pub fn set(&self, ms: i64) {
        self.0.store(ms, Ordering::SeqCst);
    }

    pub fn sender(&self, db: &Db) -> Sender {
        let clock = self.0.clone();
        Sender::new(db.clone(), Arc::new(move || clock.load(Ordering::SeqCst)))
    }
}

pub fn instant(s: &str) -> i64 {
    parse_instant(s).expect("an instant").as_millisecond()
}

pub fn check<'a>(p: &'a Prelaunch, code: &str) -> &'a pitcrew_core::campaign::guardrail::Check {
    p.checks
        .iter()
        .find(|c| c.code == code)
        .unwrap_or_else(|| panic!("no check {code} in {:#?}", p.checks))
}

pub fn count_of(p: &Prelaunch, code: &str) -> i64 {
    check(p, code)
        .count
        .unwrap_or_else(|| panic!("no count for {code}"))
}

pub async fn decision(db: &Db, actor: &Actor, broadcast_id: i64, contact_id: i64) -> Decision {
    broadcast::decision(db, actor, broadcast_id, contact_id)
        .await
        .expect("decision")
}

/// When a ledger row may go next (the decision shows it in words only).
async fn not_before(db: &Db, s: &Setup, broadcast_id: i64, contact_id: i64) -> i64 {
    pitcrew_store::campaign::ledger::recipient_of(db.conn(), s.ws.id, broadcast_id, contact_id)
        .await
        .expect("ledger")
        .expect("a ledger row")
        .not_before
}

fn recipients_of(sink: &SmtpSink) -> Vec<String> {
    let mut to: Vec<String> = sink
        .messages()
        .iter()
        .flat_map(|r| r.rcpt_to.clone())
        .collect();
    to.sort();
    to
}

async fn status(db: &Db, actor: &Actor, id: i64) -> String {
    broadcast::get_broadcast(db, actor, id)
        .await
        .expect("broadcast")
        .status
        .as_str()
        .to_string()
}

// ---- frequency cap -----------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn frequency_cap_skips_a_person_sent_recently_until_the_window_passes() {
    for t in pitcrew_testkit::each_engine().await {
        let db = &t.db;
        let sink = SmtpSink::start().await;
        let s = setup(
            db,
            &sink,
            SendingRules {
                frequency_cap: Some(FrequencyCap { max: 1, days: 7 }),
                ..rules()
            },
        )
        .await;
        let m = &s.marketer;
        let ana = subscriber(db, m, json!({"email": "ana@example.com", "country": "US"})).await;
        let ben = subscriber(db, m, json!({"email": "ben@example.com", "country": "US"})).await;
        let only_ana = new_list(db, m, "Ana", vec![ana.id]).await;
        let both = new_list(db, m, "Both", vec![ana.id, ben.id]).await;
        let clock = Clock::at(NOW + MINUTE);
        let sender = clock.sender(db);

        let a = launch(db, &s, input(&s, only_ana), NOW).await;
        sender.work(s.ws.id, a.id).await.expect("send A");
        assert_eq!(
            recipients_of(&sink),
            ["ana@example.com"],
            "{:?}",
            t.engine()
        );

        // A day later Ana has had her one email this week; Ben has not.
        let day_later = NOW + DAY;
        let b = broadcast::create_broadcast(db, m, input(&s, both), day_later)
            .await
            .expect("create B");
        let p = broadcast::prelaunch(db, m, b.id, day_later)
            .await
            .expect("checks");
        assert_eq!(count_of(&p, "excluded_frequency_cap"), 1, "{p:#?}");
        assert_eq!(
            check(&p, "excluded_frequency_cap").status,
            CheckStatus::Warning
        );
        assert_eq!((p.audience, p.will_send), (2, 1));
        broadcast::start(db, m, b.id, day_later)
            .await
            .expect("start B (not the first send, below the threshold)");
        clock.set(day_later + MINUTE);
        sender.work(s.ws.id, b.id).await.expect("send B");
        let d = decision(db, m, b.id, ana.id).await;
        assert_eq!(
            (d.state, d.reason),
            (RecipientState::Skipped, Some(SkipReason::FrequencyCap))
        );
        assert!(d.explanation.contains("frequency cap"), "{}", d.explanation);
        assert_eq!(
            decision(db, m, b.id, ben.id).await.state,
            RecipientState::Sent
        );

        // Eight days after A the window has passed for Ana, but Ben had B a moment ago.
        let week_later = NOW + 8 * DAY;
        let c = broadcast::create_broadcast(db, m, input(&s, both), week_later)
            .await
            .expect("create C");
        let p = broadcast::prelaunch(db, m, c.id, week_later)
            .await
            .expect("checks");
        assert_eq!(count_of(&p, "excluded_frequency_cap"), 1, "{p:#?}");
        broadcast::start(db, m, c.id, week_later)
            .await
            .expect("start C");
        assert_eq!(
            decision(db, m, c.id, ana.id).await.state,
            RecipientState::Queued
        );
        assert_eq!(
            decision(db, m, c.id, ben.id).await.reason,
            Some(SkipReason::FrequencyCap)
        );
    }
}

// ---- quiet hours ----------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn quiet_hours_defer_a_tokyo_contact_to_eight_in_the_morning_while_new_york_is_sent_at_once()
{
    for t in pitcrew_testkit::each_engine().await {
        let db = &t.db;
        let sink = SmtpSink::start().await;
        let s = setup(
            db,
            &sink,
            SendingRules {
                quiet_hours: Some(QuietHours {
                    start_minute: 21 * 60,
                    end_minute: 8 * 60,
                }),
                ..rules()
            },
        )
        .await;
        let m = &s.marketer;
        text_field(db, &s.admin, "timezone").await;
        // Her own time zone wins over her country's.
        let yui = subscriber(
            db,
            m,
            json!({"email": "yui@example.jp", "timezone": "Asia/Tokyo", "country": "US"}),
        )
        .await;
        let nina = subscriber(db, m, json!({"email": "nina@example.com", "country": "US"})).await;
        let list = new_list(db, m, "Both", vec![yui.id, nina.id]).await;

        // Started at 09:00 in Tokyo and 19:00 in New York: nobody is in quiet hours yet.
        let b = launch(db, &s, input(&s, list), NOW).await;
        assert_eq!(
            decision(db, m, b.id, yui.id).await.state,
            RecipientState::Queued
        );

        // The sender gets to them at 23:00 in Tokyo, 09:00 in New York.
        let late_in_tokyo = instant("2026-01-01T14:00:00Z");
        let tokyo_morning = instant("2026-01-01T23:00:00Z");
        let clock = Clock::at(late_in_tokyo);
        let sender = clock.sender(db);
        let progress = sender.work(s.ws.id, b.id).await.expect("send");
        assert_eq!(
            (progress.sent, progress.deferred, progress.finished),
            (1, 1, false),
            "{progress:?}"
        );
        assert_eq!(recipients_of(&sink), ["nina@example.com"]);
        let d = decision(db, m, b.id, yui.id).await;
        assert_eq!(d.state, RecipientState::Deferred);
        assert_eq!(
            d.explanation,
            format!(
                "waiting: quiet hours in Asia/Tokyo until {}",
                format_ms(tokyo_morning)
            )
        );
        assert_eq!(not_before(db, &s, b.id, yui.id).await, tokyo_morning);
        assert_eq!(status(db, m, b.id).await, "sending");

        // Still night in Tokyo a minute before eight: nothing goes.
        clock.set(tokyo_morning - MINUTE);
        let progress = sender.work(s.ws.id, b.id).await.expect("send");
        assert_eq!(progress.sent, 0, "{progress:?}");
        assert_eq!(sink.count(), 1);

        clock.set(tokyo_morning + MINUTE);
        let progress = sender.work(s.ws.id, b.id).await.expect("send");
        assert_eq!((progress.sent, progress.finished), (1, true));
        assert_eq!(recipients_of(&sink), ["nina@example.com", "yui@example.jp"]);
        let d = decision(db, m, b.id, yui.id).await;
        assert_eq!(d.state, RecipientState::Sent);
        assert_eq!(
            d.sent_at.as_deref(),
            Some(format_ms(tokyo_morning + MINUTE).as_str())
        );
        // Waiting out the night was not a failed try.
        assert_eq!(d.attempts, 1, "{d:?}");
        assert_eq!(status(db, m, b.id).await, "sent");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_broadcast_started_during_quiet_hours_defers_only_those_asleep() {
    for t in pitcrew_testkit::each_engine().await {
        let db = &t.db;
        let sink = SmtpSink::start().await;
        let s = setup(
            db,
            &sink,
            SendingRules {
                quiet_hours: Some(QuietHours {
                    start_minute: 21 * 60,
                    end_minute: 8 * 60,
                }),
                ..rules()
            },
        )
        .await;
        let m = &s.marketer;
        // No time zone of her own: her country's is used.
        let yui = subscriber(db, m, json!({"email": "yui@example.jp", "country": "JP"})).await;
        let nina = subscriber(db, m, json!({"email": "nina@example.com", "country": "US"})).await;
        let list = new_list(db, m, "Both", vec![yui.id, nina.id]).await;
        let late_in_tokyo = instant("2026-01-01T14:00:00Z");
        let b = broadcast::create_broadcast(db, m, input(&s, list), late_in_tokyo)
            .await
            .expect("create");
        broadcast::approve(db, &s.admin, b.id, late_in_tokyo)
            .await
            .expect("approve");
        let p = broadcast::prelaunch(db, m, b.id, late_in_tokyo)
            .await
            .expect("checks");
        assert_eq!(count_of(&p, "quiet_hours"), 1, "{p:#?}");
        assert_eq!(p.will_send, 2, "deferred people are still sent the email");
        broadcast::start(db, m, b.id, late_in_tokyo)
            .await
            .expect("start");
        let d = decision(db, m, b.id, yui.id).await;
        assert_eq!(d.state, RecipientState::Deferred, "{:?}", t.engine());
        assert!(d.explanation.contains("Asia/Tokyo"), "{}", d.explanation);

        let clock = Clock::at(late_in_tokyo + MINUTE);
        let sender = clock.sender(db);
        sender.work(s.ws.id, b.id).await.expect("send");
        assert_eq!(recipients_of(&sink), ["nina@example.com"]);
        clock.set(instant("2026-01-01T23:00:00Z"));
        let progress = sender.work(s.ws.id, b.id).await.expect("send");
        assert_eq!((progress.sent, progress.finished), (1, true));
    }
}

// ---- consent policy ---------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn legitimate_interest_is_refused_in_the_eu_uk_and_canada_unless_the_policy_allows_it() {
    for t in pitcrew_testkit::each_engine().await {
        let db = &t.db;
        let sink = SmtpSink::start().await;
        let s = setup(db, &sink, rules()).await;
        let m = &s.marketer;
        let mut people = HashMap::new();
        for country in ["DE", "GB", "CA", "US"] {
            let c = contact(
                db,
                m,
                json!({"email": format!("{}@example.com", country.to_lowercase()), "country": country}),
            )
            .await;
            opt_in(db, m, c.id, LegalBasis::LegitimateInterest).await;
            people.insert(country, c.id);
        }
        let list = new_list(db, m, "All", people.values().copied().collect()).await;
        let b = broadcast::create_broadcast(db, m, input(&s, list), NOW)
            .await
            .expect("create");
        let p = broadcast::prelaunch(db, m, b.id, NOW)
            .await
            .expect("checks");
        assert_eq!((p.audience, p.will_send), (4, 1), "{:?}", t.engine());
        assert_eq!(count_of(&p, "excluded_no_consent"), 3);

        // The workspace's lawyers accept legitimate interest for Germany.
        let mut r = rules();
        r.consent_policy.countries.insert(
            "DE".into(),
            vec![LegalBasis::Consent, LegalBasis::LegitimateInterest],
        );
        provider::set_sending_rules(db, &s.admin, r, NOW)
            .await
            .expect("rules");
        let p = broadcast::prelaunch(db, m, b.id, NOW)
            .await
            .expect("checks");
        assert_eq!((p.audience, p.will_send), (4, 2), "{p:#?}");
        assert_eq!(count_of(&p, "excluded_no_consent"), 2);

        broadcast::approve(db, &s.admin, b.id, NOW)
            .await
            .expect("approve");
        broadcast::start(db, m, b.id, NOW).await.expect("start");
        Clock::at(NOW + MINUTE)
            .sender(db)
            .work(s.ws.id, b.id)
            .await
            .expect("send");
        assert_eq!(recipients_of(&sink), ["de@example.com", "us@example.com"]);
        let d = decision(db, m, b.id, people["GB"]).await;
        assert_eq!(
            (d.state, d.reason),
            (RecipientState::Skipped, Some(SkipReason::NoConsent))
        );
        assert!(d.explanation.contains("legal basis"), "{}", d.explanation);
    }
}

// ---- checks made again just before sending ---------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn an_unsubscribe_or_suppression_after_the_start_skips_the_person_at_send_time() {
    for t in pitcrew_testkit::each_engine().await {
        let db = &t.db;
        let sink = SmtpSink::start().await;
        let s = setup(db, &sink, rules()).await;
        let m = &s.marketer;
        let ana = subscriber(db, m, json!({"email": "ana@example.com", "country": "US"})).await;
        let ben = subscriber(db, m, json!({"email": "ben@example.com", "country": "US"})).await;
        let cleo = subscriber(db, m, json!({"email": "cleo@example.com", "country": "US"})).await;
        let dan = subscriber(db, m, json!({"email": "dan@example.com", "country": "US"})).await;
        let list = new_list(db, m, "All", vec![ana.id, ben.id, cleo.id, dan.id]).await;
        let b = launch(db, &s, input(&s, list), NOW).await;
        for id in [ana.id, ben.id, cleo.id, dan.id] {
            assert_eq!(
                decision(db, m, b.id, id).await.state,
                RecipientState::Queued
            );
        }

        // Between the start and the sender reaching them: Ben unsubscribes,
        // Cleo's address is suppressed by hand, Dan's bounces elsewhere.
        let later = NOW + MINUTE;
        consent::record_consent(
            db,
            m,
            ben.id,
            ConsentInput::opt_out("Newsletter", ConsentSource::UnsubscribeLink),
            later,
        )
        .await
        .expect("opt out");
        suppression::add_suppression(
            db,
            m,
            "cleo@example.com",
            None,
            SuppressionReason::Manual,
            "asked us by phone",
            later,
        )
        .await
        .expect("suppress");
        suppression::add_suppression(
            db,
            m,
            "dan@example.com",
            Some("Newsletter"),
            SuppressionReason::HardBounce,
            "",
            later,
        )
        .await
        .expect("suppress");

        let progress = Clock::at(later + MINUTE)
            .sender(db)
            .work(s.ws.id, b.id)
            .await
            .expect("send");
        assert_eq!(
            (progress.sent, progress.skipped, progress.finished),
            (1, 3, true),
            "{:?}: {progress:?}",
            t.engine()
        );
        assert_eq!(recipients_of(&sink), ["ana@example.com"]);
        let cases = [
            (ben.id, SkipReason::NoConsent, "opted out"),
            (cleo.id, SkipReason::Suppressed, "suppression list"),
            (dan.id, SkipReason::Bounced, "bounced"),
        ];
        for (id, reason, words) in cases {
            let d = decision(db, m, b.id, id).await;
            assert_eq!((d.state, d.reason), (RecipientState::Skipped, Some(reason)));
            assert!(d.explanation.contains(words), "{}", d.explanation);
            assert!(
                d.explanation.contains("after the broadcast started"),
                "{}",
                d.explanation
            );
        }
        let stats = broadcast::stats(db, m, b.id).await.expect("stats");
        assert_eq!(stats.sent, 1);
        assert_eq!(stats.skipped.get("no_consent"), Some(&1));
        assert_eq!(stats.skipped.get("suppressed"), Some(&1));
        assert_eq!(stats.skipped.get("bounced"), Some(&1));
    }
}

// ---- SMTP failures --------------------------------------------------------------------------

/// A sink whose refusals the test can change while it runs.
fn sink_refusing(
    refusals: &Arc<Mutex<HashMap<String, Rejection>>>,
) -> impl Fn(&str) -> Option<Rejection> + Send + Sync + 'static {
    let refusals = refusals.clone();
    move |to: &str| refusals.lock().ok().and_then(|r| r.get(to).copied())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_temporary_refusal_is_retried_later_and_a_permanent_one_fails_with_the_servers_words() {
    for t in pitcrew_testkit::each_engine().await {
        let db = &t.db;
        let refusals = Arc::new(Mutex::new(HashMap::from([
            ("busy@example.com".to_string(), Rejection::Temporary),
            ("gone@example.com".to_string(), Rejection::Permanent),
        ])));
        let sink = SmtpSink::builder()
            .reject(sink_refusing(&refusals))
            .start()
            .await;
        let s = setup(db, &sink, rules()).await;
        let m = &s.marketer;
        let ok = subscriber(db, m, json!({"email": "ok@example.com", "country": "US"})).await;
        let busy = subscriber(db, m, json!({"email": "busy@example.com", "country": "US"})).await;
        let gone = subscriber(db, m, json!({"email": "gone@example.com", "country": "US"})).await;
        let list = new_list(db, m, "All", vec![ok.id, busy.id, gone.id]).await;
        let b = launch(db, &s, input(&s, list), NOW).await;
        let first = NOW + MINUTE;
        let clock = Clock::at(first);
        let sender = clock.sender(db);

        let progress = sender.work(s.ws.id, b.id).await.expect("send");
        assert_eq!(
            (
                progress.sent,
                progress.failed,
                progress.retried,
                progress.finished
            ),
            (1, 1, 1, false),
            "{:?}: {progress:?}",
            t.engine()
        );
        assert_eq!(recipients_of(&sink), ["ok@example.com"]);

        let d = decision(db, m, b.id, gone.id).await;
        assert_eq!(d.state, RecipientState::Failed);
        assert!(
            d.explanation.contains("550") && d.explanation.contains("no such mailbox"),
            "the server's own words: {}",
            d.explanation
        );

        let d = decision(db, m, b.id, busy.id).await;
        assert_eq!((d.state, d.attempts), (RecipientState::Queued, 1), "{d:?}");
        assert!(
            d.explanation.contains("451") && d.explanation.contains("try again"),
            "says why it waits: {}",
            d.explanation
        );
        assert_eq!(not_before(db, &s, b.id, busy.id).await, first + MINUTE);

        // Before the wait is over, nothing is tried.
        let refused_so_far = sink.rejected();
        let progress = sender.work(s.ws.id, b.id).await.expect("send");
        assert_eq!(progress, Default::default());
        assert_eq!(sink.rejected(), refused_so_far);

        // The second try fails too and waits longer; the third gets through.
        clock.set(first + MINUTE);
        let progress = sender.work(s.ws.id, b.id).await.expect("send");
        assert_eq!(progress.retried, 1, "{progress:?}");
        let d = decision(db, m, b.id, busy.id).await;
        assert_eq!((d.state, d.attempts), (RecipientState::Queued, 2));
        assert_eq!(
            not_before(db, &s, b.id, busy.id).await,
            first + MINUTE + 5 * MINUTE
        );
        refusals.lock().expect("refusals").clear();
        clock.set(first + 6 * MINUTE);
        let progress = sender.work(s.ws.id, b.id).await.expect("send");
        assert_eq!(
            (progress.sent, progress.finished),
            (1, true),
            "{progress:?}"
        );
        let d = decision(db, m, b.id, busy.id).await;
        assert_eq!((d.state, d.attempts), (RecipientState::Sent, 3));
        assert_eq!(recipients_of(&sink), ["busy@example.com", "ok@example.com"]);
        let stats = broadcast::stats(db, m, b.id).await.expect("stats");
        assert_eq!((stats.sent, stats.failed, stats.queued), (2, 1, 0));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_message_refused_for_now_five_times_fails_for_good() {
    for t in pitcrew_testkit::each_engine().await {
        let db = &t.db;
        let sink = SmtpSink::builder()
            .reject(|to| (to == "busy@example.com").then_some(Rejection::Temporary))
            .start()
            .await;
        let s = setup(db, &sink, rules()).await;
        let m = &s.marketer;
        let busy = subscriber(db, m, json!({"email": "busy@example.com", "country": "US"})).await;
        let list = new_list(db, m, "Busy", vec![busy.id]).await;
        let b = launch(db, &s, input(&s, list), NOW).await;
        let clock = Clock::at(NOW + MINUTE);
        let sender = clock.sender(db);
        let mut tries = 0;
        loop {
            let progress = sender.work(s.ws.id, b.id).await.expect("send");
            tries += 1;
            if progress.finished {
                assert_eq!(progress.failed, 1, "{progress:?}");
                break;
            }
            assert_eq!(progress.retried, 1, "try {tries}: {progress:?}");
            assert!(tries < 10, "{:?}: the sender never gives up", t.engine());
            clock.set(not_before(db, &s, b.id, busy.id).await);
        }
        assert_eq!(tries, 5);
        assert_eq!(sink.rejected(), 5);
        let d = decision(db, m, b.id, busy.id).await;
        assert_eq!((d.state, d.attempts), (RecipientState::Failed, 5));
        assert!(
            d.explanation.contains("gave up after 5 tries") && d.explanation.contains("451"),
            "{}",
            d.explanation
        );
        assert_eq!(status(db, m, b.id).await, "sent");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_login_pauses_the_broadcast_until_the_provider_is_fixed_and_it_is_resumed() {
    for t in pitcrew_testkit::each_engine().await {
        let db = &t.db;
        let strict = SmtpSink::builder().refuse_logins(true).start().await;
        let s = setup(db, &strict, rules()).await;
        let m = &s.marketer;
        provider::update_provider(
            db,
            &s.admin,
            s.provider,
            ProviderInput {
                username: "campaigns".into(),
                password: Some("wrong".into()),
                ..provider_input(&strict)
            },
            NOW,
        )
        .await
        .expect("provider");
        let ana = subscriber(db, m, json!({"email": "ana@example.com", "country": "US"})).await;
        let list = new_list(db, m, "Ana", vec![ana.id]).await;
        let b = launch(db, &s, input(&s, list), NOW).await;
        let clock = Clock::at(NOW + MINUTE);
        let sender = clock.sender(db);
        sender.work(s.ws.id, b.id).await.expect("send");
        assert_eq!(status(db, m, b.id).await, "paused", "{:?}", t.engine());
        assert_eq!(strict.count(), 0);
        let d = decision(db, m, b.id, ana.id).await;
        assert_eq!(d.state, RecipientState::Queued, "{d:?}");
        assert!(d.explanation.contains("535"), "{}", d.explanation);

        // Paused, the sender leaves it alone.
        clock.set(NOW + 10 * MINUTE);
        sender.tick().await.expect("tick");
        assert_eq!(status(db, m, b.id).await, "paused");

        // The admin points the provider at a server that works, then resumes.
        let good = SmtpSink::start().await;
        provider::update_provider(db, &s.admin, s.provider, provider_input(&good), NOW)
            .await
            .expect("provider");
        broadcast::resume(db, m, b.id, NOW + 10 * MINUTE)
            .await
            .expect("resume");
        sender.tick().await.expect("tick");
        assert_eq!(recipients_of(&good), ["ana@example.com"]);
        assert_eq!(status(db, m, b.id).await, "sent");
    }
}

// ---- pause, resume, cancel, schedule -----------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn a_paused_broadcast_sends_nothing_until_resumed() {
    for t in pitcrew_testkit::each_engine().await {
        let db = &t.db;
        let sink = SmtpSink::start().await;
        let s = setup(db, &sink, rules()).await;
        let m = &s.marketer;
        let mut ids = Vec::new();
        for i in 0..3 {
            let c = subscriber(
                db,
                m,
                json!({"email": format!("p{i}@example.com"), "country": "US"}),
            )
            .await;
            ids.push(c.id);
        }
        let list = new_list(db, m, "Three", ids.clone()).await;
        let b = launch(db, &s, input(&s, list), NOW).await;
        let paused = broadcast::pause(db, m, b.id, NOW).await.expect("pause");
        assert_eq!(paused.status.as_str(), "paused");
        let clock = Clock::at(NOW + MINUTE);
        let sender = clock.sender(db);
        sender.tick().await.expect("tick");
        let progress = sender.work(s.ws.id, b.id).await.expect("work");
        assert_eq!(progress, Default::default(), "{:?}", t.engine());
        assert_eq!(sink.count(), 0);
        assert_eq!(
            decision(db, m, b.id, ids[0]).await.explanation,
            "waiting for its turn to be sent"
        );
        // Pausing twice is refused with the reason.
        let e = broadcast::pause(db, m, b.id, NOW).await.expect_err("twice");
        assert_eq!(e.code, "broadcast_status_conflict");

        broadcast::resume(db, m, b.id, NOW + MINUTE)
            .await
            .expect("resume");
        sender.tick().await.expect("tick");
        assert_eq!(sink.count(), 3);
        assert_eq!(status(db, m, b.id).await, "sent");
        let d = decision(db, m, b.id, ids[2]).await;
        assert!(
            d.explanation
                .starts_with("sent: the SMTP server accepted it at "),
            "{}",
            d.explanation
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn cancelling_skips_everyone_still_waiting_and_keeps_what_was_sent() {
    for t in pitcrew_testkit::each_engine().await {
        let db = &t.db;
        let sink = SmtpSink::builder()
            .reject(|to| (to == "busy@example.com").then_some(Rejection::Temporary))
            .start()
            .await;
        let s = setup(db, &sink, rules()).await;
        let m = &s.marketer;
        let ok = subscriber(db, m, json!({"email": "ok@example.com", "country": "US"})).await;
        let busy = subscriber(db, m, json!({"email": "busy@example.com", "country": "US"})).await;
        let list = new_list(db, m, "Two", vec![ok.id, busy.id]).await;
        let b = launch(db, &s, input(&s, list), NOW).await;
        let clock = Clock::at(NOW + MINUTE);
        let sender = clock.sender(db);
        sender.work(s.ws.id, b.id).await.expect("send");
        assert_eq!(
            decision(db, m, b.id, busy.id).await.state,
            RecipientState::Queued
        );

        let cancelled = broadcast::cancel(db, m, b.id, NOW + 2 * MINUTE)
            .await
            .expect("cancel");
        assert_eq!(cancelled.status.as_str(), "cancelled", "{:?}", t.engine());
        assert!(cancelled.finished_at.is_some());
        let d = decision(db, m, b.id, busy.id).await;
        assert_eq!(
            (d.state, d.reason),
            (RecipientState::Skipped, Some(SkipReason::Cancelled))
        );
        assert!(d.explanation.contains("cancelled"), "{}", d.explanation);
        assert_eq!(
            decision(db, m, b.id, ok.id).await.state,
            RecipientState::Sent
        );

        clock.set(NOW + HOUR);
        sender.tick().await.expect("tick");
        assert_eq!(sink.rejected(), 1, "the cancelled retry is never made");
        let stats = broadcast::stats(db, m, b.id).await.expect("stats");
        assert_eq!((stats.sent, stats.queued), (1, 0));
        assert_eq!(stats.skipped.get("cancelled"), Some(&1));
        let e = broadcast::resume(db, m, b.id, NOW + HOUR)
            .await
            .expect_err("a cancelled broadcast stays cancelled");
        assert_eq!(e.code, "broadcast_status_conflict");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_scheduled_broadcast_waits_for_its_time_and_the_sender_then_sends_it() {
    for t in pitcrew_testkit::each_engine().await {
        let db = &t.db;
        let sink = SmtpSink::start().await;
        let s = setup(db, &sink, rules()).await;
        let m = &s.marketer;
        let ana = subscriber(db, m, json!({"email": "ana@example.com", "country": "US"})).await;
        let list = new_list(db, m, "Ana", vec![ana.id]).await;
        let mut i = input(&s, list);
        i.scheduled_at = Some("2026-01-02T09:00:00Z".into());
        let at = instant("2026-01-02T09:00:00Z");
        let b = launch(db, &s, i, NOW).await;
        assert_eq!(b.status.as_str(), "scheduled", "{:?}", t.engine());
        assert!(b.started_at.is_none());

        let clock = Clock::at(at - MINUTE);
        let sender = clock.sender(db);
        sender.tick().await.expect("tick");
        assert_eq!(sink.count(), 0);
        assert_eq!(status(db, m, b.id).await, "scheduled");
        let e = broadcast::decision(db, m, b.id, ana.id)
            .await
            .expect_err("no decision before the start");
        assert!(e.message.contains("has not started"), "{}", e.message);

        clock.set(at + MINUTE);
        sender.tick().await.expect("tick");
        assert_eq!(recipients_of(&sink), ["ana@example.com"]);
        let sent = broadcast::get_broadcast(db, m, b.id).await.expect("get");
        assert_eq!(sent.status.as_str(), "sent");
        assert_eq!(
            sent.started_at.as_deref(),
            Some(format_ms(at + MINUTE).as_str())
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_scheduled_broadcast_that_no_longer_passes_its_checks_goes_back_to_draft() {
    for t in pitcrew_testkit::each_engine().await {
        let db = &t.db;
        let sink = SmtpSink::start().await;
        let s = setup(db, &sink, rules()).await;
        let m = &s.marketer;
        let ana = subscriber(db, m, json!({"email": "ana@example.com", "country": "US"})).await;
        let list = new_list(db, m, "Ana", vec![ana.id]).await;
        let mut i = input(&s, list);
        i.scheduled_at = Some("2026-01-02T09:00:00Z".into());
        let b = launch(db, &s, i, NOW).await;
        assert_eq!(b.status.as_str(), "scheduled");
        // Overnight the only person in the audience unsubscribes.
        consent::record_consent(
            db,
            m,
            ana.id,
            ConsentInput::opt_out("Newsletter", ConsentSource::UnsubscribeLink),
            NOW + HOUR,
        )
        .await
        .expect("opt out");

        Clock::at(instant("2026-01-02T09:01:00Z"))
            .sender(db)
            .tick()
            .await
            .expect("tick");
        assert_eq!(sink.count(), 0);
        assert_eq!(status(db, m, b.id).await, "draft", "{:?}", t.engine());
        let p = broadcast::prelaunch(db, m, b.id, instant("2026-01-02T09:01:00Z"))
            .await
            .expect("checks");
        assert_eq!(check(&p, "recipients").status, CheckStatus::Blocking);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn cancelling_a_scheduled_broadcast_returns_it_to_draft_and_nothing_is_sent() {
    for t in pitcrew_testkit::each_engine().await {
        let db = &t.db;
        let sink = SmtpSink::start().await;
        let s = setup(db, &sink, rules()).await;
        let m = &s.marketer;
        let ana = subscriber(db, m, json!({"email": "ana@example.com", "country": "US"})).await;
        let list = new_list(db, m, "Ana", vec![ana.id]).await;
        let mut i = input(&s, list);
        i.scheduled_at = Some("2026-01-02T09:00:00Z".into());
        let b = launch(db, &s, i.clone(), NOW).await;
        assert_eq!(b.status.as_str(), "scheduled");
        let back = broadcast::cancel(db, m, b.id, NOW + HOUR)
            .await
            .expect("unschedule");
        assert_eq!(back.status.as_str(), "draft", "{:?}", t.engine());
        assert_eq!(
            back.scheduled_at, b.scheduled_at,
            "the time is kept for editing"
        );

        Clock::at(instant("2026-01-03T00:00:00Z"))
            .sender(db)
            .tick()
            .await
            .expect("tick");
        assert_eq!(sink.count(), 0);
        assert_eq!(status(db, m, b.id).await, "draft");
        // A draft again: it can be edited.
        i.name = "Spring launch, later".into();
        broadcast::update_broadcast(db, m, b.id, i, NOW + HOUR)
            .await
            .expect("edit");
    }
}

// ---- approval ----------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn an_audience_above_the_threshold_needs_approval_even_after_the_first_send() {
    for t in pitcrew_testkit::each_engine().await {
        let db = &t.db;
        let sink = SmtpSink::start().await;
        let s = setup(
            db,
            &sink,
            SendingRules {
                approval_threshold: 2,
                ..rules()
            },
        )
        .await;
        let m = &s.marketer;
        let mut ids = Vec::new();
        for name in ["ana", "ben", "cleo"] {
            let c = subscriber(
                db,
                m,
                json!({"email": format!("{name}@example.com"), "country": "US"}),
            )
            .await;
            ids.push(c.id);
        }
        let first = new_list(db, m, "First", vec![ids[0]]).await;
        let two = new_list(db, m, "Two", vec![ids[0], ids[1]]).await;
        let three = new_list(db, m, "Three", ids.clone()).await;

        // The workspace's first send needs approval whatever its size.
        let a = broadcast::create_broadcast(db, m, input(&s, first), NOW)
            .await
            .expect("create");
        let p = broadcast::prelaunch(db, m, a.id, NOW)
            .await
            .expect("checks");
        assert!(p.needs_approval, "{:?}", t.engine());
        assert!(check(&p, "approval").message.contains("first send"));
        broadcast::approve(db, &s.admin, a.id, NOW)
            .await
            .expect("approve");
        broadcast::start(db, m, a.id, NOW).await.expect("start");

        // Three people exceed the threshold of two.
        let big = broadcast::create_broadcast(db, m, input(&s, three), NOW)
            .await
            .expect("create");
        let p = broadcast::prelaunch(db, m, big.id, NOW)
            .await
            .expect("checks");
        assert!(p.needs_approval && !p.can_start, "{p:#?}");
        let approval = check(&p, "approval");
        assert_eq!(approval.status, CheckStatus::Blocking);
        assert!(
            approval
                .message
                .contains("3 people exceeds the approval threshold of 2"),
            "{}",
            approval.message
        );
        let e = broadcast::start(db, m, big.id, NOW)
            .await
            .expect_err("needs approval");
        assert_eq!(e.code, "broadcast_blocked");

        // Two people do not: no approval item at all.
        let small = broadcast::create_broadcast(db, m, input(&s, two), NOW)
            .await
            .expect("create");
        let p = broadcast::prelaunch(db, m, small.id, NOW)
            .await
            .expect("checks");
        assert!(!p.needs_approval && p.can_start, "{p:#?}");
        assert!(p.checks.iter().all(|c| c.code != "approval"));
        broadcast::start(db, m, small.id, NOW)
            .await
            .expect("start without approval");

        broadcast::approve(db, &s.admin, big.id, NOW)
            .await
            .expect("approve");
        let p = broadcast::prelaunch(db, m, big.id, NOW)
            .await
            .expect("checks");
        assert_eq!(check(&p, "approval").status, CheckStatus::Passed);
        assert!(check(&p, "approval").message.contains("admin@acme.test"));
        broadcast::start(db, m, big.id, NOW).await.expect("start");
    }
}

// ---- pre-launch checks -----------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn a_link_that_is_not_a_web_address_blocks_the_start() {
    for t in pitcrew_testkit::each_engine().await {
        let db = &t.db;
        let sink = SmtpSink::start().await;
        let s = setup(db, &sink, rules()).await;
        let m = &s.marketer;
        let ana = subscriber(db, m, json!({"email": "ana@example.com", "country": "US"})).await;
        let list = new_list(db, m, "Ana", vec![ana.id]).await;
        let broken = new_template(
            db,
            m,
            "Broken link",
            r#"<p>See <a href="www.acme.test/sale">the sale</a> and <a href="https://acme.test/shop">the shop</a>.</p>
<p><a href="{{ unsubscribe_url }}">Unsubscribe</a> {{ postal_address }}</p>"#,
        )
        .await;
        let mut i = input(&s, list);
        i.template_id = Some(broken);
        let b = broadcast::create_broadcast(db, m, i, NOW)
            .await
            .expect("create");
        broadcast::approve(db, &s.admin, b.id, NOW)
            .await
            .expect("approve");
        let p = broadcast::prelaunch(db, m, b.id, NOW)
            .await
            .expect("checks");
        let links = check(&p, "links_valid");
        assert_eq!(
            links.status,
            CheckStatus::Blocking,
            "{:?}: {p:#?}",
            t.engine()
        );
        assert_eq!(links.count, Some(1));
        assert!(
            links.message.contains("www.acme.test/sale") && !links.message.contains("/shop"),
            "names the bad link only: {}",
            links.message
        );
        let e = broadcast::start(db, m, b.id, NOW)
            .await
            .expect_err("blocked");
        assert_eq!(e.code, "broadcast_blocked");
        assert!(e.message.contains("www.acme.test/sale"), "{}", e.message);
        assert_eq!(sink.count(), 0);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn untagged_links_warn_when_the_broadcast_has_no_utm_settings() {
    for t in pitcrew_testkit::each_engine().await {
        let db = &t.db;
        let sink = SmtpSink::start().await;
        let s = setup(db, &sink, rules()).await;
        let m = &s.marketer;
        let ana = subscriber(db, m, json!({"email": "ana@example.com", "country": "US"})).await;
        let list = new_list(db, m, "Ana", vec![ana.id]).await;
        let mut i = input(&s, list);
        i.utm.clear();
        let b = broadcast::create_broadcast(db, m, i, NOW)
            .await
            .expect("create");
        broadcast::approve(db, &s.admin, b.id, NOW)
            .await
            .expect("approve");
        let p = broadcast::prelaunch(db, m, b.id, NOW)
            .await
            .expect("checks");
        let tagged = check(&p, "links_tagged");
        assert_eq!(tagged.status, CheckStatus::Warning, "{:?}", t.engine());
        assert_eq!(tagged.count, Some(1));
        assert!(tagged.message.contains("UTM"), "{}", tagged.message);
        assert_eq!(check(&p, "links_valid").status, CheckStatus::Passed);
        assert!(p.can_start, "a warning does not block");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_misspelt_variable_warns_that_it_will_show_empty() {
    for t in pitcrew_testkit::each_engine().await {
        let db = &t.db;
        let sink = SmtpSink::start().await;
        let s = setup(db, &sink, rules()).await;
        let m = &s.marketer;
        let ana = subscriber(
            db,
            m,
            json!({"email": "ana@example.com", "first_name": "Ana", "country": "US"}),
        )
        .await;
        let list = new_list(db, m, "Ana", vec![ana.id]).await;
        let typo = new_template(
            db,
            m,
            "Typo",
            r#"<p>Hi {{ contatc.first_name }},</p>
<p><a href="{{ unsubscribe_url }}">Unsubscribe</a> {{ postal_address }}</p>"#,
        )
        .await;
        let mut i = input(&s, list);
        i.template_id = Some(typo);
        let b = broadcast::create_broadcast(db, m, i, NOW)
            .await
            .expect("create");
        broadcast::approve(db, &s.admin, b.id, NOW)
            .await
            .expect("approve");
        let p = broadcast::prelaunch(db, m, b.id, NOW)
            .await
            .expect("checks");
        let vars = check(&p, "variables");
        assert_eq!(vars.status, CheckStatus::Warning, "{:?}", t.engine());
        assert!(
            vars.message.contains("`contatc.first_name`"),
            "{}",
            vars.message
        );
        assert!(p.can_start);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_broadcast_without_segments_provider_or_topic_is_blocked_with_what_to_do() {
    for t in pitcrew_testkit::each_engine().await {
        let db = &t.db;
        let sink = SmtpSink::start().await;
        let s = setup(db, &sink, rules()).await;
        let m = &s.marketer;
        let mut i = input(&s, s.list);
        i.segments.clear();
        i.provider_id = None;
        i.topic = String::new();
        let b = broadcast::create_broadcast(db, m, i, NOW)
            .await
            .expect("a half-done draft is kept");
        broadcast::approve(db, &s.admin, b.id, NOW)
            .await
            .expect("approve");
        let p = broadcast::prelaunch(db, m, b.id, NOW)
            .await
            .expect("checks");
        assert!(!p.can_start, "{:?}", t.engine());
        for (code, words) in [
            ("segments", "choose at least one segment"),
            ("provider", "choose the SMTP server"),
            ("topic", "choose the subscription topic"),
        ] {
            let c = check(&p, code);
            assert_eq!(c.status, CheckStatus::Blocking, "{code}");
            assert!(c.message.contains(words), "{code}: {}", c.message);
        }
        let e = broadcast::start(db, m, b.id, NOW)
            .await
            .expect_err("blocked");
        assert_eq!(e.code, "broadcast_blocked");
        for words in ["No audience", "No sending provider", "No topic"] {
            assert!(e.message.contains(words), "{}", e.message);
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_template_that_fails_for_one_contact_skips_only_that_contact() {
    for t in pitcrew_testkit::each_engine().await {
        let db = &t.db;
        let sink = SmtpSink::start().await;
        let s = setup(db, &sink, rules()).await;
        let m = &s.marketer;
        // Imported as text; one value is not a number.
        text_field(db, &s.admin, "points").await;
        let ana = subscriber(
            db,
            m,
            json!({"email": "ana@example.com", "points": "1200", "country": "US"}),
        )
        .await;
        let ben = subscriber(
            db,
            m,
            json!({"email": "ben@example.com", "points": "lots", "country": "US"}),
        )
        .await;
        let cleo = subscriber(
            db,
            m,
            json!({"email": "cleo@example.com", "points": "300", "country": "US"}),
        )
        .await;
        let list = new_list(db, m, "All", vec![ana.id, ben.id, cleo.id]).await;
        let points = new_template(
            db,
            m,
            "Points",
            r#"<p>You have {{ contact.points | int * 1 }} points.</p>
<p><a href="{{ unsubscribe_url }}">Unsubscribe</a> {{ postal_address }}</p>"#,
        )
        .await;
        let mut i = input(&s, list);
        i.template_id = Some(points);
        let b = launch(db, &s, i, NOW).await;
        let progress = Clock::at(NOW + MINUTE)
            .sender(db)
            .work(s.ws.id, b.id)
            .await
            .expect("send");
        assert_eq!(
            (progress.sent, progress.skipped, progress.finished),
            (2, 1, true),
            "{:?}: {progress:?}",
            t.engine()
        );
        assert_eq!(
            recipients_of(&sink),
            ["ana@example.com", "cleo@example.com"]
        );
        let d = decision(db, m, b.id, ben.id).await;
        assert_eq!(
            (d.state, d.reason),
            (RecipientState::Skipped, Some(SkipReason::RenderFailed))
        );
        assert!(
            d.explanation.contains("could not be rendered")
                && d.explanation.contains("html line 1"),
            "says where: {}",
            d.explanation
        );
        let stats = broadcast::stats(db, m, b.id).await.expect("stats");
        assert_eq!(stats.skipped.get("render_failed"), Some(&1));
    }
}

// ---- the decision log ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn the_decision_log_explains_every_state_in_words() {
    for t in pitcrew_testkit::each_engine().await {
        let db = &t.db;
        let sink = SmtpSink::builder()
            .reject(|to| match to {
                "gone@example.com" => Some(Rejection::Permanent),
                "busy@example.com" => Some(Rejection::Temporary),
                _ => None,
            })
            .start()
            .await;
        let s = setup(
            db,
            &sink,
            SendingRules {
                quiet_hours: Some(QuietHours {
                    start_minute: 21 * 60,
                    end_minute: 8 * 60,
                }),
                ..rules()
            },
        )
        .await;
        let m = &s.marketer;
        let mut ids = HashMap::new();
        for (name, country) in [
            ("lost", "US"),
            ("ok", "US"),
            ("gone", "US"),
            ("busy", "US"),
            ("yui", "JP"),
        ] {
            let c = subscriber(
                db,
                m,
                json!({"email": format!("{name}@example.com"), "country": country}),
            )
            .await;
            ids.insert(name, c.id);
        }
        let cleo = contact(db, m, json!({"email": "cleo@example.com", "country": "US"})).await;
        ids.insert("cleo", cleo.id);
        let list = new_list(db, m, "All", ids.values().copied().collect()).await;
        // 09:00 in New York, 23:00 in Tokyo.
        let start = instant("2026-01-01T14:00:00Z");
        let b = launch(db, &s, input(&s, list), start).await;
        // A sender takes the first person and dies before settling them.
        let mut tx = db.begin().await.expect("tx");
        let claimed = pitcrew_store::campaign::ledger::claim(tx.conn(), s.ws.id, b.id, start, 1)
            .await
            .expect("claim");
        tx.commit().await.expect("commit");
        assert_eq!(claimed[0].contact_id, ids["lost"]);
        let sender = Clock::at(start + MINUTE).sender(db);
        assert_eq!(sender.recover().await.expect("recover"), 1);
        sender.work(s.ws.id, b.id).await.expect("send");

        let log = broadcast::recipients(db, m, b.id, None, 0, 100)
            .await
            .expect("log");
        assert_eq!(log.len(), 6, "{:?}", t.engine());
        let said: HashMap<i64, (RecipientState, String)> = log
            .into_iter()
            .map(|d| (d.contact_id, (d.state, d.explanation)))
            .collect();
        let expected = [
            (
                "lost",
                RecipientState::Uncertain,
                "unknown: the sender stopped",
            ),
            (
                "ok",
                RecipientState::Sent,
                "sent: the SMTP server accepted it at ",
            ),
            (
                "gone",
                RecipientState::Failed,
                "not sent: the SMTP server refused it (550",
            ),
            (
                "busy",
                RecipientState::Queued,
                "waiting to be tried again at ",
            ),
            (
                "yui",
                RecipientState::Deferred,
                "waiting: quiet hours in Asia/Tokyo until ",
            ),
            (
                "cleo",
                RecipientState::Skipped,
                "not sent: no opt-in for the topic",
            ),
        ];
        for (name, state, words) in expected {
            let (got, text) = &said[&ids[name]];
            assert_eq!(got, &state, "{name}: {text}");
            assert!(text.starts_with(words), "{name}: {text}");
            assert!(!text.contains('_'), "{name}: a code, not words: {text}");
        }
        let skipped = broadcast::recipients(db, m, b.id, Some(RecipientState::Skipped), 0, 100)
            .await
            .expect("skipped");
        assert_eq!(
            skipped.iter().map(|d| d.contact_id).collect::<Vec<_>>(),
            [cleo.id]
        );
        let e = broadcast::recipients(db, m, b.id, None, 0, 0)
            .await
            .expect_err("limit");
        assert_eq!(e.code, "limit_invalid");
    }
}

// ---- tracking -----------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn with_tracking_off_links_go_straight_to_the_tagged_page_and_no_pixel_is_added() {
    for t in pitcrew_testkit::each_engine().await {
        let db = &t.db;
        let sink = SmtpSink::start().await;
        let s = setup(db, &sink, rules()).await;
        let m = &s.marketer;
        let ana = subscriber(db, m, json!({"email": "ana@example.com", "country": "US"})).await;
        let list = new_list(db, m, "Ana", vec![ana.id]).await;
        let mut i = input(&s, list);
        i.tracking = false;
        let b = launch(db, &s, i, NOW).await;
        Clock::at(NOW + MINUTE)
            .sender(db)
            .work(s.ws.id, b.id)
            .await
            .expect("send");
        let got = sink.messages();
        assert_eq!(got.len(), 1, "{:?}", t.engine());
        let msg = mail_parser::MessageParser::default()
            .parse(&got[0].data)
            .expect("parse");
        let html = msg.body_html(0).expect("html").to_string();
        assert!(!html.contains("/t/c/") && !html.contains("/t/o/"), "{html}");
        let link = html
            .split("href=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .expect("the first link")
            .replace("&amp;", "&");
        let url = url::Url::parse(&link).expect("a web address");
        assert_eq!(url.host_str(), Some("acme.test"));
        let keys: Vec<String> = url.query_pairs().map(|(k, _)| k.into_owned()).collect();
        for k in ["ref", "utm_source", "utm_medium", "utm_campaign"] {
            assert!(keys.iter().any(|x| x == k), "{k} in {link}");
        }
        // Unsubscribing works whatever the tracking setting.
        assert!(
            msg.header_raw("List-Unsubscribe")
                .is_some_and(|h| h.contains(&format!("<{PUBLIC}/u/"))),
            "List-Unsubscribe"
        );
    }
}
