//! `/api/v1/segments` and `/api/v1/uses`: conditions checked as they are
//! written, saved segments with counts, previews, CSV exports, SQL and
//! explanations, static lists, dependencies, roles and workspaces.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use pitcrew_core::admin::Role;
use serde_json::{Value, json};

use crate::support::{Reply, World, world};

const GERMANS: &str = r#"people where country is "DE""#;

/// Call the API as `role` of the first workspace.
async fn call(w: &World, role: Role, method: Method, path: &str, body: Option<Value>) -> Reply {
    w.call(method, path, Some(w.token(role)), body).await
}

/// GET `path` as a viewer.
async fn get(w: &World, path: &str) -> Reply {
    call(w, Role::Viewer, Method::GET, path, None).await
}

/// Create a contact through the API and return its id.
async fn contact(w: &World, email: &str, country: &str) -> i64 {
    let reply = call(
        w,
        Role::Marketer,
        Method::POST,
        "/api/v1/contacts",
        Some(json!({"fields": {"email": email, "country": country}})),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.json);
    reply.json["id"].as_i64().expect("contact id")
}

/// Save a dynamic segment from its text form and return its id.
async fn dynamic(w: &World, name: &str, text: &str) -> i64 {
    let reply = call(
        w,
        Role::Marketer,
        Method::POST,
        "/api/v1/segments",
        Some(json!({"name": name, "kind": "dynamic", "definition": text})),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.json);
    reply.json["id"].as_i64().expect("segment id")
}

/// POST a CSV body as `role`.
async fn post_csv(w: &World, role: Role, path: &str, csv: impl Into<Body>) -> Reply {
    let req = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header(header::AUTHORIZATION, format!("Bearer {}", w.token(role)))
        .header(header::CONTENT_TYPE, "text/csv")
        .body(csv.into())
        .expect("request");
    w.send(req).await
}

/// Ada and Cy live in Germany, Bob in France.
struct People {
    ada: i64,
    bob: i64,
    cy: i64,
}

async fn people(w: &World) -> People {
    People {
        ada: contact(w, "ada@example.com", "DE").await,
        bob: contact(w, "bob@example.com", "FR").await,
        cy: contact(w, "cy@example.com", "DE").await,
    }
}

#[tokio::test]
async fn a_segment_saved_from_text_counts_previews_exports_and_explains() {
    for t in pitcrew_testkit::each_engine().await {
        let engine = t.engine();
        let w = world(t).await;
        let p = people(&w).await;
        let id = dynamic(&w, "Germans", GERMANS).await;

        let saved = get(&w, &format!("/api/v1/segments/{id}")).await;
        assert_eq!(saved.status, StatusCode::OK, "{engine:?}: {}", saved.json);
        assert_eq!(
            (
                &saved.json["kind"],
                &saved.json["subject"],
                &saved.json["version"]
            ),
            (&json!("dynamic"), &json!("people"), &json!(1)),
            "{engine:?}: {}",
            saved.json
        );
        assert!(
            saved.json["definition"]["text"]
                .as_str()
                .is_some_and(|t| t.contains("\"DE\"")),
            "{engine:?}: {}",
            saved.json
        );

        let count = get(&w, &format!("/api/v1/segments/{id}/count")).await;
        assert_eq!(count.json, json!({"count": 2}), "{engine:?}");

        let page = get(
            &w,
            &format!("/api/v1/segments/{id}/members?fields=email,country&limit=1"),
        )
        .await;
        assert_eq!(page.status, StatusCode::OK, "{engine:?}: {}", page.json);
        assert_eq!(page.json["total"], 2, "{engine:?}");
        assert_eq!(
            page.json["members"],
            json!([{"id": p.ada, "fields": {"email": "ada@example.com", "country": "DE"}}]),
            "{engine:?}"
        );
        let next = get(
            &w,
            &format!("/api/v1/segments/{id}/members?fields=email&limit=1&offset=1"),
        )
        .await;
        assert_eq!(next.json["members"][0]["id"], p.cy, "{engine:?}");

        let export = get(
            &w,
            &format!("/api/v1/segments/{id}/export?fields=email,country"),
        )
        .await;
        assert_eq!(export.status, StatusCode::OK, "{engine:?}");
        assert_eq!(
            export.headers[header::CONTENT_TYPE],
            "text/csv; charset=utf-8",
            "{engine:?}"
        );
        assert_eq!(
            export.headers[header::CONTENT_DISPOSITION],
            format!("attachment; filename=\"segment-{id}.csv\""),
            "{engine:?}"
        );
        assert_eq!(
            export.json.as_str().expect("a CSV body"),
            format!(
                "id,email,country\n{},ada@example.com,DE\n{},cy@example.com,DE\n",
                p.ada, p.cy
            ),
            "{engine:?}"
        );

        let sql = get(&w, &format!("/api/v1/segments/{id}/sql")).await;
        let text = sql.json["sql"].as_str().expect("sql").to_string();
        assert!(
            text.contains(&format!("workspace_id = {}", w.ws.id)),
            "{engine:?}: the query keeps to the workspace: {text}"
        );
        assert!(!text.contains('?'), "{engine:?}: PostgreSQL text: {text}");

        let inside = get(
            &w,
            &format!("/api/v1/segments/{id}/explain?record={}", p.ada),
        )
        .await;
        assert_eq!(inside.status, StatusCode::OK, "{engine:?}: {}", inside.json);
        assert_eq!(inside.json["value"], true, "{engine:?}: {}", inside.json);
        assert!(
            inside.json["reason"]
                .as_str()
                .is_some_and(|r| !r.is_empty()),
            "{engine:?}: {}",
            inside.json
        );
        let outside = get(
            &w,
            &format!("/api/v1/segments/{id}/explain?record={}", p.bob),
        )
        .await;
        assert_eq!(outside.json["value"], false, "{engine:?}: {}", outside.json);
        let reason = outside.json["reason"].as_str().unwrap_or("");
        assert!(
            reason.contains("FR") || reason.contains("DE"),
            "{engine:?}: the reason names the value: {}",
            outside.json
        );

        let ada_in = get(&w, &format!("/api/v1/contacts/{}/segments", p.ada)).await;
        assert_eq!(
            ada_in.json,
            json!([{"id": id, "name": "Germans"}]),
            "{engine:?}"
        );
        let bob_in = get(&w, &format!("/api/v1/contacts/{}/segments", p.bob)).await;
        assert_eq!(bob_in.json, json!([]), "{engine:?}");

        let users = get(&w, "/api/v1/uses?kind=contact_field&target=country").await;
        assert_eq!(
            users.json,
            json!([{"type": "segment", "id": id, "name": "Germans"}]),
            "{engine:?}"
        );
    }
}

#[tokio::test]
async fn a_condition_not_saved_yet_counts_and_previews_live() {
    for t in pitcrew_testkit::each_engine().await {
        let engine = t.engine();
        let w = world(t).await;
        let p = people(&w).await;

        let count = call(
            &w,
            Role::Viewer,
            Method::POST,
            "/api/v1/segments/count",
            Some(json!({"definition": GERMANS})),
        )
        .await;
        assert_eq!(
            (count.status, &count.json),
            (StatusCode::OK, &json!({"count": 2})),
            "{engine:?}"
        );

        let json_form = json!({
            "subject": "people",
            "where": {"kind": "field", "field": "country", "test": {"op": "is", "value": "FR"}}
        });
        let preview = call(
            &w,
            Role::Viewer,
            Method::POST,
            "/api/v1/segments/preview",
            Some(json!({"definition": json_form, "fields": ["email"], "limit": 10})),
        )
        .await;
        assert_eq!(
            preview.json,
            json!({"total": 1, "members": [{"id": p.bob, "fields": {"email": "bob@example.com"}}]}),
            "{engine:?}"
        );
    }
}

#[tokio::test]
async fn check_reports_a_typo_with_its_place_and_a_suggestion() {
    for t in pitcrew_testkit::each_engine().await {
        let engine = t.engine();
        let w = world(t).await;
        let typo = r#"people where contry is "DE""#;

        let report = call(
            &w,
            Role::Viewer,
            Method::POST,
            "/api/v1/segments/check",
            Some(json!({"definition": typo})),
        )
        .await;
        assert_eq!(
            report.status,
            StatusCode::OK,
            "{engine:?}: an invalid condition is a report, not an error"
        );
        assert_eq!(report.json["valid"], false, "{engine:?}");
        let problem = &report.json["problems"][0];
        assert_eq!(problem["code"], "field_unknown", "{engine:?}: {problem}");
        assert_eq!(
            (&problem["span"]["line"], &problem["span"]["column"]),
            (&json!(1), &json!(14)),
            "{engine:?}: {problem}"
        );
        assert!(
            problem["message"]
                .as_str()
                .is_some_and(|m| m.contains("did you mean `country`")),
            "{engine:?}: {problem}"
        );

        let good = call(
            &w,
            Role::Viewer,
            Method::POST,
            "/api/v1/segments/check",
            Some(json!({"definition": GERMANS})),
        )
        .await;
        assert_eq!(good.json["valid"], true, "{engine:?}: {}", good.json);
        assert_eq!(
            good.json["uses"]["contact_fields"],
            json!(["country"]),
            "{engine:?}"
        );

        let count = call(
            &w,
            Role::Viewer,
            Method::POST,
            "/api/v1/segments/count",
            Some(json!({"definition": "people where all of (contry is \"DE\", frist_name is \"Ada\")"})),
        )
        .await;
        assert_eq!(
            (count.status, count.code()),
            (StatusCode::UNPROCESSABLE_ENTITY, "definition_invalid"),
            "{engine:?}: {}",
            count.json
        );
        let details = count.json["error"]["details"].as_array().expect("details");
        assert_eq!(
            details.len(),
            2,
            "{engine:?}: every problem: {}",
            count.json
        );
        assert!(
            details.iter().all(|d| d["code"] == "field_unknown"),
            "{engine:?}: {}",
            count.json
        );

        let save = call(
            &w,
            Role::Marketer,
            Method::POST,
            "/api/v1/segments",
            Some(json!({"name": "Broken", "kind": "dynamic", "definition": typo})),
        )
        .await;
        assert_eq!(
            (save.status, save.code()),
            (StatusCode::UNPROCESSABLE_ENTITY, "definition_invalid"),
            "{engine:?}: {}",
            save.json
        );
    }
}

#[tokio::test]
async fn a_static_list_adds_removes_and_imports_members_reporting_bad_rows_by_line() {
    for t in pitcrew_testkit::each_engine().await {
        let engine = t.engine();
        let w = world(t).await;
        let p = people(&w).await;
        let created = call(
            &w,
            Role::Marketer,
            Method::POST,
            "/api/v1/segments",
            Some(json!({"name": "VIPs", "kind": "static"})),
        )
        .await;
        assert_eq!(
            created.status,
            StatusCode::CREATED,
            "{engine:?}: {}",
            created.json
        );
        assert!(created.json.get("definition").is_none(), "{engine:?}");
        let list = created.json["id"].as_i64().expect("list id");
        let members = format!("/api/v1/segments/{list}/members");

        let added = call(
            &w,
            Role::Marketer,
            Method::POST,
            &members,
            Some(json!({"ids": [p.ada, p.bob, 999_999]})),
        )
        .await;
        assert_eq!(
            added.json,
            json!({"added": 2, "already": 0, "unknown": [999_999]}),
            "{engine:?}"
        );
        let removed = call(
            &w,
            Role::Marketer,
            Method::DELETE,
            &members,
            Some(json!({"ids": [p.bob, p.cy]})),
        )
        .await;
        assert_eq!(
            removed.json,
            json!({"removed": 1, "not_members": [p.cy]}),
            "{engine:?}"
        );

        let csv = "email\ncy@example.com\nnobody@example.com\nada@example.com\n";
        let import = post_csv(&w, Role::Marketer, &format!("{members}/import"), csv).await;
        assert_eq!(import.status, StatusCode::OK, "{engine:?}: {}", import.json);
        let r = &import.json;
        assert_eq!(
            (
                &r["matched_by"],
                &r["rows"],
                &r["added"],
                &r["already"],
                &r["rejected"]
            ),
            (&json!("email"), &json!(3), &json!(1), &json!(1), &json!(1)),
            "{engine:?}: {r}"
        );
        assert_eq!(
            (&r["rejects"][0]["line"], &r["rejects"][0]["code"]),
            (&json!(3), &json!("member_not_found")),
            "{engine:?}: the bad row is reported at its line: {r}"
        );

        let page = call(
            &w,
            Role::Viewer,
            Method::GET,
            &format!("{members}?limit=10"),
            None,
        )
        .await;
        let ids: Vec<&Value> = page.json["members"]
            .as_array()
            .expect("members")
            .iter()
            .map(|m| &m["id"])
            .collect();
        assert_eq!(ids, vec![&json!(p.ada), &json!(p.cy)], "{engine:?}");

        let not_csv = w
            .call(
                Method::POST,
                &format!("{members}/import"),
                Some(w.token(Role::Marketer)),
                Some(json!({"email": "ada@example.com"})),
            )
            .await;
        assert_eq!(
            (not_csv.status, not_csv.code()),
            (StatusCode::UNSUPPORTED_MEDIA_TYPE, "content_type_invalid"),
            "{engine:?}"
        );

        let germans = dynamic(&w, "Germans", GERMANS).await;
        call(
            &w,
            Role::Marketer,
            Method::POST,
            &members,
            Some(json!({"ids": [p.bob]})),
        )
        .await;
        let snapshot = call(
            &w,
            Role::Marketer,
            Method::POST,
            &format!("/api/v1/segments/{list}/snapshot"),
            Some(json!({"from": germans, "replace": true})),
        )
        .await;
        assert_eq!(
            snapshot.json,
            json!({"added": 2, "members": 2}),
            "{engine:?}: Bob is gone, the Germans are in"
        );
        let static_members = call(
            &w,
            Role::Marketer,
            Method::POST,
            &format!("/api/v1/segments/{germans}/members"),
            Some(json!({"ids": [p.bob]})),
        )
        .await;
        assert_eq!(
            (static_members.status, static_members.code()),
            (StatusCode::BAD_REQUEST, "segment_not_static"),
            "{engine:?}"
        );
    }
}

#[tokio::test]
async fn an_export_larger_than_the_pipe_arrives_whole_and_in_order() {
    for t in pitcrew_testkit::each_engine().await {
        let engine = t.engine();
        let w = world(t).await;
        let mut csv = String::from("email,country\n");
        for i in 0..2500 {
            csv.push_str(&format!("person-{i:04}@example.com,DE\n"));
        }
        let import = post_csv(&w, Role::Marketer, "/api/v1/imports?object=contact", csv).await;
        assert_eq!(import.json["created"], 2500, "{engine:?}: {}", import.json);
        let id = dynamic(&w, "Germans", GERMANS).await;

        let export = call(
            &w,
            Role::Viewer,
            Method::GET,
            &format!("/api/v1/segments/{id}/export?fields=email"),
            None,
        )
        .await;
        assert_eq!(export.status, StatusCode::OK, "{engine:?}");
        let text = export.json.as_str().expect("a CSV body");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2501, "{engine:?}");
        assert_eq!(lines[0], "id,email", "{engine:?}");
        let ids: Vec<i64> = lines[1..]
            .iter()
            .map(|l| {
                l.split(',')
                    .next()
                    .and_then(|i| i.parse().ok())
                    .expect("id")
            })
            .collect();
        assert!(ids.windows(2).all(|p| p[0] < p[1]), "{engine:?}: id order");

        let refused = call(
            &w,
            Role::Viewer,
            Method::GET,
            &format!("/api/v1/segments/{id}/export?fields=emial"),
            None,
        )
        .await;
        assert_eq!(
            (refused.status, refused.code()),
            (StatusCode::BAD_REQUEST, "field_unknown"),
            "{engine:?}: a refused export answers with the error body: {}",
            refused.json
        );
    }
}

#[tokio::test]
async fn a_field_a_segment_uses_cannot_be_deleted() {
    for t in pitcrew_testkit::each_engine().await {
        let engine = t.engine();
        let w = world(t).await;
        let field = call(
            &w,
            Role::Admin,
            Method::POST,
            "/api/v1/fields",
            Some(json!({"object": "contact", "key": "plan", "label": "Plan", "type": "text"})),
        )
        .await;
        assert_eq!(
            field.status,
            StatusCode::CREATED,
            "{engine:?}: {}",
            field.json
        );
        let id = dynamic(&w, "Gold", r#"people where plan is "gold""#).await;

        let refused = call(
            &w,
            Role::Admin,
            Method::DELETE,
            "/api/v1/fields/contact/plan",
            None,
        )
        .await;
        assert_eq!(
            (refused.status, refused.code()),
            (StatusCode::CONFLICT, "field_in_use"),
            "{engine:?}: {}",
            refused.json
        );
        assert!(
            refused.json["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("\"Gold\"")),
            "{engine:?}: the message names the segment: {}",
            refused.json
        );

        let deleted = call(
            &w,
            Role::Marketer,
            Method::DELETE,
            &format!("/api/v1/segments/{id}"),
            None,
        )
        .await;
        assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{engine:?}");
        let field_gone = call(
            &w,
            Role::Admin,
            Method::DELETE,
            "/api/v1/fields/contact/plan",
            None,
        )
        .await;
        assert_eq!(field_gone.status, StatusCode::NO_CONTENT, "{engine:?}");
    }
}

#[tokio::test]
async fn a_change_makes_a_new_version_and_keeps_the_old_one() {
    for t in pitcrew_testkit::each_engine().await {
        let engine = t.engine();
        let w = world(t).await;
        people(&w).await;
        let id = dynamic(&w, "Germans", GERMANS).await;
        let changed = call(
            &w,
            Role::Marketer,
            Method::PATCH,
            &format!("/api/v1/segments/{id}"),
            Some(json!({"name": "French", "definition": r#"people where country is "FR""#})),
        )
        .await;
        assert_eq!(
            (&changed.json["name"], &changed.json["version"]),
            (&json!("French"), &json!(2)),
            "{engine:?}: {}",
            changed.json
        );
        let versions = call(
            &w,
            Role::Viewer,
            Method::GET,
            &format!("/api/v1/segments/{id}/versions"),
            None,
        )
        .await;
        let seen: Vec<(&Value, &Value)> = versions
            .json
            .as_array()
            .expect("versions")
            .iter()
            .map(|v| (&v["version"], &v["name"]))
            .collect();
        assert_eq!(
            seen,
            vec![
                (&json!(2), &json!("French")),
                (&json!(1), &json!("Germans"))
            ],
            "{engine:?}"
        );
        assert_eq!(versions.json[1]["by"], "token:marketer token", "{engine:?}");
        let list = call(&w, Role::Viewer, Method::GET, "/api/v1/segments", None).await;
        assert_eq!(list.json[0]["name"], "French", "{engine:?}");
    }
}

#[tokio::test]
async fn viewers_read_segments_but_cannot_create_them() {
    for t in pitcrew_testkit::each_engine().await {
        let engine = t.engine();
        let w = world(t).await;
        let reply = call(
            &w,
            Role::Viewer,
            Method::POST,
            "/api/v1/segments",
            Some(json!({"name": "Mine", "kind": "dynamic", "definition": GERMANS})),
        )
        .await;
        assert_eq!(
            (reply.status, reply.code()),
            (StatusCode::FORBIDDEN, "forbidden"),
            "{engine:?}"
        );
        let list = call(&w, Role::Viewer, Method::GET, "/api/v1/segments", None).await;
        assert_eq!(
            (list.status, &list.json),
            (StatusCode::OK, &json!([])),
            "{engine:?}"
        );
    }
}

#[tokio::test]
async fn another_workspace_cannot_see_or_use_our_segments() {
    for t in pitcrew_testkit::each_engine().await {
        let engine = t.engine();
        let w = world(t).await;
        let p = people(&w).await;
        let id = dynamic(&w, "Germans", GERMANS).await;
        let theirs = Some(w.other.as_str());

        for path in [
            format!("/api/v1/segments/{id}"),
            format!("/api/v1/segments/{id}/count"),
            format!("/api/v1/segments/{id}/members"),
            format!("/api/v1/segments/{id}/export"),
            format!("/api/v1/segments/{id}/sql"),
            format!("/api/v1/segments/{id}/versions"),
        ] {
            let reply = w.call(Method::GET, &path, theirs, None).await;
            assert_eq!(
                (reply.status, reply.code()),
                (StatusCode::NOT_FOUND, "segment_not_found"),
                "{engine:?}: {path}"
            );
        }
        let list = w.call(Method::GET, "/api/v1/segments", theirs, None).await;
        assert_eq!(list.json, json!([]), "{engine:?}");
        let delete = w
            .call(
                Method::DELETE,
                &format!("/api/v1/segments/{id}"),
                theirs,
                None,
            )
            .await;
        assert_eq!(delete.status, StatusCode::NOT_FOUND, "{engine:?}");
        let theirs_in = w
            .call(
                Method::GET,
                &format!("/api/v1/contacts/{}/segments", p.ada),
                theirs,
                None,
            )
            .await;
        assert_eq!(
            (theirs_in.status, theirs_in.code()),
            (StatusCode::NOT_FOUND, "contact_not_found"),
            "{engine:?}"
        );
        let count = w
            .call(
                Method::POST,
                "/api/v1/segments/count",
                theirs,
                Some(json!({"definition": GERMANS})),
            )
            .await;
        assert_eq!(
            count.json,
            json!({"count": 0}),
            "{engine:?}: their people only"
        );
        let still = call(
            &w,
            Role::Viewer,
            Method::GET,
            &format!("/api/v1/segments/{id}/count"),
            None,
        )
        .await;
        assert_eq!(still.json, json!({"count": 2}), "{engine:?}");
    }
}

#[tokio::test]
async fn the_workspace_time_zone_is_a_setting() {
    for t in pitcrew_testkit::each_engine().await {
        let engine = t.engine();
        let w = world(t).await;
        let before = call(&w, Role::Viewer, Method::GET, "/api/v1/settings", None).await;
        assert_eq!(
            before.json["timezone"], "UTC",
            "{engine:?}: {}",
            before.json
        );

        let set = call(
            &w,
            Role::Admin,
            Method::PUT,
            "/api/v1/settings",
            Some(json!({"unknown_traits": "reject", "timezone": "Europe/Berlin"})),
        )
        .await;
        assert_eq!(
            set.json,
            json!({"unknown_traits": "reject", "timezone": "Europe/Berlin"}),
            "{engine:?}"
        );

        let wrong = call(
            &w,
            Role::Admin,
            Method::PUT,
            "/api/v1/settings",
            Some(json!({"unknown_traits": "keep", "timezone": "Mars/Olympus"})),
        )
        .await;
        assert_eq!(
            (wrong.status, wrong.code()),
            (StatusCode::BAD_REQUEST, "timezone_invalid"),
            "{engine:?}: {}",
            wrong.json
        );

        let kept = call(
            &w,
            Role::Admin,
            Method::PUT,
            "/api/v1/settings",
            Some(json!({"unknown_traits": "keep"})),
        )
        .await;
        assert_eq!(
            kept.json,
            json!({"unknown_traits": "keep", "timezone": "Europe/Berlin"}),
            "{engine:?}: no timezone leaves it as it is"
        );
        let after = call(&w, Role::Viewer, Method::GET, "/api/v1/settings", None).await;
        assert_eq!(after.json, kept.json, "{engine:?}");
    }
}
