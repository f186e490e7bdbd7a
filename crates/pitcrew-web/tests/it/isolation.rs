//! No workspace can see or change another's data through the API.

use axum::http::{Method, StatusCode};
use pitcrew_core::admin::Role;
use serde_json::json;

use crate::support::world;

#[tokio::test]
async fn another_workspace_can_neither_read_nor_change_our_records() {
    for t in pitcrew_testkit::each_engine().await {
        let engine = t.engine();
        let w = world(t).await;
        let owner = w.token(Role::Owner);
        let account = w
            .call(
                Method::POST,
                "/api/v1/accounts",
                Some(owner),
                Some(json!({"external_id": "acc-1", "fields": {"name": "Initech"}})),
            )
            .await;
        let account_id = account.json["id"].as_i64().expect("account id");
        let contact = w.call(Method::POST, "/api/v1/contacts", Some(owner), Some(json!({"external_id": "c-1", "account_id": account_id, "fields": {"email": "peter@initech.example", "first_name": "Peter"}}))).await;
        let contact_id = contact.json["id"].as_i64().expect("contact id");
        w.call(
            Method::POST,
            "/api/v1/fields",
            Some(owner),
            Some(
                json!({"object": "contact", "key": "secret_plan", "label": "Plan", "type": "text"}),
            ),
        )
        .await;
        let our_token = w
            .call(Method::GET, "/api/v1/tokens", Some(owner), None)
            .await
            .json[0]["id"]
            .as_i64()
            .expect("token id");
        let our_user = w.actors[&Role::Viewer].user_id.expect("user");

        let intruder = w.other.as_str();
        let attempts = [
            (Method::GET, format!("/api/v1/contacts/{contact_id}"), None),
            (
                Method::PATCH,
                format!("/api/v1/contacts/{contact_id}"),
                Some(json!({"fields": {"first_name": "Hacked"}})),
            ),
            (
                Method::DELETE,
                format!("/api/v1/contacts/{contact_id}"),
                None,
            ),
            (
                Method::GET,
                "/api/v1/contacts/lookup?email=peter@initech.example".to_string(),
                None,
            ),
            (
                Method::GET,
                "/api/v1/contacts/lookup?external_id=c-1".to_string(),
                None,
            ),
            (Method::GET, format!("/api/v1/accounts/{account_id}"), None),
            (
                Method::PATCH,
                format!("/api/v1/accounts/{account_id}"),
                Some(json!({"fields": {"name": "Hacked"}})),
            ),
            (
                Method::DELETE,
                format!("/api/v1/accounts/{account_id}"),
                None,
            ),
            (
                Method::GET,
                format!("/api/v1/accounts/{account_id}/contacts"),
                None,
            ),
            (
                Method::GET,
                "/api/v1/accounts/lookup?external_id=acc-1".to_string(),
                None,
            ),
            (
                Method::GET,
                "/api/v1/fields/contact/secret_plan".to_string(),
                None,
            ),
            (
                Method::PATCH,
                "/api/v1/fields/contact/secret_plan".to_string(),
                Some(json!({"label": "Hacked"})),
            ),
            (
                Method::DELETE,
                "/api/v1/fields/contact/secret_plan".to_string(),
                None,
            ),
            (Method::DELETE, format!("/api/v1/tokens/{our_token}"), None),
            (
                Method::PATCH,
                format!("/api/v1/users/{our_user}"),
                Some(json!({"role": "owner"})),
            ),
            (Method::DELETE, format!("/api/v1/users/{our_user}"), None),
        ];
        for (method, path, body) in attempts {
            let reply = w.call(method.clone(), &path, Some(intruder), body).await;
            assert_eq!(
                reply.status,
                StatusCode::NOT_FOUND,
                "{engine:?}: {method} {path} from another workspace: {}",
                reply.json
            );
        }
        // Adding a contact to our account from the other workspace is refused too.
        let reply = w
            .call(
                Method::POST,
                "/api/v1/contacts",
                Some(intruder),
                Some(json!({"account_id": account_id, "fields": {"first_name": "Mole"}})),
            )
            .await;
        assert_eq!(
            (reply.status, reply.code()),
            (StatusCode::BAD_REQUEST, "account_not_found"),
            "{engine:?}"
        );

        // Lists and the audit log show only the intruder's own workspace.
        let contacts = w
            .call(Method::GET, "/api/v1/contacts", Some(intruder), None)
            .await;
        assert_eq!(contacts.json["total"], 0, "{engine:?}");
        let accounts = w
            .call(
                Method::GET,
                "/api/v1/accounts?q=initech",
                Some(intruder),
                None,
            )
            .await;
        assert_eq!(accounts.json["total"], 0, "{engine:?}");
        let audit = w
            .call(
                Method::GET,
                &format!("/api/v1/audit?object_type=contact&object_id={contact_id}"),
                Some(intruder),
                None,
            )
            .await;
        assert_eq!(audit.json, json!([]), "{engine:?}");
        let users = w
            .call(Method::GET, "/api/v1/users", Some(intruder), None)
            .await;
        assert!(
            users
                .json
                .as_array()
                .expect("users")
                .iter()
                .all(|u| u["email"] != "viewer@acme.test"),
            "{engine:?}"
        );
        let fields = w
            .call(
                Method::GET,
                "/api/v1/fields?object=contact",
                Some(intruder),
                None,
            )
            .await;
        assert!(
            fields
                .json
                .as_array()
                .expect("fields")
                .iter()
                .all(|f| f["key"] != "secret_plan"),
            "{engine:?}"
        );

        // And our data is untouched.
        let ours = w
            .call(
                Method::GET,
                &format!("/api/v1/contacts/{contact_id}"),
                Some(owner),
                None,
            )
            .await;
        assert_eq!(ours.json["fields"]["first_name"], "Peter", "{engine:?}");
        assert_eq!(ours.json["account_id"], account_id, "{engine:?}");
        let field = w
            .call(
                Method::GET,
                "/api/v1/fields/contact/secret_plan",
                Some(owner),
                None,
            )
            .await;
        assert_eq!(field.json["label"], "Plan", "{engine:?}");
        let me = w
            .call(Method::GET, "/api/v1/me", Some(w.token(Role::Viewer)), None)
            .await;
        assert_eq!(me.json["role"], "viewer", "{engine:?}");
        assert_eq!(me.json["workspace"]["slug"], w.ws.slug, "{engine:?}");
        assert_ne!(w.other_ws.id, w.ws.id);
    }
}

#[tokio::test]
async fn another_workspace_can_neither_read_nor_change_our_campaigns() {
    use pitcrew_app::Actor;
    use pitcrew_app::campaign::{broadcast, consent, provider, suppression, template};
    use pitcrew_core::campaign::consent::{ConsentSource, LegalBasis};
    use pitcrew_core::campaign::{Security, SuppressionReason};

    use crate::support::NOW;

    for t in pitcrew_testkit::each_engine().await {
        let engine = t.engine();
        let w = world(t).await;
        let db = &w.t.db;
        let ours = Actor::system(w.ws.id);
        let topic = consent::create_topic(db, &ours, "Newsletter", "Monthly news", NOW)
            .await
            .expect("topic");
        let contact = w
            .call(
                Method::POST,
                "/api/v1/contacts",
                Some(w.token(Role::Owner)),
                Some(json!({"fields": {"email": "ana@example.com"}})),
            )
            .await
            .json["id"]
            .as_i64()
            .expect("contact id");
        let opt_in = consent::ConsentInput::opt_in(
            "Newsletter",
            LegalBasis::Consent,
            ConsentSource::Form,
            "Send me the news",
        );
        consent::record_consent(db, &ours, contact, opt_in, NOW)
            .await
            .expect("opt in");
        let sending = provider::ProviderInput {
            name: "Relay".into(),
            host: "127.0.0.1".into(),
            port: 2525,
            security: Security::None,
            verify_tls: true,
            username: "acme".into(),
            password: Some("relay-secret".into()),
            per_second: 10,
            per_hour: 0,
            concurrency: 1,
        };
        let relay = provider::create_provider(db, &ours, sending.clone(), NOW)
            .await
            .expect("provider");
        let body = r#"<p><a href="{{ unsubscribe_url }}">Unsubscribe</a> {{ postal_address }}</p>"#;
        let spring = template::create_template(
            db,
            &ours,
            template::TemplateInput {
                name: "Spring".into(),
                format: "html".into(),
                body: body.into(),
                text_body: String::new(),
            },
            NOW,
        )
        .await
        .expect("template");
        let launch = broadcast::create_broadcast(
            db,
            &ours,
            broadcast::BroadcastInput {
                name: "Spring launch".into(),
                template_id: Some(spring.id),
                subject: "Spring".into(),
                from_name: "Acme".into(),
                from_email: "news@acme.test".into(),
                reply_to: String::new(),
                topic: "Newsletter".into(),
                segments: vec![],
                exclusions: vec![],
                provider_id: Some(relay.id),
                tracking: true,
                utm: Default::default(),
                scheduled_at: None,
            },
            NOW,
        )
        .await
        .expect("broadcast");
        suppression::add_suppression(
            db,
            &ours,
            "gone@example.com",
            None,
            SuppressionReason::Manual,
            "",
            NOW,
        )
        .await
        .expect("suppression");

        let (topic, relay, spring, launch) = (topic.id, relay.id, spring.id, launch.id);
        let provider_body = json!({"name": "Hijack", "host": "smtp.evil.example", "port": 25});
        let attempts = [
            (Method::GET, format!("/api/v1/topics/{topic}"), None),
            (
                Method::PATCH,
                format!("/api/v1/topics/{topic}"),
                Some(json!({"description": "Hacked"})),
            ),
            (Method::DELETE, format!("/api/v1/topics/{topic}"), None),
            (
                Method::GET,
                format!("/api/v1/contacts/{contact}/consent"),
                None,
            ),
            (
                Method::GET,
                format!("/api/v1/contacts/{contact}/consent/history"),
                None,
            ),
            (
                Method::POST,
                format!("/api/v1/contacts/{contact}/consent/unsubscribe-all"),
                Some(json!({})),
            ),
            (Method::GET, format!("/api/v1/providers/{relay}"), None),
            (
                Method::PUT,
                format!("/api/v1/providers/{relay}"),
                Some(provider_body),
            ),
            (Method::DELETE, format!("/api/v1/providers/{relay}"), None),
            (Method::GET, format!("/api/v1/templates/{spring}"), None),
            (
                Method::PATCH,
                format!("/api/v1/templates/{spring}"),
                Some(json!({"name": "Hacked"})),
            ),
            (
                Method::POST,
                format!("/api/v1/templates/{spring}/preview"),
                Some(json!({"contact_id": contact, "subject": "x"})),
            ),
            (Method::DELETE, format!("/api/v1/templates/{spring}"), None),
            (Method::GET, format!("/api/v1/broadcasts/{launch}"), None),
            (
                Method::PUT,
                format!("/api/v1/broadcasts/{launch}"),
                Some(json!({"name": "Hacked"})),
            ),
            (
                Method::GET,
                format!("/api/v1/broadcasts/{launch}/checks"),
                None,
            ),
            (
                Method::POST,
                format!("/api/v1/broadcasts/{launch}/approve"),
                None,
            ),
            (
                Method::POST,
                format!("/api/v1/broadcasts/{launch}/start"),
                None,
            ),
            (
                Method::POST,
                format!("/api/v1/broadcasts/{launch}/pause"),
                None,
            ),
            (
                Method::POST,
                format!("/api/v1/broadcasts/{launch}/resume"),
                None,
            ),
            (
                Method::POST,
                format!("/api/v1/broadcasts/{launch}/cancel"),
                None,
            ),
            (
                Method::GET,
                format!("/api/v1/broadcasts/{launch}/stats"),
                None,
            ),
            (
                Method::GET,
                format!("/api/v1/broadcasts/{launch}/recipients"),
                None,
            ),
            (
                Method::GET,
                format!("/api/v1/broadcasts/{launch}/recipients/{contact}"),
                None,
            ),
            (Method::DELETE, format!("/api/v1/broadcasts/{launch}"), None),
            (
                Method::DELETE,
                "/api/v1/suppressions?email=gone@example.com".to_string(),
                None,
            ),
        ];
        let intruder = w.other.as_str();
        for (method, path, body) in attempts {
            let reply = w.call(method.clone(), &path, Some(intruder), body).await;
            assert_eq!(
                reply.status,
                StatusCode::NOT_FOUND,
                "{engine:?}: {method} {path} from another workspace: {}",
                reply.json
            );
        }
        // Recording consent for our contact is refused too.
        let reply = w
            .call(
                Method::POST,
                &format!("/api/v1/contacts/{contact}/consent"),
                Some(intruder),
                Some(json!({"topic": "Newsletter", "subscribed": false, "source": "api"})),
            )
            .await;
        assert!(
            matches!(
                reply.status,
                StatusCode::NOT_FOUND | StatusCode::BAD_REQUEST
            ),
            "{engine:?}: {}",
            reply.json
        );

        // Lists show only the intruder's own workspace.
        for path in [
            "/api/v1/topics",
            "/api/v1/providers",
            "/api/v1/templates",
            "/api/v1/broadcasts",
        ] {
            let reply = w.call(Method::GET, path, Some(intruder), None).await;
            assert_eq!(reply.json, json!([]), "{engine:?}: {path}");
        }
        let suppressions = w
            .call(Method::GET, "/api/v1/suppressions", Some(intruder), None)
            .await;
        assert_eq!(suppressions.json["total"], 0, "{engine:?}");
        let export = w
            .call(
                Method::GET,
                "/api/v1/suppressions/export",
                Some(intruder),
                None,
            )
            .await;
        assert!(
            !export.json.to_string().contains("gone@example.com"),
            "{engine:?}"
        );

        // And our campaign is untouched.
        let owner = Some(w.token(Role::Owner));
        let state = w
            .call(
                Method::GET,
                &format!("/api/v1/contacts/{contact}/consent"),
                owner,
                None,
            )
            .await;
        assert_eq!(state.json[0]["subscribed"], true, "{engine:?}");
        let ours = w
            .call(
                Method::GET,
                &format!("/api/v1/providers/{relay}"),
                owner,
                None,
            )
            .await;
        assert_eq!(ours.json["host"], "127.0.0.1", "{engine:?}");
        let b = w
            .call(
                Method::GET,
                &format!("/api/v1/broadcasts/{launch}"),
                owner,
                None,
            )
            .await;
        assert_eq!(
            (b.json["name"].clone(), b.json["status"].clone()),
            (json!("Spring launch"), json!("draft")),
            "{engine:?}"
        );
        let kept = w
            .call(Method::GET, "/api/v1/suppressions", owner, None)
            .await;
        assert_eq!(kept.json["total"], 1, "{engine:?}");
    }
}
