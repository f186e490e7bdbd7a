//! The audience pages as marketers and viewers use them: the list with
//! counts, the editor that underlines problems and counts as one types,
//! saving with inline errors, exports, deleting, and filling a static
//! list from a CSV file.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use pitcrew_core::admin::Role;
use serde_json::{Value, json};

use crate::on_each_engine;
use crate::support::{Html, Visitor, World};

const GERMANS: &str = r#"people where country is "DE""#;

async fn api(w: &World, method: Method, path: &str, body: Option<Value>) -> Value {
    let reply = w
        .call(method, path, Some(w.token(Role::Marketer)), body)
        .await;
    assert!(reply.status.is_success(), "{path}: {}", reply.json);
    reply.json
}

/// Ada and Cy live in Germany, Bob in France; returns their ids.
async fn people(w: &World) -> (i64, i64, i64) {
    let mut ids = Vec::new();
    for (email, country) in [
        ("ada@example.com", "DE"),
        ("bob@example.com", "FR"),
        ("cy@example.com", "DE"),
    ] {
        let c = api(
            w,
            Method::POST,
            "/api/v1/contacts",
            Some(json!({"fields": {"email": email, "country": country, "first_name": email.split('@').next()}})),
        )
        .await;
        ids.push(c["id"].as_i64().expect("contact id"));
    }
    (ids[0], ids[1], ids[2])
}

async fn segment(w: &World, name: &str, text: &str) -> i64 {
    let s = api(
        w,
        Method::POST,
        "/api/v1/segments",
        Some(json!({"name": name, "kind": "dynamic", "definition": text})),
    )
    .await;
    s["id"].as_i64().expect("segment id")
}

/// minijinja writes `/` as `&#x2f;` and `"` as `&quot;` inside `{{ }}`.
fn escaped(s: &str) -> String {
    s.replace('/', "&#x2f;").replace('"', "&quot;")
}

/// Upload `csv` as the `file` field of a multipart form, as a browser does.
async fn upload(w: &World, v: &Visitor, path: &str, csv: Option<&str>) -> Html {
    let boundary = "pitcrew-test-boundary";
    let mut body = String::new();
    if let Some(csv) = csv {
        body.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"members.csv\"\r\nContent-Type: text/csv\r\n\r\n{csv}\r\n"
        ));
    }
    body.push_str(&format!("--{boundary}--\r\n"));
    let req = Request::builder()
        .method(Method::POST)
        .uri(format!("{path}?_csrf={}", v.csrf))
        .header(header::COOKIE, &v.cookie)
        .header(
            header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(Body::from(body))
        .expect("request");
    w.html(req).await
}

#[tokio::test]
async fn the_list_shows_each_audience_with_its_count_and_only_marketers_get_new() {
    on_each_engine!(|w| {
        people(&w).await;
        segment(&w, "Germans", GERMANS).await;
        api(
            &w,
            Method::POST,
            "/api/v1/segments",
            Some(json!({"name": "VIPs", "kind": "static"})),
        )
        .await;

        let viewer = w.sign_in(Role::Viewer).await;
        let page = w.page(&viewer, Method::GET, "/segments", &[]).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        assert!(page.body.contains(">Germans</a>"), "{}", page.body);
        assert!(page.body.contains("dynamic segment"), "{}", page.body);
        assert!(page.body.contains("static list"), "{}", page.body);
        // Two Germans, and nobody on the list yet.
        assert!(
            page.body.contains("<td class=\"num\">2</td>"),
            "{}",
            page.body
        );
        assert!(
            page.body.contains("<td class=\"num\">0</td>"),
            "{}",
            page.body
        );
        assert!(!page.body.contains("New segment"), "{}", page.body);

        let marketer = w.sign_in(Role::Marketer).await;
        let page = w.page(&marketer, Method::GET, "/segments", &[]).await;
        assert!(page.body.contains("New segment"), "{}", page.body);
    });
}

#[tokio::test]
async fn an_empty_workspace_says_how_to_make_the_first_segment() {
    on_each_engine!(|w| {
        let v = w.sign_in(Role::Marketer).await;
        let page = w.page(&v, Method::GET, "/segments", &[]).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.body.contains("No segments yet"), "{}", page.body);
        assert!(
            page.body.contains("Write your first segment"),
            "{}",
            page.body
        );
    });
}

#[tokio::test]
async fn checking_underlines_the_typo_where_it_is_and_counts_a_valid_condition() {
    on_each_engine!(|w| {
        let (ada, bob, cy) = people(&w).await;
        let v = w.sign_in(Role::Viewer).await;

        let typo = r#"people where contry is "DE""#;
        let out = w
            .page(&v, Method::POST, "/segments/check", &[("definition", typo)])
            .await;
        assert_eq!(out.status, StatusCode::OK, "{}", out.body);
        assert!(
            out.body
                .contains("people where <mark class=\"problem\" title=\"Problem 1\">contry"),
            "the condition on the unknown field is underlined from its column: {}",
            out.body
        );
        assert!(out.body.contains("Line 1, column 14:"), "{}", out.body);
        assert!(out.body.contains("did you mean `country`"), "{}", out.body);
        assert!(
            !out.body.contains("live-count"),
            "nothing is counted: {}",
            out.body
        );

        let cut = "people where country is";
        let out = w
            .page(&v, Method::POST, "/segments/check", &[("definition", cut)])
            .await;
        assert_eq!(out.status, StatusCode::OK, "{}", out.body);
        assert!(out.body.contains("<mark class=\"problem"), "{}", out.body);

        let out = w
            .page(
                &v,
                Method::POST,
                "/segments/check",
                &[("definition", GERMANS)],
            )
            .await;
        assert!(
            out.body.contains("<strong class=\"live-count\">2</strong>"),
            "{}",
            out.body
        );
        assert!(
            out.body.contains(&format!("href=\"/people/{ada}\"")),
            "{}",
            out.body
        );
        assert!(
            out.body.contains(&format!("href=\"/people/{cy}\"")),
            "{}",
            out.body
        );
        assert!(
            !out.body.contains(&format!("href=\"/people/{bob}\"")),
            "{}",
            out.body
        );
        assert!(out.body.contains("ada@example.com"), "{}", out.body);
        assert!(
            out.body.contains("</strong> people match it now"),
            "{}",
            out.body
        );
    });
}

#[tokio::test]
async fn saving_a_segment_keeps_bad_input_in_the_form_and_good_input_is_saved() {
    on_each_engine!(|w| {
        people(&w).await;
        let v = w.sign_in(Role::Marketer).await;
        let page = w.page(&v, Method::GET, "/segments/new", &[]).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(
            page.body.contains("hx-post=\"/segments/check\""),
            "{}",
            page.body
        );
        assert!(
            page.body.contains("<label for=\"definition\">"),
            "{}",
            page.body
        );

        let no_name = w
            .page(
                &v,
                Method::POST,
                "/segments",
                &[("kind", "dynamic"), ("name", " "), ("definition", GERMANS)],
            )
            .await;
        assert_eq!(
            no_name.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            no_name.body
        );
        assert!(
            no_name.body.contains("id=\"name-error\""),
            "{}",
            no_name.body
        );
        // What was typed is still there.
        assert!(no_name.body.contains(&escaped(GERMANS)), "{}", no_name.body);

        let bad = w
            .page(
                &v,
                Method::POST,
                "/segments",
                &[
                    ("kind", "dynamic"),
                    ("name", "Germans"),
                    ("definition", r#"people where contry is "DE""#),
                ],
            )
            .await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.body);
        let at = bad
            .body
            .find("id=\"definition-error\"")
            .expect("error next to the condition");
        assert!(bad.body[at..].contains("contry"), "{}", bad.body);
        assert!(bad.body.contains("<mark class=\"problem\""), "{}", bad.body);

        let saved = w
            .page(
                &v,
                Method::POST,
                "/segments",
                &[
                    ("kind", "dynamic"),
                    ("name", "Germans"),
                    ("description", "Everyone in Germany"),
                    ("definition", GERMANS),
                ],
            )
            .await;
        assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
        let id: i64 = saved
            .location()
            .strip_prefix("/segments/")
            .and_then(|s| s.parse().ok())
            .expect("goes to the segment's page");
        let back = api(&w, Method::GET, &format!("/api/v1/segments/{id}"), None).await;
        assert_eq!(back["name"], "Germans");
        assert_eq!(back["description"], "Everyone in Germany");
        assert_eq!(back["definition"]["text"], GERMANS);

        let taken = w
            .page(
                &v,
                Method::POST,
                "/segments",
                &[
                    ("kind", "dynamic"),
                    ("name", "Germans"),
                    ("definition", GERMANS),
                ],
            )
            .await;
        assert!(taken.status.is_client_error(), "{}", taken.body);
        assert!(taken.body.contains("id=\"name-error\""), "{}", taken.body);
        assert!(taken.body.contains("already exists"), "{}", taken.body);

        let page = w
            .page(&v, Method::GET, &format!("/segments/{id}"), &[])
            .await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.body.contains("<h1>Germans</h1>"), "{}", page.body);
        assert!(
            page.body
                .contains("<strong class=\"live-count\">2</strong>"),
            "{}",
            page.body
        );
    });
}

#[tokio::test]
async fn editing_a_segment_saves_a_new_version() {
    on_each_engine!(|w| {
        people(&w).await;
        let id = segment(&w, "Germans", GERMANS).await;
        let v = w.sign_in(Role::Marketer).await;
        let french = r#"people where country is "FR""#;
        let out = w
            .page(
                &v,
                Method::POST,
                &format!("/segments/{id}"),
                &[
                    ("name", "French"),
                    ("description", ""),
                    ("definition", french),
                ],
            )
            .await;
        assert_eq!(out.status, StatusCode::SEE_OTHER, "{}", out.body);
        assert_eq!(out.location(), format!("/segments/{id}"));
        let back = api(&w, Method::GET, &format!("/api/v1/segments/{id}"), None).await;
        assert_eq!(
            (&back["name"], &back["version"]),
            (&json!("French"), &json!(2))
        );
        assert_eq!(back["definition"]["text"], french);

        let bad = w
            .page(
                &v,
                Method::POST,
                &format!("/segments/{id}"),
                &[("name", "French"), ("definition", "people where")],
            )
            .await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.body);
        assert!(bad.body.contains("id=\"definition-error\""), "{}", bad.body);
        let back = api(&w, Method::GET, &format!("/api/v1/segments/{id}"), None).await;
        assert_eq!(back["version"], 2, "a refused change saves nothing");
    });
}

#[tokio::test]
async fn a_viewer_reads_a_segment_but_gets_no_buttons_and_every_change_is_refused() {
    on_each_engine!(|w| {
        people(&w).await;
        let id = segment(&w, "Germans", GERMANS).await;
        let v = w.sign_in(Role::Viewer).await;

        let page = w
            .page(&v, Method::GET, &format!("/segments/{id}"), &[])
            .await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        assert!(page.body.contains(&escaped(GERMANS)), "{}", page.body);
        assert!(
            page.body
                .contains("<strong class=\"live-count\">2</strong>"),
            "{}",
            page.body
        );
        assert!(!page.body.contains("<textarea"), "{}", page.body);
        assert!(!page.body.contains("Delete"), "{}", page.body);
        assert!(!page.body.contains("Save changes"), "{}", page.body);

        for path in [
            "/segments/new".to_string(),
            format!("/segments/{id}/delete"),
        ] {
            let out = w.page(&v, Method::GET, &path, &[]).await;
            assert_eq!(out.status, StatusCode::FORBIDDEN, "{path}");
        }
        let create = w
            .page(
                &v,
                Method::POST,
                "/segments",
                &[
                    ("kind", "dynamic"),
                    ("name", "Mine"),
                    ("definition", GERMANS),
                ],
            )
            .await;
        assert_eq!(create.status, StatusCode::FORBIDDEN, "{}", create.body);
        let change = w
            .page(
                &v,
                Method::POST,
                &format!("/segments/{id}"),
                &[("name", "Renamed"), ("definition", GERMANS)],
            )
            .await;
        assert_eq!(change.status, StatusCode::FORBIDDEN, "{}", change.body);
        let delete = w
            .page(&v, Method::POST, &format!("/segments/{id}/delete"), &[])
            .await;
        assert_eq!(delete.status, StatusCode::FORBIDDEN, "{}", delete.body);

        let back = api(&w, Method::GET, &format!("/api/v1/segments/{id}"), None).await;
        assert_eq!(
            (&back["name"], &back["version"]),
            (&json!("Germans"), &json!(1))
        );
        let list = api(&w, Method::GET, "/api/v1/segments", None).await;
        assert_eq!(list.as_array().map(Vec::len), Some(1));
    });
}

#[tokio::test]
async fn the_export_is_the_members_as_csv() {
    on_each_engine!(|w| {
        let (ada, _, cy) = people(&w).await;
        let id = segment(&w, "Germans", GERMANS).await;
        let v = w.sign_in(Role::Viewer).await;
        let out = w
            .page(&v, Method::GET, &format!("/segments/{id}/export.csv"), &[])
            .await;
        assert_eq!(out.status, StatusCode::OK, "{}", out.body);
        assert!(
            out.headers[header::CONTENT_TYPE]
                .to_str()
                .is_ok_and(|t| t.starts_with("text/csv")),
        );
        assert_eq!(
            out.body,
            format!(
                "id,email,first_name,last_name\n{ada},ada@example.com,ada,\n{cy},cy@example.com,cy,\n"
            )
        );
        let missing = w
            .page(&v, Method::GET, "/segments/999999/export.csv", &[])
            .await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND);
    });
}

#[tokio::test]
async fn deleting_asks_first_and_is_refused_while_another_segment_uses_it() {
    on_each_engine!(|w| {
        let germans = segment(&w, "Germans", GERMANS).await;
        let users = segment(&w, "German users", r#"people where in segment "Germans""#).await;
        let v = w.sign_in(Role::Marketer).await;

        let confirm = w
            .page(&v, Method::GET, &format!("/segments/{germans}/delete"), &[])
            .await;
        assert_eq!(confirm.status, StatusCode::OK, "{}", confirm.body);
        assert!(confirm.body.contains("German users"), "{}", confirm.body);

        let refused = w
            .page(
                &v,
                Method::POST,
                &format!("/segments/{germans}/delete"),
                &[],
            )
            .await;
        assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.body);
        assert!(
            refused.body.contains("It was not deleted"),
            "{}",
            refused.body
        );
        assert!(refused.body.contains("German users"), "{}", refused.body);
        api(
            &w,
            Method::GET,
            &format!("/api/v1/segments/{germans}"),
            None,
        )
        .await;

        let gone = w
            .page(&v, Method::POST, &format!("/segments/{users}/delete"), &[])
            .await;
        assert_eq!(gone.status, StatusCode::SEE_OTHER, "{}", gone.body);
        assert_eq!(gone.location(), "/segments");
        let back = w
            .call(
                Method::GET,
                &format!("/api/v1/segments/{users}"),
                Some(w.token(Role::Viewer)),
                None,
            )
            .await;
        assert_eq!(back.status, StatusCode::NOT_FOUND);
        let page = w
            .page(&v, Method::GET, &format!("/segments/{users}"), &[])
            .await;
        assert_eq!(page.status, StatusCode::NOT_FOUND);
    });
}

#[tokio::test]
async fn a_static_list_fills_from_csv_and_lists_rejected_rows_by_line() {
    on_each_engine!(|w| {
        let (ada, _, cy) = people(&w).await;
        let v = w.sign_in(Role::Marketer).await;
        let form = w
            .page(&v, Method::GET, "/segments/new?kind=static", &[])
            .await;
        assert!(form.body.contains("New static list"), "{}", form.body);
        assert!(!form.body.contains("<textarea"), "{}", form.body);
        let created = w
            .page(
                &v,
                Method::POST,
                "/segments",
                &[("kind", "static"), ("name", "VIPs"), ("subject", "people")],
            )
            .await;
        assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.body);
        let path = created.location().to_string();
        let id: i64 = path["/segments/".len()..].parse().expect("list id");
        let page = w.page(&v, Method::GET, &path, &[]).await;
        assert!(page.body.contains("Fill from CSV"), "{}", page.body);
        assert!(page.body.contains("Nobody yet"), "{}", page.body);

        let csv = "email\nada@example.com\nnobody@example.com\ncy@example.com\n";
        let import = upload(&w, &v, &format!("{path}/members/import"), Some(csv)).await;
        assert_eq!(import.status, StatusCode::OK, "{}", import.body);
        assert!(
            import.body.contains("<strong>2</strong> added"),
            "{}",
            import.body
        );
        assert!(
            import.body.contains("<strong>1</strong> rejected"),
            "{}",
            import.body
        );
        assert!(
            import
                .body
                .contains("<th scope=\"row\" class=\"num\">3</th><td>nobody@example.com</td>"),
            "the bad row is named by its line: {}",
            import.body
        );
        assert!(
            import.body.contains(&format!("href=\"/people/{ada}\"")),
            "{}",
            import.body
        );
        let members = api(
            &w,
            Method::GET,
            &format!("/api/v1/segments/{id}/members"),
            None,
        )
        .await;
        let ids: Vec<i64> = members["members"]
            .as_array()
            .expect("members")
            .iter()
            .filter_map(|m| m["id"].as_i64())
            .collect();
        assert_eq!(ids, vec![ada, cy]);

        let no_file = upload(&w, &v, &format!("{path}/members/import"), None).await;
        assert_eq!(
            no_file.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            no_file.body
        );
        assert!(
            no_file.body.contains("id=\"file-error\""),
            "{}",
            no_file.body
        );
        let no_key = upload(
            &w,
            &v,
            &format!("{path}/members/import"),
            Some("name\nAda\n"),
        )
        .await;
        assert_eq!(
            no_key.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            no_key.body
        );
        assert!(no_key.body.contains("id=\"file-error\""), "{}", no_key.body);

        let viewer = w.sign_in(Role::Viewer).await;
        let page = w.page(&viewer, Method::GET, &path, &[]).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(!page.body.contains("Fill from CSV"), "{}", page.body);
        assert!(page.body.contains("ada@example.com"), "{}", page.body);
        let refused = upload(
            &w,
            &viewer,
            &format!("{path}/members/import"),
            Some("email\nbob@example.com\n"),
        )
        .await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
        let after = api(
            &w,
            Method::GET,
            &format!("/api/v1/segments/{id}/count"),
            None,
        )
        .await;
        assert_eq!(after["count"], 2);
    });
}
