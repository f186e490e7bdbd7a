//! The one error type of the use cases: a kind (which the web layer turns
//! into an HTTP status), a stable code, a message that says what to do, and
//! where the problem is.

use pitcrew_core::record::FieldIssue;
use pitcrew_store::StoreError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    Invalid,
    Unauthenticated,
    Forbidden,
    NotFound,
    Conflict,
    Internal,
}

#[derive(Debug, Clone)]
pub struct AppError {
    pub kind: ErrorKind,
    /// Stable and machine-readable, e.g. `field_invalid`, `email_taken`.
    pub code: &'static str,
    pub message: String,
    /// The offending input, e.g. `fields.country` or `account_id`.
    pub field: Option<String>,
    /// Every problem when there are several (one per field).
    pub details: Vec<FieldIssue>,
}

impl AppError {
    pub fn new(kind: ErrorKind, code: &'static str, message: impl Into<String>) -> AppError {
        AppError {
            kind,
            code,
            message: message.into(),
            field: None,
            details: Vec::new(),
        }
    }

    pub fn invalid(code: &'static str, field: &str, message: impl Into<String>) -> AppError {
        AppError::new(ErrorKind::Invalid, code, message).at(field)
    }

    pub fn not_found(code: &'static str, message: impl Into<String>) -> AppError {
        AppError::new(ErrorKind::NotFound, code, message)
    }

    pub fn conflict(code: &'static str, field: &str, message: impl Into<String>) -> AppError {
        AppError::new(ErrorKind::Conflict, code, message).at(field)
    }

    pub fn forbidden(message: impl Into<String>) -> AppError {
        AppError::new(ErrorKind::Forbidden, "forbidden", message)
    }

    /// Something on the server side is wrong (stored data, configuration).
    pub fn internal(message: impl Into<String>) -> AppError {
        AppError::new(ErrorKind::Internal, "internal", message)
    }

    pub fn at(mut self, field: &str) -> AppError {
        self.field = Some(field.to_string());
        self
    }

    /// Field problems of one record, reported together; the first names the error.
    pub fn fields(issues: Vec<FieldIssue>) -> AppError {
        let first = issues.first().cloned();
        let (code, message, field) = match (&first, issues.len()) {
            (Some(i), 1) => (
                i.code,
                i.message.clone(),
                Some(format!("fields.{}", i.field)),
            ),
            (Some(i), n) => (
                i.code,
                format!(
                    "{n} fields are not valid; see details. First: {}",
                    i.message
                ),
                Some(format!("fields.{}", i.field)),
            ),
            (None, _) => ("field_invalid", "a field is not valid".to_string(), None),
        };
        AppError {
            kind: ErrorKind::Invalid,
            code,
            message,
            field,
            details: issues,
        }
    }
}

impl std::fmt::Display for AppError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.field {
            Some(field) => write!(f, "{} ({}): {}", self.code, field, self.message),
            None => write!(f, "{}: {}", self.code, self.message),
        }
    }
}

impl std::error::Error for AppError {}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> AppError {
        match e {
            StoreError::NotFound => {
                AppError::not_found("not_found", "the requested object does not exist")
            }
            StoreError::Unique { target } => AppError::new(
                ErrorKind::Conflict,
                "conflict",
                format!(
                    "another record already has this value ({target}); it was changed at the same time — retry"
                ),
            ),
            StoreError::ForeignKey => AppError::new(
                ErrorKind::Conflict,
                "reference_missing",
                "a referenced object no longer exists; reload and retry",
            ),
            other => {
                tracing::error!(error = %other, "store error");
                AppError::new(
                    ErrorKind::Internal,
                    "internal",
                    "pitcrew could not complete this because of a database problem; it has been logged — retry, and tell your admin if it persists",
                )
            }
        }
    }
}
