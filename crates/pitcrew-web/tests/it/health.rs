//! `GET /api/v1/health` over HTTP: the report's shape for the least role
//! that may read it, and errors with stable codes for bad parameters.

use axum::http::{Method, StatusCode};
use pitcrew_app::Actor;
use pitcrew_core::admin::Role;
use pitcrew_core::record::ObjectKind;
use pitcrew_store::record::{Identity, insert_record};
use serde_json::{Map, Value, json};

use crate::support::{NOW, world};

fn fields(v: Value) -> Map<String, Value> {
    v.as_object().cloned().expect("object")
}

#[tokio::test]
async fn a_viewer_gets_the_report_with_counts_ids_and_samples() {
    for t in pitcrew_testkit::each_engine().await {
        let engine = t.engine();
        let w = world(t).await;
        let db = &w.t.db;
        let system = Actor::system(w.ws.id);
        pitcrew_app::record::create_record(
            db,
            &system,
            ObjectKind::Contact,
            serde_json::from_value(json!({"fields": {"email": "ada@example.com"}})).expect("input"),
            NOW,
        )
        .await
        .expect("contact");
        let broken = insert_record(
            db.conn(),
            w.ws.id,
            ObjectKind::Contact,
            &Identity::default(),
            &fields(json!({"email": "broken", "country": "Deutschland"})),
            NOW,
        )
        .await
        .expect("raw contact")
        .id;

        let reply = w
            .call(
                Method::GET,
                "/api/v1/health?object=contacts&stale_days=30&ids_limit=5",
                Some(w.token(Role::Viewer)),
                None,
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{engine:?}: {}", reply.json);
        let r = &reply.json;
        assert_eq!(r["object"], "contact", "{engine:?}");
        assert_eq!(r["total"], 2, "{engine:?}");
        assert_eq!(
            (r["stale_days"].clone(), r["ids_limit"].clone()),
            (json!(30), json!(5))
        );
        assert!(
            r["generated_at"].as_str().is_some_and(|s| s.ends_with('Z')),
            "{r}"
        );
        let checks = r["checks"].as_array().expect("checks");
        for c in checks {
            for member in [
                "code",
                "field",
                "label",
                "description",
                "severity",
                "count",
                "ids",
                "ids_truncated",
                "samples",
            ] {
                assert!(
                    c.get(member).is_some(),
                    "{engine:?}: {member} missing in {c}"
                );
            }
            assert!(
                ["error", "warning", "info"].contains(&c["severity"].as_str().unwrap_or("")),
                "{c}"
            );
        }
        let find = |code: &str, field: Value| {
            checks
                .iter()
                .find(|c| c["code"] == code && c["field"] == field)
                .cloned()
                .unwrap_or_else(|| panic!("{engine:?}: no {code} in {r}"))
        };
        let invalid = find("email_invalid", Value::Null);
        assert_eq!(
            (
                invalid["count"].clone(),
                invalid["ids"].clone(),
                invalid["ids_truncated"].clone()
            ),
            (json!(1), json!([broken]), json!(false)),
            "{engine:?}"
        );
        assert_eq!(invalid["samples"][0]["field"], "email");
        assert_eq!(invalid["samples"][0]["value"], "broken");
        assert!(invalid["samples"][0]["reason"].is_string(), "{invalid}");
        let country = find("country_unnormalised", json!("country"));
        assert_eq!(country["samples"][0]["normalised"], "DE", "{engine:?}");
        let duplicates = find("duplicate_email", Value::Null);
        assert_eq!(
            (
                duplicates["count"].clone(),
                duplicates["group_count"].clone()
            ),
            (json!(0), json!(0))
        );
        assert_eq!(duplicates["groups"], json!([]), "{engine:?}");
        let accounts = w
            .call(
                Method::GET,
                "/api/v1/health?object=account",
                Some(w.token(Role::Viewer)),
                None,
            )
            .await;
        assert_eq!(accounts.status, StatusCode::OK, "{}", accounts.json);
        assert_eq!(accounts.json["object"], "account");
    }
}

#[tokio::test]
async fn the_report_needs_credentials() {
    let w = world(pitcrew_testkit::sqlite().await).await;
    let reply = w.call(Method::GET, "/api/v1/health", None, None).await;
    assert_eq!(
        (reply.status, reply.code()),
        (StatusCode::UNAUTHORIZED, "unauthenticated"),
        "{}",
        reply.json
    );
}

#[tokio::test]
async fn bad_parameters_answer_400_with_a_code_and_the_parameter() {
    let w = world(pitcrew_testkit::sqlite().await).await;
    let viewer = Some(w.token(Role::Viewer));
    for (query, code, field) in [
        ("object=people", "object_invalid", Some("object")),
        ("stale_days=0", "stale_days_invalid", Some("stale_days")),
        ("ids_limit=100000", "ids_limit_invalid", Some("ids_limit")),
        ("stale_days=soon", "query_invalid", None),
        ("colour=red", "query_invalid", None),
    ] {
        let reply = w
            .call(
                Method::GET,
                &format!("/api/v1/health?{query}"),
                viewer,
                None,
            )
            .await;
        assert_eq!(
            (reply.status, reply.code()),
            (StatusCode::BAD_REQUEST, code),
            "{query}: {}",
            reply.json
        );
        assert_eq!(reply.json["error"]["field"].as_str(), field, "{query}");
        assert!(
            reply.json["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
    }
}

#[tokio::test]
async fn the_report_is_in_the_openapi_document() {
    let doc = serde_json::to_value(pitcrew_web::openapi()).expect("openapi");
    let op = &doc["paths"]["/api/v1/health"]["get"];
    let names: Vec<&str> = op["parameters"]
        .as_array()
        .expect("parameters")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert_eq!(names, ["object", "stale_days", "ids_limit"]);
    assert!(doc["components"]["schemas"]["HealthReport"].is_object());
    assert!(doc["components"]["schemas"]["HealthCheck"].is_object());
}
