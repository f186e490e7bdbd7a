//! The audit log: who changed what, with only the values that changed.

use pitcrew_app::admin::{self, NewTokenRequest};
use pitcrew_app::audit::{AuditParams, list};
use pitcrew_app::record::{
    FieldPatch, NewField, create_field, create_record, delete_field, delete_record, update_field,
    update_record,
};
use pitcrew_app::{Actor, Db};
use pitcrew_core::admin::{AuditEntry, Role};
use pitcrew_store::Engine;
use serde_json::{Value, json};

use crate::{
    ACCOUNT, CONTACT, NOW, contact, create, input, member, new_workspace, patch, refused, with_role,
};

async fn entries(db: &Db, ws_id: i64, p: AuditParams) -> Vec<AuditEntry> {
    list(db, &Actor::system(ws_id), p)
        .await
        .expect("read the audit log")
}

async fn history(
    db: &Db,
    ws_id: i64,
    object_type: &str,
    object_id: impl ToString,
) -> Vec<AuditEntry> {
    entries(
        db,
        ws_id,
        AuditParams {
            object_type: Some(object_type.into()),
            object_id: Some(object_id.to_string()),
            ..AuditParams::default()
        },
    )
    .await
}

fn actions(entries: &[AuditEntry]) -> Vec<&str> {
    entries.iter().map(|e| e.action.as_str()).collect()
}

#[track_caller]
fn assert_changes(e: &AuditEntry, before: Value, after: Value, engine: Engine) {
    assert_eq!(
        e.changes["before"], before,
        "{engine:?}: `before` of {} {} {}",
        e.action, e.object_type, e.object_id
    );
    assert_eq!(
        e.changes["after"], after,
        "{engine:?}: `after` of {} {} {}",
        e.action, e.object_type, e.object_id
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn creating_updating_and_deleting_a_contact_is_audited_with_only_changed_values() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await;
        let admin = member(db, &ws, "admin@acme.com", Role::Admin).await;
        let ada = create(
            db,
            &admin,
            CONTACT,
            json!({"external_id": "crm-1", "fields": {"email": "ADA@example.com", "first_name": "Ada", "job_title": "Analyst"}}),
        )
        .await;
        update_record(
            db,
            &admin,
            CONTACT,
            ada.id,
            patch(json!({"fields": {"first_name": "Ada", "job_title": "CTO", "company": "Acme"}})),
            NOW + 1_000,
        )
        .await
        .expect("update");
        delete_record(db, &admin, CONTACT, ada.id, NOW + 2_000)
            .await
            .expect("delete");

        let log = history(db, ws.id, "contact", ada.id).await;
        assert_eq!(
            actions(&log),
            ["delete", "update", "create"],
            "{engine:?}: newest first"
        );
        for e in &log {
            assert_eq!(e.actor, "admin@acme.com", "{engine:?}");
            assert_eq!(e.actor_user_id, admin.user_id, "{engine:?}");
            assert_eq!(e.actor_token_id, None, "{engine:?}");
            assert_eq!(e.object_type, "contact", "{engine:?}");
            assert_eq!(e.object_id, ada.id.to_string(), "{engine:?}");
        }
        assert_eq!(log[2].at, "2026-01-01T00:00:00.000Z", "{engine:?}");
        assert_eq!(log[1].at, "2026-01-01T00:00:01.000Z", "{engine:?}");
        let created = json!({"external_id": "crm-1", "email": "ada@example.com", "first_name": "Ada", "job_title": "Analyst"});
        assert_changes(&log[2], json!({}), created, engine);
        assert_changes(
            &log[1],
            json!({"job_title": "Analyst", "company": null}),
            json!({"job_title": "CTO", "company": "Acme"}),
            engine,
        );
        assert_changes(
            &log[0],
            json!({"external_id": "crm-1", "email": "ada@example.com", "first_name": "Ada", "job_title": "CTO", "company": "Acme"}),
            json!({}),
            engine,
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn account_changes_are_audited_and_a_change_to_nothing_is_not() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await;
        let marketer = member(db, &ws, "mia@acme.com", Role::Marketer).await;
        let acme = create(
            db,
            &marketer,
            ACCOUNT,
            json!({"fields": {"name": "Acme", "employees": 10}}),
        )
        .await;
        update_record(
            db,
            &marketer,
            ACCOUNT,
            acme.id,
            patch(json!({"fields": {"employees": "12", "name": "Acme"}})),
            NOW,
        )
        .await
        .expect("update");
        update_record(
            db,
            &marketer,
            ACCOUNT,
            acme.id,
            patch(json!({"fields": {"employees": 12}})),
            NOW,
        )
        .await
        .expect("update to the same value");
        delete_record(db, &Actor::system(ws.id), ACCOUNT, acme.id, NOW)
            .await
            .expect("delete");

        let log = history(db, ws.id, "account", acme.id).await;
        assert_eq!(
            actions(&log),
            ["delete", "update", "create"],
            "{engine:?}: no entry for a change to nothing"
        );
        assert_eq!(log[0].actor, "system", "{engine:?}");
        assert_eq!(log[0].actor_user_id, None, "{engine:?}");
        assert_eq!(log[1].actor, "mia@acme.com", "{engine:?}");
        assert_changes(
            &log[2],
            json!({}),
            json!({"name": "Acme", "employees": 10}),
            engine,
        );
        assert_changes(
            &log[1],
            json!({"employees": 10}),
            json!({"employees": 12}),
            engine,
        );
        assert_changes(
            &log[0],
            json!({"name": "Acme", "employees": 12}),
            json!({}),
            engine,
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn field_changes_are_audited_with_only_changed_values() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await;
        let admin = member(db, &ws, "admin@acme.com", Role::Admin).await;
        let new: NewField = serde_json::from_value(
            json!({"object": "contact", "key": "plan", "label": "Plan", "type": "text"}),
        )
        .expect("field");
        create_field(db, &admin, new, NOW)
            .await
            .expect("create field");
        contact(db, &admin, json!({"plan": "pro"})).await;
        let relabel: FieldPatch =
            serde_json::from_value(json!({"label": "Plan name"})).expect("patch");
        update_field(db, &admin, CONTACT, "plan", relabel, NOW)
            .await
            .expect("relabel");
        delete_field(db, &admin, CONTACT, "plan", NOW)
            .await
            .expect("delete field");

        let log = history(db, ws.id, "field", "contact.plan").await;
        assert_eq!(actions(&log), ["delete", "update", "create"], "{engine:?}");
        assert!(
            log.iter().all(|e| e.actor == "admin@acme.com"),
            "{engine:?}"
        );
        assert_eq!(
            log[2].changes["before"],
            json!({}),
            "{engine:?}: nothing before a create"
        );
        assert_eq!(log[2].changes["after"]["key"], json!("plan"), "{engine:?}");
        assert_eq!(log[2].changes["after"]["type"], json!("text"), "{engine:?}");
        assert_changes(
            &log[1],
            json!({"label": "Plan"}),
            json!({"label": "Plan name"}),
            engine,
        );
        assert_eq!(
            log[0].changes["before"]["label"],
            json!("Plan name"),
            "{engine:?}"
        );
        assert_eq!(
            log[0].changes["after"],
            json!({}),
            "{engine:?}: nothing after a delete"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn member_changes_are_audited() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await;
        let owner = member(db, &ws, "owner@acme.com", Role::Owner).await;
        let mia = member(db, &ws, "mia@acme.com", Role::Marketer).await;
        let mia_id = mia.user_id.expect("member id");
        admin::set_role(db, &owner, mia_id, Role::Builder, NOW)
            .await
            .expect("role change");
        admin::remove_member(db, &owner, mia_id, NOW)
            .await
            .expect("remove");

        let log = history(db, ws.id, "user", mia_id).await;
        assert_eq!(actions(&log), ["delete", "update", "create"], "{engine:?}");
        assert_eq!(log[2].actor, "system", "{engine:?}: added by the system");
        assert_changes(
            &log[2],
            json!({}),
            json!({"email": "mia@acme.com", "role": "marketer"}),
            engine,
        );
        assert_eq!(log[1].actor, "owner@acme.com", "{engine:?}");
        assert_eq!(log[1].actor_user_id, owner.user_id, "{engine:?}");
        assert_changes(
            &log[1],
            json!({"role": "marketer"}),
            json!({"role": "builder"}),
            engine,
        );
        assert_changes(
            &log[0],
            json!({"email": "mia@acme.com", "role": "builder"}),
            json!({}),
            engine,
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn token_creation_revocation_and_use_are_audited() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await;
        let admin_actor = member(db, &ws, "admin@acme.com", Role::Admin).await;
        let created = admin::create_token(
            db,
            &admin_actor,
            NewTokenRequest {
                name: "CRM sync".into(),
                role: Some(Role::Marketer),
            },
            NOW,
        )
        .await
        .expect("create token");
        let token_actor = admin::token_actor(db, &created.secret, NOW)
            .await
            .expect("resolve token")
            .expect("a live token");
        let by_token = contact(db, &token_actor, json!({"email": "ada@example.com"})).await;
        admin::revoke_token(db, &admin_actor, created.token.id, NOW)
            .await
            .expect("revoke");

        let log = history(db, ws.id, "token", created.token.id).await;
        assert_eq!(actions(&log), ["delete", "create"], "{engine:?}");
        assert_changes(
            &log[1],
            json!({}),
            json!({"name": "CRM sync", "role": "marketer", "prefix": created.token.prefix}),
            engine,
        );
        assert_changes(
            &log[0],
            json!({"name": "CRM sync", "role": "marketer"}),
            json!({}),
            engine,
        );
        for e in &log {
            assert_eq!(e.actor, "admin@acme.com", "{engine:?}");
            assert!(
                !e.changes.to_string().contains(&created.secret[4..]),
                "{engine:?}: the audit log never holds the secret"
            );
        }

        let used = history(db, ws.id, "contact", by_token.id).await;
        assert_eq!(used.len(), 1, "{engine:?}");
        assert_eq!(used[0].actor, "token:CRM sync", "{engine:?}");
        assert_eq!(used[0].actor_token_id, Some(created.token.id), "{engine:?}");
        assert_eq!(
            used[0].actor_user_id, admin_actor.user_id,
            "{engine:?}: on behalf of its creator"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_audit_log_filters_by_object() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await;
        let system = Actor::system(ws.id);
        let ada = contact(db, &system, json!({"first_name": "Ada"})).await;
        let bob = contact(db, &system, json!({"first_name": "Bob"})).await;
        update_record(
            db,
            &system,
            CONTACT,
            ada.id,
            patch(json!({"fields": {"last_name": "L"}})),
            NOW,
        )
        .await
        .expect("update");
        let acme = create(db, &system, ACCOUNT, json!({"fields": {"name": "Acme"}})).await;

        let log = history(db, ws.id, "contact", ada.id).await;
        assert_eq!(actions(&log), ["update", "create"], "{engine:?}");
        let contacts = entries(
            db,
            ws.id,
            AuditParams {
                object_type: Some("contact".into()),
                ..AuditParams::default()
            },
        )
        .await;
        let mut ids: Vec<String> = contacts.iter().map(|e| e.object_id.clone()).collect();
        ids.sort();
        let mut expected = vec![ada.id.to_string(), ada.id.to_string(), bob.id.to_string()];
        expected.sort();
        assert_eq!(ids, expected, "{engine:?}: by object type");
        let accounts = history(db, ws.id, "account", acme.id).await;
        assert_eq!(actions(&accounts), ["create"], "{engine:?}");
        let everything = entries(db, ws.id, AuditParams::default()).await;
        assert_eq!(
            everything.len(),
            5,
            "{engine:?}: the workspace creation and four record changes"
        );
        assert_eq!(everything[4].object_type, "workspace", "{engine:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_audit_log_filters_by_member_including_their_tokens() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await;
        let mia = member(db, &ws, "mia@acme.com", Role::Marketer).await;
        let max = member(db, &ws, "max@acme.com", Role::Marketer).await;
        let by_mia = contact(db, &mia, json!({"first_name": "A"})).await;
        let by_max = contact(db, &max, json!({"first_name": "B"})).await;
        let token = admin::create_token(
            db,
            &mia,
            NewTokenRequest {
                name: "sync".into(),
                role: None,
            },
            NOW,
        )
        .await
        .expect("token");
        let via_token = admin::token_actor(db, &token.secret, NOW)
            .await
            .expect("resolve")
            .expect("live");
        let by_mias_token = contact(db, &via_token, json!({"first_name": "C"})).await;

        let mine = entries(
            db,
            ws.id,
            AuditParams {
                user_id: mia.user_id,
                ..AuditParams::default()
            },
        )
        .await;
        let objects: Vec<(&str, String)> = mine
            .iter()
            .map(|e| (e.object_type.as_str(), e.object_id.clone()))
            .collect();
        assert_eq!(
            objects,
            [
                ("contact", by_mias_token.id.to_string()),
                ("token", token.token.id.to_string()),
                ("contact", by_mia.id.to_string()),
            ],
            "{engine:?}: only Mia's changes, directly or through her token"
        );
        assert!(
            mine.iter().all(|e| e.object_id != by_max.id.to_string()),
            "{engine:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_audit_log_pages_backwards_with_before() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await;
        let system = Actor::system(ws.id);
        for i in 0..5 {
            contact(db, &system, json!({"first_name": format!("C{i}")})).await;
        }
        let all = entries(db, ws.id, AuditParams::default()).await;
        assert_eq!(all.len(), 6, "{engine:?}");
        assert!(
            all.windows(2).all(|w| w[0].id > w[1].id),
            "{engine:?}: newest first"
        );
        let mut paged = Vec::new();
        let mut before = None;
        loop {
            let page = entries(
                db,
                ws.id,
                AuditParams {
                    before,
                    limit: Some(2),
                    ..AuditParams::default()
                },
            )
            .await;
            assert!(page.len() <= 2, "{engine:?}");
            let Some(last) = page.last() else { break };
            before = Some(last.id);
            paged.extend(page);
        }
        assert_eq!(paged, all, "{engine:?}: pages join into the whole log");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn only_admins_read_the_audit_log() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await;
        for role in [Role::Viewer, Role::Marketer, Role::Builder] {
            let e = refused(
                list(db, &with_role(&ws, role), AuditParams::default()).await,
                "forbidden",
                engine,
            );
            assert_eq!(
                e.kind,
                pitcrew_app::ErrorKind::Forbidden,
                "{engine:?}: {role}"
            );
        }
        let log = list(db, &with_role(&ws, Role::Admin), AuditParams::default())
            .await
            .expect("an admin reads the audit log");
        assert_eq!(
            actions(&log),
            ["create"],
            "{engine:?}: the workspace creation"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_object_type_or_a_bad_limit_is_refused() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await;
        let system = Actor::system(ws.id);
        let e = refused(
            list(
                db,
                &system,
                AuditParams {
                    object_type: Some("contacts".into()),
                    ..AuditParams::default()
                },
            )
            .await,
            "object_type_unknown",
            engine,
        );
        assert!(e.message.contains("contact"), "{engine:?}: {}", e.message);
        for limit in [0, 501] {
            refused(
                list(
                    db,
                    &system,
                    AuditParams {
                        limit: Some(limit),
                        ..AuditParams::default()
                    },
                )
                .await,
                "limit_invalid",
                engine,
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_change_leaves_no_audit_entry() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await;
        let system = Actor::system(ws.id);
        let ada = contact(db, &system, json!({"email": "ada@example.com"})).await;
        let before = entries(db, ws.id, AuditParams::default()).await;

        refused(
            create_record(
                db,
                &system,
                CONTACT,
                input(json!({"fields": {"email": "ada@example.com"}})),
                NOW,
            )
            .await,
            "email_taken",
            engine,
        );
        refused(
            delete_record(db, &with_role(&ws, Role::Marketer), CONTACT, ada.id, NOW).await,
            "forbidden",
            engine,
        );
        refused(
            update_record(
                db,
                &system,
                CONTACT,
                ada.id,
                patch(json!({"fields": {"country": "Atlantis"}})),
                NOW,
            )
            .await,
            "field_invalid",
            engine,
        );
        let retype: FieldPatch = serde_json::from_value(json!({"type": "number"})).expect("patch");
        refused(
            update_field(db, &system, CONTACT, "email", retype, NOW).await,
            "field_builtin",
            engine,
        );
        assert_eq!(
            entries(db, ws.id, AuditParams::default()).await,
            before,
            "{engine:?}"
        );
    }
}
