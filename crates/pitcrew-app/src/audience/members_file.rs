//! Reading a file of static-list members: a CSV with a header row and an
//! `id`, `external_id` or `email` column. Rows are handed over in batches
//! with the physical line each starts on, so a rejected row can be found in
//! the file exactly where the report says.

use std::io::Read;

use pitcrew_core::record::value::normalize_email;
use tokio::sync::mpsc;

use crate::AppError;
use crate::import::Reject;

/// The column a members file is matched by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum KeyColumn {
    Id,
    ExternalId,
    Email,
}

impl KeyColumn {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            KeyColumn::Id => "id",
            KeyColumn::ExternalId => "external_id",
            KeyColumn::Email => "email",
        }
    }
}

/// One data row of a members file.
pub(super) enum FileRow {
    Value { line: u64, value: String },
    Reject(Reject),
}

/// What the reading thread hands over.
pub(super) enum FileEvent {
    Key(KeyColumn),
    Rows(Vec<FileRow>),
    Failed(AppError),
}

pub(super) fn reject(line: u64, column: &str, value: &str, code: &str, reason: String) -> Reject {
    Reject {
        line: line as i64,
        column: column.to_string(),
        value: value.to_string(),
        reason,
        code: code.to_string(),
    }
}

pub(super) fn unreadable_file(e: &dyn std::fmt::Display) -> AppError {
    AppError::invalid(
        "file_unreadable",
        "file",
        format!(
            "the file could not be read as CSV ({e}); export it again as CSV with a header row"
        ),
    )
}

/// The delimiter a header line uses: `,`, `;` or tab, whichever is most
/// common (a comma when none is).
fn sniff_delimiter(first_line: &[u8]) -> u8 {
    [b',', b';', b'\t']
        .into_iter()
        .max_by_key(|d| (first_line.iter().filter(|b| *b == d).count(), *d == b','))
        .unwrap_or(b',')
}

/// The key column and its position; `id` is preferred, then `external_id`,
/// then `email`.
fn key_column(header: &[String]) -> Option<(KeyColumn, usize)> {
    [KeyColumn::Id, KeyColumn::ExternalId, KeyColumn::Email]
        .into_iter()
        .find_map(|k| header.iter().position(|h| h == k.as_str()).map(|i| (k, i)))
}

/// Longest row accepted, so one broken quote cannot take all memory.
const MAX_ROW_BYTES: usize = 1 << 20;

/// Reads CSV records and the physical line each starts on. Line breaks
/// between records (empty lines) are skipped here, before the record
/// starts, so the line counted is the record's own.
struct Records<R> {
    source: R,
    core: csv_core::Reader,
    buf: Box<[u8]>,
    pos: usize,
    len: usize,
    eof: bool,
    /// Line breaks consumed so far.
    newlines: u64,
    out: Vec<u8>,
    ends: Vec<usize>,
}

impl<R: Read> Records<R> {
    fn new(source: R) -> Records<R> {
        Records {
            source,
            core: csv_core::Reader::new(),
            buf: vec![0; 64 * 1024].into_boxed_slice(),
            pos: 0,
            len: 0,
            eof: false,
            newlines: 0,
            out: vec![0; 4096],
            ends: vec![0; 64],
        }
    }

    fn fill(&mut self) -> std::io::Result<()> {
        if self.pos == self.len && !self.eof {
            self.len = self.source.read(&mut self.buf)?;
            self.pos = 0;
            self.eof = self.len == 0;
        }
        Ok(())
    }

    /// The first line of the file, to choose the delimiter from, before
    /// any record is read.
    fn first_line(&mut self) -> std::io::Result<&[u8]> {
        self.fill()?;
        let start = &self.buf[self.pos..self.len];
        let end = start
            .iter()
            .position(|b| *b == b'\n')
            .unwrap_or(start.len());
        Ok(&start[..end])
    }

    fn delimiter(&mut self, delimiter: u8) {
        self.core = csv_core::ReaderBuilder::new().delimiter(delimiter).build();
    }

    /// The next record with the line it starts on; `None` at the end.
    fn next(&mut self) -> Result<Option<(u64, Vec<String>)>, AppError> {
        let io = |e: std::io::Error| unreadable_file(&e);
        loop {
            self.fill().map_err(io)?;
            match self.buf.get(self.pos).filter(|_| self.pos < self.len) {
                None => return Ok(None),
                Some(b'\n') => self.newlines += 1,
                Some(b'\r') => {}
                Some(_) => break,
            }
            self.pos += 1;
        }
        let line = self.newlines + 1;
        let (mut nout, mut nend) = (0, 0);
        loop {
            self.fill().map_err(io)?;
            let input = &self.buf[self.pos..self.len];
            let (result, i, o, e) =
                self.core
                    .read_record(input, &mut self.out[nout..], &mut self.ends[nend..]);
            self.newlines += input[..i].iter().filter(|b| **b == b'\n').count() as u64;
            self.pos += i;
            nout += o;
            nend += e;
            match result {
                csv_core::ReadRecordResult::InputEmpty => {}
                csv_core::ReadRecordResult::OutputFull if self.out.len() >= MAX_ROW_BYTES => {
                    return Err(unreadable_file(&format_args!(
                        "the row starting on line {line} is longer than 1 MiB; check for a quote that is never closed"
                    )));
                }
                csv_core::ReadRecordResult::OutputFull => self.out.resize(self.out.len() * 2, 0),
                csv_core::ReadRecordResult::OutputEndsFull => {
                    self.ends.resize(self.ends.len() * 2, 0);
                }
                csv_core::ReadRecordResult::Record => {
                    let mut start = 0;
                    let fields = self.ends[..nend]
                        .iter()
                        .map(|end| {
                            let field =
                                String::from_utf8_lossy(&self.out[start..*end]).into_owned();
                            start = *end;
                            field
                        })
                        .collect();
                    return Ok(Some((line, fields)));
                }
                csv_core::ReadRecordResult::End => return Ok(None),
            }
        }
    }
}

/// Read a members file on the calling (blocking) thread and send its rows
/// in batches of `batch`. Stops quietly when the receiver is gone.
pub(super) fn read(source: Box<dyn Read + Send>, batch: usize, out: &mpsc::Sender<FileEvent>) {
    let fail = |e: AppError| {
        let _ = out.blocking_send(FileEvent::Failed(e));
    };
    let mut records = Records::new(source);
    match records.first_line() {
        Ok(first) => {
            let d = sniff_delimiter(first);
            records.delimiter(d);
        }
        Err(e) => return fail(unreadable_file(&e)),
    }
    let header: Vec<String> = match records.next() {
        Ok(Some((_, fields))) => fields
            .iter()
            .map(|h| h.trim_start_matches('\u{feff}').trim().to_ascii_lowercase())
            .collect(),
        Ok(None) => {
            return fail(AppError::invalid(
                "file_empty",
                "file",
                "the file is empty; it needs a header row with an `email`, `id` or `external_id` column",
            ));
        }
        Err(e) => return fail(e),
    };
    let Some((key, column)) = key_column(&header) else {
        return fail(AppError::invalid(
            "file_key_missing",
            "file",
            format!(
                "the header ({}) has no `email`, `id` or `external_id` column; name the column that identifies each member",
                header.join(", ")
            ),
        ));
    };
    if out.blocking_send(FileEvent::Key(key)).is_err() {
        return;
    }
    let mut rows = Vec::with_capacity(batch);
    loop {
        let (line, fields) = match records.next() {
            Ok(Some(r)) => r,
            Ok(None) => break,
            Err(e) => return fail(e),
        };
        if fields.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        rows.push(match fields.get(column) {
            Some(v) => FileRow::Value {
                line,
                value: v.trim().to_string(),
            },
            None => FileRow::Reject(reject(
                line,
                "",
                "",
                "row_columns",
                format!(
                    "the row has {} columns but the header has {}; check for a missing delimiter",
                    fields.len(),
                    header.len()
                ),
            )),
        });
        if rows.len() >= batch
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

/// A row's key, ready to look up; or why the row is rejected.
pub(super) fn clean_key(key: KeyColumn, line: u64, value: &str) -> Result<String, Reject> {
    let column = key.as_str();
    if value.is_empty() {
        return Err(reject(
            line,
            column,
            value,
            "value_missing",
            format!("the `{column}` column is empty; fill it in or remove the row"),
        ));
    }
    match key {
        KeyColumn::Id => value.parse::<i64>().map(|id| id.to_string()).map_err(|_| {
            reject(
                line,
                column,
                value,
                "id_invalid",
                format!("`{value}` is not a record id; ids are whole numbers"),
            )
        }),
        KeyColumn::Email => {
            normalize_email(value).map_err(|m| reject(line, column, value, "email_invalid", m))
        }
        KeyColumn::ExternalId => Ok(value.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines_of(file: &str) -> Vec<(u64, String)> {
        let (tx, mut rx) = mpsc::channel(16);
        read(
            Box::new(std::io::Cursor::new(file.as_bytes().to_vec())),
            2,
            &tx,
        );
        drop(tx);
        let mut seen = Vec::new();
        while let Some(event) = rx.blocking_recv() {
            if let FileEvent::Rows(rows) = event {
                for row in rows {
                    match row {
                        FileRow::Value { line, value } => seen.push((line, value)),
                        FileRow::Reject(r) => seen.push((r.line as u64, r.code)),
                    }
                }
            }
        }
        seen
    }

    #[test]
    fn rows_after_empty_lines_keep_their_own_line_numbers() {
        let seen = lines_of("email\n\na@x.io\r\n\r\n\r\nb@x.io\n   \nc@x.io\n");
        let expect = [(3, "a@x.io"), (6, "b@x.io"), (8, "c@x.io")];
        assert_eq!(
            seen,
            expect
                .iter()
                .map(|(l, v)| (*l, v.to_string()))
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn a_quoted_value_over_several_lines_counts_from_its_first_line() {
        let seen = lines_of("note;id\n\"one\n\ntwo\";7\n\n8;9\n");
        assert_eq!(seen, vec![(2, "7".to_string()), (6, "9".to_string())]);
    }

    #[test]
    fn the_id_column_is_preferred_and_a_short_row_is_rejected() {
        let seen = lines_of("Email,ID\nx@y.z,1\nonly-one\n");
        assert_eq!(
            seen,
            vec![(2, "1".to_string()), (3, "row_columns".to_string())]
        );
    }

    #[test]
    fn the_delimiter_is_the_one_the_header_uses_most() {
        assert_eq!(sniff_delimiter(b"a;b;c"), b';');
        assert_eq!(sniff_delimiter(b"a\tb"), b'\t');
        assert_eq!(sniff_delimiter(b"email"), b',');
    }
}
