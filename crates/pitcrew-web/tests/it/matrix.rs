//! The role matrix: every API route, called as every role, succeeds for the
//! roles that may use it and is refused with 403 for the rest. A route added
//! without a row here fails `every_documented_route_is_in_the_matrix`.

use std::collections::BTreeSet;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use pitcrew_app::audience::{self, Definition, NewSegment, SegmentKind};
use pitcrew_app::record::{self, NewField, RecordInput};
use pitcrew_app::{Actor, admin};
use pitcrew_core::admin::Role;
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
}

async fn targets(w: &World, role: Role) -> Targets {
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
    }
}

/// One row of the matrix: a route template, the least role, and the request.
struct Row {
    method: Method,
    route: &'static str,
    least: Role,
    path: String,
    /// A JSON body; a string is sent as a CSV file (`text/csv`).
    body: Option<Value>,
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
        .header(header::CONTENT_TYPE, "text/csv");
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
        };
    vec![
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
    ]
}

/// Routes anyone may call without credentials.
const PUBLIC: &[(&str, &str)] = &[
    ("POST", "/api/v1/auth/login"),
    ("POST", "/api/v1/auth/logout"),
    ("GET", "/healthz"),
    ("GET", "/metrics"),
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
        let mut checked = 0;
        for role in Role::ALL {
            let targets = targets(&w, role).await;
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
