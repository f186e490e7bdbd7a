//! Broadcasts: pre-launch checks, approval, and sending through a real SMTP
//! server (the test kit's sink on TCP), with every decision on record.

use std::sync::Arc;

use mail_parser::MessageParser;
use pitcrew_app::audience::{self, NewSegment, SegmentKind};
use pitcrew_app::campaign::broadcast::{self, BroadcastInput, Prelaunch};
use pitcrew_app::campaign::consent::{self, ConsentInput};
use pitcrew_app::campaign::provider::{self, ProviderInput};
use pitcrew_app::campaign::send::Sender;
use pitcrew_app::campaign::suppression;
use pitcrew_app::campaign::template::{self, TemplateInput};
use pitcrew_app::{Actor, Db};
use pitcrew_core::admin::{Role, Workspace};
use pitcrew_core::campaign::consent::{ConsentSource, LegalBasis};
use pitcrew_core::campaign::guardrail::{CheckStatus, SendingRules};
use pitcrew_core::campaign::{RecipientState, Security, SkipReason, SuppressionReason};
use pitcrew_testkit::smtp::SmtpSink;
use serde_json::json;

use crate::{NOW, contact, member, new_workspace, refused};

const PUBLIC: &str = "https://mail.acme.test";

const BODY: &str = r#"<html><body>
<p>Hi {{ contact.first_name | default("there") }},</p>
<p>Our <a href="https://acme.test/spring?ref=mail">spring range</a> is here.</p>
<p><a href="{{ unsubscribe_url }}">Unsubscribe</a> · {{ postal_address }}</p>
</body></html>"#;

struct Setup {
    ws: Workspace,
    admin: Actor,
    marketer: Actor,
    list: i64,
    template: i64,
    provider: i64,
}

async fn setup(db: &Db, slug: &str, sink: &SmtpSink) -> Setup {
    let ws = new_workspace(db, slug).await;
    let admin = member(db, &ws, &format!("admin@{slug}.test"), Role::Admin).await;
    let marketer = member(db, &ws, &format!("mia@{slug}.test"), Role::Marketer).await;
    provider::set_sending_rules(
        db,
        &admin,
        SendingRules {
            postal_address: "Acme GmbH, Hauptstr. 1, 10115 Berlin".into(),
            public_url: PUBLIC.into(),
            unsubscribe_mailbox: "unsubscribe@acme.test".into(),
            ..SendingRules::default()
        },
        NOW,
    )
    .await
    .expect("rules");
    let p = provider::create_provider(
        db,
        &admin,
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
        },
        NOW,
    )
    .await
    .expect("provider");
    consent::create_topic(db, &admin, "Newsletter", "Monthly news", NOW)
        .await
        .expect("topic");
    let t = template::create_template(
        db,
        &marketer,
        TemplateInput {
            name: "Spring".into(),
            format: "html".into(),
            body: BODY.into(),
            text_body: String::new(),
        },
        NOW,
    )
    .await
    .expect("template");
    let list = audience::create_segment(
        db,
        &marketer,
        NewSegment {
            name: "Spring list".into(),
            description: String::new(),
            kind: SegmentKind::Static,
            subject: None,
            definition: None,
        },
        NOW,
    )
    .await
    .expect("list");
    Setup {
        ws,
        admin,
        marketer,
        list: list.id,
        template: t.id,
        provider: p.id,
    }
}

async fn opt_in(db: &Db, actor: &Actor, contact_id: i64, basis: LegalBasis) {
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

fn input(s: &Setup) -> BroadcastInput {
    BroadcastInput {
        name: "Spring launch".into(),
        template_id: Some(s.template),
        subject: "Spring is here, {{ contact.first_name | default(\"friend\") }}".into(),
        from_name: "Acme".into(),
        from_email: "news@acme.test".into(),
        reply_to: "team@acme.test".into(),
        topic: "Newsletter".into(),
        segments: vec![s.list],
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

fn status_of(p: &Prelaunch, code: &str) -> CheckStatus {
    p.checks
        .iter()
        .find(|c| c.code == code)
        .unwrap_or_else(|| panic!("no check {code} in {:#?}", p.checks))
        .status
}

fn count_of(p: &Prelaunch, code: &str) -> i64 {
    p.checks
        .iter()
        .find(|c| c.code == code)
        .and_then(|c| c.count)
        .unwrap_or_else(|| panic!("no count for {code}"))
}

fn sender(db: &Db) -> Sender {
    Sender::new(db.clone(), Arc::new(|| NOW + 60_000))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_broadcast_reaches_consenting_people_once_and_records_why_others_were_skipped() {
    for t in pitcrew_testkit::each_engine().await {
        let db = &t.db;
        let sink = SmtpSink::start().await;
        let s = setup(db, "acme", &sink).await;
        let m = &s.marketer;
        let ana = contact(
            db,
            m,
            json!({"email": "ana@example.com", "first_name": "Ana", "country": "DE"}),
        )
        .await;
        let ben = contact(
            db,
            m,
            json!({"email": "ben@example.com", "first_name": "Ben", "country": "US"}),
        )
        .await;
        let cleo = contact(
            db,
            m,
            json!({"email": "cleo@example.com", "first_name": "Cleo", "country": "DE"}),
        )
        .await;
        let dan = contact(db, m, json!({"email": "dan@example.com", "country": "US"})).await;
        let eve = contact(db, m, json!({"email": "eve@example.com", "country": "US"})).await;
        let nobody = contact(db, m, json!({"first_name": "No mail", "country": "US"})).await;
        opt_in(db, m, ana.id, LegalBasis::Consent).await;
        // Legitimate interest suffices in the US but not in Germany (the default policy).
        opt_in(db, m, ben.id, LegalBasis::LegitimateInterest).await;
        opt_in(db, m, cleo.id, LegalBasis::LegitimateInterest).await;
        opt_in(db, m, eve.id, LegalBasis::Consent).await;
        opt_in(db, m, nobody.id, LegalBasis::Consent).await;
        suppression::add_suppression(
            db,
            m,
            "eve@example.com",
            None,
            SuppressionReason::HardBounce,
            "",
            NOW,
        )
        .await
        .expect("suppress");
        let ids = vec![ana.id, ben.id, cleo.id, dan.id, eve.id, nobody.id];
        audience::add_list_members(db, m, s.list, ids, NOW)
            .await
            .expect("members");

        let b = broadcast::create_broadcast(db, m, input(&s), NOW)
            .await
            .expect("create");
        let p = broadcast::prelaunch(db, m, b.id, NOW)
            .await
            .expect("checks");
        assert_eq!(p.audience, 6, "{p:#?}");
        assert_eq!(p.will_send, 2, "{p:#?}");
        assert_eq!(count_of(&p, "excluded_no_consent"), 2); // cleo (DE, legitimate interest), dan (none)
        assert_eq!(count_of(&p, "excluded_bounced"), 1);
        // Addresses are unique per workspace, so no one is a duplicate here.
        assert_eq!(count_of(&p, "excluded_duplicate_address"), 0);
        assert_eq!(count_of(&p, "excluded_no_email"), 1);
        assert_eq!(status_of(&p, "unsubscribe_link"), CheckStatus::Passed);
        assert_eq!(status_of(&p, "links_tagged"), CheckStatus::Passed);
        // The workspace's first send needs an admin's approval.
        assert_eq!(status_of(&p, "approval"), CheckStatus::Blocking);
        assert!(!p.can_start && p.needs_approval);
        let err = broadcast::start(db, m, b.id, NOW)
            .await
            .expect_err("blocked");
        assert_eq!(err.code, "broadcast_blocked");
        assert!(err.message.contains("approval"), "{}", err.message);
        refused(
            broadcast::approve(db, m, b.id, NOW).await,
            "forbidden",
            t.engine(),
        );
        broadcast::approve(db, &s.admin, b.id, NOW)
            .await
            .expect("approve");
        let started = broadcast::start(db, m, b.id, NOW).await.expect("start");
        assert_eq!(started.status.as_str(), "sending");

        let progress = sender(db).work(s.ws.id, b.id).await.expect("send");
        assert_eq!(
            (progress.sent, progress.finished),
            (2, true),
            "{progress:?}"
        );
        let got = sink.messages();
        let mut to: Vec<String> = got.iter().flat_map(|r| r.rcpt_to.clone()).collect();
        to.sort();
        assert_eq!(to, ["ana@example.com", "ben@example.com"]);
        for r in &got {
            let msg = MessageParser::default().parse(&r.data).expect("parse");
            let html = msg.body_html(0).expect("html part").to_string();
            let name = if r.rcpt_to[0].starts_with("ana") {
                "Ana"
            } else {
                "Ben"
            };
            assert_eq!(
                msg.subject(),
                Some(format!("Spring is here, {name}").as_str())
            );
            assert!(html.contains(&format!("Hi {name},")), "{html}");
            assert!(html.contains("Hauptstr. 1"), "postal address shown");
            // Links go through signed click tracking; the unsubscribe link stays direct.
            assert!(html.contains(&format!("{PUBLIC}/t/c/")), "{html}");
            assert!(
                !html.contains("https://acme.test/spring"),
                "the raw link is replaced: {html}"
            );
            assert!(html.contains(&format!("{PUBLIC}/t/o/")), "open pixel");
            let unsub = msg
                .header_raw("List-Unsubscribe")
                .expect("List-Unsubscribe");
            assert!(
                unsub.contains(&format!("<{PUBLIC}/u/"))
                    && unsub.contains("<mailto:unsubscribe@acme.test?subject=unsubscribe%20"),
                "{unsub}"
            );
            assert_eq!(
                msg.header_raw("List-Unsubscribe-Post").map(str::trim),
                Some("List-Unsubscribe=One-Click")
            );
        }

        let d = broadcast::decision(db, m, b.id, cleo.id)
            .await
            .expect("decision");
        assert_eq!(
            (d.state, d.reason),
            (RecipientState::Skipped, Some(SkipReason::NoConsent))
        );
        assert!(d.explanation.contains("legal basis"), "{}", d.explanation);
        let d = broadcast::decision(db, m, b.id, ana.id)
            .await
            .expect("decision");
        assert_eq!(d.state, RecipientState::Sent);
        assert!(d.message_id.is_some());
        let stats = broadcast::stats(db, m, b.id).await.expect("stats");
        assert_eq!((stats.audience, stats.sent, stats.queued), (6, 2, 0));
        assert_eq!(stats.skipped.get("no_consent"), Some(&2));
        assert_eq!(
            broadcast::get_broadcast(db, m, b.id)
                .await
                .expect("get")
                .status
                .as_str(),
            "sent"
        );

        // Working it again sends nothing more.
        let again = sender(db).work(s.ws.id, b.id).await.expect("again");
        assert_eq!(again.sent, 0);
        assert_eq!(sink.count(), 2);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_template_without_unsubscribe_link_blocks_the_start_until_fixed() {
    for t in pitcrew_testkit::each_engine().await {
        let db = &t.db;
        let sink = SmtpSink::start().await;
        let s = setup(db, "acme", &sink).await;
        let m = &s.marketer;
        let ana = contact(
            db,
            m,
            json!({"email": "ana@example.com", "first_name": "Ana", "country": "US"}),
        )
        .await;
        opt_in(db, m, ana.id, LegalBasis::Consent).await;
        audience::add_list_members(db, m, s.list, vec![ana.id], NOW)
            .await
            .expect("members");
        let bare = template::create_template(
            db,
            m,
            TemplateInput {
                name: "Bare".into(),
                format: "html".into(),
                body: "<p>Hi {{ contact.first_name }}</p>".into(),
                text_body: String::new(),
            },
            NOW,
        )
        .await
        .expect("template");
        let mut i = input(&s);
        i.template_id = Some(bare.id);
        let b = broadcast::create_broadcast(db, m, i.clone(), NOW)
            .await
            .expect("create");
        broadcast::approve(db, &s.admin, b.id, NOW)
            .await
            .expect("approve");
        let p = broadcast::prelaunch(db, m, b.id, NOW)
            .await
            .expect("checks");
        assert_eq!(status_of(&p, "unsubscribe_link"), CheckStatus::Blocking);
        assert_eq!(status_of(&p, "postal_address"), CheckStatus::Blocking);
        let err = broadcast::start(db, m, b.id, NOW)
            .await
            .expect_err("blocked");
        assert_eq!(err.code, "broadcast_blocked");
        assert!(err.message.contains("unsubscribe"), "{}", err.message);
        assert_eq!(sink.count(), 0);

        // Editing withdraws the approval: it approved something else.
        i.template_id = Some(s.template);
        broadcast::update_broadcast(db, m, b.id, i, NOW)
            .await
            .expect("fix");
        let p = broadcast::prelaunch(db, m, b.id, NOW)
            .await
            .expect("checks");
        assert_eq!(status_of(&p, "unsubscribe_link"), CheckStatus::Passed);
        assert_eq!(status_of(&p, "approval"), CheckStatus::Blocking);
        broadcast::approve(db, &s.admin, b.id, NOW)
            .await
            .expect("approve");
        broadcast::start(db, m, b.id, NOW).await.expect("start");
        sender(db).work(s.ws.id, b.id).await.expect("send");
        assert_eq!(sink.count(), 1);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn messages_in_flight_when_the_sender_stops_are_uncertain_and_never_resent() {
    for t in pitcrew_testkit::each_engine().await {
        let db = &t.db;
        let sink = SmtpSink::start().await;
        let s = setup(db, "acme", &sink).await;
        let m = &s.marketer;
        let mut ids = Vec::new();
        for i in 0..5 {
            let c = contact(
                db,
                m,
                json!({"email": format!("p{i}@example.com"), "country": "US"}),
            )
            .await;
            opt_in(db, m, c.id, LegalBasis::Consent).await;
            ids.push(c.id);
        }
        audience::add_list_members(db, m, s.list, ids.clone(), NOW)
            .await
            .expect("members");
        let b = broadcast::create_broadcast(db, m, input(&s), NOW)
            .await
            .expect("create");
        broadcast::approve(db, &s.admin, b.id, NOW)
            .await
            .expect("approve");
        broadcast::start(db, m, b.id, NOW).await.expect("start");
        // A sender claims two people and dies before settling them.
        let mut tx = db.begin().await.expect("tx");
        let claimed = pitcrew_store::campaign::ledger::claim(tx.conn(), s.ws.id, b.id, NOW, 2)
            .await
            .expect("claim");
        tx.commit().await.expect("commit");
        assert_eq!(claimed.len(), 2);
        let next = sender(db);
        assert_eq!(next.recover().await.expect("recover"), 2);
        let progress = next.work(s.ws.id, b.id).await.expect("send");
        assert_eq!((progress.sent, progress.finished), (3, true));
        let mut to: Vec<String> = sink
            .messages()
            .iter()
            .flat_map(|r| r.rcpt_to.clone())
            .collect();
        to.sort();
        to.dedup();
        assert_eq!(
            to.len(),
            3,
            "nobody is sent twice and the uncertain are not re-sent"
        );
        for c in &claimed {
            let d = broadcast::decision(db, m, b.id, c.contact_id)
                .await
                .expect("decision");
            assert_eq!(d.state, RecipientState::Uncertain);
            assert!(!to.contains(&c.email));
        }
        let stats = broadcast::stats(db, m, b.id).await.expect("stats");
        assert_eq!((stats.sent, stats.uncertain), (3, 2));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn viewers_read_broadcasts_but_cannot_create_or_start_them() {
    for t in pitcrew_testkit::each_engine().await {
        let db = &t.db;
        let sink = SmtpSink::start().await;
        let s = setup(db, "acme", &sink).await;
        let viewer = member(db, &s.ws, "vic@acme.test", Role::Viewer).await;
        refused(
            broadcast::create_broadcast(db, &viewer, input(&s), NOW).await,
            "forbidden",
            t.engine(),
        );
        let b = broadcast::create_broadcast(db, &s.marketer, input(&s), NOW)
            .await
            .expect("create");
        broadcast::get_broadcast(db, &viewer, b.id)
            .await
            .expect("viewer reads");
        refused(
            broadcast::start(db, &viewer, b.id, NOW).await,
            "forbidden",
            t.engine(),
        );
        // Another workspace sees nothing.
        let other = new_workspace(db, "other").await;
        let outsider = member(db, &other, "olga@other.test", Role::Owner).await;
        refused(
            broadcast::get_broadcast(db, &outsider, b.id).await,
            "broadcast_not_found",
            t.engine(),
        );
    }
}
