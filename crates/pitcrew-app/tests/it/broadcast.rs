//! Broadcasts: pre-launch checks, approval, and sending through a real SMTP
//! server (the test kit's sink on TCP), with every decision on record.

use std::collections::{BTreeMap, HashMap};
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
use pitcrew_core::campaign::quiet::FrequencyCap;
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

/// Every row of a broadcast's send ledger, in contact order.
async fn ledger_of(db: &Db, actor: &Actor, broadcast_id: i64) -> Vec<broadcast::Decision> {
    let mut all = Vec::new();
    loop {
        let after = all.last().map_or(0, |d: &broadcast::Decision| d.contact_id);
        let page = broadcast::recipients(db, actor, broadcast_id, None, after, 1000)
            .await
            .expect("ledger page");
        if page.is_empty() {
            return all;
        }
        all.extend(page);
    }
}

async fn audit_actions(db: &Db, admin: &Actor, broadcast_id: i64) -> Vec<String> {
    pitcrew_app::audit::list(
        db,
        admin,
        pitcrew_app::audit::AuditParams {
            object_type: Some("broadcast".into()),
            object_id: Some(broadcast_id.to_string()),
            ..Default::default()
        },
    )
    .await
    .expect("audit")
    .into_iter()
    .map(|e| e.action)
    .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_blocked_start_writes_no_ledger_and_leaves_the_broadcast_a_draft() {
    for t in pitcrew_testkit::each_engine().await {
        let db = &t.db;
        let engine = t.engine();
        let sink = SmtpSink::start().await;
        let s = setup(db, "acme", &sink).await;
        let m = &s.marketer;
        let mut ids = Vec::new();
        for name in ["ana", "ben", "cleo"] {
            let c = contact(
                db,
                m,
                json!({"email": format!("{name}@example.com"), "country": "US"}),
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

        // Everyone would be sent it, but the first send needs an admin's approval.
        let err = refused(
            broadcast::start(db, m, b.id, NOW).await,
            "broadcast_blocked",
            engine,
        );
        assert!(
            err.message.contains("approval"),
            "{engine:?}: {}",
            err.message
        );
        let after = broadcast::get_broadcast(db, m, b.id).await.expect("get");
        assert_eq!(after.status.as_str(), "draft", "{engine:?}");
        assert_eq!(
            (after.started_at, after.audience),
            (None, None),
            "{engine:?}"
        );
        assert!(ledger_of(db, m, b.id).await.is_empty(), "{engine:?}");
        let stats = broadcast::stats(db, m, b.id).await.expect("stats");
        assert_eq!((stats.queued, stats.skipped.len()), (0, 0), "{engine:?}");
        let missing = refused(
            broadcast::decision(db, m, b.id, ids[0]).await,
            "recipient_not_found",
            engine,
        );
        assert!(
            missing.message.contains("has not started"),
            "{}",
            missing.message
        );
        assert!(
            !audit_actions(db, &s.admin, b.id)
                .await
                .contains(&"start".to_string()),
            "{engine:?}: a refused start is not logged as a start"
        );

        // Once approved, the same start writes one row per person.
        broadcast::approve(db, &s.admin, b.id, NOW)
            .await
            .expect("approve");
        broadcast::start(db, m, b.id, NOW).await.expect("start");
        let ledger = ledger_of(db, m, b.id).await;
        let people: Vec<i64> = ledger.iter().map(|d| d.contact_id).collect();
        assert_eq!(people, ids, "{engine:?}");
        assert!(
            ledger.iter().all(|d| d.state == RecipientState::Queued),
            "{engine:?}: {ledger:#?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_scheduled_broadcast_blocked_at_its_time_goes_back_to_draft_with_no_ledger() {
    for t in pitcrew_testkit::each_engine().await {
        let db = &t.db;
        let engine = t.engine();
        let sink = SmtpSink::start().await;
        let s = setup(db, "acme", &sink).await;
        let m = &s.marketer;
        let ana = contact(db, m, json!({"email": "ana@example.com", "country": "US"})).await;
        opt_in(db, m, ana.id, LegalBasis::Consent).await;
        audience::add_list_members(db, m, s.list, vec![ana.id], NOW)
            .await
            .expect("members");
        let mut i = input(&s);
        i.scheduled_at = Some("2026-01-02T09:00:00Z".into());
        let b = broadcast::create_broadcast(db, m, i, NOW)
            .await
            .expect("create");
        broadcast::approve(db, &s.admin, b.id, NOW)
            .await
            .expect("approve");
        let scheduled = broadcast::start(db, m, b.id, NOW).await.expect("schedule");
        assert_eq!(scheduled.status.as_str(), "scheduled", "{engine:?}");
        assert!(ledger_of(db, m, b.id).await.is_empty(), "{engine:?}");
        // Overnight the only person in the audience unsubscribes.
        consent::record_consent(
            db,
            m,
            ana.id,
            ConsentInput::opt_out("Newsletter", ConsentSource::UnsubscribeLink),
            NOW + 3_600_000,
        )
        .await
        .expect("opt out");

        let at = NOW + 33 * 3_600_000 + 60_000; // 2026-01-02T09:01:00Z
        Sender::new(db.clone(), Arc::new(move || at))
            .tick()
            .await
            .expect("tick");
        assert_eq!(sink.count(), 0, "{engine:?}");
        let after = broadcast::get_broadcast(db, m, b.id).await.expect("get");
        assert_eq!(after.status.as_str(), "draft", "{engine:?}");
        assert_eq!(after.started_at, None, "{engine:?}");
        assert!(ledger_of(db, m, b.id).await.is_empty(), "{engine:?}");
        let actions = audit_actions(db, &s.admin, b.id).await;
        assert!(
            actions.contains(&"unschedule".to_string()) && !actions.contains(&"start".to_string()),
            "{engine:?}: {actions:?}"
        );
    }
}

/// `lo..=hi` as a table `g(n)` in the engine's SQL.
fn series(engine: pitcrew_store::Engine, lo: i64, hi: i64) -> String {
    match engine {
        pitcrew_store::Engine::Sqlite => format!(
            "(WITH RECURSIVE c(n) AS (SELECT {lo} UNION ALL SELECT n + 1 FROM c WHERE n < {hi}) SELECT n FROM c) AS g"
        ),
        pitcrew_store::Engine::Postgres => {
            format!("generate_series({lo}::bigint, {hi}::bigint) AS g(n)")
        }
    }
}

async fn run(db: &Db, sql: &str) {
    db.execute(sql, vec![])
        .await
        .unwrap_or_else(|e| panic!("{e}\n{sql}"));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_audience_of_more_than_one_page_gets_exactly_one_decision_per_person() {
    // More people than the plan reads at once (2,000), so the rules and
    // the ledger writes run over several pages.
    const PEOPLE: i64 = 2_100;
    for t in pitcrew_testkit::each_engine().await {
        let db = &t.db;
        let engine = t.engine();
        let sink = SmtpSink::start().await;
        let s = setup(db, "acme", &sink).await;
        let m = &s.marketer;
        let ws = s.ws.id;
        provider::set_sending_rules(
            db,
            &s.admin,
            SendingRules {
                postal_address: "Acme GmbH, Hauptstr. 1, 10115 Berlin".into(),
                public_url: PUBLIC.into(),
                unsubscribe_mailbox: "unsubscribe@acme.test".into(),
                frequency_cap: Some(FrequencyCap { max: 1, days: 7 }),
                ..SendingRules::default()
            },
            NOW,
        )
        .await
        .expect("rules");
        // Person n is `p<n>@example.com`, with n as their external id.
        let fields = match engine {
            pitcrew_store::Engine::Sqlite => {
                "json_object('email', 'p' || g.n || '@example.com', 'country', 'US')"
            }
            pitcrew_store::Engine::Postgres => {
                "jsonb_build_object('email', 'p' || g.n || '@example.com', 'country', 'US')"
            }
        };
        run(
            db,
            &format!(
                "INSERT INTO contacts (workspace_id, external_id, email, search, data, created_at, updated_at) \
                 SELECT {ws}, CAST(g.n AS TEXT), 'p' || g.n || '@example.com', 'p' || g.n || '@example.com', {fields}, {NOW}, {NOW} \
                 FROM {}",
                series(engine, 1, PEOPLE)
            ),
        )
        .await;
        let n_of = "CAST(external_id AS INTEGER)";
        // Everyone but every seventh person opted in.
        run(
            db,
            &format!(
                "INSERT INTO consent_records (workspace_id, contact_id, topic, channel, subscribed, purpose, legal_basis, source, wording, wording_version, actor, at) \
                 SELECT {ws}, id, 'Newsletter', 'email', TRUE, 'marketing', 'consent', 'form', 'Send me the monthly newsletter', 'v1', 'test', {NOW} \
                 FROM contacts WHERE workspace_id = {ws} AND {n_of} % 7 <> 0"
            ),
        )
        .await;
        run(
            db,
            &format!(
                "INSERT INTO consent_state (workspace_id, contact_id, topic, channel, subscribed, legal_basis, at) \
                 SELECT {ws}, id, 'Newsletter', 'email', TRUE, 'consent', {NOW} FROM contacts WHERE workspace_id = {ws} AND {n_of} % 7 <> 0"
            ),
        )
        .await;
        // Every hundredth soft-bounced (for every topic); every three hundredth
        // also complained about the newsletter, which outranks the bounce; every
        // two hundred and fiftieth bounced hard on another topic, which is no
        // reason to hold back the newsletter.
        for (every, topic, reason) in [
            (100, "", "soft_bounce"),
            (300, "Newsletter", "complaint"),
            (250, "Events", "hard_bounce"),
        ] {
            run(
                db,
                &format!(
                    "INSERT INTO suppressions (workspace_id, email, topic, reason, note, source, created_at) \
                     SELECT {ws}, 'p' || (g.n * {every}) || '@example.com', '{topic}', '{reason}', '', 'bounce', {NOW} FROM {}",
                    series(engine, 1, PEOPLE / every)
                ),
            )
            .await;
        }
        // Every eleventh is already waiting for another broadcast, and the cap is one a week.
        let earlier = broadcast::create_broadcast(
            db,
            m,
            BroadcastInput {
                name: "Winter sale".into(),
                ..input(&s)
            },
            NOW,
        )
        .await
        .expect("earlier");
        run(
            db,
            &format!(
                "INSERT INTO broadcast_recipients (workspace_id, broadcast_id, contact_id, email, state, reason, detail, not_before, updated_at) \
                 SELECT {ws}, {}, id, email, 'queued', '', '', 0, {NOW} FROM contacts WHERE workspace_id = {ws} AND {n_of} % 11 = 0",
                earlier.id
            ),
        )
        .await;
        run(
            db,
            &format!(
                "INSERT INTO segment_members (workspace_id, segment_id, member_id, added_at) \
                 SELECT {ws}, {}, id, {NOW} FROM contacts WHERE workspace_id = {ws}",
                s.list
            ),
        )
        .await;

        // The rules in their order, applied to person n.
        let expected = |n: i64| -> Option<SkipReason> {
            if n % 300 == 0 {
                Some(SkipReason::Suppressed)
            } else if n % 100 == 0 {
                Some(SkipReason::Bounced)
            } else if n % 7 == 0 {
                Some(SkipReason::NoConsent)
            } else if n % 11 == 0 {
                Some(SkipReason::FrequencyCap)
            } else {
                None
            }
        };
        let mut skipped: BTreeMap<String, i64> = BTreeMap::new();
        for n in 1..=PEOPLE {
            if let Some(r) = expected(n) {
                *skipped.entry(r.as_str().to_string()).or_default() += 1;
            }
        }
        let will_send = PEOPLE - skipped.values().sum::<i64>();

        let b = broadcast::create_broadcast(db, m, input(&s), NOW)
            .await
            .expect("create");
        broadcast::approve(db, &s.admin, b.id, NOW)
            .await
            .expect("approve");
        let p = broadcast::prelaunch(db, m, b.id, NOW)
            .await
            .expect("checks");
        assert_eq!((p.audience, p.will_send), (PEOPLE, will_send), "{engine:?}");
        for (reason, n) in &skipped {
            assert_eq!(
                count_of(&p, &format!("excluded_{reason}")),
                *n,
                "{engine:?}: {reason}"
            );
        }
        let started = broadcast::start(db, m, b.id, NOW).await.expect("start");
        assert_eq!(started.audience, Some(PEOPLE), "{engine:?}");

        let number: HashMap<i64, i64> = db
            .fetch_all(
                "SELECT id, external_id FROM contacts WHERE workspace_id = $1",
                vec![ws.into()],
            )
            .await
            .expect("contacts")
            .iter()
            .map(|r| {
                let n = r.text("external_id").expect("external id");
                (r.int("id").expect("id"), n.parse().expect("a number"))
            })
            .collect();
        let ledger = ledger_of(db, m, b.id).await;
        assert_eq!(ledger.len() as i64, PEOPLE, "{engine:?}");
        let mut people: Vec<i64> = ledger.iter().map(|d| d.contact_id).collect();
        people.dedup();
        assert_eq!(
            people.len() as i64,
            PEOPLE,
            "{engine:?}: one row per person"
        );
        for d in &ledger {
            let n = number[&d.contact_id];
            assert_eq!(d.email, format!("p{n}@example.com"), "{engine:?}");
            match expected(n) {
                Some(reason) => assert_eq!(
                    (d.state, d.reason),
                    (RecipientState::Skipped, Some(reason)),
                    "{engine:?}: person {n}"
                ),
                None => assert_eq!(d.state, RecipientState::Queued, "{engine:?}: person {n}"),
            }
        }
        let stats = broadcast::stats(db, m, b.id).await.expect("stats");
        assert_eq!(
            (stats.audience, stats.queued),
            (PEOPLE, will_send),
            "{engine:?}"
        );
        assert_eq!(stats.skipped, skipped, "{engine:?}");
    }
}
