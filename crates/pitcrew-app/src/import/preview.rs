//! A look at a file before it is imported: how it reads, its header, its
//! first rows and the mapping pitcrew suggests for each column, so a person
//! can check and adjust the mapping before anything is written. The same
//! reader and suggestion rules as the import itself, so what the preview
//! shows is what the import will do.

use std::io::Read;

use pitcrew_core::admin::Action;
use pitcrew_core::record::ObjectKind;
use pitcrew_store::Db;
use pitcrew_store::record as repo;
use serde::Serialize;

use super::mapping::{self, ColumnMapping};
use super::reader::{CsvRecords, ReadFailure, delimiter_label};
use super::{Encoding, read_error};
use crate::{Actor, AppError, ErrorKind};

/// A file as pitcrew reads it, before importing it.
#[derive(Debug, Clone, Serialize)]
pub struct ImportPreview {
    pub object: ObjectKind,
    pub encoding: Encoding,
    /// pitcrew chose the encoding (the file was not valid UTF-8).
    pub encoding_detected: bool,
    /// `,`, `;`, `|` or `tab`.
    pub delimiter: String,
    pub headers: Vec<String>,
    /// The first rows, each with one value per header (missing values empty).
    pub sample: Vec<Vec<String>>,
    /// What each column would fill if imported with suggestions.
    pub suggested: Vec<ColumnMapping>,
    /// What a column of this object may be mapped to.
    pub choices: Vec<MappingChoice>,
}

/// One target a column may fill.
#[derive(Debug, Clone, Serialize)]
pub struct MappingChoice {
    /// The name a mapping uses: a field key, `external_id` or `account_external_id`.
    pub target: String,
    /// What people call it.
    pub label: String,
}

/// Read the header and up to `rows` rows of `source` and suggest a mapping
/// for each column. Refuses what the import would refuse before writing
/// anything: an empty file, a file that is not CSV, a header without rows.
/// Needs a marketer or higher.
pub async fn preview_csv(
    db: &Db,
    actor: &Actor,
    source: Box<dyn Read + Send>,
    object: ObjectKind,
    rows: usize,
) -> Result<ImportPreview, AppError> {
    actor.require(Action::WriteRecords)?;
    let fields = repo::list_fields(db.conn(), actor.workspace_id, Some(object)).await?;
    let read = tokio::task::spawn_blocking(move || read_start(source, rows))
        .await
        .map_err(|e| {
            AppError::new(
                ErrorKind::Internal,
                "import_interrupted",
                format!("reading the file stopped unexpectedly: {e}"),
            )
        })?;
    let (dialect, headers, sample) = read.map_err(read_error)?;
    if sample.is_empty() {
        return Err(AppError::invalid(
            "import_no_rows",
            "file",
            "the file has a header but no rows; there is nothing to import",
        ));
    }
    let (suggested, _) = mapping::plan(&headers, &fields, object, &[], true)?;
    let mut choices: Vec<MappingChoice> = fields
        .iter()
        .filter(|f| !f.read_only)
        .map(|f| MappingChoice {
            target: f.key.clone(),
            label: f.label.clone(),
        })
        .collect();
    choices.push(MappingChoice {
        target: "external_id".into(),
        label: "External id (the record's id in another system)".into(),
    });
    if object == ObjectKind::Contact {
        choices.push(MappingChoice {
            target: "account_external_id".into(),
            label: "Account's external id (links the contact to an account)".into(),
        });
    }
    let width = headers.len();
    let sample = sample
        .into_iter()
        .map(|mut r| {
            r.resize(width, String::new());
            r
        })
        .collect();
    Ok(ImportPreview {
        object,
        encoding: dialect.encoding,
        encoding_detected: dialect.encoding_detected,
        delimiter: delimiter_label(dialect.delimiter),
        headers,
        sample,
        suggested,
        choices,
    })
}

type Start = (super::reader::Dialect, Vec<String>, Vec<Vec<String>>);

/// The dialect, the header and up to `rows` non-blank rows.
fn read_start(source: Box<dyn Read + Send>, rows: usize) -> Result<Start, ReadFailure> {
    let mut csv = CsvRecords::open(source, None, None)?;
    let header = loop {
        match csv.next_record()? {
            Some(r) if r.is_blank() => {}
            Some(r) => break r.values,
            None => {
                return Err(ReadFailure {
                    code: "import_empty",
                    message: "the file has no header row; export it again with one".into(),
                    line: None,
                });
            }
        }
    };
    let mut sample = Vec::new();
    while sample.len() < rows {
        match csv.next_record()? {
            Some(r) if r.is_blank() => {}
            Some(r) => sample.push(r.values),
            None => break,
        }
    }
    Ok((csv.dialect(), header, sample))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_start_of_a_file_is_its_header_and_first_rows() {
        let file = "Email,First Name\n\na@x.test,Ann\nb@x.test,Bo\nc@x.test,Cy\n";
        let (dialect, header, sample) =
            read_start(Box::new(std::io::Cursor::new(file.to_string())), 2).expect("reads");
        assert_eq!(dialect.delimiter, b',');
        assert_eq!(header, ["Email", "First Name"]);
        assert_eq!(sample, [["a@x.test", "Ann"], ["b@x.test", "Bo"]]);
    }

    #[test]
    fn an_empty_file_has_no_start() {
        let e = read_start(Box::new(std::io::Cursor::new(String::new())), 2).expect_err("empty");
        assert_eq!(e.code, "import_empty");
    }
}
