//! The data model standard: custom fields, their rules, and changing them
//! while records hold values.

use pitcrew_app::record::{
    FieldPatch, NewField, create_field, create_record, delete_field, get_field, get_record,
    list_fields, update_field, update_record,
};
use pitcrew_app::{Actor, Db, ErrorKind};
use pitcrew_core::admin::Role;
use pitcrew_core::record::{FieldDef, FieldType, ObjectKind};
use serde_json::{Value, json};

use crate::{
    ACCOUNT, CONTACT, NOW, account, contact, input, new_workspace, patch, refused, value, with_role,
};

/// A new field, written as the API receives it.
fn new_field(v: Value) -> NewField {
    serde_json::from_value(v).expect("a valid new field")
}

/// Changes to a field, written as the API receives them.
fn field_patch(v: Value) -> FieldPatch {
    serde_json::from_value(v).expect("a valid field patch")
}

async fn add_field(db: &Db, actor: &Actor, v: Value) -> FieldDef {
    create_field(db, actor, new_field(v), NOW)
        .await
        .expect("create field")
}

fn options(values: &[&str]) -> Value {
    Value::Array(
        values
            .iter()
            .map(|v| json!({"value": v, "label": v.to_uppercase()}))
            .collect(),
    )
}

async fn stored_value(db: &Db, actor: &Actor, object: ObjectKind, id: i64, key: &str) -> Value {
    let r = get_record(db, actor, object, id)
        .await
        .expect("read record");
    value(&r, key)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_custom_field_of_every_type_stores_normalised_values() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await;
        let system = Actor::system(ws.id);
        let cases = [
            (FieldType::Text, json!("  hello  "), json!("hello")),
            (FieldType::Number, json!("1250.50"), json!(1250.5)),
            (FieldType::Boolean, json!("yes"), json!(true)),
            (FieldType::Date, json!("2026-03-31"), json!("2026-03-31")),
            (
                FieldType::Datetime,
                json!("2026-02-28T23:30:00-02:00"),
                json!("2026-03-01T01:30:00.000Z"),
            ),
            (
                FieldType::Email,
                json!("Ops@Acme.COM"),
                json!("ops@acme.com"),
            ),
            (
                FieldType::Phone,
                json!("+49 30 123456"),
                json!("+4930123456"),
            ),
            (
                FieldType::Url,
                json!("Acme.com/Pricing"),
                json!("https://acme.com/Pricing"),
            ),
            (FieldType::Picklist, json!("GOLD"), json!("gold")),
            (
                FieldType::MultiPicklist,
                json!("silver; gold"),
                json!(["gold", "silver"]),
            ),
            (FieldType::Country, json!("Germany"), json!("DE")),
        ];
        assert_eq!(cases.len(), FieldType::ALL.len(), "every type is covered");
        let mut sent = serde_json::Map::new();
        for (field_type, raw, _) in &cases {
            let key = format!("my_{}", field_type.as_str());
            let mut def = json!({"object": "contact", "key": key, "label": format!("My {}", field_type.as_str()), "type": field_type});
            if field_type.has_options() {
                def["options"] = options(&["gold", "silver"]);
            }
            let created = add_field(db, &system, def).await;
            assert_eq!(created.field_type, *field_type, "{engine:?}");
            assert!(!created.builtin, "{engine:?}");
            sent.insert(key, raw.clone());
        }
        let stored = get_field(db, &system, CONTACT, "my_picklist")
            .await
            .expect("read field");
        assert_eq!(
            stored.options[0].label, "GOLD",
            "{engine:?}: options are stored with their labels"
        );

        let r = crate::create(db, &system, CONTACT, json!({ "fields": sent })).await;
        let r = get_record(db, &system, CONTACT, r.id)
            .await
            .expect("read back");
        for (field_type, raw, expected) in &cases {
            let key = format!("my_{}", field_type.as_str());
            assert_eq!(
                value(&r, &key),
                *expected,
                "{engine:?}: a {} field stores {raw} as {expected}",
                field_type.as_str()
            );
        }

        let listed = list_fields(db, &with_role(&ws, Role::Viewer), Some(CONTACT))
            .await
            .expect("list fields");
        let keys: Vec<&str> = listed.iter().map(|f| f.key.as_str()).collect();
        assert_eq!(keys[0], "email", "{engine:?}: built-in fields come first");
        assert_eq!(
            &keys[keys.len() - cases.len()..],
            cases
                .iter()
                .map(|(ft, _, _)| format!("my_{}", ft.as_str()))
                .collect::<Vec<_>>(),
            "{engine:?}: custom fields follow in the order they were added"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn field_keys_must_be_snake_case_and_not_reserved() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await;
        let system = Actor::system(ws.id);
        for key in [
            "Annual_budget",
            "annual budget",
            "2fast",
            "with-dash",
            "",
            "id",
            "external_id",
            "account_id",
        ] {
            let e = refused(
                create_field(
                    db,
                    &system,
                    new_field(
                        json!({"object": "contact", "key": key, "label": "X", "type": "text"}),
                    ),
                    NOW,
                )
                .await,
                "field_key_invalid",
                engine,
            );
            assert_eq!(e.field.as_deref(), Some("key"), "{engine:?}: key `{key}`");
        }
        let e = refused(
            create_field(
                db,
                &system,
                new_field(
                    json!({"object": "contact", "key": "ok_key", "label": "  ", "type": "text"}),
                ),
                NOW,
            )
            .await,
            "field_label_invalid",
            engine,
        );
        assert_eq!(e.field.as_deref(), Some("label"), "{engine:?}");
        add_field(
            db,
            &system,
            json!({"object": "contact", "key": "annual_budget_2026", "label": "Budget", "type": "number"}),
        )
        .await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_field_key_exists_only_once_per_object() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await;
        let system = Actor::system(ws.id);
        add_field(
            db,
            &system,
            json!({"object": "contact", "key": "plan", "label": "Plan", "type": "text"}),
        )
        .await;
        for key in ["plan", "email"] {
            let e = refused(
                create_field(
                    db,
                    &system,
                    new_field(json!({"object": "contact", "key": key, "label": "Again", "type": "number"})),
                    NOW,
                )
                .await,
                "field_exists",
                engine,
            );
            assert_eq!(e.kind, ErrorKind::Conflict, "{engine:?}");
        }
        let on_account = add_field(
            db,
            &system,
            json!({"object": "account", "key": "plan", "label": "Plan", "type": "number"}),
        )
        .await;
        assert_eq!(
            on_account.object, ACCOUNT,
            "{engine:?}: accounts have their own keys"
        );
        let contact_plan = get_field(db, &system, CONTACT, "plan")
            .await
            .expect("contact field");
        assert_eq!(
            contact_plan.field_type,
            FieldType::Text,
            "{engine:?}: unchanged"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_picklist_needs_options_and_only_picklists_have_them() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await;
        let system = Actor::system(ws.id);
        for field_type in ["picklist", "multi_picklist"] {
            let e = refused(
                create_field(
                    db,
                    &system,
                    new_field(json!({"object": "contact", "key": "tier", "label": "Tier", "type": field_type})),
                    NOW,
                )
                .await,
                "field_options_missing",
                engine,
            );
            assert_eq!(e.field.as_deref(), Some("options"), "{engine:?}");
        }
        refused(
            create_field(
                db,
                &system,
                new_field(json!({"object": "contact", "key": "tier", "label": "Tier", "type": "text", "options": options(&["a"])})),
                NOW,
            )
            .await,
            "field_options_invalid",
            engine,
        );
        let e = refused(
            create_field(
                db,
                &system,
                new_field(json!({"object": "contact", "key": "tier", "label": "Tier", "type": "picklist", "options": [{"value": "gold", "label": "Gold"}, {"value": "Gold", "label": "Also gold"}]})),
                NOW,
            )
            .await,
            "field_options_invalid",
            engine,
        );
        assert_eq!(e.field.as_deref(), Some("options[1].value"), "{engine:?}");
        let refused_fields = list_fields(db, &system, Some(CONTACT)).await.expect("list");
        assert!(
            refused_fields.iter().all(|f| f.key != "tier"),
            "{engine:?}: nothing was created"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_default_is_applied_when_a_record_is_created_without_the_value() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await;
        let system = Actor::system(ws.id);
        let def = add_field(
            db,
            &system,
            json!({"object": "contact", "key": "tier", "label": "Tier", "type": "picklist", "options": options(&["gold", "silver"]), "default": "SILVER"}),
        )
        .await;
        assert_eq!(
            def.default,
            Some(json!("silver")),
            "{engine:?}: the default is normalised"
        );
        add_field(
            db,
            &system,
            json!({"object": "contact", "key": "opted_in", "label": "Opted in", "type": "boolean", "default": false}),
        )
        .await;

        let plain = contact(db, &system, json!({"email": "ada@example.com"})).await;
        assert_eq!(value(&plain, "tier"), json!("silver"), "{engine:?}");
        assert_eq!(value(&plain, "opted_in"), json!(false), "{engine:?}");
        let chosen = contact(db, &system, json!({"tier": "gold", "opted_in": "yes"})).await;
        assert_eq!(
            value(&chosen, "tier"),
            json!("gold"),
            "{engine:?}: a sent value wins"
        );
        assert_eq!(value(&chosen, "opted_in"), json!(true), "{engine:?}");

        let cleared = update_record(
            db,
            &system,
            CONTACT,
            plain.id,
            patch(json!({"fields": {"tier": null}})),
            NOW,
        )
        .await
        .expect("clear");
        assert_eq!(
            value(&cleared, "tier"),
            Value::Null,
            "{engine:?}: an update does not bring the default back"
        );

        refused(
            create_field(
                db,
                &system,
                new_field(json!({"object": "contact", "key": "size", "label": "Size", "type": "number", "default": "big"})),
                NOW,
            )
            .await,
            "field_default_invalid",
            engine,
        );
        let no_default = update_field(
            db,
            &system,
            CONTACT,
            "tier",
            field_patch(json!({"default": null})),
            NOW,
        )
        .await
        .expect("remove default");
        assert_eq!(no_default.default, None, "{engine:?}");
        let later = contact(db, &system, json!({"email": "bob@example.com"})).await;
        assert_eq!(value(&later, "tier"), Value::Null, "{engine:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_required_field_must_have_a_value_on_create_and_cannot_be_cleared() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await;
        let system = Actor::system(ws.id);
        add_field(
            db,
            &system,
            json!({"object": "contact", "key": "consent_source", "label": "Consent source", "type": "text", "required": true}),
        )
        .await;
        let e = refused(
            create_record(
                db,
                &system,
                CONTACT,
                input(json!({"fields": {"email": "ada@example.com"}})),
                NOW,
            )
            .await,
            "field_required",
            engine,
        );
        assert_eq!(
            e.field.as_deref(),
            Some("fields.consent_source"),
            "{engine:?}"
        );
        refused(
            create_record(
                db,
                &system,
                CONTACT,
                input(json!({"fields": {"consent_source": "  "}})),
                NOW,
            )
            .await,
            "field_required",
            engine,
        );
        let ada = contact(db, &system, json!({"consent_source": "webinar"})).await;
        refused(
            update_record(
                db,
                &system,
                CONTACT,
                ada.id,
                patch(json!({"fields": {"consent_source": null}})),
                NOW,
            )
            .await,
            "field_required",
            engine,
        );
        update_record(
            db,
            &system,
            CONTACT,
            ada.id,
            patch(json!({"fields": {"first_name": "Ada"}})),
            NOW,
        )
        .await
        .unwrap_or_else(|e| panic!("{engine:?}: other fields can change: {e}"));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn changing_a_field_type_converts_values_when_all_convert() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await;
        let system = Actor::system(ws.id);
        add_field(
            db,
            &system,
            json!({"object": "contact", "key": "seats", "label": "Seats", "type": "text"}),
        )
        .await;
        let a = contact(db, &system, json!({"seats": "42"})).await;
        let b = contact(db, &system, json!({"seats": " 9 "})).await;
        let c = contact(db, &system, json!({"seats": "10.5"})).await;
        let none = contact(db, &system, json!({"first_name": "No seats"})).await;

        let def = update_field(
            db,
            &system,
            CONTACT,
            "seats",
            field_patch(json!({"type": "number"})),
            NOW,
        )
        .await
        .expect("retype to number");
        assert_eq!(def.field_type, FieldType::Number, "{engine:?}");
        for (r, expected) in [
            (&a, json!(42)),
            (&b, json!(9)),
            (&c, json!(10.5)),
            (&none, Value::Null),
        ] {
            assert_eq!(
                stored_value(db, &system, CONTACT, r.id, "seats").await,
                expected,
                "{engine:?}: contact {}",
                r.id
            );
        }
        let (sorted, _, _, _) = pitcrew_app::record::list_records(
            db,
            &system,
            CONTACT,
            pitcrew_app::record::ListParams {
                sort: Some("seats".into()),
                ..Default::default()
            },
        )
        .await
        .expect("list");
        let ids: Vec<i64> = sorted.iter().map(|r| r.id).collect();
        assert_eq!(
            ids,
            [b.id, c.id, a.id, none.id],
            "{engine:?}: converted values sort as numbers"
        );
        assert_eq!(
            get_field(db, &system, CONTACT, "seats")
                .await
                .expect("field")
                .field_type,
            FieldType::Number,
            "{engine:?}: the new type is stored"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn changing_a_field_type_is_refused_when_values_would_not_convert() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await;
        let system = Actor::system(ws.id);
        add_field(
            db,
            &system,
            json!({"object": "contact", "key": "seats", "label": "Seats", "type": "text"}),
        )
        .await;
        let good = contact(db, &system, json!({"seats": "42"})).await;
        let soon = contact(db, &system, json!({"seats": "soon"})).await;
        let many = contact(db, &system, json!({"seats": "1,000"})).await;

        let e = refused(
            update_field(
                db,
                &system,
                CONTACT,
                "seats",
                field_patch(json!({"type": "number", "label": "Seat count"})),
                NOW,
            )
            .await,
            "field_values_unconvertible",
            engine,
        );
        assert_eq!(e.kind, ErrorKind::Conflict, "{engine:?}");
        assert!(
            e.message.starts_with("2 "),
            "{engine:?}: the message says how many: {}",
            e.message
        );
        for id in [soon.id, many.id] {
            assert!(
                e.message.contains(&id.to_string()),
                "{engine:?}: the message names id {id}: {}",
                e.message
            );
        }
        let listed: Vec<(String, Option<Value>)> = e
            .details
            .iter()
            .map(|d| (d.field.clone(), d.value.clone()))
            .collect();
        assert_eq!(
            listed,
            [
                (format!("{}:seats", soon.id), Some(json!("soon"))),
                (format!("{}:seats", many.id), Some(json!("1,000"))),
            ],
            "{engine:?}: details list each record and its value"
        );

        let def = get_field(db, &system, CONTACT, "seats")
            .await
            .expect("field");
        assert_eq!(
            (def.field_type, def.label.as_str()),
            (FieldType::Text, "Seats"),
            "{engine:?}: the field is unchanged"
        );
        for (r, v) in [(&good, "42"), (&soon, "soon"), (&many, "1,000")] {
            assert_eq!(
                stored_value(db, &system, CONTACT, r.id, "seats").await,
                json!(v),
                "{engine:?}: values are unchanged, even the convertible one"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn changing_a_boolean_field_to_text_keeps_true_and_false_as_words() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await;
        let system = Actor::system(ws.id);
        add_field(
            db,
            &system,
            json!({"object": "contact", "key": "vip", "label": "VIP", "type": "boolean"}),
        )
        .await;
        let yes = contact(db, &system, json!({"vip": true})).await;
        let no = contact(db, &system, json!({"vip": false})).await;
        update_field(
            db,
            &system,
            CONTACT,
            "vip",
            field_patch(json!({"type": "text"})),
            NOW,
        )
        .await
        .unwrap_or_else(|e| panic!("{engine:?}: booleans convert to text: {e}"));
        assert_eq!(
            stored_value(db, &system, CONTACT, yes.id, "vip").await,
            json!("true"),
            "{engine:?}"
        );
        assert_eq!(
            stored_value(db, &system, CONTACT, no.id, "vip").await,
            json!("false"),
            "{engine:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn removing_a_picklist_option_that_is_in_use_is_refused() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await;
        let system = Actor::system(ws.id);
        add_field(
            db,
            &system,
            json!({"object": "contact", "key": "tier", "label": "Tier", "type": "picklist", "options": options(&["gold", "silver", "bronze"])}),
        )
        .await;
        add_field(
            db,
            &system,
            json!({"object": "contact", "key": "topics", "label": "Topics", "type": "multi_picklist", "options": options(&["ai", "data", "web"])}),
        )
        .await;
        let gold = contact(
            db,
            &system,
            json!({"tier": "gold", "topics": ["ai", "data"]}),
        )
        .await;
        let silver = contact(db, &system, json!({"tier": "silver", "topics": "web"})).await;

        let e = refused(
            update_field(
                db,
                &system,
                CONTACT,
                "tier",
                field_patch(json!({"options": options(&["silver", "bronze"])})),
                NOW,
            )
            .await,
            "field_values_unconvertible",
            engine,
        );
        assert_eq!(e.details.len(), 1, "{engine:?}");
        assert_eq!(
            e.details[0].field,
            format!("{}:tier", gold.id),
            "{engine:?}"
        );
        assert_eq!(e.details[0].value, Some(json!("gold")), "{engine:?}");
        let def = get_field(db, &system, CONTACT, "tier")
            .await
            .expect("field");
        assert_eq!(def.options.len(), 3, "{engine:?}: options unchanged");

        let e = refused(
            update_field(
                db,
                &system,
                CONTACT,
                "topics",
                field_patch(json!({"options": options(&["ai", "web"])})),
                NOW,
            )
            .await,
            "field_values_unconvertible",
            engine,
        );
        assert_eq!(
            e.details.len(),
            1,
            "{engine:?}: only the record using `data`"
        );
        assert_eq!(
            e.details[0].value,
            Some(json!(["ai", "data"])),
            "{engine:?}"
        );

        let def = update_field(
            db,
            &system,
            CONTACT,
            "tier",
            field_patch(json!({"options": options(&["gold", "silver"])})),
            NOW,
        )
        .await
        .expect("an unused option can go");
        assert_eq!(def.options.len(), 2, "{engine:?}");
        assert_eq!(
            stored_value(db, &system, CONTACT, silver.id, "tier").await,
            json!("silver"),
            "{engine:?}"
        );
        assert_eq!(
            stored_value(db, &system, CONTACT, gold.id, "topics").await,
            json!(["ai", "data"]),
            "{engine:?}: multi-picklist values are unchanged"
        );
        refused(
            create_record(
                db,
                &system,
                CONTACT,
                input(json!({"fields": {"tier": "bronze"}})),
                NOW,
            )
            .await,
            "field_invalid",
            engine,
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn builtin_fields_cannot_be_deleted_or_retyped() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await;
        let system = Actor::system(ws.id);
        let e = refused(
            delete_field(db, &system, CONTACT, "email", NOW).await,
            "field_builtin",
            engine,
        );
        assert_eq!(e.kind, ErrorKind::Invalid, "{engine:?}");
        refused(
            update_field(
                db,
                &system,
                CONTACT,
                "first_name",
                field_patch(json!({"type": "number"})),
                NOW,
            )
            .await,
            "field_builtin",
            engine,
        );
        refused(
            update_field(
                db,
                &system,
                ACCOUNT,
                "employees",
                field_patch(json!({"type": "text"})),
                NOW,
            )
            .await,
            "field_builtin",
            engine,
        );
        refused(
            update_field(
                db,
                &system,
                CONTACT,
                "created_at",
                field_patch(json!({"required": true})),
                NOW,
            )
            .await,
            "field_read_only",
            engine,
        );
        let email = get_field(db, &system, CONTACT, "email")
            .await
            .expect("email");
        assert!(email.builtin, "{engine:?}");
        assert_eq!(email.field_type, FieldType::Email, "{engine:?}");

        let relabelled = update_field(
            db,
            &system,
            CONTACT,
            "first_name",
            field_patch(json!({"label": "Given name"})),
            NOW,
        )
        .await
        .expect("a built-in field's label can change");
        assert_eq!(relabelled.label, "Given name", "{engine:?}");
        let created = update_field(
            db,
            &system,
            CONTACT,
            "created_at",
            field_patch(json!({"label": "Added"})),
            NOW,
        )
        .await
        .expect("a read-only field's label can change");
        assert_eq!(created.label, "Added", "{engine:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn deleting_a_custom_field_removes_its_values_from_records() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await;
        let system = Actor::system(ws.id);
        add_field(
            db,
            &system,
            json!({"object": "contact", "key": "plan", "label": "Plan", "type": "text"}),
        )
        .await;
        add_field(
            db,
            &system,
            json!({"object": "account", "key": "plan", "label": "Plan", "type": "text"}),
        )
        .await;
        let ada = contact(db, &system, json!({"plan": "pro", "first_name": "Ada"})).await;
        let acme = account(db, &system, json!({"name": "Acme", "plan": "enterprise"})).await;

        delete_field(db, &system, CONTACT, "plan", NOW)
            .await
            .expect("delete field");
        refused(
            get_field(db, &system, CONTACT, "plan").await,
            "field_not_found",
            engine,
        );
        let ada = get_record(db, &system, CONTACT, ada.id)
            .await
            .expect("read");
        assert!(
            !ada.fields.contains_key("plan"),
            "{engine:?}: the value is gone"
        );
        assert_eq!(
            value(&ada, "first_name"),
            json!("Ada"),
            "{engine:?}: others stay"
        );
        assert_eq!(
            stored_value(db, &system, ACCOUNT, acme.id, "plan").await,
            json!("enterprise"),
            "{engine:?}: the account field of the same key keeps its values"
        );
        refused(
            create_record(
                db,
                &system,
                CONTACT,
                input(json!({"fields": {"plan": "pro"}})),
                NOW,
            )
            .await,
            "field_unknown",
            engine,
        );

        add_field(
            db,
            &system,
            json!({"object": "contact", "key": "plan", "label": "Plan", "type": "number"}),
        )
        .await;
        assert_eq!(
            stored_value(db, &system, CONTACT, ada.id, "plan").await,
            Value::Null,
            "{engine:?}: a new field of the same key starts empty"
        );
        refused(
            delete_field(db, &system, CONTACT, "nope", NOW).await,
            "field_not_found",
            engine,
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn only_admins_change_the_data_model_and_everyone_reads_it() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await;
        let plan = json!({"object": "contact", "key": "plan", "label": "Plan", "type": "text"});
        for role in [Role::Viewer, Role::Marketer, Role::Builder] {
            let who = with_role(&ws, role);
            refused(
                create_field(db, &who, new_field(plan.clone()), NOW).await,
                "forbidden",
                engine,
            );
            refused(
                update_field(
                    db,
                    &who,
                    CONTACT,
                    "email",
                    field_patch(json!({"label": "E"})),
                    NOW,
                )
                .await,
                "forbidden",
                engine,
            );
            refused(
                delete_field(db, &who, CONTACT, "email", NOW).await,
                "forbidden",
                engine,
            );
            let fields = list_fields(db, &who, None)
                .await
                .unwrap_or_else(|e| panic!("{engine:?}: a {role} reads the data model: {e}"));
            assert!(fields.iter().any(|f| f.object == ACCOUNT), "{engine:?}");
            assert!(fields.iter().any(|f| f.object == CONTACT), "{engine:?}");
        }
        let admin = with_role(&ws, Role::Admin);
        add_field(db, &admin, plan).await;
        delete_field(db, &admin, CONTACT, "plan", NOW)
            .await
            .expect("an admin deletes a field");
    }
}
