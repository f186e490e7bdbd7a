//! The data health report: each check counts exactly the records that trip
//! it and lists their ids; healthy data reports zero everywhere; another
//! workspace's data never shows; ids are capped, counts never are.

use std::collections::BTreeMap;

use pitcrew_app::health::{HealthCheck, HealthParams, HealthReport, Severity, report};
use pitcrew_app::{Actor, Db};
use pitcrew_core::admin::{Role, Workspace};
use pitcrew_core::record::ObjectKind;
use pitcrew_core::time::format_ms;
use pitcrew_store::Engine;
use pitcrew_store::record::{Identity, insert_record};
use serde_json::{Value, json};

use crate::{
    ACCOUNT, CONTACT, NOW, account, contact, member, new_workspace, obj, refused, with_role,
};

const DAY: i64 = 86_400_000;

/// Write a record straight to the store, past every validation rule, as an
/// old import or a since-changed data model would have left it.
async fn raw(db: &Db, ws: &Workspace, object: ObjectKind, fields: Value, at: i64) -> i64 {
    insert_record(
        db.conn(),
        ws.id,
        object,
        &Identity::default(),
        &obj(fields),
        at,
    )
    .await
    .expect("raw insert")
    .id
}

async fn seen_at(db: &Db, contact: i64, at: i64) {
    db.execute(
        "UPDATE contacts SET last_seen_at = $1 WHERE id = $2",
        pitcrew_store::params![at, contact],
    )
    .await
    .expect("set last seen");
}

fn params(object: &str, stale_days: Option<i64>, ids_limit: Option<i64>) -> HealthParams {
    HealthParams {
        object: Some(object.into()),
        stale_days,
        ids_limit,
    }
}

async fn health(db: &Db, actor: &Actor, p: HealthParams) -> HealthReport {
    report(db, actor, p, NOW).await.expect("health report")
}

fn key(c: &HealthCheck) -> String {
    match &c.field {
        Some(f) => format!("{}:{f}", c.code),
        None => c.code.clone(),
    }
}

#[track_caller]
fn check<'a>(r: &'a HealthReport, name: &str, engine: Engine) -> &'a HealthCheck {
    r.checks
        .iter()
        .find(|c| key(c) == name)
        .unwrap_or_else(|| panic!("{engine:?}: no check {name} in {:?}", names(r)))
}

fn names(r: &HealthReport) -> Vec<String> {
    r.checks.iter().map(key).collect()
}

/// Every check finds exactly the ids in `expected` (by `code:field`), in id
/// order for row checks, and nothing else finds anything.
#[track_caller]
fn assert_findings(r: &HealthReport, expected: &[(&str, Vec<i64>)], engine: Engine) {
    let expected: BTreeMap<&str, &Vec<i64>> = expected.iter().map(|(k, v)| (*k, v)).collect();
    for name in expected.keys() {
        check(r, name, engine);
    }
    for c in &r.checks {
        let name = key(c);
        let want = expected.get(name.as_str()).map_or(&[][..], |v| &v[..]);
        assert_eq!(
            (c.count, c.ids.as_slice(), c.ids_truncated),
            (want.len() as i64, want, false),
            "{engine:?}: {name}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_healthy_workspace_reports_zero_everywhere() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await;
        let system = Actor::system(ws.id);
        account(
            db,
            &system,
            json!({"name": "Acme", "domain": "acme.com", "industry": "software", "country": "de", "website": "acme.com"}),
        )
        .await;
        account(
            db,
            &system,
            json!({"name": "Globex", "domain": "globex.com"}),
        )
        .await;
        contact(
            db,
            &system,
            json!({"email": "Ada@Example.com", "first_name": "Ada", "last_name": "Lovelace", "company": "Acme",
                   "country": "Germany", "phone": "030 1234567", "lifecycle_stage": "MQL", "owner": "Owner@Acme.com"}),
        )
        .await;
        contact(
            db,
            &system,
            json!({"email": "grace@navy.mil", "first_name": "Grace", "last_name": "Hopper", "company": "Navy"}),
        )
        .await;
        contact(db, &system, json!({"first_name": "Nobody"})).await;

        let viewer = with_role(&ws, Role::Viewer);
        let contacts = health(db, &viewer, HealthParams::default()).await;
        assert_eq!(contacts.object, ObjectKind::Contact, "{engine:?}");
        assert_eq!(contacts.total, 3, "{engine:?}");
        assert_eq!(contacts.generated_at, format_ms(NOW), "{engine:?}");
        assert_eq!((contacts.stale_days, contacts.ids_limit), (180, 1000));
        assert_findings(&contacts, &[], engine);
        for name in [
            "email_invalid",
            "duplicate_email",
            "duplicate_name_company",
            "email_role_based",
            "value_invalid:owner",
            "picklist_value_unknown:lifecycle_stage",
            "country_unnormalised:country",
            "phone_unnormalised:phone",
            "value_unnormalised:email",
            "stale",
        ] {
            check(&contacts, name, engine);
        }
        assert!(
            contacts
                .checks
                .windows(2)
                .all(|w| w[0].severity <= w[1].severity),
            "{engine:?}: errors, then warnings, then information"
        );

        let accounts = health(db, &viewer, params("accounts", None, None)).await;
        assert_eq!((accounts.object, accounts.total), (ObjectKind::Account, 2));
        assert_findings(&accounts, &[], engine);
        for name in [
            "required_missing:name",
            "picklist_value_unknown:industry",
            "duplicate_name",
            "duplicate_domain",
            "value_invalid:employees",
            "value_unnormalised:website",
            "stale",
        ] {
            check(&accounts, name, engine);
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn each_contact_check_counts_exactly_the_records_that_trip_it() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await;
        let admin = member(db, &ws, "ann@acme.com", Role::Admin).await;
        for f in [
            json!({"object": "contact", "key": "tier", "label": "Tier", "type": "picklist",
                   "options": [{"value": "gold", "label": "Gold"}, {"value": "silver", "label": "Silver"}]}),
            json!({"object": "contact", "key": "interests", "label": "Interests", "type": "multi_picklist",
                   "options": [{"value": "ai", "label": "AI"}, {"value": "data", "label": "Data"}]}),
            json!({"object": "contact", "key": "seats", "label": "Seats", "type": "number"}),
        ] {
            let def = serde_json::from_value(f).expect("field");
            pitcrew_app::record::create_field(db, &admin, def, NOW)
                .await
                .expect("create field");
        }
        let c = CONTACT;
        let ada = contact(
            db,
            &admin,
            json!({"email": "ada@example.com", "first_name": "Ada", "last_name": "Lovelace", "company": "Acme",
                   "job_title": "CTO", "country": "GB", "phone": "+44 20 7946 0958", "tier": "gold",
                   "interests": "ai; data", "seats": 3}),
        )
        .await
        .id;
        let invalid = raw(
            db,
            &ws,
            c,
            json!({"email": "not-an-email", "job_title": "Intern"}),
            NOW,
        )
        .await;
        let info = contact(
            db,
            &admin,
            json!({"email": "info@acme.com", "job_title": "Team"}),
        )
        .await
        .id;
        let sales = raw(
            db,
            &ws,
            c,
            json!({"email": "Sales+EU@Acme.com", "job_title": "Team"}),
            NOW,
        )
        .await;
        let ada_again = raw(
            db,
            &ws,
            c,
            json!({"email": " ADA@example.com", "job_title": "CTO"}),
            NOW,
        )
        .await;
        let grace = contact(
            db,
            &admin,
            json!({"email": "grace@navy.mil", "first_name": "Grace", "last_name": "Hopper", "company": "U.S. Navy", "job_title": "RADM"}),
        )
        .await
        .id;
        let grace_caps = raw(
            db,
            &ws,
            c,
            json!({"email": "g.hopper@navy.mil", "first_name": "GRACE", "last_name": "Hopper", "company": "u.s.  NAVY", "job_title": "RADM"}),
            NOW,
        )
        .await;
        let grace_whole = raw(
            db,
            &ws,
            c,
            json!({"email": "gh@navy.mil", "first_name": "Grace Hopper", "company": "U.S. Navy", "job_title": "RADM"}),
            NOW,
        )
        .await;
        contact(
            db,
            &admin,
            json!({"first_name": "Grace", "last_name": "Hopper", "job_title": "Author"}),
        )
        .await;
        contact(
            db,
            &admin,
            json!({"first_name": "Grace", "last_name": "Hopper", "company": "Navy Reserve", "job_title": "RADM"}),
        )
        .await;
        let platinum = raw(
            db,
            &ws,
            c,
            json!({"tier": "platinum", "job_title": "VP"}),
            NOW,
        )
        .await;
        let zzz = raw(
            db,
            &ws,
            c,
            json!({"interests": ["ai", "zzz"], "job_title": "VP"}),
            NOW,
        )
        .await;
        let mql = raw(
            db,
            &ws,
            c,
            json!({"lifecycle_stage": "MQL", "job_title": "VP"}),
            NOW,
        )
        .await;
        let germany = raw(
            db,
            &ws,
            c,
            json!({"country": "Germany", "phone": "030 1234567", "job_title": "VP"}),
            NOW,
        )
        .await;
        let narnia = raw(
            db,
            &ws,
            c,
            json!({"country": "Narnia", "job_title": "VP"}),
            NOW,
        )
        .await;
        let short_phone = raw(
            db,
            &ws,
            c,
            json!({"country": "GB", "phone": "12", "job_title": "VP"}),
            NOW,
        )
        .await;
        let lots = raw(db, &ws, c, json!({"seats": "lots", "job_title": "VP"}), NOW).await;
        let twelve = raw(db, &ws, c, json!({"seats": "12", "job_title": "VP"}), NOW).await;
        let untitled = contact(db, &admin, json!({"first_name": "Untitled"}))
            .await
            .id;
        let blank_title = raw(db, &ws, c, json!({"job_title": "   "}), NOW).await;
        let stale = raw(db, &ws, c, json!({"job_title": "VP"}), NOW - 200 * DAY).await;
        let active = raw(db, &ws, c, json!({"job_title": "VP"}), NOW - 200 * DAY).await;
        seen_at(db, active, NOW - 10 * DAY).await;
        // Required after these records were written.
        pitcrew_app::record::update_field(
            db,
            &admin,
            CONTACT,
            "job_title",
            serde_json::from_value(json!({"required": true})).expect("patch"),
            NOW,
        )
        .await
        .expect("make job title required");

        let r = health(db, &admin, HealthParams::default()).await;
        assert_eq!(r.total, 22, "{engine:?}");
        assert_findings(
            &r,
            &[
                ("email_invalid", vec![invalid]),
                ("duplicate_email", vec![ada, ada_again]),
                ("required_missing:job_title", vec![untitled, blank_title]),
                ("value_invalid:country", vec![narnia]),
                ("value_invalid:phone", vec![short_phone]),
                ("value_invalid:seats", vec![lots]),
                ("picklist_value_unknown:tier", vec![platinum]),
                ("picklist_value_unknown:interests", vec![zzz]),
                ("picklist_value_unknown:lifecycle_stage", vec![mql]),
                (
                    "duplicate_name_company",
                    vec![grace, grace_caps, grace_whole],
                ),
                ("email_role_based", vec![info, sales]),
                ("value_unnormalised:email", vec![sales, ada_again]),
                ("country_unnormalised:country", vec![germany]),
                ("phone_unnormalised:phone", vec![germany]),
                ("value_unnormalised:seats", vec![twelve]),
                ("stale", vec![stale]),
            ],
            engine,
        );

        let dup = check(&r, "duplicate_email", engine);
        assert_eq!(dup.severity, Severity::Error);
        assert_eq!(dup.group_count, Some(1), "{engine:?}");
        let groups = dup.groups.as_ref().expect("groups");
        assert_eq!(
            (groups[0].key.as_str(), groups[0].ids.clone()),
            ("ada@example.com", vec![ada, ada_again]),
            "{engine:?}"
        );
        let people = check(&r, "duplicate_name_company", engine);
        let groups = people.groups.as_ref().expect("groups");
        assert_eq!(groups.len(), 1, "{engine:?}");
        assert_eq!(groups[0].key, "grace hopper · u.s. navy", "{engine:?}");

        let bad = &check(&r, "email_invalid", engine).samples[0];
        assert_eq!((bad.id, &bad.value), (invalid, &json!("not-an-email")));
        assert!(
            bad.reason.as_deref().unwrap_or("").contains("no @"),
            "{bad:?}"
        );
        let country = &check(&r, "country_unnormalised:country", engine).samples[0];
        assert_eq!(
            (&country.value, country.normalised.as_ref()),
            (&json!("Germany"), Some(&json!("DE"))),
            "{engine:?}"
        );
        let phone = &check(&r, "phone_unnormalised:phone", engine).samples[0];
        assert_eq!(phone.normalised, Some(json!("+49301234567")), "{engine:?}");
        let tier = &check(&r, "picklist_value_unknown:tier", engine).samples[0];
        assert_eq!(
            (tier.field.as_str(), &tier.value),
            ("tier", &json!("platinum"))
        );
        let interests = &check(&r, "picklist_value_unknown:interests", engine).samples[0];
        assert_eq!(interests.value, json!(["ai", "zzz"]), "{engine:?}");
        let role = check(&r, "email_role_based", engine);
        assert_eq!(role.samples[0].value, json!("info@acme.com"), "{engine:?}");
        assert_eq!(
            role.samples[1].value,
            json!("Sales+EU@Acme.com"),
            "{engine:?}"
        );
        let old = &check(&r, "stale", engine).samples[0];
        assert_eq!(
            (old.field.as_str(), &old.value),
            ("last_activity_at", &json!(format_ms(NOW - 200 * DAY))),
            "{engine:?}"
        );
        assert!(
            check(&r, "required_missing:job_title", engine)
                .samples
                .is_empty(),
            "{engine:?}: a missing value has nothing to show"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn account_checks_find_missing_names_odd_values_duplicates_and_stale_accounts() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await;
        let system = Actor::system(ws.id);
        let a = ACCOUNT;
        let acme = account(
            db,
            &system,
            json!({"name": "Acme Inc", "domain": "acme.com", "industry": "software"}),
        )
        .await
        .id;
        let acme_again = raw(
            db,
            &ws,
            a,
            json!({"name": "ACME  inc", "domain": "https://www.Acme.com/"}),
            NOW,
        )
        .await;
        let nameless = raw(db, &ws, a, json!({"domain": "globex.com"}), NOW).await;
        let blank = raw(db, &ws, a, json!({"name": "   "}), NOW).await;
        let initech = raw(
            db,
            &ws,
            a,
            json!({"name": "Initech", "industry": "Software"}),
            NOW,
        )
        .await;
        let hooli = raw(
            db,
            &ws,
            a,
            json!({"name": "Hooli", "employees": "many"}),
            NOW,
        )
        .await;
        let umbrella = raw(
            db,
            &ws,
            a,
            json!({"name": "Umbrella", "website": "Umbrella.com"}),
            NOW,
        )
        .await;
        let old = raw(db, &ws, a, json!({"name": "Old Corp"}), NOW - 400 * DAY).await;

        let r = health(db, &system, params("account", None, None)).await;
        assert_eq!(r.total, 8, "{engine:?}");
        assert_findings(
            &r,
            &[
                ("required_missing:name", vec![nameless, blank]),
                ("picklist_value_unknown:industry", vec![initech]),
                ("value_invalid:employees", vec![hooli]),
                ("duplicate_domain", vec![acme, acme_again]),
                ("duplicate_name", vec![acme, acme_again]),
                ("value_unnormalised:website", vec![umbrella]),
                ("stale", vec![old]),
            ],
            engine,
        );
        let domain = check(&r, "duplicate_domain", engine);
        assert_eq!(
            domain.groups.as_ref().map(|g| g[0].key.clone()).as_deref(),
            Some("acme.com"),
            "{engine:?}"
        );
        let website = &check(&r, "value_unnormalised:website", engine).samples[0];
        assert_eq!(website.normalised, Some(json!("https://umbrella.com")));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn another_workspaces_bad_data_never_appears() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let a = new_workspace(db, "acme").await;
        let b = new_workspace(db, "globex").await;
        let a_system = Actor::system(a.id);
        contact(
            db,
            &a_system,
            json!({"email": "ada@example.com", "first_name": "Ada", "company": "Acme"}),
        )
        .await;
        account(db, &a_system, json!({"name": "Acme", "domain": "acme.com"})).await;
        let c = CONTACT;
        let b_ada = raw(
            db,
            &b,
            c,
            json!({"email": "ADA@example.com", "first_name": "ada", "company": "ACME"}),
            NOW,
        )
        .await;
        let b_bad = raw(
            db,
            &b,
            c,
            json!({"email": "broken", "country": "Narnia", "lifecycle_stage": "x"}),
            NOW - 900 * DAY,
        )
        .await;
        let b_info = raw(
            db,
            &b,
            c,
            json!({"email": "info@globex.com", "phone": "12"}),
            NOW,
        )
        .await;
        let b_acc = raw(
            db,
            &b,
            ACCOUNT,
            json!({"name": "ACME", "domain": "ACME.com", "industry": "?"}),
            NOW - 900 * DAY,
        )
        .await;
        raw(db, &b, ACCOUNT, json!({}), NOW).await;

        let contacts = health(db, &a_system, HealthParams::default()).await;
        assert_eq!(contacts.total, 1, "{engine:?}");
        assert_findings(&contacts, &[], engine);
        let accounts = health(db, &a_system, params("account", None, None)).await;
        assert_eq!(accounts.total, 1, "{engine:?}");
        assert_findings(&accounts, &[], engine);

        let b_report = health(db, &Actor::system(b.id), HealthParams::default()).await;
        assert_eq!(b_report.total, 3, "{engine:?}");
        assert_findings(
            &b_report,
            &[
                ("email_invalid", vec![b_bad]),
                ("value_invalid:country", vec![b_bad]),
                ("value_invalid:phone", vec![b_info]),
                ("picklist_value_unknown:lifecycle_stage", vec![b_bad]),
                ("email_role_based", vec![b_info]),
                ("value_unnormalised:email", vec![b_ada]),
                ("stale", vec![b_bad]),
            ],
            engine,
        );
        let b_accounts = health(db, &Actor::system(b.id), params("account", None, None)).await;
        let missing = check(&b_accounts, "required_missing:name", engine);
        assert_eq!(missing.count, 1, "{engine:?}");
        assert_eq!(check(&b_accounts, "stale", engine).ids, vec![b_acc]);
        assert_eq!(check(&b_accounts, "duplicate_domain", engine).count, 0);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn ids_are_capped_by_ids_limit_but_counts_never_are() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await;
        let system = Actor::system(ws.id);
        let mut broken = Vec::new();
        let mut role = Vec::new();
        for i in 0..7 {
            broken.push(
                raw(
                    db,
                    &ws,
                    CONTACT,
                    json!({"email": format!("broken-{i}")}),
                    NOW,
                )
                .await,
            );
            role.push(
                raw(
                    db,
                    &ws,
                    CONTACT,
                    json!({"email": format!("info@site{i}.com")}),
                    NOW,
                )
                .await,
            );
        }
        let mut pairs = Vec::new();
        for i in 0..2 {
            let fields =
                json!({"first_name": "Sam", "last_name": format!("Twin{i}"), "company": "Acme"});
            pairs.push(contact(db, &system, fields.clone()).await.id);
            pairs.push(contact(db, &system, fields).await.id);
        }

        let r = health(db, &system, params("contact", None, Some(3))).await;
        assert_eq!(r.ids_limit, 3);
        let invalid = check(&r, "email_invalid", engine);
        assert_eq!(
            (invalid.count, invalid.ids.clone(), invalid.ids_truncated),
            (7, broken[..3].to_vec(), true),
            "{engine:?}: Rust-validated checks"
        );
        assert_eq!(
            invalid.samples.len(),
            5,
            "{engine:?}: samples are capped apart from ids"
        );
        let role_based = check(&r, "email_role_based", engine);
        assert_eq!(
            (
                role_based.count,
                role_based.ids.clone(),
                role_based.ids_truncated
            ),
            (7, role[..3].to_vec(), true),
            "{engine:?}: SQL checks"
        );
        let twins = check(&r, "duplicate_name_company", engine);
        assert_eq!((twins.count, twins.group_count), (4, Some(2)), "{engine:?}");
        assert_eq!(twins.ids, pairs[..3].to_vec(), "{engine:?}");
        assert!(twins.ids_truncated, "{engine:?}");
        let groups: Vec<Vec<i64>> = twins
            .groups
            .iter()
            .flatten()
            .map(|g| g.ids.clone())
            .collect();
        assert_eq!(groups, vec![pairs[..2].to_vec(), pairs[2..3].to_vec()]);

        let counts_only = health(db, &system, params("contact", None, Some(0))).await;
        let invalid = check(&counts_only, "email_invalid", engine);
        assert_eq!(
            (invalid.count, invalid.ids.len(), invalid.ids_truncated),
            (7, 0, true)
        );
        assert_eq!(invalid.samples.len(), 5, "{engine:?}");
        let role_based = check(&counts_only, "email_role_based", engine);
        assert_eq!((role_based.count, role_based.ids.len()), (7, 0));
        assert_eq!(role_based.samples.len(), 5, "{engine:?}");

        let exact = health(db, &system, params("contact", None, Some(7))).await;
        let invalid = check(&exact, "email_invalid", engine);
        assert_eq!(
            (invalid.ids.clone(), invalid.ids_truncated),
            (broken.clone(), false)
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn stale_means_no_event_and_no_change_for_more_than_stale_days() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await;
        let system = Actor::system(ws.id);
        let c = CONTACT;
        let edge = NOW - 30 * DAY;
        // Changed exactly 30 days ago: not stale yet.
        raw(db, &ws, c, json!({}), edge).await;
        let changed_before = raw(db, &ws, c, json!({}), edge - 1).await;
        let seen_at_edge = raw(db, &ws, c, json!({}), NOW - 90 * DAY).await;
        seen_at(db, seen_at_edge, edge).await;
        let seen_before = raw(db, &ws, c, json!({}), NOW - 90 * DAY).await;
        seen_at(db, seen_before, edge - 1).await;
        let fresh = raw(db, &ws, c, json!({}), NOW - 90 * DAY).await;
        seen_at(db, fresh, NOW).await;

        let r = health(db, &system, params("contact", Some(30), None)).await;
        let stale = check(&r, "stale", engine);
        assert_eq!(
            stale.ids,
            vec![changed_before, seen_before],
            "{engine:?}: exactly 30 days ago is not stale yet"
        );
        assert!(
            stale.description.contains("30 days"),
            "{}",
            stale.description
        );
        let r = health(db, &system, params("contact", Some(29), None)).await;
        assert_eq!(check(&r, "stale", engine).count, 4, "{engine:?}");
        let r = health(db, &system, params("contact", Some(90), None)).await;
        assert_eq!(check(&r, "stale", engine).count, 0, "{engine:?}");

        let acc = raw(db, &ws, ACCOUNT, json!({"name": "Old"}), edge - 1).await;
        raw(db, &ws, ACCOUNT, json!({"name": "Edge"}), edge).await;
        let r = health(db, &system, params("account", Some(30), None)).await;
        assert_eq!(check(&r, "stale", engine).ids, vec![acc], "{engine:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn values_are_checked_across_every_page_of_a_large_workspace() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await;
        let mut tx = db.begin().await.expect("begin");
        let mut bad = Vec::new();
        for n in 1..=2_345 {
            let broken = matches!(n, 1 | 999 | 1_000 | 1_001 | 2_000 | 2_345);
            let email = if broken {
                format!("broken {n}")
            } else {
                format!("person{n}@example.com")
            };
            let id = insert_record(
                tx.conn(),
                ws.id,
                CONTACT,
                &Identity::default(),
                &obj(json!({"email": email, "country": "DE"})),
                NOW,
            )
            .await
            .expect("insert")
            .id;
            if broken {
                bad.push(id);
            }
        }
        tx.commit().await.expect("commit");
        let r = health(db, &Actor::system(ws.id), HealthParams::default()).await;
        assert_eq!(r.total, 2_345, "{engine:?}");
        assert_findings(&r, &[("email_invalid", bad)], engine);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_objects_and_out_of_range_options_are_refused() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await;
        let viewer = with_role(&ws, Role::Viewer);
        for (p, code) in [
            (params("people", None, None), "object_invalid"),
            (params("contact", Some(0), None), "stale_days_invalid"),
            (params("contact", Some(36_501), None), "stale_days_invalid"),
            (params("contact", None, Some(-1)), "ids_limit_invalid"),
            (params("contact", None, Some(10_001)), "ids_limit_invalid"),
        ] {
            let e = refused(report(db, &viewer, p, NOW).await, code, engine);
            assert!(e.field.is_some(), "{engine:?}: {code} names its parameter");
        }
    }
}
