//! A field of the data model standard: its key, type, rules and picklist.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Which kind of record a field belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ObjectKind {
    Contact,
    Account,
}

impl ObjectKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectKind::Contact => "contact",
            ObjectKind::Account => "account",
        }
    }

    pub fn parse(s: &str) -> Option<ObjectKind> {
        match s {
            "contact" | "contacts" => Some(ObjectKind::Contact),
            "account" | "accounts" => Some(ObjectKind::Account),
            _ => None,
        }
    }
}

/// The type of a field's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    Text,
    Number,
    Boolean,
    /// A calendar date, stored as `YYYY-MM-DD`.
    Date,
    /// An instant, stored as RFC 3339 UTC with milliseconds.
    Datetime,
    Email,
    /// A phone number, stored in E.164 where it can be.
    Phone,
    Url,
    Picklist,
    MultiPicklist,
    /// An ISO 3166-1 alpha-2 code.
    Country,
}

impl FieldType {
    pub const ALL: [FieldType; 11] = [
        FieldType::Text,
        FieldType::Number,
        FieldType::Boolean,
        FieldType::Date,
        FieldType::Datetime,
        FieldType::Email,
        FieldType::Phone,
        FieldType::Url,
        FieldType::Picklist,
        FieldType::MultiPicklist,
        FieldType::Country,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FieldType::Text => "text",
            FieldType::Number => "number",
            FieldType::Boolean => "boolean",
            FieldType::Date => "date",
            FieldType::Datetime => "datetime",
            FieldType::Email => "email",
            FieldType::Phone => "phone",
            FieldType::Url => "url",
            FieldType::Picklist => "picklist",
            FieldType::MultiPicklist => "multi_picklist",
            FieldType::Country => "country",
        }
    }

    pub fn parse(s: &str) -> Option<FieldType> {
        FieldType::ALL.into_iter().find(|t| t.as_str() == s)
    }

    pub fn has_options(self) -> bool {
        matches!(self, FieldType::Picklist | FieldType::MultiPicklist)
    }
}

/// One allowed value of a picklist: the stored `value` and the `label` people see.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PicklistOption {
    pub value: String,
    pub label: String,
}

impl PicklistOption {
    pub fn new(value: &str, label: &str) -> PicklistOption {
        PicklistOption {
            value: value.to_string(),
            label: label.to_string(),
        }
    }
}

/// A field of the data model standard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FieldDef {
    pub object: ObjectKind,
    pub key: String,
    pub label: String,
    #[serde(rename = "type")]
    pub field_type: FieldType,
    pub required: bool,
    /// Stored canonical value given to new records that lack one.
    pub default: Option<Value>,
    pub options: Vec<PicklistOption>,
    /// Shipped with pitcrew: cannot be deleted or retyped.
    pub builtin: bool,
    /// Maintained by pitcrew (created/updated times): never written by users.
    pub read_only: bool,
}

/// Keys that name record attributes rather than fields.
pub const RESERVED_KEYS: &[&str] = &[
    "id",
    "external_id",
    "account_id",
    "workspace_id",
    "fields",
    "data",
    "anonymous_ids",
];

/// Why a proposed field key is not acceptable, if it is not.
pub fn check_key(key: &str) -> Result<(), String> {
    let valid_shape = key.len() <= 63
        && key.starts_with(|c: char| c.is_ascii_lowercase())
        && key
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !valid_shape {
        return Err(format!(
            "field key `{key}` must start with a lowercase letter and hold only lowercase letters, digits and underscores (at most 63), e.g. `annual_budget`"
        ));
    }
    if RESERVED_KEYS.contains(&key) {
        return Err(format!(
            "`{key}` is reserved for pitcrew's own use; choose another key"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_keys_are_snake_case_identifiers() {
        assert!(check_key("annual_budget_2026").is_ok());
        assert!(check_key("Annual").is_err());
        assert!(check_key("2fast").is_err());
        assert!(check_key("with-dash").is_err());
        assert!(check_key("id").is_err());
    }

    #[test]
    fn every_type_name_parses_back() {
        for t in FieldType::ALL {
            assert_eq!(FieldType::parse(t.as_str()), Some(t));
        }
    }
}
