//! The people and account pages as marketers and viewers use them: the
//! list (search, sort, columns, pages), a contact's page (fields, account,
//! consent, segments and why, timeline), adding and editing a person with
//! the server's messages beside the fields, and the accounts.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use base64::Engine as _;
use pitcrew_app::audience::{self, Definition, NewSegment, SegmentKind};
use pitcrew_app::campaign::consent::{self, ConsentInput};
use pitcrew_app::record::{self, NewField, RecordInput};
use pitcrew_app::{Actor, ingest};
use pitcrew_core::admin::Role;
use pitcrew_core::campaign::consent::{ConsentSource, LegalBasis};
use pitcrew_core::record::{FieldType, ObjectKind};
use pitcrew_store::record::Lookup;
use serde_json::{Map, Value, json};

use crate::on_each_engine;
use crate::support::{Html, NOW, Visitor, World};

fn actor(w: &World, role: Role) -> &Actor {
    &w.actors[&role]
}

fn fields(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

/// A contact added through the app as a marketer; its id.
async fn person(w: &World, values: Value, account: Option<i64>) -> i64 {
    let input = RecordInput {
        external_id: None,
        account_id: account,
        fields: fields(values),
    };
    record::create_record(
        &w.t.db,
        actor(w, Role::Marketer),
        ObjectKind::Contact,
        input,
        NOW,
    )
    .await
    .expect("contact")
    .id
}

async fn account(w: &World, name: &str, domain: &str) -> i64 {
    let input = RecordInput {
        external_id: None,
        account_id: None,
        fields: fields(json!({"name": name, "domain": domain, "industry": "software"})),
    };
    record::create_record(
        &w.t.db,
        actor(w, Role::Marketer),
        ObjectKind::Account,
        input,
        NOW,
    )
    .await
    .expect("account")
    .id
}

/// A stored contact's fields, read back through the app.
async fn stored(w: &World, id: i64) -> pitcrew_store::record::StoredRecord {
    record::get_record(&w.t.db, actor(w, Role::Viewer), ObjectKind::Contact, id)
        .await
        .expect("stored contact")
}

/// A GET as htmx sends it (it wants the fragment).
async fn htmx(w: &World, v: &Visitor, path: &str) -> Html {
    let req = Request::builder()
        .uri(path)
        .header(header::COOKIE, &v.cookie)
        .header("hx-request", "true")
        .body(Body::empty())
        .expect("request");
    w.html(req).await
}

async fn get(w: &World, v: &Visitor, path: &str) -> Html {
    let page = w.page(v, Method::GET, path, &[]).await;
    assert_eq!(page.status, StatusCode::OK, "{path}: {}", page.body);
    page
}

/// Where `needle` is in `hay`, for order checks.
fn at(hay: &str, needle: &str) -> usize {
    hay.find(needle)
        .unwrap_or_else(|| panic!("`{needle}` not found in:\n{hay}"))
}

#[tokio::test]
async fn the_people_list_searches_sorts_pages_and_shows_the_chosen_columns() {
    on_each_engine!(|w| {
        person(
            &w,
            json!({"email": "ada@example.com", "first_name": "Ada", "job_title": "CTO"}),
            None,
        )
        .await;
        person(
            &w,
            json!({"email": "bob@example.com", "first_name": "Bob", "lifecycle_stage": "mql"}),
            None,
        )
        .await;
        for i in 0..25 {
            person(&w, json!({"email": format!("p{i:02}@example.org")}), None).await;
        }
        let v = w.sign_in(Role::Viewer).await;

        let all = get(&w, &v, "/people").await;
        assert!(all.body.contains("<h1>People</h1>"), "{}", all.body);
        assert!(all.body.contains("27 people"), "{}", all.body);
        assert!(all.body.contains("showing 1–25"), "{}", all.body);
        assert!(
            all.body.contains("href=\"&#x2f;people?offset=25\""),
            "{}",
            all.body
        );
        // The default columns, labelled from the data model.
        assert!(all.body.contains(">Lifecycle stage<"), "{}", all.body);
        assert!(!all.body.contains(">Job title<"), "{}", all.body);

        let second = get(&w, &v, "/people?offset=25").await;
        assert!(second.body.contains("showing 26–27"), "{}", second.body);
        assert!(second.body.contains("rel=\"prev\""), "{}", second.body);
        assert!(
            second.body.contains("Marketing qualified lead"),
            "{}",
            second.body
        );
        assert!(!second.body.contains("rel=\"next\""), "{}", second.body);

        let found = get(&w, &v, "/people?q=ada").await;
        assert!(found.body.contains("1 person match"), "{}", found.body);
        assert!(found.body.contains(">Ada</a>"), "{}", found.body);
        assert!(!found.body.contains(">Bob</a>"), "{}", found.body);
        assert!(
            found.body.contains("value=\"ada\""),
            "the box keeps the search"
        );

        let none = get(&w, &v, "/people?q=zebra").await;
        assert!(none.body.contains("Nobody matches"), "{}", none.body);

        // As the search box types: the results alone, without the layout.
        let typed = htmx(&w, &v, "/people?q=bob").await;
        assert_eq!(typed.status, StatusCode::OK);
        assert!(typed.body.contains(">Bob</a>"), "{}", typed.body);
        assert!(!typed.body.contains("<html"), "{}", typed.body);

        let up = get(&w, &v, "/people?q=example.com&sort=email").await;
        assert!(at(&up.body, ">Ada</a>") < at(&up.body, ">Bob</a>"));
        assert!(up.body.contains("aria-sort=\"ascending\""), "{}", up.body);
        assert!(
            up.body.contains("sort=-email"),
            "the heading turns the order around"
        );
        let down = get(&w, &v, "/people?q=example.com&sort=-email").await;
        assert!(at(&down.body, ">Bob</a>") < at(&down.body, ">Ada</a>"));
        assert!(down.body.contains("aria-sort=\"descending\""));

        // Columns picked by the marketer, kept in the links.
        let cols = get(&w, &v, "/people?q=ada&col=job_title&col=shoe_size").await;
        assert!(cols.body.contains(">Job title<"), "{}", cols.body);
        assert!(cols.body.contains("<td>CTO</td>"), "{}", cols.body);
        assert!(!cols.body.contains(">Lifecycle stage<"), "{}", cols.body);
        assert!(
            cols.body.contains("sort=job_title&amp;col=job_title"),
            "{}",
            cols.body
        );
        // A stale sort falls back to newest first instead of failing.
        let stale = w.page(&v, Method::GET, "/people?sort=shoe_size", &[]).await;
        assert_eq!(stale.status, StatusCode::OK);
    });
}

/// Sends the person's events as their site would; returns their id.
async fn site_visitor(w: &World) -> i64 {
    let key = ingest::create_source(&w.t.db, &Actor::system(w.ws.id), "Website", NOW)
        .await
        .expect("source")
        .write_key;
    let mut batch = vec![json!({
        "type": "identify", "userId": "u-ada", "messageId": "id-0",
        "traits": {"email": "ada@example.com", "first_name": "Ada", "last_name": "Lovelace"},
        "timestamp": "2026-01-01T09:00:00Z",
    })];
    for i in 1..=22 {
        batch.push(json!({
            "type": "track", "userId": "u-ada", "messageId": format!("t-{i}"),
            "event": format!("Read chapter {i}"), "properties": {"chapter": i},
            "timestamp": format!("2026-01-01T10:{i:02}:00Z"),
        }));
    }
    let req = Request::builder()
        .method(Method::POST)
        .uri("/v1/batch")
        .header(header::CONTENT_TYPE, "application/json")
        .header(
            header::AUTHORIZATION,
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{key}:"))
            ),
        )
        .body(Body::from(json!({"batch": batch}).to_string()))
        .expect("request");
    let reply = w.send(req).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.json);
    record::find_record(
        &w.t.db,
        actor(w, Role::Viewer),
        ObjectKind::Contact,
        Lookup::Email("ada@example.com".into()),
    )
    .await
    .expect("Ada arrived")
    .id
}

#[tokio::test]
async fn a_contact_page_shows_fields_account_consent_segments_and_timeline() {
    on_each_engine!(|w| {
        let admin = actor(&w, Role::Admin);
        record::create_field(
            &w.t.db,
            admin,
            NewField {
                object: ObjectKind::Contact,
                key: "shoe_size".into(),
                label: "Shoe size".into(),
                field_type: FieldType::Number,
                required: false,
                default: None,
                options: Vec::new(),
            },
            NOW,
        )
        .await
        .expect("custom field");
        let ada = site_visitor(&w).await;
        let acme = account(&w, "Acme Analytical Engines", "acme.test").await;
        let marketer = actor(&w, Role::Marketer);
        record::update_record(
            &w.t.db,
            marketer,
            ObjectKind::Contact,
            ada,
            record::RecordPatch {
                account_id: Some(Some(acme)),
                fields: fields(
                    json!({"shoe_size": "38", "lifecycle_stage": "sql", "country": "GB"}),
                ),
                ..Default::default()
            },
            NOW,
        )
        .await
        .expect("update");
        for t in ["Newsletter", "Product updates"] {
            consent::create_topic(&w.t.db, marketer, t, "", NOW)
                .await
                .expect("topic");
        }
        consent::record_consent(
            &w.t.db,
            marketer,
            ada,
            ConsentInput::opt_in(
                "Newsletter",
                LegalBasis::Consent,
                ConsentSource::Form,
                "Send me the newsletter",
            ),
            NOW,
        )
        .await
        .expect("consent");
        let builder = actor(&w, Role::Builder);
        let segment = |name: &str, text: &str| NewSegment {
            name: name.into(),
            description: String::new(),
            kind: SegmentKind::Dynamic,
            subject: None,
            definition: Some(Definition::Text(text.into())),
        };
        let british = audience::create_segment(
            &w.t.db,
            builder,
            segment("British", r#"people where country is "GB""#),
            NOW,
        )
        .await
        .expect("segment");
        let french = audience::create_segment(
            &w.t.db,
            builder,
            segment("French", r#"people where country is "FR""#),
            NOW,
        )
        .await
        .expect("segment");

        let v = w.sign_in(Role::Viewer).await;
        let page = get(&w, &v, &format!("/people/{ada}")).await;
        let body = &page.body;
        assert!(body.contains("<h1>Ada Lovelace</h1>"), "{body}");
        // Fields with the data model's labels, custom ones too.
        assert!(body.contains("<dt>Email</dt>"), "{body}");
        assert!(body.contains("<dd>ada@example.com</dd>"), "{body}");
        assert!(body.contains("Shoe size"), "{body}");
        assert!(body.contains("<dd>38</dd>"), "{body}");
        assert!(body.contains("<dd>Sales qualified lead</dd>"), "{body}");
        assert!(body.contains("<dd>United Kingdom</dd>"), "{body}");
        // The account, linked.
        assert!(
            body.contains(&format!(
                "href=\"/accounts/{acme}\">Acme Analytical Engines</a>"
            )),
            "{body}"
        );
        // Consent per topic, including a topic never chosen.
        assert!(body.contains("Subscribed</span>"), "{body}");
        assert!(body.contains("Product updates"), "{body}");
        assert!(body.contains("No choice recorded"), "{body}");
        // Segments she is in, each with why; not the ones she is not in.
        assert!(body.contains(">British</a>"), "{body}");
        assert!(!body.contains(">French</a>"), "{body}");
        let why = format!("/people/{ada}/why/{}", british.id);
        assert!(body.contains(&format!("href=\"{why}\"")), "{body}");
        // The timeline: newest first, twenty at a time.
        assert!(at(body, "Read chapter 22") < at(body, "Read chapter 21"));
        assert!(!body.contains("Read chapter 2<"), "{body}");
        assert!(body.contains("Show older events"), "{body}");
        // Only edit buttons a viewer may use: none.
        assert!(!body.contains(&format!("/people/{ada}/edit")), "{body}");

        // Older events, in place with htmx, as a page without it.
        let start = at(body, "before=") + "before=".len();
        let before: String = body[start..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        let more = htmx(&w, &v, &format!("/people/{ada}/timeline?before={before}")).await;
        assert_eq!(more.status, StatusCode::OK);
        assert!(more.body.contains("Read chapter 2<"), "{}", more.body);
        assert!(more.body.contains("Read chapter 1<"), "{}", more.body);
        assert!(!more.body.contains("Read chapter 22"), "{}", more.body);
        assert!(!more.body.contains("<html"), "{}", more.body);
        let older = get(&w, &v, &format!("/people/{ada}?before={before}")).await;
        assert!(older.body.contains("Read chapter 1<"), "{}", older.body);
        assert!(
            older.body.contains("Back to the newest events"),
            "{}",
            older.body
        );

        // Why she is in the segment: in place with htmx, a page without it.
        let inline = htmx(&w, &v, &why).await;
        assert_eq!(inline.status, StatusCode::OK);
        assert!(
            inline.body.contains("is in <strong>British</strong>"),
            "{}",
            inline.body
        );
        assert!(inline.body.contains("country is"), "{}", inline.body);
        assert!(!inline.body.contains("<html"), "{}", inline.body);
        let page = get(&w, &v, &why).await;
        assert!(
            page.body
                .contains("<h1>Why Ada Lovelace is in British</h1>"),
            "{}",
            page.body
        );
        assert!(page.body.contains("Holds"), "{}", page.body);
        let not_in = get(&w, &v, &format!("/people/{ada}/why/{}", french.id)).await;
        assert!(
            not_in
                .body
                .contains("<h1>Why Ada Lovelace is not in French</h1>"),
            "{}",
            not_in.body
        );
        assert!(not_in.body.contains("Does not hold"), "{}", not_in.body);

        let missing = w.page(&v, Method::GET, "/people/999999", &[]).await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND);
        let garbled = w.page(&v, Method::GET, "/people/abc", &[]).await;
        assert_eq!(garbled.status, StatusCode::NOT_FOUND);
    });
}

#[tokio::test]
async fn a_marketer_adds_a_person_and_lands_on_their_page() {
    on_each_engine!(|w| {
        let acme = account(&w, "Acme", "acme.test").await;
        let v = w.sign_in(Role::Marketer).await;
        let list = get(&w, &v, "/people").await;
        assert!(list.body.contains("Add a person"), "{}", list.body);
        let form = get(&w, &v, &format!("/people/new?account={acme}")).await;
        assert!(
            form.body
                .contains("<label for=\"field-email\">Email</label>"),
            "{}",
            form.body
        );
        assert!(
            form.body
                .contains(&format!("<option value=\"{acme}\" selected>Acme</option>")),
            "{}",
            form.body
        );

        let out = w
            .page(
                &v,
                Method::POST,
                "/people/new",
                &[
                    ("external_id", ""),
                    ("account_id", &acme.to_string()),
                    ("f.email", " Grace@Example.COM "),
                    ("f.first_name", "Grace"),
                    ("f.lifecycle_stage", "lead"),
                    ("f.phone", ""),
                ],
            )
            .await;
        assert_eq!(out.status, StatusCode::SEE_OTHER, "{}", out.body);
        let id: i64 = out
            .location()
            .strip_prefix("/people/")
            .and_then(|s| s.parse().ok())
            .expect("the new person's page");
        let saved = stored(&w, id).await;
        assert_eq!(saved.fields["email"], "grace@example.com");
        assert_eq!(saved.fields["lifecycle_stage"], "lead");
        assert_eq!(saved.account_id, Some(acme));
        assert!(!saved.fields.contains_key("phone"));
        let page = get(&w, &v, out.location()).await;
        assert!(page.body.contains("<h1>Grace</h1>"), "{}", page.body);
        assert!(
            page.body
                .contains(&format!("href=\"/people/{id}/edit\">Edit</a>")),
            "the Edit button"
        );
    });
}

#[tokio::test]
async fn a_marketer_edits_a_person_and_clears_a_value() {
    on_each_engine!(|w| {
        let id = person(
            &w,
            json!({"email": "ada@example.com", "first_name": "Ada", "job_title": "CTO"}),
            None,
        )
        .await;
        let v = w.sign_in(Role::Marketer).await;
        let form = get(&w, &v, &format!("/people/{id}/edit")).await;
        assert!(
            form.body.contains("value=\"ada@example.com\""),
            "{}",
            form.body
        );
        assert!(form.body.contains("value=\"CTO\""), "{}", form.body);
        let out = w
            .page(
                &v,
                Method::POST,
                &format!("/people/{id}/edit"),
                &[
                    ("f.email", "ada@example.com"),
                    ("f.first_name", "Augusta Ada"),
                    ("f.job_title", ""),
                    ("f.country", "Germany"),
                ],
            )
            .await;
        assert_eq!(out.status, StatusCode::SEE_OTHER, "{}", out.body);
        assert_eq!(out.location(), format!("/people/{id}"));
        let saved = stored(&w, id).await;
        assert_eq!(saved.fields["first_name"], "Augusta Ada");
        assert_eq!(saved.fields["country"], "DE");
        assert!(
            !saved.fields.contains_key("job_title"),
            "{:?}",
            saved.fields
        );
    });
}

#[tokio::test]
async fn bad_input_comes_back_with_the_message_beside_the_field() {
    on_each_engine!(|w| {
        let id = person(
            &w,
            json!({"email": "ada@example.com", "first_name": "Ada"}),
            None,
        )
        .await;
        person(&w, json!({"email": "bob@example.com"}), None).await;
        let v = w.sign_in(Role::Marketer).await;

        let out = w
            .page(
                &v,
                Method::POST,
                "/people/new",
                &[("f.email", "not-an-email"), ("f.first_name", "Nell")],
            )
            .await;
        assert_eq!(out.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", out.body);
        let field = at(&out.body, "id=\"field-email\"");
        let message = at(&out.body, "id=\"email-error\"");
        assert!(field < message, "the message follows its field");
        assert!(out.body[field..].contains("aria-invalid=\"true\""));
        assert!(out.body.contains("value=\"Nell\""), "what was typed stays");
        assert!(
            out.body.contains("The person was not added"),
            "{}",
            out.body
        );
        let people = get(&w, &v, "/people?q=Nell").await;
        assert!(people.body.contains("Nobody matches"), "nothing was added");

        let wrong = w
            .page(
                &v,
                Method::POST,
                &format!("/people/{id}/edit"),
                &[
                    ("f.first_name", "Ada"),
                    ("f.lifecycle_stage", "wizard"),
                    ("f.email", "bob@example.com"),
                ],
            )
            .await;
        assert_eq!(
            wrong.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            wrong.body
        );
        let message = at(&wrong.body, "id=\"lifecycle_stage-error\"");
        assert!(wrong.body[message..].contains("wizard"), "{}", wrong.body);
        assert_eq!(stored(&w, id).await.fields["email"], "ada@example.com");

        let taken = w
            .page(
                &v,
                Method::POST,
                &format!("/people/{id}/edit"),
                &[("f.email", "bob@example.com")],
            )
            .await;
        assert_eq!(taken.status, StatusCode::CONFLICT, "{}", taken.body);
        let message = at(&taken.body, "id=\"email-error\"");
        assert!(
            taken.body[message..].contains("already has the email"),
            "{}",
            taken.body
        );

        let account = w
            .page(
                &v,
                Method::POST,
                "/people/new",
                &[("f.email", "cy@example.com"), ("account_id", "acme")],
            )
            .await;
        assert_eq!(
            account.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            account.body
        );
        assert!(
            account.body.contains("id=\"account_id-error\""),
            "{}",
            account.body
        );
    });
}

#[tokio::test]
async fn a_viewer_gets_no_edit_buttons_and_changes_are_refused() {
    on_each_engine!(|w| {
        let id = person(
            &w,
            json!({"email": "ada@example.com", "first_name": "Ada"}),
            None,
        )
        .await;
        let v = w.sign_in(Role::Viewer).await;
        let list = get(&w, &v, "/people").await;
        assert!(!list.body.contains("/people/new"), "{}", list.body);
        let page = get(&w, &v, &format!("/people/{id}")).await;
        assert!(!page.body.contains(">Edit</a>"), "{}", page.body);

        for path in ["/people/new".to_string(), format!("/people/{id}/edit")] {
            let form = w.page(&v, Method::GET, &path, &[]).await;
            assert_eq!(form.status, StatusCode::FORBIDDEN, "{path}");
        }
        let add = w
            .page(
                &v,
                Method::POST,
                "/people/new",
                &[("f.email", "eve@example.com")],
            )
            .await;
        assert_eq!(add.status, StatusCode::FORBIDDEN, "{}", add.body);
        let edit = w
            .page(
                &v,
                Method::POST,
                &format!("/people/{id}/edit"),
                &[("f.first_name", "Eve")],
            )
            .await;
        assert_eq!(edit.status, StatusCode::FORBIDDEN, "{}", edit.body);
        assert_eq!(stored(&w, id).await.fields["first_name"], "Ada");
        let eve = record::find_record(
            &w.t.db,
            actor(&w, Role::Viewer),
            ObjectKind::Contact,
            Lookup::Email("eve@example.com".into()),
        )
        .await;
        assert!(eve.is_err(), "nobody was added");
    });
}

#[tokio::test]
async fn accounts_list_with_people_counts_and_an_account_lists_its_people() {
    on_each_engine!(|w| {
        let acme = account(&w, "Acme", "acme.test").await;
        let globex = account(&w, "Globex", "globex.test").await;
        person(
            &w,
            json!({"email": "ada@acme.test", "first_name": "Ada", "job_title": "CTO"}),
            Some(acme),
        )
        .await;
        person(
            &w,
            json!({"email": "bob@acme.test", "first_name": "Bob"}),
            Some(acme),
        )
        .await;
        person(
            &w,
            json!({"email": "cy@example.com", "first_name": "Cy"}),
            None,
        )
        .await;
        let v = w.sign_in(Role::Viewer).await;

        let list = get(&w, &v, "/accounts").await;
        assert!(list.body.contains("<h1>Accounts</h1>"), "{}", list.body);
        assert!(list.body.contains("2 accounts"), "{}", list.body);
        let row = &list.body[at(&list.body, ">Acme</a>")..];
        let row = &row[..at(row, "</tr>")];
        assert!(row.contains("<td class=\"num\">2</td>"), "{row}");
        assert!(row.contains("Software"), "{row}");
        let row = &list.body[at(&list.body, ">Globex</a>")..];
        assert!(row[..at(row, "</tr>")].contains("<td class=\"num\">0</td>"));

        let found = get(&w, &v, "/accounts?q=glob").await;
        assert!(found.body.contains("1 account match"), "{}", found.body);
        assert!(!found.body.contains(">Acme</a>"), "{}", found.body);
        let typed = htmx(&w, &v, "/accounts?q=acme").await;
        assert!(
            typed.body.contains(">Acme</a>") && !typed.body.contains("<html"),
            "{}",
            typed.body
        );
        let sorted = get(&w, &v, "/accounts?sort=-name").await;
        assert!(at(&sorted.body, ">Globex</a>") < at(&sorted.body, ">Acme</a>"));

        let page = get(&w, &v, &format!("/accounts/{acme}")).await;
        assert!(page.body.contains("<h1>Acme</h1>"), "{}", page.body);
        assert!(page.body.contains("<dd>acme.test</dd>"), "{}", page.body);
        assert!(page.body.contains("2 people"), "{}", page.body);
        assert!(
            page.body.contains(">Ada</a>") && page.body.contains(">Bob</a>"),
            "{}",
            page.body
        );
        assert!(!page.body.contains(">Cy</a>"), "{}", page.body);
        assert!(page.body.contains("<td>CTO</td>"), "{}", page.body);
        assert!(
            !page.body.contains("Add a person here"),
            "a viewer adds nobody"
        );

        let empty = get(&w, &v, &format!("/accounts/{globex}")).await;
        assert!(
            empty.body.contains("Nobody is linked to this account yet"),
            "{}",
            empty.body
        );
        let missing = w.page(&v, Method::GET, "/accounts/424242", &[]).await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND);

        let m = w.sign_in(Role::Marketer).await;
        let page = get(&w, &m, &format!("/accounts/{acme}")).await;
        assert!(page.body.contains("Add a person here"), "{}", page.body);
    });
}
