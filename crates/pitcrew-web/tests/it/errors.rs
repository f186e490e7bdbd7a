//! Requests that break the API contract get a 4xx with a stable code and a
//! pointer to the problem — never a 500, never a bare text body.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use pitcrew_core::admin::Role;
use serde_json::json;

use crate::support::world;

#[tokio::test]
async fn malformed_json_points_at_line_and_column() {
    let w = world(pitcrew_testkit::sqlite().await).await;
    let req = Request::builder()
        .method(Method::POST)
        .uri("/api/v1/contacts")
        .header(
            header::AUTHORIZATION,
            format!("Bearer {}", w.token(Role::Owner)),
        )
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(
            "{\n  \"fields\": {\"email\": \"a@b.example\",}\n}",
        ))
        .expect("request");
    let reply = w.send(req).await;
    assert_eq!(
        (reply.status, reply.code()),
        (StatusCode::BAD_REQUEST, "json_invalid"),
        "{}",
        reply.json
    );
    assert_eq!(reply.json["error"]["at"]["line"], 2, "{}", reply.json);
    assert!(
        reply.json["error"]["at"]["column"]
            .as_u64()
            .expect("column")
            > 30
    );
}

#[tokio::test]
async fn a_body_of_the_wrong_shape_names_the_member() {
    let w = world(pitcrew_testkit::sqlite().await).await;
    let owner = w.token(Role::Owner);
    let reply = w
        .call(
            Method::POST,
            "/api/v1/contacts",
            Some(owner),
            Some(json!({"account_id": "seven"})),
        )
        .await;
    assert_eq!(
        (reply.status, reply.code()),
        (StatusCode::BAD_REQUEST, "body_invalid"),
        "{}",
        reply.json
    );
    assert_eq!(reply.json["error"]["field"], "account_id");
    let reply = w
        .call(
            Method::POST,
            "/api/v1/contacts",
            Some(owner),
            Some(json!({"email": "top-level@example.com"})),
        )
        .await;
    assert_eq!(reply.code(), "body_invalid");
    assert!(
        reply.json["error"]["message"]
            .as_str()
            .expect("message")
            .contains("unknown field `email`"),
        "{}",
        reply.json
    );
    let reply = w
        .call(
            Method::POST,
            "/api/v1/fields",
            Some(owner),
            Some(json!({"object": "contact", "key": "k", "label": "K", "type": "colour"})),
        )
        .await;
    assert_eq!(
        (reply.code(), reply.json["error"]["field"].as_str()),
        ("body_invalid", Some("type")),
        "{}",
        reply.json
    );
}

#[tokio::test]
async fn an_invalid_field_value_names_field_value_and_reason() {
    for t in pitcrew_testkit::each_engine().await {
        let w = world(t).await;
        let reply = w.call(Method::POST, "/api/v1/contacts", Some(w.token(Role::Owner)), Some(json!({"fields": {"email": "not-an-email", "country": "Narnia", "lifecyle_stage": "mql"}}))).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        let details = reply.json["error"]["details"].as_array().expect("details");
        assert_eq!(details.len(), 3, "{}", reply.json);
        let by_field = |f: &str| {
            details
                .iter()
                .find(|d| d["field"] == f)
                .cloned()
                .expect("detail")
        };
        assert_eq!(by_field("email")["code"], "field_invalid");
        assert_eq!(by_field("email")["value"], "not-an-email");
        assert!(
            by_field("country")["message"]
                .as_str()
                .expect("message")
                .contains("ISO code")
        );
        assert_eq!(by_field("lifecyle_stage")["code"], "field_unknown");
        assert!(
            by_field("lifecyle_stage")["message"]
                .as_str()
                .expect("message")
                .contains("lifecycle_stage")
        );
        let listed = w
            .call(
                Method::GET,
                "/api/v1/contacts",
                Some(w.token(Role::Owner)),
                None,
            )
            .await;
        assert_eq!(listed.json["total"], 0, "nothing was stored");
    }
}

#[tokio::test]
async fn transport_level_mistakes_have_codes_too() {
    let w = world(pitcrew_testkit::sqlite().await).await;
    let owner = w.token(Role::Owner);
    let cases = [
        (
            Method::GET,
            "/api/v1/contacts/abc",
            StatusCode::BAD_REQUEST,
            "path_invalid",
        ),
        (
            Method::GET,
            "/api/v1/contacts?limit=ten",
            StatusCode::BAD_REQUEST,
            "query_invalid",
        ),
        (
            Method::GET,
            "/api/v1/contacts?limit=5000",
            StatusCode::BAD_REQUEST,
            "limit_invalid",
        ),
        (
            Method::GET,
            "/api/v1/contacts?sort=-lastname",
            StatusCode::BAD_REQUEST,
            "sort_unknown",
        ),
        (
            Method::GET,
            "/api/v1/contacts?colour=red",
            StatusCode::BAD_REQUEST,
            "query_invalid",
        ),
        (
            Method::GET,
            "/api/v1/nothing-here",
            StatusCode::NOT_FOUND,
            "route_not_found",
        ),
        (
            Method::PUT,
            "/api/v1/contacts",
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        ),
        (
            Method::GET,
            "/api/v1/contacts/999999",
            StatusCode::NOT_FOUND,
            "contact_not_found",
        ),
        (
            Method::GET,
            "/api/v1/fields/person/email",
            StatusCode::BAD_REQUEST,
            "path_invalid",
        ),
        (
            Method::GET,
            "/api/v1/audit?object_type=planet",
            StatusCode::BAD_REQUEST,
            "object_type_unknown",
        ),
    ];
    for (method, path, status, code) in cases {
        let reply = w.call(method.clone(), path, Some(owner), None).await;
        assert_eq!(
            (reply.status, reply.code()),
            (status, code),
            "{method} {path}: {}",
            reply.json
        );
        assert!(
            !reply.json["error"]["message"]
                .as_str()
                .unwrap_or("")
                .is_empty(),
            "{method} {path} explains itself"
        );
    }
    let sorted = w
        .call(
            Method::GET,
            "/api/v1/contacts?sort=-lastname",
            Some(owner),
            None,
        )
        .await;
    assert!(
        sorted.json["error"]["message"]
            .as_str()
            .expect("message")
            .contains("last_name")
    );

    let req = Request::builder()
        .method(Method::POST)
        .uri("/api/v1/contacts")
        .header(header::AUTHORIZATION, format!("Bearer {owner}"))
        .header(header::CONTENT_TYPE, "text/plain")
        .body(Body::from("{}"))
        .expect("request");
    let reply = w.send(req).await;
    assert_eq!(
        (reply.status, reply.code()),
        (StatusCode::UNSUPPORTED_MEDIA_TYPE, "content_type_invalid")
    );

    let huge = format!(
        "{{\"fields\": {{\"job_title\": \"{}\"}}}}",
        "x".repeat(2 * 1024 * 1024)
    );
    let req = Request::builder()
        .method(Method::POST)
        .uri("/api/v1/contacts")
        .header(header::AUTHORIZATION, format!("Bearer {owner}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(huge))
        .expect("request");
    let reply = w.send(req).await;
    assert_eq!(
        (reply.status, reply.code()),
        (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large")
    );
}

#[tokio::test]
async fn duplicate_email_is_a_conflict_naming_the_field() {
    for t in pitcrew_testkit::each_engine().await {
        let w = world(t).await;
        let owner = w.token(Role::Owner);
        let first = w
            .call(
                Method::POST,
                "/api/v1/contacts",
                Some(owner),
                Some(json!({"fields": {"email": "ada@example.com"}})),
            )
            .await;
        assert_eq!(first.status, StatusCode::CREATED);
        let again = w
            .call(
                Method::POST,
                "/api/v1/contacts",
                Some(owner),
                Some(json!({"fields": {"email": " ADA@example.com "}})),
            )
            .await;
        assert_eq!(
            (again.status, again.code()),
            (StatusCode::CONFLICT, "email_taken"),
            "{}",
            again.json
        );
        assert_eq!(again.json["error"]["field"], "fields.email");
        let elsewhere = w
            .call(
                Method::POST,
                "/api/v1/contacts",
                Some(&w.other),
                Some(json!({"fields": {"email": "ada@example.com"}})),
            )
            .await;
        assert_eq!(
            elsewhere.status,
            StatusCode::CREATED,
            "the same email may exist in another workspace"
        );
    }
}

#[tokio::test]
async fn the_openapi_document_describes_every_error_response() {
    let w = world(pitcrew_testkit::sqlite().await).await;
    let reply = w.call(Method::GET, "/api/openapi.json", None, None).await;
    assert_eq!(reply.status, StatusCode::OK);
    let doc = reply.json;
    assert!(doc["openapi"].as_str().expect("version").starts_with("3."));
    assert!(doc["components"]["schemas"]["ErrorBody"].is_object());
    assert_eq!(
        doc["components"]["schemas"]["IngestResponse"]["allOf"][1]["properties"]["error"]["oneOf"]
            [0]["$ref"],
        "#/components/schemas/ErrorDetail",
        "a refused tracking call carries the common error member: {}",
        doc["components"]["schemas"]["IngestResponse"]
    );
    assert!(doc["components"]["securitySchemes"]["token"].is_object());
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("item") {
            for (status, response) in op["responses"].as_object().expect("responses") {
                // The pages people reach from an email answer people, in HTML.
                if status.starts_with('4') && op["tags"][0] == "public" {
                    assert!(
                        response["content"]["text/html"].is_object(),
                        "{method} {path} {status}"
                    );
                    continue;
                }
                if status.starts_with('4') {
                    let schema = &response["content"]["application/json"]["schema"]["$ref"];
                    // A refused tracking batch also lists each refused message,
                    // beside the same `error` member.
                    let expected = if path.starts_with("/v1/") && status == "400" {
                        "#/components/schemas/IngestResponse"
                    } else {
                        "#/components/schemas/ErrorBody"
                    };
                    assert_eq!(schema, expected, "{method} {path} {status}");
                }
            }
        }
    }
}
