//! Workspaces are sealed from one another: an actor of A never sees or
//! changes B's contacts, accounts, fields, members, tokens or audit log.

use pitcrew_app::admin::{
    NewTokenRequest, create_token, list_members, list_tokens, remove_member, revoke_token,
    set_role, token_actor,
};
use pitcrew_app::audit::{AuditParams, list as audit_list};
use pitcrew_app::record::{
    FieldPatch, ListParams, NewField, create_field, create_record, delete_field, delete_record,
    find_record, get_field, get_record, list_fields, list_records, update_field, update_record,
};
use pitcrew_app::{Actor, Db};
use pitcrew_core::admin::{ApiToken, AuditEntry, Member, Role, Workspace};
use pitcrew_core::record::FieldDef;
use pitcrew_store::Engine;
use pitcrew_store::record::{Lookup, StoredRecord};
use serde_json::json;

use crate::{ACCOUNT, CONTACT, NOW, contact, create, input, member, new_workspace, patch, refused};

/// Two workspaces: A, whose actors try everything, and B, whose data must
/// stay out of reach.
struct World {
    a: Workspace,
    a_admin: Actor,
    a_system: Actor,
    b: Workspace,
    b_admin: Actor,
    b_contact: StoredRecord,
    b_account: StoredRecord,
    b_token: ApiToken,
    b_secret: String,
}

/// Everything of B, as B's own admin sees it.
#[derive(Debug, PartialEq)]
struct Snapshot {
    contacts: Vec<StoredRecord>,
    accounts: Vec<StoredRecord>,
    fields: Vec<FieldDef>,
    members: Vec<Member>,
    tokens: Vec<ApiToken>,
    audit: Vec<AuditEntry>,
}

async fn world(db: &Db) -> World {
    let a = new_workspace(db, "acme").await;
    let b = new_workspace(db, "globex").await;
    let a_admin = member(db, &a, "ann@acme.com", Role::Admin).await;
    let b_admin = member(db, &b, "bea@globex.com", Role::Admin).await;
    for (actor, object, key) in [(&b_admin, "contact", "plan"), (&b_admin, "account", "tier")] {
        let def: NewField = serde_json::from_value(
            json!({"object": object, "key": key, "label": key, "type": "text"}),
        )
        .expect("field");
        create_field(db, actor, def, NOW).await.expect("B field");
    }
    let b_account = create(
        db,
        &b_admin,
        ACCOUNT,
        json!({"external_id": "ext-b-acc", "fields": {"name": "Globex", "tier": "gold"}}),
    )
    .await;
    let b_contact = create(
        db,
        &b_admin,
        CONTACT,
        json!({"external_id": "ext-b", "account_id": b_account.id, "fields": {"email": "bea.contact@globex.com", "first_name": "Globex person", "plan": "gold"}}),
    )
    .await;
    let created = create_token(
        db,
        &b_admin,
        NewTokenRequest {
            name: "globex sync".into(),
            role: None,
        },
        NOW,
    )
    .await
    .expect("B token");
    let a_system = Actor::system(a.id);
    contact(db, &a_system, json!({"email": "ann.contact@acme.com"})).await;
    World {
        a_system,
        a,
        a_admin,
        b,
        b_admin,
        b_contact,
        b_account,
        b_token: created.token,
        b_secret: created.secret,
    }
}

async fn snapshot(db: &Db, w: &World) -> Snapshot {
    let all = || ListParams {
        sort: Some("id".into()),
        ..ListParams::default()
    };
    let (contacts, _, _, _) = list_records(db, &w.b_admin, CONTACT, all())
        .await
        .expect("B contacts");
    let (accounts, _, _, _) = list_records(db, &w.b_admin, ACCOUNT, all())
        .await
        .expect("B accounts");
    Snapshot {
        contacts,
        accounts,
        fields: list_fields(db, &w.b_admin, None).await.expect("B fields"),
        members: list_members(db, &w.b_admin).await.expect("B members"),
        tokens: list_tokens(db, &w.b_admin).await.expect("B tokens"),
        audit: audit_list(db, &w.b_admin, AuditParams::default())
            .await
            .expect("B audit"),
    }
}

async fn assert_b_unchanged(db: &Db, w: &World, before: &Snapshot, engine: Engine) {
    let after = snapshot(db, w).await;
    assert_eq!(&after, before, "{engine:?}: B's data is unchanged");
    assert!(
        token_actor(db, &w.b_secret, NOW)
            .await
            .expect("resolve")
            .is_some_and(|a| a.workspace_id == w.b.id),
        "{engine:?}: B's token still works, in B"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_actor_cannot_read_or_look_up_another_workspaces_records() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let w = world(db).await;
        let before = snapshot(db, &w).await;
        for a in [&w.a_admin, &w.a_system] {
            refused(
                get_record(db, a, CONTACT, w.b_contact.id).await,
                "contact_not_found",
                engine,
            );
            refused(
                get_record(db, a, ACCOUNT, w.b_account.id).await,
                "account_not_found",
                engine,
            );
            for lookup in [
                Lookup::Email("bea.contact@globex.com".into()),
                Lookup::ExternalId("ext-b".into()),
            ] {
                refused(
                    find_record(db, a, CONTACT, lookup).await,
                    "contact_not_found",
                    engine,
                );
            }
            refused(
                find_record(db, a, ACCOUNT, Lookup::ExternalId("ext-b-acc".into())).await,
                "account_not_found",
                engine,
            );
        }
        assert_b_unchanged(db, &w, &before, engine).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_actor_cannot_change_or_delete_another_workspaces_records() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let w = world(db).await;
        let before = snapshot(db, &w).await;
        for a in [&w.a_admin, &w.a_system] {
            refused(
                update_record(
                    db,
                    a,
                    CONTACT,
                    w.b_contact.id,
                    patch(json!({"fields": {"first_name": "Hijacked"}})),
                    NOW,
                )
                .await,
                "contact_not_found",
                engine,
            );
            refused(
                update_record(
                    db,
                    a,
                    ACCOUNT,
                    w.b_account.id,
                    patch(json!({"fields": {"name": "Hijacked"}})),
                    NOW,
                )
                .await,
                "account_not_found",
                engine,
            );
            refused(
                delete_record(db, a, CONTACT, w.b_contact.id, NOW).await,
                "contact_not_found",
                engine,
            );
            refused(
                delete_record(db, a, ACCOUNT, w.b_account.id, NOW).await,
                "account_not_found",
                engine,
            );
            refused(
                create_record(
                    db,
                    a,
                    CONTACT,
                    input(json!({"account_id": w.b_account.id, "fields": {"first_name": "Spy"}})),
                    NOW,
                )
                .await,
                "account_not_found",
                engine,
            );
        }
        let mine = create(
            db,
            &w.a_admin,
            CONTACT,
            json!({"external_id": "ext-b", "fields": {"email": "bea.contact@globex.com"}}),
        )
        .await;
        assert_ne!(
            mine.id, w.b_contact.id,
            "{engine:?}: A may use B's email and external id for its own contact"
        );
        refused(
            update_record(
                db,
                &w.a_admin,
                CONTACT,
                mine.id,
                patch(json!({"account_id": w.b_account.id})),
                NOW,
            )
            .await,
            "account_not_found",
            engine,
        );
        delete_record(db, &w.a_admin, CONTACT, mine.id, NOW)
            .await
            .expect("A deletes its own");
        assert_b_unchanged(db, &w, &before, engine).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn listing_and_search_show_only_the_actors_workspace() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let w = world(db).await;
        let before = snapshot(db, &w).await;
        let a = &w.a_admin;
        let (contacts, total, _, _) = list_records(db, a, CONTACT, ListParams::default())
            .await
            .expect("list");
        assert_eq!(total, 1, "{engine:?}");
        assert_eq!(
            contacts[0].fields["email"],
            json!("ann.contact@acme.com"),
            "{engine:?}"
        );
        let (accounts, total, _, _) = list_records(db, a, ACCOUNT, ListParams::default())
            .await
            .expect("list");
        assert!(accounts.is_empty() && total == 0, "{engine:?}");
        for q in ["globex", "ext-b", "bea"] {
            for object in [CONTACT, ACCOUNT] {
                let (found, total, _, _) = list_records(
                    db,
                    a,
                    object,
                    ListParams {
                        q: Some(q.into()),
                        ..ListParams::default()
                    },
                )
                .await
                .expect("search");
                assert!(
                    found.is_empty() && total == 0,
                    "{engine:?}: searching `{q}` in {object:?} finds nothing of B"
                );
            }
        }
        let (of_b_account, total, _, _) = list_records(
            db,
            a,
            CONTACT,
            ListParams {
                account_id: Some(w.b_account.id),
                ..ListParams::default()
            },
        )
        .await
        .expect("list by account");
        assert!(of_b_account.is_empty() && total == 0, "{engine:?}");
        refused(
            list_records(
                db,
                a,
                CONTACT,
                ListParams {
                    sort: Some("plan".into()),
                    ..ListParams::default()
                },
            )
            .await,
            "sort_unknown",
            engine,
        );
        assert_b_unchanged(db, &w, &before, engine).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn another_workspaces_fields_are_invisible_and_untouchable() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let w = world(db).await;
        let before = snapshot(db, &w).await;
        let a = &w.a_admin;
        let fields = list_fields(db, a, None).await.expect("fields");
        assert!(
            fields.iter().all(|f| f.builtin),
            "{engine:?}: A sees only its own (built-in) fields"
        );
        refused(
            get_field(db, a, CONTACT, "plan").await,
            "field_not_found",
            engine,
        );
        let retype: FieldPatch = serde_json::from_value(json!({"type": "number"})).expect("patch");
        refused(
            update_field(db, a, CONTACT, "plan", retype, NOW).await,
            "field_not_found",
            engine,
        );
        refused(
            delete_field(db, a, ACCOUNT, "tier", NOW).await,
            "field_not_found",
            engine,
        );
        refused(
            create_record(
                db,
                a,
                CONTACT,
                input(json!({"fields": {"plan": "gold"}})),
                NOW,
            )
            .await,
            "field_unknown",
            engine,
        );

        let own: NewField = serde_json::from_value(
            json!({"object": "contact", "key": "plan", "label": "Plan", "type": "text"}),
        )
        .expect("field");
        create_field(db, a, own, NOW)
            .await
            .unwrap_or_else(|e| panic!("{engine:?}: A may have a field of the same key: {e}"));
        contact(db, a, json!({"plan": "mine"})).await;
        let retype: FieldPatch =
            serde_json::from_value(json!({"type": "number", "label": "Plan no."})).expect("patch");
        let e = refused(
            update_field(db, a, CONTACT, "plan", retype, NOW).await,
            "field_values_unconvertible",
            engine,
        );
        assert_eq!(
            e.details.len(),
            1,
            "{engine:?}: only A's value is checked, not B's: {:?}",
            e.details
        );
        let relabel: FieldPatch =
            serde_json::from_value(json!({"label": "Our plan"})).expect("patch");
        update_field(db, a, CONTACT, "plan", relabel, NOW)
            .await
            .expect("relabel A's field");
        delete_field(db, a, CONTACT, "plan", NOW)
            .await
            .expect("delete A's field");
        let kept = get_record(db, &w.b_admin, CONTACT, w.b_contact.id)
            .await
            .expect("B contact");
        assert_eq!(
            kept.fields["plan"],
            json!("gold"),
            "{engine:?}: deleting A's field leaves B's values"
        );
        assert_b_unchanged(db, &w, &before, engine).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn another_workspaces_field_values_do_not_block_a_type_change() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let w = world(db).await;
        let before = snapshot(db, &w).await;
        let a = &w.a_admin;
        let own: NewField = serde_json::from_value(
            json!({"object": "contact", "key": "plan", "label": "Plan", "type": "text"}),
        )
        .expect("field");
        create_field(db, a, own, NOW).await.expect("A field");
        contact(db, a, json!({"plan": "12"})).await;
        let retype: FieldPatch = serde_json::from_value(json!({"type": "number"})).expect("patch");
        update_field(db, a, CONTACT, "plan", retype, NOW)
            .await
            .unwrap_or_else(|e| panic!("{engine:?}: only A's values count: {e}"));
        assert_b_unchanged(db, &w, &before, engine).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn another_workspaces_members_and_tokens_are_invisible_and_untouchable() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let w = world(db).await;
        let before = snapshot(db, &w).await;
        let bea = w.b_admin.user_id.expect("id");
        for a in [&w.a_admin, &w.a_system] {
            let members = list_members(db, a).await.expect("members");
            assert!(
                members.iter().all(|m| m.user_id != bea),
                "{engine:?}: B's members are not listed in A"
            );
            refused(
                set_role(db, a, bea, Role::Viewer, NOW).await,
                "member_not_found",
                engine,
            );
            refused(
                remove_member(db, a, bea, NOW).await,
                "member_not_found",
                engine,
            );
            refused(
                revoke_token(db, a, w.b_token.id, NOW).await,
                "token_not_found",
                engine,
            );
        }
        let tokens = list_tokens(db, &w.a_admin).await.expect("tokens");
        assert!(tokens.is_empty(), "{engine:?}: A lists none of B's tokens");
        let own = create_token(
            db,
            &w.a_admin,
            NewTokenRequest {
                name: "acme".into(),
                role: None,
            },
            NOW,
        )
        .await
        .expect("A token");
        let acting = token_actor(db, &own.secret, NOW)
            .await
            .expect("resolve")
            .expect("live");
        assert_eq!(
            acting.workspace_id, w.a.id,
            "{engine:?}: a token acts in its own workspace"
        );
        refused(
            get_record(db, &acting, CONTACT, w.b_contact.id).await,
            "contact_not_found",
            engine,
        );
        assert_b_unchanged(db, &w, &before, engine).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn another_workspaces_audit_is_invisible() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let w = world(db).await;
        let before = snapshot(db, &w).await;
        let b_ids: Vec<i64> = before.audit.iter().map(|e| e.id).collect();
        assert!(b_ids.len() >= 5, "{engine:?}: B has a history");
        for a in [&w.a_admin, &w.a_system] {
            let everything = audit_list(db, a, AuditParams::default())
                .await
                .expect("A audit");
            assert!(!everything.is_empty(), "{engine:?}");
            assert!(
                everything.iter().all(|e| !b_ids.contains(&e.id)),
                "{engine:?}: no entry of B in A's log"
            );
            for (object_type, object_id) in [
                ("contact", w.b_contact.id.to_string()),
                ("account", w.b_account.id.to_string()),
                ("field", "contact.plan".to_string()),
                ("token", w.b_token.id.to_string()),
                ("workspace", w.b.id.to_string()),
            ] {
                let found = audit_list(
                    db,
                    a,
                    AuditParams {
                        object_type: Some(object_type.into()),
                        object_id: Some(object_id.clone()),
                        ..AuditParams::default()
                    },
                )
                .await
                .expect("filtered");
                assert!(
                    found.is_empty(),
                    "{engine:?}: {object_type} {object_id} of B is not in A's log"
                );
            }
            let by_bea = audit_list(
                db,
                a,
                AuditParams {
                    user_id: w.b_admin.user_id,
                    ..AuditParams::default()
                },
            )
            .await
            .expect("by user");
            assert!(by_bea.is_empty(), "{engine:?}: B's member did nothing in A");
            let older = audit_list(
                db,
                a,
                AuditParams {
                    before: b_ids.iter().max().map(|m| m + 1),
                    ..AuditParams::default()
                },
            )
            .await
            .expect("paged");
            assert!(
                older.iter().all(|e| !b_ids.contains(&e.id)),
                "{engine:?}: paging does not cross over"
            );
        }
        assert_b_unchanged(db, &w, &before, engine).await;
    }
}
