//! Campaigns over HTTP: a broadcast walked from sending rules to results
//! through the API, its email received by a real SMTP server, and the
//! email's links — click, open pixel, one-click unsubscribe, preference
//! center — followed over a real TCP connection, as a mail app or a person
//! would. Then bounces coming back, tampered links, and suppression files.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use mail_parser::MessageParser;
use pitcrew_app::campaign::send::Sender;
use pitcrew_app::now_ms;
use pitcrew_core::admin::Role;
use pitcrew_testkit::smtp::SmtpSink;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::{Reply, World, world};

// ---- a small HTTP/1.1 client that never follows redirects --------------------------------

struct Http {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Http {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(end) = body.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size = std::str::from_utf8(&body[..end])
            .ok()
            .and_then(|s| usize::from_str_radix(s.split(';').next().unwrap_or("").trim(), 16).ok())
            .expect("chunk size");
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&body[end + 2..end + 2 + size]);
        body = &body[end + 2 + size + 2..];
    }
}

/// Send one request to `url` over a fresh TCP connection and read the whole answer.
async fn http(method: &str, url: &str, headers: &[(&str, &str)], body: &[u8]) -> Http {
    let url = url::Url::parse(url).expect("absolute URL");
    let addr: SocketAddr = format!(
        "{}:{}",
        url.host_str().expect("host"),
        url.port().expect("port")
    )
    .parse()
    .expect("address");
    let target = match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_string(),
    };
    let mut head = format!(
        "{method} {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream.write_all(head.as_bytes()).await.expect("write");
    stream.write_all(body).await.expect("write body");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.expect("read");
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("end of head");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .expect("status line");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut reply = Http {
        status,
        headers,
        body: raw[split + 4..].to_vec(),
    };
    if reply
        .header("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    {
        reply.body = dechunk(&reply.body);
    }
    reply
}

async fn serve(w: &World) -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    let app = w.app.clone();
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}"), server)
}

// ---- the walk --------------------------------------------------------------------------------

const TEMPLATE: &str = r#"<html><body>
<p>Hi {{ contact.first_name | default("there") }},</p>
<p>Our <a href="https://acme.test/spring?ref=mail">spring range</a> is here.</p>
<p><a href="{{ unsubscribe_url }}">Unsubscribe</a> · <a href="{{ preferences_url }}">Preferences</a> · {{ postal_address }}</p>
</body></html>"#;

async fn ok(w: &World, method: Method, path: &str, role: Role, body: Option<Value>) -> Value {
    let r = w
        .call(method.clone(), path, Some(w.token(role)), body)
        .await;
    assert!(
        r.status.is_success(),
        "{method} {path} as {role}: {} {}",
        r.status,
        r.json
    );
    r.json
}

fn refused(r: &Reply, what: &str) {
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::FORBIDDEN, "forbidden"),
        "{what}: {}",
        r.json
    );
}

/// The text between `start` (included) and the next `"` in `html`.
fn link<'a>(html: &'a str, start: &str) -> &'a str {
    let at = html
        .find(start)
        .unwrap_or_else(|| panic!("no {start} in {html}"));
    let rest = &html[at..];
    &rest[..rest.find('"').unwrap_or(rest.len())]
}

/// The same link with one character of its signature changed.
fn tampered(url: &str) -> String {
    let mut chars: Vec<char> = url.chars().collect();
    let i = chars.len() - 5;
    chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
    chars.into_iter().collect()
}

/// A delivery status notification (RFC 3464) for `message_id`, as a
/// receiving server sends it when the mailbox does not exist.
fn hard_bounce(to: &str, message_id: &str) -> String {
    format!(
        "From: Mail Delivery System <MAILER-DAEMON@mx.example.com>\r\n\
         To: news@acme.test\r\n\
         Subject: Undelivered Mail Returned to Sender\r\n\
         Auto-Submitted: auto-replied\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: multipart/report; report-type=delivery-status; boundary=\"b1\"\r\n\
         \r\n\
         --b1\r\n\
         Content-Type: text/plain\r\n\
         \r\n\
         Your message could not be delivered.\r\n\
         \r\n\
         --b1\r\n\
         Content-Type: message/delivery-status\r\n\
         \r\n\
         Reporting-MTA: dns; mx.example.com\r\n\
         \r\n\
         Final-Recipient: rfc822; {to}\r\n\
         Action: failed\r\n\
         Status: 5.1.1\r\n\
         Diagnostic-Code: smtp; 550 5.1.1 <{to}>: user unknown\r\n\
         \r\n\
         --b1\r\n\
         Content-Type: text/rfc822-headers\r\n\
         \r\n\
         From: Acme <news@acme.test>\r\n\
         To: {to}\r\n\
         Subject: Spring is here\r\n\
         Message-ID: {message_id}\r\n\
         \r\n\
         --b1--\r\n"
    )
}

async fn stats(w: &World, broadcast: i64) -> Value {
    let path = format!("/api/v1/broadcasts/{broadcast}/stats");
    ok(w, Method::GET, &path, Role::Viewer, None).await
}

async fn subscribed(w: &World, contact: i64, topic: &str) -> bool {
    let path = format!("/api/v1/contacts/{contact}/consent");
    let state = ok(w, Method::GET, &path, Role::Viewer, None).await;
    state
        .as_array()
        .expect("states")
        .iter()
        .any(|s| s["topic"] == topic && s["subscribed"] == true)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_broadcast_goes_from_rules_to_results_and_its_links_work_for_the_person() {
    for t in pitcrew_testkit::each_engine().await {
        let engine = t.engine();
        let w = world(t).await;
        let (base, server) = serve(&w).await;
        let sink = SmtpSink::start().await;
        use Role::{Admin, Marketer, Viewer};

        // Sending setup, as an admin.
        let rules = json!({
            "postal_address": "Acme GmbH, Hauptstr. 1, 10115 Berlin",
            "public_url": base,
            "unsubscribe_mailbox": "unsubscribe@acme.test",
        });
        ok(&w, Method::PUT, "/api/v1/sending/rules", Admin, Some(rules)).await;
        let provider = ok(&w, Method::POST, "/api/v1/providers", Admin, Some(json!({
            "name": "Sink", "host": "127.0.0.1", "port": sink.port(), "security": "none", "per_second": 100,
        })))
        .await;
        let provider_id = provider["id"].as_i64().expect("provider id");
        let backup = ok(
            &w,
            Method::POST,
            "/api/v1/providers",
            Admin,
            Some(json!({
                "name": "Backup", "host": "smtp.example.com", "port": 587,
                "username": "acme", "password": "never-shown-again",
            })),
        )
        .await;
        assert_eq!(backup["has_password"], true, "{engine:?}");
        let providers = w
            .call(
                Method::GET,
                "/api/v1/providers",
                Some(w.token(Viewer)),
                None,
            )
            .await;
        assert!(
            !providers.json.to_string().contains("never-shown-again")
                && !backup.to_string().contains("never-shown-again"),
            "{engine:?}: a provider's password is never returned"
        );

        // What is sent, and to whom, as a marketer.
        for (name, description) in [
            ("Newsletter", "Monthly news"),
            ("Product updates", "New features"),
        ] {
            ok(
                &w,
                Method::POST,
                "/api/v1/topics",
                Marketer,
                Some(json!({"name": name, "description": description})),
            )
            .await;
        }
        let template = ok(
            &w,
            Method::POST,
            "/api/v1/templates",
            Marketer,
            Some(json!({
                "name": "Spring", "format": "html", "body": TEMPLATE,
            })),
        )
        .await;
        let contact = ok(
            &w,
            Method::POST,
            "/api/v1/contacts",
            Marketer,
            Some(json!({
                "fields": {"email": "ana@example.com", "first_name": "Ana", "country": "US"},
            })),
        )
        .await;
        let ana = contact["id"].as_i64().expect("contact id");
        let consent = format!("/api/v1/contacts/{ana}/consent");
        ok(
            &w,
            Method::POST,
            &consent,
            Marketer,
            Some(json!({
                "topic": "Newsletter", "subscribed": true, "legal_basis": "consent",
                "source": "form", "wording": "Send me the monthly newsletter",
            })),
        )
        .await;
        let list = ok(
            &w,
            Method::POST,
            "/api/v1/segments",
            Marketer,
            Some(json!({"name": "Spring list", "kind": "static"})),
        )
        .await;
        let list = list["id"].as_i64().expect("list id");
        ok(
            &w,
            Method::POST,
            &format!("/api/v1/segments/{list}/members"),
            Marketer,
            Some(json!({"ids": [ana]})),
        )
        .await;
        let preview = ok(
            &w,
            Method::POST,
            &format!("/api/v1/templates/{}/preview", template["id"]),
            Viewer,
            Some(json!({"contact_id": ana, "subject": "Spring is here, {{ contact.first_name }}"})),
        )
        .await;
        assert_eq!(preview["subject"], "Spring is here, Ana", "{engine:?}");
        let created = ok(&w, Method::POST, "/api/v1/broadcasts", Marketer, Some(json!({
            "name": "Spring launch",
            "template_id": template["id"],
            "subject": "Spring is here, {{ contact.first_name }}",
            "from_name": "Acme",
            "from_email": "news@acme.test",
            "topic": "Newsletter",
            "segments": [list],
            "provider_id": provider_id,
            "utm": {"utm_source": "newsletter", "utm_medium": "email", "utm_campaign": "spring"},
        })))
        .await;
        let id = created["id"].as_i64().expect("broadcast id");
        let b = |rest: &str| format!("/api/v1/broadcasts/{id}{rest}");

        // The first send of a workspace waits for an admin.
        let checks = ok(&w, Method::GET, &b("/checks"), Viewer, None).await;
        let approval = checks["checks"]
            .as_array()
            .expect("checks")
            .iter()
            .find(|c| c["code"] == "approval")
            .cloned()
            .expect("approval item");
        assert_eq!(approval["status"], "blocking", "{engine:?}: {checks}");
        assert_eq!(
            (checks["can_start"].clone(), checks["will_send"].clone()),
            (json!(false), json!(1))
        );
        let as_viewer = Some(w.token(Viewer));
        refused(
            &w.call(Method::POST, &b("/start"), as_viewer, None).await,
            "a viewer starts",
        );
        refused(
            &w.call(Method::POST, &b("/approve"), as_viewer, None).await,
            "a viewer approves",
        );
        let as_marketer = Some(w.token(Marketer));
        refused(
            &w.call(Method::POST, &b("/approve"), as_marketer, None)
                .await,
            "a marketer approves",
        );
        let blocked = w.call(Method::POST, &b("/start"), as_marketer, None).await;
        assert_eq!(
            (blocked.status, blocked.code()),
            (StatusCode::CONFLICT, "broadcast_blocked"),
            "{engine:?}: {}",
            blocked.json
        );
        let approved = ok(&w, Method::POST, &b("/approve"), Admin, None).await;
        assert_eq!(approved["approved_by"], "token:admin token", "{engine:?}");
        let started = ok(&w, Method::POST, &b("/start"), Marketer, None).await;
        assert_eq!(started["status"], "sending", "{engine:?}");

        // The sender hands it to the SMTP server.
        let sender = Sender::new(w.t.db.clone(), Arc::new(now_ms));
        let progress = sender.work(w.ws.id, id).await.expect("send");
        assert_eq!((progress.sent, progress.finished), (1, true), "{engine:?}");
        assert!(sink.wait_for(1, Duration::from_secs(10)).await);
        let received = sink.messages();
        assert_eq!(received[0].rcpt_to, ["ana@example.com"], "{engine:?}");
        let email = MessageParser::default()
            .parse(&received[0].data)
            .expect("parsable email");
        assert_eq!(email.subject(), Some("Spring is here, Ana"), "{engine:?}");
        let html = email.body_html(0).expect("HTML part").to_string();
        let click = link(&html, &format!("{base}/t/c/")).to_string();
        let pixel = link(&html, &format!("{base}/t/o/")).to_string();
        let header = email
            .header_raw("List-Unsubscribe")
            .expect("List-Unsubscribe");
        let unsubscribe = header
            .split(',')
            .map(|part| part.trim().trim_start_matches('<').trim_end_matches('>'))
            .find(|part| part.starts_with(&base))
            .expect("an https unsubscribe link")
            .to_string();
        let message_id = format!("<{}>", email.message_id().expect("Message-ID"));

        // The click lands on the original link with its UTM parameters.
        let landed = http("GET", &click, &[], b"").await;
        assert_eq!(landed.status, 302, "{engine:?}: {}", landed.text());
        let location = landed.header("location").expect("Location");
        assert!(
            location.starts_with("https://acme.test/spring?ref=mail"),
            "{location}"
        );
        for utm in [
            "utm_source=newsletter",
            "utm_medium=email",
            "utm_campaign=spring",
        ] {
            assert!(location.contains(utm), "{location} lacks {utm}");
        }
        assert!(landed.header("set-cookie").is_none());
        // The open pixel is an image that is never cached.
        let image = http("GET", &pixel, &[], b"").await;
        assert_eq!(image.status, 200);
        assert_eq!(image.header("content-type"), Some("image/gif"));
        assert!(
            image
                .header("cache-control")
                .is_some_and(|v| v.contains("no-cache"))
        );
        assert!(image.body.starts_with(b"GIF89a"));
        let s = stats(&w, id).await;
        assert_eq!(
            (
                s["sent"].clone(),
                s["clicked_unique"].clone(),
                s["opened_unique"].clone()
            ),
            (json!(1), json!(1), json!(1)),
            "{engine:?}: {s}"
        );
        let timeline = ok(
            &w,
            Method::GET,
            &format!("/api/v1/contacts/{ana}/events"),
            Viewer,
            None,
        )
        .await;
        let names: Vec<&str> = timeline
            .as_array()
            .expect("events")
            .iter()
            .filter_map(|e| e["name"].as_str())
            .collect();
        assert!(
            names.contains(&"Email Opened") && names.contains(&"Email Link Clicked"),
            "{engine:?}: {names:?}"
        );

        // Opening the unsubscribe link only asks; link scanners change nothing.
        let question = http("GET", &unsubscribe, &[], b"").await;
        assert_eq!(question.status, 200, "{engine:?}");
        let page = question.text();
        assert!(page.contains("Unsubscribe from Newsletter?"), "{page}");
        assert!(page.contains("<form method=\"post\">"), "{page}");
        assert!(
            page.contains("an…@example.com") && !page.contains("ana@example.com"),
            "{page}"
        );
        assert!(
            subscribed(&w, ana, "Newsletter").await,
            "{engine:?}: a GET unsubscribes nobody"
        );

        // One click from the mail app (RFC 8058) unsubscribes, once.
        let form = [("content-type", "application/x-www-form-urlencoded")];
        let done = http("POST", &unsubscribe, &form, b"List-Unsubscribe=One-Click").await;
        assert_eq!(done.status, 200, "{engine:?}: {}", done.text());
        assert!(
            done.header("set-cookie").is_none(),
            "{engine:?}: no cookie is ever set"
        );
        assert!(
            done.text()
                .contains("You will no longer receive Newsletter emails"),
            "{}",
            done.text()
        );
        assert!(!subscribed(&w, ana, "Newsletter").await, "{engine:?}");
        assert_eq!(stats(&w, id).await["unsubscribed"], 1, "{engine:?}");
        let multipart = [("content-type", "multipart/form-data; boundary=x")];
        let body = b"--x\r\nContent-Disposition: form-data; name=\"List-Unsubscribe\"\r\n\r\nOne-Click\r\n--x--\r\n";
        let again = http("POST", &unsubscribe, &multipart, body).await;
        assert_eq!(again.status, 200, "{engine:?}");
        assert!(
            again
                .text()
                .contains("You will no longer receive Newsletter emails")
        );
        assert_eq!(
            stats(&w, id).await["unsubscribed"],
            1,
            "{engine:?}: repeating changes nothing"
        );
        let history = ok(&w, Method::GET, &format!("{consent}/history"), Viewer, None).await;
        let opt_outs: Vec<&Value> = history
            .as_array()
            .expect("history")
            .iter()
            .filter(|r| r["subscribed"] == false)
            .collect();
        assert_eq!(opt_outs.len(), 1, "{engine:?}: {history}");
        assert_eq!(opt_outs[0]["source"], "unsubscribe_link");
        assert_eq!(opt_outs[0]["broadcast_id"], id);

        // The preference center lists every topic and saves the choices.
        let preferences = format!("{unsubscribe}/preferences");
        let shown = http("GET", &preferences, &[], b"").await;
        assert_eq!(shown.status, 200, "{engine:?}");
        let page = shown.text();
        for topic in ["Newsletter", "Product updates"] {
            assert!(
                page.contains(&format!("name=\"topic\" value=\"{topic}\"")),
                "{page}"
            );
        }
        assert!(
            !page.contains(" checked"),
            "{engine:?}: nothing is ticked now: {page}"
        );
        let saved = http("POST", &preferences, &form, b"topic=Product+updates").await;
        assert_eq!(saved.status, 200, "{engine:?}: {}", saved.text());
        assert!(saved.header("set-cookie").is_none());
        let page = saved.text();
        assert!(page.contains("Saved."), "{page}");
        assert!(page.contains("value=\"Product updates\" checked"), "{page}");
        assert!(subscribed(&w, ana, "Product updates").await, "{engine:?}");
        assert!(!subscribed(&w, ana, "Newsletter").await, "{engine:?}");

        // A bounce report for the message that was sent suppresses the address.
        let report = Request::builder()
            .method(Method::POST)
            .uri("/api/v1/reports")
            .header(
                header::AUTHORIZATION,
                format!("Bearer {}", w.token(Marketer)),
            )
            .header(header::CONTENT_TYPE, "message/rfc822")
            .body(Body::from(hard_bounce("ana@example.com", &message_id)))
            .expect("request");
        let summary = w.send(report).await;
        assert_eq!(
            summary.status,
            StatusCode::OK,
            "{engine:?}: {}",
            summary.json
        );
        assert_eq!(
            summary.json["hard_bounces"], 1,
            "{engine:?}: {}",
            summary.json
        );
        assert_eq!(summary.json["problems"], json!([]), "{engine:?}");
        let listed = ok(
            &w,
            Method::GET,
            "/api/v1/suppressions?search=ana",
            Viewer,
            None,
        )
        .await;
        assert_eq!(listed["total"], 1, "{engine:?}: {listed}");
        assert_eq!(listed["items"][0]["email"], "ana@example.com");
        assert_eq!(listed["items"][0]["reason"], "hard_bounce");
        let s = stats(&w, id).await;
        assert_eq!(s["bounced"], 1, "{engine:?}: {s}");
        let decision = ok(
            &w,
            Method::GET,
            &b(&format!("/recipients/{ana}")),
            Viewer,
            None,
        )
        .await;
        assert_eq!(decision["state"], "sent", "{engine:?}");
        let kinds: Vec<&str> = decision["events"]
            .as_array()
            .expect("events")
            .iter()
            .filter_map(|e| e["kind"].as_str())
            .collect();
        assert!(
            kinds.contains(&"bounced") && kinds.contains(&"clicked"),
            "{kinds:?}"
        );

        // Altered links record nothing: a broken-link page, or still the image.
        let before = stats(&w, id).await;
        let broken = http("GET", &tampered(&click), &[], b"").await;
        assert_eq!(broken.status, 404, "{engine:?}");
        assert!(
            broken.header("location").is_none(),
            "no redirect to an unsigned address"
        );
        assert!(
            broken.text().contains("This link is broken"),
            "{}",
            broken.text()
        );
        let image = http("GET", &tampered(&pixel), &[], b"").await;
        assert_eq!(
            (image.status, image.header("content-type")),
            (200, Some("image/gif"))
        );
        let refused_unsubscribe = http(
            "POST",
            &tampered(&unsubscribe),
            &form,
            b"List-Unsubscribe=One-Click",
        )
        .await;
        assert_eq!(refused_unsubscribe.status, 404, "{engine:?}");
        assert!(refused_unsubscribe.text().contains("This link is broken"));
        let bad_preferences = format!("{}/preferences", tampered(&unsubscribe));
        assert_eq!(http("GET", &bad_preferences, &[], b"").await.status, 404);
        let after = stats(&w, id).await;
        for key in ["opened_total", "clicked_total", "unsubscribed"] {
            assert_eq!(
                after[key], before[key],
                "{engine:?}: {key} after tampered links"
            );
        }
        server.abort();
    }
}

// ---- suppression files and report uploads ---------------------------------------------------

async fn upload(w: &World, path: &str, media: &str, body: &str, role: Role) -> Reply {
    let req = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header(header::AUTHORIZATION, format!("Bearer {}", w.token(role)))
        .header(header::CONTENT_TYPE, media)
        .body(Body::from(body.to_string()))
        .expect("request");
    w.send(req).await
}

#[tokio::test]
async fn a_suppression_file_reports_each_bad_row_by_line_and_exports_back_as_csv() {
    for t in pitcrew_testkit::each_engine().await {
        let engine = t.engine();
        let w = world(t).await;
        let file = "email,reason,note\n\
                    ok@example.com,manual,asked by phone\n\
                    not-an-address,manual,\n\
                    gone@example.com,hard_bounce,old tool\n\
                    who@example.com,angry,\n";
        let r = upload(
            &w,
            "/api/v1/suppressions/import",
            "text/csv",
            file,
            Role::Marketer,
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{engine:?}: {}", r.json);
        assert_eq!(
            (
                r.json["rows"].clone(),
                r.json["added"].clone(),
                r.json["rejected"].clone()
            ),
            (json!(4), json!(2), json!(2)),
            "{engine:?}: {}",
            r.json
        );
        let lines: Vec<i64> = r.json["rejects"]
            .as_array()
            .expect("rejects")
            .iter()
            .filter_map(|x| x["line"].as_i64())
            .collect();
        assert_eq!(lines, [3, 5], "{engine:?}: {}", r.json);
        let viewer = upload(
            &w,
            "/api/v1/suppressions/import",
            "text/csv",
            file,
            Role::Viewer,
        )
        .await;
        assert_eq!(viewer.status, StatusCode::FORBIDDEN);
        let not_csv = upload(
            &w,
            "/api/v1/suppressions/import",
            "application/json",
            "{}",
            Role::Marketer,
        )
        .await;
        assert_eq!(
            (not_csv.status, not_csv.code()),
            (StatusCode::UNSUPPORTED_MEDIA_TYPE, "content_type_invalid")
        );

        let export = w
            .call(
                Method::GET,
                "/api/v1/suppressions/export",
                Some(w.token(Role::Viewer)),
                None,
            )
            .await;
        assert_eq!(export.status, StatusCode::OK, "{engine:?}");
        assert_eq!(
            export.headers[header::CONTENT_TYPE],
            "text/csv; charset=utf-8"
        );
        let csv = export.json.as_str().expect("CSV text").to_string();
        let mut lines = csv.lines();
        assert_eq!(
            lines.next(),
            Some("email,topic,reason,note,source,created_at")
        );
        let rows: Vec<&str> = lines.collect();
        assert_eq!(rows.len(), 2, "{csv}");
        assert!(
            rows[0].starts_with("gone@example.com,,hard_bounce,old tool,import,"),
            "{csv}"
        );
        assert!(
            rows[1].starts_with("ok@example.com,,manual,asked by phone,import,"),
            "{csv}"
        );

        // The exported file imports back as it is, changing nothing.
        let again = upload(
            &w,
            "/api/v1/suppressions/import",
            "text/csv",
            &csv,
            Role::Marketer,
        )
        .await;
        assert_eq!(
            (
                again.json["unchanged"].clone(),
                again.json["rejected"].clone()
            ),
            (json!(2), json!(0)),
            "{}",
            again.json
        );
    }
}

#[tokio::test]
async fn a_mailbox_of_reports_names_each_unusable_message_by_number_and_line() {
    let w = world(pitcrew_testkit::sqlite().await).await;
    let mailbox = "From someone@example.com Mon Nov 23 10:00:00 2026\n\
                   From: Ana <ana@example.com>\n\
                   To: news@acme.test\n\
                   Subject: Re: Spring is here\n\
                   \n\
                   Thanks, lovely!\n\
                   \n\
                   From MAILER-DAEMON Mon Nov 23 10:05:00 2026\n\
                   From: Mail Delivery System <MAILER-DAEMON@mx.example.com>\n\
                   Subject: Delivery report\n\
                   Content-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\n\
                   \n\
                   --b\n\
                   Content-Type: message/delivery-status\n\
                   \n\
                   Reporting-MTA: dns; mx.example.com\n\
                   \n\
                   Final-Recipient: rfc822; nobody@example.net\n\
                   Action: failed\n\
                   Status: 5.1.1\n\
                   \n\
                   --b--\n";
    let r = upload(
        &w,
        "/api/v1/reports",
        "application/mbox",
        mailbox,
        Role::Marketer,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert_eq!(r.json["messages"], 2, "{}", r.json);
    let problems = r.json["problems"].as_array().expect("problems");
    let places: Vec<(i64, i64)> = problems
        .iter()
        .map(|p| {
            (
                p["message"].as_i64().unwrap_or(0),
                p["line"].as_i64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(places, [(1, 2), (2, 9)], "{}", r.json);
    assert!(
        problems[1]["reason"]
            .as_str()
            .unwrap_or("")
            .contains("names no message"),
        "{}",
        r.json
    );
    let json = upload(
        &w,
        "/api/v1/reports",
        "application/json",
        "{}",
        Role::Marketer,
    )
    .await;
    assert_eq!(json.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let viewer = upload(
        &w,
        "/api/v1/reports",
        "message/rfc822",
        mailbox,
        Role::Viewer,
    )
    .await;
    assert_eq!(viewer.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn the_pages_people_reach_from_an_email_are_documented_without_sign_in() {
    let doc = serde_json::to_value(pitcrew_web::openapi()).expect("openapi");
    for (path, method) in [
        ("/t/o/{token}", "get"),
        ("/t/c/{token}", "get"),
        ("/u/{token}", "get"),
        ("/u/{token}", "post"),
        ("/u/{token}/preferences", "get"),
        ("/u/{token}/preferences", "post"),
    ] {
        let op = &doc["paths"][path][method];
        assert_eq!(op["tags"], json!(["public"]), "{method} {path}");
        assert_eq!(op["security"], json!([{}]), "{method} {path}: no sign-in");
    }
    // Every campaign route says what it does.
    let campaign = [
        "/api/v1/topics",
        "/api/v1/suppressions",
        "/api/v1/providers",
        "/api/v1/sending",
        "/api/v1/templates",
        "/api/v1/broadcasts",
        "/api/v1/reports",
        "/t/",
        "/u/",
    ];
    let paths = doc["paths"].as_object().expect("paths");
    let ours = paths.iter().filter(|(path, _)| {
        campaign.iter().any(|p| path.starts_with(p)) || path.contains("/consent")
    });
    let mut seen = 0;
    for (path, item) in ours {
        for (method, op) in item.as_object().expect("item") {
            seen += 1;
            let described = op["summary"].as_str().is_some_and(|s| !s.is_empty());
            assert!(described, "{method} {path} has no description");
        }
    }
    assert!(seen > 40, "{seen} campaign routes documented");
}
