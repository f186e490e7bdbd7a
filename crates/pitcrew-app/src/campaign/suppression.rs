//! Suppression lists: addresses that must not be mailed, for every topic or
//! for one, kept by members (add, remove, list, CSV import and export) and
//! by pitcrew itself as bounces and complaints arrive (`suppress`,
//! `note_soft_bounce`, `note_delivered`), and read in bulk when deciding
//! who gets a broadcast and again just before each batch goes out
//! (`suppressed_for`, `suppressed_among`).
//!
//! An address holds one row per topic. Writing it again never weakens it:
//! a row changes reason only for a stronger one (see `strength`).

use std::collections::HashMap;
use std::io::Read;

use pitcrew_core::admin::{Action, ObjectType};
use pitcrew_core::campaign::{
    SuppressionReason, is_role_address, is_sendable_address, normalise_address,
};
use pitcrew_core::time::format_ms;
use pitcrew_store::campaign::consent as topics;
use pitcrew_store::campaign::suppression::{
    self as repo, NewSuppression, SuppressionFilter as RepoFilter,
};
use pitcrew_store::{Conn, Db};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

use super::consent::{known_topic, topic_unknown};
use crate::audience::MAX_REJECTS_SHOWN;
use crate::import::{CsvRecords, ReadFailure, Record, Reject};
use crate::{Actor, AppError, ErrorKind};

/// Longest note kept with a suppression.
const MAX_NOTE: usize = 1000;
/// Rows of a suppression file written per batch.
const IMPORT_BATCH: usize = 500;
/// Suppressions per page when walking all of them (exports, sweeps).
const PAGE: i64 = 1000;
/// Most suppressions one listing page shows.
pub const MAX_PAGE: i64 = 1000;
/// Suppressions a listing page shows when no limit is given.
pub const DEFAULT_PAGE: i64 = 100;
/// The columns of an exported suppression file, in order.
pub const EXPORT_HEADER: [&str; 6] = ["email", "topic", "reason", "note", "source", "created_at"];

// ---- shapes in and out ------------------------------------------------------------------

/// What put an address on a suppression list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SuppressionSource {
    /// A member, one address at a time.
    Admin,
    /// A member's CSV file.
    Import,
    /// A bounce: the receiving server refused the address.
    Bounce,
    /// A complaint: the person marked an email as spam.
    Complaint,
    /// The sweep that suppresses role addresses such as `info@`.
    RoleSweep,
}

impl SuppressionSource {
    pub fn as_str(self) -> &'static str {
        match self {
            SuppressionSource::Admin => "admin",
            SuppressionSource::Import => "import",
            SuppressionSource::Bounce => "bounce",
            SuppressionSource::Complaint => "complaint",
            SuppressionSource::RoleSweep => "role_sweep",
        }
    }
}

/// How firmly a reason keeps an address from mail: a complaint (the
/// person objected) outranks a hard bounce (the address does not exist),
/// which outranks a member's decision (manual, role address), which
/// outranks soft bounces (a temporary condition).
pub fn strength(reason: SuppressionReason) -> u8 {
    match reason {
        SuppressionReason::Complaint => 4,
        SuppressionReason::HardBounce => 3,
        SuppressionReason::Manual | SuppressionReason::RoleAddress => 2,
        SuppressionReason::SoftBounce => 1,
    }
}

/// An address on a suppression list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Suppression {
    /// Trimmed and lowercased.
    pub email: String,
    /// The one topic it is suppressed for; absent for every topic.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    pub reason: SuppressionReason,
    pub note: String,
    /// What put it there: `admin`, `import`, `bounce`, `complaint` or `role_sweep`.
    pub source: String,
    pub created_at: String,
}

/// What writing a suppression did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SuppressOutcome {
    /// The address was not on the list; now it is.
    Added,
    /// It was, for a weaker reason, which the new one replaced.
    Strengthened,
    /// It was, for the same or a stronger reason, and stays as it was.
    Unchanged,
}

/// A suppression as it stands after a write, and what the write did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct SuppressionChange {
    pub suppression: Suppression,
    pub outcome: SuppressOutcome,
}

/// Where a page of suppressions continues: after this address and topic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SuppressionKey {
    pub email: String,
    /// Absent for a row that covers every topic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
}

/// Which suppressions to list or export.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SuppressionFilter {
    pub reason: Option<SuppressionReason>,
    /// Only rows of this topic; the empty string selects the rows that
    /// cover every topic.
    pub topic: Option<String>,
    /// Text found anywhere in the address, ignoring case.
    pub search: Option<String>,
}

/// A page of suppressions, in address order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct SuppressionPage {
    /// How many suppressions the filter selects in all.
    pub total: i64,
    pub items: Vec<Suppression>,
    /// Pass as `after` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<SuppressionKey>,
}

/// What a suppression file did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct SuppressionImport {
    /// Data rows read (blank rows are not counted).
    pub rows: i64,
    pub added: i64,
    pub strengthened: i64,
    /// Rows for addresses already suppressed as firmly (or named twice).
    pub unchanged: i64,
    /// Rows left out because of a problem.
    pub rejected: i64,
    /// Every problem with its line, up to a thousand; beyond that counted.
    pub rejects: Vec<Reject>,
    /// Header columns that were not read (not `email`, `reason`, `topic` or `note`).
    pub ignored_columns: Vec<String>,
}

/// An address pitcrew itself puts on a list (a bounce, a complaint).
#[derive(Debug, Clone, Copy)]
pub struct SuppressionEntry<'a> {
    pub email: &'a str,
    /// `None` for every topic.
    pub topic: Option<&'a str>,
    pub reason: SuppressionReason,
    pub source: SuppressionSource,
    pub note: &'a str,
}

fn suppression_out(s: repo::Suppression) -> Suppression {
    Suppression {
        email: s.email,
        topic: Some(s.topic).filter(|t| !t.is_empty()),
        reason: s.reason,
        note: s.note,
        source: s.source,
        created_at: format_ms(s.created_at),
    }
}

// ---- checking --------------------------------------------------------------------------

/// An address as suppression lists keep it, or why it cannot be one.
fn clean_email(email: &str) -> Result<String, String> {
    let email = normalise_address(email);
    if email.is_empty() {
        return Err("the address is empty; give the email address to suppress".into());
    }
    if !is_sendable_address(&email) {
        return Err(format!(
            "`{email}` is not an email address; write it as name@example.com"
        ));
    }
    Ok(email)
}

fn email_invalid(why: String) -> AppError {
    AppError::invalid("email_invalid", "email", why)
}

fn clean_note(note: &str) -> Result<String, String> {
    let note = note.trim();
    if note.chars().count() > MAX_NOTE {
        return Err(format!("keep the note to {MAX_NOTE} characters"));
    }
    Ok(note.to_string())
}

/// The stored topic of a suppression: `""` for every topic, else the name
/// of an existing topic.
async fn stored_topic(c: Conn<'_>, ws: i64, topic: Option<&str>) -> Result<String, AppError> {
    match topic.map(str::trim).filter(|t| !t.is_empty()) {
        None => Ok(String::new()),
        Some(name) => known_topic(c, ws, name, "topic").await,
    }
}

fn suppression_not_found(email: &str, topic: &str) -> AppError {
    let scope = if topic.is_empty() {
        "for every topic".to_string()
    } else {
        format!("for topic \"{topic}\"")
    };
    AppError::not_found(
        "suppression_not_found",
        format!("`{email}` is not suppressed {scope}; list suppressions to see where it is"),
    )
}

// ---- writing, with the strength rule ------------------------------------------------------

/// One suppression being written, already checked.
struct Wanted {
    email: String,
    topic: String,
    reason: SuppressionReason,
    note: String,
}

/// Running totals of writes.
#[derive(Debug, Default)]
struct Tally {
    added: i64,
    strengthened: i64,
    unchanged: i64,
}

impl Tally {
    fn count(&mut self, outcome: SuppressOutcome) {
        match outcome {
            SuppressOutcome::Added => self.added += 1,
            SuppressOutcome::Strengthened => self.strengthened += 1,
            SuppressOutcome::Unchanged => self.unchanged += 1,
        }
    }
}

/// Write one suppression: added when absent, strengthened when the new
/// reason outranks the one held, left alone otherwise. Race-free on
/// PostgreSQL: the row is inserted if missing, then locked and compared.
async fn write_one(
    mut c: Conn<'_>,
    ws: i64,
    w: &Wanted,
    source: SuppressionSource,
    now: i64,
) -> Result<(SuppressOutcome, repo::Suppression), AppError> {
    let new = NewSuppression {
        email: &w.email,
        topic: &w.topic,
        reason: w.reason,
        note: &w.note,
        source: source.as_str(),
        created_at: now,
    };
    let inserted = !repo::insert_missing(c.reborrow(), ws, &[new])
        .await?
        .is_empty();
    let held = repo::get_suppression(c.reborrow(), ws, &w.email, &w.topic, !inserted)
        .await?
        .ok_or_else(|| suppression_not_found(&w.email, &w.topic))?;
    if inserted {
        return Ok((SuppressOutcome::Added, held));
    }
    if strength(w.reason) <= strength(held.reason) {
        return Ok((SuppressOutcome::Unchanged, held));
    }
    repo::replace_reason(c.reborrow(), ws, &new).await?;
    let after = repo::Suppression {
        reason: w.reason,
        note: w.note.clone(),
        source: source.as_str().to_string(),
        ..held
    };
    Ok((SuppressOutcome::Strengthened, after))
}

/// Write a batch of suppressions with few statements: one read of what the
/// addresses hold, one insert of the new rows, an update per row made stronger.
async fn write_batch(
    mut c: Conn<'_>,
    ws: i64,
    batch: Vec<Wanted>,
    source: SuppressionSource,
    now: i64,
    tally: &mut Tally,
) -> Result<(), AppError> {
    // The same address and topic twice in a batch: the strongest row stands for both.
    let mut unique: Vec<Wanted> = Vec::with_capacity(batch.len());
    let mut index: HashMap<(String, String), usize> = HashMap::new();
    for w in batch {
        match index.get(&(w.email.clone(), w.topic.clone())) {
            Some(&i) => {
                tally.unchanged += 1;
                if strength(w.reason) > strength(unique[i].reason) {
                    unique[i] = w;
                }
            }
            None => {
                index.insert((w.email.clone(), w.topic.clone()), unique.len());
                unique.push(w);
            }
        }
    }
    let emails: Vec<String> = unique.iter().map(|w| w.email.clone()).collect();
    let held: HashMap<(String, String), SuppressionReason> =
        repo::suppressions_of(c.reborrow(), ws, &emails)
            .await?
            .into_iter()
            .map(|s| ((s.email, s.topic), s.reason))
            .collect();
    let (fresh, known): (Vec<&Wanted>, Vec<&Wanted>) = unique
        .iter()
        .partition(|w| !held.contains_key(&(w.email.clone(), w.topic.clone())));
    let rows: Vec<NewSuppression> = fresh
        .iter()
        .map(|w| NewSuppression {
            email: &w.email,
            topic: &w.topic,
            reason: w.reason,
            note: &w.note,
            source: source.as_str(),
            created_at: now,
        })
        .collect();
    let inserted = repo::insert_missing(c.reborrow(), ws, &rows).await?;
    tally.added += inserted.len() as i64;
    // Rows another writer inserted since the read above go the careful way.
    let raced = fresh
        .iter()
        .filter(|w| !inserted.iter().any(|(e, t)| *e == w.email && *t == w.topic));
    for w in raced {
        let (outcome, _) = write_one(c.reborrow(), ws, w, source, now).await?;
        tally.count(outcome);
    }
    for w in known {
        let had = held[&(w.email.clone(), w.topic.clone())];
        if strength(w.reason) <= strength(had) {
            tally.unchanged += 1;
            continue;
        }
        let new = NewSuppression {
            email: &w.email,
            topic: &w.topic,
            reason: w.reason,
            note: &w.note,
            source: source.as_str(),
            created_at: now,
        };
        repo::replace_reason(c.reborrow(), ws, &new).await?;
        tally.strengthened += 1;
    }
    Ok(())
}

// ---- use cases for members --------------------------------------------------------------

/// Put an address on the suppression list for every topic (`topic` absent)
/// or for one. An address already there keeps its row unless the new
/// reason is stronger.
pub async fn add_suppression(
    db: &Db,
    actor: &Actor,
    email: &str,
    topic: Option<&str>,
    reason: SuppressionReason,
    note: &str,
    now: i64,
) -> Result<SuppressionChange, AppError> {
    actor.require(Action::ManageConsent)?;
    let ws = actor.workspace_id;
    let email = clean_email(email).map_err(email_invalid)?;
    let note = clean_note(note).map_err(|m| AppError::invalid("note_invalid", "note", m))?;
    let mut tx = db.begin().await?;
    let topic = stored_topic(tx.conn(), ws, topic).await?;
    let wanted = Wanted {
        email,
        topic,
        reason,
        note,
    };
    let (outcome, row) = write_one(tx.conn(), ws, &wanted, SuppressionSource::Admin, now).await?;
    if outcome != SuppressOutcome::Unchanged {
        actor
            .log(
                &mut tx,
                if outcome == SuppressOutcome::Added {
                    "create"
                } else {
                    "update"
                },
                ObjectType::Suppression,
                &row.email,
                json!({"after": {"topic": row.topic, "reason": row.reason, "note": row.note}}),
                now,
            )
            .await?;
    }
    tx.commit().await?;
    Ok(SuppressionChange {
        suppression: suppression_out(row),
        outcome,
    })
}

/// Take an address off the list for every topic (`topic` absent) or for
/// one. Lifting the row for every topic also forgets the address's soft
/// bounces, so it starts afresh. Returns the row removed.
pub async fn remove_suppression(
    db: &Db,
    actor: &Actor,
    email: &str,
    topic: Option<&str>,
    now: i64,
) -> Result<Suppression, AppError> {
    actor.require(Action::ManageConsent)?;
    let ws = actor.workspace_id;
    let email = normalise_address(email);
    let topic = topic.map(str::trim).unwrap_or_default();
    let mut tx = db.begin().await?;
    let removed = repo::delete_suppression(tx.conn(), ws, &email, topic)
        .await?
        .ok_or_else(|| suppression_not_found(&email, topic))?;
    if topic.is_empty() {
        repo::clear_soft_bounces(tx.conn(), ws, &email).await?;
    }
    actor
        .log(
            &mut tx,
            "delete",
            ObjectType::Suppression,
            &removed.email,
            json!({"before": {"topic": removed.topic, "reason": removed.reason, "note": removed.note, "source": removed.source}, "after": {}}),
            now,
        )
        .await?;
    tx.commit().await?;
    Ok(suppression_out(removed))
}

fn repo_filter(f: &SuppressionFilter) -> RepoFilter {
    RepoFilter {
        reason: f.reason,
        topic: f.topic.as_deref().map(|t| t.trim().to_string()),
        search: f.search.clone(),
    }
}

/// A page of suppressions in address order, after `after` (the previous
/// page's `next`); `limit` is 100 unless given, at most 1000.
pub async fn list_suppressions(
    db: &Db,
    actor: &Actor,
    filter: &SuppressionFilter,
    after: Option<&SuppressionKey>,
    limit: Option<i64>,
) -> Result<SuppressionPage, AppError> {
    actor.require(Action::ReadRecords)?;
    let ws = actor.workspace_id;
    let limit = limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(AppError::invalid(
            "limit_invalid",
            "limit",
            format!("`limit` must be between 1 and {MAX_PAGE}"),
        ));
    }
    let filter = repo_filter(filter);
    let after = after.map(|k| {
        (
            normalise_address(&k.email),
            k.topic.clone().unwrap_or_default(),
        )
    });
    let after = after.as_ref().map(|(e, t)| (e.as_str(), t.as_str()));
    let total = repo::count_suppressions(db.conn(), ws, &filter).await?;
    // One more than asked says whether another page follows.
    let mut items = repo::list_suppressions(db.conn(), ws, &filter, after, limit + 1).await?;
    let more = items.len() as i64 > limit;
    items.truncate(limit as usize);
    let next = match (more, items.last()) {
        (true, Some(last)) => Some(SuppressionKey {
            email: last.email.clone(),
            topic: Some(last.topic.clone()).filter(|t| !t.is_empty()),
        }),
        _ => None,
    };
    Ok(SuppressionPage {
        total,
        items: items.into_iter().map(suppression_out).collect(),
        next,
    })
}

fn export_failed(e: &dyn std::fmt::Display) -> AppError {
    tracing::warn!(error = %e, "suppression export stopped");
    AppError::new(
        ErrorKind::Internal,
        "export_interrupted",
        "the export stopped before the end; start it again",
    )
}

fn csv_chunk(rows: &[Vec<String>]) -> Result<Vec<u8>, AppError> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for row in rows {
        w.write_record(row).map_err(|e| export_failed(&e))?;
    }
    w.into_inner().map_err(|e| export_failed(&e))
}

/// Write the suppressions a filter selects as CSV (`EXPORT_HEADER`, one row
/// each, in address order), a page at a time so any number streams in
/// bounded memory. The file imports back as it is. Returns the rows written.
pub async fn export_suppressions_csv<W>(
    db: &Db,
    actor: &Actor,
    filter: &SuppressionFilter,
    out: &mut W,
) -> Result<u64, AppError>
where
    W: AsyncWrite + Unpin + Send,
{
    actor.require(Action::ReadRecords)?;
    let ws = actor.workspace_id;
    let filter = repo_filter(filter);
    let header: Vec<String> = EXPORT_HEADER.iter().map(|h| (*h).to_string()).collect();
    out.write_all(&csv_chunk(&[header])?)
        .await
        .map_err(|e| export_failed(&e))?;
    let mut after: Option<(String, String)> = None;
    let mut written = 0;
    loop {
        let from = after.as_ref().map(|(e, t)| (e.as_str(), t.as_str()));
        let page = repo::list_suppressions(db.conn(), ws, &filter, from, PAGE).await?;
        let Some(last) = page.last() else {
            break;
        };
        after = Some((last.email.clone(), last.topic.clone()));
        let rows: Vec<Vec<String>> = page
            .iter()
            .map(|s| {
                vec![
                    s.email.clone(),
                    s.topic.clone(),
                    s.reason.as_str().to_string(),
                    s.note.clone(),
                    s.source.clone(),
                    format_ms(s.created_at),
                ]
            })
            .collect();
        out.write_all(&csv_chunk(&rows)?)
            .await
            .map_err(|e| export_failed(&e))?;
        written += page.len() as u64;
        if (page.len() as i64) < PAGE {
            break;
        }
    }
    out.flush().await.map_err(|e| export_failed(&e))?;
    Ok(written)
}

// ---- importing a file ------------------------------------------------------------------

/// What the reading thread hands over.
enum FileEvent {
    Header(Vec<String>),
    Rows(Vec<Record>),
    Failed(ReadFailure),
}

/// Read a suppression file on the calling (blocking) thread and send its
/// records in batches. Stops quietly when the receiver is gone.
fn read_file(source: Box<dyn Read + Send>, out: &mpsc::Sender<FileEvent>) {
    let fail = |f: ReadFailure| {
        let _ = out.blocking_send(FileEvent::Failed(f));
    };
    let mut csv = match CsvRecords::open(source, None, None) {
        Ok(csv) => csv,
        Err(f) => return fail(f),
    };
    let header = loop {
        match csv.next_record() {
            Ok(Some(r)) if r.is_blank() => {}
            Ok(Some(r)) => break r.values,
            Ok(None) => {
                return fail(ReadFailure {
                    code: "import_empty",
                    message: "the file has no header row; the first row must name the columns, with `email` among them".into(),
                    line: None,
                });
            }
            Err(f) => return fail(f),
        }
    };
    if out.blocking_send(FileEvent::Header(header)).is_err() {
        return;
    }
    let mut rows = Vec::with_capacity(IMPORT_BATCH);
    loop {
        match csv.next_record() {
            Ok(Some(r)) if r.is_blank() => {}
            Ok(Some(r)) => rows.push(r),
            Ok(None) => break,
            Err(f) => return fail(f),
        }
        if rows.len() >= IMPORT_BATCH
            && out
                .blocking_send(FileEvent::Rows(std::mem::take(&mut rows)))
                .is_err()
        {
            return;
        }
    }
    if !rows.is_empty() {
        let _ = out.blocking_send(FileEvent::Rows(rows));
    }
}

fn read_failed(f: ReadFailure) -> AppError {
    let message = match f.line {
        Some(line) if !f.message.contains(&line.to_string()) => {
            format!("{} (line {line}); nothing was imported", f.message)
        }
        _ => format!("{}; nothing was imported", f.message),
    };
    AppError::invalid(f.code, "file", message)
}

/// Where each known column is in the file.
struct Columns {
    width: usize,
    email: usize,
    reason: Option<usize>,
    topic: Option<usize>,
    note: Option<usize>,
}

impl Columns {
    fn from_header(header: &[String]) -> Result<(Columns, Vec<String>), AppError> {
        let names: Vec<String> = header
            .iter()
            .map(|h| h.trim().to_ascii_lowercase())
            .collect();
        let find = |name: &str| names.iter().position(|h| h == name);
        let Some(email) = find("email") else {
            return Err(AppError::invalid(
                "file_email_missing",
                "file",
                format!(
                    "the header ({}) has no `email` column; name the column of addresses `email` (optional columns: reason, topic, note)",
                    names.join(", ")
                ),
            ));
        };
        let known = ["email", "reason", "topic", "note"];
        let ignored = names
            .iter()
            .filter(|h| !known.contains(&h.as_str()))
            .cloned()
            .collect();
        Ok((
            Columns {
                width: names.len(),
                email,
                reason: find("reason"),
                topic: find("topic"),
                note: find("note"),
            },
            ignored,
        ))
    }
}

fn reject(line: u64, column: &str, value: &str, code: &str, reason: String) -> Reject {
    Reject {
        line: line as i64,
        column: column.to_string(),
        value: value.to_string(),
        reason,
        code: code.to_string(),
    }
}

/// One record of the file as a suppression, or every problem it has.
fn read_row(r: &Record, cols: &Columns, topic_names: &[String]) -> Result<Wanted, Vec<Reject>> {
    let line = r.line;
    if r.values.len() != cols.width {
        return Err(vec![reject(
            line,
            "",
            &format!("{} values", r.values.len()),
            "row_columns",
            format!(
                "this row has {} values but the header has {}; a value that contains the separator or a line break must be in double quotes",
                r.values.len(),
                cols.width
            ),
        )]);
    }
    if let Some(i) = r.undecodable {
        return Err(vec![reject(
            line,
            "",
            &r.values[i],
            "encoding_invalid",
            "this row is not valid UTF-8, although the file began as UTF-8; save the file as \"CSV UTF-8\"".into(),
        )]);
    }
    let get = |i: Option<usize>| i.map_or("", |i| r.values[i].trim());
    let mut problems = Vec::new();
    let raw_email = get(Some(cols.email));
    let email = match clean_email(raw_email) {
        Ok(e) => e,
        Err(why) => {
            let code = if raw_email.is_empty() {
                "value_missing"
            } else {
                "email_invalid"
            };
            problems.push(reject(line, "email", raw_email, code, why));
            String::new()
        }
    };
    let raw_reason = get(cols.reason);
    let reason = if raw_reason.is_empty() {
        SuppressionReason::Manual
    } else {
        SuppressionReason::parse(raw_reason).unwrap_or_else(|| {
            problems.push(reject(
                line,
                "reason",
                raw_reason,
                "reason_invalid",
                format!(
                    "`{raw_reason}` is not a suppression reason; use one of {} (or leave it empty for manual)",
                    SuppressionReason::choices()
                ),
            ));
            SuppressionReason::Manual
        })
    };
    let topic = get(cols.topic);
    if !topic.is_empty() && !topic_names.iter().any(|t| t == topic) {
        let e = topic_unknown(topic, topic_names, "topic");
        problems.push(reject(line, "topic", topic, e.code, e.message));
    }
    let raw_note = get(cols.note);
    let note = clean_note(raw_note).unwrap_or_else(|why| {
        problems.push(reject(line, "note", raw_note, "note_invalid", why));
        String::new()
    });
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(Wanted {
        email,
        topic: topic.to_string(),
        reason,
        note,
    })
}

/// Put the addresses of a CSV file on suppression lists. The file needs a
/// header row with an `email` column; `reason` (manual when empty), `topic`
/// (every topic when empty) and `note` are read when present, other columns
/// are ignored and named in the answer. Every rejected row is reported with
/// its line and why; the good rows are written all the same, in one
/// transaction with one audit entry. A file that cannot be read to its end
/// (a quote never closed, not CSV) changes nothing.
pub async fn import_suppressions_csv(
    db: &Db,
    actor: &Actor,
    source: Box<dyn Read + Send>,
    now: i64,
) -> Result<SuppressionImport, AppError> {
    actor.require(Action::ManageConsent)?;
    let ws = actor.workspace_id;
    let (sender, mut receiver) = mpsc::channel(2);
    // Never awaited: if the import stops early, dropping the receiver ends the reading.
    let _reader = tokio::task::spawn_blocking(move || read_file(source, &sender));
    let header = match receiver.recv().await {
        Some(FileEvent::Header(h)) => h,
        Some(FileEvent::Failed(f)) => return Err(read_failed(f)),
        _ => {
            return Err(AppError::new(
                ErrorKind::Internal,
                "import_interrupted",
                "the file stopped being read unexpectedly; import it again",
            ));
        }
    };
    let (cols, ignored_columns) = Columns::from_header(&header)?;
    let mut report = SuppressionImport {
        rows: 0,
        added: 0,
        strengthened: 0,
        unchanged: 0,
        rejected: 0,
        rejects: Vec::new(),
        ignored_columns,
    };
    let mut tally = Tally::default();
    let mut tx = db.begin().await?;
    let topic_names: Vec<String> = topics::list_topics(tx.conn(), ws)
        .await?
        .into_iter()
        .map(|t| t.name)
        .collect();
    while let Some(event) = receiver.recv().await {
        let records = match event {
            FileEvent::Rows(records) => records,
            FileEvent::Failed(f) => return Err(read_failed(f)),
            FileEvent::Header(_) => continue,
        };
        let mut batch = Vec::with_capacity(records.len());
        for r in &records {
            report.rows += 1;
            match read_row(r, &cols, &topic_names) {
                Ok(w) => batch.push(w),
                Err(problems) => {
                    report.rejected += 1;
                    let room = MAX_REJECTS_SHOWN.saturating_sub(report.rejects.len());
                    report.rejects.extend(problems.into_iter().take(room));
                }
            }
        }
        write_batch(
            tx.conn(),
            ws,
            batch,
            SuppressionSource::Import,
            now,
            &mut tally,
        )
        .await?;
    }
    report.added = tally.added;
    report.strengthened = tally.strengthened;
    report.unchanged = tally.unchanged;
    actor
        .log(
            &mut tx,
            "import",
            ObjectType::Suppression,
            "file",
            json!({
                "rows": report.rows,
                "added": report.added,
                "strengthened": report.strengthened,
                "unchanged": report.unchanged,
                "rejected": report.rejected,
            }),
            now,
        )
        .await?;
    tx.commit().await?;
    Ok(report)
}

/// Suppress, for every topic, the addresses of contacts that are role
/// addresses (`info@`, `sales@`, `postmaster@`, …): shared mailboxes that
/// did not sign up as a person and complain the most. Returns how many
/// addresses were newly suppressed; one audit entry records the sweep.
pub async fn suppress_role_addresses(db: &Db, actor: &Actor, now: i64) -> Result<i64, AppError> {
    actor.require(Action::ManageConsent)?;
    let ws = actor.workspace_id;
    let mut tally = Tally::default();
    let mut tx = db.begin().await?;
    let mut after = 0;
    loop {
        let page = repo::contact_addresses(tx.conn(), ws, after, PAGE).await?;
        let Some((last, _)) = page.last() else {
            break;
        };
        after = *last;
        let batch: Vec<Wanted> = page
            .iter()
            .map(|(_, email)| normalise_address(email))
            .filter(|email| is_role_address(email) && is_sendable_address(email))
            .map(|email| Wanted {
                email,
                topic: String::new(),
                reason: SuppressionReason::RoleAddress,
                note: String::new(),
            })
            .collect();
        let full = page.len() as i64 == PAGE;
        write_batch(
            tx.conn(),
            ws,
            batch,
            SuppressionSource::RoleSweep,
            now,
            &mut tally,
        )
        .await?;
        if !full {
            break;
        }
    }
    actor
        .log(
            &mut tx,
            "sweep_role_addresses",
            ObjectType::Suppression,
            "role_addresses",
            json!({"added": tally.added, "strengthened": tally.strengthened, "unchanged": tally.unchanged}),
            now,
        )
        .await?;
    tx.commit().await?;
    Ok(tally.added)
}

// ---- pitcrew's own writes and reads (no member behind them) ------------------------------------

/// Put an address on a list from inside the caller's transaction (a bounce,
/// a complaint): no role check and no audit entry — the row names its
/// source. Idempotent; a row already there changes only for a stronger
/// reason (complaint > hard bounce > manual, role address > soft bounce).
pub async fn suppress(
    mut c: Conn<'_>,
    ws: i64,
    entry: SuppressionEntry<'_>,
    now: i64,
) -> Result<SuppressOutcome, AppError> {
    let email = clean_email(entry.email).map_err(email_invalid)?;
    let note = clean_note(entry.note).map_err(|m| AppError::invalid("note_invalid", "note", m))?;
    let topic = stored_topic(c.reborrow(), ws, entry.topic).await?;
    let wanted = Wanted {
        email,
        topic,
        reason: entry.reason,
        note,
    };
    let (outcome, _) = write_one(c, ws, &wanted, entry.source, now).await?;
    Ok(outcome)
}

/// Count a temporary failure (a soft bounce) for an address. At `limit` in
/// a row (1 at least) the address is suppressed for every topic with
/// reason `soft_bounce`, and `true` is returned: it is suppressed now.
pub async fn note_soft_bounce(
    mut c: Conn<'_>,
    ws: i64,
    email: &str,
    limit: i64,
    now: i64,
) -> Result<bool, AppError> {
    let email = normalise_address(email);
    let in_a_row = repo::add_soft_bounce(c.reborrow(), ws, &email, now).await?;
    if in_a_row < limit.max(1) {
        return Ok(false);
    }
    let note = format!("{in_a_row} soft bounces in a row");
    let entry = SuppressionEntry {
        email: &email,
        topic: None,
        reason: SuppressionReason::SoftBounce,
        source: SuppressionSource::Bounce,
        note: &note,
    };
    suppress(c, ws, entry, now).await?;
    Ok(true)
}

/// A message to the address was delivered: its soft bounces no longer
/// count as "in a row".
pub async fn note_delivered(c: Conn<'_>, ws: i64, email: &str) -> Result<(), AppError> {
    repo::clear_soft_bounces(c, ws, &normalise_address(email)).await?;
    Ok(())
}

/// Soft bounces in a row for an address (0 when none).
pub async fn soft_bounces(c: Conn<'_>, ws: i64, email: &str) -> Result<i64, AppError> {
    Ok(repo::soft_bounces(c, ws, &normalise_address(email)).await?)
}

/// Every address that must not get mail about `topic` (`None`: mail that
/// is about no topic), with the strongest reason it holds: the rows for
/// every topic plus that topic's own, in one query. Keys are normalised
/// addresses; look contacts up with `normalise_address`.
pub async fn suppressed_for(
    c: Conn<'_>,
    ws: i64,
    topic: Option<&str>,
) -> Result<HashMap<String, SuppressionReason>, AppError> {
    let topic = topic.map(str::trim).unwrap_or_default();
    Ok(strongest(repo::suppressed_for(c, ws, topic).await?))
}

/// Which of `emails` (normalised addresses) must not get mail about
/// `topic` (`None`: mail that is about no topic), with the strongest
/// reason each holds — the same answer as `suppressed_for`, for a page of
/// people instead of the whole workspace.
pub async fn suppressed_among(
    c: Conn<'_>,
    ws: i64,
    topic: Option<&str>,
    emails: &[String],
) -> Result<HashMap<String, SuppressionReason>, AppError> {
    let topic = topic.map(str::trim).unwrap_or_default();
    let rows = repo::suppressions_of(c, ws, emails).await?;
    Ok(strongest(
        rows.into_iter()
            .filter(|s| s.topic.is_empty() || s.topic == topic)
            .map(|s| (s.email, s.reason)),
    ))
}

/// One reason per address: the strongest of its rows, since an address
/// may be suppressed for every topic and for one topic at once.
fn strongest(
    rows: impl IntoIterator<Item = (String, SuppressionReason)>,
) -> HashMap<String, SuppressionReason> {
    let mut out: HashMap<String, SuppressionReason> = HashMap::new();
    for (email, reason) in rows {
        out.entry(email)
            .and_modify(|held| {
                if strength(reason) > strength(*held) {
                    *held = reason;
                }
            })
            .or_insert(reason);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn complaints_outrank_hard_bounces_which_outrank_soft_bounces() {
        use SuppressionReason::*;
        assert!(strength(Complaint) > strength(HardBounce));
        assert!(strength(HardBounce) > strength(Manual));
        assert!(strength(Manual) > strength(SoftBounce));
        assert_eq!(strength(Manual), strength(RoleAddress));
    }

    #[test]
    fn an_address_held_for_several_reasons_shows_the_strongest() {
        use SuppressionReason::*;
        let rows = [
            ("ana@example.com", SoftBounce),
            ("ana@example.com", Complaint),
            ("ana@example.com", Manual),
            ("ben@example.com", Manual),
        ];
        let folded = strongest(rows.map(|(e, r)| (e.to_string(), r)));
        assert_eq!(folded.get("ana@example.com"), Some(&Complaint));
        assert_eq!(folded.get("ben@example.com"), Some(&Manual));
        assert_eq!(folded.len(), 2);
    }

    #[test]
    fn addresses_are_normalised_and_checked() {
        assert_eq!(
            clean_email("  Ana@Example.COM ").ok().as_deref(),
            Some("ana@example.com")
        );
        assert!(clean_email("").is_err());
        assert!(clean_email("ana@example").is_err());
    }

    #[test]
    fn a_row_reports_every_problem_on_its_line() {
        let cols = Columns {
            width: 3,
            email: 0,
            reason: Some(1),
            topic: Some(2),
            note: None,
        };
        let record = Record {
            line: 7,
            values: vec!["not-an-address".into(), "angry".into(), "Newsleter".into()],
            undecodable: None,
        };
        let topics = vec!["Newsletter".to_string()];
        let problems = read_row(&record, &cols, &topics).err().unwrap_or_default();
        let codes: Vec<(i64, &str)> = problems.iter().map(|p| (p.line, p.code.as_str())).collect();
        assert_eq!(
            codes,
            vec![
                (7, "email_invalid"),
                (7, "reason_invalid"),
                (7, "topic_unknown")
            ]
        );
        assert!(problems[2].reason.contains("did you mean \"Newsletter\""));
    }
}
