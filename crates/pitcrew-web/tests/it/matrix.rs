//! The role matrix: every API route, called as every role, succeeds for the
//! roles that may use it and is refused with 403 for the rest. A route added
//! without a row here fails `every_documented_route_is_in_the_matrix`.

use std::collections::{BTreeMap, BTreeSet};

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use pitcrew_app::audience::{self, Definition, NewSegment, SegmentKind};
use pitcrew_app::campaign::broadcast::{self, BroadcastInput};
use pitcrew_app::campaign::consent::{self, ConsentInput};
use pitcrew_app::campaign::provider::{self, ProviderInput};
use pitcrew_app::campaign::suppression;
use pitcrew_app::campaign::template::{self, TemplateInput};
use pitcrew_app::record::{self, NewField, RecordInput};
use pitcrew_app::{Actor, admin};
use pitcrew_core::admin::Role;
use pitcrew_core::campaign::consent::{ConsentSource, LegalBasis};
use pitcrew_core::campaign::guardrail::SendingRules;
use pitcrew_core::campaign::{Security, SuppressionReason};
use pitcrew_core::record::{FieldType, ObjectKind};
use serde_json::{Value, json};

use crate::support::{NOW, PASSWORD, Reply, World, member_with_token, world};

/// Objects made fresh for each role, so destructive calls have targets.
struct Targets {
    contact: i64,
    account: i64,
    field: String,
    victim: i64,
    own_token: i64,
    source: i64,
    import: i64,
    /// A dynamic segment of people.
    segment: i64,
    /// A static list of people.
    list: i64,
    campaign: Campaign,
}

async fn targets(w: &World, role: Role, smtp_port: u16) -> Targets {
    let db = &w.t.db;
    let system = Actor::system(w.ws.id);
    let r = role.as_str();
    let account = record::create_record(
        db,
        &system,
        ObjectKind::Account,
        RecordInput {
            external_id: Some(format!("acc-{r}")),
            fields: json!({"name": format!("Account {r}")})
                .as_object()
                .cloned()
                .expect("object"),
            ..Default::default()
        },
        NOW,
    )
    .await
    .expect("account");
    let contact = record::create_record(
        db,
        &system,
        ObjectKind::Contact,
        RecordInput {
            account_id: Some(account.id),
            fields: json!({"email": format!("c-{r}@example.com")})
                .as_object()
                .cloned()
                .expect("object"),
            ..Default::default()
        },
        NOW,
    )
    .await
    .expect("contact");
    let field = format!("custom_{r}");
    record::create_field(
        db,
        &system,
        NewField {
            object: ObjectKind::Contact,
            key: field.clone(),
            label: "Custom".into(),
            field_type: FieldType::Text,
            required: false,
            default: None,
            options: vec![],
        },
        NOW,
    )
    .await
    .expect("field");
    let (victim, _) =
        member_with_token(db, &w.ws, &format!("victim-{r}@acme.test"), Role::Marketer).await;
    let me = w.actors[&role].clone();
    let own = admin::create_token(
        db,
        &me,
        admin::NewTokenRequest {
            name: "spare".into(),
            role: None,
        },
        NOW,
    )
    .await
    .expect("token");
    let source = pitcrew_app::ingest::create_source(db, &system, &format!("Site {r}"), NOW)
        .await
        .expect("source");
    let csv = format!("email\nimported-{r}@example.com\nnot-an-email\n");
    let import = pitcrew_app::import::import_csv(
        db,
        &system,
        Box::new(std::io::Cursor::new(csv.into_bytes())),
        pitcrew_app::import::ImportOptions::new(ObjectKind::Contact),
        &mut pitcrew_app::import::Unobserved,
        NOW,
    )
    .await
    .expect("import");
    let segment = audience::create_segment(
        db,
        &system,
        NewSegment {
            name: format!("Germans {r}"),
            description: String::new(),
            kind: SegmentKind::Dynamic,
            subject: None,
            definition: Some(Definition::Text(r#"people where country is "DE""#.into())),
        },
        NOW,
    )
    .await
    .expect("segment");
    let list = audience::create_segment(
        db,
        &system,
        NewSegment {
            name: format!("List {r}"),
            description: String::new(),
            kind: SegmentKind::Static,
            subject: None,
            definition: None,
        },
        NOW,
    )
    .await
    .expect("list");
    Targets {
        contact: contact.id,
        account: account.id,
        field,
        victim: victim.user_id.expect("user"),
        own_token: own.token.id,
        source: source.source.id,
        import: import.id,
        segment: segment.id,
        list: list.id,
        campaign: campaign_targets(w, role, smtp_port).await,
    }
}

/// Campaign objects made fresh for each role, each in the state its rows
/// need: a draft to change, an approved draft to start, a broadcast that is
/// sending (to pause, resume, cancel and read results), spares to delete.
struct Campaign {
    topic: i64,
    spare_topic: i64,
    topic_name: String,
    /// A contact opted in to `topic`, the only member of `list`.
    person: i64,
    /// The audience of the broadcasts.
    list: i64,
    provider: i64,
    spare_provider: i64,
    template: i64,
    spare_template: i64,
    draft: i64,
    approved: i64,
    sending: i64,
    spare_broadcast: i64,
    /// An address on the suppression list, to take off.
    suppressed: String,
    smtp_port: u16,
}

impl Campaign {
    /// Ids for tests that only look at the rows' routes.
    fn placeholder() -> Campaign {
        Campaign {
            topic: 1,
            spare_topic: 2,
            topic_name: "Newsletter".into(),
            person: 1,
            list: 1,
            provider: 1,
            spare_provider: 2,
            template: 1,
            spare_template: 2,
            draft: 1,
            approved: 2,
            sending: 3,
            spare_broadcast: 4,
            suppressed: "gone@example.com".into(),
            smtp_port: 25,
        }
    }
}

const PUBLIC_URL: &str = "https://mail.acme.test";
const POSTAL_ADDRESS: &str = "Acme GmbH, Hauptstr. 1, 10115 Berlin";
const TEMPLATE_BODY: &str = r#"<p>Hi {{ contact.first_name | default("there") }}</p>
<p><a href="{{ unsubscribe_url }}">Unsubscribe</a> · {{ postal_address }}</p>"#;
/// A test-only DKIM key (never published).
const DKIM_KEY: &str = include_str!("../../../pitcrew-app/tests/fixtures/dkim/rsa2048.pem");

fn sending_rules() -> SendingRules {
    SendingRules {
        postal_address: POSTAL_ADDRESS.into(),
        public_url: PUBLIC_URL.into(),
        unsubscribe_mailbox: "unsubscribe@acme.test".into(),
        ..SendingRules::default()
    }
}

fn provider_input(name: &str, port: u16) -> ProviderInput {
    ProviderInput {
        name: name.into(),
        host: "127.0.0.1".into(),
        port,
        security: Security::None,
        verify_tls: true,
        username: String::new(),
        password: None,
        per_second: 100,
        per_hour: 0,
        concurrency: 1,
    }
}

async fn campaign_targets(w: &World, role: Role, smtp_port: u16) -> Campaign {
    let db = &w.t.db;
    let system = Actor::system(w.ws.id);
    let r = role.as_str();
    provider::set_sending_rules(db, &system, sending_rules(), NOW)
        .await
        .expect("rules");
    let topic_name = format!("Topic {r}");
    let topic = consent::create_topic(db, &system, &topic_name, "News", NOW)
        .await
        .expect("topic");
    let spare_topic = consent::create_topic(db, &system, &format!("Spare {r}"), "", NOW)
        .await
        .expect("topic");
    let person = record::create_record(
        db,
        &system,
        ObjectKind::Contact,
        RecordInput {
            fields: json!({"email": format!("p-{r}@example.com"), "country": "US"})
                .as_object()
                .cloned()
                .expect("object"),
            ..Default::default()
        },
        NOW,
    )
    .await
    .expect("contact");
    let opt_in = ConsentInput::opt_in(
        &topic_name,
        LegalBasis::Consent,
        ConsentSource::Form,
        "Send me the news",
    );
    consent::record_consent(db, &system, person.id, opt_in, NOW)
        .await
        .expect("opt in");
    let list = audience::create_segment(
        db,
        &system,
        NewSegment {
            name: format!("Campaign list {r}"),
            description: String::new(),
            kind: SegmentKind::Static,
            subject: None,
            definition: None,
        },
        NOW,
    )
    .await
    .expect("list");
    audience::add_list_members(db, &system, list.id, vec![person.id], NOW)
        .await
        .expect("members");
    let provider = provider::create_provider(
        db,
        &system,
        provider_input(&format!("Sink {r}"), smtp_port),
        NOW,
    )
    .await
    .expect("provider");
    let spare_provider = provider::create_provider(
        db,
        &system,
        provider_input(&format!("Spare {r}"), smtp_port),
        NOW,
    )
    .await
    .expect("provider");
    let template_input = |name: String| TemplateInput {
        name,
        format: "html".into(),
        body: TEMPLATE_BODY.into(),
        text_body: String::new(),
    };
    let template =
        template::create_template(db, &system, template_input(format!("Template {r}")), NOW)
            .await
            .expect("template");
    let spare_template =
        template::create_template(db, &system, template_input(format!("Spare {r}")), NOW)
            .await
            .expect("template");
    let input = |name: &str| BroadcastInput {
        name: format!("{name} {r}"),
        template_id: Some(template.id),
        subject: "Hello".into(),
        from_name: "Acme".into(),
        from_email: "news@acme.test".into(),
        reply_to: String::new(),
        topic: topic_name.clone(),
        segments: vec![list.id],
        exclusions: vec![],
        provider_id: Some(provider.id),
        tracking: true,
        utm: BTreeMap::new(),
        scheduled_at: None,
    };
    let draft = broadcast::create_broadcast(db, &system, input("Draft"), NOW)
        .await
        .expect("draft");
    let approved = broadcast::create_broadcast(db, &system, input("Approved"), NOW)
        .await
        .expect("approved");
    broadcast::approve(db, &system, approved.id, NOW)
        .await
        .expect("approve");
    let sending = broadcast::create_broadcast(db, &system, input("Sending"), NOW)
        .await
        .expect("sending");
    broadcast::approve(db, &system, sending.id, NOW)
        .await
        .expect("approve");
    broadcast::start(db, &system, sending.id, NOW)
        .await
        .expect("start");
    let spare_broadcast = broadcast::create_broadcast(db, &system, input("Spare"), NOW)
        .await
        .expect("spare");
    let suppressed = format!("gone-{r}@example.com");
    suppression::add_suppression(
        db,
        &system,
        &suppressed,
        None,
        SuppressionReason::Manual,
        "",
        NOW,
    )
    .await
    .expect("suppress");
    Campaign {
        topic: topic.id,
        spare_topic: spare_topic.id,
        topic_name,
        person: person.id,
        list: list.id,
        provider: provider.id,
        spare_provider: spare_provider.id,
        template: template.id,
        spare_template: spare_template.id,
        draft: draft.id,
        approved: approved.id,
        sending: sending.id,
        spare_broadcast: spare_broadcast.id,
        suppressed,
        smtp_port,
    }
}

/// One row of the matrix: a route template, the least role, and the request.
struct Row {
    method: Method,
    route: &'static str,
    least: Role,
    path: String,
    /// A JSON body; a string is sent as a file of type `media`.
    body: Option<Value>,
    /// The type of a file body: `text/csv` unless given.
    media: Option<&'static str>,
}

/// Send a row's request as `token`.
async fn send(w: &World, row: &Row, token: Option<&str>) -> Reply {
    let Some(Value::String(csv)) = &row.body else {
        return w
            .call(row.method.clone(), &row.path, token, row.body.clone())
            .await;
    };
    let mut req = Request::builder()
        .method(row.method.clone())
        .uri(&row.path)
        .header(header::CONTENT_TYPE, row.media.unwrap_or("text/csv"));
    if let Some(t) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    w.send(req.body(Body::from(csv.clone())).expect("request"))
        .await
}

fn rows(role: Role, t: &Targets) -> Vec<Row> {
    use Role::*;
    let r = role.as_str();
    let row =
        |method: Method, route: &'static str, least: Role, path: String, body: Option<Value>| Row {
            method,
            route,
            least,
            path,
            body,
            media: None,
        };
    let mut all = vec![
        row(Method::GET, "/api/v1/me", Viewer, "/api/v1/me".into(), None),
        row(
            Method::GET,
            "/api/v1/fields",
            Viewer,
            "/api/v1/fields".into(),
            None,
        ),
        row(
            Method::POST,
            "/api/v1/fields",
            Admin,
            "/api/v1/fields".into(),
            Some(
                json!({"object": "account", "key": format!("new_{r}"), "label": "New", "type": "number"}),
            ),
        ),
        row(
            Method::GET,
            "/api/v1/fields/{object}/{key}",
            Viewer,
            format!("/api/v1/fields/contact/{}", t.field),
            None,
        ),
        row(
            Method::PATCH,
            "/api/v1/fields/{object}/{key}",
            Admin,
            format!("/api/v1/fields/contact/{}", t.field),
            Some(json!({"label": "Renamed"})),
        ),
        row(
            Method::GET,
            "/api/v1/contacts",
            Viewer,
            "/api/v1/contacts?limit=5".into(),
            None,
        ),
        row(
            Method::POST,
            "/api/v1/contacts",
            Marketer,
            "/api/v1/contacts".into(),
            Some(json!({"fields": {"email": format!("new-{r}@example.com")}})),
        ),
        row(
            Method::GET,
            "/api/v1/contacts/lookup",
            Viewer,
            format!("/api/v1/contacts/lookup?email=c-{r}@example.com"),
            None,
        ),
        row(
            Method::GET,
            "/api/v1/contacts/{id}",
            Viewer,
            format!("/api/v1/contacts/{}", t.contact),
            None,
        ),
        row(
            Method::PATCH,
            "/api/v1/contacts/{id}",
            Marketer,
            format!("/api/v1/contacts/{}", t.contact),
            Some(json!({"fields": {"job_title": "CMO"}})),
        ),
        row(
            Method::GET,
            "/api/v1/accounts",
            Viewer,
            "/api/v1/accounts".into(),
            None,
        ),
        row(
            Method::POST,
            "/api/v1/accounts",
            Marketer,
            "/api/v1/accounts".into(),
            Some(json!({"fields": {"name": format!("New {r}")}})),
        ),
        row(
            Method::GET,
            "/api/v1/accounts/lookup",
            Viewer,
            format!("/api/v1/accounts/lookup?external_id=acc-{r}"),
            None,
        ),
        row(
            Method::GET,
            "/api/v1/accounts/{id}",
            Viewer,
            format!("/api/v1/accounts/{}", t.account),
            None,
        ),
        row(
            Method::PATCH,
            "/api/v1/accounts/{id}",
            Marketer,
            format!("/api/v1/accounts/{}", t.account),
            Some(json!({"fields": {"employees": 120}})),
        ),
        row(
            Method::GET,
            "/api/v1/accounts/{id}/contacts",
            Viewer,
            format!("/api/v1/accounts/{}/contacts", t.account),
            None,
        ),
        row(
            Method::GET,
            "/api/v1/users",
            Viewer,
            "/api/v1/users".into(),
            None,
        ),
        row(
            Method::POST,
            "/api/v1/users",
            Admin,
            "/api/v1/users".into(),
            Some(
                json!({"email": format!("added-{r}@acme.test"), "role": "viewer", "password": "a-long-first-password"}),
            ),
        ),
        row(
            Method::PATCH,
            "/api/v1/users/{id}",
            Admin,
            format!("/api/v1/users/{}", t.victim),
            Some(json!({"role": "builder"})),
        ),
        row(
            Method::GET,
            "/api/v1/tokens",
            Viewer,
            "/api/v1/tokens".into(),
            None,
        ),
        row(
            Method::POST,
            "/api/v1/tokens",
            Viewer,
            "/api/v1/tokens".into(),
            Some(json!({"name": "reporting"})),
        ),
        row(
            Method::DELETE,
            "/api/v1/tokens/{id}",
            Viewer,
            format!("/api/v1/tokens/{}", t.own_token),
            None,
        ),
        row(
            Method::GET,
            "/api/v1/audit",
            Admin,
            "/api/v1/audit".into(),
            None,
        ),
        row(
            Method::POST,
            "/api/v1/imports",
            Marketer,
            "/api/v1/imports?object=contact".into(),
            Some(Value::String(format!(
                "email,first_name\nimport-{r}@example.com,Ima\n"
            ))),
        ),
        row(
            Method::GET,
            "/api/v1/imports",
            Marketer,
            "/api/v1/imports".into(),
            None,
        ),
        row(
            Method::GET,
            "/api/v1/imports/{id}",
            Marketer,
            format!("/api/v1/imports/{}", t.import),
            None,
        ),
        row(
            Method::GET,
            "/api/v1/imports/{id}/rejects.csv",
            Marketer,
            format!("/api/v1/imports/{}/rejects.csv", t.import),
            None,
        ),
        row(
            Method::GET,
            "/api/v1/health",
            Viewer,
            "/api/v1/health?object=contact&ids_limit=10".into(),
            None,
        ),
        row(
            Method::GET,
            "/api/v1/sources",
            Admin,
            "/api/v1/sources".into(),
            None,
        ),
        row(
            Method::POST,
            "/api/v1/sources",
            Admin,
            "/api/v1/sources".into(),
            Some(json!({"name": format!("App {r}")})),
        ),
        row(
            Method::DELETE,
            "/api/v1/sources/{id}",
            Admin,
            format!("/api/v1/sources/{}", t.source),
            None,
        ),
        row(
            Method::GET,
            "/api/v1/contacts/{id}/events",
            Viewer,
            format!("/api/v1/contacts/{}/events", t.contact),
            None,
        ),
        row(
            Method::GET,
            "/api/v1/contacts/{id}/identities",
            Viewer,
            format!("/api/v1/contacts/{}/identities", t.contact),
            None,
        ),
        row(
            Method::GET,
            "/api/v1/event-types",
            Viewer,
            "/api/v1/event-types".into(),
            None,
        ),
        row(
            Method::GET,
            "/api/v1/undeclared-traits",
            Viewer,
            "/api/v1/undeclared-traits".into(),
            None,
        ),
        row(
            Method::GET,
            "/api/v1/settings",
            Viewer,
            "/api/v1/settings".into(),
            None,
        ),
        row(
            Method::PUT,
            "/api/v1/settings",
            Admin,
            "/api/v1/settings".into(),
            Some(json!({"unknown_traits": "keep"})),
        ),
        row(
            Method::PUT,
            "/api/v1/me/password",
            Viewer,
            "/api/v1/me/password".into(),
            Some(json!({"current_password": PASSWORD, "new_password": PASSWORD})),
        ),
        row(
            Method::POST,
            "/api/v1/segments/check",
            Viewer,
            "/api/v1/segments/check".into(),
            Some(json!({"definition": "people where country is \"DE\""})),
        ),
        row(
            Method::POST,
            "/api/v1/segments/count",
            Viewer,
            "/api/v1/segments/count".into(),
            Some(json!({"definition": "people where country is \"DE\""})),
        ),
        row(
            Method::POST,
            "/api/v1/segments/preview",
            Viewer,
            "/api/v1/segments/preview".into(),
            Some(json!({"definition": "people where country is \"DE\"", "fields": ["email"]})),
        ),
        row(
            Method::GET,
            "/api/v1/segments",
            Viewer,
            "/api/v1/segments".into(),
            None,
        ),
        row(
            Method::POST,
            "/api/v1/segments",
            Marketer,
            "/api/v1/segments".into(),
            Some(json!({"name": format!("New {r}"), "kind": "static"})),
        ),
        row(
            Method::GET,
            "/api/v1/segments/{id}",
            Viewer,
            format!("/api/v1/segments/{}", t.segment),
            None,
        ),
        row(
            Method::PATCH,
            "/api/v1/segments/{id}",
            Marketer,
            format!("/api/v1/segments/{}", t.segment),
            Some(json!({"description": format!("Changed by {r}")})),
        ),
        row(
            Method::GET,
            "/api/v1/segments/{id}/versions",
            Viewer,
            format!("/api/v1/segments/{}/versions", t.segment),
            None,
        ),
        row(
            Method::GET,
            "/api/v1/segments/{id}/count",
            Viewer,
            format!("/api/v1/segments/{}/count", t.segment),
            None,
        ),
        row(
            Method::GET,
            "/api/v1/segments/{id}/members",
            Viewer,
            format!("/api/v1/segments/{}/members?fields=email", t.segment),
            None,
        ),
        row(
            Method::POST,
            "/api/v1/segments/{id}/members",
            Marketer,
            format!("/api/v1/segments/{}/members", t.list),
            Some(json!({"ids": [t.contact]})),
        ),
        row(
            Method::DELETE,
            "/api/v1/segments/{id}/members",
            Marketer,
            format!("/api/v1/segments/{}/members", t.list),
            Some(json!({"ids": [t.contact]})),
        ),
        row(
            Method::POST,
            "/api/v1/segments/{id}/members/import",
            Marketer,
            format!("/api/v1/segments/{}/members/import", t.list),
            Some(Value::String(format!("email\nc-{r}@example.com\n"))),
        ),
        row(
            Method::POST,
            "/api/v1/segments/{id}/snapshot",
            Marketer,
            format!("/api/v1/segments/{}/snapshot", t.list),
            Some(json!({"from": t.segment, "replace": false})),
        ),
        row(
            Method::GET,
            "/api/v1/segments/{id}/export",
            Viewer,
            format!("/api/v1/segments/{}/export?fields=email", t.segment),
            None,
        ),
        row(
            Method::GET,
            "/api/v1/segments/{id}/sql",
            Viewer,
            format!("/api/v1/segments/{}/sql", t.segment),
            None,
        ),
        row(
            Method::GET,
            "/api/v1/segments/{id}/explain",
            Viewer,
            format!(
                "/api/v1/segments/{}/explain?record={}",
                t.segment, t.contact
            ),
            None,
        ),
        row(
            Method::GET,
            "/api/v1/contacts/{id}/segments",
            Viewer,
            format!("/api/v1/contacts/{}/segments", t.contact),
            None,
        ),
        row(
            Method::GET,
            "/api/v1/accounts/{id}/segments",
            Viewer,
            format!("/api/v1/accounts/{}/segments", t.account),
            None,
        ),
        row(
            Method::GET,
            "/api/v1/uses",
            Viewer,
            "/api/v1/uses?kind=contact_field&target=country".into(),
            None,
        ),
        row(
            Method::DELETE,
            "/api/v1/segments/{id}",
            Marketer,
            format!("/api/v1/segments/{}", t.list),
            None,
        ),
        row(
            Method::DELETE,
            "/api/v1/contacts/{id}",
            Admin,
            format!("/api/v1/contacts/{}", t.contact),
            None,
        ),
        row(
            Method::DELETE,
            "/api/v1/accounts/{id}",
            Admin,
            format!("/api/v1/accounts/{}", t.account),
            None,
        ),
        row(
            Method::DELETE,
            "/api/v1/users/{id}",
            Admin,
            format!("/api/v1/users/{}", t.victim),
            None,
        ),
        row(
            Method::DELETE,
            "/api/v1/fields/{object}/{key}",
            Admin,
            format!("/api/v1/fields/contact/{}", t.field),
            None,
        ),
    ];
    all.extend(campaign_rows(role, &t.campaign));
    all
}

/// The campaign routes. Reads and writes come before the consent rows,
/// whose "unsubscribe from everything" would leave the broadcasts without
/// an audience.
fn campaign_rows(role: Role, c: &Campaign) -> Vec<Row> {
    use Role::*;
    let r = role.as_str();
    let row =
        |method: Method, route: &'static str, least: Role, path: String, body: Option<Value>| Row {
            method,
            route,
            least,
            path,
            body,
            media: None,
        };
    let provider = |name: String| json!({"name": name, "host": "127.0.0.1", "port": c.smtp_port, "security": "none"});
    let broadcast = json!({
        "name": format!("Changed {r}"),
        "template_id": c.template,
        "subject": "Hello again",
        "from_name": "Acme",
        "from_email": "news@acme.test",
        "topic": c.topic_name,
        "segments": [c.list],
        "provider_id": c.provider,
    });
    let b = |id: i64, rest: &str| format!("/api/v1/broadcasts/{id}{rest}");
    let report = "From: Ana <ana@example.com>\r\nTo: news@acme.test\r\nSubject: Thanks\r\n\r\nThanks for the news!\r\n";
    vec![
        row(
            Method::GET,
            "/api/v1/topics",
            Viewer,
            "/api/v1/topics".into(),
            None,
        ),
        row(
            Method::POST,
            "/api/v1/topics",
            Marketer,
            "/api/v1/topics".into(),
            Some(json!({"name": format!("New topic {r}"), "description": "Launch news"})),
        ),
        row(
            Method::GET,
            "/api/v1/topics/{id}",
            Viewer,
            format!("/api/v1/topics/{}", c.topic),
            None,
        ),
        row(
            Method::PATCH,
            "/api/v1/topics/{id}",
            Marketer,
            format!("/api/v1/topics/{}", c.topic),
            Some(json!({"description": format!("Changed by {r}")})),
        ),
        row(
            Method::DELETE,
            "/api/v1/topics/{id}",
            Marketer,
            format!("/api/v1/topics/{}", c.spare_topic),
            None,
        ),
        row(
            Method::GET,
            "/api/v1/suppressions",
            Viewer,
            "/api/v1/suppressions?limit=10".into(),
            None,
        ),
        row(
            Method::POST,
            "/api/v1/suppressions",
            Marketer,
            "/api/v1/suppressions".into(),
            Some(json!({"email": format!("new-{r}@example.com"), "note": "asked by phone"})),
        ),
        row(
            Method::DELETE,
            "/api/v1/suppressions",
            Marketer,
            format!("/api/v1/suppressions?email={}", c.suppressed),
            None,
        ),
        row(
            Method::POST,
            "/api/v1/suppressions/import",
            Marketer,
            "/api/v1/suppressions/import".into(),
            Some(Value::String(format!(
                "email,reason\ncsv-{r}@example.com,manual\n"
            ))),
        ),
        row(
            Method::GET,
            "/api/v1/suppressions/export",
            Viewer,
            "/api/v1/suppressions/export".into(),
            None,
        ),
        row(
            Method::POST,
            "/api/v1/suppressions/role-addresses",
            Marketer,
            "/api/v1/suppressions/role-addresses".into(),
            None,
        ),
        row(
            Method::GET,
            "/api/v1/providers",
            Viewer,
            "/api/v1/providers".into(),
            None,
        ),
        row(
            Method::POST,
            "/api/v1/providers",
            Admin,
            "/api/v1/providers".into(),
            Some(provider(format!("Added {r}"))),
        ),
        row(
            Method::GET,
            "/api/v1/providers/{id}",
            Viewer,
            format!("/api/v1/providers/{}", c.provider),
            None,
        ),
        row(
            Method::PUT,
            "/api/v1/providers/{id}",
            Admin,
            format!("/api/v1/providers/{}", c.provider),
            Some(provider(format!("Sink {r}"))),
        ),
        row(
            Method::DELETE,
            "/api/v1/providers/{id}",
            Admin,
            format!("/api/v1/providers/{}", c.spare_provider),
            None,
        ),
        row(
            Method::GET,
            "/api/v1/sending/rules",
            Viewer,
            "/api/v1/sending/rules".into(),
            None,
        ),
        row(
            Method::PUT,
            "/api/v1/sending/rules",
            Admin,
            "/api/v1/sending/rules".into(),
            Some(
                json!({"postal_address": POSTAL_ADDRESS, "public_url": PUBLIC_URL, "unsubscribe_mailbox": "unsubscribe@acme.test"}),
            ),
        ),
        row(
            Method::GET,
            "/api/v1/sending/dkim",
            Viewer,
            "/api/v1/sending/dkim".into(),
            None,
        ),
        row(
            Method::PUT,
            "/api/v1/sending/dkim",
            Admin,
            "/api/v1/sending/dkim".into(),
            Some(json!({"domain": "acme.test", "selector": "pc1", "private_key": DKIM_KEY})),
        ),
        row(
            Method::GET,
            "/api/v1/templates",
            Viewer,
            "/api/v1/templates".into(),
            None,
        ),
        row(
            Method::POST,
            "/api/v1/templates",
            Marketer,
            "/api/v1/templates".into(),
            Some(
                json!({"name": format!("New template {r}"), "format": "html", "body": TEMPLATE_BODY}),
            ),
        ),
        row(
            Method::GET,
            "/api/v1/templates/{id}",
            Viewer,
            format!("/api/v1/templates/{}", c.template),
            None,
        ),
        row(
            Method::PATCH,
            "/api/v1/templates/{id}",
            Marketer,
            format!("/api/v1/templates/{}", c.template),
            Some(json!({"name": format!("Renamed template {r}")})),
        ),
        row(
            Method::POST,
            "/api/v1/templates/{id}/preview",
            Viewer,
            format!("/api/v1/templates/{}/preview", c.template),
            Some(json!({"contact_id": c.person, "subject": "Hello"})),
        ),
        row(
            Method::POST,
            "/api/v1/templates/{id}/test",
            Marketer,
            format!("/api/v1/templates/{}/test", c.template),
            Some(
                json!({"to": [format!("qa-{r}@acme.test")], "contact_id": c.person, "subject": "Hello",
                "from_name": "Acme", "from_email": "news@acme.test", "provider_id": c.provider}),
            ),
        ),
        row(
            Method::DELETE,
            "/api/v1/templates/{id}",
            Marketer,
            format!("/api/v1/templates/{}", c.spare_template),
            None,
        ),
        row(
            Method::GET,
            "/api/v1/broadcasts",
            Viewer,
            "/api/v1/broadcasts?status=draft".into(),
            None,
        ),
        row(
            Method::POST,
            "/api/v1/broadcasts",
            Marketer,
            "/api/v1/broadcasts".into(),
            Some(json!({"name": format!("New {r}")})),
        ),
        row(
            Method::GET,
            "/api/v1/broadcasts/{id}",
            Viewer,
            b(c.draft, ""),
            None,
        ),
        row(
            Method::PUT,
            "/api/v1/broadcasts/{id}",
            Marketer,
            b(c.draft, ""),
            Some(broadcast),
        ),
        row(
            Method::GET,
            "/api/v1/broadcasts/{id}/checks",
            Viewer,
            b(c.draft, "/checks"),
            None,
        ),
        row(
            Method::POST,
            "/api/v1/broadcasts/{id}/approve",
            Admin,
            b(c.draft, "/approve"),
            None,
        ),
        row(
            Method::POST,
            "/api/v1/broadcasts/{id}/start",
            Marketer,
            b(c.approved, "/start"),
            None,
        ),
        row(
            Method::POST,
            "/api/v1/broadcasts/{id}/pause",
            Marketer,
            b(c.sending, "/pause"),
            None,
        ),
        row(
            Method::POST,
            "/api/v1/broadcasts/{id}/resume",
            Marketer,
            b(c.sending, "/resume"),
            None,
        ),
        row(
            Method::GET,
            "/api/v1/broadcasts/{id}/stats",
            Viewer,
            b(c.sending, "/stats"),
            None,
        ),
        row(
            Method::GET,
            "/api/v1/broadcasts/{id}/recipients",
            Viewer,
            b(c.sending, "/recipients?state=queued&limit=10"),
            None,
        ),
        row(
            Method::GET,
            "/api/v1/broadcasts/{id}/recipients/{contact_id}",
            Viewer,
            b(c.sending, &format!("/recipients/{}", c.person)),
            None,
        ),
        row(
            Method::POST,
            "/api/v1/broadcasts/{id}/cancel",
            Marketer,
            b(c.sending, "/cancel"),
            None,
        ),
        row(
            Method::DELETE,
            "/api/v1/broadcasts/{id}",
            Marketer,
            b(c.spare_broadcast, ""),
            None,
        ),
        Row {
            media: Some("message/rfc822"),
            ..row(
                Method::POST,
                "/api/v1/reports",
                Marketer,
                "/api/v1/reports".into(),
                Some(Value::String(report.into())),
            )
        },
        row(
            Method::GET,
            "/api/v1/contacts/{id}/consent",
            Viewer,
            format!("/api/v1/contacts/{}/consent", c.person),
            None,
        ),
        row(
            Method::GET,
            "/api/v1/contacts/{id}/consent/history",
            Viewer,
            format!("/api/v1/contacts/{}/consent/history", c.person),
            None,
        ),
        row(
            Method::POST,
            "/api/v1/contacts/{id}/consent",
            Marketer,
            format!("/api/v1/contacts/{}/consent", c.person),
            Some(
                json!({"topic": c.topic_name, "subscribed": true, "legal_basis": "consent", "source": "api",
                "wording": "Send me the news", "wording_version": "v2"}),
            ),
        ),
        row(
            Method::POST,
            "/api/v1/contacts/{id}/consent/unsubscribe-all",
            Marketer,
            format!("/api/v1/contacts/{}/consent/unsubscribe-all", c.person),
            Some(json!({"source": "admin"})),
        ),
    ]
}

/// Routes anyone may call without credentials (the pages people reach from
/// an email carry a signed token instead; tested in `campaign`).
const PUBLIC: &[(&str, &str)] = &[
    ("POST", "/api/v1/auth/login"),
    ("POST", "/api/v1/auth/logout"),
    ("GET", "/healthz"),
    ("GET", "/metrics"),
    ("GET", "/t/o/{token}"),
    ("GET", "/t/c/{token}"),
    ("GET", "/u/{token}"),
    ("POST", "/u/{token}"),
    ("GET", "/u/{token}/preferences"),
    ("POST", "/u/{token}/preferences"),
];

/// The tracking API, which takes a source's write key instead of a member's
/// credentials (tested in `tracking`).
const WRITE_KEY: &[&str] = &[
    "/v1/identify",
    "/v1/track",
    "/v1/page",
    "/v1/screen",
    "/v1/group",
    "/v1/alias",
    "/v1/batch",
    "/v1/import",
];

#[tokio::test]
async fn each_role_gets_exactly_what_it_should() {
    for t in pitcrew_testkit::each_engine().await {
        let engine = t.engine();
        let w = world(t).await;
        // Test emails go to a real SMTP server.
        let sink = pitcrew_testkit::smtp::SmtpSink::start().await;
        let mut checked = 0;
        for role in Role::ALL {
            let targets = targets(&w, role, sink.port()).await;
            for row in rows(role, &targets) {
                let reply = send(&w, &row, Some(w.token(role))).await;
                let what = format!("{engine:?}: {} {} as {role}", row.method, row.path);
                if role >= row.least {
                    assert!(
                        reply.status.is_success(),
                        "{what} should succeed, got {} {}",
                        reply.status,
                        reply.json
                    );
                } else {
                    assert_eq!(
                        reply.status,
                        StatusCode::FORBIDDEN,
                        "{what} should be refused, got {}",
                        reply.json
                    );
                    assert_eq!(reply.code(), "forbidden", "{what}");
                    assert!(
                        reply.json["error"]["message"]
                            .as_str()
                            .unwrap_or("")
                            .contains(row.least.as_str()),
                        "{what}: message names the role needed"
                    );
                }
                checked += 1;
            }
        }
        eprintln!("{engine:?}: role matrix of {checked} calls");
    }
}

#[tokio::test]
async fn every_documented_route_is_in_the_matrix() {
    let doc = serde_json::to_value(pitcrew_web::openapi()).expect("openapi");
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("item").keys() {
            documented.insert((method.to_uppercase(), path.clone()));
        }
    }
    let t = Targets {
        contact: 1,
        account: 1,
        field: "f".into(),
        victim: 1,
        own_token: 1,
        source: 1,
        import: 1,
        segment: 1,
        list: 2,
        campaign: Campaign::placeholder(),
    };
    let mut covered: BTreeSet<(String, String)> = rows(Role::Owner, &t)
        .into_iter()
        .map(|r| (r.method.to_string(), r.route.to_string()))
        .collect();
    covered.extend(PUBLIC.iter().map(|(m, p)| (m.to_string(), p.to_string())));
    covered.extend(
        WRITE_KEY
            .iter()
            .map(|p| ("POST".to_string(), p.to_string())),
    );
    assert_eq!(
        documented, covered,
        "the role matrix and the OpenAPI document must list the same routes"
    );
}

#[tokio::test]
async fn every_protected_route_needs_credentials() {
    let t = pitcrew_testkit::sqlite().await;
    let w = world(t).await;
    let targets = Targets {
        contact: 1,
        account: 1,
        field: "f".into(),
        victim: 1,
        own_token: 1,
        source: 1,
        import: 1,
        segment: 1,
        list: 2,
        campaign: Campaign::placeholder(),
    };
    for row in rows(Role::Owner, &targets) {
        let reply = w
            .call(row.method.clone(), &row.path, None, row.body.clone())
            .await;
        assert_eq!(
            reply.status,
            StatusCode::UNAUTHORIZED,
            "{} {}",
            row.method,
            row.path
        );
        assert_eq!(
            reply.code(),
            "unauthenticated",
            "{} {}",
            row.method,
            row.path
        );
        let reply = w
            .call(
                row.method.clone(),
                &row.path,
                Some("pct_not-a-real-token"),
                row.body,
            )
            .await;
        assert_eq!(reply.code(), "token_invalid", "{} {}", row.method, row.path);
    }
}

#[tokio::test]
async fn admins_cannot_make_owners_and_nobody_changes_their_own_role() {
    for t in pitcrew_testkit::each_engine().await {
        let w = world(t).await;
        let marketer = w.actors[&Role::Marketer].user_id.expect("user");
        let admin_id = w.actors[&Role::Admin].user_id.expect("user");
        let reply = w
            .call(
                Method::PATCH,
                &format!("/api/v1/users/{marketer}"),
                Some(w.token(Role::Admin)),
                Some(json!({"role": "owner"})),
            )
            .await;
        assert_eq!(
            (reply.status, reply.code()),
            (StatusCode::FORBIDDEN, "forbidden")
        );
        let reply = w
            .call(
                Method::PATCH,
                &format!("/api/v1/users/{admin_id}"),
                Some(w.token(Role::Admin)),
                Some(json!({"role": "viewer"})),
            )
            .await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN);
        let reply = w
            .call(
                Method::PATCH,
                &format!("/api/v1/users/{marketer}"),
                Some(w.token(Role::Owner)),
                Some(json!({"role": "owner"})),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.json);
        assert_eq!(reply.json["role"], "owner");
    }
}

#[tokio::test]
async fn a_token_cannot_outrank_its_creator() {
    for t in pitcrew_testkit::each_engine().await {
        let w = world(t).await;
        let reply = w
            .call(
                Method::POST,
                "/api/v1/tokens",
                Some(w.token(Role::Marketer)),
                Some(json!({"name": "x", "role": "admin"})),
            )
            .await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.json);
        let reply = w
            .call(
                Method::POST,
                "/api/v1/tokens",
                Some(w.token(Role::Admin)),
                Some(json!({"name": "read only", "role": "viewer"})),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED);
        let secret = reply.json["secret"].as_str().expect("secret").to_string();
        let reply = w
            .call(
                Method::POST,
                "/api/v1/contacts",
                Some(&secret),
                Some(json!({"fields": {"first_name": "Ada"}})),
            )
            .await;
        assert_eq!(
            reply.status,
            StatusCode::FORBIDDEN,
            "a viewer token cannot write even though its creator can"
        );
    }
}
