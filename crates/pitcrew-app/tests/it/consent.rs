//! The consent ledger and suppression lists: recording choices, the state
//! derived from them, topics, segments that ask about subscriptions, and
//! suppressions written by members, files, bounces and complaints.

use pitcrew_app::audience::{self, Definition, NewSegment, SegmentKind, SegmentRef};
use pitcrew_app::campaign::consent::{self, ConsentInput, ConsentRecord, TopicConsent, TopicPatch};
use pitcrew_app::campaign::suppression::{
    self, SuppressOutcome, Suppression, SuppressionEntry, SuppressionFilter, SuppressionSource,
};
use pitcrew_app::{Actor, Db};
use pitcrew_core::admin::{AuditEntry, Role};
use pitcrew_core::campaign::SuppressionReason;
use pitcrew_core::campaign::consent::{ConsentSource, LegalBasis};
use pitcrew_store::audit::AuditQuery;
use serde_json::json;

use crate::{NOW, contact, new_workspace, refused, with_role};

const HOUR: i64 = 3_600_000;
const WORDING: &str = "Yes, send me the monthly newsletter. I can unsubscribe at any time.";

fn opt_in(topic: &str) -> ConsentInput {
    let mut input = ConsentInput::opt_in(topic, LegalBasis::Consent, ConsentSource::Form, WORDING);
    input.wording_version = "2026-01".into();
    input
}

fn opt_out(topic: &str) -> ConsentInput {
    ConsentInput::opt_out(topic, ConsentSource::Api)
}

/// The same input, made at another time.
fn at(mut input: ConsentInput, ms: i64) -> ConsentInput {
    input.at = Some(pitcrew_core::time::format_ms(ms));
    input
}

async fn topic(db: &Db, actor: &Actor, name: &str) {
    consent::create_topic(db, actor, name, "", NOW)
        .await
        .expect("create topic");
}

async fn record(
    db: &Db,
    actor: &Actor,
    contact_id: i64,
    input: ConsentInput,
    now: i64,
) -> ConsentRecord {
    consent::record_consent(db, actor, contact_id, input, now)
        .await
        .expect("record consent")
}

async fn state(db: &Db, actor: &Actor, contact_id: i64) -> Vec<TopicConsent> {
    consent::consent_state(db, actor, contact_id)
        .await
        .expect("consent state")
}

async fn history(db: &Db, actor: &Actor, contact_id: i64) -> Vec<ConsentRecord> {
    consent::consent_history(db, actor, contact_id)
        .await
        .expect("consent history")
}

/// Audit entries of one object type, newest first.
async fn audit(db: &Db, ws: i64, object_type: &str) -> Vec<AuditEntry> {
    let q = AuditQuery {
        object_type: Some(object_type.into()),
        limit: 100,
        ..AuditQuery::default()
    };
    pitcrew_store::audit::list(db.conn(), ws, &q)
        .await
        .expect("read the audit log")
}

async fn suppressions(db: &Db, actor: &Actor) -> Vec<Suppression> {
    suppression::list_suppressions(db, actor, &SuppressionFilter::default(), None, Some(1000))
        .await
        .expect("list suppressions")
        .items
}

/// Suppressions as `(email, topic, reason)`, for comparing.
fn rows(list: &[Suppression]) -> Vec<(String, Option<String>, SuppressionReason)> {
    list.iter()
        .map(|s| (s.email.clone(), s.topic.clone(), s.reason))
        .collect()
}

fn row(
    email: &str,
    topic: Option<&str>,
    reason: SuppressionReason,
) -> (String, Option<String>, SuppressionReason) {
    (email.into(), topic.map(Into::into), reason)
}

fn file(text: &str) -> Box<dyn std::io::Read + Send> {
    Box::new(std::io::Cursor::new(text.as_bytes().to_vec()))
}

/// Run a system write in a transaction of its own and commit it.
macro_rules! in_tx {
    ($db:expr, |$c:ident| $body:expr) => {{
        let mut tx = $db.begin().await.expect("begin");
        let out = {
            let $c = tx.conn();
            $body.await
        };
        tx.commit().await.expect("commit");
        out
    }};
}

// ---- the ledger ---------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn an_opt_in_is_appended_to_the_ledger_and_becomes_the_current_state() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await;
        let marketer = with_role(&ws, Role::Marketer);
        topic(db, &marketer, "Newsletter").await;
        let ana = contact(db, &marketer, json!({"email": "ana@example.com"})).await;

        let r = record(db, &marketer, ana.id, opt_in("Newsletter"), NOW).await;
        assert_eq!(
            (
                r.topic.as_str(),
                r.channel.as_str(),
                r.subscribed,
                r.purpose.as_str()
            ),
            ("Newsletter", "email", true, "marketing"),
            "{engine:?}"
        );
        assert_eq!(
            (r.legal_basis, r.source),
            (LegalBasis::Consent, ConsentSource::Form),
            "{engine:?}"
        );
        assert_eq!(
            (r.wording.as_str(), r.wording_version.as_str()),
            (WORDING, "2026-01"),
            "{engine:?}"
        );
        assert_eq!(
            (r.by.as_str(), r.at.as_str()),
            ("marketer@test", "2026-01-01T00:00:00.000Z"),
            "{engine:?}"
        );

        assert_eq!(
            history(db, &marketer, ana.id).await,
            vec![r.clone()],
            "{engine:?}"
        );
        assert_eq!(
            state(db, &marketer, ana.id).await,
            vec![TopicConsent {
                topic: "Newsletter".into(),
                channel: "email".into(),
                subscribed: true,
                legal_basis: LegalBasis::Consent,
                at: r.at.clone(),
            }],
            "{engine:?}"
        );
        let entries = audit(db, ws.id, "consent").await;
        assert_eq!(entries.len(), 1, "{engine:?}");
        assert_eq!(entries[0].action, "opt_in", "{engine:?}");
        assert_eq!(entries[0].object_id, ana.id.to_string(), "{engine:?}");
        assert_eq!(entries[0].changes["record_id"], json!(r.id), "{engine:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_opt_out_after_an_opt_in_unsubscribes_withdrawing_the_basis_held() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await;
        let marketer = with_role(&ws, Role::Marketer);
        topic(db, &marketer, "Product updates").await;
        let ana = contact(db, &marketer, json!({"email": "ana@example.com"})).await;

        let customer = ConsentInput::opt_in(
            "Product updates",
            LegalBasis::LegitimateInterest,
            ConsentSource::Import,
            "",
        );
        let first = record(db, &marketer, ana.id, customer, NOW - HOUR).await;
        let second = record(db, &marketer, ana.id, opt_out("Product updates"), NOW).await;

        assert!(!second.subscribed, "{engine:?}");
        assert_eq!(
            second.legal_basis,
            LegalBasis::LegitimateInterest,
            "{engine:?}: the basis withdrawn"
        );
        let ids: Vec<i64> = history(db, &marketer, ana.id)
            .await
            .iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(ids, vec![second.id, first.id], "{engine:?}: newest first");
        let now = state(db, &marketer, ana.id).await;
        assert_eq!(now.len(), 1, "{engine:?}");
        assert!(!now[0].subscribed, "{engine:?}");
        assert_eq!(now[0].at, second.at, "{engine:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_older_record_arriving_late_is_kept_but_leaves_the_newer_state() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await;
        let marketer = with_role(&ws, Role::Marketer);
        topic(db, &marketer, "Newsletter").await;
        let ana = contact(db, &marketer, json!({"email": "ana@example.com"})).await;

        let out = record(
            db,
            &marketer,
            ana.id,
            at(opt_out("Newsletter"), NOW - HOUR),
            NOW,
        )
        .await;
        // A form's opt-in from two hours ago, delivered only now.
        let late = record(
            db,
            &marketer,
            ana.id,
            at(opt_in("Newsletter"), NOW - 2 * HOUR),
            NOW,
        )
        .await;

        let ids: Vec<i64> = history(db, &marketer, ana.id)
            .await
            .iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(
            ids,
            vec![out.id, late.id],
            "{engine:?}: ordered by when the choice was made"
        );
        let now = state(db, &marketer, ana.id).await;
        assert!(!now[0].subscribed, "{engine:?}: the later opt-out stands");
        assert_eq!(now[0].at, out.at, "{engine:?}");

        // A newer choice still takes over, and a choice may not lie in the future.
        record(db, &marketer, ana.id, opt_in("Newsletter"), NOW).await;
        assert!(
            state(db, &marketer, ana.id).await[0].subscribed,
            "{engine:?}"
        );
        let ahead = consent::record_consent(
            db,
            &marketer,
            ana.id,
            at(opt_in("Newsletter"), NOW + HOUR),
            NOW,
        )
        .await;
        refused(ahead, "consent_time_invalid", engine);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_opt_in_under_consent_needs_the_exact_wording_and_every_opt_in_a_basis() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await;
        let marketer = with_role(&ws, Role::Marketer);
        topic(db, &marketer, "Newsletter").await;
        let ana = contact(db, &marketer, json!({"email": "ana@example.com"})).await;

        let mut blank = opt_in("Newsletter");
        blank.wording = "   ".into();
        let e = refused(
            consent::record_consent(db, &marketer, ana.id, blank, NOW).await,
            "consent_wording_required",
            engine,
        );
        assert_eq!(e.field.as_deref(), Some("wording"), "{engine:?}");

        let mut no_basis = opt_in("Newsletter");
        no_basis.legal_basis = None;
        let e = refused(
            consent::record_consent(db, &marketer, ana.id, no_basis, NOW).await,
            "legal_basis_required",
            engine,
        );
        assert!(
            e.message.contains("legitimate_interest"),
            "{engine:?}: {}",
            e.message
        );
        assert!(
            history(db, &marketer, ana.id).await.is_empty(),
            "{engine:?}: nothing written"
        );

        // Another basis needs no wording, and an opt-out never does.
        let contract =
            ConsentInput::opt_in("Newsletter", LegalBasis::Contract, ConsentSource::Api, "");
        record(db, &marketer, ana.id, contract, NOW).await;
        record(db, &marketer, ana.id, opt_out("Newsletter"), NOW).await;
        assert_eq!(history(db, &marketer, ana.id).await.len(), 2, "{engine:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_topic_channel_or_contact_is_refused_with_help() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await;
        let marketer = with_role(&ws, Role::Marketer);
        topic(db, &marketer, "Newsletter").await;
        let ana = contact(db, &marketer, json!({"email": "ana@example.com"})).await;

        let e = refused(
            consent::record_consent(db, &marketer, ana.id, opt_in("Newsleter"), NOW).await,
            "topic_unknown",
            engine,
        );
        assert!(
            e.message.contains("did you mean \"Newsletter\"?"),
            "{engine:?}: {}",
            e.message
        );
        assert_eq!(e.field.as_deref(), Some("topic"), "{engine:?}");

        let mut fax = opt_in("Newsletter");
        fax.channel = "emial".into();
        let e = refused(
            consent::record_consent(db, &marketer, ana.id, fax, NOW).await,
            "channel_unknown",
            engine,
        );
        assert!(
            e.message.contains("did you mean `email`?"),
            "{engine:?}: {}",
            e.message
        );

        refused(
            consent::record_consent(db, &marketer, ana.id + 1000, opt_in("Newsletter"), NOW).await,
            "contact_not_found",
            engine,
        );
        let mut stray = opt_in("Newsletter");
        stray.broadcast_id = Some(99);
        refused(
            consent::record_consent(db, &marketer, ana.id, stray, NOW).await,
            "broadcast_not_found",
            engine,
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_viewer_can_read_consent_and_suppressions_but_change_neither() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await;
        let marketer = with_role(&ws, Role::Marketer);
        let viewer = with_role(&ws, Role::Viewer);
        topic(db, &marketer, "Newsletter").await;
        let ana = contact(db, &marketer, json!({"email": "ana@example.com"})).await;
        record(db, &marketer, ana.id, opt_in("Newsletter"), NOW).await;

        refused(
            consent::record_consent(db, &viewer, ana.id, opt_out("Newsletter"), NOW).await,
            "forbidden",
            engine,
        );
        refused(
            consent::unsubscribe_everything(
                db,
                &viewer,
                ana.id,
                "email",
                ConsentSource::Admin,
                NOW,
            )
            .await,
            "forbidden",
            engine,
        );
        refused(
            consent::create_topic(db, &viewer, "Events", "", NOW).await,
            "forbidden",
            engine,
        );
        refused(
            suppression::add_suppression(
                db,
                &viewer,
                "ana@example.com",
                None,
                SuppressionReason::Manual,
                "",
                NOW,
            )
            .await,
            "forbidden",
            engine,
        );
        refused(
            suppression::import_suppressions_csv(
                db,
                &viewer,
                file("email\nbob@example.com\n"),
                NOW,
            )
            .await,
            "forbidden",
            engine,
        );

        assert_eq!(history(db, &viewer, ana.id).await.len(), 1, "{engine:?}");
        assert!(
            state(db, &viewer, ana.id).await[0].subscribed,
            "{engine:?}: unchanged"
        );
        assert_eq!(
            consent::list_topics(db, &viewer)
                .await
                .map(|t| t.len())
                .ok(),
            Some(1),
            "{engine:?}"
        );
        assert!(suppressions(db, &viewer).await.is_empty(), "{engine:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn another_workspace_can_neither_see_nor_write_consent_or_suppressions() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let a = new_workspace(db, "acme").await;
        let b = new_workspace(db, "globex").await;
        let (ma, mb) = (with_role(&a, Role::Marketer), with_role(&b, Role::Marketer));
        topic(db, &ma, "Newsletter").await;
        topic(db, &mb, "Newsletter").await;
        let ana = contact(db, &ma, json!({"email": "ana@example.com"})).await;
        record(db, &ma, ana.id, opt_in("Newsletter"), NOW).await;
        suppression::add_suppression(
            db,
            &ma,
            "ana@example.com",
            None,
            SuppressionReason::Manual,
            "",
            NOW,
        )
        .await
        .expect("suppress in A");

        refused(
            consent::record_consent(db, &mb, ana.id, opt_out("Newsletter"), NOW).await,
            "contact_not_found",
            engine,
        );
        refused(
            consent::consent_history(db, &mb, ana.id).await,
            "contact_not_found",
            engine,
        );
        refused(
            consent::consent_state(db, &mb, ana.id).await,
            "contact_not_found",
            engine,
        );
        let everything = in_tx!(db, |c| consent::opt_out_everything(
            c,
            b.id,
            ana.id,
            "email",
            ConsentSource::UnsubscribeLink,
            None,
            NOW
        ));
        refused(everything, "contact_not_found", engine);
        assert!(suppressions(db, &mb).await.is_empty(), "{engine:?}");
        refused(
            suppression::remove_suppression(db, &mb, "ana@example.com", None, NOW).await,
            "suppression_not_found",
            engine,
        );
        let seen = in_tx!(db, |c| suppression::suppressed_for(
            c,
            b.id,
            Some("Newsletter")
        ))
        .expect("suppressed for B");
        assert!(seen.is_empty(), "{engine:?}");
        let topic_a = consent::list_topics(db, &ma).await.expect("topics")[0].id;
        refused(
            consent::get_topic(db, &mb, topic_a).await,
            "topic_not_found",
            engine,
        );
        refused(
            consent::delete_topic(db, &mb, topic_a, NOW).await,
            "topic_not_found",
            engine,
        );

        // B's own writes about the same address stay in B.
        let complaint = SuppressionEntry {
            email: "ana@example.com",
            topic: None,
            reason: SuppressionReason::Complaint,
            source: SuppressionSource::Complaint,
            note: "",
        };
        in_tx!(db, |c| suppression::suppress(c, b.id, complaint, NOW)).expect("suppress in B");
        assert_eq!(
            rows(&suppressions(db, &ma).await),
            vec![row("ana@example.com", None, SuppressionReason::Manual)],
            "{engine:?}"
        );
        assert!(state(db, &ma, ana.id).await[0].subscribed, "{engine:?}");
        assert_eq!(history(db, &ma, ana.id).await.len(), 1, "{engine:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_segment_of_subscribers_follows_the_ledger() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await;
        let marketer = with_role(&ws, Role::Marketer);
        topic(db, &marketer, "Newsletter").await;
        let ana = contact(db, &marketer, json!({"email": "ana@example.com"})).await;
        contact(db, &marketer, json!({"email": "bob@example.com"})).await;
        let subscribers = audience::create_segment(
            db,
            &marketer,
            NewSegment {
                name: "Subscribers".into(),
                description: String::new(),
                kind: SegmentKind::Dynamic,
                subject: None,
                definition: Some(Definition::Text(
                    r#"people where subscribed to "Newsletter" via email"#.into(),
                )),
            },
            NOW,
        )
        .await
        .expect("create segment");
        let count = |text: &'static str| {
            let marketer = marketer.clone();
            async move {
                audience::count_segment(
                    db,
                    &marketer,
                    SegmentRef::Unsaved(Definition::Text(text.into())),
                    NOW,
                )
                .await
                .expect("count")
            }
        };
        let saved = || async {
            audience::count_segment(db, &marketer, SegmentRef::Saved(subscribers.id), NOW)
                .await
                .expect("count saved")
        };
        let unsubscribed = r#"people where unsubscribed from "Newsletter""#;
        assert_eq!(
            (saved().await, count(unsubscribed).await),
            (0, 0),
            "{engine:?}"
        );

        record(db, &marketer, ana.id, opt_in("Newsletter"), NOW - HOUR).await;
        assert_eq!(
            (saved().await, count(unsubscribed).await),
            (1, 0),
            "{engine:?}: opted in"
        );
        let members = audience::contact_segments(db, &marketer, ana.id, NOW)
            .await
            .expect("segments");
        assert!(
            members.iter().any(|s| s.id == subscribers.id),
            "{engine:?}: {members:?}"
        );

        record(db, &marketer, ana.id, opt_out("Newsletter"), NOW).await;
        assert_eq!(
            (saved().await, count(unsubscribed).await),
            (0, 1),
            "{engine:?}: opted out"
        );

        // The segment uses the topic by name, so the topic keeps it.
        let id = consent::list_topics(db, &marketer).await.expect("topics")[0].id;
        let e = refused(
            consent::delete_topic(db, &marketer, id, NOW).await,
            "topic_in_use",
            engine,
        );
        assert!(
            e.message.contains("segment \"Subscribers\""),
            "{engine:?}: {}",
            e.message
        );
        assert!(
            e.message.contains("2 consent records"),
            "{engine:?}: {}",
            e.message
        );
        let rename = TopicPatch {
            name: Some("Weekly letter".into()),
            description: None,
        };
        refused(
            consent::update_topic(db, &marketer, id, rename, NOW).await,
            "topic_in_use",
            engine,
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn topics_are_named_once_described_freely_and_kept_while_anything_names_them() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await;
        let marketer = with_role(&ws, Role::Marketer);
        let news = consent::create_topic(db, &marketer, " Newsletter ", "Monthly news", NOW)
            .await
            .expect("create");
        assert_eq!(
            (news.name.as_str(), news.description.as_str()),
            ("Newsletter", "Monthly news"),
            "{engine:?}"
        );
        let e = refused(
            consent::create_topic(db, &marketer, "newsletter", "", NOW).await,
            "topic_exists",
            engine,
        );
        assert!(
            e.message.contains("\"Newsletter\""),
            "{engine:?}: {}",
            e.message
        );
        refused(
            consent::create_topic(db, &marketer, "  ", "", NOW).await,
            "topic_name_invalid",
            engine,
        );

        // Unused: renamed and described at will.
        let patch = TopicPatch {
            name: Some("Weekly news".into()),
            description: Some("Every Monday".into()),
        };
        let renamed = consent::update_topic(db, &marketer, news.id, patch, NOW)
            .await
            .expect("rename");
        assert_eq!(
            (renamed.name.as_str(), renamed.description.as_str()),
            ("Weekly news", "Every Monday"),
            "{engine:?}"
        );

        // Once a suppression names it, only its description changes.
        suppression::add_suppression(
            db,
            &marketer,
            "ana@example.com",
            Some("Weekly news"),
            SuppressionReason::Manual,
            "",
            NOW,
        )
        .await
        .expect("suppress for the topic");
        let e = refused(
            consent::update_topic(
                db,
                &marketer,
                news.id,
                TopicPatch {
                    name: Some("Letters".into()),
                    description: None,
                },
                NOW,
            )
            .await,
            "topic_in_use",
            engine,
        );
        assert!(
            e.message.contains("1 suppression"),
            "{engine:?}: {}",
            e.message
        );
        let described = TopicPatch {
            name: None,
            description: Some("Mondays, 8 am".into()),
        };
        consent::update_topic(db, &marketer, news.id, described, NOW)
            .await
            .expect("describe");
        refused(
            consent::delete_topic(db, &marketer, news.id, NOW).await,
            "topic_in_use",
            engine,
        );

        let spare = consent::create_topic(db, &marketer, "Events", "", NOW)
            .await
            .expect("create");
        consent::delete_topic(db, &marketer, spare.id, NOW)
            .await
            .expect("delete unused");
        let names: Vec<String> = consent::list_topics(db, &marketer)
            .await
            .expect("list")
            .into_iter()
            .map(|t| t.name)
            .collect();
        assert_eq!(names, vec!["Weekly news"], "{engine:?}");
        let actions: Vec<String> = audit(db, ws.id, "topic")
            .await
            .into_iter()
            .map(|e| e.action)
            .collect();
        assert_eq!(
            actions,
            vec!["delete", "create", "update", "update", "create"],
            "{engine:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn unsubscribing_from_everything_is_one_call_and_repeating_it_writes_nothing() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await;
        let marketer = with_role(&ws, Role::Marketer);
        for name in ["Events", "Newsletter", "Product updates"] {
            topic(db, &marketer, name).await;
        }
        let ana = contact(db, &marketer, json!({"email": "ana@example.com"})).await;
        record(db, &marketer, ana.id, opt_in("Newsletter"), NOW - HOUR).await;
        let customer = ConsentInput::opt_in(
            "Product updates",
            LegalBasis::LegitimateInterest,
            ConsentSource::Import,
            "",
        );
        record(db, &marketer, ana.id, customer, NOW - HOUR).await;

        let written = in_tx!(db, |c| consent::opt_out_everything(
            c,
            ws.id,
            ana.id,
            "email",
            ConsentSource::UnsubscribeLink,
            None,
            NOW
        ))
        .expect("opt out of everything");
        let got: Vec<(&str, LegalBasis, ConsentSource, &str)> = written
            .iter()
            .map(|r| (r.topic.as_str(), r.legal_basis, r.source, r.by.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    "Events",
                    LegalBasis::Consent,
                    ConsentSource::UnsubscribeLink,
                    "system"
                ),
                (
                    "Newsletter",
                    LegalBasis::Consent,
                    ConsentSource::UnsubscribeLink,
                    "system"
                ),
                (
                    "Product updates",
                    LegalBasis::LegitimateInterest,
                    ConsentSource::UnsubscribeLink,
                    "system"
                ),
            ],
            "{engine:?}"
        );
        let now = state(db, &marketer, ana.id).await;
        assert_eq!(now.len(), 3, "{engine:?}");
        assert!(now.iter().all(|s| !s.subscribed), "{engine:?}: {now:?}");

        let again = in_tx!(db, |c| consent::opt_out_everything(
            c,
            ws.id,
            ana.id,
            "email",
            ConsentSource::UnsubscribeLink,
            None,
            NOW
        ))
        .expect("again");
        assert!(again.is_empty(), "{engine:?}");
        let one = in_tx!(db, |c| consent::record_system_consent(
            c,
            ws.id,
            ana.id,
            ConsentInput::opt_out("Newsletter", ConsentSource::PreferenceCenter),
            NOW
        ))
        .expect("one topic");
        assert_eq!(one, None, "{engine:?}: already opted out");
        assert_eq!(history(db, &marketer, ana.id).await.len(), 5, "{engine:?}");

        // The preference center opts back in, with the wording it showed.
        let back = in_tx!(db, |c| consent::record_system_consent(
            c,
            ws.id,
            ana.id,
            ConsentInput::opt_in(
                "Events",
                LegalBasis::Consent,
                ConsentSource::PreferenceCenter,
                "Invite me to events"
            ),
            NOW
        ))
        .expect("opt back in")
        .expect("a record");
        assert_eq!(back.by, "system", "{engine:?}");
        assert!(
            state(db, &marketer, ana.id)
                .await
                .iter()
                .any(|s| s.topic == "Events" && s.subscribed),
            "{engine:?}"
        );

        // A member records a request made by phone: the same, under their name, audited once.
        let bob = contact(db, &marketer, json!({"email": "bob@example.com"})).await;
        let by_phone = consent::unsubscribe_everything(
            db,
            &marketer,
            bob.id,
            "email",
            ConsentSource::Admin,
            NOW,
        )
        .await
        .expect("unsubscribe everything");
        assert_eq!(by_phone.len(), 3, "{engine:?}");
        assert!(
            by_phone.iter().all(|r| r.by == "marketer@test"),
            "{engine:?}"
        );
        let entries = audit(db, ws.id, "consent").await;
        let all: Vec<&AuditEntry> = entries
            .iter()
            .filter(|e| e.action == "opt_out_all")
            .collect();
        assert_eq!(all.len(), 1, "{engine:?}");
        assert_eq!(all[0].object_id, bob.id.to_string(), "{engine:?}");
        assert_eq!(
            all[0].changes["topics"],
            json!(["Events", "Newsletter", "Product updates"]),
            "{engine:?}"
        );
    }
}

// ---- suppression lists -----------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn suppressions_are_added_listed_filtered_paged_and_removed() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await;
        let marketer = with_role(&ws, Role::Marketer);
        topic(db, &marketer, "Newsletter").await;

        let added = suppression::add_suppression(
            db,
            &marketer,
            " Ana@Example.com ",
            None,
            SuppressionReason::Manual,
            "asked by phone",
            NOW,
        )
        .await
        .expect("add");
        assert_eq!(added.outcome, SuppressOutcome::Added, "{engine:?}");
        assert_eq!(added.suppression.email, "ana@example.com", "{engine:?}");
        assert_eq!(added.suppression.source, "admin", "{engine:?}");
        suppression::add_suppression(
            db,
            &marketer,
            "bob@example.com",
            Some("Newsletter"),
            SuppressionReason::Manual,
            "",
            NOW,
        )
        .await
        .expect("add for a topic");
        suppression::add_suppression(
            db,
            &marketer,
            "info@acme.com",
            None,
            SuppressionReason::RoleAddress,
            "",
            NOW,
        )
        .await
        .expect("add a role address");

        refused(
            suppression::add_suppression(
                db,
                &marketer,
                "ana@",
                None,
                SuppressionReason::Manual,
                "",
                NOW,
            )
            .await,
            "email_invalid",
            engine,
        );
        let e = refused(
            suppression::add_suppression(
                db,
                &marketer,
                "cem@example.com",
                Some("Newsleter"),
                SuppressionReason::Manual,
                "",
                NOW,
            )
            .await,
            "topic_unknown",
            engine,
        );
        assert!(
            e.message.contains("did you mean \"Newsletter\"?"),
            "{engine:?}: {}",
            e.message
        );

        let all = suppressions(db, &marketer).await;
        assert_eq!(
            rows(&all),
            vec![
                row("ana@example.com", None, SuppressionReason::Manual),
                row(
                    "bob@example.com",
                    Some("Newsletter"),
                    SuppressionReason::Manual
                ),
                row("info@acme.com", None, SuppressionReason::RoleAddress),
            ],
            "{engine:?}"
        );
        let list = |filter: SuppressionFilter| {
            let marketer = marketer.clone();
            async move {
                suppression::list_suppressions(db, &marketer, &filter, None, None)
                    .await
                    .expect("list")
            }
        };
        let by_reason = list(SuppressionFilter {
            reason: Some(SuppressionReason::RoleAddress),
            ..Default::default()
        })
        .await;
        assert_eq!(
            rows(&by_reason.items),
            vec![row("info@acme.com", None, SuppressionReason::RoleAddress)],
            "{engine:?}"
        );
        let global = list(SuppressionFilter {
            topic: Some(String::new()),
            ..Default::default()
        })
        .await;
        assert_eq!(global.total, 2, "{engine:?}");
        let found = list(SuppressionFilter {
            search: Some("EXAMPLE".into()),
            ..Default::default()
        })
        .await;
        assert_eq!(found.total, 2, "{engine:?}");
        let underscore = list(SuppressionFilter {
            search: Some("_".into()),
            ..Default::default()
        })
        .await;
        assert_eq!(
            underscore.total, 0,
            "{engine:?}: `_` is a character, not a wildcard"
        );

        // Pages of one, each continuing after the last.
        let mut seen = Vec::new();
        let mut after = None;
        loop {
            let page = suppression::list_suppressions(
                db,
                &marketer,
                &SuppressionFilter::default(),
                after.as_ref(),
                Some(1),
            )
            .await
            .expect("page");
            assert_eq!(page.total, 3, "{engine:?}");
            seen.extend(page.items);
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        assert_eq!(seen, all, "{engine:?}");
        refused(
            suppression::list_suppressions(
                db,
                &marketer,
                &SuppressionFilter::default(),
                None,
                Some(0),
            )
            .await,
            "limit_invalid",
            engine,
        );

        let removed = suppression::remove_suppression(db, &marketer, "ANA@example.com", None, NOW)
            .await
            .expect("remove");
        assert_eq!(removed.note, "asked by phone", "{engine:?}");
        refused(
            suppression::remove_suppression(db, &marketer, "ana@example.com", None, NOW).await,
            "suppression_not_found",
            engine,
        );
        refused(
            suppression::remove_suppression(db, &marketer, "bob@example.com", None, NOW).await,
            "suppression_not_found",
            engine,
        );
        suppression::remove_suppression(db, &marketer, "bob@example.com", Some("Newsletter"), NOW)
            .await
            .expect("remove for the topic");
        assert_eq!(suppressions(db, &marketer).await.len(), 1, "{engine:?}");
        let actions: Vec<String> = audit(db, ws.id, "suppression")
            .await
            .into_iter()
            .map(|e| e.action)
            .collect();
        assert_eq!(
            actions,
            vec!["delete", "delete", "create", "create", "create"],
            "{engine:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_csv_import_keeps_the_good_rows_and_reports_each_bad_one_by_its_line() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await;
        let marketer = with_role(&ws, Role::Marketer);
        topic(db, &marketer, "Newsletter").await;
        suppression::add_suppression(
            db,
            &marketer,
            "dan@example.com",
            None,
            SuppressionReason::SoftBounce,
            "",
            NOW,
        )
        .await
        .expect("earlier soft bounce");

        let text = "Email,Reason,Topic,Note,Owner\n\
                    ana@example.com,,,from the old system,x\n\
                    not an address,manual,,,x\n\
                    \n\
                    bob@example.com,complaint,Newsletter,,x\n\
                    cem@example.com,hard_bounce,Newsleter,,x\n\
                    dan@example.com,hard_bounce,,\"bounced, twice\",x\n\
                    ANA@example.com,manual,,,x\n";
        let report = suppression::import_suppressions_csv(db, &marketer, file(text), NOW)
            .await
            .expect("import");
        let rejects: Vec<(i64, &str, &str)> = report
            .rejects
            .iter()
            .map(|r| (r.line, r.column.as_str(), r.code.as_str()))
            .collect();
        assert_eq!(
            rejects,
            vec![(3, "email", "email_invalid"), (6, "topic", "topic_unknown")],
            "{engine:?}"
        );
        assert!(
            report.rejects[1]
                .reason
                .contains("did you mean \"Newsletter\"?"),
            "{engine:?}"
        );
        assert_eq!(
            (
                report.rows,
                report.added,
                report.strengthened,
                report.unchanged,
                report.rejected
            ),
            (6, 2, 1, 1, 2),
            "{engine:?}: {report:?}"
        );
        assert_eq!(report.ignored_columns, vec!["owner"], "{engine:?}");
        assert_eq!(
            rows(&suppressions(db, &marketer).await),
            vec![
                row("ana@example.com", None, SuppressionReason::Manual),
                row(
                    "bob@example.com",
                    Some("Newsletter"),
                    SuppressionReason::Complaint
                ),
                row("dan@example.com", None, SuppressionReason::HardBounce),
            ],
            "{engine:?}"
        );
        let entries = audit(db, ws.id, "suppression").await;
        let imports: Vec<&AuditEntry> = entries.iter().filter(|e| e.action == "import").collect();
        assert_eq!(imports.len(), 1, "{engine:?}: one entry for the whole file");
        assert_eq!(
            imports[0].changes,
            json!({"rows": 6, "added": 2, "strengthened": 1, "unchanged": 1, "rejected": 2}),
            "{engine:?}"
        );

        let e = refused(
            suppression::import_suppressions_csv(
                db,
                &marketer,
                file("address\nana@example.com\n"),
                NOW,
            )
            .await,
            "file_email_missing",
            engine,
        );
        assert!(e.message.contains("address"), "{engine:?}: {}", e.message);
        let before = suppressions(db, &marketer).await;
        let binary = "email\nfay@example.com\n\0\0";
        refused(
            suppression::import_suppressions_csv(db, &marketer, file(binary), NOW).await,
            "import_not_csv",
            engine,
        );
        assert_eq!(
            suppressions(db, &marketer).await,
            before,
            "{engine:?}: a refused file changes nothing"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_exported_list_imports_back_as_it_was() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let a = new_workspace(db, "acme").await;
        let b = new_workspace(db, "globex").await;
        let (ma, mb) = (with_role(&a, Role::Marketer), with_role(&b, Role::Marketer));
        topic(db, &ma, "Newsletter").await;
        topic(db, &mb, "Newsletter").await;
        for (email, topic, reason, note) in [
            (
                "ana@example.com",
                None,
                SuppressionReason::Manual,
                "said \"stop\", twice",
            ),
            (
                "bob@example.com",
                Some("Newsletter"),
                SuppressionReason::Complaint,
                "",
            ),
            (
                "cem@example.com",
                None,
                SuppressionReason::HardBounce,
                "550 5.1.1\nno such user",
            ),
            (
                "info@acme.com",
                None,
                SuppressionReason::RoleAddress,
                "=SUM(A1)",
            ),
        ] {
            suppression::add_suppression(db, &ma, email, topic, reason, note, NOW)
                .await
                .expect("add");
        }

        let mut out: Vec<u8> = Vec::new();
        let written =
            suppression::export_suppressions_csv(db, &ma, &SuppressionFilter::default(), &mut out)
                .await
                .expect("export");
        assert_eq!(written, 4, "{engine:?}");
        let text = String::from_utf8(out).expect("UTF-8");
        assert!(
            text.starts_with("email,topic,reason,note,source,created_at\n"),
            "{engine:?}: {text}"
        );

        let report = suppression::import_suppressions_csv(db, &mb, file(&text), NOW)
            .await
            .expect("import");
        assert_eq!(
            (report.added, report.rejected),
            (4, 0),
            "{engine:?}: {report:?}"
        );
        assert_eq!(
            report.ignored_columns,
            vec!["source", "created_at"],
            "{engine:?}"
        );
        let strip =
            |list: Vec<Suppression>| -> Vec<(String, Option<String>, SuppressionReason, String)> {
                list.into_iter()
                    .map(|s| (s.email, s.topic, s.reason, s.note))
                    .collect()
            };
        assert_eq!(
            strip(suppressions(db, &mb).await),
            strip(suppressions(db, &ma).await),
            "{engine:?}"
        );

        // An export of a filter holds that filter's rows only.
        let mut out: Vec<u8> = Vec::new();
        let filter = SuppressionFilter {
            topic: Some("Newsletter".into()),
            ..Default::default()
        };
        let n = suppression::export_suppressions_csv(db, &ma, &filter, &mut out)
            .await
            .expect("export");
        assert_eq!(n, 1, "{engine:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn soft_bounces_suppress_after_n_in_a_row_and_a_delivery_resets_the_count() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await;
        let marketer = with_role(&ws, Role::Marketer);
        let ws_id = ws.id;
        let bounce = |n: i64| async move {
            in_tx!(db, |c| suppression::note_soft_bounce(
                c,
                ws_id,
                "Ana@Example.com",
                3,
                NOW + n
            ))
            .expect("soft bounce")
        };
        assert!(!bounce(1).await, "{engine:?}");
        assert!(!bounce(2).await, "{engine:?}");
        in_tx!(db, |c| suppression::note_delivered(
            c,
            ws.id,
            "ana@example.com"
        ))
        .expect("delivered");
        assert_eq!(
            in_tx!(db, |c| suppression::soft_bounces(
                c,
                ws.id,
                "ana@example.com"
            ))
            .expect("count"),
            0,
            "{engine:?}"
        );
        assert!(!bounce(3).await, "{engine:?}");
        assert!(!bounce(4).await, "{engine:?}");
        assert!(
            suppressions(db, &marketer).await.is_empty(),
            "{engine:?}: two in a row are not three"
        );
        assert!(bounce(5).await, "{engine:?}: the third in a row suppresses");

        let list = suppressions(db, &marketer).await;
        assert_eq!(
            rows(&list),
            vec![row("ana@example.com", None, SuppressionReason::SoftBounce)],
            "{engine:?}"
        );
        assert_eq!(list[0].source, "bounce", "{engine:?}");
        assert_eq!(list[0].note, "3 soft bounces in a row", "{engine:?}");
        let blocked = in_tx!(db, |c| suppression::suppressed_for(c, ws.id, None)).expect("read");
        assert_eq!(
            blocked.get("ana@example.com"),
            Some(&SuppressionReason::SoftBounce),
            "{engine:?}"
        );

        // Lifting the suppression starts the count afresh.
        suppression::remove_suppression(db, &marketer, "ana@example.com", None, NOW)
            .await
            .expect("lift");
        assert!(!bounce(6).await, "{engine:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_repeated_suppression_only_ever_strengthens() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await;
        let marketer = with_role(&ws, Role::Marketer);
        topic(db, &marketer, "Newsletter").await;
        let ws_id = ws.id;
        let suppress = |reason: SuppressionReason, topic: Option<&'static str>| async move {
            let entry = SuppressionEntry {
                email: "ana@example.com",
                topic,
                reason,
                source: SuppressionSource::Bounce,
                note: "",
            };
            in_tx!(db, |c| suppression::suppress(c, ws_id, entry, NOW)).expect("suppress")
        };
        use SuppressionReason::*;
        let steps = [
            (SoftBounce, SuppressOutcome::Added, SoftBounce),
            (SoftBounce, SuppressOutcome::Unchanged, SoftBounce),
            (HardBounce, SuppressOutcome::Strengthened, HardBounce),
            (Manual, SuppressOutcome::Unchanged, HardBounce),
            (SoftBounce, SuppressOutcome::Unchanged, HardBounce),
            (Complaint, SuppressOutcome::Strengthened, Complaint),
            (HardBounce, SuppressOutcome::Unchanged, Complaint),
        ];
        for (reason, outcome, held) in steps {
            assert_eq!(
                suppress(reason, None).await,
                outcome,
                "{engine:?}: {reason}"
            );
            assert_eq!(
                rows(&suppressions(db, &marketer).await),
                vec![row("ana@example.com", None, held)],
                "{engine:?}: after {reason}"
            );
        }
        // A member adding a weaker reason is told nothing changed.
        let again =
            suppression::add_suppression(db, &marketer, "ana@example.com", None, Manual, "", NOW)
                .await
                .expect("add again");
        assert_eq!(
            (again.outcome, again.suppression.reason),
            (SuppressOutcome::Unchanged, Complaint),
            "{engine:?}"
        );

        // The sender's bulk read: rows for every topic plus the topic's own, strongest first.
        let bob = SuppressionEntry {
            email: "bob@example.com",
            topic: None,
            reason: SoftBounce,
            source: SuppressionSource::Bounce,
            note: "",
        };
        in_tx!(db, |c| suppression::suppress(c, ws.id, bob, NOW)).expect("bob");
        let bob_topic = SuppressionEntry {
            topic: Some("Newsletter"),
            reason: Complaint,
            source: SuppressionSource::Complaint,
            ..bob
        };
        in_tx!(db, |c| suppression::suppress(c, ws.id, bob_topic, NOW)).expect("bob for the topic");
        let cem = SuppressionEntry {
            email: "cem@example.com",
            topic: Some("Newsletter"),
            reason: Manual,
            ..bob
        };
        in_tx!(db, |c| suppression::suppress(c, ws.id, cem, NOW)).expect("cem");

        let for_topic = in_tx!(db, |c| suppression::suppressed_for(
            c,
            ws.id,
            Some("Newsletter")
        ))
        .expect("read");
        let mut got: Vec<(&str, SuppressionReason)> =
            for_topic.iter().map(|(e, r)| (e.as_str(), *r)).collect();
        got.sort();
        assert_eq!(
            got,
            vec![
                ("ana@example.com", Complaint),
                ("bob@example.com", Complaint),
                ("cem@example.com", Manual)
            ],
            "{engine:?}"
        );
        let no_topic = in_tx!(db, |c| suppression::suppressed_for(c, ws.id, None)).expect("read");
        let mut got: Vec<(&str, SuppressionReason)> =
            no_topic.iter().map(|(e, r)| (e.as_str(), *r)).collect();
        got.sort();
        assert_eq!(
            got,
            vec![
                ("ana@example.com", Complaint),
                ("bob@example.com", SoftBounce)
            ],
            "{engine:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn role_addresses_of_contacts_are_swept_onto_the_list_once() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await;
        let marketer = with_role(&ws, Role::Marketer);
        for email in ["info@acme.com", "ana@example.com", "postmaster@globex.com"] {
            contact(db, &marketer, json!({"email": email})).await;
        }
        contact(db, &marketer, json!({"first_name": "No address"})).await;
        assert_eq!(
            suppression::suppress_role_addresses(db, &marketer, NOW)
                .await
                .ok(),
            Some(2),
            "{engine:?}"
        );
        assert_eq!(
            suppression::suppress_role_addresses(db, &marketer, NOW)
                .await
                .ok(),
            Some(0),
            "{engine:?}"
        );
        assert_eq!(
            rows(&suppressions(db, &marketer).await),
            vec![
                row("info@acme.com", None, SuppressionReason::RoleAddress),
                row(
                    "postmaster@globex.com",
                    None,
                    SuppressionReason::RoleAddress
                ),
            ],
            "{engine:?}"
        );
        refused(
            suppression::suppress_role_addresses(db, &with_role(&ws, Role::Viewer), NOW).await,
            "forbidden",
            engine,
        );
    }
}
