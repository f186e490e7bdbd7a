//! `/api/v1/imports`: a CSV file as the request body, the summary, the
//! import history and the rejects report as a CSV download.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use pitcrew_core::admin::Role;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::{Reply, World, world};

/// POST a CSV file to `/api/v1/imports?{query}` as `role`.
async fn post_csv(
    w: &World,
    role: Role,
    query: &str,
    content_type: &str,
    csv: impl Into<Body>,
) -> Reply {
    let req = Request::builder()
        .method(Method::POST)
        .uri(format!("/api/v1/imports?{query}"))
        .header(header::AUTHORIZATION, format!("Bearer {}", w.token(role)))
        .header(header::CONTENT_TYPE, content_type)
        .body(csv.into())
        .expect("request");
    w.send(req).await
}

const PEOPLE: &str = "Email Address,First Name,Country\n\
                      ada@example.com,Ada,UK\n\
                      \"not an email\",Bob,DE\n\
                      cy@example.com,Cy,\"Narnia\"\n\
                      dee@example.com,Dee,FR\n";

#[tokio::test]
async fn a_marketer_imports_a_csv_body_and_downloads_the_rejects() {
    for t in pitcrew_testkit::each_engine().await {
        let engine = t.engine();
        let w = world(t).await;
        let reply = post_csv(
            &w,
            Role::Marketer,
            "object=contact&file_name=people.csv",
            "text/csv",
            PEOPLE,
        )
        .await;
        assert_eq!(reply.status, StatusCode::OK, "{engine:?}: {}", reply.json);
        let s = &reply.json;
        assert_eq!(
            (&s["created"], &s["rejected"], &s["rows"], &s["dry_run"]),
            (&json!(2), &json!(2), &json!(4), &json!(false)),
            "{engine:?}: {s}"
        );
        assert_eq!(s["mapping"][0]["target"], "email", "{engine:?}");
        assert_eq!(s["file_name"], "people.csv", "{engine:?}");
        assert_eq!(
            (
                &s["rejects"][0]["line"],
                &s["rejects"][0]["column"],
                &s["rejects"][0]["code"]
            ),
            (&json!(3), &json!("Email Address"), &json!("field_invalid")),
            "{engine:?}: {s}"
        );
        assert_eq!(s["rejects"][1]["line"], 4, "{engine:?}");
        let id = s["id"].as_i64().expect("id");
        let url = s["rejects_url"].as_str().expect("rejects_url").to_string();
        assert_eq!(
            url,
            format!("/api/v1/imports/{id}/rejects.csv"),
            "{engine:?}"
        );

        let report = w
            .call(Method::GET, &url, Some(w.token(Role::Marketer)), None)
            .await;
        assert_eq!(report.status, StatusCode::OK, "{engine:?}");
        assert_eq!(
            report.headers[header::CONTENT_TYPE],
            "text/csv; charset=utf-8",
            "{engine:?}"
        );
        assert!(
            report.headers[header::CONTENT_DISPOSITION]
                .to_str()
                .unwrap_or("")
                .contains(&format!("import-{id}-rejects.csv")),
            "{engine:?}"
        );
        let text = report.json.as_str().expect("a CSV body").to_string();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "line,column,value,reason,code", "{engine:?}");
        assert!(
            lines[1].starts_with("3,Email Address,not an email,"),
            "{engine:?}: {text}"
        );
        assert!(
            lines[2].starts_with("4,Country,Narnia,"),
            "{engine:?}: {text}"
        );
        assert_eq!(lines.len(), 3, "{engine:?}: {text}");

        let one = w
            .call(
                Method::GET,
                &format!("/api/v1/imports/{id}"),
                Some(w.token(Role::Admin)),
                None,
            )
            .await;
        assert_eq!(one.status, StatusCode::OK, "{engine:?}");
        assert_eq!(one.json["by"], "token:marketer token", "{engine:?}");
        let history = w
            .call(
                Method::GET,
                "/api/v1/imports",
                Some(w.token(Role::Owner)),
                None,
            )
            .await;
        assert_eq!(history.json[0]["id"], id, "{engine:?}");
        let elsewhere = w.call(Method::GET, &url, Some(&w.other), None).await;
        assert_eq!(
            (elsewhere.status, elsewhere.code()),
            (StatusCode::NOT_FOUND, "import_not_found"),
            "{engine:?}: another workspace's import does not exist here"
        );
    }
}

#[tokio::test]
async fn a_viewer_cannot_import() {
    for t in pitcrew_testkit::each_engine().await {
        let engine = t.engine();
        let w = world(t).await;
        let reply = post_csv(&w, Role::Viewer, "object=contact", "text/csv", PEOPLE).await;
        assert_eq!(
            (reply.status, reply.code()),
            (StatusCode::FORBIDDEN, "forbidden"),
            "{engine:?}: {}",
            reply.json
        );
        let listed = w
            .call(
                Method::GET,
                "/api/v1/contacts",
                Some(w.token(Role::Viewer)),
                None,
            )
            .await;
        assert_eq!(listed.json["total"], 0, "{engine:?}: nothing was imported");
    }
}

#[tokio::test]
async fn a_dry_run_with_a_mapping_and_a_latin1_charset_changes_nothing() {
    for t in pitcrew_testkit::each_engine().await {
        let engine = t.engine();
        let w = world(t).await;
        let mapping = "%7B%22Mail%22%3A%22email%22%2C%22Nom%22%3A%22last_name%22%7D";
        let csv: Vec<u8> = b"Mail;Nom\nzoe@example.fr;Lef\xe8vre\n".to_vec();
        let reply = post_csv(
            &w,
            Role::Marketer,
            &format!("object=contact&dry_run=true&mode=create&mapping={mapping}"),
            "text/csv; charset=ISO-8859-1",
            csv,
        )
        .await;
        assert_eq!(reply.status, StatusCode::OK, "{engine:?}: {}", reply.json);
        let s = &reply.json;
        assert_eq!(
            (
                &s["dry_run"],
                &s["created"],
                &s["encoding"],
                &s["encoding_detected"],
                &s["delimiter"]
            ),
            (
                &json!(true),
                &json!(1),
                &json!("latin1"),
                &json!(false),
                &json!(";")
            ),
            "{engine:?}: {s}"
        );
        assert_eq!(s["mapping"][1]["source"], "given", "{engine:?}");
        let listed = w
            .call(
                Method::GET,
                "/api/v1/contacts",
                Some(w.token(Role::Owner)),
                None,
            )
            .await;
        assert_eq!(
            listed.json["total"], 0,
            "{engine:?}: a dry run changes nothing"
        );

        let reply = post_csv(
            &w,
            Role::Marketer,
            &format!("object=contact&mapping={mapping}&encoding=latin1"),
            "text/csv",
            b"Mail;Nom\nzoe@example.fr;Lef\xe8vre\n".to_vec(),
        )
        .await;
        assert_eq!(reply.json["created"], 1, "{engine:?}: {}", reply.json);
        let found = w
            .call(
                Method::GET,
                "/api/v1/contacts/lookup?email=zoe@example.fr",
                Some(w.token(Role::Owner)),
                None,
            )
            .await;
        assert_eq!(found.json["fields"]["last_name"], "Lefèvre", "{engine:?}");
    }
}

#[tokio::test]
async fn bad_requests_say_what_to_send() {
    for t in pitcrew_testkit::each_engine().await {
        let engine = t.engine();
        let w = world(t).await;
        let json_body = post_csv(&w, Role::Owner, "object=contact", "application/json", "{}").await;
        assert_eq!(
            (json_body.status, json_body.code()),
            (StatusCode::UNSUPPORTED_MEDIA_TYPE, "content_type_invalid"),
            "{engine:?}"
        );
        let mapping = post_csv(
            &w,
            Role::Owner,
            "object=contact&mapping=email",
            "text/csv",
            PEOPLE,
        )
        .await;
        assert_eq!(
            (mapping.status, mapping.code()),
            (StatusCode::BAD_REQUEST, "mapping_invalid"),
            "{engine:?}"
        );
        let empty = post_csv(&w, Role::Owner, "object=contact", "text/csv", "").await;
        assert_eq!(
            (
                empty.status,
                empty.code(),
                empty.json["error"]["field"].as_str()
            ),
            (StatusCode::BAD_REQUEST, "import_empty", Some("file")),
            "{engine:?}: {}",
            empty.json
        );
        let object = post_csv(&w, Role::Owner, "object=lead", "text/csv", PEOPLE).await;
        assert_eq!(
            (object.status, object.code()),
            (StatusCode::BAD_REQUEST, "query_invalid"),
            "{engine:?}"
        );
        let req = Request::builder()
            .method(Method::POST)
            .uri("/api/v1/imports?object=contact")
            .header(
                header::AUTHORIZATION,
                format!("Bearer {}", w.token(Role::Owner)),
            )
            .header(header::CONTENT_TYPE, "text/csv")
            .header(header::CONTENT_LENGTH, (300u64 * 1024 * 1024).to_string())
            .body(Body::from(PEOPLE))
            .expect("request");
        let huge = w.send(req).await;
        assert_eq!(
            (huge.status, huge.code()),
            (StatusCode::PAYLOAD_TOO_LARGE, "import_too_large"),
            "{engine:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_upload_larger_than_the_api_body_limit_streams_in_over_tcp() {
    let w = world(pitcrew_testkit::sqlite().await).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    let app = w.app.clone();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let mut csv = String::from("email,first_name,last_name,job_title\n");
    let mut rows = 0;
    while csv.len() < 3 * pitcrew_web::MAX_BODY_BYTES {
        csv.push_str(&format!(
            "person{rows}@example.com,Person,Number {rows},Marketing Operations Manager\n"
        ));
        rows += 1;
    }
    let token = w.token(Role::Marketer);
    let head = format!(
        "POST /api/v1/imports?object=contact HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Type: text/csv\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        csv.len()
    );
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream.write_all(head.as_bytes()).await.expect("head");
    for chunk in csv.as_bytes().chunks(64 * 1024) {
        stream.write_all(chunk).await.expect("body");
    }
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.expect("read");
    assert!(
        answer.starts_with("HTTP/1.1 200"),
        "{}",
        &answer[..answer.len().min(600)]
    );
    assert!(
        answer.contains(&format!("\"created\":{rows}")),
        "{}",
        &answer[..answer.len().min(600)]
    );
    server.abort();
}
