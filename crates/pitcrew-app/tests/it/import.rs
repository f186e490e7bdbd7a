//! CSV import: mapping, modes, matching, dry runs, dialects and encodings,
//! and a file of thousands of rows with broken ones among them.

use std::io::Cursor;

use pitcrew_app::import::{
    Encoding, ImportListParams, ImportMode, ImportOptions, ImportStatus, ImportSummary,
    MappingSource, MatchBy, Unobserved, get_import, import_csv, list_imports, rejects_csv,
};
use pitcrew_app::record::{ListParams, NewField, create_field, find_record, list_records};
use pitcrew_app::{Actor, AppError, Db, ErrorKind};
use pitcrew_core::admin::Role;
use pitcrew_core::record::{FieldType, ObjectKind};
use pitcrew_store::Engine;
use pitcrew_store::record::{Lookup, StoredRecord};
use serde_json::{Value, json};

use crate::{ACCOUNT, CONTACT, NOW, contact, create, new_workspace, value, with_role};

async fn import(
    db: &Db,
    actor: &Actor,
    csv: impl AsRef<[u8]>,
    options: ImportOptions,
) -> Result<ImportSummary, AppError> {
    let source = Box::new(Cursor::new(csv.as_ref().to_vec()));
    import_csv(db, actor, source, options, &mut Unobserved, NOW).await
}

fn contacts() -> ImportOptions {
    ImportOptions::new(CONTACT)
}

fn with(mode: ImportMode) -> ImportOptions {
    ImportOptions { mode, ..contacts() }
}

/// `(created, updated, unchanged, rejected)` of an import.
fn counts(s: &ImportSummary) -> (i64, i64, i64, i64) {
    (s.created, s.updated, s.unchanged, s.rejected)
}

/// `(line, column, code)` of every problem shown.
fn problems(s: &ImportSummary) -> Vec<(i64, String, String)> {
    s.rejects
        .iter()
        .map(|r| (r.line, r.column.clone(), r.code.clone()))
        .collect()
}

async fn by_email(db: &Db, actor: &Actor, email: &str) -> StoredRecord {
    find_record(db, actor, CONTACT, Lookup::Email(email.into()))
        .await
        .unwrap_or_else(|e| panic!("no contact {email}: {e}"))
}

async fn total(db: &Db, actor: &Actor, object: ObjectKind) -> i64 {
    list_records(db, actor, object, ListParams::default())
        .await
        .expect("list")
        .1
}

#[track_caller]
fn refused_with(result: Result<ImportSummary, AppError>, code: &str, engine: Engine) -> AppError {
    match result {
        Err(e) if e.code == code => e,
        Err(e) => panic!("{engine:?}: expected `{code}`, got {e}"),
        Ok(s) => panic!("{engine:?}: expected `{code}`, but it imported {s:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn headers_suggest_the_mapping() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await;
        let system = Actor::system(ws.id);
        let csv = "E-mail,First Name,Company Name,Country/Region,Phone Number,Job Title,Lifecycle Stage,External ID,Favourite colour\n\
                   Ada@Example.com,Ada,Analytical Engines,UK,020 7946 0958,Analyst,MQL,crm-1,blue\n";
        let s = import(db, &system, csv, contacts()).await.expect("import");
        let mapped: Vec<(&str, Option<&str>, MappingSource)> = s
            .mapping
            .iter()
            .map(|m| (m.column.as_str(), m.target.as_deref(), m.source))
            .collect();
        use MappingSource::*;
        assert_eq!(
            mapped,
            [
                ("E-mail", Some("email"), Suggested),
                ("First Name", Some("first_name"), Suggested),
                ("Company Name", Some("company"), Suggested),
                ("Country/Region", Some("country"), Suggested),
                ("Phone Number", Some("phone"), Suggested),
                ("Job Title", Some("job_title"), Suggested),
                ("Lifecycle Stage", Some("lifecycle_stage"), Suggested),
                ("External ID", Some("external_id"), Suggested),
                ("Favourite colour", None, Unmatched),
            ],
            "{engine:?}"
        );
        assert!(
            s.mapping[8]
                .note
                .as_deref()
                .unwrap_or("")
                .contains("no field matches"),
            "{engine:?}: an unknown column is reported, not fatal"
        );
        assert_eq!(counts(&s), (1, 0, 0, 0), "{engine:?}");
        let ada = by_email(db, &system, "ada@example.com").await;
        assert_eq!(value(&ada, "country"), json!("GB"), "{engine:?}");
        assert_eq!(
            value(&ada, "phone"),
            json!("+442079460958"),
            "{engine:?}: read in the row's country"
        );
        assert_eq!(value(&ada, "lifecycle_stage"), json!("mql"), "{engine:?}");
        assert_eq!(ada.external_id.as_deref(), Some("crm-1"), "{engine:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_given_mapping_picks_columns_and_targets() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await;
        let system = Actor::system(ws.id);
        let score = NewField {
            object: CONTACT,
            key: "lead_score".into(),
            label: "Lead score".into(),
            field_type: FieldType::Number,
            required: false,
            default: None,
            options: vec![],
        };
        create_field(db, &system, score, NOW).await.expect("field");
        let csv = "Mail Addr,Score,Given,Surname\nada@example.com,71,Ada,Lovelace\n";
        let options = ImportOptions {
            mapping: vec![
                ("mail addr".into(), "email".into()),
                ("Score".into(), "Lead score".into()),
                ("Surname".into(), "skip".into()),
            ],
            suggest: false,
            ..contacts()
        };
        let s = import(db, &system, csv, options).await.expect("import");
        let targets: Vec<Option<&str>> = s.mapping.iter().map(|m| m.target.as_deref()).collect();
        assert_eq!(
            targets,
            [Some("email"), Some("lead_score"), None, None],
            "{engine:?}: without suggestions only the mapped columns count"
        );
        assert_eq!(s.mapping[0].source, MappingSource::Given, "{engine:?}");
        let ada = by_email(db, &system, "ada@example.com").await;
        assert_eq!(value(&ada, "lead_score"), json!(71), "{engine:?}");
        assert_eq!(value(&ada, "first_name"), Value::Null, "{engine:?}");

        let typo = ImportOptions {
            mapping: vec![("Score".into(), "lead_scor".into())],
            ..contacts()
        };
        let e = refused_with(
            import(db, &system, csv, typo).await,
            "mapping_target_unknown",
            engine,
        );
        assert!(
            e.message.contains("did you mean `lead_score`"),
            "{engine:?}: {e}"
        );
        let missing = ImportOptions {
            mapping: vec![("Scroe".into(), "lead_score".into())],
            ..contacts()
        };
        let e = refused_with(
            import(db, &system, csv, missing).await,
            "mapping_column_unknown",
            engine,
        );
        assert!(
            e.message.contains("did you mean `Score`"),
            "{engine:?}: {e}"
        );
        let twice = ImportOptions {
            mapping: vec![
                ("Given".into(), "first_name".into()),
                ("Surname".into(), "first_name".into()),
            ],
            ..contacts()
        };
        refused_with(
            import(db, &system, csv, twice).await,
            "mapping_target_twice",
            engine,
        );
        let read_only = ImportOptions {
            mapping: vec![("Given".into(), "created_at".into())],
            ..contacts()
        };
        refused_with(
            import(db, &system, csv, read_only).await,
            "mapping_target_read_only",
            engine,
        );
        let history = list_imports(db, &system, ImportListParams::default())
            .await
            .expect("history");
        assert_eq!(history.len(), 1, "{engine:?}: refused imports are not kept");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn create_only_adds_new_records_and_rejects_the_rest() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await;
        let system = Actor::system(ws.id);
        let old = contact(
            db,
            &system,
            json!({"email": "old@example.com", "first_name": "Olga"}),
        )
        .await;
        let csv = "email,first_name\nold@example.com,Changed\nnew@example.com,Nina\nNEW@example.com,Again\n";
        let s = import(db, &system, csv, with(ImportMode::Create))
            .await
            .expect("import");
        assert_eq!(counts(&s), (1, 0, 0, 2), "{engine:?}");
        assert_eq!(
            problems(&s),
            [
                (2, "email".into(), "record_exists".into()),
                (4, "email".into(), "duplicate_in_file".into()),
            ],
            "{engine:?}"
        );
        assert!(
            s.rejects[0].reason.contains(&format!("id {}", old.id)),
            "{engine:?}"
        );
        assert!(s.rejects[1].reason.contains("line 3"), "{engine:?}");
        let olga = by_email(db, &system, "old@example.com").await;
        assert_eq!(
            value(&olga, "first_name"),
            json!("Olga"),
            "{engine:?}: untouched"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn update_only_changes_existing_records() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await;
        let system = Actor::system(ws.id);
        contact(
            db,
            &system,
            json!({"email": "ada@example.com", "job_title": "Analyst"}),
        )
        .await;
        let csv = "email,job_title\nada@example.com,CMO\nnobody@example.com,CEO\n";
        let s = import(db, &system, csv, with(ImportMode::Update))
            .await
            .expect("import");
        assert_eq!(counts(&s), (0, 1, 0, 1), "{engine:?}");
        assert_eq!(
            problems(&s),
            [(3, "email".into(), "record_not_found".into())],
            "{engine:?}"
        );
        assert_eq!(total(db, &system, CONTACT).await, 1, "{engine:?}");
        let ada = by_email(db, &system, "ada@example.com").await;
        assert_eq!(value(&ada, "job_title"), json!("CMO"), "{engine:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn upsert_updates_matches_creates_the_rest_and_blank_cells_keep_values() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await;
        let system = Actor::system(ws.id);
        contact(
            db,
            &system,
            json!({"email": "ada@example.com", "first_name": "Ada", "job_title": "Analyst", "country": "GB"}),
        )
        .await;
        contact(
            db,
            &system,
            json!({"email": "bob@example.com", "first_name": "Bob"}),
        )
        .await;
        let csv = "Email,First name,Job title\n\
                   ADA@example.com,,CMO\n\
                   bob@example.com,Bob,\n\
                   cy@example.com,Cy,Engineer\n\
                   cy@example.com,,Lead Engineer\n";
        let s = import(db, &system, csv, contacts()).await.expect("import");
        assert_eq!(
            counts(&s),
            (1, 2, 1, 0),
            "{engine:?}: ada updated, bob unchanged, cy created then updated by its second row"
        );
        let ada = by_email(db, &system, "ada@example.com").await;
        assert_eq!(value(&ada, "job_title"), json!("CMO"), "{engine:?}");
        assert_eq!(
            value(&ada, "first_name"),
            json!("Ada"),
            "{engine:?}: a blank cell never clears a value"
        );
        let cy = by_email(db, &system, "cy@example.com").await;
        assert_eq!(
            (value(&cy, "first_name"), value(&cy, "job_title")),
            (json!("Cy"), json!("Lead Engineer")),
            "{engine:?}: a later row with the same email updates the earlier one"
        );
        assert_eq!(total(db, &system, CONTACT).await, 3, "{engine:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn records_match_by_external_id_and_keep_identities_unique() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await;
        let system = Actor::system(ws.id);
        create(
            db,
            &system,
            ACCOUNT,
            json!({"external_id": "sf-1", "fields": {"name": "Globex"}}),
        )
        .await;
        let csv = "Id,Company Name,Employees\nsf-1,Globex Corp,1200\nsf-2,Initech,40\n";
        let options = ImportOptions::new(ACCOUNT);
        let s = import(db, &system, csv, options).await.expect("accounts");
        assert_eq!(
            s.match_by,
            MatchBy::ExternalId,
            "{engine:?}: the default for accounts"
        );
        assert_eq!(counts(&s), (1, 1, 0, 0), "{engine:?}");
        let globex = find_record(db, &system, ACCOUNT, Lookup::ExternalId("sf-1".into()))
            .await
            .expect("sf-1");
        assert_eq!(value(&globex, "name"), json!("Globex Corp"), "{engine:?}");
        assert_eq!(value(&globex, "employees"), json!(1200), "{engine:?}");

        let ada = create(
            db,
            &system,
            CONTACT,
            json!({"external_id": "c-1", "fields": {"email": "ada@example.com"}}),
        )
        .await;
        contact(db, &system, json!({"email": "bob@example.com"})).await;
        let csv = "External ID,Email,Account ID\n\
                   c-1,ada.lovelace@example.com,sf-2\n\
                   c-2,bob@example.com,\n\
                   c-3,cy@example.com,sf-9\n";
        let options = ImportOptions {
            match_by: Some(MatchBy::ExternalId),
            ..contacts()
        };
        let s = import(db, &system, csv, options).await.expect("contacts");
        assert_eq!(counts(&s), (0, 1, 0, 2), "{engine:?}");
        assert_eq!(
            problems(&s),
            [
                (3, "Email".into(), "email_taken".into()),
                (4, "Account ID".into(), "account_not_found".into()),
            ],
            "{engine:?}"
        );
        let moved = find_record(db, &system, CONTACT, Lookup::ExternalId("c-1".into()))
            .await
            .expect("c-1");
        assert_eq!(moved.id, ada.id, "{engine:?}");
        assert_eq!(
            value(&moved, "email"),
            json!("ada.lovelace@example.com"),
            "{engine:?}"
        );
        let initech = find_record(db, &system, ACCOUNT, Lookup::ExternalId("sf-2".into()))
            .await
            .expect("sf-2");
        assert_eq!(
            moved.account_id,
            Some(initech.id),
            "{engine:?}: linked by the account's external id"
        );

        let options = ImportOptions {
            match_by: Some(MatchBy::Email),
            ..ImportOptions::new(ACCOUNT)
        };
        refused_with(
            import(db, &system, "Name\nX\n", options).await,
            "match_invalid",
            engine,
        );
        refused_with(
            import(db, &system, "First name\nAda\n", contacts()).await,
            "match_column_missing",
            engine,
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dry_run_changes_nothing_but_reports_the_same_counts() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await;
        let system = Actor::system(ws.id);
        contact(
            db,
            &system,
            json!({"email": "ada@example.com", "first_name": "Ada"}),
        )
        .await;
        let mut csv = String::from("email,first_name,country\n");
        csv.push_str("ada@example.com,Ada Lovelace,GB\n");
        for i in 0..1200 {
            csv.push_str(&format!("p{i}@example.com,P{i},DE\n"));
        }
        csv.push_str("p5@example.com,Five again,DE\n");
        csv.push_str("broken,Bad,DE\n");
        let dry = ImportOptions {
            dry_run: true,
            ..contacts()
        };
        let planned = import(db, &system, &csv, dry).await.expect("dry run");
        assert!(planned.dry_run, "{engine:?}");
        assert_eq!(counts(&planned), (1200, 2, 0, 1), "{engine:?}");
        assert_eq!(
            problems(&planned),
            [(1204, "email".into(), "field_invalid".into())],
            "{engine:?}"
        );
        assert_eq!(
            total(db, &system, CONTACT).await,
            1,
            "{engine:?}: nothing was created"
        );
        let ada = by_email(db, &system, "ada@example.com").await;
        assert_eq!(
            value(&ada, "first_name"),
            json!("Ada"),
            "{engine:?}: nothing was changed"
        );
        let kept = get_import(db, &system, planned.id).await.expect("kept");
        assert_eq!(kept.problems, 1, "{engine:?}: a dry run's report is kept");

        let done = import(db, &system, &csv, contacts()).await.expect("import");
        assert_eq!(counts(&done), counts(&planned), "{engine:?}");
        assert_eq!(total(db, &system, CONTACT).await, 1201, "{engine:?}");

        let audit = pitcrew_app::audit::list(
            db,
            &system,
            pitcrew_app::audit::AuditParams {
                object_type: Some("contact".into()),
                limit: Some(500),
                ..Default::default()
            },
        )
        .await
        .expect("audit");
        let imports: Vec<_> = audit.iter().filter(|e| e.action == "import").collect();
        assert_eq!(
            imports.len(),
            1,
            "{engine:?}: one entry for the import, none for the dry run"
        );
        assert_eq!(
            imports[0].object_id,
            format!("import:{}", done.id),
            "{engine:?}"
        );
        assert_eq!(
            imports[0].changes["after"]["created"],
            json!(1200),
            "{engine:?}"
        );
    }
}

/// The kinds of broken row the big file holds, one every hundred rows.
const BROKEN: usize = 10;

/// A contact file of `rows` rows: a quoted multi-line note every 50 rows
/// and a broken row every 100. Returns the file and every problem expected,
/// as `(line, column, code)`.
fn big_file(rows: usize) -> (String, Vec<(i64, String, String)>) {
    let header =
        "Email,First Name,Last Name,Country,Phone,Lifecycle Stage,Lead Score,Account ID,Notes";
    let mut csv = format!("{header}\r\n");
    let mut expected = Vec::new();
    let mut line: i64 = 2;
    let mut bad = |line: i64, column: &str, code: &str| {
        expected.push((line, column.to_string(), code.to_string()));
    };
    for i in 0..rows {
        let mut email = format!("person{i}@example.com");
        let mut country = ["DE", "France", "usa", "gb"][i % 4].to_string();
        let mut phone = String::new();
        let mut stage = ["lead", "MQL", "Customer", ""][i % 4].to_string();
        let mut score = (i % 97).to_string();
        let mut account = if i % 3 == 0 { "acc-1" } else { "" }.to_string();
        let last = if i % 7 == 0 {
            "\"Smith, Jr.\""
        } else {
            "Smith"
        };
        let notes = if i % 50 == 0 {
            "\"first line\nsecond line, with a comma\"".to_string()
        } else {
            format!("note {i}")
        };
        let mut short = false;
        let mut long = false;
        if i % 100 == 37 {
            match (i / 100) % BROKEN {
                0 => {
                    email = format!("person{i}@@example.com");
                    bad(line, "Email", "field_invalid");
                }
                1 => {
                    country = "Atlantis".into();
                    bad(line, "Country", "field_invalid");
                }
                2 => {
                    short = true;
                    bad(line, "", "row_columns");
                }
                3 => {
                    stage = "Prospect".into();
                    bad(line, "Lifecycle Stage", "field_invalid");
                }
                4 => {
                    email = format!("PERSON{}@example.com", i - 1);
                    bad(line, "Email", "duplicate_in_file");
                }
                5 => {
                    phone = "12".into();
                    bad(line, "Phone", "field_invalid");
                }
                6 => {
                    score = "lots".into();
                    bad(line, "Lead Score", "field_invalid");
                }
                7 => {
                    long = true;
                    bad(line, "", "row_columns");
                }
                8 => {
                    email = "nobody-at-example.com".into();
                    country = "Middle Earth".into();
                    bad(line, "Email", "field_invalid");
                    bad(line, "Country", "field_invalid");
                }
                _ => {
                    account = "acc-404".into();
                    bad(line, "Account ID", "account_not_found");
                }
            }
        }
        let mut row =
            format!("{email},First{i},{last},{country},{phone},{stage},{score},{account},{notes}");
        if short {
            row = format!("{email},First{i},{last},{country},{phone},{stage},{score},{account}");
        }
        if long {
            row.push_str(",extra");
        }
        csv.push_str(&row);
        csv.push_str("\r\n");
        line += 1 + notes.matches('\n').count() as i64;
    }
    (csv, expected)
}

#[tokio::test(flavor = "multi_thread")]
async fn thousands_of_rows_with_broken_ones_import_every_good_row_and_report_every_bad_line() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await;
        let system = Actor::system(ws.id);
        let score = NewField {
            object: CONTACT,
            key: "lead_score".into(),
            label: "Lead score".into(),
            field_type: FieldType::Number,
            required: false,
            default: None,
            options: vec![],
        };
        create_field(db, &system, score, NOW).await.expect("field");
        let acc = create(
            db,
            &system,
            ACCOUNT,
            json!({"external_id": "acc-1", "fields": {"name": "Acme"}}),
        )
        .await;
        let (csv, expected) = big_file(3000);
        let broken_rows = 30;
        assert_eq!(
            expected.len(),
            broken_rows + 3,
            "the file has 30 broken rows"
        );
        let s = import(db, &system, &csv, with(ImportMode::Create))
            .await
            .expect("import");
        assert_eq!(s.status, ImportStatus::Done, "{engine:?}");
        assert_eq!(s.rows, 3000, "{engine:?}");
        assert_eq!(
            counts(&s),
            (3000 - broken_rows as i64, 0, 0, broken_rows as i64),
            "{engine:?}"
        );
        assert_eq!(s.problems, expected.len() as i64, "{engine:?}");
        assert_eq!(
            problems(&s),
            expected,
            "{engine:?}: every bad row, at its line"
        );
        assert_eq!(
            total(db, &system, CONTACT).await,
            3000 - broken_rows as i64,
            "{engine:?}"
        );

        let report = rejects_csv(db, &system, s.id).await.expect("report");
        let mut reader = csv::Reader::from_reader(report.as_slice());
        let rows: Vec<(i64, String, String)> = reader
            .records()
            .map(|r| {
                let r = r.expect("report row");
                (
                    r[0].parse().expect("line"),
                    r[1].to_string(),
                    r[4].to_string(),
                )
            })
            .collect();
        assert_eq!(
            rows, expected,
            "{engine:?}: the downloadable report says the same"
        );

        let smith = by_email(db, &system, "person7@example.com").await;
        assert_eq!(
            value(&smith, "last_name"),
            json!("Smith, Jr."),
            "{engine:?}"
        );
        let first = by_email(db, &system, "person0@example.com").await;
        assert_eq!(
            (value(&first, "country"), value(&first, "lead_score")),
            (json!("DE"), json!(0)),
            "{engine:?}"
        );
        assert_eq!(first.account_id, Some(acc.id), "{engine:?}");
        let after_note = by_email(db, &system, "person53@example.com").await;
        assert_eq!(
            value(&after_note, "lifecycle_stage"),
            json!("mql"),
            "{engine:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bom_semicolons_and_latin1_are_read() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await;
        let system = Actor::system(ws.id);
        let bom = "\u{feff}E-Mail;First Name;Last Name;Country\r\nanna@example.de;Anna;Weiß;Deutschland\r\n";
        let s = import(db, &system, bom, contacts())
            .await
            .expect("BOM and ;");
        assert_eq!(
            (s.encoding, s.delimiter.as_str()),
            (Encoding::Utf8, ";"),
            "{engine:?}"
        );
        let anna = by_email(db, &system, "anna@example.de").await;
        assert_eq!(value(&anna, "country"), json!("DE"), "{engine:?}");

        let latin1 = b"Email\tFirst Name\tLast Name\njurgen@example.de\tJ\xfcrgen\tM\xfcller\n";
        let s = import(db, &system, latin1, contacts())
            .await
            .expect("Latin-1");
        assert_eq!(
            (s.encoding, s.encoding_detected, s.delimiter.as_str()),
            (Encoding::Latin1, true, "tab"),
            "{engine:?}: detected and reported"
        );
        let jurgen = by_email(db, &system, "jurgen@example.de").await;
        assert_eq!(
            (value(&jurgen, "first_name"), value(&jurgen, "last_name")),
            (json!("Jürgen"), json!("Müller")),
            "{engine:?}"
        );

        let options = ImportOptions {
            encoding: Some(Encoding::Latin1),
            delimiter: Some(b','),
            ..contacts()
        };
        let s = import(
            db,
            &system,
            b"Email,Company\nk@example.com,Caf\xe9 \x80\n",
            options,
        )
        .await
        .expect("explicit Latin-1");
        assert!(!s.encoding_detected, "{engine:?}");
        let k = by_email(db, &system, "k@example.com").await;
        assert_eq!(value(&k, "company"), json!("Café €"), "{engine:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn empty_header_only_and_non_csv_files_are_refused_with_what_to_do() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await;
        let system = Actor::system(ws.id);
        let e = refused_with(
            import(db, &system, "", contacts()).await,
            "import_empty",
            engine,
        );
        assert_eq!(e.kind, ErrorKind::Invalid, "{engine:?}");
        refused_with(
            import(db, &system, "\u{feff}\n\n", contacts()).await,
            "import_empty",
            engine,
        );
        let e = refused_with(
            import(db, &system, "email,first_name\r\n", contacts()).await,
            "import_no_rows",
            engine,
        );
        assert!(e.message.contains("header but no rows"), "{engine:?}");
        refused_with(
            import(db, &system, b"PK\x03\x04\x14\0\x06\0", contacts()).await,
            "import_not_csv",
            engine,
        );
        refused_with(
            import(db, &system, b"\xff\xfee\0m\0", contacts()).await,
            "import_encoding_unsupported",
            engine,
        );
        let history = list_imports(db, &system, ImportListParams::default())
            .await
            .expect("history");
        assert!(history.is_empty(), "{engine:?}: nothing was kept");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unclosed_quote_ends_the_import_keeping_the_rows_before_it() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await;
        let system = Actor::system(ws.id);
        let mut csv = String::from("email,first_name\n");
        for i in 0..600 {
            csv.push_str(&format!("p{i}@example.com,P{i}\n"));
        }
        csv.push_str("late@example.com,\"never closed\n");
        csv.push_str(&"x".repeat(pitcrew_app::import::MAX_RECORD_BYTES + 10));
        let s = import(db, &system, &csv, contacts())
            .await
            .expect("summary");
        assert_eq!(s.status, ImportStatus::Failed, "{engine:?}");
        let error = s.error.expect("error");
        assert_eq!(error.code, "import_record_too_long", "{engine:?}");
        assert!(
            error.message.contains("line 602"),
            "{engine:?}: {}",
            error.message
        );
        assert_eq!(
            s.created, 600,
            "{engine:?}: the rows before it are imported"
        );
        assert_eq!(total(db, &system, CONTACT).await, 600, "{engine:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn only_marketers_and_up_import_and_read_imports() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await;
        let viewer = with_role(&ws, Role::Viewer);
        let e = import(db, &viewer, "email\na@example.com\n", contacts())
            .await
            .expect_err("viewer");
        assert_eq!(e.kind, ErrorKind::Forbidden, "{engine:?}");
        let e = list_imports(db, &viewer, ImportListParams::default())
            .await
            .expect_err("viewer");
        assert_eq!(e.kind, ErrorKind::Forbidden, "{engine:?}");
        let marketer = with_role(&ws, Role::Marketer);
        let s = import(db, &marketer, "email\na@example.com\n", contacts())
            .await
            .expect("marketer");
        assert_eq!(s.by, "marketer@test", "{engine:?}");
        let other = new_workspace(db, "globex").await;
        let outsider = Actor::system(other.id);
        let e = get_import(db, &outsider, s.id)
            .await
            .expect_err("other workspace");
        assert_eq!(e.code, "import_not_found", "{engine:?}");
        let history = list_imports(db, &marketer, ImportListParams::default())
            .await
            .expect("history");
        assert_eq!(
            history.iter().map(|i| i.id).collect::<Vec<_>>(),
            [s.id],
            "{engine:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn two_imports_of_the_same_people_at_once_create_each_person_once() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await;
        let system = Actor::system(ws.id);
        let mut csv = String::from("email,first_name\n");
        for i in 0..1500 {
            csv.push_str(&format!("p{i}@example.com,P{i}\n"));
        }
        let (a, b) = tokio::join!(
            import(db, &system, &csv, contacts()),
            import(db, &system, &csv, contacts())
        );
        let (a, b) = (a.expect("first"), b.expect("second"));
        assert_eq!(a.rejected + b.rejected, 0, "{engine:?}: {a:?} {b:?}");
        assert_eq!(a.created + b.created, 1500, "{engine:?}: {a:?} {b:?}");
        assert_eq!(
            a.unchanged + b.unchanged,
            1500,
            "{engine:?}: what one created the other found as it is"
        );
        assert_eq!(total(db, &system, CONTACT).await, 1500, "{engine:?}");
    }
}
