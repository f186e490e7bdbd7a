//! The broadcast pages as marketers, admins and viewers use them: writing
//! a draft with the template editor, the pre-launch checks that block a
//! send, approval, sending through a real SMTP server, live progress, test
//! sends, results with their chart, and refusals with their reasons.

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

use crate::on_each_engine;
use crate::support::{Visitor, World, world};

/// An email with the postal address but no unsubscribe link.
const NO_UNSUBSCRIBE: &str = "<p>Hello {{ contact.first_name }}, spring is here.</p>\
    <p><a href=\"https://acme.test/spring\">See what is new</a></p><p>{{ postal_address }}</p>";

/// The same email with the unsubscribe link added.
const WITH_UNSUBSCRIBE: &str = "<p>Hello {{ contact.first_name }}, spring is here.</p>\
    <p><a href=\"https://acme.test/spring\">See what is new</a></p><p>{{ postal_address }}</p>\
    <p><a href=\"{{ unsubscribe_url }}\">Unsubscribe</a></p>";

async fn api(w: &World, method: Method, path: &str, role: Role, body: Option<Value>) -> Value {
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

/// What a broadcast needs around it: sending rules, a provider, a topic,
/// a contact opted in to it, and a list holding that contact.
struct Setup {
    provider: i64,
    list: i64,
}

async fn setup(w: &World, smtp_port: u16) -> Setup {
    let rules = json!({
        "postal_address": "Acme GmbH, Hauptstr. 1, 10115 Berlin",
        "public_url": "https://pitcrew.acme.test",
        "unsubscribe_mailbox": "unsubscribe@acme.test",
    });
    api(
        w,
        Method::PUT,
        "/api/v1/sending/rules",
        Role::Admin,
        Some(rules),
    )
    .await;
    let provider = api(
        w,
        Method::POST,
        "/api/v1/providers",
        Role::Admin,
        Some(json!({
            "name": "Sink", "host": "127.0.0.1", "port": smtp_port, "security": "none", "per_second": 100,
        })),
    )
    .await;
    api(
        w,
        Method::POST,
        "/api/v1/topics",
        Role::Marketer,
        Some(json!({"name": "Newsletter", "description": "Monthly news"})),
    )
    .await;
    let contact = api(
        w,
        Method::POST,
        "/api/v1/contacts",
        Role::Marketer,
        Some(json!({"fields": {"email": "ana@example.com", "first_name": "Ana", "country": "US"}})),
    )
    .await;
    let ana = contact["id"].as_i64().expect("contact id");
    api(
        w,
        Method::POST,
        &format!("/api/v1/contacts/{ana}/consent"),
        Role::Marketer,
        Some(json!({
            "topic": "Newsletter", "subscribed": true, "legal_basis": "consent",
            "source": "form", "wording": "Send me the monthly newsletter",
        })),
    )
    .await;
    let list = api(
        w,
        Method::POST,
        "/api/v1/segments",
        Role::Marketer,
        Some(json!({"name": "Spring list", "kind": "static"})),
    )
    .await;
    let list = list["id"].as_i64().expect("list id");
    api(
        w,
        Method::POST,
        &format!("/api/v1/segments/{list}/members"),
        Role::Marketer,
        Some(json!({"ids": [ana]})),
    )
    .await;
    Setup {
        provider: provider["id"].as_i64().expect("provider id"),
        list,
    }
}

/// The broadcast form as a marketer fills it in.
fn form<'a>(provider: &'a str, list: &'a str, body: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("name", "Spring launch"),
        ("subject", "Spring is here, {{ contact.first_name }}"),
        ("from_name", "Acme"),
        ("from_email", "news@acme.test"),
        ("reply_to", ""),
        ("topic", "Newsletter"),
        ("segments", list),
        ("provider_id", provider),
        ("tracking", "on"),
        ("utm_source", "newsletter"),
        ("utm_medium", "email"),
        ("utm_campaign", "spring"),
        ("scheduled_at", ""),
        ("format", "html"),
        ("body", body),
        ("text_body", ""),
    ]
}

fn id_from(location: &str) -> i64 {
    location
        .strip_prefix("/broadcasts/")
        .and_then(|rest| rest.parse().ok())
        .unwrap_or_else(|| panic!("a broadcast's page, not {location:?}"))
}

async fn status_of(w: &World, id: i64) -> String {
    let b = api(
        w,
        Method::GET,
        &format!("/api/v1/broadcasts/{id}"),
        Role::Viewer,
        None,
    )
    .await;
    b["status"].as_str().unwrap_or_default().to_string()
}

/// Whether the page's Send button is disabled.
fn send_disabled(html: &str) -> bool {
    let at = html.find("id=\"start-button\"").expect("a Send button");
    let end = at + html[at..].find('>').expect("end of the button tag");
    html[at..end].contains("disabled")
}

/// An htmx request (its fragment, not a whole page) as `v`.
async fn htmx_get(w: &World, v: &Visitor, path: &str) -> (StatusCode, String) {
    let req = Request::builder()
        .method(Method::GET)
        .uri(path)
        .header(header::COOKIE, &v.cookie)
        .header("hx-request", "true")
        .body(Body::empty())
        .expect("request");
    let page = w.html(req).await;
    (page.status, page.body)
}

/// An htmx form post as `v`: the token in the header, as htmx sends it.
async fn htmx_post(
    w: &World,
    v: &Visitor,
    path: &str,
    form: &[(&str, &str)],
) -> (StatusCode, String) {
    let mut enc = url::form_urlencoded::Serializer::new(String::new());
    for (k, val) in form {
        enc.append_pair(k, val);
    }
    let req = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header(header::COOKIE, &v.cookie)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header("hx-request", "true")
        .header("x-csrf-token", &v.csrf)
        .body(Body::from(enc.finish()))
        .expect("request");
    let page = w.html(req).await;
    (page.status, page.body)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_draft_blocked_for_its_missing_unsubscribe_link_is_fixed_approved_sent_and_shows_results()
{
    for t in pitcrew_testkit::each_engine().await {
        let engine = t.engine();
        let w = world(t).await;
        let sink = SmtpSink::start().await;
        let s = setup(&w, sink.port()).await;
        let (provider, list) = (s.provider.to_string(), s.list.to_string());
        let marketer = w.sign_in(Role::Marketer).await;

        // The form offers the workspace's topics, segments and providers.
        let new = w.page(&marketer, Method::GET, "/broadcasts/new", &[]).await;
        assert_eq!(new.status, StatusCode::OK, "{engine:?}: {}", new.body);
        for shown in [
            "<h1>New broadcast</h1>",
            ">Newsletter</option>",
            "Spring list",
            "Sink (127.0.0.1)",
        ] {
            assert!(
                new.body.contains(shown),
                "{engine:?}: {shown} in {}",
                new.body
            );
        }

        // Written without an unsubscribe link: saved, but blocked.
        let created = w
            .page(
                &marketer,
                Method::POST,
                "/broadcasts",
                &form(&provider, &list, NO_UNSUBSCRIBE),
            )
            .await;
        assert_eq!(
            created.status,
            StatusCode::SEE_OTHER,
            "{engine:?}: {}",
            created.body
        );
        let id = id_from(created.location());
        let path = format!("/broadcasts/{id}");
        let page = w.page(&marketer, Method::GET, &path, &[]).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(
            page.body.contains("The email has no unsubscribe link"),
            "{engine:?}: {}",
            page.body
        );
        assert!(
            send_disabled(&page.body),
            "{engine:?}: Send is disabled while an item blocks"
        );
        assert!(page.body.contains("It cannot be sent yet"), "{engine:?}");
        let refused = w
            .page(&marketer, Method::POST, &format!("{path}/start"), &[])
            .await;
        assert_eq!(
            refused.status,
            StatusCode::CONFLICT,
            "{engine:?}: {}",
            refused.body
        );
        assert!(
            refused.body.contains("the broadcast cannot start"),
            "{engine:?}: {}",
            refused.body
        );
        assert_eq!(
            status_of(&w, id).await,
            "draft",
            "{engine:?}: nothing started"
        );

        // A test send reaches the listed address, personalised.
        let test = w
            .page(
                &marketer,
                Method::POST,
                &format!("{path}/test"),
                &[("to", "qa@acme.test"), ("contact_email", "ana@example.com")],
            )
            .await;
        assert_eq!(test.status, StatusCode::OK, "{engine:?}: {}", test.body);
        assert!(
            test.body.contains("Test sent to qa@acme.test"),
            "{engine:?}"
        );
        assert!(
            sink.wait_for(1, Duration::from_secs(10)).await,
            "{engine:?}: the test arrives"
        );
        assert_eq!(sink.messages()[0].rcpt_to, ["qa@acme.test"], "{engine:?}");
        let bad_test = w
            .page(
                &marketer,
                Method::POST,
                &format!("{path}/test"),
                &[
                    ("to", "not-an-address"),
                    ("contact_email", "ana@example.com"),
                ],
            )
            .await;
        assert_eq!(
            bad_test.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{engine:?}"
        );
        assert!(
            bad_test
                .body
                .contains("id=\"t-to-error\">`not-an-address` is not an email address"),
            "{engine:?}: {}",
            bad_test.body
        );

        // Fixed in the template editor: the unsubscribe check passes.
        let edit = w
            .page(&marketer, Method::GET, &format!("{path}/edit"), &[])
            .await;
        assert_eq!(edit.status, StatusCode::OK, "{engine:?}: {}", edit.body);
        assert!(
            edit.body.contains("spring is here."),
            "{engine:?}: the editor holds the email"
        );
        assert!(edit.body.contains("value=\"news@acme.test\""), "{engine:?}");
        let saved = w
            .page(
                &marketer,
                Method::POST,
                &format!("{path}/edit"),
                &form(&provider, &list, WITH_UNSUBSCRIBE),
            )
            .await;
        assert_eq!(
            saved.status,
            StatusCode::SEE_OTHER,
            "{engine:?}: {}",
            saved.body
        );
        let page = w.page(&marketer, Method::GET, &path, &[]).await;
        assert!(
            page.body.contains("The email has an unsubscribe link"),
            "{engine:?}: {}",
            page.body
        );
        // What remains is the first send's approval, which a marketer cannot give.
        assert!(
            page.body.contains("Needs an admin&#x27;s approval")
                || page.body.contains("Needs an admin's approval"),
            "{engine:?}: {}",
            page.body
        );
        assert!(
            !page.body.contains("Approve this broadcast"),
            "{engine:?}: no Approve button for a marketer"
        );
        let not_theirs = w
            .page(&marketer, Method::POST, &format!("{path}/approve"), &[])
            .await;
        assert_eq!(not_theirs.status, StatusCode::FORBIDDEN, "{engine:?}");

        let admin = w.sign_in(Role::Admin).await;
        let page = w.page(&admin, Method::GET, &path, &[]).await;
        assert!(
            page.body.contains("Approve this broadcast"),
            "{engine:?}: {}",
            page.body
        );
        let approved = w
            .page(&admin, Method::POST, &format!("{path}/approve"), &[])
            .await;
        assert_eq!(
            approved.status,
            StatusCode::SEE_OTHER,
            "{engine:?}: {}",
            approved.body
        );
        let page = w.page(&marketer, Method::GET, &path, &[]).await;
        assert!(
            page.body
                .contains("Approved by <strong>admin@acme.test</strong>"),
            "{engine:?}: {}",
            page.body
        );
        assert!(
            !send_disabled(&page.body),
            "{engine:?}: nothing blocks now: {}",
            page.body
        );

        // Sent: the page polls for progress until the sender is done.
        let started = w
            .page(&marketer, Method::POST, &format!("{path}/start"), &[])
            .await;
        assert_eq!(
            started.status,
            StatusCode::SEE_OTHER,
            "{engine:?}: {}",
            started.body
        );
        assert_eq!(status_of(&w, id).await, "sending", "{engine:?}");
        let page = w.page(&marketer, Method::GET, &path, &[]).await;
        assert!(
            page.body.contains("hx-trigger=\"every 2s\""),
            "{engine:?}: {}",
            page.body
        );
        assert!(page.body.contains(">Pause</button>"), "{engine:?}");
        let sender = Sender::new(w.t.db.clone(), Arc::new(now_ms));
        let progress = sender.work(w.ws.id, id).await.expect("send");
        assert_eq!((progress.sent, progress.finished), (1, true), "{engine:?}");
        assert!(
            sink.wait_for(2, Duration::from_secs(10)).await,
            "{engine:?}: the email arrives"
        );
        let email = sink
            .messages()
            .into_iter()
            .find(|m| m.rcpt_to == ["ana@example.com"])
            .expect("Ana's email");
        let parsed = MessageParser::default()
            .parse(&email.data)
            .expect("an email");
        assert_eq!(parsed.subject(), Some("Spring is here, Ana"), "{engine:?}");
        let (status, fragment) = htmx_get(&w, &marketer, &format!("{path}/progress")).await;
        assert_eq!(status, StatusCode::OK, "{engine:?}");
        assert!(
            fragment.contains("Finished: all 1 people handled"),
            "{engine:?}: {fragment}"
        );
        assert!(
            !fragment.contains("hx-trigger"),
            "{engine:?}: polling stops when done"
        );
        assert!(
            !fragment.contains("<html"),
            "{engine:?}: a fragment, not a page"
        );

        // The results show the send and chart it.
        let results = w
            .page(&marketer, Method::GET, &format!("{path}/results"), &[])
            .await;
        assert_eq!(
            results.status,
            StatusCode::OK,
            "{engine:?}: {}",
            results.body
        );
        assert!(
            results.body.contains("<span class=\"big\">1</span> sent"),
            "{engine:?}: {}",
            results.body
        );
        let marker = "<script type=\"application/json\" id=\"broadcast-chart-data\">";
        let at = results.body.find(marker).expect("chart data") + marker.len();
        let end = at
            + results.body[at..]
                .find("</script>")
                .expect("end of chart data");
        let chart: Value = serde_json::from_str(&results.body[at..end]).expect("chart JSON");
        assert_eq!(chart["sent"], json!([1]), "{engine:?}: {chart}");
        assert_eq!(
            chart["labels"].as_array().map(Vec::len),
            Some(1),
            "{engine:?}"
        );
        assert!(results.body.contains("/assets/broadcasts.js"), "{engine:?}");

        let list = w.page(&marketer, Method::GET, "/broadcasts", &[]).await;
        assert!(
            list.body
                .contains(&format!("href=\"&#x2f;broadcasts&#x2f;{id}&#x2f;results\""))
                || list
                    .body
                    .contains(&format!("href=\"/broadcasts/{id}/results\"")),
            "{engine:?}: the list links to the results: {}",
            list.body
        );

        // Sent is sent: the draft form is closed.
        let closed = w
            .page(&marketer, Method::GET, &format!("{path}/edit"), &[])
            .await;
        assert_eq!(closed.status, StatusCode::CONFLICT, "{engine:?}");
        assert!(
            closed.body.contains("only a draft can be changed"),
            "{engine:?}"
        );
    }
}

#[tokio::test]
async fn a_viewer_reads_every_broadcast_page_but_gets_no_buttons_and_no_changes() {
    on_each_engine!(|w| {
        let s = setup(&w, 2525).await;
        let created = api(
            &w,
            Method::POST,
            "/api/v1/broadcasts",
            Role::Marketer,
            Some(json!({"name": "Autumn sale", "subject": "Autumn", "segments": [s.list]})),
        )
        .await;
        let id = created["id"].as_i64().expect("id");
        let path = format!("/broadcasts/{id}");
        let viewer = w.sign_in(Role::Viewer).await;

        let list = w.page(&viewer, Method::GET, "/broadcasts", &[]).await;
        assert_eq!(list.status, StatusCode::OK);
        assert!(list.body.contains(">Autumn sale</a>"), "{}", list.body);
        assert!(list.body.contains("Spring list"), "the audience is named");
        assert!(
            !list.body.contains("New broadcast"),
            "no New button for a viewer"
        );

        let page = w.page(&viewer, Method::GET, &path, &[]).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        assert!(
            page.body.contains("Pre-launch checks"),
            "a viewer sees the checks"
        );
        assert!(
            page.body.contains("No template: choose the email"),
            "{}",
            page.body
        );
        for hidden in [
            "start-button",
            "Edit the draft",
            "Approve this broadcast",
            "Send the test",
        ] {
            assert!(!page.body.contains(hidden), "{hidden} hidden from a viewer");
        }
        let results = w
            .page(&viewer, Method::GET, &format!("{path}/results"), &[])
            .await;
        assert_eq!(results.status, StatusCode::OK);
        assert!(
            results.body.contains("has not been sent yet"),
            "{}",
            results.body
        );

        for (method, to) in [
            (Method::GET, "/broadcasts/new".to_string()),
            (Method::GET, format!("{path}/edit")),
            (Method::POST, "/broadcasts".to_string()),
            (Method::POST, format!("{path}/edit")),
            (Method::POST, format!("{path}/start")),
            (Method::POST, format!("{path}/approve")),
            (Method::POST, format!("{path}/cancel")),
            (Method::POST, format!("{path}/test")),
        ] {
            let out = w
                .page(&viewer, method.clone(), &to, &[("name", "Taken over")])
                .await;
            assert_eq!(
                out.status,
                StatusCode::FORBIDDEN,
                "{method} {to}: {}",
                out.body
            );
        }
        assert_eq!(status_of(&w, id).await, "draft");
        let b = api(
            &w,
            Method::GET,
            &format!("/api/v1/broadcasts/{id}"),
            Role::Viewer,
            None,
        )
        .await;
        assert_eq!(b["name"], "Autumn sale", "nothing changed");

        let missing = w
            .page(&viewer, Method::GET, "/broadcasts/999999", &[])
            .await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND);
        let nonsense = w
            .page(&viewer, Method::GET, "/broadcasts/spring", &[])
            .await;
        assert_eq!(nonsense.status, StatusCode::NOT_FOUND);
    });
}

#[tokio::test]
async fn bad_input_comes_back_to_the_form_with_the_reason_beside_the_field() {
    on_each_engine!(|w| {
        let s = setup(&w, 2525).await;
        let (provider, list) = (s.provider.to_string(), s.list.to_string());
        let marketer = w.sign_in(Role::Marketer).await;
        let with = |key: &'static str, value: &'static str| {
            let mut f = form(&provider, &list, WITH_UNSUBSCRIBE);
            for pair in f.iter_mut() {
                if pair.0 == key {
                    pair.1 = value;
                }
            }
            f
        };

        let out = w
            .page(
                &marketer,
                Method::POST,
                "/broadcasts",
                &with("from_email", "news-at-acme"),
            )
            .await;
        assert_eq!(out.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", out.body);
        assert!(
            out.body
                .contains("id=\"f-from_email-error\">`news-at-acme` is not an email address"),
            "{}",
            out.body
        );
        assert!(
            out.body.contains("value=\"Spring launch\""),
            "what was typed stays"
        );

        let out = w
            .page(
                &marketer,
                Method::POST,
                "/broadcasts",
                &with("body", "<p>Hello {{ contact.first_name </p>"),
            )
            .await;
        assert_eq!(out.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", out.body);
        assert!(out.body.contains("id=\"f-body-error\">"), "{}", out.body);
        assert!(out.body.contains("fix it and save again"), "{}", out.body);

        let out = w
            .page(
                &marketer,
                Method::POST,
                "/broadcasts",
                &with("scheduled_at", "next tuesday"),
            )
            .await;
        assert_eq!(out.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            out.body.contains("id=\"f-scheduled_at-error\">"),
            "{}",
            out.body
        );

        let out = w
            .page(&marketer, Method::POST, "/broadcasts", &with("name", ""))
            .await;
        assert_eq!(out.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(out.body.contains("id=\"f-name-error\">"), "{}", out.body);

        let none = api(&w, Method::GET, "/api/v1/broadcasts", Role::Viewer, None).await;
        assert_eq!(none, json!([]), "no refused form saved anything");
        let templates = api(&w, Method::GET, "/api/v1/templates", Role::Viewer, None).await;
        assert_eq!(templates, json!([]), "nor its email");

        // A schedule in the workspace's zone is kept, in UTC.
        let out = w
            .page(
                &marketer,
                Method::POST,
                "/broadcasts",
                &with("scheduled_at", "2027-03-01T09:30"),
            )
            .await;
        assert_eq!(out.status, StatusCode::SEE_OTHER, "{}", out.body);
        let id = id_from(out.location());
        let b = api(
            &w,
            Method::GET,
            &format!("/api/v1/broadcasts/{id}"),
            Role::Viewer,
            None,
        )
        .await;
        assert_eq!(b["scheduled_at"], "2027-03-01T09:30:00.000Z", "{b}");
        assert_eq!(b["utm"]["utm_campaign"], "spring");
        assert_eq!(b["segments"], json!([s.list]));
        let edit = w
            .page(
                &marketer,
                Method::GET,
                &format!("/broadcasts/{id}/edit"),
                &[],
            )
            .await;
        assert!(
            edit.body.contains("value=\"2027-03-01T09:30\""),
            "{}",
            edit.body
        );
    });
}

#[tokio::test]
async fn the_preview_shows_the_unsaved_email_as_the_chosen_contact() {
    on_each_engine!(|w| {
        let s = setup(&w, 2525).await;
        let (provider, list) = (s.provider.to_string(), s.list.to_string());
        // Previewing changes nothing, so a viewer may look too.
        let viewer = w.sign_in(Role::Viewer).await;
        let mut f = form(&provider, &list, WITH_UNSUBSCRIBE);
        f.push(("preview_email", "ana@example.com"));
        let out = w
            .page(&viewer, Method::POST, "/broadcasts/preview", &f)
            .await;
        assert_eq!(out.status, StatusCode::OK, "{}", out.body);
        assert!(
            out.body.contains("Spring is here, Ana"),
            "the subject, filled in: {}",
            out.body
        );
        assert!(
            out.body.contains("sandbox=\"\""),
            "the email is shown in a sandboxed frame"
        );
        assert!(
            out.body.contains("Hello Ana, spring is here."),
            "{}",
            out.body
        );
        assert!(
            out.body.contains("Acme GmbH, Hauptstr. 1"),
            "the postal address"
        );
        let (status, fragment) = htmx_post(&w, &viewer, "/broadcasts/preview", &f).await;
        assert_eq!(status, StatusCode::OK, "{fragment}");
        assert!(
            !fragment.contains("<html"),
            "htmx gets the preview alone: {fragment}"
        );
        assert!(
            fragment.contains("Hello Ana, spring is here."),
            "{fragment}"
        );

        let mut f = form(&provider, &list, WITH_UNSUBSCRIBE);
        f.push(("preview_email", "nobody@example.com"));
        let out = w
            .page(&viewer, Method::POST, "/broadcasts/preview", &f)
            .await;
        assert_eq!(out.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            out.body
                .contains("no contact has the email nobody@example.com"),
            "{}",
            out.body
        );

        let mut f = form(&provider, &list, "<p>{{ contact.first_name | shout }}</p>");
        f.push(("preview_email", "ana@example.com"));
        let out = w
            .page(&viewer, Method::POST, "/broadcasts/preview", &f)
            .await;
        assert_eq!(out.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            out.body.contains("The email cannot be shown"),
            "{}",
            out.body
        );
        let none = api(&w, Method::GET, "/api/v1/templates", Role::Viewer, None).await;
        assert_eq!(none, json!([]), "a preview saves nothing");
    });
}

#[tokio::test]
async fn a_sending_broadcast_is_paused_resumed_and_cancelled_from_its_page() {
    on_each_engine!(|w| {
        let s = setup(&w, 2525).await;
        let template = api(
            &w,
            Method::POST,
            "/api/v1/templates",
            Role::Marketer,
            Some(json!({"name": "Spring", "format": "html", "body": WITH_UNSUBSCRIBE})),
        )
        .await;
        let created = api(
            &w,
            Method::POST,
            "/api/v1/broadcasts",
            Role::Marketer,
            Some(json!({
                "name": "Spring launch", "template_id": template["id"], "subject": "Spring",
                "from_name": "Acme", "from_email": "news@acme.test", "topic": "Newsletter",
                "segments": [s.list], "provider_id": s.provider,
                "utm": {"utm_source": "newsletter", "utm_medium": "email", "utm_campaign": "spring"},
            })),
        )
        .await;
        let id = created["id"].as_i64().expect("id");
        let b = |rest: &str| format!("/broadcasts/{id}{rest}");
        api(
            &w,
            Method::POST,
            &format!("/api/v1{}", b("/approve")),
            Role::Admin,
            None,
        )
        .await;
        api(
            &w,
            Method::POST,
            &format!("/api/v1{}", b("/start")),
            Role::Marketer,
            None,
        )
        .await;

        let viewer = w.sign_in(Role::Viewer).await;
        let page = w.page(&viewer, Method::GET, &b(""), &[]).await;
        assert!(
            page.body.contains("Sending: 0 of 1 people handled"),
            "{}",
            page.body
        );
        assert!(
            !page.body.contains(">Pause</button>"),
            "no Pause for a viewer"
        );
        let out = w.page(&viewer, Method::POST, &b("/pause"), &[]).await;
        assert_eq!(out.status, StatusCode::FORBIDDEN);

        let marketer = w.sign_in(Role::Marketer).await;
        let out = w.page(&marketer, Method::POST, &b("/pause"), &[]).await;
        assert_eq!(out.status, StatusCode::SEE_OTHER, "{}", out.body);
        assert_eq!(status_of(&w, id).await, "paused");
        let page = w.page(&marketer, Method::GET, &b(""), &[]).await;
        assert!(page.body.contains(">Resume</button>"), "{}", page.body);
        assert!(
            !page.body.contains("hx-trigger"),
            "a paused broadcast is not polled"
        );
        let again = w.page(&marketer, Method::POST, &b("/pause"), &[]).await;
        assert_eq!(again.status, StatusCode::CONFLICT);
        assert!(
            again
                .body
                .contains("role=\"alert\">the broadcast is paused"),
            "{}",
            again.body
        );

        let out = w.page(&marketer, Method::POST, &b("/resume"), &[]).await;
        assert_eq!(out.status, StatusCode::SEE_OTHER, "{}", out.body);
        assert_eq!(status_of(&w, id).await, "sending");
        let out = w.page(&marketer, Method::POST, &b("/cancel"), &[]).await;
        assert_eq!(out.status, StatusCode::SEE_OTHER, "{}", out.body);
        assert_eq!(status_of(&w, id).await, "cancelled");
        let results = w.page(&viewer, Method::GET, &b("/results"), &[]).await;
        assert!(
            results.body.contains("<code>cancelled</code>"),
            "{}",
            results.body
        );
        assert!(
            results
                .body
                .contains("the broadcast was cancelled before this contact"),
            "the skipped-by-reason table explains: {}",
            results.body
        );
    });
}
