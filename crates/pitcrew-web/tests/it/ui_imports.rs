//! The Imports pages as marketers and viewers use them: uploading a CSV,
//! the suggested mapping, a dry run that changes nothing, the import with
//! its progress and rejects report, the history, and every refusal.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use pitcrew_app::record::{self, ListParams};
use pitcrew_core::admin::Role;
use pitcrew_core::record::ObjectKind;

use crate::on_each_engine;
use crate::support::{Html, Visitor, World};

const PEOPLE: &str = "E-mail Address,First Name,Shoe size\n\
                      ada@example.com,Ada,38\n\
                      not an email,Bob,44\n\
                      cy@example.com,Cy,41\n";

/// Send `file` through the upload form as `v`.
async fn upload(w: &World, v: &Visitor, object: &str, name: &str, file: &[u8]) -> Html {
    upload_declaring(w, v, object, name, file, None).await
}

async fn upload_declaring(
    w: &World,
    v: &Visitor,
    object: &str,
    name: &str,
    file: &[u8],
    declared: Option<u64>,
) -> Html {
    let boundary = "pitcrew-test-boundary";
    let mut body = Vec::new();
    body.extend(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"object\"\r\n\r\n{object}\r\n"
        )
        .as_bytes(),
    );
    body.extend(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: text/csv\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend(file);
    body.extend(format!("\r\n--{boundary}--\r\n").as_bytes());
    let mut req = Request::builder()
        .method(Method::POST)
        .uri(format!("/imports/new?_csrf={}", v.csrf))
        .header(header::COOKIE, &v.cookie)
        .header(
            header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={boundary}"),
        );
    if let Some(n) = declared {
        req = req.header(header::CONTENT_LENGTH, n.to_string());
    }
    w.html(req.body(Body::from(body)).expect("request")).await
}

/// The id at the end of a redirect such as `/imports/12` or `…?dry_run=12#dry-run`.
fn id_in(location: &str) -> i64 {
    let tail = location.split('#').next().unwrap_or("");
    let digits: String = tail
        .chars()
        .rev()
        .take_while(char::is_ascii_digit)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    digits
        .parse()
        .unwrap_or_else(|_| panic!("an id in {location}"))
}

/// Follow the progress fragment until the import is over; returns the last fragment.
async fn finished(w: &World, v: &Visitor, id: i64) -> String {
    for _ in 0..400 {
        let p = w
            .page(v, Method::GET, &format!("/imports/{id}/progress"), &[])
            .await;
        assert_eq!(p.status, StatusCode::OK, "{}", p.body);
        if !p.body.contains("hx-trigger") {
            return p.body;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("import {id} did not finish");
}

async fn contacts(w: &World) -> i64 {
    let params = ListParams {
        limit: Some(1),
        ..ListParams::default()
    };
    record::list_records(
        &w.t.db,
        &w.actors[&Role::Marketer],
        ObjectKind::Contact,
        params,
    )
    .await
    .expect("contacts")
    .1
}

/// The mapping form of the upload at `key` as `PEOPLE` needs it.
fn people_mapping(action: &str) -> Vec<(&str, &str)> {
    vec![
        ("target.0", "email"),
        ("target.1", "first_name"),
        ("target.2", ""),
        ("match", ""),
        ("mode", "upsert"),
        ("action", action),
    ]
}

#[tokio::test]
async fn a_marketer_uploads_maps_tries_a_dry_run_and_imports_contacts() {
    on_each_engine!(|w| {
        let v = w.sign_in(Role::Marketer).await;
        let before = contacts(&w).await;

        let list = w.page(&v, Method::GET, "/imports", &[]).await;
        assert_eq!(list.status, StatusCode::OK);
        assert!(list.body.contains("No imports yet"), "{}", list.body);
        assert!(list.body.contains("href=\"/imports/new\""), "{}", list.body);
        let form = w.page(&v, Method::GET, "/imports/new", &[]).await;
        assert_eq!(form.status, StatusCode::OK);
        assert!(form.body.contains("enctype=\"multipart/form-data\""));
        assert!(form.body.contains("<label for=\"file\">CSV file</label>"));

        let up = upload(&w, &v, "contact", "people.csv", PEOPLE.as_bytes()).await;
        assert_eq!(up.status, StatusCode::SEE_OTHER, "{}", up.body);
        let mapping_url = up.location().to_string();
        assert!(
            mapping_url.starts_with("/imports/uploads/"),
            "{mapping_url}"
        );
        // The file stays on the server: the page carries only its key.
        let map = w.page(&v, Method::GET, &mapping_url, &[]).await;
        assert_eq!(map.status, StatusCode::OK, "{}", map.body);
        assert!(map.body.contains("Map the columns of people.csv"));
        // Suggested from the headers: the email and first name, not the shoe size.
        let selected = |position: usize, target: &str| {
            let at = map
                .body
                .find(&format!("name=\"target.{position}\""))
                .expect("the column's select");
            let end = at + map.body[at..].find("</select>").expect("end of select");
            map.body[at..end].contains(&format!("value=\"{target}\" selected"))
        };
        assert!(selected(0, "email"), "{}", map.body);
        assert!(selected(1, "first_name"), "{}", map.body);
        assert!(
            !map.body[map.body.find("name=\"target.2\"").expect("shoe size")..]
                .split("</select>")
                .next()
                .unwrap_or("")
                .contains(" selected")
        );
        assert!(map.body.contains("Suggested from the header."));
        // The first rows, as a sample.
        assert!(
            map.body.contains("<td>ada@example.com</td>"),
            "{}",
            map.body
        );
        assert!(map.body.contains("<td>not an email</td>"));

        // A dry run tells what would happen and changes nothing.
        let dry = w
            .page(&v, Method::POST, &mapping_url, &people_mapping("dry_run"))
            .await;
        assert_eq!(dry.status, StatusCode::SEE_OTHER, "{}", dry.body);
        assert!(dry.location().contains("?dry_run="), "{}", dry.location());
        let dry_id = id_in(dry.location());
        let result = finished(&w, &v, dry_id).await;
        assert!(result.contains("nothing was changed"), "{result}");
        assert!(result.contains("Would create"), "{result}");
        assert_eq!(contacts(&w).await, before);
        let after_dry = w.page(&v, Method::GET, dry.location(), &[]).await;
        assert_eq!(after_dry.status, StatusCode::OK);
        assert!(after_dry.body.contains("id=\"dry-run\""));
        assert!(
            after_dry.body.contains("<td class=\"num\">3</td>"),
            "{}",
            after_dry.body
        );
        assert!(after_dry.body.contains("not an email"));
        // The mapping chosen is kept for the real run.
        assert!(after_dry.body.contains("value=\"first_name\" selected"));

        // The import itself: progress, then the result and the report.
        let run = w
            .page(&v, Method::POST, &mapping_url, &people_mapping("run"))
            .await;
        assert_eq!(run.status, StatusCode::SEE_OTHER, "{}", run.body);
        let id = id_in(run.location());
        assert_eq!(run.location(), format!("/imports/{id}"));
        let result = finished(&w, &v, id).await;
        assert!(result.contains("Import finished."), "{result}");
        assert_eq!(contacts(&w).await, before + 2);
        let page = w
            .page(&v, Method::GET, &format!("/imports/{id}"), &[])
            .await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.body.contains("<h1>people.csv</h1>"), "{}", page.body);
        assert!(
            page.body.contains("Created</dt><dd>2</dd>"),
            "{}",
            page.body
        );
        assert!(
            page.body.contains("Rejected</dt><dd>1</dd>"),
            "{}",
            page.body
        );
        assert!(
            page.body
                .contains(&format!("href=\"/imports/{id}/rejects.csv\""))
        );
        let report = w
            .page(&v, Method::GET, &format!("/imports/{id}/rejects.csv"), &[])
            .await;
        assert_eq!(report.status, StatusCode::OK);
        assert!(
            report.headers[header::CONTENT_TYPE]
                .to_str()
                .unwrap_or("")
                .starts_with("text/csv")
        );
        let mut lines = report.body.lines();
        assert_eq!(lines.next(), Some("line,column,value,reason,code"));
        let reject = lines.next().expect("one reject");
        assert!(
            reject.starts_with("3,E-mail Address,not an email,"),
            "{reject}"
        );
        // The same report as the API gives.
        let api = w
            .call(
                Method::GET,
                &format!("/api/v1/imports/{id}/rejects.csv"),
                Some(w.token(Role::Marketer)),
                None,
            )
            .await;
        assert_eq!(api.json.as_str(), Some(report.body.as_str()));
        // A real import uses its upload up.
        let gone = w.page(&v, Method::GET, &mapping_url, &[]).await;
        assert_eq!(gone.status, StatusCode::NOT_FOUND);

        // The history shows both, newest first, with their counts.
        let list = w.page(&v, Method::GET, "/imports", &[]).await;
        assert_eq!(list.status, StatusCode::OK);
        let real = list
            .body
            .find(&format!("href=\"/imports/{id}\""))
            .expect("the import");
        let trial = list
            .body
            .find(&format!("href=\"/imports/{dry_id}\""))
            .expect("the dry run");
        assert!(real < trial, "newest first");
        assert!(list.body.contains("marketer@acme.test"));
        assert!(list.body.contains("dry run</span>"));
    });
}

#[tokio::test]
async fn a_viewer_gets_no_import_button_and_every_import_page_refuses_them() {
    on_each_engine!(|w| {
        let m = w.sign_in(Role::Marketer).await;
        let up = upload(&w, &m, "contact", "people.csv", PEOPLE.as_bytes()).await;
        let mapping_url = up.location().to_string();
        let run = w
            .page(&m, Method::POST, &mapping_url, &people_mapping("run"))
            .await;
        let id = id_in(run.location());
        finished(&w, &m, id).await;

        let v = w.sign_in(Role::Viewer).await;
        let home = w.page(&v, Method::GET, "/", &[]).await;
        assert!(!home.body.contains("Import a CSV"), "{}", home.body);
        for path in [
            "/imports".to_string(),
            "/imports/new".to_string(),
            format!("/imports/{id}"),
            format!("/imports/{id}/progress"),
            format!("/imports/{id}/rejects.csv"),
        ] {
            let page = w.page(&v, Method::GET, &path, &[]).await;
            assert_eq!(page.status, StatusCode::FORBIDDEN, "{path}");
            assert!(!page.body.contains("New import"), "{path}");
        }
        let refused = upload(&w, &v, "contact", "people.csv", PEOPLE.as_bytes()).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        let before = contacts(&w).await;
        let again = upload(&w, &m, "contact", "people.csv", PEOPLE.as_bytes()).await;
        let key_url = again.location().to_string();
        let refused = w
            .page(&v, Method::POST, &key_url, &people_mapping("run"))
            .await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        assert_eq!(contacts(&w).await, before);
    });
}

#[tokio::test]
async fn files_that_cannot_be_imported_come_back_to_the_form_with_the_reason() {
    on_each_engine!(|w| {
        let v = w.sign_in(Role::Marketer).await;
        let cases: [(&[u8], &str); 4] = [
            (b"", "the file is empty"),
            (b"PK\x03\x04\x14\x00\x06\x00binary", "Excel workbook"),
            (b"email,first_name\n", "a header but no rows"),
            (b"\x00\x01\x02email\n", "not CSV text"),
        ];
        for (file, reason) in cases {
            let out = upload(&w, &v, "contact", "people.csv", file).await;
            assert_eq!(out.status, StatusCode::UNPROCESSABLE_ENTITY, "{reason}");
            let at = out
                .body
                .find("id=\"file-error\"")
                .expect("error at the file");
            assert!(out.body[at..].contains(reason), "{reason}: {}", out.body);
            assert!(out.body.contains("aria-invalid=\"true\""));
        }
        let big = upload_declaring(
            &w,
            &v,
            "contact",
            "big.csv",
            PEOPLE.as_bytes(),
            Some(300 * 1024 * 1024),
        )
        .await;
        assert_eq!(big.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(big.body.contains("larger than 256 MiB"), "{}", big.body);
        let nothing = upload(&w, &v, "contact", "", b"").await;
        assert_eq!(nothing.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            nothing.body.contains("choose a CSV file"),
            "{}",
            nothing.body
        );
        // A made-up page for an upload is simply not found.
        let missing = w
            .page(&v, Method::GET, "/imports/uploads/..%2F..%2Fetc", &[])
            .await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND);
        let missing = w.page(&v, Method::GET, "/imports/999999", &[]).await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND);
    });
}

#[tokio::test]
async fn contacts_without_an_email_column_are_refused_next_to_the_match_key() {
    on_each_engine!(|w| {
        let v = w.sign_in(Role::Marketer).await;
        let before = contacts(&w).await;
        let up = upload(&w, &v, "contact", "people.csv", PEOPLE.as_bytes()).await;
        let mapping_url = up.location().to_string();
        let form = [
            ("target.0", ""),
            ("target.1", "first_name"),
            ("target.2", ""),
            ("match", ""),
            ("mode", "upsert"),
            ("action", "run"),
        ];
        let out = w.page(&v, Method::POST, &mapping_url, &form).await;
        assert_eq!(out.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", out.body);
        let at = out
            .body
            .find("id=\"match-error\"")
            .expect("error at the match key");
        assert!(
            out.body[at..].contains("no column maps to `email`"),
            "{}",
            out.body
        );
        // The form keeps what was chosen.
        assert!(out.body.contains("value=\"first_name\" selected"));
        assert_eq!(contacts(&w).await, before);

        let nothing = [("target.0", ""), ("action", "dry_run")];
        // (The upload is still there to try again.)
        let out = w.page(&v, Method::POST, &mapping_url, &nothing).await;
        assert_eq!(out.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            out.body.contains("no column of the file maps to a field"),
            "{}",
            out.body
        );

        let unknown = [("target.0", "shoe_size"), ("action", "dry_run")];
        let out = w.page(&v, Method::POST, &mapping_url, &unknown).await;
        assert_eq!(out.status, StatusCode::UNPROCESSABLE_ENTITY);
        let at = out
            .body
            .find("id=\"target-0-error\"")
            .expect("error at the column");
        assert!(
            out.body[at..].contains("not a contact field"),
            "{}",
            out.body
        );
    });
}

#[tokio::test]
async fn accounts_import_matched_by_external_id() {
    on_each_engine!(|w| {
        let v = w.sign_in(Role::Marketer).await;
        let file = "Account ID;Company Name;Website\nA-1;Initech;initech.example\nA-2;Globex;globex.example\n";
        let up = upload(
            &w,
            &v,
            "account",
            "C:\\Users\\me\\accounts.csv",
            file.as_bytes(),
        )
        .await;
        assert_eq!(up.status, StatusCode::SEE_OTHER, "{}", up.body);
        let mapping_url = up.location().to_string();
        let map = w.page(&v, Method::GET, &mapping_url, &[]).await;
        assert!(map.body.contains("A file of accounts"), "{}", map.body);
        assert!(
            map.body.contains("value=\"external_id\" selected"),
            "{}",
            map.body
        );
        assert!(map.body.contains("value=\"name\" selected"), "{}", map.body);
        let form = [
            ("target.0", "external_id"),
            ("target.1", "name"),
            ("target.2", "website"),
            ("match", "external_id"),
            ("mode", "upsert"),
            ("action", "run"),
        ];
        let run = w.page(&v, Method::POST, &mapping_url, &form).await;
        assert_eq!(run.status, StatusCode::SEE_OTHER, "{}", run.body);
        let id = id_in(run.location());
        let result = finished(&w, &v, id).await;
        assert!(result.contains("Created</dt><dd>2</dd>"), "{result}");
        let page = w
            .page(&v, Method::GET, &format!("/imports/{id}"), &[])
            .await;
        assert!(page.body.contains("<h1>accounts.csv</h1>"), "{}", page.body);
        let params = ListParams {
            q: Some("Globex".into()),
            ..ListParams::default()
        };
        let (found, total, _, _) = record::list_records(
            &w.t.db,
            &w.actors[&Role::Marketer],
            ObjectKind::Account,
            params,
        )
        .await
        .expect("accounts");
        assert_eq!(total, 1, "{found:?}");
    });
}
