//! Contacts, accounts and audit entries as the store keeps them.

use pitcrew_core::admin::ObjectType;
use pitcrew_core::record::ObjectKind;
use pitcrew_store::StoreError;
use pitcrew_store::audit::{self, AuditQuery, Change};
use pitcrew_store::record::{
    self as repo, Identity, ListQuery, Lookup, field_values, get_record, insert_record,
    list_records, remove_field_values,
};
use serde_json::{Value, json};

use crate::{NOW, obj, workspace};

fn list(sort: &str, descending: bool) -> ListQuery {
    ListQuery {
        search: None,
        sort: sort.into(),
        descending,
        limit: 100,
        offset: 0,
        account_id: None,
        condition: None,
    }
}

#[tokio::test]
async fn field_values_round_trip_with_their_json_types() {
    for t in pitcrew_testkit::each_engine().await {
        let engine = t.engine();
        let db = &t.db;
        let ws = workspace(db, "acme").await;
        let fields = obj(json!({
            "email": "ada@example.com",
            "first_name": "Ada ✓ Lovelace",
            "score": 42,
            "ratio": 0.25,
            "vip": true,
            "churned": false,
            "tags": ["a", "b"],
            "note": "it's \"quoted\" \\ and 100%",
        }));
        let created = insert_record(
            db.conn(),
            ws,
            ObjectKind::Contact,
            &Identity {
                external_id: Some("crm-1".into()),
                account_id: None,
            },
            &fields,
            NOW,
        )
        .await
        .expect("insert contact");
        let read = get_record(db.conn(), ws, ObjectKind::Contact, created.id, false)
            .await
            .expect("read contact")
            .expect("contact exists");
        assert_eq!(read, created, "{engine:?}: what was written reads back");
        for (key, value) in &fields {
            assert_eq!(read.fields.get(key), Some(value), "{engine:?}: `{key}`");
        }
        assert_eq!(read.external_id.as_deref(), Some("crm-1"), "{engine:?}");
        assert_eq!(
            read.fields["created_at"],
            json!("2026-01-01T00:00:00.000Z"),
            "{engine:?}: times read as RFC 3339 UTC"
        );
    }
}

#[tokio::test]
async fn field_values_keep_each_values_json_type() {
    for t in pitcrew_testkit::each_engine().await {
        let engine = t.engine();
        let db = &t.db;
        let ws = workspace(db, "acme").await;
        let mut ids = Vec::new();
        for value in [
            json!(true),
            json!(false),
            json!(7),
            json!(2.5),
            json!("42"),
            json!(["x", "y"]),
        ] {
            let r = insert_record(
                db.conn(),
                ws,
                ObjectKind::Contact,
                &Identity::default(),
                &obj(json!({ "thing": value, "country": "DE" })),
                NOW,
            )
            .await
            .expect("insert");
            ids.push((r.id, value));
        }
        insert_record(
            db.conn(),
            ws,
            ObjectKind::Contact,
            &Identity::default(),
            &obj(json!({ "other": 1 })),
            NOW,
        )
        .await
        .expect("insert without the field");
        let values = field_values(db.conn(), ws, ObjectKind::Contact, "thing")
            .await
            .expect("field values");
        let got: Vec<(i64, Value)> = values.iter().map(|(id, v, _)| (*id, v.clone())).collect();
        assert_eq!(
            got, ids,
            "{engine:?}: values come back as stored, records without one are left out"
        );
        assert!(
            values.iter().all(|(_, _, c)| c.as_deref() == Some("DE")),
            "{engine:?}: each value comes with the record's country"
        );
    }
}

#[tokio::test]
async fn rows_of_another_workspace_are_invisible_to_the_store() {
    for t in pitcrew_testkit::each_engine().await {
        let engine = t.engine();
        let db = &t.db;
        let a = workspace(db, "acme").await;
        let b = workspace(db, "globex").await;
        let theirs = insert_record(
            db.conn(),
            b,
            ObjectKind::Contact,
            &Identity {
                external_id: Some("x-1".into()),
                account_id: None,
            },
            &obj(json!({"email": "bea@globex.com", "plan": "gold"})),
            NOW,
        )
        .await
        .expect("insert in B");

        let got = get_record(db.conn(), a, ObjectKind::Contact, theirs.id, false)
            .await
            .expect("get");
        assert_eq!(got, None, "{engine:?}: get by id");
        for lookup in [
            Lookup::Email("bea@globex.com".into()),
            Lookup::ExternalId("x-1".into()),
        ] {
            let found = repo::find_record(db.conn(), a, ObjectKind::Contact, &lookup)
                .await
                .expect("find");
            assert_eq!(found, None, "{engine:?}: {lookup:?}");
        }
        let (rows, total) = list_records(db.conn(), a, ObjectKind::Contact, &list("id", false))
            .await
            .expect("list");
        assert!(rows.is_empty() && total == 0, "{engine:?}: list");
        repo::update_record(
            db.conn(),
            a,
            ObjectKind::Contact,
            theirs.id,
            &Identity::default(),
            &obj(json!({"email": "mine@acme.com"})),
            NOW + 1,
        )
        .await
        .expect("update");
        let (deleted, _) = repo::delete_record(db.conn(), a, ObjectKind::Contact, theirs.id)
            .await
            .expect("delete");
        assert!(!deleted, "{engine:?}: delete reports nothing deleted");
        remove_field_values(db.conn(), a, ObjectKind::Contact, "plan")
            .await
            .expect("remove values");

        let after = get_record(db.conn(), b, ObjectKind::Contact, theirs.id, false)
            .await
            .expect("get in B");
        assert_eq!(after, Some(theirs), "{engine:?}: B's contact is untouched");
    }
}

#[tokio::test]
async fn a_duplicate_email_or_external_id_in_a_workspace_is_a_unique_violation() {
    for t in pitcrew_testkit::each_engine().await {
        let engine = t.engine();
        let db = &t.db;
        let a = workspace(db, "acme").await;
        let b = workspace(db, "globex").await;
        let insert = |ws: i64, email: Option<&str>, external: Option<&str>| {
            let fields = match email {
                Some(e) => obj(json!({ "email": e })),
                None => obj(json!({})),
            };
            let identity = Identity {
                external_id: external.map(str::to_string),
                account_id: None,
            };
            async move {
                insert_record(db.conn(), ws, ObjectKind::Contact, &identity, &fields, NOW).await
            }
        };
        insert(a, Some("ada@example.com"), Some("crm-1"))
            .await
            .expect("first");
        let dup = insert(a, Some("ada@example.com"), None).await;
        assert!(
            matches!(dup, Err(StoreError::Unique { .. })),
            "{engine:?}: duplicate email gives {dup:?}"
        );
        let dup = insert(a, None, Some("crm-1")).await;
        assert!(
            matches!(dup, Err(StoreError::Unique { .. })),
            "{engine:?}: duplicate external id gives {dup:?}"
        );
        insert(b, Some("ada@example.com"), Some("crm-1"))
            .await
            .unwrap_or_else(|e| panic!("{engine:?}: another workspace may reuse both: {e}"));
        insert(a, None, None).await.expect("no email");
        insert(a, None, None)
            .await
            .unwrap_or_else(|e| panic!("{engine:?}: many contacts may lack an email: {e}"));
    }
}

#[tokio::test]
async fn a_contact_cannot_reference_an_account_of_another_workspace() {
    for t in pitcrew_testkit::each_engine().await {
        let engine = t.engine();
        let db = &t.db;
        let a = workspace(db, "acme").await;
        let b = workspace(db, "globex").await;
        let theirs = insert_record(
            db.conn(),
            b,
            ObjectKind::Account,
            &Identity::default(),
            &obj(json!({"name": "Globex"})),
            NOW,
        )
        .await
        .expect("account in B");
        let linked = insert_record(
            db.conn(),
            a,
            ObjectKind::Contact,
            &Identity {
                external_id: None,
                account_id: Some(theirs.id),
            },
            &obj(json!({"email": "ada@acme.com"})),
            NOW,
        )
        .await;
        assert!(
            matches!(linked, Err(StoreError::ForeignKey)),
            "{engine:?}: the database itself refuses, got {linked:?}"
        );
    }
}

#[tokio::test]
async fn deleting_an_account_unlinks_its_contacts() {
    for t in pitcrew_testkit::each_engine().await {
        let engine = t.engine();
        let db = &t.db;
        let ws = workspace(db, "acme").await;
        let account = insert_record(
            db.conn(),
            ws,
            ObjectKind::Account,
            &Identity::default(),
            &obj(json!({"name": "Acme"})),
            NOW,
        )
        .await
        .expect("account");
        let contact = insert_record(
            db.conn(),
            ws,
            ObjectKind::Contact,
            &Identity {
                external_id: None,
                account_id: Some(account.id),
            },
            &obj(json!({"email": "ada@acme.com"})),
            NOW,
        )
        .await
        .expect("contact");
        assert_eq!(
            repo::delete_record(db.conn(), ws, ObjectKind::Account, account.id)
                .await
                .expect("delete account"),
            (true, 1),
            "{engine:?}: the account is gone and its one contact unlinked"
        );
        let after = get_record(db.conn(), ws, ObjectKind::Contact, contact.id, false)
            .await
            .expect("get")
            .expect("the contact stays");
        assert_eq!(after.account_id, None, "{engine:?}");
    }
}

#[tokio::test]
async fn listing_sorts_missing_values_last_in_both_directions() {
    for t in pitcrew_testkit::each_engine().await {
        let engine = t.engine();
        let db = &t.db;
        let ws = workspace(db, "acme").await;
        let mut by_score = Vec::new();
        for score in [json!(10), Value::Null, json!(9), json!(100), json!(2.5)] {
            let fields = if score.is_null() {
                obj(json!({}))
            } else {
                obj(json!({ "score": score }))
            };
            let r = insert_record(
                db.conn(),
                ws,
                ObjectKind::Contact,
                &Identity::default(),
                &fields,
                NOW,
            )
            .await
            .expect("insert");
            by_score.push(r.fields.get("score").cloned().unwrap_or(Value::Null));
        }
        let order = |descending| async move {
            let (rows, _) = list_records(
                db.conn(),
                ws,
                ObjectKind::Contact,
                &list("score", descending),
            )
            .await
            .expect("list");
            rows.iter()
                .map(|r| r.fields.get("score").cloned().unwrap_or(Value::Null))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            order(false).await,
            [json!(2.5), json!(9), json!(10), json!(100), Value::Null],
            "{engine:?}: ascending"
        );
        assert_eq!(
            order(true).await,
            [json!(100), json!(10), json!(9), json!(2.5), Value::Null],
            "{engine:?}: descending"
        );
    }
}

#[tokio::test]
async fn the_audit_log_reads_newest_first_and_pages_before_an_entry() {
    for t in pitcrew_testkit::each_engine().await {
        let engine = t.engine();
        let db = &t.db;
        let ws = workspace(db, "acme").await;
        let other = workspace(db, "globex").await;
        let actor = audit::Actor {
            user_id: Some(7),
            token_id: None,
            label: "ada@acme.com".into(),
        };
        for (i, w) in [ws, ws, other, ws].into_iter().enumerate() {
            audit::record(
                db.conn(),
                w,
                &actor,
                Change {
                    action: "update",
                    object_type: ObjectType::Contact,
                    object_id: i.to_string(),
                    changes: json!({"before": {"n": i}, "after": {"n": i + 1}}),
                },
                NOW + i64::try_from(i).expect("small"),
            )
            .await
            .expect("record");
        }
        let q = AuditQuery {
            limit: 2,
            ..AuditQuery::default()
        };
        let first = audit::list(db.conn(), ws, &q).await.expect("first page");
        let ids: Vec<&str> = first.iter().map(|e| e.object_id.as_str()).collect();
        assert_eq!(
            ids,
            ["3", "1"],
            "{engine:?}: newest first, own workspace only"
        );
        assert_eq!(first[0].changes["after"]["n"], json!(4), "{engine:?}");
        assert_eq!(first[0].actor_user_id, Some(7), "{engine:?}");
        let next = audit::list(
            db.conn(),
            ws,
            &AuditQuery {
                before_id: Some(first[1].id),
                ..q.clone()
            },
        )
        .await
        .expect("next page");
        let ids: Vec<&str> = next.iter().map(|e| e.object_id.as_str()).collect();
        assert_eq!(ids, ["0"], "{engine:?}: the next page continues");
    }
}
