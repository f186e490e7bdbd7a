//! Contacts and accounts: writing, reading, finding and listing them.

use pitcrew_app::ErrorKind;
use pitcrew_app::record::{
    ListParams, create_record, delete_record, find_record, get_record, list_records, update_record,
};
use pitcrew_app::{Actor, Db};
use pitcrew_core::admin::Role;
use pitcrew_core::record::ObjectKind;
use pitcrew_store::record::{Lookup, StoredRecord};
use serde_json::{Value, json};

use crate::{
    ACCOUNT, CONTACT, NOW, account, contact, create, input, new_workspace, patch, refused, value,
    with_role,
};

async fn listed(
    db: &Db,
    actor: &Actor,
    object: ObjectKind,
    params: ListParams,
) -> (Vec<StoredRecord>, i64) {
    let (records, total, _, _) = list_records(db, actor, object, params)
        .await
        .expect("list records");
    (records, total)
}

fn sorted_by(sort: &str) -> ListParams {
    ListParams {
        sort: Some(sort.into()),
        ..ListParams::default()
    }
}

fn ids(records: &[StoredRecord]) -> Vec<i64> {
    records.iter().map(|r| r.id).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_system_creates_reads_updates_and_deletes_a_contact() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await;
        let system = Actor::system(ws.id);

        let created = create(
            db,
            &system,
            CONTACT,
            json!({"external_id": "crm-1", "fields": {"email": "ada@example.com", "first_name": "Ada", "last_name": "Lovelace"}}),
        )
        .await;
        assert_eq!(
            value(&created, "email"),
            json!("ada@example.com"),
            "{engine:?}"
        );
        assert_eq!(created.external_id.as_deref(), Some("crm-1"), "{engine:?}");
        assert_eq!(
            value(&created, "created_at"),
            json!("2026-01-01T00:00:00.000Z"),
            "{engine:?}: pitcrew stamps the creation time"
        );

        let read = get_record(db, &system, CONTACT, created.id)
            .await
            .expect("read contact");
        assert_eq!(
            read, created,
            "{engine:?}: reading returns what was created"
        );

        let updated = update_record(
            db,
            &system,
            CONTACT,
            created.id,
            patch(json!({"fields": {"job_title": "Analyst"}})),
            NOW + 60_000,
        )
        .await
        .expect("update contact");
        assert_eq!(value(&updated, "job_title"), json!("Analyst"), "{engine:?}");
        assert_eq!(
            value(&updated, "updated_at"),
            json!("2026-01-01T00:01:00.000Z"),
            "{engine:?}: the update time moves"
        );
        assert_eq!(
            value(&updated, "created_at"),
            value(&created, "created_at"),
            "{engine:?}: the creation time stays"
        );

        delete_record(db, &system, CONTACT, created.id, NOW)
            .await
            .expect("delete contact");
        let gone = get_record(db, &system, CONTACT, created.id).await;
        let e = refused(gone, "contact_not_found", engine);
        assert_eq!(e.kind, ErrorKind::NotFound, "{engine:?}");
        refused(
            delete_record(db, &system, CONTACT, created.id, NOW).await,
            "contact_not_found",
            engine,
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn accounts_are_created_read_updated_and_deleted_like_contacts() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await;
        let system = Actor::system(ws.id);
        let created = create(
            db,
            &system,
            ACCOUNT,
            json!({"external_id": "sf-001", "fields": {"name": "Acme", "website": "Acme.com", "employees": "250", "industry": "Software"}}),
        )
        .await;
        assert_eq!(
            value(&created, "website"),
            json!("https://acme.com"),
            "{engine:?}"
        );
        assert_eq!(value(&created, "employees"), json!(250), "{engine:?}");
        assert_eq!(value(&created, "industry"), json!("software"), "{engine:?}");
        assert_eq!(
            get_record(db, &system, ACCOUNT, created.id)
                .await
                .expect("read account"),
            created,
            "{engine:?}"
        );
        let updated = update_record(
            db,
            &system,
            ACCOUNT,
            created.id,
            patch(json!({"fields": {"employees": 300}})),
            NOW,
        )
        .await
        .expect("update account");
        assert_eq!(value(&updated, "employees"), json!(300), "{engine:?}");
        assert_eq!(value(&updated, "name"), json!("Acme"), "{engine:?}");
        delete_record(db, &system, ACCOUNT, created.id, NOW)
            .await
            .expect("delete account");
        refused(
            get_record(db, &system, ACCOUNT, created.id).await,
            "account_not_found",
            engine,
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_partial_update_changes_only_what_is_sent_and_null_clears_a_value() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await;
        let system = Actor::system(ws.id);
        let ada = create(
            db,
            &system,
            CONTACT,
            json!({"external_id": "crm-1", "fields": {"email": "ada@example.com", "first_name": "Ada", "job_title": "Analyst", "company": "Acme"}}),
        )
        .await;

        let updated = update_record(
            db,
            &system,
            CONTACT,
            ada.id,
            patch(json!({"fields": {"first_name": "Augusta", "job_title": null}})),
            NOW,
        )
        .await
        .expect("update");
        assert_eq!(
            value(&updated, "first_name"),
            json!("Augusta"),
            "{engine:?}"
        );
        assert_eq!(
            value(&updated, "job_title"),
            Value::Null,
            "{engine:?}: null clears"
        );
        assert!(
            !updated.fields.contains_key("job_title"),
            "{engine:?}: a cleared value is gone, not stored as null"
        );
        assert_eq!(
            value(&updated, "company"),
            json!("Acme"),
            "{engine:?}: unsent fields stay"
        );
        assert_eq!(
            value(&updated, "email"),
            json!("ada@example.com"),
            "{engine:?}"
        );
        assert_eq!(
            updated.external_id.as_deref(),
            Some("crm-1"),
            "{engine:?}: an absent external id stays"
        );

        let cleared = update_record(
            db,
            &system,
            CONTACT,
            ada.id,
            patch(json!({"external_id": null, "fields": {"email": ""}})),
            NOW,
        )
        .await
        .expect("clear identities");
        assert_eq!(cleared.external_id, None, "{engine:?}");
        assert_eq!(value(&cleared, "email"), Value::Null, "{engine:?}");
        assert_eq!(
            get_record(db, &system, CONTACT, ada.id)
                .await
                .expect("read back"),
            cleared,
            "{engine:?}: what the update returns is what is stored"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn values_are_normalised_on_write() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await;
        let system = Actor::system(ws.id);
        let ada = contact(
            db,
            &system,
            json!({"email": "  Ada.Lovelace@Example.COM ", "country": "United Kingdom", "phone": "020 7946 0958", "lifecycle_stage": "Marketing qualified lead"}),
        )
        .await;
        assert_eq!(
            value(&ada, "email"),
            json!("ada.lovelace@example.com"),
            "{engine:?}: email trimmed and lowercased"
        );
        assert_eq!(
            value(&ada, "country"),
            json!("GB"),
            "{engine:?}: country name to ISO code"
        );
        assert_eq!(
            value(&ada, "phone"),
            json!("+442079460958"),
            "{engine:?}: national number read in the record's country"
        );
        assert_eq!(
            value(&ada, "lifecycle_stage"),
            json!("mql"),
            "{engine:?}: picklist label to value"
        );

        let us = contact(
            db,
            &system,
            json!({"country": "usa", "phone": "(415) 555-0132"}),
        )
        .await;
        assert_eq!(value(&us, "country"), json!("US"), "{engine:?}");
        assert_eq!(value(&us, "phone"), json!("+14155550132"), "{engine:?}");

        let moved = update_record(
            db,
            &system,
            CONTACT,
            us.id,
            patch(json!({"fields": {"phone": "030 123456", "country": "Germany"}})),
            NOW,
        )
        .await
        .expect("update");
        assert_eq!(
            value(&moved, "phone"),
            json!("+4930123456"),
            "{engine:?}: the country sent alongside reads the number"
        );
        let again = update_record(
            db,
            &system,
            CONTACT,
            us.id,
            patch(json!({"fields": {"phone": "089 1234567"}})),
            NOW,
        )
        .await
        .expect("update phone only");
        assert_eq!(
            value(&again, "phone"),
            json!("+49891234567"),
            "{engine:?}: the stored country reads the number"
        );
        let found = find_record(
            db,
            &system,
            CONTACT,
            Lookup::Email("ADA.LOVELACE@example.com".into()),
        )
        .await
        .expect("find by normalised email");
        assert_eq!(found.id, ada.id, "{engine:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_value_is_rejected_naming_the_field_the_value_and_the_reason() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await;
        let system = Actor::system(ws.id);
        let result = create_record(
            db,
            &system,
            CONTACT,
            input(json!({"fields": {"email": "ada.example.com"}})),
            NOW,
        )
        .await;
        let e = refused(result, "field_invalid", engine);
        assert_eq!(e.kind, ErrorKind::Invalid, "{engine:?}");
        assert_eq!(e.field.as_deref(), Some("fields.email"), "{engine:?}");
        assert_eq!(e.details.len(), 1, "{engine:?}");
        assert_eq!(e.details[0].field, "email", "{engine:?}");
        assert_eq!(
            e.details[0].value,
            Some(json!("ada.example.com")),
            "{engine:?}"
        );
        assert!(
            e.message.contains("no @"),
            "{engine:?}: the reason is given: {}",
            e.message
        );

        let ada = contact(db, &system, json!({"email": "ada@example.com"})).await;
        let result = update_record(
            db,
            &system,
            CONTACT,
            ada.id,
            patch(json!({"fields": {"country": "Atlantis"}})),
            NOW,
        )
        .await;
        let e = refused(result, "field_invalid", engine);
        assert_eq!(e.field.as_deref(), Some("fields.country"), "{engine:?}");
        assert_eq!(e.details[0].value, Some(json!("Atlantis")), "{engine:?}");
        assert!(e.message.contains("Atlantis"), "{engine:?}: {}", e.message);
        assert_eq!(
            get_record(db, &system, CONTACT, ada.id)
                .await
                .expect("read"),
            ada,
            "{engine:?}: a refused update changes nothing"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_bad_field_is_reported_at_once_and_nothing_is_stored() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await;
        let system = Actor::system(ws.id);
        let result = create_record(
            db,
            &system,
            CONTACT,
            input(json!({"fields": {"email": "nope", "country": "Narnia", "lifecyle_stage": "mql", "created_at": "2020-01-01T00:00:00Z"}})),
            NOW,
        )
        .await;
        let e = result.expect_err("several bad fields");
        let mut problems: Vec<(String, &str)> = e
            .details
            .iter()
            .map(|i| (i.field.clone(), i.code))
            .collect();
        problems.sort();
        assert_eq!(
            problems,
            [
                ("country".to_string(), "field_invalid"),
                ("created_at".to_string(), "field_read_only"),
                ("email".to_string(), "field_invalid"),
                ("lifecyle_stage".to_string(), "field_unknown"),
            ],
            "{engine:?}"
        );
        let unknown = e
            .details
            .iter()
            .find(|i| i.code == "field_unknown")
            .expect("unknown field issue");
        assert!(
            unknown.message.contains("did you mean `lifecycle_stage`"),
            "{engine:?}: {}",
            unknown.message
        );
        let (records, total) = listed(db, &system, CONTACT, ListParams::default()).await;
        assert!(records.is_empty() && total == 0, "{engine:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_account_needs_a_name() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await;
        let system = Actor::system(ws.id);
        let e = refused(
            create_record(
                db,
                &system,
                ACCOUNT,
                input(json!({"fields": {"domain": "acme.com"}})),
                NOW,
            )
            .await,
            "field_required",
            engine,
        );
        assert_eq!(e.field.as_deref(), Some("fields.name"), "{engine:?}");
        let acme = account(db, &system, json!({"name": "Acme"})).await;
        refused(
            update_record(
                db,
                &system,
                ACCOUNT,
                acme.id,
                patch(json!({"fields": {"name": "  "}})),
                NOW,
            )
            .await,
            "field_required",
            engine,
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_email_belongs_to_one_contact_per_workspace() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await;
        let system = Actor::system(ws.id);
        let ada = contact(db, &system, json!({"email": "ada@example.com"})).await;
        let e = refused(
            create_record(
                db,
                &system,
                CONTACT,
                input(json!({"fields": {"email": "ADA@example.com"}})),
                NOW,
            )
            .await,
            "email_taken",
            engine,
        );
        assert_eq!(e.kind, ErrorKind::Conflict, "{engine:?}");
        assert_eq!(e.field.as_deref(), Some("fields.email"), "{engine:?}");
        assert!(
            e.message.contains(&ada.id.to_string()),
            "{engine:?}: the message names the contact that has it: {}",
            e.message
        );

        let bob = contact(db, &system, json!({"email": "bob@example.com"})).await;
        refused(
            update_record(
                db,
                &system,
                CONTACT,
                bob.id,
                patch(json!({"fields": {"email": "ada@example.com"}})),
                NOW,
            )
            .await,
            "email_taken",
            engine,
        );
        update_record(
            db,
            &system,
            CONTACT,
            ada.id,
            patch(json!({"fields": {"email": "Ada@Example.com", "first_name": "Ada"}})),
            NOW,
        )
        .await
        .unwrap_or_else(|e| panic!("{engine:?}: a contact keeps its own email: {e}"));

        let no_email_1 = contact(db, &system, json!({"first_name": "Anon"})).await;
        let no_email_2 = contact(db, &system, json!({"first_name": "Anon"})).await;
        assert_ne!(
            no_email_1.id, no_email_2.id,
            "{engine:?}: contacts without an email do not collide"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_same_email_is_allowed_in_another_workspace() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let acme = new_workspace(db, "acme").await;
        let globex = new_workspace(db, "globex").await;
        let a = contact(
            db,
            &Actor::system(acme.id),
            json!({"email": "ada@example.com"}),
        )
        .await;
        let b = create_record(
            db,
            &Actor::system(globex.id),
            CONTACT,
            input(json!({"external_id": "same", "fields": {"email": "ada@example.com"}})),
            NOW,
        )
        .await
        .unwrap_or_else(|e| panic!("{engine:?}: another workspace may have the email: {e}"));
        assert_ne!(a.id, b.id, "{engine:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_external_id_belongs_to_one_record_per_object() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await;
        let system = Actor::system(ws.id);
        create(db, &system, CONTACT, json!({"external_id": " crm-1 "})).await;
        let e = refused(
            create_record(
                db,
                &system,
                CONTACT,
                input(json!({"external_id": "crm-1"})),
                NOW,
            )
            .await,
            "external_id_taken",
            engine,
        );
        assert_eq!(e.field.as_deref(), Some("external_id"), "{engine:?}");
        let other = create(db, &system, CONTACT, json!({"external_id": "crm-2"})).await;
        refused(
            update_record(
                db,
                &system,
                CONTACT,
                other.id,
                patch(json!({"external_id": "crm-1"})),
                NOW,
            )
            .await,
            "external_id_taken",
            engine,
        );

        create(
            db,
            &system,
            ACCOUNT,
            json!({"external_id": "crm-1", "fields": {"name": "Acme"}}),
        )
        .await;
        refused(
            create_record(
                db,
                &system,
                ACCOUNT,
                input(json!({"external_id": "crm-1", "fields": {"name": "Acme 2"}})),
                NOW,
            )
            .await,
            "external_id_taken",
            engine,
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn records_are_found_by_email_and_by_external_id() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await;
        let system = Actor::system(ws.id);
        let ada = create(
            db,
            &system,
            CONTACT,
            json!({"external_id": "crm-1", "fields": {"email": "ada@example.com"}}),
        )
        .await;
        let acme = create(
            db,
            &system,
            ACCOUNT,
            json!({"external_id": "sf-1", "fields": {"name": "Acme"}}),
        )
        .await;
        let viewer = with_role(&ws, Role::Viewer);

        let by_email = find_record(
            db,
            &viewer,
            CONTACT,
            Lookup::Email(" Ada@Example.com ".into()),
        )
        .await
        .expect("find by email");
        assert_eq!(by_email, ada, "{engine:?}");
        let by_external = find_record(db, &viewer, CONTACT, Lookup::ExternalId("crm-1".into()))
            .await
            .expect("find by external id");
        assert_eq!(by_external, ada, "{engine:?}");
        let account = find_record(db, &viewer, ACCOUNT, Lookup::ExternalId(" sf-1".into()))
            .await
            .expect("find account by external id");
        assert_eq!(account, acme, "{engine:?}");

        refused(
            find_record(
                db,
                &viewer,
                CONTACT,
                Lookup::Email("bob@example.com".into()),
            )
            .await,
            "contact_not_found",
            engine,
        );
        refused(
            find_record(db, &viewer, ACCOUNT, Lookup::ExternalId("crm-1".into())).await,
            "account_not_found",
            engine,
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_contact_links_to_an_account_of_its_own_workspace_only() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await;
        let other = new_workspace(db, "globex").await;
        let system = Actor::system(ws.id);
        let acme = account(db, &system, json!({"name": "Acme"})).await;
        let theirs = account(db, &Actor::system(other.id), json!({"name": "Globex"})).await;

        let ada = create(
            db,
            &system,
            CONTACT,
            json!({"account_id": acme.id, "fields": {"email": "ada@acme.com"}}),
        )
        .await;
        assert_eq!(ada.account_id, Some(acme.id), "{engine:?}");

        let e = refused(
            create_record(
                db,
                &system,
                CONTACT,
                input(json!({"account_id": theirs.id, "fields": {"email": "bob@acme.com"}})),
                NOW,
            )
            .await,
            "account_not_found",
            engine,
        );
        assert_eq!(e.field.as_deref(), Some("account_id"), "{engine:?}");
        refused(
            update_record(
                db,
                &system,
                CONTACT,
                ada.id,
                patch(json!({"account_id": theirs.id})),
                NOW,
            )
            .await,
            "account_not_found",
            engine,
        );
        refused(
            create_record(
                db,
                &system,
                ACCOUNT,
                input(json!({"account_id": acme.id, "fields": {"name": "Sub"}})),
                NOW,
            )
            .await,
            "account_id_not_allowed",
            engine,
        );

        let unlinked = update_record(
            db,
            &system,
            CONTACT,
            ada.id,
            patch(json!({"account_id": null})),
            NOW,
        )
        .await
        .expect("unlink");
        assert_eq!(unlinked.account_id, None, "{engine:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn deleting_an_account_unlinks_its_contacts() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await;
        let system = Actor::system(ws.id);
        let acme = account(db, &system, json!({"name": "Acme"})).await;
        let keep = account(db, &system, json!({"name": "Other"})).await;
        let ada = create(db, &system, CONTACT, json!({"account_id": acme.id})).await;
        let bob = create(db, &system, CONTACT, json!({"account_id": keep.id})).await;

        delete_record(db, &system, ACCOUNT, acme.id, NOW)
            .await
            .expect("delete account");
        let ada = get_record(db, &system, CONTACT, ada.id)
            .await
            .expect("the contact stays");
        assert_eq!(ada.account_id, None, "{engine:?}");
        let bob = get_record(db, &system, CONTACT, bob.id)
            .await
            .expect("read");
        assert_eq!(
            bob.account_id,
            Some(keep.id),
            "{engine:?}: other links stay"
        );
        let params = pitcrew_app::audit::AuditParams {
            object_type: Some("account".into()),
            object_id: Some(acme.id.to_string()),
            ..Default::default()
        };
        let entries = pitcrew_app::audit::list(db, &system, params)
            .await
            .expect("audit");
        assert_eq!(entries[0].action, "delete", "{engine:?}");
        assert_eq!(
            entries[0].changes["contacts_unlinked"], 1,
            "{engine:?}: the audit says how many contacts lost their account"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn roles_decide_who_reads_writes_and_deletes_records() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await;
        let viewer = with_role(&ws, Role::Viewer);
        let marketer = with_role(&ws, Role::Marketer);
        let builder = with_role(&ws, Role::Builder);
        let admin = with_role(&ws, Role::Admin);

        let e = refused(
            create_record(db, &viewer, CONTACT, input(json!({})), NOW).await,
            "forbidden",
            engine,
        );
        assert_eq!(e.kind, ErrorKind::Forbidden, "{engine:?}");

        let ada = contact(db, &marketer, json!({"email": "ada@example.com"})).await;
        let read = get_record(db, &viewer, CONTACT, ada.id)
            .await
            .expect("a viewer reads");
        assert_eq!(read, ada, "{engine:?}");
        refused(
            update_record(
                db,
                &viewer,
                CONTACT,
                ada.id,
                patch(json!({"fields": {"first_name": "X"}})),
                NOW,
            )
            .await,
            "forbidden",
            engine,
        );
        update_record(
            db,
            &builder,
            CONTACT,
            ada.id,
            patch(json!({"fields": {"first_name": "Ada"}})),
            NOW,
        )
        .await
        .expect("a builder writes");
        for who in [&viewer, &marketer, &builder] {
            refused(
                delete_record(db, who, CONTACT, ada.id, NOW).await,
                "forbidden",
                engine,
            );
        }
        get_record(db, &viewer, CONTACT, ada.id)
            .await
            .expect("still there after refused deletes");
        delete_record(db, &admin, CONTACT, ada.id, NOW)
            .await
            .expect("an admin deletes");
        let (_, total) = listed(db, &viewer, CONTACT, ListParams::default()).await;
        assert_eq!(total, 0, "{engine:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn listing_pages_through_records_with_a_total() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await;
        let system = Actor::system(ws.id);
        let mut created = Vec::new();
        for i in 0..5 {
            created.push(
                contact(db, &system, json!({"email": format!("c{i}@example.com")}))
                    .await
                    .id,
            );
        }
        let (first, total) = listed(db, &system, CONTACT, ListParams::default()).await;
        let newest_first: Vec<i64> = created.iter().rev().copied().collect();
        assert_eq!(
            ids(&first),
            newest_first,
            "{engine:?}: default order is newest first"
        );
        assert_eq!(total, 5, "{engine:?}");

        let page = |offset| ListParams {
            sort: Some("id".into()),
            limit: Some(2),
            offset: Some(offset),
            ..ListParams::default()
        };
        let mut seen = Vec::new();
        for offset in [0, 2, 4] {
            let (records, total, limit, off) = list_records(db, &system, CONTACT, page(offset))
                .await
                .expect("page");
            assert_eq!((total, limit, off), (5, 2, offset), "{engine:?}");
            assert!(records.len() <= 2, "{engine:?}");
            seen.extend(ids(&records));
        }
        assert_eq!(
            seen, created,
            "{engine:?}: pages cover every record once, in order"
        );
        let (beyond, total) = listed(db, &system, CONTACT, page(10)).await;
        assert!(beyond.is_empty(), "{engine:?}");
        assert_eq!(
            total, 5,
            "{engine:?}: the total does not depend on the page"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn listing_sorts_by_a_builtin_field_in_either_direction() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await;
        let system = Actor::system(ws.id);
        for name in ["Baker", "Adams", "Clark"] {
            contact(
                db,
                &system,
                json!({"last_name": name, "email": format!("{}@example.com", name.to_lowercase())}),
            )
            .await;
        }
        let names = |records: Vec<StoredRecord>| -> Vec<Value> {
            records.iter().map(|r| value(r, "last_name")).collect()
        };
        let (asc, _) = listed(db, &system, CONTACT, sorted_by("last_name")).await;
        assert_eq!(
            names(asc),
            [json!("Adams"), json!("Baker"), json!("Clark")],
            "{engine:?}"
        );
        let (desc, _) = listed(db, &system, CONTACT, sorted_by("-last_name")).await;
        assert_eq!(
            names(desc),
            [json!("Clark"), json!("Baker"), json!("Adams")],
            "{engine:?}"
        );
        let (by_email, _) = listed(db, &system, CONTACT, sorted_by("-email")).await;
        assert_eq!(
            names(by_email),
            [json!("Clark"), json!("Baker"), json!("Adams")],
            "{engine:?}: email sorts too"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn listing_sorts_numbers_by_value_not_as_text() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await;
        let system = Actor::system(ws.id);
        pitcrew_app::record::create_field(
            db,
            &system,
            serde_json::from_value(
                json!({"object": "contact", "key": "score", "label": "Score", "type": "number"}),
            )
            .expect("field"),
            NOW,
        )
        .await
        .expect("create number field");
        for score in ["10", "9", "100", "9.5", "-1"] {
            contact(db, &system, json!({"score": score})).await;
        }
        let scores = |records: Vec<StoredRecord>| -> Vec<Value> {
            records.iter().map(|r| value(r, "score")).collect()
        };
        let (asc, _) = listed(db, &system, CONTACT, sorted_by("score")).await;
        assert_eq!(
            scores(asc),
            [json!(-1), json!(9), json!(9.5), json!(10), json!(100)],
            "{engine:?}: 9 < 10"
        );
        let (desc, _) = listed(db, &system, CONTACT, sorted_by("-score")).await;
        assert_eq!(
            scores(desc),
            [json!(100), json!(10), json!(9.5), json!(9), json!(-1)],
            "{engine:?}"
        );

        let (accounts_by_size, _) = {
            for (name, employees) in [("Big", 1200), ("Small", 80), ("Mid", 400)] {
                account(db, &system, json!({"name": name, "employees": employees})).await;
            }
            listed(db, &system, ACCOUNT, sorted_by("employees")).await
        };
        let sizes: Vec<Value> = accounts_by_size
            .iter()
            .map(|r| value(r, "employees"))
            .collect();
        assert_eq!(
            sizes,
            [json!(80), json!(400), json!(1200)],
            "{engine:?}: builtin number field"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn records_without_a_value_sort_last_in_both_directions() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await;
        let system = Actor::system(ws.id);
        let none_1 = contact(db, &system, json!({"first_name": "None1"})).await;
        let b = contact(db, &system, json!({"last_name": "B"})).await;
        let none_2 = contact(db, &system, json!({"first_name": "None2"})).await;
        let a = contact(db, &system, json!({"last_name": "A"})).await;

        let (asc, _) = listed(db, &system, CONTACT, sorted_by("last_name")).await;
        assert_eq!(
            ids(&asc),
            [a.id, b.id, none_1.id, none_2.id],
            "{engine:?}: ascending, missing last (ties by id)"
        );
        let (desc, _) = listed(db, &system, CONTACT, sorted_by("-last_name")).await;
        assert_eq!(
            ids(&desc),
            [b.id, a.id, none_2.id, none_1.id],
            "{engine:?}: descending, missing still last"
        );
        let (by_external, _) = listed(db, &system, CONTACT, sorted_by("-external_id")).await;
        assert_eq!(
            by_external.len(),
            4,
            "{engine:?}: external id sorts even when absent"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn search_finds_records_by_email_name_company_or_external_id() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await;
        let system = Actor::system(ws.id);
        let ada = create(
            db,
            &system,
            CONTACT,
            json!({"external_id": "CRM-7", "fields": {"email": "ada@analytical.org", "first_name": "Ada", "last_name": "Lovelace", "company": "Engines Ltd"}}),
        )
        .await;
        let bob = contact(
            db,
            &system,
            json!({"email": "bob@builder.com", "first_name": "Bob", "company": "100% Builders"}),
        )
        .await;
        let under = contact(db, &system, json!({"email": "snake_case@example.com"})).await;
        let search = |q: &str| ListParams {
            q: Some(q.into()),
            sort: Some("id".into()),
            ..ListParams::default()
        };
        for (q, expected) in [
            ("ANALYTICAL", vec![ada.id]),
            ("lovelace", vec![ada.id]),
            ("engines", vec![ada.id]),
            ("crm-7", vec![ada.id]),
            ("bob", vec![bob.id]),
            ("100%", vec![bob.id]),
            ("_", vec![under.id]),
            ("%", vec![bob.id]),
            ("nobody", vec![]),
            ("  ", vec![ada.id, bob.id, under.id]),
        ] {
            let (records, total) = listed(db, &system, CONTACT, search(q)).await;
            assert_eq!(ids(&records), expected, "{engine:?}: search `{q}`");
            assert_eq!(
                total,
                i64::try_from(expected.len()).expect("small"),
                "{engine:?}: total for `{q}`"
            );
        }

        let acme = account(
            db,
            &system,
            json!({"name": "Acme Rockets", "domain": "acme.io"}),
        )
        .await;
        account(db, &system, json!({"name": "Globex"})).await;
        let (found, _) = listed(db, &system, ACCOUNT, search("rocket")).await;
        assert_eq!(ids(&found), [acme.id], "{engine:?}: accounts by name");
        let (found, _) = listed(db, &system, ACCOUNT, search("ACME.IO")).await;
        assert_eq!(ids(&found), [acme.id], "{engine:?}: accounts by domain");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn listing_contacts_of_one_account() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await;
        let system = Actor::system(ws.id);
        let acme = account(db, &system, json!({"name": "Acme"})).await;
        let ada = create(db, &system, CONTACT, json!({"account_id": acme.id})).await;
        contact(db, &system, json!({"first_name": "Loner"})).await;
        let (records, total) = listed(
            db,
            &system,
            CONTACT,
            ListParams {
                account_id: Some(acme.id),
                ..ListParams::default()
            },
        )
        .await;
        assert_eq!((ids(&records), total), (vec![ada.id], 1), "{engine:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sorting_by_an_unknown_field_is_refused_with_a_suggestion() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await;
        let system = Actor::system(ws.id);
        let e = refused(
            list_records(db, &system, CONTACT, sorted_by("-lastname")).await,
            "sort_unknown",
            engine,
        );
        assert_eq!(e.field.as_deref(), Some("sort"), "{engine:?}");
        assert!(
            e.message.contains("did you mean `last_name`"),
            "{engine:?}: {}",
            e.message
        );
        let e = refused(
            list_records(db, &system, CONTACT, sorted_by("zzzzzzzz")).await,
            "sort_unknown",
            engine,
        );
        assert!(
            !e.message.contains("did you mean"),
            "{engine:?}: {}",
            e.message
        );
        refused(
            list_records(db, &system, ACCOUNT, sorted_by("email")).await,
            "sort_unknown",
            engine,
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_page_size_outside_1_to_500_or_a_negative_offset_is_refused() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await;
        let system = Actor::system(ws.id);
        for limit in [0, -1, 501] {
            let e = refused(
                list_records(
                    db,
                    &system,
                    CONTACT,
                    ListParams {
                        limit: Some(limit),
                        ..ListParams::default()
                    },
                )
                .await,
                "limit_invalid",
                engine,
            );
            assert_eq!(e.field.as_deref(), Some("limit"), "{engine:?}");
        }
        for limit in [1, 500] {
            list_records(
                db,
                &system,
                CONTACT,
                ListParams {
                    limit: Some(limit),
                    ..ListParams::default()
                },
            )
            .await
            .unwrap_or_else(|e| panic!("{engine:?}: limit {limit} is allowed: {e}"));
        }
        refused(
            list_records(
                db,
                &system,
                CONTACT,
                ListParams {
                    offset: Some(-1),
                    ..ListParams::default()
                },
            )
            .await,
            "offset_invalid",
            engine,
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn search_ignores_case_of_accented_letters_too() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await;
        let system = Actor::system(ws.id);
        let ozil = contact(
            db,
            &system,
            json!({"last_name": "Özil", "company": "Éclair GmbH"}),
        )
        .await;
        for q in ["Özil", "özil", "éclair", "ÉCLAIR"] {
            let (found, _) = listed(
                db,
                &system,
                CONTACT,
                ListParams {
                    q: Some(q.into()),
                    ..ListParams::default()
                },
            )
            .await;
            assert_eq!(ids(&found), [ozil.id], "{engine:?}: search `{q}`");
        }
    }
}
