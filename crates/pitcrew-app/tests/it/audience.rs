//! Segments: saving, versions, static lists, counts, previews, exports, membership and dependencies.

use pitcrew_app::audience::{
    self, Definition, NewSegment, SavedSegment, SegmentKind, SegmentPatch, SegmentRef, UseKind,
};
use pitcrew_app::ingest::{self, Sender};
use pitcrew_app::record::{FieldPatch, NewField, create_field, delete_field, update_field};
use pitcrew_app::{Actor, Db, ErrorKind};
use pitcrew_core::admin::Role;
use pitcrew_core::event::{BatchDefaults, parse_message};
use pitcrew_core::record::{FieldType, ObjectKind};
use pitcrew_store::record::StoredRecord;
use serde_json::{Value, json};

use crate::{CONTACT, NOW, contact, new_workspace, refused, with_role};

/// Buyers in Germany who ordered in the last 30 days.
const RECENT_GERMAN_BUYERS: &str =
    r#"people where all of (country is "DE", did "Order Completed" in last 30 days)"#;

fn dynamic(name: &str, text: &str) -> NewSegment {
    NewSegment {
        name: name.into(),
        description: String::new(),
        kind: SegmentKind::Dynamic,
        subject: None,
        definition: Some(Definition::Text(text.into())),
    }
}

fn list(name: &str) -> NewSegment {
    NewSegment {
        name: name.into(),
        description: String::new(),
        kind: SegmentKind::Static,
        subject: None,
        definition: None,
    }
}

async fn save(db: &Db, actor: &Actor, new: NewSegment) -> SavedSegment {
    audience::create_segment(db, actor, new, NOW)
        .await
        .expect("create segment")
}

async fn count(db: &Db, actor: &Actor, id: i64) -> i64 {
    audience::count_segment(db, actor, SegmentRef::Saved(id), NOW)
        .await
        .expect("count segment")
}

async fn source(db: &Db, ws: i64) -> Sender {
    let created = ingest::create_source(db, &Actor::system(ws), "Shop", NOW)
        .await
        .expect("source");
    ingest::sender(db, &created.write_key)
        .await
        .expect("lookup")
        .expect("live key")
}

/// Send Segment-spec messages through the ingestion use case.
async fn send(db: &Db, s: &Sender, batch: Value) {
    let items = batch.as_array().expect("batch").iter().enumerate();
    let messages = items
        .map(|(i, m)| (i, parse_message(m, None, &BatchDefaults::default(), NOW)))
        .collect();
    let report = ingest::ingest(db, s, messages, NOW).await.expect("ingest");
    assert!(report.rejected.is_empty(), "{report:?}");
}

/// Three people: Ada (Germany, ordered 12 days ago), Bob (Germany, ordered
/// 3 months ago) and Cem (France, ordered yesterday).
struct People {
    ada: StoredRecord,
    bob: StoredRecord,
    cem: StoredRecord,
}

async fn people(db: &Db, ws: i64) -> People {
    let system = Actor::system(ws);
    let mut made = Vec::new();
    for (user, email, first, country) in [
        ("u-ada", "ada@example.com", "Ada", "DE"),
        ("u-bob", "bob@example.com", "Bob", "DE"),
        ("u-cem", "cem@example.com", "Cem", "FR"),
    ] {
        made.push(
            crate::create(
                db,
                &system,
                CONTACT,
                json!({"external_id": user, "fields": {"email": email, "first_name": first, "country": country}}),
            )
            .await,
        );
    }
    let s = source(db, ws).await;
    send(
        db,
        &s,
        json!([
            {"type": "track", "userId": "u-ada", "event": "Order Completed", "properties": {"amount": 120},
             "timestamp": "2025-12-20T10:00:00Z", "messageId": "o1"},
            {"type": "track", "userId": "u-bob", "event": "Order Completed", "properties": {"amount": 40},
             "timestamp": "2025-10-01T10:00:00Z", "messageId": "o2"},
            {"type": "track", "userId": "u-cem", "event": "Order Completed", "properties": {"amount": 75},
             "timestamp": "2025-12-31T10:00:00Z", "messageId": "o3"},
        ]),
    )
    .await;
    let mut made = made.into_iter();
    let mut next = || made.next().expect("three people");
    People {
        ada: next(),
        bob: next(),
        cem: next(),
    }
}

fn ids(records: &[&StoredRecord]) -> Vec<i64> {
    records.iter().map(|r| r.id).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dynamic_segment_from_text_counts_and_previews_contacts_by_their_events() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await;
        let system = Actor::system(ws.id);
        let p = people(db, ws.id).await;

        let s = save(
            db,
            &system,
            dynamic("Recent German buyers", RECENT_GERMAN_BUYERS),
        )
        .await;
        assert_eq!(
            (s.kind, s.version, s.subject.as_str()),
            (SegmentKind::Dynamic, 1, "people"),
            "{engine:?}"
        );
        let forms = s
            .definition
            .as_ref()
            .expect("a dynamic segment has a condition");
        assert!(
            forms.text.starts_with("people where"),
            "{engine:?}: the canonical text is kept: {}",
            forms.text
        );
        assert_eq!(count(db, &system, s.id).await, 1, "{engine:?}: only Ada");

        let preview = audience::preview_segment(
            db,
            &system,
            SegmentRef::Saved(s.id),
            vec!["email".into(), "first_name".into()],
            10,
            0,
            NOW,
        )
        .await
        .expect("preview");
        assert_eq!(preview.total, 1, "{engine:?}");
        assert_eq!(preview.members.len(), 1, "{engine:?}");
        assert_eq!(preview.members[0].id, p.ada.id, "{engine:?}");
        assert_eq!(
            Value::Object(preview.members[0].fields.clone()),
            json!({"email": "ada@example.com", "first_name": "Ada"}),
            "{engine:?}"
        );

        let live = audience::count_segment(
            db,
            &system,
            SegmentRef::Unsaved(Definition::Text(r#"people where country is "DE""#.into())),
            NOW,
        )
        .await
        .expect("live count");
        assert_eq!(live, 2, "{engine:?}: an unsaved condition counts too");
        let _ = (&p.bob, &p.cem);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_preview_of_an_unknown_field_suggests_the_right_one() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await;
        let system = Actor::system(ws.id);
        let s = save(
            db,
            &system,
            dynamic("Germans", r#"people where country is "DE""#),
        )
        .await;
        let e = refused(
            audience::preview_segment(
                db,
                &system,
                SegmentRef::Saved(s.id),
                vec!["frist_name".into()],
                10,
                0,
                NOW,
            )
            .await,
            "field_unknown",
            engine,
        );
        assert!(e.message.contains("first_name"), "{engine:?}: {e}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn updating_a_segment_makes_version_two_and_keeps_version_one() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await;
        let system = Actor::system(ws.id);
        people(db, ws.id).await;
        let s = save(
            db,
            &system,
            dynamic("Germans", r#"people where country is "DE""#),
        )
        .await;
        assert_eq!(count(db, &system, s.id).await, 2, "{engine:?}");

        let updated = audience::update_segment(
            db,
            &system,
            s.id,
            SegmentPatch {
                name: Some("French".into()),
                definition: Some(Definition::Json(json!({
                    "subject": "people",
                    "where": {"kind": "field", "field": "country", "test": {"op": "is", "value": "FR"}}
                }))),
                ..SegmentPatch::default()
            },
            NOW,
        )
        .await
        .expect("update");
        assert_eq!(
            (updated.version, updated.name.as_str()),
            (2, "French"),
            "{engine:?}"
        );
        assert_eq!(
            count(db, &system, s.id).await,
            1,
            "{engine:?}: the new condition counts"
        );

        let versions = audience::segment_versions(db, &system, s.id)
            .await
            .expect("versions");
        let seen: Vec<(i64, &str)> = versions
            .iter()
            .map(|v| (v.version, v.name.as_str()))
            .collect();
        assert_eq!(seen, vec![(2, "French"), (1, "Germans")], "{engine:?}");
        let first = versions[1]
            .definition
            .as_ref()
            .expect("version 1 condition");
        assert!(first.text.contains("\"DE\""), "{engine:?}: {}", first.text);
        assert_eq!(versions[1].by, "system", "{engine:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_invalid_definition_returns_every_problem_with_its_place() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await;
        let system = Actor::system(ws.id);
        let text = "people where all of (contry is \"DE\", in segment \"Nobody\")";

        let report = audience::check_definition(db, &system, Definition::Text(text.into()))
            .await
            .expect("check");
        assert!(!report.valid, "{engine:?}");
        let codes: Vec<&str> = report.problems.iter().map(|p| p.code.as_str()).collect();
        assert_eq!(codes.len(), 2, "{engine:?}: both problems, {codes:?}");
        let field = &report.problems[0];
        let span = field.span.as_ref().expect("a text problem has a span");
        assert_eq!((span.line, span.column), (1, 22), "{engine:?}: {field:?}");
        assert!(
            text[span.start..span.end].starts_with("contry"),
            "{engine:?}: the span points at the test: {field:?}"
        );
        assert!(field.message.contains("country"), "{engine:?}: {field:?}");
        assert!(!field.path.is_empty(), "{engine:?}: {field:?}");

        let e = refused(
            audience::create_segment(db, &system, dynamic("Broken", text), NOW).await,
            "definition_invalid",
            engine,
        );
        assert_eq!(e.kind, ErrorKind::Invalid, "{engine:?}");
        assert_eq!(e.details.len(), 2, "{engine:?}: {e:?}");
        assert!(
            e.details[0].value.as_ref().is_some_and(|v| v["line"] == 1),
            "{engine:?}: the span travels with the problem: {:?}",
            e.details[0]
        );

        let unreadable =
            audience::check_definition(db, &system, Definition::Text("people where".into()))
                .await
                .expect("check");
        assert!(
            !unreadable.valid && unreadable.text.is_none() && !unreadable.problems.is_empty(),
            "{engine:?}: {unreadable:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_static_list_adds_removes_and_imports_members_reporting_bad_rows_by_line() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await;
        let system = Actor::system(ws.id);
        let p = people(db, ws.id).await;
        let l = save(db, &system, list("Webinar guests")).await;
        assert_eq!(
            (l.kind, l.definition.is_none()),
            (SegmentKind::Static, true),
            "{engine:?}"
        );

        let added =
            audience::add_list_members(db, &system, l.id, vec![p.ada.id, p.bob.id, 999_999], NOW)
                .await
                .expect("add");
        assert_eq!((added.added, added.already), (2, 0), "{engine:?}");
        assert_eq!(
            added.unknown,
            vec![999_999],
            "{engine:?}: an id not in the workspace is reported"
        );
        assert_eq!(count(db, &system, l.id).await, 2, "{engine:?}");

        let again = audience::add_list_members(db, &system, l.id, vec![p.ada.id], NOW)
            .await
            .expect("add again");
        assert_eq!((again.added, again.already), (0, 1), "{engine:?}");

        let removed =
            audience::remove_list_members(db, &system, l.id, vec![p.bob.id, p.cem.id], NOW)
                .await
                .expect("remove");
        assert_eq!(removed.removed, 1, "{engine:?}");
        assert_eq!(removed.not_members, vec![p.cem.id], "{engine:?}");
        assert_eq!(count(db, &system, l.id).await, 1, "{engine:?}");

        let file = "Email,Note\n BOB@example.com ,vip\nnobody@example.com,x\n\nnot-an-email,y\n,z\ncem@example.com,ok\n";
        let imported = audience::import_list_members_csv(
            db,
            &system,
            l.id,
            Box::new(std::io::Cursor::new(file.as_bytes().to_vec())),
            NOW,
        )
        .await
        .expect("import");
        assert_eq!(imported.matched_by, "email", "{engine:?}");
        assert_eq!(
            (imported.rows, imported.added, imported.rejected),
            (5, 2, 3),
            "{engine:?}: {imported:?}"
        );
        let rejects: Vec<(i64, &str)> = imported
            .rejects
            .iter()
            .map(|r| (r.line, r.code.as_str()))
            .collect();
        assert_eq!(
            rejects,
            vec![
                (3, "member_not_found"),
                (5, "email_invalid"),
                (6, "value_missing")
            ],
            "{engine:?}: each bad row is reported at its line"
        );
        let members =
            audience::preview_segment(db, &system, SegmentRef::Saved(l.id), vec![], 10, 0, NOW)
                .await
                .expect("preview list");
        let in_list: Vec<i64> = members.members.iter().map(|m| m.id).collect();
        assert_eq!(in_list, ids(&[&p.ada, &p.bob, &p.cem]), "{engine:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_snapshot_copies_the_current_members_into_a_list() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await;
        let system = Actor::system(ws.id);
        let p = people(db, ws.id).await;
        let germans = save(
            db,
            &system,
            dynamic("Germans", r#"people where country is "DE""#),
        )
        .await;
        let frozen = save(db, &system, list("Germans on 1 January")).await;
        audience::add_list_members(db, &system, frozen.id, vec![p.cem.id], NOW)
            .await
            .expect("add");

        let snap =
            audience::snapshot_segment_into_list(db, &system, germans.id, frozen.id, true, NOW)
                .await
                .expect("snapshot");
        assert_eq!(
            (snap.added, snap.members),
            (2, 2),
            "{engine:?}: replaced, not added to"
        );

        // Later changes to the people do not change the list.
        pitcrew_app::record::update_record(
            db,
            &system,
            CONTACT,
            p.bob.id,
            crate::patch(json!({"fields": {"country": "AT"}})),
            NOW,
        )
        .await
        .expect("Bob moves");
        assert_eq!(count(db, &system, germans.id).await, 1, "{engine:?}");
        assert_eq!(count(db, &system, frozen.id).await, 2, "{engine:?}");

        let refused_dynamic = refused(
            audience::snapshot_segment_into_list(db, &system, frozen.id, germans.id, false, NOW)
                .await,
            "segment_not_static",
            engine,
        );
        assert_eq!(refused_dynamic.kind, ErrorKind::Invalid, "{engine:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_person_shows_the_segments_and_lists_they_are_in() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await;
        let system = Actor::system(ws.id);
        let p = people(db, ws.id).await;
        let buyers = save(
            db,
            &system,
            dynamic("Recent German buyers", RECENT_GERMAN_BUYERS),
        )
        .await;
        let germans = save(
            db,
            &system,
            dynamic("Germans", r#"people where country is "DE""#),
        )
        .await;
        let guests = save(db, &system, list("Webinar guests")).await;
        let not_guests = save(
            db,
            &system,
            dynamic(
                "Germans not at the webinar",
                r#"people where all of (in segment "Germans", not in segment "Webinar guests")"#,
            ),
        )
        .await;
        audience::add_list_members(db, &system, guests.id, vec![p.ada.id], NOW)
            .await
            .expect("add");

        let of = |id| audience::contact_segments(db, &system, id, NOW);
        let names =
            |v: Vec<audience::SegmentBrief>| v.into_iter().map(|b| b.name).collect::<Vec<_>>();
        assert_eq!(
            names(of(p.ada.id).await.expect("Ada")),
            vec!["Germans", "Recent German buyers", "Webinar guests"],
            "{engine:?}"
        );
        assert_eq!(
            names(of(p.bob.id).await.expect("Bob")),
            vec!["Germans", "Germans not at the webinar"],
            "{engine:?}"
        );
        assert!(of(p.cem.id).await.expect("Cem").is_empty(), "{engine:?}");
        let _ = (buyers, germans, not_guests);
        refused(of(999_999).await, "contact_not_found", engine);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn explain_gives_the_reason_a_person_is_in_and_another_is_out() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await;
        let system = Actor::system(ws.id);
        let p = people(db, ws.id).await;
        let s = save(
            db,
            &system,
            dynamic("Recent German buyers", RECENT_GERMAN_BUYERS),
        )
        .await;

        let inside = audience::explain_segment(db, &system, s.id, p.ada.id, NOW)
            .await
            .expect("explain Ada");
        assert!(inside.value, "{engine:?}: {inside:?}");
        assert!(!inside.reason.is_empty(), "{engine:?}: {inside:?}");

        let outside = audience::explain_segment(db, &system, s.id, p.bob.id, NOW)
            .await
            .expect("explain Bob");
        assert!(!outside.value, "{engine:?}: {outside:?}");
        let deciding = outside
            .children
            .iter()
            .find(|c| !c.value)
            .expect("the part Bob fails");
        assert!(
            deciding.condition.contains("Order Completed"),
            "{engine:?}: his order is too old: {deciding:?}"
        );
        assert!(!deciding.reason.is_empty(), "{engine:?}: {deciding:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn export_writes_a_header_and_one_row_per_member() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await;
        let system = Actor::system(ws.id);
        let p = people(db, ws.id).await;
        let s = save(
            db,
            &system,
            dynamic("Germans", r#"people where country is "DE""#),
        )
        .await;

        let mut out: Vec<u8> = Vec::new();
        let rows = audience::export_segment_csv(
            db,
            &system,
            s.id,
            vec!["email".into(), "first_name".into(), "external_id".into()],
            &mut out,
            NOW,
        )
        .await
        .expect("export");
        assert_eq!(rows, 2, "{engine:?}");
        let expected = format!(
            "id,email,first_name,external_id\n{},ada@example.com,Ada,u-ada\n{},bob@example.com,Bob,u-bob\n",
            p.ada.id, p.bob.id
        );
        assert_eq!(
            String::from_utf8(out).expect("UTF-8"),
            expected,
            "{engine:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_segment_another_refers_to_cannot_be_deleted_and_a_rename_follows() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await;
        let system = Actor::system(ws.id);
        people(db, ws.id).await;
        let germans = save(
            db,
            &system,
            dynamic("Germans", r#"people where country is "DE""#),
        )
        .await;
        let buyers = save(
            db,
            &system,
            dynamic(
                "German buyers",
                r#"people where all of (in segment "Germans", did "Order Completed")"#,
            ),
        )
        .await;

        let users = audience::uses_of(db, &system, UseKind::Segment, "Germans")
            .await
            .expect("uses");
        assert_eq!(
            users
                .iter()
                .map(|u| (u.id, u.name.as_str()))
                .collect::<Vec<_>>(),
            vec![(buyers.id, "German buyers")],
            "{engine:?}"
        );
        let e = refused(
            audience::delete_segment(db, &system, germans.id, NOW).await,
            "segment_in_use",
            engine,
        );
        assert_eq!(e.kind, ErrorKind::Conflict, "{engine:?}");
        assert!(e.message.contains("German buyers"), "{engine:?}: {e}");
        assert_eq!(e.details.len(), 1, "{engine:?}");

        audience::update_segment(
            db,
            &system,
            germans.id,
            SegmentPatch {
                name: Some("Deutsche".into()),
                ..SegmentPatch::default()
            },
            NOW,
        )
        .await
        .expect("rename");
        let follower = audience::get_segment(db, &system, buyers.id)
            .await
            .expect("read");
        let text = &follower.definition.as_ref().expect("condition").text;
        assert!(
            text.contains("\"Deutsche\""),
            "{engine:?}: the reference follows: {text}"
        );
        assert_eq!(follower.version, 2, "{engine:?}");
        assert_eq!(count(db, &system, buyers.id).await, 2, "{engine:?}");

        audience::delete_segment(db, &system, buyers.id, NOW)
            .await
            .expect("delete the user first");
        audience::delete_segment(db, &system, germans.id, NOW)
            .await
            .expect("then the segment");
        refused(
            audience::get_segment(db, &system, germans.id).await,
            "segment_not_found",
            engine,
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_field_a_segment_uses_cannot_be_deleted_or_retyped_until_the_segment_is_gone() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await;
        let system = Actor::system(ws.id);
        let field: NewField = serde_json::from_value(
            json!({"object": "contact", "key": "plan", "label": "Plan", "type": "text"}),
        )
        .expect("field");
        create_field(db, &system, field, NOW)
            .await
            .expect("create field");
        contact(db, &system, json!({"plan": "gold"})).await;
        let s = save(
            db,
            &system,
            dynamic("Gold", r#"people where plan is "gold""#),
        )
        .await;
        assert_eq!(count(db, &system, s.id).await, 1, "{engine:?}");

        let retype = FieldPatch {
            field_type: Some(FieldType::Number),
            ..FieldPatch::default()
        };
        let e = refused(
            update_field(
                db,
                &system,
                ObjectKind::Contact,
                "plan",
                retype.clone(),
                NOW,
            )
            .await,
            "field_in_use",
            engine,
        );
        assert!(e.message.contains("\"Gold\""), "{engine:?}: {e}");
        assert_eq!(e.details.len(), 1, "{engine:?}");
        let e = refused(
            delete_field(db, &system, ObjectKind::Contact, "plan", NOW).await,
            "field_in_use",
            engine,
        );
        assert_eq!(e.kind, ErrorKind::Conflict, "{engine:?}");
        let relabel = FieldPatch {
            label: Some("Plan name".into()),
            ..FieldPatch::default()
        };
        update_field(db, &system, ObjectKind::Contact, "plan", relabel, NOW)
            .await
            .expect("a new label changes no meaning");

        audience::delete_segment(db, &system, s.id, NOW)
            .await
            .expect("delete segment");
        let cleared = update_field(
            db,
            &system,
            ObjectKind::Contact,
            "plan",
            FieldPatch {
                field_type: Some(FieldType::Picklist),
                options: Some(vec![pitcrew_core::record::PicklistOption::new(
                    "gold", "Gold",
                )]),
                ..FieldPatch::default()
            },
            NOW,
        )
        .await
        .expect("retype once unused");
        assert_eq!(cleared.field_type, FieldType::Picklist, "{engine:?}");
        delete_field(db, &system, ObjectKind::Contact, "plan", NOW)
            .await
            .expect("delete once unused");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_viewer_reads_segments_but_cannot_create_one() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await;
        let viewer = with_role(&ws, Role::Viewer);
        let e = refused(
            audience::create_segment(db, &viewer, list("Mine"), NOW).await,
            "forbidden",
            engine,
        );
        assert_eq!(e.kind, ErrorKind::Forbidden, "{engine:?}");

        let marketer = with_role(&ws, Role::Marketer);
        let s = save(db, &marketer, list("Ours")).await;
        let seen = audience::list_segments(db, &viewer)
            .await
            .expect("viewer reads");
        assert_eq!(seen.len(), 1, "{engine:?}");
        refused(
            audience::add_list_members(db, &viewer, s.id, vec![], NOW).await,
            "forbidden",
            engine,
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn another_workspaces_segments_are_invisible() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let a = new_workspace(db, "acme").await;
        let b = new_workspace(db, "globex").await;
        let a_system = Actor::system(a.id);
        let b_system = Actor::system(b.id);
        let b_person = contact(db, &b_system, json!({"country": "DE"})).await;
        let theirs = save(
            db,
            &b_system,
            dynamic("Germans", r#"people where country is "DE""#),
        )
        .await;
        let their_list = save(db, &b_system, list("Guests")).await;

        assert!(
            audience::list_segments(db, &a_system)
                .await
                .expect("list")
                .is_empty(),
            "{engine:?}"
        );
        refused(
            audience::get_segment(db, &a_system, theirs.id).await,
            "segment_not_found",
            engine,
        );
        refused(
            audience::count_segment(db, &a_system, SegmentRef::Saved(theirs.id), NOW).await,
            "segment_not_found",
            engine,
        );
        refused(
            audience::delete_segment(db, &a_system, theirs.id, NOW).await,
            "segment_not_found",
            engine,
        );
        refused(
            audience::explain_segment(db, &a_system, theirs.id, b_person.id, NOW).await,
            "segment_not_found",
            engine,
        );

        // A's segment of the same name counts only A's people, and A cannot put B's people on a list.
        let ours = save(
            db,
            &a_system,
            dynamic("Germans", r#"people where country is "DE""#),
        )
        .await;
        assert_eq!(count(db, &a_system, ours.id).await, 0, "{engine:?}");
        let our_list = save(db, &a_system, list("Guests")).await;
        let added = audience::add_list_members(db, &a_system, our_list.id, vec![b_person.id], NOW)
            .await
            .expect("add");
        assert_eq!(
            (added.added, added.unknown.clone()),
            (0, vec![b_person.id]),
            "{engine:?}"
        );
        refused(
            audience::add_list_members(db, &a_system, their_list.id, vec![], NOW).await,
            "segment_not_found",
            engine,
        );
        assert_eq!(count(db, &b_system, theirs.id).await, 1, "{engine:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_workspace_time_zone_is_validated_and_kept() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await;
        let system = Actor::system(ws.id);
        assert_eq!(
            audience::timezone(db, &system).await.expect("read"),
            "UTC",
            "{engine:?}"
        );
        refused(
            audience::set_timezone(db, &system, "Mars/Olympus", NOW).await,
            "timezone_invalid",
            engine,
        );
        audience::set_timezone(db, &system, "Europe/Berlin", NOW)
            .await
            .expect("set");
        assert_eq!(
            audience::timezone(db, &system).await.expect("read"),
            "Europe/Berlin",
            "{engine:?}"
        );
        let marketer = with_role(&ws, Role::Marketer);
        refused(
            audience::set_timezone(db, &marketer, "UTC", NOW).await,
            "forbidden",
            engine,
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_static_list_of_accounts_holds_accounts() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await;
        let system = Actor::system(ws.id);
        let acme = crate::account(db, &system, json!({"name": "Acme"})).await;
        let person = contact(db, &system, json!({"first_name": "Ada"})).await;
        let mut new = list("Key accounts");
        new.subject = Some(pitcrew_filter::Subject::Accounts);
        let l = save(db, &system, new).await;
        let added =
            audience::add_list_members(db, &system, l.id, vec![acme.id, person.id + 1000], NOW)
                .await
                .expect("add");
        assert_eq!(added.added, 1, "{engine:?}");
        let in_list = audience::account_segments(db, &system, acme.id, NOW)
            .await
            .expect("account segments");
        assert_eq!(
            in_list.iter().map(|b| b.id).collect::<Vec<_>>(),
            vec![l.id],
            "{engine:?}"
        );
        assert!(
            audience::contact_segments(db, &system, person.id, NOW)
                .await
                .expect("contact segments")
                .is_empty(),
            "{engine:?}: an account list says nothing about people"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_contact_list_takes_the_same_condition_as_a_segment() {
    use pitcrew_app::record::{ListParams, list_records};
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await;
        let system = Actor::system(ws.id);
        let p = people(db, ws.id).await;
        let listed = |condition: &str| ListParams {
            sort: Some("id".into()),
            condition: Some(condition.into()),
            ..ListParams::default()
        };

        let (found, total, _, _) = list_records(
            db,
            &system,
            CONTACT,
            listed(r#"all of (country is "germany", did "Order Completed" where amount > 50)"#),
        )
        .await
        .expect("filtered list");
        assert_eq!(total, 1, "{engine:?}");
        assert_eq!(
            ids(&found.iter().collect::<Vec<_>>()),
            vec![p.ada.id],
            "{engine:?}"
        );

        let (found, _, _, _) = list_records(db, &system, CONTACT, listed(r#"not country is "DE""#))
            .await
            .expect("negated list");
        assert_eq!(
            ids(&found.iter().collect::<Vec<_>>()),
            vec![p.cem.id],
            "{engine:?}"
        );
        assert_ne!(p.bob.id, p.cem.id);

        let err = list_records(db, &system, CONTACT, listed(r#"contry is "DE""#))
            .await
            .expect_err("a typo is refused");
        assert_eq!(err.code, "definition_invalid", "{engine:?}");
        assert!(
            err.message.contains("did you mean `country`?"),
            "{}",
            err.message
        );

        let err = list_records(db, &system, CONTACT, listed("accounts where employees > 5"))
            .await
            .expect_err("accounts are not contacts");
        assert_eq!(err.code, "subject_mismatch", "{engine:?}");
    }
}
