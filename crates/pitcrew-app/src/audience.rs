//! Use cases of audiences: dynamic segments (a saved condition of the filter
//! language) and static lists, their versions, counts, previews, exports,
//! membership of one person or account, explanations and dependencies.
//!
//! A condition is evaluated at an explicit `now` in the workspace's time
//! zone: in SQL for counts, previews and exports, in memory for one record.

use std::collections::BTreeSet;
use std::io::Read;

use pitcrew_core::admin::{Action, ObjectType};
use pitcrew_core::record::{FieldIssue, ObjectKind};
use pitcrew_core::suggest;
use pitcrew_core::time::format_ms;
use pitcrew_filter::ast::{Condition, Segment, Span, Subject};
use pitcrew_filter::eval::{self, Explanation, Facts};
use pitcrew_filter::schema::{
    ConsentFact, EventFact, EventInfo, Organisation, Person, Schema, SegmentInfo,
    Uses as FilterUses,
};
use pitcrew_filter::sql::{self, Dialect};
use pitcrew_filter::time::{self, Clock};
use pitcrew_filter::{Checked, Problem, parse, print};
use pitcrew_store::audience::{
    self as repo, AccountFacts, ContactFacts, MemberKey, NewSegment as NewRow, PageStart,
    SegmentChange, StoredSegment,
};
use pitcrew_store::record::{self as records, StoredRecord};
use pitcrew_store::{Conn, Db, Engine, Tx};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

use crate::import::Reject;
use crate::{Actor, AppError, ErrorKind};

mod members_file;

use crate::names::{clean_description, clean_name};
use members_file::{FileEvent, FileRow, KeyColumn, clean_key, reject, unreadable_file};

/// Most members a preview shows at once.
pub const MAX_PREVIEW: i64 = 500;
/// Members per page when walking every member (exports).
pub const EXPORT_PAGE: i64 = 1000;
/// Rows of a members file resolved per batch.
const IMPORT_BATCH: usize = 1000;
/// Rejected rows listed in an import's answer; beyond this they are counted.
pub const MAX_REJECTS_SHOWN: usize = 1000;
/// The settings key holding the workspace's time zone.
const TIMEZONE_KEY: &str = "timezone";
/// The owner type dependencies of segments are recorded under.
const OWNER_SEGMENT: &str = "segment";

// ---- shapes in and out ---------------------------------------------------------

/// A condition as a person or a program writes it: the text form
/// (`people where country is "DE"`) or the JSON form.
#[derive(Debug, Clone, PartialEq, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum Definition {
    Text(String),
    #[schema(value_type = Object)]
    Json(Value),
}

/// A dynamic segment selects whoever meets its condition at the moment it
/// is used; a static list holds the members put on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SegmentKind {
    Dynamic,
    Static,
}

impl SegmentKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SegmentKind::Dynamic => "dynamic",
            SegmentKind::Static => "static",
        }
    }

    fn parse(s: &str) -> Option<SegmentKind> {
        match s {
            "dynamic" => Some(SegmentKind::Dynamic),
            "static" => Some(SegmentKind::Static),
            _ => None,
        }
    }
}

/// A saved condition in both of its forms.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct DefinitionForms {
    /// The canonical text form.
    pub text: String,
    /// The JSON form.
    #[schema(value_type = Object)]
    pub json: Value,
}

/// A saved segment or static list.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SavedSegment {
    pub id: i64,
    pub name: String,
    pub description: String,
    /// `people` or `accounts`.
    #[schema(value_type = String)]
    pub subject: Subject,
    pub kind: SegmentKind,
    /// The condition of a dynamic segment; absent for a static list.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub definition: Option<DefinitionForms>,
    /// Starts at 1; every change adds one.
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
}

/// One saved version of a segment.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SegmentVersion {
    pub version: i64,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub definition: Option<DefinitionForms>,
    /// Who saved it: a member's email, `token:<name>` or `system`.
    pub by: String,
    pub at: String,
}

/// A segment or list being created.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSegment {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub kind: SegmentKind,
    /// Whom a static list holds (default `people`); a dynamic segment's
    /// subject comes from its condition.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub subject: Option<Subject>,
    /// The condition of a dynamic segment; a static list has none.
    #[serde(default)]
    pub definition: Option<Definition>,
}

/// Changes to a segment; absent members stay as they are.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SegmentPatch {
    pub name: Option<String>,
    pub description: Option<String>,
    /// A new condition (dynamic segments only).
    pub definition: Option<Definition>,
}

/// A segment to count or preview: a saved one, or a condition not saved
/// yet (a live count while it is being written).
#[derive(Debug, Clone, PartialEq)]
pub enum SegmentRef {
    Saved(i64),
    Unsaved(Definition),
}

/// Where in a condition a problem is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct TextSpan {
    /// Byte offsets into the text, end exclusive.
    pub start: usize,
    pub end: usize,
    /// 1-based line and column (in characters) of `start`.
    pub line: u32,
    pub column: u32,
}

impl From<Span> for TextSpan {
    fn from(s: Span) -> TextSpan {
        TextSpan {
            start: s.start,
            end: s.end,
            line: s.line,
            column: s.column,
        }
    }
}

/// A problem (or warning) found in a condition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct DefinitionProblem {
    /// Stable and machine-readable, such as `field_unknown`.
    pub code: String,
    pub message: String,
    /// Where in the text form, when the condition came as text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub span: Option<TextSpan>,
    /// Where in the JSON form, as a JSON pointer such as `/where/of/2/field`.
    pub path: String,
}

impl From<&Problem> for DefinitionProblem {
    fn from(p: &Problem) -> DefinitionProblem {
        DefinitionProblem {
            code: p.code.to_string(),
            message: p.message.clone(),
            span: p.span.map(TextSpan::from),
            path: p.path.clone(),
        }
    }
}

/// What a condition uses.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Uses {
    pub contact_fields: Vec<String>,
    pub account_fields: Vec<String>,
    pub events: Vec<String>,
    pub segments: Vec<String>,
    pub topics: Vec<String>,
}

impl From<&FilterUses> for Uses {
    fn from(u: &FilterUses) -> Uses {
        let list = |s: &BTreeSet<String>| s.iter().cloned().collect();
        Uses {
            contact_fields: list(&u.contact_fields),
            account_fields: list(&u.account_fields),
            events: list(&u.events),
            segments: list(&u.segments),
            topics: list(&u.topics),
        }
    }
}

/// The verdict on a condition being written.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct CheckReport {
    /// No problems: the condition can be saved.
    pub valid: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub subject: Option<Subject>,
    /// The canonical text form, when the condition could be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// The JSON form, when the condition could be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub json: Option<Value>,
    /// Everything that stops it from being saved.
    pub problems: Vec<DefinitionProblem>,
    /// What does not stop it, such as an event not seen yet.
    pub warnings: Vec<DefinitionProblem>,
    pub uses: Uses,
}

/// One member in a preview: its id and the fields asked for.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct PreviewMember {
    pub id: i64,
    /// The chosen fields; `null` where the record has no value.
    #[schema(value_type = Object)]
    pub fields: Map<String, Value>,
}

/// A page of a segment's members and how many there are in all.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Preview {
    pub total: i64,
    pub members: Vec<PreviewMember>,
}

/// A segment by id and name, as membership lists show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct SegmentBrief {
    pub id: i64,
    pub name: String,
}

/// What adding records to a static list did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct MembersAdded {
    /// Records that became members now.
    pub added: i64,
    /// Records that were members already.
    pub already: i64,
    /// Ids with no record in this workspace; they were ignored.
    pub unknown: Vec<i64>,
}

/// What taking records off a static list did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct MembersRemoved {
    pub removed: i64,
    /// Ids that were not on the list.
    pub not_members: Vec<i64>,
}

/// What importing a file of members into a static list did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ListImport {
    /// The column the rows were matched by: `id`, `external_id` or `email`.
    pub matched_by: String,
    /// Rows read, not counting the header and blank rows.
    pub rows: i64,
    pub added: i64,
    /// Rows naming a record that was on the list already (or earlier in the file).
    pub already: i64,
    pub rejected: i64,
    /// Every rejected row with its line and reason (up to 1000).
    pub rejects: Vec<Reject>,
}

/// What copying a segment's current members into a static list did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Snapshot {
    /// Records put on the list now.
    pub added: i64,
    /// Members of the list afterwards.
    pub members: i64,
}

/// What kind of thing a dependency query is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum UseKind {
    ContactField,
    AccountField,
    Event,
    Segment,
    Topic,
}

impl UseKind {
    /// The kind as dependencies are recorded.
    fn stored(self) -> &'static str {
        match self {
            UseKind::ContactField => "field_contact",
            UseKind::AccountField => "field_account",
            UseKind::Event => "event",
            UseKind::Segment => "segment",
            UseKind::Topic => "topic",
        }
    }

    fn field(object: ObjectKind) -> UseKind {
        match object {
            ObjectKind::Contact => UseKind::ContactField,
            ObjectKind::Account => UseKind::AccountField,
        }
    }
}

/// Something that uses a field, event, segment or topic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct User {
    /// `segment` (more kinds will follow).
    #[serde(rename = "type")]
    pub owner_type: String,
    pub id: i64,
    pub name: String,
}

// ---- errors ----------------------------------------------------------------------

fn segment_not_found(id: i64) -> AppError {
    AppError::not_found(
        "segment_not_found",
        format!("there is no segment with id {id} in this workspace; list segments to find it"),
    )
}

/// Every problem of a condition, reported together; the first names the error.
fn definition_invalid(problems: &[Problem]) -> AppError {
    let first = problems
        .first()
        .map(ToString::to_string)
        .unwrap_or_else(|| "the condition is not valid".into());
    let message = match problems.len() {
        0 | 1 => format!("the condition is not valid: {first}"),
        n => format!("the condition has {n} problems; see details. First: {first}"),
    };
    let mut err = AppError::invalid("definition_invalid", "definition", message);
    err.details = problems
        .iter()
        .map(|p| FieldIssue {
            code: p.code,
            field: if p.path.is_empty() {
                "definition".into()
            } else {
                p.path.clone()
            },
            value: p.span.map(|s| json!(TextSpan::from(s))),
            message: p.message.clone(),
        })
        .collect();
    err
}

/// The error for a change refused because others use what it changes.
fn in_use(code: &'static str, what: &str, doing: &str, users: &[User]) -> AppError {
    let names: Vec<String> = users
        .iter()
        .map(|u| format!("{} \"{}\"", u.owner_type, u.name))
        .collect();
    let mut err = AppError::new(
        ErrorKind::Conflict,
        code,
        format!(
            "{what} is used by {}; change or delete {} first, then {doing}",
            names.join(", "),
            if users.len() == 1 { "it" } else { "them" }
        ),
    );
    err.details = users
        .iter()
        .map(|u| FieldIssue {
            code,
            field: u.owner_type.clone(),
            value: Some(json!({ "id": u.id, "name": u.name })),
            message: format!("{} \"{}\" (id {}) uses it", u.owner_type, u.name, u.id),
        })
        .collect();
    err
}

fn unreadable(name: &str, problems: &[Problem]) -> AppError {
    let why = problems
        .first()
        .map(ToString::to_string)
        .unwrap_or_default();
    tracing::error!(segment = name, %why, "saved segment definition is unreadable");
    AppError::new(
        ErrorKind::Internal,
        "segment_unreadable",
        format!(
            "the saved condition of segment \"{name}\" cannot be read ({why}); it has been logged — save the segment again"
        ),
    )
}

// ---- reading conditions ------------------------------------------------------------

/// The SQL dialect of the database.
fn dialect(engine: Engine) -> Dialect {
    match engine {
        Engine::Sqlite => Dialect::Sqlite,
        Engine::Postgres => Dialect::Postgres,
    }
}

/// Whose records a subject selects.
fn object_of(subject: Subject) -> ObjectKind {
    match subject {
        Subject::People => ObjectKind::Contact,
        Subject::Accounts => ObjectKind::Account,
    }
}

/// Read a condition in either form.
fn read(definition: &Definition) -> Result<Segment, Vec<Problem>> {
    match definition {
        Definition::Text(text) => parse::parse(text),
        Definition::Json(value) => parse::from_json(&value.to_string()),
    }
}

/// Read a stored JSON form.
fn read_stored(s: &StoredSegment) -> Result<Option<Segment>, AppError> {
    s.definition
        .as_deref()
        .map(|text| parse::from_json(text).map_err(|p| unreadable(&s.name, &p)))
        .transpose()
}

fn forms(segment: &Segment) -> DefinitionForms {
    DefinitionForms {
        text: print::to_text(segment),
        json: print::to_json(segment),
    }
}

/// Type-check a condition; `name` is the segment it will be saved as (so
/// that a segment referring to itself, directly or not, is caught).
fn run_check(
    segment: &Segment,
    schema: &Schema,
    name: Option<&str>,
) -> Result<Checked, Vec<Problem>> {
    pitcrew_filter::check::check(segment, schema, name)
}

/// Read and check a condition, or fail with every problem.
fn checked(
    definition: &Definition,
    schema: &Schema,
    name: Option<&str>,
) -> Result<Checked, AppError> {
    let segment = read(definition).map_err(|p| definition_invalid(&p))?;
    run_check(&segment, schema, name).map_err(|p| definition_invalid(&p))
}

/// `(kind, target)` rows of what a checked condition uses.
fn dependency_rows(uses: &FilterUses) -> Vec<(String, String)> {
    let kinds: [(&str, &BTreeSet<String>); 5] = [
        ("field_contact", &uses.contact_fields),
        ("field_account", &uses.account_fields),
        ("event", &uses.events),
        ("segment", &uses.segments),
        ("topic", &uses.topics),
    ];
    kinds
        .iter()
        .flat_map(|(kind, targets)| targets.iter().map(|t| (kind.to_string(), t.clone())))
        .collect()
}

/// The children of a node, in order.
fn children(c: &Condition) -> Vec<&Condition> {
    match c {
        Condition::All { of, .. } | Condition::Any { of, .. } | Condition::None { of, .. } => {
            of.iter().collect()
        }
        Condition::Not { condition, .. }
        | Condition::Account { condition, .. }
        | Condition::Members { condition, .. } => vec![condition],
        Condition::Did { filter, .. }
        | Condition::Aggregate { filter, .. }
        | Condition::Occurrence { filter, .. } => filter.iter().map(|f| &**f).collect(),
        Condition::Field { .. }
        | Condition::Sequence { .. }
        | Condition::InSegment { .. }
        | Condition::Consent { .. } => Vec::new(),
    }
}

fn children_mut(c: &mut Condition) -> Vec<&mut Condition> {
    match c {
        Condition::All { of, .. } | Condition::Any { of, .. } | Condition::None { of, .. } => {
            of.iter_mut().collect()
        }
        Condition::Not { condition, .. }
        | Condition::Account { condition, .. }
        | Condition::Members { condition, .. } => vec![condition],
        Condition::Did { filter, .. }
        | Condition::Aggregate { filter, .. }
        | Condition::Occurrence { filter, .. } => filter.iter_mut().map(|f| &mut **f).collect(),
        Condition::Field { .. }
        | Condition::Sequence { .. }
        | Condition::InSegment { .. }
        | Condition::Consent { .. } => Vec::new(),
    }
}

/// Whether a condition asks about an account's members.
fn asks_about_members(c: &Condition) -> bool {
    matches!(c, Condition::Members { .. }) || children(c).into_iter().any(asks_about_members)
}

/// Point every `in segment` reference from one name to another; returns
/// whether anything changed.
fn rename_references(c: &mut Condition, from: &str, to: &str) -> bool {
    let mut changed = false;
    if let Condition::InSegment { segment, .. } = c
        && segment == from
    {
        *segment = to.to_string();
        changed = true;
    }
    for child in children_mut(c) {
        changed |= rename_references(child, from, to);
    }
    changed
}

// ---- the workspace's vocabulary and clock -----------------------------------------------

async fn load_schema(mut c: Conn<'_>, ws: i64) -> Result<Schema, AppError> {
    let fields = records::list_fields(c.reborrow(), ws, None).await?;
    let (contact_fields, account_fields) = fields
        .into_iter()
        .partition(|f| f.object == ObjectKind::Contact);
    let mut events: Vec<EventInfo> = Vec::new();
    for t in pitcrew_store::event::event_types(c.reborrow(), ws).await? {
        if t.name.is_empty() {
            continue;
        }
        // Pages and tracks may share a name: one entry with every key seen.
        match events.iter_mut().find(|e| e.name == t.name) {
            Some(e) => {
                e.property_keys.extend(t.property_keys);
                e.property_keys.sort();
                e.property_keys.dedup();
            }
            None => events.push(EventInfo {
                name: t.name,
                property_keys: t.property_keys,
            }),
        }
    }
    let mut segments = Vec::new();
    for s in repo::list_segments(c.reborrow(), ws).await? {
        segments.push(SegmentInfo {
            id: s.id,
            name: s.name.clone(),
            subject: subject_of(&s)?,
            definition: read_stored(&s)?,
        });
    }
    let topics = pitcrew_store::campaign::consent::list_topics(c, ws)
        .await?
        .into_iter()
        .map(|t| t.name)
        .collect();
    Ok(Schema {
        contact_fields,
        account_fields,
        events,
        segments,
        topics,
    })
}

/// What conditions of a workspace are checked and evaluated against: its
/// fields, the events seen so far, its saved segments and its topics.
pub async fn schema(db: &Db, ws: i64) -> Result<Schema, AppError> {
    load_schema(db.conn(), ws).await
}

/// The workspace's time zone, UTC unless set.
pub(crate) async fn zone_of(c: Conn<'_>, ws: i64) -> Result<jiff::tz::TimeZone, AppError> {
    let settings = pitcrew_store::event::workspace_settings(c, ws).await?;
    let Some(name) = settings.get(TIMEZONE_KEY).and_then(Value::as_str) else {
        return Ok(jiff::tz::TimeZone::UTC);
    };
    Ok(time::zone(name).unwrap_or_else(|why| {
        tracing::warn!(workspace = ws, %why, "stored time zone is unknown; using UTC");
        jiff::tz::TimeZone::UTC
    }))
}

async fn clock(c: Conn<'_>, ws: i64, now: i64) -> Result<Clock, AppError> {
    Ok(Clock::new(now, zone_of(c, ws).await?))
}

/// The time zone conditions are evaluated in (an IANA name, or `UTC`).
pub async fn timezone(db: &Db, actor: &Actor) -> Result<String, AppError> {
    actor.require(Action::ReadRecords)?;
    let settings = pitcrew_store::event::workspace_settings(db.conn(), actor.workspace_id).await?;
    Ok(settings
        .get(TIMEZONE_KEY)
        .and_then(Value::as_str)
        .unwrap_or("UTC")
        .to_string())
}

/// Set the time zone that "today", dates and date windows of conditions are
/// read in. A workspace setting, so it needs the right to change settings.
pub async fn set_timezone(
    db: &Db,
    actor: &Actor,
    name: &str,
    now: i64,
) -> Result<String, AppError> {
    actor.require(Action::ManageSources)?;
    let name = name.trim();
    time::zone(name).map_err(|m| AppError::invalid("timezone_invalid", TIMEZONE_KEY, m))?;
    let ws = actor.workspace_id;
    let mut tx = db.begin().await?;
    let mut stored = pitcrew_store::event::workspace_settings(tx.conn(), ws).await?;
    let before = stored.get(TIMEZONE_KEY).cloned().unwrap_or(Value::Null);
    stored.insert(TIMEZONE_KEY.into(), json!(name));
    pitcrew_store::event::set_workspace_settings(tx.conn(), ws, &stored).await?;
    actor
        .log(
            &mut tx,
            "update",
            ObjectType::Workspace,
            ws,
            json!({"before": {TIMEZONE_KEY: before}, "after": {TIMEZONE_KEY: name}}),
            now,
        )
        .await?;
    tx.commit().await?;
    Ok(name.to_string())
}

// ---- checking ------------------------------------------------------------------------

/// Check a condition as it is being written: its canonical forms, every
/// problem with where it is, warnings, and what it uses. Never fails
/// because the condition is wrong — that is what the report says.
pub async fn check_definition(
    db: &Db,
    actor: &Actor,
    definition: Definition,
) -> Result<CheckReport, AppError> {
    actor.require(Action::ReadRecords)?;
    let schema = load_schema(db.conn(), actor.workspace_id).await?;
    Ok(report(&definition, &schema))
}

fn report(definition: &Definition, schema: &Schema) -> CheckReport {
    let problems = |p: &[Problem]| p.iter().map(DefinitionProblem::from).collect();
    let segment = match read(definition) {
        Ok(s) => s,
        Err(p) => {
            return CheckReport {
                valid: false,
                subject: None,
                text: None,
                json: None,
                problems: problems(&p),
                warnings: Vec::new(),
                uses: Uses::default(),
            };
        }
    };
    match run_check(&segment, schema, None) {
        Ok(c) => CheckReport {
            valid: true,
            subject: Some(c.segment.subject),
            text: Some(print::to_text(&c.segment)),
            json: Some(print::to_json(&c.segment)),
            problems: Vec::new(),
            warnings: problems(&c.warnings),
            uses: Uses::from(&c.uses),
        },
        Err(p) => CheckReport {
            valid: false,
            subject: Some(segment.subject),
            text: Some(print::to_text(&segment)),
            json: Some(print::to_json(&segment)),
            problems: problems(&p),
            warnings: Vec::new(),
            uses: Uses::default(),
        },
    }
}

// ---- saving ----------------------------------------------------------------------------

fn subject_of(s: &StoredSegment) -> Result<Subject, AppError> {
    Subject::parse(&s.subject).ok_or_else(|| {
        AppError::new(
            ErrorKind::Internal,
            "segment_unreadable",
            format!(
                "segment \"{}\" has an unknown subject `{}`; it has been logged",
                s.name, s.subject
            ),
        )
    })
}

fn saved(s: &StoredSegment) -> Result<SavedSegment, AppError> {
    let kind = SegmentKind::parse(&s.kind).ok_or_else(|| {
        AppError::new(
            ErrorKind::Internal,
            "segment_unreadable",
            format!("segment \"{}\" has an unknown kind `{}`", s.name, s.kind),
        )
    })?;
    Ok(SavedSegment {
        id: s.id,
        name: s.name.clone(),
        description: s.description.clone(),
        subject: subject_of(s)?,
        kind,
        definition: read_stored(s)?.as_ref().map(forms),
        version: s.version,
        created_at: format_ms(s.created_at),
        updated_at: format_ms(s.updated_at),
    })
}

/// Refuse a name another segment of the workspace already has.
async fn name_free(c: Conn<'_>, ws: i64, name: &str, except: Option<i64>) -> Result<(), AppError> {
    match repo::segment_by_name(c, ws, name).await? {
        Some(other) if Some(other.id) != except => Err(AppError::conflict(
            "segment_name_taken",
            "name",
            format!(
                "segment \"{name}\" already exists (id {}); pick another name or change that one",
                other.id
            ),
        )),
        _ => Ok(()),
    }
}

fn definition_json(segment: &Segment) -> String {
    print::to_json(segment).to_string()
}

fn audit_view(s: &StoredSegment) -> Value {
    let definition = s
        .definition
        .as_deref()
        .and_then(|d| serde_json::from_str::<Value>(d).ok());
    json!({
        "name": s.name,
        "description": s.description,
        "subject": s.subject,
        "kind": s.kind,
        "definition": definition,
    })
}

/// Save a new dynamic segment or static list as version 1.
pub async fn create_segment(
    db: &Db,
    actor: &Actor,
    new: NewSegment,
    now: i64,
) -> Result<SavedSegment, AppError> {
    actor.require(Action::ManageSegments)?;
    let ws = actor.workspace_id;
    let name = clean_name(
        &new.name,
        "segment_name_invalid",
        "segment",
        "Active customers",
    )?;
    let description = clean_description(&new.description, "segment_description_invalid")?;
    let mut tx = db.begin().await?;
    name_free(tx.conn(), ws, &name, None).await?;
    let (subject, checked) = match (new.kind, &new.definition) {
        (SegmentKind::Dynamic, None) => {
            return Err(AppError::invalid(
                "definition_missing",
                "definition",
                "a dynamic segment needs a condition, e.g. `people where country is \"DE\"`",
            ));
        }
        (SegmentKind::Static, Some(_)) => {
            return Err(AppError::invalid(
                "definition_not_allowed",
                "definition",
                "a static list has no condition; make it a dynamic segment, or add members to the list instead",
            ));
        }
        (SegmentKind::Static, None) => (new.subject.unwrap_or(Subject::People), None),
        (SegmentKind::Dynamic, Some(d)) => {
            let schema = load_schema(tx.conn(), ws).await?;
            let c = checked(d, &schema, Some(&name))?;
            if new.subject.is_some_and(|s| s != c.segment.subject) {
                return Err(AppError::invalid(
                    "subject_mismatch",
                    "subject",
                    format!(
                        "the condition selects {}; leave `subject` out or make it match",
                        c.segment.subject.as_str()
                    ),
                ));
            }
            (c.segment.subject, Some(c))
        }
    };
    let definition = checked.as_ref().map(|c| definition_json(&c.segment));
    let row = NewRow {
        name: &name,
        description: &description,
        subject: subject.as_str(),
        kind: new.kind.as_str(),
        definition: definition.as_deref(),
    };
    let stored = repo::insert_segment(tx.conn(), ws, row, &actor.label, now).await?;
    if let Some(c) = &checked {
        let rows = dependency_rows(&c.uses);
        repo::replace_dependencies(tx.conn(), ws, OWNER_SEGMENT, stored.id, &rows).await?;
    }
    actor
        .log(
            &mut tx,
            "create",
            ObjectType::Segment,
            stored.id,
            json!({"before": {}, "after": audit_view(&stored)}),
            now,
        )
        .await?;
    tx.commit().await?;
    saved(&stored)
}

async fn segment_or_404(
    c: Conn<'_>,
    ws: i64,
    id: i64,
    lock: bool,
) -> Result<StoredSegment, AppError> {
    repo::get_segment(c, ws, id, lock)
        .await?
        .ok_or_else(|| segment_not_found(id))
}

/// Who uses a segment, other than itself.
async fn users_of_segment(c: Conn<'_>, ws: i64, s: &StoredSegment) -> Result<Vec<User>, AppError> {
    Ok(users(c, ws, UseKind::Segment, &s.name)
        .await?
        .into_iter()
        .filter(|u| !(u.owner_type == OWNER_SEGMENT && u.id == s.id))
        .collect())
}

/// Change a segment's name, description or condition; each change is a new
/// version and earlier versions stay readable. Segments that refer to this
/// one by name follow a rename (each gets a new version saying so).
pub async fn update_segment(
    db: &Db,
    actor: &Actor,
    id: i64,
    patch: SegmentPatch,
    now: i64,
) -> Result<SavedSegment, AppError> {
    actor.require(Action::ManageSegments)?;
    let ws = actor.workspace_id;
    let mut tx = db.begin().await?;
    let before = segment_or_404(tx.conn(), ws, id, true).await?;
    let name = match &patch.name {
        Some(n) => clean_name(n, "segment_name_invalid", "segment", "Active customers")?,
        None => before.name.clone(),
    };
    let description = match &patch.description {
        Some(d) => clean_description(d, "segment_description_invalid")?,
        None => before.description.clone(),
    };
    let renamed = name != before.name;
    if renamed {
        name_free(tx.conn(), ws, &name, Some(id)).await?;
    }
    let new_definition = match &patch.definition {
        Some(d) => Some(new_condition(&mut tx, ws, &before, &name, d).await?),
        None => None,
    };
    let definition = match &new_definition {
        Some(c) => Some(definition_json(&c.segment)),
        None => before.definition.clone(),
    };
    if !renamed && description == before.description && definition == before.definition {
        return saved(&before);
    }
    let change = SegmentChange {
        name: &name,
        description: &description,
        definition: definition.as_deref(),
    };
    let after = repo::update_segment(tx.conn(), ws, id, change, &actor.label, now)
        .await?
        .ok_or_else(|| segment_not_found(id))?;
    if let Some(c) = &new_definition {
        let rows = dependency_rows(&c.uses);
        repo::replace_dependencies(tx.conn(), ws, OWNER_SEGMENT, id, &rows).await?;
    }
    actor
        .log(
            &mut tx,
            "update",
            ObjectType::Segment,
            id,
            json!({"before": audit_view(&before), "after": audit_view(&after)}),
            now,
        )
        .await?;
    if renamed {
        follow_rename(&mut tx, actor, &before, &name, now).await?;
    }
    tx.commit().await?;
    saved(&after)
}

/// Check a segment's new condition as it will be saved: under its (maybe
/// new) name, with references to its old name already following the rename.
async fn new_condition(
    tx: &mut Tx,
    ws: i64,
    before: &StoredSegment,
    name: &str,
    definition: &Definition,
) -> Result<Checked, AppError> {
    if before.kind != SegmentKind::Dynamic.as_str() {
        return Err(AppError::invalid(
            "segment_static",
            "definition",
            format!(
                "\"{}\" is a static list and has no condition; create a dynamic segment instead",
                before.name
            ),
        ));
    }
    let mut schema = load_schema(tx.conn(), ws).await?;
    let segment = read(definition).map_err(|p| definition_invalid(&p))?;
    for info in &mut schema.segments {
        if info.id == before.id {
            info.name = name.to_string();
            info.definition = Some(segment.clone());
        } else if let Some(d) = &mut info.definition {
            rename_references(&mut d.condition, &before.name, name);
        }
    }
    let c = run_check(&segment, &schema, Some(name)).map_err(|p| definition_invalid(&p))?;
    if c.segment.subject.as_str() != before.subject {
        let users = users_of_segment(tx.conn(), ws, before).await?;
        if !users.is_empty() {
            return Err(in_use(
                "segment_in_use",
                &format!("segment \"{}\"", before.name),
                &format!("change it to select {}", c.segment.subject.as_str()),
                &users,
            ));
        }
    }
    Ok(c)
}

/// Rewrite the segments that refer to `before` by its old name.
async fn follow_rename(
    tx: &mut Tx,
    actor: &Actor,
    before: &StoredSegment,
    name: &str,
    now: i64,
) -> Result<(), AppError> {
    let ws = actor.workspace_id;
    let users = users_of_segment(tx.conn(), ws, before).await?;
    // Every saved condition as it will read once the rename is through.
    let mut schema = load_schema(tx.conn(), ws).await?;
    for info in &mut schema.segments {
        if let Some(d) = &mut info.definition {
            rename_references(&mut d.condition, &before.name, name);
        }
    }
    for user in users.iter().filter(|u| u.owner_type == OWNER_SEGMENT) {
        let Some(other) = repo::get_segment(tx.conn(), ws, user.id, true).await? else {
            continue;
        };
        let Some(mut segment) = read_stored(&other)? else {
            continue;
        };
        if !rename_references(&mut segment.condition, &before.name, name) {
            continue;
        }
        let c =
            run_check(&segment, &schema, Some(&other.name)).map_err(|p| definition_invalid(&p))?;
        let definition = definition_json(&c.segment);
        let change = SegmentChange {
            name: &other.name,
            description: &other.description,
            definition: Some(&definition),
        };
        let after = repo::update_segment(tx.conn(), ws, other.id, change, &actor.label, now)
            .await?
            .ok_or_else(|| segment_not_found(other.id))?;
        let rows = dependency_rows(&c.uses);
        repo::replace_dependencies(tx.conn(), ws, OWNER_SEGMENT, other.id, &rows).await?;
        let changes = json!({
            "before": audit_view(&other),
            "after": audit_view(&after),
            "renamed_reference": {"from": before.name, "to": name},
        });
        actor
            .log(tx, "update", ObjectType::Segment, other.id, changes, now)
            .await?;
    }
    Ok(())
}

/// Delete a segment or list with its versions and members. Refused while
/// another segment refers to it.
pub async fn delete_segment(db: &Db, actor: &Actor, id: i64, now: i64) -> Result<(), AppError> {
    actor.require(Action::ManageSegments)?;
    let ws = actor.workspace_id;
    let mut tx = db.begin().await?;
    let before = segment_or_404(tx.conn(), ws, id, true).await?;
    let users = users_of_segment(tx.conn(), ws, &before).await?;
    if !users.is_empty() {
        return Err(in_use(
            "segment_in_use",
            &format!("segment \"{}\"", before.name),
            "delete it",
            &users,
        ));
    }
    repo::delete_segment(tx.conn(), ws, id).await?;
    actor
        .log(
            &mut tx,
            "delete",
            ObjectType::Segment,
            id,
            json!({"before": audit_view(&before), "after": {}}),
            now,
        )
        .await?;
    tx.commit().await?;
    Ok(())
}

pub async fn get_segment(db: &Db, actor: &Actor, id: i64) -> Result<SavedSegment, AppError> {
    actor.require(Action::ReadRecords)?;
    saved(&segment_or_404(db.conn(), actor.workspace_id, id, false).await?)
}

/// Every segment and list of the workspace, by name.
pub async fn list_segments(db: &Db, actor: &Actor) -> Result<Vec<SavedSegment>, AppError> {
    actor.require(Action::ReadRecords)?;
    repo::list_segments(db.conn(), actor.workspace_id)
        .await?
        .iter()
        .map(saved)
        .collect()
}

/// Every version of a segment, newest first.
pub async fn segment_versions(
    db: &Db,
    actor: &Actor,
    id: i64,
) -> Result<Vec<SegmentVersion>, AppError> {
    actor.require(Action::ReadRecords)?;
    let ws = actor.workspace_id;
    let s = segment_or_404(db.conn(), ws, id, false).await?;
    repo::segment_versions(db.conn(), ws, id)
        .await?
        .into_iter()
        .map(|v| {
            let definition = v
                .definition
                .as_deref()
                .map(|d| parse::from_json(d).map_err(|p| unreadable(&s.name, &p)))
                .transpose()?;
            Ok(SegmentVersion {
                version: v.version,
                name: v.name,
                definition: definition.as_ref().map(forms),
                by: v.actor,
                at: format_ms(v.at),
            })
        })
        .collect()
}

// ---- members ----------------------------------------------------------------------------

/// A segment ready to select members: whom it selects, and the query that
/// returns their ids.
struct Selection {
    object: ObjectKind,
    ids_sql: String,
    /// A counting query, when the compiler gives one.
    count_sql: Option<String>,
}

fn compile_failed(p: Problem) -> AppError {
    definition_invalid(std::slice::from_ref(&p))
}

/// Compile a checked condition to its member and count queries.
fn compile(
    segment: &Segment,
    schema: &Schema,
    clock: &Clock,
    engine: Engine,
    ws: i64,
) -> Result<Selection, AppError> {
    let d = dialect(engine);
    let ids_sql = sql::members(segment, schema, clock, d, ws).map_err(compile_failed)?;
    let count_sql = sql::count(segment, schema, clock, d, ws).map_err(compile_failed)?;
    Ok(Selection {
        object: object_of(segment.subject),
        ids_sql,
        count_sql: Some(count_sql),
    })
}

/// The saved segment's condition, checked against today's schema.
fn saved_condition(s: &StoredSegment, schema: &Schema) -> Result<Option<Segment>, AppError> {
    let Some(segment) = read_stored(s)? else {
        return Ok(None);
    };
    let c = run_check(&segment, schema, Some(&s.name)).map_err(|p| {
        let mut err = definition_invalid(&p);
        err.code = "definition_outdated";
        err.message = format!(
            "segment \"{}\" no longer fits the data model: {}; edit its condition",
            s.name,
            p.first().map(ToString::to_string).unwrap_or_default()
        );
        err
    })?;
    Ok(Some(c.segment))
}

async fn select(db: &Db, ws: i64, target: &SegmentRef, now: i64) -> Result<Selection, AppError> {
    select_for(db, ws, target, now, db.engine()).await
}

/// The segment's queries written for `engine`, which need not be the Db's
/// (the portable SQL is always PostgreSQL's).
async fn select_for(
    db: &Db,
    ws: i64,
    target: &SegmentRef,
    now: i64,
    engine: Engine,
) -> Result<Selection, AppError> {
    let schema = load_schema(db.conn(), ws).await?;
    let clock = clock(db.conn(), ws, now).await?;
    match target {
        SegmentRef::Unsaved(d) => {
            let c = checked(d, &schema, None)?;
            compile(&c.segment, &schema, &clock, engine, ws)
        }
        SegmentRef::Saved(id) => {
            let s = segment_or_404(db.conn(), ws, *id, false).await?;
            selection_of(&s, &schema, &clock, engine, ws)
        }
    }
}

fn selection_of(
    s: &StoredSegment,
    schema: &Schema,
    clock: &Clock,
    engine: Engine,
    ws: i64,
) -> Result<Selection, AppError> {
    match saved_condition(s, schema)? {
        Some(segment) => compile(&segment, schema, clock, engine, ws),
        None => {
            let object = object_of(subject_of(s)?);
            Ok(Selection {
                object,
                ids_sql: repo::list_members_sql(ws, s.id, object),
                count_sql: None,
            })
        }
    }
}

async fn count(c: Conn<'_>, ws: i64, selection: &Selection) -> Result<i64, AppError> {
    Ok(match &selection.count_sql {
        Some(sql) => repo::run_count(c, sql).await?,
        None => repo::count_members(c, ws, selection.object, &selection.ids_sql).await?,
    })
}

/// How many people or accounts a segment selects at `now`.
pub async fn count_segment(
    db: &Db,
    actor: &Actor,
    target: SegmentRef,
    now: i64,
) -> Result<i64, AppError> {
    actor.require(Action::ReadRecords)?;
    let selection = select(db, actor.workspace_id, &target, now).await?;
    count(db.conn(), actor.workspace_id, &selection).await
}

/// The people in any of `include` and in none of `exclude` (saved segments
/// about people), as one query of contact ids — a broadcast's audience.
pub(crate) async fn audience_sql(
    db: &Db,
    ws: i64,
    include: &[i64],
    exclude: &[i64],
    now: i64,
) -> Result<String, AppError> {
    let part = |ids: Vec<String>| {
        ids.iter()
            .map(|s| format!("id IN ({s})"))
            .collect::<Vec<_>>()
            .join(" OR ")
    };
    let mut sets = [Vec::new(), Vec::new()];
    for (i, ids) in [include, exclude].into_iter().enumerate() {
        for id in ids {
            let selection = select(db, ws, &SegmentRef::Saved(*id), now).await?;
            if selection.object != ObjectKind::Contact {
                return Err(AppError::invalid(
                    "segment_not_people",
                    if i == 0 { "segments" } else { "exclusions" },
                    format!(
                        "segment {id} selects accounts; an email goes to people, so choose a segment of people"
                    ),
                ));
            }
            sets[i].push(selection.ids_sql);
        }
    }
    let [included, excluded] = sets;
    if included.is_empty() {
        return Ok(format!(
            "SELECT id FROM contacts WHERE workspace_id = {ws} AND 1 = 0"
        ));
    }
    let mut sql = format!(
        "SELECT id FROM contacts WHERE workspace_id = {ws} AND ({})",
        part(included)
    );
    if !excluded.is_empty() {
        sql.push_str(&format!(" AND NOT ({})", part(excluded)));
    }
    Ok(sql)
}

/// The SQL condition over the `contacts` (or `accounts`) table for a list
/// filtered with the filter language (`GET /api/v1/contacts?where=…`): the
/// same condition a segment would hold. Without a subject, the condition
/// is about the records listed.
pub(crate) async fn list_condition(
    db: &Db,
    ws: i64,
    object: ObjectKind,
    text: &str,
    now: i64,
) -> Result<String, AppError> {
    let mut segment = parse::parse(text).map_err(|p| definition_invalid(&p))?;
    let first = text.split_whitespace().next().unwrap_or("");
    if Subject::parse(first).is_none() && object == ObjectKind::Account {
        segment.subject = Subject::Accounts;
    }
    if object_of(segment.subject) != object {
        return Err(AppError::invalid(
            "subject_mismatch",
            "where",
            format!(
                "this list holds {}s but the condition selects {}; start it with `{} where`",
                object.as_str(),
                segment.subject.as_str(),
                match object {
                    ObjectKind::Contact => "people",
                    ObjectKind::Account => "accounts",
                }
            ),
        ));
    }
    let schema = load_schema(db.conn(), ws).await?;
    let clock = clock(db.conn(), ws, now).await?;
    let c = run_check(&segment, &schema, None).map_err(|p| definition_invalid(&p))?;
    let table = match object {
        ObjectKind::Contact => "contacts",
        ObjectKind::Account => "accounts",
    };
    sql::condition(&c.segment, &schema, &clock, dialect(db.engine()), ws, table)
        .map_err(compile_failed)
}

/// The PostgreSQL query that selects a segment's members, with every value
/// written inline, so a data team can run the same formula in their
/// warehouse. Relative times are resolved at `now`.
pub async fn segment_sql(
    db: &Db,
    actor: &Actor,
    target: SegmentRef,
    now: i64,
) -> Result<String, AppError> {
    actor.require(Action::ReadRecords)?;
    let selection = select_for(db, actor.workspace_id, &target, now, Engine::Postgres).await?;
    Ok(selection.ids_sql)
}

/// The keys a preview or export may show: the object's fields, and
/// `external_id` (and `account_id` for people).
async fn check_columns(
    c: Conn<'_>,
    ws: i64,
    object: ObjectKind,
    wanted: &[String],
) -> Result<Vec<String>, AppError> {
    let mut known: Vec<String> = records::list_fields(c, ws, Some(object))
        .await?
        .into_iter()
        .map(|f| f.key)
        .collect();
    known.push("external_id".into());
    if object == ObjectKind::Contact {
        known.push("account_id".into());
    }
    let mut columns = Vec::new();
    for (i, key) in wanted.iter().map(|k| k.trim()).enumerate() {
        if key == "id" || columns.iter().any(|c| c == key) {
            continue;
        }
        if !known.iter().any(|k| k == key) {
            let hint = suggest::closest(key, known.iter().map(String::as_str))
                .map(|s| format!("; did you mean `{s}`?"))
                .unwrap_or_default();
            return Err(AppError::invalid(
                "field_unknown",
                &format!("fields[{i}]"),
                format!("there is no {} field `{key}`{hint}", object.as_str()),
            ));
        }
        columns.push(key.to_string());
    }
    Ok(columns)
}

fn column_value(r: &StoredRecord, key: &str) -> Value {
    match key {
        "external_id" => r.external_id.clone().map_or(Value::Null, Value::String),
        "account_id" => r.account_id.map_or(Value::Null, |a| json!(a)),
        _ => r.fields.get(key).cloned().unwrap_or(Value::Null),
    }
}

/// A page of a segment's members with the chosen fields, and the total.
pub async fn preview_segment(
    db: &Db,
    actor: &Actor,
    target: SegmentRef,
    fields: Vec<String>,
    limit: i64,
    offset: i64,
    now: i64,
) -> Result<Preview, AppError> {
    actor.require(Action::ReadRecords)?;
    if !(1..=MAX_PREVIEW).contains(&limit) {
        return Err(AppError::invalid(
            "limit_invalid",
            "limit",
            format!("limit must be between 1 and {MAX_PREVIEW}"),
        ));
    }
    if offset < 0 {
        return Err(AppError::invalid(
            "offset_invalid",
            "offset",
            "offset cannot be negative",
        ));
    }
    let ws = actor.workspace_id;
    let selection = select(db, ws, &target, now).await?;
    let columns = check_columns(db.conn(), ws, selection.object, &fields).await?;
    let total = count(db.conn(), ws, &selection).await?;
    let page = repo::member_page(
        db.conn(),
        ws,
        selection.object,
        &selection.ids_sql,
        PageStart::Offset(offset),
        limit,
    )
    .await?;
    let members = page
        .iter()
        .map(|r| PreviewMember {
            id: r.id,
            fields: columns
                .iter()
                .map(|k| (k.clone(), column_value(r, k)))
                .collect(),
        })
        .collect();
    Ok(Preview { total, members })
}

/// A value as a spreadsheet cell: text as is, several choices joined by `; `.
fn cell(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(cell).collect::<Vec<_>>().join("; "),
        other => other.to_string(),
    }
}

fn csv_chunk(rows: &[Vec<String>]) -> Result<Vec<u8>, AppError> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for row in rows {
        w.write_record(row).map_err(|e| export_failed(&e))?;
    }
    w.into_inner().map_err(|e| export_failed(&e))
}

fn export_failed(e: &dyn std::fmt::Display) -> AppError {
    tracing::warn!(error = %e, "segment export stopped");
    AppError::new(
        ErrorKind::Internal,
        "export_interrupted",
        "the export stopped before the end; start it again",
    )
}

/// Write a segment's members at `now` as CSV: a header row of field keys
/// with `id` first, then one row per member in id order, a page at a time,
/// so any number of members streams in bounded memory. Returns the rows.
pub async fn export_segment_csv<W>(
    db: &Db,
    actor: &Actor,
    id: i64,
    fields: Vec<String>,
    out: &mut W,
    now: i64,
) -> Result<u64, AppError>
where
    W: AsyncWrite + Unpin + Send,
{
    actor.require(Action::ReadRecords)?;
    let ws = actor.workspace_id;
    let selection = select(db, ws, &SegmentRef::Saved(id), now).await?;
    let columns = check_columns(db.conn(), ws, selection.object, &fields).await?;
    let mut header = vec!["id".to_string()];
    header.extend(columns.iter().cloned());
    let head = csv_chunk(&[header])?;
    out.write_all(&head).await.map_err(|e| export_failed(&e))?;
    let mut after = 0;
    let mut written = 0;
    loop {
        let page = repo::member_page(
            db.conn(),
            ws,
            selection.object,
            &selection.ids_sql,
            PageStart::After(after),
            EXPORT_PAGE,
        )
        .await?;
        let Some(last) = page.last() else {
            break;
        };
        after = last.id;
        let rows: Vec<Vec<String>> = page
            .iter()
            .map(|r| {
                let mut row = vec![r.id.to_string()];
                row.extend(columns.iter().map(|k| cell(&column_value(r, k))));
                row
            })
            .collect();
        out.write_all(&csv_chunk(&rows)?)
            .await
            .map_err(|e| export_failed(&e))?;
        written += page.len() as u64;
        if (page.len() as i64) < EXPORT_PAGE {
            break;
        }
    }
    out.flush().await.map_err(|e| export_failed(&e))?;
    Ok(written)
}

// ---- one record ------------------------------------------------------------------------------

fn event_fact(e: pitcrew_store::audience::EventFact) -> EventFact {
    EventFact {
        name: e.name,
        at: e.at,
        properties: e.properties,
    }
}

/// An account as a condition sees it, without its people.
fn organisation_alone(a: &AccountFacts) -> Organisation {
    Organisation {
        id: a.record.id,
        fields: a.record.fields.clone(),
        members: Vec::new(),
        lists: a.lists.clone(),
    }
}

/// An account with its people; each person's account is the account itself
/// (without people again, which no condition needs twice).
fn organisation(a: AccountFacts) -> Organisation {
    let alone = organisation_alone(&a);
    let members = a
        .members
        .into_iter()
        .map(|m| {
            let mut p = person(m);
            p.account = Some(Box::new(alone.clone()));
            p
        })
        .collect();
    Organisation { members, ..alone }
}

fn person(f: ContactFacts) -> Person {
    Person {
        id: f.record.id,
        fields: f.record.fields,
        account: f.account.map(|a| Box::new(organisation(*a))),
        events: f.events.into_iter().map(event_fact).collect(),
        lists: f.lists,
        consent: f
            .consent
            .into_iter()
            .map(|c| ConsentFact {
                topic: c.topic,
                channel: c.channel,
                subscribed: c.subscribed,
            })
            .collect(),
    }
}

/// Whether any saved condition asks about an account's members (only then
/// are they read).
fn members_needed(schema: &Schema) -> bool {
    schema
        .segments
        .iter()
        .filter_map(|s| s.definition.as_ref())
        .any(|d| asks_about_members(&d.condition))
}

async fn person_facts(
    c: Conn<'_>,
    ws: i64,
    id: i64,
    with_members: bool,
) -> Result<Person, AppError> {
    let facts = repo::contact_facts(c, ws, id, with_members)
        .await?
        .ok_or_else(|| {
            AppError::not_found(
                "contact_not_found",
                format!("there is no contact with id {id} in this workspace"),
            )
        })?;
    Ok(person(facts))
}

async fn account_facts(
    c: Conn<'_>,
    ws: i64,
    id: i64,
    with_members: bool,
) -> Result<Organisation, AppError> {
    let facts = repo::account_facts(c, ws, id, with_members)
        .await?
        .ok_or_else(|| {
            AppError::not_found(
                "account_not_found",
                format!("there is no account with id {id} in this workspace"),
            )
        })?;
    Ok(organisation(facts))
}

/// The condition a segment means for one record: its own, or membership of
/// the list for a static list.
fn meaning(s: &StoredSegment, schema: &Schema) -> Result<Segment, AppError> {
    if let Some(segment) = saved_condition(s, schema)? {
        return Ok(segment);
    }
    Ok(Segment {
        subject: subject_of(s)?,
        condition: Condition::InSegment {
            segment: s.name.clone(),
            span: Span::default(),
        },
    })
}

/// Why a person (for a people segment) or an account (for an accounts
/// segment) is in the segment at `now`, or why not: every node of the
/// condition with its value and the facts that decided it.
pub async fn explain_segment(
    db: &Db,
    actor: &Actor,
    id: i64,
    record_id: i64,
    now: i64,
) -> Result<Explanation, AppError> {
    actor.require(Action::ReadRecords)?;
    let ws = actor.workspace_id;
    let s = segment_or_404(db.conn(), ws, id, false).await?;
    let schema = load_schema(db.conn(), ws).await?;
    let clock = clock(db.conn(), ws, now).await?;
    let segment = meaning(&s, &schema)?;
    let with_members = members_needed(&schema);
    Ok(match segment.subject {
        Subject::People => {
            let p = person_facts(db.conn(), ws, record_id, with_members).await?;
            eval::explain(&segment, &schema, &clock, Facts::Person(&p))
        }
        Subject::Accounts => {
            let o = account_facts(db.conn(), ws, record_id, with_members).await?;
            eval::explain(&segment, &schema, &clock, Facts::Account(&o))
        }
    })
}

/// The segments and lists of `subject` that a record is in at `now`.
async fn memberships(
    db: &Db,
    actor: &Actor,
    subject: Subject,
    id: i64,
    now: i64,
) -> Result<Vec<SegmentBrief>, AppError> {
    actor.require(Action::ReadRecords)?;
    let ws = actor.workspace_id;
    let schema = load_schema(db.conn(), ws).await?;
    let clock = clock(db.conn(), ws, now).await?;
    let with_members = members_needed(&schema);
    let (p, o) = match subject {
        Subject::People => (
            Some(person_facts(db.conn(), ws, id, with_members).await?),
            None,
        ),
        Subject::Accounts => (
            None,
            Some(account_facts(db.conn(), ws, id, with_members).await?),
        ),
    };
    let facts = match (&p, &o) {
        (Some(p), _) => Facts::Person(p),
        (_, Some(o)) => Facts::Account(o),
        _ => return Ok(Vec::new()),
    };
    let mut found = Vec::new();
    for s in repo::list_segments(db.conn(), ws).await? {
        if subject_of(&s)? != subject {
            continue;
        }
        let segment = meaning(&s, &schema)?;
        if eval::matches(&segment, &schema, &clock, facts) {
            found.push(SegmentBrief {
                id: s.id,
                name: s.name,
            });
        }
    }
    Ok(found)
}

/// The people segments and lists a person is in at `now`.
pub async fn contact_segments(
    db: &Db,
    actor: &Actor,
    contact_id: i64,
    now: i64,
) -> Result<Vec<SegmentBrief>, AppError> {
    memberships(db, actor, Subject::People, contact_id, now).await
}

/// The account segments and lists an account is in at `now`.
pub async fn account_segments(
    db: &Db,
    actor: &Actor,
    account_id: i64,
    now: i64,
) -> Result<Vec<SegmentBrief>, AppError> {
    memberships(db, actor, Subject::Accounts, account_id, now).await
}

// ---- static lists -----------------------------------------------------------------------------

/// The static list `id`, locked for changing its members.
async fn list_or_refuse(tx: &mut Tx, ws: i64, id: i64) -> Result<StoredSegment, AppError> {
    let s = segment_or_404(tx.conn(), ws, id, true).await?;
    if s.kind != SegmentKind::Static.as_str() {
        return Err(AppError::invalid(
            "segment_not_static",
            "id",
            format!(
                "\"{}\" is a dynamic segment: its members follow from its condition. Snapshot it into a static list to keep a fixed set",
                s.name
            ),
        ));
    }
    Ok(s)
}

/// Put people (or accounts, for an account list) on a static list by id.
/// Ids that are not in the workspace are ignored and reported.
pub async fn add_list_members(
    db: &Db,
    actor: &Actor,
    id: i64,
    ids: Vec<i64>,
    now: i64,
) -> Result<MembersAdded, AppError> {
    actor.require(Action::ManageSegments)?;
    let ws = actor.workspace_id;
    let mut tx = db.begin().await?;
    let list = list_or_refuse(&mut tx, ws, id).await?;
    let object = object_of(subject_of(&list)?);
    let result = repo::add_members(tx.conn(), ws, id, object, &ids, now).await?;
    if !result.added.is_empty() {
        actor
            .log(
                &mut tx,
                "add_members",
                ObjectType::Segment,
                id,
                json!({"added": result.added}),
                now,
            )
            .await?;
    }
    tx.commit().await?;
    Ok(MembersAdded {
        added: result.added.len() as i64,
        already: result.already.len() as i64,
        unknown: result.unknown,
    })
}

/// Take people (or accounts) off a static list by id.
pub async fn remove_list_members(
    db: &Db,
    actor: &Actor,
    id: i64,
    ids: Vec<i64>,
    now: i64,
) -> Result<MembersRemoved, AppError> {
    actor.require(Action::ManageSegments)?;
    let ws = actor.workspace_id;
    let mut tx = db.begin().await?;
    list_or_refuse(&mut tx, ws, id).await?;
    let removed = repo::remove_members(tx.conn(), ws, id, &ids).await?;
    if !removed.is_empty() {
        actor
            .log(
                &mut tx,
                "remove_members",
                ObjectType::Segment,
                id,
                json!({"removed": removed}),
                now,
            )
            .await?;
    }
    tx.commit().await?;
    let gone: BTreeSet<i64> = removed.iter().copied().collect();
    let not_members = ids
        .into_iter()
        .filter(|i| !gone.contains(i))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    Ok(MembersRemoved {
        removed: removed.len() as i64,
        not_members,
    })
}

/// Copy the members a segment (dynamic or static) has at `now` into a
/// static list of the same subject; `replace` empties the list first.
pub async fn snapshot_segment_into_list(
    db: &Db,
    actor: &Actor,
    from: i64,
    list: i64,
    replace: bool,
    now: i64,
) -> Result<Snapshot, AppError> {
    actor.require(Action::ManageSegments)?;
    let ws = actor.workspace_id;
    let mut tx = db.begin().await?;
    let target = list_or_refuse(&mut tx, ws, list).await?;
    let source = segment_or_404(tx.conn(), ws, from, false).await?;
    if source.subject != target.subject {
        return Err(AppError::invalid(
            "subject_mismatch",
            "list",
            format!(
                "\"{}\" selects {} but the list \"{}\" holds {}; pick a list of {}",
                source.name, source.subject, target.name, target.subject, source.subject
            ),
        ));
    }
    if from == list && replace {
        return Err(AppError::invalid(
            "snapshot_into_itself",
            "list",
            "a list cannot replace its members with itself; pick another list",
        ));
    }
    let schema = load_schema(tx.conn(), ws).await?;
    let clock = clock(tx.conn(), ws, now).await?;
    let selection = selection_of(&source, &schema, &clock, tx.engine(), ws)?;
    let cleared = if replace {
        repo::clear_members(tx.conn(), ws, list).await?
    } else {
        0
    };
    let added = repo::snapshot_members(tx.conn(), ws, list, &selection.ids_sql, now).await?;
    let object = object_of(subject_of(&target)?);
    let members = repo::count_members(
        tx.conn(),
        ws,
        object,
        &repo::list_members_sql(ws, list, object),
    )
    .await?;
    actor
        .log(
            &mut tx,
            "snapshot",
            ObjectType::Segment,
            list,
            json!({"from": {"id": from, "name": source.name}, "replaced": replace, "removed": cleared, "added": added}),
            now,
        )
        .await?;
    tx.commit().await?;
    Ok(Snapshot {
        added: if replace { members } else { added as i64 },
        members,
    })
}

// ---- importing list members from a file ----------------------------------------------------------

/// Record ids for the keys of one batch.
async fn resolve(
    c: Conn<'_>,
    ws: i64,
    object: ObjectKind,
    key: KeyColumn,
    keys: &[String],
) -> Result<std::collections::HashMap<String, i64>, AppError> {
    Ok(match key {
        KeyColumn::Id => {
            let ids: Vec<i64> = keys.iter().filter_map(|k| k.parse().ok()).collect();
            repo::existing_ids(c, ws, object, &ids)
                .await?
                .into_iter()
                .map(|id| (id.to_string(), id))
                .collect()
        }
        KeyColumn::ExternalId => repo::ids_by(c, ws, object, MemberKey::ExternalId, keys).await?,
        KeyColumn::Email => repo::ids_by(c, ws, object, MemberKey::Email, keys).await?,
    })
}

/// Running totals of a members import.
struct Tally {
    report: ListImport,
    added: Vec<i64>,
}

impl Tally {
    fn reject(&mut self, r: Reject) {
        self.report.rejected += 1;
        if self.report.rejects.len() < MAX_REJECTS_SHOWN {
            self.report.rejects.push(r);
        }
    }
}

/// Where the rows of a members file go.
struct ListTarget {
    ws: i64,
    list: i64,
    object: ObjectKind,
    key: KeyColumn,
    now: i64,
}

/// Match one batch of rows to records and put them on the list.
async fn import_batch(
    tx: &mut Tx,
    to: &ListTarget,
    rows: Vec<FileRow>,
    tally: &mut Tally,
) -> Result<(), AppError> {
    let (ws, object, key) = (to.ws, to.object, to.key);
    let mut wanted = Vec::new();
    let mut rejects = Vec::new();
    for row in rows {
        tally.report.rows += 1;
        match row {
            FileRow::Reject(r) => rejects.push(r),
            FileRow::Value { line, value } => match clean_key(key, line, &value) {
                Ok(k) => wanted.push((line, value, k)),
                Err(r) => rejects.push(r),
            },
        }
    }
    let keys: Vec<String> = wanted.iter().map(|(_, _, k)| k.clone()).collect();
    let found = resolve(tx.conn(), ws, object, key, &keys).await?;
    let mut ids = Vec::new();
    for (line, value, k) in wanted {
        match found.get(&k) {
            Some(id) => ids.push(*id),
            None => rejects.push(reject(
                line,
                key.as_str(),
                &value,
                "member_not_found",
                format!(
                    "there is no {} with {} `{value}` in this workspace; add it first, or fix the value",
                    object.as_str(),
                    key.as_str().replace('_', " ")
                ),
            )),
        }
    }
    // The report reads in file order.
    rejects.sort_by_key(|r| r.line);
    for r in rejects {
        tally.reject(r);
    }
    let result = repo::add_members(tx.conn(), ws, to.list, object, &ids, to.now).await?;
    tally.report.added += result.added.len() as i64;
    tally.report.already += (ids.len() - result.added.len()) as i64;
    tally.added.extend(result.added);
    Ok(())
}

/// Put the people (or accounts) a CSV file names on a static list. The file
/// needs a header row with an `id`, `external_id` or `email` column (in that
/// order of preference); every row that names nobody is reported with its
/// line and why, and the others are added all the same.
pub async fn import_list_members_csv(
    db: &Db,
    actor: &Actor,
    id: i64,
    source: Box<dyn Read + Send>,
    now: i64,
) -> Result<ListImport, AppError> {
    actor.require(Action::ManageSegments)?;
    let ws = actor.workspace_id;
    let list = segment_or_404(db.conn(), ws, id, false).await?;
    let object = object_of(subject_of(&list)?);
    let (sender, mut receiver) = mpsc::channel(2);
    // Never awaited: if the import stops early, dropping the receiver ends the reading.
    let _reader =
        tokio::task::spawn_blocking(move || members_file::read(source, IMPORT_BATCH, &sender));
    let key = match receiver.recv().await {
        Some(FileEvent::Key(k)) => k,
        Some(FileEvent::Failed(e)) => return Err(e),
        _ => return Err(unreadable_file(&"it ended unexpectedly")),
    };
    if key == KeyColumn::Email && object == ObjectKind::Account {
        return Err(AppError::invalid(
            "file_key_invalid",
            "file",
            "accounts have no email; identify them by an `id` or `external_id` column",
        ));
    }
    let mut tx = db.begin().await?;
    list_or_refuse(&mut tx, ws, id).await?;
    let mut tally = Tally {
        report: ListImport {
            matched_by: key.as_str().into(),
            rows: 0,
            added: 0,
            already: 0,
            rejected: 0,
            rejects: Vec::new(),
        },
        added: Vec::new(),
    };
    let to = ListTarget {
        ws,
        list: id,
        object,
        key,
        now,
    };
    while let Some(event) = receiver.recv().await {
        match event {
            FileEvent::Rows(rows) => import_batch(&mut tx, &to, rows, &mut tally).await?,
            FileEvent::Failed(e) => return Err(e),
            FileEvent::Key(_) => {}
        }
    }
    let r = &tally.report;
    actor
        .log(
            &mut tx,
            "import_members",
            ObjectType::Segment,
            id,
            json!({"matched_by": r.matched_by, "rows": r.rows, "added": tally.added, "already": r.already, "rejected": r.rejected}),
            now,
        )
        .await?;
    tx.commit().await?;
    Ok(tally.report)
}

// ---- dependencies ------------------------------------------------------------------------------

async fn users(c: Conn<'_>, ws: i64, kind: UseKind, target: &str) -> Result<Vec<User>, AppError> {
    Ok(repo::dependents(c, ws, kind.stored(), target)
        .await?
        .into_iter()
        .map(|d| User {
            name: d.name.unwrap_or_else(|| format!("#{}", d.owner_id)),
            owner_type: d.owner_type,
            id: d.owner_id,
        })
        .collect())
}

/// Who uses a field (by key), an event (by name), a segment (by name) or a
/// topic (by name).
pub async fn uses_of(
    db: &Db,
    actor: &Actor,
    kind: UseKind,
    target: &str,
) -> Result<Vec<User>, AppError> {
    actor.require(Action::ReadRecords)?;
    users(db.conn(), actor.workspace_id, kind, target.trim()).await
}

/// Refuse to delete or retype a field that saved conditions use; `doing`
/// completes "…, then <doing>".
pub(crate) async fn refuse_field_in_use(
    c: Conn<'_>,
    ws: i64,
    object: ObjectKind,
    key: &str,
    doing: &str,
) -> Result<(), AppError> {
    let users = users(c, ws, UseKind::field(object), key).await?;
    if users.is_empty() {
        return Ok(());
    }
    Err(in_use(
        "field_in_use",
        &format!("the {} field `{key}`", object.as_str()),
        doing,
        &users,
    )
    .at("key"))
}
