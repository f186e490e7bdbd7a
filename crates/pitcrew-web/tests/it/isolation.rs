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
