//! What comes back after a broadcast is sent through a real SMTP server:
//! clicks and opens through the signed links in the received messages,
//! one-click unsubscribes and the preference center, and bounce, complaint
//! and unsubscribe emails read from the reports mailbox.

use std::collections::{BTreeMap, BTreeSet};

use mail_parser::MessageParser;
use pitcrew_app::audience::{self, Definition, SegmentRef};
use pitcrew_app::campaign::broadcast::{self, Broadcast};
use pitcrew_app::campaign::consent::{self, ConsentInput};
use pitcrew_app::campaign::feedback::{self, PREFERENCES_VERSION, PREFERENCES_WORDING};
use pitcrew_app::campaign::suppression;
use pitcrew_app::{Db, ingest};
use pitcrew_core::campaign::consent::{ConsentSource, LegalBasis};
use pitcrew_core::campaign::{RecipientState, SkipReason, SuppressionReason};
use pitcrew_core::event::Event;
use pitcrew_store::record::StoredRecord;
use pitcrew_testkit::smtp::SmtpSink;
use serde_json::json;

use crate::sending::{
    Clock, DAY, MINUTE, PUBLIC, Setup, count_of, decision, input, launch, new_list, rules, setup,
    subscriber,
};
use crate::{NOW, refused};

/// When people act on the email: an hour after it was sent.
const LATER: i64 = NOW + 60 * MINUTE;

/// What one received message carries back to pitcrew.
struct Received {
    /// The token of the tracked spring-range link.
    click: String,
    /// The token of the open pixel.
    open: String,
    /// The token of the one-click unsubscribe link, from List-Unsubscribe.
    unsubscribe: String,
    /// The token in the List-Unsubscribe mailto subject.
    mailto: String,
}

/// A broadcast sent to Ana and Ben, and what each of them received.
struct Sent {
    s: Setup,
    b: Broadcast,
    ana: StoredRecord,
    ben: StoredRecord,
    mail: BTreeMap<String, Received>,
}

/// Link tokens are URL-safe base64 pieces joined by dots.
fn token_after(text: &str, prefix: &str) -> String {
    let at = text
        .find(prefix)
        .unwrap_or_else(|| panic!("no {prefix} in {text}"));
    text[at + prefix.len()..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        .collect()
}

async fn sent(db: &Db, sink: &SmtpSink) -> Sent {
    let s = setup(db, sink, rules()).await;
    let m = &s.marketer;
    consent::create_topic(db, &s.admin, "Product updates", "New features", NOW)
        .await
        .expect("topic");
    let ana = subscriber(
        db,
        m,
        json!({"email": "ana@example.com", "first_name": "Ana", "country": "US"}),
    )
    .await;
    let ben = subscriber(
        db,
        m,
        json!({"email": "ben@example.com", "first_name": "Ben", "country": "US"}),
    )
    .await;
    let list = new_list(db, m, "Both", vec![ana.id, ben.id]).await;
    let b = launch(db, &s, input(&s, list), NOW).await;
    let progress = Clock::at(NOW + MINUTE)
        .sender(db)
        .work(s.ws.id, b.id)
        .await
        .expect("send");
    assert_eq!((progress.sent, progress.finished), (2, true));
    let mut mail = BTreeMap::new();
    for r in sink.messages() {
        let msg = MessageParser::default().parse(&r.data).expect("parse");
        let html = msg.body_html(0).expect("an html part").to_string();
        let header = msg
            .header_raw("List-Unsubscribe")
            .expect("List-Unsubscribe")
            .to_string();
        mail.insert(
            r.rcpt_to[0].clone(),
            Received {
                click: token_after(&html, &format!("{PUBLIC}/t/c/")),
                open: token_after(&html, &format!("{PUBLIC}/t/o/")),
                unsubscribe: token_after(&header, &format!("<{PUBLIC}/u/")),
                mailto: token_after(&header, "?subject=unsubscribe%20"),
            },
        );
    }
    assert_eq!(mail.len(), 2);
    Sent {
        s,
        b,
        ana,
        ben,
        mail,
    }
}

impl Sent {
    fn of(&self, email: &str) -> &Received {
        &self.mail[email]
    }
}

async fn timeline(db: &Db, s: &Sent, contact_id: i64) -> Vec<Event> {
    ingest::timeline(db, &s.s.marketer, contact_id, None, 100)
        .await
        .expect("timeline")
}

fn named<'a>(events: &'a [Event], name: &str) -> Vec<&'a Event> {
    events.iter().filter(|e| e.name == name).collect()
}

// ---- clicks and opens --------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn a_click_leads_to_the_tagged_link_and_reaches_the_timeline_stats_and_segments() {
    for t in pitcrew_testkit::each_engine().await {
        let db = &t.db;
        let sink = SmtpSink::start().await;
        let x = sent(db, &sink).await;
        let m = &x.s.marketer;
        let token = &x.of("ana@example.com").click;

        let target = feedback::click(db, token, LATER).await.expect("click");
        let url = url::Url::parse(&target).expect("a web address");
        assert_eq!(
            (url.host_str(), url.path()),
            (Some("acme.test"), "/spring"),
            "{:?}: {target}",
            t.engine()
        );
        let query: BTreeSet<(String, String)> = url.query_pairs().into_owned().collect();
        let want: BTreeSet<(String, String)> = [
            ("ref", "mail"),
            ("utm_source", "newsletter"),
            ("utm_medium", "email"),
            ("utm_campaign", "spring"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(query, want, "{target}");
        assert_eq!(
            feedback::click(db, token, LATER + MINUTE)
                .await
                .expect("again"),
            target
        );

        let stats = broadcast::stats(db, m, x.b.id).await.expect("stats");
        assert_eq!((stats.clicked_unique, stats.clicked_total), (1, 2));
        let d = decision(db, m, x.b.id, x.ana.id).await;
        let clicks: Vec<_> = d.events.iter().filter(|e| e.kind == "clicked").collect();
        assert_eq!(clicks.len(), 2, "{d:?}");
        assert_eq!(clicks[0].detail, target);

        let events = timeline(db, &x, x.ana.id).await;
        let clicked = named(&events, feedback::EMAIL_CLICKED);
        assert_eq!(clicked.len(), 2, "{events:?}");
        assert_eq!(clicked[0].properties["url"], json!(target));
        assert_eq!(clicked[0].properties["broadcast_id"], json!(x.b.id));
        assert!(named(&timeline(db, &x, x.ben.id).await, feedback::EMAIL_CLICKED).is_empty());

        let clickers = audience::count_segment(
            db,
            m,
            SegmentRef::Unsaved(Definition::Text(
                r#"people where did "Email Link Clicked""#.into(),
            )),
            LATER + 2 * MINUTE,
        )
        .await
        .expect("count");
        assert_eq!(clickers, 1);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_fetch_of_the_open_pixel_is_recorded() {
    for t in pitcrew_testkit::each_engine().await {
        let db = &t.db;
        let sink = SmtpSink::start().await;
        let x = sent(db, &sink).await;
        let m = &x.s.marketer;
        feedback::open(db, &x.of("ana@example.com").open, LATER)
            .await
            .expect("open");
        let stats = broadcast::stats(db, m, x.b.id).await.expect("stats");
        assert_eq!(
            (stats.opened_unique, stats.opened_total),
            (1, 1),
            "{:?}",
            t.engine()
        );
        feedback::open(db, &x.of("ana@example.com").open, LATER + MINUTE)
            .await
            .expect("open");
        feedback::open(db, &x.of("ben@example.com").open, LATER + MINUTE)
            .await
            .expect("open");
        let stats = broadcast::stats(db, m, x.b.id).await.expect("stats");
        assert_eq!((stats.opened_unique, stats.opened_total), (2, 3));
        let events = timeline(db, &x, x.ana.id).await;
        assert_eq!(named(&events, feedback::EMAIL_OPENED).len(), 2);
    }
}

/// The token with the character at `i` replaced by another one.
fn altered(token: &str, i: usize) -> String {
    token
        .char_indices()
        .map(|(j, c)| match (j == i, c) {
            (false, c) => c,
            (true, 'a') => 'b',
            (true, _) => 'a',
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_changed_or_misused_token_is_refused_and_records_nothing() {
    for t in pitcrew_testkit::each_engine().await {
        let db = &t.db;
        let sink = SmtpSink::start().await;
        let x = sent(db, &sink).await;
        let m = &x.s.marketer;
        let ana = x.of("ana@example.com");
        let engine = t.engine();
        for i in 0..ana.click.len() {
            refused(
                feedback::click(db, &altered(&ana.click, i), LATER).await,
                "link_invalid",
                engine,
            );
        }
        for i in 0..ana.open.len() {
            refused(
                feedback::open(db, &altered(&ana.open, i), LATER).await,
                "link_invalid",
                engine,
            );
        }
        for i in 0..ana.unsubscribe.len() {
            let bad = altered(&ana.unsubscribe, i);
            refused(
                feedback::unsubscribe(db, &bad, ConsentSource::UnsubscribeLink, LATER).await,
                "link_invalid",
                engine,
            );
            refused(
                feedback::preferences(db, &bad, LATER).await,
                "link_invalid",
                engine,
            );
        }
        // A token serves only the purpose it was made for.
        refused(
            feedback::unsubscribe(db, &ana.click, ConsentSource::UnsubscribeLink, LATER).await,
            "link_invalid",
            engine,
        );
        refused(
            feedback::unsubscribe(db, &ana.open, ConsentSource::UnsubscribeLink, LATER).await,
            "link_invalid",
            engine,
        );
        refused(
            feedback::set_preferences(db, &ana.click, &[], LATER).await,
            "link_invalid",
            engine,
        );
        refused(
            feedback::click(db, &ana.unsubscribe, LATER).await,
            "link_invalid",
            engine,
        );
        refused(
            feedback::click(db, &ana.open, LATER).await,
            "link_invalid",
            engine,
        );
        refused(
            feedback::open(db, &ana.click, LATER).await,
            "link_invalid",
            engine,
        );
        refused(feedback::click(db, "", LATER).await, "link_invalid", engine);
        refused(
            feedback::click(db, &"9".repeat(10_000), LATER).await,
            "link_invalid",
            engine,
        );

        let counts = feedback::event_counts(db, m, x.b.id).await.expect("counts");
        assert!(counts.is_empty(), "{engine:?}: {counts:?}");
        let events = timeline(db, &x, x.ana.id).await;
        assert!(
            events.iter().all(|e| !e.name.starts_with("Email ")),
            "{events:?}"
        );
        let state = consent::consent_state(db, m, x.ana.id)
            .await
            .expect("state");
        assert!(state.iter().all(|s| s.subscribed), "{state:?}");
    }
}

// ---- unsubscribes and the preference center -----------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn one_click_unsubscribe_opts_out_once_and_the_next_broadcast_skips_the_person() {
    for t in pitcrew_testkit::each_engine().await {
        let db = &t.db;
        let sink = SmtpSink::start().await;
        let x = sent(db, &sink).await;
        let m = &x.s.marketer;
        let token = &x.of("ana@example.com").unsubscribe;

        let done = feedback::unsubscribe(db, token, ConsentSource::UnsubscribeLink, LATER)
            .await
            .expect("unsubscribe");
        assert_eq!(
            (done.topic.as_str(), done.changed),
            ("Newsletter", true),
            "{:?}",
            t.engine()
        );
        let again =
            feedback::unsubscribe(db, token, ConsentSource::UnsubscribeLink, LATER + MINUTE)
                .await
                .expect("again");
        assert!(!again.changed, "a repeated request changes nothing");

        let history = consent::consent_history(db, m, x.ana.id)
            .await
            .expect("history");
        let opt_outs: Vec<_> = history.iter().filter(|r| !r.subscribed).collect();
        assert_eq!(opt_outs.len(), 1, "{history:?}");
        assert_eq!(opt_outs[0].source, ConsentSource::UnsubscribeLink);
        assert_eq!(opt_outs[0].broadcast_id, Some(x.b.id));
        assert_eq!(opt_outs[0].topic, "Newsletter");
        assert_eq!(history[0], *opt_outs[0], "the opt-out is the newest record");

        let stats = broadcast::stats(db, m, x.b.id).await.expect("stats");
        assert_eq!(stats.unsubscribed, 1);
        let events = timeline(db, &x, x.ana.id).await;
        assert_eq!(named(&events, feedback::EMAIL_UNSUBSCRIBED).len(), 1);

        // The next newsletter skips her.
        let next_day = NOW + DAY;
        let list = new_list(db, m, "Again", vec![x.ana.id, x.ben.id]).await;
        let next = broadcast::create_broadcast(db, m, input(&x.s, list), next_day)
            .await
            .expect("create");
        let p = broadcast::prelaunch(db, m, next.id, next_day)
            .await
            .expect("checks");
        assert_eq!(count_of(&p, "excluded_no_consent"), 1, "{p:#?}");
        broadcast::start(db, m, next.id, next_day)
            .await
            .expect("start");
        let d = decision(db, m, next.id, x.ana.id).await;
        assert_eq!(
            (d.state, d.reason),
            (RecipientState::Skipped, Some(SkipReason::NoConsent))
        );
        assert_eq!(
            decision(db, m, next.id, x.ben.id).await.state,
            RecipientState::Queued
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_preference_center_shows_each_topic_and_records_every_choice() {
    for t in pitcrew_testkit::each_engine().await {
        let db = &t.db;
        let sink = SmtpSink::start().await;
        let x = sent(db, &sink).await;
        let m = &x.s.marketer;
        let token = &x.of("ana@example.com").unsubscribe;

        let p = feedback::preferences(db, token, LATER)
            .await
            .expect("preferences");
        assert_eq!(p.email, "an…@example.com", "{:?}", t.engine());
        assert_eq!(p.from_topic, "Newsletter");
        let shown: Vec<(&str, bool)> = p
            .topics
            .iter()
            .map(|c| (c.name.as_str(), c.subscribed))
            .collect();
        assert_eq!(shown, [("Newsletter", true), ("Product updates", false)]);

        let both = ["Newsletter".to_string(), "Product updates".to_string()];
        let p = feedback::set_preferences(db, token, &both, LATER)
            .await
            .expect("opt in");
        assert!(p.topics.iter().all(|c| c.subscribed), "{p:?}");
        let history = consent::consent_history(db, m, x.ana.id)
            .await
            .expect("history");
        let joined = history
            .iter()
            .find(|r| r.topic == "Product updates")
            .expect("an opt-in for Product updates");
        assert!(joined.subscribed);
        assert_eq!(joined.source, ConsentSource::PreferenceCenter);
        assert_eq!(joined.legal_basis, LegalBasis::Consent);
        assert_eq!(joined.wording, PREFERENCES_WORDING);
        assert_eq!(joined.wording_version, PREFERENCES_VERSION);
        assert_eq!(joined.broadcast_id, Some(x.b.id));
        // The Newsletter choice did not change, so nothing was written for it.
        assert_eq!(
            history.iter().filter(|r| r.topic == "Newsletter").count(),
            1
        );

        let p = feedback::set_preferences(db, token, &[], LATER + MINUTE)
            .await
            .expect("opt out of all");
        assert!(p.topics.iter().all(|c| !c.subscribed), "{p:?}");
        let state = consent::consent_state(db, m, x.ana.id)
            .await
            .expect("state");
        assert_eq!(state.len(), 2);
        assert!(state.iter().all(|s| !s.subscribed), "{state:?}");
        let stats = broadcast::stats(db, m, x.b.id).await.expect("stats");
        assert_eq!(stats.unsubscribed, 1, "one person left");
    }
}

// ---- reports ---------------------------------------------------------------------------------

/// A delivery status notification about the message `message_id`, as a
/// Postfix server writes one, with the returned headers.
fn dsn(
    report: &str,
    message_id: &str,
    final_recipient: &str,
    action: &str,
    status: &str,
    reply: &str,
) -> String {
    format!(
        "From: MAILER-DAEMON@mx.example.net (Mail Delivery System)\r\n\
         To: news@acme.test\r\n\
         Subject: Undelivered Mail Returned to Sender\r\n\
         Date: Thu, 01 Jan 2026 01:00:00 +0000\r\n\
         Message-ID: <{report}@mx.example.net>\r\n\
         Auto-Submitted: auto-replied\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: multipart/report; report-type=delivery-status;\r\n\
         \tboundary=\"dsn-boundary\"\r\n\
         \r\n\
         This is a MIME-encapsulated message.\r\n\
         \r\n\
         --dsn-boundary\r\n\
         Content-Description: Notification\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         \r\n\
         Your message could not be delivered to one or more recipients.\r\n\
         \r\n\
         --dsn-boundary\r\n\
         Content-Description: Delivery report\r\n\
         Content-Type: message/delivery-status\r\n\
         \r\n\
         Reporting-MTA: dns; mx.example.net\r\n\
         Arrival-Date: Thu, 01 Jan 2026 00:01:00 +0000\r\n\
         \r\n\
         Final-Recipient: rfc822; {final_recipient}\r\n\
         Action: {action}\r\n\
         Status: {status}\r\n\
         Remote-MTA: dns; mx1.example.net\r\n\
         Diagnostic-Code: smtp; {reply}\r\n\
         \r\n\
         --dsn-boundary\r\n\
         Content-Description: Undelivered Message Headers\r\n\
         Content-Type: text/rfc822-headers\r\n\
         \r\n\
         From: Acme <news@acme.test>\r\n\
         To: {final_recipient}\r\n\
         Subject: Spring is here\r\n\
         Message-ID: {message_id}\r\n\
         Date: Thu, 01 Jan 2026 00:01:00 +0000\r\n\
         \r\n\
         --dsn-boundary--\r\n"
    )
}

/// A feedback-loop abuse report whose recipient is redacted, as large
/// mailbox providers send them: only the Message-ID leads back.
fn complaint(message_id: &str) -> String {
    format!(
        "From: Mail AntiSpam Feedback <feedback@arf.mail.example>\r\n\
         To: fbl@acme.test\r\n\
         Subject: FW: Spring is here\r\n\
         Date: Thu, 01 Jan 2026 02:00:00 +0000\r\n\
         Message-ID: <arf.1@arf.mail.example>\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: multipart/report; report-type=\"feedback-report\";\r\n\
         \tboundary=\"arf-boundary\"\r\n\
         \r\n\
         --arf-boundary\r\n\
         Content-Type: text/plain; charset=us-ascii\r\n\
         \r\n\
         This is an email abuse report for a message received from 192.0.2.10.\r\n\
         \r\n\
         --arf-boundary\r\n\
         Content-Type: message/feedback-report\r\n\
         \r\n\
         Feedback-Type: abuse\r\n\
         User-Agent: Mail-Feedback/2.0\r\n\
         Version: 1\r\n\
         Original-Mail-From: <bounces@acme.test>\r\n\
         Source-IP: 192.0.2.10\r\n\
         Reported-Domain: acme.test\r\n\
         \r\n\
         --arf-boundary\r\n\
         Content-Type: text/rfc822-headers\r\n\
         \r\n\
         From: Acme <news@acme.test>\r\n\
         To: redacted\r\n\
         Subject: Spring is here\r\n\
         Message-ID: {message_id}\r\n\
         \r\n\
         --arf-boundary--\r\n"
    )
}

async fn message_id_of(db: &Db, x: &Sent, contact_id: i64) -> String {
    decision(db, &x.s.marketer, x.b.id, contact_id)
        .await
        .message_id
        .expect("the ledger records the Message-ID")
}

async fn suppressed(db: &Db, x: &Sent) -> BTreeMap<String, SuppressionReason> {
    suppression::suppressed_for(db.conn(), x.s.ws.id, None)
        .await
        .expect("suppressions")
        .into_iter()
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hard_bounce_suppresses_the_address_at_once() {
    for t in pitcrew_testkit::each_engine().await {
        let db = &t.db;
        let sink = SmtpSink::start().await;
        let x = sent(db, &sink).await;
        let m = &x.s.marketer;
        let id = message_id_of(db, &x, x.ana.id).await;
        // The server reports the address the mail was forwarded to: only the
        // Message-ID leads back to Ana.
        let report = dsn(
            "r1",
            &id,
            "ana.forwarded@mx.example.net",
            "failed",
            "5.1.1",
            "550 5.1.1 <ana.forwarded@mx.example.net>: Recipient address rejected: User unknown",
        );
        let summary = feedback::ingest_reports(db, &x.s.admin, report.as_bytes(), LATER)
            .await
            .expect("ingest");
        assert_eq!(
            (summary.messages, summary.hard_bounces, summary.suppressed),
            (1, 1, 1),
            "{:?}: {summary:?}",
            t.engine()
        );
        assert!(summary.problems.is_empty(), "{summary:?}");
        assert_eq!(
            suppressed(db, &x).await,
            BTreeMap::from([("ana@example.com".to_string(), SuppressionReason::HardBounce)])
        );
        let stats = broadcast::stats(db, m, x.b.id).await.expect("stats");
        assert_eq!((stats.bounced, stats.delivered, stats.sent), (1, 1, 2));
        let events = timeline(db, &x, x.ana.id).await;
        let bounced = named(&events, feedback::EMAIL_BOUNCED);
        assert_eq!(bounced.len(), 1, "{events:?}");
        let d = decision(db, m, x.b.id, x.ana.id).await;
        assert!(
            d.events
                .iter()
                .any(|e| e.kind == "bounced" && e.detail.contains("5.1.1")),
            "{d:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn two_bounces_of_one_address_suppress_it_once() {
    for t in pitcrew_testkit::each_engine().await {
        let db = &t.db;
        let sink = SmtpSink::start().await;
        let x = sent(db, &sink).await;
        let id = message_id_of(db, &x, x.ana.id).await;
        let report = |n: &str| {
            dsn(
                n,
                &id,
                "ana@example.com",
                "failed",
                "5.1.1",
                "550 5.1.1 <ana@example.com>: User unknown",
            )
            .replace("\r\n", "\n")
        };
        let mbox = format!(
            "From MAILER-DAEMON  Thu Jan  1 01:00:00 2026\n{}\nFrom MAILER-DAEMON  Thu Jan  1 02:00:00 2026\n{}",
            report("r1"),
            report("r2")
        );
        let summary = feedback::ingest_reports(db, &x.s.admin, mbox.as_bytes(), LATER)
            .await
            .expect("ingest");
        assert_eq!(
            (summary.messages, summary.hard_bounces, summary.suppressed),
            (2, 2, 1),
            "{:?}: {summary:?}",
            t.engine()
        );
        // Reading the same mailbox again suppresses no one new.
        let summary = feedback::ingest_reports(db, &x.s.admin, mbox.as_bytes(), LATER)
            .await
            .expect("ingest");
        assert_eq!(summary.suppressed, 0, "{summary:?}");
        let stats = broadcast::stats(db, &x.s.marketer, x.b.id)
            .await
            .expect("stats");
        assert_eq!(stats.bounced, 1, "people, not reports");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn soft_bounces_suppress_only_when_they_reach_the_limit() {
    for t in pitcrew_testkit::each_engine().await {
        let db = &t.db;
        let sink = SmtpSink::start().await;
        let x = sent(db, &sink).await;
        let m = &x.s.marketer;
        let id = message_id_of(db, &x, x.ben.id).await;
        for n in 1..=3 {
            // Three separate reports, one per try of the receiving server.
            let report = dsn(
                &format!("r{n}"),
                &id,
                "ben@example.com",
                "delayed",
                "4.2.2",
                "452 4.2.2 <ben@example.com>: Mailbox full",
            );
            let summary =
                feedback::ingest_reports(db, &x.s.admin, report.as_bytes(), LATER + n * MINUTE)
                    .await
                    .expect("ingest");
            assert_eq!(summary.soft_bounces, 1, "{summary:?}");
            let now_suppressed = suppressed(db, &x).await;
            if n < 3 {
                assert!(
                    now_suppressed.is_empty(),
                    "{:?}: suppressed after {n} soft bounce(s)",
                    t.engine()
                );
                assert_eq!(summary.suppressed, 0);
            } else {
                assert_eq!(
                    now_suppressed,
                    BTreeMap::from([(
                        "ben@example.com".to_string(),
                        SuppressionReason::SoftBounce
                    )])
                );
                assert_eq!(summary.suppressed, 1);
            }
        }
        let stats = broadcast::stats(db, m, x.b.id).await.expect("stats");
        assert_eq!((stats.soft_bounced, stats.bounced), (1, 0));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_spam_complaint_suppresses_the_address_and_opts_out_of_every_topic() {
    for t in pitcrew_testkit::each_engine().await {
        let db = &t.db;
        let sink = SmtpSink::start().await;
        let x = sent(db, &sink).await;
        let m = &x.s.marketer;
        consent::record_consent(
            db,
            m,
            x.ben.id,
            ConsentInput::opt_in(
                "Product updates",
                LegalBasis::Consent,
                ConsentSource::Form,
                "Tell me about new features",
            ),
            NOW,
        )
        .await
        .expect("opt in");
        let id = message_id_of(db, &x, x.ben.id).await;
        let summary = feedback::ingest_reports(db, &x.s.admin, complaint(&id).as_bytes(), LATER)
            .await
            .expect("ingest");
        assert_eq!(
            (summary.complaints, summary.suppressed),
            (1, 1),
            "{:?}: {summary:?}",
            t.engine()
        );
        assert_eq!(
            suppressed(db, &x).await,
            BTreeMap::from([("ben@example.com".to_string(), SuppressionReason::Complaint)])
        );
        let state = consent::consent_state(db, m, x.ben.id)
            .await
            .expect("state");
        assert_eq!(state.len(), 2, "{state:?}");
        assert!(state.iter().all(|s| !s.subscribed), "{state:?}");
        let history = consent::consent_history(db, m, x.ben.id)
            .await
            .expect("history");
        assert!(
            history
                .iter()
                .filter(|r| !r.subscribed)
                .all(|r| r.source == ConsentSource::Complaint && r.broadcast_id == Some(x.b.id)),
            "{history:?}"
        );
        let stats = broadcast::stats(db, m, x.b.id).await.expect("stats");
        assert_eq!(stats.complaints, 1);
        let events = timeline(db, &x, x.ben.id).await;
        assert_eq!(named(&events, feedback::EMAIL_COMPLAINED).len(), 1);
        // Ana is untouched.
        let state = consent::consent_state(db, m, x.ana.id)
            .await
            .expect("state");
        assert!(state.iter().all(|s| s.subscribed));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_mailbox_file_names_the_message_that_is_not_a_report_and_its_line() {
    for t in pitcrew_testkit::each_engine().await {
        let db = &t.db;
        let sink = SmtpSink::start().await;
        let x = sent(db, &sink).await;
        let id = message_id_of(db, &x, x.ana.id).await;
        let bounce = dsn(
            "r1",
            &id,
            "ana@example.com",
            "failed",
            "5.1.1",
            "550 5.1.1 <ana@example.com>: User unknown",
        )
        .replace("\r\n", "\n");
        let reply = include_str!("../fixtures/bounce/reply_from_person.eml");
        let mbox = format!(
            "From MAILER-DAEMON  Thu Jan  1 01:00:00 2026\n{bounce}\nFrom ana.silva@example.net  Thu Jan  1 02:00:00 2026\n{reply}"
        );
        // The reply's first header is on the line after its `From ` line.
        let reply_line = mbox
            .lines()
            .position(|l| l.starts_with("From ana.silva"))
            .expect("separator")
            + 2;
        let summary = feedback::ingest_reports(db, &x.s.admin, mbox.as_bytes(), LATER)
            .await
            .expect("ingest");
        assert_eq!(
            (summary.messages, summary.hard_bounces),
            (2, 1),
            "{:?}: {summary:?}",
            t.engine()
        );
        assert_eq!(summary.problems.len(), 1, "{summary:?}");
        let p = &summary.problems[0];
        assert_eq!((p.message, p.line), (2, reply_line as i64), "{p:?}");
        assert!(p.reason.contains("reply from a person"), "{}", p.reason);
        assert!(suppressed(db, &x).await.contains_key("ana@example.com"));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_emailed_unsubscribe_request_works_like_the_link() {
    for t in pitcrew_testkit::each_engine().await {
        let db = &t.db;
        let sink = SmtpSink::start().await;
        let x = sent(db, &sink).await;
        let m = &x.s.marketer;
        let token = &x.of("ana@example.com").mailto;
        assert_eq!(
            token,
            &x.of("ana@example.com").unsubscribe,
            "both unsubscribe ways carry the same token"
        );
        let request = format!(
            "From: Ana <ana@example.com>\r\n\
             To: unsubscribe@acme.test\r\n\
             Subject: unsubscribe {token}\r\n\
             Date: Thu, 01 Jan 2026 03:00:00 +0000\r\n\
             Message-ID: <req.1@example.com>\r\n\
             MIME-Version: 1.0\r\n\
             Content-Type: text/plain; charset=utf-8\r\n\
             \r\n\
             This message was sent from the unsubscribe link in the email.\r\n"
        );
        let summary = feedback::ingest_reports(db, &x.s.admin, request.as_bytes(), LATER)
            .await
            .expect("ingest");
        assert_eq!(summary.unsubscribes, 1, "{:?}: {summary:?}", t.engine());
        assert!(summary.problems.is_empty(), "{summary:?}");
        let state = consent::consent_state(db, m, x.ana.id)
            .await
            .expect("state");
        let newsletter = state
            .iter()
            .find(|s| s.topic == "Newsletter")
            .expect("state");
        assert!(!newsletter.subscribed);
        let history = consent::consent_history(db, m, x.ana.id)
            .await
            .expect("history");
        assert_eq!(history[0].broadcast_id, Some(x.b.id));
        assert!(!history[0].subscribed);
        // Not a suppression: she may still get other topics.
        assert!(suppressed(db, &x).await.is_empty());
        let stats = broadcast::stats(db, m, x.b.id).await.expect("stats");
        assert_eq!(stats.unsubscribed, 1);

        // A request naming another workspace's token is reported, not applied.
        let forged = request.replace(token.as_str(), &format!("9{token}"));
        let summary = feedback::ingest_reports(db, &x.s.admin, forged.as_bytes(), LATER)
            .await
            .expect("ingest");
        assert_eq!(summary.unsubscribes, 0);
        assert_eq!(summary.problems.len(), 1, "{summary:?}");
    }
}
