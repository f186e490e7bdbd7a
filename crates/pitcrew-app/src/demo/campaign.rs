//! The demo's campaigns: subscription topics with a consent ledger that
//! looks lived-in, a few suppressed addresses, the sending setup, a
//! newsletter template, last month's newsletter already sent (with opens,
//! clicks, unsubscribes and bounces) and a draft ready to check.
//!
//! The demo sends nothing: the sent newsletter's ledger is built by the
//! real pre-launch rules, then settled as if a provider had accepted it.

use pitcrew_core::campaign::consent::{ConsentSource, LegalBasis};
use pitcrew_core::campaign::guardrail::SendingRules;
use pitcrew_core::campaign::quiet::QuietHours;
use pitcrew_core::campaign::{MessageEventKind, RecipientState, Security, SuppressionReason};
use pitcrew_core::event::MessageType;
use pitcrew_core::record::ObjectKind;
use pitcrew_store::campaign::consent::{NewConsentRecord, append_consent};
use pitcrew_store::campaign::ledger::{self, Outcome};
use pitcrew_store::event::{EventTypeSeen, NewEvent};
use pitcrew_store::record as repo;
use serde_json::{Value, json};

use super::{DAY_MS, Rng, SEED};
use crate::audience::{Definition, NewSegment, SegmentKind, create_segment};
use crate::campaign::broadcast::{self, BroadcastInput};
use crate::campaign::consent::create_topic;
use crate::campaign::feedback::{EMAIL_BOUNCED, EMAIL_CLICKED, EMAIL_OPENED, EMAIL_UNSUBSCRIBED};
use crate::campaign::provider::{ProviderInput, create_provider, set_sending_rules};
use crate::campaign::suppression::{
    SuppressionEntry, SuppressionSource, suppress, suppress_role_addresses,
};
use crate::campaign::template::{TemplateInput, create_template};
use crate::{Actor, AppError};

const TOPICS: &[(&str, &str)] = &[
    (
        "Newsletter",
        "The monthly newsletter: product news, customer stories, events.",
    ),
    (
        "Product updates",
        "Release notes and feature announcements.",
    ),
    (
        "Events",
        "Invitations to webinars, meetups and conferences.",
    ),
];

const WORDING: &str =
    "Yes, send me Demo Company's monthly newsletter. I can unsubscribe at any time.";

const NEWSLETTER: &str = r##"<mjml>
  <mj-body background-color="#f4f5f7">
    <mj-section background-color="#ffffff">
      <mj-column>
        <mj-text font-size="20px" font-weight="bold">Hello {{ contact.first_name | default("there") }},</mj-text>
        <mj-text>Here is what happened at Demo Company this month{% if account.name %} — and what it means for {{ account.name }}{% endif %}.</mj-text>
        <mj-button href="https://www.demo-company.example/blog/october">Read the October round-up</mj-button>
        <mj-text>Join our next webinar: <a href="https://www.demo-company.example/webinars">see the dates</a>.</mj-text>
      </mj-column>
    </mj-section>
    <mj-section>
      <mj-column>
        <mj-text font-size="12px" color="#6b7280">{{ postal_address }}<br>
          <a href="{{ preferences_url }}">Choose your emails</a> · <a href="{{ unsubscribe_url }}">Unsubscribe</a></mj-text>
      </mj-column>
    </mj-section>
  </mj-body>
</mjml>"##;

/// Topics, consent, suppressions, sending setup, a sent newsletter and a draft.
pub(super) async fn add_campaigns(
    db: &pitcrew_store::Db,
    owner: &Actor,
    marketer: &Actor,
    now: i64,
) -> Result<(), AppError> {
    let ws = owner.workspace_id;
    set_sending_rules(
        db,
        owner,
        SendingRules {
            postal_address: "Demo Company GmbH, Torstraße 1, 10119 Berlin, Germany".into(),
            public_url: "http://127.0.0.1:8080".into(),
            unsubscribe_mailbox: "unsubscribe@demo-company.example".into(),
            quiet_hours: Some(QuietHours {
                start_minute: 21 * 60,
                end_minute: 8 * 60,
            }),
            ..SendingRules::default()
        },
        now,
    )
    .await?;
    let provider = create_provider(
        db,
        owner,
        ProviderInput {
            name: "Mail catcher on this machine".into(),
            host: "127.0.0.1".into(),
            port: 1025,
            security: Security::None,
            verify_tls: true,
            username: String::new(),
            password: None,
            per_second: 50,
            per_hour: 0,
            concurrency: 4,
        },
        now,
    )
    .await?;
    for (name, description) in TOPICS {
        create_topic(db, owner, name, description, now).await?;
    }
    let sent_at = now - 12 * DAY_MS;
    consent(db, ws, now, sent_at).await?;
    suppressions(db, owner, now).await?;
    let template = create_template(
        db,
        marketer,
        TemplateInput {
            name: "Monthly newsletter".into(),
            format: "mjml".into(),
            body: NEWSLETTER.into(),
            text_body: String::new(),
        },
        now,
    )
    .await?;
    let audience = create_segment(
        db,
        marketer,
        NewSegment {
            name: "Everyone with an email address".into(),
            description:
                "The widest audience; consent and suppression rules decide who is actually sent to."
                    .into(),
            kind: SegmentKind::Dynamic,
            subject: None,
            definition: Some(Definition::Text("people where email exists".into())),
        },
        now,
    )
    .await?;
    let employees = crate::audience::list_segments(db, marketer)
        .await?
        .into_iter()
        .find(|s| s.name == "Employees")
        .map(|s| s.id);
    let utm = |campaign: &str| {
        [
            ("utm_source", "newsletter"),
            ("utm_medium", "email"),
            ("utm_campaign", campaign),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    };
    let input = |name: &str, subject: &str, campaign: &str| BroadcastInput {
        name: name.into(),
        template_id: Some(template.id),
        subject: subject.into(),
        from_name: "Demo Company".into(),
        from_email: "news@demo-company.example".into(),
        reply_to: "hello@demo-company.example".into(),
        topic: "Newsletter".into(),
        segments: vec![audience.id],
        exclusions: employees.into_iter().collect(),
        provider_id: Some(provider.id),
        tracking: true,
        utm: utm(campaign),
        scheduled_at: None,
    };
    let october = broadcast::create_broadcast(
        db,
        marketer,
        input(
            "October newsletter",
            "{{ contact.first_name | default(\"Hello\") }}, your October round-up",
            "october-newsletter",
        ),
        sent_at,
    )
    .await?;
    broadcast::approve(db, owner, october.id, sent_at).await?;
    broadcast::begin(db, ws, october.id, &["draft"], Some(marketer), sent_at).await?;
    settle_as_sent(db, ws, october.id, sent_at).await?;
    broadcast::create_broadcast(
        db,
        marketer,
        input(
            "November newsletter",
            "{{ contact.first_name | default(\"Hello\") }}, your November round-up",
            "november-newsletter",
        ),
        now,
    )
    .await?;
    Ok(())
}

/// Opt-ins collected by sign-up forms over the past year, under consent in
/// strict countries and legitimate interest for some customers elsewhere,
/// and a few people who later left.
async fn consent(db: &pitcrew_store::Db, ws: i64, now: i64, before: i64) -> Result<(), AppError> {
    let everyone = repo::ListQuery {
        search: None,
        sort: "id".into(),
        descending: false,
        limit: i64::MAX,
        offset: 0,
        account_id: None,
        condition: None,
    };
    let (people, _) = repo::list_records(db.conn(), ws, ObjectKind::Contact, &everyone).await?;
    let mut rng = Rng(SEED ^ 0xC0_45E7);
    let mut tx = db.begin().await?;
    for p in &people {
        let us = p.fields.get("country").and_then(Value::as_str) == Some("US");
        for (topic, share) in [("Newsletter", 75), ("Product updates", 40), ("Events", 25)] {
            if !rng.chance(share) {
                continue;
            }
            let at = before - rng.range(1, 365) * DAY_MS;
            let basis = if us && rng.chance(30) {
                LegalBasis::LegitimateInterest
            } else {
                LegalBasis::Consent
            };
            let record = NewConsentRecord {
                topic,
                channel: "email",
                subscribed: true,
                purpose: "marketing",
                legal_basis: basis,
                source: if rng.chance(80) {
                    ConsentSource::Form
                } else {
                    ConsentSource::Import
                },
                wording: if basis == LegalBasis::Consent {
                    WORDING
                } else {
                    ""
                },
                wording_version: "signup-form-3",
                broadcast_id: None,
                actor: "system",
                at,
            };
            append_consent(tx.conn(), ws, p.id, &record).await?;
            if rng.chance(4) {
                let out = NewConsentRecord {
                    subscribed: false,
                    source: ConsentSource::PreferenceCenter,
                    wording: "",
                    at: (at + rng.range(1, 60) * DAY_MS).min(now),
                    ..record
                };
                append_consent(tx.conn(), ws, p.id, &out).await?;
            }
        }
    }
    tx.commit().await?;
    Ok(())
}

async fn suppressions(db: &pitcrew_store::Db, owner: &Actor, now: i64) -> Result<(), AppError> {
    suppress_role_addresses(db, owner, now).await?;
    let mut tx = db.begin().await?;
    for (email, reason, note) in [
        (
            "old.address@gone.example",
            SuppressionReason::HardBounce,
            "550 5.1.1 user unknown",
        ),
        (
            "angry.reader@mail.example",
            SuppressionReason::Complaint,
            "marked as spam (abuse report)",
        ),
        (
            "do.not.mail@partner.example",
            SuppressionReason::Manual,
            "asked by phone, 2026-03-02",
        ),
    ] {
        let entry = SuppressionEntry {
            email,
            topic: None,
            reason,
            source: SuppressionSource::Admin,
            note,
        };
        suppress(tx.conn(), owner.workspace_id, entry, now).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Settle the newsletter's ledger as accepted over its first hour, and add
/// what came back: opens, clicks, a few unsubscribes and bounces.
async fn settle_as_sent(
    db: &pitcrew_store::Db,
    ws: i64,
    id: i64,
    start: i64,
) -> Result<(), AppError> {
    let mut rng = Rng(SEED ^ 0x5E_4D);
    let mut tx = db.begin().await?;
    let claimed = ledger::claim(tx.conn(), ws, id, i64::MAX, i64::MAX).await?;
    let outcomes: Vec<Outcome> = claimed
        .iter()
        .enumerate()
        .map(|(i, r)| Outcome {
            contact_id: r.contact_id,
            state: RecipientState::Sent.as_str(),
            reason: "",
            detail: String::new(),
            message_id: Some(format!("<demo-{id}-{}@demo-company.example>", r.contact_id)),
            sent_at: Some(start + (i as i64) * 1_200),
            not_before: 0,
        })
        .collect();
    ledger::settle(tx.conn(), ws, id, &outcomes, start + 3_600_000).await?;
    let mut events = Vec::new();
    let mut happened =
        |contact_id: i64, kind: MessageEventKind, name: &str, detail: &str, at: i64| {
            events.push((contact_id, kind, name.to_string(), detail.to_string(), at));
        };
    let links = [
        "https://www.demo-company.example/blog/october?utm_source=newsletter&utm_medium=email&utm_campaign=october-newsletter",
        "https://www.demo-company.example/webinars?utm_source=newsletter&utm_medium=email&utm_campaign=october-newsletter",
    ];
    let mut bounced = Vec::new();
    let mut left = Vec::new();
    for (r, o) in claimed.iter().zip(&outcomes) {
        let sent = o.sent_at.unwrap_or(start);
        if rng.chance(2) {
            happened(
                o.contact_id,
                MessageEventKind::Bounced,
                EMAIL_BOUNCED,
                "5.1.1 mailbox unknown",
                sent + 60_000,
            );
            bounced.push(r.email.clone());
            continue;
        }
        if !rng.chance(42) {
            continue;
        }
        let opened = sent + rng.range(5 * 60_000, 3 * DAY_MS);
        happened(
            o.contact_id,
            MessageEventKind::Opened,
            EMAIL_OPENED,
            "",
            opened,
        );
        if rng.chance(20) {
            happened(
                o.contact_id,
                MessageEventKind::Opened,
                EMAIL_OPENED,
                "",
                opened + rng.range(60_000, DAY_MS),
            );
        }
        if rng.chance(22) {
            let link = links[rng.below(2)];
            happened(
                o.contact_id,
                MessageEventKind::Clicked,
                EMAIL_CLICKED,
                link,
                opened + rng.range(5_000, 600_000),
            );
        }
        if rng.chance(3) {
            happened(
                o.contact_id,
                MessageEventKind::Unsubscribed,
                EMAIL_UNSUBSCRIBED,
                "Newsletter",
                opened + 90_000,
            );
            left.push((o.contact_id, opened + 90_000));
        }
    }
    for email in &bounced {
        let entry = SuppressionEntry {
            email,
            topic: None,
            reason: SuppressionReason::HardBounce,
            source: SuppressionSource::Bounce,
            note: "550 5.1.1 mailbox unknown",
        };
        suppress(tx.conn(), ws, entry, start).await?;
    }
    for (contact_id, at) in &left {
        let out = NewConsentRecord {
            topic: "Newsletter",
            channel: "email",
            subscribed: false,
            purpose: "marketing",
            legal_basis: LegalBasis::Consent,
            source: ConsentSource::UnsubscribeLink,
            wording: "",
            wording_version: "",
            broadcast_id: Some(id),
            actor: "system",
            at: *at,
        };
        append_consent(tx.conn(), ws, *contact_id, &out).await?;
    }
    let mut timeline = Vec::with_capacity(events.len());
    for (n, (contact_id, kind, name, detail, at)) in events.iter().enumerate() {
        pitcrew_store::campaign::broadcast::insert_message_event(
            tx.conn(),
            ws,
            id,
            *contact_id,
            kind.as_str(),
            detail,
            *at,
        )
        .await?;
        timeline.push(NewEvent {
            source_id: 0,
            contact_id: Some(*contact_id),
            message_id: format!("demo-mail-{id}-{n}"),
            kind: MessageType::Track,
            name: name.clone(),
            at: *at,
            received_at: *at,
            user_id: None,
            anonymous_id: None,
            properties: json!({"broadcast_id": id, "detail": detail}),
            context: json!({}),
        });
    }
    pitcrew_store::event::insert_events(tx.conn(), ws, &timeline).await?;
    let mut seen: std::collections::BTreeMap<&str, EventTypeSeen> =
        std::collections::BTreeMap::new();
    for e in &timeline {
        let s = seen
            .entry(e.name.as_str())
            .or_insert_with(|| EventTypeSeen {
                kind: MessageType::Track,
                name: e.name.clone(),
                count: 0,
                first: e.at,
                last: e.at,
                property_keys: ["broadcast_id", "detail"]
                    .iter()
                    .map(|k| k.to_string())
                    .collect(),
            });
        s.count += 1;
        s.first = s.first.min(e.at);
        s.last = s.last.max(e.at);
    }
    let seen: Vec<EventTypeSeen> = seen.into_values().collect();
    pitcrew_store::event::note_event_types(tx.conn(), ws, &seen).await?;
    pitcrew_store::campaign::broadcast::set_status(
        tx.conn(),
        ws,
        id,
        &["sending"],
        "sent",
        start + 3_600_000,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
