//! The record: contacts and accounts as typed field values, checked and
//! normalised against the workspace's data model standard.
//!
//! `field` describes a field; `value` turns what a user sent into the stored
//! canonical form; `validate` checks a whole record against the registry.

pub mod builtin;
pub mod country;
pub mod field;
pub mod phone;
pub mod validate;
pub mod value;

pub use field::{FieldDef, FieldType, ObjectKind, PicklistOption};
pub use validate::{FieldIssue, Mode, validate_record};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A person in the record. `fields` holds every field that has a value,
/// keyed by field key, in canonical form (including `email`, `created_at`
/// and `updated_at`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Contact {
    pub id: i64,
    /// The id this person has in another system (CRM, product database).
    pub external_id: Option<String>,
    pub account_id: Option<i64>,
    #[schema(value_type = Object)]
    pub fields: Map<String, Value>,
}

/// A company in the record (B2B), with the same shape as a contact.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Account {
    pub id: i64,
    pub external_id: Option<String>,
    #[schema(value_type = Object)]
    pub fields: Map<String, Value>,
}
