//! Data in through the Segment Spec: who each message lands on, how people
//! merge, what traits do, and what is refused — on both engines.

use pitcrew_app::ingest::{self, IngestReport, IngestSettings, Sender, UnknownTraits};
use pitcrew_app::{Actor, Db, record};
use pitcrew_core::event::{BatchDefaults, parse_message};
use pitcrew_core::record::ObjectKind;
use pitcrew_store::record::Lookup;
use serde_json::{Value, json};

use crate::{CONTACT, NOW, contact, new_workspace};

async fn source(db: &Db, ws: i64) -> Sender {
    let created = ingest::create_source(db, &Actor::system(ws), "Website", NOW)
        .await
        .expect("source");
    ingest::sender(db, &created.write_key)
        .await
        .expect("lookup")
        .expect("live key")
}

async fn send(db: &Db, s: &Sender, batch: Value) -> IngestReport {
    let items = batch.as_array().expect("batch").iter().enumerate();
    let messages = items
        .map(|(i, m)| (i, parse_message(m, None, &BatchDefaults::default(), NOW)))
        .collect();
    ingest::ingest(db, s, messages, NOW).await.expect("ingest")
}

async fn by_user(db: &Db, ws: i64, user: &str) -> pitcrew_store::record::StoredRecord {
    record::find_record(
        db,
        &Actor::system(ws),
        CONTACT,
        Lookup::ExternalId(user.into()),
    )
    .await
    .expect("contact by user id")
}

async fn count(db: &Db, ws: i64) -> i64 {
    pitcrew_store::record::count_records(db.conn(), ws, ObjectKind::Contact)
        .await
        .expect("count")
}

async fn events_of(db: &Db, ws: i64, id: i64) -> Vec<String> {
    ingest::timeline(db, &Actor::system(ws), id, None, 500)
        .await
        .expect("timeline")
        .into_iter()
        .map(|e| format!("{}:{}", e.kind.as_str(), e.name))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_anonymous_visitor_who_identifies_keeps_their_history() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await.id;
        let s = source(db, ws).await;
        send(db, &s, json!([
            {"type": "page", "anonymousId": "anon-1", "name": "Pricing", "messageId": "m1"},
            {"type": "track", "anonymousId": "anon-1", "event": "Demo Requested", "messageId": "m2"},
        ])).await;
        assert_eq!(count(db, ws).await, 1, "{engine:?}: one anonymous profile");
        let r = send(db, &s, json!([
            {"type": "identify", "anonymousId": "anon-1", "userId": "u-42", "messageId": "m3",
             "traits": {"email": " Ada@Example.COM ", "firstName": "Ada", "address": {"country": "Germany"}}},
        ])).await;
        assert_eq!((r.accepted, r.rejected.len()), (1, 0), "{engine:?}: {r:?}");
        assert_eq!(count(db, ws).await, 1, "{engine:?}: still one person");
        let ada = by_user(db, ws, "u-42").await;
        assert_eq!(
            ada.fields["email"], "ada@example.com",
            "{engine:?}: traits are normalised"
        );
        assert_eq!(ada.fields["country"], "DE", "{engine:?}");
        let mut history = events_of(db, ws, ada.id).await;
        history.sort();
        assert_eq!(
            history,
            ["identify:", "page:Pricing", "track:Demo Requested"],
            "{engine:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_returning_user_on_a_new_device_absorbs_the_anonymous_profile() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await.id;
        let s = source(db, ws).await;
        send(db, &s, json!([{"type": "identify", "userId": "u-1", "anonymousId": "laptop", "messageId": "a"}])).await;
        send(db, &s, json!([{"type": "track", "anonymousId": "phone", "event": "Viewed Article", "messageId": "b"}])).await;
        assert_eq!(count(db, ws).await, 2, "{engine:?}");
        send(db, &s, json!([{"type": "identify", "userId": "u-1", "anonymousId": "phone", "messageId": "c"}])).await;
        assert_eq!(
            count(db, ws).await,
            1,
            "{engine:?}: the phone profile merged"
        );
        let user = by_user(db, ws, "u-1").await;
        assert!(
            events_of(db, ws, user.id)
                .await
                .contains(&"track:Viewed Article".to_string()),
            "{engine:?}: events follow the merged person"
        );
        let known = ingest::identities(db, &Actor::system(ws), user.id)
            .await
            .expect("identities");
        let ids: Vec<(String, String)> = known
            .ids
            .iter()
            .map(|i| (i.kind.clone(), i.value.clone()))
            .collect();
        assert!(
            ids.contains(&("anonymous_id".into(), "phone".into()))
                && ids.contains(&("anonymous_id".into(), "laptop".into())),
            "{engine:?}: {ids:?}"
        );
        assert_eq!(known.merges.len(), 1, "{engine:?}");
        let merge = &known.merges[0];
        assert_eq!(
            (merge.reason.as_str(), merge.message_id.as_deref()),
            ("identify", Some("c")),
            "{engine:?}"
        );
        assert_eq!(
            merge.identities,
            json!([{"kind": "anonymous_id", "value": "phone"}]),
            "{engine:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn two_identified_people_on_one_device_are_never_merged() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await.id;
        let s = source(db, ws).await;
        send(db, &s, json!([
            {"type": "identify", "userId": "alice", "anonymousId": "kiosk", "messageId": "1"},
            {"type": "identify", "userId": "bob", "anonymousId": "kiosk", "messageId": "2"},
            {"type": "track", "userId": "bob", "anonymousId": "kiosk", "event": "Ordered", "messageId": "3"},
        ])).await;
        assert_eq!(count(db, ws).await, 2, "{engine:?}");
        let bob = by_user(db, ws, "bob").await;
        assert!(
            events_of(db, ws, bob.id)
                .await
                .contains(&"track:Ordered".to_string()),
            "{engine:?}"
        );
        let alice = by_user(db, ws, "alice").await;
        assert!(
            !events_of(db, ws, alice.id)
                .await
                .contains(&"track:Ordered".to_string()),
            "{engine:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn alias_joins_two_ids_of_one_person() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await.id;
        let s = source(db, ws).await;
        send(
            db,
            &s,
            json!([
                {"type": "track", "userId": "old-id", "event": "Trial Started", "messageId": "1"},
                {"type": "track", "userId": "new-id", "event": "Subscribed", "messageId": "2"},
            ]),
        )
        .await;
        assert_eq!(count(db, ws).await, 2, "{engine:?}");
        let r = send(db, &s, json!([{"type": "alias", "previousId": "old-id", "userId": "new-id", "messageId": "3"}])).await;
        assert_eq!(r.accepted, 1, "{engine:?}: {r:?}");
        assert_eq!(count(db, ws).await, 1, "{engine:?}");
        let person = by_user(db, ws, "new-id").await;
        let history = events_of(db, ws, person.id).await;
        assert!(
            history.contains(&"track:Trial Started".to_string())
                && history.contains(&"track:Subscribed".to_string()),
            "{engine:?}: {history:?}"
        );
        let merges = ingest::identities(db, &Actor::system(ws), person.id)
            .await
            .expect("identities")
            .merges;
        assert_eq!(merges[0].reason, "alias", "{engine:?}");
        // Later events with the old id land on the same person.
        send(
            db,
            &s,
            json!([{"type": "track", "userId": "old-id", "event": "Renewed", "messageId": "4"}]),
        )
        .await;
        assert_eq!(count(db, ws).await, 1, "{engine:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn junk_ids_never_merge_strangers() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await.id;
        let s = source(db, ws).await;
        let r = send(db, &s, json!([
            {"type": "identify", "userId": "null", "anonymousId": "a1", "traits": {"firstName": "One"}, "messageId": "1"},
            {"type": "identify", "userId": "undefined", "anonymousId": "a2", "traits": {"firstName": "Two"}, "messageId": "2"},
            {"type": "track", "userId": "0", "event": "X", "messageId": "3"},
        ])).await;
        assert_eq!(r.accepted, 2, "{engine:?}");
        assert_eq!(r.rejected[0].index, 2, "{engine:?}");
        assert_eq!(r.rejected[0].code, "identity_missing", "{engine:?}");
        assert_eq!(
            count(db, ws).await,
            2,
            "{engine:?}: two anonymous people, not one"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_known_email_folds_the_new_profile_into_the_older_record() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let workspace = new_workspace(db, "acme").await;
        let ws = workspace.id;
        let system = Actor::system(ws);
        let imported = contact(
            db,
            &system,
            json!({"email": "grace@navy.example", "job_title": "Rear Admiral"}),
        )
        .await;
        let s = source(db, ws).await;
        send(db, &s, json!([{"type": "identify", "userId": "g-1", "anonymousId": "x", "traits": {"email": "GRACE@navy.example", "lastName": "Hopper"}, "messageId": "1"}])).await;
        assert_eq!(count(db, ws).await, 1, "{engine:?}");
        let grace = by_user(db, ws, "g-1").await;
        assert_eq!(grace.id, imported.id, "{engine:?}: the older record stays");
        assert_eq!(grace.fields["job_title"], "Rear Admiral", "{engine:?}");
        assert_eq!(grace.fields["last_name"], "Hopper", "{engine:?}");
        assert_eq!(
            events_of(db, ws, grace.id).await,
            ["identify:"],
            "{engine:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn group_creates_the_account_and_links_the_person() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await.id;
        let s = source(db, ws).await;
        send(db, &s, json!([
            {"type": "group", "userId": "u-1", "groupId": "acct-9", "traits": {"name": "Initech", "industry": "Software", "employees": "120", "website": "initech.example"}, "messageId": "1"},
        ])).await;
        let account = record::find_record(
            db,
            &Actor::system(ws),
            ObjectKind::Account,
            Lookup::ExternalId("acct-9".into()),
        )
        .await
        .expect("account");
        assert_eq!(account.fields["name"], "Initech", "{engine:?}");
        assert_eq!(account.fields["industry"], "software", "{engine:?}");
        assert_eq!(account.fields["employees"], 120, "{engine:?}");
        assert_eq!(
            account.fields["website"], "https://initech.example",
            "{engine:?}"
        );
        assert_eq!(
            by_user(db, ws, "u-1").await.account_id,
            Some(account.id),
            "{engine:?}"
        );
        send(db, &s, json!([{"type": "group", "userId": "u-2", "groupId": "acct-9", "traits": {"employees": 150}, "messageId": "2"}])).await;
        let account = record::get_record(db, &Actor::system(ws), ObjectKind::Account, account.id)
            .await
            .expect("account");
        assert_eq!(
            (
                account.fields["employees"].clone(),
                account.fields["name"].clone()
            ),
            (json!(150), json!("Initech")),
            "{engine:?}"
        );
        assert_eq!(
            by_user(db, ws, "u-2").await.account_id,
            Some(account.id),
            "{engine:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_traits_are_kept_or_refused_by_setting_and_always_visible() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await.id;
        let system = Actor::system(ws);
        let s = source(db, ws).await;
        let r = send(db, &s, json!([{"type": "identify", "userId": "u", "traits": {"favouriteColour": "green"}, "messageId": "1"}])).await;
        assert!(r.warnings.is_empty(), "{engine:?}: kept by default");
        let person = by_user(db, ws, "u").await;
        let ids = ingest::identities(db, &system, person.id)
            .await
            .expect("identities");
        assert_eq!(
            ids.undeclared_traits["favouriteColour"], "green",
            "{engine:?}"
        );

        ingest::set_settings(
            db,
            &system,
            IngestSettings {
                unknown_traits: UnknownTraits::Reject,
            },
            NOW,
        )
        .await
        .expect("settings");
        let r = send(db, &s, json!([{"type": "identify", "userId": "u", "traits": {"shoeSize": 42}, "messageId": "2"}])).await;
        assert_eq!(
            (r.accepted, r.warnings[0].code.as_str()),
            (1, "trait_unknown"),
            "{engine:?}: the event is kept, the trait refused"
        );
        let ids = ingest::identities(db, &system, person.id)
            .await
            .expect("identities");
        assert!(
            !ids.undeclared_traits.contains_key("shoeSize"),
            "{engine:?}"
        );
        let seen = ingest::undeclared_traits(db, &system)
            .await
            .expect("undeclared");
        let summary: Vec<(String, bool)> = seen.iter().map(|u| (u.key.clone(), u.kept)).collect();
        assert!(
            summary.contains(&("favouriteColour".into(), true))
                && summary.contains(&("shoeSize".into(), false)),
            "{engine:?}: {summary:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_invalid_trait_is_refused_and_the_rest_is_kept() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await.id;
        let s = source(db, ws).await;
        let r = send(db, &s, json!([{"type": "identify", "userId": "u", "traits": {"email": "not-an-email", "firstName": "Kept", "country": "Atlantis"}, "messageId": "1"}])).await;
        assert_eq!(r.accepted, 1, "{engine:?}");
        let codes: Vec<&str> = r.warnings.iter().map(|w| w.code.as_str()).collect();
        assert_eq!(
            codes,
            ["trait_invalid", "trait_invalid"],
            "{engine:?}: {:?}",
            r.warnings
        );
        let person = by_user(db, ws, "u").await;
        assert_eq!(person.fields["first_name"], "Kept", "{engine:?}");
        assert!(
            !person.fields.contains_key("email") && !person.fields.contains_key("country"),
            "{engine:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_message_delivered_twice_is_stored_once() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await.id;
        let s = source(db, ws).await;
        let batch = json!([
            {"type": "track", "userId": "u", "event": "Paid", "messageId": "dup"},
            {"type": "track", "userId": "u", "event": "Paid", "messageId": "dup"},
        ]);
        let first = send(db, &s, batch.clone()).await;
        assert_eq!((first.accepted, first.duplicates), (1, 1), "{engine:?}");
        let again = send(db, &s, batch).await;
        assert_eq!((again.accepted, again.duplicates), (0, 2), "{engine:?}");
        let person = by_user(db, ws, "u").await;
        assert_eq!(events_of(db, ws, person.id).await.len(), 1, "{engine:?}");
        let catalogue = ingest::event_types(db, &Actor::system(ws))
            .await
            .expect("catalogue");
        assert_eq!(catalogue.len(), 1, "{engine:?}");
        assert_eq!(
            catalogue[0].count, 1,
            "{engine:?}: duplicates are not counted"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_event_catalogue_counts_names_and_property_keys() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await.id;
        let s = source(db, ws).await;
        send(db, &s, json!([
            {"type": "track", "userId": "u", "event": "Order Completed", "properties": {"revenue": 10, "currency": "EUR"}, "timestamp": "2025-12-01T00:00:00Z", "messageId": "1"},
            {"type": "track", "userId": "v", "event": "Order Completed", "properties": {"revenue": 20, "coupon": "X"}, "timestamp": "2025-12-05T00:00:00Z", "messageId": "2"},
        ])).await;
        send(db, &s, json!([{"type": "track", "userId": "u", "event": "Order Completed", "properties": {"tax": 1}, "timestamp": "2025-11-30T00:00:00Z", "messageId": "3"}])).await;
        let catalogue = ingest::event_types(db, &Actor::system(ws))
            .await
            .expect("catalogue");
        let order = catalogue
            .iter()
            .find(|e| e.name == "Order Completed")
            .expect("order completed");
        assert_eq!(order.count, 3, "{engine:?}");
        assert_eq!(
            order.property_keys,
            ["coupon", "currency", "revenue", "tax"],
            "{engine:?}"
        );
        assert_eq!(
            (order.first_seen.as_str(), order.last_seen.as_str()),
            ("2025-11-30T00:00:00.000Z", "2025-12-05T00:00:00.000Z"),
            "{engine:?}"
        );
        let u = by_user(db, ws, "u").await;
        let last_seen = db
            .fetch_one(
                "SELECT last_seen_at FROM contacts WHERE id = $1",
                pitcrew_store::params![u.id],
            )
            .await
            .expect("row")
            .opt_int("last_seen_at")
            .expect("column");
        assert_eq!(
            last_seen,
            Some(1_764_892_800_000 - 4 * 86_400_000),
            "{engine:?}: the latest event of u (Dec 1)"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_revoked_source_key_stops_working_and_keys_are_stored_hashed() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await.id;
        let created = ingest::create_source(db, &Actor::system(ws), "App", NOW)
            .await
            .expect("source");
        assert!(
            ingest::sender(db, &created.write_key)
                .await
                .expect("lookup")
                .is_some(),
            "{engine:?}"
        );
        let stored = db
            .fetch_all(
                "SELECT write_key_hash, write_key_prefix FROM sources",
                vec![],
            )
            .await
            .expect("rows");
        for r in stored {
            assert_ne!(
                r.text("write_key_hash").expect("hash"),
                created.write_key,
                "{engine:?}"
            );
        }
        ingest::revoke_source(db, &Actor::system(ws), created.source.id, NOW)
            .await
            .expect("revoke");
        assert!(
            ingest::sender(db, &created.write_key)
                .await
                .expect("lookup")
                .is_none(),
            "{engine:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn deleting_a_person_erases_their_events_and_ids() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await.id;
        let s = source(db, ws).await;
        send(db, &s, json!([{"type": "track", "userId": "gone", "anonymousId": "dev-1", "event": "Visited", "messageId": "1"}])).await;
        let person = by_user(db, ws, "gone").await;
        record::delete_record(db, &Actor::system(ws), CONTACT, person.id, NOW)
            .await
            .expect("delete");
        let left = db
            .fetch_one(
                "SELECT (SELECT COUNT(*) FROM events) + (SELECT COUNT(*) FROM identities) AS n",
                vec![],
            )
            .await
            .expect("count")
            .int("n")
            .expect("n");
        assert_eq!(left, 0, "{engine:?}: nothing points at the deleted person");
        send(
            db,
            &s,
            json!([{"type": "track", "userId": "gone", "event": "Returned", "messageId": "2"}]),
        )
        .await;
        let again = by_user(db, ws, "gone").await;
        assert_ne!(again.id, person.id, "{engine:?}: a new profile");
        assert_eq!(
            events_of(db, ws, again.id).await,
            ["track:Returned"],
            "{engine:?}"
        );
    }
}
