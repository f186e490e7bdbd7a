//! Email templates: saving and versions, validation with the part and line
//! to fix, previews for one contact (MJML, escaping, fallbacks), roles and
//! workspace isolation.

use pitcrew_app::campaign::template::{self, Template, TemplateInput, TemplatePatch, personal_for};
use pitcrew_app::{Actor, Db, ErrorKind};
use pitcrew_core::admin::Role;
use pitcrew_core::campaign::TemplateFormat;
use serde_json::json;

use crate::{NOW, account, contact, new_workspace, obj, refused, with_role};

const NEWSLETTER_MJML: &str = r#"<mjml>
  <mj-body>
    <mj-section>
      <mj-column>
        <mj-text>Hello {{ contact.first_name | default("there") }},{% if account.name %} and the team at {{ account.name }}{% endif %}!</mj-text>
        <mj-button href="https://acme.example/spring">See the collection</mj-button>
        <mj-text><a href="{{ unsubscribe_url }}">Unsubscribe</a> · {{ postal_address }}</mj-text>
      </mj-column>
    </mj-section>
  </mj-body>
</mjml>"#;

fn html(name: &str, body: &str) -> TemplateInput {
    TemplateInput {
        name: name.into(),
        format: "html".into(),
        body: body.into(),
        text_body: String::new(),
    }
}

async fn save(db: &Db, actor: &Actor, input: TemplateInput) -> Template {
    template::create_template(db, actor, input, NOW)
        .await
        .expect("create template")
}

async fn set_postal_address(db: &Db, ws: i64, address: &str) {
    let mut settings = pitcrew_store::event::workspace_settings(db.conn(), ws)
        .await
        .expect("settings");
    settings.insert(
        "sending".into(),
        json!({"postal_address": address, "public_url": "https://mail.acme.example"}),
    );
    pitcrew_store::event::set_workspace_settings(db.conn(), ws, &settings)
        .await
        .expect("save settings");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_template_is_saved_as_version_one_and_each_change_adds_a_version() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await;
        let system = Actor::system(ws.id);

        let created = save(
            db,
            &system,
            html("Welcome", "<p>Hi {{ contact.first_name }}</p>"),
        )
        .await;
        assert_eq!(
            (created.version, created.format, created.name.as_str()),
            (1, TemplateFormat::Html, "Welcome"),
            "{engine:?}"
        );

        let patch = TemplatePatch {
            body: Some("<p>Hello {{ contact.first_name }}</p>".into()),
            text_body: Some("Hello {{ contact.first_name }}".into()),
            ..TemplatePatch::default()
        };
        let updated = template::update_template(db, &system, created.id, patch, NOW + 1)
            .await
            .expect("update");
        assert_eq!(updated.version, 2, "{engine:?}");
        assert_eq!(
            updated.text_body, "Hello {{ contact.first_name }}",
            "{engine:?}"
        );

        let same = TemplatePatch {
            name: Some("Welcome".into()),
            ..TemplatePatch::default()
        };
        let unchanged = template::update_template(db, &system, created.id, same, NOW + 2)
            .await
            .expect("no-op update");
        assert_eq!(
            unchanged.version, 2,
            "{engine:?}: nothing changed, no new version"
        );

        let read = template::get_template(db, &system, created.id)
            .await
            .expect("get");
        assert_eq!(read, updated, "{engine:?}");
        let all = template::list_templates(db, &system).await.expect("list");
        assert_eq!(all, vec![updated.clone()], "{engine:?}");

        let query = pitcrew_store::audit::AuditQuery {
            object_type: Some("template".into()),
            object_id: Some(created.id.to_string()),
            user_id: None,
            before_id: None,
            limit: 10,
        };
        let entries = pitcrew_store::audit::list(db.conn(), ws.id, &query)
            .await
            .expect("audit");
        let actions: Vec<&str> = entries.iter().map(|e| e.action.as_str()).collect();
        assert_eq!(
            actions,
            ["update", "create"],
            "{engine:?}: writes are audited"
        );
        assert_eq!(
            entries[0].changes["after"]["body"],
            json!("<p>Hello {{ contact.first_name }}</p>"),
            "{engine:?}: the audit log keeps each version's content"
        );

        template::delete_template(db, &system, created.id, NOW + 3)
            .await
            .expect("delete");
        refused(
            template::get_template(db, &system, created.id).await,
            "template_not_found",
            engine,
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_template_name_is_unique_in_its_workspace() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await;
        let system = Actor::system(ws.id);
        let first = save(db, &system, html("Newsletter", "<p>a</p>")).await;
        let e = refused(
            template::create_template(db, &system, html(" Newsletter ", "<p>b</p>"), NOW).await,
            "template_name_taken",
            engine,
        );
        assert_eq!(e.kind, ErrorKind::Conflict);
        assert_eq!(e.field.as_deref(), Some("name"));
        assert!(e.message.contains(&format!("id {}", first.id)), "{e}");

        let other = save(db, &system, html("Other", "<p>c</p>")).await;
        let rename = TemplatePatch {
            name: Some("Newsletter".into()),
            ..TemplatePatch::default()
        };
        refused(
            template::update_template(db, &system, other.id, rename, NOW).await,
            "template_name_taken",
            engine,
        );

        let elsewhere = new_workspace(db, "globex").await;
        save(
            db,
            &Actor::system(elsewhere.id),
            html("Newsletter", "<p>d</p>"),
        )
        .await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_templates_are_refused_with_the_part_and_line_to_fix() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await;
        let system = Actor::system(ws.id);

        let e = refused(
            template::create_template(
                db,
                &system,
                html("Typo", "<p>\nHi\n{{ contact.first_name | uper }}</p>"),
                NOW,
            )
            .await,
            "template_invalid",
            engine,
        );
        assert_eq!(e.field.as_deref(), Some("body"), "{engine:?}");
        assert!(
            e.message
                .starts_with("html line 3: unknown filter \"uper\"; did you mean \"upper\"?"),
            "{engine:?}: {e}"
        );

        let mut bad_text = html("Bad text", "<p>ok</p>");
        bad_text.text_body = "Hi\n{% if contact.first_name %}".into();
        let e = refused(
            template::create_template(db, &system, bad_text, NOW).await,
            "template_invalid",
            engine,
        );
        assert_eq!(e.field.as_deref(), Some("text_body"), "{engine:?}");
        assert!(e.message.starts_with("text line "), "{engine:?}: {e}");

        let mut mjml = html("Bad MJML", "<mjml><mj-body><mj-section></mj-body></mjml>");
        mjml.format = "mjml".into();
        let e = refused(
            template::create_template(db, &system, mjml, NOW).await,
            "template_invalid",
            engine,
        );
        assert!(e.message.starts_with("mjml"), "{engine:?}: {e}");

        let mut wrong_format = html("Format", "<p>x</p>");
        wrong_format.format = "markdown".into();
        let e = refused(
            template::create_template(db, &system, wrong_format, NOW).await,
            "template_format_invalid",
            engine,
        );
        assert!(e.message.contains("html, mjml"), "{engine:?}: {e}");

        refused(
            template::create_template(db, &system, html("Empty", "  \n"), NOW).await,
            "template_body_missing",
            engine,
        );
        refused(
            template::create_template(db, &system, html("  ", "<p>x</p>"), NOW).await,
            "template_name_invalid",
            engine,
        );

        let kept = save(db, &system, html("Kept", "<p>x</p>")).await;
        let breaking = TemplatePatch {
            body: Some("{% for %}".into()),
            ..TemplatePatch::default()
        };
        refused(
            template::update_template(db, &system, kept.id, breaking, NOW).await,
            "template_invalid",
            engine,
        );
        let still = template::get_template(db, &system, kept.id)
            .await
            .expect("get");
        assert_eq!(still, kept, "{engine:?}: a refused change saves nothing");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_mjml_preview_shows_the_contacts_data_escaped_in_html_and_raw_in_text() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await;
        let system = Actor::system(ws.id);
        set_postal_address(db, ws.id, "Acme GmbH, Hauptstr. 1, 10115 Berlin").await;
        let acme = account(db, &system, json!({"name": "Acme"})).await;
        let ada = crate::create(
            db,
            &system,
            crate::CONTACT,
            json!({"account_id": acme.id, "fields": {"email": "ada@example.com", "first_name": "Ada"}}),
        )
        .await;
        let sneaky = contact(
            db,
            &system,
            json!({"email": "eve@example.com", "first_name": "<script>alert(1)</script>"}),
        )
        .await;

        let mut input = html("Spring", NEWSLETTER_MJML);
        input.format = "mjml".into();
        let saved = save(db, &system, input).await;

        let r = template::preview_template(
            db,
            &system,
            saved.id,
            ada.id,
            "Spring for {{ contact.first_name }}",
            NOW,
        )
        .await
        .expect("preview");
        assert_eq!(r.subject, "Spring for Ada", "{engine:?}");
        assert!(
            r.html.starts_with("<!doctype html>"),
            "{engine:?}: MJML became HTML"
        );
        assert!(
            r.html.contains("Hello Ada, and the team at Acme!"),
            "{engine:?}: {}",
            r.html
        );
        assert!(r.html.contains("Hauptstr. 1"), "{engine:?}");
        assert!(
            r.html
                .contains(r#"href="https://mail.acme.example/unsubscribe""#),
            "{engine:?}: the preview's unsubscribe link only looks real"
        );
        assert!(
            r.text.contains("Hello Ada, and the team at Acme!"),
            "{engine:?}: {}",
            r.text
        );
        assert!(
            r.text
                .contains("See the collection (https://acme.example/spring)"),
            "{engine:?}: {}",
            r.text
        );

        let r = template::preview_template(db, &system, saved.id, sneaky.id, "Hi", NOW)
            .await
            .expect("preview");
        assert!(!r.html.contains("<script>"), "{engine:?}: escaped in HTML");
        assert!(r.html.contains("&lt;script&gt;"), "{engine:?}");
        assert!(
            r.text.contains("Hello <script>alert(1)</script>,"),
            "{engine:?}: raw in text: {}",
            r.text
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_field_falls_back_to_its_default_in_a_preview() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await;
        let system = Actor::system(ws.id);
        let nameless = contact(db, &system, json!({"email": "x@example.com"})).await;
        let saved = save(
            db,
            &system,
            html(
                "Fallback",
                "<p>Hi {{ contact.first_name | default(\"there\") }}{{ contact.last_name }}, {{ account.name }}{{ postal_address }}</p>",
            ),
        )
        .await;
        let r = template::preview_template(db, &system, saved.id, nameless.id, "", NOW)
            .await
            .expect("preview");
        assert_eq!(r.html, "<p>Hi there, </p>", "{engine:?}");
        assert_eq!(r.text, "Hi there,", "{engine:?}: derived from the HTML");

        refused(
            template::preview_template(db, &system, saved.id, nameless.id + 1000, "", NOW).await,
            "contact_not_found",
            engine,
        );
        let e = refused(
            template::preview_template(db, &system, saved.id, nameless.id, "{{ x | uper }}", NOW)
                .await,
            "template_invalid",
            engine,
        );
        assert_eq!(e.field.as_deref(), Some("subject"), "{engine:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_viewer_can_read_templates_but_not_write_them() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await;
        let saved = save(db, &Actor::system(ws.id), html("Welcome", "<p>x</p>")).await;
        let viewer = with_role(&ws, Role::Viewer);
        refused(
            template::create_template(db, &viewer, html("Mine", "<p>y</p>"), NOW).await,
            "forbidden",
            engine,
        );
        refused(
            template::update_template(db, &viewer, saved.id, TemplatePatch::default(), NOW).await,
            "forbidden",
            engine,
        );
        refused(
            template::delete_template(db, &viewer, saved.id, NOW).await,
            "forbidden",
            engine,
        );
        let read = template::get_template(db, &viewer, saved.id)
            .await
            .expect("a viewer reads");
        assert_eq!(read.id, saved.id, "{engine:?}");

        let marketer = with_role(&ws, Role::Marketer);
        save(db, &marketer, html("Marketer's", "<p>z</p>")).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn another_workspace_cannot_see_or_change_a_template() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let acme = new_workspace(db, "acme").await;
        let globex = new_workspace(db, "globex").await;
        let mine = save(db, &Actor::system(acme.id), html("Secret plan", "<p>x</p>")).await;
        let theirs = Actor::system(globex.id);
        let them_contact = contact(db, &theirs, json!({"email": "g@globex.example"})).await;

        refused(
            template::get_template(db, &theirs, mine.id).await,
            "template_not_found",
            engine,
        );
        refused(
            template::update_template(
                db,
                &theirs,
                mine.id,
                TemplatePatch {
                    body: Some("<p>taken over</p>".into()),
                    ..TemplatePatch::default()
                },
                NOW,
            )
            .await,
            "template_not_found",
            engine,
        );
        refused(
            template::delete_template(db, &theirs, mine.id, NOW).await,
            "template_not_found",
            engine,
        );
        refused(
            template::preview_template(db, &theirs, mine.id, them_contact.id, "", NOW).await,
            "template_not_found",
            engine,
        );
        assert!(
            template::list_templates(db, &theirs)
                .await
                .expect("list")
                .is_empty(),
            "{engine:?}"
        );
        let still = template::get_template(db, &Actor::system(acme.id), mine.id)
            .await
            .expect("still there");
        assert_eq!(still, mine, "{engine:?}");
    }
}

#[test]
fn contact_data_becomes_template_variables_without_empty_values() {
    let contact = obj(json!({
        "email": "ada@example.com",
        "first_name": "Ada",
        "last_name": null,
        "nickname": "  ",
        "score": 12,
    }));
    let account = obj(json!({"name": "Acme", "domain": null}));
    let p = personal_for(
        &contact,
        Some(&account),
        "Acme GmbH",
        "https://u.example/1",
        "https://p.example/1",
    );
    assert_eq!(
        serde_json::Value::Object(p.contact),
        json!({"email": "ada@example.com", "first_name": "Ada", "score": 12})
    );
    assert_eq!(p.account, Some(obj(json!({"name": "Acme"}))));
    assert_eq!(
        (
            p.postal_address.as_str(),
            p.unsubscribe_url.as_str(),
            p.preferences_url.as_str()
        ),
        ("Acme GmbH", "https://u.example/1", "https://p.example/1")
    );
}
