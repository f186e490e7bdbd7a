//! The data model, data health and audit log pages as each role sees them:
//! what they show, who may change what, inline errors, and that changes
//! really land (read back through the API).

use axum::http::{Method, StatusCode};
use pitcrew_core::admin::Role;
use serde_json::{Value, json};

use crate::on_each_engine;
use crate::support::{Html, Visitor, World};

async fn api(w: &World, role: Role, method: Method, path: &str, body: Option<Value>) -> Value {
    let reply = w.call(method, path, Some(w.token(role)), body).await;
    assert!(reply.status.is_success(), "{path}: {}", reply.json);
    reply.json
}

async fn contact(w: &World, fields: Value) -> i64 {
    let c = api(
        w,
        Role::Marketer,
        Method::POST,
        "/api/v1/contacts",
        Some(json!({ "fields": fields })),
    )
    .await;
    c["id"].as_i64().expect("contact id")
}

async fn custom_field(w: &World, key: &str, body: Value) {
    let mut body = body;
    body["object"] = json!("contact");
    body["key"] = json!(key);
    api(w, Role::Admin, Method::POST, "/api/v1/fields", Some(body)).await;
}

/// The inline error shown for a form field.
fn error_of<'a>(html: &'a Html, field: &str) -> &'a str {
    let marker = format!("id=\"{field}-error\">");
    let Some(at) = html.body.find(&marker) else {
        panic!("no error by `{field}`: {}", html.body);
    };
    let rest = &html.body[at + marker.len()..];
    &rest[..rest.find("</p>").expect("end of error")]
}

async fn get(w: &World, v: &Visitor, path: &str) -> Html {
    w.page(v, Method::GET, path, &[]).await
}

#[tokio::test]
async fn the_data_model_lists_built_in_and_custom_fields_and_only_admins_may_add() {
    on_each_engine!(|w| {
        custom_field(
            &w,
            "plan",
            json!({"label": "Plan", "type": "picklist", "options": [{"value": "gold", "label": "Gold"}, {"value": "silver", "label": "Silver"}]}),
        )
        .await;
        for role in Role::ALL {
            let v = w.sign_in(role).await;
            let page = get(&w, &v, "/fields").await;
            assert_eq!(page.status, StatusCode::OK, "{role}");
            let b = &page.body;
            assert_eq!(b.matches("<h1>").count(), 1);
            assert!(b.contains("<th scope=\"row\">Email</th>"), "{b}");
            assert!(b.contains("<code>lifecycle_stage</code>"), "{b}");
            assert!(b.contains("<th scope=\"row\">Plan</th>"), "{b}");
            assert!(b.contains("Gold <code>gold</code>"), "{b}");
            assert!(b.contains("Domain"), "account fields too: {b}");
            let admin = role.can(pitcrew_core::admin::Action::ManageFields);
            assert_eq!(b.contains("Add a field"), admin, "{role}");
            assert_eq!(b.contains("/fields/contact/plan/delete"), admin, "{role}");
        }
    });
}

#[tokio::test]
async fn an_admin_adds_a_picklist_field_and_it_is_in_the_data_model() {
    on_each_engine!(|w| {
        let v = w.sign_in(Role::Admin).await;
        let form = get(&w, &v, "/fields/new").await;
        assert_eq!(form.status, StatusCode::OK);
        assert!(form.body.contains("<label for=\"key\">Key</label>"));
        let out = w
            .page(
                &v,
                Method::POST,
                "/fields",
                &[
                    ("object", "contact"),
                    ("label", "Preferred language"),
                    ("key", "language"),
                    ("type", "picklist"),
                    ("options", "de | German\nen | English\n"),
                ],
            )
            .await;
        assert_eq!(out.status, StatusCode::SEE_OTHER, "{}", out.body);
        assert_eq!(out.location(), "/fields#contact-language");
        let field = api(
            &w,
            Role::Viewer,
            Method::GET,
            "/api/v1/fields/contact/language",
            None,
        )
        .await;
        assert_eq!(field["label"], "Preferred language");
        assert_eq!(field["type"], "picklist");
        assert_eq!(
            field["options"],
            json!([{"value": "de", "label": "German"}, {"value": "en", "label": "English"}])
        );
        let list = get(&w, &v, "/fields").await;
        assert!(
            list.body.contains("German <code>de</code>"),
            "{}",
            list.body
        );
    });
}

#[tokio::test]
async fn a_taken_or_malformed_key_comes_back_with_the_reason_by_the_key() {
    on_each_engine!(|w| {
        let v = w.sign_in(Role::Admin).await;
        let taken = w
            .page(
                &v,
                Method::POST,
                "/fields",
                &[
                    ("object", "contact"),
                    ("label", "Work email"),
                    ("key", "email"),
                    ("type", "email"),
                ],
            )
            .await;
        assert_eq!(taken.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(error_of(&taken, "key").contains("already exists"));
        // The form keeps what was typed.
        assert!(
            taken.body.contains("value=\"Work email\""),
            "{}",
            taken.body
        );

        let malformed = w
            .page(
                &v,
                Method::POST,
                "/fields",
                &[
                    ("object", "contact"),
                    ("label", "Plan"),
                    ("key", "Plan Tier"),
                    ("type", "text"),
                ],
            )
            .await;
        assert_eq!(malformed.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(!error_of(&malformed, "key").is_empty());

        let no_options = w
            .page(
                &v,
                Method::POST,
                "/fields",
                &[
                    ("object", "contact"),
                    ("label", "Tier"),
                    ("key", "tier"),
                    ("type", "picklist"),
                    ("options", ""),
                ],
            )
            .await;
        assert_eq!(no_options.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(error_of(&no_options, "options").contains("at least one option"));

        let twice = w
            .page(
                &v,
                Method::POST,
                "/fields",
                &[
                    ("object", "contact"),
                    ("label", "Tier"),
                    ("key", "tier"),
                    ("type", "picklist"),
                    ("options", "gold\nGold"),
                ],
            )
            .await;
        assert_eq!(twice.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(error_of(&twice, "options").contains("appears twice"));

        let fields = api(&w, Role::Admin, Method::GET, "/api/v1/fields", None).await;
        let keys: Vec<&str> = fields
            .as_array()
            .expect("fields")
            .iter()
            .filter_map(|f| f["key"].as_str())
            .collect();
        assert!(!keys.contains(&"tier") && !keys.contains(&"Plan Tier"));
    });
}

#[tokio::test]
async fn roles_below_admin_get_no_form_and_their_changes_are_refused() {
    on_each_engine!(|w| {
        custom_field(&w, "plan", json!({"label": "Plan", "type": "text"})).await;
        for role in [Role::Viewer, Role::Marketer, Role::Builder] {
            if role.can(pitcrew_core::admin::Action::ManageFields) {
                continue;
            }
            let v = w.sign_in(role).await;
            for path in [
                "/fields/new",
                "/fields/contact/plan/edit",
                "/fields/contact/plan/delete",
            ] {
                assert_eq!(
                    get(&w, &v, path).await.status,
                    StatusCode::FORBIDDEN,
                    "{role} {path}"
                );
            }
            let add = w
                .page(
                    &v,
                    Method::POST,
                    "/fields",
                    &[
                        ("object", "contact"),
                        ("label", "X"),
                        ("key", "x"),
                        ("type", "text"),
                    ],
                )
                .await;
            assert_eq!(add.status, StatusCode::FORBIDDEN, "{role}");
            let rename = w
                .page(
                    &v,
                    Method::POST,
                    "/fields/contact/plan/edit",
                    &[("label", "Hacked")],
                )
                .await;
            assert_eq!(rename.status, StatusCode::FORBIDDEN, "{role}");
            let delete = w
                .page(&v, Method::POST, "/fields/contact/plan/delete", &[])
                .await;
            assert_eq!(delete.status, StatusCode::FORBIDDEN, "{role}");
        }
        let plan = api(
            &w,
            Role::Viewer,
            Method::GET,
            "/api/v1/fields/contact/plan",
            None,
        )
        .await;
        assert_eq!(plan["label"], "Plan", "nothing changed");
        let x = w
            .call(
                Method::GET,
                "/api/v1/fields/contact/x",
                Some(w.token(Role::Viewer)),
                None,
            )
            .await;
        assert_eq!(x.status, StatusCode::NOT_FOUND);
    });
}

#[tokio::test]
async fn an_admin_renames_a_field_and_changes_its_options() {
    on_each_engine!(|w| {
        custom_field(
            &w,
            "tier",
            json!({"label": "Tier", "type": "picklist", "options": [{"value": "gold", "label": "gold"}]}),
        )
        .await;
        let v = w.sign_in(Role::Admin).await;
        let form = get(&w, &v, "/fields/contact/tier/edit").await;
        assert_eq!(form.status, StatusCode::OK);
        assert!(form.body.contains(">gold</textarea>"), "{}", form.body);

        let empty = w
            .page(
                &v,
                Method::POST,
                "/fields/contact/tier/edit",
                &[("label", "  "), ("options", "gold")],
            )
            .await;
        assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(error_of(&empty, "label").contains("label of 1 to 100"));

        let out = w
            .page(
                &v,
                Method::POST,
                "/fields/contact/tier/edit",
                &[
                    ("label", "Customer tier"),
                    ("options", "gold | Gold\nsilver | Silver"),
                ],
            )
            .await;
        assert_eq!(out.status, StatusCode::SEE_OTHER, "{}", out.body);
        let tier = api(
            &w,
            Role::Viewer,
            Method::GET,
            "/api/v1/fields/contact/tier",
            None,
        )
        .await;
        assert_eq!(tier["label"], "Customer tier");
        assert_eq!(
            tier["options"],
            json!([{"value": "gold", "label": "Gold"}, {"value": "silver", "label": "Silver"}])
        );

        // Removing an option a contact holds is refused, by the options box.
        contact(&w, json!({"email": "g@example.com", "tier": "silver"})).await;
        let drop = w
            .page(
                &v,
                Method::POST,
                "/fields/contact/tier/edit",
                &[("label", "Customer tier"), ("options", "gold | Gold")],
            )
            .await;
        assert_eq!(drop.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            error_of(&drop, "options").contains("would not fit"),
            "{}",
            drop.body
        );
        let tier = api(
            &w,
            Role::Viewer,
            Method::GET,
            "/api/v1/fields/contact/tier",
            None,
        )
        .await;
        assert_eq!(tier["options"].as_array().map(Vec::len), Some(2));
    });
}

#[tokio::test]
async fn a_field_in_use_shows_its_users_and_is_not_deleted() {
    on_each_engine!(|w| {
        custom_field(&w, "plan", json!({"label": "Plan", "type": "text"})).await;
        api(
            &w,
            Role::Marketer,
            Method::POST,
            "/api/v1/segments",
            Some(json!({"name": "Gold plans", "kind": "dynamic", "definition": "people where plan is \"gold\""})),
        )
        .await;
        let v = w.sign_in(Role::Admin).await;
        let confirm = get(&w, &v, "/fields/contact/plan/delete").await;
        assert_eq!(confirm.status, StatusCode::OK);
        assert!(confirm.body.contains("Gold plans"), "{}", confirm.body);
        assert!(
            confirm
                .body
                .contains("cannot be deleted while it is in use")
        );
        assert!(!confirm.body.contains("Delete the field</button>"));

        let out = w
            .page(&v, Method::POST, "/fields/contact/plan/delete", &[])
            .await;
        assert_eq!(out.status, StatusCode::CONFLICT);
        assert!(out.body.contains("role=\"alert\""), "{}", out.body);
        assert!(out.body.contains("Gold plans"));
        let plan = w
            .call(
                Method::GET,
                "/api/v1/fields/contact/plan",
                Some(w.token(Role::Viewer)),
                None,
            )
            .await;
        assert_eq!(plan.status, StatusCode::OK, "the field stays");
    });
}

#[tokio::test]
async fn an_unused_field_is_deleted_after_confirming() {
    on_each_engine!(|w| {
        custom_field(
            &w,
            "shoe_size",
            json!({"label": "Shoe size", "type": "number"}),
        )
        .await;
        contact(&w, json!({"email": "a@example.com", "shoe_size": 42})).await;
        let v = w.sign_in(Role::Admin).await;
        let confirm = get(&w, &v, "/fields/contact/shoe_size/delete").await;
        assert_eq!(confirm.status, StatusCode::OK);
        assert!(
            confirm.body.contains("Nothing uses this field"),
            "{}",
            confirm.body
        );
        assert!(
            confirm.body.contains("<strong>1</strong> contact."),
            "{}",
            confirm.body
        );
        assert!(confirm.body.contains("Delete the field</button>"));

        let out = w
            .page(&v, Method::POST, "/fields/contact/shoe_size/delete", &[])
            .await;
        assert_eq!(out.status, StatusCode::SEE_OTHER, "{}", out.body);
        assert_eq!(out.location(), "/fields");
        let gone = w
            .call(
                Method::GET,
                "/api/v1/fields/contact/shoe_size",
                Some(w.token(Role::Viewer)),
                None,
            )
            .await;
        assert_eq!(gone.status, StatusCode::NOT_FOUND);

        // Built-in fields offer no delete, and the server refuses it.
        let builtin = get(&w, &v, "/fields/contact/email/delete").await;
        assert!(
            builtin
                .body
                .contains("built-in field, so it cannot be deleted")
        );
        let refused = w
            .page(&v, Method::POST, "/fields/contact/email/delete", &[])
            .await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            get(&w, &v, "/fields/contact/nope/delete").await.status,
            StatusCode::NOT_FOUND
        );
    });
}

#[tokio::test]
async fn data_health_counts_problems_and_links_to_the_contacts_behind_them() {
    on_each_engine!(|w| {
        let a = contact(&w, json!({"email": "ann@one.test", "first_name": "Ann", "last_name": "Lee", "company": "Initech"})).await;
        let b = contact(&w, json!({"email": "ann@two.test", "first_name": "ann", "last_name": "lee", "company": "Initech"})).await;
        let info = contact(&w, json!({"email": "info@initech.test"})).await;
        let v = w.sign_in(Role::Viewer).await;
        let report = get(&w, &v, "/health").await;
        assert_eq!(report.status, StatusCode::OK);
        let body = &report.body;
        assert!(
            body.contains("Checked <strong>3</strong> contacts"),
            "{body}"
        );
        assert!(
            body.contains("href=\"/health/duplicate_name_company?object=contact\" aria-label=\"2 contacts: Likely duplicates: same name and company\">2</a>"),
            "{body}"
        );
        assert!(
            body.contains("href=\"/health/email_role_based?object=contact\""),
            "{body}"
        );

        let dups = get(&w, &v, "/health/duplicate_name_company?object=contact").await;
        assert_eq!(dups.status, StatusCode::OK);
        assert!(
            dups.body
                .contains(&format!("href=\"&#x2f;people&#x2f;{a}\">Ann Lee</a>")),
            "{}",
            dups.body
        );
        assert!(
            dups.body
                .contains(&format!("href=\"&#x2f;people&#x2f;{b}\">ann lee</a>")),
            "{}",
            dups.body
        );
        assert!(!dups.body.contains(&format!("&#x2f;people&#x2f;{info}\"")));

        let role = get(&w, &v, "/health/email_role_based").await;
        assert!(
            role.body.contains(&format!("&#x2f;people&#x2f;{info}\"")),
            "{}",
            role.body
        );
        assert!(
            role.body.contains("<code>info@initech.test</code>"),
            "{}",
            role.body
        );

        let clean = get(&w, &v, "/health/email_invalid").await;
        assert!(
            clean.body.contains("no contacts have this problem"),
            "{}",
            clean.body
        );
        assert_eq!(
            get(&w, &v, "/health/nonsense").await.status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            get(&w, &v, "/health?object=planets").await.status,
            StatusCode::NOT_FOUND
        );
        let accounts = get(&w, &v, "/health?object=account").await;
        assert!(
            accounts
                .body
                .contains("Checked <strong>0</strong> accounts"),
            "{}",
            accounts.body
        );
    });
}

#[tokio::test]
async fn a_check_with_many_contacts_is_paged() {
    on_each_engine!(|w| {
        for i in 0..55 {
            contact(&w, json!({"email": format!("p{i}@example.com")})).await;
        }
        // Made required afterwards: all 55 lack a value.
        custom_field(
            &w,
            "plan",
            json!({"label": "Plan", "type": "text", "required": true}),
        )
        .await;
        let v = w.sign_in(Role::Marketer).await;
        let report = get(&w, &v, "/health").await;
        assert!(
            report
                .body
                .contains("href=\"/health/required_missing.plan?object=contact\""),
            "{}",
            report.body
        );
        let first = get(&w, &v, "/health/required_missing.plan?object=contact").await;
        assert_eq!(first.status, StatusCode::OK);
        assert!(
            first.body.contains("<strong>55</strong> contacts"),
            "{}",
            first.body
        );
        assert_eq!(first.body.matches("href=\"&#x2f;people&#x2f;").count(), 50);
        assert!(first.body.contains("Page 1 of 2"));
        let second = get(
            &w,
            &v,
            "/health/required_missing.plan?object=contact&page=2",
        )
        .await;
        assert_eq!(second.body.matches("href=\"&#x2f;people&#x2f;").count(), 5);
        assert!(second.body.contains("Page 2 of 2"));
    });
}

#[tokio::test]
async fn the_audit_log_shows_who_changed_what_and_is_for_admins_only() {
    on_each_engine!(|w| {
        custom_field(&w, "plan", json!({"label": "Plan", "type": "text"})).await;
        api(
            &w,
            Role::Admin,
            Method::PATCH,
            "/api/v1/fields/contact/plan",
            Some(json!({"label": "Plan tier"})),
        )
        .await;
        contact(&w, json!({"email": "someone@example.com"})).await;
        for role in Role::ALL {
            let v = w.sign_in(role).await;
            let page = get(&w, &v, "/audit").await;
            let allowed = role.can(pitcrew_core::admin::Action::ReadAudit);
            let want = if allowed {
                StatusCode::OK
            } else {
                StatusCode::FORBIDDEN
            };
            assert_eq!(page.status, want, "{role}");
            if !allowed {
                continue;
            }
            let b = &page.body;
            assert!(b.contains("<td>admin@acme.test</td>"), "{b}");
            assert!(b.contains("<td>marketer@acme.test</td>"), "{b}");
            assert!(b.contains("<del><span class=\"sr-only\">was </span>Plan</del> → <ins><span class=\"sr-only\">now </span>Plan tier</ins>"), "{b}");
            // Newest first: the contact was created last.
            let contact_at = b.find("someone@example.com").expect("contact entry");
            let field_at = b.find("Plan tier").expect("field entry");
            assert!(contact_at < field_at, "newest first");
        }
        let admin = w.sign_in(Role::Admin).await;
        let updates = get(&w, &admin, "/audit?action=update&object_type=field").await;
        assert_eq!(updates.status, StatusCode::OK);
        assert!(updates.body.contains("Plan tier"));
        assert!(
            !updates.body.contains("someone@example.com"),
            "{}",
            updates.body
        );
        let marketer = w.actors[&Role::Marketer].user_id.expect("member");
        let by_marketer = get(&w, &admin, &format!("/audit?user={marketer}")).await;
        assert!(by_marketer.body.contains("someone@example.com"));
        assert!(!by_marketer.body.contains("Plan tier"));
        let long_ago = get(&w, &admin, "/audit?from=2000-01-01&to=2000-01-02").await;
        assert!(
            long_ago.body.contains("No entries match these filters"),
            "{}",
            long_ago.body
        );
        let later = get(&w, &admin, "/audit?from=2000-01-01").await;
        assert!(later.body.contains("someone@example.com"));
    });
}

#[tokio::test]
async fn a_bad_audit_filter_is_named_next_to_its_field() {
    on_each_engine!(|w| {
        let v = w.sign_in(Role::Owner).await;
        let bad = get(&w, &v, "/audit?from=last+week").await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(error_of(&bad, "from").contains("not a date"));
        let swapped = get(&w, &v, "/audit?from=2026-03-02&to=2026-03-01").await;
        assert_eq!(swapped.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(error_of(&swapped, "to").contains("before the start date"));
        let kind = get(&w, &v, "/audit?object_type=planet").await;
        assert_eq!(kind.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(error_of(&kind, "object_type").contains("not an object type"));
        let viewer = w.sign_in(Role::Viewer).await;
        assert_eq!(
            get(&w, &viewer, "/audit?from=last+week").await.status,
            StatusCode::FORBIDDEN
        );
    });
}

#[tokio::test]
async fn the_audit_log_pages_through_older_entries() {
    on_each_engine!(|w| {
        for i in 0..55 {
            contact(&w, json!({"email": format!("p{i}@example.com")})).await;
        }
        let v = w.sign_in(Role::Admin).await;
        let first = get(&w, &v, "/audit?object_type=contact").await;
        assert!(first.body.contains("p54@example.com"));
        assert!(!first.body.contains("p4@example.com<"), "{}", first.body);
        let marker = "href=\"";
        let next_at = first.body.find("rel=\"next\"").expect("a next page");
        let start = first.body[..next_at].rfind(marker).expect("href") + marker.len();
        let href = first.body[start..next_at]
            .trim_end_matches("\" ")
            .trim_end_matches('"');
        let href = href.replace("&#x2f;", "/").replace("&amp;", "&");
        let older = get(&w, &v, &href).await;
        assert_eq!(older.status, StatusCode::OK, "{href}");
        assert!(older.body.contains("p4@example.com"), "{}", older.body);
        assert!(older.body.contains("p0@example.com"));
        assert!(!older.body.contains("p54@example.com"));
        assert!(!older.body.contains("rel=\"next\""));
    });
}
