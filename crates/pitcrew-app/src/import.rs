//! CSV import of contacts and accounts: a file's columns mapped to fields
//! (given, or suggested from its header), each row checked by the same
//! rules as the record use cases (`validate_record`), matched to existing
//! records by email or external id, and created or updated in batches —
//! a bad row is reported with its line and never stops the good ones.
//!
//! The file is parsed on a blocking thread (`reader`) and handed over in
//! batches through a bounded channel, so an import of millions of rows runs
//! in bounded memory. Every import — from the API or the command line, real
//! or dry run — is kept with its counts and its rejects report.

mod mapping;
mod preview;
mod reader;

use std::collections::HashMap;
use std::io::Read;
use std::sync::Mutex;

use pitcrew_core::admin::{Action, ObjectType};
use pitcrew_core::record::value::{normalize, normalize_email};
use pitcrew_core::record::{FieldDef, FieldIssue, FieldType, Mode, ObjectKind, validate_record};
use pitcrew_core::time::format_ms;
use pitcrew_store::import::{self as store, ImportCounts, NewImport, RejectRow, StoredImport};
use pitcrew_store::record::{self as repo, Identity, StoredRecord};
use pitcrew_store::{Db, Tx};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use tokio::sync::mpsc;

pub use mapping::{ColumnMapping, MappingSource};
pub use preview::{ImportPreview, MappingChoice, preview_csv};
pub use reader::{Encoding, MAX_RECORD_BYTES, delimiter_label, parse_delimiter};

use mapping::Target;

use crate::{Actor, AppError, ErrorKind};
// The suppression-list import reads its files with the same reader.
pub(crate) use reader::{CsvRecords, Dialect, ReadFailure, Record};

/// Rows written per transaction: large enough for throughput, small enough
/// that a batch holds its write lock only briefly.
pub const BATCH_ROWS: usize = 500;
/// Problems kept per import for the downloadable report; beyond this they
/// are counted (and a command-line `--rejects` file still gets every one).
pub const MAX_STORED_PROBLEMS: i64 = 100_000;
/// Problems shown in an import's summary; the rest are in the report.
pub const SUMMARY_REJECTS: usize = 100;
/// Longest external id accepted (as for records created one by one).
const MAX_EXTERNAL_ID: usize = 255;
/// Longest file name kept.
const MAX_FILE_NAME: usize = 255;
/// Batches parsed ahead of the writer: bounds memory on fast sources.
const BATCHES_AHEAD: usize = 2;

/// What an import does with a row that matches an existing record, and
/// with one that does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ImportMode {
    /// Only new records; a row matching an existing one is rejected.
    Create,
    /// Only existing records; a row matching none is rejected.
    Update,
    /// Update what matches, create the rest.
    #[default]
    Upsert,
}

impl ImportMode {
    pub fn as_str(self) -> &'static str {
        match self {
            ImportMode::Create => "create",
            ImportMode::Update => "update",
            ImportMode::Upsert => "upsert",
        }
    }

    pub fn parse(s: &str) -> Option<ImportMode> {
        [ImportMode::Create, ImportMode::Update, ImportMode::Upsert]
            .into_iter()
            .find(|m| m.as_str() == s.trim().to_ascii_lowercase())
    }
}

impl std::str::FromStr for ImportMode {
    type Err = String;

    fn from_str(s: &str) -> Result<ImportMode, String> {
        ImportMode::parse(s).ok_or_else(|| "use create, update or upsert".to_string())
    }
}

/// Which value finds the existing record a row is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MatchBy {
    /// The contact's email (contacts only).
    Email,
    /// The record's id in another system.
    ExternalId,
}

impl MatchBy {
    pub fn as_str(self) -> &'static str {
        match self {
            MatchBy::Email => "email",
            MatchBy::ExternalId => "external_id",
        }
    }

    pub fn parse(s: &str) -> Option<MatchBy> {
        match s.trim().to_ascii_lowercase().as_str() {
            "email" => Some(MatchBy::Email),
            "external_id" => Some(MatchBy::ExternalId),
            _ => None,
        }
    }

    /// The target a column must map to for this match.
    fn target(self) -> &'static str {
        self.as_str()
    }

    /// What to call the key in messages.
    fn label(self) -> &'static str {
        match self {
            MatchBy::Email => "email",
            MatchBy::ExternalId => "external id",
        }
    }
}

impl std::str::FromStr for MatchBy {
    type Err = String;

    fn from_str(s: &str) -> Result<MatchBy, String> {
        MatchBy::parse(s).ok_or_else(|| "use email or external_id".to_string())
    }
}

/// How to import a file.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    pub object: ObjectKind,
    /// `(column header, target)`: a field key or label, `external_id`,
    /// `account_external_id` (contacts) or `skip`.
    pub mapping: Vec<(String, String)>,
    /// Map the columns the mapping leaves out from their headers.
    pub suggest: bool,
    pub mode: ImportMode,
    /// Default: email for contacts when a column maps to it, else external id.
    pub match_by: Option<MatchBy>,
    /// Do everything, report it, and keep nothing but the report.
    pub dry_run: bool,
    /// Default: UTF-8, or Latin-1 when the file's start is not valid UTF-8.
    pub encoding: Option<Encoding>,
    /// Default: `,`, `;` or tab, whichever the header uses.
    pub delimiter: Option<u8>,
    /// Shown in the import's history.
    pub file_name: Option<String>,
}

impl ImportOptions {
    pub fn new(object: ObjectKind) -> ImportOptions {
        ImportOptions {
            object,
            mapping: Vec::new(),
            suggest: true,
            mode: ImportMode::Upsert,
            match_by: None,
            dry_run: false,
            encoding: None,
            delimiter: None,
            file_name: None,
        }
    }
}

/// One problem of one rejected row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Reject {
    /// The physical line of the file where the row starts; 1 is the header.
    pub line: i64,
    /// The column's header; empty when the problem is the whole row.
    pub column: String,
    /// The value as the file has it.
    pub value: String,
    /// What is wrong and what to do.
    pub reason: String,
    /// Stable code, e.g. `field_invalid`, `row_columns`, `record_exists`.
    pub code: String,
}

impl Reject {
    fn row(line: u64, code: &str, reason: String) -> Reject {
        Reject {
            line: line as i64,
            column: String::new(),
            value: String::new(),
            reason,
            code: code.into(),
        }
    }

    /// The report's columns for this problem, in `REJECTS_HEADER` order.
    pub fn csv_record(&self) -> [String; 5] {
        [
            self.line.to_string(),
            self.column.clone(),
            self.value.clone(),
            self.reason.clone(),
            self.code.clone(),
        ]
    }
}

/// The header of a rejects report.
pub const REJECTS_HEADER: [&str; 5] = ["line", "column", "value", "reason", "code"];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ImportStatus {
    Running,
    Done,
    /// Stopped early; rows before the problem were imported (see `error`).
    Failed,
}

impl ImportStatus {
    fn as_str(self) -> &'static str {
        match self {
            ImportStatus::Running => "running",
            ImportStatus::Done => "done",
            ImportStatus::Failed => "failed",
        }
    }

    fn parse(s: &str) -> ImportStatus {
        match s {
            "done" => ImportStatus::Done,
            "failed" => ImportStatus::Failed,
            _ => ImportStatus::Running,
        }
    }
}

/// Why an import stopped early.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ImportFailure {
    pub code: String,
    pub message: String,
}

/// An import: how the file was read and mapped, and what became of its rows.
/// `rows = created + updated + unchanged + rejected`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ImportSummary {
    pub id: i64,
    pub object: ObjectKind,
    pub status: ImportStatus,
    /// Nothing was changed; the counts say what the import would do.
    pub dry_run: bool,
    pub mode: ImportMode,
    #[serde(rename = "match")]
    pub match_by: MatchBy,
    pub file_name: Option<String>,
    pub encoding: Encoding,
    /// pitcrew chose the encoding (the file was not valid UTF-8).
    pub encoding_detected: bool,
    /// `,`, `;`, `|` or `tab`.
    pub delimiter: String,
    pub mapping: Vec<ColumnMapping>,
    /// Rows read, not counting the header and blank rows.
    pub rows: i64,
    pub created: i64,
    pub updated: i64,
    /// Rows matching a record that already had every value.
    pub unchanged: i64,
    pub rejected: i64,
    /// Entries of the rejects report; a rejected row may have several.
    pub problems: i64,
    /// The first problems (up to 100); the full report is downloadable as CSV.
    pub rejects: Vec<Reject>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ImportFailure>,
    /// Who ran it: a member's email, `token:<name>` or `system`.
    pub by: String,
    pub started_at: String,
    pub finished_at: Option<String>,
}

/// How far an import has come, after each batch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportProgress {
    pub rows: i64,
    /// Bytes of the file read so far.
    pub bytes: u64,
    pub created: i64,
    pub updated: i64,
    pub unchanged: i64,
    pub rejected: i64,
}

/// Follows an import as it runs (the command line's progress bar and
/// rejects file). Called after each batch is written.
pub trait ImportObserver: Send {
    /// The import is under way and kept as `id` (its file had a header
    /// and rows, and its mapping was accepted).
    fn started(&mut self, _id: i64) {}
    fn progress(&mut self, _progress: &ImportProgress) {}
    fn reject(&mut self, _reject: &Reject) {}
}

/// An observer that ignores everything.
pub struct Unobserved;

impl ImportObserver for Unobserved {}

/// The mapping and dialect kept with an import.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Settings {
    mapping: Vec<ColumnMapping>,
    encoding: Encoding,
    encoding_detected: bool,
    delimiter: String,
    suggest: bool,
}

/// What the parsing thread hands over.
enum Parsed {
    Header {
        dialect: Dialect,
        headers: Vec<String>,
    },
    Rows {
        rows: Vec<Record>,
        bytes: u64,
    },
    End,
    Failed(ReadFailure),
}

fn object_type(object: ObjectKind) -> ObjectType {
    match object {
        ObjectKind::Contact => ObjectType::Contact,
        ObjectKind::Account => ObjectType::Account,
    }
}

/// Parse `source` into batches of records on the calling (blocking) thread.
/// Stops quietly when the receiver is gone.
fn parse(
    source: Box<dyn Read + Send>,
    encoding: Option<Encoding>,
    delimiter: Option<u8>,
    out: &mpsc::Sender<Parsed>,
) {
    let mut csv = match CsvRecords::open(source, encoding, delimiter) {
        Ok(csv) => csv,
        Err(f) => {
            let _ = out.blocking_send(Parsed::Failed(f));
            return;
        }
    };
    let header = loop {
        match csv.next_record() {
            Ok(Some(r)) if r.is_blank() => {}
            Ok(Some(r)) => break r,
            Ok(None) => {
                let f = ReadFailure {
                    code: "import_empty",
                    message: "the file has no header row; export it again with one".into(),
                    line: None,
                };
                let _ = out.blocking_send(Parsed::Failed(f));
                return;
            }
            Err(f) => {
                let _ = out.blocking_send(Parsed::Failed(f));
                return;
            }
        }
    };
    let first = Parsed::Header {
        dialect: csv.dialect(),
        headers: header.values,
    };
    if out.blocking_send(first).is_err() {
        return;
    }
    let mut rows = Vec::with_capacity(BATCH_ROWS);
    loop {
        let (record, last) = match csv.next_record() {
            Ok(Some(r)) => (Some(r), None),
            Ok(None) => (None, Some(Parsed::End)),
            Err(f) => (None, Some(Parsed::Failed(f))),
        };
        match record {
            Some(r) if r.is_blank() => continue,
            Some(r) => rows.push(r),
            None => {}
        }
        if (rows.len() >= BATCH_ROWS || last.is_some()) && !rows.is_empty() {
            let batch = Parsed::Rows {
                rows: std::mem::replace(&mut rows, Vec::with_capacity(BATCH_ROWS)),
                bytes: csv.bytes_read(),
            };
            if out.blocking_send(batch).is_err() {
                return;
            }
        }
        if let Some(last) = last {
            let _ = out.blocking_send(last);
            return;
        }
    }
}

fn read_error(f: ReadFailure) -> AppError {
    let mut e = AppError::new(ErrorKind::Invalid, f.code, f.message);
    e.field = Some("file".into());
    e
}

fn parser_stopped() -> AppError {
    AppError::new(
        ErrorKind::Internal,
        "import_interrupted",
        "reading the file stopped unexpectedly; it has been logged — try again",
    )
}

/// Import a CSV file of contacts or accounts. Needs a marketer or higher.
///
/// Problems with the file as a whole (empty, not CSV, a mapping that names
/// no column, no header) are errors and import nothing. Once rows are
/// flowing, each bad row is rejected with its line and the rest go on; a
/// problem that stops the reading midway (an unclosed quote, a broken
/// upload) ends the import as `failed`, keeping the batches already written.
pub async fn import_csv(
    db: &Db,
    actor: &Actor,
    source: Box<dyn Read + Send>,
    options: ImportOptions,
    observer: &mut dyn ImportObserver,
    now: i64,
) -> Result<ImportSummary, AppError> {
    actor.require(Action::WriteRecords)?;
    let file_name = options
        .file_name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(|n| n.chars().take(MAX_FILE_NAME).collect::<String>());
    if options.match_by == Some(MatchBy::Email) && options.object == ObjectKind::Account {
        return Err(AppError::invalid(
            "match_invalid",
            "match",
            "accounts have no email; match accounts by external_id",
        ));
    }
    let fields = repo::list_fields(db.conn(), actor.workspace_id, Some(options.object)).await?;
    let (sender, mut receiver) = mpsc::channel(BATCHES_AHEAD);
    let (encoding, delimiter) = (options.encoding, options.delimiter);
    // Never awaited: when the import stops early, dropping the receiver ends
    // the parse at its next batch, even while it waits on a slow source.
    let _parser = tokio::task::spawn_blocking(move || parse(source, encoding, delimiter, &sender));
    let run = Run {
        db,
        actor,
        options: &options,
        fields,
        file_name,
        now,
    };
    run.run(&mut receiver, observer).await
}

/// One import while it runs.
struct Run<'a> {
    db: &'a Db,
    actor: &'a Actor,
    options: &'a ImportOptions,
    fields: Vec<FieldDef>,
    file_name: Option<String>,
    now: i64,
}

/// Counts and rejects accumulated over the batches.
#[derive(Default)]
struct Tally {
    counts: ImportCounts,
    /// Problems written to the report so far.
    stored: i64,
    /// A dry run's problems, written once its changes are rolled back.
    held: Vec<RejectRow>,
}

impl Run<'_> {
    async fn run(
        &self,
        receiver: &mut mpsc::Receiver<Parsed>,
        observer: &mut dyn ImportObserver,
    ) -> Result<ImportSummary, AppError> {
        let (dialect, headers) = match receiver.recv().await {
            Some(Parsed::Header { dialect, headers }) => (dialect, headers),
            Some(Parsed::Failed(f)) => return Err(read_error(f)),
            _ => return Err(parser_stopped()),
        };
        let options = self.options;
        let (mapping, targets) = mapping::plan(
            &headers,
            &self.fields,
            options.object,
            &options.mapping,
            options.suggest,
        )?;
        let match_by = self.match_by(&targets)?;
        let mut next = receiver.recv().await;
        match next {
            Some(Parsed::End) => {
                return Err(AppError::invalid(
                    "import_no_rows",
                    "file",
                    "the file has a header but no rows; there is nothing to import",
                ));
            }
            Some(Parsed::Failed(f)) => return Err(read_error(f)),
            _ => {}
        }
        let settings = Settings {
            mapping,
            encoding: dialect.encoding,
            encoding_detected: dialect.encoding_detected,
            delimiter: delimiter_label(dialect.delimiter),
            suggest: options.suggest,
        };
        let audit_actor = self.actor.audit();
        let new = NewImport {
            object: options.object,
            file_name: self.file_name.as_deref(),
            mode: options.mode.as_str(),
            match_by: match_by.as_str(),
            dry_run: options.dry_run,
            settings: serde_json::to_value(&settings).map_err(|e| {
                AppError::new(
                    ErrorKind::Internal,
                    "internal",
                    format!("import settings: {e}"),
                )
            })?,
            actor: &audit_actor,
        };
        let ws = self.actor.workspace_id;
        let id = store::create_import(self.db.conn(), ws, &new, self.now).await?;
        observer.started(id);
        let batch = Batch {
            ws,
            object: options.object,
            mode: options.mode,
            match_by,
            fields: &self.fields,
            headers: &headers,
            targets: &targets,
            delimiter: dialect.delimiter,
            now: self.now,
            countries: Mutex::default(),
        };
        let mut tally = Tally::default();
        // A dry run is one transaction, rolled back at the end, so that its
        // counts are exactly what the import would do (later rows see earlier ones).
        let mut dry = None;
        if options.dry_run {
            let mut tx = self.db.begin().await?;
            store::savepoint(tx.conn(), DRY_RUN_SAVEPOINT).await?;
            dry = Some(tx);
        }
        let stopped = loop {
            match next {
                Some(Parsed::Rows { rows, bytes }) => {
                    let written = self
                        .write_batch(&batch, id, dry.as_mut(), &rows, &mut tally)
                        .await;
                    let rejects = match written {
                        Ok(rejects) => rejects,
                        Err(e) => break Err(e),
                    };
                    for r in &rejects {
                        observer.reject(r);
                    }
                    let c = tally.counts;
                    observer.progress(&ImportProgress {
                        rows: c.rows,
                        bytes,
                        created: c.created,
                        updated: c.updated,
                        unchanged: c.unchanged,
                        rejected: c.rejected,
                    });
                }
                Some(Parsed::End) => break Ok(None),
                Some(Parsed::Failed(f)) => {
                    break Ok(Some(ImportFailure {
                        code: f.code.into(),
                        message: f.message,
                    }));
                }
                Some(Parsed::Header { .. }) | None => {
                    tracing::error!(import = id, "the CSV parsing thread stopped early");
                    let e = parser_stopped();
                    break Ok(Some(ImportFailure {
                        code: e.code.into(),
                        message: e.message,
                    }));
                }
            }
            next = receiver.recv().await;
        };
        match stopped {
            Ok(failure) => {
                self.finish(id, dry, &mut tally, failure.as_ref()).await?;
                get_summary(self.db, ws, id).await
            }
            Err(e) => {
                // The database failed under the import: record what is known, if it lets us.
                let failure = ImportFailure {
                    code: e.code.into(),
                    message: e.message.clone(),
                };
                if let Err(also) = self.finish(id, dry, &mut tally, Some(&failure)).await {
                    tracing::error!(import = id, error = %also, "could not mark the import failed");
                }
                Err(e)
            }
        }
    }

    /// The match key: as asked, else email for contacts when a column maps
    /// to it, else external id. Updating needs a column for it.
    fn match_by(&self, targets: &[Target]) -> Result<MatchBy, AppError> {
        let options = self.options;
        let mapped = |m: MatchBy| targets.iter().any(|t| t.name() == m.target());
        let match_by = options.match_by.unwrap_or(match options.object {
            ObjectKind::Contact if mapped(MatchBy::Email) || !mapped(MatchBy::ExternalId) => {
                MatchBy::Email
            }
            _ => MatchBy::ExternalId,
        });
        if !targets.iter().any(|t| *t != Target::Skip) {
            return Err(AppError::invalid(
                "mapping_empty",
                "mapping",
                "no column of the file maps to a field; map at least one (see the mapping in the dry run)",
            ));
        }
        if options.mode != ImportMode::Create && !mapped(match_by) {
            return Err(AppError::invalid(
                "match_column_missing",
                "match",
                format!(
                    "{} {}s are matched by {}, but no column maps to `{}`; map one, match by {}, or import with mode create",
                    if options.mode == ImportMode::Update {
                        "updating"
                    } else {
                        "to update existing records,"
                    },
                    options.object.as_str(),
                    match_by.label(),
                    match_by.target(),
                    match match_by {
                        MatchBy::Email => "external_id",
                        MatchBy::ExternalId => "email (contacts)",
                    }
                ),
            ));
        }
        Ok(match_by)
    }

    /// Write one batch and its share of the report; a conflict with a
    /// concurrent writer retries it. Returns the problems.
    async fn write_batch(
        &self,
        batch: &Batch<'_>,
        id: i64,
        mut dry: Option<&mut Tx>,
        rows: &[Record],
        tally: &mut Tally,
    ) -> Result<Vec<Reject>, AppError> {
        // Once more as a whole (the other writer has usually committed by
        // now, so its records are found), then row by row.
        for _ in 0..2 {
            match self
                .attempt(batch, id, dry.as_deref_mut(), rows, tally)
                .await
            {
                Err(e) if is_race(&e) && rows.len() > 1 => {}
                other => return other,
            }
        }
        let mut rejects = Vec::new();
        for row in rows {
            let one = std::slice::from_ref(row);
            match self
                .attempt(batch, id, dry.as_deref_mut(), one, tally)
                .await
            {
                Ok(r) => rejects.extend(r),
                Err(e) if is_race(&e) => {
                    let lost = Outcome {
                        rows: 1,
                        rejected: 1,
                        rejects: vec![Reject::row(
                            row.line,
                            "conflict",
                            "the same record was changed by someone else at the same moment; import this row again".into(),
                        )],
                        ..Outcome::default()
                    };
                    let tx = match dry.is_some() {
                        true => None,
                        false => Some(self.db.begin().await?),
                    };
                    rejects.extend(self.keep(id, tx, lost, tally).await?);
                }
                Err(e) => return Err(e),
            }
        }
        Ok(rejects)
    }

    /// Process rows in a transaction of their own (in a dry run, a savepoint
    /// of the run's one transaction) and keep their outcome.
    async fn attempt(
        &self,
        batch: &Batch<'_>,
        id: i64,
        dry: Option<&mut Tx>,
        rows: &[Record],
        tally: &mut Tally,
    ) -> Result<Vec<Reject>, AppError> {
        match dry {
            Some(tx) => {
                store::savepoint(tx.conn(), BATCH_SAVEPOINT).await?;
                match batch.process(tx, rows).await {
                    Ok(outcome) => {
                        store::release_savepoint(tx.conn(), BATCH_SAVEPOINT).await?;
                        self.keep(id, None, outcome, tally).await
                    }
                    Err(e) => {
                        store::rollback_to_savepoint(tx.conn(), BATCH_SAVEPOINT).await?;
                        Err(e)
                    }
                }
            }
            None => {
                let mut tx = self.db.begin().await?;
                let outcome = batch.process(&mut tx, rows).await?;
                self.keep(id, Some(tx), outcome, tally).await
            }
        }
    }

    /// Add an outcome to the import. In a real run its report entries and
    /// the new counts are written in `tx`, which is then committed; in a dry
    /// run (`None`) the entries are held until the end.
    async fn keep(
        &self,
        id: i64,
        tx: Option<Tx>,
        outcome: Outcome,
        tally: &mut Tally,
    ) -> Result<Vec<Reject>, AppError> {
        let counts = outcome.added_to(tally.counts);
        let room = usize::try_from(MAX_STORED_PROBLEMS - tally.stored).unwrap_or(0);
        let kept: Vec<RejectRow> = outcome.rejects.iter().take(room).map(report_row).collect();
        match tx {
            Some(mut tx) => {
                let ws = self.actor.workspace_id;
                store::insert_rejects(tx.conn(), ws, id, tally.stored + 1, &kept).await?;
                store::save_counts(tx.conn(), ws, id, &counts, "running", None, self.now).await?;
                tx.commit().await?;
            }
            None => tally.held.extend(kept.iter().cloned()),
        }
        tally.stored += kept.len() as i64;
        tally.counts = counts;
        Ok(outcome.rejects)
    }

    /// Record how the import ended: its counts, its held report (dry run,
    /// after rolling its changes back) and, for a real run, the one audit
    /// entry of the import.
    async fn finish(
        &self,
        id: i64,
        dry: Option<Tx>,
        tally: &mut Tally,
        failure: Option<&ImportFailure>,
    ) -> Result<(), AppError> {
        let ws = self.actor.workspace_id;
        let status = match failure {
            Some(_) => ImportStatus::Failed,
            None => ImportStatus::Done,
        };
        let mut tx = match dry {
            Some(mut tx) => {
                store::rollback_to_savepoint(tx.conn(), DRY_RUN_SAVEPOINT).await?;
                tx
            }
            None => self.db.begin().await?,
        };
        if !tally.held.is_empty() {
            let held = std::mem::take(&mut tally.held);
            store::insert_rejects(tx.conn(), ws, id, 1, &held).await?;
        }
        let error = failure.map(|f| (f.code.as_str(), f.message.as_str()));
        let c = tally.counts;
        store::save_counts(tx.conn(), ws, id, &c, status.as_str(), error, self.now).await?;
        if !self.options.dry_run {
            let after = json!({
                "import_id": id,
                "file_name": self.file_name,
                "mode": self.options.mode.as_str(),
                "status": status.as_str(),
                "rows": c.rows,
                "created": c.created,
                "updated": c.updated,
                "unchanged": c.unchanged,
                "rejected": c.rejected,
            });
            self.actor
                .log(
                    &mut tx,
                    "import",
                    object_type(self.options.object),
                    format!("import:{id}"),
                    json!({ "before": {}, "after": after }),
                    self.now,
                )
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

/// Savepoint around each batch of a dry run (undone on a conflict).
const BATCH_SAVEPOINT: &str = "import_batch";
/// Savepoint a dry run's changes are rolled back to.
const DRY_RUN_SAVEPOINT: &str = "import_dry_run";

/// A write that lost a race with another writer (a unique key taken, an
/// account deleted meanwhile): worth trying again.
fn is_race(e: &AppError) -> bool {
    e.code == "conflict" || e.code == "reference_missing"
}

fn report_row(r: &Reject) -> RejectRow {
    RejectRow {
        line: r.line,
        column: r.column.clone(),
        value: r.value.clone(),
        code: r.code.clone(),
        reason: r.reason.clone(),
    }
}

/// What became of the rows of one batch.
#[derive(Debug, Default)]
struct Outcome {
    rows: i64,
    created: i64,
    updated: i64,
    unchanged: i64,
    rejected: i64,
    rejects: Vec<Reject>,
}

impl Outcome {
    fn added_to(&self, c: ImportCounts) -> ImportCounts {
        ImportCounts {
            rows: c.rows + self.rows,
            created: c.created + self.created,
            updated: c.updated + self.updated,
            unchanged: c.unchanged + self.unchanged,
            rejected: c.rejected + self.rejected,
            problems: c.problems + self.rejects.len() as i64,
        }
    }

    fn reject(&mut self, rejects: Vec<Reject>) {
        self.rejected += 1;
        self.rejects.extend(rejects);
    }
}

/// A row read and mapped, before it meets the stored records.
struct Prepared {
    line: u64,
    values: Vec<String>,
    /// Field values as text, keyed by field key; blank cells left out.
    input: Map<String, Value>,
    external_id: Option<String>,
    account_external_id: Option<String>,
    /// The row's email in stored form (contacts), when it has a valid one.
    email: Option<String>,
    /// The value the row is matched on.
    key: Option<String>,
}

/// What a batch needs to know about the import.
struct Batch<'a> {
    ws: i64,
    object: ObjectKind,
    mode: ImportMode,
    match_by: MatchBy,
    fields: &'a [FieldDef],
    headers: &'a [String],
    targets: &'a [Target],
    delimiter: u8,
    now: i64,
    /// Country values already read, by their text in the file: the names
    /// are costly to look up and a file repeats few of them.
    countries: Mutex<HashMap<String, Option<Value>>>,
}

/// Most distinct country texts remembered per import.
const COUNTRIES_REMEMBERED: usize = 10_000;

/// A record a batch reads or writes: stored before, or new from a row.
struct Slot {
    record: StoredRecord,
    /// The line that created it, when a row of this batch did.
    created_by: Option<u64>,
    changed: bool,
}

/// The records a batch touches, found by email and by external id.
#[derive(Default)]
struct Book {
    slots: Vec<Slot>,
    by_email: HashMap<String, usize>,
    by_external_id: HashMap<String, usize>,
}

fn email_of(r: &StoredRecord) -> Option<&str> {
    r.fields.get("email").and_then(Value::as_str)
}

impl Book {
    fn new(records: Vec<StoredRecord>) -> Book {
        let mut book = Book::default();
        for record in records {
            book.add(Slot {
                record,
                created_by: None,
                changed: false,
            });
        }
        book
    }

    fn add(&mut self, slot: Slot) {
        let i = self.slots.len();
        if let Some(e) = email_of(&slot.record) {
            self.by_email.insert(e.to_string(), i);
        }
        if let Some(x) = &slot.record.external_id {
            self.by_external_id.insert(x.clone(), i);
        }
        self.slots.push(slot);
    }

    /// Who else holds `email` or `external_id`, other than slot `me`.
    fn holder(
        &self,
        key: &HashMap<String, usize>,
        value: Option<&str>,
        me: Option<usize>,
    ) -> Option<&Slot> {
        let i = *key.get(value?)?;
        (Some(i) != me).then(|| &self.slots[i])
    }
}

impl Batch<'_> {
    fn column_of(&self, target: &str) -> Option<usize> {
        self.targets.iter().position(|t| t.name() == target)
    }

    /// A problem with the value a row has for `target`.
    fn reject_at(&self, p: &Prepared, target: &str, code: &str, reason: String) -> Reject {
        let (column, value) = match self.column_of(target) {
            Some(i) => (
                mapping::column_name(self.headers, i),
                p.values.get(i).cloned().unwrap_or_default(),
            ),
            None => (String::new(), String::new()),
        };
        Reject {
            line: p.line as i64,
            column,
            value,
            reason,
            code: code.into(),
        }
    }

    /// A row's field problems, left to right as the file has them.
    fn issue_rejects(&self, p: &Prepared, mut issues: Vec<FieldIssue>) -> Vec<Reject> {
        issues.sort_by_key(|i| self.column_of(&i.field).unwrap_or(usize::MAX));
        issues
            .into_iter()
            .map(|i| self.reject_at(p, &i.field, i.code, i.message))
            .collect()
    }

    fn what(&self) -> &'static str {
        self.object.as_str()
    }

    /// A cell's value for field `key`: for a country field, the ISO code
    /// it was already found to mean, so `validate_record` reads it at once.
    fn known_country(&self, key: &str, text: &str) -> Value {
        let raw = Value::String(text.to_string());
        let Some(def) = self
            .fields
            .iter()
            .find(|f| f.key == key && f.field_type == FieldType::Country)
        else {
            return raw;
        };
        let mut known = self.countries.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(found) = known.get(text) {
            return found.clone().unwrap_or(raw);
        }
        let found = normalize(def, &raw, None).ok().filter(Value::is_string);
        if known.len() < COUNTRIES_REMEMBERED {
            known.insert(text.to_string(), found.clone());
        }
        found.unwrap_or(raw)
    }

    /// A row as field values and identities, or why it cannot be imported
    /// whatever the stored records are.
    fn prepare(&self, r: &Record) -> Result<Prepared, Vec<Reject>> {
        let line = r.line;
        if r.values.len() != self.headers.len() {
            let mut reject = Reject::row(
                line,
                "row_columns",
                format!(
                    "this row has {} values but the header has {}; a value that contains the separator `{}` or a line break must be in double quotes",
                    r.values.len(),
                    self.headers.len(),
                    delimiter_label(self.delimiter)
                ),
            );
            reject.value = format!("{} values", r.values.len());
            return Err(vec![reject]);
        }
        if let Some(i) = r.undecodable {
            return Err(vec![Reject {
                line: line as i64,
                column: mapping::column_name(self.headers, i),
                value: r.values[i].clone(),
                reason: "this value is not valid UTF-8, although the file began as UTF-8; save the file as \"CSV UTF-8\", or import it with the latin1 encoding".into(),
                code: "encoding_invalid".into(),
            }]);
        }
        let mut p = Prepared {
            line,
            values: r.values.clone(),
            input: Map::new(),
            external_id: None,
            account_external_id: None,
            email: None,
            key: None,
        };
        let mut problems = Vec::new();
        for (i, target) in self.targets.iter().enumerate() {
            let value = r.values[i].trim();
            if value.is_empty() {
                continue;
            }
            let too_long = value.chars().count() > MAX_EXTERNAL_ID;
            match target {
                Target::Field(key) => {
                    let value = self.known_country(key, value);
                    p.input.insert(key.clone(), value);
                }
                Target::ExternalId | Target::AccountExternalId if too_long => {
                    problems.push((
                        target.name().to_string(),
                        "external_id_invalid",
                        format!("external ids are at most {MAX_EXTERNAL_ID} characters"),
                    ));
                }
                Target::ExternalId => p.external_id = Some(value.to_string()),
                Target::AccountExternalId => p.account_external_id = Some(value.to_string()),
                Target::Skip => {}
            }
        }
        if !problems.is_empty() {
            return Err(problems
                .into_iter()
                .map(|(target, code, reason)| self.reject_at(&p, &target, code, reason))
                .collect());
        }
        if self.object == ObjectKind::Contact {
            p.email = p
                .input
                .get("email")
                .and_then(Value::as_str)
                .and_then(|e| normalize_email(e).ok());
        }
        p.key = match self.match_by {
            MatchBy::Email => p.email.clone(),
            MatchBy::ExternalId => p.external_id.clone(),
        };
        if p.input.is_empty() && p.external_id.is_none() && p.account_external_id.is_none() {
            return Err(vec![Reject::row(
                line,
                "row_empty",
                "none of the imported columns has a value in this row".into(),
            )]);
        }
        if p.key.is_none() {
            // An invalid key: report it with every other invalid value of the row.
            if let Err(issues) = validate_record(self.fields, &p.input, None, Mode::Update) {
                return Err(self.issue_rejects(&p, issues));
            }
            if self.mode != ImportMode::Create {
                let target = self.match_by.target();
                return Err(vec![self.reject_at(
                    &p,
                    target,
                    "match_key_missing",
                    format!(
                        "this row has no {}, which the import matches {}s on; fill it in, or import the row with mode create",
                        self.match_by.label(),
                        self.what()
                    ),
                )]);
            }
        }
        Ok(p)
    }

    /// Read, match, check and write one batch of rows inside `tx`.
    async fn process(&self, tx: &mut Tx, rows: &[Record]) -> Result<Outcome, AppError> {
        let mut out = Outcome::default();
        let mut prepared = Vec::with_capacity(rows.len());
        for r in rows {
            out.rows += 1;
            match self.prepare(r) {
                Ok(p) => prepared.push(p),
                Err(rejects) => out.reject(rejects),
            }
        }
        let mut emails: Vec<String> = prepared.iter().filter_map(|p| p.email.clone()).collect();
        let mut external_ids: Vec<String> = prepared
            .iter()
            .filter_map(|p| p.external_id.clone())
            .collect();
        let mut accounts: Vec<String> = prepared
            .iter()
            .filter_map(|p| p.account_external_id.clone())
            .collect();
        for list in [&mut emails, &mut external_ids, &mut accounts] {
            list.sort_unstable();
            list.dedup();
        }
        let found = store::find_records(
            tx.conn(),
            self.ws,
            self.object,
            &emails,
            &external_ids,
            true,
        )
        .await?;
        let accounts: HashMap<String, i64> = store::account_ids(tx.conn(), self.ws, &accounts)
            .await?
            .into_iter()
            .collect();
        let mut book = Book::new(found);
        for p in &prepared {
            self.apply(&mut book, p, &accounts, &mut out);
        }
        let (mut created, mut changed) = (Vec::new(), Vec::new());
        for slot in book.slots.into_iter().filter(|s| s.changed) {
            let identity = Identity {
                external_id: slot.record.external_id,
                account_id: slot.record.account_id,
            };
            match slot.created_by {
                Some(_) => created.push((identity, slot.record.fields)),
                None => changed.push((slot.record.id, identity, slot.record.fields)),
            }
        }
        // Updates first: a record may free an email a new one takes.
        store::update_records(tx.conn(), self.ws, self.object, &changed, self.now).await?;
        store::insert_records(tx.conn(), self.ws, self.object, &created, self.now).await?;
        // The report follows the file (stable: a row's problems keep their order).
        out.rejects.sort_by_key(|r| r.line);
        Ok(out)
    }

    /// Decide what one row does, against the records of the batch so far.
    fn apply(
        &self,
        book: &mut Book,
        p: &Prepared,
        accounts: &HashMap<String, i64>,
        out: &mut Outcome,
    ) {
        let index = match self.match_by {
            MatchBy::Email => &book.by_email,
            MatchBy::ExternalId => &book.by_external_id,
        };
        let found = p.key.as_ref().and_then(|k| index.get(k)).copied();
        let key = self.match_by.label();
        match (self.mode, found) {
            (ImportMode::Create, Some(i)) => {
                let slot = &book.slots[i];
                let (code, reason) = match slot.created_by {
                    Some(first) => (
                        "duplicate_in_file",
                        format!(
                            "line {first} of this file has the same {key}; with mode create only the first row is imported"
                        ),
                    ),
                    None => (
                        "record_exists",
                        format!(
                            "a {} with this {key} already exists (id {}), perhaps from an earlier row of this file; import with mode upsert or update to change it",
                            self.what(),
                            slot.record.id
                        ),
                    ),
                };
                out.reject(vec![self.reject_at(
                    p,
                    self.match_by.target(),
                    code,
                    reason,
                )]);
            }
            (ImportMode::Update, None) => {
                let reason = format!(
                    "no {} has this {key}; import with mode upsert or create to add it",
                    self.what()
                );
                out.reject(vec![self.reject_at(
                    p,
                    self.match_by.target(),
                    "record_not_found",
                    reason,
                )]);
            }
            (_, None) => self.create(book, p, accounts, out),
            (_, Some(i)) => self.update(book, i, p, accounts, out),
        }
    }

    fn account(
        &self,
        p: &Prepared,
        accounts: &HashMap<String, i64>,
    ) -> Result<Option<i64>, Reject> {
        let Some(x) = &p.account_external_id else {
            return Ok(None);
        };
        accounts.get(x).map(|&id| Some(id)).ok_or_else(|| {
            self.reject_at(
                p,
                "account_external_id",
                "account_not_found",
                format!("no account has the external id {x}; import the accounts first, or correct the id"),
            )
        })
    }

    /// Why `email` or `external_id` cannot be this row's: another record has it.
    fn taken(
        &self,
        book: &Book,
        p: &Prepared,
        record: &StoredRecord,
        me: Option<usize>,
    ) -> Option<Reject> {
        let what = self.what();
        if let Some(other) = book.holder(&book.by_email, email_of(record), me) {
            let whose = match other.created_by {
                Some(line) => format!("the contact of line {line} of this file"),
                None => format!("another contact (id {})", other.record.id),
            };
            return Some(self.reject_at(
                p,
                "email",
                "email_taken",
                format!(
                    "{whose} already has this email; match by email to update that contact instead"
                ),
            ));
        }
        if let Some(other) = book.holder(&book.by_external_id, record.external_id.as_deref(), me) {
            let whose = match other.created_by {
                Some(line) => format!("the {what} of line {line} of this file"),
                None => format!("another {what} (id {})", other.record.id),
            };
            return Some(self.reject_at(
                p,
                "external_id",
                "external_id_taken",
                format!("{whose} already has this external id; match by external_id to update it instead"),
            ));
        }
        None
    }

    fn create(
        &self,
        book: &mut Book,
        p: &Prepared,
        accounts: &HashMap<String, i64>,
        out: &mut Outcome,
    ) {
        let fields = match validate_record(self.fields, &p.input, None, Mode::Create) {
            Ok(v) => v,
            Err(issues) => return out.reject(self.issue_rejects(p, issues)),
        };
        let account_id = match self.account(p, accounts) {
            Ok(a) => a,
            Err(r) => return out.reject(vec![r]),
        };
        let record = StoredRecord {
            id: 0,
            external_id: p.external_id.clone(),
            account_id,
            fields,
        };
        if let Some(r) = self.taken(book, p, &record, None) {
            return out.reject(vec![r]);
        }
        book.add(Slot {
            record,
            created_by: Some(p.line),
            changed: true,
        });
        out.created += 1;
    }

    fn update(
        &self,
        book: &mut Book,
        i: usize,
        p: &Prepared,
        accounts: &HashMap<String, i64>,
        out: &mut Outcome,
    ) {
        let before = &book.slots[i].record;
        let changes =
            match validate_record(self.fields, &p.input, Some(&before.fields), Mode::Update) {
                Ok(v) => v,
                Err(issues) => return out.reject(self.issue_rejects(p, issues)),
            };
        let mut after = before.clone();
        for (key, value) in changes {
            if value.is_null() {
                after.fields.remove(&key);
            } else {
                after.fields.insert(key, value);
            }
        }
        if let Some(x) = &p.external_id {
            after.external_id = Some(x.clone());
        }
        match self.account(p, accounts) {
            Ok(Some(a)) => after.account_id = Some(a),
            Ok(None) => {}
            Err(r) => return out.reject(vec![r]),
        }
        if after == *before {
            out.unchanged += 1;
            return;
        }
        if let Some(r) = self.taken(book, p, &after, Some(i)) {
            return out.reject(vec![r]);
        }
        if let Some(old) = email_of(before).filter(|e| Some(*e) != email_of(&after)) {
            book.by_email.remove(old);
        }
        if let Some(old) = before
            .external_id
            .as_ref()
            .filter(|x| after.external_id.as_ref() != Some(*x))
        {
            book.by_external_id.remove(old);
        }
        if let Some(e) = email_of(&after) {
            book.by_email.insert(e.to_string(), i);
        }
        if let Some(x) = &after.external_id {
            book.by_external_id.insert(x.clone(), i);
        }
        let slot = &mut book.slots[i];
        slot.record = after;
        slot.changed = true;
        out.updated += 1;
    }
}

// ---- reading imports back ------------------------------------------------

fn not_found(id: i64) -> AppError {
    AppError::not_found(
        "import_not_found",
        format!("there is no import with id {id} in this workspace"),
    )
}

fn summary(stored: StoredImport, rejects: Vec<Reject>) -> Result<ImportSummary, AppError> {
    let settings: Settings = serde_json::from_value(stored.settings).map_err(|e| {
        AppError::from(pitcrew_store::StoreError::Corrupt(format!(
            "import {} settings: {e}",
            stored.id
        )))
    })?;
    let c = stored.counts;
    let error = match (stored.error_code, stored.error_message) {
        (Some(code), Some(message)) => Some(ImportFailure { code, message }),
        _ => None,
    };
    Ok(ImportSummary {
        id: stored.id,
        object: stored.object,
        status: ImportStatus::parse(&stored.status),
        dry_run: stored.dry_run,
        mode: ImportMode::parse(&stored.mode).unwrap_or_default(),
        match_by: MatchBy::parse(&stored.match_by).unwrap_or(MatchBy::ExternalId),
        file_name: stored.file_name,
        encoding: settings.encoding,
        encoding_detected: settings.encoding_detected,
        delimiter: settings.delimiter,
        mapping: settings.mapping,
        rows: c.rows,
        created: c.created,
        updated: c.updated,
        unchanged: c.unchanged,
        rejected: c.rejected,
        problems: c.problems,
        rejects,
        error,
        by: stored.actor,
        started_at: format_ms(stored.created_at),
        finished_at: stored.finished_at.map(format_ms),
    })
}

fn from_report(row: RejectRow) -> Reject {
    Reject {
        line: row.line,
        column: row.column,
        value: row.value,
        reason: row.reason,
        code: row.code,
    }
}

async fn get_summary(db: &Db, ws: i64, id: i64) -> Result<ImportSummary, AppError> {
    let stored = store::get_import(db.conn(), ws, id)
        .await?
        .ok_or_else(|| not_found(id))?;
    let rejects = store::list_rejects(db.conn(), ws, id, 0, SUMMARY_REJECTS as i64)
        .await?
        .into_iter()
        .map(|(_, r)| from_report(r))
        .collect();
    summary(stored, rejects)
}

/// One import with its first problems. Needs a marketer or higher.
pub async fn get_import(db: &Db, actor: &Actor, id: i64) -> Result<ImportSummary, AppError> {
    actor.require(Action::WriteRecords)?;
    get_summary(db, actor.workspace_id, id).await
}

/// Paging through the import history.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ImportListParams {
    /// Only imports with a smaller id (the next page).
    pub before: Option<i64>,
    /// 1 to 100; default 20.
    pub limit: Option<i64>,
}

/// Imports newest first, without their problems. Needs a marketer or higher.
pub async fn list_imports(
    db: &Db,
    actor: &Actor,
    params: ImportListParams,
) -> Result<Vec<ImportSummary>, AppError> {
    actor.require(Action::WriteRecords)?;
    let limit = params.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(AppError::invalid(
            "limit_invalid",
            "limit",
            "limit must be between 1 and 100",
        ));
    }
    store::list_imports(db.conn(), actor.workspace_id, params.before, limit)
        .await?
        .into_iter()
        .map(|s| summary(s, Vec::new()))
        .collect()
}

/// The rejects report of an import as CSV (`line,column,value,reason,code`),
/// in file order. When more problems were found than are kept, a last row
/// says how many are missing. Needs a marketer or higher.
pub async fn rejects_csv(db: &Db, actor: &Actor, id: i64) -> Result<Vec<u8>, AppError> {
    actor.require(Action::WriteRecords)?;
    let ws = actor.workspace_id;
    let stored = store::get_import(db.conn(), ws, id)
        .await?
        .ok_or_else(|| not_found(id))?;
    let mut w = csv::Writer::from_writer(Vec::new());
    let failed = |e: csv::Error| {
        AppError::new(
            ErrorKind::Internal,
            "internal",
            format!("the rejects report could not be written: {e}"),
        )
    };
    w.write_record(REJECTS_HEADER).map_err(failed)?;
    let mut after = 0;
    let mut written = 0;
    loop {
        let page = store::list_rejects(db.conn(), ws, id, after, 5000).await?;
        let Some((last, _)) = page.last() else { break };
        after = *last;
        for (_, row) in page {
            w.write_record(from_report(row).csv_record())
                .map_err(failed)?;
            written += 1;
        }
    }
    let missing = stored.counts.problems - written;
    if missing > 0 {
        let note = Reject {
            line: 0,
            column: String::new(),
            value: String::new(),
            reason: format!(
                "{missing} more problems were found than the {MAX_STORED_PROBLEMS} kept; fix these and import again to see the rest"
            ),
            code: "report_truncated".into(),
        };
        w.write_record(note.csv_record()).map_err(failed)?;
    }
    w.into_inner().map_err(|e| failed(e.into_error().into()))
}
