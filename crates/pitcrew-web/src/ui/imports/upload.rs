//! Uploaded files waiting to be imported: each in a private folder under
//! the system's temporary folder, named by an unguessable key, with a note
//! of whose it is and how the person last chose to map it. The file never
//! travels in a page; the key does. A real import removes its folder when
//! it ends, and folders left behind are removed after a day.
//!
//! The folder is on this server's disk: with several `pitcrew serve`
//! processes, the upload and its import must reach the same one.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use pitcrew_app::{AppError, ErrorKind, secret};
use pitcrew_core::record::ObjectKind;
use serde::{Deserialize, Serialize};

/// Uploads older than this are removed when the next one arrives.
const KEEP_FOR: Duration = Duration::from_secs(24 * 60 * 60);
const FILE: &str = "upload.csv";
const NOTE: &str = "upload.json";

/// What is known about an upload besides its bytes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct UploadNote {
    pub workspace_id: i64,
    pub object: ObjectKind,
    pub file_name: String,
    pub size: u64,
    /// The file's header, one name per column.
    pub headers: Vec<String>,
    /// The mapping last chosen on the mapping page (kept across a dry run).
    #[serde(default)]
    pub chosen: Option<Chosen>,
}

/// A mapping as the mapping page sends it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Chosen {
    /// The target of each column, by position from 0; empty means skip.
    pub targets: Vec<String>,
    /// `email`, `external_id`, or empty for pitcrew's choice.
    pub match_by: String,
    /// `upsert`, `create` or `update`.
    pub mode: String,
}

/// The folder all uploads live in, readable by this user only.
fn root() -> std::io::Result<PathBuf> {
    let root = std::env::temp_dir().join("pitcrew-uploads");
    std::fs::create_dir_all(&root)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(root)
}

fn io_failed(e: std::io::Error) -> AppError {
    AppError::new(
        ErrorKind::Internal,
        "upload_storage",
        format!("the uploaded file could not be kept on the server: {e}"),
    )
}

/// A key as `new_key` makes them: nothing else may name a folder.
fn valid_key(key: &str) -> bool {
    key.len() == 48 && key.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// An upload being written: its folder and file.
pub(crate) struct NewUpload {
    pub key: String,
    dir: PathBuf,
    file: std::fs::File,
    pub size: u64,
}

impl NewUpload {
    /// A fresh private folder for an upload; clears out stale ones first.
    pub fn create() -> Result<NewUpload, AppError> {
        let root = root().map_err(io_failed)?;
        remove_stale(&root);
        let key = secret::random_hex(24);
        let dir = root.join(&key);
        std::fs::create_dir(&dir).map_err(io_failed)?;
        let file = std::fs::File::create(dir.join(FILE)).map_err(io_failed)?;
        Ok(NewUpload {
            key,
            dir,
            file,
            size: 0,
        })
    }

    pub fn write(&mut self, chunk: &[u8]) -> Result<(), AppError> {
        self.file.write_all(chunk).map_err(io_failed)?;
        self.size += chunk.len() as u64;
        Ok(())
    }

    pub fn path(&self) -> PathBuf {
        self.dir.join(FILE)
    }

    /// Keep the upload with its note.
    pub fn keep(mut self, note: &UploadNote) -> Result<String, AppError> {
        self.file.flush().map_err(io_failed)?;
        write_note(&self.dir, note)?;
        Ok(self.key)
    }

    /// Throw the upload away (it was refused).
    pub fn discard(self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn write_note(dir: &Path, note: &UploadNote) -> Result<(), AppError> {
    let json =
        serde_json::to_vec(note).map_err(|e| AppError::internal(format!("upload note: {e}")))?;
    std::fs::write(dir.join(NOTE), json).map_err(io_failed)
}

/// A kept upload.
pub(crate) struct Upload {
    dir: PathBuf,
    pub note: UploadNote,
}

fn gone() -> AppError {
    AppError::new(
        ErrorKind::NotFound,
        "upload_not_found",
        "this upload is no longer here: it was imported, discarded or is more than a day old. Upload the file again.",
    )
}

impl Upload {
    /// The upload `key` of workspace `workspace_id`; not found for any
    /// other workspace.
    pub fn open(key: &str, workspace_id: i64) -> Result<Upload, AppError> {
        if !valid_key(key) {
            return Err(gone());
        }
        let dir = root().map_err(io_failed)?.join(key);
        let Ok(json) = std::fs::read(dir.join(NOTE)) else {
            return Err(gone());
        };
        let note: UploadNote = serde_json::from_slice(&json).map_err(|_| gone())?;
        if note.workspace_id != workspace_id {
            return Err(gone());
        }
        Ok(Upload { dir, note })
    }

    /// The file, for reading.
    pub fn file(&self) -> Result<std::fs::File, AppError> {
        std::fs::File::open(self.dir.join(FILE)).map_err(|_| gone())
    }

    pub fn remember(&mut self, chosen: Chosen) -> Result<(), AppError> {
        self.note.chosen = Some(chosen);
        write_note(&self.dir, &self.note)
    }

    /// Remove the upload (imported or discarded).
    pub fn remove(&self) {
        if let Err(e) = std::fs::remove_dir_all(&self.dir) {
            tracing::warn!(error = %e, "an imported upload could not be removed");
        }
    }
}

/// Remove uploads older than a day.
fn remove_stale(root: &Path) {
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    let now = SystemTime::now();
    for entry in entries.flatten() {
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| now.duration_since(t).ok())
            .is_some_and(|age| age > KEEP_FOR);
        let ours = entry.file_name().to_str().is_some_and(valid_key);
        if old && ours {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_keys_pitcrew_made_name_a_folder() {
        assert!(valid_key(&secret::random_hex(24)));
        assert!(!valid_key("../../etc/passwd"));
        assert!(!valid_key(&"A".repeat(48)));
        assert!(!valid_key(""));
    }

    #[test]
    fn an_upload_is_kept_for_its_workspace_only() {
        let mut new = NewUpload::create().expect("create");
        new.write(b"email\na@x.test\n").expect("write");
        let note = UploadNote {
            workspace_id: 7,
            object: ObjectKind::Contact,
            file_name: "people.csv".into(),
            size: new.size,
            headers: vec!["email".into()],
            chosen: None,
        };
        let key = new.keep(&note).expect("keep");
        assert!(Upload::open(&key, 8).is_err());
        let up = Upload::open(&key, 7).expect("open");
        assert_eq!(up.note.size, 15);
        up.remove();
        assert!(Upload::open(&key, 7).is_err());
    }
}
