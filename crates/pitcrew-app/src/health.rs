//! The data health report of a workspace: for contacts or accounts, every
//! kind of problem that creeps into a record over time — invalid or
//! role-based emails, likely duplicates, missing required values, values
//! outside a picklist or no longer valid for their field, countries and phones
//! not in their normal form, stale records — each with a count and the ids
//! behind it.
//!
//! Checks that SQL can decide run in the database (`pitcrew_store::health`);
//! checks that need the field rules of `pitcrew-core` read the records in
//! pages of ids and keep only the failures, at most `ids_limit` ids each, so a
//! report over millions of records never holds them all. Pages are read
//! outside a transaction: records written while a report runs may or may not
//! be in it.

use std::collections::BTreeMap;

use pitcrew_core::admin::Action;
use pitcrew_core::record::value::normalize;
use pitcrew_core::record::{FieldDef, FieldType, ObjectKind};
use pitcrew_core::time::format_ms;
use pitcrew_store::Db;
use pitcrew_store::health::{self as repo, DuplicateKey, RowCheck, ScannedRecord};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{Actor, AppError};

/// Records without activity for this many days are stale, unless asked otherwise.
pub const DEFAULT_STALE_DAYS: i64 = 180;
/// The longest staleness window accepted: a hundred years.
pub const MAX_STALE_DAYS: i64 = 36_500;
/// Ids listed per check, unless asked otherwise.
pub const DEFAULT_IDS_LIMIT: i64 = 1_000;
/// The most ids one check lists; counts are always complete.
pub const MAX_IDS_LIMIT: i64 = 10_000;
/// Example values shown per check.
pub const SAMPLES: usize = 5;
/// Records read per page by the checks that validate values in Rust.
const SCAN_PAGE: i64 = 1_000;
const DAY_MS: i64 = 86_400_000;

/// Local parts (before `@`, ignoring a `+tag`) of addresses that belong to a
/// role or a team rather than a person.
pub const ROLE_BASED_LOCAL_PARTS: &[&str] = &[
    "abuse",
    "accounting",
    "accounts",
    "admin",
    "administrator",
    "all",
    "billing",
    "careers",
    "contact",
    "customerservice",
    "do-not-reply",
    "donotreply",
    "enquiries",
    "everyone",
    "feedback",
    "finance",
    "hello",
    "help",
    "helpdesk",
    "hostmaster",
    "hr",
    "info",
    "inquiries",
    "jobs",
    "legal",
    "mail",
    "marketing",
    "media",
    "newsletter",
    "no-reply",
    "no_reply",
    "noreply",
    "office",
    "orders",
    "postmaster",
    "press",
    "privacy",
    "reception",
    "recruiting",
    "root",
    "sales",
    "security",
    "service",
    "staff",
    "support",
    "team",
    "webmaster",
];

/// What a client asks the report for.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct HealthParams {
    /// `contact` (the default) or `account`; `contacts` and `accounts` work too.
    pub object: Option<String>,
    /// Records with no activity for this many days count as stale: 1 to
    /// 36500, default 180.
    pub stale_days: Option<i64>,
    /// The most ids listed per check: 0 to 10000, default 1000. Counts are
    /// always complete; `ids_truncated` says when a list is cut.
    pub ids_limit: Option<i64>,
}

/// How much a problem matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Wrong data: it breaks sending, matching or rules.
    Error,
    /// Data that works but misleads: duplicates, team addresses, odd forms.
    Warning,
    /// Worth knowing, such as records nobody touches any more.
    Info,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }
}

/// One record that failed a check, with the value that made it fail.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Sample {
    pub id: i64,
    /// The field the value is in (`last_activity_at` for staleness).
    pub field: String,
    #[schema(value_type = Object)]
    pub value: Value,
    /// Why the value is not valid, for invalid values.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// What pitcrew would store instead, for values not in their normal form.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub normalised: Option<Value>,
}

/// Records that look like one another.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct DuplicateGroup {
    /// What they share, as compared (lowercased, spaces tidied).
    pub key: String,
    pub ids: Vec<i64>,
}

/// One check of the report and what it found.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct HealthCheck {
    /// Stable and machine-readable, e.g. `email_invalid`, `required_missing`.
    pub code: String,
    /// The field checked, for checks made per field.
    pub field: Option<String>,
    pub label: String,
    /// What the problem means and what to do about it.
    pub description: String,
    pub severity: Severity,
    /// How many records have the problem (for duplicates: records in a group).
    pub count: i64,
    /// The first of them by id, at most `ids_limit` (for duplicates: group by group).
    pub ids: Vec<i64>,
    /// Whether `ids` lists fewer records than `count`.
    pub ids_truncated: bool,
    /// A few failing values, to see the problem at a glance.
    pub samples: Vec<Sample>,
    /// For duplicate checks: the groups, as far as `ids` reaches.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<DuplicateGroup>>,
    /// For duplicate checks: how many groups there are in all.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_count: Option<i64>,
}

/// The health of one kind of record in a workspace.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct HealthReport {
    pub object: ObjectKind,
    /// How many records there are.
    pub total: i64,
    pub generated_at: String,
    pub stale_days: i64,
    pub ids_limit: i64,
    /// Every check, whether it found anything or not: errors, then warnings, then information.
    pub checks: Vec<HealthCheck>,
}

/// The report's options, checked.
#[derive(Debug, Clone, Copy)]
struct Options {
    object: ObjectKind,
    stale_days: i64,
    ids_limit: i64,
}

fn options(p: &HealthParams) -> Result<Options, AppError> {
    let object = match p.object.as_deref().map(str::trim) {
        None | Some("") => ObjectKind::Contact,
        Some(s) => ObjectKind::parse(s).ok_or_else(|| {
            AppError::invalid(
                "object_invalid",
                "object",
                format!("`{s}` is not a kind of record; use contact or account"),
            )
        })?,
    };
    let stale_days = p.stale_days.unwrap_or(DEFAULT_STALE_DAYS);
    if !(1..=MAX_STALE_DAYS).contains(&stale_days) {
        return Err(AppError::invalid(
            "stale_days_invalid",
            "stale_days",
            format!(
                "stale_days must be a whole number of days from 1 to {MAX_STALE_DAYS}, e.g. 180"
            ),
        ));
    }
    let ids_limit = p.ids_limit.unwrap_or(DEFAULT_IDS_LIMIT);
    if !(0..=MAX_IDS_LIMIT).contains(&ids_limit) {
        return Err(AppError::invalid(
            "ids_limit_invalid",
            "ids_limit",
            format!("ids_limit must be from 0 (counts only) to {MAX_IDS_LIMIT}"),
        ));
    }
    Ok(Options {
        object,
        stale_days,
        ids_limit,
    })
}

/// Where a check's findings come from.
enum Source {
    Row(RowCheck),
    Duplicates(DuplicateKey),
    /// Filled by the value scan.
    Scan,
}

struct Planned {
    check: HealthCheck,
    source: Source,
}

fn planned(
    code: &str,
    field: Option<&FieldDef>,
    severity: Severity,
    label: String,
    description: String,
    source: Source,
) -> Planned {
    let groups = matches!(source, Source::Duplicates(_));
    Planned {
        check: HealthCheck {
            code: code.to_string(),
            field: field.map(|f| f.key.clone()),
            label,
            description,
            severity,
            count: 0,
            ids: Vec::new(),
            ids_truncated: false,
            samples: Vec::new(),
            groups: groups.then(Vec::new),
            group_count: groups.then_some(0),
        },
        source,
    }
}

/// The field whose values a scan check validates, and where its findings go.
struct ScannedField {
    def: FieldDef,
    /// Index of the check counting values that do not validate.
    invalid: usize,
    /// Index of the check counting valid values not in their stored form.
    unnormalised: usize,
}

/// Every check for `object` given its fields, in report order.
fn plan(fields: &[FieldDef], o: Options, cutoff: i64) -> (Vec<Planned>, Vec<ScannedField>) {
    use Severity::*;
    let object = o.object;
    let is_contact = object == ObjectKind::Contact;
    let writable: Vec<&FieldDef> = fields.iter().filter(|f| !f.read_only).collect();
    let mut checks = Vec::new();
    let mut scanned = Vec::new();
    let has_email = is_contact && writable.iter().any(|f| f.key == "email");

    let mut email_invalid = None;
    if has_email {
        email_invalid = Some(checks.len());
        checks.push(planned(
            "email_invalid",
            None,
            Error,
            "Invalid email addresses".into(),
            "The stored address is not a valid email address, so nothing can be sent to it and sign-ups will not match it. Correct it from its source, or clear it.".into(),
            Source::Scan,
        ));
        checks.push(planned(
            "duplicate_email",
            None,
            Error,
            "Duplicate email addresses".into(),
            "These contacts share one address once case and spaces are ignored, so one person is split across several records. Merge each group into one contact.".into(),
            Source::Duplicates(DuplicateKey::ContactEmail),
        ));
    }
    for def in writable.iter().filter(|f| f.required) {
        checks.push(planned(
            "required_missing",
            Some(def),
            Error,
            format!("Missing {}", def.label),
            format!(
                "`{}` is required, but these records have no value — usually because they existed before it became required, or were imported around the rule. Fill it in, or make the field optional if it need not be.",
                def.key
            ),
            Source::Row(RowCheck::Missing {
                key: def.key.clone(),
            }),
        ));
    }
    let validated: Vec<&FieldDef> = writable
        .iter()
        .filter(|f| !f.field_type.has_options())
        .copied()
        .collect();
    let mut invalid_at = BTreeMap::new();
    for def in &validated {
        if is_contact && def.key == "email" {
            continue;
        }
        invalid_at.insert(def.key.clone(), checks.len());
        checks.push(planned(
            "value_invalid",
            Some(def),
            Error,
            format!("Invalid {} values", def.label),
            format!(
                "These `{}` values are not valid {} values any more — written before the field changed, or imported around its rules. Each sample says what is wrong; correct or clear them.",
                def.key,
                def.field_type.as_str()
            ),
            Source::Scan,
        ));
    }
    for def in writable.iter().filter(|f| f.field_type.has_options()) {
        let options = def.options.iter().map(|o| o.value.clone()).collect();
        checks.push(planned(
            "picklist_value_unknown",
            Some(def),
            Error,
            format!("{} values outside the picklist", def.label),
            format!(
                "These `{}` values are not exactly one of the field's options — an option was removed or renamed after they were written, or they were imported in another spelling. Change them to an existing option, or add the option back.",
                def.key
            ),
            Source::Row(RowCheck::OutsideOptions {
                key: def.key.clone(),
                multi: def.field_type == FieldType::MultiPicklist,
                options,
            }),
        ));
    }
    if is_contact {
        checks.push(planned(
            "duplicate_name_company",
            None,
            Warning,
            "Likely duplicates: same name and company".into(),
            "These contacts have the same full name at the same company, ignoring case and extra spaces — often one person entered twice with different addresses. Check each group and merge the ones that are one person.".into(),
            Source::Duplicates(DuplicateKey::ContactNameCompany),
        ));
        let locals = ROLE_BASED_LOCAL_PARTS
            .iter()
            .map(|s| s.to_string())
            .collect();
        checks.push(planned(
            "email_role_based",
            None,
            Warning,
            "Role-based email addresses".into(),
            "Addresses such as info@, sales@ or support@ reach a team, not a person: they are shared, filtered and often complain, which hurts deliverability and personalisation. Find the person behind them, or keep them out of campaigns.".into(),
            Source::Row(RowCheck::RoleBasedEmail { locals }),
        ));
    } else {
        checks.push(planned(
            "duplicate_domain",
            None,
            Warning,
            "Likely duplicates: same domain".into(),
            "These accounts have the same domain, ignoring case, the scheme, `www.` and a final `/` — usually one company created twice. Merge each group, moving contacts to the account you keep.".into(),
            Source::Duplicates(DuplicateKey::AccountDomain),
        ));
        checks.push(planned(
            "duplicate_name",
            None,
            Warning,
            "Likely duplicates: same name".into(),
            "These accounts have the same name, ignoring case and extra spaces. Some are separate companies with one name; merge the ones that are one company.".into(),
            Source::Duplicates(DuplicateKey::AccountName),
        ));
    }
    for def in &validated {
        let (code, label, what) = match def.field_type {
            FieldType::Country => (
                "country_unnormalised",
                format!("{} values not as ISO codes", def.label),
                "recognised countries stored as names or other codes rather than their two-letter ISO code (DE), so filters and reports on the code miss them",
            ),
            FieldType::Phone => (
                "phone_unnormalised",
                format!("{} values not in international format", def.label),
                "valid numbers not stored in international E.164 form (+4930123456), so lookups, dialers and de-duplication miss them",
            ),
            _ => (
                "value_unnormalised",
                format!("{} values not in their normal form", def.label),
                "valid values stored differently from how pitcrew stores them (case, spaces or format), so exact matches and de-duplication miss them",
            ),
        };
        let unnormalised = checks.len();
        checks.push(planned(
            code,
            Some(def),
            Warning,
            label,
            format!(
                "`{}`: {what}. The samples show the normal form; saving the value again through the API or an import stores it.",
                def.key
            ),
            Source::Scan,
        ));
        let invalid = if is_contact && def.key == "email" {
            email_invalid
        } else {
            invalid_at.get(&def.key).copied()
        };
        if let Some(invalid) = invalid {
            scanned.push(ScannedField {
                def: (*def).clone(),
                invalid,
                unnormalised,
            });
        }
    }
    let (label, activity) = if is_contact {
        ("Stale contacts", "no event and no change")
    } else {
        ("Stale accounts", "no change")
    };
    checks.push(planned(
        "stale",
        None,
        Info,
        label.into(),
        format!(
            "These records have had {activity} in the last {} days. Re-engage them, or archive them so that lists and counts stay honest.",
            o.stale_days
        ),
        Source::Row(RowCheck::Inactive { before: cutoff }),
    ));
    (checks, scanned)
}

/// The data health report of the actor's workspace, as of `now`.
pub async fn report(
    db: &Db,
    actor: &Actor,
    params: HealthParams,
    now: i64,
) -> Result<HealthReport, AppError> {
    actor.require(Action::ReadRecords)?;
    let o = options(&params)?;
    let ws = actor.workspace_id;
    let fields = pitcrew_store::record::list_fields(db.conn(), ws, Some(o.object)).await?;
    let cutoff = now.saturating_sub(o.stale_days.saturating_mul(DAY_MS));
    let (mut checks, scanned) = plan(&fields, o, cutoff);

    let total = run_row_checks(db, ws, o, &mut checks).await?;
    run_duplicates(db, ws, o, &mut checks).await?;
    scan_values(db, ws, o, &scanned, &mut checks).await?;

    let checks = checks
        .into_iter()
        .map(|p| {
            let mut c = p.check;
            c.ids_truncated = c.count > c.ids.len() as i64;
            c
        })
        .collect();
    Ok(HealthReport {
        object: o.object,
        total,
        generated_at: format_ms(now),
        stale_days: o.stale_days,
        ids_limit: o.ids_limit,
        checks,
    })
}

/// Count every SQL row check in one pass, then list the records of those
/// that found any. Returns the number of records.
async fn run_row_checks(
    db: &Db,
    ws: i64,
    o: Options,
    checks: &mut [Planned],
) -> Result<i64, AppError> {
    let rows: Vec<(usize, &RowCheck)> = checks
        .iter()
        .enumerate()
        .filter_map(|(i, p)| match &p.source {
            Source::Row(r) => Some((i, r)),
            _ => None,
        })
        .collect();
    let conditions: Vec<RowCheck> = rows.iter().map(|(_, r)| (*r).clone()).collect();
    let indexes: Vec<usize> = rows.iter().map(|(i, _)| *i).collect();
    let (total, counts) = repo::count_row_checks(db.conn(), ws, o.object, &conditions).await?;
    // Samples are shown even when ids are not asked for.
    let wanted = o.ids_limit.max(SAMPLES as i64);
    for ((i, condition), count) in indexes.into_iter().zip(&conditions).zip(counts) {
        let check = &mut checks[i].check;
        check.count = count;
        if count == 0 {
            continue;
        }
        let found = repo::row_check_matches(db.conn(), ws, o.object, condition, wanted).await?;
        check.ids = found
            .iter()
            .take(usize::try_from(o.ids_limit).unwrap_or(0))
            .map(|(id, _)| *id)
            .collect();
        check.samples = match condition {
            RowCheck::Missing { .. } => Vec::new(),
            RowCheck::OutsideOptions { key, .. } => samples(&found, key, |v| v.clone()),
            RowCheck::RoleBasedEmail { .. } => samples(&found, "email", |v| v.clone()),
            RowCheck::Inactive { .. } => samples(&found, "last_activity_at", |v| {
                v.as_i64()
                    .map_or(Value::Null, |ms| Value::String(format_ms(ms)))
            }),
        };
    }
    Ok(total)
}

fn samples(found: &[(i64, Value)], field: &str, shown: impl Fn(&Value) -> Value) -> Vec<Sample> {
    found
        .iter()
        .take(SAMPLES)
        .map(|(id, v)| Sample {
            id: *id,
            field: field.to_string(),
            value: shown(v),
            reason: None,
            normalised: None,
        })
        .collect()
}

/// Count and list every duplicate group check.
async fn run_duplicates(
    db: &Db,
    ws: i64,
    o: Options,
    checks: &mut [Planned],
) -> Result<(), AppError> {
    for p in checks.iter_mut() {
        let Source::Duplicates(key) = p.source else {
            continue;
        };
        let found = repo::duplicates(db.conn(), ws, key, o.ids_limit).await?;
        let check = &mut p.check;
        check.count = found.records;
        check.group_count = Some(found.groups);
        let members = found.members;
        let mut groups: Vec<DuplicateGroup> = Vec::new();
        for (k, id) in members {
            check.ids.push(id);
            match groups.last_mut() {
                Some(g) if g.key == k => g.ids.push(id),
                _ => groups.push(DuplicateGroup {
                    key: k,
                    ids: vec![id],
                }),
            }
        }
        check.groups = Some(groups);
    }
    Ok(())
}

/// Validate every stored value of the scanned fields against the current
/// field definitions, page by page.
async fn scan_values(
    db: &Db,
    ws: i64,
    o: Options,
    scanned: &[ScannedField],
    checks: &mut [Planned],
) -> Result<(), AppError> {
    if scanned.is_empty() {
        return Ok(());
    }
    let limit = usize::try_from(o.ids_limit).unwrap_or(0);
    let mut after = 0;
    loop {
        let page = repo::scan_records(db.conn(), ws, o.object, after, SCAN_PAGE).await?;
        let Some(last) = page.last() else {
            break;
        };
        after = last.id;
        for record in &page {
            check_record(record, o.object, scanned, checks, limit);
        }
        if (page.len() as i64) < SCAN_PAGE {
            break;
        }
    }
    Ok(())
}

fn check_record(
    record: &ScannedRecord,
    object: ObjectKind,
    scanned: &[ScannedField],
    checks: &mut [Planned],
    limit: usize,
) {
    let country = record.data.get("country").and_then(Value::as_str);
    let email = record.email.clone().map(Value::String);
    for field in scanned {
        let key = field.def.key.as_str();
        let raw = if object == ObjectKind::Contact && key == "email" {
            email.as_ref()
        } else {
            record.data.get(key)
        };
        let Some(raw) = raw else {
            continue;
        };
        let (at, reason, normalised) = match normalize(&field.def, raw, country) {
            Ok(Value::Null) => continue,
            Ok(v) if &v == raw => continue,
            Ok(v) => (field.unnormalised, None, Some(v)),
            Err(reason) => (field.invalid, Some(reason), None),
        };
        let check = &mut checks[at].check;
        check.count += 1;
        if check.ids.len() < limit {
            check.ids.push(record.id);
        }
        if check.samples.len() < SAMPLES {
            check.samples.push(Sample {
                id: record.id,
                field: key.to_string(),
                value: raw.clone(),
                reason,
                normalised,
            });
        }
    }
}
